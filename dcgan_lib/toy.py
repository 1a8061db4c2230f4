"""Toy GANs for the theory notebook: a 1-D GAN (Goodfellow et al., 2014, Figure 1) and a 2-D ring of
Gaussians for mode collapse (Metz et al., 2016), with remedies measured on the same seeds.

Every run is reproducible from its seed: weights are initialised inside `torch.random.fork_rng` and all
sampling uses a local `torch.Generator`, so nothing leaks into (or depends on) the global RNG.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .models import real_slope

LOSSES = ("non_saturating", "saturating")
REMEDIES = (None, "minibatch_std", "gradient_penalty", "unrolled")


def _mlp(n_in: int, hidden: int, depth: int, n_out: int) -> nn.Sequential:
    """`depth` hidden layers of `hidden` ReLU units, linear output."""
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else hidden, hidden), nn.ReLU()]
    layers.append(nn.Linear(hidden, n_out))
    return nn.Sequential(*layers)


def generator_loss(d_fake_logits: torch.Tensor, loss: str) -> torch.Tensor:
    """Generator loss from D's logits on fakes: saturating E[log(1 - D)] or non-saturating -E[log D]."""
    if loss == "saturating":
        return -F.softplus(d_fake_logits).mean()  # log(1 - sigmoid(a)) = -softplus(a)
    return F.softplus(-d_fake_logits).mean()  # -log sigmoid(a) = softplus(-a)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """D's cross-entropy: -E[log D(x)] - E[log(1 - D(G(z)))]."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def d_update(D: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor, r1: float = 0.0) -> torch.Tensor:
    """One step of D on a real and a fake batch of points (fakes already detached); `r1` adds the R1 penalty
    on D's gradient at the real points. Returns D's loss. (The image GAN's `train.d_step` is the same update,
    written with BCEWithLogits for images; these small games keep their own so notebook 01's numbers stay put.)"""
    if r1:
        real = real.requires_grad_(True)
    real_logits = D(real)
    loss = discriminator_loss(real_logits, D(fake))
    if r1:
        # R1: penalise D's gradient on real data, which stops D from sharpening into spikes that
        # push G's samples from one mode to the next (Mescheder et al., 2018).
        loss = loss + r1 / 2 * real_slope(real_logits, real).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def generator_loss_gradients(d_values: torch.Tensor) -> dict[str, torch.Tensor]:
    """d(loss_G)/d(logit) at D(G(z)) = d_values, for the saturating loss log(1 - D) (= -D) and the
    non-saturating loss -log D (= -(1 - D)). Analytic; the tests check them against autograd."""
    d = torch.as_tensor(d_values, dtype=torch.float32)
    # With D = sigmoid(a): d/da log(1 - D) = -D, which vanishes exactly when D confidently rejects
    # the fakes (early training); d/da (-log D) = -(1 - D), which is largest there.
    return {"saturating": -d, "non_saturating": -(1 - d)}


# ----------------------------------------------------------------------------------------------- 1-D


@dataclass
class Toy1DResult:
    """A trained 1-D GAN, snapshots of the three curves of Goodfellow et al.'s Figure 1, and losses."""

    G: nn.Module
    D: nn.Module
    data_mean: float
    data_std: float
    # step, xs, data_density, g_density, d_prob, g_mean, g_std, d_on_data, d_on_g
    snapshots: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # step, loss_D, loss_G, d_fake, g_grad_norm
    seconds: float = 0.0

    def support(self, width: float = 2.0) -> tuple[float, float]:
        """The data's support for the D(x) check: mean ± `width` σ (95% of the data's mass)."""
        return self.data_mean - width * self.data_std, self.data_mean + width * self.data_std

    @torch.no_grad()
    def d_deviation(self, n: int = 201) -> float:
        """Mean |D(x) − 0.5| over `n` evenly spaced x in the data's support (0 at the equilibrium)."""
        lo, hi = self.support()
        xs = torch.linspace(lo, hi, n).unsqueeze(1)
        return (torch.sigmoid(self.D(xs)) - 0.5).abs().mean().item()

    @torch.no_grad()
    def sample(self, n: int = 10_000, seed: int = 0) -> torch.Tensor:
        """n samples from G (shape (n,)), reproducible from `seed`."""
        z = torch.randn(n, 1, generator=torch.Generator().manual_seed(seed))
        return self.G(z).squeeze(1)


class _Affine(nn.Module):
    """A fixed x -> x * scale + shift, no weights."""

    def __init__(self, shift: float, scale: float):
        super().__init__()
        self.shift, self.scale = shift, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def _kde(samples: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Gaussian kernel density estimate with Scott's bandwidth: a smooth G density to animate."""
    n = len(samples)
    h = max(1.06 * samples.std() * n ** (-1 / 5), 1e-3)  # floor: a collapsed G is a spike, not a NaN
    u = (xs[:, None] - samples[None, :]) / h
    return np.exp(-0.5 * u**2).sum(1) / (n * h * math.sqrt(2 * math.pi))


@torch.no_grad()
def _snapshot_1d(step: int, G: nn.Module, D: nn.Module, xs: np.ndarray, mean: float, std: float,
                 z_fixed: torch.Tensor) -> dict:
    data_density = np.exp(-0.5 * ((xs - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))
    g_out = G(z_fixed)  # (n, 1)
    g_samples = g_out.squeeze(1).numpy().astype(np.float64)
    d_prob = torch.sigmoid(D(torch.as_tensor(xs, dtype=torch.float32).unsqueeze(1))).squeeze(1).numpy()
    # What the two terms of V score: mean D over the data (a sum over the grid: the data's density is smooth
    # there) and over G's samples (on the samples themselves: early on G is a spike the grid cannot resolve).
    d_on_data = float((data_density * d_prob).sum() / data_density.sum())
    d_on_g = torch.sigmoid(D(g_out)).mean().item()
    return {"step": step, "xs": xs, "data_density": data_density, "g_density": _kde(g_samples, xs),
            "d_prob": d_prob.astype(np.float64), "g_mean": float(g_samples.mean()), "g_std": float(g_samples.std()),
            "d_on_data": d_on_data, "d_on_g": d_on_g}


def train_1d(steps: int = 2000, data_mean: float = 4.0, data_std: float = 0.5, seed: int = 0,
             loss: str = "non_saturating", snapshot_every: int = 100, batch_size: int = 256,
             lr: float = 1e-3, lr_d: float | None = None, d_steps: int = 5, hidden: int = 32,
             x_range: tuple[float, float] = (-2.0, 8.0), grid: int = 200,
             stop_at: int | None = None, g_optimizer: str = "adam", lr_g: float | None = None,
             snapshot_steps: Iterable[int] = ()) -> Toy1DResult:
    """Train a 1-D GAN (z ~ N(0, 1) -> x) against N(data_mean, data_std²): `d_steps` Adam steps for D per
    G step (Algorithm 1's k; with k = 1 D lags, goes flat at 0.5 and G stops short of the data's spread).
    The learning rates decay linearly to 0 so the game settles instead of orbiting its equilibrium;
    `stop_at` runs only the first steps of that `steps`-step schedule (a cheap look at early training).
    Snapshots (and history) every `snapshot_every` steps, plus at `snapshot_steps` (e.g. dense early frames);
    they use no random numbers, so they never change the training. `g_optimizer="sgd"` trains G with momentum
    SGD, as Goodfellow et al. did: Adam rescales every gradient to a similar step size, which hides how small
    the saturating loss's gradient is."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if stop_at is not None and not 0 < stop_at <= steps:
        raise ValueError(f"stop_at must be between 1 and steps={steps}, got {stop_at}")
    if g_optimizer not in ("adam", "sgd"):
        raise ValueError(f"g_optimizer must be 'adam' or 'sgd', got {g_optimizer!r}")
    extra = set(snapshot_steps)
    if any(not isinstance(s, (int, np.integer)) or s < 0 for s in extra):
        raise ValueError(f"snapshot_steps must be non-negative integers, got {sorted(extra, key=str)}")
    last = steps if stop_at is None else stop_at
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G, D = _mlp(1, hidden, 2, 1), _mlp(1, hidden, 2, 1)
    # D sees x rescaled to [-1, 1] over the plotted window: with raw x near 4 all of its ReLU kinks
    # (near 0 at initialisation) lie left of the data, D is linear there, and it can see G's mean but
    # not G's spread, so it goes flat at 0.5 while G is still too narrow.
    centre, half = (x_range[0] + x_range[1]) / 2, (x_range[1] - x_range[0]) / 2
    D = nn.Sequential(_Affine(-centre / half, 1 / half), *D)
    if g_optimizer == "sgd":
        opt_g = torch.optim.SGD(G.parameters(), lr=lr_g or lr, momentum=0.9)
    else:
        opt_g = torch.optim.Adam(G.parameters(), lr=lr_g or lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d or lr, betas=(0.5, 0.999))
    decay = lambda step: 1.0 - step / steps  # noqa: E731
    sched = [torch.optim.lr_scheduler.LambdaLR(o, decay) for o in (opt_g, opt_d)]
    xs = np.linspace(*x_range, grid)
    z_fixed = torch.randn(4000, 1, generator=torch.Generator().manual_seed(seed + 1))
    res = Toy1DResult(G, D, data_mean, data_std)
    for step in range(steps + 1):
        record = step % snapshot_every == 0 or step in extra
        if record or step == last:
            res.snapshots.append(_snapshot_1d(step, G, D, xs, data_mean, data_std, z_fixed))
        if step == last:
            break
        for _ in range(d_steps):
            real = data_mean + data_std * torch.randn(batch_size, 1, generator=gen)
            with torch.no_grad():
                fake = G(torch.randn(batch_size, 1, generator=gen))
            loss_d = d_update(D, opt_d, real, fake)
        fake = G(torch.randn(batch_size, 1, generator=gen))
        loss_g = generator_loss(D(fake), loss)
        opt_g.zero_grad()
        loss_g.backward()
        if record:  # the size of the push G gets, before the optimiser rescales it
            g_grad = torch.cat([p.grad.flatten() for p in G.parameters()]).norm().item()
        opt_g.step()
        for s in sched:
            s.step()
        if record:
            d_fake = torch.sigmoid(D(fake.detach())).mean().item()  # D(G(z)) that G's step just saw
            res.history.append({"step": step, "loss_D": loss_d.item(), "loss_G": loss_g.item(), "d_fake": d_fake,
                                "g_grad_norm": g_grad})
    res.seconds = time.perf_counter() - start
    return res


# ----------------------------------------------------------------------------------------------- 2-D


def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The `modes` centres evenly spaced on a circle of `radius`, shape (modes, 2)."""
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def ring_of_gaussians(n: int, modes: int = 8, radius: float = 2.0, std: float = 0.02,
                      seed: int | None = 0, generator: torch.Generator | None = None) -> torch.Tensor:
    """n points from an equal mixture of isotropic Gaussians (σ = std) on a ring, shape (n, 2)."""
    gen = generator if generator is not None else torch.Generator().manual_seed(seed or 0)
    which = torch.randint(modes, (n,), generator=gen)
    return ring_centres(modes, radius)[which] + std * torch.randn(n, 2, generator=gen)


@torch.no_grad()
def mode_stats(samples: torch.Tensor, centres: torch.Tensor, std: float = 0.02, k: float = 3.0,
               min_share: float = 0.01) -> dict:
    """High quality: a sample within k·σ of some centre. A mode is covered when at least `min_share` of
    the samples are high-quality samples of it. Returns modes_covered, high_quality (share), counts."""
    dist = torch.cdist(samples.float(), centres.float())  # (n, modes)
    nearest, which = dist.min(dim=1)
    good = nearest <= k * std
    counts = torch.bincount(which[good], minlength=len(centres))
    n = len(samples)
    return {"modes_covered": int((counts >= max(1, math.ceil(min_share * n))).sum()),
            "high_quality": good.float().mean().item(), "counts": counts.tolist()}


@torch.no_grad()
def nearest_mode_shares(samples: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The share of samples (n, 2) whose nearest centre is each mode, shape (modes,): where G's mass is,
    even when its samples are too blurry to count as high quality. Sums to 1."""
    which = torch.cdist(samples.float(), centres.float()).argmin(dim=1)  # (n,)
    return torch.bincount(which, minlength=len(centres)).float() / len(samples)


class _Disc2D(nn.Module):
    """The 2-D discriminator; with `minibatch_std` it appends the batch's mean feature standard deviation
    to its last hidden layer (Karras et al., 2018), so it can tell a collapsed batch from a real one."""

    def __init__(self, hidden: int, depth: int, minibatch_std: bool = False):
        super().__init__()
        self.minibatch_std = minibatch_std
        self.body = _mlp(2, hidden, depth, hidden)[:-1]  # hidden layers only
        self.head = nn.Linear(hidden + int(minibatch_std), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if self.minibatch_std:
            s = h.std(dim=0).mean().expand(len(h), 1)  # one number per batch: how spread out it is
            h = torch.cat([h, s], dim=1)
        return self.head(h)


@dataclass
class Toy2DResult:
    """A 2-D ring run: G, D, sample snapshots for the animation, mode statistics over time and at the end."""

    G: nn.Module
    D: nn.Module
    remedy: str | None
    seed: int
    centres: torch.Tensor
    snapshots: list[dict] = field(default_factory=list)  # step, samples (n, 2)
    stats: list[dict] = field(default_factory=list)  # step, modes_covered, high_quality, counts
    final: dict = field(default_factory=dict)
    seconds: float = 0.0


def train_2d(steps: int = 5000, seed: int = 0, remedy: str | None = None, modes: int = 8,
             radius: float = 2.0, std: float = 0.02, batch_size: int = 512, nz: int = 16,
             hidden: int = 128, depth: int = 2, lr_g: float = 1e-3, lr_d: float = 3e-4,
             gp_weight: float = 1.0, unroll: int = 5, snapshot_every: int = 250,
             n_eval: int = 2000) -> Toy2DResult:
    """Train an MLP GAN (non-saturating loss, Adam β1 = 0.5) on the ring of Gaussians, optionally with a
    remedy for mode collapse: "minibatch_std", "gradient_penalty" (R1 on real data, Mescheder et al.,
    2018) or "unrolled" (G trains against D unrolled `unroll` steps ahead, Metz et al., 2016; first-order,
    no backprop through the unrolling). Notebook 01 measures minibatch_std and gradient_penalty (gp_weight=10)
    on five seeds; unrolled runs but is not measured."""
    # Defaults: D learns 3x slower than G, a regime where a plain GAN collapses within a few thousand
    # steps (G outruns D's feedback and hops between modes; notebook 01 measures it on five seeds).
    if remedy not in REMEDIES:
        raise ValueError(f"remedy must be one of {REMEDIES}, got {remedy!r}")
    start = time.perf_counter()
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        G = _mlp(nz, hidden, depth, 2)
        D = _Disc2D(hidden, depth, minibatch_std=remedy == "minibatch_std")
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(0.5, 0.999))
    centres = ring_centres(modes, radius)
    z_eval = torch.randn(n_eval, nz, generator=torch.Generator().manual_seed(seed + 1))
    res = Toy2DResult(G, D, remedy, seed, centres)

    r1 = gp_weight if remedy == "gradient_penalty" else 0.0

    for step in range(steps + 1):
        if step % snapshot_every == 0 or step == steps:
            with torch.no_grad():
                samples = G(z_eval)
            res.snapshots.append({"step": step, "samples": samples})
            res.stats.append({"step": step, **mode_stats(samples, centres, std)})
        if step == steps:
            break
        real = ring_of_gaussians(batch_size, modes, radius, std, generator=gen)
        z = torch.randn(batch_size, nz, generator=gen)
        fake = G(z)
        d_update(D, opt_d, real, fake.detach(), r1)
        D_g = D
        if remedy == "unrolled":
            # First-order unrolling: G's gradient comes from a copy of D trained `unroll` more steps on
            # fresh batches, so G is scored against where D is heading, not where it is.
            with torch.random.fork_rng(devices=[]):  # its random init is overwritten: keep the global RNG alone
                D_g = _Disc2D(hidden, depth)
            D_g.load_state_dict(D.state_dict())
            opt_u = torch.optim.Adam(D_g.parameters(), lr=lr_d, betas=(0.5, 0.999))
            # deepcopy: load_state_dict shares the moment tensors, and the unrolled steps would
            # otherwise advance the real D's Adam state in place
            opt_u.load_state_dict(copy.deepcopy(opt_d.state_dict()))
            for _ in range(unroll):
                r = ring_of_gaussians(batch_size, modes, radius, std, generator=gen)
                with torch.no_grad():
                    f = G(torch.randn(batch_size, nz, generator=gen))
                d_update(D_g, opt_u, r, f, r1)
        loss_g = generator_loss(D_g(fake), "non_saturating")
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    res.final = res.stats[-1]
    res.seconds = time.perf_counter() - start
    return res


class _EnsembleMLP(nn.Module):
    """E independent MLPs evaluated as one: weights (E, in, out), input (E, B, in) -> (E, B, out).
    Built from E ordinary `_mlp`s, so each member starts exactly where the single-seed run would."""

    def __init__(self, mlps: list[nn.Sequential]):
        super().__init__()
        linears = [[m for m in mlp if isinstance(m, nn.Linear)] for mlp in mlps]
        # nn.Linear stores (out, in); bmm wants (in, out)
        self.weights = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].weight.detach().T for ls in linears])) for i in range(len(linears[0])))
        self.biases = nn.ParameterList(
            nn.Parameter(torch.stack([ls[i].bias.detach()[None] for ls in linears])) for i in range(len(linears[0])))

    def forward(self, x: torch.Tensor, last: int | None = None) -> torch.Tensor:
        """All layers, or only the first `last` linear layers (each followed by ReLU) when given."""
        n = len(self.weights)
        for i in range(n if last is None else last):
            x = torch.baddbmm(self.biases[i], x, self.weights[i])  # (E, B, in) -> (E, B, out)
            if i < n - 1 or last is not None:
                x = F.relu(x)
        return x

    def member(self, e: int) -> nn.Sequential:
        """Member e as an ordinary `_mlp` (ReLU between layers, linear output)."""
        layers: list[nn.Module] = []
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            with torch.random.fork_rng(devices=[]):  # the init is overwritten below: keep the global RNG alone
                lin = nn.Linear(w.shape[1], w.shape[2])
            with torch.no_grad():
                lin.weight.copy_(w[e].T)
                lin.bias.copy_(b[e, 0])
            layers += [lin, nn.ReLU()] if i < len(self.weights) - 1 else [lin]
        return nn.Sequential(*layers)


class _EnsembleDisc2D(nn.Module):
    """E `_Disc2D`s as one: (E, B, 2) -> logits (E, B); minibatch std is taken within each member's batch."""

    def __init__(self, discs: list[_Disc2D]):
        super().__init__()
        self.minibatch_std = discs[0].minibatch_std
        self.body = _EnsembleMLP([nn.Sequential(*d.body, d.head) for d in discs])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        depth = len(self.body.weights) - 1
        h = self.body(x, last=depth)  # (E, B, hidden)
        if self.minibatch_std:
            s = h.std(dim=1).mean(dim=1)  # (E,): one spread per member's batch
            h = torch.cat([h, s[:, None, None].expand(-1, h.shape[1], 1)], dim=2)
        return torch.baddbmm(self.body.biases[-1], h, self.body.weights[-1]).squeeze(2)  # (E, B)

    def member(self, e: int) -> _Disc2D:
        """Member e as an ordinary `_Disc2D`."""
        w = self.body.weights
        with torch.random.fork_rng(devices=[]):  # overwritten below: keep the global RNG alone
            d = _Disc2D(w[0].shape[2], len(w) - 1, self.minibatch_std)
        mlp = self.body.member(e)
        d.body.load_state_dict(mlp[:-1].state_dict())
        d.head.load_state_dict(mlp[-1].state_dict())
        return d


def train_2d_seeds(seeds=range(5), steps: int = 5000, remedy: str | None = None, modes: int = 8,
                   radius: float = 2.0, std: float = 0.02, batch_size: int = 512, nz: int = 16,
                   hidden: int = 128, depth: int = 2, lr_g: float = 1e-3, lr_d: float = 3e-4,
                   gp_weight: float = 1.0, unroll: int = 5, snapshot_every: int = 250,
                   n_eval: int = 2000) -> list[Toy2DResult]:
    """`train_2d` for several seeds at once, as one batched ensemble (same arguments, one result per seed).
    Each member gets the same initial weights, data and noise as `train_2d(seed=...)`, and Adam is
    elementwise, so members never interact; results match the single runs up to float rounding. A GAN
    amplifies that rounding over thousands of steps, so the same seed trained alone, in another ensemble or
    on another CPU can end on different modes: compare statistics over seeds, not single runs."""
    if remedy not in REMEDIES:
        raise ValueError(f"remedy must be one of {REMEDIES}, got {remedy!r}")
    seeds = list(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be a non-empty list of distinct integers, got {seeds!r}")
    start = time.perf_counter()
    gens, Gs, Ds = [], [], []
    for seed in seeds:
        gens.append(torch.Generator().manual_seed(seed))
        with torch.random.fork_rng(devices=[]):  # the same draws, in the same order, as train_2d
            torch.manual_seed(seed)
            Gs.append(_mlp(nz, hidden, depth, 2))
            Ds.append(_Disc2D(hidden, depth, minibatch_std=remedy == "minibatch_std"))
    G, D = _EnsembleMLP(Gs), _EnsembleDisc2D(Ds)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(0.5, 0.999))
    centres = ring_centres(modes, radius)
    z_eval = torch.stack([torch.randn(n_eval, nz, generator=torch.Generator().manual_seed(s + 1)) for s in seeds])
    results = [Toy2DResult(None, None, remedy, s, centres) for s in seeds]

    def real_batch() -> torch.Tensor:  # (E, B, 2), member e drawn from its own generator
        return torch.stack([ring_of_gaussians(batch_size, modes, radius, std, generator=g) for g in gens])

    def noise_batch() -> torch.Tensor:  # (E, B, nz)
        return torch.stack([torch.randn(batch_size, nz, generator=g) for g in gens])

    def d_step(D_: nn.Module, opt: torch.optim.Optimizer, real: torch.Tensor, fake: torch.Tensor) -> None:
        if remedy == "gradient_penalty":
            real = real.requires_grad_(True)
        real_logits = D_(real)
        # summing the members' mean losses keeps each member's gradient its own
        loss = F.softplus(-real_logits).mean(1).sum() + F.softplus(D_(fake)).mean(1).sum()
        if remedy == "gradient_penalty":
            loss = loss + gp_weight / 2 * real_slope(real_logits, real, batch_dims=2).mean(1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()

    for step in range(steps + 1):
        if step % snapshot_every == 0 or step == steps:
            with torch.no_grad():
                samples = G(z_eval)  # (E, n_eval, 2)
            for res, s in zip(results, samples):
                res.snapshots.append({"step": step, "samples": s})
                res.stats.append({"step": step, **mode_stats(s, centres, std)})
        if step == steps:
            break
        real = real_batch()
        fake = G(noise_batch())
        d_step(D, opt_d, real, fake.detach())
        D_g = D
        if remedy == "unrolled":
            D_g = _EnsembleDisc2D(Ds)  # any members will do: the state dict below overwrites them
            D_g.load_state_dict(D.state_dict())
            opt_u = torch.optim.Adam(D_g.parameters(), lr=lr_d, betas=(0.5, 0.999))
            # deepcopy: load_state_dict shares the moment tensors, and the unrolled steps would
            # otherwise advance the real D's Adam state in place
            opt_u.load_state_dict(copy.deepcopy(opt_d.state_dict()))
            for _ in range(unroll):
                r = real_batch()
                with torch.no_grad():
                    f = G(noise_batch())
                d_step(D_g, opt_u, r, f)
        loss_g = F.softplus(-D_g(fake)).mean(1).sum()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
    seconds = time.perf_counter() - start
    for e, res in enumerate(results):
        res.G, res.D = G.member(e), D.member(e)
        res.final = res.stats[-1]
        res.seconds = seconds / len(seeds)  # the ensemble's wall time, shared out
    return results


def plot_1d_snapshot(ax, snap: dict) -> None:
    """Goodfellow et al.'s Figure 1 for one snapshot: data density (black dots), G's density (green),
    D(x) (blue dashes)."""
    ax.plot(snap["xs"], snap["data_density"], "k:", label="data")
    ax.plot(snap["xs"], snap["g_density"], "g-", label="G")
    ax.plot(snap["xs"], snap["d_prob"], "b--", label="D(x)")
    ax.set_title(f"step {snap['step']}")


def early_summary(run: Toy1DResult) -> dict[str, float]:
    """G's first steps in numbers: its mean at the first and last snapshot (first_mean, last_mean), its closest
    approach to the data's mean (closest), the lowest D(G(z)) it saw and its mean gradient norm (mean_grad)."""
    if not run.snapshots or not run.history:
        raise ValueError("early_summary needs a run with snapshots and history; train at least one step")
    means = np.array([s["g_mean"] for s in run.snapshots])
    return {"steps": run.snapshots[-1]["step"], "first_mean": float(means[0]), "last_mean": float(means[-1]),
            "closest": float(np.abs(means - run.data_mean).min()),
            "lowest_d_fake": min(h["d_fake"] for h in run.history),
            "mean_grad": float(np.mean([h["g_grad_norm"] for h in run.history]))}


def report_early(runs: dict[str, Toy1DResult]) -> dict[str, dict[str, float]]:
    """Print one line of `early_summary` per run (keyed by its loss) and return the summaries."""
    summaries = {loss: early_summary(r) for loss, r in runs.items()}
    for loss, s in summaries.items():
        print(f"{loss:>15}: G's mean {s['first_mean']:+.2f} -> {s['last_mean']:+.2f} after {s['steps']} steps, "
              f"closest to the data's mean: {s['closest']:.2f} away; lowest D(G(z)) {s['lowest_d_fake']:.3f}, "
              f"mean |grad G| {s['mean_grad']:.3f}")
    return summaries


def plot_g_mean(ax, runs: dict[str, Toy1DResult], title: str = "") -> None:
    """The mean of G(z) over training, one line per run (labelled by its key), with the data's mean dotted."""
    for label, r in runs.items():
        ax.plot([s["step"] for s in r.snapshots], [s["g_mean"] for s in r.snapshots], label=label)
    ax.axhline(next(iter(runs.values())).data_mean, color="k", ls=":", label="data mean")
    ax.set(xlabel="G step", ylabel="mean of G(z)", title=title)
    ax.legend(fontsize=7)


def plot_2d_snapshot(ax, samples: torch.Tensor, centres: torch.Tensor) -> None:
    """G's samples (dots) over the ring's centres (red crosses)."""
    ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.4)
    ax.scatter(centres[:, 0], centres[:, 1], c="red", marker="x")
    ax.set_aspect("equal")


def plot_gan_schematic(ax=None):
    """The counterfeiter (G) and the police (D) as boxes and arrows; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 2.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(0.2, 4.2)
    ax.axis("off")
    boxes = {  # name: (x, y, text, colour)
        "z": (0.9, 3.0, "noise z\n~ N(0, I)", "#eeeeee"),
        "G": (3.2, 3.0, "G: counterfeiter\nmakes G(z)", "#c8e6c9"),
        "x": (3.2, 1.0, "real data x\n(real banknotes)", "#eeeeee"),
        "D": (6.1, 2.0, "D: police\nD(·) = P(real)", "#bbdefb"),
        "out": (8.9, 2.0, "real or fake?", "#fff9c4"),
    }
    for x, y, text, colour in boxes.values():
        ax.text(x, y, text, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", facecolor=colour, edgecolor="black"))

    def arrow(a, b, text="", at=None, rad=0.0, colour="black"):
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="-|>", color=colour,
                                                         connectionstyle=f"arc3,rad={rad}"))
        if text:
            x, y = at or ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.25)
            ax.text(x, y, text, ha="center", fontsize=8, color=colour)

    arrow((1.6, 3.0), (2.2, 3.0))
    arrow((4.25, 2.75), (5.2, 2.25), "fake", at=(4.9, 2.7))
    arrow((4.25, 1.25), (5.2, 1.75), "real", at=(4.9, 1.15))
    arrow((7.0, 2.0), (8.1, 2.0))
    # the two feedback signals: D learns to tell them apart, G learns from D's gradient to fool it
    arrow((8.9, 2.4), (3.2, 3.5), rad=0.25, colour="green")
    ax.text(6.4, 3.95, "G's loss: fool D (its gradient flows back through D)", ha="center", fontsize=8, color="green")
    arrow((8.9, 1.6), (6.1, 1.5), rad=-0.45, colour="blue")
    ax.text(7.6, 0.45, "D's loss: catch the fakes", ha="center", fontsize=8, color="blue")
    return ax


def save_snapshot_gif(snapshots: list, draw, path, figsize: tuple[float, float] = (4.0, 3.0), dpi: int = 60,
                      duration_ms: int = 250):
    """Draw each snapshot with `draw(ax, snapshot)` off-screen and save the frames as a looping GIF."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if not snapshots:
        raise ValueError("save_snapshot_gif needs at least one snapshot")
    frames = []
    for snap in snapshots:
        fig = Figure(figsize=figsize, dpi=dpi)  # not pyplot: nothing is shown or left open
        canvas = FigureCanvasAgg(fig)
        draw(fig.add_subplot(), snap)
        fig.tight_layout()
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]))  # (H, W, 3) uint8
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0)
    return path
