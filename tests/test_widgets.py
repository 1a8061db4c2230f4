"""Latent sliders, tested headlessly: build them, move a control, check the one image changed, fast.

Run under ipywidgets 8 here and under 7.7.1 (Colab's) by .ci/colab_like.sh."""

import io
import time

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_lib.checkpoint import load_generator
from dcgan_lib.latent import lerp, slerp, z_from_seed
from dcgan_lib.models import Generator
from dcgan_lib.widgets import DirectionSliders, InterpolationSlider, png_bytes, sweep

IPYWIDGETS_MAJOR = int(widgets.__version__.split(".")[0])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# ipywidgets 7 opens its comms with ipykernel.comm.Comm, which ipykernel >= 6.22 deprecates (8 uses the comm package)
pytestmark = pytest.mark.filterwarnings("ignore:The `ipykernel.comm.Comm` class has been deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(image_size=32, channels=3, nz=100, width=8).eval()


@pytest.fixture(scope="module")
def faces_G():
    """The shipped faces32 generator. The untrained G above draws nearly flat grey images (|x| < 0.002), on
    which lerp's and slerp's midpoints, the same direction at two lengths, give the same PNG."""
    return load_generator("faces32")


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)), dtype=np.float64)


def controls(w):
    return [c for c in w.children if isinstance(c, widgets.ValueWidget)] + [
        c for box in w.children if isinstance(box, widgets.Box) for c in box.children if isinstance(c, widgets.ValueWidget)]


def test_interpolation_slider_redraws_its_one_image(G):
    w = InterpolationSlider(G, seed_a=3, seed_b=4)
    assert all(c.continuous_update is False for c in controls(w) if hasattr(c, "continuous_update"))
    assert w.t.continuous_update is False
    image, start = w.image, w.png
    assert start.startswith(PNG_MAGIC) and start == png_bytes(G, z_from_seed(3)[0])
    w.t.value = 0.5
    assert w.image is image and w.png != start  # the same widget, new bytes
    assert w.png == png_bytes(G, slerp(z_from_seed(3)[0], z_from_seed(4)[0], 0.5))
    assert w.last_redraw_s < 0.5


def test_png_is_bytes_under_ipywidgets_7_and_8(G):
    w = InterpolationSlider(G, seed_a=3, seed_b=4)
    # Image.value is bytes in ipywidgets 7 and a memoryview in 8; equal contents either way, but only bytes has
    # startswith/decode, so the widgets hand out .png (bytes in both)
    assert isinstance(w.image.value, bytes if IPYWIDGETS_MAJOR < 8 else memoryview)
    assert type(w.png) is bytes and w.png.startswith(PNG_MAGIC) and w.png == w.image.value
    assert w.new_pair.tooltip == "the next two seeds"  # Button's own trait in 7, every DOMWidget's in 8


def test_interpolation_slider_follows_its_method(faces_G):
    G, z0, z1 = faces_G, z_from_seed(3)[0], z_from_seed(4)[0]
    lerp_png, slerp_png = png_bytes(G, lerp(z0, z1, 0.5)), png_bytes(G, slerp(z0, z1, 0.5))
    # halfway, lerp's |z| dips to ~7 where slerp's stays ~10: the faces differ by ~5 grey levels per pixel
    assert np.abs(pixels(lerp_png) - pixels(slerp_png)).mean() > 2
    w = InterpolationSlider(G, seed_a=3, seed_b=4, method="lerp")
    assert w.png == png_bytes(G, z0)  # both paths start at z0
    w.t.value = 0.5
    assert w.png == lerp_png
    with pytest.raises(ValueError, match="method must be 'lerp' or 'slerp'"):
        InterpolationSlider(G, method="linear")


def test_new_pair_moves_both_seeds_on(G):
    w = InterpolationSlider(G, seed_a=3, seed_b=4)
    before = w.png
    w.new_pair.click()
    assert (w.seed_a.value, w.seed_b.value) == (5, 6) and w.png != before


def test_direction_sliders_add_their_directions(G):
    d = {"smiling": torch.randn(100, generator=torch.Generator().manual_seed(1)),
         "turn": torch.randn(100, 1, 1, generator=torch.Generator().manual_seed(2))}
    w = DirectionSliders(G, d, seed=7, labeller=lambda im: {"brightness": im.mean((1, 2, 3)).sigmoid()})
    assert all(s.continuous_update is False for s in w.sliders.values())
    start = w.png
    w.sliders["smiling"].value = 1.5
    w.sliders["turn"].value = -0.5
    assert torch.allclose(w.code(), z_from_seed(7)[0] + 1.5 * d["smiling"].reshape(-1, 1, 1) - 0.5 * d["turn"])
    assert w.png != start and w.readout.value.startswith("brightness 0.")
    w.reset.click()
    assert w.png == start and all(s.value == 0 for s in w.sliders.values())


def test_redraw_is_well_under_a_second(G):
    w = DirectionSliders(G, {"a": torch.randn(100)})
    times = []
    for v in (0.3, 0.6, 0.9, 1.2):
        t = time.perf_counter()
        w.sliders["a"].value = v
        times.append(time.perf_counter() - t)
    assert max(times) < 0.5, times


def test_bad_directions_and_sweep(G):
    with pytest.raises(ValueError, match="nz = 100"):
        DirectionSliders(G, {"a": torch.randn(10)})
    with pytest.raises(ValueError, match="at least one direction"):
        DirectionSliders(G, {})
    z, d = z_from_seed(0)[0], torch.ones(100, 1, 1)
    s = sweep(z, d, [-1.0, 0.0, 2.0])
    assert s.shape == (3, 100, 1, 1) and torch.equal(s[1], z) and torch.allclose(s[2] - s[0], 3 * d)
