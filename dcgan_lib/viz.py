"""Pictures: sample grids, GIFs of the fixed-noise grid over training, training and quality curves, and a
live-plot callback for `train()`."""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import make_grid

from .faces import ATTRIBUTES
from .images import to_display
from .models import generate
from .torch_files import atomic_write


def grid(images: torch.Tensor, nrow: int = 8, padding: int = 2) -> torch.Tensor:
    """Images in [-1, 1], (N, C, H, W) -> one displayable float grid in [0, 1], (3, H', W')."""
    return make_grid(to_display(images), nrow=nrow, padding=padding, pad_value=1.0)


def to_pil(images: torch.Tensor, nrow: int = 8, scale: int = 1):
    """Images in [-1, 1] -> a PIL image of their grid, enlarged `scale` times (nearest neighbour)."""
    from PIL import Image

    g = grid(images, nrow)
    array = g.mul(255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def grid_image(images: torch.Tensor, nrow: int = 8, scale: int = 2):
    """The grid as an IPython PNG image, for notebooks (a PIL image would be stored as PNG and JPEG)."""
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    to_pil(images, nrow, scale).save(buf, format="png")
    return Image(data=buf.getvalue(), format="png")


def save_grid(images: torch.Tensor, path: str | Path, nrow: int = 8, scale: int = 1) -> Path:
    """Save images in [-1, 1] as a grid PNG (parent folders are created), atomically: a full disk or Ctrl-C
    leaves the previous file as it was."""
    from PIL import Image

    path = Path(path)
    picture = to_pil(images, nrow, scale)
    kind = Image.registered_extensions().get(path.suffix.lower(), "PNG")
    return atomic_write(path, lambda f: picture.save(f, format=kind))


def grid_bytes(n: int, image_size: int, scale: int = 1) -> int:
    """The memory `to_pil` takes for a grid of n images: the float grid in [0, 1] and its copies (RGB, 2-pixel
    padding), its bytes, and the picture enlarged `scale` times."""
    return n * 3 * (image_size + 2) ** 2 * (3 * 4 + 1 + scale ** 2)


def save_gif(frames: list[Path] | list[torch.Tensor], path: str | Path, duration_ms: int = 400,
             box: tuple[int, int, int, int] | None = None) -> Path:
    """An animated GIF from grid PNG files (or grids in [0, 1]), e.g. the fixed-noise grid per epoch.

    `box` = (left, top, right, bottom) in pixels crops every frame, e.g. to the top rows of a grid (a smaller file).
    """
    from PIL import Image

    images = [
        Image.open(f).convert("RGB") if isinstance(f, (str, Path)) else Image.fromarray(f.mul(255).byte().permute(1, 2, 0).numpy())
        for f in frames
    ]
    if not images:
        raise ValueError("save_gif needs at least one frame")
    if box is not None:
        images = [im.crop(box) for im in images]
    path = Path(path)
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path



def plot_grids(named: dict[str, torch.Tensor | str | Path], nrow: int = 8, size: float = 3.2):
    """Image sets side by side, one titled grid each: tensors in [-1, 1] or grid image files (e.g. a run's
    samples/epoch_NNN.png), as {"eval mode": a, "train mode": b}. Returns the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    fig, axes = plt.subplots(1, len(named), figsize=(size * len(named), size), squeeze=False)
    for ax, (title, images) in zip(axes[0], named.items()):
        if isinstance(images, (str, Path)):
            ax.imshow(Image.open(images).convert("RGB"))
        else:
            ax.imshow(grid(images.detach().cpu(), nrow=nrow).permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------------------- training curves



def _loss_records(history: list[dict[str, float]]) -> list[dict[str, float]]:
    # a history mixes loss records with evaluation records (train --eval-every); only the former have loss_D
    return [r for r in history if "loss_D" in r]


def _new_axes(ncols: int, figsize: tuple[float, float], axes=None):
    if axes is not None:
        return axes[0].figure, list(axes)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=figsize)
    return fig, list(axes)


def plot_history(history: list[dict[str, float]], axes=None, marks: dict[str, float] | None = None,
                 figsize: tuple[float, float] = (10, 3.2)):
    """Losses (first axis) and D(x), D(G(z)) (second axis) of a `train()` history against epochs.

    `marks` draws labelled vertical lines, e.g. {"resumed": 6.0}. Returns the figure.
    """
    fig, (ax_loss, ax_d) = _new_axes(2, figsize, axes)
    recs = _loss_records(history)
    epochs = [r["epoch"] for r in recs]
    ax_loss.plot(epochs, [r["loss_D"] for r in recs], label="loss D")
    ax_loss.plot(epochs, [r["loss_G"] for r in recs], label="loss G (non-saturating)")
    ax_loss.set(xlabel="epoch", ylabel="BCE", title="losses")
    ax_d.plot(epochs, [r["D_x"] for r in recs], label="D(x), real")
    ax_d.plot(epochs, [r["D_G_z"] for r in recs], label="D(G(z)), fake")
    ax_d.axhline(0.5, color="gray", ls=":", lw=0.8)  # the theory's equilibrium
    ax_d.set(xlabel="epoch", ylabel="D's probability of 'real'", ylim=(-0.02, 1.02), title="D's outputs")
    for ax in (ax_loss, ax_d):
        for label, x in (marks or {}).items():
            ax.axvline(x, color="k", ls="--", lw=0.8)
            ax.annotate(label, (x, 0.97), xycoords=("data", "axes fraction"), ha="right", va="top", fontsize=8, rotation=90)
        ax.legend(fontsize=8, loc="best")
    return fig


def plot_quality(history: list[dict[str, float]], attrs: tuple[str, ...] = ATTRIBUTES, axes=None,
                 time_label: str = "training wall time (minutes, evaluation excluded)",
                 figsize: tuple[float, float] = (10, 3.6)):
    """The evaluation records of a history (`train --eval-every`): gap closed (FD) and each attribute's
    |rate - data rate| against epochs (first axis) and training minutes (second axis). Returns the figure."""
    evals = [r for r in history if "fd_gap_closed" in r]
    if not evals:
        raise ValueError("this history has no evaluation records: train with eval_every > 0 (dcgan train --eval-every 2)")
    fig, axes = _new_axes(2, figsize, axes)
    for ax, xs, xlabel in ((axes[0], [r["epoch"] for r in evals], "epoch"),
                           (axes[1], [r["time_s"] / 60 for r in evals], time_label)):
        ax.plot(xs, [r["fd_gap_closed"] for r in evals], "k-o", ms=3, label="gap closed (FD)")
        for a in attrs:
            ax.plot(xs, [r[f"{a}_diff"] for r in evals], "-", label=f"|{a} rate − data|")
        ax.axhline(0.9, color="k", ls=":", lw=0.8)  # the course's gap-closed target
        ax.axhline(0.05, color="gray", ls=":", lw=0.8)  # the course's attribute-rate target
        ax.set(xlabel=xlabel, ylim=(0, 1.02))
    axes[0].set(ylabel="score", title="quality against epochs")
    axes[1].set(title="quality against wall time")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def figure_png(fig, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (no GUI, no pyplot state)."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")  # a Jupyter kernel, not a terminal IPython


class LivePlot:
    """A `train()` callback that redraws one figure in place while training runs: losses, D(x) and D(G(z)),
    and G's current samples for the fixed noise.

    In a notebook it shows one image output and updates it (an IPython display handle), so a papermill run
    keeps the last picture only; elsewhere it just keeps `.figure` up to date. Redraws on "log" at most every
    `min_interval_s` seconds (drawing costs time that training would use), always on "epoch" and "end".
    """

    def __init__(self, min_interval_s: float = 5.0, marks: dict[str, float] | None = None, n_samples: int = 32,
                 title: str = "", show: bool | None = None, dpi: int = 72, figsize: tuple[float, float] = (12, 3.2)):
        from matplotlib.figure import Figure  # no pyplot: the notebook must not draw this figure a second time

        self.min_interval_s, self.marks, self.n_samples, self.title, self.dpi = min_interval_s, dict(marks or {}), n_samples, title, dpi
        self.show = _in_notebook() if show is None else show
        self.figure = Figure(figsize=figsize)
        self.axes = self.figure.subplots(1, 3, gridspec_kw={"width_ratios": [1.2, 1.2, 1]})
        self.draws = 0
        self._last = -float("inf")
        self._handle = None

    def __call__(self, event: str, state) -> None:
        import time

        now = time.perf_counter()
        if event == "log" and now - self._last < self.min_interval_s:
            return
        if event not in ("log", "epoch", "end"):
            return
        self.draw(state)
        self._last = time.perf_counter()  # after drawing, so a slow draw does not eat the whole interval

    def draw(self, state) -> None:
        """Redraw the figure from a `TrainState` (history, step, G, fixed_z) and update the display."""
        for ax in self.axes:
            ax.clear()
        plot_history(state.history, axes=self.axes[:2], marks=self.marks)
        ax = self.axes[2]
        ax.set_axis_off()
        if state.fixed_z is not None:
            samples = generate(state.G, state.fixed_z[: self.n_samples]).cpu()  # running BatchNorm statistics
            ax.imshow(grid(samples, nrow=8).permute(1, 2, 0).numpy())
            ax.set_title(f"fixed noise, step {state.step}", fontsize=10)
        if self.title:
            self.figure.suptitle(self.title, fontsize=10)
        self.figure.tight_layout()
        self.draws += 1
        if self.show:
            from IPython.display import Image, display

            image = Image(data=figure_png(self.figure, self.dpi), format="png")
            if self._handle is None:
                self._handle = display(image, display_id=True)
            else:
                self._handle.update(image)
