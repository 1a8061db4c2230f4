"""Shared fixtures: tiny datasets and configs that train in a second on a CPU."""

import pytest
import torch

from dcgan_lib.data import ImageData
from dcgan_lib.config import TrainConfig


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a test module (use with `pytestmark = pytest.mark.usefixtures("one_thread")`):
    the workloads are small, and on a busy 2-core machine two threads' spin-waiting made such files several
    times slower. The previous thread count comes back afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_data() -> ImageData:
    """96 smooth random 16x16 RGB images (blobs, not noise), in memory."""
    g = torch.Generator().manual_seed(0)
    small = torch.rand(96, 3, 4, 4, generator=g)
    images = torch.nn.functional.interpolate(small, size=16, mode="bilinear", align_corners=False)
    return ImageData("tiny", 16, 3, images=(images * 255).round().to(torch.uint8))


@pytest.fixture
def tiny_config(tmp_path) -> TrainConfig:
    return TrainConfig(dataset="tiny", image_size=16, width=8, nz=8, batch_size=16, epochs=2,
                       out=str(tmp_path / "run"), checkpoint_every=4, log_every=2, progress=False)
