"""`train(cfg, out)`: the public entry point. Sets up the process group (torchrun), prepares the run
(setup.py), and runs the epoch loop of the trainer (trainer.py) with a progress bar; Ctrl-C keeps the last
checkpoint and says how to resume."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from ..config import Config
from ..errors import UserError
from .distributed import setup
from .setup import prepare
from .trainer import Trainer


def train(cfg: Config, out: str | Path, resume: bool = False, overwrite: bool = False,
          progress: bool = True) -> Path:
    """Train `cfg` into the run folder `out` (or continue it with `resume`); returns the folder.
    Under torchrun this runs one rank of a DistributedDataParallel job."""
    out = Path(out)
    cfg.validate()
    dist = setup(cfg.train.device)
    try:
        run = prepare(cfg, out, resume, overwrite, progress, dist)
        t = cfg.train
        if dist.is_main and progress:
            for note in run.notes:
                print(f"{out}: {note}")
        if run.epoch >= t.epochs:
            if dist.is_main:
                print(f"{out}: already trained for {run.epoch} epochs (train.epochs = {t.epochs}); nothing to do")
            return out
        trainer = Trainer(run)
        bar = tqdm(total=t.epochs, initial=run.epoch, unit="epoch", disable=not (progress and dist.is_main),
                   dynamic_ncols=True, desc=out.name)
        trainer.train_mode()
        try:
            for epoch in range(run.epoch, t.epochs):
                row = trainer.train_epoch(epoch)
                trainer.end_of_epoch(epoch + 1)
                bar.update(1)
                if row:
                    bar.set_postfix(loss_d=f"{row['loss_d']:.3f}", loss_g=f"{row['loss_g']:.3f}",
                                    img_s=f"{row['img_per_s']:.0f}",
                                    **({"p": f"{row['ada_p']:.2f}"} if "ada_p" in row else {}))
        except KeyboardInterrupt:
            raise UserError(f"interrupted; resume from the last checkpoint (epoch {trainer.last_ckpt}) with: "
                            f"emojigan train --resume {out}") from None
        finally:
            bar.close()
            trainer.close()
        dist.barrier()
        return out
    finally:
        dist.close()
