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
* **Memorisation check** (`memorisation.nearest_neighbour_check`): the distance from each generated sample to its
  nearest training image, against the same distance for training images to their nearest *other* training
  image (leave-one-out: "training to training", which is how far a fresh real image sits from the training
  set). A generator that copies training images has generated samples systematically nearer.

The distances themselves are plain functions in `metrics`; `inception` gives the standard Inception FID / KID
for real datasets (torchmetrics, on a machine that has or can download the weights).
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import build_generator, load
from .classifiers import FACE_CATEGORICAL, AttributeClassifier, load_classifier
from .classifiers import clear_cache as clear_classifier_cache
from .datasets import load_digits
from .device import check_memory, pick_device
from .errors import DCGANError
from .faces import ATTRIBUTES, CATEGORIES, make_faces
from .latent import generate_many, sample_z
from .memorisation import NNCheck, nearest_neighbour_check
from .metrics import frechet_distance, gap_closed, kid, total_variation
from .models import Generator

EVALUATED_DATASETS = ("faces", "digits")  # the datasets with a course classifier
NOT_INCEPTION = ("FD and KID here are measured in the course classifier's feature space: "
                 "not Inception FID, not comparable with published FID numbers.")
DIGITS_TOTAL = 1797
# Seeds of the real sets (procedural faces) and of z: far from the small seeds generators train on and from
# the classifier's (classifiers.FACES_TRAIN_SEED, FACES_HELDOUT_SEED).
_REAL_A_SEED, _REAL_B_SEED, Z_SEED, _CEILING_Z_SEED = 700_000, 800_000, 900_000, 950_000  # Z_SEED: inception too
_CATEGORY_NAMES = {"hair_colour": "hair colour", "skin_tone": "skin tone", "background": "background"}
# A marginal rate can hide a bias within one kind of face: faces32 draws long hair at the data's overall rate
# but on only 40% of grey-haired faces (notebook 05). So the binary rates are also compared within each hair
# colour, on colours that hold at least this many images in both sets.
MIN_PER_COLOUR = 200


# --------------------------------------------------------------------------------------------- attributes


def _classifier(classifier: str | Path | AttributeClassifier) -> AttributeClassifier:
    return classifier if isinstance(classifier, nn.Module) else load_classifier(classifier)


def rates_from_predictions(kind: str, pred: dict[str, torch.Tensor]) -> dict[str, float]:
    """Flat rates from a classifier's predictions (see `attribute_rates`)."""
    out: dict[str, float] = {}
    if kind == "faces":
        for k in ATTRIBUTES:
            out[k] = float((pred[k] > 0.5).float().mean())
        out["turn_mean"] = float(pred["turn"].mean())
        out["turn_std"] = float(pred["turn"].std()) if len(pred["turn"]) > 1 else 0.0
        for k, n_classes in FACE_CATEGORICAL.items():
            hist = torch.bincount(pred[k].argmax(1), minlength=n_classes).float() / max(len(pred[k]), 1)
            out.update({f"{k}:{i}": float(h) for i, h in enumerate(hist)})
        out["confidence"] = float(torch.stack([torch.maximum(pred[k], 1 - pred[k]) for k in ATTRIBUTES]).mean())
        colour = pred["hair_colour"].argmax(1)  # (N,)
        for i in range(FACE_CATEGORICAL["hair_colour"]):
            in_colour = colour == i
            out[f"n|hair_colour:{i}"] = float(in_colour.sum())
            for k in ATTRIBUTES:
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
    return load_digits(size)


@functools.lru_cache(maxsize=8)
def _real_sets(dataset: str, size: int, channels: int, n: int, seed: int, clf_key: str):
    """(uint8 real set A, its features, its predictions, features of the disjoint set B); cached per process.

    faces: A = make_faces(n, seed=700,000 + seed), B = make_faces(n, seed=800,000 + seed).
    digits: A and B are disjoint random halves of the 1797 digits (at most 898 each), drawn with `seed`.
    """
    clf = load_classifier(clf_key)
    if dataset == "faces":
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
    images = _match_channels(make_faces(n, size, seed=_REAL_A_SEED + seed).images, channels)
    return load_classifier(clf_key).embed(images)[1]


@functools.lru_cache(maxsize=2)
def _train_set(dataset: str, size: int, channels: int, n_train: int, seed: int, clf_key: str):
    """The training images as `dcgan train` makes them (faces: make_faces(n_train, size, seed); digits: all
    1797) and their features; cached per process."""
    if dataset == "faces":
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
    for f in (_digits, _real_sets, _real_predictions, _train_set, _ceiling_features, _reference_scores):
        f.cache_clear()
    clear_classifier_cache()


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
            for k in (*ATTRIBUTES, "turn_mean", "turn_std", "confidence"):
                rows.append((k, g[k], d[k], abs(g[k] - d[k])))
            for k in FACE_CATEGORICAL:
                rows.append((f"{k}_tv", float("nan"), float("nan"), total_variation(g, d, k)))
            for k in ATTRIBUTES:
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
    n_gen = max(n, n_rates or 0) if dataset == "faces" else n
    # generated images (float, and their concatenation) and the real sets (uint8) are all held at once
    check_memory(int(G.channels) * int(G.image_size) ** 2 * (8 * n_gen + 3 * n), "cpu",
                 f"evaluating on {n:,} images ({n_gen:,} generated)", "use a smaller --n or --n-rates")
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
    gen = _generate(G, n_rates, Z_SEED + seed, prefix=n)  # the first n samples are those of _generate(G, n, ...)
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
                        dataset: str | None = None, **kwargs: Any) -> EvalResult:
    """`evaluate_generator` for the G of a checkpoint (a file, a run folder, a shipped name or a tutorial's
    netG.pth), with its dataset, its training seed (also the default `seed`) and its number of training faces
    taken from the checkpoint. `dataset` names the data for a checkpoint that does not record it (a netG.pth)."""
    ckpt = load(path)
    cfg = ckpt.get("config", {})
    dataset = dataset or cfg.get("dataset")
    if dataset is None:
        raise DCGANError(f"{path} does not say what it was trained on: pass the dataset (--dataset faces or digits)")
    _check_dataset(dataset)
    G = build_generator(ckpt, pick_device(device))
    train_seed = int(cfg.get("seed", 0))
    kwargs.setdefault("n_train", int(cfg.get("n_images", 20_000)))
    kwargs.setdefault("train_seed", train_seed)
    return evaluate_generator(G, dataset, n=n, seed=train_seed if seed is None else seed, **kwargs)
