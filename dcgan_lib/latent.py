"""The latent space: the one z sampler, straight and spherical paths between codes, generating many images,
and the measures of a walk (its norms, its steps, how monotone a reading along it is). The arithmetic on codes
(concept vectors, the paper's equations, the turn vector) is in `arithmetic`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .models import generate


def sample_z(n: int, nz: int = 100, device: torch.device | str = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    """The course's one z sampler: standard normal, shape (n, nz, 1, 1)."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(n, nz, 1, 1, generator=generator, device=gen_device).to(device)


def z_from_seed(seed: int, n: int = 1, nz: int = 100) -> torch.Tensor:
    """n codes drawn from a generator seeded with `seed`: the same seed always gives the same z's."""
    return sample_z(n, nz, generator=torch.Generator().manual_seed(seed))


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight-line interpolation (1 - t) z0 + t z1."""
    return torch.lerp(z0, z1, torch.as_tensor(t, dtype=z0.dtype, device=z0.device))  # torch < 2.6 wants one device


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation: moves along the great circle, so the norm stays near sqrt(nz) as Gaussian
    codes' norms do, instead of dipping towards the origin halfway as `lerp` does."""
    a, b = z0.flatten(), z1.flatten()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # (nearly) parallel: slerp degenerates to lerp
        return lerp(z0, z1, t)
    if omega > math.pi - 1e-3:  # sin(omega) ~ 0: every great circle joins them, and the formula gives noise
        raise ValueError("slerp: z0 and z1 point in opposite directions, so no single great circle joins them; "
                         "pick another pair of codes (Gaussian codes almost never are)")
    t = torch.as_tensor(t, dtype=z0.dtype)
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, method: str = "slerp") -> torch.Tensor:
    """`steps` codes from z0 to z1 (both ends included): (nz,...) -> (steps, nz, 1, 1)."""
    if method not in ("lerp", "slerp"):
        raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    fn = slerp if method == "slerp" else lerp
    path = [fn(z0.flatten(), z1.flatten(), float(t)) for t in torch.linspace(0, 1, steps)]
    return torch.stack(path).reshape(steps, -1, 1, 1)


def generate_many(G: torch.nn.Module, z: torch.Tensor, batch_size: int = 500, edits: dict | None = None) -> torch.Tensor:
    """Images in [-1, 1] on the CPU for many codes, in batches (BatchNorm running statistics, as `models.generate`),
    with `edits` to G's layers if given."""
    return torch.cat([generate(G, z[i:i + batch_size], edits=edits).float().cpu() for i in range(0, len(z), batch_size)])


def ranks(x: torch.Tensor) -> torch.Tensor:
    """0-based ranks of a 1-D tensor, ties sharing their average rank (as scipy's rankdata, minus 1)."""
    v = x.flatten().double()
    below = (v[None, :] < v[:, None]).sum(1)  # (n, n) comparisons: fine for paths of a few hundred steps
    equal = (v[None, :] == v[:, None]).sum(1)
    return below.double() + (equal.double() - 1) / 2


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman rank correlation of two 1-D tensors; tied values (a reading clamped at ±1, a probability of
    exactly 1) share their average rank. NaN when either is constant."""
    rx, ry = ranks(x), ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = rx.norm() * ry.norm()
    return float((rx * ry).sum() / denom) if denom > 0 else float("nan")


def monotonicity(values: torch.Tensor) -> dict[str, float]:
    """How monotone a sequence is: Spearman correlation with its position and the share of steps that go
    the way of the whole path (both 1 for a perfectly monotone rise)."""
    values = values.flatten().double()
    sign = 1.0 if values[-1] >= values[0] else -1.0
    return {"spearman": spearman(torch.arange(len(values)), values),
            "monotone_share": float((values.diff() * sign > 0).double().mean())}


# ------------------------------------------------------------------------------------------------- smoothness


def path_norms(path: torch.Tensor) -> torch.Tensor:
    """|z| at each point of a path (S, nz, 1, 1) -> (S,)."""
    return path.flatten(1).norm(dim=1)


def step_sizes(frames: torch.Tensor) -> torch.Tensor:
    """Distances between consecutive points of paths: (P, S, ...) -> (P, S - 1), RMS per value (pixels or features)."""
    d = frames.flatten(2).diff(dim=1)
    return d.pow(2).mean(-1).sqrt()


def step_ratio(frames: torch.Tensor) -> torch.Tensor:
    """Largest step over mean step along each path, (P, S, ...) -> (P,): 1 for even motion, up to S - 1 for one jump."""
    s = step_sizes(frames)
    return s.max(1).values / s.mean(1).clamp_min(1e-12)


def splice(frames: torch.Tensor) -> torch.Tensor:
    """Paths with a jump, for comparison: the first half of path i followed by the second half of path i + 1 (P, S, ...)."""
    half = frames.shape[1] // 2
    return torch.cat([frames[:, :half], frames.roll(-1, dims=0)[:, half:]], dim=1)


def random_paths(n_paths: int, steps: int = 16, nz: int = 100, seed: int = 0, method: str = "slerp") -> torch.Tensor:
    """n_paths walks between independent pairs of codes drawn from `seed`: (P, steps, nz, 1, 1)."""
    ends = z_from_seed(seed, 2 * n_paths, nz)
    return torch.stack([interpolate(ends[2 * i], ends[2 * i + 1], steps, method) for i in range(n_paths)])


def quantiles(x: torch.Tensor, qs: Sequence[float] = (0.5, 0.95)) -> list[float]:
    """Quantiles of a 1-D tensor as floats (the median and the 95th percentile by default)."""
    return torch.quantile(x.double().flatten(), torch.tensor(list(qs), dtype=torch.float64)).tolist()
