"""Images per second of the course's training step against the pytorch/examples DCGAN loop, in one run.

    python benchmarks/throughput.py                      # 64x64 width 64 and 32x32 width 32, batch 128
    python benchmarks/throughput.py --sizes 32 --widths 32 --compile --channels-last
    python benchmarks/throughput.py --ablation --sizes 32 --widths 32   # each speed switch alone, then together

The course's side is `dcgan train`'s loop without its files: `data.batches`, `train.TrainStep` (the very object
`train()` steps with, switches and all) and the sums read back every `log_every` steps. The reference is the
loop of pytorch/examples' dcgan/main.py, rewritten here from its logic: its Generator and Discriminator (a
Sigmoid at D's end and BCELoss; one layer fewer per halving of the image size, which main.py itself cannot do),
a DataLoader over a TensorDataset of images already in [-1, 1] (main.py decodes and normalises each image in
its workers: this reference is the faster of the two), D's two backward passes and its five `.item()` per step.
Neither side saves images or checkpoints while timed.

Both run in the same process on the same device, alternating windows of `--steps` steps after a warm-up; the
report gives the median over `--rounds` windows and the median of the per-round ratios, so that a machine
shared with other work slows both alike, and the best window of each (the least disturbed). FLOPs per step are counted by torch.utils.flop_counter.FlopCounterMode
on one eager step of each loop. The share of peak divides the achieved FLOP/s by the device's peak: on a
CPU, the best of five 2048x2048 fp32 matmuls measured in this run; on a GPU, the datasheet's dense number for
its name (TF32 when cuDNN may use it, as by default), or a measured matmul for a GPU not in the table.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

import dcgan_lib.train as course
from dcgan_lib.config import TrainConfig
from dcgan_lib.data import ImageData
from dcgan_lib.device import pick_device
from dcgan_lib.environment import cpu_name

# Dense peak TFLOP/s from the vendors' datasheets: (fp32 without tensor cores, TF32, bf16/fp16), by name.
GPU_PEAKS = {
    "H200": (67.0, 494.7, 989.4), "H100 SXM": (67.0, 494.7, 989.4), "H100 PCIe": (51.2, 378.0, 756.0),
    "H100": (67.0, 494.7, 989.4), "A100": (19.5, 156.0, 312.0), "L40S": (91.6, 183.0, 362.1),
    "L4": (30.3, 60.0, 121.0), "A10": (31.2, 62.5, 125.0), "T4": (8.1, 8.1, 65.0), "V100": (15.7, 15.7, 125.0),
    "RTX 4090": (82.6, 82.6, 165.2), "RTX 3090": (35.6, 35.6, 71.0),
}


# ------------------------------------------------------------------------------------------- the reference


def reference_nets(size: int, nz: int, ngf: int, ndf: int, nc: int = 3) -> tuple[nn.Module, nn.Module]:
    """pytorch/examples' netG and netD (written for 64x64), with as many stride-2 layers as `size` needs."""
    k = size.bit_length() - 3  # 64 -> 4 stride-2 layers
    g: list[nn.Module] = [nn.ConvTranspose2d(nz, ngf * 2 ** (k - 1), 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 2 ** (k - 1)), nn.ReLU(True)]
    for i in range(k - 1, 0, -1):
        g += [nn.ConvTranspose2d(ngf * 2**i, ngf * 2 ** (i - 1), 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2 ** (i - 1)), nn.ReLU(True)]
    g += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    d: list[nn.Module] = [nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for i in range(k - 1):
        d += [nn.Conv2d(ndf * 2**i, ndf * 2 ** (i + 1), 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2 ** (i + 1)), nn.LeakyReLU(0.2, inplace=True)]
    d += [nn.Conv2d(ndf * 2 ** (k - 1), 1, 4, 1, 0, bias=False), nn.Sigmoid()]
    netG, netD = nn.Sequential(*g), nn.Sequential(*d)
    for m in itertools.chain(netG.modules(), netD.modules()):  # main.py's weights_init
        if "Conv" in type(m).__name__:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif "BatchNorm" in type(m).__name__:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return netG, netD


def reference_loop(images: torch.Tensor, size: int, width: int, batch: int, device: torch.device, workers: int) -> Callable[[], None]:
    """One call = one iteration of main.py's loop (the log line formatted, not printed)."""
    nz = 100
    netG, netD = reference_nets(size, nz, width, width)
    netG.to(device), netD.to(device)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    dataset = TensorDataset(images.float().div(127.5).sub(1), torch.zeros(len(images)))
    dataloader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers)
    batches = iter(())
    real_label, fake_label = 1.0, 0.0

    def step() -> None:
        nonlocal batches
        data = next(batches, None)
        if data is None:  # a new epoch
            batches = iter(dataloader)
            data = next(batches)
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        real_cpu = data[0].to(device)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        D_G_z2 = output.mean().item()
        optimizerG.step()
        "Loss_D: %.4f Loss_G: %.4f D(x): %.4f D(G(z)): %.4f / %.4f" % (errD.item(), errG.item(), D_x, D_G_z1, D_G_z2)

    return step


# ---------------------------------------------------------------------------------------------- the course


def course_loop(images: torch.Tensor, cfg: TrainConfig, device: torch.device) -> Callable[[], None]:
    """One call = one step of `train()`'s loop: the next batch, `TrainStep`, the device-side sums, and every
    `log_every` steps the read-back of those sums that `train()`'s flush does."""
    data = ImageData("bench", cfg.image_size, 3, images=images.clone()).to(device)
    G, D = course.build_models(cfg, 3)
    course.place(G, D, cfg, device)
    opt_G, opt_D = course.make_optimisers(cfg, G, D, device)
    step = course.TrainStep(G, D, opt_G, opt_D, torch.Generator(device=device).manual_seed(cfg.seed + 1), cfg, device)
    sums = torch.zeros(5, device=device)
    batches = (real for epoch in itertools.count() for real in data.batches(cfg.batch_size, epoch, cfg.seed, device))
    count = 0

    def one() -> None:
        nonlocal count
        sums.add_(step(next(batches)))
        count += 1
        if count % cfg.log_every == 0:
            (sums[:4] / sums[4]).tolist()
            sums.zero_()

    return one


# -------------------------------------------------------------------------------------------------- timing


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_flops(step: Callable[[], None]) -> float:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def peak_flops(device: torch.device, precision: str) -> tuple[float, str]:
    """FLOP/s the device can reach, and where the number comes from."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (fp32, tf32, half) in GPU_PEAKS.items():
            if key in name:
                if precision != "fp32":
                    return half * 1e12, f"{name} datasheet, dense bf16/fp16"
                if torch.backends.cudnn.allow_tf32 and tf32 != fp32:
                    return tf32 * 1e12, f"{name} datasheet, dense TF32 (cuDNN's default for fp32 convolutions)"
                return fp32 * 1e12, f"{name} datasheet, fp32"
    n = 4096 if device.type == "cuda" else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        a @ b
    best = 0.0
    for _ in range(5):  # the best of five: a shared machine only ever slows a multiplication down
        sync(device)
        t = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * n**3 / (time.perf_counter() - t))
    threads = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
    return best, f"the best of five {n}x{n} fp32 matmuls measured in this run{threads}"


def interleave(loops: dict[str, Callable[[], None]], device: torch.device, steps: int, rounds: int, warmup: int,
               batch: int) -> dict[str, list[float]]:
    """Images per second of each loop over `rounds` windows of `steps` steps, the loops taking turns."""
    for step in loops.values():
        for _ in range(warmup):
            step()
    sync(device)
    rates: dict[str, list[float]] = {name: [] for name in loops}
    for r in range(rounds):
        for name, step in list(loops.items())[:: 1 if r % 2 == 0 else -1]:  # every other round backwards: no loop always goes first
            sync(device)
            t = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            rates[name].append(steps * batch / (time.perf_counter() - t))
    return rates


def report(title: str, rates: dict[str, list[float]], flops: dict[str, float], batch: int, peak: float) -> list[str]:
    """Print one table (and return its Markdown rows): images/s, ms per step, share of peak and the ratio to the
    last row, each from the median window; then the best window's images/s and ratio (the least disturbed on a
    shared machine)."""
    base = list(rates)[-1]
    print(f"\n{title}")
    print(f"{'':44} {'images/s':>9} {'ms/step':>8} {'GFLOP/step':>10} {'% of peak':>9} {'x ' + base:>12} {'best':>7} {'x best':>7}")
    rows = []
    best_base = max(rates[base])
    for name, r in rates.items():
        ips, best = statistics.median(r), max(r)
        ratio = statistics.median(a / b for a, b in zip(r, rates[base]))
        share = flops[name] * ips / batch / peak * 100
        print(f"{name:44} {ips:9,.0f} {1000 * batch / ips:8.1f} {flops[name] / 1e9:10.1f} {share:9.1f} {ratio:12.2f} "
              f"{best:7,.0f} {best / best_base:7.2f}   rounds: {', '.join(f'{x:,.0f}' for x in r)}")
        rows.append(f"| {name} | {ips:,.0f} | {1000 * batch / ips:.1f} | {flops[name] / 1e9:.1f} | {share:.0f}% | {ratio:.2f}× "
                    f"| {best:,.0f} | {best / best_base:.2f}× |")
    return rows


def trainable_D() -> object:
    """For the ablation's first row: G's half-step as it was before D was frozen (D's gradients computed)."""
    return lambda model: nullcontext(model)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 32], help="image sizes, paired with --widths (default: 64 32)")
    p.add_argument("--widths", type=int, nargs="+", default=[64, 32], help="(default: 64 32)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--steps", type=int, default=2, help="steps per timed window (default: %(default)s)")
    p.add_argument("--rounds", type=int, default=10, help="windows per loop, taking turns (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps first (compiling, CUDA graph capture)")
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own)")
    p.add_argument("--ref-workers", type=int, default=0, help="the reference's DataLoader workers (main.py: 2; default 0, faster here)")
    p.add_argument("--log-every", type=int, default=TrainConfig.log_every)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--compile", action="store_true")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--fused-adam", action="store_true")
    p.add_argument("--cuda-graphs", action="store_true")
    p.add_argument("--ablation", action="store_true", help="the course's step with each switch alone and all together")
    args = p.parse_args()
    if len(args.sizes) != len(args.widths):
        p.error("--sizes and --widths pair up: give as many of each")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    peak, peak_source = peak_flops(device, args.precision)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_name()}, {torch.get_num_threads()} threads"
    print(f"device: {device} ({where}), torch {torch.__version__}, {args.precision}, batch {args.batch_size}; "
          f"{args.rounds} rounds of {args.steps} steps after {args.warmup} warm-up steps")
    print(f"peak: {peak / 1e9:,.0f} GFLOP/s ({peak_source})")
    is_cuda = device.type == "cuda"
    markdown = []
    for size, width in zip(args.sizes, args.widths):
        torch.manual_seed(0)
        images = torch.randint(0, 256, (args.batch_size * 20, 3, size, size), dtype=torch.uint8)
        base = TrainConfig(dataset="bench", image_size=size, width=width, batch_size=args.batch_size, device=str(device),
                           precision=args.precision, log_every=args.log_every, progress=False)
        asked = replace(base, compile=args.compile, channels_last=args.channels_last, fused_adam=args.fused_adam,
                        cuda_graphs=args.cuda_graphs)
        if args.ablation:
            variants = {
                "before issue 24 (D trainable in G's step)": (base, True),
                "default (D frozen, foreach Adam)": (base, False),
                "+ channels-last": (replace(base, channels_last=True), False),
                "+ compile": (replace(base, compile=True), False),
            }
            if is_cuda:
                variants["+ fused Adam"] = (replace(base, fused_adam=True), False)
                variants["+ CUDA graphs"] = (replace(base, cuda_graphs=True), False)
            everything = replace(base, compile=True, channels_last=True, fused_adam=is_cuda, cuda_graphs=is_cuda)
            variants["all together"] = (everything, False)
        else:
            switches = [k for k in ("compile", "fused_adam", "cuda_graphs") if getattr(asked, k)]
            if asked.channels_last is not None:
                switches.append("channels-last" if asked.channels_last else "no channels-last")
            variants = {"course (default)": (base, False)}
            if switches:  # the fast path beside the default, in the same rounds
                variants[f"course ({', '.join(switches)})"] = (asked, False)
        loops, flops = {}, {}
        for name, (cfg, old_g_step) in variants.items():
            loop = course_loop(images, cfg, device)
            if old_g_step:  # this loop's G step computes D's gradients, as before
                loops[name] = _with_trainable_D(loop)
            else:
                loops[name] = loop
            eager = _with_trainable_D(course_loop(images, base, device)) if old_g_step else course_loop(images, base, device)
            eager()
            flops[name] = step_flops(eager)
        ref = reference_loop(images, size, width, args.batch_size, device, args.ref_workers)
        ref()
        flops["reference"] = step_flops(ref)
        loops["reference"] = ref
        rates = interleave(loops, device, args.steps, args.rounds, args.warmup, args.batch_size)
        title = f"{size}x{size}, width {width}, batch {args.batch_size} ({device}, {args.precision})"
        markdown += [f"\n{title}\n", "| loop | images/s | ms/step | GFLOP/step | share of peak | × reference | best window | × reference (best) |",
                     "|---|---|---|---|---|---|---|---|"]
        markdown += report(title, rates, flops, args.batch_size, peak)
    print("\nMarkdown:" + "\n".join(markdown))


def _with_trainable_D(loop: Callable[[], None]) -> Callable[[], None]:
    def step() -> None:
        frozen = course.frozen
        course.frozen = trainable_D()  # g_step looks `frozen` up when it runs
        try:
            loop()
        finally:
            course.frozen = frozen

    return step


if __name__ == "__main__":
    main()
