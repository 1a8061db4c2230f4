"""The CUDA path: autocast, channels-last, GradScaler. Skipped where no GPU is visible (CI, this project's CPU machines)."""

from dataclasses import replace

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("precision", ["fp32", "bf16", "fp16"])
def test_trains_on_the_gpu_and_loads_on_the_cpu(tiny_config, tiny_data, precision):
    if precision == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    state = train(replace(tiny_config, device="cuda", precision=precision), data=tiny_data)
    assert next(state.G.parameters()).is_cuda
    assert all(torch.isfinite(torch.tensor(r["loss_D"])) for r in state.history)
    G = checkpoint.load_generator(tiny_config.out, "cpu")
    assert G(torch.randn(2, tiny_config.nz, 1, 1)).shape == (2, 3, 16, 16)


def test_resume_on_the_gpu(tiny_config, tiny_data):
    full = train(replace(tiny_config, device="cuda"), data=tiny_data)
    short = replace(tiny_config, device="cuda", out=tiny_config.out + "-short", epochs=1)
    train(short, data=tiny_data)
    resumed = train(replace(short, epochs=2), resume=True, data=tiny_data)
    # cuDNN may pick non-deterministic kernels: the same run, not necessarily the same bits
    for p, q in zip(full.G.parameters(), resumed.G.parameters()):
        assert torch.allclose(p, q, atol=1e-3)
