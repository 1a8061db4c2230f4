"""Arithmetic on latent codes, as the paper did it: label a pool of codes by what G draws for them, average k
codes into concept vectors, try the paper's two face equations over many random draws, and build the turn vector.

A *labeller* is any function images (N, C, S, S) in [-1, 1] -> {attribute name: (N,) scores}, binary attributes
as probabilities in [0, 1] (bool tensors work too). The procedural faces use the course classifier
(`classifier_labeller`); CelebA only needs another labeller (`fit_celeba_labeller` on its attributes), the rest
of the code is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from .classifiers import AttributeClassifier, load_classifier
from .faces import CATEGORIES
from .latent import generate_many, z_from_seed
from .streaming import celeba_attribute_index, open_streaming

Labeller = Callable[[torch.Tensor], dict[str, torch.Tensor]]
Spec = Mapping[str, bool]  # e.g. {"smiling": True, "long_hair": False}
CONFIDENCE = 0.999  # "labelled confidently": p >= 0.999 for True, p <= 0.001 for False (notebook 05 says why)


def classifier_labeller(classifier: Any = "faces", categories: Sequence[str] = ()) -> Labeller:
    """A labeller from a course classifier ('faces', a path or an AttributeClassifier): binary heads ->
    probabilities, `turn` -> [-1, 1]. Categorical heads are left out unless named in `categories`; each named
    one gives a 0/1 label per class, keyed "head=class" (e.g. "hair_colour=grey"): 1 for the classifier's
    most probable class. Usable in a Spec; being 0 or 1, it passes any confidence threshold (a threshold on
    a 5-way softmax would leave the classes the classifier confuses, such as brown and black, nearly empty)."""
    clf = classifier if isinstance(classifier, AttributeClassifier) else load_classifier(classifier)
    unknown = [c for c in categories if clf.head_sizes.get(c, 1) < 2]
    if unknown:
        raise ValueError(f"{unknown} are not categorical heads of this classifier; it has "
                         f"{sorted(k for k, n in clf.head_sizes.items() if n > 1)}")
    names = {c: class_names(c, clf.head_sizes[c]) for c in categories}

    def label(images: torch.Tensor) -> dict[str, torch.Tensor]:
        pred = clf.predict(images)
        out = {k: v for k, v in pred.items() if v.dim() == 1}
        for head, classes in names.items():
            top = pred[head].argmax(1)  # (N, C) -> (N,) -> C x (N,) one-hot
            out.update({f"{head}={c}": (top == j).float() for j, c in enumerate(classes)})
        return out

    return label


def class_index(labels: Mapping[str, torch.Tensor], head: str) -> torch.Tensor:
    """The class (N,) that the one-hot "head=class" labels of `classifier_labeller(..., categories=[head])`
    mark, as an index into `class_names(head, n)` (the labeller writes the classes in that order)."""
    keys = [k for k in labels if k.startswith(head + "=")]
    if not keys:
        raise ValueError(f"no {head}=... labels: make the labeller with classifier_labeller(..., categories=[{head!r}])")
    return torch.stack([labels[k] for k in keys], 1).argmax(1)  # C x (N,) -> (N, C) -> (N,)


def class_names(head: str, n: int) -> tuple[str, ...]:
    """Names of a categorical head's classes: the procedural faces' names ("black", ...), else "0", "1", ..."""
    known = CATEGORIES.get(head)
    return known if known is not None and len(known) == n else tuple(str(j) for j in range(n))


@dataclass
class LatentPool:
    """Codes z (N, nz, 1, 1) and what a labeller reads in their images ({name: (N,)})."""

    z: torch.Tensor
    labels: dict[str, torch.Tensor]

    def __len__(self) -> int:
        return len(self.z)

    def group(self, spec: Spec, confidence: float = CONFIDENCE) -> torch.Tensor:
        """Indices of the codes confidently labelled as `spec` says: p >= confidence for True, <= 1 - confidence for False."""
        return confident_mask(self.labels, spec, confidence).nonzero().flatten()


def label_pool(G: torch.nn.Module, labeller: Labeller, n: int, seed: int = 0, batch_size: int = 500) -> LatentPool:
    """Draw n codes from `seed` once, generate their images and label them: the pool concept vectors draw from."""
    z = z_from_seed(seed, n, G.nz)
    labels: dict[str, list[torch.Tensor]] = {}
    for i in range(0, n, batch_size):
        for k, v in labeller(generate_many(G, z[i:i + batch_size])).items():
            labels.setdefault(k, []).append(v.detach().float().cpu())
    return LatentPool(z, {k: torch.cat(v) for k, v in labels.items()})


def confident_mask(labels: Mapping[str, torch.Tensor], spec: Spec, confidence: float = CONFIDENCE) -> torch.Tensor:
    """(N,) bool: every attribute in `spec` labelled confidently with the wanted value."""
    if not 0.5 <= confidence <= 1:
        raise ValueError(f"confidence must be in [0.5, 1], got {confidence}")
    missing = set(spec) - set(labels)
    if missing:
        raise KeyError(f"the labeller gives no {sorted(missing)}; it gives {sorted(labels)}")
    n = len(next(iter(labels.values())))
    mask = torch.ones(n, dtype=torch.bool)
    for name, wanted in spec.items():
        p = labels[name].float()
        mask &= (p >= confidence) if wanted else (p <= 1 - confidence)
    return mask


def concept_vector(z: torch.Tensor) -> torch.Tensor:
    """A concept as the mean of k codes (k, nz, 1, 1) -> (nz, 1, 1), as the paper averaged three."""
    if len(z) == 0:
        raise ValueError("a concept vector needs at least one code: the group is empty (a larger pool or a lower confidence helps)")
    return z.mean(0)


def draw_codes(pool: LatentPool, spec: Spec, k: int, generator: torch.Generator, confidence: float = CONFIDENCE) -> torch.Tensor:
    """k distinct random codes (k, nz, 1, 1) from the pool's confident group for `spec`."""
    idx = pool.group(spec, confidence)
    if len(idx) < k:
        raise ValueError(f"only {len(idx)} codes in the pool are confidently {dict(spec)}, {k} needed: use a larger pool or a lower confidence")
    return pool.z[idx[torch.randperm(len(idx), generator=generator)[:k]]]


def attribute_direction(pool: LatentPool, attribute: str, confidence: float = CONFIDENCE,
                        given: Spec | None = None) -> torch.Tensor:
    """mean z of codes confidently showing `attribute` minus mean z of those confidently without it (nz, 1, 1);
    `given` fixes other attributes in both groups. Adding it to a z adds the attribute (notebook 04's sliders)."""
    given = dict(given or {})
    on = concept_vector(pool.z[pool.group({**given, attribute: True}, confidence)])
    off = concept_vector(pool.z[pool.group({**given, attribute: False}, confidence)])
    return on - off


# ------------------------------------------------------------------------------------------- vector arithmetic


@dataclass(frozen=True)
class Equation:
    """a - b + c, each term a group of codes given by a spec; `expected` is what the result should show."""

    name: str
    a: Spec
    b: Spec
    c: Spec
    expected: Spec

    def sharing(self, spec: Spec) -> "Equation":
        """The same equation with `spec` added to all three terms, so a, b and c agree on it (one hair colour,
        say); `expected` is unchanged."""
        return Equation(self.name, {**self.a, **spec}, {**self.b, **spec}, {**self.c, **spec}, self.expected)


def paper_equations(smiling: str = "smiling", eyeglasses: str = "eyeglasses", woman: str = "long_hair",
                    woman_value: bool = True) -> list[Equation]:
    """The paper's two face equations. On procedural faces long hair stands in for "woman"; on CelebA pass
    woman="male", woman_value=False (and the CelebA attribute names your labeller gives)."""
    w, m = {woman: woman_value}, {woman: not woman_value}
    return [
        Equation("smiling woman - neutral woman + neutral man = smiling man",
                 {smiling: True, **w}, {smiling: False, **w}, {smiling: False, **m}, {smiling: True, **m}),
        Equation("man with glasses - man without + woman without = woman with glasses",
                 {eyeglasses: True, **m}, {eyeglasses: False, **m}, {eyeglasses: False, **w}, {eyeglasses: True, **w}),
    ]


def equation_codes(pool: LatentPool, eq: Equation, k: int, generator: torch.Generator,
                   confidence: float = CONFIDENCE) -> tuple[torch.Tensor, torch.Tensor]:
    """One draw: the k codes of each term (3, k, nz, 1, 1) and the result mean(a) - mean(b) + mean(c) (nz, 1, 1)."""
    terms = torch.stack([draw_codes(pool, spec, k, generator, confidence) for spec in (eq.a, eq.b, eq.c)])
    a, b, c = (concept_vector(t) for t in terms)
    return terms, a - b + c


def paper_noise(y: torch.Tensor, n: int = 8, scale: float = 0.25, generator: torch.Generator | None = None) -> torch.Tensor:
    """The paper's Figure 7 right panel: the result y and n copies with uniform noise in [-scale, scale] added,
    (n + 1, nz, 1, 1) with y first."""
    noise = ((torch.rand(n, *y.shape, generator=generator) * 2 - 1) * scale).to(y.device)  # drawn on the CPU, like the generator
    return torch.cat([y[None], y[None] + noise])


def verdict(labels: Mapping[str, torch.Tensor], expected: Spec, threshold: float = 0.5) -> torch.Tensor:
    """(N,) bool: the labeller reads every expected attribute as expected (p > threshold means True)."""
    n = len(next(iter(labels.values())))
    ok = torch.ones(n, dtype=torch.bool)
    for name, wanted in expected.items():
        ok &= (labels[name].float() > threshold) == bool(wanted)
    return ok


@dataclass
class ArithmeticResult:
    """Outcome of `trials` draws of one equation with k codes per term."""

    equation: Equation
    k: int
    trials: int
    success: torch.Tensor  # (trials,) bool: both expected attributes read in G(result)
    per_attribute: dict[str, float]  # share of draws where that attribute alone came out as expected
    result_norm: float  # mean |result z|; a single Gaussian code has about sqrt(nz)

    @property
    def rate(self) -> float:
        return float(self.success.float().mean())

    @property
    def interval(self) -> tuple[float, float]:
        """95% Wilson interval of the success rate."""
        return wilson_interval(int(self.success.sum()), self.trials)

    def describe(self) -> str:
        """One line: the success rate with its 95% interval, each expected attribute's own rate and the mean |y|,
        e.g. "61.6% [57%, 66%] of 500  (smiling 89%, long_hair 68%; |y| = 10.0)"."""
        lo, hi = self.interval
        per = ", ".join(f"{a} {v:.0%}" for a, v in self.per_attribute.items())
        return f"{self.rate:5.1%} [{lo:.0%}, {hi:.0%}] of {self.trials}  ({per}; |y| = {self.result_norm:.1f})"


def arithmetic_trials(G: torch.nn.Module, pool: LatentPool, eq: Equation, labeller: Labeller, k: int = 3,
                      trials: int = 100, seed: int = 0, confidence: float = CONFIDENCE,
                      shared: Sequence[Spec] = (), combine: Callable[..., torch.Tensor] | None = None) -> ArithmeticResult:
    """Success of `eq` over `trials` independent draws: fresh random codes from the pool's confident groups
    each time; the verdict is the labeller's reading of the generated result (never chosen by outcome).
    With `shared`, each draw first picks one of those specs at random and all three terms share it
    (`Equation.sharing`), e.g. one spec per hair colour: a, b and c then show the same hair colour.
    `combine(a, b, c)`, given the terms' codes (k, nz, 1, 1) each, replaces mean(a) - mean(b) + mean(c)
    (an exercise plugs its own in)."""
    g = torch.Generator().manual_seed(seed)
    variants = [eq.sharing(s) for s in shared]

    def one_draw() -> torch.Tensor:
        pick = variants[int(torch.randint(len(variants), (1,), generator=g))] if variants else eq
        terms, result = equation_codes(pool, pick, k, g, confidence)
        return result if combine is None else combine(*terms).reshape(result.shape)

    results = torch.stack([one_draw() for _ in range(trials)])  # (T, nz, 1, 1)
    labels = labeller(generate_many(G, results))
    per = {name: float(verdict(labels, {name: want}).float().mean()) for name, want in eq.expected.items()}
    return ArithmeticResult(eq, k, trials, verdict(labels, eq.expected), per, float(results.flatten(1).norm(dim=1).mean()))


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (95% by default)."""
    if n <= 0:
        raise ValueError("the interval needs at least one trial")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def linear_readout(pool: LatentPool, attribute: str, within: torch.Tensor | None = None,
                   train_share: float = 0.75, balanced: bool = False) -> tuple[float, torch.Tensor]:
    """How linear an attribute is in z: a logistic regression from z to "label > 0.5", fitted on the first
    `train_share` of the codes (optionally only those in the bool mask `within`), scored on the rest.
    Returns (held-out accuracy, unit normal of its boundary (nz,)). Accuracy near 1: one direction
    in z carries the attribute, which is what concept-vector arithmetic assumes. `balanced` scores the
    mean of the two classes' accuracies instead, so chance is 0.5 however rare the attribute is (a G that
    draws long hair on 20% of faces gets 0.8 from always saying "short")."""
    z, y = pool.z.flatten(1), pool.labels[attribute] > 0.5
    if within is not None:
        z, y = z[within], y[within]
    cut = int(len(z) * train_share)
    if min(cut, len(z) - cut) < 10 or y[:cut].all() or not y[:cut].any():
        raise ValueError(f"{len(z)} codes ({int(y.sum())} with {attribute}) are too few to fit and score a "
                         "read-out: use a larger pool")
    lr = LogisticRegression(max_iter=2000).fit(z[:cut].numpy(), y[:cut].numpy())
    w = torch.as_tensor(lr.coef_[0], dtype=torch.float32)
    test_z, test_y = z[cut:].numpy(), y[cut:].numpy()
    score = balanced_accuracy_score(test_y, lr.predict(test_z)) if balanced else lr.score(test_z, test_y)
    return float(score), w / w.norm()


# --------------------------------------------------------------------------------------------- the turn vector


def turn_codes(pool: LatentPool, k: int | None, generator: torch.Generator | None = None, attribute: str = "turn",
               threshold: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean z of k random codes turned one way (score <= -threshold) and of k turned the other (>= threshold),
    (nz, 1, 1) each; k=None averages all of them. right - left is the paper's "turn vector"."""
    t = pool.labels[attribute]
    ends = []
    for side in ((t <= -threshold), (t >= threshold)):
        idx = side.nonzero().flatten()
        if k is not None:
            if len(idx) < k:
                raise ValueError(f"only {len(idx)} codes have |{attribute}| >= {threshold} on that side, {k} needed: use a larger pool or a lower threshold")
            idx = idx[torch.randperm(len(idx), generator=generator)[:k]]
        ends.append(concept_vector(pool.z[idx]))
    return ends[0], ends[1]


# ------------------------------------------------------------------------------------ a labeller for CelebA


def fit_attribute_labeller(images: torch.Tensor, targets: Mapping[str, torch.Tensor], epochs: int = 3,
                           batch_size: int = 128, lr: float = 2e-3, seed: int = 0,
                           device: str | torch.device = "cpu") -> Labeller:
    """Train a small attribute CNN (the course classifier's body, one logit per attribute) on labelled real
    images, e.g. CelebA with targets {"smiling": attr[:, celeba_attribute_index("Smiling")], ...}; returns
    its labeller (images -> probabilities). Minutes on a GPU for 50k CelebA images."""
    if not targets:
        raise ValueError("give at least one target, e.g. {'smiling': labels}")
    bad = [k for k, v in targets.items() if len(v) != len(images)]
    if bad:
        raise ValueError(f"targets {bad} do not have one label per image ({len(images)} images)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AttributeClassifier("faces", channels=images.shape[1], heads={k: 1 for k in targets}).to(device)
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    y = torch.stack([targets[k].float() for k in targets], 1)  # (N, A)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for i in range(0, max(len(images) - batch_size, 0) + 1, batch_size):  # full batches (all, if fewer)
            idx = order[i:i + batch_size]
            out = model(images[idx].to(device))
            logits = torch.stack([out[k] for k in targets], 1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval().requires_grad_(False)
    return classifier_labeller(model)


CELEBA_PAPER_ATTRIBUTES: dict[str, str] = {"smiling": "Smiling", "male": "Male", "eyeglasses": "Eyeglasses"}


def fit_celeba_labeller(root: str | Path, image_size: int = 64, n_images: int = 30_000,
                        attributes: Mapping[str, str] = CELEBA_PAPER_ATTRIBUTES, epochs: int = 3, seed: int = 0,
                        device: str | torch.device = "cpu") -> Labeller:
    """`fit_attribute_labeller` on `n_images` random CelebA training images and their attribute columns
    ({our name: CelebA name}, the paper's three by default). `root` is the CelebA data folder as `dcgan train`
    uses it, `<data-root>/celeba` (it holds celeba/img_align_celeba and list_attr_celeba.txt). Pair it with
    `paper_equations(woman="male", woman_value=False)`."""
    columns = {k: celeba_attribute_index(v) for k, v in attributes.items()}  # a misspelt name fails before loading
    data = open_streaming("celeba", root, image_size)
    pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:n_images]
    images, attrs = (torch.stack(x) for x in zip(*(data[int(i)] for i in pick)))  # (n, 3, S, S) uint8, (n, 40)
    return fit_attribute_labeller(images, {k: attrs[:, c] for k, c in columns.items()}, epochs=epochs, seed=seed,
                                  device=device)
