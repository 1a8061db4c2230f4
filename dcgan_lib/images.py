"""What an image is in this course: a square whose side is a power of two from 16 to 128, uint8 (0..255) in
memory and on disk, float in [-1, 1] (the range of G's tanh) inside the models."""

from __future__ import annotations

import numbers

import torch

from .errors import ImageSizeError

# G doubles a 4x4 map until it reaches the image, and D halves the image down to 4x4: only powers of two fit.
SIZES: tuple[int, ...] = (16, 32, 64, 128)


def check_image_size(size: int) -> int:
    """`size` as an int if the DCGAN models support it (16, 32, 64 or 128), else a one-line ImageSizeError."""
    if isinstance(size, numbers.Integral) and not isinstance(size, bool) and int(size) in SIZES:
        return int(size)
    raise ImageSizeError(f"image size must be a power of two between 16 and 128, got {size!r}")


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images in 0..255 -> float images in [-1, 1], the range of G's tanh; float images are taken to be
    in [-1, 1] already (G's samples) and come back as float, never modified in place."""
    if images.dtype != torch.uint8:
        if not images.is_floating_point():  # int64 0..255 would pass through unscaled
            raise ValueError(f"images are {images.dtype}: pass uint8 (0..255) or float in [-1, 1]")
        return images.float()
    return images.float().div_(127.5).sub_(1.0)  # .float() of uint8 is a copy, so in place is safe


def to_display(images: torch.Tensor) -> torch.Tensor:
    """G's tanh outputs in [-1, 1] -> float images in [0, 1] on the CPU, ready for plotting or saving."""
    return images.detach().float().cpu().add(1.0).div_(2.0).clamp_(0.0, 1.0)
