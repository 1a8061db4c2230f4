"""The DCGAN training loop: the two half-steps the course teaches, and the run loop built from them.

`d_step` and `g_step` are the paper's alternating updates, written as notebook 03 and exercise 3 teach them;
`train` runs them over a dataset with checkpoints, logging and evaluation.
Speed notes: G(z) is drawn once per step for both half-steps; D's weights are frozen in G's half-step (their
gradients would be thrown away); the losses and D's outputs are summed on the device and read back only every
`log_every` steps (each `.item()` would stall a GPU); in-memory datasets are batched on the device. `TrainStep`
applies the switches of docs/performance.md (torch.compile, channels-last, CUDA graphs, fused Adam) and, under
torchrun, DistributedDataParallel; bf16/fp16 autocast is used on CUDA when asked for.
Reproducibility: the data order depends on (seed, epoch) only and the noise comes from a generator whose
state is checkpointed, so a resumed CPU run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import copy
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ContextManager, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .architecture import build_variant
from .checkpoint import (CheckpointWriter, check_arch, check_resumable, check_same_data, load, load_weights, locked_run_folder,
                         nonfinite, restore_run, run_checkpoint, saved_step)
from .config import N_RATES, TrainConfig
from .data import ImageData, load_data
from .device import check_memory, human_bytes, pick_device
from .distributed import World, joined, rank_device, sum_over_processes, world_from_env
from .errors import DCGANError, Interrupted, TrainingDiverged
from .evaluate import check_evaluable, evaluate_generator
from .latent import sample_z
from .models import Discriminator, Generator, forward_numel, generate, real_slope
from .torch_files import remove_stale_temporaries
from .viz import save_grid

Autocast = Callable[[], ContextManager[Any]]  # a fresh autocast context per use (nullcontext: fp32)


# -------------------------------------------------------------------------------------------- the two half-steps


class DStep(NamedTuple):
    """What D's half-step leaves: its loss and D's logits on the real and the fake batch (the run records
    their sigmoids as D(x) and D(G(z)))."""

    loss: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor


def d_step(G: torch.nn.Module, D: torch.nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor,
           *, fake: torch.Tensor | None = None, r1: float = 0.0, autocast: Autocast = nullcontext,
           scaler: torch.amp.GradScaler | None = None) -> DStep:
    """(1) Update D: one Adam step on BCE(D(x), 1) + BCE(D(G(z)), 0), maximising log D(x) + log(1 - D(G(z))).

    real (B, C, S, S) in [-1, 1], z (B, nz, 1, 1). Real and fake go through D as separate batches, so that
    BatchNorm never mixes their statistics (the paper's and the tutorial's practice). `fake`: G(z) when the
    caller drew it already (the run loop draws it once for both half-steps); `r1`: the weight of the R1
    penalty; `autocast`, `scaler`: mixed precision on a GPU."""
    with autocast():
        fake = G(z) if fake is None else fake
        if r1:
            real = real.detach().requires_grad_(True)
        real_logits = D(real)
        fake_logits = D(fake.detach())  # detach: D's loss must not reach into G (this step updates D only)
        loss = (F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float))
                + F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float)))
        if r1:  # R1: keeps D from sharpening without limit around the real images (notebook 01's remedy)
            loss = loss + r1 / 2 * real_slope(real_logits.float(), real).mean()
    _step(loss, opt_D, scaler)
    return DStep(loss.detach(), real_logits.detach(), fake_logits.detach())


def g_step(G: torch.nn.Module, D: torch.nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor,
           *, fake: torch.Tensor | None = None, real: torch.Tensor | None = None, feature_matching: float = 0.0,
           autocast: Autocast = nullcontext, scaler: torch.amp.GradScaler | None = None) -> torch.Tensor:
    """(2) Update G: one Adam step on the non-saturating loss BCE(D(G(z)), 1) = -log D(G(z)). The gradient flows
    through D into G (no detach), and only G's optimiser steps. Returns G's loss.

    D is `frozen` meanwhile: the gradient still passes through D to G, but D's own weight gradients, which D's
    next zero_grad would throw away, are never computed (8% of a step's work; G's update is the same to the bit).
    `fake`: G(z) when the caller drew it already; `feature_matching` adds that weight times `feature_mismatch`
    (it needs the `real` batch); `autocast`, `scaler`: mixed precision on a GPU."""
    with autocast(), frozen(D):
        fake = G(z) if fake is None else fake
        logits = D(fake)
        loss = F.binary_cross_entropy_with_logits(logits.float(), torch.ones_like(logits, dtype=torch.float))
        if feature_matching:
            loss = loss + feature_matching * feature_mismatch(D, real, fake)
    _step(loss, opt_G, scaler)
    return loss.detach()


def _step(loss: torch.Tensor, opt: torch.optim.Optimizer, scaler: torch.amp.GradScaler | None) -> None:
    """zero_grad, backward, step: gradients add up across backward passes, so each step starts from zero."""
    opt.zero_grad(set_to_none=True)
    if scaler is None:
        loss.backward()
        opt.step()
    else:  # fp16: scale the loss so small gradients survive, unscale before the step
        scaler.scale(loss).backward()
        scaler.step(opt)


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Within the block, `model`'s weights are constants to autograd: what passes through it is still
    differentiated, its own weight gradients are not. Afterwards they train again."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p in params:
            p.requires_grad_(True)


def feature_mismatch(D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016): squared distance between the batch means of D's last hidden
    layer (B, C, 4, 4) on real and on fake images, summed over its C*16 values.

    Real and fake go through D as one batch: with separate batches D's BatchNorm would subtract each batch's
    own mean, which is exactly the difference this term measures. Gradients reach G through `fake` only."""
    hidden = D.layer_names[-2]  # the layer before the logit
    f = D.features(torch.cat([real.detach(), fake]), [hidden])[hidden].float().flatten(1)  # (2B, C*16)
    return (f[: len(real)].mean(0).detach() - f[len(real):].mean(0)).pow(2).sum()


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class TrainState:
    """What callbacks see: the models, the counters, the history so far."""

    config: TrainConfig
    G: Generator
    D: Discriminator
    step: int = 0
    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    fixed_z: torch.Tensor | None = None
    out: Path = Path(".")
    elapsed_s: float = 0.0
    last_grid: Path | None = None


# event: "log" | "epoch" | "checkpoint" (a checkpoint of this step is being written; on disk by the next one or the
# run's end) | "end"
Callback = Callable[[str, TrainState], None]


def build_models(cfg: TrainConfig, channels: int) -> tuple[Generator, Discriminator]:
    """G and D for a config, initialised from `cfg.seed` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.variant != "dcgan":  # the ablations of notebook 02
            return build_variant(cfg.variant, cfg.image_size, channels, cfg.nz, cfg.width)
        return Generator(cfg.image_size, channels, cfg.nz, cfg.width), Discriminator(cfg.image_size, channels, cfg.width)


def mixed_precision(device: torch.device, precision: str, graphs: bool = False) -> tuple[Autocast, torch.amp.GradScaler | None]:
    """The autocast context and the loss scaler for `precision` (fp32 | bf16 | fp16): autocast on CUDA only,
    the scaler for fp16 only. `graphs`: no cast cache, which a replayed CUDA graph must not keep."""
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]  # checked by TrainConfig.check()
    if dtype is None:
        return nullcontext, None
    if device.type != "cuda":
        warnings.warn(f"--precision {precision} applies on CUDA only; training in fp32 on {device}", stacklevel=3)
        return nullcontext, None
    scaler = None
    if dtype == torch.float16:
        # torch < 2.3 (pyproject allows 2.2) has only the CUDA one, deprecated from 2.4 on
        scaler = torch.amp.GradScaler("cuda") if hasattr(torch.amp, "GradScaler") else torch.cuda.amp.GradScaler()
    return (lambda: torch.autocast("cuda", dtype=dtype, cache_enabled=not graphs)), scaler


# ------------------------------------------------------------------------------------ the step, made fast


def uses_channels_last(cfg: TrainConfig, device: torch.device) -> bool:
    """Whether a run keeps images and weights channels-last: `cfg.channels_last`, or by default on CUDA only."""
    return device.type == "cuda" if cfg.channels_last is None else cfg.channels_last


def place(G: nn.Module, D: nn.Module, cfg: TrainConfig, device: torch.device) -> None:
    """Move both networks to the run's device, in its memory format."""
    G.to(device), D.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    if uses_channels_last(cfg, device):
        G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)


def make_optimisers(cfg: TrainConfig, G: nn.Module, D: nn.Module, device: torch.device) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for G and for D at the run's rates. Its foreach kernel by default (the same numbers as the for-loop
    to the bit on a CPU, and torch's own default on CUDA); `fused_adam`: the fused CUDA kernel; `cuda_graphs`:
    the capturable form, whose step counter stays on the GPU."""
    kw: dict[str, Any] = {"foreach": True} if device.type in ("cpu", "cuda") else {}
    if cfg.fused_adam and device.type == "cuda":
        kw = {"fused": True}
    elif cfg.fused_adam:
        warnings.warn(f"--fused-adam applies on CUDA only; Adam keeps its foreach kernel on {device}", stacklevel=2)
    if cfg.cuda_graphs and device.type == "cuda":
        kw["capturable"] = True
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **kw)
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr if cfg.lr_D is None else cfg.lr_D, betas=(cfg.beta1, cfg.beta2), **kw)
    return opt_G, opt_D


class TrainStep:
    """One step of a run, as `train()` takes it for every batch: draw z, G(z) once, `d_step`, `g_step`. Returns
    (loss_D, loss_G, D(x), D(G(z)), 1) on the device for the run to add up; nothing is read back to the host
    (a returned tensor holds until the next step). With `world.size` processes each takes its slice of the
    global z and `real` is its slice of the global batch.

    The run's speed switches live here, and none changes what is computed:
    - `compile`: G and D through torch.compile. If compiling fails, the first step is undone (weights, Adam,
      noise) and taken again eagerly, with one warning line. D's half-step stays eager with R1, whose
      gradient penalty torch.compile cannot differentiate twice.
    - channels-last images (`uses_channels_last`).
    - `cuda_graphs`: after three eager warm-up steps the whole step (noise included) is captured once as a
      CUDA graph, then replayed with each new batch copied in: one launch instead of hundreds.
    - several processes: DistributedDataParallel averages the gradients. BatchNorm buffers are not broadcast
      (D runs twice, real then fake, before its backward; DDP's broadcast between them breaks that backward,
      pytorch/pytorch#175024): each process keeps its own running statistics and process 0's are saved.
      `sync_bn` (GPUs) normalises over the global batch instead.
    """

    def __init__(self, G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer,
                 noise: torch.Generator, cfg: TrainConfig, device: torch.device, world: World = World()):
        self.G, self.D, self.opt_G, self.opt_D, self.noise = G, D, opt_G, opt_D, noise
        self.cfg, self.device, self.world = cfg, device, world
        self.channels_last = uses_channels_last(cfg, device)
        self.graphs = cfg.cuda_graphs and device.type == "cuda" and world.size == 1
        if cfg.cuda_graphs and not self.graphs:
            why = "one process" if device.type == "cuda" else "CUDA"
            warnings.warn(f"--cuda-graphs applies to {why} only; the step runs without", stacklevel=2)
        self.autocast, self.scaler = mixed_precision(device, cfg.precision, graphs=self.graphs)
        self.one = torch.ones((), device=device)
        if cfg.sync_bn and world.size > 1:
            if device.type != "cuda":
                raise DCGANError("--sync-bn needs GPUs (torch's SyncBatchNorm runs on CUDA only): leave it out on CPUs")
            nn.SyncBatchNorm.convert_sync_batchnorm(G), nn.SyncBatchNorm.convert_sync_batchnorm(D)  # same weights, in place
        if world.size > 1:
            ids = [device.index] if device.type == "cuda" else None
            G_run: nn.Module = DistributedDataParallel(G, device_ids=ids, broadcast_buffers=False)
            D_run: nn.Module = DistributedDataParallel(D, device_ids=ids, broadcast_buffers=False)
        else:
            G_run, D_run = G, D
        # what the step calls: G, D in D's half-step, and D in G's half-step, where D's weights are constants
        # with nothing to share between processes (so the plain module, never DDP's)
        self.eager = (G_run, D_run, D)
        self.nets = self.eager
        self.first_compiled = False
        if cfg.compile:
            self.nets = (torch.compile(G_run), D_run if cfg.r1 else torch.compile(D_run), torch.compile(D))
            self.first_compiled = True
            if cfg.r1:
                warnings.warn("--compile: D's half-step stays eager with --r1 (torch.compile cannot differentiate "
                              "its gradient penalty twice); G and G's half-step are compiled", stacklevel=2)
        self.warm, self.graph, self.static_real, self.static_out = 0, None, None, None

    def __call__(self, real: torch.Tensor) -> torch.Tensor:
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        if self.graphs:
            return self._graphed(real)
        return self._try_compiled(real) if self.first_compiled else self._step(real)

    def _step(self, real: torch.Tensor) -> torch.Tensor:
        G, D, D_in_G_step = self.nets
        b = len(real)
        # every process draws the global z and takes its slice: together they use one process's noise
        z = sample_z(b * self.world.size, self.cfg.nz, device=self.device, generator=self.noise)
        z = z[self.world.rank * b : (self.world.rank + 1) * b]
        with self.autocast():
            fake = G(z)  # drawn once: D's half-step sees it detached, G's through D
        d = d_step(G, D, self.opt_D, real, z, fake=fake, r1=self.cfg.r1, autocast=self.autocast, scaler=self.scaler)
        loss_G = g_step(G, D_in_G_step, self.opt_G, z, fake=fake, real=real, feature_matching=self.cfg.feature_matching,
                        autocast=self.autocast, scaler=self.scaler)
        if self.scaler is not None:
            self.scaler.update()
        with torch.no_grad():
            return torch.stack([d.loss, loss_G, torch.sigmoid(d.real_logits.float()).mean(),
                                torch.sigmoid(d.fake_logits.float()).mean(), self.one])

    def _try_compiled(self, real: torch.Tensor) -> torch.Tensor:
        """The first step with compiled networks (compiling happens here): if it fails, undo it and go eager."""
        self.first_compiled = False
        saved = copy.deepcopy([self.G.state_dict(), self.D.state_dict(), self.opt_G.state_dict(), self.opt_D.state_dict(),
                               self.scaler.state_dict() if self.scaler is not None else {}])
        noise = self.noise.get_state()
        try:
            return self._step(real)
        except Exception as e:  # whatever stops compiling (no C++ compiler, an unsupported op): run eagerly
            self.G.load_state_dict(saved[0]), self.D.load_state_dict(saved[1])
            self.opt_G.load_state_dict(saved[2]), self.opt_D.load_state_dict(saved[3])
            if self.scaler is not None:
                self.scaler.load_state_dict(saved[4])
            self.noise.set_state(noise)
            self.nets = self.eager
            warnings.warn(f"--compile: running eagerly, torch.compile failed: {_first_line(e)}", stacklevel=3)
            return self._step(real)

    def _graphed(self, real: torch.Tensor) -> torch.Tensor:
        if self.graph is None and self.warm < 3:
            # eager steps first, on a side stream (torch.cuda.graph's rule): cuDNN's autotuning, Adam's state
            # and any compiling happen before the capture
            self.warm += 1
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                out = self._try_compiled(real) if self.first_compiled else self._step(real)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return out
        if self.graph is None:
            try:
                self.static_real = real.clone()
                graph = torch.cuda.CUDAGraph()
                graph.register_generator_state(self.noise)  # the noise is drawn inside: each replay advances it
                with torch.cuda.graph(graph):  # records the step without running it
                    self.static_out = self._step(self.static_real)
                self.graph = graph
            except Exception as e:
                self.graphs, self.static_real, self.static_out = False, None, None
                warnings.warn(f"--cuda-graphs: running without, capturing the step failed: {_first_line(e)}", stacklevel=3)
                return self._step(real)
        self.static_real.copy_(real)
        self.graph.replay()
        return self.static_out


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:200] if text else type(e).__name__


def memory_needed(cfg: TrainConfig, channels: int) -> dict[str, int]:
    """Bytes a run needs, by what holds them: G and D with their gradients and Adam's two moments (16 bytes a
    parameter) and the host copy a checkpoint is written from (12 more), the layer outputs of a batch (G's, and
    D's on a real and a fake batch), and the procedural faces in memory. Counted on the meta device: nothing is
    allocated, so an impossible --width is refused in milliseconds. On a CPU, before the checkpoint's copy was
    counted, it came to 1.25 times the peak memory measured at width 64, 64x64, batch 256."""
    with torch.device("meta"):
        G, D = build_models(cfg, channels)
    z = torch.zeros(1, cfg.nz, 1, 1, device="meta")
    outputs = {"G": forward_numel(G, z), "D": forward_numel(D, torch.zeros(1, channels, cfg.image_size, cfg.image_size, device="meta"))}
    params = sum(p.numel() for model in (G, D) for p in model.parameters())
    return {"models": (16 + 12) * params,
            "activations": 4 * cfg.batch_size * (outputs["G"] + 2 * outputs["D"]),
            "data": 4 * cfg.n_images * cfg.image_size ** 2 if cfg.dataset == "faces" else 0}  # uint8 RGB images and masks


def check_run_fits(cfg: TrainConfig, channels: int, device: torch.device) -> None:
    """Refuse, in one line naming what takes the memory, a run that cannot fit on `device`."""
    need = memory_needed(cfg, channels)
    parts = f"G and D with Adam {human_bytes(need['models'])}, a batch of {cfg.batch_size} {human_bytes(need['activations'])}"
    if need["data"]:
        parts += f", {cfg.n_images:,} faces {human_bytes(need['data'])}"
    check_memory(sum(need.values()), device, f"this run ({parts})",
                 "use a smaller --width, --nz, --batch-size or --n-images")


def train(
    cfg: TrainConfig,
    resume: bool | str | Path = False,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    data: ImageData | None = None,
) -> TrainState:
    """Train a DCGAN; `resume=True` continues `cfg.out/checkpoint.pt` (or a path), exactly where it stopped.

    Writes `checkpoint.pt`, `history.json` and `samples/epoch_NNN.png` under `cfg.out`, which is locked while
    the run writes to it (a second run there is refused in one line) and cleared of the temporary files a
    killed run left. Before every checkpoint the weights, BatchNorm statistics and Adam's state are checked to
    be finite, so no checkpoint ever holds a NaN: a run that diverges stops with `TrainingDiverged`, keeping the
    last good one. Ctrl-C raises `Interrupted` (a KeyboardInterrupt) saying which checkpoint is kept.
    An in-memory `data` is moved to the training device in place (on a GPU, `data.images` stays there afterwards).
    Under torchrun every process trains its share of each batch and process 0 holds the lock, writes the files
    and runs the callbacks (docs/performance.md).
    """
    cfg.check()
    world = world_from_env()
    device = rank_device(world, pick_device(cfg.device))
    with joined(world, device), (locked_run_folder(cfg.out) if world.is_main else nullcontext(Path(cfg.out))) as out:
        if world.is_main:
            for folder in (out, out / "samples"):
                remove_stale_temporaries(folder)
        try:
            return _run(cfg, out, resume, callbacks, data, world, device)
        except KeyboardInterrupt as e:
            if isinstance(e, Interrupted):
                raise
            path = out / "checkpoint.pt"  # what is on disk now is the truth, even if Ctrl-C came mid-save
            step = saved_step(path) if path.is_file() else None
            raise Interrupted("no checkpoint was written yet" if not path.is_file() else
                              f"the last checkpoint ({'step ' + str(step) if step is not None else 'unreadable'}) is kept in {path}; "
                              "resume with --resume") from None


def _run(cfg: TrainConfig, out: Path, resume: bool | str | Path, callbacks: list[Callback] | tuple[Callback, ...],
         data: ImageData | None, world: World, device: torch.device) -> TrainState:
    """`train` in its locked run folder, as one of `world`'s processes."""
    ckpt_path = out / "checkpoint.pt"
    ckpt, src = None, ckpt_path
    if resume:
        src = ckpt_path if resume is True else Path(resume)
        ckpt = load(src)
        check_resumable(ckpt, cfg, src)
    elif ckpt_path.exists():
        raise DCGANError(f"{ckpt_path} already exists: pass --resume to continue it, or choose a new --out folder")

    check_run_fits(cfg, ckpt["arch"]["channels"] if ckpt else cfg.channels or 3, device)
    if cfg.eval_every:
        check_evaluable(cfg.dataset)  # fail now, not at the first evaluation an epoch later
    if data is None:
        data = load_data(cfg.dataset, cfg.image_size, cfg.n_images, cfg.seed, cfg.data_root, cfg.download, cfg.channels)
    if data.image_size != cfg.image_size:
        raise DCGANError(f"the data is {data.image_size}x{data.image_size} but the run asks for {cfg.image_size}: use the same size")
    if len(data) < cfg.batch_size:
        raise DCGANError(f"{cfg.dataset} has {len(data)} images, fewer than one batch of {cfg.batch_size}: use a smaller --batch-size")
    if data.in_memory:
        data.to(device)
    if ckpt is not None:
        check_arch(ckpt, {"channels": data.channels}, src)
        check_same_data(ckpt, len(data), cfg, src)

    G, D = build_models(cfg, data.channels)
    place(G, D, cfg, device)
    opt_G, opt_D = make_optimisers(cfg, G, D, device)
    noise = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    fixed_z = sample_z(64, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 2)).to(device)
    state = TrainState(cfg, G, D, fixed_z=fixed_z, out=out)
    if ckpt is not None:
        state.step, state.history, state.elapsed_s = restore_run(ckpt, G, D, opt_G, opt_D, noise, src)
    elif cfg.init_from:  # a new run (step 0, its own history and noise) that starts from trained weights
        init = load(cfg.init_from)
        check_arch(init, {"image_size": cfg.image_size, "nz": cfg.nz, "width": cfg.width, "variant": cfg.variant,
                          "channels": data.channels}, Path(cfg.init_from))
        load_weights(G, init, "G")
        if "D" in init:  # a tutorial's netG.pth brings G alone: D then starts from its initialisation
            load_weights(D, init, "D")

    if cfg.r1 and cfg.precision == "fp16" and device.type == "cuda":
        raise DCGANError("--r1 differentiates D's gradient, which fp16 loss scaling does not cover: use --precision bf16 or fp32")
    step = TrainStep(G, D, opt_G, opt_D, noise, cfg, device, world)
    steps_per_epoch = data.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * steps_per_epoch

    # running sums on the device: loss_D, loss_G, D(x), D(G(z)), count
    sums = torch.zeros(5, device=device)
    t_start = time.perf_counter() - state.elapsed_s
    last_saved = ckpt["step"] if ckpt is not None else None  # every checkpoint written or resumed from is finite
    fix = "lower --lr" + (" or use --precision fp32" if cfg.precision != "fp32" else "")

    writer = CheckpointWriter(out, written=last_saved)  # process 0's checkpoints go to disk while the next steps run

    def kept() -> str:
        nonlocal last_saved
        if world.is_main:
            writer.close()  # say what is on disk: a write in flight finishes first
            last_saved = writer.written
        return "no checkpoint was written yet" if last_saved is None else \
            f"the last good checkpoint (step {last_saved}) is kept in {ckpt_path}"

    def flush() -> None:
        sum_over_processes(sums, world)  # the history holds the means over every process's share
        if sums[4].item() == 0:
            return
        s = (sums[:4] / sums[4]).tolist()
        sums.zero_()
        if not all(math.isfinite(v) for v in s):
            raise TrainingDiverged(
                f"loss became {'NaN' if any(math.isnan(v) for v in s) else 'infinite'} at step {state.step}: {kept()}; {fix}"
            )
        state.elapsed_s = time.perf_counter() - t_start
        rec = {"step": state.step, "epoch": state.step / steps_per_epoch, "loss_D": s[0], "loss_G": s[1], "D_x": s[2], "D_G_z": s[3], "time_s": state.elapsed_s}
        state.history.append(rec)
        if bar is not None:
            bar.set_postfix(loss_D=f"{s[0]:.3f}", loss_G=f"{s[1]:.3f}", D_x=f"{s[2]:.2f}", D_G_z=f"{s[3]:.2f}")
        emit("log")

    def emit(event: str) -> None:
        for cb in callbacks if world.is_main else ():
            cb(event, state)

    def check_finite(parts: dict[str, Any] | None = None) -> None:
        """The losses are computed before each update, so an update that overflowed shows in the weights, the
        BatchNorm statistics or Adam's moments first: look at all of them (one read-back)."""
        parts = parts or {"G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict()}
        bad = nonfinite(parts)
        if bad:
            raise TrainingDiverged(f"{', '.join(bad)} became NaN/inf by step {state.step} (the losses were still finite): "
                                   f"{kept()}; {fix}")

    def save() -> None:
        nonlocal last_saved
        flush()  # never checkpoint weights that produced a NaN we have not looked at yet
        state.elapsed_s = time.perf_counter() - t_start
        if not world.is_main:  # the weights are the same in every process: each checks, process 0 writes
            check_finite()
            last_saved = state.step
            return
        meta = {"device": str(device), "torch": str(torch.__version__), "dataset_size": len(data), "processes": world.size}
        ckpt = run_checkpoint(cfg, G, D, opt_G, opt_D, noise, fixed_z, state.step, state.step // steps_per_epoch,
                              state.history, state.elapsed_s, meta)
        check_finite(ckpt)
        writer.submit(ckpt)  # raises the previous write's error, if it failed; `kept` reads what reached the disk
        emit("checkpoint")

    bar = None
    if cfg.progress and world.is_main:
        # in a log file (not a terminal) redraw rarely, or the log fills with one line per step
        bar = tqdm(total=total, initial=state.step, desc=f"{cfg.dataset} {cfg.image_size}px", unit="step", dynamic_ncols=True,
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)
    try:
        for epoch in range(state.step // steps_per_epoch, cfg.epochs):
            state.epoch = epoch
            skip = state.step - epoch * steps_per_epoch
            for real in data.batches(cfg.batch_size, epoch, cfg.seed, device, skip=skip, rank=world.rank, world_size=world.size):
                sums += step(real)
                state.step += 1
                if bar is not None:
                    bar.update(1)
                if state.step % cfg.log_every == 0:
                    flush()
                # at an epoch's last step the epoch-end save below follows its grid and evaluation: saving here
                # first would let a resume skip them
                if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0 and state.step % steps_per_epoch:
                    save()
            state.epoch = epoch + 1
            flush()
            check_finite()  # before the grid and the evaluation: NaN pictures, an eigh failure on NaN features
            if world.is_main:
                state.last_grid = save_grid(generate(G, fixed_z), out / "samples" / f"epoch_{epoch + 1:03d}.png")
            if cfg.eval_every and (epoch + 1) % cfg.eval_every == 0 and world.is_main:
                t_eval = time.perf_counter()
                _record_evaluation(state, data)
                t_start += time.perf_counter() - t_eval  # time_s counts training only, not evaluating
            save()
            emit("epoch")
        writer.wait()  # the last checkpoint is on disk before the run returns
    finally:
        writer.close()  # leaving on an error: a write in flight still completes (or leaves the previous file)
        if bar is not None:
            bar.close()
    state.elapsed_s = time.perf_counter() - t_start
    emit("end")
    return state


def _record_evaluation(state: TrainState, data: ImageData) -> None:
    """Append the evaluation numbers (see `dcgan_lib.evaluate`) to the last history record."""
    train_images = data.images.cpu() if data.images is not None else None  # for the memorisation check
    result = evaluate_generator(state.G, data.name, n=2000, seed=state.config.seed, train_images=train_images,
                                n_rates=N_RATES)  # faces: rates on 10,000 images, as `dcgan evaluate` reports them
    state.history.append({"step": state.step, "epoch": float(state.epoch), "time_s": state.elapsed_s, **result.summary()})
