"""The training-set interface: scaling, in-memory and streaming batches, deterministic order."""

import pytest
import torch
from PIL import Image

from dcgan_lib.data import load_data
from dcgan_lib.images import to_display, to_model_range
from dcgan_lib.errors import DatasetError


def test_scaling_round_trip():
    u8 = torch.tensor([0, 127, 255], dtype=torch.uint8)
    x = to_model_range(u8)
    assert torch.allclose(x, torch.tensor([-1.0, 127 / 127.5 - 1, 1.0]))
    assert torch.allclose(to_display(x), u8.float() / 255, atol=1e-6)
    assert to_display(torch.tensor([-3.0, 3.0])).tolist() == [0.0, 1.0]  # clamped


def test_float_images_are_taken_to_be_in_model_range_and_left_untouched():
    g = torch.tensor([-1.0, 0.25, 1.0])  # e.g. G's samples
    x = to_model_range(g)
    assert torch.equal(x, g) and g.tolist() == [-1.0, 0.25, 1.0]
    assert to_model_range(torch.tensor([-1.0, 1.0], dtype=torch.float64)).dtype == torch.float32


def test_faces_come_with_their_attributes():
    data = load_data("faces", 16, n=300, seed=1)
    assert data.in_memory and data.images.shape == (300, 3, 16, 16) and data.images.dtype == torch.uint8
    assert set(data.attributes) >= {"smiling", "eyeglasses", "long_hair", "turn"}
    assert not any(k.startswith("_") for k in data.attributes)
    assert torch.equal(load_data("faces", 16, n=300, seed=1).images, data.images)


def test_digits_load_in_memory_with_labels_and_channels():
    data = load_data("digits", 32)
    assert data.images.shape == (1797, 1, 32, 32) and data.labels.shape == (1797,)
    assert load_data("digits", 16, channels=3).images.shape == (1797, 3, 16, 16)


def test_batches_are_a_function_of_seed_and_epoch_and_skip_resumes():
    data = load_data("faces", 16, n=100, seed=0)
    a = list(data.batches(16, epoch=0, seed=0, device="cpu"))
    assert len(a) == data.steps_per_epoch(16) == 6  # the last, partial batch is dropped
    assert a[0].shape == (16, 3, 16, 16) and a[0].min() >= -1 and a[0].max() <= 1
    assert all(torch.equal(x, y) for x, y in zip(a, data.batches(16, epoch=0, seed=0, device="cpu")))
    assert not torch.equal(a[0], next(data.batches(16, epoch=1, seed=0, device="cpu")))
    resumed = list(data.batches(16, epoch=0, seed=0, device="cpu", skip=4))
    assert len(resumed) == 2 and torch.equal(resumed[0], a[4])
    # each epoch is a permutation: no image twice
    flat = torch.cat(a).flatten(1)
    assert len(torch.unique(flat, dim=0)) == len(flat)


def test_a_folder_streams_through_a_dataloader(tmp_path):
    for i in range(40):
        Image.new("RGB", (40 + i, 30), (6 * i, 100, 200)).save(tmp_path / f"{i:02d}.png")
    data = load_data("folder", 16, root=tmp_path)
    data.num_workers = 0
    assert not data.in_memory and len(data) == 40 and data.channels == 3
    batches = list(data.batches(8, epoch=0, seed=0, device="cpu"))
    assert len(batches) == 5 and batches[0].shape == (8, 3, 16, 16) and batches[0].dtype == torch.float32
    red = torch.cat(batches)[:, 0, 8, 8]
    assert len(torch.unique(red)) == 40  # every image once per epoch
    again = list(data.batches(8, epoch=0, seed=0, device="cpu", skip=3))
    assert len(again) == 2 and torch.equal(again[0], batches[3])


@pytest.mark.parametrize("kwargs, words", [
    ({"name": "imagenet"}, "unknown dataset"),
    ({"name": "faces", "image_size": 48}, "power of two"),
    ({"name": "mnist"}, "not found"),
])
def test_clear_errors(kwargs, words, tmp_path):
    with pytest.raises(DatasetError, match=words) as err:
        load_data(root=tmp_path, **kwargs)
    assert "\n" not in str(err.value)


def test_faces_refuse_a_channel_count_they_do_not_have():
    from dcgan_lib.data import load_data
    from dcgan_lib.errors import DatasetError

    with pytest.raises(DatasetError, match="faces are RGB"):
        load_data("faces", 16, n=8, channels=1)
    assert load_data("faces", 16, n=8, channels=3).channels == 3


def test_to_model_range_refuses_integer_images_other_than_uint8():
    from dcgan_lib.images import to_model_range

    assert to_model_range(torch.full((1, 1, 2, 2), 255, dtype=torch.uint8)).eq(1).all()
    with pytest.raises(ValueError, match="pass uint8"):
        to_model_range(torch.full((1, 1, 2, 2), 255, dtype=torch.int64))
