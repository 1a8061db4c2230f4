"""How much do notebook 05's equations depend on the training seed? faces32's recipe, trained with several seeds.

python benchmarks/seed_sweep.py --seeds 1 2 3 4 5 6 7 8 [--width 32] [--epochs 60] [--out runs/sweep] [--jobs 8]
python benchmarks/seed_sweep.py --measure RUN_OR_CHECKPOINT [...]   # only measure generators trained elsewhere

1. Trains the shipped faces32's command (`dcgan train --r1 0.1 --epochs 60 --seed S`, with `--width`) once per
   seed, `--jobs` runs at a time, each in its own process with one thread. On a GPU these small runs leave the
   device mostly idle, so several at once cost little more than one: on an H100 one run took 4 s per epoch
   alone and 5 s with eight at once, and twelve 60-epoch runs at once took 7.4-8.0 min. On a 2-core CPU use
   `--jobs 1` (25 min a run). A seed whose folder holds a finished checkpoint is not trained again; an
   unfinished one is resumed.
2. Measures every generator with notebook 05's protocol and its defaults (measurement seed 0: a pool of 20,000
   codes, 500 draws per equation and k) and with `dcgan evaluate`'s numbers (seed 1), then prints one row per
   generator and a summary: how many reach the issue's target (k = 3 >= 80% on both equations).
The measurement runs on the CPU, so its numbers do not depend on where the generator was trained.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from dcgan_lib import faces
from dcgan_lib.checkpoint import load, load_generator
from dcgan_lib.config import N_RATES
from dcgan_lib.evaluate import evaluate_generator
from dcgan_lib.arithmetic import (ArithmeticResult, LatentPool, Labeller, arithmetic_trials, classifier_labeller,
                                  label_pool, paper_equations)

TARGET = 0.8


def recipe_args(epochs: int, seed: int, width: int, out: Path) -> list[str]:
    """`dcgan train` arguments of faces32's recipe (R1 0.1) for one run; `--resume` if `out` holds a checkpoint."""
    args = ["train", "--r1", "0.1", "--epochs", str(epochs), "--seed", str(seed), "--width", str(width),
            "--out", str(out), "--eval-every", "0", "--no-progress"]
    if (out / "checkpoint.pt").exists():  # an unfinished run continues exactly where it stopped
        args.append("--resume")
    return args


def equation_results(G: torch.nn.Module, pool: LatentPool, labeller: Labeller, draws: int,
                     seed: int) -> dict[int, list[ArithmeticResult]]:
    """Notebook 05's plain equations at k = 1 and 3, with its trial seeds: {k: [result of each equation]}."""
    return {k: [arithmetic_trials(G, pool, eq, labeller, k=k, trials=draws, seed=seed * 1000 + k)
                for eq in paper_equations()] for k in (1, 3)}


def evaluation_summary(G: torch.nn.Module, judge: str | Path) -> dict[str, float]:
    """`dcgan evaluate`'s numbers for G (held-out seed 1, 10,000 images for the rates), judged by `judge`."""
    return evaluate_generator(G, "faces", seed=1, classifier=judge, n_rates=N_RATES).summary()


def measure_generator(G: torch.nn.Module, judge: str | Path = "faces", pool_size: int = 20_000, draws: int = 500,
                      seed: int = 0, evaluate: bool = True) -> dict[str, float]:
    """Notebook 05's equations at k = 1 and 3 (keys 'k1_eq0', 'k3_eq1', ...; per-attribute 'k3_eq0_long_hair', ...)
    and, with `evaluate`, the evaluation's gap closed and each attribute's distance from the data's rate."""
    labeller = classifier_labeller(judge, categories=("hair_colour",))
    pool = label_pool(G, labeller, pool_size, seed=seed)
    out: dict[str, float] = {}
    for k, results in equation_results(G, pool, labeller, draws, seed).items():
        for i, r in enumerate(results):
            out[f"k{k}_eq{i}"] = r.rate
            out.update({f"k{k}_eq{i}_{a}": v for a, v in r.per_attribute.items()})
    if evaluate:
        s = evaluation_summary(G, judge)
        out["gap_closed"] = s["fd_gap_closed"]
        for a in faces.ATTRIBUTES:
            out[f"{a}_diff"], out[f"{a}_within_colour"] = s[f"{a}_diff"], s[f"{a}_within_colour"]
    return out


def train_all(seeds: list[int], width: int, epochs: int, out: Path, jobs: int) -> list[Path]:
    """Train faces32's recipe once per seed, `jobs` processes at a time; returns the run folders."""
    runs = [out / f"w{width}s{s}" for s in seeds]
    todo = [(s, r) for s, r in zip(seeds, runs) if not _finished(r, epochs)]
    running: list[subprocess.Popen] = []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for s, run in todo:
        while len(running) >= jobs:
            time.sleep(1)
            running = [p for p in running if p.poll() is None]
        args = recipe_args(epochs, s, width, run)
        print("dcgan " + " ".join(args), flush=True)
        run.mkdir(parents=True, exist_ok=True)
        with open(run / "train.log", "w") as log:
            running.append(subprocess.Popen([sys.executable, "-m", "dcgan_lib", *args], stdout=log,
                                            stderr=subprocess.STDOUT, env=env))
    for p in running:
        p.wait()
    failed = [r for r in runs if not _finished(r, epochs)]
    if failed:
        raise SystemExit(f"training did not finish in {', '.join(map(str, failed))}: see train.log there")
    return runs


def _finished(run: Path, epochs: int) -> bool:
    return (run / "checkpoint.pt").exists() and load(run)["epoch"] >= epochs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="*", default=[], help="training seeds")
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--out", default="runs/sweep")
    p.add_argument("--jobs", type=int, default=1, help="training runs at a time")
    p.add_argument("--measure", nargs="*", default=[], help="checkpoints or run folders to measure as well")
    p.add_argument("--pool", type=int, default=20_000)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--seed", type=int, default=0, help="seed of the measurement (notebook 05's SEED)")
    a = p.parse_args()
    if not a.seeds and not a.measure:
        p.error("give --seeds to train, or --measure with checkpoints")
    paths = train_all(a.seeds, a.width, a.epochs, Path(a.out), a.jobs) if a.seeds else []
    paths += [Path(m) for m in a.measure]
    cols = ["k1_eq0", "k1_eq1", "k3_eq0", "k3_eq1", "k3_eq0_long_hair", "k3_eq1_long_hair", "gap_closed",
            "long_hair_diff", "long_hair_within_colour"]
    print("\ngenerator              " + " ".join(f"{c:>12}" for c in cols), flush=True)
    rows = []
    for path in paths:
        try:
            r = measure_generator(load_generator(path).eval(), pool_size=a.pool, draws=a.draws, seed=a.seed)
        except ValueError as e:  # e.g. too few confident codes for a concept: an undertrained G or a small pool
            print(f"{str(path)[-22:]:<22} not measured: {e}", flush=True)
            continue
        rows.append(r)
        print(f"{str(path)[-22:]:<22} " + " ".join(f"{r[c]:>12.3f}" for c in cols), flush=True)
    if not rows:
        raise SystemExit("no generator could be measured")
    k3 = torch.tensor([[r["k3_eq0"], r["k3_eq1"]] for r in rows])
    k1 = torch.tensor([[r["k1_eq0"], r["k1_eq1"]] for r in rows])
    print(f"\nk = 3, mean over {len(rows)} generators: {k3[:, 0].mean():.0%} / {k3[:, 1].mean():.0%} "
          f"(range {k3[:, 0].min():.0%}-{k3[:, 0].max():.0%} / {k3[:, 1].min():.0%}-{k3[:, 1].max():.0%}); "
          f"k = 1: {k1[:, 0].mean():.0%} / {k1[:, 1].mean():.0%}")
    print(f"k = 3 >= {TARGET:.0%} on both: {int((k3 >= TARGET).all(1).sum())} of {len(rows)}; "
          f"k = 3 > k = 1 on both: {int((k3 > k1).all(1).sum())} of {len(rows)}")


if __name__ == "__main__":
    main()
