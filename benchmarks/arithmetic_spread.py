"""How much do notebook 05's success rates move with the choice of codes? The same generator, other code sets.

python benchmarks/arithmetic_spread.py [--checkpoint faces32] [--seeds 0 1 2 3 4] [--ks 1 3 10] [--draws 500]

Notebook 05 measures the paper's two equations on one labelled pool of 20,000 codes (seed 0) with one set of
500 draws per k. This repeats that protocol with other measurement seeds: each seed labels its own pool of
codes and draws its own terms (trial seed `seed * 1000 + 100 + k`, as the notebook's k-curve does), so the
spread across seeds is how much a headline number depends on which codes happened to be drawn. It prints one
row per seed and, per equation and k, the mean, the standard deviation and the range. About a minute per
seed on 2 CPU cores.
"""

import argparse
import statistics
import time

from dcgan_lib.arithmetic import arithmetic_trials, classifier_labeller, label_pool, paper_equations
from dcgan_lib.checkpoint import load_generator


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default="faces32")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--ks", type=int, nargs="+", default=[1, 3, 10])
    p.add_argument("--pool", type=int, default=20_000)
    p.add_argument("--draws", type=int, default=500)
    a = p.parse_args()
    t0 = time.perf_counter()
    G = load_generator(a.checkpoint)
    labeller = classifier_labeller("faces")
    equations = paper_equations()
    rates: dict[tuple[int, int], list[float]] = {}
    print(f"{a.checkpoint}: {a.draws} draws per equation and k, a pool of {a.pool:,} codes per seed")
    for seed in a.seeds:
        pool = label_pool(G, labeller, a.pool, seed=seed)
        row = []
        for k in a.ks:
            for i, eq in enumerate(equations):
                r = arithmetic_trials(G, pool, eq, labeller, k=k, trials=a.draws, seed=seed * 1000 + 100 + k).rate
                rates.setdefault((i, k), []).append(r)
                row.append(f"eq{i + 1} k={k}: {r:.1%}")
        print(f"seed {seed}: " + "  ".join(row), flush=True)
    print("\nequation 1: smiling woman - neutral woman + neutral man; equation 2: man with glasses - man + woman")
    for (i, k), values in sorted(rates.items()):
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"eq{i + 1} k={k:<3}: mean {statistics.mean(values):.1%}, sd {sd:.1%}, "
              f"range {min(values):.1%}-{max(values):.1%} over {len(values)} seeds")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
