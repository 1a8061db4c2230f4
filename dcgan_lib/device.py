"""Which device a run uses: CUDA, then Apple's MPS, then the CPU, or the one asked for, checked in one line."""

from __future__ import annotations

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
