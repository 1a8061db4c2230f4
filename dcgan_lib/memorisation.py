"""Does a generator copy its training images? The nearest-neighbour check of `dcgan evaluate` and notebook 04:
generated samples' distances to their nearest training image, against training images' distances to their
nearest other one, in pixels and in the course classifier's features."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .classifiers import AttributeClassifier, load_classifier
from .images import to_model_range
from .metrics import nearest_neighbours


@dataclass
class NNCheck:
    """Result of `nearest_neighbour_check`: per space ('pixel', 'feature'), the NN distances' statistics."""

    spaces: dict[str, dict[str, float]]
    n_generated: int
    n_baseline: int
    n_train: int
    passed: bool
    min_p5_ratio: float = 0.5
    max_near_copy_share: float = 0.02
    # which samples were the queries (n_generated,) indices into `generated`, and per space the training
    # image nearest each of them (n_generated,) indices into `train`: to look at the pairs the check measured
    generated_index: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    nearest_index: dict[str, torch.Tensor] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        out = {f"nn_{space}_{k}": v for space, stats in self.spaces.items() for k, v in stats.items()
               if k in ("median_ratio", "p5_ratio", "near_copy_share")}
        out["nn_passed"] = float(self.passed)
        return out


def _flat_pixels(images: torch.Tensor, max_size: int = 32) -> torch.Tensor:
    """Images -> (N, D) floats in [-1, 1], downsampled (antialiased) to at most max_size x max_size."""
    x = to_model_range(images)
    if x.shape[-1] > max_size:
        x = F.interpolate(x, size=(max_size, max_size), mode="bilinear", align_corners=False, antialias=True)
    return x.flatten(1).cpu()


def _space_stats(d_gen: torch.Tensor, d_base: torch.Tensor) -> dict[str, float]:
    q = torch.tensor([0.05, 0.5])
    g5, gmed = torch.quantile(d_gen.double(), q.double()).tolist()
    b5, bmed = torch.quantile(d_base.double(), q.double()).tolist()
    return {
        "gen_median": gmed, "base_median": bmed, "median_ratio": gmed / max(bmed, 1e-12),
        "gen_p5": g5, "base_p5": b5, "p5_ratio": g5 / max(b5, 1e-12),
        "base_min": float(d_base.min()), "near_copy_share": float((d_gen < d_base.min()).float().mean()),
    }


def nearest_neighbour_check(
    generated: torch.Tensor,
    train: torch.Tensor,
    classifier: str | Path | AttributeClassifier | None = None,
    n_queries: int = 500,
    seed: int = 0,
    train_features: torch.Tensor | None = None,
    min_p5_ratio: float = 0.5,
    max_near_copy_share: float = 0.02,
) -> NNCheck:
    """Does G copy its training images? Compares two sets of nearest-neighbour distances:

    * gen: for `n_queries` generated samples, the distance to the nearest training image;
    * baseline ("training to training"): for `n_queries` training images, the distance to the nearest *other*
      training image (leave-one-out). A leave-one-out training image is a fresh real image to the rest of
      the set, so this is how near new real images come to the training set by chance.

    Distances are measured in two spaces: pixels (RMS difference per value in [-1, 1], images downsampled to
    at most 32x32) and, with a `classifier`, its penultimate features (Euclidean).
    In each space: `median_ratio` and `p5_ratio` = gen / baseline median and 5th percentile (about 1 for a G
    that samples new images; near 0 for a copier; above 1 for a G whose samples are unlike any real image)
    and `near_copy_share` = the share of generated samples nearer to a training image than *any* baseline
    image is to another (about 1/n_queries by chance).
    **Passed** when, in every space, p5_ratio >= `min_p5_ratio` (0.5) and near_copy_share <=
    `max_near_copy_share` (2%): generated samples are not systematically nearer the training set than real ones.
    The result also keeps which samples were the queries (`generated_index`) and, per space, the index of each
    one's nearest training image (`nearest_index`), to show the pairs it measured.
    """
    g = torch.Generator().manual_seed(seed)
    n_train = len(train)
    if n_train < 2:
        raise ValueError("the memorisation check needs at least 2 training images")
    gen_idx = torch.randperm(len(generated), generator=g)[:n_queries]
    base_idx = torch.randperm(n_train, generator=g)[:n_queries]
    spaces: dict[str, dict[str, float]] = {}
    nearest: dict[str, torch.Tensor] = {}

    train_px = _flat_pixels(train)
    gen_px = _flat_pixels(generated[gen_idx])
    scale = 1 / math.sqrt(train_px.shape[1])  # RMS per value
    d_gen, nearest["pixel"] = nearest_neighbours(gen_px, train_px)
    d_base = nearest_neighbours(train_px[base_idx], train_px, exclude=base_idx)[0]
    spaces["pixel"] = _space_stats(d_gen * scale, d_base * scale)
    del train_px
    if classifier is not None:
        clf = classifier if isinstance(classifier, nn.Module) else load_classifier(classifier)
        tf = clf.embed(train)[0] if train_features is None else train_features.float()
        gf = clf.embed(generated[gen_idx])[0]
        d_gen, nearest["feature"] = nearest_neighbours(gf, tf)
        spaces["feature"] = _space_stats(d_gen, nearest_neighbours(tf[base_idx], tf, exclude=base_idx)[0])
    passed = all(s["p5_ratio"] >= min_p5_ratio and s["near_copy_share"] <= max_near_copy_share for s in spaces.values())
    return NNCheck(spaces, len(gen_idx), len(base_idx), n_train, passed, min_p5_ratio, max_near_copy_share,
                   gen_idx, nearest)
