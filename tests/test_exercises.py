"""The exercise checks pass right answers and fail, with the hint that names it, each typical mistake."""

import re
from pathlib import Path

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


# --------------------------------------------------------------------------------------------------- grading

ROOT = Path(__file__).parent.parent


def test_every_check_is_graded_and_every_graded_check_exists():
    assert sorted(ex.CHECKS.values()) == sorted(n for n in dir(ex) if n.startswith("check_"))


def test_grading_a_half_done_notebook(tmp_path):
    pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "exercises" / "01_the_game.ipynb", as_version=4)
    stubs = [c for c in nb.cells if "raise NotImplementedError" in c.source and c.cell_type == "code"]
    assert len(stubs) == 3  # 1.1, 1.2, 1.3 (two functions in 1.3's cell)
    stubs[0].source = stubs[0].source.replace("raise NotImplementedError", "return p_data / (p_data + p_g)")
    stubs[1].source = stubs[1].source.replace("raise NotImplementedError", "return torch.log(d_real).mean()")
    nbformat.write(nb, tmp_path / "student.ipynb")
    grade = ex.grade_notebook(tmp_path / "student.ipynb")
    assert grade.results["1.1"] is None
    assert "off by" in grade.results["1.2"] and grade.results["1.3"].startswith("not done yet")
    assert grade.passed == 1 and grade.describe().splitlines()[0].endswith("1/3 exercises passed")


def test_a_deleted_check_counts_as_failed(tmp_path):
    pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "instructor" / "solutions" / "02_building_blocks.ipynb", as_version=4)
    for c in nb.cells:
        c.source = c.source.replace("check_generator(build_generator)", "")
    nbformat.write(nb, tmp_path / "02_building_blocks.ipynb")
    grade = ex.grade_notebook(tmp_path / "02_building_blocks.ipynb")
    assert grade.results["2.1"] is None and grade.results["2.3"] == "the notebook no longer calls check_generator"


def test_grade_command(tmp_path, capsys):
    pytest.importorskip("nbclient")
    from dcgan_lib.cli import main

    solved = tmp_path / "solved.ipynb"
    solved.write_text((ROOT / "instructor" / "solutions" / "02_building_blocks.ipynb").read_text())
    assert main(["grade", str(solved), "--csv", str(tmp_path / "g.csv")]) == 0
    assert "3/3 exercises passed in 1 notebook" in capsys.readouterr().out
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows[0] == "notebook,exercise,passed,reason" and rows[1].endswith(",2.1,True,") and len(rows) == 4
    assert main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert "no notebook at" in capsys.readouterr().err
    (tmp_path / "bad.ipynb").write_text("not json")
    assert main(["grade", str(tmp_path / "bad.ipynb")]) == 2
    assert "not a readable notebook" in capsys.readouterr().err
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), tmp_path / "other.ipynb")
    assert main(["grade", str(tmp_path / "other.ipynb")]) == 2
    assert "calls none of the exercise checks" in capsys.readouterr().err
