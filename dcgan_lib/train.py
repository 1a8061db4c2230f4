"""The DCGAN training loop: paper defaults, fast on a GPU, exact resume on a CPU.

Speed notes: the losses and D outputs are summed on the device and read back only every `log_every`
steps (each `.item()` would stall a GPU); in-memory datasets are batched on the device; bf16/fp16
autocast and channels-last are used on CUDA when asked for.
Reproducibility: the data order depends on (seed, epoch) only and the noise comes from a generator whose
state is checkpointed, so a resumed CPU run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from . import __version__
from .checkpoint import arch_of, atomic_save, check_arch, load, load_weights
from .data import ImageData, load_data
from .errors import CheckpointError, DCGANError, TrainingDiverged
from .latent import sample_z
from .models import Discriminator, Generator, generate, real_slope
from .viz import save_grid


@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults: the paper's optimiser, sized for a 2-core CPU."""

    dataset: str = "faces"
    image_size: int = 32
    n_images: int = 20_000  # procedural faces only; real datasets use all their images
    nz: int = 100
    width: int = 32  # ngf = ndf; 32 is CPU-sized (~1,000 images/s on 2 cores at 32x32), the tutorial's 64 suits GPUs
    batch_size: int = 128
    lr: float = 2e-4
    lr_D: float | None = None  # None: D uses `lr` too (notebook 03 raises it to show D winning)
    beta1: float = 0.5
    beta2: float = 0.999
    epochs: int = 25  # 25 x 20,000 faces: about 8 minutes on 2 CPU cores
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"  # fp32 | bf16 | fp16 (autocast, CUDA only)
    out: str = "runs/faces32"
    checkpoint_every: int = 200  # steps; a checkpoint is also written at every epoch end
    log_every: int = 20  # steps between reads of the loss sums (device syncs)
    data_root: str = "data"
    download: bool = False
    channels: int | None = None  # None: the dataset's own
    eval_every: int = 0  # epochs between evaluations recorded in the history (0: never)
    progress: bool = True
    variant: str = "dcgan"  # or an ablation from dcgan_lib.architecture.VARIANTS (notebook 02)
    init_from: str | None = None  # start from this checkpoint's G and D weights (fine-tuning); Adam starts afresh
    r1: float = 0.0  # R1 penalty weight gamma on |grad D(real)|^2 (0: off, the paper's loss; notebook 01's remedy)
    feature_matching: float = 0.0  # weight of |mean f(real) - mean f(fake)|^2 in G's loss, f = D's last hidden layer (0: off)

    def check(self) -> None:
        """Raise a one-line DCGANError for a setting no run can use (train() calls it before any work)."""
        for k in ("epochs", "batch_size", "n_images", "nz", "width", "log_every"):
            if not (isinstance(getattr(self, k), int) and getattr(self, k) > 0):
                raise DCGANError(f"{k} must be a positive integer, got {getattr(self, k)!r}")
        for k in ("checkpoint_every", "eval_every"):
            if not (isinstance(getattr(self, k), int) and getattr(self, k) >= 0):
                raise DCGANError(f"{k} must be 0 or a positive integer, got {getattr(self, k)!r}")
        for k in ("lr", "lr_D"):
            v = getattr(self, k)
            if v is not None and not (math.isfinite(v) and v >= 0):  # 0 freezes a network (a test, a demo)
                raise DCGANError(f"{k} is a learning rate and must be >= 0, got {v}")
        for k in ("beta1", "beta2"):
            if not 0 <= getattr(self, k) < 1:
                raise DCGANError(f"{k} must be in [0, 1), got {getattr(self, k)}")
        for k in ("r1", "feature_matching"):
            if not (math.isfinite(getattr(self, k)) and getattr(self, k) >= 0):
                raise DCGANError(f"--{k.replace('_', '-')} is a loss weight and must be >= 0, got {getattr(self, k)}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise DCGANError(f"unknown precision {self.precision!r}: use fp32, bf16 or fp16")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """A config from a dict (e.g. a checkpoint's), ignoring keys this version does not know."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


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


Callback = Callable[[str, TrainState], None]  # event: "log" | "epoch" | "checkpoint" | "end"


def feature_mismatch(D: Discriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Feature matching (Salimans et al. 2016): squared distance between the batch means of D's last hidden
    layer (B, C, 4, 4) on real and on fake images, summed over its C*16 values.

    Real and fake go through D as one batch: with separate batches D's BatchNorm would subtract each batch's
    own mean, which is exactly the difference this term measures. Gradients reach G through `fake` only."""
    hidden = D.layer_names[-2]  # the layer before the logit
    f = D.features(torch.cat([real.detach(), fake]), [hidden])[hidden].float().flatten(1)  # (2B, C*16)
    return (f[: len(real)].mean(0).detach() - f[len(real):].mean(0)).pow(2).sum()


def pick_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple MPS, then CPU; or the device named."""
    if name != "auto":
        try:
            device = torch.device(name)
        except RuntimeError:
            raise DCGANError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DCGANError("--device cuda asked for but no CUDA GPU is visible: use --device cpu or auto")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise DCGANError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s), numbered from 0")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DCGANError("--device mps asked for but MPS is not available: use --device cpu or auto")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def build_models(cfg: TrainConfig, channels: int) -> tuple[Generator, Discriminator]:
    """G and D for a config, initialised from `cfg.seed` without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.variant != "dcgan":
            from .architecture import build_variant  # the ablations of notebook 02

            return build_variant(cfg.variant, cfg.image_size, channels, cfg.nz, cfg.width)
        return Generator(cfg.image_size, channels, cfg.nz, cfg.width), Discriminator(cfg.image_size, channels, cfg.width)


def train(
    cfg: TrainConfig,
    resume: bool | str | Path = False,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    data: ImageData | None = None,
) -> TrainState:
    """Train a DCGAN; `resume=True` continues `cfg.out/checkpoint.pt` (or a path), exactly where it stopped.

    Writes `checkpoint.pt`, `history.json` and `samples/epoch_NNN.png` under `cfg.out`. An in-memory `data`
    is moved to the training device in place (on a GPU, `data.images` stays there afterwards).
    """
    cfg.check()
    out = Path(cfg.out)
    ckpt_path = out / "checkpoint.pt"
    ckpt, src = None, ckpt_path
    if resume:
        src = ckpt_path if resume is True else Path(resume)
        ckpt = load(src)
        saved = TrainConfig.from_dict(ckpt["config"])
        # the architecture and the data must match; the length of the run may grow
        check_arch(ckpt, {"image_size": cfg.image_size, "nz": cfg.nz, "width": cfg.width, "variant": cfg.variant}, src)
        for k in ("dataset", "n_images", "batch_size", "seed"):
            if getattr(saved, k) != getattr(cfg, k):
                raise CheckpointError(f"{src} was trained with {k}={getattr(saved, k)!r}, this run asks for {getattr(cfg, k)!r}: resume with the same settings")
        if "opt_G" in ckpt:  # a run in progress: Adam's saved state holds its rates, and the losses must stay the same
            for k in ("lr", "lr_D", "beta1", "beta2", "r1", "feature_matching"):
                if getattr(saved, k) != getattr(cfg, k):
                    raise CheckpointError(
                        f"{src} was trained with {k}={getattr(saved, k)!r}, this run asks for {getattr(cfg, k)!r}: --resume continues "
                        "a run exactly, so resume with the same settings, or start a new run from its weights with --init-from")
        if ckpt["epoch"] >= cfg.epochs:  # the loop would not run a single step
            raise DCGANError(f"{src} has already trained {ckpt['epoch']} epoch{'s' * (ckpt['epoch'] != 1)} (asked for {cfg.epochs}): nothing to do; "
                             "pass a larger --epochs")
    elif ckpt_path.exists():
        raise DCGANError(f"{ckpt_path} already exists: pass --resume to continue it, or choose a new --out folder")

    device = pick_device(cfg.device)
    if cfg.eval_every:
        from .evaluate import check_evaluable  # fail now, not at the first evaluation an epoch later

        check_evaluable(cfg.dataset)
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

    G, D = build_models(cfg, data.channels)
    G.to(device), D.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=cfg.lr if cfg.lr_D is None else cfg.lr_D, betas=(cfg.beta1, cfg.beta2))
    noise = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    fixed_z = sample_z(64, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 2)).to(device)
    state = TrainState(cfg, G, D, fixed_z=fixed_z, out=out)
    if ckpt is not None:
        load_weights(G, ckpt, "G"), load_weights(D, ckpt, "D")
        if "opt_G" in ckpt:  # exported checkpoints carry no optimiser state: Adam then starts afresh
            opt_G.load_state_dict(ckpt["opt_G"]), opt_D.load_state_dict(ckpt["opt_D"])
        try:
            noise.set_state(ckpt["rng"]["noise"])
        except RuntimeError:  # a CUDA generator's state is 16 bytes, a CPU one's 5056
            raise CheckpointError(f"{src} was trained on another device type than {device.type}: resume it on that device, "
                                  "or start a new run from its weights with --init-from") from None
        state.step, state.history, state.elapsed_s = ckpt["step"], list(ckpt["history"]), ckpt["elapsed_s"]

    elif cfg.init_from:  # a new run (step 0, its own history) that starts from trained weights
        init = load(cfg.init_from)
        check_arch(init, {"image_size": cfg.image_size, "nz": cfg.nz, "width": cfg.width, "variant": cfg.variant,
                          "channels": data.channels}, Path(cfg.init_from))
        load_weights(G, init, "G"), load_weights(D, init, "D")

    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[cfg.precision]  # checked by cfg.check()
    use_amp = autocast_dtype is not None and device.type == "cuda"
    if autocast_dtype is not None and not use_amp:
        import warnings

        warnings.warn(f"--precision {cfg.precision} applies on CUDA only; training in fp32 on {device}", stacklevel=2)
    if cfg.r1 and use_amp and autocast_dtype == torch.float16:
        raise DCGANError("--r1 differentiates D's gradient, which fp16 loss scaling does not cover: use --precision bf16 or fp32")
    fp16_scaling = use_amp and autocast_dtype == torch.float16
    if hasattr(torch.amp, "GradScaler"):
        scaler = torch.amp.GradScaler("cuda", enabled=fp16_scaling)
    else:  # torch < 2.3 (pyproject allows 2.2) has only the CUDA one, deprecated from 2.4 on
        scaler = torch.cuda.amp.GradScaler(enabled=fp16_scaling)
    bce = nn.BCEWithLogitsLoss()
    steps_per_epoch = data.steps_per_epoch(cfg.batch_size)
    total = cfg.epochs * steps_per_epoch
    (out / "samples").mkdir(parents=True, exist_ok=True)

    # running sums on the device: loss_D, loss_G, D(x), D(G(z)), count
    sums = torch.zeros(5, device=device)
    t_start = time.perf_counter() - state.elapsed_s

    def flush() -> None:
        if sums[4].item() == 0:
            return
        s = (sums[:4] / sums[4]).tolist()
        sums.zero_()
        if not all(math.isfinite(v) for v in s):
            kept = f"the last good checkpoint is kept in {ckpt_path}" if ckpt_path.exists() else "no checkpoint was written yet"
            fix = "lower --lr" + (" or use --precision fp32" if cfg.precision != "fp32" else "")
            raise TrainingDiverged(
                f"loss became {'NaN' if any(math.isnan(v) for v in s) else 'infinite'} at step {state.step}: {kept}; {fix}"
            )
        state.elapsed_s = time.perf_counter() - t_start
        rec = {"step": state.step, "epoch": state.step / steps_per_epoch, "loss_D": s[0], "loss_G": s[1], "D_x": s[2], "D_G_z": s[3], "time_s": state.elapsed_s}
        state.history.append(rec)
        if bar is not None:
            bar.set_postfix(loss_D=f"{s[0]:.3f}", loss_G=f"{s[1]:.3f}", D_x=f"{s[2]:.2f}", D_G_z=f"{s[3]:.2f}")
        emit("log")

    def emit(event: str) -> None:
        for cb in callbacks:
            cb(event, state)

    def save() -> None:
        flush()  # never checkpoint weights that produced a NaN we have not looked at yet
        state.elapsed_s = time.perf_counter() - t_start
        atomic_save(
            {
                "format": "dcgan_lib.checkpoint/1",
                "version": __version__,
                "arch": arch_of(G),
                "config": asdict(cfg),
                "G": G.state_dict(), "D": D.state_dict(),
                "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(),
                "step": state.step, "epoch": state.step // steps_per_epoch,
                "rng": {"noise": noise.get_state()},
                "fixed_z": fixed_z.cpu(),
                "history": state.history,
                "elapsed_s": state.elapsed_s,
                "meta": {"device": str(device), "torch": str(torch.__version__), "dataset_size": len(data)},
            },
            ckpt_path,
        )
        (out / "history.json").write_text(json.dumps(state.history))
        emit("checkpoint")

    bar = None
    if cfg.progress:
        from tqdm.auto import tqdm

        import sys

        # in a log file (not a terminal) redraw rarely, or the log fills with one line per step
        bar = tqdm(total=total, initial=state.step, desc=f"{cfg.dataset} {cfg.image_size}px", unit="step", dynamic_ncols=True,
                   mininterval=0.1 if sys.stderr.isatty() else 30.0)
    ones = torch.ones(cfg.batch_size, device=device)
    zeros = torch.zeros(cfg.batch_size, device=device)
    try:
        for epoch in range(state.step // steps_per_epoch, cfg.epochs):
            state.epoch = epoch
            skip = state.step - epoch * steps_per_epoch
            for real in data.batches(cfg.batch_size, epoch, cfg.seed, device, skip=skip):
                if device.type == "cuda":
                    real = real.contiguous(memory_format=torch.channels_last)
                z = sample_z(cfg.batch_size, cfg.nz, device=device, generator=noise)
                with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=use_amp):
                    # D step: real batch labelled 1, fake batch labelled 0, as separate batches so
                    # BatchNorm never mixes real and fake statistics (the paper's and tutorial's practice)
                    fake = G(z)
                    if cfg.r1:
                        real = real.detach().requires_grad_(True)
                    d_real = D(real)
                    d_fake = D(fake.detach())  # detach: this step updates D only
                    loss_D = bce(d_real.float(), ones) + bce(d_fake.float(), zeros)
                    if cfg.r1:  # R1: keeps D from sharpening without limit around the real images
                        loss_D = loss_D + cfg.r1 / 2 * real_slope(d_real.float(), real).mean()
                opt_D.zero_grad(set_to_none=True)
                scaler.scale(loss_D).backward()
                scaler.step(opt_D)
                with torch.autocast(device.type, dtype=autocast_dtype or torch.float32, enabled=use_amp):
                    # G step, non-saturating: maximise log D(G(z)) by labelling the fakes 1
                    loss_G = bce(D(fake).float(), ones)
                    if cfg.feature_matching:
                        loss_G = loss_G + cfg.feature_matching * feature_mismatch(D, real, fake)
                opt_G.zero_grad(set_to_none=True)
                scaler.scale(loss_G).backward()
                scaler.step(opt_G)
                scaler.update()
                with torch.no_grad():
                    sums += torch.stack([loss_D.detach(), loss_G.detach(), torch.sigmoid(d_real.float()).mean(),
                                         torch.sigmoid(d_fake.float()).mean(), torch.ones((), device=device)])
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
            state.last_grid = save_grid(generate(G, fixed_z), out / "samples" / f"epoch_{epoch + 1:03d}.png")
            if cfg.eval_every and (epoch + 1) % cfg.eval_every == 0:
                t_eval = time.perf_counter()
                _record_evaluation(state, data)
                t_start += time.perf_counter() - t_eval  # time_s counts training only, not evaluating
            save()
            emit("epoch")
    finally:
        if bar is not None:
            bar.close()
    state.elapsed_s = time.perf_counter() - t_start
    emit("end")
    return state


def _record_evaluation(state: TrainState, data: ImageData) -> None:
    """Append the evaluation numbers (see `dcgan_lib.evaluate`) to the last history record."""
    from .evaluate import N_RATES, evaluate_generator  # imported late: evaluation is optional in a run

    train_images = data.images.cpu() if data.images is not None else None  # for the memorisation check
    result = evaluate_generator(state.G, data.name, n=2000, seed=state.config.seed, train_images=train_images,
                                n_rates=N_RATES)  # faces: rates on 10,000 images, as `dcgan evaluate` reports them
    state.history.append({"step": state.step, "epoch": float(state.epoch), "time_s": state.elapsed_s, **result.summary()})
