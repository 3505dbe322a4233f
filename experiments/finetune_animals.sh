#!/usr/bin/env bash
# The fine-tuning demonstration of docs/RESULTS.md: faces64 (trained on yellow faces only) fine-tuned on 20 animal
# faces it never saw, with D's first two blocks frozen (FreezeD). Writes docs/images/finetune-animals.png:
# the 20 training images beside 20 samples of the fine-tuned model. With CONTROL=1 it also trains the same
# recipe from scratch for as many epochs and writes docs/images/finetune-vs-scratch.png.
# Usage: [CONTROL=1] bash experiments/finetune_animals.sh [EPOCHS=300] [OUT=runs/finetune-animals]
set -euo pipefail
EPOCHS=${1:-300}
OUT=${2:-runs/finetune-animals}
EMOJIGAN=${EMOJIGAN:-.venv/bin/emojigan}
ANIMALS="monkey face,dog face,wolf,fox,raccoon,cat face,lion,tiger face,horse face,unicorn,cow face,pig face,\
mouse face,hamster,rabbit face,bear,koala,panda,frog,dragon face"
"$EMOJIGAN" data build --subset all --emojis "$ANIMALS" --size 64 --background transparent --out data/animal-faces-64 --quiet
"$EMOJIGAN" train --init faces64 --data data/animal-faces-64 --epochs "$EPOCHS" --freeze-d 2 --sample-every 25 \
  --out "$OUT" --overwrite --quiet
"$EMOJIGAN" generate "$OUT" --n 20 --seed 0 --nrow 5 --background white --out "$OUT/samples-20.png"
"$EMOJIGAN" generate --model faces64 --n 20 --seed 0 --nrow 5 --background white --out "$OUT/before-20.png"
.venv/bin/python - "$OUT" <<'PY'
import sys
from pathlib import Path
from PIL import Image
from emojigan import images
out = Path(sys.argv[1])
figure = images.side_by_side([
    ("20 training images (unseen by faces64)", Image.open("data/animal-faces-64/preview.png")),
    ("faces64 before (same seeds)", Image.open(out / "before-20.png")),
    ("fine-tuned, seeds 0-19", Image.open(out / "samples-20.png"))])
images.save_png(figure, "docs/images/finetune-animals.png")
print("docs/images/finetune-animals.png")
PY
if [ "${CONTROL:-0}" = 1 ]; then
  "$EMOJIGAN" train --preset faces64 --data data/animal-faces-64 --epochs "$EPOCHS" --sample-every 25 \
    --out "$OUT-scratch" --overwrite --quiet
  "$EMOJIGAN" generate "$OUT-scratch" --n 20 --seed 0 --nrow 5 --background white --out "$OUT-scratch/samples-20.png"
  .venv/bin/python - "$OUT" <<'PY'
import sys
from PIL import Image
from emojigan import images
out = sys.argv[1]
figure = images.side_by_side([
    ("20 training images", Image.open("data/animal-faces-64/preview.png")),
    ("from scratch, same recipe and steps", Image.open(f"{out}-scratch/samples-20.png")),
    ("fine-tuned from faces64", Image.open(f"{out}/samples-20.png"))])
images.save_png(figure, "docs/images/finetune-vs-scratch.png")
print("docs/images/finetune-vs-scratch.png")
PY
fi
