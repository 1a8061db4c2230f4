"""Checkpoints: written atomically, read with `weights_only=True`, checked before use.

A checkpoint is a plain dict of tensors, numbers and strings (so the safe unpickler reads it):
`format`, `version`, `arch` (image_size, channels, nz, width), `config`, `G`, `D`, `opt_G`, `opt_D`,
`step`, `epoch`, `rng`, `fixed_z`, `history`, `elapsed_s`, and optional `meta`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .models import Discriminator, Generator

FORMAT = "dcgan_lib.checkpoint/1"
ARCH_KEYS = ("image_size", "channels", "nz", "width")


def atomic_save(obj: Any, path: str | Path) -> Path:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def shipped_dir() -> Path:
    """The repository's `data/checkpoints/`, where the course's trained checkpoints live."""
    return Path(__file__).resolve().parents[1] / "data" / "checkpoints"


def shipped() -> list[str]:
    """Names of the shipped checkpoints, e.g. ['digits32', 'faces32', 'faces64']."""
    return sorted(p.stem for p in shipped_dir().glob("*.pt"))


def resolve(path_or_name: str | Path) -> Path:
    """A path as given, or the shipped checkpoint of that name ('faces32' -> data/checkpoints/faces32.pt)."""
    path = Path(path_or_name)
    if not path.exists() and path.suffix == "" and len(path.parts) == 1 and (shipped_dir() / f"{path}.pt").exists():
        return shipped_dir() / f"{path}.pt"
    return path


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a dcgan_lib checkpoint safely (a file, a run folder or a shipped name such as 'faces32');
    a missing, corrupt or foreign file gets a CheckpointError."""
    path = resolve(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        names = ", ".join(shipped()) or "none found"
        raise CheckpointError(f"no checkpoint at {path}: train one with `dcgan train`, check the path, or use a shipped name ({names})")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, random bytes, pickled code: all "unreadable"
        raise CheckpointError(f"{path} is corrupt or not a safe PyTorch checkpoint ({_reason(e)}): delete it or use another") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        hint = " (for the PyTorch tutorial's netG.pth use models.load_tutorial_generator)" if isinstance(ckpt, dict) else ""
        raise CheckpointError(f"{path} is not a dcgan_lib checkpoint{hint}")
    return ckpt


def _reason(e: BaseException) -> str:
    """A short reason from torch.load's long error text."""
    text = str(e)
    if "Unsupported global" in text:
        return "it holds pickled Python objects, which weights_only=True refuses"
    if "Unsupported operand" in text or "invalid load key" in text:
        return "not a torch.save file"
    if "zip archive" in text or "central directory" in text or "magic number" in text or isinstance(e, EOFError):
        return "truncated or not a torch.save file"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else type(e).__name__)[:120]


def arch_of(model: Generator | Discriminator, nz: int | None = None) -> dict[str, int]:
    """The numbers that fix a model's shapes."""
    return {"image_size": model.image_size, "channels": model.channels, "nz": getattr(model, "nz", nz), "width": model.width}


def check_arch(ckpt: dict[str, Any], expected: dict[str, int], path: str | Path = "checkpoint") -> None:
    """Raise a CheckpointError naming every mismatch between a checkpoint's architecture and `expected`."""
    diffs = [f"{k} {ckpt['arch'][k]} (run asks for {expected[k]})" for k in ARCH_KEYS if k in expected and ckpt["arch"][k] != expected[k]]
    if diffs:
        raise CheckpointError(
            f"{path} was trained with {', '.join(diffs)}: use the checkpoint's settings or a new --out folder"
        )


def build_generator(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Generator:
    """The generator stored in a checkpoint, in eval mode on `device`."""
    a = ckpt["arch"]
    G = Generator(a["image_size"], a["channels"], a["nz"], a["width"])
    G.load_state_dict(ckpt["G"])
    return G.to(device).eval()


def build_discriminator(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator stored in a checkpoint, in eval mode on `device`."""
    a = ckpt["arch"]
    D = Discriminator(a["image_size"], a["channels"], a["width"])
    D.load_state_dict(ckpt["D"])
    return D.to(device).eval()


def export(src: str | Path, dst: str | Path) -> Path:
    """Copy a checkpoint without its optimiser states (a third of the size): enough to sample, evaluate and probe;
    continuing its training starts fresh Adam moments."""
    ckpt = load(src)
    ckpt = {k: v for k, v in ckpt.items() if k not in ("opt_G", "opt_D")}
    return atomic_save(ckpt, dst)


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Shortcut: the generator of the checkpoint at `path` (a file or a run folder)."""
    return build_generator(load(path), device)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> Discriminator:
    """Shortcut: the discriminator of the checkpoint at `path` (a file or a run folder)."""
    return build_discriminator(load(path), device)
