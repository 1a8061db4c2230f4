"""Latent space tools: the one z sampler, straight and spherical paths between codes."""

from __future__ import annotations

import torch


def sample_z(n: int, nz: int = 100, device: torch.device | str = "cpu", generator: torch.Generator | None = None) -> torch.Tensor:
    """The course's one z sampler: standard normal, shape (n, nz, 1, 1)."""
    gen_device = generator.device if generator is not None else device
    return torch.randn(n, nz, 1, 1, generator=generator, device=gen_device).to(device)


def z_from_seed(seed: int, n: int = 1, nz: int = 100) -> torch.Tensor:
    """n codes drawn from a generator seeded with `seed`: the same seed always gives the same z's."""
    return sample_z(n, nz, generator=torch.Generator().manual_seed(seed))


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Straight-line interpolation (1 - t) z0 + t z1."""
    return torch.lerp(z0, z1, torch.as_tensor(t, dtype=z0.dtype))


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """Spherical interpolation: moves along the great circle, so the norm stays near sqrt(nz) as Gaussian
    codes' norms do, instead of dipping towards the origin halfway as `lerp` does."""
    a, b = z0.flatten(), z1.flatten()
    cos = torch.dot(a, b) / (a.norm() * b.norm()).clamp_min(1e-12)
    omega = torch.arccos(cos.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # (nearly) parallel: slerp degenerates to lerp
        return lerp(z0, z1, t)
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
