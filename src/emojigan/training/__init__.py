"""Training: the loop (`training.loop.train`), checkpoints (state for --resume, exported generator), run folders."""
from .checkpoint import export_generator, load_state, read_export, save_state

__all__ = ["export_generator", "read_export", "save_state", "load_state"]
