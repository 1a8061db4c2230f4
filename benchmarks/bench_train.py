"""Training throughput (images/s) of the DCGAN step on this machine's device.

python benchmarks/bench_train.py [--sizes 32 64] [--widths 32 64] [--steps 30] [--device auto] [--precision fp32]
Counts every image D sees as real (one batch per step); the first steps are warm-up and not timed.
"""

import argparse
import tempfile
import time

import torch

from dcgan_lib.data import ImageData
from dcgan_lib.config import TrainConfig
from dcgan_lib.device import pick_device
from dcgan_lib.train import train


def throughput(size: int, width: int, batch: int, steps: int, device: str, precision: str) -> float:
    warmup = 5
    images = torch.randint(0, 256, (batch * (steps + warmup), 3, size, size), dtype=torch.uint8)
    data = ImageData("bench", size, 3, images=images)
    times: list[float] = []

    def clock(event: str, state) -> None:
        if event == "log":
            if state.G.main[0].weight.is_cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as out:
        cfg = TrainConfig(dataset="bench", image_size=size, width=width, batch_size=batch, epochs=1, out=out,
                          device=device, precision=precision, checkpoint_every=0, log_every=1, progress=False)
        train(cfg, data=data, callbacks=[clock])
    timed = times[warmup:]
    return batch * (len(timed) - 1) / (timed[-1] - timed[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    p.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32")
    args = p.parse_args()
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu x{torch.get_num_threads()} threads"
    print(f"device: {name}, torch {torch.__version__}, batch {args.batch_size}, precision {args.precision}")
    for size in args.sizes:
        for width in args.widths:
            ips = throughput(size, width, args.batch_size, args.steps, str(device), args.precision)
            print(f"{size}x{size} width {width}: {ips:,.0f} images/s")


if __name__ == "__main__":
    main()
