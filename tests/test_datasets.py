"""dcgan_lib.datasets on tiny fixtures in the real on-disk formats: shapes, content, one-line errors; all offline."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
import warnings
import zipfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from PIL import Image

from dcgan_lib import datasets as D
from dcgan_lib.images import check_image_size
from dcgan_lib import streaming as S
from dcgan_lib.errors import DatasetError

try:
    import fixtures_datasets as fx
except ImportError:  # if tests/ ever becomes a package
    from tests import fixtures_datasets as fx

# The fixtures cannot carry the official MD5s, so the CIFAR-10/CelebA loaders warn that they fell back to their own
# checked readers; dedicated tests assert that warning, the rest need not see it.
pytestmark = pytest.mark.filterwarnings("ignore:.*official MD5 checksums:UserWarning")


def assert_one_line(excinfo: pytest.ExceptionInfo, *words: str) -> str:
    """The error is a DatasetError on a single line that mentions every word (case-insensitive)."""
    assert excinfo.type is DatasetError or issubclass(excinfo.type, DatasetError)
    message = str(excinfo.value)
    assert "\n" not in message and "\r" not in message, message
    for word in words:
        assert str(word).lower() in message.lower(), f"{word!r} not in {message!r}"
    return message


def colour_of(item: torch.Tensor) -> np.ndarray:
    return item.float().mean(dim=(1, 2)).numpy()


# ------------------------------------------------------------------------------------------------- sizes and names


@pytest.mark.parametrize("size", [16, 32, 64, 128])
def test_check_image_size_accepts_powers_of_two(size):
    assert check_image_size(size) == size
    assert check_image_size(np.int64(size)) == size


@pytest.mark.parametrize("size", [8, 48, 256, 0, -32, "64", 64.0, True])
def test_check_image_size_rejects_the_rest(size):
    with pytest.raises(DatasetError) as excinfo:
        check_image_size(size)
    assert_one_line(excinfo, "power of two", "16", "128", repr(size))


def test_loaders_validate_image_size_and_channels(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("digits", tmp_path, image_size=48)
    assert_one_line(excinfo, "power of two", "48")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("folder", tmp_path, image_size=256)
    assert_one_line(excinfo, "power of two", "256")
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("digits", tmp_path, channels=2)
    assert_one_line(excinfo, "channels must be 1", "or 3")


def test_unknown_dataset_names_list_the_valid_ones(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnsit", tmp_path)
    assert_one_line(excinfo, "unknown dataset", "'mnsit'", "did you mean mnist", *D.IN_MEMORY, *D.STREAMING, "faces")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("imagenet", tmp_path)
    assert_one_line(excinfo, "unknown dataset", "celeba, lsun, folder")


def test_in_memory_and_streaming_names_point_at_each_other(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("celeba", tmp_path)
    assert_one_line(excinfo, "open_streaming('celeba'")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("CIFAR-10", tmp_path)
    assert_one_line(excinfo, "load_in_memory('cifar10'")


def test_public_constants():
    assert D.IN_MEMORY == ("digits", "mnist", "fashion-mnist", "cifar10")
    assert D.STREAMING == ("celeba", "lsun", "folder")


# ------------------------------------------------------------------------------------------------------------ digits


@pytest.mark.parametrize("size", [16, 32])
def test_load_digits_shapes_dtype_and_ranges(size):
    images, labels = D.load_digits(size)
    assert images.shape == (1797, 1, size, size) and images.dtype == torch.uint8
    assert labels.shape == (1797,) and labels.dtype == torch.int64
    assert set(labels.tolist()) == set(range(10))
    assert images.min() == 0 and images.max() == 255  # sklearn's 0..16 scaled to the full uint8 range


def test_load_digits_is_sklearns_digits_upsampled():
    from sklearn.datasets import load_digits

    images, labels = D.load_digits(32)
    bunch = load_digits()
    assert torch.equal(labels, torch.from_numpy(bunch.target))
    # Averaging 4x4 blocks of the bilinear upsampling gives back (a slightly smoothed) original.
    pooled = torch.nn.functional.avg_pool2d(images.float(), 4).squeeze(1).numpy()
    original = bunch.images * 255 / 16
    assert np.corrcoef(pooled.ravel(), original.ravel())[0, 1] > 0.97


def test_holdout_mask_takes_the_same_share_of_every_class():
    labels = torch.arange(4).repeat_interleave(torch.tensor([8, 13, 4, 21]))[torch.randperm(46)]
    mask = D.holdout_mask(labels, seed=3)
    assert mask.dtype == torch.bool and mask.shape == labels.shape
    assert torch.bincount(labels[mask], minlength=4).tolist() == [2, 3, 1, 5]  # a quarter of each class, rounded down
    assert torch.equal(mask, D.holdout_mask(labels, seed=3))
    assert not torch.equal(mask, D.holdout_mask(labels, seed=4))
    assert D.holdout_mask(labels, fraction=0.5)[labels == 0].sum() == 4
    with pytest.raises(ValueError, match="between 0 and 1"):
        D.holdout_mask(labels, fraction=1.0)


def test_digits_through_load_in_memory_with_three_channels(tmp_path):
    images, labels = D.load_in_memory("digits", tmp_path / "ignored", image_size=16, channels=3)
    grey, _ = D.load_digits(16)
    assert images.shape == (1797, 3, 16, 16) and images.dtype == torch.uint8
    assert all(torch.equal(images[:, c : c + 1], grey) for c in range(3))
    assert labels.dtype == torch.int64


# ------------------------------------------------------------------------------------------------- MNIST family


@pytest.fixture(scope="session")
def mnist(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    return root, fx.make_mnist(root)


@pytest.fixture(scope="session")
def fashion(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashion")
    return root, fx.make_mnist(root, folder="FashionMNIST", n_train=10, n_test=4)


def check_quadrants(images: torch.Tensor, originals: np.ndarray) -> None:
    """Corners of the resized images keep the per-image quadrant values (orientation and value range intact)."""
    for out, src in zip(images[:, 0], originals):
        assert out[0, 0] == src[0, 0] and out[0, -1] == src[0, -1]
        assert out[-1, 0] == src[-1, 0] and out[-1, -1] == src[-1, -1]


@pytest.mark.parametrize("size", [16, 32])
@pytest.mark.parametrize("train", [True, False])
def test_mnist_loads_idx_files(mnist, size, train):
    root, data = mnist
    src_images, src_labels = data["train" if train else "t10k"]
    images, labels = D.load_in_memory("mnist", root, image_size=size, train=train)
    assert images.shape == (len(src_images), 1, size, size) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and labels.tolist() == src_labels.tolist()
    check_quadrants(images, src_images)


@pytest.mark.parametrize("size", [16, 32])
def test_fashion_mnist_uses_its_own_folder(fashion, size):
    root, data = fashion
    images, labels = D.load_in_memory("fashion-mnist", root, image_size=size, channels=3)
    assert images.shape == (10, 3, size, size) and images.dtype == torch.uint8
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 1], images[:, 2])
    assert labels.tolist() == data["train"][1].tolist()
    check_quadrants(images[:, :1], data["train"][0])
    assert D.load_in_memory("Fashion_MNIST", root, image_size=16)[0].shape == (10, 1, 16, 16)
    with pytest.raises(DatasetError) as excinfo:  # the FashionMNIST/raw files are not MNIST/raw
        D.load_in_memory("mnist", root)
    assert_one_line(excinfo, "MNIST not found", str(root / "MNIST" / "raw"))


def test_mnist_gz_files_are_unpacked(tmp_path):
    data = fx.make_mnist(tmp_path, gz=True)
    assert not (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()
    images, labels = D.load_in_memory("mnist", tmp_path, image_size=16)
    assert images.shape == (12, 1, 16, 16) and labels.tolist() == data["train"][1].tolist()
    assert all((tmp_path / "MNIST" / "raw" / name).is_file() for name in fx.MNIST_FILES)


def test_mnist_legacy_processed_cache(tmp_path):
    """torchvision < 0.9 left MNIST/processed/{training,test}.pt; torchvision still reads them, and so do we."""
    images = torch.from_numpy(fx.quadrant_digits(5, seed=9))
    labels = torch.arange(5)
    (tmp_path / "MNIST" / "processed").mkdir(parents=True)
    torch.save((images, labels), tmp_path / "MNIST" / "processed" / "training.pt")
    torch.save((images[:2], labels[:2]), tmp_path / "MNIST" / "processed" / "test.pt")
    out, out_labels = D.load_in_memory("mnist", tmp_path, image_size=16)
    assert out.shape == (5, 1, 16, 16) and out_labels.tolist() == labels.tolist()
    check_quadrants(out, images.numpy())


def test_mnist_missing_names_folder_and_files(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path / "data")
    assert_one_line(
        excinfo, "MNIST not found", "--download", "needs internet", str(tmp_path / "data" / "MNIST" / "raw"),
        "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "docs/datasets.md",
    )  # fmt: skip


def test_mnist_incomplete_lists_missing_files(tmp_path):
    fx.make_mnist(tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path)
    assert_one_line(excinfo, "incomplete", "t10k-labels-idx1-ubyte", "--download")


def test_mnist_root_pointing_at_raw_says_which_root(tmp_path):
    fx.make_mnist(tmp_path)
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path / "MNIST" / "raw")
    assert_one_line(excinfo, f"pass {tmp_path} as the data root")


def test_mnist_files_in_the_wrong_folder(tmp_path):
    fx.make_mnist(tmp_path)
    for f in (tmp_path / "MNIST" / "raw").iterdir():
        f.rename(tmp_path / f.name)
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path)
    assert_one_line(excinfo, f"found the MNIST files in {tmp_path}", str(tmp_path / "MNIST" / "raw"), "move them")


def test_mnist_truncated_idx_file(tmp_path):
    fx.make_mnist(tmp_path)
    fx.truncate(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte")
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path)
    assert_one_line(excinfo, "corrupt or truncated", str(tmp_path / "MNIST" / "raw"), "delete them")


def test_mnist_broken_gz(tmp_path):
    fx.make_mnist(tmp_path, gz=True)
    fx.truncate(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte.gz", keep=0.3)
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path)
    assert_one_line(excinfo, "train-images-idx3-ubyte.gz", "not a complete gzip", "delete it")
    assert not list((tmp_path / "MNIST" / "raw").glob("*.partial"))


def test_mnist_html_instead_of_gz(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte.gz").write_bytes(fx.html_page())
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("mnist", tmp_path)
    assert_one_line(excinfo, str(raw / "train-images-idx3-ubyte.gz"), "is an HTML page", "delete it")


def test_mnist_download_offline(tmp_path, monkeypatch):
    def offline(url, *args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.mnist, "download_and_extract_archive", offline)
    with pytest.raises(DatasetError) as excinfo:  # torchvision's own message spans several lines
        D.load_in_memory("fashion-mnist", tmp_path, download=True)
    assert_one_line(
        excinfo,
        "could not download Fashion-MNIST",
        "no network",
        "--dataset faces",
        str(tmp_path / "FashionMNIST" / "raw"),
    )


# ----------------------------------------------------------------------------------------------------------- CIFAR


@pytest.fixture(scope="session")
def cifar(tmp_path_factory):
    root = tmp_path_factory.mktemp("cifar")
    return root, fx.make_cifar10(root)


@pytest.mark.parametrize("train", [True, False])
def test_cifar_reads_the_official_pickles(cifar, train):
    root, data = cifar
    src_images, src_labels = data["train" if train else "test"]
    with pytest.warns(UserWarning, match="official MD5 checksums"):
        images, labels = D.load_in_memory("cifar10", root, image_size=32, train=train)
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    assert np.array_equal(images.numpy(), src_images)  # 32 -> 32: the pixels themselves, channel-major
    assert labels.tolist() == src_labels.tolist()


@pytest.mark.parametrize("size", [16, 64])
def test_cifar_resizes(cifar, size):
    root, data = cifar
    images, labels = D.load_in_memory("cifar10", root, image_size=size)
    assert images.shape == (20, 3, size, size) and images.dtype == torch.uint8 and len(labels) == 20
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(data["train"][0]).float(), size=size, mode="bilinear", antialias=size < 32
    )
    assert (images.float() - expected).abs().max() <= 0.5 + 1e-4


def test_cifar_grey_matches_pil(cifar):
    root, data = cifar
    images, _ = D.load_in_memory("cifar10", root, image_size=32, channels=1)
    assert images.shape == (20, 1, 32, 32)
    expected = np.stack([np.asarray(Image.fromarray(im.transpose(1, 2, 0)).convert("L")) for im in data["train"][0]])
    assert np.array_equal(images[:, 0].numpy(), expected)


def test_cifar_verified_path_gives_the_same_tensors(cifar, monkeypatch):
    """With files whose MD5s torchvision accepts, its CIFAR10 reads them, and the result equals our reader's."""
    root, _ = cifar
    fallback = D.load_in_memory("cifar10", root, image_size=32)
    folder = root / "cifar-10-batches-py"
    # Stand-in for the official release: teach torchvision the fixtures' MD5s.
    monkeypatch.setattr(
        tvd.CIFAR10, "train_list", [[f"data_batch_{i}", fx.md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
    )
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", fx.md5(folder / "test_batch")]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": fx.md5(folder / "batches.meta")})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        verified = D.load_in_memory("cifar10", root, image_size=32)
    assert not [w for w in caught if "MD5" in str(w.message)]
    assert torch.equal(verified[0], fallback[0]) and torch.equal(verified[1], fallback[1])


def test_cifar_missing(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(
        excinfo, "CIFAR-10 not found", "--download", "cifar-10-python.tar.gz", str(tmp_path / "cifar-10-batches-py")
    )


def test_cifar_archive_not_unpacked(tmp_path):
    fx.make_cifar10(tmp_path, tarball=True)
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(excinfo, "not unpacked", "tar xzf", str(tmp_path / "cifar-10-python.tar.gz"))


def test_cifar_incomplete(tmp_path):
    fx.make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").unlink()
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(excinfo, "incomplete", "test_batch")


def test_cifar_download_offline(tmp_path, monkeypatch):
    def offline(url, *args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.cifar, "download_and_extract_archive", offline)
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path, download=True)
    assert_one_line(
        excinfo, "could not download CIFAR-10 (no network?)", "name resolution", "--dataset faces",
        "cifar-10-python.tar.gz", str(tmp_path),
    )  # fmt: skip


def test_cifar_truncated_batch(tmp_path):
    fx.make_cifar10(tmp_path)
    fx.truncate(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(excinfo, "data_batch_3", "corrupt or truncated", "unpack")


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_cifar_reader_refuses_code_in_pickles(tmp_path, capsys):
    fx.make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(pickle.dumps({"data": _Evil()}, protocol=2))
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(excinfo, "data_batch_1", "is not a CIFAR-10 batch", "refusing to unpickle", "print")
    assert "must never run" not in capsys.readouterr().out


def test_cifar_wrong_array_shape(tmp_path):
    fx.make_cifar10(tmp_path)
    bad = {"data": np.zeros((4, 100), dtype=np.uint8), "labels": [0, 1, 2, 3]}
    (tmp_path / "cifar-10-batches-py" / "data_batch_2").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory("cifar10", tmp_path)
    assert_one_line(excinfo, "data_batch_2", "(N, 3072)")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_in_memory_root_is_a_file(tmp_path, name):
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(DatasetError) as excinfo:
        D.load_in_memory(name, tmp_path / "data")
    assert_one_line(excinfo, str(tmp_path / "data"), "is a file, not a folder")


# ---------------------------------------------------------------------------------------------------------- CelebA


@pytest.fixture(scope="session")
def celeba(tmp_path_factory):
    root = tmp_path_factory.mktemp("celeba")
    return root, fx.make_celeba(root)


@pytest.fixture
def celeba_copy(celeba, tmp_path):
    """A private copy for tests that break files."""
    root, data = celeba
    shutil.copytree(root, tmp_path, dirs_exist_ok=True)
    return tmp_path, data


def test_celeba_attributes_list():
    assert len(S.CELEBA_ATTRIBUTES) == 40 and len(set(S.CELEBA_ATTRIBUTES)) == 40
    assert S.CELEBA_ATTRIBUTES[:2] == ("5_o_Clock_Shadow", "Arched_Eyebrows") and S.CELEBA_ATTRIBUTES[-1] == "Young"
    assert S.celeba_attribute_index("Smiling") == 31
    assert S.celeba_attribute_index("Male") == 20
    assert S.celeba_attribute_index("wearing hat") == S.CELEBA_ATTRIBUTES.index("Wearing_Hat")
    assert S.celeba_attribute_index("5-o-clock-shadow") == 0


def test_celeba_attribute_index_suggests_close_names():
    with pytest.raises(DatasetError) as excinfo:
        S.celeba_attribute_index("Smile")
    assert_one_line(excinfo, "unknown CelebA attribute 'Smile'", "did you mean", "Smiling")
    with pytest.raises(DatasetError) as excinfo:
        S.celeba_attribute_index("hair")
    assert_one_line(excinfo, "Black_Hair", "Gray_Hair")
    with pytest.raises(DatasetError) as excinfo:
        S.celeba_attribute_index("qqqqqq")
    assert_one_line(excinfo, "5_o_Clock_Shadow", "Young")


@pytest.mark.parametrize("size", [16, 32, 64])
def test_celeba_items_and_attribute_targets(celeba, size):
    root, data = celeba
    ds = S.open_streaming("celeba", root, image_size=size)
    train = [i for i, p in enumerate(data["partition"]) if p == 0]
    assert len(ds) == len(train)
    smiling = S.celeba_attribute_index("Smiling")
    for k, i in enumerate(train):
        image, target = ds[k]
        assert image.shape == (3, size, size) and image.dtype == torch.uint8
        assert np.abs(colour_of(image) - fx.celeba_colour(i)).max() < 4  # the right file (flat colour, JPEG noise)
        assert target.dtype == torch.int64 and target.shape == (40,)
        assert target.tolist() == data["attrs01"][i].tolist()  # the right row, mapped from -1/1 to 0/1
        assert int(target[smiling]) == data["attrs01"][i][31]


@pytest.mark.parametrize("split", ["valid", "test", "all", "TEST"])
def test_celeba_splits(celeba, split):
    root, data = celeba
    ds = S.open_streaming("celeba", root, image_size=16, split=split)
    want = {"valid": [1], "test": [2], "all": [0, 1, 2]}[split.lower()]
    indices = [i for i, p in enumerate(data["partition"]) if p in want]
    assert len(ds) == len(indices)
    assert [ds[k][1].tolist() for k in range(len(ds))] == [data["attrs01"][i].tolist() for i in indices]


def test_celeba_fallback_parser_warns(celeba):
    root, _ = celeba
    with pytest.warns(UserWarning, match="official MD5 checksums"):
        S.open_streaming("celeba", root, image_size=16)


def test_celeba_verified_path_gives_the_same_items(celeba, monkeypatch):
    """With annotation files torchvision accepts, its CelebA is used, with identical items and targets."""
    root, _ = celeba
    ours = S.open_streaming("celeba", root, image_size=32, split="all")
    base = root / "celeba"
    patched = [
        (fid, md5 if name.endswith(".zip") else fx.md5(base / name), name) for fid, md5, name in tvd.CelebA.file_list
    ]
    monkeypatch.setattr(tvd.CelebA, "file_list", patched)  # stand-in for the official files
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        theirs = S.open_streaming("celeba", root, image_size=32, split="all")
    assert not [w for w in caught if "MD5" in str(w.message)]
    assert isinstance(theirs.source, tvd.CelebA)
    assert len(theirs) == len(ours)
    for k in range(len(ours)):
        assert torch.equal(theirs[k][0], ours[k][0]) and torch.equal(theirs[k][1], ours[k][1])


def test_celeba_grey_and_dataloader(celeba):
    root, _ = celeba
    ds = S.open_streaming("celeba", root, image_size=32, channels=1)
    assert ds[0][0].shape == (1, 32, 32)
    images, targets = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert images.shape == (4, 1, 32, 32) and images.dtype == torch.uint8
    assert targets.shape == (4, 40) and targets.dtype == torch.int64


def test_celeba_missing(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", tmp_path)
    assert_one_line(
        excinfo, "CelebA not found", "img_align_celeba.zip", "list_attr_celeba.txt", str(tmp_path / "celeba"), "by hand"
    )


def test_celeba_html_instead_of_attribute_file(celeba_copy):
    root, _ = celeba_copy
    (root / "celeba" / "list_attr_celeba.txt").write_bytes(fx.html_page())
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "list_attr_celeba.txt is an HTML page", "Google Drive quota", "by hand")


def test_celeba_html_instead_of_zip(tmp_path):
    base = tmp_path / "celeba"
    base.mkdir()
    (base / "img_align_celeba.zip").write_bytes(b"\n  " + fx.html_page())
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", tmp_path)
    assert_one_line(
        excinfo, "img_align_celeba.zip is an HTML page (Google Drive quota?), not the archive",
        "download img_align_celeba.zip by hand", f"unzip it into {base}",
    )  # fmt: skip


def test_celeba_zip_not_unzipped(celeba_copy):
    root, _ = celeba_copy
    base = root / "celeba"
    with zipfile.ZipFile(base / "img_align_celeba.zip", "w") as archive:
        for f in sorted((base / "img_align_celeba").iterdir()):
            archive.write(f, f"img_align_celeba/{f.name}")
    shutil.rmtree(base / "img_align_celeba")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "is not unzipped", f"unzip {base / 'img_align_celeba.zip'}")


def test_celeba_truncated_zip(celeba_copy):
    root, _ = celeba_copy
    base = root / "celeba"
    shutil.rmtree(base / "img_align_celeba")
    (base / "img_align_celeba.zip").write_bytes(b"PK\x03\x04" + b"\0" * 100)
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "not a valid zip", "download it again")


def test_celeba_kaggle_nested_folder(celeba_copy):
    root, _ = celeba_copy
    images = root / "celeba" / "img_align_celeba"
    (images / "img_align_celeba").mkdir()
    for f in images.glob("*.jpg"):
        f.rename(images / "img_align_celeba" / f.name)
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "one folder too deep", f"move the .jpg files up into {images}")


def test_celeba_missing_partition_file(celeba_copy):
    root, _ = celeba_copy
    (root / "celeba" / "list_eval_partition.txt").unlink()
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "lacks list_eval_partition.txt", "by hand")


def test_celeba_malformed_attribute_line(celeba_copy):
    root, _ = celeba_copy
    path = root / "celeba" / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[4] = lines[4][:40]  # a row cut short
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root)
    assert_one_line(excinfo, "line 5 of", "list_attr_celeba.txt", "40 values")


def test_celeba_corrupt_and_missing_images_at_getitem(celeba_copy):
    root, _ = celeba_copy
    images = root / "celeba" / "img_align_celeba"
    fx.truncate(images / "000002.jpg", keep=0.4)
    (images / "000003.jpg").unlink()
    ds = S.open_streaming("celeba", root, image_size=16)
    assert ds[0][0].shape == (3, 16, 16)  # the good ones still load
    with pytest.raises(DatasetError) as excinfo:
        ds[1]
    assert_one_line(excinfo, str(images / "000002.jpg"), "corrupt or truncated", "delete or replace")
    with pytest.raises(DatasetError) as excinfo:
        ds[2]
    assert_one_line(excinfo, str(images / "000003.jpg"), "missing")


def test_celeba_bad_split_and_option(celeba):
    root, _ = celeba
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root, split="validation")
    assert_one_line(excinfo, "unknown CelebA split 'validation'", "train, valid, test, all")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", root, classes="bedroom_train")
    assert_one_line(excinfo, "celeba does not take option(s) classes", "split")


def test_celeba_download_hits_drive_quota(tmp_path, monkeypatch):
    def quota(file_id, root, filename=None, md5=None):
        # What torchvision's Google Drive download leaves behind when the quota is exhausted.
        os.makedirs(root, exist_ok=True)
        Path(root, filename).write_bytes(fx.html_page())
        raise RuntimeError("File not found or corrupted.")

    monkeypatch.setattr(tvd.celeba, "download_file_from_google_drive", quota)
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", tmp_path, download=True)
    assert_one_line(excinfo, "img_align_celeba.zip is an HTML page", "Google Drive quota", "--download failed")


def test_celeba_download_without_gdown(tmp_path, monkeypatch):
    def no_gdown(*args, **kwargs):
        raise RuntimeError(
            "To download files from GDrive, 'gdown' is required. You can install it with 'pip install gdown'."
        )

    monkeypatch.setattr(tvd.celeba, "download_file_from_google_drive", no_gdown)
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("celeba", tmp_path, download=True)
    assert_one_line(excinfo, "CelebA not found", "by hand", "--download failed", "gdown")


# ------------------------------------------------------------------------------------------------------------ LSUN


@pytest.fixture(scope="session")
def lsun(tmp_path_factory):
    pytest.importorskip("lmdb")
    root = tmp_path_factory.mktemp("lsun")
    bedrooms = fx.make_lsun(root, "bedroom_train", n=3)
    churches = fx.make_lsun(root, "church_outdoor_train", n=2, offset=5)
    return root, bedrooms, churches


@pytest.mark.parametrize("size", [16, 32, 64])
def test_lsun_items(lsun, size):
    root, bedrooms, _ = lsun
    ds = S.open_streaming("lsun", root, image_size=size)  # classes='bedroom_train' by default
    assert len(ds) == 3
    for k, (_, colour) in enumerate(bedrooms):
        image, target = ds[k]
        assert image.shape == (3, size, size) and image.dtype == torch.uint8 and target == 0
        assert np.abs(colour_of(image) - colour).max() < 4


def test_lsun_several_classes_and_dataloader(lsun):
    root, bedrooms, churches = lsun
    ds = S.open_streaming("lsun", root, image_size=16, classes=["bedroom_train", "church_outdoor_train"])
    assert len(ds) == 5 and [ds[k][1] for k in range(5)] == [0, 0, 0, 1, 1]
    assert np.abs(colour_of(ds[-1][0]) - churches[-1][1]).max() < 4
    # Worker processes get a pickled copy; the lmdb environment must survive that.
    batches = list(torch.utils.data.DataLoader(ds, batch_size=5, num_workers=2))
    assert batches[0][0].shape == (5, 3, 16, 16) and batches[0][1].tolist() == [0, 0, 0, 1, 1]
    copy = pickle.loads(pickle.dumps(ds))
    assert torch.equal(copy[1][0], ds[1][0])


def test_lsun_leaves_no_cache_file_in_the_working_directory(lsun, tmp_path, monkeypatch):
    root, _, _ = lsun
    monkeypatch.chdir(tmp_path)
    S.open_streaming("lsun", root, image_size=16)[0]
    assert list(tmp_path.iterdir()) == []


def test_lsun_missing_and_unknown_class(lsun, tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("lsun", tmp_path, download=True)
    assert_one_line(excinfo, str(tmp_path / "bedroom_train_lmdb"), "download.py -c bedroom", "cannot download LSUN")
    root, _, _ = lsun
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("lsun", root, classes="bedrooms_train")
    assert_one_line(excinfo, "unknown LSUN class 'bedrooms_train'", "bedroom", "church_outdoor")


def test_lsun_zip_not_unzipped(tmp_path):
    pytest.importorskip("lmdb")
    (tmp_path / "bedroom_train_lmdb.zip").write_bytes(b"PK\x03\x04")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("lsun", tmp_path)
    assert_one_line(excinfo, "is not unzipped", "unzip")


def test_lsun_corrupt_database_and_corrupt_image(tmp_path):
    lmdb = pytest.importorskip("lmdb")
    db = tmp_path / "kitchen_train_lmdb"
    db.mkdir()
    (db / "data.mdb").write_bytes(b"\0garbage" * 1000)
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("lsun", tmp_path, classes="kitchen_train")
    assert_one_line(excinfo, "cannot open the LSUN database", str(db), "unzip it again")

    env = lmdb.open(str(tmp_path / "tower_train_lmdb"), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b"a" * 40, b"\xff\xd8\xff\xe0 not really a jpeg")
    env.close()
    ds = S.open_streaming("lsun", tmp_path, classes="tower_train", image_size=16)
    with pytest.raises(DatasetError) as excinfo:
        ds[0]
    assert_one_line(
        excinfo, "cannot read image", str(tmp_path / "tower_train_lmdb"), "key " + "a" * 40, "delete or replace"
    )


def test_lsun_without_lmdb(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lmdb", None)  # makes `import lmdb` fail
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("lsun", tmp_path)
    assert_one_line(excinfo, "LSUN needs the lmdb package: pip install lmdb")


# ---------------------------------------------------------------------------------------------------------- folder


@pytest.fixture(scope="session")
def flat_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("flat")
    fx.save_image(root / "a_wide.jpg", (100, 60), "RGB", (200, 50, 20))
    fx.save_image(root / "b_tall.PNG", (30, 80), "L", 100)
    fx.save_image(root / "c_clear.png", (50, 50), "RGBA", (255, 0, 0, 0))
    fx.save_image(root / "d_opaque.png", (64, 48), "RGBA", (10, 200, 30, 255))
    fx.save_image(root / "e_small.bmp", (8, 12), "RGB", (0, 0, 255))
    fx.save_image(root / "nested" / "deeper" / "f.webp", (40, 40), "RGB", (90, 90, 90))
    fx.save_image(root / ".ipynb_checkpoints" / "ignored.png", (20, 20), "RGB")
    fx.save_image(root / "ignored.gif", (20, 20), "P", 3)
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.mark.parametrize("size", [16, 32, 64])
def test_folder_flat_mixed_sizes_and_modes(flat_folder, size):
    ds = S.open_streaming("folder", flat_folder, image_size=size)
    assert len(ds) == 6
    items = [ds[k] for k in range(len(ds))]
    assert all(x.shape == (3, size, size) and x.dtype == torch.uint8 and t == 0 for x, t in items)
    colours = [colour_of(x) for x, _ in items]
    assert np.allclose(colours[1], [100, 100, 100], atol=1)  # grey -> RGB repeats the value
    assert np.allclose(colours[2], [255, 255, 255], atol=1)  # fully transparent -> white background
    assert np.allclose(colours[3], [10, 200, 30], atol=1)  # opaque RGBA keeps its colour
    assert np.allclose(colours[4], [0, 0, 255], atol=1)  # tiny images are upsampled
    assert np.allclose(colours[5], [90, 90, 90], atol=2)  # found in nested/deeper
    assert ds.source.where(5).endswith(os.path.join("nested", "deeper", "f.webp"))


def test_folder_to_grey_uses_pil_luma(flat_folder):
    ds = S.open_streaming("folder", flat_folder, image_size=16, channels=1)
    image, _ = ds[0]
    assert image.shape == (1, 16, 16)
    luma = Image.new("RGB", (1, 1), (200, 50, 20)).convert("L").getpixel((0, 0))
    assert abs(colour_of(image)[0] - luma) <= 2  # JPEG noise
    assert ds[1][0].shape == (1, 16, 16)


@pytest.mark.parametrize("shape,vertical", [((90, 30), False), ((30, 90), True)])
def test_folder_centre_crops(tmp_path, shape, vertical):
    fx.three_stripes(tmp_path / "stripes.png", shape, vertical)
    image, _ = S.open_streaming("folder", tmp_path, image_size=16)[0]
    r, g, b = colour_of(image)
    assert g > 235 and r < 20 and b < 20  # only the middle third survives


def test_folder_class_subfolders(tmp_path):
    fx.save_image(tmp_path / "cats" / "1.jpg", (40, 30))
    fx.save_image(tmp_path / "cats" / "more" / "2.png", (30, 40))
    fx.save_image(tmp_path / "dogs" / "3.png", (50, 50), "L", 7)
    fx.save_image(tmp_path / ".ipynb_checkpoints" / "4.png", (50, 50))
    fx.save_image(tmp_path / "dogs" / ".hidden" / "5.png", (50, 50))
    (tmp_path / "empty").mkdir()
    ds = S.open_streaming("folder", tmp_path, image_size=32)
    assert isinstance(ds.source, tvd.ImageFolder)
    assert ds.source.classes == ["cats", "dogs"]
    assert [ds[k][1] for k in range(len(ds))] == [0, 0, 1]
    assert all(ds[k][0].shape == (3, 32, 32) for k in range(len(ds)))
    copy = pickle.loads(pickle.dumps(ds))  # DataLoader workers pickle the dataset
    assert torch.equal(copy[2][0], ds[2][0])


def test_folder_errors(tmp_path):
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("folder", tmp_path / "nope")
    assert_one_line(excinfo, str(tmp_path / "nope"), "does not exist", ".jpg")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no images here")
    (tmp_path / "empty" / "sub").mkdir()
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("folder", tmp_path / "empty")
    assert_one_line(excinfo, f"no images found in {tmp_path / 'empty'}", ".jpg", ".png")
    fx.save_image(tmp_path / "one.png", (10, 10))
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming("folder", tmp_path / "one.png")
    assert_one_line(excinfo, str(tmp_path / "one.png"), "is a file, not a folder")


def test_folder_corrupt_images_at_getitem(tmp_path):
    fx.save_image(tmp_path / "a.png", (20, 20))
    (tmp_path / "b.png").write_bytes(b"this is not a png")
    fx.truncate(fx.save_image(tmp_path / "c.jpg", (200, 200), "RGB", (1, 2, 3)), keep=0.3)
    ds = S.open_streaming("folder", tmp_path, image_size=16)
    assert len(ds) == 3 and ds[0][0].shape == (3, 16, 16)
    for k, name in ((1, "b.png"), (2, "c.jpg")):
        with pytest.raises(DatasetError) as excinfo:
            ds[k]
        assert_one_line(excinfo, "cannot read image", str(tmp_path / name), "delete or replace")


@pytest.mark.parametrize("name", ["celeba", "lsun", "folder"])
def test_streaming_root_is_a_file(tmp_path, name):
    if name == "lsun":
        pytest.importorskip("lmdb")
    (tmp_path / "data").write_text("not a folder")
    with pytest.raises(DatasetError) as excinfo:
        S.open_streaming(name, tmp_path / "data")
    assert_one_line(excinfo, str(tmp_path / "data"), "is a file, not a folder")


def test_index_error_still_ends_iteration(flat_folder):
    ds = S.open_streaming("folder", flat_folder, image_size=16)
    with pytest.raises(IndexError):
        ds[len(ds)]
    assert len(list(iter(ds))) == len(ds)  # the old-style __getitem__ protocol relies on IndexError
