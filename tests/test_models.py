"""The generator and discriminator follow the paper's guidelines and the PyTorch tutorial's layout."""

import pytest
import torch
from torch import nn

from dcgan_lib.images import SIZES
from dcgan_lib.models import Discriminator, Generator, count_parameters, generate


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_for_every_size(size, channels):
    G, D = Generator(size, channels, nz=16, width=8), Discriminator(size, channels, width=8)
    z = torch.randn(3, 16, 1, 1)
    x = G(z)
    assert x.shape == (3, channels, size, size)
    assert isinstance(G.main[-1], nn.Tanh) and torch.equal(x, torch.tanh(G.main[:-1](z)))  # images come out of a tanh
    assert D(x).shape == (3,)


@pytest.mark.parametrize("bad", [0, 8, 24, 48, 100, 256])
def test_bad_size_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match=f"power of two between 16 and 128.*got {bad}"):
        Generator(bad)
    with pytest.raises(ValueError, match="power of two"):
        Discriminator(bad)


def test_standard_64_parameter_counts_match_the_pytorch_tutorial():
    assert count_parameters(Generator(64, 3, 100, 64)) == 3_576_704
    assert count_parameters(Discriminator(64, 3, 64)) == 2_765_568


@pytest.mark.parametrize("size", SIZES)
def test_guidelines(size):
    G, D = Generator(size), Discriminator(size)
    g, d = list(G.main), list(D.main)
    # no pooling, no fully connected layers anywhere
    for m in list(G.modules()) + list(D.modules()):
        assert not isinstance(m, (nn.Linear, nn.MaxPool2d, nn.AvgPool2d))
    convs_g = [m for m in g if isinstance(m, nn.ConvTranspose2d)]
    convs_d = [m for m in d if isinstance(m, nn.Conv2d)]
    assert all(m.stride == (2, 2) for m in convs_g[1:]) and all(m.stride == (2, 2) for m in convs_d[:-1])
    assert all(m.bias is None for m in convs_g + convs_d)  # bias-free before BatchNorm
    # G: BatchNorm + ReLU after every hidden layer, tanh and no BatchNorm at the output
    assert isinstance(g[-1], nn.Tanh) and isinstance(g[-2], nn.ConvTranspose2d)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g) == len(convs_g) - 1
    assert sum(isinstance(m, nn.ReLU) for m in g) == len(convs_g) - 1
    # D: no BatchNorm on the input layer, LeakyReLU(0.2), logits out (no sigmoid)
    assert isinstance(d[1], nn.LeakyReLU) and not isinstance(d[1], nn.BatchNorm2d)
    assert all(m.negative_slope == 0.2 for m in d if isinstance(m, nn.LeakyReLU))
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d) == len(convs_d) - 2
    assert not any(isinstance(m, nn.Sigmoid) for m in d)
    assert not any(isinstance(m, nn.ReLU) for m in d)


def test_initialisation_follows_the_paper():
    torch.manual_seed(0)
    G = Generator(64)
    w = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    assert abs(w.mean()) < 1e-3 and abs(w.std() - 0.02) < 1e-3
    bn = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    gamma = torch.cat([m.weight for m in bn])
    assert abs(gamma.mean() - 1) < 5e-3 and abs(gamma.std() - 0.02) < 5e-3
    assert all(torch.all(m.bias == 0) for m in bn)


def test_named_features_and_edits():
    G, D = Generator(32, width=8), Discriminator(32, width=8)
    z = torch.randn(2, 100, 1, 1)
    feats = G.features(z)
    assert list(feats) == ["block1", "block2", "block3", "image"]
    assert feats["block1"].shape == (2, 32, 4, 4) and feats["block3"].shape == (2, 8, 16, 16)
    G.eval()
    assert torch.allclose(G.features(z)["image"], G(z))
    # an edit that zeroes a block's maps changes the image; the identity edit does not
    assert torch.allclose(G(z, edits={"block2": lambda h: h}), G(z))
    assert not torch.allclose(G(z, edits={"block2": torch.zeros_like}), G(z))
    d = D.features(G(z))
    assert list(d) == ["conv1", "conv2", "conv3", "logit"]
    assert d["conv3"].shape == (2, 32, 4, 4)
    assert list(D.features(G(z), ["conv2"])) == ["conv2"]
    with pytest.raises(KeyError, match="choose from"):
        D.features(G(z), ["fc7"])


def test_generate_states_its_batchnorm_mode():
    torch.manual_seed(0)
    G = Generator(16, width=8)
    G.train()
    for _ in range(3):  # give the running statistics something to hold
        G(torch.randn(16, 100, 1, 1))
    running = [m.running_mean.clone() for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    z = torch.randn(4, 100, 1, 1)
    eval_imgs = generate(G, z)
    # running statistics: an image depends only on its own z
    assert torch.allclose(generate(G, z[:1]), eval_imgs[:1], atol=1e-6)
    # batch statistics: the same z gives a different image in a different batch
    batch_imgs = generate(G, z, train_bn=True)
    assert not torch.allclose(batch_imgs, eval_imgs, atol=1e-3)
    assert not torch.allclose(generate(G, z[:2], train_bn=True)[:1], batch_imgs[:1], atol=1e-4)
    # neither mode changes the running averages or the module's mode
    after = [m.running_mean for m in G.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(running, after))
    assert G.training


# The reference: the networks exactly as the PyTorch DCGAN tutorial defines them.
class TutorialG(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, x):
        return self.main(x)


class TutorialD(nn.Module):
    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.main(x)


def test_init_weights_covers_the_fully_connected_layers_of_the_ablations():
    from torch import nn

    from dcgan_lib.models import init_weights

    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(400, 300), nn.BatchNorm1d(300))
    init_weights(m)
    assert abs(m[0].weight.std().item() - 0.02) < 0.002 and torch.all(m[0].bias == 0)
    assert abs(m[1].weight.mean().item() - 1.0) < 0.01 and m[1].weight.std().item() < 0.03


def test_generate_and_features_explain_wrong_input():
    G = Generator(16, 3, 16, 8)
    with pytest.raises(ValueError, match="nz=16"):
        generate(G, torch.randn(4, 50))
    with pytest.raises(ValueError, match="nz=16"):
        generate(G, torch.randn(16))  # one code without its batch dimension
    z = torch.randn(2, 16, 1, 1)
    assert list(G.features(z, "block1")) == ["block1"] and G.features(z, []) == {}


def test_forward_numel_counts_layer_outputs_without_changing_the_model():
    from dcgan_lib.models import forward_numel

    G = Generator(16, 3, 8, 4).train()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    n = forward_numel(G, torch.randn(1, 8, 1, 1))
    # width 4 at 16x16: (2w, 4, 4) three times (conv, BN, ReLU), (w, 8, 8) three times, (3, 16, 16) twice (conv, tanh)
    assert n == 3 * 8 * 16 + 3 * 4 * 64 + 2 * 3 * 256
    with torch.device("meta"):
        assert forward_numel(Generator(16, 3, 8, 4), torch.zeros(1, 8, 1, 1)) == n  # nothing computed there
    assert G.training and all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
