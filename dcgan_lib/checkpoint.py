"""Checkpoints: the one module that writes and reads them. Written atomically, read with `weights_only=True`,
checked before use.

A training run's checkpoint (`run_checkpoint`) is a plain dict of tensors, numbers and strings, so the safe
unpickler reads it: `format`, `version`, `arch` (image_size, channels, nz, width, variant), `config`, `G`, `D`,
`opt_G`, `opt_D`, `step`, `epoch`, `rng`, `fixed_z`, `history`, `elapsed_s` and `meta`. An exported one
(`without_optimisers`) leaves out the optimisers. `load` also reads the PyTorch DCGAN tutorial's and
pytorch/examples' `netG.pth` / `netD.pth` (state dicts with `main.N.weight` keys) as a checkpoint holding just
those weights, so every command that takes a checkpoint takes them too.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .architecture import build_variant
from .config import TrainConfig
from .errors import CheckpointError
from .models import Discriminator, Generator
from .torch_files import atomic_save, safe_load

FORMAT = "dcgan_lib.checkpoint/1"
ARCH_KEYS = ("image_size", "channels", "nz", "width", "variant")
ARCH_DEFAULTS = {"variant": "dcgan"}  # checkpoints written before a key existed
REQUIRED_KEYS = ("arch", "config", "G")  # what sampling, evaluating and resuming all read (D: see build_discriminator)
TUTORIAL = "the PyTorch DCGAN tutorial's state dict"  # meta["source"] of a loaded netG.pth / netD.pth


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


# ------------------------------------------------------------------------------------------------ reading


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely: a dcgan_lib checkpoint (a file, a run folder or a shipped name such as
    'faces32'), or the tutorial's netG.pth / netD.pth. A missing, corrupt or foreign file gets a CheckpointError."""
    path = resolve(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        names = ", ".join(shipped()) or "none found"
        raise CheckpointError(f"no checkpoint at {path}: train one with `dcgan train`, check the path, or use a shipped name ({names})")
    ckpt = safe_load(path, "delete it or use another", map_location)
    if isinstance(ckpt, dict) and ckpt.get("format") != FORMAT and "main.0.weight" in _strip_prefix(ckpt):
        return from_tutorial(ckpt, path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dcgan_lib checkpoint, nor a DCGAN state dict with main.N.weight keys")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing or not isinstance(ckpt["arch"], dict) or any(k not in ckpt["arch"] for k in ARCH_KEYS if k not in ARCH_DEFAULTS):
        what = ", ".join(missing) if missing else "its architecture (arch)"
        raise CheckpointError(f"{path} is an incomplete dcgan_lib checkpoint (missing {what}): re-export it or retrain")
    return ckpt


def from_tutorial(state: dict[str, torch.Tensor], path: str | Path = "netG.pth") -> dict[str, Any]:
    """A checkpoint dict around the tutorial's netG.pth or netD.pth state dict: its `arch` read from the weights'
    shapes, its `G` (or `D`) the state dict, no config. A generator is told apart by the BatchNorm after its
    first layer (`main.1.weight`); the discriminator's first layer is followed by a LeakyReLU."""
    state = _strip_prefix(state)
    convs = sorted((k for k, v in state.items() if k.endswith(".weight") and v.dim() == 4), key=_index)
    is_generator = "main.1.weight" in state
    try:
        first, last = state[convs[0]], state[convs[-1]]
        if is_generator:  # ConvTranspose2d weights are (in, out, 4, 4)
            arch = {"image_size": 2 ** (len(convs) + 1), "channels": last.shape[1], "nz": first.shape[0],
                    "width": last.shape[0], "variant": "dcgan"}
        else:  # Conv2d weights are (out, in, 4, 4)
            arch = {"image_size": 2 ** (len(convs) + 1), "channels": first.shape[1], "nz": None,
                    "width": first.shape[0], "variant": "dcgan"}
        model = Generator(arch["image_size"], arch["channels"], arch["nz"], arch["width"]) if is_generator else \
            Discriminator(arch["image_size"], arch["channels"], arch["width"])
        model.load_state_dict(state)  # the shapes and keys must be exactly a DCGAN's
    except (IndexError, KeyError, RuntimeError, ValueError) as e:
        kind = "generator" if is_generator else "discriminator"
        raise CheckpointError(f"{path} is not a DCGAN {kind} state dict (main.N.weight keys expected): {_first_line(e)}") from None
    return {"format": FORMAT, "arch": arch, "config": {}, "G" if is_generator else "D": state,
            "meta": {"source": TUTORIAL, "file": str(path)}}


def _strip_prefix(state: dict) -> dict:
    # nn.DataParallel saves keys as module.main.N...; accept both
    return {k.removeprefix("module."): v for k, v in state.items()} if all(isinstance(k, str) for k in state) else state


def _index(key: str) -> int:
    return int(key.split(".")[1])


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


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
        G = build_variant(a["variant"], a["image_size"], a["channels"], a["nz"], a["width"])[0]
    elif "G" not in ckpt:  # a tutorial's netD.pth: no G, and its nz is not in its weights
        raise CheckpointError("the checkpoint holds no G weights: use one written by `dcgan train` or `dcgan export`, or a netG.pth")
    else:
        G = Generator(a["image_size"], a["channels"], a["nz"], a["width"])
    load_weights(G, ckpt, "G")
    return G.to(device).eval()


def build_discriminator(ckpt: dict[str, Any], device: str | torch.device = "cpu") -> Discriminator:
    """The discriminator stored in a checkpoint, in eval mode on `device`."""
    a = ckpt["arch"]
    if _arch(ckpt, "variant") != "dcgan":
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


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Shortcut: the generator of the checkpoint at `path` (a file, a run folder, a shipped name or a netG.pth)."""
    return build_generator(load(path), device)


def load_discriminator(path: str | Path, device: str | torch.device = "cpu") -> Discriminator:
    """Shortcut: the discriminator of the checkpoint at `path` (a file, a run folder, a shipped name or a netD.pth)."""
    return build_discriminator(load(path), device)


# ------------------------------------------------------------------------------------------ a training run


def run_checkpoint(cfg: TrainConfig, G: Generator, D: Discriminator, opt_G: torch.optim.Optimizer,
                   opt_D: torch.optim.Optimizer, noise: torch.Generator, fixed_z: torch.Tensor, step: int, epoch: int,
                   history: list[dict[str, float]], elapsed_s: float, meta: dict[str, Any]) -> dict[str, Any]:
    """Everything that lets `train(cfg, resume=True)` continue a run exactly: both networks, both optimisers,
    the noise generator's state, the counters and the history."""
    return {
        "format": FORMAT,
        "version": __version__,
        "arch": arch_of(G),
        "config": asdict(cfg),
        "G": G.state_dict(), "D": D.state_dict(),
        "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
        "step": step, "epoch": epoch,
        "rng": {"noise": noise.get_state()},
        "fixed_z": fixed_z.cpu(),
        "history": history,
        "elapsed_s": elapsed_s,
        "meta": meta,
    }


def write_run(out: Path, ckpt: dict[str, Any]) -> Path:
    """`out/checkpoint.pt` (atomically) and `out/history.json` beside it."""
    path = atomic_save(ckpt, out / "checkpoint.pt")
    (out / "history.json").write_text(json.dumps(ckpt["history"]))
    return path


def check_resumable(ckpt: dict[str, Any], cfg: TrainConfig, path: str | Path) -> None:
    """Raise a one-line error unless `cfg` continues the run in `ckpt`: the architecture and the data must
    match; a run in progress keeps its optimiser settings and losses; only the number of epochs may grow."""
    if ckpt.get("meta", {}).get("source") == TUTORIAL:
        raise CheckpointError(f"{path} holds weights only, no run to continue: start a new run from it with --init-from")
    check_arch(ckpt, {"image_size": cfg.image_size, "nz": cfg.nz, "width": cfg.width, "variant": cfg.variant}, path)
    saved = TrainConfig.from_dict(ckpt["config"])
    for k in ("dataset", "n_images", "batch_size", "seed"):
        if getattr(saved, k) != getattr(cfg, k):
            raise CheckpointError(f"{path} was trained with {k}={getattr(saved, k)!r}, this run asks for {getattr(cfg, k)!r}: resume with the same settings")
    if "opt_G" in ckpt:  # a run in progress: Adam's saved state holds its rates, and the losses must stay the same
        for k in ("lr", "lr_D", "beta1", "beta2", "r1", "feature_matching"):
            if getattr(saved, k) != getattr(cfg, k):
                raise CheckpointError(
                    f"{path} was trained with {k}={getattr(saved, k)!r}, this run asks for {getattr(cfg, k)!r}: --resume continues "
                    "a run exactly, so resume with the same settings, or start a new run from its weights with --init-from")
    if ckpt["epoch"] >= cfg.epochs:  # the loop would not run a single step
        raise CheckpointError(f"{path} has already trained {ckpt['epoch']} epoch{'s' * (ckpt['epoch'] != 1)} (asked for {cfg.epochs}): "
                              "nothing to do; pass a larger --epochs")


def restore_run(ckpt: dict[str, Any], G: Generator, D: Discriminator, opt_G: torch.optim.Optimizer,
                opt_D: torch.optim.Optimizer, noise: torch.Generator, path: str | Path) -> tuple[int, list[dict[str, float]], float]:
    """Put a checkpoint's run back into fresh models, optimisers and noise generator; returns (step, history, elapsed_s)."""
    load_weights(G, ckpt, "G"), load_weights(D, ckpt, "D")
    if "opt_G" in ckpt:  # exported checkpoints carry no optimiser state: Adam then starts afresh
        opt_G.load_state_dict(ckpt["opt_G"]), opt_D.load_state_dict(ckpt["opt_D"])
    try:
        noise.set_state(ckpt["rng"]["noise"])
    except RuntimeError:  # a CUDA generator's state is 16 bytes, a CPU one's 5056
        raise CheckpointError(f"{path} was trained on another device type than {noise.device.type}: resume it on that device, "
                              "or start a new run from its weights with --init-from") from None
    return ckpt["step"], list(ckpt["history"]), ckpt["elapsed_s"]


def without_optimisers(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint without its optimiser states (a third of the size): enough to sample, evaluate and probe;
    continuing its training starts fresh Adam moments."""
    return {k: v for k, v in ckpt.items() if k not in ("opt_G", "opt_D")}
