"""What the learned encoder adds to `emojigan encode`: reconstruction SSIM and time per emoji of a model's training
emojis, with and without the encoder shipped beside the model, at 1 or 128 seeded candidates and 0 or 30
optimization steps; and the first guess alone on the model's own samples.

    python benchmarks/encoder_guesses.py [--model faces64] [--samples 24]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import describe  # noqa: E402

from emojigan import config  # noqa: E402
from emojigan.data import load_dataset  # noqa: E402
from emojigan.inference import load_generator  # noqa: E402
from emojigan.latent.encoder import load_encoder  # noqa: E402
from emojigan.latent.invert import encode  # noqa: E402
from emojigan.pretrained import resolve_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--samples", type=int, default=24)
    a = ap.parse_args()
    print(describe(torch.device("cpu")))
    gen = load_generator(resolve_model(a.model), precision="fp32")
    enc = load_encoder(gen)
    if enc is None:
        sys.exit(f"{a.model} has no encoder beside it (emojigan encoder train --model {a.model})")
    data = load_dataset(config.DataConfig(subset=gen.meta["data"]["subset"], size=gen.size,
                                          background=gen.background), progress=False)
    names = [data.display_name(i) for i in range(len(data))]
    x = data.images
    t0 = time.perf_counter()
    with torch.inference_mode():
        enc(x)
    print(f"\nthe encoder's forward pass: {(time.perf_counter() - t0) / len(x) * 1000:.2f} ms per emoji (batch {len(x)})")
    print(f"\n{a.model}: its {len(x)} training emojis, batched\n")
    print("| seeded candidates | learned encoder | steps | mean SSIM | s per emoji |")
    print("|---|---|---|---|---|")
    for cand in (1, 128):
        for e in (None, enc):
            for steps in (0, 30):
                t0 = time.perf_counter()
                c = encode(gen, x, names, steps=steps, candidates=cand, encoder=e, progress=False)
                print(f"| {cand} | {'yes' if e else 'no'} | {steps} | {c.ssim.mean():.3f} | "
                      f"{(time.perf_counter() - t0) / len(x):.3f} |", flush=True)
    own = gen.sample_tensor(seeds=list(range(a.samples)))
    ids = [str(i) for i in range(a.samples)]
    for e in (None, enc):
        c = encode(gen, own, ids, steps=0, candidates=1, encoder=e, progress=False)
        print(f"\nits own samples (seeds 0-{a.samples - 1}), first guess alone (1 candidate, 0 steps), "
              f"{'learned encoder' if e else 'seeded only'}: mean SSIM {c.ssim.mean():.3f}")
    t0 = time.perf_counter()
    c = encode(gen, x[:1], names[:1], encoder=enc, progress=False)
    print(f"\none emoji alone, the defaults (128 candidates, 30 steps, the encoder): {time.perf_counter() - t0:.2f} s, "
          f"SSIM {c.ssim[0]:.3f}")


if __name__ == "__main__":
    main()
