"""Distances between sets of images or features, each a plain function of tensors: the Fréchet distance (the
formula of FID, in any feature space), KID, nearest neighbours, total variation between two rate tables, and
where an FD sits between its floor and ceiling. `evaluate` applies them to a generator."""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch


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
