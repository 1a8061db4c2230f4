"""Several processes, one run: `torchrun --nproc_per_node=N -m dcgan_lib train ...` starts N copies of the
command, and each learns from its environment (RANK, WORLD_SIZE, LOCAL_RANK) which one it is.

A `World` is that answer; `joined` holds the process group for a run's length (NCCL between GPUs, Gloo
between CPU processes). How the work is shared is decided where it is done: `data.ImageData.batches` gives
each process its slice of every global batch, `train` wraps the networks in DistributedDataParallel and
lets process 0 alone write files. docs/performance.md says how to run it on one machine or several.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from .errors import DCGANError


@dataclass(frozen=True)
class World:
    """This process's place in a run: `rank` among `size` processes, `local_rank` among those on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Process 0: the one that writes checkpoints, samples and the history, and shows the progress bar."""
        return self.rank == 0


def world_from_env(env: Mapping[str, str] = os.environ) -> World:
    """The World torchrun describes in the environment; one process (`World()`) when it is not set."""
    if int(env.get("WORLD_SIZE", "1") or 1) <= 1:
        return World()
    try:
        world = World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", env["RANK"])))
    except (KeyError, ValueError):
        raise DCGANError("WORLD_SIZE is set but RANK is missing or not a number: start several processes with torchrun") from None
    if not 0 <= world.rank < world.size:
        raise DCGANError(f"RANK {world.rank} is outside 0..{world.size - 1}: start several processes with torchrun")
    return world


def rank_device(world: World, device: torch.device) -> torch.device:
    """The device of this process: with several processes on CUDA, GPU number LOCAL_RANK of its machine."""
    if world.size == 1 or device.type != "cuda":
        return device
    if world.local_rank >= torch.cuda.device_count():
        raise DCGANError(f"LOCAL_RANK {world.local_rank} but this machine has {torch.cuda.device_count()} GPU(s): "
                         "pass --nproc_per_node no larger than its number of GPUs")
    torch.cuda.set_device(world.local_rank)
    return torch.device("cuda", world.local_rank)


@contextmanager
def joined(world: World, device: torch.device) -> Iterator[None]:
    """The process group for the block: NCCL on CUDA, Gloo otherwise, at torchrun's rendezvous (MASTER_ADDR,
    MASTER_PORT). One process needs none; a group the caller started already is used and left open."""
    if world.size == 1 or dist.is_initialized():
        yield
        return
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=world.rank, world_size=world.size)
    try:
        yield
    finally:
        dist.destroy_process_group()


def sum_over_processes(t: torch.Tensor, world: World) -> torch.Tensor:
    """`t` summed over every process, in place (every process must call it, in the same order)."""
    if world.size > 1:
        dist.all_reduce(t)
    return t
