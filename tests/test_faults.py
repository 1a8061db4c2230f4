"""Faults: a run that diverges, a full disk, Ctrl-C, SIGKILL, two runs on one folder, absurd sizes, hand-edited
checkpoints, data that moved. Each ends in one line that names the real cause, and nothing good is lost."""

import errno
import io
import os
import shutil
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from dcgan_lib import checkpoint, torch_files
from dcgan_lib.cli import main
from dcgan_lib.data import ImageData
from dcgan_lib.errors import CheckpointError, DCGANError, Interrupted, TrainingDiverged
from dcgan_lib.train import train

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
# a CLI run of a few seconds: 64 procedural faces, 2 steps an epoch
TINY = [sys.executable, "-m", "dcgan_lib", "train", "--n-images", "64", "--batch-size", "32", "--width", "8", "--nz", "8",
        "--image-size", "16", "--no-progress", "--log-every", "1"]


def finite_on_disk(path) -> bool:
    """Read the file directly (not through checkpoint.load, which refuses NaN itself)."""
    ck = torch.load(path, weights_only=True)
    tensors = [*ck["G"].values(), *ck["D"].values(), *(v for s in ck["opt_G"]["state"].values() for v in s.values()),
               *(v for s in ck["opt_D"]["state"].values() for v in s.values())]
    return all(torch.isfinite(t).all() for t in tensors if t.is_floating_point())


def one_error_line(err: str, command: str) -> bool:
    return err.count("\n") == 1 and err.startswith(f"dcgan {command}: ") and "Traceback" not in err


# --------------------------------------------------------------------------- 1. a run never keeps NaN weights


@pytest.mark.parametrize("poison, words", [
    # neither changes the losses: D normalises with batch statistics while training, and Adam's step is 0 over inf
    (lambda state, opt_G: state.D.main[3].running_var.fill_(float("inf")), "D's BatchNorm statistics"),
    (lambda state, opt_G: next(iter(opt_G.state.values()))["exp_avg_sq"].fill_(float("inf")), "G's Adam state"),
])
def test_a_model_that_became_non_finite_is_never_checkpointed(tiny_config, tiny_data, poison, words, monkeypatch):
    made = []

    class Recorded(torch.optim.Adam):  # the poison needs the run's optimiser
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    def hurt(event, state):
        if event == "checkpoint" and state.step == 4:
            with torch.no_grad():
                poison(state, made[0])

    monkeypatch.setattr(torch.optim, "Adam", Recorded)
    with pytest.raises(TrainingDiverged, match=rf"^{words} became NaN/inf by step 6 \(the losses were still finite\): "
                                               r"the last good checkpoint \(step 4\) is kept in .*; lower --lr$"):
        train(tiny_config, data=tiny_data, callbacks=[hurt])
    path = Path(tiny_config.out) / "checkpoint.pt"
    assert torch.load(path, weights_only=True)["step"] == 4 and finite_on_disk(path)
    assert not (Path(tiny_config.out) / "samples" / "epoch_001.png").exists()  # no picture of a broken model either


@pytest.mark.parametrize("lr", [1e8, 1e16])
def test_a_run_at_an_absurd_learning_rate_stops_and_keeps_only_finite_checkpoints(tiny_config, tiny_data, lr):
    cfg = replace(tiny_config, lr=lr, checkpoint_every=1, log_every=1)
    with pytest.raises(TrainingDiverged, match="lower --lr$"):
        train(cfg, data=tiny_data)
    path = Path(cfg.out) / "checkpoint.pt"
    assert not path.exists() or finite_on_disk(path)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished tiny run (2 epochs, 12 steps), trained once for the tests that copy and edit its checkpoint."""
    from dcgan_lib.config import TrainConfig

    g = torch.Generator().manual_seed(0)
    images = torch.nn.functional.interpolate(torch.rand(96, 3, 4, 4, generator=g), size=16, mode="bilinear")
    data = ImageData("tiny", 16, 3, images=(images * 255).round().to(torch.uint8))
    cfg = TrainConfig(dataset="tiny", image_size=16, width=8, nz=8, batch_size=16, epochs=2, checkpoint_every=4, log_every=2,
                      progress=False, out=str(tmp_path_factory.mktemp("trained") / "run"))
    train(cfg, data=data)
    return cfg, data


@pytest.fixture
def nan_checkpoint(trained_run, tmp_path):
    ck = torch.load(Path(trained_run[0].out) / "checkpoint.pt", weights_only=True)
    ck["G"]["main.0.weight"][0, 0, 0, 0] = float("nan")
    ck["config"]["dataset"] = "faces"  # so that evaluate gets as far as the weights
    path = tmp_path / "diverged.pt"
    torch.save(ck, path)
    return path


@pytest.mark.parametrize("command", [
    ["sample", "--out", "x.png"], ["interpolate", "--out", "x.png"], ["evaluate", "--n", "50", "--device", "cpu"],
    ["export", "--name", "x", "--out-dir", "ship"],
])
def test_commands_refuse_a_checkpoint_with_nan_weights(nan_checkpoint, command, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(command[:1] + ["--checkpoint", str(nan_checkpoint)] + command[1:]) == 2
    err = capsys.readouterr().err
    assert one_error_line(err, command[0]) and "has NaN/inf values (G's weights): it diverged; use an earlier checkpoint" in err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "ship").exists()


# ------------------------------------------------------------------------ 2. a full disk, Ctrl-C, SIGKILL mid-write


class _Disk(io.RawIOBase):
    """A file that takes `room` bytes, then fails the way a full disk (or Ctrl-C) does, inside torch's zip writer."""

    def __init__(self, f, room: int, failure: BaseException):
        self.f, self.room, self.failure = f, room, failure

    def writable(self):
        return True

    def write(self, b):
        if self.room < len(b):
            raise self.failure
        self.room -= len(b)
        return self.f.write(b)

    def flush(self):
        self.f.flush()

    def fileno(self):
        return self.f.fileno()

    def close(self):
        self.f.close()
        super().close()


@pytest.mark.parametrize("failure, raised, words", [
    (OSError(errno.ENOSPC, "No space left on device"), DCGANError, r"cannot write .*ckpt.pt: no space left on device \(0.4 MB needed"),
    (OSError(errno.EIO, "Input/output error"), OSError, r"Input/output error.*ckpt.pt"),
    (KeyboardInterrupt(), KeyboardInterrupt, None),
])
def test_a_write_that_fails_inside_torchs_zip_writer_gives_the_real_cause(tmp_path, monkeypatch, failure, raised, words):
    path = tmp_path / "ckpt.pt"
    torch_files.atomic_save({"x": torch.ones(3)}, path)
    real_fdopen = os.fdopen
    monkeypatch.setattr(torch_files.os, "fdopen", lambda fd, mode: _Disk(real_fdopen(fd, mode), 10_000, failure))
    with pytest.raises(raised, match=words) as caught:
        torch_files.atomic_save({"x": torch.zeros(100_000)}, path)
    assert not isinstance(caught.value, RuntimeError)  # not torch's "unexpected pos"
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))  # the previous file, intact
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]


def test_too_little_free_space_is_refused_before_writing(tmp_path, monkeypatch):
    monkeypatch.setattr(torch_files.shutil, "disk_usage", lambda p: SimpleNamespace(free=10**5))
    with pytest.raises(DCGANError, match=r"no space left on device \(3.8 MB needed, 0.1 MB free\): free some space"):
        torch_files.atomic_save({"x": torch.zeros(1_000_000)}, tmp_path / "big.pt")
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_save_keeps_the_previous_checkpoint(tiny_config, tiny_data, monkeypatch):
    real_save, saves = torch.save, []

    def save(obj, f):
        saves.append(obj["step"])  # the checkpoint of step 4 goes through; step 6's is interrupted mid-write
        real_save(obj, _Disk(f, 1000, KeyboardInterrupt()) if len(saves) == 2 else f)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(Interrupted, match=r"^the last checkpoint \(step 4\) is kept in .*checkpoint.pt; resume with --resume$"):
        train(tiny_config, data=tiny_data)
    monkeypatch.undo()
    assert saves == [4, 6] and sorted(p.name for p in Path(tiny_config.out).iterdir()) == ["checkpoint.pt", "history.json", "samples"]
    assert checkpoint.load(tiny_config.out)["step"] == 4


def test_a_full_disk_during_a_background_write_stops_the_run_in_one_line_and_keeps_the_previous_checkpoint(
        tiny_config, tiny_data, monkeypatch):
    real_save, saves = torch.save, []

    def save(obj, f):
        saves.append(obj["step"])  # step 4's checkpoint goes through; step 6's finds the disk full mid-write
        real_save(obj, _Disk(f, 1000, OSError(errno.ENOSPC, "No space left on device")) if len(saves) == 2 else f)

    monkeypatch.setattr(torch, "save", save)
    with pytest.raises(DCGANError, match=r"^cannot write .*checkpoint.pt: no space left on device"):
        train(tiny_config, data=tiny_data)  # the write runs in CheckpointWriter's thread: its error reaches train()
    monkeypatch.undo()
    assert saves[:2] == [4, 6] and checkpoint.load(tiny_config.out)["step"] == 4
    assert sorted(p.name for p in Path(tiny_config.out).iterdir()) == ["checkpoint.pt", "history.json", "samples"]


def test_ctrl_c_before_the_first_checkpoint_promises_none(tiny_config, tiny_data):
    def stop(event, state):
        if event == "log":
            raise KeyboardInterrupt

    with pytest.raises(Interrupted, match="^no checkpoint was written yet$"):
        train(tiny_config, data=tiny_data, callbacks=[stop])


def test_ctrl_c_in_the_cli_says_which_checkpoint_is_kept(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(TINY + ["--epochs", "100000", "--checkpoint-every", "1", "--out", str(out)], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / "checkpoint.pt").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    step = checkpoint.load(out)["step"]
    assert proc.returncode == 130 and err == f"dcgan train: interrupted: the last checkpoint (step {step}) is kept in {out}/checkpoint.pt; resume with --resume\n"


SLOW_SAVE = """
import sys, time, torch
from dcgan_lib.cli import main
real = torch.save
def slow(obj, f, *a, **k):  # half a checkpoint, then a long wait: the test kills the process mid-write
    f.write(b"PK" * 50_000)
    f.flush()
    time.sleep(120)
torch.save = slow
sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_mid_write_leaves_a_temporary_file_that_the_next_run_removes(tmp_path):
    out = tmp_path / "run"
    args = TINY[3:] + ["--epochs", "1", "--out", str(out)]
    proc = subprocess.Popen([sys.executable, "-c", SLOW_SAVE, *args], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not list(out.glob(".checkpoint.pt.*.tmp")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    left = list(out.glob(".checkpoint.pt.*.tmp"))
    assert proc.returncode == -signal.SIGKILL and len(left) == 1 and left[0].stat().st_size >= 100_000
    assert (out / ".lock").exists()  # the killed run's lock file is left too, but not its lock
    assert main(args) == 0  # the same command again: not refused, and it cleans up
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "history.json", "samples"]


def test_a_full_disk_is_one_line_from_the_cli(tmp_path):
    """A real 1 MB tmpfs, mounted in a user namespace (skipped where that is not allowed): a checkpoint that
    does not fit, then a picture written to a disk filled to the last byte."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare")
    disk = tmp_path / "disk"
    disk.mkdir()
    sample = [sys.executable, "-m", "dcgan_lib", "sample", "--checkpoint", "faces32", "--out", f"{disk}/s.png"]
    script = (f"mount -t tmpfs -o size=1m tmpfs {disk} || exit 99; "
              f"{shlex.join(TINY + ['--width', '64', '--epochs', '1', '--out', f'{disk}/run'])}; echo rc=$?; "
              f"head -c 2000000 /dev/zero > {disk}/fill 2>/dev/null; "
              f"{shlex.join(sample)}; echo rc=$?; ls -A {disk} {disk}/run")
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], env=ENV, capture_output=True, text=True, timeout=120)
    if r.returncode == 99 or r.stderr.startswith("unshare:"):
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()[:100]}")
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"dcgan train: error: cannot write {disk}/run/checkpoint.pt: no space left on device (")
    assert lines[1].startswith(f"dcgan sample: error: cannot write {disk}/s.png: no space left on device")
    # no temporary files, no lock, no half PNG
    assert r.stdout.split() == ["rc=2", "rc=2", f"{disk}:", "fill", "run", f"{disk}/run:", "samples"], r.stdout


# ------------------------------------------------------------------------------------ 3. one run per folder


def test_a_second_run_on_a_folder_in_use_is_refused_and_a_killed_run_does_not_block(tmp_path, capsys):
    out = tmp_path / "run"
    first = subprocess.Popen(TINY + ["--epochs", "100000", "--out", str(out)], env=ENV,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not (out / "samples").exists() and time.time() < deadline and first.poll() is None:
            time.sleep(0.05)
        for resume in ([], ["--resume"]):
            assert main(TINY[3:] + ["--epochs", "1", "--out", str(out)] + resume) == 2
            err = capsys.readouterr().err
            assert err == f"dcgan train: error: {out} is in use by another run (pid {first.pid}): wait for it, or choose another --out\n"
    finally:
        first.kill()
        first.wait(timeout=30)
    with checkpoint.locked_run_folder(out):  # the OS dropped the killed run's lock
        assert (out / ".lock").read_text().strip() == str(os.getpid())
    assert not (out / ".lock").exists()


def test_a_failed_run_leaves_no_folder_behind(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--data-root", str(tmp_path / "nowhere"), "--no-progress",
                 "--out", str(tmp_path / "runs" / "mnist")]) == 2
    assert "nowhere" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    assert main(TINY[3:] + ["--lr", "1e16", "--checkpoint-every", "1", "--out", str(tmp_path / "diverged")]) == 2
    assert "no checkpoint was written yet" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def as_user(command: list[str]) -> list[str]:
    """`command` without root's power to write anywhere (setpriv drops it), so that permissions apply."""
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv")
    return ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search", *command]


def test_an_output_folder_that_cannot_be_written_is_refused_before_the_work(tmp_path):
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    r = subprocess.run(as_user([sys.executable, "-m", "dcgan_lib", "train-classifier", "--kind", "digits", "--out", str(locked / "d.pt")]),
                       env=ENV, capture_output=True, text=True, timeout=60)  # training first would take minutes
    assert r.returncode == 2 and r.stderr == f"dcgan train-classifier: error: permission denied: {locked}/d.pt: choose a path you can write to\n"


# ------------------------------------------------------------------------------- 4. sizes and hand-edited files


@pytest.mark.parametrize("args, words", [
    (["train", "--width", "1000000"], "use a smaller --width, --nz, --batch-size or --n-images"),
    (["train", "--nz", "100000000"], "G and D with Adam"),
    (["train", "--batch-size", "100000000", "--n-images", "100000000"], "a batch of 100000000"),
    (["train", "--n-images", "10000000000"], "10,000,000,000 faces"),
    (["interpolate", "--checkpoint", "faces32", "--steps", "100000000"], "use a smaller --steps, --rows or --scale"),
    (["sample", "--checkpoint", "faces32", "--n", "100000000"], "use a smaller --n or --scale"),
    (["sample", "--checkpoint", "faces32", "--scale", "100000"], "a grid of 64 images at scale 100000"),
    (["evaluate", "--checkpoint", "faces32", "--n", "1000000000"], "use a smaller --n or --n-rates"),
])
def test_absurd_sizes_are_refused_in_one_line_before_any_work(args, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    assert main(args + (["--no-progress"] if args[0] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert one_error_line(err, args[0]) and "needs about" in err and words in err
    assert time.perf_counter() - t0 < 10 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("edit, words", [
    (lambda ck: ck.pop("rng"), r"\(rng\)"),
    (lambda ck: ck.pop("step"), r"\(step\)"),
    (lambda ck: ck.pop("epoch"), r"\(epoch\)"),
    (lambda ck: ck.pop("history"), r"\(history\)"),
    (lambda ck: ck.pop("elapsed_s"), r"\(elapsed_s\)"),
    (lambda ck: ck.pop("opt_D"), r"\(opt_D\)"),
    (lambda ck: ck.pop("D"), r"\(D\)"),
    (lambda ck: ck["config"].pop("seed"), r"\(config.seed\)"),
    (lambda ck: ck["rng"].update(noise=torch.zeros(3)), r"\(rng.noise\)"),
    (lambda ck: ck["config"].update(batch_size="16"), r"config.batch_size of the wrong type"),
    (lambda ck: ck["arch"].update(width=8.0), r"arch.width of the wrong type"),
    (lambda ck: ck["opt_G"]["state"][0].update(exp_avg=torch.zeros(2)), r"opt_G holds exp_avg of shape \(2,\)"),
    (lambda ck: ck["opt_G"]["param_groups"][0].update(params=[0]), r"opt_G does not fit the network"),
])
def test_a_hand_edited_checkpoint_is_refused_in_one_line(trained_run, tmp_path, edit, words):
    cfg, data = trained_run
    ck = torch.load(Path(cfg.out) / "checkpoint.pt", weights_only=True)
    edit(ck)
    out = tmp_path / "edited"
    out.mkdir()
    torch.save(ck, out / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=words):
        train(replace(cfg, epochs=3, out=str(out)), resume=True, data=data)


def test_resume_reads_a_moved_dataset_with_a_warning_but_refuses_other_data(trained_run, tmp_path):
    cfg, data = trained_run
    out = Path(shutil.copytree(Path(cfg.out), tmp_path / "run"))
    moved = replace(cfg, out=str(out), epochs=3, data_root="/mnt/elsewhere")
    with pytest.warns(UserWarning, match="trained on tiny from --data-root data; this run reads /mnt/elsewhere, taken to hold the same images"):
        train(moved, resume=True, data=data)
    assert checkpoint.load(out)["config"]["data_root"] == "/mnt/elsewhere"  # the next resume reads from there silently
    fewer = ImageData("tiny", 16, 3, images=data.images[:80])
    with pytest.raises(CheckpointError, match="trained on 96 images of tiny; this run reads 80 from /mnt/elsewhere: resume with the same data"):
        train(replace(moved, epochs=4), resume=True, data=fewer)


# ----------------------------------------------------------------------------------- 5. the CLI's other faults


def test_an_output_path_that_is_a_file_or_not_writable_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert main(TINY[3:] + ["--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err == f"dcgan train: error: --out {tmp_path}/file is a file, not a folder: choose another --out\n"
    locked = tmp_path / "ro"
    locked.mkdir(mode=0o555)
    r = subprocess.run(as_user([sys.executable, "-m", "dcgan_lib", "sample", "--checkpoint", "faces32", "--out", str(locked / "s.png")]),
                       env=ENV, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("dcgan sample: error: permission denied: ") and r.stderr.count("\n") == 1


def test_ctrl_c_while_a_picture_is_written_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    from PIL import Image

    out = tmp_path / "s.png"
    assert main(["sample", "--checkpoint", "faces32", "--n", "4", "--out", str(out)]) == 0
    before = out.read_bytes()

    def interrupted(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    assert main(["sample", "--checkpoint", "faces32", "--n", "9", "--out", str(out)]) == 130
    assert capsys.readouterr().err == "dcgan sample: interrupted\n"
    assert out.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_a_corrupt_classifier_is_one_line(tmp_path, capsys, monkeypatch):
    from dcgan_lib import classifiers

    (tmp_path / "faces.pt").write_bytes(b"PK\x03\x04 not a zip")
    monkeypatch.setattr(classifiers, "classifier_dir", lambda: tmp_path)
    classifiers.clear_cache()
    try:
        assert main(["evaluate", "--checkpoint", "faces32", "--n", "50", "--device", "cpu"]) == 2
    finally:
        classifiers.clear_cache()
    err = capsys.readouterr().err
    assert one_error_line(err, "evaluate") and "faces.pt is corrupt" in err and "dcgan train-classifier" in err


def test_an_unforeseen_failure_is_one_line_with_the_way_to_see_more(monkeypatch, capsys):
    from dcgan_lib import cli

    def broken(args):
        raise RuntimeError("something nobody foresaw\nwith a long tail")

    monkeypatch.setattr(cli, "_info", broken)
    assert main(["info"]) == 1
    assert capsys.readouterr().err == ("dcgan info: internal error: RuntimeError: something nobody foresaw (a bug? rerun with "
                                       "DCGAN_TRACEBACK=1 to see where, and report it)\n")
    monkeypatch.setenv("DCGAN_TRACEBACK", "1")
    with pytest.raises(RuntimeError, match="nobody foresaw"):
        main(["info"])
