"""How fast the procedural faces are drawn: python benchmarks/bench_faces.py [--threads 1]"""

import argparse
import time

import torch

from dcgan_lib.faces import make_faces


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads}")
    for n, size in [(20_000, 32), (5_000, 64), (1_000, 128)]:
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            make_faces(n, size, seed=0)
            times.append(time.perf_counter() - t)
        best = min(times)
        print(f"make_faces({n}, {size}): best of {args.repeats} {best:.2f} s  ({n / best:,.0f} faces/s)")


if __name__ == "__main__":
    main()
