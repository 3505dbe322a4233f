#!/usr/bin/env bash
# One GPU call for both open issues (a task is lent 15 minutes of device time in all, start-up included):
#   1. the speed issue's benchmark alone on the GPU: reference vs project (CUDA graph, eager, bf16), batch 16 and 64;
#   2. then, side by side: the quality issue's long runs (faces64 at 14,000 steps over three seeds, + attention;
#      cond128 with DiffAugment at two learning rates) and a graphed-vs-eager dcgan64 pair (CUDA graph check);
#   3. fp16 exports of every run, D of the best faces64 run, logs and samples, packed into parts of < 16 MB.
# Every stage has a deadline (seconds since start), so the whole command ends by $END and a run cut short
# still comes back with its last export (every 25 epochs).
# Prebuild the datasets here first (they travel in .gpu, which .git/info/exclude ignores):
#   for s in "faces 64 black" "faces 64 transparent" "faces+cats 128 transparent"; do set -- $s
#     EMOJIGAN_CACHE=$PWD/.gpu/cache .venv/bin/emojigan data build --subset $1 --size $2 --background $3 \
#       --out .gpu/cache/datasets/$1-$2-$3; done
# device run: command "bash scripts/device/session.sh", carry [".gpu"], timeout_s 570
# Local dry run of the plumbing (CPU, seconds): DEV=cpu TINY=1 OUT=/tmp/out bash scripts/device/session.sh
set -u
export PYTHONPATH=$PWD/src EMOJIGAN_CACHE=$PWD/.gpu/cache PYTHONUNBUFFERED=1
DEV=${DEV:-cuda}
PY=${PY:-python3}
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
if [ "${TINY:-0}" = 1 ]; then
  BENCH="--batch-sizes 16 --steps 2 --rounds 1 --variants fp32,eager"; FE=1; CE=1; GE=1; TRAIN_END=300; END=360
else
  BENCH="--batch-sizes 16,64 --steps 50 --rounds 5 --variants fp32,eager,bf16"; FE=2000; CE=1000; GE=10
  TRAIN_END=${TRAIN_END:-440}; END=${END:-520}
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; $PY -c "import torch; print(torch.__version__)"; nproc; } 2>&1 | tee $OUT/machine.txt

# 1. speed: alone on the GPU
timeout 150 $PY benchmarks/train_throughput.py --compare-reference --device $DEV $BENCH \
  --json $OUT/bench.json > $OUT/bench.txt 2>&1
echo "bench rc $? at $(el) s"; cat $OUT/bench.txt
# the graphed step against the eager one, step by step (skipped where there is no CUDA)
timeout 90 $PY -m pytest -q -p no:cacheprovider tests/training/test_cuda_graph.py 2>&1 | tail -15 | tee $OUT/graph-test.txt

# 2. trainings side by side, each stopped at the deadline (exports every 25 epochs)
mkdir -p runs
train() {  # name, args...
  local name=$1; shift
  local left=$(( TRAIN_END - $(el) ))
  timeout $left $PY -m emojigan train "$@" --device $DEV --quiet --out runs/$name \
    --set train.checkpoint_every=25 --set train.sample_every=100 > runs/$name.log 2>&1
  echo "$name: rc $? at $(el) s"
}
for s in 0 1 2; do
  train faces64-s$s --preset faces64 --epochs $FE --seed $s --set train.eval_every=250 &
done
train faces64-attention --preset faces64 --epochs $FE --set model.attention=true --set train.eval_every=250 &
train cond128-da --preset cond128 --epochs $CE --set train.diffaugment=color,translation,cutout \
  --set train.eval_every=100 &
train cond128-da-lr2 --preset cond128 --epochs $CE --set train.diffaugment=color,translation,cutout \
  --set train.lr_g=0.0002 --set train.lr_d=0.0002 --set train.eval_every=100 &
( for g in true false; do
    train graphs-$g --preset dcgan64 --epochs $GE --set train.cuda_graphs=$g --set train.eval_every=0
  done ) &
wait
echo "training done at $(el) s"

# 3. the CUDA-graph check, exports to fp16, and the packing
$PY - <<'PY' 2>&1 | tee $OUT/graph-check.txt
import json, torch
try:
    a = torch.load("runs/graphs-true/checkpoints/latest.pt", weights_only=True, map_location="cpu")
    b = torch.load("runs/graphs-false/checkpoints/latest.pt", weights_only=True, map_location="cpu")
    d = max((a["G"][k].float() - b["G"][k].float()).abs().max().item() for k in a["G"])
    print(f"steps {a['step']} vs {b['step']}: max |G_graphed - G_eager| = {d:.3g}")
    for r in ("true", "false"):
        rows = [json.loads(l) for l in open(f"runs/graphs-{r}/metrics.jsonl") if '"img_per_s"' in l]
        print(f"cuda_graphs={r}: last loss_d {rows[-1]['loss_d']:.4f} loss_g {rows[-1]['loss_g']:.4f};"
              f" img/s {[round(x['img_per_s']) for x in rows[-3:]]}")
except Exception as e:
    print("graph check failed:", repr(e))
PY
timeout $(( END - $(el) )) $PY - <<'PY' 2>&1 | tee $OUT/pack.txt
import json, math
from pathlib import Path
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

half = lambda t: {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in t.items()}
best, best_kid, kids = None, math.inf, {}
for run in sorted(Path("runs").iterdir()):
    if not run.is_dir():
        continue
    (run / "generator-best.safetensors").unlink(missing_ok=True)  # fp32; the eval rows say which epoch it was
    g = run / "generator.safetensors"
    if g.is_file():
        with safe_open(str(g), framework="pt") as f:
            meta = f.metadata()
        save_file(half(load_file(str(g))), str(g), metadata=meta)
    rows = [json.loads(l) for l in open(run / "metrics.jsonl")] if (run / "metrics.jsonl").is_file() else []
    evals = [r for r in rows if r.get("kind") == "eval"]
    last = evals[-1] if evals else {}
    print(f"{run.name}: step {rows[-1]['step'] if rows else 0}, exported {g.is_file()}, last eval",
          {k: last.get(k) for k in ("epoch", "kid", "precision", "recall")})
    kids[run.name] = last.get("kid", math.inf)
    if run.name.startswith("faces64-s") and kids[run.name] < best_kid:
        best, best_kid = run, kids[run.name]
# what comes back is capped at 64 MiB: every faces64 seed's G, the better cond128's G, attention's G only if it
# beat the seeds; the rest come back as metrics and sample grids
keep = {"faces64-s0", "faces64-s1", "faces64-s2", min(("cond128-da", "cond128-da-lr2"), key=lambda r: kids.get(r, math.inf))}
if kids.get("faces64-attention", math.inf) < best_kid:
    keep.add("faces64-attention")
Path("runs/skip.txt").write_text("".join(f"{g}\n" for g in map(str, Path("runs").glob("*/generator.safetensors"))
                                         if Path(g).parent.name not in keep))
print("weights back for", sorted(keep))
if best is not None:  # its D, so the run can ship with one for `train --init`
    st = torch.load(best / "checkpoints" / "latest.pt", map_location="cpu", weights_only=True)
    save_file(half(st["D"]), str(best / "discriminator.safetensors"), metadata={"epoch": str(st["epoch"]), "step": str(st["step"])})
    print("D kept for", best.name, "at epoch", st["epoch"])
PY
# at most 8 files of 16 MiB come back: the weights (most important first), logs and each run's last grid
files=$(for r in faces64-s0 faces64-s1 faces64-s2 cond128-da cond128-da-lr2 faces64-attention graphs-true graphs-false; do
  ls runs/$r/*.safetensors runs/$r/*.json* runs/$r.log $(ls runs/$r/samples/*.png 2>/dev/null | tail -1) 2>/dev/null; done)
cp $OUT/machine.txt $OUT/bench.txt $OUT/graph-check.txt $OUT/graph-test.txt $OUT/pack.txt runs/ 2>/dev/null
tar czf - -X runs/skip.txt runs/*.txt $files | split -b 15m - $OUT/runs.tgz.part-
rm -f $OUT/machine.txt $OUT/graph-check.txt $OUT/graph-test.txt $OUT/pack.txt
echo "packed at $(el) s"; ls -la $OUT
