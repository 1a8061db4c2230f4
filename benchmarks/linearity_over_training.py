"""How linear are the attributes in z at each stage of training? faces32's recipe, measured with notebook 05's protocol every few epochs.

python benchmarks/linearity_over_training.py [--seed 0] [--epochs 24] [--every 4] [--r1 0.1] [--out runs/linearity]
    [--also faces32]

Trains faces32's recipe (`dcgan train --r1 0.1 --seed S`, any --epochs) and, at every `--every`-th epoch end,
measures a copy of G on the CPU:
- each attribute's linear read-out from z (notebook 05's logistic regression from z to the judge's verdict,
  fitted on three quarters of the pool, scored on the rest), as *balanced* accuracy (the mean of the two
  classes' accuracies), on a pool of `--pool` codes (measurement seed 0). An early G draws some attributes
  on far more or fewer faces than the data's half, and a plain accuracy would then read its skew as linearity;
- notebook 05's plain equations at k = 1 and k = 3 (`--draws` draws each, the notebook's trial seeds), beside
  the share of G's faces that already show what each equation expects: what a random code would score;
- the share of G's faces the judge reads with each attribute (the data's is 0.5 for each);
- the held-out evaluation's gap closed (`dcgan evaluate --seed 1`), so an early G can be told from one that also
  meets the course's quality targets.
`--also` measures finished checkpoints the same way (the shipped faces32 is epoch 60 of seed 0).
Measuring does not change the run: the pool, draws and evaluation use their own seeded generators.
"""

import argparse
import copy
from pathlib import Path

import torch
from seed_sweep import equation_results, evaluation_summary

from dcgan_lib import faces
from dcgan_lib.checkpoint import load_generator
from dcgan_lib.arithmetic import classifier_labeller, label_pool, linear_readout, paper_equations, verdict
from dcgan_lib.config import TrainConfig
from dcgan_lib.train import TrainState, train

# balanced read-out accuracy and share of G's faces the judge reads with the attribute, for each attribute; then the
# equations (eq0: smiling, eq1: glasses): the share of G's faces that already show what each expects (what a
# random code scores), its success at k = 1 and k = 3; the held-out gap closed
COLUMNS = ["ro_smiling", "ro_glasses", "ro_long", "smiling", "glasses", "long", "any_eq0", "any_eq1", "k1_eq0", "k1_eq1",
           "k3_eq0", "k3_eq1", "gap_closed"]


def measure(G: torch.nn.Module, pool_size: int, draws: int) -> dict[str, float]:
    """Read-outs, notebook 05's equations at k = 1 and 3, and the held-out evaluation of one generator."""
    G = copy.deepcopy(G).cpu().eval()
    labeller = classifier_labeller("faces")
    pool = label_pool(G, labeller, pool_size, seed=0)
    row: dict[str, float] = {}
    for a, short in zip(faces.ATTRIBUTES, ("smiling", "glasses", "long")):
        row[f"ro_{short}"] = linear_readout(pool, a, balanced=True)[0]  # chance is 0.5 even where G's rates are skewed
        row[short] = float((pool.labels[a] > 0.5).float().mean())
    for i, eq in enumerate(paper_equations()):
        row[f"any_eq{i}"] = float(verdict(pool.labels, eq.expected).float().mean())
    try:
        for k, results in equation_results(G, pool, labeller, draws, seed=0).items():
            row.update({f"k{k}_eq{i}": r.rate for i, r in enumerate(results)})
    except ValueError as e:  # an early G may draw too few confident codes of a concept: no equations, the rest stands
        print(f"   (equations not measured: {e})", flush=True)
        row.update({f"k{k}_eq{i}": float("nan") for k in (1, 3) for i in (0, 1)})
    row["gap_closed"] = evaluation_summary(G, "faces")["fd_gap_closed"]
    return row


def print_row(name: str, G: torch.nn.Module, pool_size: int, draws: int) -> None:
    row = measure(G, pool_size, draws)
    print(f"{name:<8} " + " ".join(f"{row[c]:>10.3f}" for c in COLUMNS), flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="training seed (faces32 was seed 0)")
    p.add_argument("--epochs", type=int, default=24)
    p.add_argument("--every", type=int, default=4, help="epochs between measurements")
    p.add_argument("--r1", type=float, default=0.1, help="faces32's recipe uses 0.1")
    p.add_argument("--out", default="runs/linearity", help="run folder (must not hold a checkpoint yet)")
    p.add_argument("--pool", type=int, default=20_000)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--also", nargs="*", default=[], help="checkpoints to measure as well, e.g. faces32")
    a = p.parse_args()
    print(f"faces32's recipe, seed {a.seed}, R1 {a.r1}: balanced read-outs of z and shares of G's faces (smiling, "
          "eyeglasses, long hair), notebook 05's equations (smiling / glasses) and the held-out gap closed\n")
    print("epoch    " + " ".join(f"{c:>10}" for c in COLUMNS), flush=True)

    def every_few_epochs(event: str, state: TrainState) -> None:
        if event == "epoch" and state.epoch % a.every == 0:
            print_row(str(state.epoch), state.G, a.pool, a.draws)

    if a.epochs:
        cfg = TrainConfig(r1=a.r1, epochs=a.epochs, seed=a.seed, out=str(Path(a.out) / f"s{a.seed}"), progress=False)
        train(cfg, callbacks=[every_few_epochs])
    for name in a.also:
        print_row(Path(name).stem[:8], load_generator(name), a.pool, a.draws)


if __name__ == "__main__":
    main()
