"""Sliders over a generator's latent space (notebook 04).

Each widget is a `VBox` holding its controls and one persistent `ipywidgets.Image`. A control change calls
`update()`, which regenerates a single image and swaps the PNG bytes in place. Sliders use
`continuous_update=False`, so a drag costs one redraw when it ends. One 32×32 image takes a few
milliseconds on a CPU. `update()` can also be called directly, which is how the tests and the notebook
time it without a browser.

Works with ipywidgets 7.7 (Colab's front end ships 7.7.1) and 8.x (JupyterLab 4); run under 7.7.1 by
`.ci/colab_like.sh`. The differences this module meets are handled where they occur:
- `Image.value` is `bytes` in 7 but a `memoryview` in 8: read it through `_LatentView.png`, which is bytes in both.
- `tooltip` is a trait of `Button` only in 7 (every DOMWidget has one in 8; 7's other widgets have
  `description_tooltip` and drop an unknown `tooltip=` with a warning), so only the buttons get tooltips.
- Unchanged between the two, checked: `hold_sync`, `observe`/`unobserve`, `Button.on_click`/`click`,
  `BoundedIntText` and `FloatSlider` (clamping, `continuous_update`), `Layout(width=...)`, `Label`, and which
  classes are `ValueWidget`s. Display goes through `_ipython_display_` in 7 and `_repr_mimebundle_` in 8;
  neither is called here.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping

import ipywidgets as widgets
import torch

from .arithmetic import Labeller
from .latent import lerp, slerp, z_from_seed
from .models import generate
from .viz import to_pil


def png_bytes(G: torch.nn.Module, z: torch.Tensor, scale: int = 4) -> bytes:
    """G's image for one code z (nz,) or (1, nz, 1, 1) as PNG bytes, enlarged `scale` times."""
    image = generate(G, z.reshape(1, -1, 1, 1)).cpu()
    buffer = io.BytesIO()
    to_pil(image, nrow=1, scale=scale).save(buffer, format="PNG")
    return buffer.getvalue()


def _readout(labeller: Labeller | None, G: torch.nn.Module, z: torch.Tensor) -> str:
    """What the labeller reads in G(z), e.g. 'smiling 0.98 · eyeglasses 0.01 · turn +0.35'."""
    if labeller is None:
        return ""
    labels = labeller(generate(G, z.reshape(1, -1, 1, 1)))
    return " · ".join(f"{name} {float(v[0]):+.2f}" if name == "turn" else f"{name} {float(v[0]):.2f}"
                      for name, v in labels.items())


class _LatentView(widgets.VBox):
    """Controls above one persistent image (and an optional readout of what the labeller sees)."""

    def __init__(self, G: torch.nn.Module, controls: list[widgets.Widget], scale: int, labeller: Labeller | None):
        super().__init__()
        self.G, self.scale, self.labeller = G, scale, labeller
        self.image = widgets.Image(format="png")
        self.readout = widgets.Label()
        self.last_redraw_s = 0.0  # wall time of the last update(), for the notebook's responsiveness check
        self.children = [*controls, widgets.HBox([self.image, self.readout])]

    @property
    def png(self) -> bytes:
        """The PNG bytes on show. ipywidgets 8 keeps `Image.value` as a memoryview (7: bytes), which compares
        equal to bytes but has no bytes methods (`startswith`, `decode`), so read the image through this."""
        return bytes(self.image.value)

    def code(self) -> torch.Tensor:
        """The code (nz, 1, 1) the controls point at."""
        raise NotImplementedError

    def update(self, *_: object) -> None:
        """Redraw the image (and readout) for the current controls."""
        start = time.perf_counter()
        z = self.code()
        self.image.value = png_bytes(self.G, z, self.scale)
        self.readout.value = _readout(self.labeller, self.G, z)
        self.last_redraw_s = time.perf_counter() - start


def _slider(description: str, lo: float, hi: float, step: float, value: float = 0.0) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                               continuous_update=False, readout_format=".2f")


def _seed_box(description: str, value: int) -> widgets.BoundedIntText:
    return widgets.BoundedIntText(value=value, min=0, max=2**31 - 1, description=description,
                                  continuous_update=False, layout=widgets.Layout(width="160px"))


class InterpolationSlider(_LatentView):
    """A slider t in [0, 1] from z(seed_a) to z(seed_b) along a slerp (or lerp) path; "new pair" moves both seeds on."""

    def __init__(self, G: torch.nn.Module, seed_a: int = 0, seed_b: int = 1, method: str = "slerp", scale: int = 4,
                 labeller: Labeller | None = None):
        if method not in ("lerp", "slerp"):
            raise ValueError(f"method must be 'lerp' or 'slerp', got {method!r}")
        self.method = method
        self.seed_a, self.seed_b = _seed_box("seed A", seed_a), _seed_box("seed B", seed_b)
        self.t = _slider("t", 0.0, 1.0, 0.05)
        # Button has its own `tooltip` in ipywidgets 7 too; other 7.x widgets would drop one (see the module's docstring)
        self.new_pair = widgets.Button(description="new pair", tooltip="the next two seeds")
        super().__init__(G, [widgets.HBox([self.seed_a, self.seed_b, self.new_pair]), self.t], scale, labeller)
        self.new_pair.on_click(self._next_pair)
        for w in (self.seed_a, self.seed_b, self.t):
            w.observe(self.update, names="value")
        self.update()

    def _next_pair(self, _: object = None) -> None:
        top = max(self.seed_a.value, self.seed_b.value)
        with self.hold_sync():
            self.seed_a.unobserve(self.update, names="value")  # one redraw for the pair, not two
            self.seed_a.value = top + 1
            self.seed_a.observe(self.update, names="value")
            self.seed_b.value = top + 2

    def code(self) -> torch.Tensor:
        nz = self.G.nz
        z0, z1 = z_from_seed(self.seed_a.value, 1, nz)[0], z_from_seed(self.seed_b.value, 1, nz)[0]
        return (slerp if self.method == "slerp" else lerp)(z0, z1, float(self.t.value))


class DirectionSliders(_LatentView):
    """One slider per direction (e.g. smiling, glasses, head turn): the code is z(seed) + sum of alpha_i * d_i."""

    def __init__(self, G: torch.nn.Module, directions: Mapping[str, torch.Tensor], seed: int = 0, span: float = 2.0,
                 scale: int = 4, labeller: Labeller | None = None):
        if not directions:
            raise ValueError("give at least one direction, e.g. {'smiling': attribute_direction(pool, 'smiling')}")
        bad = [k for k, d in directions.items() if d.numel() != G.nz]
        if bad:
            raise ValueError(f"directions {bad} do not have nz = {G.nz} values")
        self.directions = {k: d.reshape(-1, 1, 1).float().cpu() for k, d in directions.items()}
        self.seed = _seed_box("seed", seed)
        self.sliders = {k: _slider(k, -span, span, 0.1) for k in directions}
        self.reset = widgets.Button(description="reset sliders")
        super().__init__(G, [widgets.HBox([self.seed, self.reset]), *self.sliders.values()], scale, labeller)
        self.reset.on_click(self._reset)
        for w in (self.seed, *self.sliders.values()):
            w.observe(self.update, names="value")
        self.update()

    def _reset(self, _: object = None) -> None:
        for s in self.sliders.values():
            s.unobserve(self.update, names="value")
            s.value = 0.0
            s.observe(self.update, names="value")
        self.update()

    def code(self) -> torch.Tensor:
        z = z_from_seed(self.seed.value, 1, self.G.nz)[0]
        for name, s in self.sliders.items():
            z = z + s.value * self.directions[name]
        return z


def sweep(z: torch.Tensor, direction: torch.Tensor, alphas: torch.Tensor | list[float]) -> torch.Tensor:
    """The static picture of a slider: z + alpha * direction for each alpha -> (len(alphas), nz, 1, 1)."""
    alphas = torch.as_tensor(alphas, dtype=z.dtype).reshape(-1, 1, 1, 1)
    return z.reshape(1, -1, 1, 1) + alphas * direction.reshape(1, -1, 1, 1)


__all__ = ["DirectionSliders", "InterpolationSlider", "png_bytes", "sweep"]
