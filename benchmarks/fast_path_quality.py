"""Does the fast path train as well as the paper's eager fp32 step? Same recipe, same seeds, same evaluation.

    python benchmarks/fast_path_quality.py [--seeds 0 1] [--fast compile channels_last] [--device cpu]

The recipe is notebook 02's ablation budget (procedural faces at 32x32, width 16, 12,800 images, 3 epochs =
300 steps of batch 128); each run is evaluated by dcgan_lib.evaluate on the same real sets (gap closed of the
classifier-feature Fréchet distance, attribute rates). A seed fixes the initial weights, the data order and
the noise, so the eager and the fast run of one seed start identical and differ only by float rounding, which
a GAN amplifies; the spread between seeds of the eager runs is the run-to-run noise to compare against.
About 4 minutes on 2 CPU cores with two seeds (the first compile adds about a minute).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace

import torch

from dcgan_lib.config import TrainConfig
from dcgan_lib.data import load_data
from dcgan_lib.evaluate import evaluate_generator
from dcgan_lib.faces import ATTRIBUTES
from dcgan_lib.train import train

SWITCHES = ("compile", "channels_last", "fused_adam", "cuda_graphs")


def run(cfg: TrainConfig, data, eval_n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        state = train(replace(cfg, out=out), data=data)
        train_s = time.perf_counter() - t0
    result = evaluate_generator(state.G.eval(), "faces", n=eval_n, seed=0, memorisation=False, kid_subsets=5)
    s = result.summary()
    row = {"gap": result.gap_closed, "fd": result.fd, "train_s": train_s}
    row.update({a: s[f"{a}_gen"] for a in ATTRIBUTES})
    row.update({f"{a}_data": s[f"{a}_data"] for a in ATTRIBUTES})
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--fast", nargs="+", default=["compile", "channels_last"], choices=SWITCHES,
                   help="the switches of the fast path (default: %(default)s, the CPU's)")
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--n-images", type=int, default=12_800)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--eval-n", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()

    data = load_data("faces", 32, a.n_images, seed=0)
    base = TrainConfig(image_size=32, n_images=a.n_images, width=a.width, epochs=a.epochs, device=a.device,
                       progress=False, checkpoint_every=0)
    fast = replace(base, **{k: True for k in a.fast})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {a.device}; faces 32x32, width {a.width}, "
          f"{a.epochs} epochs x {a.n_images} images; fast path: {', '.join(a.fast)}", flush=True)
    rows = []
    for seed in a.seeds:
        for path, cfg in (("eager fp32", base), ("fast", fast)):
            r = {"seed": seed, "path": path, **run(replace(cfg, seed=seed), data, a.eval_n)}
            rows.append(r)
            print(f"  seed {seed} {path:<10} gap closed {r['gap']:.3f} ({r['train_s']:.0f} s)", flush=True)

    head = "| seed | path | gap closed | FD | " + " | ".join(ATTRIBUTES) + " | train s |"
    print("\n" + head + "\n|" + "---|" * (head.count("|") - 1))
    for r in rows:
        print(f"| {r['seed']} | {r['path']} | {r['gap']:.3f} | {r['fd']:.2f} | "
              + " | ".join(f"{r[k]:.3f}" for k in ATTRIBUTES) + f" | {r['train_s']:.0f} |")
    print("| | the data | | | " + " | ".join(f"{rows[0][k + '_data']:.3f}" for k in ATTRIBUTES) + " | |")

    keys = ["gap", *ATTRIBUTES]
    eager = {r["seed"]: r for r in rows if r["path"] == "eager fp32"}
    quick = {r["seed"]: r for r in rows if r["path"] == "fast"}
    same_seed = {k: statistics.mean(abs(quick[s][k] - eager[s][k]) for s in a.seeds) for k in keys}
    pairs = [(s, t) for i, s in enumerate(a.seeds) for t in a.seeds[i + 1:]]
    seed_to_seed = {k: statistics.mean(abs(eager[s][k] - eager[t][k]) for s, t in pairs) for k in keys} if pairs else {}
    print("\nmean |fast - eager| at the same seed, against mean |eager - eager| between seeds (the run-to-run noise):")
    for k in keys:
        noise = f"{seed_to_seed[k]:.3f}" if seed_to_seed else "-"
        print(f"  {k:<11} {same_seed[k]:.3f}   noise {noise}")


if __name__ == "__main__":
    main()
