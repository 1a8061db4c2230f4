"""Which device a run uses: CUDA, then Apple's MPS, then the CPU, or the one asked for, checked in one line;
and whether a job's memory fits on it, checked before anything is allocated."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import DCGANError


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; or the device named."""
    if name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DCGANError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DCGANError("--device cuda asked for but no CUDA GPU is visible: use --device cpu or auto")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise DCGANError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DCGANError("--device mps asked for but MPS is not available: use --device cpu or auto")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_memory(device: str | torch.device = "cpu") -> int | None:
    """Bytes that can still be allocated on `device`: the free memory of a CUDA GPU; otherwise the system's
    available memory (Linux's MemAvailable, within a container's cgroup limit), or its physical memory where that
    is all the OS says. None where not even that is known."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    known = []
    try:
        meminfo = Path("/proc/meminfo").read_text()
        known += [int(line.split()[1]) * 1024 for line in meminfo.splitlines() if line.startswith("MemAvailable:")]
        limit, used = (Path("/sys/fs/cgroup") / name for name in ("memory.max", "memory.current"))
        if limit.is_file() and used.is_file() and limit.read_text().strip().isdigit():
            known.append(int(limit.read_text()) - int(used.read_text()))
    except (OSError, ValueError):
        pass
    if not known and hasattr(os, "sysconf"):
        try:
            known.append(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(known) if known else None


def check_memory(need: int, device: str | torch.device, what: str, fix: str) -> None:
    """Raise a one-line DCGANError when `what` needs more than the memory available on `device` (`need` bytes,
    an estimate made before allocating anything: without it an oversized job is killed by the OS, or swaps
    for hours)."""
    free = available_memory(device)
    if free is not None and need > free:
        where = "GPU memory" if torch.device(device).type == "cuda" else "memory"
        raise DCGANError(f"{what} needs about {human_bytes(need)} of {where}, and {human_bytes(free)} is available: {fix}")


def human_bytes(n: int) -> str:
    """1,234 MB or 12.3 GB."""
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"
