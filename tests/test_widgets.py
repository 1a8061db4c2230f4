"""Latent sliders, tested headlessly: build them, move a control, check the one image changed, fast."""

import time

import ipywidgets as widgets
import pytest
import torch

from dcgan_lib.latent import slerp, z_from_seed
from dcgan_lib.models import Generator
from dcgan_lib.widgets import DirectionSliders, InterpolationSlider, png_bytes, sweep


@pytest.fixture(scope="module")
def G():
    torch.manual_seed(0)
    return Generator(image_size=32, channels=3, nz=100, width=8).eval()


def controls(w):
    return [c for c in w.children if isinstance(c, widgets.ValueWidget)] + [
        c for box in w.children if isinstance(box, widgets.Box) for c in box.children if isinstance(c, widgets.ValueWidget)]


def test_interpolation_slider_redraws_its_one_image(G):
    w = InterpolationSlider(G, seed_a=3, seed_b=4)
    assert all(c.continuous_update is False for c in controls(w) if hasattr(c, "continuous_update"))
    assert w.t.continuous_update is False
    image, start = w.image, w.image.value
    assert start[:8] == b"\x89PNG\r\n\x1a\n" and start == png_bytes(G, z_from_seed(3)[0])
    w.t.value = 0.5
    assert w.image is image and w.image.value != start  # the same widget, new bytes
    assert w.image.value == png_bytes(G, slerp(z_from_seed(3)[0], z_from_seed(4)[0], 0.5))
    assert w.last_redraw_s < 0.5


def test_new_pair_moves_both_seeds_on(G):
    w = InterpolationSlider(G, seed_a=3, seed_b=4)
    before = w.image.value
    w.new_pair.click()
    assert (w.seed_a.value, w.seed_b.value) == (5, 6) and w.image.value != before


def test_direction_sliders_add_their_directions(G):
    d = {"smiling": torch.randn(100, generator=torch.Generator().manual_seed(1)),
         "turn": torch.randn(100, 1, 1, generator=torch.Generator().manual_seed(2))}
    w = DirectionSliders(G, d, seed=7, labeller=lambda im: {"brightness": im.mean((1, 2, 3)).sigmoid()})
    assert all(s.continuous_update is False for s in w.sliders.values())
    start = w.image.value
    w.sliders["smiling"].value = 1.5
    w.sliders["turn"].value = -0.5
    assert torch.allclose(w.code(), z_from_seed(7)[0] + 1.5 * d["smiling"].reshape(-1, 1, 1) - 0.5 * d["turn"])
    assert w.image.value != start and w.readout.value.startswith("brightness 0.")
    w.reset.click()
    assert w.image.value == start and all(s.value == 0 for s in w.sliders.values())


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
