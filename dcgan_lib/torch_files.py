"""Files on disk: written atomically (torch files and any other), torch files read only with `weights_only=True`,
failures (a corrupt file, a full disk, Ctrl-C mid-write) explained in one line."""

from __future__ import annotations

import errno
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import torch

from .errors import CheckpointError, DCGANError


def atomic_save(obj: Any, path: str | Path) -> Path:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves half a file, and a full
    disk or Ctrl-C during the write leaves the previous file as it was (see `atomic_write`)."""
    need = tensor_bytes(obj)
    return atomic_write(path, lambda f: torch.save(obj, f), need)


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], need: int = 0) -> Path:
    """Call `write(f)` on a temporary file beside `path`, then rename it to `path` (atomic on POSIX and Windows).

    `need`: the bytes the file will take, if known, checked against the free space before anything is written.
    A full disk is a DCGANError that says so; any other OSError names `path`; Ctrl-C stays a KeyboardInterrupt,
    even when torch's zip writer wraps either in its RuntimeError ("unexpected pos"). The temporary file
    is removed in every case (a SIGKILL leaves it: `remove_stale_temporaries` clears it the next time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(path.parent).free
    if need > free:
        raise DCGANError(_no_space(path, need, free))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(e, path, need) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would have
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        cause = _hidden_cause(e)
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        if isinstance(cause, OSError):
            raise _write_error(cause, path, need) from None
        raise
    return path


def tensors(obj: Any) -> Iterator[torch.Tensor]:
    """The tensors in a (nested) dict, list or tuple, such as a checkpoint, in order."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from tensors(v)


def map_tensors(fn: Callable[[torch.Tensor], torch.Tensor], obj: Any) -> Any:
    """A copy of a (nested) dict, list or tuple with `fn` applied to each of its tensors; other values as they are."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: map_tensors(fn, v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(fn, v) for v in obj)
    return obj


def tensor_bytes(obj: Any) -> int:
    """The bytes of the tensors in a (nested) dict, list or tuple: about the size torch.save writes."""
    return sum(t.numel() * t.element_size() for t in tensors(obj))


def remove_stale_temporaries(folder: str | Path) -> list[Path]:
    """Delete the temporary files an `atomic_write` killed mid-write left in `folder` (`.name.XXXXXXXX.tmp`).
    Call it only while no other process writes there (a run holds its folder's lock)."""
    folder = Path(folder)
    stale = [p for p in folder.glob(".*.tmp") if _TMP_NAME.fullmatch(p.name) and p.is_file()] if folder.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


_TMP_NAME = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")  # tempfile.mkstemp(prefix=".name.", suffix=".tmp")


def _hidden_cause(e: BaseException) -> BaseException:
    """The OSError or KeyboardInterrupt behind `e`: torch's zip writer raises a RuntimeError ("unexpected pos")
    while handling the error that stopped the file write, so the real cause is in the exception's context."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, (OSError, KeyboardInterrupt)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return e


def _write_error(e: OSError, path: Path, need: int) -> Exception:
    if e.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return DCGANError(_no_space(path, need, shutil.disk_usage(path.parent).free))
    if e.errno is None:
        return e
    return OSError(e.errno, e.strerror, str(path))  # `path`, not the temporary file (or none): the CLI names it


def _no_space(path: Path, need: int, free: int) -> str:
    needed = f"{need / 2**20:.1f} MB needed, " if need else ""
    return (f"cannot write {path}: no space left on device ({needed}{free / 2**20:.1f} MB free): "
            "free some space or choose another output folder")


def check_new_file(path: str | Path, overwrite: bool) -> None:
    """Refuse to replace an existing file unless asked to, or to promise a file in a folder that cannot be
    written (read-only, no permission, a file in the way); call it before any slow work starts."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise DCGANError(f"{path} already exists: pass --force to replace it, or write elsewhere")
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    # a temporary file where `atomic_write` will make one (or its folders): a read-only or full folder fails
    # now, not after the work; nothing is created for good
    folder = next(p for p in (path.parent.absolute(), *path.parent.absolute().parents) if p.exists())
    try:
        if not folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:
        raise _write_error(e, path, 0) from None
    os.close(fd)
    os.unlink(probe)


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
