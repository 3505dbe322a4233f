"""Prompt fidelity of a text model: does a paraphrase it never trained on draw the emoji it describes?

`text/paraphrases.csv` holds held-out paraphrases of OpenMoji emojis ("laughing so hard I cry" -> face with tears of
joy); none is one of the phrasings a text model trains on. For each paraphrase of an emoji the model learned, its
samples are matched against every OpenMoji emoji rendered at the model's size and background, in the feature space:
top-1 is the share of samples whose nearest emoji is the described one, top-5 the share with it among the 5 nearest.
Measured beside three references:
- floor: samples of a random training label (seeded), scored against the described emoji;
- label: samples of the described emoji's own label (what the model draws when given the id, not words);
- ceiling: the described emoji's own render."""
from __future__ import annotations

import csv
import random
from importlib import resources

import numpy as np
import torch

from ..config import DataConfig
from ..data import load_dataset
from ..latent.sampling import z_from_seeds
from ..text.encoder import MAX_PROMPTS

TOP_K = 5


def load_paraphrases() -> list[tuple[str, str]]:
    """(paraphrase, annotation) pairs, in file order."""
    text = (resources.files("emojigan.text") / "paraphrases.csv").read_text(encoding="utf-8")
    return [(r["paraphrase"], r["annotation"]) for r in csv.DictReader(text.splitlines())]


def _scores(feat: torch.Tensor, ref_feat: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the reference index `target` is the nearest (top-1) and among the TOP_K nearest."""
    near = torch.cdist(feat, ref_feat).topk(TOP_K, largest=False).indices
    return (near[:, 0] == target).numpy(), (near == target[:, None]).any(dim=1).numpy()


def prompt_fidelity(gen, space, per_prompt: int = 8, seed: int = 0, progress: bool = False) -> dict:
    """The scalars of the module docstring, plus the per-paraphrase top-5 and how many paraphrases counted."""
    learned = {c.get("annotation", ""): y for y, c in enumerate(gen.classes)}
    pairs = [(p, a) for p, a in load_paraphrases() if a in learned]
    if not pairs:
        return {"prompt_paraphrases": 0}
    ref = load_dataset(DataConfig(subset="all", size=gen.size, background=gen.background), progress=progress)
    names = [ref.display_name(i) for i in range(len(ref))]
    ref_feat = space(ref.images)
    index = {n: i for i, n in enumerate(names)}
    target = torch.tensor([index[a] for _, a in pairs]).repeat_interleave(per_prompt)
    z = z_from_seeds(list(range(seed, seed + per_prompt)), gen.z_dim).repeat(len(pairs), 1)
    emb = torch.cat([gen.prompt_embedding([p for p, _ in pairs[i:i + MAX_PROMPTS]], refuse_unmatched=False)
                     for i in range(0, len(pairs), MAX_PROMPTS)]).repeat_interleave(per_prompt, dim=0)
    prompt1, prompt5 = _scores(space(gen.sample_tensor(z=z, embeddings=emb)), ref_feat, target)
    rng = random.Random(seed)
    random_labels = [rng.randrange(len(gen.classes)) for _ in pairs]
    own_labels = [learned[a] for _, a in pairs]
    out = {"prompt_paraphrases": len(pairs), "prompt_per_paraphrase": per_prompt,
           "prompt_top1": float(prompt1.mean()), "prompt_top5": float(prompt5.mean())}
    for name, labels in (("floor", random_labels), ("label", own_labels)):
        x = gen.sample_tensor(z=z, labels=[y for y in labels for _ in range(per_prompt)])
        t1, t5 = _scores(space(x), ref_feat, target)
        out[f"prompt_{name}_top1"], out[f"prompt_{name}_top5"] = float(t1.mean()), float(t5.mean())
    own = ref_feat[torch.tensor([index[a] for _, a in pairs])]
    t1, t5 = _scores(own, ref_feat, torch.tensor([index[a] for _, a in pairs]))
    out["prompt_ceiling_top1"], out["prompt_ceiling_top5"] = float(t1.mean()), float(t5.mean())
    out["prompt_top5_per_paraphrase"] = {p: float(prompt5[i * per_prompt:(i + 1) * per_prompt].mean())
                                         for i, (p, _) in enumerate(pairs)}
    return out
