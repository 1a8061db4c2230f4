"""The exercise checks pass right answers and fail, with the hint that names it, each typical mistake."""

import re

import nbformat
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from dcgan_lib import exercises as ex
from dcgan_lib.exercises import ExerciseError


def not_started(*args):
    raise NotImplementedError


def passes(check, *fns):
    check(*fns)  # raises ExerciseError if not


def fails(check, *fns, match: str):
    with pytest.raises(ExerciseError, match=match):
        check(*fns)


# ------------------------------------------------------------------------------------------------ 1: the game


def test_optimal_d(capsys):
    passes(ex.check_optimal_d, lambda p_data, p_g: p_data / (p_data + p_g))
    assert "✓ exercise 1.1 passed" in capsys.readouterr().out
    fails(ex.check_optimal_d, not_started, match="1.1: not done yet")
    fails(ex.check_optimal_d, lambda p_data, p_g: p_g / (p_data + p_g), match="off by")
    fails(ex.check_optimal_d, lambda p_data, p_g: float(p_data.sum()), match="return a tensor")
    passes(ex.check_optimal_d, lambda p_data, p_g: p_data / (p_data + p_g + 1e-8))  # a guarding epsilon is fine


def test_value():
    passes(ex.check_value, lambda r, f: r.log().mean() + (1 - f).log().mean())
    fails(ex.check_value, lambda r, f: r.log().mean() + f.log().mean(), match="off by")
    fails(ex.check_value, lambda r, f: r.log() + (1 - f).log().mean(), match="one number")
    fails(ex.check_value, lambda r, f: (r.log() + (1 - f).log()).mean(), match="1.2: your function raised RuntimeError")


def test_generator_losses():
    sat, non_sat = (lambda a: -F.softplus(a).mean()), (lambda a: F.softplus(-a).mean())
    passes(ex.check_generator_losses, sat, non_sat)
    naive = lambda a: -torch.log(torch.sigmoid(a)).mean()  # noqa: E731 - the unstable way
    fails(ex.check_generator_losses, sat, naive, match="inf or NaN")
    fails(ex.check_generator_losses, non_sat, non_sat, match="saturating loss")
    fails(ex.check_generator_losses, sat, lambda a: F.softplus(-a.detach()).mean(), match="does not depend on the logits")
    fails(ex.check_generator_losses, sat, lambda a: F.softplus(-a).sum(), match="off by")


# --------------------------------------------------------------------------------------- 2: the architecture


def block(c_in, c_out):
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))


def generator(nz, width):
    return nn.Sequential(nn.ConvTranspose2d(nz, 4 * width, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(True),
                         block(4 * width, 2 * width), block(2 * width, width),
                         nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh())


def test_transposed_size():
    passes(ex.check_transposed_size, lambda n, k, s, p: (n - 1) * s - 2 * p + k)
    fails(ex.check_transposed_size, lambda n, k, s, p: (n + 2 * p - k) // s + 1, match="PyTorch gives")
    fails(ex.check_transposed_size, lambda n, k, s, p: n * s, match="PyTorch gives")


def test_generator_block():
    passes(ex.check_generator_block, block)
    fails(ex.check_generator_block, lambda a, b: nn.Sequential(nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU()),
          match="BatchNorm2d right after")
    fails(ex.check_generator_block, lambda a, b: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(a, b, 3, 1, 1),
                                                               nn.BatchNorm2d(b), nn.ReLU()), match="nn.Upsample")
    fails(ex.check_generator_block, lambda a, b: nn.Sequential(nn.ConvTranspose2d(a, b, 3, 2, 1), nn.BatchNorm2d(b), nn.ReLU()),
          match="doubles the side")
    fails(ex.check_generator_block, lambda a, b: nn.Sequential(nn.ConvTranspose2d(a, b, 4, 2, 1), nn.BatchNorm2d(b),
                                                               nn.LeakyReLU(0.2)), match="ReLU in the generator")
    fails(ex.check_generator_block, lambda a, b: "block", match="return an nn.Module")


def test_generator(capsys):
    passes(ex.check_generator, generator)
    assert "the same as the course's" in capsys.readouterr().out
    with_bn_out = lambda nz, w: nn.Sequential(*list(generator(nz, w))[:-1], nn.BatchNorm2d(3), nn.Tanh())  # noqa: E731
    fails(ex.check_generator, with_bn_out, match="no BatchNorm on the output layer")
    fails(ex.check_generator, lambda nz, w: nn.Sequential(*list(generator(nz, w))[:-1]), match="end with nn.Tanh")
    fc = lambda nz, w: nn.Sequential(nn.Flatten(), nn.Linear(nz, nz), nn.Unflatten(1, (nz, 1, 1)), generator(nz, w))  # noqa: E731
    fails(ex.check_generator, fc, match="no fully connected")
    fails(ex.check_generator, lambda nz, w: nn.Sequential(*list(generator(nz, w))[:3], block(4 * w, w),
                                                          nn.ConvTranspose2d(w, 3, 4, 2, 1), nn.Tanh()),
          match=r"expected \(4, 3, 32, 32\)")


def test_checks_leave_the_global_rng_alone():
    torch.manual_seed(123)
    want = torch.rand(3)
    torch.manual_seed(123)
    ex.check_generator(generator)
    assert torch.equal(torch.rand(3), want)


# ------------------------------------------------------------------------------------------- 3: a training step


def d_step(G, D, opt_D, real, z, detach=True, zero_grad=True, together=False):
    fake = G(z)
    fake = fake.detach() if detach else fake
    if together:
        logits = D(torch.cat([real, fake]))
        loss = F.binary_cross_entropy_with_logits(logits, torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])) * 2
    else:
        loss = (F.binary_cross_entropy_with_logits(D(real), torch.ones(len(real)))
                + F.binary_cross_entropy_with_logits(D(fake), torch.zeros(len(fake))))
    if zero_grad:
        opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss.detach()


def g_step(G, D, opt_G, z, saturating=False, zero_grad=True):
    logits = D(G(z))
    loss = -F.softplus(logits).mean() if saturating else F.binary_cross_entropy_with_logits(logits, torch.ones(len(z)))
    if zero_grad:
        opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    return loss.detach()


def test_d_step():
    passes(ex.check_d_step, d_step)
    fails(ex.check_d_step, not_started, match="3.1: not done yet")
    fails(ex.check_d_step, lambda *a: d_step(*a, detach=False), match="detach the fakes")
    fails(ex.check_d_step, lambda *a: d_step(*a, zero_grad=False), match="zero_grad")
    fails(ex.check_d_step, lambda *a: d_step(*a, together=True), match="separate batches")


def test_steps_may_zero_the_gradients_after_stepping():
    def d_step_zero_last(G, D, opt_D, real, z):
        loss = d_step(G, D, opt_D, real, z, zero_grad=False)
        opt_D.zero_grad()
        return loss

    def g_step_zero_last(G, D, opt_G, z):
        loss = g_step(G, D, opt_G, z, zero_grad=False)
        opt_G.zero_grad()
        return loss

    passes(ex.check_d_step, d_step_zero_last)
    passes(ex.check_g_step, g_step_zero_last)


def test_steps_may_return_a_python_number():
    passes(ex.check_d_step, lambda *a: d_step(*a).item())
    passes(ex.check_g_step, lambda *a: g_step(*a).item())
    fails(ex.check_d_step, lambda *a: [d_step(*a)], match="got list")


def test_g_step():
    passes(ex.check_g_step, g_step)
    fails(ex.check_g_step, lambda *a: g_step(*a, saturating=True), match="non-saturating")
    fails(ex.check_g_step, lambda *a: g_step(*a, zero_grad=False), match="zero_grad")

    def detached(G, D, opt_G, z):
        loss = F.binary_cross_entropy_with_logits(D(G(z).detach()), torch.ones(len(z)))
        loss.backward()
        return loss.detach()

    fails(ex.check_g_step, detached, match="do not detach G")


# ----------------------------------------------------------------------------------------- 4: the latent space


def slerp(z0, z1, t):
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)


def test_slerp(capsys):
    passes(ex.check_slerp, slerp)
    mid, straight = (float(v) for v in re.search(r"\|z\| = ([\d.]+) on the great circle against ([\d.]+)",
                                                 capsys.readouterr().out).groups())
    assert mid > 9 and straight < 0.8 * mid  # the check reports the norms it measured
    fails(ex.check_slerp, lambda z0, z1, t: (1 - t) * z0 + t * z1, match="off by")
    fails(ex.check_slerp, lambda z0, z1, t: slerp(z0, z1, 1 - t), match="off by")


def test_equation():
    passes(ex.check_equation, lambda a, b, c: a.mean(0) - b.mean(0) + c.mean(0))
    fails(ex.check_equation, lambda a, b, c: a[0] - b[0] + c[0], match="k = 3")
    fails(ex.check_equation, lambda a, b, c: (a - b + c).sum(0), match="k = 3")
    fails(ex.check_equation, lambda a, b, c: a - b + c, match="shape")


# ---------------------------------------------------------------------------------- 5: D as a feature extractor


def pooled_features(D, x):
    D.eval()
    layers = [n for n in D.layer_names if n.startswith("conv")]
    with torch.no_grad():
        maps = D.features(x, layers)
    return torch.cat([F.adaptive_max_pool2d(maps[n], 4).flatten(1) for n in layers], 1)


def test_pooled_features(capsys):
    passes(ex.check_pooled_features, pooled_features)
    assert "16 x (8 + 16 + 32)" in capsys.readouterr().out
    fails(ex.check_pooled_features, not_started, match="5.1: not done yet")
    fails(ex.check_pooled_features, _pooled_as_is, match="call D.eval")  # D left in training mode: batch statistics
    fails(ex.check_pooled_features, lambda D, x: _pooled_as_is(D.eval(), x, F.adaptive_avg_pool2d), match="average-pooled")
    fails(ex.check_pooled_features, lambda D, x: _pooled_as_is(D.eval(), x, reverse=True), match="another order")
    fails(ex.check_pooled_features, lambda D, x: _pooled_as_is(D.eval(), x, layers=["conv2", "conv3"]), match=r"16 x \(8 \+ 16")
    fails(ex.check_pooled_features, lambda D, x: _pooled_as_is(D.eval(), x, pool=2), match="expected")
    unflattened = lambda D, x: torch.cat([F.adaptive_max_pool2d(m, 4) for m in D.eval().features(x, ["conv1", "conv2", "conv3"]).values()], 1)  # noqa: E731
    fails(ex.check_pooled_features, unflattened, match=r"flatten each pooled layer with \.flatten\(1\)")
    with_graph = lambda D, x: torch.cat([F.adaptive_max_pool2d(m, 4).flatten(1) for m in D.eval().features(x, ["conv1", "conv2", "conv3"]).values()], 1)  # noqa: E731
    fails(ex.check_pooled_features, with_graph, match="no_grad")
    fails(ex.check_pooled_features, lambda D, x: pooled_features(D, x).numpy(), match="return a torch tensor")


def _pooled_as_is(D, x, pool_fn=F.adaptive_max_pool2d, reverse=False, layers=("conv1", "conv2", "conv3"), pool=4):
    """D's pooled features in whatever BatchNorm mode D is in; the knobs make the typical mistakes."""
    with torch.no_grad():
        maps = D.features(x, list(layers))
    parts = [pool_fn(maps[n], pool).flatten(1) for n in layers]
    return torch.cat(parts[::-1] if reverse else parts, 1)


def pick_labelled(labels, per_class, generator):
    return torch.cat([(labels == c).nonzero().flatten()[torch.randperm(int((labels == c).sum()), generator=generator)[:per_class]]
                      for c in labels.unique()])


def test_pick_labelled():
    passes(ex.check_pick_labelled, pick_labelled)
    passes(ex.check_pick_labelled, lambda labels, k, g: pick_labelled(labels, k, g).tolist())  # a list is fine
    first = lambda labels, k, g: torch.cat([(labels == c).nonzero().flatten()[:k] for c in labels.unique()])  # noqa: E731
    fails(ex.check_pick_labelled, first, match="every seed picks the same")
    global_rng = lambda labels, k, g: pick_labelled(labels, k, None)  # noqa: E731 - randperm(generator=None): the global RNG
    fails(ex.check_pick_labelled, global_rng, match="not the global RNG")
    with_replacement = lambda labels, k, g: torch.cat([(labels == c).nonzero().flatten()[  # noqa: E731
        torch.randint(int((labels == c).sum()), (k,), generator=g)] for c in labels.unique()])
    fails(ex.check_pick_labelled, with_replacement, match="picked twice")
    overall = lambda labels, k, g: torch.randperm(len(labels), generator=g)[: 5 * k]  # noqa: E731 - not stratified
    fails(ex.check_pick_labelled, overall, match="of each")
    fails(ex.check_pick_labelled, lambda labels, k, g: pick_labelled(labels, k, g).view(-1, k), match="one flat list")
    fails(ex.check_pick_labelled, lambda labels, k, g: pick_labelled(labels, k, g).float(), match="integers")
    fails(ex.check_pick_labelled, lambda labels, k, g: pick_labelled(labels, k, g) + len(labels), match="must lie in")
    fails(ex.check_pick_labelled, lambda labels, k, g: "indices", match="tensor of integers")


def standardise(train, test):
    mu, sd = train.mean(0), train.std(0) + 1e-6
    return (train - mu) / sd, (test - mu) / sd


def test_standardise(capsys):
    passes(ex.check_standardise, standardise)
    assert "keep their own centre" in capsys.readouterr().out
    population = lambda a, b: ((a - a.mean(0)) / a.std(0, correction=0).clamp_min(1e-8),  # noqa: E731 - numpy's std, a clamp
                               (b - a.mean(0)) / a.std(0, correction=0).clamp_min(1e-8))
    passes(ex.check_standardise, population)
    passes(ex.check_standardise, lambda a, b: ((a - a.mean(0)) / (a.std(0) + 1e-4), (b - a.mean(0)) / (a.std(0) + 1e-4)))
    batchnorm_eps = lambda a, b: tuple((x - a.mean(0)) / (a.var(0, correction=0) + 1e-5).sqrt() for x in (a, b))  # noqa: E731
    passes(ex.check_standardise, batchnorm_eps)
    fails(ex.check_standardise, lambda a, b: standardise(a, b)[::-1], match="swapped")
    fails(ex.check_standardise, lambda a, b: standardise(a, b)[0], match="return two tensors")
    fails(ex.check_standardise, lambda a, b: (standardise(a, b)[0][:, :3], standardise(a, b)[1][:, :3]), match="each feature")
    fails(ex.check_standardise, lambda a, b: ((a - a.mean(0)) / a.std(0), (b - a.mean(0)) / a.std(0)), match="inf or NaN")
    fails(ex.check_standardise, lambda a, b: (standardise(a, a)[0], standardise(b, b)[0]), match="their own mean")
    both = lambda a, b: standardise(torch.cat([a, b]), a)[1:] + standardise(torch.cat([a, b]), b)[1:]  # noqa: E731
    fails(ex.check_standardise, both, match="together")
    per_image = lambda a, b: tuple((x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True) + 1e-6) for x in (a, b))  # noqa: E731
    fails(ex.check_standardise, per_image, match="each image")
    fails(ex.check_standardise, lambda a, b: (a - a.mean(0), b - a.mean(0)), match="expected")


# ------------------------------------------------------------------------------------------ 6: the internals


def test_guided_relu(capsys):
    passes(ex.check_guided_relu, lambda g, out: g.clamp(min=0) * (out > 0))
    assert re.search(r"plain backprop passes \d+% of the entries, guided backprop \d+%", capsys.readouterr().out)
    fails(ex.check_guided_relu, lambda g, out: g * (out > 0), match="plain backprop's rule")
    fails(ex.check_guided_relu, lambda g, out: g.clamp(min=0), match="deconvnet")
    fails(ex.check_guided_relu, lambda g, out: (g.clamp(min=0) * (out > 0),), match="return a torch tensor")
    fails(ex.check_guided_relu, lambda g, out: g.clamp(min=0) * (out > 0.5), match="off by")


def test_guided_backprop_takes_a_rule():
    """The exercise plugs its rule into probes.guided_backprop: the default rule, passed explicitly, changes
    nothing, and plain backprop gives another (signed) map."""
    from dcgan_lib.models import Discriminator
    from dcgan_lib.probes import guided_backprop, guided_relu_rule

    torch.manual_seed(0)
    D, x = Discriminator(image_size=32, width=8).eval(), torch.rand(2, 3, 32, 32) * 2 - 1
    default = guided_backprop(D, x, "conv3")
    assert torch.equal(default, guided_backprop(D, x, "conv3", rule=guided_relu_rule))
    plain = guided_backprop(D, x, "conv3", rule=lambda g, out: g * (out > 0))
    assert not torch.allclose(plain, default)


def inside_share(grad, mask):
    s = grad.abs().sum(1)
    return (s * mask).flatten(1).sum(1) / s.flatten(1).sum(1)


def test_inside_share(capsys):
    passes(ex.check_inside_share, inside_share)
    share, area = (float(v) for v in re.search(r"share is ([\d.]+), the mask's area \(([\d.]+)\)", capsys.readouterr().out).groups())
    assert abs(share - area) < 0.01  # noise is as likely inside the mask as outside: chance is the area
    fails(ex.check_inside_share, lambda g, m: (g.sum(1) * m).flatten(1).sum(1) / g.sum(1).flatten(1).sum(1), match="cancel")
    fails(ex.check_inside_share, lambda g, m: inside_share(g.sum(1, keepdim=True), m), match="after summing the channels")
    fails(ex.check_inside_share, lambda g, m: inside_share(g, m[:1].expand_as(m)), match="its own mask")
    fails(ex.check_inside_share, lambda g, m: inside_share(g, m).tolist(), match="return a torch tensor")
    fails(ex.check_inside_share, lambda g, m: inside_share(g, m).mean(), match="one share per image")
    fails(ex.check_inside_share, lambda g, m: (g.abs().sum(1) * m).flatten(1).sum(1) / m.flatten(1).sum(1), match="per image")


def zero_maps(h, channels):
    out = h.clone()
    out[:, channels] = 0
    return out


def fill_maps(h, channels, average):
    out = h.clone()
    out[:, channels] = average[channels]
    return out


def test_zero_maps():
    passes(ex.check_zero_maps, zero_maps)
    passes(ex.check_zero_maps, lambda h, ch: h.index_fill(1, torch.as_tensor(ch), 0.0))

    def in_place(h, ch):
        h[:, ch] = 0
        return h

    fails(ex.check_zero_maps, in_place, match="in place")
    def images_not_channels(h, ch):
        out = h.clone()
        out[ch] = 0
        return out

    fails(ex.check_zero_maps, images_not_channels, match="zeroed images, not channels")
    fails(ex.check_zero_maps, lambda h, ch: zero_maps(h.detach(), ch), match="cut off from G's graph")
    fails(ex.check_zero_maps, lambda h, ch: h * 0, match="off by")
    fails(ex.check_zero_maps, lambda h, ch: zero_maps(h, ch).tolist(), match="return a torch tensor")


def test_fill_maps():
    passes(ex.check_fill_maps, fill_maps)
    fails(ex.check_fill_maps, lambda h, ch, avg: fill_maps(h, ch, h.mean(0)), match="batch's own average")
    fails(ex.check_fill_maps, lambda h, ch, avg: avg.expand_as(h).clone(), match="every channel")
    fails(ex.check_fill_maps, lambda h, ch, avg: zero_maps(h, ch), match="off by")
    fails(ex.check_fill_maps, not_started, match="6.4: not done yet")
    fails(ex.check_fill_maps, lambda h, ch, avg: fill_maps(h.detach(), ch, avg), match="cut off from G's graph")


def test_an_in_place_edit_breaks_backpropagation_through_g():
    """The reason 6.3's hint gives for returning a copy: G's hidden layers end in a ReLU, whose backward pass
    needs its output as it was."""
    from dcgan_lib.models import Generator

    G = Generator(image_size=32, width=8)
    z = torch.randn(2, 100, 1, 1)
    G(z, edits={"block2": lambda h: zero_maps(h, [0])}).sum().backward()  # a copy: fine

    def in_place(h):
        h[:, 0] = 0
        return h

    with pytest.raises(RuntimeError, match="inplace"):
        G(z, edits={"block2": in_place}).sum().backward()


# ------------------------------------------------------- what `dcgan grade` runs (its tests: tests/test_grading.py)


def test_every_check_is_graded_and_every_graded_check_exists():
    assert sorted(ex.CHECKS.values()) == sorted(n for n in dir(ex) if n.startswith("check_"))


def test_a_failed_check_shows_one_line_in_a_notebook():
    """In a kernel, a wrong answer prints the check's hint alone, not a traceback through exercises.py."""
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from dcgan_lib.exercises import check_transposed_size\n"
        "check_transposed_size(lambda n, kernel, stride, padding: n * stride)")])
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
    (error,) = [o for o in nb.cells[0].outputs if o.output_type == "error"]
    assert error.ename == "ExerciseError" and error.evalue.startswith("exercise 2.1: n=1, kernel=4")
    assert len(error.traceback) == 1 and "exercise 2.1" in error.traceback[0], error.traceback
    assert "exercises.py" not in "".join(error.traceback)
