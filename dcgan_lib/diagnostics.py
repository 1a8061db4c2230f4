"""Diagnosing a GAN run (notebook 03): what the history's numbers say, how varied the samples are, what to change.

The losses alone cannot tell a healthy DCGAN from a failing one: in the shipped faces32 run D stays confident
(D(G(z)) about 0.02-0.1) for 62 epochs while G keeps improving. So the rules below compare against that run,
and mode collapse is judged from the samples (`diversity`), never from the losses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch

from .classifiers import FACE_CATEGORICAL, AttributeClassifier, load_classifier
from .errors import DCGANError
from .faces import ATTRIBUTES

# Mean D(G(z)) over the last records below which D "wins". The healthy shipped faces32 run never logged less
# than 0.017 (20-step means, 62 epochs); a CPU 64x64 run that collapsed sat at 0.005.
D_WINS_BELOW = 0.01
# D(x) - D(G(z)) below which D no longer separates real from fake (healthy faces32: 0.8-0.95).
D_SEPARATES_ABOVE = 0.3
# Feature spread of G's samples relative to the data's below which we call it mode collapse
# (shipped faces32: about 0.9).
COLLAPSE_BELOW = 0.5


def recent(history: list[dict[str, float]], last: int = 5) -> dict[str, float]:
    """Means of loss_D, loss_G, D_x and D_G_z over the last `last` loss records of a `train()` history."""
    recs = [r for r in history if "loss_D" in r][-last:]
    if not recs:
        raise DCGANError("the history has no loss records yet: train for at least `log_every` steps first")
    return {k: sum(r[k] for r in recs) / len(recs) for k in ("loss_D", "loss_G", "D_x", "D_G_z")}


@torch.no_grad()
def diversity(images: torch.Tensor, classifier: str | Path | AttributeClassifier = "faces") -> dict[str, float]:
    """How varied a set of images is, seen by a course classifier (images uint8 or in [-1, 1]).

    `feature_spread`: total variance of the classifier's features (sum over the 128 dimensions; compare with
    real images' at the same n). `distinct_looks`: how many different predicted combinations occur (faces:
    smiling, eyeglasses, long hair, hair colour, skin tone, background; digits: the class);
    `effective_looks`: exp(entropy) of those combinations, the number of equally common looks it amounts to.
    """
    clf = classifier if isinstance(classifier, torch.nn.Module) else load_classifier(classifier)
    if len(images) < 2:
        raise DCGANError("diversity needs at least 2 images (a few hundred give stable numbers)")
    feats, pred = clf.embed(images)
    if clf.kind == "faces":
        parts = [(pred[k] > 0.5).long() for k in ATTRIBUTES] + [pred[k].argmax(1) for k in FACE_CATEGORICAL]
    else:
        parts = [pred["digit"].argmax(1)]
    _, counts = torch.unique(torch.stack(parts, 1), dim=0, return_counts=True)  # (N, parts) -> counts per look
    p = counts.double() / counts.sum()
    return {"feature_spread": float(feats.var(0).sum()), "distinct_looks": float(len(counts)),
            "effective_looks": float(torch.exp(-(p * p.log()).sum()))}


@dataclass
class Finding:
    """One diagnosis: what is wrong, the numbers that show it, and what to change."""

    name: str
    evidence: str
    change: str

    def __str__(self) -> str:
        return f"{self.name}: {self.evidence}\n  change: {self.change}"


def diagnose(history: list[dict[str, float]], spread_ratio: float | None = None, last: int = 5) -> list[Finding]:
    """Failure signals in the last `last` records of a history, plus mode collapse if `spread_ratio`
    (G's `feature_spread` / the data's) is given. An empty list means no signal, not success."""
    r = recent(history, last)
    found = []
    if r["D_G_z"] < D_WINS_BELOW:
        found.append(Finding(
            "D wins", f"D(G(z)) = {r['D_G_z']:.4f} < {D_WINS_BELOW} (healthy runs: 0.02-0.1), loss_D = {r['loss_D']:.3f}",
            "let G keep up: give G at least D's learning rate (lr >= lr_D), do not make D stronger than G, "
            "restart from an earlier checkpoint"))
    if r["D_x"] - r["D_G_z"] < D_SEPARATES_ABOVE:
        found.append(Finding(
            "D no longer separates real from fake",
            f"D(x) = {r['D_x']:.2f}, D(G(z)) = {r['D_G_z']:.2f} (healthy runs: 0.9 vs 0.1)",
            "G has found what D accepts, or D stopped learning: look at the samples and their diversity; "
            "lower G's learning rate or raise D's to the same value (the paper uses 2e-4 for both)"))
    if spread_ratio is not None and not (spread_ratio >= COLLAPSE_BELOW):  # NaN counts as collapse
        found.append(Finding(
            "mode collapse", f"the samples' feature spread is {spread_ratio:.2f} x the data's (< {COLLAPSE_BELOW})",
            "go back to a checkpoint before the collapse; keep D learning as fast as G (lr_D = lr); "
            "keep BatchNorm in G; add minibatch-std features to D (notebook 01)"))
    return found


def spread_ratio(gen: dict[str, float], data: dict[str, float]) -> float:
    """G's feature spread over the data's (from two `diversity` results); NaN if the data's is 0."""
    return gen["feature_spread"] / data["feature_spread"] if data["feature_spread"] > 0 else math.nan
