"""A training run's settings: one dataclass with the paper's defaults, shared by `dcgan train` and the notebooks.

It imports nothing heavy, so the `dcgan` command can show its options (and `--help`) without loading torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from .errors import DCGANError

# Faces attribute rates are measured on this many generated and real images by `dcgan evaluate`, the model
# cards and `--eval-every`: the standard error of a difference of two rates is then 0.007, against 0.016 at the
# 2,000 images of the Fréchet sets.
N_RATES = 10_000
FLOAT32_MAX = 3.4028234663852886e38  # a rate or a weight above it cannot even be stored in the run's float32 tensors

@dataclass
class TrainConfig:
    """Everything that defines a run. Defaults: the paper's optimiser, sized for a 2-core CPU."""

    dataset: str = "faces"
    image_size: int = 32
    n_images: int = 20_000  # procedural faces only; real datasets use all their images
    nz: int = 100
    width: int = 32  # ngf = ndf; 32 is CPU-sized (~1,000 images/s on 2 cores at 32x32), the tutorial's 64 suits GPUs
    batch_size: int = 128  # the global batch: with torchrun, each of N processes takes batch_size / N of it
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
    # Speed (docs/performance.md). Off, a run is the paper's eager fp32 step; each only changes how it is computed.
    compile: bool = False  # torch.compile G and D (eager again, with one warning line, where it cannot)
    channels_last: bool | None = None  # images as (B, S, S, C) in memory; None: on CUDA only
    fused_adam: bool = False  # Adam's fused CUDA kernel (a CPU keeps the foreach kernel, the default there too)
    cuda_graphs: bool = False  # the whole step captured once as a CUDA graph and replayed (CUDA, one process)
    sync_bn: bool = False  # with torchrun on GPUs: BatchNorm statistics over the global batch, not each process's share

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
            if v is not None and not (math.isfinite(v) and 0 <= v <= FLOAT32_MAX):  # 0 freezes a network (a test, a demo)
                raise DCGANError(f"{k} is a learning rate and must be between 0 and {FLOAT32_MAX:.1e} (float32's largest), got {v}")
        for k in ("beta1", "beta2"):
            if not 0 <= getattr(self, k) < 1:
                raise DCGANError(f"{k} must be in [0, 1), got {getattr(self, k)}")
        for k in ("r1", "feature_matching"):
            if not (math.isfinite(getattr(self, k)) and 0 <= getattr(self, k) <= FLOAT32_MAX):
                raise DCGANError(f"--{k.replace('_', '-')} is a loss weight and must be between 0 and {FLOAT32_MAX:.1e}, got {getattr(self, k)}")
        if self.precision not in ("fp32", "bf16", "fp16"):
            raise DCGANError(f"unknown precision {self.precision!r}: use fp32, bf16 or fp16")
        if self.cuda_graphs and self.precision == "fp16":
            raise DCGANError("--cuda-graphs cannot replay fp16's loss scaling (it reads the GPU every step): use --precision bf16 or fp32")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """A config from a dict (e.g. a checkpoint's), ignoring keys this version does not know."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
