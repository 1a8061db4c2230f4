"""Notebook 02's ablations: train each architecture variant on the same budget and compare them on one table."""

from __future__ import annotations

import tempfile
import time
from typing import Any

from .architecture import VARIANTS
from .config import TrainConfig
from .evaluate import evaluate_generator
from .models import Generator, count_parameters
from .train import train


def train_and_evaluate(variant: str, data: Any, *, epochs: int = 1, seed: int = 0, width: int = 32, nz: int = 100,
                       eval_n: int = 1000, eval_seed: int = 0, out: str | None = None,
                       device: str = "auto") -> tuple[Generator, dict[str, Any]]:
    """Train one variant on in-memory `data` (an `ImageData`) and evaluate it; returns (G, one table row).

    Every variant gets the same budget (epochs x len(data) images, batch 128, the paper's Adam) and the same
    evaluation (`evaluate.evaluate_generator` with `eval_seed`, so the real sets and the ceiling are shared).
    The run is written to `out` (a temporary folder, deleted afterwards, if None).
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown architecture variant {variant!r}: choose one of {', '.join(VARIANTS)}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(dataset=data.name, image_size=data.image_size, n_images=len(data), nz=nz, width=width,
                          epochs=epochs, seed=seed, variant=variant, out=out or tmp, progress=False, checkpoint_every=0,
                          device=device)
        t0 = time.perf_counter()
        state = train(cfg, data=data)
        train_s = time.perf_counter() - t0
    G, D = state.G.eval(), state.D.eval()
    last = [r for r in state.history if "loss_D" in r][-1]
    # memorisation and KID are not what an ablation asks about; few KID subsets keep an evaluation ~2 s on a CPU
    result = evaluate_generator(G, data.name, n=eval_n, seed=eval_seed, memorisation=False, kid_subsets=5)
    s = result.summary()
    row = {"variant": variant, "seed": seed, "params_G": count_parameters(G), "params_D": count_parameters(D),
           "steps": state.step, "train_s": train_s, "gap_closed": result.gap_closed, "fd": result.fd, "kid": result.kid,
           "D_x": last["D_x"], "D_G_z": last["D_G_z"]}
    if data.name == "faces":
        row.update({k: s[f"{k}_gen"] for k in ("smiling", "eyeglasses", "long_hair", "turn_std")})
        row["attr_diff"] = sum(s[f"{k}_diff"] for k in ("smiling", "eyeglasses", "long_hair")) / 3
    return G, row


def format_ablation_table(rows: list[dict[str, Any]], data_rates: dict[str, float] | None = None, times: bool = True) -> str:
    """Ablation rows (from `train_and_evaluate`) as aligned text, one line per run, the data's rates last.
    `times=False` leaves out the training time (a notebook prints it beside each run, and its table stays
    the same from one run to the next)."""
    cols = [("variant", "<15", "variant"), ("seed", ">5", "seed"), ("params_G", ">10,", "G params"), ("params_D", ">10,", "D params"),
            ("train_s", ">9.0f", "train s"), ("gap_closed", ">7.2f", "gap"), ("fd", ">7.1f", "FD"), ("D_x", ">7.2f", "D(x)"),
            ("D_G_z", ">9.2f", "D(G(z))"), ("smiling", ">9.2f", "smiling"), ("eyeglasses", ">9.2f", "glasses"),
            ("long_hair", ">11.2f", "long hair"), ("turn_std", ">10.2f", "turn std")]
    cols = [c for c in cols if (not rows or c[0] in rows[0]) and (times or c[0] != "train_s")]
    head = "".join(f"{label:{fmt[0] if fmt[0] in '<>' else '>'}{_w(fmt)}}" for _, fmt, label in cols)
    lines = [head]
    for r in rows:
        lines.append("".join(f"{r[k]:{fmt}}" if k in r else " " * _w(fmt) for k, fmt, _ in cols))
    if data_rates:
        cells = []
        for k, fmt, _ in cols:
            cells.append(f"{'the data':<15}" if k == "variant" else f"{data_rates[k]:{fmt}}" if k in data_rates else " " * _w(fmt))
        lines.append("".join(cells))
    return "\n".join(lines)


def _w(fmt: str) -> int:
    digits = "".join(ch for ch in fmt.split(".")[0] if ch.isdigit())
    return int(digits) if digits else 8
