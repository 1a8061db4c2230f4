"""Looking inside a trained DCGAN: the paper's sections 5 and 6.

* D as a feature extractor (section 5.1): every convolution layer of D max-pooled to a 4x4 grid, concatenated,
  and a linear L2-SVM trained on a few labels (`d_features`, `few_label_accuracy`).
* Guided backpropagation of D's features (section 6.2, Figure 5): which pixels excite a unit
  (`guided_backprop`, with `guided_relu_rule` at every activation unless given another rule), and how much of
  that saliency falls on the face (`saliency_inside`).
* Forgetting to draw (section 6.3.1): a logistic regression on G's feature maps, inside versus outside the
  boxes of an object, picks the maps that draw it (`map_weights`); zeroing them (`drop_maps`), or fixing them
  to their average on samples without the object (`fill_maps` with `average_maps`), is an edit for
  `G(z, edits={layer: ...})`; `drop_edits` builds either. The boxes on generated samples come from a box
  regressor trained on the procedural faces' own boxes (`fit_box_regressor`, `predict_boxes`), so nobody draws
  them by hand; `find_objects` picks the samples that show the object and boxes them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .images import to_model_range
from .errors import DCGANError
from .config import TrainConfig
from .models import Discriminator, Edit, Generator, batchnorm_mode, generate
from .train import build_models


def _check_images(images: torch.Tensor, model: nn.Module) -> None:
    if images.dim() != 4 or images.shape[1] != model.channels or images.shape[-1] != model.image_size:
        raise DCGANError(f"expected images (N, {model.channels}, {model.image_size}, {model.image_size}) for this "
                         f"model, got {tuple(images.shape)}: resize or convert them first")


# ----------------------------------------------------------------------------------- D as a feature extractor


def initial_models(ckpt: dict[str, Any]) -> tuple[Generator, Discriminator]:
    """The untrained G and D a checkpoint's run started from: same architecture, same seed, same
    initialisation (`train.build_models`), in eval mode. The fair baseline for "what did training add?"."""
    cfg = TrainConfig.from_dict(ckpt["config"])
    a = ckpt["arch"]
    cfg.image_size, cfg.nz, cfg.width = a["image_size"], a["nz"], a["width"]
    cfg.variant = a.get("variant", "dcgan")
    G, D = build_models(cfg, a["channels"])
    return G.eval(), D.eval()


@torch.no_grad()
def d_features(D: Discriminator, images: torch.Tensor, pool: int = 4, layers: Sequence[str] | None = None,
               batch_size: int = 500) -> torch.Tensor:
    """The paper's D features: each conv layer's activations max-pooled to pool x pool, flattened and
    concatenated -> (N, sum of channels * pool^2), on the CPU. BatchNorm uses its running statistics."""
    _check_images(images, D)
    layers = list(layers) if layers is not None else [n for n in D.layer_names if n.startswith("conv")]
    device = next(D.parameters()).device
    out = []
    with batchnorm_mode(D, batch_stats=False):
        for i in range(0, len(images), batch_size):
            x = to_model_range(images[i:i + batch_size]).to(device)
            maps = D.features(x, layers)  # name -> (B, C, s, s), s from S/2 down to 4
            # (B, C, s, s) -> (B, C, pool, pool) -> (B, C * pool^2); a 4x4 layer is left as it is
            out.append(torch.cat([F.adaptive_max_pool2d(maps[n], pool).flatten(1) for n in layers], 1).cpu())
    return torch.cat(out) if out else torch.zeros(0, 0)


def _as_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def few_label_accuracy(train_features: Any, train_labels: Any, test_features: Any, test_labels: Any,
                       per_class: int, draws: int = 10, seed: int = 0, C: float = 1.0) -> np.ndarray:
    """Test accuracy (one per draw) of a linear L2-SVM trained on `per_class` labelled examples of each class.

    Each draw picks its labelled examples from the training pool with (seed, draw) alone, so feature sets
    compared with the same seed and labels see the same examples. Features are standardised on the labelled
    set and divided by sqrt(dim), so that C means the same for 1,024 pixels and 3,584 D features.
    """
    from sklearn.svm import LinearSVC  # squared hinge loss + L2 penalty: the L2-SVM

    xtr, ytr, xte, yte = (_as_numpy(v) for v in (train_features, train_labels, test_features, test_labels))
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise DCGANError(f"features and labels differ in length ({len(xtr)} vs {len(ytr)}, {len(xte)} vs {len(yte)})")
    classes, counts = np.unique(ytr, return_counts=True)
    if len(classes) < 2 or per_class < 1 or per_class > counts.min():
        raise DCGANError(f"per_class must be between 1 and {counts.min()} (the rarest class's count in the pool) "
                         f"with at least 2 classes, got {per_class} and {len(classes)} classes")
    scale = math.sqrt(xtr.shape[1])
    accs = []
    for d in range(draws):
        rng = np.random.default_rng([seed, d])
        idx = np.concatenate([rng.choice(np.flatnonzero(ytr == c), per_class, replace=False) for c in classes])
        mu, sd = xtr[idx].mean(0), xtr[idx].std(0) + 1e-6
        # random_state fixes liblinear's shuffling, which otherwise draws from numpy's global RNG and can flip
        # a borderline prediction from one process to the next
        svm = LinearSVC(C=C, max_iter=5000, random_state=0).fit((xtr[idx] - mu) / sd / scale, ytr[idx])
        accs.append(float((svm.predict((xte - mu) / sd / scale) == yte).mean()))
    return np.array(accs)


# ------------------------------------------------------------------------------------------ guided backprop


Rule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (gradient from above, activation's output) -> gradient below


def guided_relu_rule(grad_out: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """Guided backprop's rule at a ReLU: pass the gradient only where it is positive *and* the unit was active
    (output > 0, which is where its input was > 0). Plain backprop keeps negative gradients too; the
    "deconvnet" rule ignores whether the unit was active."""
    return grad_out.clamp(min=0) * (output > 0)


def guided_backprop(D: nn.Module, images: torch.Tensor, layer: str, unit: int | None = None,
                    rule: Rule = guided_relu_rule) -> torch.Tensor:
    """Guided-backprop gradient of a D layer w.r.t. the images -> (B, C, S, S).

    `unit=None` backpropagates the sum of the layer's activations; `unit=k` the maximal response of
    channel k (the paper's "maximal axis-aligned responses"). At every ReLU/LeakyReLU, backward hooks pass
    a gradient only where it is positive *and* the unit's input was positive. LeakyReLU is treated as
    a ReLU here: its 0.2 slope on the negative side would let every inactive path through, and the map
    would show what the unit sees rather than what excites it. `rule(grad_out, output)` replaces that rule
    (exercise 6 plugs in its own; `lambda g, out: g * (out > 0)` gives plain backprop through ReLUs).
    """
    if layer not in D.layer_ends:
        raise DCGANError(f"unknown layer {layer!r}; choose from {D.layer_names}")
    acts = [m for m in D.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU))]
    inplace = [m.inplace for m in acts]
    outputs: dict[nn.Module, torch.Tensor] = {}
    hooks = []
    for m in acts:
        m.inplace = False  # backward hooks cannot wrap an in-place op
        hooks.append(m.register_forward_hook(lambda mod, inp, out: outputs.__setitem__(mod, out.detach())))
        # out > 0 exactly where the input was > 0 (ReLU and LeakyReLU keep the sign)
        hooks.append(m.register_full_backward_hook(lambda mod, g_in, g_out: (rule(g_out[0], outputs[mod]),)))
    device = next(D.parameters()).device
    x = to_model_range(images).to(device).detach().clone().requires_grad_(True)  # never touch the caller's tensor
    try:
        with torch.enable_grad(), batchnorm_mode(D, batch_stats=False):
            f = D.features(x, [layer])[layer]  # (B, C, s, s)
            if unit is not None and not 0 <= unit < f.shape[1]:
                raise DCGANError(f"layer {layer} has {f.shape[1]} units, got unit={unit}")
            target = f.sum() if unit is None else f[:, unit].flatten(1).max(1).values.sum()
            (grad,) = torch.autograd.grad(target, x)
    finally:
        for h in hooks:
            h.remove()
        for m, ip in zip(acts, inplace):
            m.inplace = ip
    return grad.detach()


def saliency_inside(saliency: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Share of each image's saliency that falls inside its mask -> (B,) in [0, 1].

    `saliency` (B, H, W) is used as it is (non-negative); (B, C, H, W), e.g. a gradient, becomes sum_c |g|.
    Chance level is the mask's own area share, `mask.float().mean((1, 2))`.
    """
    s = saliency.abs().sum(1) if saliency.dim() == 4 else saliency
    if s.shape != mask.shape:
        raise DCGANError(f"saliency {tuple(s.shape)} and mask {tuple(mask.shape)} must match (B, H, W)")
    if (s < 0).any():
        raise DCGANError("a (B, H, W) saliency must be non-negative: pass |gradient| or the (B, C, H, W) gradient")
    total = s.flatten(1).sum(1)
    return (s * mask.to(s.dtype)).flatten(1).sum(1) / total.clamp_min(1e-12)


# ----------------------------------------------------------------------------------------- forgetting to draw


def fit_box_regressor(images: torch.Tensor, boxes: torch.Tensor, alpha: float = 1.0) -> Any:
    """A ridge regression from pixels to a box (x0, y0, x1, y1), trained on images whose boxes are known
    (the procedural faces'); returns the fitted scikit-learn model for `predict_boxes`."""
    from sklearn.linear_model import Ridge

    if len(images) != len(boxes) or boxes.dim() != 2 or boxes.shape[1] != 4:
        raise DCGANError(f"need one (x0, y0, x1, y1) box per image, got {len(images)} images and boxes {tuple(boxes.shape)}")
    return Ridge(alpha=alpha).fit(to_model_range(images).cpu().flatten(1).numpy(), boxes.cpu().numpy())


def predict_boxes(regressor: Any, images: torch.Tensor) -> torch.Tensor:
    """Boxes (N, 4) in pixels for images (uint8 or [-1, 1]) from a `fit_box_regressor` model."""
    return torch.from_numpy(regressor.predict(to_model_range(images).cpu().flatten(1).numpy())).float()


def cells_in_boxes(boxes: torch.Tensor, grid: int, image_size: int) -> torch.Tensor:
    """Which cells of a grid x grid feature map lie in each box -> bool (N, grid, grid); a cell counts
    when its centre, in pixels, is inside the box (x0 <= x <= x1, y0 <= y <= y1)."""
    c = (torch.arange(grid, dtype=torch.float32, device=boxes.device) + 0.5) * (image_size / grid)  # cell centres in pixels
    x, y = c.view(1, 1, grid), c.view(1, grid, 1)
    b = boxes.float().view(-1, 4, 1, 1)
    return (x >= b[:, 0]) & (x <= b[:, 2]) & (y >= b[:, 1]) & (y <= b[:, 3])


def map_weights(feature_maps: torch.Tensor, inside: torch.Tensor, seed: int = 0) -> np.ndarray:
    """The paper's logistic regression: every spatial position of every image is one example, its features
    the channel activations there, labelled 1 inside the boxes and 0 outside -> one weight per channel (C,).

    Features are standardised (a weight's sign is unchanged by scaling, its size becomes comparable) and the
    classes balanced, since boxes cover a small part of each map.
    """
    from sklearn.linear_model import LogisticRegression

    if feature_maps.dim() != 4 or inside.shape != (feature_maps.shape[0], *feature_maps.shape[2:]):
        raise DCGANError(f"need feature maps (N, C, H, W) and an inside mask (N, H, W), got "
                         f"{tuple(feature_maps.shape)} and {tuple(inside.shape)}")
    X = feature_maps.detach().permute(0, 2, 3, 1).reshape(-1, feature_maps.shape[1]).cpu().numpy()  # (N*H*W, C)
    y = inside.reshape(-1).cpu().numpy()
    if y.all() or not y.any():
        raise DCGANError("the boxes cover all or none of the positions: nothing to contrast")
    X = (X - X.mean(0)) / (X.std(0) + 1e-6)
    lr = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed).fit(X, y)
    return lr.coef_[0].copy()


def maps_to_drop(G: Generator, z: torch.Tensor, boxes: torch.Tensor, layer: str,
                 threshold: float = 0.0) -> tuple[torch.Tensor, np.ndarray]:
    """Fit `map_weights` on G's `layer` for codes z (n, nz) whose samples show the object in `boxes` (n, 4),
    pixels -> (channels with weight > threshold * the largest weight, all weights). threshold 0 is the
    paper's rule: drop every map with a positive weight."""
    if len(z) != len(boxes):
        raise DCGANError(f"need one box per code, got {len(z)} codes and {len(boxes)} boxes")
    maps = hidden_maps(G, z, layer)
    w = map_weights(maps, cells_in_boxes(boxes, maps.shape[-1], G.image_size))
    return torch.from_numpy(np.flatnonzero(w > threshold * max(w.max(), 0.0))), w


def drop_maps(channels: Sequence[int] | torch.Tensor) -> Edit:
    """An edit for `G(z, edits={layer: drop_maps(ch)})` that zeroes those channels at every position (the paper's
    way of dropping a map; `fill_maps` with 0)."""
    return fill_maps(channels, 0.0)


def fill_maps(channels: Sequence[int] | torch.Tensor, value: float | torch.Tensor) -> Edit:
    """An edit that replaces those channels by a fixed `value` whatever z is: a number, one number per channel
    (C,), or one map per channel (C, H, W) such as `average_maps`. With the average over a reference set this
    is a "mean ablation": the maps stop carrying anything about z but still give the next layer typical input."""
    idx = torch.as_tensor(channels, dtype=torch.long).flatten()
    value = torch.as_tensor(value, dtype=torch.float32)

    def edit(h: torch.Tensor) -> torch.Tensor:  # (B, C, s, s) -> same shape, channels idx replaced
        if len(idx) and int(idx.max()) >= h.shape[1]:
            raise DCGANError(f"cannot drop channel {int(idx.max())} of a layer with {h.shape[1]} channels")
        if value.dim() == 0:
            return h.index_fill(1, idx.to(h.device), float(value))
        if value.shape not in ((h.shape[1],), tuple(h.shape[1:])):
            raise DCGANError(f"a fill value must be a number, (C,) or (C, H, W) = {tuple(h.shape[1:])}, "
                             f"got {tuple(value.shape)}: use average_maps on the same layer")
        v = value.to(h.device, h.dtype)[idx]  # (k,) or (k, H, W)
        out = h.clone()
        out[:, idx.to(h.device)] = (v.view(-1, 1, 1) if v.dim() == 1 else v).expand(len(idx), *h.shape[2:])
        return out

    return edit


def average_maps(G: Generator, z: torch.Tensor, layer: str) -> torch.Tensor:
    """The mean of G's `layer` over codes z (n, nz), position by position -> (C, H, W), with BatchNorm's
    running averages: the reference `fill_maps` puts in place of maps it drops."""
    if len(z) == 0:
        raise DCGANError("average_maps needs at least one code")
    return hidden_maps(G, z, layer).mean(0)


def _check_hidden_layer(G: Generator, layer: str) -> None:
    if layer not in G.layer_ends or layer == "image":
        raise DCGANError(f"choose a hidden layer of G: {[n for n in G.layer_names if n != 'image']}, got {layer!r}")


def hidden_maps(G: Generator, z: torch.Tensor, layer: str) -> torch.Tensor:
    """G's hidden `layer` for codes z (n, nz) -> (n, C, H, W) float on the CPU, BatchNorm with running averages."""
    _check_hidden_layer(G, layer)
    with torch.no_grad(), batchnorm_mode(G, batch_stats=False):
        return G.features(z.reshape(len(z), -1, 1, 1).to(next(G.parameters()).device), [layer])[layer].float().cpu()


def drop_edits(G: Generator, layer: str, channels: Sequence[int] | torch.Tensor, fill: str = "zero",
               z_ref: torch.Tensor | None = None) -> dict[str, Edit]:
    """`{layer: edit}` for `G(z, edits=...)` or `generate` that drops `channels` of G's `layer`: zeroed
    (fill="zero", the paper's way) or fixed to their average over reference codes z_ref (fill="average")."""
    _check_hidden_layer(G, layer)
    if fill == "zero":
        return {layer: drop_maps(channels)}
    if fill != "average":
        raise DCGANError(f"fill must be 'zero' or 'average', got {fill!r}")
    if z_ref is None:
        raise DCGANError("fill='average' needs reference codes z_ref, e.g. `find_objects(...).z_without`")
    return {layer: fill_maps(channels, average_maps(G, z_ref, layer))}


@dataclass
class ObjectSamples:
    """What `find_objects` found among G's samples for some codes."""

    shown: torch.Tensor  # bool (N,): which codes' samples show the object
    z: torch.Tensor  # (n, ...): those codes, shaped as they were given
    images: torch.Tensor  # (n, C, S, S) in [-1, 1]: their samples
    boxes: torch.Tensor  # (n, 4): the object's box in each sample, pixels (x0, y0, x1, y1)
    z_without: torch.Tensor  # (N - n, ...): the other codes, the reference for `drop_edits(fill="average")`


@torch.no_grad()
def find_objects(G: Generator, z: torch.Tensor, classifier: Any, regressor: Any,
                 attribute: str = "eyeglasses") -> ObjectSamples:
    """Draw G's samples for codes z (N, nz) or (N, nz, 1, 1) with BatchNorm's running averages; those the
    classifier reads as showing `attribute` (probability > 0.5) get a box from a `fit_box_regressor` model."""
    x = generate(G, z).cpu()  # (N, C, S, S), one batch: each sample depends on its own z only
    pred = classifier.predict(x)
    if attribute not in pred or pred[attribute].dim() != 1:
        raise DCGANError(f"the classifier has no binary attribute {attribute!r}; it predicts {sorted(pred)}")
    shown = (pred[attribute] > 0.5).cpu()
    if not shown.any():
        raise DCGANError(f"none of the {len(z)} samples shows {attribute!r}: sample more codes")
    on = shown.to(z.device)
    return ObjectSamples(shown, z[on], x[shown], predict_boxes(regressor, x[shown]), z[~on])
