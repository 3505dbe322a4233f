"""Training: the run folder (run.py), its setup from a config (setup.py), the step (step.py), the trainer and
its epoch loop (trainer.py, loop.py), checkpoints, fine-tuning starts (init.py), branches and multi-process DDP."""
from .loop import train

__all__ = ["train"]
