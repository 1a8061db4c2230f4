"""Checkpoints: written atomically, read with `weights_only=True`, checked before use.

A checkpoint is a plain dict of tensors, numbers and strings (so the safe unpickler reads it):
`format`, `version`, `arch` (image_size, channels, nz, width), `config`, `G`, `D`, `opt_G`, `opt_D`,
`step`, `epoch`, `rng`, `fixed_z`, `history`, `elapsed_s`, and optional `meta`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .models import Discriminator, Generator
from .torch_files import atomic_save, safe_load

FORMAT = "dcgan_lib.checkpoint/1"
ARCH_KEYS = ("image_size", "channels", "nz", "width", "variant")
ARCH_DEFAULTS = {"variant": "dcgan"}  # checkpoints written before a key existed
REQUIRED_KEYS = ("arch", "config", "G")  # what sampling, evaluating and resuming all read (D: see build_discriminator)


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
    ckpt = safe_load(path, "delete it or use another", map_location)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        hint = " (for the PyTorch tutorial's netG.pth use models.load_tutorial_generator)" if isinstance(ckpt, dict) else ""
        raise CheckpointError(f"{path} is not a dcgan_lib checkpoint{hint}")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing or not isinstance(ckpt["arch"], dict) or any(k not in ckpt["arch"] for k in ARCH_KEYS if k not in ARCH_DEFAULTS):
        what = ", ".join(missing) if missing else "its architecture (arch)"
        raise CheckpointError(f"{path} is an incomplete dcgan_lib checkpoint (missing {what}): re-export it or retrain")
    return ckpt


def arch_of(model: Generator | Discriminator, nz: int | None = None) -> dict[str, Any]:
    """The numbers (and the architecture variant) that fix a model's shapes."""
    return {"image_size": model.image_size, "channels": model.channels, "nz": getattr(model, "nz", nz), "width": model.width,
            "variant": getattr(model, "variant", "dcgan")}


def _arch(ckpt: dict[str, Any], key: str) -> Any:
    return ckpt["arch"].get(key, ARCH_DEFAULTS.get(key))


def check_arch(ckpt: dict[str, Any], expected: dict[str, int], path: str | Path = "checkpoint") -> None:
    """Raise a CheckpointError naming every mismatch between a checkpoint's architecture and `expected`."""
    diffs = [f"{k} {_arch(ckpt, k)} (run asks for {expected[k]})" for k in ARCH_KEYS if k in expected and _arch(ckpt, k) != expected[k]]
    if diffs:
        raise CheckpointError(
            f"{path} was trained with {', '.join(diffs)}: use the checkpoint's settings or a new --out folder"
        )


def build_generator(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Generator:
    """The generator stored in a checkpoint, in eval mode on `device`."""
    a = ckpt["arch"]
    if _arch(ckpt, "variant") != "dcgan":
        from .architecture import build_variant

        G = build_variant(a["variant"], a["image_size"], a["channels"], a["nz"], a["width"])[0]
    else:
        G = Generator(a["image_size"], a["channels"], a["nz"], a["width"])
    load_weights(G, ckpt, "G")
    return G.to(device).eval()


def build_discriminator(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator stored in a checkpoint, in eval mode on `device`."""
    a = ckpt["arch"]
    if _arch(ckpt, "variant") != "dcgan":
        from .architecture import build_variant

        D = build_variant(a["variant"], a["image_size"], a["channels"], a["nz"], a["width"])[1]
    else:
        D = Discriminator(a["image_size"], a["channels"], a["width"])
    load_weights(D, ckpt, "D")
    return D.to(device).eval()


def load_weights(model: torch.nn.Module, ckpt: dict[str, Any], which: str) -> None:
    """Load `ckpt[which]` ('G' or 'D') into `model`; a missing entry or weights that do not fit the recorded
    architecture get a one-line CheckpointError."""
    if which not in ckpt:
        raise CheckpointError(f"the checkpoint holds no {which} weights: use one written by `dcgan train` or `dcgan export`")
    try:
        model.load_state_dict(ckpt[which])
    except RuntimeError as e:  # size mismatch or missing/unexpected keys: a hand-edited or foreign file
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e))[:160]
        arch = ", ".join(f"{k} {_arch(ckpt, k)}" for k in ARCH_KEYS)
        raise CheckpointError(f"the checkpoint's {which} weights do not match its recorded architecture ({arch}; {first}): "
                              "re-export it or retrain") from None


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
