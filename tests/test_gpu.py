"""The CUDA path: autocast, channels-last, GradScaler, and the speed switches (torch.compile, fused Adam, CUDA
graphs, several GPUs). Skipped where no GPU is visible (CI, this project's CPU machines);
`bash benchmarks/gpu_check.sh` runs them with the GPU benchmark."""

from dataclasses import replace

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.config import TrainConfig
from dcgan_lib.train import TrainStep, build_models, make_optimisers, place, train

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


def assert_same_run(a, b, cfg: TrainConfig, rel: float = 0.1) -> None:
    """Two runs of one config that differ only in how they sum (kernels, graphs): every weight tensor closer
    to the other run than `rel` times how far training moved it, and the same loss history within 0.01."""
    G0, D0 = build_models(cfg, 3)
    for start, x, y in ((G0, a.G, b.G), (D0, a.D, b.D)):
        s0, sx, sy = start.state_dict(), x.state_dict(), y.state_dict()
        for k in s0:
            if k.endswith("weight"):
                moved = (sx[k].cpu() - s0[k]).norm()
                assert (sx[k] - sy[k]).norm().cpu() <= rel * moved, k
    assert [r["loss_D"] for r in b.history if "loss_D" in r] == pytest.approx([r["loss_D"] for r in a.history if "loss_D" in r], abs=0.01)


@pytest.mark.parametrize("switches", [{"compile": True}, {"fused_adam": True}, {"cuda_graphs": True}, {"channels_last": False},
                                      {"compile": True, "fused_adam": True, "cuda_graphs": True}],
                         ids=["compile", "fused", "graphs", "nchw", "all"])
def test_each_speed_switch_trains_the_same_run(tiny_config, tiny_data, switches, tmp_path, recwarn):
    cfg = replace(tiny_config, device="cuda")
    eager = train(cfg, data=tiny_data)
    fast = train(replace(cfg, out=str(tmp_path / "fast"), **switches), data=tiny_data)
    assert not [str(w.message) for w in recwarn if "--" in str(w.message)], "a switch fell back"
    assert_same_run(eager, fast, cfg)


def test_cuda_graphs_resume(tiny_config, tiny_data, tmp_path):
    cfg = replace(tiny_config, device="cuda", cuda_graphs=True)
    full = train(cfg, data=tiny_data)
    short = replace(cfg, out=str(tmp_path / "short"), epochs=1)
    train(short, data=tiny_data)
    resumed = train(replace(short, epochs=2), resume=True, data=tiny_data)
    assert resumed.step == full.step
    assert_same_run(full, resumed, cfg)


def test_cuda_graphs_fall_back_with_one_warning(tiny_config, tiny_data, monkeypatch):
    def no_capture(*args, **kwargs):
        raise RuntimeError("capture refused on purpose\nsecond line")

    monkeypatch.setattr(torch.cuda, "graph", no_capture)
    with pytest.warns(UserWarning, match="^--cuda-graphs: running without, capturing the step failed: capture refused on purpose$"):
        state = train(replace(tiny_config, device="cuda", cuda_graphs=True), data=tiny_data)
    assert state.step == 12 and all(torch.isfinite(torch.tensor(r["loss_D"])) for r in state.history)


@pytest.mark.parametrize("switches", [{}, {"fused_adam": True}, {"cuda_graphs": True}], ids=["default", "fused", "graphs"])
def test_a_step_never_waits_for_the_gpu(tiny_data, switches):
    cfg = TrainConfig(image_size=16, width=8, nz=8, batch_size=16, device="cuda", **switches)
    device = torch.device("cuda")
    G, D = build_models(cfg, 3)
    place(G, D, cfg, device)
    opt_G, opt_D = make_optimisers(cfg, G, D, device)
    step = TrainStep(G, D, opt_G, opt_D, torch.Generator(device=device).manual_seed(1), cfg, device)
    real = tiny_data.images[:16].to(device).float() / 127.5 - 1
    sums = torch.zeros(5, device=device)
    for _ in range(5):  # warm-up (and the capture)
        sums += step(real)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any synchronising call raises
    try:
        for _ in range(3):
            sums += step(real)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    assert torch.isfinite(sums).all()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_gpus_with_sync_bn_train_what_one_gpu_trains(tmp_path):
    from test_distributed import TRAIN, run

    one = run(1, TRAIN + ["--device", "cuda", "--out", str(tmp_path / "one")])
    two = run(2, TRAIN + ["--device", "cuda", "--sync-bn", "--out", str(tmp_path / "two")])
    assert one["step"] == two["step"]
    for key in ("loss_D", "loss_G"):
        assert [r[key] for r in two["history"] if key in r] == pytest.approx([r[key] for r in one["history"] if key in r], abs=0.01)
