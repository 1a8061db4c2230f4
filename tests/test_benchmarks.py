"""The experiment switches that live with their benchmark (benchmarks/), tested like the package."""

import importlib
import sys
from pathlib import Path

import pytest
import torch

from dcgan_lib.faces import BACKGROUNDS, make_faces
from test_faces import changed, erode

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


@pytest.fixture(scope="module")
def tie():
    """benchmarks/background_tie.py as a module (it imports seed_sweep, its neighbour)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        yield importlib.import_module("background_tie")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_background_palette_repaints_only_the_background_and_is_restored(tie):
    before = make_faces(32, 32, seed=9)
    with tie.background_palette(tie.STUDIO_BACKGROUNDS):
        studio = make_faces(32, 32, seed=9)
    after = make_faces(32, 32, seed=9)
    assert torch.equal(before.images, after.images)  # the default palette is back
    # The top-left corner is background in every face: it takes the studio colour of the face's background.
    want = torch.tensor(tie.STUDIO_BACKGROUNDS)[studio.attributes["background"]].mul(255).round()
    assert torch.equal(studio.images[:, :, 0, 0].float(), want)
    # Face and hair pixels are the same picture on the new background.
    assert not changed(before, studio)[erode(before.mask)].any()
    assert changed(before, studio).float().mean() > 0.3


def test_background_palette_checks_its_colours_and_restores_on_error(tie):
    with pytest.raises(ValueError, match="RGB triples"):
        with tie.background_palette(tie.STUDIO_BACKGROUNDS[:4]):
            pass
    with pytest.raises(ValueError, match="RGB triples"):
        with tie.background_palette([(0.5, 0.5, 1.5)] * len(BACKGROUNDS)):
            pass
    before = make_faces(4, 16, seed=1)
    with pytest.raises(RuntimeError):
        with tie.background_palette(tie.STUDIO_BACKGROUNDS):
            raise RuntimeError("boom")
    assert torch.equal(make_faces(4, 16, seed=1).images, before.images)


def test_background_palette_drops_the_evaluations_cached_real_faces(tie):
    from dcgan_lib import evaluate

    cached = evaluate._real_predictions  # real faces drawn in one palette must not be reused in the other
    default = cached(32, 3, 8, 0, "faces")
    assert cached(32, 3, 8, 0, "faces") is default
    with tie.background_palette(tie.STUDIO_BACKGROUNDS):
        studio = cached(32, 3, 8, 0, "faces")
        assert studio is not default
    assert cached(32, 3, 8, 0, "faces") is not studio


def test_the_throughput_reference_is_pytorch_examples_dcgan_at_every_size():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        throughput = importlib.import_module("throughput")
    finally:
        sys.path.remove(str(BENCHMARKS))
    from dcgan_lib.models import Discriminator, Generator, count_parameters

    for size in (16, 32, 64):
        netG, netD = throughput.reference_nets(size, 100, 16, 16)
        assert netG(torch.randn(2, 100, 1, 1)).shape == (2, 3, size, size)
        assert netD(torch.randn(2, 3, size, size)).shape == (2, 1, 1, 1)
        assert count_parameters(netG) == count_parameters(Generator(size, 3, 100, 16))
        assert count_parameters(netD) == count_parameters(Discriminator(size, 3, 16))


def test_the_throughput_benchmark_runs_both_loops(tmp_path):
    import subprocess

    out = subprocess.run([sys.executable, str(BENCHMARKS / "throughput.py"), "--sizes", "16", "--widths", "8", "--batch-size", "16",
                          "--steps", "1", "--rounds", "2", "--warmup", "1", "--device", "cpu"],
                         capture_output=True, text=True, check=True).stdout
    assert "course (default)" in out and "| reference |" in out and "GFLOP/s" in out


def test_the_checkpoint_benchmark_times_three_ways_and_leaves_no_files(tmp_path):
    import subprocess

    out = subprocess.run([sys.executable, str(BENCHMARKS / "checkpoint_write.py"), "--size", "16", "--width", "8", "--batch-size", "16",
                          "--steps", "1", "--rounds", "2", "--device", "cpu", "--dir", str(tmp_path)],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split()[0] for line in out.splitlines()[2:5]]
    assert rows == ["no", "written,", "written"] and "holds the training thread" in out
    assert list(tmp_path.iterdir()) == []
