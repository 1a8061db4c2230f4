"""Checkpoints: the one module that writes and reads them. Written atomically, read with `weights_only=True`,
checked before use.

A training run's checkpoint (`run_checkpoint`) is a plain dict of tensors, numbers and strings, so the safe
unpickler reads it: `format`, `version`, `arch` (image_size, channels, nz, width, variant), `config`, `G`, `D`,
`opt_G`, `opt_D`, `step`, `epoch`, `rng`, `fixed_z`, `history`, `elapsed_s` and `meta`. An exported one
(`without_optimisers`) leaves out the optimisers. `load` also reads the PyTorch DCGAN tutorial's and
pytorch/examples' `netG.pth` / `netD.pth` (state dicts with `main.N.weight` keys) as a checkpoint holding just
those weights, so every command that takes a checkpoint takes them too. `train` writes its checkpoints through a
`CheckpointWriter`, in a background thread, so the training steps do not wait for the disk.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .architecture import build_variant
from .config import TrainConfig
from .data import reads_data_root
from .errors import CheckpointError, DCGANError
from .models import Discriminator, Generator
from .torch_files import atomic_save, atomic_write, map_tensors, safe_load, tensors

try:
    import fcntl
except ImportError:  # Windows: msvcrt's byte-range lock instead
    fcntl = None
    import msvcrt

FORMAT = "dcgan_lib.checkpoint/1"
ARCH_KEYS = ("image_size", "channels", "nz", "width", "variant")
ARCH_DEFAULTS = {"variant": "dcgan"}  # checkpoints written before a key existed
REQUIRED_KEYS = ("arch", "config", "G")  # what sampling, evaluating and resuming all read (D: see build_discriminator)
# what continuing or describing a run reads besides (check_run); config keys every run has recorded since the first
RUN_KEYS = {"step": int, "epoch": int, "history": list, "elapsed_s": (int, float), "rng": dict}
RUN_CONFIG_KEYS = ("dataset", "image_size", "n_images", "nz", "width", "batch_size", "lr", "beta1", "beta2", "seed", "epochs")
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
    'faces32'), or the tutorial's netG.pth / netD.pth. A missing, corrupt, foreign, incomplete or diverged
    (NaN/inf) file gets a one-line CheckpointError."""
    path = resolve(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        names = ", ".join(shipped()) or "none found"
        raise CheckpointError(f"no checkpoint at {path}: train one with `dcgan train`, check the path, or use a shipped name ({names})")
    ckpt = safe_load(path, "delete it or use another", map_location)
    if isinstance(ckpt, dict) and ckpt.get("format") != FORMAT and "main.0.weight" in _strip_prefix(ckpt):
        ckpt = from_tutorial(ckpt, path)
    elif not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dcgan_lib checkpoint, nor a DCGAN state dict with main.N.weight keys")
    else:
        missing = [k for k in REQUIRED_KEYS if k not in ckpt]
        if missing or not isinstance(ckpt["arch"], dict) or any(k not in ckpt["arch"] for k in ARCH_KEYS if k not in ARCH_DEFAULTS):
            what = ", ".join(missing) if missing else "its architecture (arch)"
            raise CheckpointError(f"{path} is an incomplete dcgan_lib checkpoint (missing {what}): re-export it or retrain")
        wrong = _malformed(ckpt)
        if wrong:
            raise CheckpointError(f"{path} is a damaged or hand-edited dcgan_lib checkpoint ({', '.join(wrong)} of the wrong "
                                  "type): use an earlier checkpoint, re-export it or retrain")
    bad = nonfinite(ckpt)
    if bad:
        raise CheckpointError(f"{path} has NaN/inf values ({', '.join(bad)}): it diverged; use an earlier checkpoint or retrain")
    return ckpt


def _malformed(ckpt: dict[str, Any]) -> list[str]:
    """Entries a reader would trip over: arch numbers that are not integers, weights that are not a dict of
    tensors, config values of another type than TrainConfig's."""
    wrong = [f"arch.{k}" for k in ("image_size", "channels", "width") if not _is_int(ckpt["arch"].get(k))]
    if not (_is_int(ckpt["arch"].get("nz")) or ("G" not in ckpt and ckpt["arch"].get("nz") is None)):
        wrong.append("arch.nz")
    wrong += [k for k in ("G", "D") if k in ckpt and not (isinstance(ckpt[k], dict) and all(torch.is_tensor(v) for v in ckpt[k].values()))]
    if not isinstance(ckpt["config"], dict):
        return wrong + ["config"]
    return wrong + [f"config.{k}" for k, types in _CONFIG_TYPES.items() if k in ckpt["config"] and not isinstance(ckpt["config"][k], types)]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _types(annotation: str) -> tuple[type, ...]:
    # TrainConfig's annotations are strings ("float | None"): int is also a float, and None an optional's value
    names = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),)}
    return tuple(t for part in annotation.split("|") for t in names[part.strip()])


_CONFIG_TYPES = {f.name: _types(str(f.type)) for f in fields(TrainConfig)}


def nonfinite(ckpt: dict[str, Any]) -> list[str]:
    """What in a checkpoint (or a `run_checkpoint` dict still on the training device) holds a NaN or an inf:
    e.g. ["G's weights", "D's BatchNorm statistics", "D's Adam state"]; [] when everything is finite.
    One isfinite().all() per tensor, stacked and read back once per device: a GPU run syncs once per save."""
    groups: dict[str, list[torch.Tensor]] = {}
    for net in ("G", "D"):
        for k, v in (ckpt.get(net) or {}).items():
            if torch.is_tensor(v) and v.is_floating_point():
                stats = k.endswith(("running_mean", "running_var"))
                groups.setdefault(f"{net}'s {'BatchNorm statistics' if stats else 'weights'}", []).append(v)
        opt = ckpt.get(f"opt_{net}")
        if isinstance(opt, dict):
            groups[f"{net}'s Adam state"] = [v for v in tensors(opt.get("state")) if v.is_floating_point()]
    flags: dict[torch.device, list[tuple[str, torch.Tensor]]] = {}
    for what, group in groups.items():
        for t in group:
            flags.setdefault(t.device, []).append((what, t.isfinite().all()))
    bad = set()
    for pairs in flags.values():
        finite = torch.stack([f for _, f in pairs]).tolist()  # the one read-back for this device
        bad |= {what for (what, _), ok in zip(pairs, finite) if not ok}
    return [what for what in groups if what in bad]


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
    """`out/checkpoint.pt` and `out/history.json` beside it, each written atomically. The caller checks that
    the weights are finite first (`nonfinite`): `train` does at every save."""
    path = atomic_save(ckpt, out / "checkpoint.pt")
    atomic_write(out / "history.json", lambda f: f.write(json.dumps(ckpt["history"]).encode()))
    return path


def host_copy(obj: Any) -> Any:
    """A copy of a (nested) dict, list or tuple whose tensors are copied into host memory: a snapshot that
    later training steps, which update the weights in place, cannot change."""
    return map_tensors(lambda t: t.detach().to("cpu", copy=True), obj)


class CheckpointWriter:
    """Writes a run's checkpoints (`write_run`) in a background thread, so the training steps go on while the
    file is written and fsynced: the step only waits for a copy of the weights in host memory.

    One write at a time: `submit` first waits for the previous one. A write's error (a full disk, say) is raised
    by the next `submit` or `wait`; `written` is the step of the last checkpoint that reached the disk."""

    def __init__(self, out: Path, written: int | None = None) -> None:
        self.out = out
        self.written = written  # e.g. the step of the checkpoint a run resumed from
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, ckpt: dict[str, Any]) -> None:
        """Start writing a snapshot of `ckpt` (its tensors copied now; the caller may go on training)."""
        self.wait()
        snapshot = host_copy(ckpt)
        self._thread = threading.Thread(target=self._write, args=(snapshot,), name="dcgan-checkpoint", daemon=True)
        self._thread.start()

    def _write(self, ckpt: dict[str, Any]) -> None:
        try:
            write_run(self.out, ckpt)
            self.written = ckpt["step"]
        except BaseException as e:  # noqa: BLE001 - handed to the training thread, which reports it
            self._error = e

    def wait(self) -> None:
        """Block until the write in flight (if any) is on disk; raise its error if it failed."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def close(self) -> None:
        """`wait`, keeping quiet about a failed write: for the way out of a run that is already failing (that
        failure is the one to report; the previous checkpoint on disk is intact, `atomic_save`)."""
        try:
            self.wait()
        except BaseException:  # noqa: BLE001
            pass


def check_run(ckpt: dict[str, Any], path: str | Path, fix: str, needs: tuple[str, ...] = tuple(RUN_KEYS)) -> None:
    """Raise a one-line CheckpointError unless `ckpt` holds what a reader of a run needs: the entries `needs`
    (by default all of RUN_KEYS: counters, history, the noise generator's state), the config's settings, and
    both optimisers or neither. A hand-edited or damaged file fails here, not deep inside the reader. `fix`
    ends the message."""
    missing = [k for k in needs if not isinstance(ckpt.get(k), RUN_KEYS[k]) or isinstance(ckpt.get(k), bool)]
    if "rng" in needs and isinstance(ckpt.get("rng"), dict) and not (
            torch.is_tensor(ckpt["rng"].get("noise")) and ckpt["rng"]["noise"].dtype == torch.uint8):
        missing.append("rng.noise")
    missing += [f"config.{k}" for k in RUN_CONFIG_KEYS if k not in ckpt["config"]]
    if ("opt_G" in ckpt) != ("opt_D" in ckpt):
        missing.append("opt_D" if "opt_G" in ckpt else "opt_G")
    missing += [k for k in ("opt_G", "opt_D") if k in ckpt and not (isinstance(ckpt[k], dict) and {"state", "param_groups"} <= set(ckpt[k]))]
    missing += [k for k in ("D",) if k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is missing parts of its run or has them damaged ({', '.join(missing)}): {fix}")


def saved_step(path: str | Path) -> int | None:
    """The step of the run checkpoint at `path`, None if it cannot be read: a quick look (its tensors are
    memory-mapped, not read), e.g. to say what Ctrl-C left."""
    try:
        step = torch.load(path, map_location="cpu", weights_only=True, mmap=True).get("step")
    except Exception:  # noqa: BLE001 - missing, truncated, foreign: no step to report
        return None
    return step if isinstance(step, int) else None


def check_resumable(ckpt: dict[str, Any], cfg: TrainConfig, path: str | Path) -> None:
    """Raise a one-line error unless `cfg` continues the run in `ckpt`: the architecture and the data must
    match; a run in progress keeps its optimiser settings and losses; only the number of epochs may grow.
    A dataset read from another --data-root is allowed with a warning (a dataset may move: copied to a local
    disk, say); `check_same_data` then compares the number of images."""
    if ckpt.get("meta", {}).get("source") == TUTORIAL:
        raise CheckpointError(f"{path} holds weights only, no run to continue: start a new run from it with --init-from")
    check_run(ckpt, path, "use an earlier checkpoint, or start a new run from its weights with --init-from")
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
    if reads_data_root(cfg.dataset) and Path(saved.data_root) != Path(cfg.data_root):
        what = "the image folder" if cfg.dataset == "folder" else f"{cfg.dataset} from --data-root"
        warnings.warn(f"{path} was trained on {what} {saved.data_root}; this run reads {cfg.data_root}, taken to hold "
                      "the same images (their number is checked)", stacklevel=3)


def check_same_data(ckpt: dict[str, Any], n_images: int, cfg: TrainConfig, path: str | Path) -> None:
    """Refuse to resume on a dataset of another size than the run's (recorded in meta.dataset_size): the data
    order and the epochs would no longer be the run's."""
    saved = ckpt.get("meta", {}).get("dataset_size")
    if isinstance(saved, int) and saved != n_images:
        raise CheckpointError(f"{path} was trained on {saved} images of {cfg.dataset}; this run reads {n_images}"
                              f"{f' from {cfg.data_root}' if reads_data_root(cfg.dataset) else ''}: resume with the same data, "
                              "or start a new run from its weights with --init-from")


def restore_run(ckpt: dict[str, Any], G: Generator, D: Discriminator, opt_G: torch.optim.Optimizer,
                opt_D: torch.optim.Optimizer, noise: torch.Generator, path: str | Path) -> tuple[int, list[dict[str, float]], float]:
    """Put a checkpoint's run back into fresh models, optimisers and noise generator; returns (step, history, elapsed_s).
    Call `check_resumable` first (it checks that every part is there)."""
    load_weights(G, ckpt, "G"), load_weights(D, ckpt, "D")
    if "opt_G" in ckpt:  # exported checkpoints carry no optimiser state: Adam then starts afresh
        for net, opt in (("G", opt_G), ("D", opt_D)):
            _load_optimiser(opt, ckpt[f"opt_{net}"], f"{path}'s opt_{net}")
    try:
        noise.set_state(ckpt["rng"]["noise"])
    except RuntimeError:  # a CUDA generator's state is 16 bytes, a CPU one's 5056
        raise CheckpointError(f"{path} was trained on another device type than {noise.device.type}: resume it on that device, "
                              "or start a new run from its weights with --init-from") from None
    return ckpt["step"], list(ckpt["history"]), float(ckpt["elapsed_s"])


def _load_optimiser(opt: torch.optim.Optimizer, state: dict[str, Any], what: str) -> None:
    """Adam's load_state_dict checks the number of parameters, not their shapes: a wrong shape would fail only
    at the next step, in a traceback."""
    try:
        opt.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise CheckpointError(f"{what} does not fit the network ({_first_line(e)[:120]}): use an earlier checkpoint, "
                              "or start a new run from its weights with --init-from") from None
    for group in opt.param_groups:
        for p in group["params"]:
            for k, v in opt.state.get(p, {}).items():
                if k != "step" and torch.is_tensor(v) and v.shape != p.shape:
                    raise CheckpointError(f"{what} holds {k} of shape {tuple(v.shape)} for a parameter of shape {tuple(p.shape)}: "
                                          "use an earlier checkpoint, or start a new run from its weights with --init-from")


# ------------------------------------------------------------------------------------------ the run folder's lock


@contextmanager
def locked_run_folder(out: str | Path) -> Iterator[Path]:
    """Hold `out/.lock` (holding this process's id) while a run writes to `out`: a second run on the same folder
    gets a one-line DCGANError naming the first one's pid. It is an OS lock (flock; msvcrt on Windows), so it
    vanishes with its process: a killed run never leaves a stale lock. Folders this call created are removed
    again if the run wrote nothing into them."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DCGANError(f"--out {out} is a file, not a folder: choose another --out")
    created = [p for p in (out, *out.parents) if not p.exists()]  # deepest first
    out.mkdir(parents=True, exist_ok=True)
    lock = out / ".lock"
    try:
        fd = _lock(lock, out)
        try:
            yield out
        finally:
            if fcntl is not None:
                lock.unlink(missing_ok=True)  # while still held: a run waiting on it sees the file change and retries
            os.close(fd)  # releases the lock
    finally:
        for folder in created:
            try:
                folder.rmdir()  # only if empty
            except OSError:
                break


def _lock(lock: Path, out: Path) -> int:
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                os.lseek(fd, 64, os.SEEK_SET)  # lock a byte past the pid, which the refused run reads
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            os.lseek(fd, 0, os.SEEK_SET)
            pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise DCGANError(f"{out} is in use by another run (pid {pid}): wait for it, or choose another --out") from None
        try:
            same = fcntl is None or os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:  # its holder finished and removed it between our open and our lock
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, f"{os.getpid()}\n".ljust(32).encode())  # padded over a previous holder's pid (no truncation under a lock)
    except OSError as e:  # a full disk, say: leave nothing behind
        lock.unlink(missing_ok=True)
        os.close(fd)
        raise OSError(e.errno, e.strerror, str(lock)) from None
    return fd


def without_optimisers(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint without its optimiser states (a third of the size): enough to sample, evaluate and probe;
    continuing its training starts fresh Adam moments."""
    return {k: v for k, v in ckpt.items() if k not in ("opt_G", "opt_D")}
