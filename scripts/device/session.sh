#!/usr/bin/env bash
# One GPU call for the quality issue's open aim, faces64 recall (0.50 over 8 sets of 256 in session 20; aim 0.75).
# The CPU can only continue the shipped generators for a few hundred steps, and every continuation trades recall
# for cleanliness; what it cannot do is the full 21,000-step preset with the session-19/20 additions from step 0:
#   side by side, the faces64 preset with the silhouette loss (train.silhouette=30), with dataset x-flips
#   (train.mirror) and with both (seed 0; below: more seeds, and the preset as it stands), each stopped at
#   a deadline (exports every 25 epochs; the copy-aware best checkpoint as the preset keeps it);
#   then, per run, the mixture of its best and last generators (how the shipped faces64 was made), evaluated on
#   2,048 samples (8 sets of 256: the spread of 512-sample recall is +-0.03); fp16 mixtures, metrics and the last
#   grids come back (each mixture 7.2 MB in fp16; the weights of the 4 best-recalling mixtures only).
# Prebuild the dataset here first (it travels in .gpu, which .git/info/exclude ignores):
#   echo "/.gpu/" >> .git/info/exclude
#   EMOJIGAN_CACHE=$PWD/.gpu/cache .venv/bin/emojigan data build --subset faces --size 64 --background transparent \
#       --out .gpu/cache/datasets/faces-64-transparent
# device run: command "bash scripts/device/session.sh", carry [".gpu"], timeout_s 570
# Local dry run of the plumbing (CPU, a few minutes):
#   mkdir -p /tmp/out && DEV=cpu TINY=1 OUT=/tmp/out RUNS=/tmp/dry-runs bash scripts/device/session.sh
# Session 5's version (three preset seeds, faster D, IMLE, cond128 with/without the patch critic, the CUDA-graph
# check) is in git history.
set -u
export PYTHONPATH=$PWD/src EMOJIGAN_CACHE=$PWD/.gpu/cache PYTHONUNBUFFERED=1
DEV=${DEV:-cuda}
PY=${PY:-python3}
t0=$(date +%s)
el() { echo $(( $(date +%s) - t0 )); }
left() { local l=$(( $1 - $(el) )); echo $(( l > 1 ? l : 1 )); }   # seconds to a deadline (timeout 0 would mean none)
R=${RUNS:-runs}   # the runs' folder (a dry run here: RUNS=/tmp/dry-runs, away from this checkout's runs/)
if [ "${TINY:-0}" = 1 ]; then
  EPOCHS=2; EVAL_N=64; EXTRA="--size 32 --set train.eval_every=1 --set train.eval_n=32"; TRAIN_END=240; END=330
else
  EPOCHS=3000; EVAL_N=2048; EXTRA="--set train.eval_every=100"; TRAIN_END=${TRAIN_END:-450}; END=${END:-550}
fi
# Four runs side by side reached 2,000 epochs in about 6 minutes on the H200 (session 4, evaluating every 250
# epochs), so three runs of seed 0 is what reaches the preset's 3,000 in one call; the plain preset's seed 0 is the
# shipped model's run (best + last mixture: recall 0.509, session 14). SEEDS="0 1" PLAIN=1 asks for more (cut short).
SEEDS=${SEEDS:-0}
VARIANTS="sil mirror both${PLAIN:+ plain}"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; $PY -c "import torch; print(torch.__version__)"; nproc; } 2>&1 | tee $OUT/machine.txt

mkdir -p $R
train() {  # name, args...
  local name=$1; shift
  timeout $(left $TRAIN_END) $PY -m emojigan train --preset faces64 --epochs $EPOCHS "$@" $EXTRA --device $DEV --quiet \
    --out $R/$name --set train.checkpoint_every=25 --set train.sample_every=100 > $R/$name.log 2>&1
  echo "$name: rc $? at $(el) s"
}
declare -A SETS=([plain]="" [sil]="--set train.silhouette=30" [mirror]="--set train.mirror=true"
                 [both]="--set train.silhouette=30 --set train.mirror=true")
for s in $SEEDS; do
  for v in $VARIANTS; do
    train $v-s$s --seed $s ${SETS[$v]} &
  done
done
wait
echo "training done at $(el) s"

# each run's best + last generators as one mixture (fp16), evaluated; runs cut short still have their last export
for run in $R/*/; do
  run=${run%/}
  best=$run/generator-best.safetensors
  [ -f $run/generator.safetensors ] || continue
  if [ -f $best ]; then
    $PY -m emojigan mix $best $run/generator.safetensors --out $run/mix.safetensors > /dev/null
  else
    cp $run/generator.safetensors $run/mix.safetensors
  fi
done
for run in $R/*/; do
  run=${run%/}
  [ -f $run/mix.safetensors ] || continue
  timeout $(left $(( END - 30 ))) $PY -m emojigan evaluate $run/mix.safetensors --n $EVAL_N --device $DEV \
    --quiet --out $run/eval > $run/eval.log 2>&1 &
done
wait
echo "evaluation done at $(el) s"
$PY - $R <<'PY' 2>&1 | tee $OUT/summary.txt
import json
import sys
from pathlib import Path
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
KEYS = ("kid", "precision", "recall", "recall_min", "recall_max", "coverage", "copy_rate", "noise_ratio",
        "edge_ratio", "faint_alpha_ratio", "stray_fragment_rate", "recall_missed", "step")
recall = {}
for run in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    mix = run / "mix.safetensors"
    if mix.is_file():  # fp16 for the trip back
        with safe_open(str(mix), framework="pt") as f:
            meta = f.metadata()
        save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in load_file(str(mix)).items()},
                  str(mix), metadata=meta)
    m = run / "eval" / "metrics.json"
    print(run.name, json.dumps({k: json.loads(m.read_text()).get(k) for k in KEYS}) if m.is_file() else "no evaluation")
    if mix.is_file():
        recall[mix] = json.loads(m.read_text())["recall"] if m.is_file() else -1.0
# what comes back is capped (8 files of 16 MiB): the weights of the 4 best-recalling mixtures; the rest as metrics
ranked = sorted(recall, key=recall.get, reverse=True)
Path(sys.argv[1], "skip.txt").write_text("".join(f"{p}\n" for p in ranked[4:]))
print("weights back for", [p.parent.name for p in ranked[:4]])
PY
files=$(for r in $R/*/; do r=${r%/}; ls $r/mix.safetensors $r/config.json $r/metrics.jsonl $r/eval/metrics.json \
  $r/eval/real_vs_samples.png $(ls $r/samples/*.png 2>/dev/null | tail -1) 2>/dev/null; done)
cp $OUT/machine.txt $OUT/summary.txt $R/ 2>/dev/null
tar czf - -X $R/skip.txt $R/*.txt $R/*.log $files | split -b 15m - $OUT/runs.tgz.part-
echo "packed at $(el) s"; ls -la $OUT
