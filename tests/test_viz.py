"""Pictures: grids, GIFs, training curves and the live-plot callback (headless)."""

import math
from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from dcgan_lib.models import Generator  # noqa: E402
from dcgan_lib.viz import (LivePlot, figure_png, grid_image, plot_grids, plot_history, plot_quality, save_gif,
                           save_grid)  # noqa: E402


def fake_history(n: int = 6) -> list[dict[str, float]]:
    """Loss records every 10 steps plus evaluation records (as train --eval-every writes them)."""
    h = []
    for i in range(1, n + 1):
        h.append({"step": 10 * i, "epoch": i / 2, "loss_D": 1.0 / i, "loss_G": 2.0 + i, "D_x": 0.8, "D_G_z": 0.2 / i, "time_s": 3.0 * i})
        if i % 2 == 0:
            h.append({"step": 10 * i, "epoch": i / 2, "time_s": 3.0 * i, "fd_gap_closed": 0.1 * i,
                      **{f"{a}_diff": 0.05 * i for a in ("smiling", "eyeglasses", "long_hair")}})
    return h


def test_save_gif_from_files_and_tensors(tmp_path):
    frames = [save_grid(torch.full((4, 3, 8, 8), v), tmp_path / f"f{i}.png", nrow=2) for i, v in enumerate((-1.0, 0.0, 1.0))]
    gif = save_gif(frames, tmp_path / "a.gif", duration_ms=100)
    with Image.open(gif) as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.size == Image.open(frames[0]).size
        im.seek(2)
        assert im.convert("RGB").getpixel((3, 3)) == (255, 255, 255)  # the last frame is the white one
    grids = [torch.zeros(3, 10, 12), torch.ones(3, 10, 12)]  # grids in [0, 1]
    with Image.open(save_gif(grids, tmp_path / "b.gif")) as im:
        assert im.n_frames == 2 and im.size == (12, 10)
    with Image.open(save_gif(grids, tmp_path / "c.gif", box=(0, 0, 12, 4))) as im:
        assert im.n_frames == 2 and im.size == (12, 4)


def test_save_gif_needs_frames(tmp_path):
    with pytest.raises(ValueError, match="at least one frame"):
        save_gif([], tmp_path / "x.gif")


def test_plot_history_skips_evaluation_records_and_draws_marks():
    h = fake_history()
    fig = plot_history(h, marks={"resumed": 1.5})
    ax_loss, ax_d = fig.axes
    loss_d = ax_loss.lines[0]
    assert list(loss_d.get_xdata()) == [r["epoch"] for r in h if "loss_D" in r]  # 6 loss records, not 9
    assert list(loss_d.get_ydata()) == [1.0 / i for i in range(1, 7)]
    assert [line.get_ydata()[0] for line in ax_d.lines[:2]] == [0.8, 0.2]  # D(x), D(G(z))
    assert any(list(line.get_xdata()) == [1.5, 1.5] for line in ax_d.lines)  # the vertical mark
    plt.close(fig)


def test_plot_quality_uses_evaluation_records_against_epochs_and_minutes():
    fig = plot_quality(fake_history())
    by_epoch, by_time = fig.axes
    assert list(by_epoch.lines[0].get_xdata()) == [1.0, 2.0, 3.0]
    assert list(by_time.lines[0].get_xdata()) == pytest.approx([0.1, 0.2, 0.3])  # 6, 12, 18 s in minutes
    assert list(by_time.lines[0].get_ydata()) == pytest.approx([0.2, 0.4, 0.6])
    plt.close(fig)
    with pytest.raises(ValueError, match="eval_every"):
        plot_quality([r for r in fake_history() if "loss_D" in r])


def test_grid_image_is_one_png_at_the_asked_scale():
    img = grid_image(torch.zeros(4, 3, 8, 8), nrow=2, scale=3)
    assert img.format == "png" and img.data[:4] == b"\x89PNG"
    with Image.open(__import__("io").BytesIO(img.data)) as im:
        assert im.size == (3 * (2 + 2 * 10), 3 * (2 + 2 * 10))  # 2 cells of 8 px + 2 px padding, 3 times


def test_plot_grids_accepts_tensors_and_files(tmp_path):
    png = save_grid(torch.zeros(4, 3, 8, 8), tmp_path / "g.png", nrow=2)
    fig = plot_grids({"tensor": torch.zeros(4, 3, 8, 8), "file": png}, nrow=2)
    assert [ax.get_title() for ax in fig.axes] == ["tensor", "file"]
    plt.close(fig)


def _state(history, step=60, with_g=True):
    torch.manual_seed(0)
    G = Generator(16, 3, nz=8, width=4) if with_g else None
    return SimpleNamespace(history=history, step=step, G=G, fixed_z=torch.randn(8, 8) if with_g else None)


def test_live_plot_headless_draws_and_throttles():
    live = LivePlot(min_interval_s=3600, show=False)
    state = _state(fake_history())
    live("log", state)  # first "log" draws
    live("log", state)  # throttled
    live("checkpoint", state)  # ignored
    assert live.draws == 1
    live("epoch", state)
    live("end", state)  # always drawn
    assert live.draws == 3
    ax_loss, ax_d, ax_img = live.axes
    assert len(ax_loss.lines[0].get_xdata()) == 6 and "step 60" in ax_img.get_title()
    assert figure_png(live.figure)[:8] == b"\x89PNG\r\n\x1a\n"


def test_live_plot_keeps_g_in_training_mode_and_its_statistics():
    state = _state(fake_history())
    state.G.train()
    before = {k: v.clone() for k, v in state.G.state_dict().items()}
    LivePlot(show=False).draw(state)
    assert state.G.training, "drawing must give G back in training mode"
    assert all(torch.equal(before[k], v) for k, v in state.G.state_dict().items()), "drawing must not touch BatchNorm's running statistics"


def test_live_plot_without_samples_or_history():
    live = LivePlot(show=False)
    live("end", _state([], with_g=False))  # before the first log record: empty curves, no image
    assert live.draws == 1 and not live.axes[2].images


def test_live_plot_updates_one_display_in_a_notebook(monkeypatch):
    """In a notebook the first draw creates one display and later draws update that same one."""
    import IPython.display

    calls = []

    class Handle:
        def update(self, obj):
            calls.append(("update", obj))

    def display(obj, display_id=None):
        calls.append(("display", obj))
        assert display_id is True
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    live = LivePlot(show=True)
    state = _state(fake_history())
    live("epoch", state)
    live("epoch", state)
    live("end", state)
    assert [c[0] for c in calls] == ["display", "update", "update"]
    assert all(isinstance(c[1], IPython.display.Image) and c[1].data[:4] == b"\x89PNG" for c in calls)


def test_live_plot_with_train(tiny_config, tiny_data):
    """The callback runs inside a real (tiny) training run and ends with the whole history drawn."""
    from dcgan_lib.train import train

    live = LivePlot(show=False, min_interval_s=0.0, marks={"here": 1.0})
    state = train(tiny_config, callbacks=[live], data=tiny_data)
    assert live.draws >= 3
    xs = live.axes[0].lines[0].get_xdata()
    assert len(xs) == len([r for r in state.history if "loss_D" in r]) and math.isclose(xs[-1], tiny_config.epochs)
    assert Path(tiny_config.out, "checkpoint.pt").exists()
