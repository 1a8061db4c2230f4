"""The DCGAN architecture guidelines, taken apart: transposed-convolution arithmetic, layer tables,
checkerboard overlap, and the variants of notebook 02's ablations (each breaks one guideline; `ablations`
trains and compares them).

Every variant is the course's `Generator`/`Discriminator` with a few modules swapped, so the layers a
variant shares with the baseline start from the very same weights (same seed) and only the guideline
under test differs. `build_variant` is what `dcgan train --variant NAME` and the checkpoint loader call.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .models import Discriminator, Generator, init_weights

VARIANTS: dict[str, str] = {
    "dcgan": "the baseline: every guideline followed",
    "maxpool-d": "D downsamples with stride-1 convolutions + 2x2 max-pooling instead of strided convolutions",
    "no-batchnorm": "no BatchNorm anywhere in G or D (biases added to the convolutions instead)",
    "batchnorm-all": "BatchNorm also on G's output layer and on D's input layer",
    "fc-hidden": "a fully connected hidden layer (8*width units) between z and G's convolutions and after D's",
    "relu-d": "ReLU instead of LeakyReLU(0.2) in D",
}


# --------------------------------------------------------------------------------------------- arithmetic


def conv_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Side of a convolution's output: floor((n + 2*padding - kernel) / stride) + 1."""
    return (n + 2 * padding - kernel) // stride + 1


def conv_transpose_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0, output_padding: int = 0) -> int:
    """Side of a transposed ("fractional-strided") convolution's output: (n - 1)*stride - 2*padding + kernel."""
    return (n - 1) * stride - 2 * padding + kernel + output_padding


def zero_insert(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Put stride - 1 zeros between neighbouring pixels: (B, C, H, W) -> (B, C, (H-1)*stride+1, (W-1)*stride+1)."""
    b, c, h, w = x.shape
    out = x.new_zeros(b, c, (h - 1) * stride + 1, (w - 1) * stride + 1)
    out[:, :, ::stride, ::stride] = x
    return out


def conv_transpose_by_zero_insertion(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0) -> torch.Tensor:
    """`F.conv_transpose2d(x, weight, stride=stride, padding=padding)` computed the "fractional-strided" way:
    insert zeros (input stride 1/stride), pad by kernel-1-padding, then an ordinary stride-1 convolution
    with the kernel flipped and its in/out channels swapped. `weight` is ConvTranspose2d's (C_in, C_out, k, k)."""
    k = weight.shape[-1]
    if weight.shape[-2] != k or not 0 <= padding <= k - 1:
        raise ValueError(f"need a square kernel and 0 <= padding <= kernel - 1, got kernel {tuple(weight.shape[-2:])}, padding {padding}")
    x = zero_insert(x, stride)                       # (B, C_in, (H-1)s+1, (W-1)s+1)
    x = F.pad(x, [k - 1 - padding] * 4)              # a full convolution, cropped by `padding` on each side
    w = weight.flip(-2, -1).transpose(0, 1)          # (C_out, C_in, k, k), kernel rotated by 180 degrees
    return F.conv2d(x, w)                            # (B, C_out, (H-1)s - 2p + k, ...)


def overlap_counts(kernel: int, stride: int, n_in: int = 8, padding: int = 0) -> torch.Tensor:
    """How many kernel taps land on each output pixel of a transposed convolution of an n_in x n_in input:
    uneven counts (kernel not divisible by stride) are the checkerboard's source. Returns (H_out, W_out)."""
    ones = torch.ones(1, 1, n_in, n_in)
    return F.conv_transpose2d(ones, torch.ones(1, 1, kernel, kernel), stride=stride, padding=padding)[0, 0]


def phase_means(y: torch.Tensor, stride: int = 2, border: int = 2) -> torch.Tensor:
    """Mean of `y` (..., H, W) over each pixel phase (row % stride, col % stride), `border` pixels cropped:
    (stride, stride). Unequal means on a constant input are a checkerboard; equal means are an even output."""
    if border % stride:
        raise ValueError(f"border ({border}) must be a multiple of stride ({stride}) to keep the phases aligned")
    y = y[..., border:y.shape[-2] - border, border:y.shape[-1] - border]
    return torch.stack([torch.stack([y[..., i::stride, j::stride].mean() for j in range(stride)]) for i in range(stride)])


# --------------------------------------------------------------------------------------------- layer tables


def layer_table(model: nn.Module, x: torch.Tensor) -> list[dict[str, Any]]:
    """One row per leaf module, in the order they run on `x`: name, type, output shape (no batch), parameters.

    Rows come from forward hooks, so the shapes are the ones actually produced; the parameter column sums to
    `models.count_parameters(model)` (a module that never runs still gets a row, with shape None).
    """
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    rows: dict[str, dict[str, Any]] = {}

    def hook(name: str):
        def record(module: nn.Module, inputs: Any, output: torch.Tensor) -> None:
            if name not in rows:
                rows[name] = {"name": name, "type": type(module).__name__, "shape": tuple(output.shape[1:]),
                              "params": count_parameters_of(module)}
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in leaves]
    was_training = model.training
    try:
        with torch.no_grad():
            model.eval()
            model(x)
    finally:  # a failed forward (wrong x) leaves the model as it found it
        model.train(was_training)
        for h in handles:
            h.remove()
    for name, m in leaves:  # modules that did not run (none in the course's models) still own parameters
        rows.setdefault(name, {"name": name, "type": type(m).__name__, "shape": None, "params": count_parameters_of(m)})
    ends = sorted((i, n) for n, i in getattr(model, "layer_ends", {}).items())
    for r in rows.values():  # which named layer (models.Generator.layer_names) each module belongs to
        i = int(r["name"].split(".")[-1]) if r["name"].startswith("main.") else -1
        r["layer"] = next((n for e, n in ends if i <= e), "") if i >= 0 else ""
    return list(rows.values())


def count_parameters_of(module: nn.Module) -> int:
    """Trainable parameters owned by `module` itself (not its children)."""
    return sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)


def format_layer_table(rows: list[dict[str, Any]], input_shape: tuple[int, ...] | None = None) -> str:
    """`layer_table` rows as aligned text, with the input shape first and the parameter total last."""
    lines = [f"{'layer':<8}{'module':<9}{'type':<18}{'output shape (C, H, W)':<24}{'parameters':>12}"]
    if input_shape is not None:
        lines.append(f"{'input':<35}{str(tuple(input_shape)):<24}")
    for r in rows:
        lines.append(f"{r.get('layer', ''):<8}{r['name']:<9}{r['type']:<18}{str(r['shape']):<24}{r['params']:>12,}")
    lines.append(f"{'total':<59}{sum(r['params'] for r in rows):>12,}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- variants


def build_variant(name: str, image_size: int = 64, channels: int = 3, nz: int = 100, width: int = 64) -> tuple[Generator, Discriminator]:
    """(G, D) of an architecture variant (see `VARIANTS`), with the paper's initialisation.

    Seed the global RNG first for repeatable weights (`dcgan train` does); layers shared with the baseline
    get the baseline's weights for the same seed.
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown architecture variant {name!r}: choose one of {', '.join(VARIANTS)}")
    G, D = Generator(image_size, channels, nz, width), Discriminator(image_size, channels, width)
    if name == "maxpool-d":
        _maxpool_d(D)
    elif name == "no-batchnorm":
        _no_batchnorm(G), _no_batchnorm(D)
    elif name == "batchnorm-all":
        _batchnorm_all(G, D)
    elif name == "fc-hidden":
        _fc_hidden(G, D, hidden=8 * width)
    elif name == "relu-d":
        D.main = nn.Sequential(*[nn.ReLU(inplace=True) if isinstance(m, nn.LeakyReLU) else m for m in D.main])
    for model in (G, D):
        model.variant = name
        _name_layers(model)
    return G, D


def _name_layers(model: Generator | Discriminator) -> None:
    """Recompute `layer_ends` after surgery: a layer ends at its activation; the last module ends the net."""
    mods = list(model.main)
    ends: dict[str, int] = {}
    prefix, k = ("block" if isinstance(model, Generator) else "conv"), 0
    for i, m in enumerate(mods):
        if not isinstance(m, (nn.ReLU, nn.LeakyReLU)):
            continue
        j = i - 1
        while isinstance(mods[j], nn.BatchNorm1d):
            j -= 1
        if isinstance(mods[j], nn.Linear):  # the fully connected hidden layer (fc-hidden variant)
            ends["fc"] = i
        else:
            k += 1
            ends[f"{prefix}{k}"] = i
    ends["image" if isinstance(model, Generator) else "logit"] = len(model.main) - 1
    model.layer_ends = ends


def _maxpool_d(D: Discriminator) -> None:
    # each strided 4x4 conv becomes the same 4x4 conv at stride 1, then 2x2 max-pooling:
    # (B, a, s, s) -> pad (B, a, s+3, s+3) -> conv (B, b, s, s) -> pool (B, b, s/2, s/2).
    # The weights are copied, so only the downsampling differs (at 4x the convolution's compute).
    layers: list[nn.Module] = []
    for m in D.main:
        if isinstance(m, nn.Conv2d) and m.stride == (2, 2):
            conv = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, 1, 0, bias=False)
            conv.weight.data.copy_(m.weight.data)
            layers += [nn.ZeroPad2d((1, 2, 1, 2)), conv, nn.MaxPool2d(2)]  # an even kernel needs uneven padding
        else:
            layers.append(m)
    D.main = nn.Sequential(*layers)


def _no_batchnorm(model: nn.Module) -> None:
    # BatchNorm's shift made the conv biases redundant; without it each conv gets its bias back (zero-initialised)
    layers: list[nn.Module] = []
    mods = list(model.main)
    for i, m in enumerate(mods):
        if isinstance(m, nn.BatchNorm2d):
            continue
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d):
            new = type(m)(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=True)
            new.weight.data.copy_(m.weight.data)
            nn.init.zeros_(new.bias)
            m = new
        layers.append(m)
    model.main = nn.Sequential(*layers)


def _batchnorm_all(G: Generator, D: Discriminator) -> None:
    g = list(G.main)  # [..., ConvT(width, channels), Tanh] -> [..., ConvT, BatchNorm2d(channels), Tanh]
    G.main = nn.Sequential(*g[:-1], nn.BatchNorm2d(G.channels), g[-1])
    d = list(D.main)  # [Conv(channels, width), LeakyReLU, ...] -> [Conv, BatchNorm2d(width), LeakyReLU, ...]
    D.main = nn.Sequential(d[0], nn.BatchNorm2d(D.width), *d[1:])
    for bn in (G.main[-2], D.main[1]):
        init_weights(bn)


def _fc_hidden(G: Generator, D: Discriminator, hidden: int) -> None:
    # G: z (B, nz, 1, 1) -> (B, nz) -> fully connected (B, hidden) -> (B, hidden, 1, 1) -> the baseline's
    # convolutions, whose first layer now projects `hidden` (not nz) numbers to the 4x4 map
    g = list(G.main)
    first = g[0]
    project = nn.ConvTranspose2d(hidden, first.out_channels, first.kernel_size, first.stride, first.padding, bias=False)
    fc_g = [nn.Flatten(), nn.Linear(G.nz, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True), nn.Unflatten(1, (hidden, 1, 1))]
    G.main = nn.Sequential(*fc_g, project, *g[1:])
    # D: the last 4x4 map (B, C, 4, 4) -> flattened (B, 16C) -> fully connected (B, hidden) -> one logit (B, 1)
    d = list(D.main)
    last = d[-1]
    fc_d = [nn.Flatten(), nn.Linear(last.in_channels * 16, hidden, bias=False), nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2, inplace=True), nn.Linear(hidden, 1, bias=False)]
    D.main = nn.Sequential(*d[:-1], *fc_d)
    for m in (project, *fc_g, *fc_d):
        init_weights(m)
