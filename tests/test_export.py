"""Shipping checkpoints: export without optimiser state, cards with the exact command, loading by name."""

import json
from dataclasses import asdict

import pytest
import torch

from dcgan_lib import checkpoint
from dcgan_lib.errors import CheckpointError
from dcgan_lib.export import export, train_command
from dcgan_lib.torch_files import atomic_save
from dcgan_lib.config import TrainConfig
from dcgan_lib.train import train


def test_train_command_lists_only_what_differs_from_the_defaults():
    assert train_command(asdict(TrainConfig())) == "dcgan train"
    cfg = asdict(TrainConfig(epochs=80, width=48, seed=3, eval_every=2, progress=False, download=True))
    assert train_command(cfg) == "dcgan train --width 48 --epochs 80 --seed 3 --download"


def test_export_writes_a_small_checkpoint_and_a_card(tmp_path):
    cfg = TrainConfig(image_size=16, n_images=256, width=8, batch_size=64, epochs=1, out=str(tmp_path / "run"), progress=False)
    state = train(cfg)
    pt, card_path = export(cfg.out, "tiny16", n_eval=200, out_dir=tmp_path / "ship", heldout_seed=1, note="Epoch picked by hand.")
    full = (tmp_path / "run" / "checkpoint.pt").stat().st_size
    assert pt.stat().st_size < full  # optimiser states left out
    ckpt = checkpoint.load(pt)
    assert "opt_G" not in ckpt and ckpt["step"] == state.step
    G = checkpoint.build_generator(ckpt)
    state.G.eval()
    z = torch.randn(2, cfg.nz, 1, 1)
    with torch.no_grad():
        assert torch.equal(G(z), state.G(z))
    card = json.loads(card_path.read_text())
    assert card["command"] == "dcgan train --image-size 16 --n-images 256 --width 8 --batch-size 64 --epochs 1 --out " + cfg.out
    assert card["seed"] == 0 and card["steps"] == state.step
    assert card["train_wall_time_s"] == round(checkpoint.load(cfg.out)["elapsed_s"], 1)
    assert 0 <= card["evaluation"]["fd_gap_closed"] <= 1.5 and any("floor" in line for line in card["evaluation_table"])
    assert card["versions"]["torch"]
    assert card["evaluation_heldout"]["seed"] == 1 and card["evaluation_heldout"]["fd"] != card["evaluation"]["fd"]
    assert card["note"].startswith("Epoch picked by hand.")


def test_an_exported_checkpoint_can_be_trained_further(tmp_path):
    cfg = TrainConfig(image_size=16, n_images=256, width=8, batch_size=64, epochs=1, out=str(tmp_path / "run"), progress=False)
    train(cfg)
    atomic_save(checkpoint.without_optimisers(checkpoint.load(cfg.out)), tmp_path / "small.pt")
    more = train(TrainConfig(**{**asdict(cfg), "epochs": 2, "out": str(tmp_path / "more")}), resume=tmp_path / "small.pt")
    assert more.step == 8


def test_missing_checkpoint_error_lists_the_shipped_names(tmp_path):
    with pytest.raises(CheckpointError, match="shipped name"):
        checkpoint.load(tmp_path / "nothing.pt")


def test_train_command_parses_back_to_the_same_config():
    import shlex
    from dataclasses import asdict

    from dcgan_lib.cli import build_parser
    from dcgan_lib.export import train_command
    from dcgan_lib.config import TrainConfig

    cfg = TrainConfig(dataset="digits", image_size=64, epochs=7, batch_size=64, width=48, nz=64, lr=1e-4, lr_D=3e-4,
                      beta1=0.6, beta2=0.99, seed=3, out="runs/my run", r1=0.1, feature_matching=0.2, variant="relu-d")
    args = build_parser().parse_args(shlex.split(train_command(asdict(cfg)))[1:])
    for k in ("dataset", "image_size", "epochs", "batch_size", "width", "nz", "lr", "lr_D", "beta1", "beta2", "seed",
              "out", "r1", "feature_matching", "variant"):
        assert getattr(args, k) == getattr(cfg, k), k
