"""The course's real datasets: digits, MNIST, Fashion-MNIST and CIFAR-10 in memory; CelebA, LSUN, folders streamed.

Every image comes out resized (shorter side to ``image_size``), centre-cropped to a square and as a uint8 tensor
(C, H, W); the caller scales to [-1, 1]. None of this data can be fetched in an offline classroom, so every problem a
user can fix is a one-line :class:`~dcgan_lib.errors.DatasetError` that names the folder or file and says what to do.
"""

from __future__ import annotations

import bisect
import difflib
import gzip
import io
import os
import pickle
import shutil
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any
from urllib.error import URLError

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from .errors import DatasetError

__all__ = [
    "IN_MEMORY",
    "STREAMING",
    "IMAGE_SIZES",
    "IMAGE_EXTENSIONS",
    "CELEBA_ATTRIBUTES",
    "StreamingDataset",
    "celeba_attribute_index",
    "check_image_size",
    "load_digits",
    "load_in_memory",
    "open_streaming",
]

IN_MEMORY: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10")
STREAMING: tuple[str, ...] = ("celeba", "lsun", "folder")
# The DCGAN generator doubles the resolution per layer from 4x4, so only powers of two fit its architecture.
IMAGE_SIZES: tuple[int, ...] = (16, 32, 64, 128)
# The same list as torchvision's IMG_EXTENSIONS, so `folder` and ImageFolder agree on what counts as an image.
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

# Column order of the official list_attr_celeba.txt (and so of the attribute targets).
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
    "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks",
    "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)  # fmt: skip

OFFLINE_DEFAULT = "`--dataset faces`"
CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
LSUN_URL = "https://github.com/fyu/lsun"
LSUN_CATEGORIES: tuple[str, ...] = (
    "bedroom", "bridge", "church_outdoor", "classroom", "conference_room",
    "dining_room", "kitchen", "living_room", "restaurant", "tower",
)  # fmt: skip

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
_CELEBA_TEXT = (
    "list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
    "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt",
)  # fmt: skip
_CELEBA_NEEDED = ("list_attr_celeba.txt", "list_eval_partition.txt")  # all that attribute targets need
_CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
# Exceptions PIL raises on broken image files (truncated JPEG, garbage bytes, bad PNG chunks, decompression bombs).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


# --------------------------------------------------------------------------------------------------- small helpers


def _error(message: str) -> DatasetError:
    """A DatasetError whose message is guaranteed to be one line (the CLI prints it as is)."""
    return DatasetError(" ".join(str(message).split()))


def _short(exc: BaseException, limit: int = 160) -> str:
    """An exception as a short single-line snippet, for embedding in our own messages."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _norm_name(name: str) -> str:
    key = str(name).strip().lower().replace("_", "-")
    return _ALIASES.get(key, key)


def _unknown_dataset(name: str) -> DatasetError:
    valid = IN_MEMORY + STREAMING
    close = difflib.get_close_matches(_norm_name(name), valid, n=2, cutoff=0.5)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return _error(
        f"unknown dataset {name!r}{hint}: choose one of {', '.join(valid)} "
        f"(or the offline default {OFFLINE_DEFAULT}, which is generated, not loaded)"
    )


def check_image_size(size: int) -> int:
    """Return `size` if the DCGAN models support it (a power of two from 16 to 128), else raise DatasetError."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool) and int(size) in IMAGE_SIZES:
        return int(size)
    return _raise(
        f"image_size must be a power of two between 16 and 128 ({', '.join(map(str, IMAGE_SIZES))}), got {size!r}"
    )


def _raise(message: str) -> Any:
    raise _error(message)


def _check_channels(channels: int | None, native: int) -> int:
    if channels is None:
        return native
    if isinstance(channels, (int, np.integer)) and not isinstance(channels, bool) and int(channels) in (1, 3):
        return int(channels)
    return _raise(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")


def _root_dir(root: str | Path, contents: str) -> Path:
    """The data root as a Path; an existing *file* there is a mistake worth its own message."""
    if root is None or str(root) == "":
        _raise(f"no data folder given: pass --data-root, the folder that contains {contents}")
    path = Path(root).expanduser()
    if path.exists() and not path.is_dir():
        _raise(f"{path} is a file, not a folder: pass the folder that contains {contents}")
    return path


def _is_html(path: Path) -> bool:
    """True for files that are really web pages (Google Drive quota / login pages saved under the archive's name)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return False
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html"))


def _check_not_html(paths: list[Path], fix: str) -> None:
    for path in paths:
        if path.is_file() and _is_html(path):
            _raise(f"{path} is an HTML page (Google Drive quota? login page?), not the data file: delete it and {fix}")


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
    key = _norm_name(name)
    if key in STREAMING:
        _raise(f"{key} is too big to hold in memory: open it with open_streaming({key!r}, ...) instead")
    if key not in IN_MEMORY:
        raise _unknown_dataset(name)
    size = check_image_size(image_size)
    if key == "digits":
        images, labels = load_digits(size)
        return _finish_batch(images, size, _check_channels(channels, 1)), labels
    if key in ("mnist", "fashion-mnist"):
        want = _check_channels(channels, 1)
        data, labels = _load_mnist(key, root, download, train)
        images = data.unsqueeze(1)
    else:
        want = _check_channels(channels, 3)
        images, labels = _load_cifar10(root, download, train)
    return _finish_batch(images, size, want), labels.long()


def _load_mnist(key: str, root: str | Path, download: bool, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,28,28) uint8 and labels through torchvision's MNIST/FashionMNIST reader, with a diagnosis first."""
    import torchvision.datasets as tvd

    cls, label = (tvd.MNIST, "MNIST") if key == "mnist" else (tvd.FashionMNIST, "Fashion-MNIST")
    root = _root_dir(root, f"{cls.__name__}/raw")
    raw = root / cls.__name__ / "raw"  # torchvision's layout: <root>/<class name>/raw/<idx files>
    processed = root / cls.__name__ / "processed"
    # torchvision < 0.9 cached the data as processed/*.pt, which torchvision still reads instead of the raw files.
    if not ((processed / "training.pt").is_file() and (processed / "test.pt").is_file()):
        _ensure_mnist_raw(cls, label, root, raw, download, train)
    try:
        ds = cls(str(root), train=train, download=False)
    except (AssertionError, RuntimeError, ValueError, TypeError, IndexError, KeyError, OSError) as exc:
        split = "train" if train else "t10k"
        _raise(
            f"the {label} files {split}-*-ubyte in {raw} are corrupt or truncated ({_short(exc)}): "
            f"delete them and pass --download (needs internet) or copy fresh ones"
        )
    data, labels = ds.data, ds.targets
    if len(data) == 0 or len(data) != len(labels) or tuple(data.shape[1:]) != (28, 28):
        _raise(
            f"the {label} files in {raw} do not match ({len(data)} images of {tuple(data.shape[1:])}, "
            f"{len(labels)} labels): delete them and pass --download or copy fresh ones"
        )
    return data, labels


def _ensure_mnist_raw(cls: type, label: str, root: Path, raw: Path, download: bool, train: bool) -> None:
    """Make sure the four idx files are in `raw` (unpacking .gz, downloading if asked) or raise a DatasetError."""
    fix = "pass --download (needs internet) or copy the official files there"
    _check_not_html([raw / f for f in _MNIST_FILES] + [raw / (f + ".gz") for f in _MNIST_FILES], fix)
    missing = [f for f in _MNIST_FILES if not (raw / f).is_file()]
    if missing:
        # torchvision only reads the unpacked files; hand-downloaded .gz files are the common case, so unpack them
        # here (torchvision's own download does exactly this).
        _gunzip(raw, missing, label)
        missing = [f for f in _MNIST_FILES if not (raw / f).is_file()]
    if missing and download:
        try:
            cls(str(root), train=train, download=True)
        except (URLError, OSError, RuntimeError) as exc:
            _raise(
                f"could not download {label} (no network?): {_short(exc)}: use the offline default {OFFLINE_DEFAULT} "
                f"or copy {', '.join(missing)} (or their .gz) into {raw} (see docs/datasets.md)"
            )
        missing = [f for f in _MNIST_FILES if not (raw / f).is_file()]
    if missing:
        # Files one folder off are the classic mistake (root=data/mnist/MNIST/raw instead of data/mnist).
        if root.name == "raw" and root.parent.name == cls.__name__:
            _raise(
                f"pass {root.parent.parent} as the data root, not {root}: torchvision appends {cls.__name__}/raw itself"
            )
        for near in (root, root / "raw", root / cls.__name__):
            if all((near / f).is_file() or (near / (f + ".gz")).is_file() for f in missing):
                _raise(f"found the {label} files in {near} but torchvision reads them from {raw}: move them there")
        if len(missing) == len(_MNIST_FILES):
            _raise(
                f"{label} not found under {root}: pass --download (needs internet) or put "
                f"{', '.join(_MNIST_FILES)} (or their .gz) in {raw} (see docs/datasets.md)"
            )
        _raise(
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
            _raise(
                f"cannot unpack {packed} ({_short(exc)}): it is not a complete gzip file, "
                f"delete it and download the {label} files again (or gunzip them by hand into {raw})"
            )


def _load_cifar10(root: str | Path, download: bool, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,3,32,32) uint8 and labels; torchvision's CIFAR10 when its MD5 checks pass, else our own strict reader."""
    import torchvision.datasets as tvd

    root = _root_dir(root, _CIFAR_FOLDER)
    folder = root / _CIFAR_FOLDER
    archive = root / _CIFAR_ARCHIVE
    fix = f"copy {_CIFAR_ARCHIVE} into {root} again (or pass --download, needs internet)"
    _check_not_html([archive] + [folder / f for f in _CIFAR_FILES], fix)
    missing = [f for f in _CIFAR_FILES if not (folder / f).is_file()]
    if missing and download:
        try:
            # With a good archive already in root this only unpacks it (torchvision skips files whose MD5 matches).
            tvd.CIFAR10(str(root), train=train, download=True)
        except (URLError, OSError, RuntimeError) as exc:
            _raise(
                f"could not download CIFAR-10 (no network?): {_short(exc)}: use the offline default "
                f"{OFFLINE_DEFAULT} or copy {_CIFAR_ARCHIVE} into {root} and unpack it there (see docs/datasets.md)"
            )
        missing = [f for f in _CIFAR_FILES if not (folder / f).is_file()]
    if missing:
        if archive.is_file():
            _raise(
                f"{archive} is not unpacked: run `tar xzf {archive} -C {root}` "
                f"(or pass --download, which unpacks it) so that {folder} exists"
            )
        if len(missing) == len(_CIFAR_FILES):
            _raise(
                f"CIFAR-10 not found under {root}: pass --download (needs internet) or unpack {_CIFAR_ARCHIVE} into "
                f"{root} so that {folder}/data_batch_1..5, test_batch and batches.meta exist (see docs/datasets.md)"
            )
        _raise(f"CIFAR-10 is incomplete in {folder}: missing {', '.join(missing)}: unpack {_CIFAR_ARCHIVE} again")
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
        _raise(f"{path} is not a CIFAR-10 batch ({exc}, which could run code): {fix}")
    except Exception as exc:  # any other failure to parse is the same user problem: a broken file
        _raise(f"cannot read {path} as a CIFAR-10 pickle ({_short(exc)}): the file is corrupt or truncated, {fix}")
    if not isinstance(obj, dict):
        _raise(f"{path} is not a CIFAR-10 batch (a pickled {type(obj).__name__}, not a dict): {fix}")
    # Python 2 pickles may come back with bytes keys; both spellings mean the same field.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_cifar_batches(folder: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Read data_batch_1..5 (or test_batch) in the official pickle format, checking every field."""
    fix = f"delete {folder} and unpack {_CIFAR_ARCHIVE} again (or pass --download)"
    meta = _unpickle(folder / "batches.meta", fix)
    names = meta.get("label_names")
    if not isinstance(names, (list, tuple)) or len(names) != 10:
        _raise(f"{folder / 'batches.meta'} has no list of 10 label_names: {fix}")
    chunks, labels = [], []
    for name in _CIFAR_FILES[:5] if train else ("test_batch",):
        path = folder / name
        entry = _unpickle(path, fix)
        data, lab = entry.get("data"), entry.get("labels")
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            shape = getattr(data, "shape", None)
            _raise(f"{path} has no uint8 'data' array of shape (N, 3072) (got {shape}): {fix}")
        if not isinstance(lab, (list, tuple, np.ndarray)) or len(lab) != len(data):
            _raise(f"{path} has {len(data)} images but not as many 'labels': {fix}")
        lab = np.asarray(lab, dtype=np.int64)
        if lab.size and (lab.min() < 0 or lab.max() > 9):
            _raise(f"{path} has labels outside 0..9: {fix}")
        chunks.append(data)
        labels.append(lab)
    # Rows are the official channel-major layout: 1024 red, 1024 green, 1024 blue values per image.
    images = torch.from_numpy(np.concatenate(chunks).reshape(-1, 3, 32, 32))
    return images, torch.from_numpy(np.concatenate(labels))


# ------------------------------------------------------------------------------------------------------ streaming


def _load_image(path: str | Path) -> Image.Image:
    """Open and fully decode an image, closing the file at once (CelebA has 200k of them)."""
    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()
    return img


class _ToUint8:
    """PIL image -> uint8 (C, S, S): EXIF-upright, channel-converted, shorter side to S, centre-cropped."""

    def __init__(self, size: int, channels: int) -> None:
        self.size, self.channels = size, channels

    def __call__(self, img: Image.Image) -> torch.Tensor:
        import torchvision.transforms.functional as TF

        img = ImageOps.exif_transpose(img)  # phone photos store "rotate me" in EXIF instead of rotating pixels
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            # Transparent pixels often hold arbitrary colours; composite on white like an image viewer would.
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        img = img.convert("L" if self.channels == 1 else "RGB")  # grey->RGB repeats the value, RGB->grey is luma
        img = TF.resize(img, self.size, interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        img = TF.center_crop(img, [self.size, self.size])
        return TF.pil_to_tensor(img)


def _where(source: Any, index: int) -> str:
    """The file (or database key) behind item `index`, for error messages."""
    if hasattr(source, "where"):
        return source.where(index)
    if hasattr(source, "samples"):  # torchvision ImageFolder
        return source.samples[index][0]
    if hasattr(source, "filename") and hasattr(source, "base_folder"):  # torchvision CelebA
        return os.path.join(source.root, source.base_folder, "img_align_celeba", source.filename[index])
    return f"item {index}"


class StreamingDataset(Dataset):
    """Items are (uint8 tensor (C,S,S), target), read lazily from disk; broken files raise a one-line DatasetError."""

    def __init__(self, name: str, source: Dataset, image_size: int, channels: int) -> None:
        self.name, self.source, self.image_size, self.channels = name, source, image_size, channels
        self.transform = _ToUint8(image_size, channels)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        try:
            img, target = self.source[index]
            return self.transform(img), target
        except (DatasetError, IndexError):
            raise  # IndexError ends plain `for x in dataset` loops; it is not a data problem
        except FileNotFoundError:
            raise _error(
                f"{_where(self.source, index)} is listed in the {self.name} dataset but missing: "
                f"restore it (unpack the archive again) or delete its entry"
            ) from None
        except _DECODE_ERRORS as exc:
            raise _error(
                f"cannot read image {_where(self.source, index)} ({_short(exc)}): "
                f"the file is corrupt or truncated, delete or replace it"
            ) from None

    def __repr__(self) -> str:
        return (
            f"StreamingDataset({self.name!r}, {len(self)} images, "
            f"{self.channels}x{self.image_size}x{self.image_size}, source={type(self.source).__name__})"
        )


def open_streaming(
    name: str,
    root: str | Path,
    image_size: int = 64,
    download: bool = False,
    channels: int | None = None,
    **kw: Any,
) -> Dataset:
    """celeba (aligned crops; split='train'; target = its 40 binary attributes as int64), lsun (classes='bedroom_train'
    or a list), or folder (images found recursively; ImageFolder class index when there are class subfolders, else 0).
    Items are (uint8 tensor (C,S,S), target)."""
    key = _norm_name(name)
    if key in IN_MEMORY:
        _raise(f"{key} is small enough for memory: load it with load_in_memory({key!r}, ...) instead")
    if key not in STREAMING:
        raise _unknown_dataset(name)
    size = check_image_size(image_size)
    want = _check_channels(channels, 3)
    options = {"celeba": {"split": "train"}, "lsun": {"classes": "bedroom_train"}, "folder": {}}[key]
    unknown = sorted(set(kw) - set(options))
    if unknown:
        allowed = ", ".join(options) or "none"
        _raise(f"{key} does not take option(s) {', '.join(unknown)}: its options are {allowed}")
    options.update(kw)
    if key == "celeba":
        source = _open_celeba(root, options["split"], download)
    elif key == "lsun":
        source = _open_lsun(root, options["classes"], download)
    else:
        source = _open_folder(root)
    return StreamingDataset(key, source, size, want)


# ----------------------------------------------------------------------------------------------------------- CelebA


def celeba_attribute_index(name: str) -> int:
    """Column of a CelebA attribute in the targets ('Smiling' -> 31); case, spaces and hyphens are forgiven."""
    key = str(name).strip().replace(" ", "_").replace("-", "_").lower()
    table = {a.lower(): i for i, a in enumerate(CELEBA_ATTRIBUTES)}
    if key in table:
        return table[key]
    close = difflib.get_close_matches(key, list(table), n=4, cutoff=0.5)
    close += [k for k in table if key and key in k and k not in close]
    if close:
        names = ", ".join(CELEBA_ATTRIBUTES[table[k]] for k in close[:6])
        _raise(f"unknown CelebA attribute {name!r}: did you mean {names}? (see CELEBA_ATTRIBUTES for all 40)")
    _raise(f"unknown CelebA attribute {name!r}: choose one of {', '.join(CELEBA_ATTRIBUTES)}")


def _open_celeba(root: str | Path, split: str, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    if not isinstance(split, str) or split.lower() not in _CELEBA_SPLITS:
        _raise(f"unknown CelebA split {split!r}: choose one of {', '.join(_CELEBA_SPLITS)}")
    split = split.lower()
    root = _root_dir(root, "celeba/img_align_celeba")
    base = root / "celeba"  # torchvision's base_folder
    download_error = None
    if download and not _celeba_complete(base):
        try:
            tvd.CelebA(str(root), split=split, target_type="attr", download=True)
        except Exception as exc:  # gdown, requests and torchvision each raise their own types; diagnose below
            download_error = exc
    _diagnose_celeba(root, base, download_error)
    source = None
    if all((base / name).is_file() for name in _CELEBA_TEXT):
        try:
            source = tvd.CelebA(str(root), split=split, target_type="attr")
        except Exception:  # torchvision's MD5 check failed (or its parser choked); ours below explains which line
            source = None
    if source is None:
        # torchvision insists on all five annotation files with their official MD5s, although attribute targets
        # need only two. Re-saved copies (other line endings, Kaggle's re-export) and our test fixtures fail that,
        # so read the same text format ourselves, checking the header and every row, and say so in a warning.
        source = _CelebAText(base, split)
        warnings.warn(
            f"CelebA annotations in {base} could not be verified against torchvision's official MD5 checksums; "
            f"read them with dcgan_lib's own checked parser instead",
            stacklevel=3,
        )
    if len(source) == 0:
        _raise(f"CelebA split {split!r} is empty according to {base / 'list_eval_partition.txt'}: use split='all'")
    first = Path(_where(source, 0))
    if not first.is_file():
        _raise(
            f"{first} is listed in list_eval_partition.txt but missing from {base / 'img_align_celeba'}: "
            f"the unzip is incomplete, unzip img_align_celeba.zip again"
        )
    return source


def _celeba_complete(base: Path) -> bool:
    return (base / "img_align_celeba").is_dir() and all((base / n).is_file() for n in _CELEBA_NEEDED)


def _diagnose_celeba(root: Path, base: Path, download_error: BaseException | None) -> None:
    images, archive = base / "img_align_celeba", base / "img_align_celeba.zip"
    tried = f" (--download failed: {_short(download_error, 100)})" if download_error is not None else ""
    if archive.is_file() and _is_html(archive):
        _raise(
            f"{archive} is an HTML page (Google Drive quota?), not the archive: download img_align_celeba.zip "
            f"by hand from {CELEBA_URL} (Align&Cropped Images) and unzip it into {base}{tried}"
        )
    for name in _CELEBA_TEXT:
        if (base / name).is_file() and _is_html(base / name):
            _raise(
                f"{base / name} is an HTML page (Google Drive quota?), not the annotation file: download {name} "
                f"by hand from {CELEBA_URL} (Anno/Eval folders) into {base}{tried}"
            )
    if not base.is_dir():
        if (root / "img_align_celeba").is_dir():
            _raise(
                f"found {root / 'img_align_celeba'} but torchvision's layout is {images}: "
                f"move it (and the .txt files) into {base}"
            )
        _raise(
            f"CelebA not found under {root}: download img_align_celeba.zip, list_attr_celeba.txt and "
            f"list_eval_partition.txt by hand from {CELEBA_URL} and unzip/copy them into {base}, so that "
            f"{images}/000001.jpg exists (see docs/datasets.md); --download often hits the Google Drive quota{tried}"
        )
    if not images.is_dir():
        if archive.is_file():
            if not zipfile.is_zipfile(archive):
                _raise(
                    f"{archive} is not a valid zip (truncated download?): download it again by hand from {CELEBA_URL}"
                )
            _raise(f"{archive} is not unzipped: run `unzip {archive} -d {base}` so that {images} exists")
        _raise(
            f"no {images} folder: download img_align_celeba.zip by hand from {CELEBA_URL} "
            f"(Align&Cropped Images) and unzip it into {base}{tried}"
        )
    if (images / "img_align_celeba").is_dir() and not any(images.glob("*.jpg")):
        _raise(
            f"the images are one folder too deep in {images / 'img_align_celeba'} (the Kaggle copy nests it): "
            f"move the .jpg files up into {images}"
        )
    missing = [n for n in _CELEBA_NEEDED if not (base / n).is_file()]
    if missing:
        _raise(
            f"CelebA in {base} lacks {', '.join(missing)}: download {' and '.join(missing)} by hand from "
            f"{CELEBA_URL} (Anno and Eval folders) into {base}{tried}"
        )


class _CelebAText(Dataset):
    """CelebA read from the official text files (list_eval_partition.txt, list_attr_celeba.txt) by our own parser."""

    def __init__(self, base: Path, split: str) -> None:
        self.images = base / "img_align_celeba"
        attr = self._read_attributes(base / "list_attr_celeba.txt")
        wanted = _CELEBA_SPLITS[split]
        partition = base / "list_eval_partition.txt"
        self.filenames: list[str] = []
        rows = []
        for lineno, fields in self._lines(partition):
            if len(fields) != 2 or not fields[1].lstrip("-").isdigit():
                _raise(f"line {lineno} of {partition} is not '<image> <0|1|2>': download the official file again")
            if wanted is None or int(fields[1]) == wanted:
                if fields[0] not in attr:
                    _raise(
                        f"{fields[0]} (line {lineno} of {partition}) has no row in list_attr_celeba.txt: "
                        f"the two files do not belong together, download both again"
                    )
                self.filenames.append(fields[0])
                rows.append(attr[fields[0]])
        self.attr = torch.tensor(rows, dtype=torch.int64).reshape(-1, len(CELEBA_ATTRIBUTES))

    @staticmethod
    def _lines(path: Path) -> list[tuple[int, list[str]]]:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            _raise(f"cannot read {path} ({_short(exc)}): check its permissions or copy it again")
        return [(i + 1, line.split()) for i, line in enumerate(text.splitlines()) if line.strip()]

    def _read_attributes(self, path: Path) -> dict[str, list[int]]:
        lines = self._lines(path)
        fix = f"download the official list_attr_celeba.txt from {CELEBA_URL} again"
        # Official layout: the image count, then the 40 names, then '<image> <40 values of -1/1>' per line.
        if len(lines) < 2 or len(lines[0][1]) != 1 or not lines[0][1][0].isdigit():
            _raise(f"{path} does not start with the image count and the 40 attribute names: {fix}")
        if tuple(lines[1][1]) != CELEBA_ATTRIBUTES:
            _raise(f"the header of {path} is not the official list of 40 attribute names: {fix}")
        attr = {}
        for lineno, fields in lines[2:]:
            try:
                values = [int(v) for v in fields[1:]]
            except ValueError:
                values = []
            if len(values) != len(CELEBA_ATTRIBUTES) or any(v not in (-1, 1) for v in values):
                _raise(f"line {lineno} of {path} is not '<image> <40 values of -1 or 1>': {fix}")
            attr[fields[0]] = [(v + 1) // 2 for v in values]  # -1/1 -> 0/1, as torchvision does
        return attr

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, index: int) -> tuple[Image.Image, torch.Tensor]:
        return _load_image(self.where(index)), self.attr[index]

    def where(self, index: int) -> str:
        return str(self.images / self.filenames[index])


# ------------------------------------------------------------------------------------------------------------- LSUN


def _lsun_classes(classes: str | list[str] | tuple[str, ...]) -> list[str]:
    """torchvision's LSUN naming: 'train'/'val' mean every category, else '<category>_<train|val>' names."""
    if classes in ("train", "val"):
        return [f"{c}_{classes}" for c in LSUN_CATEGORIES]
    if classes == "test":
        return ["test"]
    names = [classes] if isinstance(classes, str) else list(classes)
    if not names:
        _raise("no LSUN classes given: pass e.g. classes='bedroom_train'")
    for c in names:
        category, _, part = str(c).rpartition("_")
        if category not in LSUN_CATEGORIES or part not in ("train", "val"):
            _raise(
                f"unknown LSUN class {c!r}: use '<category>_train' or '<category>_val' with category one of "
                f"{', '.join(LSUN_CATEGORIES)} (e.g. 'bedroom_train')"
            )
    return [str(c) for c in names]


def _open_lsun(root: str | Path, classes: str | list[str], download: bool) -> Dataset:
    # The LSUN layout is torchvision's (<root>/<class>_lmdb/data.mdb), but not its LSUNClass: that pickles every key
    # into a `_cache_*` file in the *current directory*, littering the user's working folder and silently reusing
    # stale keys after the database changes; and it has no download either.
    try:
        import lmdb  # noqa: F401  (optional dependency)
    except ImportError:
        _raise("LSUN needs the lmdb package: pip install lmdb")
    names = _lsun_classes(classes)
    root = _root_dir(root, f"{names[0]}_lmdb")
    no_download = " (torchvision cannot download LSUN, so --download does not help)" if download else ""
    paths = []
    for c in names:
        db, archive = root / f"{c}_lmdb", root / f"{c}_lmdb.zip"
        _check_not_html([archive, db / "data.mdb"], f"download {archive.name} again with the script from {LSUN_URL}")
        if not (db / "data.mdb").is_file():
            if archive.is_file():
                _raise(f"{archive} is not unzipped: run `unzip {archive} -d {root}` so that {db}/data.mdb exists")
            if db.is_dir():
                _raise(f"{db} has no data.mdb: unzip {c}_lmdb.zip into {root} again")
            _raise(
                f"LSUN {c} not found: expected {db}/data.mdb; download it with `python download.py -c "
                f"{c.rpartition('_')[0] or c}` from {LSUN_URL} and unzip {c}_lmdb.zip into {root}{no_download}"
            )
        paths.append(str(db))
    return _LSUNSource(paths)


# py-lmdb refuses to open the same database files twice in one process, and a forked DataLoader worker counts as
# the same process (it inherits the parent's table), so every dataset shares one environment per database. Read-only,
# lock-free environments stay usable after fork; spawned workers start with an empty table and open their own.
_LMDB_ENVS: dict[str, Any] = {}


def _lmdb_env(path: str) -> Any:
    import lmdb

    key = os.path.realpath(path)
    if key not in _LMDB_ENVS:
        try:
            _LMDB_ENVS[key] = lmdb.open(path, readonly=True, lock=False, readahead=False, meminit=False)
        except lmdb.Error as exc:
            _raise(f"cannot open the LSUN database {path} ({_short(exc)}): it is corrupt, unzip it again")
    return _LMDB_ENVS[key]


class _LSUNSource(Dataset):
    """Images from one or more LSUN lmdb databases; target = index of the database in the class list."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.keys: list[list[bytes]] = []
        for path in paths:
            with _lmdb_env(path).begin(write=False) as txn:
                self.keys.append(list(txn.cursor().iternext(keys=True, values=False)))
            if not self.keys[-1]:
                _raise(f"the LSUN database {path} is empty: unzip its .zip again")
        self.ends = [int(e) for e in np.cumsum([len(k) for k in self.keys])]

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def _locate(self, index: int) -> tuple[int, int]:
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} LSUN images")
        db = bisect.bisect_right(self.ends, index)
        return db, index - (self.ends[db - 1] if db else 0)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        db, local = self._locate(index)
        with _lmdb_env(self.paths[db]).begin(write=False) as txn:
            buf = txn.get(self.keys[db][local])
        if buf is None:
            raise OSError("key vanished from the database")
        img = Image.open(io.BytesIO(buf))
        img.load()
        return img, db

    def where(self, index: int) -> str:
        db, local = self._locate(index)
        return f"{self.paths[db]} (key {self.keys[db][local].decode('ascii', 'replace')})"


# ----------------------------------------------------------------------------------------------------------- folder


class _VisibleImage:
    """True for image files whose path below `root` has no hidden part (.ipynb_checkpoints, .git, ...)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __call__(self, path: str | Path) -> bool:
        rel = Path(os.path.relpath(path, self.root))  # hidden parts *above* the root (~/.cache/...) do not count
        return str(rel).lower().endswith(IMAGE_EXTENSIONS) and not any(p.startswith(".") for p in rel.parts)


def _walk_images(folder: Path) -> list[str]:
    visible = _VisibleImage(folder)
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):  # followlinks: as ImageFolder does
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [os.path.join(dirpath, f) for f in sorted(filenames) if visible(os.path.join(dirpath, f))]
    return found


def _has_image(folder: Path) -> bool:
    visible = _VisibleImage(folder)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        if any(visible(os.path.join(dirpath, f)) for f in filenames):
            return True
    return False


class _ImageList(Dataset):
    """A flat list of image files; target is always 0."""

    def __init__(self, files: list[str]) -> None:
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Image.Image, int]:
        return _load_image(self.files[index]), 0

    def where(self, index: int) -> str:
        return self.files[index]


_IMAGE_FOLDER_CLASS: type | None = None


def _image_folder_class() -> type:
    """torchvision's ImageFolder, minus hidden and image-less subfolders as classes.

    Built on first use so that importing this module does not import torchvision.datasets (about a second).
    """
    global _IMAGE_FOLDER_CLASS
    if _IMAGE_FOLDER_CLASS is None:
        import torchvision.datasets as tvd

        def find_classes(self: Any, directory: str | Path) -> tuple[list[str], dict[str, int]]:
            # Stock find_classes makes every subfolder a class, so a Jupyter `.ipynb_checkpoints` folder shifts
            # all labels by one and an empty folder is a hard error.
            classes = sorted(
                e.name
                for e in os.scandir(directory)
                if e.is_dir() and not e.name.startswith(".") and _has_image(Path(e.path))
            )
            if not classes:
                raise FileNotFoundError(f"no class folder with images in {directory}")
            return classes, {c: i for i, c in enumerate(classes)}

        _IMAGE_FOLDER_CLASS = type(
            "_ImageFolder", (tvd.ImageFolder,), {"find_classes": find_classes, "__module__": __name__}
        )
        globals()["_ImageFolder"] = _IMAGE_FOLDER_CLASS
    return _IMAGE_FOLDER_CLASS


def __getattr__(name: str) -> Any:
    # PEP 562 hook: lets pickle find the lazily built _ImageFolder class in DataLoader worker processes.
    if name == "_ImageFolder":
        return _image_folder_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _open_folder(root: str | Path) -> Dataset:
    if root is None or str(root) == "":
        _raise("no image folder given: pass --data-root, the folder that holds your images")
    folder = Path(root).expanduser()
    exts = "/".join(IMAGE_EXTENSIONS)
    if not folder.exists():
        _raise(f"image folder {folder} does not exist: pass the folder that holds your {exts} files")
    if not folder.is_dir():
        _raise(f"{folder} is a file, not a folder: pass the folder that contains the images")
    visible = _VisibleImage(folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        _raise(f"cannot list {folder} ({_short(exc)}): check its permissions")
    top_level = any(e.is_file() and visible(e.path) for e in entries)
    class_dirs = [e for e in entries if e.is_dir() and not e.name.startswith(".") and _has_image(Path(e.path))]
    if class_dirs and not top_level:
        # Only subfolders hold images: they are classes, and ImageFolder's class index becomes the target.
        return _image_folder_class()(str(folder), loader=_load_image, is_valid_file=visible)
    files = _walk_images(folder)
    if not files:
        _raise(f"no images found in {folder} (subfolders included): expected {exts} files")
    return _ImageList(files)
