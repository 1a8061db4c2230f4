# %% [markdown]
# # 00 · Setup: check that everything works
#
# **What you will learn:** which versions of Python, PyTorch and friends this course runs on, which device
# (CPU or GPU) your training will use, and whether interactive widgets work in your notebook. Later notebooks
# use sliders to walk through a generator's latent space, so it is worth fixing widgets now.
#
# Every notebook in this course starts with a `parameters` cell. `FAST = True` shrinks every experiment so the
# whole notebook runs in seconds (that is how the test suite runs it); `SEED` makes every run repeatable.

# %% tags=["parameters"]
FAST = False
SEED = 0

# %% [markdown]
# ## Install the course (Colab only)
# On your own machine you installed the package with `pip install -e ".[dev]"`. On Colab, this cell clones
# the repository (code, shipped checkpoints and classifiers) and installs it when `dcgan_lib` is missing.
# Every notebook starts with this same cell; here it is followed by a report of the versions in use.

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
from dcgan_lib.environment import report

print(report())

# %% [markdown]
# ## The device
# `dcgan_lib` picks CUDA first, then Apple's MPS, then the CPU. On a CPU the course trains 32×32 models
# (minutes); on a GPU, 64×64 models. On Colab, if the report above says `cpu`, choose
# *Runtime → Change runtime type → T4 GPU* and run the notebook again.

# %%
import torch
from dcgan_lib.device import pick_device

device = pick_device("auto")
torch.manual_seed(SEED)
x = torch.randn(256, 256, device=device)
print(f"training will use: {device}; a 256x256 matmul there gives a tensor of shape {tuple((x @ x).shape)}")

# %% [markdown]
# ## Widgets
# Move the slider: the text beside it should show the square of the value.
#
# Before you run the cell below, its saved output is a line of text, `HBox(children=(IntSlider(value=4, ...`:
# that is normal, JupyterLab only draws a widget once a kernel has made it. Run the cell. If you *still* see that
# text instead of a slider, widgets are not rendering:
# - JupyterLab 4: `pip install "ipywidgets>=8" jupyterlab_widgets`, then restart JupyterLab.
# - Jupyter Notebook 7 or the classic notebook: `pip install ipywidgets widgetsnbextension`.
# - Colab: the install cell above turns on Colab's custom widget manager; run it again.
#
# Every later notebook also draws a static picture, so you can follow the course without widgets.

# %%
import ipywidgets as widgets

slider = widgets.IntSlider(value=3, min=0, max=10, description="x", continuous_update=False)
label = widgets.Label()
slider.observe(lambda change: setattr(label, "value", f"x² = {change['new'] ** 2}"), names="value")
slider.value = 4  # set from code: the callback must fire even where nothing is rendered
assert label.value == "x² = 16", "widget callbacks did not run"
widgets.HBox([slider, label])

# %% [markdown]
# ## A first look at the data
# The course's default dataset is drawn by the package itself: procedural cartoon faces, each with known
# attributes. Here are a few. (Notebook 03 trains a DCGAN on them.)

# %%
from dcgan_lib.faces import make_faces
from dcgan_lib.images import to_model_range
from dcgan_lib.viz import to_pil

faces = make_faces(16 if FAST else 32, size=32, seed=SEED)
print({k: v[:8].tolist() for k, v in faces.attributes.items() if k in ("smiling", "eyeglasses", "long_hair")})
to_pil(to_model_range(faces.images), nrow=8, scale=3)

# %% [markdown]
# ## Summary
# - The report above lists the versions and the device; keep it when you ask for help.
# - Widgets work if the slider moved the label; if not, the fixes are listed above.
# - Next: **01 · GAN theory**, the counterfeiter and the police.
