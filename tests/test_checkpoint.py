"""Checkpoints are written atomically and read safely, with errors that name the problem."""

import threading

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.cli import main
from dcgan_lib.errors import CheckpointError
from dcgan_lib.models import probabilities
from test_models import TutorialD, TutorialG
from dcgan_lib.train import train


def test_round_trip_rebuilds_the_same_models(tiny_config, tiny_data):
    state = train(tiny_config, data=tiny_data)
    ckpt = checkpoint.load(tiny_config.out)  # a run folder works as well as the file
    assert ckpt["step"] == state.step == 12 and ckpt["arch"] == {"image_size": 16, "channels": 3, "nz": 8, "width": 8, "variant": "dcgan"}
    G, D = checkpoint.build_generator(ckpt), checkpoint.build_discriminator(ckpt)
    state.G.eval(), state.D.eval()
    z = torch.randn(3, 8, 1, 1)
    with torch.no_grad():
        assert torch.equal(G(z), state.G(z))
        assert torch.equal(D(G(z)), state.D(G(z)))
    assert not G.training


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    checkpoint.atomic_save({"x": torch.ones(3)}, path)

    def broken_save(obj, f):
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.atomic_save({"x": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)["x"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pt"]  # no temporary file left behind


def test_load_errors_name_the_problem(tmp_path, tiny_config, tiny_data):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="corrupt"):
        checkpoint.load(tmp_path / "junk.pt")
    train(tiny_config, data=tiny_data)
    data = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        checkpoint.load(tmp_path / "truncated.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a dcgan_lib checkpoint"):
        checkpoint.load(tmp_path / "foreign.pt")
    torch.save({"format": checkpoint.FORMAT, "evil": torch.nn.ReLU()}, tmp_path / "pickled.pt")
    with pytest.raises(CheckpointError, match="weights_only"):
        checkpoint.load(tmp_path / "pickled.pt")


def test_check_arch_lists_every_mismatch():
    ckpt = {"arch": {"image_size": 64, "channels": 3, "nz": 100, "width": 64}}
    checkpoint.check_arch(ckpt, {"image_size": 64, "width": 64})
    with pytest.raises(CheckpointError, match=r"image_size 64 \(run asks for 32\), width 64 \(run asks for 32\)"):
        checkpoint.check_arch(ckpt, {"image_size": 32, "width": 32, "nz": 100})


# ---------------------------------------------------------------- the PyTorch tutorial's netG.pth / netD.pth


@pytest.mark.parametrize("data_parallel_prefix", [False, True])
def test_loads_the_pytorch_tutorial_state_dicts(tmp_path, data_parallel_prefix):
    torch.manual_seed(1)
    ref_g, ref_d = TutorialG(nz=100, ngf=32, nc=1), TutorialD(ndf=32, nc=1)
    for net in (ref_g, ref_d):  # non-trivial running statistics
        net.train()
    ref_d(ref_g(torch.randn(8, 100, 1, 1)))
    prefix = "module." if data_parallel_prefix else ""
    torch.save({prefix + k: v for k, v in ref_g.state_dict().items()}, tmp_path / "netG.pth")
    torch.save({prefix + k: v for k, v in ref_d.state_dict().items()}, tmp_path / "netD.pth")
    G, D = checkpoint.load_generator(tmp_path / "netG.pth"), checkpoint.load_discriminator(tmp_path / "netD.pth")
    assert (G.image_size, G.channels, G.nz, G.width) == (64, 1, 100, 32)
    assert (D.image_size, D.channels, D.width) == (64, 1, 32)
    for net in (ref_g, ref_d, G, D):
        net.eval()
    z = torch.randn(5, 100, 1, 1)
    with torch.no_grad():
        assert torch.allclose(G(z), ref_g(z), atol=1e-6)
        x = ref_g(z)
        assert torch.allclose(probabilities(D(x)), ref_d(x).flatten(), atol=1e-6)


def test_tutorial_loader_rejects_other_files(tmp_path):
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a dcgan_lib checkpoint, nor a DCGAN state dict"):
        checkpoint.load_generator(tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        checkpoint.load_discriminator(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="corrupt or not a safe PyTorch file"):
        checkpoint.load_generator(tmp_path / "junk.pth")


def test_every_command_that_takes_a_checkpoint_takes_netG_pth(tmp_path, capsys):
    torch.manual_seed(2)
    torch.save(TutorialG(nz=100, ngf=8, nc=3).state_dict(), tmp_path / "netG.pth")
    ckpt = checkpoint.load(tmp_path / "netG.pth")
    assert ckpt["arch"] == {"image_size": 64, "channels": 3, "nz": 100, "width": 8, "variant": "dcgan"} and "D" not in ckpt
    assert main(["sample", "--checkpoint", str(tmp_path / "netG.pth"), "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["interpolate", "--checkpoint", str(tmp_path / "netG.pth"), "--rows", "1", "--steps", "3",
                 "--out", str(tmp_path / "i.png")]) == 0
    assert (tmp_path / "s.png").is_file() and (tmp_path / "i.png").is_file()
    # evaluate needs to know the data it was trained on; export records it
    assert main(["evaluate", "--checkpoint", str(tmp_path / "netG.pth"), "--n", "50"]) == 2
    assert "does not say what it was trained on: pass --dataset" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(tmp_path / "netG.pth"), "--name", "tut", "--out-dir", str(tmp_path / "ship"),
                 "--dataset", "faces", "--n", "50"]) == 0
    card = (tmp_path / "ship" / "tut.json").read_text()
    assert "weights only" in card and "gap_closed" in card and checkpoint.load(tmp_path / "ship" / "tut.pt")["config"]["dataset"] == "faces"
    # a new run starts from its G (D from its own initialisation); resuming it has no run to continue
    out = tmp_path / "tuned"
    assert main(["train", "--image-size", "64", "--width", "8", "--n-images", "64", "--batch-size", "32", "--epochs", "1",
                 "--init-from", str(tmp_path / "netG.pth"), "--out", str(out), "--no-progress"]) == 0
    assert main(["train", "--image-size", "64", "--width", "8", "--n-images", "64", "--batch-size", "32", "--epochs", "2",
                 "--resume", "--out", str(tmp_path), "--no-progress"]) == 2  # tmp_path holds no checkpoint.pt
    capsys.readouterr()



def _held_write(monkeypatch) -> threading.Event:
    """Make every write_run wait until the returned event is set (at most 10 s): a slow disk."""
    go, real = threading.Event(), checkpoint.write_run
    monkeypatch.setattr(checkpoint, "write_run", lambda out, ckpt: (go.wait(10), real(out, ckpt))[1])
    return go


def test_a_background_write_saves_the_values_it_was_given_not_later_ones(tmp_path, monkeypatch):
    go = _held_write(monkeypatch)
    writer, x, history = checkpoint.CheckpointWriter(tmp_path), torch.ones(3), [{"step": 1}]
    writer.submit({"step": 1, "x": x, "history": history})
    x.add_(1)  # training goes on, in place, while the file is being written
    history.append({"step": 2})
    assert writer.written is None  # not on disk yet
    go.set()
    writer.wait()
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert torch.equal(saved["x"], torch.ones(3)) and saved["history"] == [{"step": 1}] and writer.written == 1


def test_a_failed_background_write_is_raised_once_by_wait_and_never_by_close(tmp_path, monkeypatch):
    def fail(out, ckpt):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "write_run", fail)
    writer = checkpoint.CheckpointWriter(tmp_path)
    writer.submit({"step": 1, "history": []})
    with pytest.raises(OSError, match="No space"):
        writer.wait()
    writer.wait()  # reported once
    writer.submit({"step": 2, "history": []})
    writer.close()  # a run that is already failing reports its own error, not this one
    assert writer.written is None
