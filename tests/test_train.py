"""The training loop: history, files, reproducibility, exact resume, divergence handling."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.errors import CheckpointError, DCGANError, TrainingDiverged
from dcgan_lib.config import N_RATES, TrainConfig
from dcgan_lib.data import load_data
from dcgan_lib.device import pick_device
from dcgan_lib.evaluate import evaluate_generator
from dcgan_lib.train import feature_mismatch, train


def test_a_run_writes_history_samples_and_checkpoint(tiny_config, tiny_data):
    events = []
    state = train(tiny_config, data=tiny_data, callbacks=[lambda event, s: events.append(event)])
    out = Path(tiny_config.out)
    assert state.step == 12 and state.epoch == 2
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    history = json.loads((out / "history.json").read_text())
    assert [r["step"] for r in history] == [2, 4, 6, 8, 10, 12]
    for r in history:
        assert set(r) >= {"loss_D", "loss_G", "D_x", "D_G_z", "time_s"}
        # D(x), D(G(z)) are means of sigmoids and loss_D a mean of BCEs over the same logits, so (Jensen, -log convex)
        # loss_D >= -log D(x) - log(1 - D(G(z))): fails if the run records the wrong batch's, or raw logits
        assert r["loss_D"] >= -math.log(r["D_x"]) - math.log(1 - r["D_G_z"]) - 1e-4, r
    assert events.count("log") == 6 and events.count("epoch") == 2 and events[-1] == "end"
    assert "checkpoint" in events


def test_same_seed_same_numbers_other_seed_other_numbers(tiny_config, tiny_data, tmp_path):
    a = train(tiny_config, data=tiny_data)
    b = train(replace(tiny_config, out=str(tmp_path / "b")), data=tiny_data)
    c = train(replace(tiny_config, out=str(tmp_path / "c"), seed=1), data=tiny_data)
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert all(torch.equal(p, q) for p, q in zip(a.G.parameters(), b.G.parameters()))
    assert strip(a.history) != strip(c.history)


def test_refuses_to_overwrite_and_resumes_only_a_matching_run(tiny_config, tiny_data):
    train(tiny_config, data=tiny_data)
    with pytest.raises(DCGANError, match="already exists: pass --resume"):
        train(tiny_config, data=tiny_data)
    with pytest.raises(CheckpointError, match=r"width 8 \(run asks for 16\)"):
        train(replace(tiny_config, width=16), resume=True, data=tiny_data)
    with pytest.raises(CheckpointError, match="batch_size=16"):
        train(replace(tiny_config, batch_size=32), resume=True, data=tiny_data)
    more = train(replace(tiny_config, epochs=3), resume=True, data=tiny_data)
    assert more.step == 18


def test_in_process_resume_matches_an_uninterrupted_run(tiny_config, tiny_data, tmp_path):
    full = train(tiny_config, data=tiny_data)
    # stop after 1 epoch (6 steps; last checkpoint mid-way at step 4 then at the epoch end), then go on
    short = replace(tiny_config, out=str(tmp_path / "short"), epochs=1)
    train(short, data=tiny_data)
    resumed = train(replace(short, epochs=2), resume=True, data=tiny_data)
    assert all(torch.equal(p, q) for p, q in zip(full.G.state_dict().values(), resumed.G.state_dict().values()))
    assert all(torch.equal(p, q) for p, q in zip(full.D.state_dict().values(), resumed.D.state_dict().values()))


def test_training_goes_on_while_a_checkpoint_is_written_and_returns_when_it_is_on_disk(tiny_config, tiny_data, monkeypatch):
    go, written, seen = threading.Event(), [], {}
    real = checkpoint.write_run

    def slow_disk(out, ckpt):  # every write waits for `go` (at most 5 s), as on a slow disk
        go.wait(5)
        real(out, ckpt)
        written.append(ckpt["step"])

    def watch(event, state):
        if event == "log" and state.step == 5:  # one step after the checkpoint of step 4 was handed over
            seen["on disk at step 5"] = list(written)
            go.set()

    monkeypatch.setattr(checkpoint, "write_run", slow_disk)
    state = train(replace(tiny_config, log_every=1), data=tiny_data, callbacks=[watch])
    assert seen == {"on disk at step 5": []}  # the step did not wait for the disk
    assert written == [4, 6, 8, 12] and checkpoint.load(tiny_config.out)["step"] == state.step == 12


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tiny_config, tiny_data):
    def poison(event, state):
        if event == "checkpoint" and state.step == 8:
            with torch.no_grad():
                next(state.D.parameters()).fill_(float("nan"))  # as if the step had diverged

    with pytest.raises(TrainingDiverged, match=r"NaN at step 10: the last good checkpoint \(step 8\) is kept in .*; lower --lr$"):
        train(tiny_config, data=tiny_data, callbacks=[poison])
    ckpt = checkpoint.load(tiny_config.out)
    assert ckpt["step"] == 8
    assert all(torch.isfinite(v).all() for v in ckpt["D"].values() if v.is_floating_point())


def test_pick_device():
    assert pick_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert pick_device("auto").type in ("cpu", "mps")
        with pytest.raises(DCGANError, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(DCGANError, match="unknown device"):
        pick_device("tpu9")


def test_too_few_images_for_a_batch(tiny_config, tiny_data):
    with pytest.raises(DCGANError, match="fewer than one batch"):
        train(replace(tiny_config, batch_size=128), data=tiny_data)


TRAIN = [sys.executable, "-m", "dcgan_lib", "train", "--dataset", "faces", "--n-images", "640", "--image-size", "16",
         "--width", "32", "--nz", "16", "--batch-size", "32", "--epochs", "12", "--checkpoint-every", "7",
         "--log-every", "5", "--seed", "3", "--no-progress"]


@pytest.mark.slow
def test_sigkill_then_resume_ends_with_the_same_weights(tmp_path):
    """A run killed with SIGKILL part-way and resumed ends exactly where an uninterrupted run ends."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # same thread count in every run: same float sums
    subprocess.run(TRAIN + ["--out", str(tmp_path / "full")], check=True, env=env, capture_output=True)
    total = 12 * (640 // 32)
    proc = subprocess.Popen(TRAIN + ["--out", str(tmp_path / "killed")], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_path = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    killed_at = None
    while time.time() < deadline and proc.poll() is None:
        if ckpt_path.exists():
            step = checkpoint.load(ckpt_path)["step"]  # safe to read while training: writes are atomic
            if step >= 21:
                proc.send_signal(signal.SIGKILL)
                killed_at = step
                break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    interrupted = checkpoint.load(ckpt_path)
    assert killed_at is not None and killed_at <= interrupted["step"] < total  # part-way, not at the end
    subprocess.run(TRAIN + ["--out", str(tmp_path / "killed"), "--resume"], check=True, env=env, capture_output=True)
    a, b = checkpoint.load(tmp_path / "full"), checkpoint.load(ckpt_path)
    assert a["step"] == b["step"] == total
    for net in ("G", "D"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after resume"
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])
    assert all(math.isfinite(r["loss_D"]) for r in b["history"])


def test_eval_every_records_the_evaluation_without_changing_the_weights(tmp_path):
    cfg = TrainConfig(image_size=16, n_images=256, width=8, batch_size=64, epochs=2, out=str(tmp_path / "plain"), progress=False)
    plain = train(cfg)
    evaluated = train(replace(cfg, out=str(tmp_path / "eval"), eval_every=1))
    evals = [r for r in evaluated.history if "fd_gap_closed" in r]
    assert [r["epoch"] for r in evals] == [1.0, 2.0]
    assert all(r["fd"] > r["fd_floor"] for r in evals)
    # the last record is the evaluation of the run's final G, as evaluate_generator gives it
    again = evaluate_generator(evaluated.G, "faces", n=2000, seed=cfg.seed, n_rates=N_RATES,
                               train_images=load_data("faces", 16, 256, seed=cfg.seed).images).summary()
    assert evals[-1]["eyeglasses_gen"] == again["eyeglasses_gen"] and evals[-1]["fd"] == pytest.approx(again["fd"], rel=1e-9)
    assert all(torch.equal(p, q) for p, q in zip(plain.G.state_dict().values(), evaluated.G.state_dict().values()))
    saved = json.loads((Path(cfg.out).parent / "eval" / "history.json").read_text())
    assert sum("fd_gap_closed" in r for r in saved) == 2


def test_lr_D_sets_only_the_discriminators_learning_rate(tiny_config, tiny_data):
    from dcgan_lib.train import build_models

    G0, D0 = build_models(tiny_config, tiny_data.channels)
    state = train(replace(tiny_config, lr_D=0.0), data=tiny_data)
    assert all(torch.equal(a, b) for a, b in zip(D0.parameters(), state.D.parameters())), "lr_D=0 must freeze D"
    assert not all(torch.equal(a, b) for a, b in zip(G0.parameters(), state.G.parameters())), "G still learns at lr"


def test_init_from_starts_a_new_run_from_trained_weights(tiny_config, tiny_data, tmp_path):
    first = train(tiny_config, data=tiny_data)
    cfg = replace(tiny_config, out=str(tmp_path / "tuned"), init_from=str(Path(tiny_config.out) / "checkpoint.pt"), lr=0.0)
    tuned = train(cfg, data=tiny_data)  # lr 0 for G and D: the weights must stay the ones it started from
    assert all(torch.equal(a, b) for a, b in zip(first.G.parameters(), tuned.G.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(first.D.parameters(), tuned.D.parameters()))
    assert tuned.history[0]["step"] <= tiny_config.log_every  # a new run: its own step counter and history
    with pytest.raises(CheckpointError, match="width"):
        train(replace(cfg, out=str(tmp_path / "wider"), width=16), data=tiny_data)


def _slope_at(D: torch.nn.Module, images: torch.Tensor) -> float:
    """Mean |grad_x D(x)|^2 over images (uint8): what R1 penalises."""
    x = (images.float() / 127.5 - 1).requires_grad_(True)
    D.train()  # batch statistics, as in the training step the penalty acts on
    (grad,) = torch.autograd.grad(D(x).sum(), x)
    return float(grad.pow(2).flatten(1).sum(1).mean())


def test_r1_flattens_D_at_the_real_images(tiny_config, tiny_data, tmp_path):
    plain = train(tiny_config, data=tiny_data)
    r1 = train(replace(tiny_config, out=str(tmp_path / "r1"), r1=10.0), data=tiny_data)
    assert all(math.isfinite(r["loss_D"]) for r in r1.history)
    assert _slope_at(r1.D, tiny_data.images) < 0.5 * _slope_at(plain.D, tiny_data.images)
    with pytest.raises(DCGANError, match="r1"):
        train(replace(tiny_config, out=str(tmp_path / "neg"), r1=-1.0), data=tiny_data)


def test_feature_mismatch_is_zero_for_the_same_batch_and_trains_only_G(tiny_data):
    from dcgan_lib.models import Discriminator

    D = Discriminator(16, 3, width=8)
    x = tiny_data.images[:16].float() / 127.5 - 1
    assert feature_mismatch(D, x, x).item() == pytest.approx(0.0, abs=1e-10)
    real, fake = x.clone().requires_grad_(True), torch.randn_like(x).requires_grad_(True)
    feature_mismatch(D, real, fake).backward()
    assert real.grad is None or real.grad.abs().max() == 0  # the real means are a fixed target
    assert fake.grad.abs().max() > 0


def test_feature_matching_pulls_the_fakes_towards_the_real_feature_means(tiny_config, tiny_data, tmp_path):
    frozen = replace(tiny_config, lr_D=0.0, epochs=4)  # the same untrained D for both runs: one yardstick
    plain = train(replace(frozen, out=str(tmp_path / "plain")), data=tiny_data)
    fm = train(replace(frozen, out=str(tmp_path / "fm"), feature_matching=100.0), data=tiny_data)
    real = tiny_data.images.float() / 127.5 - 1
    z = torch.randn(len(real), tiny_config.nz, 1, 1, generator=torch.Generator().manual_seed(0))

    def mismatch(state) -> float:
        with torch.no_grad():
            return feature_mismatch(state.D, real, state.G(z)).item()

    assert mismatch(fm) < 0.5 * mismatch(plain)
    with pytest.raises(DCGANError, match="feature-matching"):
        train(replace(tiny_config, out=str(tmp_path / "neg"), feature_matching=-1.0), data=tiny_data)


def test_resume_keeps_the_runs_optimiser_and_losses_and_says_when_there_is_nothing_to_do(tiny_config, tiny_data):
    train(tiny_config, data=tiny_data)
    for change in ({"lr": 1e-3}, {"lr_D": 1e-4}, {"beta1": 0.9}, {"r1": 1.0}, {"feature_matching": 0.1}):
        with pytest.raises(CheckpointError, match=f"{next(iter(change))}=.*--init-from"):
            train(replace(tiny_config, epochs=3, **change), resume=True, data=tiny_data)
    with pytest.raises(DCGANError, match="already trained 2 epochs .asked for 2.: nothing to do"):
        train(tiny_config, resume=True, data=tiny_data)


def test_divergence_before_any_checkpoint_does_not_promise_one(tiny_config, tiny_data):
    def poison(event, state):
        if event == "log" and state.step == 2:
            with torch.no_grad():
                next(state.D.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="NaN at step 4: no checkpoint was written yet; lower --lr$"):
        train(replace(tiny_config, checkpoint_every=0), data=tiny_data, callbacks=[poison])


def test_a_checkpoint_at_an_epoch_boundary_comes_after_the_epochs_grid(tiny_config, tiny_data):
    cfg = replace(tiny_config, checkpoint_every=6)  # 96 images / batch 16 = 6 steps per epoch

    def stop(event, state):
        if event == "checkpoint" and state.step == 6:
            raise KeyboardInterrupt  # as if killed right after the first checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(cfg, data=tiny_data, callbacks=[stop])
    train(cfg, resume=True, data=tiny_data)
    assert sorted(p.name for p in (Path(cfg.out) / "samples").glob("*.png")) == ["epoch_001.png", "epoch_002.png"]


def test_a_checkpoint_from_another_device_type_is_one_line(tiny_config, tiny_data):
    train(tiny_config, data=tiny_data)
    ck = checkpoint.load(tiny_config.out)
    ck["rng"]["noise"] = torch.zeros(16, dtype=torch.uint8)  # the size of a CUDA generator's state
    torch.save(ck, Path(tiny_config.out) / "checkpoint.pt")
    with pytest.raises(CheckpointError, match="another device type than cpu.*--init-from"):
        train(replace(tiny_config, epochs=3), resume=True, data=tiny_data)


@pytest.mark.parametrize("change, words", [
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"log_every": 0}, "log_every must be a positive integer"),
    ({"epochs": 0}, "epochs must be a positive integer"),
    ({"lr": -1.0}, "lr is a learning rate"),
    ({"lr": 1e300}, "lr is a learning rate and must be between 0 and 3.4e.38"),  # no float32 holds it
    ({"beta2": 1.0}, r"beta2 must be in \[0, 1\)"),
    ({"precision": "fp8"}, "unknown precision 'fp8'"),
])
def test_train_checks_its_config_before_any_work(tiny_config, tiny_data, change, words):
    with pytest.raises(DCGANError, match=words):
        train(replace(tiny_config, **change), data=tiny_data)
    assert not Path(tiny_config.out).exists()


# ------------------------------------------------------------------------------------------------- speed


def _tiny_nets(seed: int = 0):
    from dcgan_lib.train import build_models

    return build_models(TrainConfig(image_size=16, width=8, nz=8, seed=seed), 3)


def test_G_step_with_D_frozen_is_the_same_update_to_the_bit_and_skips_D_gradients():
    import copy

    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from dcgan_lib.train import g_step

    G, D = _tiny_nets()
    G2, D2 = copy.deepcopy(G), copy.deepcopy(D)
    opt, opt2 = (torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999)) for g in (G, G2))
    for i in range(3):
        z = torch.randn(16, 8, 1, 1, generator=torch.Generator().manual_seed(i))
        with FlopCounterMode(display=False) as frozen:
            g_step(G, D, opt, z)
        with FlopCounterMode(display=False) as trainable:  # the same step with D's weights trainable: as before
            logits = D2(G2(z))
            loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            opt2.zero_grad(set_to_none=True)
            loss.backward()
            opt2.step()
    assert all(torch.equal(a, b) for a, b in zip(G.state_dict().values(), G2.state_dict().values()))
    assert all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), D2.state_dict().values()))  # BN statistics too
    assert all(p.grad is None for p in D.parameters()), "G's step computed gradients for D"
    assert all(p.requires_grad for p in D.parameters()), "D must train again after G's step"
    assert frozen.get_total_flops() < 0.95 * trainable.get_total_flops()


def _step_and_nets(cfg: TrainConfig, foreach: bool | None = None):
    from dcgan_lib.train import TrainStep, make_optimisers

    G, D = _tiny_nets()
    if foreach is None:
        opt_G, opt_D = make_optimisers(cfg, G, D, torch.device("cpu"))
    else:
        opt_G, opt_D = (torch.optim.Adam(m.parameters(), lr=2e-4, betas=(0.5, 0.999), foreach=foreach) for m in (G, D))
    return TrainStep(G, D, opt_G, opt_D, torch.Generator().manual_seed(1), cfg, torch.device("cpu")), G, D


def test_the_default_adam_kernel_gives_the_for_loops_numbers_to_the_bit():
    cfg = TrainConfig(image_size=16, width=8, nz=8, batch_size=16)
    (default, *nets), (loop, *loop_nets) = _step_and_nets(cfg), _step_and_nets(cfg, foreach=False)
    assert default.opt_G.defaults["foreach"] is True
    for i in range(3):
        real = torch.rand(16, 3, 16, 16, generator=torch.Generator().manual_seed(i)) * 2 - 1
        assert torch.equal(default(real), loop(real))
    for a, b in zip(nets, loop_nets):
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def test_a_step_reads_nothing_back_from_the_device():
    """A step must queue work, never wait for it: any .item(), bool(tensor), .tolist() or float(tensor) goes through
    aten._local_scalar_dense. The only such reads allowed are Adam's step counters, which torch keeps on the CPU."""
    from torch.utils._python_dispatch import TorchDispatchMode

    step, _, _ = _step_and_nets(TrainConfig(image_size=16, width=8, nz=8, batch_size=16, r1=1.0, feature_matching=1.0))
    real = torch.rand(16, 3, 16, 16) * 2 - 1
    step(real)  # Adam creates its state at its first step
    counters = {id(s["step"]) for opt in (step.opt_G, step.opt_D) for s in opt.state.values()}

    class Reads(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.found: list[tuple[int, ...]] = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default and id(args[0]) not in counters:
                self.found.append(tuple(args[0].shape))
            return func(*args, **(kwargs or {}))

    with Reads() as reads:
        step(real)
    assert not reads.found, f"the step read {len(reads.found)} value(s) back to the host"


def test_compile_falls_back_to_the_same_eager_run_with_one_warning(tiny_config, tiny_data, tmp_path, monkeypatch):
    class Uncompilable(torch.nn.Module):  # what torch.compile gives where it cannot build (no C++ compiler, say)
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args, **kwargs):
            raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found\nmore detail")

    plain = train(tiny_config, data=tiny_data)
    monkeypatch.setattr(torch, "compile", lambda model, **kw: Uncompilable(model))
    with pytest.warns(UserWarning) as caught:
        compiled = train(replace(tiny_config, out=str(tmp_path / "compiled"), compile=True), data=tiny_data)
    messages = [str(w.message) for w in caught]
    assert messages == ["--compile: running eagerly, torch.compile failed: InvalidCxxCompiler: No working C++ compiler found"]
    for a, b in ((plain.G, compiled.G), (plain.D, compiled.D)):  # the failed first step was undone
        assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="torch.compile on a CPU needs a C++ compiler")
def test_compiled_and_channels_last_runs_match_the_eager_run(tiny_config, tiny_data, tmp_path):
    """Compiled kernels and the channels-last layout sum in other orders: the same run to float rounding."""
    plain = train(tiny_config, data=tiny_data)
    for change in ({"compile": True}, {"channels_last": True}):
        fast = train(replace(tiny_config, out=str(tmp_path / next(iter(change))), **change), data=tiny_data)
        for a, b in ((plain.G, fast.G), (plain.D, fast.D)):
            assert all(torch.allclose(p, q, atol=1e-5) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
        assert [r["loss_D"] for r in fast.history] == pytest.approx([r["loss_D"] for r in plain.history], abs=1e-4)


def test_the_speed_switches_are_train_flags():
    from dcgan_lib.cli import build_parser

    args = build_parser().parse_args(["train", "--compile", "--no-channels-last", "--fused-adam", "--cuda-graphs", "--sync-bn"])
    assert (args.compile, args.channels_last, args.fused_adam, args.cuda_graphs, args.sync_bn) == (True, False, True, True, True)
    default = build_parser().parse_args(["train"])
    assert (default.compile, default.channels_last, default.cuda_graphs) == (False, None, False)
    with pytest.raises(DCGANError, match="cuda-graphs.*fp16"):
        TrainConfig(cuda_graphs=True, precision="fp16").check()
