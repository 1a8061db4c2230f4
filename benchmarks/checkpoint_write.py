"""What one checkpoint costs the training loop: written on the training thread, or in the background as
`dcgan train` writes it (`checkpoint.CheckpointWriter`).

    python benchmarks/checkpoint_write.py                      # 64x64 width 64 batch 32: a 76 MB checkpoint
    python benchmarks/checkpoint_write.py --size 32 --width 32 --batch-size 128

One process trains the course's step (`train.TrainStep` on random images) in windows of `--steps` steps, taking
turns between three ways: no checkpoint; a checkpoint at the window's start written by `write_run` before the
steps go on (the training thread waits for the file to be written and fsynced: how `train()` wrote them
before); and the same checkpoint handed to a `CheckpointWriter`, whose write overlaps the window's steps (the
window ends only when the file is on disk, so a write slower than the steps is still counted). The report
gives each way's median window and what a checkpoint adds to it over no checkpoint (the median of each
round's difference): the time a checkpoint takes
from training. The files go to a temporary folder under `--dir` (default: the current folder, a real disk;
fsync on a RAM-backed /tmp would cost nothing).
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

import dcgan_lib.train as course
from dcgan_lib.checkpoint import CheckpointWriter, run_checkpoint, write_run
from dcgan_lib.config import TrainConfig
from dcgan_lib.data import ImageData
from dcgan_lib.device import pick_device
from dcgan_lib.environment import cpu_name
from dcgan_lib.torch_files import tensor_bytes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=4, help="steps per window (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=8, help="windows of each way, taking turns (default: %(default)s)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    p.add_argument("--dir", default=".", help="where the temporary run folder goes (default: the current folder)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    cfg = replace(TrainConfig(), image_size=args.size, width=args.width, batch_size=args.batch_size, seed=0)

    images = torch.randint(0, 256, (args.batch_size * 20, 3, args.size, args.size), dtype=torch.uint8)
    data = ImageData("bench", args.size, 3, images=images).to(device)
    G, D = course.build_models(cfg, 3)
    course.place(G, D, cfg, device)
    opt_G, opt_D = course.make_optimisers(cfg, G, D, device)
    noise = torch.Generator(device=device).manual_seed(1)
    step = course.TrainStep(G, D, opt_G, opt_D, noise, cfg, device)
    batches = (real for epoch in itertools.count() for real in data.batches(cfg.batch_size, epoch, cfg.seed, device))
    fixed_z = torch.zeros(64, cfg.nz, 1, 1)

    def ckpt() -> dict:
        return run_checkpoint(cfg, G, D, opt_G, opt_D, noise, fixed_z, 0, 0, [], 0.0, {"device": str(device)})

    def steps() -> None:
        for _ in range(args.steps):
            step(next(batches))
        (step(next(batches))[:4]).tolist()  # one read-back ends the window, as train()'s flush does

    out = Path(tempfile.mkdtemp(prefix=".checkpoint_write.", dir=args.dir))
    writer = CheckpointWriter(out)

    def on_the_training_thread() -> None:
        write_run(out, ckpt())
        steps()

    def in_the_background() -> None:
        writer.submit(ckpt())
        steps()
        writer.wait()

    ways = {"no checkpoint": steps, "written, then the steps": on_the_training_thread,
            "written in the background": in_the_background}
    blocked = []  # how long submit holds the training thread: the copy into host memory
    try:
        for way in ways.values():
            way()  # warm-up: the first step, Adam's state, the first file
        times: dict[str, list[float]] = {name: [] for name in ways}
        for r in range(args.rounds):
            for name, way in list(ways.items())[:: 1 if r % 2 == 0 else -1]:
                t = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - t)
            t = time.perf_counter()
            writer.submit(ckpt())
            blocked.append(time.perf_counter() - t)
            writer.wait()
    finally:
        writer.close()
        shutil.rmtree(out, ignore_errors=True)

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    size_mb = tensor_bytes(ckpt()) / 1e6
    print(f"{where}; torch {torch.__version__}; {args.size}x{args.size} width {args.width} batch {args.batch_size}; "
          f"checkpoint {size_mb:.0f} MB; windows of {args.steps + 1} steps, {args.rounds} rounds; files in {Path(args.dir).resolve()}")
    base = times["no checkpoint"]
    print(f"{'':28} {'window ms':>10} {'+ per checkpoint ms':>20}")  # the extra: median of each round's difference
    for name, ts in times.items():
        extra = statistics.median(t - b for t, b in zip(ts, base))
        print(f"{name:28} {1000 * statistics.median(ts):10.1f} {1000 * extra:20.1f}")
    print(f"the background write holds the training thread {1000 * statistics.median(blocked):.1f} ms (median): "
          "the copy of the weights and Adam's state into host memory")


if __name__ == "__main__":
    main()
