#!/usr/bin/env bash
# GPU batch 2: the speed issue's benchmark on the GPU (reference vs project, CUDA graphs), and a check that the
# graphed step trains like the eager one.
set -x
export PYTHONPATH=$PWD/src EMOJIGAN_CACHE=$PWD/.gpu/cache PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 150 python3 benchmarks/train_throughput.py --compare-reference --device cuda --batch-sizes 16,64 \
    --steps 50 --rounds 5 --variants fp32,bf16 --json $OUT/bench-gpu-ref.json 2>&1 | grep -v Warn | tee $OUT/bench-gpu-ref.txt
for g in true false; do
  timeout 60 python3 -m emojigan train --preset dcgan64 --epochs 10 --device cuda --quiet --set train.cuda_graphs=$g \
      --sample-every 100 --out runs/graphs-$g 2>&1 | tail -2
done
python3 - <<'PY' 2>&1 | tee $OUT/graph-check.txt
import torch, json
a = torch.load("runs/graphs-true/checkpoints/latest.pt", weights_only=True)
b = torch.load("runs/graphs-false/checkpoints/latest.pt", weights_only=True)
d = max((a["G"][k].float() - b["G"][k].float()).abs().max().item() for k in a["G"])
print("max |G_graphed - G_eager| after 70 steps:", d)
for r in ("true", "false"):
    rows = [json.loads(l) for l in open(f"runs/graphs-{r}/metrics.jsonl")]
    print(r, "last loss_d/loss_g", rows[-1]["loss_d"], rows[-1]["loss_g"], "img/s", [x["img_per_s"] for x in rows[-3:]])
PY
