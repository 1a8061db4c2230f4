"""DCGAN generator and discriminator, built from the paper's architecture guidelines.

The layer layout (one `nn.Sequential` called `main`) is exactly the PyTorch DCGAN tutorial's, so its
`netG.pth`/`netD.pth` (keys `main.N.weight`) load as they are (`checkpoint.load_generator` reads them); the only
difference is that our D returns logits: the tutorial's final Sigmoid has no weights, and `BCEWithLogitsLoss`
is numerically safer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager

import torch
from torch import nn

from .images import check_image_size

Edit = Callable[[torch.Tensor], torch.Tensor]


def n_scales(image_size: int) -> int:
    """Number of stride-2 layers between a 4x4 map and the image (64 -> 4)."""
    return check_image_size(image_size).bit_length() - 3


class _Named(nn.Module):
    """A `main` Sequential whose activations can be read or edited by name."""

    main: nn.Sequential
    layer_ends: dict[str, int]  # layer name -> index in `main` of the module that ends it

    @property
    def layer_names(self) -> list[str]:
        """Names of the layers whose outputs `features` returns, input side first."""
        return list(self.layer_ends)

    def forward(self, x: torch.Tensor, edits: dict[str, Edit] | None = None) -> torch.Tensor:
        """Run the net; `edits` maps a layer name to a function applied to that layer's output."""
        if not edits:
            return self.main(x)
        unknown = set(edits) - set(self.layer_ends)
        if unknown:
            raise KeyError(f"unknown layer(s) {sorted(unknown)}; choose from {self.layer_names}")
        at = {i: edits[name] for name, i in self.layer_ends.items() if name in edits}
        for i, module in enumerate(self.main):
            x = module(x)
            if i in at:
                x = at[i](x)
        return x

    def features(self, x: torch.Tensor, layers: Iterable[str] | None = None) -> dict[str, torch.Tensor]:
        """Outputs of the named layers (all by default) for input `x`, in network order."""
        if isinstance(layers, str):  # features(x, "block1") means one layer, not five letters
            layers = [layers]
        wanted = set(self.layer_names if layers is None else layers)
        unknown = wanted - set(self.layer_ends)
        if unknown:
            raise KeyError(f"unknown layer(s) {sorted(unknown)}; choose from {self.layer_names}")
        if not wanted:
            return {}
        last = max(self.layer_ends[n] for n in wanted)
        ends = {i: n for n, i in self.layer_ends.items() if n in wanted}
        out = {}
        for i, module in enumerate(self.main):
            x = module(x)
            if i in ends:
                out[ends[i]] = x
            if i == last:
                break
        return out


class Generator(_Named):
    """z (B, nz, 1, 1) -> image (B, channels, S, S) in [-1, 1].

    Fractional-strided convolutions double the size at each step (no pooling, no fully connected
    layer), BatchNorm + ReLU in every hidden layer, tanh and no BatchNorm at the output.
    Layers are named `block1` (4x4) ... `blockK` and `image`.
    """

    def __init__(self, image_size: int = 64, channels: int = 3, nz: int = 100, width: int = 64):
        super().__init__()
        self.image_size, self.channels, self.nz, self.width = image_size, channels, nz, width
        k = n_scales(image_size)
        mult = [2 ** (k - 1 - i) for i in range(k)]  # 64x64: 8, 4, 2, 1 times `width`
        layers: list[nn.Module] = [
            # (B, nz, 1, 1) -> (B, width*mult[0], 4, 4): a "project and reshape" done as a convolution
            nn.ConvTranspose2d(nz, width * mult[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(width * mult[0]),
            nn.ReLU(True),
        ]
        for a, b in zip(mult, mult[1:]):
            # (B, width*a, s, s) -> (B, width*b, 2s, 2s); bias is redundant before BatchNorm
            layers += [nn.ConvTranspose2d(width * a, width * b, 4, 2, 1, bias=False), nn.BatchNorm2d(width * b), nn.ReLU(True)]
        # (B, width, S/2, S/2) -> (B, channels, S, S); no BatchNorm on the output layer
        layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        self.layer_ends = {f"block{i + 1}": 3 * i + 2 for i in range(k)}
        self.layer_ends["image"] = len(layers) - 1
        init_weights(self)


class Discriminator(_Named):
    """image (B, channels, S, S) -> one logit per image (B,).

    Strided convolutions halve the size at each step (no pooling), LeakyReLU(0.2) everywhere, BatchNorm
    on every hidden layer except the first (no BatchNorm on D's input layer). Layers are named
    `conv1` ... `convK` and `logit`.
    """

    def __init__(self, image_size: int = 64, channels: int = 3, width: int = 64):
        super().__init__()
        self.image_size, self.channels, self.width = image_size, channels, width
        k = n_scales(image_size)
        mult = [2**i for i in range(k)]  # 64x64: 1, 2, 4, 8 times `width`
        # (B, channels, S, S) -> (B, width, S/2, S/2); no BatchNorm on the input layer
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        ends = [1]
        for a, b in zip(mult, mult[1:]):
            # (B, width*a, s, s) -> (B, width*b, s/2, s/2)
            layers += [nn.Conv2d(width * a, width * b, 4, 2, 1, bias=False), nn.BatchNorm2d(width * b), nn.LeakyReLU(0.2, inplace=True)]
            ends.append(len(layers) - 1)
        # (B, width*mult[-1], 4, 4) -> (B, 1, 1, 1): a 4x4 convolution instead of a fully connected layer
        layers.append(nn.Conv2d(width * mult[-1], 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)
        self.layer_ends = {f"conv{i + 1}": e for i, e in enumerate(ends)}
        self.layer_ends["logit"] = len(layers) - 1
        init_weights(self)

    def forward(self, x: torch.Tensor, edits: dict[str, Edit] | None = None) -> torch.Tensor:
        return super().forward(x, edits).flatten()  # (B, 1, 1, 1) -> (B,)


def init_weights(module: nn.Module) -> None:
    """The paper's initialisation: conv (and linear) weights N(0, 0.02); BatchNorm weight N(1, 0.02), bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):  # Linear: the FC ablation of notebook 02
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@contextmanager
def batchnorm_mode(model: nn.Module, batch_stats: bool):
    """Within the block, `model` is in eval mode; its BatchNorm layers use batch statistics if
    `batch_stats`, else their running averages. Running averages are never updated either way."""
    was_training = model.training
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    tracked = [m.track_running_stats for m in bns]
    model.train(False)
    for m in bns:
        # training=True with track_running_stats=False normalises by the batch and leaves the averages alone
        m.train(batch_stats)
        m.track_running_stats = not batch_stats and m.track_running_stats
    try:
        yield model
    finally:
        for m, t in zip(bns, tracked):
            m.track_running_stats = t
        model.train(was_training)


@torch.no_grad()
def generate(G: Generator, z: torch.Tensor, train_bn: bool = False, edits: dict[str, Edit] | None = None) -> torch.Tensor:
    """Images in [-1, 1] for latent codes z (n, nz) or (n, nz, 1, 1), with an explicit BatchNorm mode.

    `train_bn=False` (the course's default) uses BatchNorm's running statistics, so an image depends only
    on its own z; `train_bn=True` normalises with the batch's statistics, as during training.
    """
    if z.dim() < 2 or z[0].numel() != G.nz:
        raise ValueError(f"z has shape {tuple(z.shape)}; this G takes codes of nz={G.nz}: pass (n, {G.nz}) or (n, {G.nz}, 1, 1)")
    z = z.reshape(len(z), -1, 1, 1).to(next(G.parameters()).device)
    with batchnorm_mode(G, batch_stats=train_bn):
        return G(z, edits)


def probabilities(logits: torch.Tensor) -> torch.Tensor:
    """D's logits -> D's probability that the input is real."""
    return torch.sigmoid(logits)


def real_slope(real_logits: torch.Tensor, real: torch.Tensor, batch_dims: int = 1) -> torch.Tensor:
    """|grad_x D(x)|^2 at each real sample (`real` must require grad), shape real.shape[:batch_dims]; differentiable.

    The R1 penalty (Mescheder et al., 2018) is gamma / 2 times its mean: it stops D sharpening into spikes
    around the data. `batch_dims=2` for a batch of independent models, (E, N, ...)."""
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.pow(2).flatten(batch_dims).sum(-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def forward_numel(model: nn.Module, x: torch.Tensor) -> int:
    """How many numbers a forward pass of `x` produces, summed over the model's layers (each leaf module's
    output): with a batch of one, what each further sample costs in activations. Runs in eval mode without
    gradients (no running statistics change); on the meta device nothing is computed or allocated."""
    total = 0

    def count(module: nn.Module, inputs: object, output: object) -> None:
        nonlocal total
        total += output.numel() if torch.is_tensor(output) else 0

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total
