"""The course's real datasets held in memory (scikit-learn's digits, MNIST, Fashion-MNIST, CIFAR-10), and the
checks every real dataset shares (`streaming` opens the large ones: CelebA, LSUN, image folders).

Every image comes out resized (shorter side to ``image_size``), centre-cropped to a square and as a uint8 tensor
(C, H, W); the caller scales to [-1, 1]. None of this data can be fetched in an offline classroom, so every problem a
user can fix is a one-line :class:`~dcgan_lib.errors.DatasetError` that names the folder or file and says what to do.
"""

from __future__ import annotations

import difflib
import gzip
import os
import pickle
import shutil
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
import torch.nn.functional as F

from .errors import DatasetError
from .images import check_image_size

IN_MEMORY: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10")
STREAMING: tuple[str, ...] = ("celeba", "lsun", "folder")  # opened by `streaming`
OFFLINE_DEFAULT = "`--dataset faces`"

_ALIASES = {
    "fashion-mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist",
    "cifar-10": "cifar10", "cifar": "cifar10", "celeb-a": "celeba", "imagefolder": "folder",
    "image-folder": "folder", "images": "folder",
}  # fmt: skip
_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_ARCHIVE = "cifar-10-python.tar.gz"
_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")


# --------------------------------------------------------------------------------------------------- small helpers


def dataset_error(message: str) -> DatasetError:
    """A DatasetError whose message is guaranteed to be one line (the CLI prints it as is)."""
    return DatasetError(" ".join(str(message).split()))


def short(exc: BaseException, limit: int = 160) -> str:
    """An exception as a short single-line snippet, for embedding in our own messages."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def norm_name(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    return _ALIASES.get(key, key)


def unknown_dataset(name: str) -> DatasetError:
    valid = IN_MEMORY + STREAMING
    close = difflib.get_close_matches(norm_name(name), valid, n=2, cutoff=0.5)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return dataset_error(
        f"unknown dataset {name!r}{hint}: choose one of {', '.join(valid)} "
        f"(or the offline default {OFFLINE_DEFAULT}, which is generated, not loaded)"
    )


def fail(message: str) -> Any:
    raise dataset_error(message)


def check_channels(channels: int | None, native: int) -> int:
    if channels is None:
        return native
    if isinstance(channels, (int, np.integer)) and not isinstance(channels, bool) and int(channels) in (1, 3):
        return int(channels)
    return fail(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")


def root_dir(root: str | Path, contents: str) -> Path:
    """The data root as a Path; an existing *file* there is a mistake worth its own message."""
    if root is None or str(root) == "":
        fail(f"no data folder given: pass --data-root, the folder that contains {contents}")
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        fail(f"{path} is a file, not a folder: pass the folder that contains {contents}")
    return path


def is_html(path: Path) -> bool:
    """True for files that are really web pages (Google Drive quota / login pages saved under the archive's name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def check_not_html(paths: list[Path], fix: str) -> None:
    for path in paths:
        if path.is_file() and is_html(path):
            fail(f"{path} is an HTML page (Google Drive quota? login page?), not the data file: delete it and {fix}")


def missing_files(folder: Path, names: tuple[str, ...] | list[str]) -> list[str]:
    """The names in `names` that are not files in `folder`."""
    return [n for n in names if not (folder / n).is_file()]


def try_download(fetch: Callable[[], Any], label: str, offline_fix: str) -> None:
    """Run torchvision's download (`fetch`); no network becomes one line with the offline ways out."""
    try:
        fetch()
    except (URLError, OSError, RuntimeError) as exc:
        fail(f"could not download {label} (no network?): {short(exc)}: use the offline default {OFFLINE_DEFAULT} "
             f"or {offline_fix} (see docs/datasets.md)")


# ------------------------------------------------------------------------------------------ tensor-side transforms


def _rgb_to_grey(x: torch.Tensor) -> torch.Tensor:
    """uint8 (N,3,H,W) -> (N,1,H,W) with PIL's exact "L" formula (ITU-R 601-2 luma in 16-bit fixed point)."""
    rgb = x.to(torch.int32)
    luma = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
    return luma.to(torch.uint8).unsqueeze(1)


def _resize_crop_batch(x: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N,C,H,W) -> uint8 (N,C,size,size): shorter side to `size` (bilinear), then centre crop.

    Done on whole tensors with interpolate (antialiased when shrinking, like PIL) because per-image PIL calls on
    60 000 MNIST digits take tens of seconds; chunks keep the float copy small.
    """
    n, c, h, w = x.shape
    if h == w == size:
        return x.contiguous()
    scale = size / min(h, w)
    new_h, new_w = max(size, int(h * scale)), max(size, int(w * scale))
    top, left = (new_h - size) // 2, (new_w - size) // 2
    out = torch.empty((n, c, size, size), dtype=torch.uint8)
    chunk = max(1, (1 << 24) // (c * new_h * new_w))  # about 64 MB of float32 at a time
    for i in range(0, n, chunk):
        y = F.interpolate(
            x[i : i + chunk].float(), size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=scale < 1
        )
        out[i : i + chunk] = y[:, :, top : top + size, left : left + size].round_().clamp_(0, 255).to(torch.uint8)
    return out


def _finish_batch(x: torch.Tensor, size: int, channels: int) -> torch.Tensor:
    # Grey conversion before resizing and grey->RGB after it: both ways the resize touches the fewest channels.
    if channels == 1 and x.shape[1] == 3:
        x = _rgb_to_grey(x)
    x = _resize_crop_batch(x, size)
    if channels == 3 and x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    return x


# ----------------------------------------------------------------------------------------------------- in memory


def load_digits(image_size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's bundled 8x8 handwritten digits (1797), upsampled (bilinear) to image_size.

    Returns uint8 (N,1,S,S) scaled to 0..255 (sklearn's are 0..16) and int64 labels (N,); works offline.
    """
    size = check_image_size(image_size)
    from sklearn.datasets import load_digits as _sklearn_digits  # lazy: sklearn is slow to import

    bunch = _sklearn_digits()
    x = torch.from_numpy(bunch.images).float().mul_(255.0 / 16.0).unsqueeze(1)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = x.round_().clamp_(0, 255).to(torch.uint8)
    return images, torch.from_numpy(bunch.target).long()


def holdout_mask(labels: torch.Tensor, seed: int = 0, fraction: float = 0.25) -> torch.Tensor:
    """A stratified held-out set: `fraction` of each class (rounded down), picked at random with `seed`
    -> bool (N,), True for the held-out examples. The same labels and seed give the same mask."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie between 0 and 1, got {fraction}")
    g = torch.Generator().manual_seed(seed)
    held_out = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        held_out[idx[torch.randperm(len(idx), generator=g)[: int(len(idx) * fraction)]]] = True
    return held_out


def load_in_memory(
    name: str,
    root: str | Path,
    image_size: int = 32,
    download: bool = False,
    channels: int | None = None,
    train: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """digits / mnist / fashion-mnist / cifar10 as one uint8 tensor (N,C,S,S) plus int64 labels (N,).

    These fit in memory, so the trainer can batch them on the device. `root` and `train` are ignored for digits.
    """
    key = norm_name(name)
    if key in STREAMING:
        fail(f"{key} is too big to hold in memory: open it with streaming.open_streaming({key!r}, ...) instead")
    if key not in IN_MEMORY:
        raise unknown_dataset(name)
    size = check_image_size(image_size)
    if key == "digits":
        images, labels = load_digits(size)
        return _finish_batch(images, size, check_channels(channels, 1)), labels
    if key in ("mnist", "fashion-mnist"):
        want = check_channels(channels, 1)
        data, labels = _load_mnist(key, root, download, train)
        images = data.unsqueeze(1)
    else:
        want = check_channels(channels, 3)
        images, labels = _load_cifar10(root, download, train)
    return _finish_batch(images, size, want), labels.long()


def _load_mnist(key: str, root: str | Path, download: bool, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,28,28) uint8 and labels through torchvision's MNIST/FashionMNIST reader, with a diagnosis first."""
    import torchvision.datasets as tvd

    cls, label = (tvd.MNIST, "MNIST") if key == "mnist" else (tvd.FashionMNIST, "Fashion-MNIST")
    root = root_dir(root, f"{cls.__name__}/raw")
    raw = root / cls.__name__ / "raw"  # torchvision's layout: <root>/<class name>/raw/<idx files>
    processed = root / cls.__name__ / "processed"
    # torchvision < 0.9 cached the data as processed/*.pt, which torchvision still reads instead of the raw files.
    if not ((processed / "training.pt").is_file() and (processed / "test.pt").is_file()):
        _ensure_mnist_raw(cls, label, root, raw, download, train)
    try:
        ds = cls(str(root), train=train, download=False)
    except (AssertionError, RuntimeError, ValueError, TypeError, IndexError, KeyError, OSError) as exc:
        split = "train" if train else "t10k"
        fail(
            f"the {label} files {split}-*-ubyte in {raw} are corrupt or truncated ({short(exc)}): "
            f"delete them and pass --download (needs internet) or copy fresh ones"
        )
    data, labels = ds.data, ds.targets
    if len(data) == 0 or len(data) != len(labels) or tuple(data.shape[1:]) != (28, 28):
        fail(
            f"the {label} files in {raw} do not match ({len(data)} images of {tuple(data.shape[1:])}, "
            f"{len(labels)} labels): delete them and pass --download or copy fresh ones"
        )
    return data, labels


def _ensure_mnist_raw(cls: type, label: str, root: Path, raw: Path, download: bool, train: bool) -> None:
    """Make sure the four idx files are in `raw` (unpacking .gz, downloading if asked) or raise a DatasetError."""
    fix = "pass --download (needs internet) or copy the official files there"
    check_not_html([raw / f for f in _MNIST_FILES] + [raw / (f + ".gz") for f in _MNIST_FILES], fix)
    missing = missing_files(raw, _MNIST_FILES)
    if missing:
        # torchvision only reads the unpacked files; hand-downloaded .gz files are the common case, so unpack them
        # here (torchvision's own download does exactly this).
        _gunzip(raw, missing, label)
        missing = missing_files(raw, _MNIST_FILES)
    if missing and download:
        try_download(lambda: cls(str(root), train=train, download=True), label,
                 f"copy {', '.join(missing)} (or their .gz) into {raw}")
        missing = missing_files(raw, _MNIST_FILES)
    if missing:
        # Files one folder off are the classic mistake (root=data/mnist/MNIST/raw instead of data/mnist).
        if root.name == "raw" and root.parent.name == cls.__name__:
            fail(
                f"pass {root.parent.parent} as the data root, not {root}: torchvision appends {cls.__name__}/raw itself"
            )
        for near in (root, root / "raw", root / cls.__name__):
            if all((near / f).is_file() or (near / (f + ".gz")).is_file() for f in missing):
                fail(f"found the {label} files in {near} but torchvision reads them from {raw}: move them there")
        if len(missing) == len(_MNIST_FILES):
            fail(
                f"{label} not found under {root}: pass --download (needs internet) or put "
                f"{', '.join(_MNIST_FILES)} (or their .gz) in {raw} (see docs/datasets.md)"
            )
        fail(
            f"{label} is incomplete in {raw}: missing {', '.join(missing)} (torchvision needs the train and t10k "
            f"files): pass --download (needs internet) or copy them there"
        )


def _gunzip(raw: Path, names: list[str], label: str) -> None:
    for name in names:
        packed = raw / (name + ".gz")
        if not packed.is_file():
            continue
        target = raw / name
        try:
            with gzip.open(packed, "rb") as src, open(target.with_suffix(".partial"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(target.with_suffix(".partial"), target)  # never leave a half-written file under the real name
        except (OSError, EOFError, zlib.error) as exc:
            target.with_suffix(".partial").unlink(missing_ok=True)
            fail(
                f"cannot unpack {packed} ({short(exc)}): it is not a complete gzip file, "
                f"delete it and download the {label} files again (or gunzip them by hand into {raw})"
            )


def _load_cifar10(root: str | Path, download: bool, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,3,32,32) uint8 and labels; torchvision's CIFAR10 when its MD5 checks pass, else our own strict reader."""
    import torchvision.datasets as tvd

    root = root_dir(root, _CIFAR_FOLDER)
    folder = root / _CIFAR_FOLDER
    archive = root / _CIFAR_ARCHIVE
    fix = f"copy {_CIFAR_ARCHIVE} into {root} again (or pass --download, needs internet)"
    check_not_html([archive] + [folder / f for f in _CIFAR_FILES], fix)
    missing = missing_files(folder, _CIFAR_FILES)
    if missing and download:
        # With a good archive already in root this only unpacks it (torchvision skips files whose MD5 matches).
        try_download(lambda: tvd.CIFAR10(str(root), train=train, download=True), "CIFAR-10",
                 f"copy {_CIFAR_ARCHIVE} into {root} and unpack it there")
        missing = missing_files(folder, _CIFAR_FILES)
    if missing:
        if archive.is_file():
            fail(
                f"{archive} is not unpacked: run `tar xzf {archive} -C {root}` "
                f"(or pass --download, which unpacks it) so that {folder} exists"
            )
        if len(missing) == len(_CIFAR_FILES):
            fail(
                f"CIFAR-10 not found under {root}: pass --download (needs internet) or unpack {_CIFAR_ARCHIVE} into "
                f"{root} so that {folder}/data_batch_1..5, test_batch and batches.meta exist (see docs/datasets.md)"
            )
        fail(f"CIFAR-10 is incomplete in {folder}: missing {', '.join(missing)}: unpack {_CIFAR_ARCHIVE} again")
    try:
        ds = tvd.CIFAR10(str(root), train=train, download=False)
    except RuntimeError:
        # torchvision refuses any batch whose MD5 differs from the official release ("not found or corrupted"),
        # e.g. a re-pickled copy or the small fixtures of our tests. Rather than patch its checksum table we read
        # the same pickle format ourselves, with a whitelist unpickler (files of unknown origin must not run code)
        # and strict shape/label checks, and say so in a warning: the data is still validated, just not by MD5.
        images, labels = _read_cifar_batches(folder, train)
        warnings.warn(
            f"CIFAR-10 files in {folder} do not match torchvision's official MD5 checksums; "
            f"read them with dcgan_lib's own checked reader instead",
            stacklevel=3,
        )
        return images, labels
    images = torch.from_numpy(np.ascontiguousarray(ds.data)).permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(ds.targets, dtype=torch.int64)


class _RefusedPickle(pickle.UnpicklingError):
    """A pickle that asks for more than containers and numpy arrays."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only: a pickle from an unknown source cannot run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    }  # fmt: skip

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise _RefusedPickle(f"refusing to unpickle {module}.{name}")
        if module == "numpy.core.multiarray" and hasattr(np, "_core"):
            module = "numpy._core.multiarray"  # the official files name numpy 1's path; avoid numpy 2's warning
        return super().find_class(module, name)


def _unpickle(path: Path, fix: str) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    except _RefusedPickle as exc:
        fail(f"{path} is not a CIFAR-10 batch ({exc}, which could run code): {fix}")
    except Exception as exc:  # any other failure to parse is the same user problem: a broken file
        fail(f"cannot read {path} as a CIFAR-10 pickle ({short(exc)}): the file is corrupt or truncated, {fix}")
    if not isinstance(obj, dict):
        fail(f"{path} is not a CIFAR-10 batch (a pickled {type(obj).__name__}, not a dict): {fix}")
    # Python 2 pickles may come back with bytes keys; both spellings mean the same field.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_cifar_batches(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read data_batch_1..5 (or test_batch) in the official pickle format, checking every field."""
    fix = f"delete {folder} and unpack {_CIFAR_ARCHIVE} again (or pass --download)"
    meta = _unpickle(folder / "batches.meta", fix)
    names = meta.get("label_names")
    if not isinstance(names, (list, tuple)) or len(names) != 10:
        fail(f"{folder / 'batches.meta'} has no list of 10 label_names: {fix}")
    chunks, labels = [], []
    for name in _CIFAR_FILES[:5] if train else ("test_batch",):
        path = folder / name
        entry = _unpickle(path, fix)
        data, lab = entry.get("data"), entry.get("labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            shape = getattr(data, "shape", None)
            fail(f"{path} has no uint8 'data' array of shape (N, 3072) (got {shape}): {fix}")
        if not isinstance(lab, (list, tuple, np.ndarray)) or len(lab) != len(data):
            fail(f"{path} has {len(data)} images but not as many 'labels': {fix}")
        lab = np.asarray(lab, dtype=np.int64)
        if lab.size and (lab.min() < 0 or lab.max() > 9):
            fail(f"{path} has labels outside 0..9: {fix}")
        chunks.append(data)
        labels.append(lab)
    # Rows are the official channel-major layout: 1024 red, 1024 green, 1024 blue values per image.
    images = torch.from_numpy(np.concatenate(chunks).reshape(-1, 3, 32, 32))
    return images, torch.from_numpy(np.concatenate(labels))
