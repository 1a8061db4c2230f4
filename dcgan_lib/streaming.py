"""The course's large real datasets, read from disk one image at a time: CelebA (with its 40 attributes), LSUN
(lmdb databases) and any folder of images.

Items are (uint8 tensor (C, S, S), target), resized (shorter side to ``image_size``) and centre-cropped; a
missing or broken file is a one-line DatasetError naming it and saying what to do (see `datasets` for the
in-memory sets and the checks they share).
"""

from __future__ import annotations

import bisect
import difflib
import io
import os
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from .datasets import (IN_MEMORY, STREAMING, check_channels, check_not_html, dataset_error, fail, is_html, norm_name,
                       root_dir, short, unknown_dataset)
from .errors import DatasetError
from .images import check_image_size

CELEBA_URL = "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html"
LSUN_URL = "https://github.com/fyu/lsun"
LSUN_CATEGORIES: tuple[str, ...] = (
    "bedroom", "bridge", "church_outdoor", "classroom", "conference_room",
    "dining_room", "kitchen", "living_room", "restaurant", "tower",
)  # fmt: skip
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
_CELEBA_TEXT = (
    "list_attr_celeba.txt", "list_eval_partition.txt", "identity_CelebA.txt",
    "list_bbox_celeba.txt", "list_landmarks_align_celeba.txt",
)  # fmt: skip
_CELEBA_NEEDED = ("list_attr_celeba.txt", "list_eval_partition.txt")  # all that attribute targets need
_CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
# Exceptions PIL raises on broken image files (truncated JPEG, garbage bytes, bad PNG chunks, decompression bombs).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, zlib.error, Image.DecompressionBombError)


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
            raise dataset_error(
                f"{_where(self.source, index)} is listed in the {self.name} dataset but missing: "
                f"restore it (unpack the archive again) or delete its entry"
            ) from None
        except _DECODE_ERRORS as exc:
            raise dataset_error(
                f"cannot read image {_where(self.source, index)} ({short(exc)}): "
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
    key = norm_name(name)
    if key in IN_MEMORY:
        fail(f"{key} is small enough for memory: load it with load_in_memory({key!r}, ...) instead")
    if key not in STREAMING:
        raise unknown_dataset(name)
    size = check_image_size(image_size)
    want = check_channels(channels, 3)
    options = {"celeba": {"split": "train"}, "lsun": {"classes": "bedroom_train"}, "folder": {}}[key]
    unknown = sorted(set(kw) - set(options))
    if unknown:
        allowed = ", ".join(options) or "none"
        fail(f"{key} does not take option(s) {', '.join(unknown)}: its options are {allowed}")
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
        fail(f"unknown CelebA attribute {name!r}: did you mean {names}? (see CELEBA_ATTRIBUTES for all 40)")
    fail(f"unknown CelebA attribute {name!r}: choose one of {', '.join(CELEBA_ATTRIBUTES)}")


def _open_celeba(root: str | Path, split: str, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    if not isinstance(split, str) or split.lower() not in _CELEBA_SPLITS:
        fail(f"unknown CelebA split {split!r}: choose one of {', '.join(_CELEBA_SPLITS)}")
    split = split.lower()
    root = root_dir(root, "celeba/img_align_celeba")
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
        fail(f"CelebA split {split!r} is empty according to {base / 'list_eval_partition.txt'}: use split='all'")
    first = Path(_where(source, 0))
    if not first.is_file():
        fail(
            f"{first} is listed in list_eval_partition.txt but missing from {base / 'img_align_celeba'}: "
            f"the unzip is incomplete, unzip img_align_celeba.zip again"
        )
    return source


def _celeba_complete(base: Path) -> bool:
    return (base / "img_align_celeba").is_dir() and all((base / n).is_file() for n in _CELEBA_NEEDED)


def _diagnose_celeba(root: Path, base: Path, download_error: BaseException | None) -> None:
    images, archive = base / "img_align_celeba", base / "img_align_celeba.zip"
    tried = f" (--download failed: {short(download_error, 100)})" if download_error is not None else ""
    if archive.is_file() and is_html(archive):
        fail(
            f"{archive} is an HTML page (Google Drive quota?), not the archive: download img_align_celeba.zip "
            f"by hand from {CELEBA_URL} (Align&Cropped Images) and unzip it into {base}{tried}"
        )
    for name in _CELEBA_TEXT:
        if (base / name).is_file() and is_html(base / name):
            fail(
                f"{base / name} is an HTML page (Google Drive quota?), not the annotation file: download {name} "
                f"by hand from {CELEBA_URL} (Anno/Eval folders) into {base}{tried}"
            )
    if not base.is_dir():
        if (root / "img_align_celeba").is_dir():
            fail(
                f"found {root / 'img_align_celeba'} but torchvision's layout is {images}: "
                f"move it (and the .txt files) into {base}"
            )
        fail(
            f"CelebA not found under {root}: download img_align_celeba.zip, list_attr_celeba.txt and "
            f"list_eval_partition.txt by hand from {CELEBA_URL} and unzip/copy them into {base}, so that "
            f"{images}/000001.jpg exists (see docs/datasets.md); --download often hits the Google Drive quota{tried}"
        )
    if not images.is_dir():
        if archive.is_file():
            if not zipfile.is_zipfile(archive):
                fail(
                    f"{archive} is not a valid zip (truncated download?): download it again by hand from {CELEBA_URL}"
                )
            fail(f"{archive} is not unzipped: run `unzip {archive} -d {base}` so that {images} exists")
        fail(
            f"no {images} folder: download img_align_celeba.zip by hand from {CELEBA_URL} "
            f"(Align&Cropped Images) and unzip it into {base}{tried}"
        )
    if (images / "img_align_celeba").is_dir() and not any(images.glob("*.jpg")):
        fail(
            f"the images are one folder too deep in {images / 'img_align_celeba'} (the Kaggle copy nests it): "
            f"move the .jpg files up into {images}"
        )
    missing = [n for n in _CELEBA_NEEDED if not (base / n).is_file()]
    if missing:
        fail(
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
                fail(f"line {lineno} of {partition} is not '<image> <0|1|2>': download the official file again")
            if wanted is None or int(fields[1]) == wanted:
                if fields[0] not in attr:
                    fail(
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
            fail(f"cannot read {path} ({short(exc)}): check its permissions or copy it again")
        return [(i + 1, line.split()) for i, line in enumerate(text.splitlines()) if line.strip()]

    def _read_attributes(self, path: Path) -> dict[str, list[int]]:
        lines = self._lines(path)
        fix = f"download the official list_attr_celeba.txt from {CELEBA_URL} again"
        # Official layout: the image count, then the 40 names, then '<image> <40 values of -1/1>' per line.
        if len(lines) < 2 or len(lines[0][1]) != 1 or not lines[0][1][0].isdigit():
            fail(f"{path} does not start with the image count and the 40 attribute names: {fix}")
        if tuple(lines[1][1]) != CELEBA_ATTRIBUTES:
            fail(f"the header of {path} is not the official list of 40 attribute names: {fix}")
        attr = {}
        for lineno, fields in lines[2:]:
            try:
                values = [int(v) for v in fields[1:]]
            except ValueError:
                values = []
            if len(values) != len(CELEBA_ATTRIBUTES) or any(v not in (-1, 1) for v in values):
                fail(f"line {lineno} of {path} is not '<image> <40 values of -1 or 1>': {fix}")
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
        fail("no LSUN classes given: pass e.g. classes='bedroom_train'")
    for c in names:
        category, _, part = str(c).rpartition("_")
        if category not in LSUN_CATEGORIES or part not in ("train", "val"):
            fail(
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
        fail("LSUN needs the lmdb package: pip install lmdb")
    names = _lsun_classes(classes)
    root = root_dir(root, f"{names[0]}_lmdb")
    no_download = " (torchvision cannot download LSUN, so --download does not help)" if download else ""
    paths = []
    for c in names:
        db, archive = root / f"{c}_lmdb", root / f"{c}_lmdb.zip"
        check_not_html([archive, db / "data.mdb"], f"download {archive.name} again with the script from {LSUN_URL}")
        if not (db / "data.mdb").is_file():
            if archive.is_file():
                fail(f"{archive} is not unzipped: run `unzip {archive} -d {root}` so that {db}/data.mdb exists")
            if db.is_dir():
                fail(f"{db} has no data.mdb: unzip {c}_lmdb.zip into {root} again")
            fail(
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
            fail(f"cannot open the LSUN database {path} ({short(exc)}): it is corrupt, unzip it again")
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
                fail(f"the LSUN database {path} is empty: unzip its .zip again")
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
        fail("no image folder given: pass --data-root, the folder that holds your images")
    folder = Path(root).expanduser()
    exts = "/".join(IMAGE_EXTENSIONS)
    if not folder.exists():
        fail(f"image folder {folder} does not exist: pass the folder that holds your {exts} files")
    if not folder.is_dir():
        fail(f"{folder} is a file, not a folder: pass the folder that contains the images")
    visible = _VisibleImage(folder)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        fail(f"cannot list {folder} ({short(exc)}): check its permissions")
    top_level = any(e.is_file() and visible(e.path) for e in entries)
    class_dirs = [e for e in entries if e.is_dir() and not e.name.startswith(".") and _has_image(Path(e.path))]
    if class_dirs and not top_level:
        # Only subfolders hold images: they are classes, and ImageFolder's class index becomes the target.
        return _image_folder_class()(str(folder), loader=_load_image, is_valid_file=visible)
    files = _walk_images(folder)
    if not files:
        fail(f"no images found in {folder} (subfolders included): expected {exts} files")
    return _ImageList(files)
