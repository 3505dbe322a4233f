"""The prompt grid of docs/RESULTS.md: 16 prompts x 4 seeds from a text model, each row named by its prompt and
the two learned emojis its phrase memory gives the most weight.

    python experiments/prompt_grid.py [--model text64] [--out docs/images/text/text64-prompts.png]
"""
from __future__ import annotations

import argparse

from PIL import Image, ImageDraw

from emojigan import images, load_generator
from emojigan.latent.sampling import z_from_seeds
from emojigan.pretrained import resolve_model

PROMPTS = ["crying laughing cat", "sleepy face with hearts", "cat with heart eyes and sunglasses", "robot crying",
           "laughing so hard I cry", "a puppy's face", "angry red face", "a ghost", "broken heart", "a frog",
           "a sunflower", "a penguin", "ghost with heart eyes", "sad cat", "devil", "a blue heart"]
SEEDS = [0, 1, 2, 3]
LABEL_WIDTH = 330


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="text64")
    ap.add_argument("--out", default="docs/images/text/text64-prompts.png")
    a = ap.parse_args()
    gen = load_generator(a.model if "/" in a.model else resolve_model(a.model))
    text = gen.prompt_text(PROMPTS)
    emb = gen.text_condition(text)
    x = gen.sample_tensor(z=z_from_seeds(SEEDS, gen.z_dim).repeat(len(PROMPTS), 1),
                          embeddings=emb.repeat_interleave(len(SEEDS), dim=0))
    tiles = images.for_display(images.to_pil(x))
    s = gen.size
    out = Image.new("RGB", (LABEL_WIDTH + len(SEEDS) * s, len(PROMPTS) * s), "white")
    draw = ImageDraw.Draw(out)
    for i, (prompt, near) in enumerate(zip(PROMPTS, gen.prompt_matches(text, k=2))):
        draw.text((6, i * s + s // 2 - 12), prompt, fill="black")
        names = ", ".join(f"{gen.classes[y]['annotation']} {w:.0%}" for y, w in near)
        draw.text((6, i * s + s // 2 + 2), f"-> {names}", fill=(110, 110, 110))
        for j in range(len(SEEDS)):
            out.paste(tiles[i * len(SEEDS) + j], (LABEL_WIDTH + j * s, i * s))
    images.save_png(out, a.out)
    print(a.out)


if __name__ == "__main__":
    main()
