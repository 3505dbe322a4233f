#!/usr/bin/env bash
# GPU batch 3 (prepared in session 2, updated in session 3; not yet run): the quality issue's longer runs, all side by side on one GPU.
# Run speed_check.sh in its own call first (benchmarks must not share the GPU with trainings). Every training has a wall-clock cap; exports are written every 50 epochs,
# so a capped run still comes back evaluated. Prebuild (here, on the CPU machine):
#   for s in "faces 64" "faces+cats 128"; do set -- $s; EMOJIGAN_CACHE=$PWD/.gpu/cache .venv/bin/emojigan data build \
#     --subset $1 --size $2 --background transparent --out .gpu/cache/datasets/$1-$2-transparent; done
# device run: command "bash scripts/device/quality.sh", carry [".gpu"], timeout_s 590
set -x
export PYTHONPATH=$PWD/src EMOJIGAN_CACHE=$PWD/.gpu/cache PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
CAP=${CAP:-330}
t0=$(date +%s)
train() {  # name, args...
  local name=$1; shift
  timeout $CAP python3 -m emojigan train "$@" --device cuda --quiet --out runs/$name > $OUT/$name.log 2>&1
  echo "$name stopped after $(( $(date +%s) - t0 )) s (rc $?)"
}
# faces64 (since session 3 the plain DiffAugment + EMA recipe) at 14,000 steps over three seeds: the recall
# the quality issue measured on a GPU (0.51-0.55) came at this budget, and the seed spread is still unmeasured;
# then the additions that lost on one CPU seed at 7,000 steps, at 14,000 steps
for s in 0 1 2; do
  train faces64-14k-s$s --preset faces64 --epochs 2000 --seed $s &
done
train faces64-attention-14k --preset faces64 --epochs 2000 --set model.attention=true &
train faces64-mbstd-14k --preset faces64 --epochs 2000 --set model.d_mbstd=true &
# the conditional model: cond128 (cdcgan128 + EMA, RGBA) longer, and with DiffAugment back on
train cond128-600 --preset cond128 --epochs 600 &
train cond128-diffaug-600 --preset cond128 --epochs 600 --set train.diffaugment=color,translation,cutout &
wait
echo "training done at $(( $(date +%s) - t0 )) s"
for r in runs/*/; do
  r=${r%/}
  [ -f $r/generator.safetensors ] || continue
  python3 -m emojigan evaluate $r --n 512 --device cuda --quiet --out $r/eval 2>&1 | tail -1 &
done
wait
echo "eval done at $(( $(date +%s) - t0 )) s"
for r in runs/*/; do
  r=${r%/}
  python3 - $r <<'PY'
import sys
from pathlib import Path
from safetensors import safe_open
from safetensors.torch import load_file, save_file
run = Path(sys.argv[1])
for p in run.glob("generator*.safetensors"):
    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata()
    save_file({k: v.half() if v.is_floating_point() else v for k, v in load_file(str(p)).items()}, str(p), metadata=meta)
# D of the final state (fp16) so a run can be shipped with its discriminator (`train --init`)
import torch
st = run / "checkpoints" / "latest.pt"
if st.is_file():
    d = torch.load(st, map_location="cpu", weights_only=True)["D"]
    save_file({k: v.half() if v.is_floating_point() else v for k, v in d.items()}, str(run / "D-latest.safetensors"))
PY
done
tar czf $OUT/quality-runs.tgz --exclude checkpoints runs
ls -la $OUT
