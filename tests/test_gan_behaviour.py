"""What a GAN does, seen from outside the code: after a few hundred steps D tells real from fake, and G's samples
move towards the data. These fail when D's or G's labels are swapped (tools/mutation_check.py shows it)."""

import pytest
import torch
import torch.nn.functional as F

from dcgan_lib.config import TrainConfig
from dcgan_lib.data import load_data
from dcgan_lib.images import to_model_range
from dcgan_lib.latent import sample_z
from dcgan_lib.metrics import frechet_distance
from dcgan_lib.models import generate
from dcgan_lib.train import build_models, train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """960 steps of a small DCGAN on 16x16 faces (seeded, about 10 s); also its untrained G, for the before/after."""
    cfg = TrainConfig(image_size=16, width=16, nz=16, batch_size=32, n_images=512, epochs=60, log_every=16,
                      checkpoint_every=0, out=str(tmp_path_factory.mktemp("gan") / "run"), progress=False)
    data = load_data("faces", 16, 512, seed=0)
    untrained, _ = build_models(cfg, channels=3)
    state = train(cfg, data=data)
    return cfg, state, untrained


def _distances(G: torch.nn.Module, real: torch.Tensor, nz: int) -> tuple[float, float]:
    """How far 512 fresh samples of G sit from the data: the RMS difference of the mean images, and the Fréchet
    distance of 4x4-pooled pixels (means and covariances); both 0 for a G that matches the data."""
    fake = generate(G.eval(), sample_z(512, nz, generator=torch.Generator().manual_seed(7)))
    pooled = [F.avg_pool2d(x, 4).flatten(1) for x in (fake, real)]
    return float((fake.mean(0) - real.mean(0)).pow(2).mean().sqrt()), frechet_distance(*pooled)


def test_d_tells_real_from_fake(run):
    cfg, state, _ = run
    last = [r for r in state.history if "D_x" in r][-5:]
    gap = sum(r["D_x"] - r["D_G_z"] for r in last) / len(last)
    assert gap > 0.3, f"D(x) - D(G(z)) over the last records is {gap:.2f}: D does not separate real from fake"
    # and on images neither of them trained on: fresh faces against fresh samples
    real = to_model_range(load_data("faces", 16, 256, seed=123).images)
    fake = generate(state.G, sample_z(256, cfg.nz, generator=torch.Generator().manual_seed(8)))
    D = state.D.eval()
    with torch.no_grad():
        held_out = float(torch.sigmoid(D(real)).mean() - torch.sigmoid(D(fake)).mean())
    assert held_out > 0.2, f"on held-out images D(x) - D(G(z)) is {held_out:.2f}"


def test_g_moves_towards_the_data(run):
    cfg, state, untrained = run
    real = to_model_range(load_data("faces", 16, 512, seed=0).images)
    (mean_before, fd_before), (mean_after, fd_after) = _distances(untrained, real, cfg.nz), _distances(state.G, real, cfg.nz)
    # healthy: 0.254 -> 0.038 and 5.0 -> 0.53; with D's or G's labels swapped both grow (0.35, 5.7-6.0)
    assert mean_after < mean_before / 3, f"G's mean image is {mean_after:.3f} from the data's, {mean_before:.3f} untrained"
    assert fd_after < fd_before / 3, f"G's pixel Fréchet distance is {fd_after:.2f}, {fd_before:.2f} untrained"
    fake = generate(state.G, sample_z(512, cfg.nz, generator=torch.Generator().manual_seed(9)))
    ratio = float(fake.std(0).mean() / real.std(0).mean())
    assert 0.5 < ratio < 2.0, f"G's samples vary {ratio:.2f}x as much as the data's (0.84 when healthy): collapsed or noise"
