"""The course's own judges: small CNNs that read the attributes of procedural faces and the class of digits.

They exist so that a generator can be measured offline, without Inception weights: what share of its faces
smile, how far its samples' features sit from the data's (a Fréchet distance in *these* networks' feature
space, see `dcgan_lib.evaluate`), and whether it copies its training images.

One shipped network per dataset, trained by `dcgan train-classifier --kind faces|digits` and stored in
`data/classifiers/{faces,digits}.pt` with a card (`.json`) saying how it was made and how well it does:

* faces: 3 binary attributes (smiling, eyeglasses, long_hair), the head turn (regression in [-1, 1]) and the
  categoricals (hair colour, skin tone, background). Trained on fresh procedural faces, never the ones a
  generator is trained on (those use small seeds; see `FACES_TRAIN_SEED`).
* digits: the 10 classes of scikit-learn's 1797 handwritten digits (upsampled to 32x32 as `load_digits` does),
  trained on a fixed 75% split; the card reports accuracy on the other 25%.

Both take images in [-1, 1] (or uint8) at any size: inputs are resized to 32x32 (antialiased) inside
`forward`, so one network serves 16-, 32-, 64- and 128-pixel generators. `features()` returns the 128-d
penultimate layer divided by a stored `feature_scale` (the RMS over real training images), so real images'
features have unit RMS and distances in this space read on a fixed scale.
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .datasets import holdout_mask, load_digits
from .device import pick_device
from .errors import CheckpointError, DCGANError
from .faces import ATTRIBUTES, CATEGORIES, make_faces
from .images import to_model_range
from .torch_files import atomic_save, safe_load

FORMAT = "dcgan_lib.classifier/1"
KINDS = ("faces", "digits")
INPUT_SIZE = 32
FACES_TRAIN_SEED = 424_242  # fresh faces for the classifier: far from the small seeds generators train on
FACES_HELDOUT_SEED = 515_151  # its held-out faces
DIGITS_SPLIT_SEED = 0
FACE_CATEGORICAL = {k: len(v) for k, v in CATEGORIES.items()}  # hair colour 5, skin tone 4, background 5
HEADS: dict[str, dict[str, int]] = {
    "faces": {**{k: 1 for k in ATTRIBUTES}, "turn": 1, **FACE_CATEGORICAL},
    "digits": {"digit": 10},
}
CHANNELS = {"faces": 3, "digits": 1}


def classifier_dir() -> Path:
    """Where the shipped classifiers live: `data/classifiers/` at the root of the repository."""
    return Path(__file__).resolve().parents[1] / "data" / "classifiers"


class AttributeClassifier(nn.Module):
    """A small CNN: image (N, C, S, S) in [-1, 1] -> penultimate features (N, feature_dim) -> one head per target.

    Body: three stride-2 4x4 convs (32x32 -> 16 -> 8 -> 4; `width`, 2x, 4x channels), BatchNorm + ReLU after each, then
    a fully connected layer to `feature_dim` features (ReLU). Heads are linear: a binary attribute gives
    one logit, `turn` one number, a categorical target one logit per class.
    """

    def __init__(self, kind: str = "faces", channels: int | None = None, width: int = 32, feature_dim: int = 128,
                 heads: dict[str, int] | None = None):
        super().__init__()
        if kind not in KINDS:
            raise DCGANError(f"unknown classifier kind {kind!r}: choose faces or digits")
        self.kind, self.width, self.feature_dim = kind, width, feature_dim
        self.channels = CHANNELS[kind] if channels is None else channels
        self.head_sizes = dict(HEADS[kind] if heads is None else heads)
        w = width

        def block(cin: int, cout: int, k: int, stride: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, k, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.body = nn.Sequential(
            *block(self.channels, w, 4, 2),  # 32x32 -> 16x16
            *block(w, 2 * w, 4, 2),  # -> 8x8
            *block(2 * w, 4 * w, 4, 2),  # -> 4x4
            nn.Flatten(),
            nn.Linear(4 * w * 16, feature_dim),
            nn.ReLU(inplace=True),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(feature_dim, k) for name, k in self.head_sizes.items()})
        # features() divides by this, set after training so that real images' features have unit RMS: distances
        # (FD, KID's kernel, NN) then read on a fixed scale, like Inception features' (set by `set_feature_scale`)
        self.register_buffer("feature_scale", torch.ones(()))

    @property
    def arch(self) -> dict[str, Any]:
        """The numbers that rebuild this network: `AttributeClassifier(**arch)`."""
        return {"kind": self.kind, "channels": self.channels, "width": self.width, "feature_dim": self.feature_dim,
                "heads": dict(self.head_sizes)}

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or [-1, 1] images of any size and 1 or 3 channels -> float (N, channels, 32, 32) in [-1, 1].
        A 3-D input is a batch of grey images (N, H, W); pass one colour image as x[None]."""
        x = to_model_range(images)
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.shape[1] != self.channels:
            if x.shape[1] == 3 and self.channels == 1:
                x = x.mean(1, keepdim=True)
            elif x.shape[1] == 1 and self.channels == 3:
                x = x.expand(-1, 3, -1, -1)
            else:
                raise DCGANError(f"the {self.kind} classifier reads 1 or 3 channels, got {x.shape[1]}")
        if x.shape[-1] != INPUT_SIZE or x.shape[-2] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                              antialias=x.shape[-1] > INPUT_SIZE)
        return x

    def raw_features(self, images: torch.Tensor) -> torch.Tensor:
        """The penultimate layer's output (N, feature_dim), what the heads read."""
        return self.body(self.prepare(images))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, feature_dim) divided by `feature_scale` (so real images' have unit RMS):
        what the Fréchet distance, KID and the nearest-neighbour check compare."""
        return self.raw_features(images) / self.feature_scale

    def head_outputs(self, raw: torch.Tensor) -> dict[str, torch.Tensor]:
        """Raw head outputs from `raw_features`: (N,) for one-number heads, (N, k) for categoricals."""
        return {name: (h(raw).squeeze(1) if h.out_features == 1 else h(raw)) for name, h in self.heads.items()}

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.head_outputs(self.raw_features(images))

    @torch.no_grad()
    def set_feature_scale(self, images: torch.Tensor) -> float:
        """Set `feature_scale` to the RMS of the raw features of `images` (real ones); returns it."""
        if len(images) == 0:
            raise DCGANError("set_feature_scale needs at least one real image")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        sq = sum(self.raw_features(images[i:i + 500].to(device)).double().pow(2).sum().item() for i in range(0, len(images), 500))
        self.feature_scale.fill_(max(math.sqrt(sq / (len(images) * self.feature_dim)), 1e-6))
        self.train(was_training)
        return float(self.feature_scale)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 500) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Features (N, d) and predictions for many images, in batches, in eval mode; results on the CPU.

        Predictions: binary heads -> probability (N,), `turn` -> clamped to [-1, 1], categoricals and `digit`
        -> class probabilities (N, k).
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        feats, outs = [], {}
        try:
            for i in range(0, len(images), batch_size):
                raw = self.raw_features(images[i:i + batch_size].to(device))
                feats.append((raw / self.feature_scale).float().cpu())
                for name, o in self.head_outputs(raw).items():
                    outs.setdefault(name, []).append(_to_prediction(name, o).cpu())
        finally:
            self.train(was_training)
        if not feats:
            return torch.zeros(0, self.feature_dim), {}
        return torch.cat(feats), {k: torch.cat(v) for k, v in outs.items()}

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500) -> dict[str, torch.Tensor]:
        """Predictions only (see `embed`)."""
        return self.embed(images, batch_size)[1]


def _to_prediction(name: str, out: torch.Tensor) -> torch.Tensor:
    if name == "turn":
        return out.clamp(-1.0, 1.0)
    if out.dim() == 1:
        return torch.sigmoid(out)
    return torch.softmax(out, dim=1)


# ----------------------------------------------------------------------------------------------- training data


def _faces_data(n: int, seed: int, size: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """n fresh faces rendered at `size` (uint8) and their targets."""
    faces = make_faces(n, size, seed=seed)
    targets = {k: faces.attributes[k] for k in HEADS["faces"]}
    return faces.images, targets


def _digits_split(image_size: int = INPUT_SIZE, seed: int = DIGITS_SPLIT_SEED):
    """scikit-learn's digits as (train_x, train_y, test_x, test_y): a stratified 75/25 split, fixed by `seed`."""
    images, labels = load_digits(image_size)
    test = holdout_mask(labels, seed)  # a quarter of each class
    return images[~test], labels[~test], images[test], labels[test]


def _augment(x: torch.Tensor, g: torch.Generator, shift: int) -> torch.Tensor:
    """Light augmentation in [-1, 1]: a random shift of up to `shift` px, a blur on a third of the images,
    Gaussian noise of a random strength up to 0.1. Enough to read imperfect GAN samples; no flips (turn has a sign)."""
    n = x.shape[0]
    if shift:
        pad = F.pad(x, (shift,) * 4, mode="replicate")
        dx, dy = torch.randint(0, 2 * shift + 1, (2,), generator=g).tolist()  # one shift per batch: cheap
        x = pad[:, :, dy:dy + x.shape[2], dx:dx + x.shape[3]]
    blur = (torch.rand(n, 1, 1, 1, generator=g) < 1 / 3).expand_as(x)
    k = torch.tensor([0.25, 0.5, 0.25])
    k2 = (k[:, None] * k[None, :]).expand(x.shape[1], 1, 3, 3)
    x = torch.where(blur, F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), k2, groups=x.shape[1]), x)
    sigma = 0.1 * torch.rand(n, 1, 1, 1, generator=g)
    return (x + sigma * torch.randn(x.shape, generator=g)).clamp_(-1.0, 1.0)


def _loss(kind: str, out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]) -> torch.Tensor:
    if kind == "digits":
        return F.cross_entropy(out["digit"], y["digit"])
    loss = sum(F.binary_cross_entropy_with_logits(out[k], y[k].float()) for k in ATTRIBUTES)
    loss = loss + 5.0 * F.mse_loss(out["turn"], y["turn"])  # turn errors of 0.1 should matter as much as a bit flip
    loss = loss + 0.5 * sum(F.cross_entropy(out[k], y[k]) for k in FACE_CATEGORICAL)
    return loss


def evaluate_classifier(model: AttributeClassifier, images: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, float]:
    """Accuracy per binary/categorical head (`acc_<name>`) and the mean absolute error of `turn` (`turn_mae`)."""
    pred = model.predict(images)
    report: dict[str, float] = {}
    for name, p in pred.items():
        if name not in targets:
            continue
        y = targets[name]
        if name == "turn":
            report["turn_mae"] = (p - y.float()).abs().mean().item()
        elif p.dim() == 1:
            report[f"acc_{name}"] = ((p > 0.5) == y.bool()).float().mean().item()
        else:
            report[f"acc_{name}"] = (p.argmax(1) == y).float().mean().item()
    return report


def train_classifier(
    kind: str = "faces",
    n: int | None = None,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    batch_size: int = 128,
    lr: float = 2e-3,
    n_heldout: int = 2000,
    progress: bool = False,
) -> tuple[AttributeClassifier, dict[str, Any]]:
    """Train the course classifier for `kind` and measure it on held-out data; returns (model in eval mode, report).

    faces: `n` (default 20,000) fresh faces from `FACES_TRAIN_SEED + seed`, three quarters rendered at 32x32 and
    one quarter at 64x64 (which the network downsamples), so both sizes are read equally well; `epochs` default 4.
    Held out: `n_heldout` faces from `FACES_HELDOUT_SEED + seed` at 32 and at 64, never seen in training.
    digits: the stratified 75% split of the 1797 digits, `epochs` default 40; held out: the other 25% (450).
    The report holds `acc_*` / `turn_mae` per held-out set, the sizes, seeds and the wall time.
    """
    if kind not in KINDS:
        raise DCGANError(f"unknown classifier kind {kind!r}: choose faces or digits")
    t0 = time.perf_counter()
    dev = pick_device(device)
    g = torch.Generator().manual_seed(seed)
    report: dict[str, Any] = {"kind": kind, "seed": seed}
    if kind == "faces":
        n = 20_000 if n is None else n
        epochs = 4 if epochs is None else epochs
        n64 = n // 4
        x32, y32 = _faces_data(n - n64, FACES_TRAIN_SEED + seed, 32)
        x64, y64 = _faces_data(n64, FACES_TRAIN_SEED + 100_000 + seed, 64)
        x64 = F.interpolate(x64.float(), size=(32, 32), mode="bilinear", align_corners=False, antialias=True)
        x = torch.cat([x32.float(), x64]).div_(127.5).sub_(1.0)
        y = {k: torch.cat([y32[k], y64[k]]) for k in y32}
        shift = 1
        report.update(n_train=n, n_train_at_64=n64, train_seed=FACES_TRAIN_SEED + seed)
    else:
        tx, ty, _, _ = _digits_split()
        epochs = 40 if epochs is None else epochs
        x, y = to_model_range(tx), {"digit": ty}
        shift = 2
        report.update(n_train=len(ty), split_seed=DIGITS_SPLIT_SEED)
    report["data_s"] = round(time.perf_counter() - t0, 1)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AttributeClassifier(kind).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=max(steps, 1), pct_start=0.15)
    model.train()
    bar = None
    if progress:
        bar = tqdm(total=steps, desc=f"{kind} classifier", unit="step")
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for i in range(len(x) // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            xb = _augment(x[idx], g, shift).to(dev)
            yb = {k: v[idx].to(dev) for k, v in y.items()}
            loss = _loss(kind, model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss.item():.3f}")
    if bar is not None:
        bar.close()
    model.eval()
    report["train_s"] = round(time.perf_counter() - t0 - report["data_s"], 1)
    report["epochs"] = epochs

    # feature scale: RMS of the raw features of (unaugmented) training images, at most 4000 of them
    report["feature_scale"] = round(model.set_feature_scale(x[torch.randperm(len(x), generator=g)[:4000]]), 6)
    if kind == "faces":
        report["heldout_seed"] = FACES_HELDOUT_SEED + seed
        report["n_heldout"] = n_heldout
        for size in (32, 64):
            hx, hy = _faces_data(n_heldout, FACES_HELDOUT_SEED + seed, size)
            report[f"heldout_{size}"] = evaluate_classifier(model, hx, hy)
    else:
        _, _, vx, vy = _digits_split()
        report["n_heldout"] = len(vy)
        report["heldout_32"] = evaluate_classifier(model, vx, {"digit": vy})
        report["heldout_64"] = evaluate_classifier(model, F.interpolate(vx.float(), size=64, mode="bilinear", align_corners=False).round().clamp(0, 255).to(torch.uint8), {"digit": vy})
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["device"] = str(dev)
    return model.cpu(), report


# ----------------------------------------------------------------------------------------------- files


def save_classifier(model: AttributeClassifier, path: str | Path, card: dict[str, Any] | None = None) -> Path:
    """Write `model` (a plain dict: format, arch, state_dict, card) atomically to `path`, and the card beside it
    as `path.with_suffix('.json')`."""
    path = Path(path)
    card = dict(card or {})
    atomic_save({"format": FORMAT, "arch": model.arch, "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                 "card": json.dumps(card)}, path)
    path.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    _load_cached.cache_clear()  # a later load_classifier(path) must read the new file
    return path


def load_classifier(kind_or_path: str | Path = "faces", device: str | torch.device = "cpu") -> AttributeClassifier:
    """A classifier in eval mode: 'faces' or 'digits' load the shipped `data/classifiers/<kind>.pt`; anything
    else is read as a path. Loaded with `weights_only=True`. Missing or foreign files raise a one-line error.
    The model is cached and shared by every caller (it never trains); loading leaves the global RNG alone."""
    return _load_cached(str(kind_or_path), str(device)).eval()


def clear_cache() -> None:
    """Forget the loaded classifiers (after retraining one in place, say)."""
    _load_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _load_cached(kind_or_path: str, device: str) -> AttributeClassifier:
    if kind_or_path in KINDS:
        path = classifier_dir() / f"{kind_or_path}.pt"
        if not path.is_file():
            raise DCGANError(f"the shipped {kind_or_path} classifier is missing ({path}): "
                             f"train it with `dcgan train-classifier --kind {kind_or_path}`")
    else:
        path = Path(kind_or_path)
        if not path.is_file():
            raise CheckpointError(f"no classifier at {path}: check the path, or use 'faces' or 'digits' for the shipped ones")
    ckpt = safe_load(path, "retrain it with `dcgan train-classifier`")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a dcgan_lib classifier: retrain it with `dcgan train-classifier`")
    with torch.random.fork_rng(devices=[]):  # the random init is overwritten: keep the caller's RNG untouched
        model = AttributeClassifier(**ckpt["arch"])
    model.load_state_dict(ckpt["state_dict"])
    model.card = json.loads(ckpt.get("card", "{}"))
    return model.to(device).eval().requires_grad_(False)


def classifier_card(kind: str) -> dict[str, Any]:
    """The card (how it was made, how well it does) of a shipped classifier."""
    return dict(getattr(load_classifier(kind), "card", {}))
