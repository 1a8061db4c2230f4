"""Checkpoints are written atomically and read safely, with errors that name the problem."""

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.errors import CheckpointError
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
