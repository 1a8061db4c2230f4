"""Probes: pooled D features, the few-label L2-SVM, guided backprop, saliency shares, and dropping G's maps."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
from torch import nn

from dcgan_lib import probes
from dcgan_lib.errors import DCGANError
from dcgan_lib.faces import make_faces
from dcgan_lib.models import Discriminator, Generator, _Named, generate
from dcgan_lib.config import TrainConfig
from dcgan_lib.train import build_models


pytestmark = pytest.mark.usefixtures("one_thread")


def seeded(cls, *args, seed=0, **kwargs):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(*args, **kwargs)


# ------------------------------------------------------------------------------------------- D features


def test_d_features_pool_every_conv_layer_to_4x4_and_concatenate():
    D = seeded(Discriminator, 32, 3, width=8).eval()  # conv1..3: 8, 16, 32 channels at 16, 8, 4 px
    x = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    f = probes.d_features(D, x, batch_size=2)
    assert f.shape == (5, (8 + 16 + 32) * 16)
    assert probes.d_features(D, x, pool=2).shape == (5, (8 + 16 + 32) * 4)
    # the last block is conv3, whose 4x4 map is kept as it is
    with torch.no_grad():
        conv3 = D.features(x.float() / 127.5 - 1, ["conv3"])["conv3"]
    torch.testing.assert_close(f[:, -32 * 16:], conv3.flatten(1))
    with pytest.raises(DCGANError, match="expected images"):
        probes.d_features(D, x[:, :1])


def test_initial_models_rebuild_the_weights_a_run_started_from():
    cfg = TrainConfig(image_size=16, width=8, nz=8, seed=3)
    ckpt = {"config": asdict(cfg), "arch": {"image_size": 16, "channels": 3, "nz": 8, "width": 8}}
    G0, D0 = probes.initial_models(ckpt)
    G, D = build_models(cfg, 3)
    for a, b in zip(D0.state_dict().values(), D.state_dict().values()):
        torch.testing.assert_close(a, b)
    other = probes.initial_models({**ckpt, "config": asdict(TrainConfig(image_size=16, width=8, nz=8, seed=4))})[1]
    assert not torch.equal(other.main[0].weight, D0.main[0].weight)
    assert not D0.training and not G0.training


def test_few_label_svm_separates_a_separable_set_and_not_random_labels():
    g = np.random.default_rng(0)
    centres = g.normal(size=(4, 20)) * 5
    y = np.repeat(np.arange(4), 50)
    x = centres[y] + g.normal(size=(200, 20))
    acc = probes.few_label_accuracy(x[::2], y[::2], x[1::2], y[1::2], per_class=5, draws=3, seed=0)
    assert acc.shape == (3,) and acc.min() > 0.95
    shuffled = g.permutation(y)  # labels unrelated to the features: about 1/4
    acc = probes.few_label_accuracy(x[::2], shuffled[::2], x[1::2], shuffled[1::2], per_class=10, draws=3, seed=0)
    assert acc.mean() < 0.5
    again = probes.few_label_accuracy(x[::2], shuffled[::2], x[1::2], shuffled[1::2], per_class=10, draws=3, seed=0)
    np.testing.assert_array_equal(acc, again)  # same seed, same draws
    with pytest.raises(DCGANError, match="per_class"):
        probes.few_label_accuracy(x[::2], y[::2], x[1::2], y[1::2], per_class=26)


# ------------------------------------------------------------------------------------------ guided backprop


class Toy(_Named):
    """x -> LeakyReLU -> 1x1 conv with weight w: a layer `top` whose gradient sign we choose."""

    def __init__(self, w: float):
        super().__init__()
        conv = nn.Conv2d(1, 1, 1, bias=False)
        conv.weight.data.fill_(w)
        self.main = nn.Sequential(nn.LeakyReLU(0.2, inplace=True), conv)
        self.layer_ends = {"top": 1}


def test_guided_backprop_zeroes_negative_gradients_and_paths_through_negative_inputs():
    x = torch.randn(2, 1, 6, 6)
    up = probes.guided_backprop(Toy(1.0), x, "top")
    torch.testing.assert_close(up, (x > 0).float())  # plain backprop would give 0.2 where x < 0
    down = probes.guided_backprop(Toy(-1.0), x, "top")
    assert torch.count_nonzero(down) == 0  # the gradient reaching the LeakyReLU is -1: cut
    plain = x.clone().requires_grad_(True)
    Toy(-1.0)(plain * 1).sum().backward()  # * 1: the in-place LeakyReLU must not overwrite the leaf
    assert torch.count_nonzero(plain.grad) == 36 * 2  # ...where plain backprop passes -1 and -0.2


def test_guided_backprop_concentrates_where_the_unit_looks_and_restores_the_model():
    # conv1 units sum a 3x3 window; a bright 3x3 blob in the corner makes position (0, 0) the maximal
    # response, and the guided map must stay inside that unit's window (within the 4x4 corner patch)
    D = seeded(Discriminator, 16, 1, width=4).eval()
    patch = torch.zeros(16, 16, dtype=torch.bool)
    patch[:4, :4] = True
    with torch.no_grad():
        D.main[0].weight.zero_()
        D.main[0].weight[:, :, 1:, 1:] = 0.5  # conv1 output (0, 0) reads pixels 0..2 x 0..2 (padding 1)
    x = torch.rand(3, 1, 16, 16, generator=torch.Generator().manual_seed(0)) * 0.1
    x[:, :, :3, :3] = 1.0
    g = probes.guided_backprop(D, x, "conv1", unit=0)
    inside = probes.saliency_inside(g, patch.expand(3, 16, 16))
    assert g.abs().sum() > 0 and torch.all(inside > 0.99)
    chance = probes.saliency_inside(torch.ones(3, 16, 16), patch.expand(3, 16, 16))
    torch.testing.assert_close(chance, torch.full((3,), 16 / 256))
    assert all(m.inplace for m in D.modules() if isinstance(m, nn.LeakyReLU))  # hooks removed, in-place restored
    assert not D.main[1]._forward_hooks and not D.main[1]._backward_hooks
    with pytest.raises(DCGANError, match="unknown layer"):
        probes.guided_backprop(D, x, "conv9")


def test_saliency_inside_on_constructed_maps():
    mask = torch.zeros(2, 4, 4, dtype=torch.bool)
    mask[:, :2] = True  # top half
    s = torch.zeros(2, 4, 4)
    s[0, 0, 0] = 3.0  # all inside
    s[1, 0, 0], s[1, 3, 3] = 1.0, 3.0  # a quarter inside
    torch.testing.assert_close(probes.saliency_inside(s, mask), torch.tensor([1.0, 0.25]))
    grad = torch.zeros(2, 3, 4, 4)
    grad[:, 0, 0, 0], grad[:, 1, 3, 0] = -2.0, 2.0  # signs do not matter for a gradient: |g|
    torch.testing.assert_close(probes.saliency_inside(grad, mask), torch.tensor([0.5, 0.5]))
    with pytest.raises(DCGANError, match="non-negative"):
        probes.saliency_inside(-s, mask)
    with pytest.raises(DCGANError, match="must match"):
        probes.saliency_inside(s, mask[:, :2])


# ------------------------------------------------------------------------------------- forgetting to draw


def test_cells_in_boxes_uses_cell_centres():
    inside = probes.cells_in_boxes(torch.tensor([[0.0, 0.0, 16.0, 16.0], [17.0, 0.0, 32.0, 8.0]]), 4, 32)
    assert inside.shape == (2, 4, 4)
    assert inside[0, :2, :2].all() and inside[0].sum() == 4  # centres 4 and 12 inside, 20 and 28 outside
    assert inside[1, 0, 2:].all() and inside[1].sum() == 2


def test_map_weights_find_the_channel_that_fires_inside_the_boxes():
    g = torch.Generator().manual_seed(0)
    inside = torch.zeros(20, 8, 8, dtype=torch.bool)
    inside[:, 2:4, 3:6] = True
    maps = torch.rand(20, 3, 8, 8, generator=g)
    maps[:, 0] += 2 * inside  # fires on the object
    maps[:, 2] += 2 * ~inside  # fires everywhere else
    w = probes.map_weights(maps, inside)
    assert w[0] > 0 > w[2] and abs(w[1]) < w[0] / 5
    with pytest.raises(DCGANError, match="nothing to contrast"):
        probes.map_weights(maps, torch.zeros_like(inside))


def test_maps_to_drop_thresholds_the_weights():
    G = seeded(Generator, 16, 3, nz=8, width=8).eval()
    z = torch.randn(30, 8, generator=torch.Generator().manual_seed(1))
    boxes = torch.tensor([[2.0, 2.0, 10.0, 8.0]]).expand(30, 4)
    drop, w = probes.maps_to_drop(G, z, boxes, "block1")  # 16 maps of 4x4, 6 cells in the box
    assert w.shape == (16,) and drop.tolist() == np.flatnonzero(w > 0).tolist() and 0 < len(drop) < 16
    top, _ = probes.maps_to_drop(G, z, boxes, "block1", threshold=1.0)
    assert len(top) == 0  # nothing beats the largest weight
    with pytest.raises(DCGANError, match="hidden layer"):
        probes.maps_to_drop(G, z, boxes, "image")


def test_drop_maps_zeroes_only_the_dropped_channels():
    G = seeded(Generator, 16, 3, nz=8, width=8).eval()
    z = torch.randn(4, 8, 1, 1, generator=torch.Generator().manual_seed(2))
    seen = {}

    def capture(name, edit):
        def f(h):
            seen[name] = h.clone()
            out = edit(h)
            seen[name + "_edited"] = out.clone()
            return out
        return f

    with torch.no_grad():
        plain = G(z)
        dropped = G(z, edits={"block1": capture("b", probes.drop_maps([1, 5]))})
        same = G(z, edits={"block1": probes.drop_maps([])})
    h, e = seen["b"], seen["b_edited"]
    assert torch.count_nonzero(e[:, [1, 5]]) == 0 and torch.count_nonzero(h[:, [1, 5]]) > 0
    keep = [c for c in range(h.shape[1]) if c not in (1, 5)]
    torch.testing.assert_close(e[:, keep], h[:, keep])
    torch.testing.assert_close(same, plain)
    assert not torch.allclose(dropped, plain)
    with pytest.raises(DCGANError, match="cannot drop channel"):
        probes.drop_maps([99])(h)


def test_fill_maps_puts_the_average_map_in_place_of_the_chosen_channels():
    G = seeded(Generator, 16, 3, nz=8, width=8).eval()
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(3))
    ref = probes.average_maps(G, z[:4], "block1")  # (C, 4, 4)
    maps = probes.hidden_maps(G, z, "block1")
    assert ref.shape == maps.shape[1:] and torch.allclose(ref, maps[:4].mean(0))
    h = maps[4:]
    filled = probes.fill_maps([0, 3], ref)(h)
    torch.testing.assert_close(filled[:, [0, 3]], ref[[0, 3]].expand(2, -1, -1, -1))  # the same for every code
    keep = [c for c in range(h.shape[1]) if c not in (0, 3)]
    torch.testing.assert_close(filled[:, keep], h[:, keep])
    per_channel = probes.fill_maps([2], torch.arange(16.0))(h)
    assert (per_channel[:, 2] == 2.0).all()
    torch.testing.assert_close(probes.fill_maps([1], 0.0)(h), probes.drop_maps([1])(h))
    with pytest.raises(DCGANError, match="average_maps on the same layer"):
        probes.fill_maps([0], torch.zeros(16, 8, 8))(h)  # a map of another layer's size
    with pytest.raises(DCGANError, match="hidden layer"):
        probes.average_maps(G, z, "image")
    with pytest.raises(DCGANError, match="at least one code"):
        probes.average_maps(G, z[:0], "block1")


def test_drop_edits_zero_or_fill_with_the_reference_average():
    G = seeded(Generator, 16, 3, nz=8, width=8).eval()
    z = torch.randn(6, 8, 1, 1, generator=torch.Generator().manual_seed(5))
    h = probes.hidden_maps(G, z[4:], "block1")
    zero = probes.drop_edits(G, "block1", [1, 2])
    assert list(zero) == ["block1"]
    torch.testing.assert_close(zero["block1"](h), probes.drop_maps([1, 2])(h))
    avg = probes.drop_edits(G, "block1", [1, 2], "average", z[:4])
    torch.testing.assert_close(avg["block1"](h), probes.fill_maps([1, 2], probes.average_maps(G, z[:4], "block1"))(h))
    with torch.no_grad():
        assert not torch.allclose(generate(G, z, edits=avg), generate(G, z))
    with pytest.raises(DCGANError, match="fill must be"):
        probes.drop_edits(G, "block1", [1], "mean", z)
    with pytest.raises(DCGANError, match="needs reference codes"):
        probes.drop_edits(G, "block1", [1], "average")
    with pytest.raises(DCGANError, match="hidden layer"):
        probes.drop_edits(G, "image", [1])


class BrightReader:
    """A stand-in classifier: a sample 'shows' the object when it is brighter than the median sample."""

    def predict(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        m = x.flatten(1).mean(1)
        return {"eyeglasses": (m > m.median()).float(), "never": torch.zeros(len(x)), "hair": torch.zeros(len(x), 5)}


class MeanBox:
    """A stand-in box regressor whose 'box' is the image's mean pixel, so each box can be traced to its image."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.repeat(X.mean(1, keepdims=True), 4, 1)


def test_find_objects_keeps_the_samples_the_classifier_reads_and_boxes_them():
    G = seeded(Generator, 16, 3, nz=8, width=8).eval()
    z = torch.randn(12, 8, 1, 1, generator=torch.Generator().manual_seed(4))
    found = probes.find_objects(G, z, BrightReader(), MeanBox())
    with torch.no_grad():
        x = generate(G, z)
    m = x.flatten(1).mean(1)
    shown = m > m.median()
    assert found.shown.tolist() == shown.tolist() and 0 < int(shown.sum()) < 12
    torch.testing.assert_close(found.z, z[shown])
    torch.testing.assert_close(found.z_without, z[~shown])
    torch.testing.assert_close(found.images, x[shown])
    assert found.boxes.shape == (int(shown.sum()), 4)
    torch.testing.assert_close(found.boxes[:, 0], m[shown])
    with pytest.raises(DCGANError, match="none of the 12 samples"):
        probes.find_objects(G, z, BrightReader(), MeanBox(), attribute="never")
    with pytest.raises(DCGANError, match="no binary attribute"):
        probes.find_objects(G, z, BrightReader(), MeanBox(), attribute="hair")


def test_box_regressor_finds_glasses_on_new_faces():
    from torchvision.ops import box_iou

    train, test = make_faces(400, 32, seed=11, eyeglasses=True), make_faces(100, 32, seed=12, eyeglasses=True)
    reg = probes.fit_box_regressor(train.images, train.boxes["glasses"])
    pred = probes.predict_boxes(reg, test.images)
    assert pred.shape == (100, 4)
    assert box_iou(pred, test.boxes["glasses"]).diag().mean() > 0.8
    with pytest.raises(DCGANError, match="one .* box per image"):
        probes.fit_box_regressor(train.images, train.boxes["glasses"][:10])


def test_few_label_accuracy_standardises_with_the_labelled_set_alone():
    """The test set's statistics must not leak into the scaling: here the test features are shifted, so scaling
    them by the labelled set's mean puts every test point on class 1's side (accuracy 1/2), while scaling with
    the test set's own mean (or the two sets together) would undo the shift and score near 1."""
    g = np.random.default_rng(0)
    y_train, y_test = np.repeat([0, 1], 200), np.repeat([0, 1], 400)
    x_train = np.c_[2.0 * y_train - 1 + 0.3 * g.standard_normal(400), g.standard_normal((400, 3))]
    x_test = np.c_[2.0 * y_test - 1 + 0.3 * g.standard_normal(800) + 3.0, g.standard_normal((800, 3))]
    acc = probes.few_label_accuracy(x_train, y_train, x_test, y_test, per_class=20, draws=3)
    assert np.all(acc < 0.6), f"accuracy {acc}: the test set's own statistics were used to standardise it"
    unshifted = probes.few_label_accuracy(x_train, y_train, x_test - [3.0, 0, 0, 0], y_test, per_class=20, draws=3)
    assert np.all(unshifted > 0.95), unshifted  # the same classifier, without the shift, separates the classes
