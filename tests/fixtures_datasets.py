"""Tiny datasets in the REAL on-disk formats (idx, CIFAR pickles, CelebA text files, LSUN lmdb, image folders).

The real archives cannot be downloaded here, so tests build a few images in exactly the layout torchvision and the
official releases use. Each builder returns what it wrote, so tests can check the loaders give back the right data.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

from dcgan_lib.streaming import CELEBA_ATTRIBUTES

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CELEBA_TEXT = (
    "list_attr_celeba.txt",
    "list_eval_partition.txt",
    "identity_CelebA.txt",
    "list_bbox_celeba.txt",
    "list_landmarks_align_celeba.txt",
)


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def html_page() -> bytes:
    """What Google Drive serves instead of a file once its download quota is exhausted."""
    return (
        b"<!DOCTYPE html><html><head><title>Google Drive - Quota exceeded</title></head>"
        b"<body>Too many users have viewed or downloaded this file recently.</body></html>\n"
    )


# ----------------------------------------------------------------------------------------------------------- MNIST


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx format of LeCun's MNIST files: 0x0000, type 0x08 (uint8), ndim, big-endian int32 dims, raw data."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def quadrant_digits(n: int, seed: int) -> np.ndarray:
    """(n,28,28) uint8 images: top half a, bottom-left c, bottom-right b (values differ per image).

    The corners then tell whether a loader kept the orientation (a transpose would swap top-right and bottom-left).
    """
    rng = np.random.default_rng(seed)
    abc = rng.integers(0, 256, size=(n, 3), dtype=np.uint8)
    images = np.empty((n, 28, 28), dtype=np.uint8)
    images[:, :14, :] = abc[:, 0, None, None]
    images[:, 14:, :14] = abc[:, 2, None, None]
    images[:, 14:, 14:] = abc[:, 1, None, None]
    return images


def make_mnist(root: Path, folder: str = "MNIST", n_train: int = 12, n_test: int = 6, gz: bool = False) -> dict:
    """Write <root>/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] as torchvision expects."""
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n, seed in (("train", n_train, 1), ("t10k", n_test, 2)):
        images = quadrant_digits(n, seed)
        labels = (np.arange(n) * 7 + seed) % 10
        out[split] = (images, labels.astype(np.int64))
        for kind, array in (("images-idx3", images), ("labels-idx1", labels.astype(np.uint8))):
            name = f"{split}-{kind}-ubyte"
            data = idx_bytes(array)
            if gz:
                (raw / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
    return out


# ----------------------------------------------------------------------------------------------------------- CIFAR


def make_cifar10(root: Path, per_batch: int = 4, tarball: bool = False) -> dict:
    """Write <root>/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta} as pickles of the official format.

    Each batch is a dict with 'batch_label', 'labels', 'data' ((N,3072) uint8, channel-major rows) and 'filenames';
    the meta file holds 'label_names'. Protocol 2, as the Python 2 originals. With tarball=True only the
    cifar-10-python.tar.gz archive is left in root (as if it was never unpacked).
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    out = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        images = rng.integers(0, 256, size=(per_batch, 3, 32, 32), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=per_batch)]
        entry = {
            "batch_label": f"training batch {i + 1} of 5" if name != "test_batch" else "testing batch 1 of 1",
            "labels": labels,
            "data": images.reshape(per_batch, 3072),
            "filenames": [f"img_{i}_{k}.png" for k in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
        out[name] = (images, np.array(labels))
    meta = {
        "num_cases_per_batch": per_batch,
        "label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
        "num_vis": 3072,
    }
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    if tarball:
        with tarfile.open(Path(root) / "cifar-10-python.tar.gz", "w:gz") as tar:
            tar.add(folder, arcname="cifar-10-batches-py")
        for f in folder.iterdir():
            f.unlink()
        folder.rmdir()
    train = [out[f"data_batch_{k}"] for k in range(1, 6)]
    return {
        "train": (np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train])),
        "test": out["test_batch"],
    }


# ----------------------------------------------------------------------------------------------------------- CelebA

# Partition of the fixture images: 0 train, 1 valid, 2 test (at least two each: torchvision's CelebA squeezes a
# one-image split to a 0-d tensor and fails, which never happens with the real 202 599 images).
CELEBA_PARTITION = (0, 0, 0, 0, 1, 1, 2, 2)


def celeba_colour(i: int) -> tuple[int, int, int]:
    """A distinct flat colour per fixture image, so a test can tell which file an item came from."""
    return (30 + 25 * i, 200 - 20 * i, (90 * i) % 256)


def make_celeba(root: Path) -> dict:
    """Write <root>/celeba/img_align_celeba/00000k.jpg (178x218, as the real aligned crops) and the five annotation
    files in the official text formats (count line, header line, space-aligned rows)."""
    base = Path(root) / "celeba"
    images = base / "img_align_celeba"
    images.mkdir(parents=True, exist_ok=True)
    n = len(CELEBA_PARTITION)
    rng = np.random.default_rng(4)
    attrs = rng.choice([-1, 1], size=(n, len(CELEBA_ATTRIBUTES)))
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):
        Image.new("RGB", (178, 218), celeba_colour(i)).save(images / name, quality=95)
    attr_lines = [str(n), " ".join(CELEBA_ATTRIBUTES) + " "]  # the official header ends with a space
    attr_lines += [name + " " + " ".join(f"{v:2d}" for v in row) for name, row in zip(names, attrs)]
    (base / "list_attr_celeba.txt").write_text("\n".join(attr_lines) + "\n")
    (base / "list_eval_partition.txt").write_text("".join(f"{m} {p}\n" for m, p in zip(names, CELEBA_PARTITION)))
    (base / "identity_CelebA.txt").write_text("".join(f"{m} {100 + i}\n" for i, m in enumerate(names)))
    bbox = [str(n), "image_id x_1 y_1 width height"]
    bbox += [f"{m}    {95 + i:3d}  {71 + i:3d} {226:3d} {313:3d}" for i, m in enumerate(names)]
    (base / "list_bbox_celeba.txt").write_text("\n".join(bbox) + "\n")
    marks = [
        str(n),
        "lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y",
    ]
    marks += [f"{m} 69  109  106  113   77  142   73  152  108  154" for m in names]
    (base / "list_landmarks_align_celeba.txt").write_text("\n".join(marks) + "\n")
    return {"names": names, "attrs01": (attrs + 1) // 2, "partition": CELEBA_PARTITION}


# ------------------------------------------------------------------------------------------------------------- LSUN

LSUN_SIZES = ((256, 341), (300, 256), (256, 256))  # (width, height): LSUN images have a 256-pixel shorter side


def make_lsun(root: Path, name: str = "bedroom_train", n: int = 3, offset: int = 0) -> list[tuple[bytes, tuple]]:
    """Write <root>/<name>_lmdb/ (data.mdb, lock.mdb): key = a hex id, value = the encoded JPEG, as LSUN ships it.

    Returns (key, colour) in key order, which is the order an lmdb cursor (and so the dataset) yields them.
    """
    import lmdb

    Path(root).mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(Path(root) / f"{name}_lmdb"), map_size=1 << 24)
    items = []
    with env.begin(write=True) as txn:
        for i in range(n):
            colour = (40 + 60 * i + offset, 120, 250 - 70 * i)
            buf = io.BytesIO()
            Image.new("RGB", LSUN_SIZES[i % len(LSUN_SIZES)], colour).save(buf, format="JPEG", quality=95)
            key = hashlib.sha1(f"{name}-{i}".encode()).hexdigest().encode("ascii")
            txn.put(key, buf.getvalue())
            items.append((key, colour))
    env.close()
    return sorted(items)


# ----------------------------------------------------------------------------------------------------------- images


def save_image(path: Path, size: tuple[int, int], mode: str = "RGB", colour=(200, 50, 20)) -> Path:
    """A flat image of `size` (width, height) in `mode`, saved in the format of its extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)
    return path


def three_stripes(path: Path, size: tuple[int, int], vertical: bool) -> Path:
    """Red | green | blue thirds (along the longer side), so a centre crop must come out green."""
    w, h = size
    img = Image.new("RGB", size, (0, 0, 0))
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    for k, colour in enumerate(colours):
        box = (0, k * h // 3, w, (k + 1) * h // 3) if vertical else (k * w // 3, 0, (k + 1) * w // 3, h)
        img.paste(colour, box)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def truncate(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to a fraction of its size: an interrupted download or copy."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: max(1, int(len(data) * keep))])
    return Path(path)
