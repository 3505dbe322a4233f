"""The `emojigan` command line: the argument parser, built from limits.py's names and bounds, one subparser per
command (commands.py holds what each runs)."""
from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..limits import BACKGROUNDS, MAX_REDRAW, MAX_SAMPLES, PRECISIONS, SIZES
from ..presets import preset_names
from . import commands, latent, serve


class Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse would print the usage block too)
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def _int_range(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is out of range; it must be between {lo} and {hi}")
        return v
    return parse


def _eval_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n", type=_int_range(2, 20_000), default=512, help="generated samples (default 512)")
    p.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="first sample seed")
    p.add_argument("--features", choices=("openmoji", "inception"), default="openmoji",
                   help="feature space for KID/FID/precision/recall (default: the shipped OpenMoji network)")
    p.add_argument("--inception-weights", dest="inception_weights",
                   help="path of inception-2015-12-05.pt (default: looked up in the cache folder)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true")


# -------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="emojigan", description="Learn OpenMoji's emoji artwork and generate new emojis.")
    p.add_argument("--version", action="version", version=f"emojigan {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    data = sub.add_parser("data", help="build and list OpenMoji datasets")
    dsub = data.add_subparsers(dest="data_command", required=True, parser_class=Parser)
    b = dsub.add_parser("build", help="render an OpenMoji subset to a folder of PNGs + labels.csv + preview.png")
    b.add_argument("--subset", default="faces", help="faces | faces+cats | smileys-emotion | all (default faces)")
    b.add_argument("--group", default="", help="OpenMoji group glob(s), comma-separated")
    b.add_argument("--subgroup", default="", help="OpenMoji subgroup glob(s), comma-separated, e.g. 'face-*'")
    b.add_argument("--emojis", default="", help="only these: comma-separated hexcodes, characters or annotations")
    b.add_argument("--size", type=int, default=64, choices=SIZES, metavar="{32,64,128,256}")
    b.add_argument("--background", default="black", choices=BACKGROUNDS)
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--overwrite", action="store_true", help="replace a dataset built with other settings")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.set_defaults(func=commands.cmd_data_build)
    s = dsub.add_parser("subsets", help="list the named subsets with their counts")
    s.add_argument("--groups", action="store_true", help="list every OpenMoji group and subgroup instead")
    s.set_defaults(func=commands.cmd_data_subsets)

    t = sub.add_parser("train", help="train a GAN into a run folder")
    t.add_argument("--preset", help=f"one of {', '.join(preset_names())}")
    t.add_argument("--config", help="a TOML file of settings (applied after --preset)")
    t.add_argument("--out", help="run folder")
    t.add_argument("--resume", nargs="?", const=True, default=False, metavar="RUN",
                   help="continue the run in --out (or RUN) from its last checkpoint; the command that started it "
                        "may be repeated with --resume added (its --preset must agree with the run)")
    t.add_argument("--branch", metavar="RUN", help="start --out as a copy of RUN at one of its training states "
                   "(--checkpoint), then continue it: change one setting with --set from that step on")
    t.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                   help="with --branch: the state to start from (best: its lowest-KID evaluation)")
    t.add_argument("--own-best", dest="own_best", action="store_true",
                   help="with --branch: its best checkpoint is the best of its own evaluations, not RUN's "
                        "(RUN's were made under other settings)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    t.add_argument("--epochs", type=_int_range(1, 1_000_000))
    t.add_argument("--batch-size", dest="batch_size", type=_int_range(1, 65_536))
    t.add_argument("--lr-g", dest="lr_g", type=float)
    t.add_argument("--lr-d", dest="lr_d", type=float)
    t.add_argument("--seed", type=_int_range(0, 2**63 - 1))
    t.add_argument("--data", help="a folder of your own PNG/JPEG images (or a built dataset) instead of --subset")
    t.add_argument("--subset")
    t.add_argument("--group")
    t.add_argument("--subgroup")
    t.add_argument("--size", type=int, choices=SIZES, metavar="{32,64,128,256}")
    t.add_argument("--background", choices=BACKGROUNDS)
    t.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    t.add_argument("--sample-every", dest="sample_every", type=_int_range(1, 1_000_000))
    t.add_argument("--checkpoint-every", dest="checkpoint_every", type=_int_range(1, 1_000_000))
    t.add_argument("--log-every", dest="log_every", type=_int_range(1, 1_000_000))
    t.add_argument("--precision", choices=PRECISIONS,
                   help="bf16 autocast on GPUs and AVX512-BF16/AMX CPUs; auto: bf16 where native")
    t.add_argument("--compile", action="store_const", const=True, default=None, help="torch.compile G and D")
    t.add_argument("--eval-every", dest="eval_every", type=_int_range(0, 1_000_000),
                   help="epochs between KID/SSIM evaluations logged to metrics.jsonl; keeps the best (lowest KID)")
    t.add_argument("--init", metavar="MODEL[@K]",
                   help="start from a trained model: a shipped name (faces64), a run folder or an export; its "
                        "architecture, size and background come with it; @K: generator K of a mixture (faces64@1 "
                        "draws the seeds k with k mod 3 = 1; default the first)")
    t.add_argument("--freeze-d", dest="freeze_d", type=_int_range(0, 16),
                   help="FreezeD: keep D's first N convolution blocks fixed (fine-tuning)")
    t.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config field, type-checked (repeatable)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=commands.cmd_train)

    g = sub.add_parser("generate", help="draw emojis from a trained generator (default: the shipped faces64)")
    g.add_argument("run", nargs="?", help="a run folder or an exported generator .safetensors (default: --model)")
    g.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    g.add_argument("--n", type=_int_range(1, MAX_SAMPLES), default=64, help="how many (default 64)")
    g.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="first seed (seeds seed..seed+n-1)")
    g.add_argument("--seeds", help="explicit seeds instead, e.g. 0-63 or 1,5,9")
    g.add_argument("--out", help="grid PNG to write")
    g.add_argument("--separate", help="folder for one PNG per emoji")
    g.add_argument("--nrow", type=_int_range(1, 1000), default=None, help="images per grid row")
    g.add_argument("--background", choices=BACKGROUNDS, default=None,
                   help="composite an RGBA model's output (default: as trained)")
    g.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="resample z components beyond T (BigGAN's truncation trick, e.g. 1.5): less varied samples; "
                        "on the shipped models measured no cleaner (faces64 at 1.0: broken faces; docs/RESULTS.md), "
                        "--redraw is the sampler that cleans")
    g.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                   help="RGBA models: replace a sample with a stray fragment (a broken bit of outline) by its "
                        "seed's next draw, up to R times, keeping the draw with the fewest (e.g. 8; default 0: off)")
    g.add_argument("--label", action="append", default=[],
                   help="conditional models: a label name, emoji, shortcode or hexcode (repeatable); "
                        "'all' draws one fixed noise for every label")
    g.add_argument("--codes", metavar="FILE", help="draw the codes of `emojigan encode` (an .npz), one image each")
    g.add_argument("--prompt", action="append", default=[],
                   help="text models: describe the emoji, e.g. 'crying laughing cat' (repeatable; --n each; with no "
                        "RUN, --model text64)")
    g.add_argument("--text-encoder", dest="text_encoder", metavar="PATH",
                   help="a local sentence-transformers folder (default: the model's own, all-MiniLM-L6-v2)")
    g.add_argument("--device", default="cpu", help="auto | cpu | cuda | mps (default cpu)")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="auto: bf16 where the device has it and it matches FP32 within 2/255 (default)")
    g.set_defaults(func=commands.cmd_generate)
    en = sub.add_parser("encode", help="find the latent codes that draw real emojis (GAN inversion)")
    en.add_argument("inputs", nargs="+", metavar="[MODEL] INPUT",
                    help="image files, folders of images (sorted by file name) or OpenMoji names; a first argument "
                         "that is a run folder, an export or a shipped name is the model (default faces64)")
    en.add_argument("--model", help="a shipped model (`emojigan models`); then every argument is an input")
    en.add_argument("--out", required=True, help="the codes file (.npz); a grid original | reconstruction (.png) and "
                                                 "per-image SSIM and PSNR (.csv) go beside it")
    en.add_argument("--steps", type=_int_range(0, 5000), default=30,
                    help="optimization steps after the first guesses: more for fidelity, 0 for speed (default 30)")
    en.add_argument("--every-member", dest="every_member", action="store_true",
                    help="a mixture: refine in every member, not only in the one whose first guess was best")
    en.add_argument("--encoder", help="a learned encoder's file (default: X.encoder.safetensors beside the export, "
                                      "when there is one); 'none' starts from seeded guesses only")
    en.add_argument("--device", default="cpu")
    en.add_argument("--quiet", action="store_true", help="no progress bar")
    en.set_defaults(func=latent.cmd_encode)
    ec = sub.add_parser("encoder", help="the learned encoder that gives encode its first guesses")
    ec_sub = ec.add_subparsers(dest="encoder_command", required=True, metavar="train")
    et = ec_sub.add_parser("train", help="train it on the generator's own samples; saved beside the export")
    et.add_argument("run", nargs="?", help="a run folder or an exported generator (default: --model)")
    et.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    et.add_argument("--steps", type=_int_range(1, 100_000), default=2000, help="training steps (default 2000)")
    et.add_argument("--batch-size", dest="batch_size", type=_int_range(1, 4096), default=32)
    et.add_argument("--out", help="where to write it (default: X.encoder.safetensors beside the export X.safetensors)")
    et.add_argument("--seed", type=_int_range(0, 2**31 - 1), default=0)
    et.add_argument("--device", default="cpu")
    et.add_argument("--quiet", action="store_true")
    et.set_defaults(func=latent.cmd_encoder_train)
    lm = sub.add_parser("latent-map", help="real emojis encoded and drawn at their codes' 2-D positions (PCA, t-SNE)")
    lm.add_argument("run", nargs="?", help="a run folder or an exported generator (default: --model)")
    lm.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    lm.add_argument("--subset", default="faces", help="the OpenMoji subset to encode (default faces)")
    lm.add_argument("--subgroup", default="", help="narrow it to OpenMoji subgroups (glob patterns)")
    lm.add_argument("--method", choices=("pca", "tsne"), default="pca")
    lm.add_argument("--steps", type=_int_range(0, 5000), default=30, help="encode's optimization steps (default 30)")
    lm.add_argument("--out", required=True, help="the map's PNG (an HTML page with the same name goes beside it)")
    lm.add_argument("--device", default="cpu")
    lm.add_argument("--quiet", action="store_true")
    lm.set_defaults(func=latent.cmd_latent_map)
    def subset_args(q):
        q.add_argument("run", nargs="?", help="a run folder or an exported generator (default: --model)")
        q.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
        q.add_argument("--subset", default="faces", help="the OpenMoji subset whose words and codes count (default faces)")
        q.add_argument("--codes", metavar="FILE", help="unconditional models: the subset's codes, read if FILE exists, else encoded and "
                                                      "written there for the next call")
        q.add_argument("--min-count", dest="min_count", type=_int_range(1, 1000), default=3,
                       help="a word needs this many tagged emojis (default 3)")
        q.add_argument("--steps", type=_int_range(0, 5000), default=30, help="encode's steps (default 30)")
        q.add_argument("--device", default="cpu")
        q.add_argument("--quiet", action="store_true")

    dr = sub.add_parser("directions", help="the OpenMoji words with a direction in the latent space")
    subset_args(dr)
    dr.set_defaults(func=latent.cmd_directions)
    ed = sub.add_parser("edit", help="move an emoji's code along a word's direction: a strip")
    subset_args(ed)
    ed.add_argument("--seed", type=_int_range(0, 2**63 - 1), help="start from this seed's sample")
    ed.add_argument("--image", help="start from an image file or an OpenMoji name (encoded first)")
    ed.add_argument("--label", help="conditional models: start from this label")
    ed.add_argument("--code", metavar="FILE:i", help="start from entry i of a codes file")
    ed.add_argument("--direction", required=True, help="a word (`emojigan directions` lists them), e.g. tears")
    ed.add_argument("--strength", type=float, default=1.0, help="how far along it (default 1)")
    ed.add_argument("--strengths", help="several, one image each, e.g. -2,-1,0,1,2")
    ed.add_argument("--out", required=True, help="the strip PNG")
    ed.set_defaults(func=latent.cmd_edit)
    lb = sub.add_parser("labels", help="list a conditional model's labels and the names they answer to")
    lb.add_argument("run", nargs="?", help="a run folder or exported generator (default: --model)")
    lb.add_argument("--model", help="a shipped model (`emojigan models`)")
    lb.set_defaults(func=commands.cmd_labels)
    ip = sub.add_parser("interpolate", help="a strip (and GIF) between two labels or seeds")
    ip.add_argument("run", nargs="?", help="a run folder or exported generator (default: --model)")
    ip.add_argument("--model", help="a shipped model (`emojigan models`; default faces64)")
    ip.add_argument("--from", dest="start", required=True, help="a label name, seed:N, or seed:N:label")
    ip.add_argument("--to", dest="end", required=True, help="a label name, seed:N, or seed:N:label")
    ip.add_argument("--steps", type=_int_range(2, 256), default=8)
    ip.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0, help="z for endpoints without seed:N")
    ip.add_argument("--out", required=True, help="strip PNG")
    ip.add_argument("--gif", help="also write an animation (there and back)")
    ip.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                    help="start and end at the draws generate --redraw R shows for the seeds (default 0)")
    ip.add_argument("--device", default="cpu")
    ip.set_defaults(func=commands.cmd_interpolate)

    mx = sub.add_parser("mix", help="one generator file that draws from several (seed k from generator k mod M)")
    mx.add_argument("members", nargs="+", metavar="RUN[:best]|EXPORT[@K,...]",
                    help="run folders (their last generator, or :best), shipped names or .safetensors exports; "
                         "a mixture among them adds its members (faces64 and one run: four generators), or those "
                         "named after @ (faces64@0,1 and one run: three, member 2 swapped for the run; faces64@2 alone: that "
                         "generator by itself)")
    mx.add_argument("--out", required=True, help="the mixture's .safetensors file")
    mx.add_argument("--discriminator", metavar="RUN[:best]|EXPORT",
                    help="also write OUT.D.safetensors, this run's discriminator (or the one beside an export), so "
                         "that train --init OUT continues with a trained D")
    mx.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    mx.set_defaults(func=commands.cmd_mix)
    rc = sub.add_parser("recipe", help="rebuild a shipped model from scratch: run its recipe (recipes/NAME.toml)")
    rc.add_argument("recipe", help="a recipe file, or a shipped model's name (recipes/NAME.toml)")
    rc.add_argument("--out", required=True, help="folder for every step's run (a rerun continues there)")
    rc.add_argument("--smoke", action="store_true",
                    help="every step at a tiny scale (32 px, small networks, a few epochs): checks that it runs")
    rc.set_defaults(func=commands.cmd_recipe)
    ms = sub.add_parser("models", help="list the pretrained generators shipped in the package")
    ms.set_defaults(func=commands.cmd_models)
    sv = sub.add_parser("serve", help="the studio: generate, interpolate, encode and prompt in the browser")
    sv.add_argument("runs", nargs="*", metavar="RUN", help="run folders or exported generators to serve")
    sv.add_argument("--model", action="append", default=[], help="a shipped model to serve (repeatable; default: "
                    "every shipped model when no RUN is given)")
    sv.add_argument("--host", default="127.0.0.1", help="the address to listen on (default 127.0.0.1: this "
                    "machine only)")
    sv.add_argument("--port", type=_int_range(1, 65535), default=7860)
    sv.add_argument("--workers", type=_int_range(1, 64), default=2,
                    help="requests computing at once (default 2; the rest queue)")
    sv.add_argument("--device", default="cpu")
    sv.set_defaults(func=serve.cmd_serve)

    e = sub.add_parser("evaluate", help="the report's analysis plus KID, precision/recall and memorization")
    e.add_argument("run", help="a run folder, or a shipped model's name (faces64, cond128: checks its card)")
    e.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                   help="the last export, or the lowest-KID one that --eval-every kept")
    e.add_argument("--redraw", type=_int_range(0, MAX_REDRAW), default=0, metavar="R",
                   help="measure the sampler of generate --redraw R (fragmented samples redrawn) instead of the "
                        "generator alone (default 0)")
    e.add_argument("--truncation", type=float, default=None, metavar="T",
                   help="measure the sampler of generate --truncation T (latent components beyond T resampled): "
                        "what it does to quality and variety")
    e.add_argument("--focus-hits", dest="focus_hits", type=_int_range(0, 1000), default=1, metavar="H",
                   help="focus.txt lists the real emojis recalled by at most H sets of samples, for train.focus "
                        "(default 1)")
    _eval_args(e)
    e.set_defaults(func=commands.cmd_evaluate)
    c = sub.add_parser("compare", help="one table of every metric and the sample grids of several runs")
    c.add_argument("runs", nargs="+", help="run folders or shipped models' names")
    c.add_argument("--names", help="comma-separated column names (default: the folder names)")
    c.add_argument("--history", action="store_true",
                   help="compare the runs' in-training evaluations (metrics.jsonl) over their steps instead: "
                        "a table and a figure of KID, recall and copies, no new samples")
    c.add_argument("--window", metavar="LO-HI", default="",
                   help="with --history: each run's mean over its evaluations at steps LO to HI")
    _eval_args(c)
    c.set_defaults(func=commands.cmd_compare)

    f = sub.add_parser("features", help="the OpenMoji feature network used by evaluate")
    fsub = f.add_subparsers(dest="features_command", required=True, parser_class=Parser)
    ft = fsub.add_parser("train", help="train EmojiNet on all OpenMoji emojis (subgroup classification)")
    ft.add_argument("--out", required=True, help="the .safetensors to write (a model card .md goes beside it)")
    ft.add_argument("--epochs", type=_int_range(1, 10_000), default=40)
    ft.add_argument("--batch-size", dest="batch_size", type=_int_range(1, 65_536), default=128)
    ft.add_argument("--lr", type=float, default=2e-3)
    ft.add_argument("--width", type=_int_range(4, 512), default=32)
    ft.add_argument("--seed", type=_int_range(0, 2**63 - 1), default=0)
    ft.add_argument("--device", default="auto")
    ft.add_argument("--quiet", action="store_true")
    ft.set_defaults(func=commands.cmd_features_train)
    return p
