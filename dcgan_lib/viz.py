"""Pictures: sample grids and animations of the fixed-noise grid over training."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from .data import to_display


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """Images in [-1, 1], (N, C, H, W) -> one displayable float grid in [0, 1], (3, H', W')."""
    return make_grid(to_display(images), nrow=nrow, padding=padding, pad_value=1.0)


def to_pil(images: torch.Tensor, nrow: int = 8, scale: int = 1):
    """Images in [-1, 1] -> a PIL image of their grid, enlarged `scale` times (nearest neighbour)."""
    from PIL import Image

    g = grid(images, nrow)
    array = g.mul(255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 1) -> Path:
    """Save images in [-1, 1] as a grid PNG (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    to_pil(images, nrow, scale).save(path)
    return path


def save_gif(frames: list[Path] | list[torch.Tensor], path: str | Path, duration_ms: int = 400) -> Path:
    """An animated GIF from grid PNG files (or grids in [0, 1]), e.g. the fixed-noise grid per epoch."""
    from PIL import Image

    images = [
        Image.open(f).convert("RGB") if isinstance(f, (str, Path)) else Image.fromarray(f.mul(255).byte().permute(1, 2, 0).numpy())
        for f in frames
    ]
    if not images:
        raise ValueError("save_gif needs at least one frame")
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path
