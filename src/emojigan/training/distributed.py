"""Multi-process training with PyTorch's own DistributedDataParallel, started by torchrun:

    torchrun --nproc_per_node 4 -m emojigan train --preset dcgan64 --out runs/ddp

One process per GPU (NCCL), or per CPU worker (gloo). Rank 0 alone writes files; every rank draws its own
noise and its own shard of each epoch's shuffle (DistributedSampler)."""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..devices import pick_device


@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def mean(self, x: torch.Tensor) -> torch.Tensor:
        """Average a statistics tensor over ranks (only at the loss-reading interval)."""
        if self.enabled:
            x = x.clone()
            dist.all_reduce(x)
            x /= self.world_size
        return x

    def gather(self, obj):
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def assert_in_sync(self, *modules: torch.nn.Module, tensors: tuple[torch.Tensor, ...] = ()) -> None:
        """Debug check (EMOJIGAN_DDP_CHECK=1): every rank holds bit-identical weights, and the same values in
        `tensors` (training state outside the modules). (BatchNorm running statistics are per
        rank between forwards; DDP broadcasts rank 0's at the start of each forward.)"""
        if not self.enabled:
            return
        flat = torch.cat([p.detach().flatten().float() for mod in modules for p in mod.parameters()]
                         + [t.detach().flatten().float() for t in tensors]).to(self.device)
        gathered = [torch.empty_like(flat) for _ in range(self.world_size)]
        dist.all_gather(gathered, flat)
        bad = [r for r, g in enumerate(gathered) if not torch.equal(g, gathered[0])]
        if bad:
            raise RuntimeError(f"DDP ranks {bad} hold weights or training state that differ from rank 0's")

    def close(self) -> None:
        if self.enabled and dist.is_initialized():
            # free the DDP wrappers (and their gloo work) still held in reference cycles while the interpreter is
            # whole: a process group torn down at interpreter exit aborted a rank once under load (SIGABRT,
            # "terminate called without an active exception" in CI)
            gc.collect()
            dist.destroy_process_group()


def setup(device_name: str) -> Dist:
    """Join the torchrun process group if there is one; pick each rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist(device=pick_device(device_name))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(device_name)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank, world, local, device)
