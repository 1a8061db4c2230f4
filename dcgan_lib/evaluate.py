"""How good is a generator? Offline numbers from the course's own classifiers, each printed with its scale.

For the procedural faces and the digits, `evaluate_generator` measures a generator G with the shipped
classifier of its dataset (`dcgan_lib.classifiers`, `data/classifiers/`):

* **Fréchet distance (FD)** between the classifier's penultimate features of G's samples and of real images:
  ``|mu_g - mu_r|^2 + tr(S_g + S_r - 2 (S_g S_r)^(1/2))``. This is the formula of FID, but in *the course
  classifier's* 128-d feature space (scaled so that real images' features have unit RMS):
  **it is not Inception FID and not comparable with published FIDs.**
  An FD alone has no scale, so every one is printed with
  - its **floor**: the FD between two disjoint sets of real images of the same size (what a perfect G would
    get, since finite samples never match exactly), and
  - its **ceiling**: the FD of an untrained G (the same architecture, initialised as `dcgan train --seed`
    would, so it is the run's own starting point),
  - and the **share of that gap the generator closed**: ``1 - (FD_G - floor) / (ceiling - floor)``
    (0 for an untrained G, 1 for a perfect one; it can leave [0, 1] a little by chance).
* **KID** (kernel inception distance, again in the classifier's features): the unbiased MMD^2 with the
  polynomial kernel ``(x.y / d + 1)^3``, averaged over random subsets; near 0 for a perfect G.
* **Attribute rates**: the share of generated faces the classifier calls smiling, bespectacled, long-haired,
  the mean and spread of head turn, and how far the hair colour / skin tone / background mixes are from the
  data's (total variation distance); for digits the class histogram, classes covered and the largest class
  share. The data's numbers are the same classifier's predictions on real images, so its errors cancel.
* **Memorisation check** (`nearest_neighbour_check`): the distance from each generated sample to its
  nearest training image, against the same distance for training images to their nearest *other* training
  image (leave-one-out: "training to training", which is how far a fresh real image sits from the training
  set). A generator that copies training images has generated samples systematically nearer.

`standard_fid` gives the standard Inception FID / KID for real datasets through torchmetrics on a machine that
has (or can download) the Inception weights, e.g. Colab; offline it raises a clear `DCGANError` instead.
"""

from __future__ import annotations

import functools
import math
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .classifiers import FACE_BINARY, FACE_CATEGORICAL, AttributeClassifier, load_classifier
from .faces import CATEGORIES
from .errors import DCGANError
from .data import to_model_range
from .latent import generate_many, sample_z
from .models import Generator, generate

EVALUATED_DATASETS = ("faces", "digits")  # the datasets with a course classifier
NOT_INCEPTION = ("FD and KID here are measured in the course classifier's feature space: "
                 "not Inception FID, not comparable with published FID numbers.")
DIGITS_TOTAL = 1797
# Seeds of the real sets (procedural faces) and of z: far from the small seeds generators train on and from
# the classifier's (classifiers.FACES_TRAIN_SEED, FACES_HELDOUT_SEED).
_REAL_A_SEED, _REAL_B_SEED, _Z_SEED, _CEILING_Z_SEED = 700_000, 800_000, 900_000, 950_000
# Faces attribute rates for `dcgan evaluate` and the model cards: the standard error of a difference of two
# rates is then 0.007, against 0.016 at the 2000 images of the Fréchet sets.
N_RATES = 10_000
_CATEGORY_NAMES = {"hair_colour": "hair colour", "skin_tone": "skin tone", "background": "background"}
# A marginal rate can hide a bias within one kind of face: faces32 draws long hair at the data's overall rate
# but on only 40% of grey-haired faces (notebook 05). So the binary rates are also compared within each hair
# colour, on colours that hold at least this many images in both sets.
MIN_PER_COLOUR = 200


# --------------------------------------------------------------------------------------------- distances


@contextmanager
def _one_thread():
    """Run small linear algebra on one thread: for 128x128 matrices a second thread saves nothing, and on a
    busy 2-core machine its spin-waiting made eigh 300x slower (0.9 s instead of 3 ms)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _as_features(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x).detach().cpu().double()
    if x.dim() != 2:
        raise ValueError(f"features must be a 2-D tensor (N, d), got shape {tuple(x.shape)}")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 feature vectors for a covariance, got {x.shape[0]}")
    return x


def _sqrtm_psd(s: torch.Tensor) -> torch.Tensor:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition (tiny negative
    eigenvalues from rounding are set to 0)."""
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def frechet_from_stats(mu1: torch.Tensor, s1: torch.Tensor, mu2: torch.Tensor, s2: torch.Tensor) -> float:
    """Fréchet (2-Wasserstein) distance between N(mu1, s1) and N(mu2, s2), squared as in FID:
    ``|mu1 - mu2|^2 + tr(s1) + tr(s2) - 2 tr((s1^(1/2) s2 s1^(1/2))^(1/2))``.

    The cross term uses the symmetric form ``s1^(1/2) s2 s1^(1/2)`` (same trace of square root as
    ``(s1 s2)^(1/2)``), whose eigenvalues are real and non-negative, so no complex parts need discarding.
    Computed in float64; the result is clamped at 0.
    """
    mu1, mu2, s1, s2 = (torch.as_tensor(t).double() for t in (mu1, mu2, s1, s2))
    with _one_thread():
        r1 = _sqrtm_psd(s1)
        m = r1 @ s2 @ r1
        cross = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
        d = (mu1 - mu2).pow(2).sum() + s1.trace() + s2.trace() - 2 * cross
    return max(float(d), 0.0)


def feature_stats(feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (d,) and unbiased covariance (d, d) of features (N, d), in float64."""
    x = _as_features(feats)
    with _one_thread():
        return x.mean(0), torch.cov(x.T)


def frechet_distance(feats_a: torch.Tensor, feats_b: torch.Tensor) -> float:
    """The Fréchet distance between two sets of feature vectors (N, d) and (M, d), each summarised by its
    mean and covariance (see `frechet_from_stats`). Symmetric; 0 for identical sets. It is biased upwards
    for finite sets (two samples of one distribution score > 0), which is why `evaluate_generator` prints
    a floor."""
    return frechet_from_stats(*feature_stats(feats_a), *feature_stats(feats_b))


def kid(feats_a: torch.Tensor, feats_b: torch.Tensor, subsets: int = 50, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """Kernel (inception) distance: mean and standard deviation over `subsets` random subsets of the unbiased
    MMD^2 between the sets, with the polynomial kernel ``k(x, y) = (x.y / d + 1)^3`` (Binkowski et al. 2018).

    Each subset draws `subset_size` rows (capped at the smaller set's size) from each set without
    replacement. Unbiased, so two samples of one distribution score about 0 (either sign), and it needs
    no floor.
    """
    a, b = _as_features(feats_a), _as_features(feats_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sizes differ: {a.shape[1]} and {b.shape[1]}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 feature vectors in each set")
    d = a.shape[1]
    g = torch.Generator().manual_seed(seed)

    def k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((x @ y.T) / d + 1) ** 3

    with _one_thread():
        full = max(len(a), len(b)) <= 4096  # small sets: the three kernel matrices once, subsets by indexing
        if full:
            kaa, kbb, kab = k(a, a), k(b, b), k(a, b)
        values = []
        for _ in range(subsets):
            i = torch.randperm(len(a), generator=g)[:m]
            j = torch.randperm(len(b), generator=g)[:m]
            if full:
                kxx, kyy, kxy = kaa[i][:, i], kbb[j][:, j], kab[i][:, j]
            else:
                x, y = a[i], b[j]
                kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
            mmd = ((kxx.sum() - kxx.diagonal().sum()) + (kyy.sum() - kyy.diagonal().sum())) / (m * (m - 1)) - 2 * kxy.mean()
            values.append(float(mmd))
    t = torch.tensor(values, dtype=torch.float64)
    return float(t.mean()), float(t.std()) if len(values) > 1 else 0.0


# --------------------------------------------------------------------------------------------- attributes


def _classifier(classifier: str | Path | AttributeClassifier) -> AttributeClassifier:
    return classifier if isinstance(classifier, nn.Module) else load_classifier(classifier)


def rates_from_predictions(kind: str, pred: dict[str, torch.Tensor]) -> dict[str, float]:
    """Flat rates from a classifier's predictions (see `attribute_rates`)."""
    out: dict[str, float] = {}
    if kind == "faces":
        for k in FACE_BINARY:
            out[k] = float((pred[k] > 0.5).float().mean())
        out["turn_mean"] = float(pred["turn"].mean())
        out["turn_std"] = float(pred["turn"].std()) if len(pred["turn"]) > 1 else 0.0
        for k, n_classes in FACE_CATEGORICAL.items():
            hist = torch.bincount(pred[k].argmax(1), minlength=n_classes).float() / max(len(pred[k]), 1)
            out.update({f"{k}:{i}": float(h) for i, h in enumerate(hist)})
        out["confidence"] = float(torch.stack([torch.maximum(pred[k], 1 - pred[k]) for k in FACE_BINARY]).mean())
        colour = pred["hair_colour"].argmax(1)  # (N,)
        for i in range(FACE_CATEGORICAL["hair_colour"]):
            in_colour = colour == i
            out[f"n|hair_colour:{i}"] = float(in_colour.sum())
            for k in FACE_BINARY:
                out[f"{k}|hair_colour:{i}"] = float((pred[k][in_colour] > 0.5).float().mean()) if in_colour.any() else math.nan
    else:
        p = pred["digit"]
        hist = torch.bincount(p.argmax(1), minlength=10).float() / max(len(p), 1)
        out.update({f"digit:{i}": float(h) for i, h in enumerate(hist)})
        out["classes_covered"] = float((hist >= 0.025).sum())  # a quarter of the uniform share or more
        out["max_class_share"] = float(hist.max())
        out["confidence"] = float(p.max(1).values.mean())
    return out


def attribute_rates(images: torch.Tensor, classifier: str | Path | AttributeClassifier = "faces") -> dict[str, float]:
    """What the classifier sees in a set of images (uint8 or [-1, 1], any size), as flat numbers.

    faces: the share called smiling / eyeglasses / long_hair (probability > 0.5), `turn_mean`, `turn_std`, the
    share of each hair colour, skin tone and background (`hair_colour:0` ...), `confidence` (mean
    probability of the chosen answer for the binary attributes: low means ambiguous pictures), and within each
    hair colour its image count (`n|hair_colour:0` ...) and binary rates (`long_hair|hair_colour:0` ...).
    digits: the share of each class (`digit:0` ...), `classes_covered` (classes with >= 2.5% of the images),
    `max_class_share` and `confidence` (mean top-class probability).
    """
    clf = _classifier(classifier)
    return rates_from_predictions(clf.kind, clf.predict(images))


def within_colour_gap(gen: dict[str, float], data: dict[str, float], attribute: str,
                      min_images: int = MIN_PER_COLOUR) -> tuple[float, str]:
    """The largest |generated - data| rate of a binary face attribute within one hair colour, over the colours
    with at least `min_images` images in both sets (from `rates_from_predictions`) -> (gap, that colour's name);
    (nan, "") when no colour has enough images."""
    best, name = math.nan, ""
    for i, colour in enumerate(CATEGORIES["hair_colour"]):
        if min(gen.get(f"n|hair_colour:{i}", 0.0), data.get(f"n|hair_colour:{i}", 0.0)) < min_images:
            continue
        gap = abs(gen[f"{attribute}|hair_colour:{i}"] - data[f"{attribute}|hair_colour:{i}"])
        if not gap <= best:  # also replaces the initial nan
            best, name = gap, colour
    return best, name


def gap_closed(fd: float, floor: float, ceiling: float) -> float:
    """Where an FD sits between its floor (real vs real) and ceiling (an untrained G): 1 - (fd - floor) / (ceiling - floor).
    0 = no better than untrained, 1 = as close as real data; NaN when the span is not positive."""
    span = ceiling - floor
    if not math.isfinite(span) or span <= 0:
        return float("nan")
    return 1.0 - (fd - floor) / span


def total_variation(a: dict[str, float], b: dict[str, float], prefix: str) -> float:
    """Total variation between two categorical rate dicts: half the summed |a − b| over keys `prefix:…`."""
    keys = [k for k in a if k.startswith(prefix + ":")]
    return 0.5 * sum(abs(a[k] - b.get(k, 0.0)) for k in keys)


# --------------------------------------------------------------------------------------------- memorisation


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


def nearest_neighbours(queries: torch.Tensor, reference: torch.Tensor, exclude: torch.Tensor | None = None,
                       chunk: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query row (N, D), the Euclidean distance to its nearest reference row (M, D) and that row's
    index, both (N,); `exclude[i]` is a reference index query i may not match (itself, for leave-one-out)."""
    if queries.dim() != 2 or reference.dim() != 2 or queries.shape[1] != reference.shape[1]:
        raise ValueError(f"queries and reference must be (N, D) and (M, D) with the same D, got "
                         f"{tuple(queries.shape)} and {tuple(reference.shape)}: flatten images with .flatten(1)")
    best, where = torch.empty(len(queries)), torch.empty(len(queries), dtype=torch.long)
    ref_sq = reference.pow(2).sum(1)
    for i in range(0, len(queries), chunk):
        q = queries[i:i + chunk]
        d2 = (q.pow(2).sum(1, keepdim=True) + ref_sq - 2 * q @ reference.T).clamp_min_(0)  # (chunk, M)
        if exclude is not None:
            d2[torch.arange(len(q)), exclude[i:i + chunk]] = float("inf")
        d2_min, where[i:i + chunk] = d2.min(1)
        best[i:i + chunk] = d2_min.sqrt()
    return best, where


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
        clf = _classifier(classifier)
        tf = clf.embed(train)[0] if train_features is None else train_features.float()
        gf = clf.embed(generated[gen_idx])[0]
        d_gen, nearest["feature"] = nearest_neighbours(gf, tf)
        spaces["feature"] = _space_stats(d_gen, nearest_neighbours(tf[base_idx], tf, exclude=base_idx)[0])
    passed = all(s["p5_ratio"] >= min_p5_ratio and s["near_copy_share"] <= max_near_copy_share for s in spaces.values())
    return NNCheck(spaces, len(gen_idx), len(base_idx), n_train, passed, min_p5_ratio, max_near_copy_share,
                   gen_idx, nearest)


# --------------------------------------------------------------------------------------------- real sets (cached)


def _match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 images converted to `channels` (grey = channel mean, grey -> RGB by repetition)."""
    if images.shape[1] == channels:
        return images
    if channels == 1:
        return images.float().mean(1, keepdim=True).round().to(torch.uint8)
    return images.expand(-1, channels, -1, -1).contiguous()


def _check_dataset(dataset: str) -> str:
    if dataset not in EVALUATED_DATASETS:
        raise DCGANError(
            f"no course classifier for {dataset!r}: the offline evaluation covers {' and '.join(EVALUATED_DATASETS)}; "
            f"for real datasets use the standard Inception FID (`dcgan evaluate --standard`, needs the Inception "
            f"weights, e.g. on Colab)")
    return dataset


def check_evaluable(dataset: str) -> None:
    """Raise a one-line DCGANError unless `evaluate_generator` can evaluate `dataset` (call it before a long
    run with `--eval-every`, so that training does not stop at the first evaluation)."""
    _check_dataset(dataset)


@functools.lru_cache(maxsize=4)
def _digits(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    from .datasets import load_digits

    return load_digits(size)


@functools.lru_cache(maxsize=8)
def _real_sets(dataset: str, size: int, channels: int, n: int, seed: int, clf_key: str):
    """(uint8 real set A, its features, its predictions, features of the disjoint set B); cached per process.

    faces: A = make_faces(n, seed=700,000 + seed), B = make_faces(n, seed=800,000 + seed).
    digits: A and B are disjoint random halves of the 1797 digits (at most 898 each), drawn with `seed`.
    """
    clf = load_classifier(clf_key)
    if dataset == "faces":
        from .faces import make_faces

        a = make_faces(n, size, seed=_REAL_A_SEED + seed).images
        b = make_faces(n, size, seed=_REAL_B_SEED + seed).images
    else:
        images, _ = _digits(size)
        m = min(n, len(images) // 2)
        perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(_REAL_A_SEED + seed))
        a, b = images[perm[:m]], images[perm[m:2 * m]]
    a, b = _match_channels(a, channels), _match_channels(b, channels)
    fa, pa = clf.embed(a)
    fb, _ = clf.embed(b)
    return a, fa, pa, fb


@functools.lru_cache(maxsize=4)
def _real_predictions(size: int, channels: int, n: int, seed: int, clf_key: str) -> dict[str, torch.Tensor]:
    """The classifier's predictions on make_faces(n, seed=700,000 + seed): real set A grown to n faces (its
    first faces are set A), for attribute rates measured on more images than the Fréchet sets hold."""
    from .faces import make_faces

    images = _match_channels(make_faces(n, size, seed=_REAL_A_SEED + seed).images, channels)
    return load_classifier(clf_key).embed(images)[1]


@functools.lru_cache(maxsize=2)
def _train_set(dataset: str, size: int, channels: int, n_train: int, seed: int, clf_key: str):
    """The training images as `dcgan train` makes them (faces: make_faces(n_train, size, seed); digits: all
    1797) and their features; cached per process."""
    if dataset == "faces":
        from .faces import make_faces

        images = make_faces(n_train, size, seed=seed).images
    else:
        images = _digits(size)[0]
    images = _match_channels(images, channels)
    return images, load_classifier(clf_key).embed(images)[0]


def _generate(G: nn.Module, n: int, z_seed: int, batch_size: int = 250, prefix: int = 0) -> torch.Tensor:
    """n samples of G in [-1, 1] on the CPU (BatchNorm running statistics: `models.generate`). With `prefix`,
    the first `prefix` samples are exactly `_generate(G, prefix, z_seed)`'s."""
    z = sample_z(n, G.nz, generator=torch.Generator().manual_seed(z_seed))
    if 0 < prefix < n:  # torch's CPU randn fills in blocks of 16: a longer draw's prefix can differ in its last row
        z[:prefix] = sample_z(prefix, G.nz, generator=torch.Generator().manual_seed(z_seed))
    return generate_many(G, z, batch_size) if n else z.new_zeros(0)


@functools.lru_cache(maxsize=8)
def _ceiling_features(arch: tuple[int, int, int, int], n: int, seed: int, device: str, clf_key: str) -> torch.Tensor:
    """Features of n samples of an untrained G: Generator(*arch) initialised from torch.manual_seed(seed),
    exactly as `train.build_models` does for a run with that seed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = Generator(*arch)
    G = G.to(device)
    return load_classifier(clf_key).embed(_generate(G, n, _CEILING_Z_SEED + seed))[0]


@functools.lru_cache(maxsize=16)
def _reference_scores(dataset: str, size: int, channels: int, n: int, seed: int, clf_key: str, kid_subsets: int,
                      ceiling_arch: tuple[int, int, int, int] | None = None, device: str = "cpu") -> tuple[float, float]:
    """(FD, KID) of the floor (two disjoint real sets), or of the ceiling (an untrained G of `ceiling_arch`),
    against real set A; cached because they do not depend on the generator being evaluated (KID: ~7 s each)."""
    _, fa, _, fb = _real_sets(dataset, size, channels, n, seed, clf_key)
    other = fb if ceiling_arch is None else _ceiling_features(ceiling_arch, len(fa), seed, device, clf_key)
    return frechet_distance(other, fa), kid(other, fa, subsets=kid_subsets, seed=seed)[0]


def clear_caches() -> None:
    """Forget the cached real sets, training sets, ceilings and classifiers (e.g. after retraining a classifier)."""
    from .classifiers import _load_cached

    for f in (_digits, _real_sets, _real_predictions, _train_set, _ceiling_features, _reference_scores, _load_cached):
        f.cache_clear()


# --------------------------------------------------------------------------------------------- the evaluation


@dataclass
class EvalResult:
    """Everything `evaluate_generator` measured; `summary()` for histories and cards, `table()` to print."""

    dataset: str
    image_size: int
    n: int  # generated samples (KID, memorisation; the rates too unless n_rates is larger)
    n_fd: int  # images per set for the Fréchet distances (gen, real A, real B, untrained G)
    seed: int
    fd: float
    fd_floor: float
    fd_ceiling: float  # nan when not computed
    kid: float
    kid_std: float
    kid_floor: float
    kid_ceiling: float
    rates_gen: dict[str, float]
    rates_data: dict[str, float]
    nn: NNCheck | None
    seconds: float
    classifier: str = ""
    notes: list[str] = field(default_factory=list)
    n_rates: int = 0  # generated (and real) images behind the attribute rates; 0 means n

    @property
    def rate_stderr(self) -> float:
        """Standard error of a generated-minus-data difference of two rates near 0.5: sqrt(2 * 0.25 / n_rates)."""
        return math.sqrt(0.5 / (self.n_rates or self.n))

    @property
    def gap_closed(self) -> float:
        """1 - (FD_G - floor) / (ceiling - floor): 0 = no better than untrained, 1 = as close as real data."""
        return gap_closed(self.fd, self.fd_floor, self.fd_ceiling)

    def attribute_rows(self) -> list[tuple[str, float, float, float]]:
        """(name, generated, data, |difference|) for the attribute numbers worth comparing."""
        g, d = self.rates_gen, self.rates_data
        rows: list[tuple[str, float, float, float]] = []
        if self.dataset == "faces":
            for k in (*FACE_BINARY, "turn_mean", "turn_std", "confidence"):
                rows.append((k, g[k], d[k], abs(g[k] - d[k])))
            for k in FACE_CATEGORICAL:
                rows.append((f"{k}_tv", float("nan"), float("nan"), total_variation(g, d, k)))
            for k in FACE_BINARY:
                rows.append((f"{k}_within_colour", float("nan"), float("nan"), within_colour_gap(g, d, k)[0]))
        else:
            for k in ("classes_covered", "max_class_share", "confidence"):
                rows.append((k, g[k], d[k], abs(g[k] - d[k])))
            rows.append(("digit_tv", float("nan"), float("nan"), total_variation(g, d, "digit")))
        return rows

    def summary(self) -> dict[str, float]:
        """Flat floats (JSON-friendly; nan where not measured) for training histories and model cards."""
        out = {"fd": self.fd, "fd_floor": self.fd_floor, "fd_ceiling": self.fd_ceiling, "fd_gap_closed": self.gap_closed,
               "fd_over_floor": self.fd / self.fd_floor if self.fd_floor > 0 else float("nan"),
               "kid": self.kid, "kid_std": self.kid_std, "kid_floor": self.kid_floor, "kid_ceiling": self.kid_ceiling}
        for name, gen, data, diff in self.attribute_rows():
            if math.isnan(gen):  # a distance between two distributions: no generated or data value of its own
                out[name] = diff
            else:
                out.update({f"{name}_gen": gen, f"{name}_data": data, f"{name}_diff": diff})
        if self.nn is not None:
            out.update(self.nn.summary())
        out["n_rates"] = self.n_rates or self.n
        out["eval_s"] = self.seconds
        return {k: float(v) for k, v in out.items()}

    def table(self) -> str:
        """A readable text table of every number, with the floor, ceiling and gap closed of the FD."""
        def num(v: float, fmt: str = ".3f") -> str:
            return "-" if v is None or not math.isfinite(v) else format(v, fmt)

        lines = [
            f"Evaluation of a {self.image_size}x{self.image_size} {self.dataset} generator: {self.n} samples, seed {self.seed}",
            f"Note: {NOT_INCEPTION}",
            "",
            f"Fréchet distance (classifier features, {self.n_fd} images per set)",
            f"  {'generator':<36}{num(self.fd, '10.3f')}   = {num(self.fd / self.fd_floor if self.fd_floor > 0 else float('nan'), '.1f')} x the floor",
            f"  {'floor   (real vs disjoint real)':<36}{num(self.fd_floor, '10.3f')}",
            f"  {'ceiling (untrained G)':<36}{num(self.fd_ceiling, '10.3f')}",
            f"  {'gap closed':<36}{num(self.gap_closed, '10.3f')}   = 1 - (FD - floor) / (ceiling - floor):"
            f" 0 untrained, 1 as close as real data",
            "",
            "KID (unbiased MMD^2, polynomial kernel, same features; about 0 for real data)",
            f"  {'generator':<36}{num(self.kid, '10.4f')} ± {num(self.kid_std, '.4f')}",
            f"  {'floor   (real vs disjoint real)':<36}{num(self.kid_floor, '10.4f')}",
            f"  {'ceiling (untrained G)':<36}{num(self.kid_ceiling, '10.4f')}",
            "",
            f"Attributes (the classifier's predictions on {self.n_rates or self.n} generated and as many real images;"
            f" standard error of a difference ≈ {self.rate_stderr:.3f})",
            f"  {'':<41}{'generated':>9}  {'data':>7}  {'|diff|':>7}",
        ]
        for name, gen, data, diff in self.attribute_rows():
            label = name
            if name.endswith("_tv"):
                label = f"{_CATEGORY_NAMES.get(name[:-3], name[:-3])} mix (total variation)"
            elif name.endswith("_within_colour"):
                attribute = name[:-len("_within_colour")]
                label = f"{attribute}, worst hair colour ({within_colour_gap(self.rates_gen, self.rates_data, attribute)[1] or '-'})"
            lines.append(f"  {label:<41}{num(gen, '9.3f'):>9}  {num(data, '7.3f'):>7}  {num(diff, '7.3f'):>7}")
        if self.dataset == "faces":
            per_colour = (self.n_rates or self.n) / FACE_CATEGORICAL["hair_colour"]
            lines.append(f"  (worst hair colour: the largest |diff| of the rates within one hair colour; about {per_colour:.0f} images"
                         f" per colour, standard error ≈ {math.sqrt(0.5 / per_colour):.3f}, and the worst of five reads high)")
        if self.nn is not None:
            c = self.nn
            lines += [
                "",
                f"Memorisation: nearest training image ({c.n_generated} generated vs {c.n_baseline} training images "
                f"left out; {c.n_train} training images)",
                f"  {'space':<10}{'gen-train':>11}{'train-train':>12}{'ratio':>8}{'p5 ratio':>10}{'near copies':>13}"
                f"   (median nearest-neighbour distances; ratio and p5 ratio: gen / train-train)",
            ]
            for space, s in c.spaces.items():
                lines.append(f"  {space:<10}{s['gen_median']:>11.3f}{s['base_median']:>12.3f}{s['median_ratio']:>8.2f}"
                             f"{s['p5_ratio']:>10.2f}{s['near_copy_share']:>12.1%}")
            verdict = ("passed: generated samples are not nearer the training set than real images are" if c.passed else
                       f"FAILED: generated samples sit nearer the training images than real ones do (p5 ratio < "
                       f"{c.min_p5_ratio} or near copies > {c.max_near_copy_share:.0%}): the generator may copy its training set")
            lines.append(f"  {verdict}")
        for note in self.notes:
            lines.append(f"Note: {note}")
        lines.append(f"({self.seconds:.1f} s{'; classifier ' + self.classifier if self.classifier else ''})")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def evaluate_generator(
    G: nn.Module,
    dataset: str = "faces",
    n: int = 2000,
    seed: int = 0,
    *,
    train_images: torch.Tensor | None = None,
    n_train: int = 20_000,
    train_seed: int | None = None,
    ceiling: bool = True,
    memorisation: bool = True,
    device: str | torch.device | None = None,
    classifier: str | Path | None = None,
    nn_queries: int = 500,
    kid_subsets: int = 50,
    n_rates: int | None = None,
) -> EvalResult:
    """Measure generator G on `dataset` ('faces' or 'digits') with the course classifier; see the module text.

    `n` samples of G (z from `seed`, BatchNorm running statistics) are compared with real sets of the same
    size: faces drawn fresh from seeds no training run uses; digits (only 1797 exist) as two disjoint random
    halves, so there the FD sets hold at most 898 images each. FD floor = real A vs real B; FD ceiling = an
    untrained G of G's architecture initialised from `seed` (as `dcgan train --seed` does), if `ceiling`.

    The memorisation check needs G's training images: pass them as `train_images` (uint8 (N, C, S, S), e.g.
    `data.images`), or they are remade as `dcgan train` makes them: faces `make_faces(n_train, size,
    seed=train_seed)` (`train_seed` defaults to `seed`; the first k of n faces are make_faces(k), so a different
    n_train still checks a common subset), digits all 1797. Real sets, training-set features and the
    ceiling are cached within the process, so repeated evaluations during training are cheap.

    G needs `.nz`, `.image_size`, `.channels` (and `.width` for the ceiling; 64 if absent), one parameter
    (for its device), and `forward(z, edits=None)`: any `models.Generator` does.

    `n_rates` (faces only) measures the attribute rates on that many generated and real faces instead of n:
    a rate from 2000 images has a standard error of 0.011, too coarse to tell a 0.05 difference apart.
    The first n generated samples are the same either way, so FD, KID and memorisation do not change.
    """
    t0 = time.perf_counter()
    dataset = _check_dataset(dataset)
    clf_key = str(classifier) if classifier is not None else dataset
    clf = load_classifier(clf_key)
    if clf.kind != dataset:
        raise DCGANError(f"the classifier {clf_key} reads {clf.kind}, not {dataset}")
    size, channels = int(G.image_size), int(G.channels)
    dev = torch.device(device) if device is not None else next(G.parameters()).device
    notes: list[str] = []

    _, fa, pa, fb = _real_sets(dataset, size, channels, n, seed, clf_key)
    n_fd = len(fa)
    if dataset == "digits" and n_fd < n:
        notes.append(f"digits has only {DIGITS_TOTAL} images: the Fréchet distances use {n_fd} images per set "
                     f"(two disjoint halves of the data), the rates and KID all {n} samples")
    n_rates = max(n, n_rates or 0) if dataset == "faces" else n
    gen = _generate(G, n_rates, _Z_SEED + seed, prefix=n)  # the first n samples are those of _generate(G, n, ...)
    fg, pg = clf.embed(gen)
    pa = pa if n_rates == n else _real_predictions(size, channels, n_rates, seed, clf_key)
    gen, fg = gen[:n], fg[:n]
    fd = frechet_distance(fg[:n_fd], fa)
    k_mean, k_std = kid(fg, fa, subsets=kid_subsets, seed=seed)
    fd_floor, k_floor = _reference_scores(dataset, size, channels, n, seed, clf_key, kid_subsets)
    fd_ceiling = k_ceiling = float("nan")
    if ceiling:
        arch = (size, channels, int(G.nz), int(getattr(G, "width", 64)))
        fd_ceiling, k_ceiling = _reference_scores(dataset, size, channels, n, seed, clf_key, kid_subsets, arch, str(dev))

    check = None
    if memorisation:
        if train_images is None:
            train_images, train_feats = _train_set(dataset, size, channels, n_train, seed if train_seed is None else train_seed, clf_key)
        else:
            train_images = train_images.cpu()
            if train_images.dtype == torch.uint8:
                train_images = _match_channels(train_images, channels)
            train_feats = None
        check = nearest_neighbour_check(gen, train_images, clf, n_queries=nn_queries, seed=seed, train_features=train_feats)
    return EvalResult(
        dataset=dataset, image_size=size, n=n, n_fd=n_fd, seed=seed, fd=fd, fd_floor=fd_floor, fd_ceiling=fd_ceiling,
        kid=k_mean, kid_std=k_std, kid_floor=k_floor, kid_ceiling=k_ceiling,
        rates_gen=rates_from_predictions(dataset, pg), rates_data=rates_from_predictions(dataset, pa),
        nn=check, seconds=time.perf_counter() - t0,
        classifier=clf_key if classifier is not None else f"data/classifiers/{dataset}.pt", notes=notes,
        n_rates=n_rates,
    )


def evaluate_checkpoint(path: str | Path, n: int = 2000, seed: int | None = None, device: str = "auto",
                        **kwargs: Any) -> EvalResult:
    """`evaluate_generator` for the G of a dcgan_lib checkpoint (file or run folder), with its dataset, its
    training seed (also the default `seed`) and its number of training faces taken from the checkpoint."""
    from .checkpoint import build_generator, load
    from .train import pick_device

    ckpt = load(path)
    cfg = ckpt.get("config", {})
    dataset = cfg.get("dataset", "faces")
    _check_dataset(dataset)
    G = build_generator(ckpt, pick_device(device))
    train_seed = int(cfg.get("seed", 0))
    kwargs.setdefault("n_train", int(cfg.get("n_images", 20_000)))
    kwargs.setdefault("train_seed", train_seed)
    return evaluate_generator(G, dataset, n=n, seed=train_seed if seed is None else seed, **kwargs)


# --------------------------------------------------------------------------------------------- standard FID


_INCEPTION_HELP = ("pip install 'torchmetrics[image]' (it brings torch-fidelity); the Inception weights are "
                   "downloaded on first use, which needs internet, e.g. on Colab")


def _inception_metrics(kid_subset_size: int, device: torch.device, timeout_s: float = 30.0):
    """torchmetrics' FID and KID (2048-d Inception pool features), or a DCGANError saying what is missing."""
    try:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance
    except ImportError as e:
        raise DCGANError(f"standard FID needs torchmetrics with its image extra ({type(e).__name__}: {e}): "
                         f"{_INCEPTION_HELP}") from None
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout_s)  # a download that cannot connect fails instead of hanging
    try:
        fid = FrechetInceptionDistance(feature=2048, normalize=True)
        kid_metric = KernelInceptionDistance(feature=2048, subset_size=kid_subset_size, normalize=True)
    except ImportError as e:  # torch-fidelity missing: torchmetrics raises ModuleNotFoundError at construction
        raise DCGANError(f"standard FID needs torch-fidelity ({e}): {_INCEPTION_HELP}") from None
    except Exception as e:  # noqa: BLE001 - URLError, HTTPError, socket timeout, hash mismatch: all "no weights"
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise DCGANError(
            f"standard FID needs the Inception weights, which are downloaded on first use (needs internet, e.g. "
            f"on Colab); they could not be fetched here ({type(e).__name__}: {reason}). Offline, use the course "
            f"metrics: `dcgan evaluate` prints a Fréchet distance in the course classifier's feature space") from None
    finally:
        socket.setdefaulttimeout(old)
    return fid.to(device), kid_metric.to(device)


def _to_unit_rgb(x: torch.Tensor) -> torch.Tensor:
    """uint8 or [-1, 1] images -> float RGB in [0, 1] (what torchmetrics takes with normalize=True)."""
    x = x.float().div(255.0) if x.dtype == torch.uint8 else x.float().add(1.0).div(2.0).clamp(0.0, 1.0)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


def standard_fid(G: nn.Module, real: Any, n: int = 10_000, seed: int = 0, device: str = "auto",
                 batch_size: int = 100, kid_subset_size: int = 1000) -> dict[str, float]:
    """Standard Inception FID and KID (torchmetrics, 2048-d pool features) of G against real images.

    `real`: uint8 images (N, C, S, S), or a `data.ImageData` (in memory or streaming); up to `n` real images
    and `n` samples of G are used (published FIDs use 50,000 and are biased by sample size, so compare
    only numbers computed with the same n). These numbers *are* comparable with other Inception FIDs at the
    same n. Needs `torchmetrics[image]` and the Inception weights (downloaded on first use); without them a
    one-line DCGANError says so, instead of a failed download.
    Returns {"fid", "kid", "kid_std", "n_real", "n_fake"}.
    """
    from .train import pick_device

    dev = pick_device(device)
    fid, kid_metric = _inception_metrics(min(kid_subset_size, n), dev)
    n_real = 0
    for batch in _real_batches(real, n, batch_size, seed):
        x = _to_unit_rgb(batch).to(dev)
        fid.update(x, real=True)
        kid_metric.update(x, real=True)
        n_real += len(x)
    z = sample_z(n, G.nz, generator=torch.Generator().manual_seed(_Z_SEED + seed))
    for i in range(0, n, batch_size):
        x = _to_unit_rgb(generate(G, z[i:i + batch_size])).to(dev)
        fid.update(x, real=False)
        kid_metric.update(x, real=False)
    k_mean, k_std = kid_metric.compute()
    return {"fid": float(fid.compute()), "kid": float(k_mean), "kid_std": float(k_std), "n_real": float(n_real), "n_fake": float(n)}


def _real_batches(real: Any, n: int, batch_size: int, seed: int):
    if isinstance(real, torch.Tensor):
        idx = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))[:n]
        for i in range(0, len(idx), batch_size):
            yield real[idx[i:i + batch_size]]
        return
    if getattr(real, "images", None) is not None:
        yield from _real_batches(real.images.cpu(), n, batch_size, seed)
        return
    seen = 0
    for x in real.batches(batch_size, epoch=0, seed=seed, device="cpu"):  # streaming ImageData, [-1, 1]
        x = x[: n - seen]
        seen += len(x)
        yield x
        if seen >= n:
            return


# --------------------------------------------------------------------------------------------- CLI helper


def cli_evaluate(checkpoint: str | Path, n: int = 2000, seed: int | None = None, device: str = "auto",
                 standard: bool = False, standard_n: int = 10_000, data_root: str | Path | None = None,
                 n_rates: int = N_RATES) -> str:
    """What `dcgan evaluate --checkpoint PATH` prints: the course metrics table for faces and digits, and with
    `standard` the Inception FID/KID (any dataset; needs the weights; real images from `data_root`, by default
    where the run found its data). Raises DCGANError with a one-line fix."""
    from .checkpoint import build_generator, load
    from .data import load_data
    from .train import pick_device

    ckpt = load(checkpoint)
    cfg = ckpt.get("config", {})
    dataset = cfg.get("dataset", "faces")
    parts = []
    if dataset in EVALUATED_DATASETS:
        parts.append(evaluate_checkpoint(checkpoint, n=n, seed=seed, device=device, n_rates=n_rates).table())
    elif not standard:
        _check_dataset(dataset)
    if standard:
        G = build_generator(ckpt, pick_device(device))
        root = cfg.get("data_root", "data") if data_root is None else data_root  # an image folder, say
        data = load_data(dataset, G.image_size, int(cfg.get("n_images", 20_000)), int(cfg.get("seed", 0)), root)
        r = standard_fid(G, data, n=standard_n, seed=int(cfg.get("seed", 0)) if seed is None else seed, device=device)
        parts.append(f"Standard Inception FID ({int(r['n_fake'])} generated vs {int(r['n_real'])} real images; "
                     f"compare only with FIDs at the same n): FID {r['fid']:.2f}  KID {r['kid']:.4f} ± {r['kid_std']:.4f}")
    return "\n\n".join(parts)
