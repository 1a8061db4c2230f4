"""`dcgan export`: ship a trained run as a small checkpoint (no optimiser states) in data/checkpoints/, with a
card that says how it was made and how good it is."""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from .checkpoint import TUTORIAL, check_run, load, shipped_dir, without_optimisers
from .config import N_RATES, TrainConfig
from .environment import cpu_name, versions
from .errors import DCGANError
from .evaluate import EVALUATED_DATASETS, evaluate_checkpoint
from .torch_files import atomic_save, check_new_file


def train_command(config: dict[str, Any]) -> str:
    """The `dcgan train` command line that reproduces a run's config (flags that differ from the defaults)."""
    defaults = asdict(TrainConfig())
    skip = {"progress", "device", "precision", "checkpoint_every", "log_every", "eval_every"}  # do not change the weights
    parts = ["dcgan train"]
    for f in fields(TrainConfig):
        value = config.get(f.name, defaults[f.name])
        if f.name in skip or value == defaults[f.name]:
            continue
        flag = "--" + f.name.replace("_", "-")
        parts.append(flag if value is True else f"{flag} {shlex.quote(str(value))}")
    return " ".join(parts)


def check_name(name: str) -> str:
    """A file stem for a shipped file: letters, digits, '.', '_' and '-', no folders."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise DCGANError(f"--name {name!r} must be a plain file name (letters, digits, '.', '_', '-'): choose the folder with --out-dir")
    return name


def export(run: str | Path, name: str, n_eval: int = 2000, out_dir: str | Path | None = None,
           heldout_seed: int | None = None, note: str | None = None, overwrite: bool = False,
           dataset: str | None = None) -> tuple[Path, Path]:
    """Export `run`'s checkpoint as `<out_dir>/<name>.pt` (default: data/checkpoints) with a `<name>.json` card
    holding the command, seed, training wall time, hardware, versions and the evaluation table.

    `heldout_seed` adds a second evaluation with other z's and other real images: the honest numbers when the
    checkpoint (an epoch of a run, say) was chosen by looking at the first evaluation. `note` says how it was chosen.
    An existing `<name>.pt` is replaced only with `overwrite=True` (the default folder holds the shipped files).
    A tutorial's netG.pth has no run behind it: its card says where it came from, and `dataset` (what it was
    trained on) is written into the exported checkpoint so that `dcgan evaluate` can measure it."""
    out_dir = Path(out_dir) if out_dir is not None else shipped_dir()
    check_new_file(out_dir / f"{check_name(name)}.pt", overwrite)
    ckpt = load(run)
    if ckpt.get("meta", {}).get("source") != TUTORIAL:  # the card reads the run's counters and config
        check_run(ckpt, run, "export another checkpoint of the run, or retrain", needs=("step", "epoch", "elapsed_s"))
    if dataset is not None:
        ckpt["config"] = {**ckpt["config"], "dataset": dataset}
    pt = atomic_save(without_optimisers(ckpt), out_dir / f"{name}.pt")
    card: dict[str, Any] = {"name": name, "file": pt.name, "size_mb": round(pt.stat().st_size / 2**20, 2), "arch": ckpt["arch"]}
    if ckpt.get("meta", {}).get("source") == TUTORIAL:
        card["source"] = f"{ckpt['meta']['file']} ({TUTORIAL}): weights only, no run recorded"
    else:
        card.update({
            # a run stopped (or picked) before its last epoch is reproduced exactly by asking for that many epochs
            "command": train_command({**ckpt["config"], "epochs": ckpt["epoch"]}),
            "seed": ckpt["config"]["seed"],
            "steps": ckpt["step"],
            "epochs": ckpt["epoch"],
            "train_wall_time_s": round(ckpt["elapsed_s"], 1),
            "hardware": {"device": ckpt.get("meta", {}).get("device", "?"), "cpu": cpu_name()},
        })
    card.update({
        "versions": versions(),
        "date": time.strftime("%Y-%m-%d"),
        "note": "optimiser states are left out to keep the file small; `dcgan train --resume` from it restarts Adam's moments",
    })
    if ckpt["config"].get("dataset") in EVALUATED_DATASETS:
        result = evaluate_checkpoint(pt, n=n_eval, n_rates=N_RATES)
        card["evaluation"] = result.summary()
        card["evaluation_table"] = result.table().splitlines()
        if heldout_seed is not None:
            held = evaluate_checkpoint(pt, n=n_eval, seed=heldout_seed, n_rates=N_RATES)
            card["evaluation_heldout"] = {"seed": heldout_seed, **held.summary()}
            card["evaluation_heldout_table"] = held.table().splitlines()
    if note:
        card["note"] = note + " " + card["note"]
    card_path = out_dir / f"{name}.json"
    card_path.write_text(json.dumps(card, indent=1) + "\n")
    return pt, card_path
