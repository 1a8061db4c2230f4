"""The standard Inception FID and KID (torchmetrics, 2048-d pool features), for real datasets on a machine that has
or can download the Inception weights, e.g. Colab. Offline it says so in one line; the course's own offline
measures are in `evaluate`."""

from __future__ import annotations

import socket
from typing import Any

import torch
from torch import nn

from .device import pick_device
from .errors import DCGANError
from .evaluate import Z_SEED
from .latent import sample_z
from .models import generate


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
    dev = pick_device(device)
    fid, kid_metric = _inception_metrics(min(kid_subset_size, n), dev)
    n_real = 0
    for batch in _real_batches(real, n, batch_size, seed):
        x = _to_unit_rgb(batch).to(dev)
        fid.update(x, real=True)
        kid_metric.update(x, real=True)
        n_real += len(x)
    z = sample_z(n, G.nz, generator=torch.Generator().manual_seed(Z_SEED + seed))
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
