#!/usr/bin/env bash
# GPU batch 1: the OpenMoji feature network, three dcgan64 runs with --eval-every, their evaluations, a benchmark.
set -x
export PYTHONPATH=$PWD/src EMOJIGAN_CACHE=$PWD/.gpu/cache PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv
python3 -c "import torch, sys; print(torch.__version__, sys.version)"
t0=$(date +%s)
python3 -m emojigan features train --epochs 100 --batch-size 256 --device cuda --quiet \
    --out $OUT/openmoji-features.safetensors 2>&1 | tail -3
echo "features took $(( $(date +%s) - t0 )) s"
cp $OUT/openmoji-features.safetensors $OUT/openmoji-features.md src/emojigan/pretrained/
for s in 0 1 2; do
  python3 -m emojigan train --preset dcgan64 --seed $s --eval-every 10 --device cuda --quiet \
      --out runs/dcgan64-s$s > $OUT/train-s$s.log 2>&1 &
done
python3 benchmarks/train_throughput.py --device cuda --steps 50 --rounds 5 --json $OUT/bench-gpu.json 2>&1 | tail -5
wait
echo "training done at $(( $(date +%s) - t0 )) s"
for s in 0 1 2; do
  python3 -m emojigan evaluate runs/dcgan64-s$s --n 512 --device cuda --quiet --out runs/dcgan64-s$s/eval 2>&1 | tail -1 &
done
wait
echo "eval done at $(( $(date +%s) - t0 )) s"
for s in 0 1 2; do
  python3 - runs/dcgan64-s$s <<'PY'
import sys, json
from pathlib import Path
from safetensors.torch import load_file, save_file
from safetensors import safe_open
run = Path(sys.argv[1])
for name in ("generator", "generator-best"):
    p = run / f"{name}.safetensors"
    with safe_open(str(p), framework="pt") as f:
        meta = f.metadata()
    t = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(p)).items()}
    save_file(t, str(p), metadata=meta)
PY
  tar czf $OUT/dcgan64-s$s.tgz --exclude checkpoints runs/dcgan64-s$s
done
ls -la $OUT
