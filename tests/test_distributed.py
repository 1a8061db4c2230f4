"""torchrun: two CPU processes (Gloo, 127.0.0.1) train what one process trains with the same global batch, and a
two-process run killed with SIGKILL resumes to the same weights as one never interrupted.

What can match exactly: each step's images (every process takes its slice of the same global batch), its noise
(every process draws the global z and takes its slice), the gradients (DDP averages the per-process means,
which is the global mean) and so Adam's updates. Without BatchNorm (`--variant no-batchnorm`) the two runs are
then the same run up to float rounding: we allow 1e-6. With BatchNorm each process normalises by the statistics
of its own half-batch, a different function of the same images, so the runs drift apart slowly: after 64 steps
the loss histories agree within 0.01 (measured: 0.002) and every weight tensor's difference is under 30% of how
far training moved it (measured: at most 10%). `--sync-bn` would share the statistics; torch runs it on GPUs only.
"""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.config import TrainConfig
from dcgan_lib.distributed import World, world_from_env
from dcgan_lib.errors import DCGANError
from dcgan_lib.train import build_models

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; Gloo on 127.0.0.1")]

STEPS = 4 * (512 // 32)
TRAIN = ["train", "--dataset", "faces", "--n-images", "512", "--image-size", "16", "--width", "8", "--nz", "8",
         "--batch-size", "32", "--epochs", "4", "--checkpoint-every", "5", "--log-every", "4", "--seed", "3", "--no-progress"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per process: 2 processes on 2 cores, the same sums every run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(n: int, args: list[str], **popen) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(n),
           "--master-addr", "127.0.0.1", "--master-port", str(free_port()), "-m", "dcgan_lib", *args]
    return subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux's /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{entry}/stat").read()  # "pid (name) state ppid ..."; the name may hold spaces
        except (OSError, ValueError):
            continue
        if stat.rsplit(")", 1)[1].split()[1] == str(pid):
            found.append(int(entry))
    return found


def run(n: int, args: list[str]) -> dict:
    """Train with n processes (n = 1: plain `python -m dcgan_lib`) and return the checkpoint."""
    if n == 1:
        done = subprocess.run([sys.executable, "-m", "dcgan_lib", *args], env=ENV, capture_output=True, text=True)
        output = done.stdout + done.stderr
    else:
        proc = torchrun(n, args)
        output = proc.communicate(timeout=120)[0]
        done = proc
    assert done.returncode == 0, output[-2000:]
    return checkpoint.load(args[args.index("--out") + 1])


def losses(ckpt: dict, key: str) -> list[float]:
    return [r[key] for r in ckpt["history"] if key in r]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> dict:
    """The reference two-process run (DCGAN with BatchNorm)."""
    return run(2, TRAIN + ["--out", str(tmp_path_factory.mktemp("two") / "run")])


def test_without_batchnorm_two_processes_are_one_process_to_float_rounding(tmp_path):
    args = TRAIN + ["--variant", "no-batchnorm"]
    one, two = run(1, args + ["--out", str(tmp_path / "one")]), run(2, args + ["--out", str(tmp_path / "two")])
    assert one["step"] == two["step"] == STEPS and two["meta"]["processes"] == 2
    for net in ("G", "D"):
        for k in one[net]:
            assert torch.allclose(one[net][k], two[net][k], rtol=0, atol=1e-6), f"{net}.{k}"
    assert losses(two, "loss_D") == pytest.approx(losses(one, "loss_D"), abs=1e-6)
    assert sorted(p.name for p in (tmp_path / "two" / "samples").iterdir()) == [f"epoch_00{i}.png" for i in range(1, 5)]


def test_with_batchnorm_two_processes_stay_close_to_one_process(two_processes, tmp_path):
    one = run(1, TRAIN + ["--out", str(tmp_path / "one")])
    assert two_processes["step"] == one["step"] == STEPS
    for key in ("loss_D", "loss_G", "D_x", "D_G_z"):
        assert losses(two_processes, key) == pytest.approx(losses(one, key), abs=0.01), key
    G0, D0 = build_models(TrainConfig.from_dict(one["config"]), 3)
    for net, start in (("G", G0.state_dict()), ("D", D0.state_dict())):
        for k in start:
            if k.endswith("weight"):
                moved = (one[net][k] - start[k]).norm()
                assert (two_processes[net][k] - one[net][k]).norm() < 0.3 * moved, f"{net}.{k}"


def test_a_killed_two_process_run_resumes_to_the_same_weights(two_processes, tmp_path):
    args = TRAIN + ["--out", str(tmp_path / "killed")]
    proc = torchrun(2, args)
    ckpt_path = tmp_path / "killed" / "checkpoint.pt"
    killed_at, deadline = None, time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ckpt_path.exists() and checkpoint.load(ckpt_path)["step"] >= 10:
            for pid in children(proc.pid) + [proc.pid]:  # torchrun starts each worker in its own session
                os.kill(pid, signal.SIGKILL)
            killed_at = checkpoint.load(ckpt_path)["step"]
            break
        time.sleep(0.02)
    proc.wait()
    assert killed_at is not None and killed_at < STEPS, "the run finished before it could be killed"
    assert checkpoint.load(ckpt_path)["step"] < STEPS, "a process outlived the kill"
    resumed = torchrun(2, args + ["--resume"])
    output = resumed.communicate(timeout=120)[0]
    assert resumed.returncode == 0, output[-2000:]
    assert output.count("trained ") == 1, "process 0 alone reports"
    after = checkpoint.load(ckpt_path)
    assert after["step"] == two_processes["step"] == STEPS
    for net in ("G", "D"):
        for k in after[net]:
            assert torch.equal(after[net][k], two_processes[net][k]), f"{net}.{k} differs after the resume"
    assert torch.equal(after["rng"]["noise"], two_processes["rng"]["noise"])
    strip = lambda h: [{k: v for k, v in r.items() if k != "time_s"} for r in h]  # noqa: E731
    assert strip(after["history"]) == strip(two_processes["history"])


def test_the_world_comes_from_torchruns_environment():
    assert world_from_env({}) == World() and world_from_env({"WORLD_SIZE": "1"}).is_main
    assert world_from_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == World(3, 4, 1)
    with pytest.raises(DCGANError, match="RANK"):
        world_from_env({"WORLD_SIZE": "2"})
    with pytest.raises(DCGANError, match="outside"):
        world_from_env({"RANK": "2", "WORLD_SIZE": "2"})


def test_each_process_gets_its_slice_of_every_global_batch(tiny_data):
    whole = list(tiny_data.batches(32, epoch=1, seed=0, device="cpu", skip=1))
    halves = [list(tiny_data.batches(32, epoch=1, seed=0, device="cpu", skip=1, rank=r, world_size=2)) for r in (0, 1)]
    assert len(whole) == len(halves[0]) == len(halves[1]) == 96 // 32 - 1
    for batch, first, second in zip(whole, *halves):
        assert torch.equal(torch.cat([first, second]), batch)
    with pytest.raises(DCGANError, match="multiple of 3"):
        next(tiny_data.batches(32, epoch=0, seed=0, device="cpu", world_size=3))
