"""The guideline tools of notebook 02: transposed-convolution arithmetic, layer tables and the ablation variants."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib import checkpoint
from dcgan_lib.ablations import format_ablation_table, train_and_evaluate
from dcgan_lib.architecture import (VARIANTS, build_variant, conv_output_size, conv_transpose_by_zero_insertion,
                                    conv_transpose_output_size, format_layer_table, layer_table, overlap_counts,
                                    phase_means, zero_insert)
from dcgan_lib.models import Discriminator, Generator, count_parameters, generate
from dcgan_lib.train import train


def _build(name, size=16, channels=3, nz=8, width=8, seed=0):
    torch.manual_seed(seed)
    return build_variant(name, size, channels, nz, width)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("size", [16, 32])
def test_every_variant_builds_with_the_right_shapes(name, size):
    G, D = _build(name, size, channels=3, nz=8, width=8)
    for m in (G, D):
        assert m.variant == name and m.image_size == size and m.channels == 3 and m.width == 8
    assert G.nz == 8
    z = torch.randn(4, 8, 1, 1)
    x = G(z)
    assert x.shape == (4, 3, size, size)
    assert isinstance(G.main[-1], nn.Tanh) and torch.equal(x, torch.tanh(G.main[:-1](z)))  # images come out of a tanh
    assert D(x).shape == (4,)
    assert generate(G, z).shape == (4, 3, size, size)  # running-statistics mode works too
    # the named layers still end where the features say, input side first, image/logit last
    assert G.layer_names[-1] == "image" and D.layer_names[-1] == "logit"
    assert G.features(z)["image"].shape == x.shape
    assert D.features(x)["logit"].numel() == 4


def test_paper_initialisation():
    for name in VARIANTS:
        G, D = _build(name, 32, width=16)
        for m in list(G.modules()) + list(D.modules()):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) and m.weight.numel() > 500:
                assert abs(m.weight.std().item() - 0.02) < 0.004, (name, m)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.weight.numel() > 10:
                assert abs(m.weight.mean().item() - 1.0) < 0.02 and m.bias.abs().max() == 0, (name, m)


def test_the_baseline_is_the_course_model_and_variants_share_its_weights():
    G, D = _build("dcgan")
    torch.manual_seed(0)
    G0, D0 = Generator(16, 3, 8, 8), Discriminator(16, 3, 8)
    assert G.layer_ends == G0.layer_ends and D.layer_ends == D0.layer_ends
    for a, b in ((G, G0), (D, D0)):
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)
    # same seed: a variant's unchanged or rebuilt-but-same-shape convolutions start from the baseline's weights
    for name in ("maxpool-d", "no-batchnorm", "relu-d"):
        _, Dv = _build(name)
        wv = [m.weight for m in Dv.modules() if isinstance(m, nn.Conv2d)]
        w0 = [m.weight for m in D0.modules() if isinstance(m, nn.Conv2d)]
        assert all(torch.equal(a, b) for a, b in zip(wv, w0, strict=True)), name


def test_each_variant_breaks_its_guideline_and_only_that():
    def has(model, kind):
        return any(isinstance(m, kind) for m in model.modules())

    G, D = _build("maxpool-d")
    assert has(D, nn.MaxPool2d) and all(m.stride == (1, 1) for m in D.modules() if isinstance(m, nn.Conv2d))
    assert not has(G, nn.MaxPool2d)
    G, D = _build("no-batchnorm")
    assert not has(G, nn.modules.batchnorm._BatchNorm) and not has(D, nn.modules.batchnorm._BatchNorm)
    # convolutions that lost their BatchNorm get a bias back (D's first conv and the output layers never had one)
    assert all(m.bias is not None for m in list(G.main)[:-2] + list(D.main)[1:-1] if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))
    G, D = _build("batchnorm-all")
    assert isinstance(G.main[-2], nn.BatchNorm2d) and isinstance(G.main[-1], nn.Tanh)
    assert isinstance(D.main[0], nn.Conv2d) and isinstance(D.main[1], nn.BatchNorm2d)
    G, D = _build("fc-hidden")
    assert has(G, nn.Linear) and has(D, nn.Linear) and "fc" in G.layer_names and "fc" in D.layer_names
    G, D = _build("relu-d")
    assert not has(D, nn.LeakyReLU) and has(D, nn.ReLU)
    assert sum(isinstance(m, nn.ReLU) for m in D.modules()) == sum(isinstance(m, nn.LeakyReLU) for m in _build("dcgan")[1].modules())


def test_unknown_variant_is_a_clear_error(tiny_config, tiny_data):
    with pytest.raises(ValueError, match=r"unknown architecture variant 'pooling'.*dcgan, maxpool-d"):
        build_variant("pooling", 32)
    tiny_config.variant = "pooling"
    with pytest.raises(ValueError, match="choose one of"):
        train(tiny_config, data=tiny_data)


@pytest.mark.parametrize("name", [v for v in VARIANTS if v != "dcgan"])
def test_variant_trains_and_round_trips_through_a_checkpoint(name, tiny_config, tiny_data):
    tiny_config.variant, tiny_config.epochs = name, 1
    state = train(tiny_config, data=tiny_data)
    assert state.step == 6 and all(torch.isfinite(p).all() for p in state.G.parameters())
    ckpt = checkpoint.load(tiny_config.out)
    assert ckpt["arch"]["variant"] == name
    G, D = checkpoint.load_generator(tiny_config.out), checkpoint.load_discriminator(tiny_config.out)
    assert G.variant == D.variant == name
    z = torch.randn(5, 8)
    assert torch.allclose(generate(G, z), generate(state.G, z), atol=1e-6)
    x = generate(G, z)
    state.D.eval()
    with torch.no_grad():
        assert torch.allclose(D(x), state.D(x), atol=1e-6)
    # resuming asks for the same variant
    tiny_config.variant = "dcgan"
    with pytest.raises(Exception, match="variant"):
        train(tiny_config, resume=True, data=tiny_data)


@pytest.mark.parametrize("stride,padding,kernel", [(2, 1, 4), (1, 0, 4), (2, 0, 3), (3, 2, 5), (2, 1, 3)])
def test_zero_insertion_equals_conv_transpose(stride, padding, kernel):
    torch.manual_seed(0)
    layer = nn.ConvTranspose2d(5, 3, kernel, stride, padding, bias=False)
    x = torch.randn(2, 5, 7, 7)
    with torch.no_grad():
        expected = layer(x)
        got = conv_transpose_by_zero_insertion(x, layer.weight, stride, padding)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5)


def test_zero_insert_and_bad_padding():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    assert zero_insert(x, 2)[0, 0].tolist() == [[0, 0, 1], [0, 0, 0], [2, 0, 3]]
    with pytest.raises(ValueError, match="padding"):
        conv_transpose_by_zero_insertion(x, torch.ones(1, 1, 3, 3), 2, padding=3)


@pytest.mark.parametrize("n,k,s,p", [(1, 4, 1, 0), (4, 4, 2, 1), (16, 4, 2, 1), (5, 3, 2, 1), (7, 5, 3, 2)])
def test_output_size_formulas(n, k, s, p):
    x = torch.zeros(1, 1, n, n)
    assert conv_transpose_output_size(n, k, s, p) == F.conv_transpose2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
    if n + 2 * p >= k:
        assert conv_output_size(n, k, s, p) == F.conv2d(x, torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]


def test_overlap_counts_show_the_checkerboard():
    inner3 = overlap_counts(3, 2, 8)[3:-3, 3:-3]
    inner4 = overlap_counts(4, 2, 8)[3:-3, 3:-3]
    assert set(inner3.unique().tolist()) == {1.0, 2.0, 4.0}  # kernel 3, stride 2: uneven overlap
    assert inner4.unique().tolist() == [4.0]  # kernel 4, stride 2: every pixel gets 2 x 2 taps


def test_layer_table_of_the_64x64_models_matches_the_parameter_counts():
    G, D = Generator(64, 3, 100, 64), Discriminator(64, 3, 64)
    rows_g = layer_table(G, torch.randn(1, 100, 1, 1))
    rows_d = layer_table(D, torch.randn(1, 3, 64, 64))
    assert sum(r["params"] for r in rows_g) == count_parameters(G) == 3_576_704
    assert sum(r["params"] for r in rows_d) == count_parameters(D) == 2_765_568
    assert rows_g[0]["shape"] == (512, 4, 4) and rows_g[-1]["shape"] == (3, 64, 64)
    assert [r["shape"] for r in rows_g if r["type"] == "ConvTranspose2d"] == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]
    assert rows_d[-1]["shape"] == (1, 1, 1) and rows_d[-1]["layer"] == "logit" and rows_g[2]["layer"] == "block1"
    assert "3,576,704" in format_layer_table(rows_g, (100, 1, 1))


@pytest.mark.parametrize("name", list(VARIANTS))
def test_layer_table_totals_for_every_variant(name):
    G, D = _build(name, 32, nz=16, width=8)
    assert sum(r["params"] for r in layer_table(G, torch.randn(2, 16, 1, 1))) == count_parameters(G)
    assert sum(r["params"] for r in layer_table(D, torch.randn(2, 3, 32, 32))) == count_parameters(D)
    assert G.training and D.training  # the table leaves the mode as it found it


def test_train_and_evaluate_gives_one_row():
    from dcgan_lib.data import load_data

    data = load_data("faces", 16, 256, seed=0)
    G, row = train_and_evaluate("relu-d", data, epochs=1, width=8, nz=16, eval_n=100, device="cpu")
    assert row["variant"] == "relu-d" and row["steps"] == 2 and row["params_G"] == count_parameters(G)
    assert {"gap_closed", "fd", "smiling", "eyeglasses", "long_hair", "turn_std", "D_x", "D_G_z"} <= set(row)
    text = format_ablation_table([row], {"smiling": 0.5})
    assert "relu-d" in text and "the data" in text and "train s" in text
    assert "train s" not in format_ablation_table([row], {"smiling": 0.5}, times=False)
    with pytest.raises(ValueError, match="unknown architecture variant"):
        train_and_evaluate("nope", data)


def test_phase_means_tell_a_checkerboard_from_an_even_output():
    torch.manual_seed(0)
    flat = torch.ones(1, 1, 8, 8)
    odd = F.conv_transpose2d(flat, torch.ones(1, 1, 3, 3), stride=2, padding=1)
    even = F.conv_transpose2d(flat, torch.ones(1, 1, 4, 4), stride=2, padding=1)
    assert phase_means(odd).tolist() == [[1.0, 2.0], [2.0, 4.0]]
    assert phase_means(even).unique().tolist() == [4.0]
    resize = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(1, 1, 3, 1, 1, bias=False))
    with torch.no_grad():
        m = phase_means(resize(flat))
    assert torch.allclose(m, m[0, 0].expand(2, 2), atol=1e-6)  # any weights: no periodic pattern inside
    with pytest.raises(ValueError, match="multiple of stride"):
        phase_means(odd, 2, border=1)


def test_layer_table_leaves_the_mode_as_it_was_even_when_the_forward_fails():
    G = Generator(16, 3, 16, 8).train()
    with pytest.raises(RuntimeError):
        layer_table(G, torch.randn(2, 7, 1, 1))  # 7 channels into a G that takes nz = 16
    assert G.training and not any(m._forward_hooks for m in G.modules())
