"""Torch files on disk: written atomically, read only with `weights_only=True`, failures explained in one line."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError, DCGANError


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would have
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_new_file(path: str | Path, overwrite: bool) -> None:
    """Refuse to replace an existing file unless asked to; call it before any slow work starts."""
    if Path(path).exists() and not overwrite:
        raise DCGANError(f"{path} already exists: pass --force to replace it, or write elsewhere")


def _umask() -> int:
    mask = os.umask(0)  # the only way to read the umask is to set it
    os.umask(mask)
    return mask


def safe_load(path: str | Path, fix: str, map_location: str | torch.device = "cpu") -> Any:
    """torch.load with `weights_only=True` (no pickled code runs); a failure is a CheckpointError that says
    why in a few words and ends with `fix`, what the user should do."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, random bytes, pickled code: all "unreadable"
        raise CheckpointError(f"{path} is corrupt or not a safe PyTorch file ({_reason(e)}): {fix}") from None


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
