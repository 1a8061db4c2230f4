# %% [markdown]
# # Exercise 3 · One training step, then a training run
#
# **What you will learn:** the two half-steps of DCGAN training, written by you, and three mistakes that
# raise no error message: letting D's loss reach into G (a wasted backward pass, and a wrong update if G's
# gradients are not zeroed before its own step), summing gradients across steps, and sending real and fake
# images through D as one batch. Then your two functions train a small DCGAN on the
# procedural faces for a few hundred steps, and you watch faces appear.
#
# Do notebook 03 first (or follow it in class). About 20 minutes, of which the training run takes about a
# minute and a half on 2 CPU cores (seconds on a GPU).

# %% tags=["parameters"]
FAST = False
SEED = 0
STEPS = 1000  # training steps of the last part (batch 64; about 1.5 minutes on 2 CPU cores)

# %%
if FAST:  # tiny settings for the test suite: same code, the samples stay noise
    STEPS = 4

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from dcgan_lib.checkpoint import load as load_checkpoint
from dcgan_lib.checkpoint import load_generator
from dcgan_lib.images import to_model_range
from dcgan_lib.exercises import check_d_step, check_g_step
from dcgan_lib.faces import make_faces
from dcgan_lib.latent import sample_z
from dcgan_lib.models import Discriminator, Generator, generate
from dcgan_lib.viz import grid_image

torch.manual_seed(SEED)
bce = nn.BCEWithLogitsLoss()  # D returns logits, so the sigmoid is inside the loss (stable)

# %% [markdown]
# ## 3.1 D's half-step
# D learns to tell real from fake: BCE(D(x), 1) on a real batch plus BCE(D(G(z)), 0) on a batch of fakes.
# Three details matter:
# - **detach** the fakes, so that D's loss does not send gradients into G;
# - **zero the gradients** before `backward()`, because PyTorch adds new gradients to old ones;
# - send real and fake images through D in **separate batches**, as the DCGAN code does. BatchNorm normalises
#   each batch by its own statistics.
#
# Return the loss. The check runs your function twice in a row and compares it with a reference step.

# %%
def d_step(G: nn.Module, D: nn.Module, opt_D: torch.optim.Optimizer, real: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """One Adam step on D; real (B, 3, 32, 32) in [-1, 1], z (B, nz, 1, 1). Returns D's loss."""
    # BEGIN SOLUTION
    fake = G(z).detach()
    loss = bce(D(real), torch.ones(len(real))) + bce(D(fake), torch.zeros(len(fake)))
    opt_D.zero_grad()
    loss.backward()
    opt_D.step()
    return loss.detach()
    # END SOLUTION


check_d_step(d_step)

# %% [markdown]
# ## 3.2 G's half-step
# G wants D to call its fakes real. Its loss is BCE(D(G(z)), 1) = −log D(G(z)), the non-saturating loss of
# exercise 1. This time the gradient must flow through D into G, so do not detach. Only G's optimiser
# steps. D's weights receive gradients too, but D's own step zeroes them before it uses any.

# %%
def g_step(G: nn.Module, D: nn.Module, opt_G: torch.optim.Optimizer, z: torch.Tensor) -> torch.Tensor:
    """One Adam step on G; z (B, nz, 1, 1). Returns G's loss."""
    # BEGIN SOLUTION
    loss = bce(D(G(z)), torch.ones(len(z)))
    opt_G.zero_grad()
    loss.backward()
    opt_G.step()
    return loss.detach()
    # END SOLUTION


check_g_step(g_step)

# %% [markdown]
# ## 3.3 Train with your steps
# A DCGAN of faces32's size (width 32) trains on 6,400 procedural faces with the paper's settings: Adam with
# lr 2·10⁻⁴ and β₁ = 0.5, and batch 64 instead of 128 for speed. Each step is your D step, then your G step.
# We keep 16 fixed codes to watch the same samples improve.

# %%
G, D = Generator(image_size=32, width=32), Discriminator(image_size=32, width=32)  # N(0, 0.02) initialisation
opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
faces = to_model_range(make_faces(6_400, size=32, seed=SEED).images)  # (6400, 3, 32, 32) in [-1, 1]
fixed_z = sample_z(16, 100, generator=torch.Generator().manual_seed(SEED))
g = torch.Generator().manual_seed(SEED)
before = generate(G, fixed_z)
losses, start = [], time.perf_counter()
for step in range(STEPS):
    real = faces[torch.randint(len(faces), (64,), generator=g)]
    z = sample_z(64, 100, generator=g)
    losses.append((float(d_step(G, D, opt_D, real, z)), float(g_step(G, D, opt_G, z))))
print(f"{STEPS} steps in {time.perf_counter() - start:.0f} s")

# %% [markdown]
# **See it.** The losses do not fall together, as a classifier's loss falls. If D could no longer tell real
# from fake at all, its loss would sit at 2·log 2 ≈ 1.39 (the grey line). Here D is well ahead: its loss
# stays far below that line, and G's stays high (the means over the last 100 steps are printed). That is
# close to the "D wins" row of notebook 03's diagnosis table. Yet the fixed codes below, before and after
# training, show faces taking shape. A GAN's losses say little about its samples, so look at the samples.

# %%
d_loss, g_loss = torch.tensor(losses).T
print(f"last 100 steps: D's loss {d_loss[-100:].mean():.2f}, G's loss {g_loss[-100:].mean():.2f}")
plt.figure(figsize=(7, 2.5))
plt.plot(d_loss, label="D"); plt.plot(g_loss, label="G"); plt.axhline(2 * torch.log(torch.tensor(2.0)), color="grey", lw=0.5)
plt.xlabel("step"); plt.ylabel("loss"); plt.legend(); plt.show()
grid_image(torch.cat([before, generate(G, fixed_z)]), nrow=16, scale=3)

# %% [markdown]
# For comparison, here are the same codes through the shipped `faces32`. It is the same architecture at
# width 32, and its card says how long it trained:

# %%
card = load_checkpoint("faces32")
cfg = card["config"]
print(f"faces32: {cfg['epochs']} epochs of {cfg['n_images']:,} faces, {card['step']:,} steps of batch {cfg['batch_size']}; "
      f"you trained {STEPS} steps of batch 64")
grid_image(generate(load_generator("faces32"), fixed_z), nrow=16, scale=3)

# %% [markdown]
# ## Think about it
# 1. What goes wrong if D's step forgets `.detach()`, but G's optimiser is only ever stepped in G's step?
#    Is it still a bug?
# 2. Why does training alternate one D step and one G step, instead of training D to the end first?
# 3. Your D's loss hovered around some value. What would it mean if it went to 0 and stayed there?

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. The results are still right if G's gradients are zeroed before G's own backward pass. But the D step
#    then runs a wasted backward pass through G, so each step costs more. If G's step forgets to zero its
#    gradients, G is also updated with D's gradients, in the wrong direction. The check treats gradients in
#    G after D's step as the bug, because they only ever cost time or correctness.
# 2. A perfect D saturates: log(1 − D(G(z))) is flat where D is sure, and even the non-saturating loss gets
#    unstable gradients from a D that is far ahead. Goodfellow et al.'s algorithm allows k D steps per G
#    step. DCGAN uses k = 1.
# 3. D wins outright: G's samples are easy to reject. That is often the start of a failure (vanishing or
#    unstable gradients, collapse). This run is near that edge, since D's loss stays low, and yet its
#    samples keep improving. So watch the samples: worry when they stop improving or all look alike.
#    Notebook 03's diagnosis section shows what to look at.

# %% [markdown]
# ## Summary
# - D's step: BCE on real (label 1) plus BCE on *detached* fakes (label 0), in separate batches, then
#   zero_grad, backward, step.
# - G's step: BCE(D(G(z)), 1) through D, without detaching, then step G's optimiser only.
# - Written this way, the two steps reproduce the course's training loop. A thousand steps already turn
#   flat grey into rough faces. The shipped checkpoints save the class the rest of the wait.
