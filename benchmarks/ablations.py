"""The ablation table of notebook 02 over several seeds (and optionally a longer budget).

OMP_NUM_THREADS=1 nice -n 10 python benchmarks/ablations.py [--seeds 1 2 3] [--width 16] [--n-images 12800]
    [--epochs 3] [--eval-n 1000] [--variants dcgan maxpool-d ...] [--json out.json]

Defaults are the notebook's budget; the notebook uses seed 0, so the default seeds 1-3 are fresh runs that
test whether its one-seed differences hold. Prints one line per run, then each variant's mean and range.
The data set is drawn once (seed 0); each run's seed sets its initialisation, data order and noise.
"""

import argparse
import json
import statistics
import time

import torch

from dcgan_lib.ablations import format_ablation_table, train_and_evaluate
from dcgan_lib.architecture import VARIANTS
from dcgan_lib.data import load_data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--n-images", type=int, default=12_800)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    a = p.parse_args()

    print(f"torch threads {torch.get_num_threads()}; {a.epochs} epochs x {a.n_images} faces at width {a.width}, "
          f"seeds {a.seeds}, evaluation n={a.eval_n} (seed 0)", flush=True)
    data = load_data("faces", 32, a.n_images, seed=0)
    rows, t0 = [], time.perf_counter()
    for seed in a.seeds:
        for name in a.variants:
            _, row = train_and_evaluate(name, data, epochs=a.epochs, seed=seed, width=a.width, eval_n=a.eval_n,
                                        eval_seed=0, device=a.device)
            rows.append(row)
            print(f"{name:<14} seed {seed}: gap closed {row['gap_closed']:.3f} ({row['train_s']:.0f} s)", flush=True)
    print("\n" + format_ablation_table(rows))
    print(f"\n{'variant':<15}{'gap closed: mean':>17}{'min':>7}{'max':>7}{'attr |diff| mean':>18}")
    for name in a.variants:
        g = [r["gap_closed"] for r in rows if r["variant"] == name]
        d = [r["attr_diff"] for r in rows if r["variant"] == name and "attr_diff" in r]
        print(f"{name:<15}{statistics.mean(g):>17.3f}{min(g):>7.3f}{max(g):>7.3f}{statistics.mean(d) if d else float('nan'):>18.3f}")
    print(f"\n{len(rows)} runs in {time.perf_counter() - t0:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
