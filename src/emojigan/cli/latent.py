"""The latent-space commands: `encode`, `latent-map`, `directions`, `edit` and `generate --codes`."""
from __future__ import annotations

import time
from pathlib import Path

import torch

from .. import config, images
from ..data import load_dataset
from ..errors import UserError
from ..files import atomic_write_text
from ..inference import load_generator
from ..latent.inputs import load_inputs
from ..data.names import LabelIndex
from ..latent.directions import MAX_STRENGTH, direction, edit, label_direction, label_names, vocabulary
from ..latent.encoder import encoder_path, load_encoder, save_encoder, train_encoder
from ..latent.invert import Codes, decode, encode, encode_every_member
from ..latent.map import latent_map
from ..latent.sampling import z_from_seeds
from ..pretrained import DEFAULT_MODEL, shipped_models
from .common import say_if_shadowed, source, write_drawn


def generate_codes(a, gen) -> int:
    """`generate --codes FILE`: one image per code, in the file's order."""
    if a.label or a.seeds or a.redraw or a.truncation:
        raise UserError("--codes draws the codes of `emojigan encode`; drop --label, --seeds, --redraw and --truncation")
    codes = Codes.load(a.codes)
    codes.check_model(gen, a.codes)
    files = [f"code{i:04d}-{safe_name(name)}.png" for i, name in enumerate(codes.names)]
    write_drawn(a, gen, decode(gen, codes), files, "one per code in file order", f"codes of {a.codes}")
    return 0


def safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)[:60] or "x"


def cmd_encode(a) -> int:
    out = Path(a.out)
    if out.suffix != ".npz":
        raise UserError(f"--out {out} must be an .npz file")
    specs = list(a.inputs)
    model = a.model
    if model is None and len(specs) > 1 and is_model(specs[0]):
        model, specs = specs[0], specs[1:]
    say_if_shadowed(model or DEFAULT_MODEL)
    gen = load_generator(model or DEFAULT_MODEL, device=a.device, precision="fp32")
    names, targets = load_inputs(specs, gen.size, gen.background)
    enc = None if a.encoder == "none" else load_encoder(gen, a.encoder)
    t0 = time.perf_counter()
    codes = encode(gen, targets, names, steps=a.steps, every_member=a.every_member, progress=not a.quiet, encoder=enc)
    seconds = time.perf_counter() - t0
    codes.save(out)
    recon = decode(gen, codes)
    pairs = [im for pair in zip(images.to_pil(targets), images.to_pil(recon)) for im in pair]
    images.save_png(images.grid(images.for_display(pairs), nrow=2 * min(4, len(codes))), out.with_suffix(".png"))
    rows = ["name,member,ssim,psnr"] + [f"\"{n}\",{int(m)},{s:.4f},{p:.2f}" for n, m, s, p in
                                         zip(codes.names, codes.member, codes.ssim, codes.psnr)]
    atomic_write_text(out.with_suffix(".csv"), "\n".join(rows) + "\n")
    print(f"{out}: {len(codes)} codes ({'learned encoder' if enc else 'seeded'} first guesses), mean SSIM {codes.ssim.mean():.3f}, mean PSNR {codes.psnr.mean():.1f} dB, "
          f"{seconds / len(codes):.2f} s per emoji; {out.with_suffix('.png')}: original | reconstruction; "
          f"{out.with_suffix('.csv')}: per image")
    return 0


def cmd_encoder_train(a) -> int:
    gen = load_generator(source(a), device=a.device, precision="fp32")
    out = Path(a.out) if a.out else encoder_path(gen.path)
    if out.suffix != ".safetensors":
        raise UserError(f"--out {out} must be a .safetensors file")
    enc, record = train_encoder(gen, steps=a.steps, batch_size=a.batch_size, seed=a.seed, progress=not a.quiet)
    save_encoder(enc, gen, record, out)
    print(f"{out}: a learned encoder for {gen.path} ({record['steps']} steps, code MSE {record['final_loss']}, "
          f"{record['seconds']:.0f} s); `emojigan encode` uses it for first guesses")
    return 0


def cmd_latent_map(a) -> int:
    if Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    gen = load_generator(source(a), device=a.device, precision="fp32")
    data = load_dataset(config.DataConfig(subset=a.subset, subgroup=a.subgroup, size=gen.size,
                                          background=gen.background), progress=not a.quiet)
    names = [data.display_name(i) for i in range(len(data))]
    subgroups = [row.get("subgroup", "") or "?" for row in data.labels] if data.labels else ["?"] * len(data)
    codes = encode(gen, data.images, names, steps=a.steps, progress=not a.quiet, encoder=load_encoder(gen))
    latent_map(gen, codes, data.images, subgroups, a.out, a.method,
               title=f"{a.run or a.model or DEFAULT_MODEL}: {len(data)} emojis of {a.subset}{' ' + a.subgroup if a.subgroup else ''}")
    print(f"{a.out}: {len(data)} emojis at their codes' {a.method.upper()} positions (mean reconstruction SSIM "
          f"{codes.ssim.mean():.3f}); {Path(a.out).with_suffix('.html')}: name and reconstruction on hover")
    return 0


def is_model(spec: str) -> bool:
    """Whether a positional argument names a model (a run folder, an export, a shipped name), not an input."""
    p = Path(spec)
    return (p.is_dir() and (p / "config.json").is_file()) or (p.is_file() and p.suffix == ".safetensors") or \
        (not p.exists() and spec in shipped_models())


def subset_codes(a, gen) -> Codes:
    """The codes that directions are computed from: the subset's real emojis encoded into every member of the model
    (a mixture's members have latent spaces of their own), all in one file. `--codes FILE` when it exists (of this
    model), else encoded now and written to FILE when given, for the next call."""
    if a.codes and Path(a.codes).is_file():
        codes = Codes.load(a.codes)
        codes.check_model(gen, a.codes)
        return codes
    data = load_dataset(config.DataConfig(subset=a.subset, size=gen.size, background=gen.background),
                        progress=not a.quiet)
    names = [data.display_name(i) for i in range(len(data))]
    codes = encode_every_member(gen, data.images, names, steps=a.steps, encoder=load_encoder(gen),
                                progress=not a.quiet)
    if a.codes:
        codes.save(a.codes)
    return codes


def cmd_directions(a) -> int:
    gen = load_generator(source(a), device=a.device, precision="fp32")
    if gen.conditional:
        names, what = label_names(gen), "labels of this model"
    else:
        data = load_dataset(config.DataConfig(subset=a.subset, size=gen.size, background=gen.background),
                            progress=not a.quiet)
        names, what = [data.display_name(i) for i in range(len(data))], f"emojis of {a.subset}"
    vocab = vocabulary(names, a.min_count)
    print(f"{len(vocab)} words tag at least {a.min_count} of the {len(set(names))} {what} "
          f"(`emojigan edit --direction WORD`):")
    for word, hits in vocab.items():
        print(f"  {word:<16} {len(hits):>4}  e.g. {', '.join(hits[:3])}")
    return 0


def start_code(a, gen) -> Codes:
    """The code an edit starts from: --seed N, --image FILE (or an OpenMoji name), --label NAME or --code FILE:i."""
    given = [x for x in (a.seed is not None, a.image, a.label, a.code) if x]
    if len(given) != 1:
        raise UserError("give one start: --seed N, --image FILE (or an OpenMoji name), --label NAME or --code FILE:i")
    if a.code:
        path, _, i = a.code.rpartition(":")
        if not path or not i.isdigit() or not Path(path).is_file():
            raise UserError(f"--code {a.code}: write FILE:i, entry i of an existing codes file of `emojigan encode`")
        codes = Codes.load(path)
        codes.check_model(gen, path)
        return codes.entry(int(i), path)
    if a.image:
        names, x = load_inputs([a.image], gen.size, gen.background)
        return encode(gen, x, names, progress=False, encoder=load_encoder(gen))
    if a.label:
        if not gen.conditional:
            raise UserError("--label needs a conditional model (cond128)")
        y = LabelIndex(gen.classes).find(a.label)
        return Codes(z_from_seeds([0], gen.z_dim), torch.zeros(1, dtype=torch.long), gen.label_embedding([y]),
                     [a.label], gen.fingerprint)
    s = a.seed
    emb = gen.label_embedding(gen.default_labels([s])) if gen.conditional else None
    return Codes(z_from_seeds([s], gen.z_dim), torch.tensor(gen.member_of([s])), emb, [f"seed {s}"], gen.fingerprint)


def cmd_edit(a) -> int:
    if Path(a.out).suffix.lower() != ".png":
        raise UserError(f"--out {a.out} must be a .png file")
    try:
        strengths = [float(v) for v in a.strengths.split(",")] if a.strengths else [a.strength]
    except ValueError:
        raise UserError(f"--strengths {a.strengths}: give numbers separated by commas, e.g. -2,-1,0,1,2") from None
    if any(abs(v) > MAX_STRENGTH for v in strengths):
        raise UserError(f"a strength must be between -{MAX_STRENGTH:g} and {MAX_STRENGTH:g}")
    gen = load_generator(source(a), device=a.device, precision="fp32")
    start = start_code(a, gen)
    d = label_direction(gen, a.direction, a.min_count) if gen.conditional else \
        direction(subset_codes(a, gen), a.direction, len(gen.members), a.min_count)
    x = decode(gen, edit(start, d, strengths))
    images.save_png(images.grid(images.for_display(images.to_pil(x)), nrow=len(strengths)), a.out)
    print(f"{a.out}: '{start.names[0]}' along '{d.word}' ({d.count} emojis tagged) at strengths "
          f"{', '.join(f'{v:g}' for v in strengths)}")
    return 0
