"""Automatic checks for the course's exercises (`exercises/`): each `check_*` runs a student's function on
cases with known answers and prints one "passed" line, or raises `ExerciseError` with a one-line hint.

The checks compare against the course's own implementations (`toy`, `architecture`, `models`, `latent`, `probes`) or
against PyTorch itself, never against stored numbers, so a check fails for exactly the mistakes its hint
names. `dcgan grade` (`grading.py`) grades student notebooks with these checks: `CHECKS` says which check grades
which exercise.
"""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from . import latent, probes
from .faces import make_faces
from .images import to_model_range
from .models import Discriminator, Generator, batchnorm_mode, count_parameters
from .toy import generator_loss, generator_loss_gradients
from .train import d_step as course_d_step
from .train import g_step as course_g_step

PASSED = "✓ exercise {id} passed"  # {id} is "1.2" and so on; `dcgan grade` confirms each printed one with its own run
NOT_STARTED = "not done yet: replace `raise NotImplementedError` with your code, run that cell, then this one"


class ExerciseError(AssertionError):
    """A student's answer is wrong (or not written yet); the message says what to look at."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows instead of a traceback (its hook for exceptions that explain themselves): the
        check's one line, in red. A traceback through this module would bury the hint at its bottom."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {self}"]


def _call(exercise: str, fn: Callable, *args: Any) -> Any:
    """fn(*args), with "not started" and crashes turned into a one-line ExerciseError."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise ExerciseError(f"exercise {exercise}: {NOT_STARTED}") from None
    except ExerciseError:
        raise
    except Exception as e:  # the student's code crashed: say where and with what input, not a traceback
        shapes = ", ".join(str(tuple(a.shape)) if isinstance(a, torch.Tensor) else type(a).__name__ for a in args)
        raise ExerciseError(f"exercise {exercise}: your function raised {type(e).__name__}: {e} (called with {shapes})") from e


def _expect(ok: bool, exercise: str, hint: str) -> None:
    if not ok:
        raise ExerciseError(f"exercise {exercise}: {hint}")


def _close(got: Any, want: torch.Tensor, exercise: str, what: str, atol: float = 1e-5) -> None:
    _expect(isinstance(got, torch.Tensor), exercise, f"{what}: return a torch tensor, got {type(got).__name__}")
    _expect(got.shape == want.shape, exercise, f"{what}: shape {tuple(got.shape)}, expected {tuple(want.shape)}")
    _expect(bool(torch.isfinite(got).all()), exercise, f"{what}: the result has inf or NaN")
    err = float((got.detach().double() - want.double()).abs().max())
    _expect(err <= atol, exercise, f"{what}: off by up to {err:.3g} from the expected values")


def _own_rng(check: Callable) -> Callable:
    """Run a check on its own copy of the global RNG: its seeds must not change what the notebook draws next."""
    @functools.wraps(check)
    def wrapped(*args: Any) -> None:
        with torch.random.fork_rng():
            check(*args)
    return wrapped


def _passed(exercise: str, detail: str) -> None:
    print(PASSED.format(id=exercise) + f": {detail}")


# ------------------------------------------------------------------------------------------------ 1: the game


def _normal_pdf(x: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


def check_optimal_d(optimal_d: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """1.1: optimal_d(p_data, p_g) -> D*(x) = p_data / (p_data + p_g), elementwise."""
    xs = torch.linspace(1, 7, 61, dtype=torch.float64)
    p_data = _normal_pdf(xs, 4.0, 0.5)
    for g_mean in (2.0, 3.5, 4.0):
        p_g = _normal_pdf(xs, g_mean, 0.5 if g_mean == 4.0 else 1.0)
        got = _call("1.1", optimal_d, p_data, p_g)
        dense = (p_data + p_g) > 1e-3  # judged where the densities are not tiny, so a guarding epsilon is fine
        _expect(isinstance(got, torch.Tensor) and got.shape == p_data.shape, "1.1", "return a tensor shaped like p_data")
        _close(got[dense], (p_data / (p_data + p_g))[dense], "1.1", f"D* with G = N({g_mean}, ...)", atol=1e-5)
    _passed("1.1", "D* = p_data / (p_data + p_g); it is 1/2 everywhere once p_g = p_data")


def check_value(value: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """1.2: value(d_real, d_fake) -> V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))] from D's probabilities."""
    g = torch.Generator().manual_seed(0)
    d_real, d_fake = torch.rand(64, generator=g) * 0.98 + 0.01, torch.rand(48, generator=g) * 0.98 + 0.01
    want = d_real.log().mean() + (1 - d_fake).log().mean()
    got = _call("1.2", value, d_real, d_fake)
    _expect(isinstance(got, torch.Tensor) and got.numel() == 1, "1.2", "return one number (a 0-dim tensor): the two means added")
    _close(got.reshape(()), want, "1.2", "V(D, G) on random probabilities (real and fake batches of different sizes)")
    half = _call("1.2", value, torch.full((10,), 0.5), torch.full((10,), 0.5))
    _close(half.reshape(()), torch.tensor(-math.log(4)), "1.2", "V when D says 1/2 everywhere")
    _passed("1.2", f"at equilibrium (D = 1/2) V = -log 4 = {-math.log(4):.4f}")


def check_generator_losses(saturating: Callable[[torch.Tensor], torch.Tensor],
                           non_saturating: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """1.3: G's two losses from D's logits on fakes, minimised by G: saturating E[log(1 - D)] and
    non-saturating -E[log D], computed stably (no inf at logits of +-100)."""
    logits = torch.tensor([-100.0, -8.0, -2.0, 0.0, 1.5, 6.0, 100.0])
    for name, fn in (("saturating", saturating), ("non_saturating", non_saturating)):
        x = logits.clone().requires_grad_(True)
        loss = _call("1.3", fn, x)
        _expect(isinstance(loss, torch.Tensor) and loss.numel() == 1, "1.3", f"{name}: return the mean over the batch (one number)")
        _expect(bool(torch.isfinite(loss)), "1.3", f"{name}: inf or NaN at logits of +-100; compute log D and log(1 - D) "
                "from the logits with F.logsigmoid (or F.softplus), not torch.log(torch.sigmoid(...))")
        _close(loss.reshape(()), generator_loss(logits, name), "1.3", f"{name} loss (minimised by G)")
        _expect(loss.requires_grad, "1.3", f"{name}: the loss does not depend on the logits (no gradient would reach G)")
        (grad,) = torch.autograd.grad(loss, x)
        want = generator_loss_gradients(torch.sigmoid(logits))[name] / len(logits)  # the mean divides by n
        _close(grad, want, "1.3", f"{name} gradient with respect to the logits", atol=1e-6)
    g = generator_loss_gradients(torch.tensor([0.01]))
    _passed("1.3", f"at D(G(z)) = 0.01 the saturating gradient is {float(g['saturating']):.2f}, "
                   f"the non-saturating {float(g['non_saturating']):.2f}: only the second lets G learn early")


# --------------------------------------------------------------------------------------- 2: the architecture


def check_transposed_size(size: Callable[[int, int, int, int], int]) -> None:
    """2.1: size(n, kernel, stride, padding) -> side of ConvTranspose2d's output, checked against PyTorch."""
    cases = [(1, 4, 1, 0), (4, 4, 2, 1), (8, 4, 2, 1), (16, 4, 2, 1), (7, 3, 2, 1), (5, 5, 3, 2), (3, 2, 2, 0), (6, 3, 1, 1)]
    for n, k, s, p in cases:
        want = nn.ConvTranspose2d(1, 1, k, s, p)(torch.zeros(1, 1, n, n)).shape[-1]
        got = _call("2.1", size, n, k, s, p)
        _expect(got == want, "2.1", f"n={n}, kernel={k}, stride={s}, padding={p}: you give {got}, PyTorch gives {want}; "
                "the output is (n - 1) * stride - 2 * padding + kernel")
    _passed("2.1", "kernel 4, stride 2, padding 1 doubles the side: 4 -> 8 -> 16 -> 32")


def _guideline_problems(model: nn.Module, output_layer: bool) -> list[str]:
    """What breaks the paper's generator guidelines in `model` (checked on its modules, in order)."""
    mods = [m for m in model.modules() if not list(m.children())]
    problems = []
    if any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveMaxPool2d, nn.AdaptiveAvgPool2d)) for m in mods):
        problems.append("no pooling: the network learns its own up-sampling")
    if any(isinstance(m, nn.Upsample) for m in mods):
        problems.append("no nn.Upsample: up-sample with nn.ConvTranspose2d (the paper's fractional-strided convolution)")
    if any(isinstance(m, nn.Linear) for m in mods):
        problems.append("no fully connected (nn.Linear) layers")
    if not any(isinstance(m, nn.ConvTranspose2d) for m in mods):
        problems.append("use nn.ConvTranspose2d to grow the image")
    if any(isinstance(m, (nn.LeakyReLU, nn.ELU, nn.SiLU, nn.GELU)) for m in mods):
        problems.append("ReLU in the generator (LeakyReLU belongs to the discriminator)")
    if not any(isinstance(m, nn.ReLU) for m in mods):
        problems.append("ReLU after each hidden layer")
    convs = [i for i, m in enumerate(mods) if isinstance(m, nn.ConvTranspose2d)]
    hidden = convs[:-1] if output_layer else convs
    if not all(i + 1 < len(mods) and isinstance(mods[i + 1], nn.BatchNorm2d) for i in hidden):
        problems.append("BatchNorm2d right after every hidden layer's convolution")
    if output_layer and convs:
        tail = mods[convs[-1] + 1:]
        if any(isinstance(m, nn.BatchNorm2d) for m in tail):
            problems.append("no BatchNorm on the output layer")
        if not tail or not isinstance(tail[-1], nn.Tanh):
            problems.append("end with nn.Tanh, so images are in [-1, 1] like the data")
    return problems


@_own_rng
def check_generator_block(block: Callable[[int, int], nn.Module]) -> None:
    """2.2: block(c_in, c_out) -> a module (B, c_in, s, s) -> (B, c_out, 2s, 2s) that follows the guidelines."""
    torch.manual_seed(0)
    m = _call("2.2", block, 16, 8)
    _expect(isinstance(m, nn.Module), "2.2", f"return an nn.Module (nn.Sequential(...)), got {type(m).__name__}")
    problems = _guideline_problems(m, output_layer=False)
    _expect(not problems, "2.2", "guidelines: " + "; ".join(problems))
    for s in (4, 8):
        out = _call("2.2", m, torch.randn(2, 16, s, s))
        _expect(tuple(out.shape) == (2, 8, 2 * s, 2 * s), "2.2", f"a (2, 16, {s}, {s}) input gives {tuple(out.shape)}, "
                f"expected (2, 8, {2 * s}, {2 * s}): kernel 4, stride 2, padding 1 doubles the side")
    _expect(bool((out >= 0).all()), "2.2", "the block's output has negative values: end it with ReLU")
    _passed("2.2", "ConvTranspose2d(4, 2, 1) -> BatchNorm2d -> ReLU doubles the side")


@_own_rng
def check_generator(build: Callable[[int, int], nn.Module]) -> None:
    """2.3: build(nz, width) -> a 32x32 RGB generator: z (B, nz, 1, 1) -> images (B, 3, 32, 32) in [-1, 1]."""
    torch.manual_seed(0)
    G = _call("2.3", build, 100, 32)
    _expect(isinstance(G, nn.Module), "2.3", f"return an nn.Module, got {type(G).__name__}")
    problems = _guideline_problems(G, output_layer=True)
    _expect(not problems, "2.3", "guidelines: " + "; ".join(problems))
    out = _call("2.3", G, torch.randn(4, 100, 1, 1))
    _expect(tuple(out.shape) == (4, 3, 32, 32), "2.3", f"z of shape (4, 100, 1, 1) gives {tuple(out.shape)}, expected "
            "(4, 3, 32, 32): 1 -> 4 (kernel 4, stride 1, padding 0), then 4 -> 8 -> 16 -> 32")
    _expect(float(out.detach().abs().max()) <= 1, "2.3", "images must lie in [-1, 1]: end with nn.Tanh")
    n, ref = count_parameters(G), count_parameters(Generator(image_size=32, width=32))
    same = "the same as" if n == ref else f"against {ref:,} in"
    _passed("2.3", f"{n:,} parameters, {same} the course's Generator(image_size=32, width=32)")


# ------------------------------------------------------------------------------------------- 3: a training step


def _tiny_gan(seed: int = 0):
    """A small 32x32 G and D with their Adam optimisers (the paper's settings), a real batch and codes."""
    torch.manual_seed(seed)
    G, D = Generator(image_size=32, width=8), Discriminator(image_size=32, width=8)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real = to_model_range(make_faces(16, size=32, seed=seed).images)  # uint8 -> [-1, 1], as training scales them
    z = torch.randn(2, 16, 100, 1, 1, generator=torch.Generator().manual_seed(seed))  # codes for two steps
    return G, D, opt_G, opt_D, real, z


def _reference_d_step(G, D, opt_D, real, z) -> torch.Tensor:
    return course_d_step(G, D, opt_D, real, z).loss  # the course's own half-steps: the ones `train()` runs


def _reference_g_step(G, D, opt_G, z) -> torch.Tensor:
    return course_g_step(G, D, opt_G, z)


def _as_loss(exercise: str, got: Any, who: str) -> torch.Tensor:
    """A returned loss as a 0-dim tensor: a tensor of one element, or a Python number (loss.item())."""
    if isinstance(got, numbers.Real):
        return torch.tensor(float(got))
    _expect(isinstance(got, torch.Tensor) and got.numel() == 1, exercise, f"return {who}'s loss, a tensor of one element "
            f"(loss.detach()) or a number (loss.item()), got {type(got).__name__}")
    return got.reshape(())


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _check_two_steps(exercise: str, step: Callable, reference: Callable, nets: tuple, batches: list[tuple],
                     learner: str, loss_should: str, unchanged_hint: str, after_call: Callable[[], None] = lambda: None) -> None:
    """Run the student's half-step twice on nets = (G, D, optimiser) beside the reference step on a copy of them,
    then compare the loss and the `learner`'s ('G' or 'D') weights after each step; the other net must not move."""
    at = "GD".index(learner)
    mine, other = nets[at], nets[1 - at]
    refs = copy.deepcopy(nets)  # one deepcopy, so the copied optimiser drives the copied nets
    ref_mine = refs[at]
    other_before = _params(other)
    name = f"opt_{learner}"
    for i, batch in enumerate(batches):
        want = reference(*refs, *batch)
        before = _params(mine)
        got = _as_loss(exercise, _call(exercise, step, *nets, *batch), learner)
        _expect(not torch.equal(before, _params(mine)), exercise, unchanged_hint)
        after_call()
        _close(got, want, exercise, f"{learner}'s loss at step {i + 1} should be {loss_should}", atol=1e-4)
        moved = float((_params(mine) - _params(ref_mine)).abs().max())
        hint = (f"call {name}.zero_grad() before loss.backward(): gradients add up across steps" if i else
                f"{learner}'s weights are not where one Adam step puts them: {name}.zero_grad(), loss.backward(), {name}.step()")
        _expect(moved < 1e-5, exercise, hint)
    _expect(torch.equal(other_before, _params(other)), exercise,
            f"{learner}'s step changed {'GD'[1 - at]}'s weights: only {name}.step() belongs here")


@_own_rng
def check_d_step(d_step: Callable) -> None:
    """3.1: d_step(G, D, opt_D, real, z) -> D's loss, after one Adam step on D only (two calls in a row)."""
    G, D, _, opt_D, real, z = _tiny_gan()

    def g_has_no_gradient() -> None:
        _expect(all(p.grad is None or not p.grad.any() for p in G.parameters()), "3.1",
                "G's weights got gradients in D's step: detach the fakes (G(z).detach()), so D's loss cannot reach G")

    _check_two_steps("3.1", d_step, _reference_d_step, (G, D, opt_D), [(real, z[0]), (real, z[1])], "D",
                     "BCE(D(x), 1) + BCE(D(G(z)), 0), with real and fake images in separate batches through D "
                     "(BatchNorm statistics per batch)",
                     "D's weights did not change: call loss.backward() and opt_D.step()", after_call=g_has_no_gradient)
    _passed("3.1", "D's step matches the reference for two steps and leaves G alone")


@_own_rng
def check_g_step(g_step: Callable) -> None:
    """3.2: g_step(G, D, opt_G, z) -> G's non-saturating loss, after one Adam step on G only (two calls in a row)."""
    G, D, opt_G, _, _, z = _tiny_gan(1)
    _check_two_steps("3.2", g_step, _reference_g_step, (G, D, opt_G), [(z[0],), (z[1],)], "G",
                     "BCE(D(G(z)), 1), the non-saturating -log D(G(z)) (not -BCE(D(G(z)), 0), the saturating one)",
                     "G's weights did not change: do not detach G(z) in G's step; call loss.backward() and opt_G.step()")
    _passed("3.2", "G's step matches the reference for two steps and leaves D's weights alone")


# ----------------------------------------------------------------------------------------- 4: the latent space


def check_slerp(slerp: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]) -> None:
    """4.1: slerp(z0, z1, t) for codes of shape (nz,), against `latent.slerp`, and the norm along the path."""
    g = torch.Generator().manual_seed(0)
    z0, z1 = torch.randn(2, 100, generator=g, dtype=torch.float64)
    for t in (0.0, 0.25, 0.5, 0.9, 1.0):
        _close(_call("4.1", slerp, z0, z1, t), latent.slerp(z0, z1, t), "4.1", f"slerp at t = {t}", atol=1e-6)
    mid_slerp = float(_call("4.1", slerp, z0, z1, 0.5).norm())
    mid_lerp = float(latent.lerp(z0, z1, 0.5).norm())
    _passed("4.1", f"halfway, |z| = {mid_slerp:.1f} on the great circle against {mid_lerp:.1f} on the straight "
                   f"line (ends {float(z0.norm()):.1f} and {float(z1.norm()):.1f}; sqrt(100) = 10)")


def check_equation(combine: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """4.2: combine(a, b, c), each (k, nz, 1, 1) codes of one concept -> mean(a) - mean(b) + mean(c) (nz, 1, 1)."""
    g = torch.Generator().manual_seed(0)
    for k in (1, 3):
        a, b, c = torch.randn(3, k, 100, 1, 1, generator=g)
        _close(_call("4.2", combine, a, b, c), a.mean(0) - b.mean(0) + c.mean(0), "4.2", f"the result for k = {k}")
    _passed("4.2", "each concept is the mean of its k codes; the result is mean(a) - mean(b) + mean(c)")


# ---------------------------------------------------------------------------------- 5: D as a feature extractor


def _matches(got: torch.Tensor, want: torch.Tensor, atol: float = 1e-5) -> bool:
    """got has want's shape and values (for telling one mistake from another once a check has failed)."""
    return got.shape == want.shape and bool(torch.isfinite(got).all()) and \
        float((got.detach().double() - want.double()).abs().max()) <= atol


def _pooled(D: nn.Module, x: torch.Tensor, pool: Callable[[torch.Tensor, int], torch.Tensor], batch_stats: bool) -> torch.Tensor:
    """`probes.d_features` with another pooling or BatchNorm mode: the features of two typical mistakes."""
    layers = [n for n in D.layer_names if n.startswith("conv")]
    with torch.no_grad(), batchnorm_mode(D, batch_stats):
        maps = D.features(x, layers)
    return torch.cat([pool(maps[n], 4).flatten(1) for n in layers], 1)


@_own_rng
def check_pooled_features(pooled_features: Callable[[nn.Module, torch.Tensor], torch.Tensor]) -> None:
    """5.1: pooled_features(D, x) -> the paper's features (N, 16 * channels of all conv layers): every conv layer
    max-pooled to 4x4, flattened, concatenated in order, with BatchNorm's running statistics (D arrives in
    training mode)."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    D = Discriminator(image_size=32, channels=1, width=8)
    with torch.no_grad():  # a few batches in training mode, so the running statistics are not the initial 0 and 1
        for _ in range(3):
            D(torch.randn(32, 1, 32, 32))
    x = torch.rand(6, 1, 32, 32) * 2 - 1
    want = probes.d_features(D, x)  # the course's features: running statistics, whatever mode D is in
    averaged, batch_stats = _pooled(D, x, F.adaptive_avg_pool2d, False), _pooled(D, x, F.adaptive_max_pool2d, True)
    got = _call("5.1", pooled_features, D, x)
    _expect(isinstance(got, torch.Tensor), "5.1", f"return a torch tensor, got {type(got).__name__}")
    _expect(got.dim() == 2, "5.1", f"shape {tuple(got.shape)}: return one row per image, (N, features): flatten each "
            "pooled layer with .flatten(1) before concatenating along dim 1")
    _expect(not got.requires_grad, "5.1", "the features carry an autograd graph (and would not convert to numpy for the "
            "SVM): compute them under torch.no_grad()")
    _expect(got.shape == want.shape, "5.1", f"shape {tuple(got.shape)}, expected {tuple(want.shape)} = (images, 16 x (8 + 16 + 32)): "
            "max-pool every conv layer (conv1, conv2, conv3) to 4x4, flatten each with .flatten(1), concatenate along dim 1")
    if not _matches(got, want):
        _expect(not _matches(got, batch_stats), "5.1", "your features depend on the other images in the batch: call "
                "D.eval() first, so BatchNorm uses its running statistics (D arrives in training mode)")
        _expect(not _matches(got, averaged), "5.1", "you average-pooled: the paper max-pools (F.adaptive_max_pool2d(h, 4))")
        _expect(not _matches(got.sort(1).values, want.sort(1).values), "5.1", "the right numbers in another order: "
                "concatenate conv1, conv2, conv3 in that order, each flattened with .flatten(1)")
        _close(got, want, "5.1", "the pooled features")
    _passed("5.1", f"{want.shape[1]} numbers per image from a width-8 D, 16 x (8 + 16 + 32); "
                   "the course's width-32 D gives 16 x (32 + 64 + 128) = 3,584")


@_own_rng
def check_pick_labelled(pick_labelled: Callable[[torch.Tensor, int, torch.Generator], torch.Tensor]) -> None:
    """5.2: pick_labelled(labels, per_class, generator) -> indices of `per_class` random examples of every class,
    none twice, drawn with `generator` only (the same seed gives the same pick)."""
    counts = torch.tensor([30, 12, 25, 40, 9])  # unequal classes, in shuffled order
    labels = torch.arange(5).repeat_interleave(counts)[torch.randperm(int(counts.sum()), generator=torch.Generator().manual_seed(0))]

    def pick(per_class: int, seed: int) -> torch.Tensor:
        got = _call("5.2", pick_labelled, labels, per_class, torch.Generator().manual_seed(seed))
        try:
            idx = torch.as_tensor(got)
        except Exception:
            raise ExerciseError(f"exercise 5.2: return the indices as a tensor of integers, got {type(got).__name__}") from None
        _expect(idx.dim() == 1, "5.2", f"shape {tuple(idx.shape)}: return one flat list of indices (torch.cat the "
                "classes' picks), so that features[idx] is (n, features)")
        _expect(not idx.is_floating_point() and not idx.dtype == torch.bool, "5.2",
                f"return indices (integers) into labels, got a {idx.dtype} tensor")
        _expect(bool(((idx >= 0) & (idx < len(labels))).all()), "5.2", f"indices must lie in 0..{len(labels) - 1}")
        _expect(len(idx.unique()) == len(idx), "5.2", "an example is picked twice: draw without replacement (torch.randperm)")
        got_counts = torch.bincount(labels[idx.long()], minlength=5).tolist()
        _expect(got_counts == [per_class] * 5, "5.2", f"with per_class={per_class} your pick has {got_counts} examples of "
                f"classes 0..4, expected {per_class} of each (the classes are of different sizes and shuffled)")
        return idx.long().sort().values

    for per_class in (1, 5, 9):
        pick(per_class, 0)
    torch.manual_seed(1)  # the global RNG moves between the calls; a pick drawn from it would change
    _expect(torch.equal(pick(5, 0), pick(5, 0)), "5.2", "two calls with the same generator seed pick different examples: "
            "draw with the generator you are given (torch.randperm(n, generator=generator)), not the global RNG")
    _expect(len({tuple(pick(5, s).tolist()) for s in range(4)}) > 1, "5.2", "every seed picks the same examples: pick at "
            "random with the generator (torch.randperm(n, generator=generator)), not the first ones of each class")
    _passed("5.2", "per_class of each class, none twice, a new pick for each seed and the same pick for the same seed")


def check_standardise(standardise: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]) -> None:
    """5.3: standardise(train, test) -> both (n, F) and (m, F) standardised with the labelled (train) set's mean
    and std, with a small epsilon so a feature constant on the labelled set does not give 0 / 0."""
    g = torch.Generator().manual_seed(0)
    scale, offset = torch.tensor([1.0, 0.5, 2.0, 10.0, 0.3, 3.0]), torch.tensor([0.0, 1.0, -2.0, 5.0, 0.0, 7.0])
    train = torch.randn(20, 6, generator=g, dtype=torch.float64) * scale + offset
    test = torch.randn(15, 6, generator=g, dtype=torch.float64) * 1.5 * scale + offset + scale  # another spread and centre
    train[:, 0] = test[:, 0] = 0.0  # a feature constant on the labelled set, as the digits' border pixels are
    got = _call("5.3", standardise, train.clone(), test.clone())
    _expect(isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(t, torch.Tensor) for t in got), "5.3",
            "return two tensors: (standardised train, standardised test)")
    tr, te = (t.detach().double() for t in got)
    _expect(not (tr.shape == test.shape and te.shape == train.shape), "5.3", "the two results are swapped: return "
            "(standardised train, standardised test), in that order")
    _expect(tr.shape == train.shape and te.shape == test.shape, "5.3", f"shapes {tuple(tr.shape)} and {tuple(te.shape)}, "
            f"expected {tuple(train.shape)} and {tuple(test.shape)}: standardise each feature (column), not each image")
    _expect(bool(torch.isfinite(tr).all() and torch.isfinite(te).all()), "5.3", "inf or NaN: feature 0 is constant on the "
            "labelled set (as the digits' border pixels are), so its std is 0: divide by std + 1e-6")
    def stats(x: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """x's per-feature mean with either std (population or sample): both are right."""
        return [(x.mean(0), sd) for sd in (x.std(0, correction=0), x.std(0))]

    def scaled(x: torch.Tensor, m: torch.Tensor, sd: torch.Tensor) -> torch.Tensor:
        return (x - m)[:, 1:] / sd[1:]  # the constant feature 0 only has to stay finite (checked above)

    tol = 1e-2  # relative: any small epsilon is fine, std + 1e-4 or sqrt(var + 1e-5) as in BatchNorm

    def near(got: torch.Tensor, want: torch.Tensor) -> bool:
        return got.shape == want.shape and float(((got - want).abs() / (1 + want.abs())).max()) <= tol

    ok = lambda want_tr, want_te: near(tr[:, 1:], want_tr) and near(te[:, 1:], want_te)  # noqa: E731
    if not any(ok(scaled(train, m, sd), scaled(test, m, sd)) for m, sd in stats(train)):
        _expect(not any(near(te[:, 1:], scaled(test, m, sd)) for m, sd in stats(test)), "5.3", "you standardised the "
                "test features with their own mean and std: use the labelled set's for both (the test images stand "
                "for ones you have not seen, so they cannot set the scale)")
        _expect(not any(near(te[:, 1:], scaled(test, m, sd)) for m, sd in stats(torch.cat([train, test]))), "5.3",
                "you took the mean and std over labelled and test features together: use the labelled set's alone")
        rows = lambda x: (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6)  # noqa: E731 - per image
        _expect(not (near(tr, rows(train)) or near(te, rows(test))), "5.3", "you standardised each image "
                "(row): standardise each feature (column) over the labelled images, with mean(0) and std(0)")
        _expect(False, "5.3", "expected (x - train.mean(0)) / (train.std(0) + 1e-6) for both sets, with the labelled "
                "(train) set's mean and std")
    _passed("5.3", f"the labelled features have mean 0 and std 1; the test features keep their own centre "
                   f"(mean {float(te[:, 1:].mean()):+.2f}): they are measured with the labelled set's ruler")


# ------------------------------------------------------------------------------------------ 6: the internals


@_own_rng
def check_guided_relu(guided_relu: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """6.1: guided_relu(grad_out, output) -> the gradient guided backprop passes below a ReLU: grad_out where
    both grad_out > 0 and the unit was active (output > 0), else 0."""
    torch.manual_seed(0)
    grad_out = torch.randn(4, 8, 5, 5)
    output = torch.nn.functional.leaky_relu(torch.randn(4, 8, 5, 5), 0.2)  # D's LeakyReLUs: negative where inactive
    got = _call("6.1", guided_relu, grad_out.clone(), output.clone())
    want = probes.guided_relu_rule(grad_out, output)
    _expect(isinstance(got, torch.Tensor), "6.1", f"return a torch tensor, got {type(got).__name__}")
    if not _matches(got, want):
        _expect(not _matches(got, grad_out * (output > 0)), "6.1", "that is plain backprop's rule: guided backprop also drops "
                "the negative gradients (grad_out.clamp(min=0))")
        _expect(not _matches(got, grad_out.clamp(min=0)), "6.1", "that is the 'deconvnet' rule: also keep only the units "
                "that were active (output > 0)")
        _close(got, want, "6.1", "the gradient passed down")
    plain, guided = float((grad_out * (output > 0) != 0).float().mean()), float((want != 0).float().mean())
    _passed("6.1", f"plain backprop passes {plain:.0%} of the entries, guided backprop {guided:.0%}: only positive "
                   "evidence through active units")


def check_inside_share(inside_share: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> None:
    """6.2: inside_share(gradient (B, C, H, W), mask (B, H, W)) -> each image's share of saliency (sum over
    channels of |gradient|) inside its mask (B,)."""
    g = torch.Generator().manual_seed(0)
    grad = torch.randn(64, 3, 32, 32, generator=g)
    mask = torch.zeros(64, 32, 32, dtype=torch.bool)
    for i in range(64):  # a box for a face, in another place in each image
        top, left = i % 12, (5 * i) % 16
        mask[i, top:top + 16, left:left + 12] = True
        grad[i, :, top:top + 16, left:left + 12] += 0.5 * torch.randn(1, 1, 1, generator=g)  # signed: sums cancel differently
    got = _call("6.2", inside_share, grad.clone(), mask.clone())
    want = probes.saliency_inside(grad, mask)
    _expect(isinstance(got, torch.Tensor), "6.2", f"return a torch tensor, got {type(got).__name__}")
    _expect(got.shape == want.shape, "6.2", f"shape {tuple(got.shape)}: return one share per image, shape ({len(grad)},)")
    if not _matches(got, want):
        s = grad.sum(1)
        signed = (s * mask).flatten(1).sum(1) / s.flatten(1).sum(1)
        _expect(not _matches(got, signed, 1e-4), "6.2", "positive and negative gradients cancel: sum |gradient| over the "
                "channels first (grad.abs().sum(1))")
        _expect(not _matches(got, probes.saliency_inside(s.abs(), mask), 1e-4), "6.2", "you took |.| after "
                "summing the channels, so a pixel's colour channels can cancel: grad.abs().sum(1), not grad.sum(1).abs()")
        _expect(not _matches(got, probes.saliency_inside(grad, mask[:1].expand_as(mask)), 1e-4), "6.2", "each image has its own mask: use mask[i] for image i (multiply by the whole (N, H, W) mask)")
        _close(got, want, "6.2", "the share inside the mask: (saliency inside the mask) / (all saliency), per image", atol=1e-4)
    area = float(mask.float().mean())
    noise = probes.saliency_inside(torch.randn(64, 3, 32, 32, generator=g), mask)
    _passed("6.2", f"for pure noise the share is {float(noise.mean()):.3f}, the mask's area ({area:.3f}): that is chance level")


def _check_map_edit(exercise: str, edit: Callable, extra: tuple, want_of: Callable[[torch.Tensor, Any], torch.Tensor],
                    wrong: dict[str, Callable[[torch.Tensor, Any], torch.Tensor]]) -> None:
    """Run an edit of G's maps (h, channels, *extra) on post-ReLU maps; it must return want_of(h) and leave h alone.
    `wrong` maps a hint to one typical mistake, (h, channels) -> what that mistake returns."""
    g = torch.Generator().manual_seed(0)
    # after a ReLU: positive; 9 images and 8 channels, so h[channels] (images, not channels) runs and can be told apart
    h = (torch.rand(9, 8, 4, 4, generator=g) + 0.1).requires_grad_(True) * 1.0  # inside a graph, as in G
    for channels in (torch.tensor([1, 5, 6]), [0, 7]):
        h_before = h.detach().clone()
        got = _call(exercise, edit, h, channels, *extra)
        want = want_of(h_before, channels)
        _expect(isinstance(got, torch.Tensor), exercise, f"return a torch tensor, got {type(got).__name__}")
        _expect(torch.equal(h.detach(), h_before), exercise, "you changed h in place: return a changed copy (h.clone() "
                "first); an in-place change of a ReLU's output breaks backpropagation through G")
        if not _matches(got, want):
            for hint, w in wrong.items():
                _expect(not _matches(got, w(h_before, channels)), exercise, hint)
            _close(got, want, exercise, f"the maps after the edit with channels={channels}")
        _expect(got.requires_grad, exercise, "the result is cut off from G's graph: h.clone() keeps the gradient path, "
                "h.detach() does not")


def check_zero_maps(zero_maps: Callable[[torch.Tensor, Any], torch.Tensor]) -> None:
    """6.3: zero_maps(h, channels) -> a copy of G's maps h (B, C, H, W) with those channels zero everywhere."""
    def images_not_channels(h, ch):
        out = h.clone()
        out[ch] = 0
        return out

    _check_map_edit("6.3", zero_maps, (), lambda h, ch: probes.drop_maps(ch)(h),
                    {"you zeroed images, not channels: channels are dimension 1, h[:, channels]": images_not_channels})
    _passed("6.3", "those maps are zero for every image at every position; the others are untouched")


def check_fill_maps(fill_maps: Callable[[torch.Tensor, Any, torch.Tensor], torch.Tensor]) -> None:
    """6.4: fill_maps(h, channels, average) -> a copy of h with those channels replaced by `average`'s (C, H, W),
    the same for every image (a "mean ablation")."""
    average = torch.rand(8, 4, 4, generator=torch.Generator().manual_seed(1)) + 0.1  # a reference set's mean maps

    def own_mean(h, ch):
        return probes.fill_maps(ch, h.mean(0))(h)

    _check_map_edit("6.4", fill_maps, (average,), lambda h, ch: probes.fill_maps(ch, average)(h),
                    {"you used this batch's own average: use the `average` you are given (the maps of faces without "
                     "glasses), so the filled maps are the same whatever the batch": own_mean,
                     "you filled every channel: replace only h[:, channels]": lambda h, ch: average.expand_as(h).clone()})
    _passed("6.4", "those maps now hold the reference average, the same for every z; the others are untouched")


# ------------------------------------------------------------------------------------- what `dcgan grade` runs

CHECKS = {  # exercise id -> the check that grades it (a notebook is graded on the checks it calls)
    "1.1": "check_optimal_d", "1.2": "check_value", "1.3": "check_generator_losses",
    "2.1": "check_transposed_size", "2.2": "check_generator_block", "2.3": "check_generator",
    "3.1": "check_d_step", "3.2": "check_g_step",
    "4.1": "check_slerp", "4.2": "check_equation",
    "5.1": "check_pooled_features", "5.2": "check_pick_labelled", "5.3": "check_standardise",
    "6.1": "check_guided_relu", "6.2": "check_inside_share", "6.3": "check_zero_maps", "6.4": "check_fill_maps",
}
