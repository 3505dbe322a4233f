#!/usr/bin/env bash
# The text issue's fine-tuning test (docs/RESULTS.md): 20 animals that text64 never saw (`--subset heldout`), trained
# the same number of steps with text64's preset: from text64 (a text model: each new emoji conditioned on its own
# phrasings), also with the patch critic and grain loss of text64's last stage, from faces64 (unconditional), and a
# text model from scratch; and from faces64 with faces64's recipe.
# Writes the in-training KID table to OUT/kid.md and docs/images/text/finetune-heldout.png: the 20 images beside
# seeds 0-19 of each run.
# Usage: bash experiments/finetune_text.sh [EPOCHS=500] [TEXT=text64] [OUT=runs/finetune-text]
set -euo pipefail
EPOCHS=${1:-500}
TEXT=${2:-text64}
OUT=${3:-runs/finetune-text}
EMOJIGAN=${EMOJIGAN:-.venv/bin/emojigan}
DATA=data/heldout-64
"$EMOJIGAN" data build --subset heldout --size 64 --background transparent --out "$DATA" --quiet
common=(--data "$DATA" --epochs "$EPOCHS" --eval-every 50 --sample-every 100 --overwrite --quiet)
train() {  # a run that finished is kept (rerunning the script redraws the table and the figure)
  [ -f "$OUT/$1/generator.safetensors" ] || "$EMOJIGAN" train --out "$OUT/$1" "${@:2}" "${common[@]}"
}
train from-text64 --preset text64 --init "$TEXT" --freeze-d 2
train from-text64-patch --preset text64 --init "$TEXT" --freeze-d 2 --set train.patch=1 --set train.grain=0.1  # its last stage's
train from-faces64 --preset text64 --init faces64 --freeze-d 2
train from-faces64-own --preset faces64 --init faces64 --freeze-d 2   # faces64 with its own recipe (DiffAugment)
train scratch --preset text64
for run in from-text64 from-text64-patch from-faces64 from-faces64-own scratch; do
  "$EMOJIGAN" generate "$OUT/$run" --n 20 --seed 0 --nrow 5 --background white --out "$OUT/$run/samples-20.png"
done
.venv/bin/python - "$OUT" "$DATA" <<'PY'
import json
import sys
from pathlib import Path
from PIL import Image
from emojigan import images
out, data = Path(sys.argv[1]), Path(sys.argv[2])
runs = ["from-text64", "from-text64-patch", "from-faces64", "from-faces64-own", "scratch"]
rows = {r: [json.loads(line) for line in (out / r / "metrics.jsonl").open() if '"eval"' in line] for r in runs}
table = ["| run | " + " | ".join(f"KID at step {e['step']}" for e in rows[runs[0]]) + " | precision | recall |",
         "|---|" + "---|" * (len(rows[runs[0]]) + 2)]
for r in runs:
    last = rows[r][-1]
    table.append(f"| {r} | " + " | ".join(f"{e['kid']:.3f}" for e in rows[r]) +
                 f" | {last['precision']:.2f} | {last['recall']:.2f} |")
(out / "kid.md").write_text("\n".join(table) + "\n")
print("\n".join(table))
figure = images.side_by_side([("20 held-out animals", Image.open(data / "preview.png"))] +
                             [(f"{r}, seeds 0-19", Image.open(out / r / "samples-20.png")) for r in runs])
Path("docs/images/text").mkdir(parents=True, exist_ok=True)
images.save_png(figure, "docs/images/text/finetune-heldout.png")
print("docs/images/text/finetune-heldout.png")
PY
