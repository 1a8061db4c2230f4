# %% [markdown]
# # Exercise 1 · The game, in three functions
#
# **What you will learn:** by writing them yourself, the three formulas that notebook 01 shows: the best
# discriminator for a fixed generator, the value V(D, G) of the minimax game, and the generator's two
# losses, one of which stops learning exactly when G is bad. Each exercise is a function with
# `raise NotImplementedError` in it. Replace that line with your code and run the cell. The check under it
# prints **✓ exercise … passed**, or one line saying what to look at.
#
# Do notebook 01 first (or follow it in class). About 15 minutes.

# %% tags=["parameters"]
FAST = False
SEED = 0

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import math

import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

from dcgan_lib.exercises import check_generator_losses, check_optimal_d, check_value

_ = torch.manual_seed(SEED)  # the same draws on every run

# %% [markdown]
# ## 1.1 The best discriminator
# Hold G fixed, so its samples have a density p_g(x). D wants to maximise
# V(D, G) = E_data[log D(x)] + E_g[log(1 − D(x))] = ∫ p_data(x) log D(x) + p_g(x) log(1 − D(x)) dx.
# D can choose its answer at every x separately. At one x, a·log y + b·log(1 − y) is largest at
# y = a / (a + b). Write that best answer D*(x) from the two densities, evaluated at the same points:

# %%
def optimal_d(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """D*(x) at each point, from the densities p_data(x) and p_g(x) there (same shape)."""
    # BEGIN SOLUTION
    return p_data / (p_data + p_g)
    # END SOLUTION


check_optimal_d(optimal_d)

# %% [markdown]
# **See it.** The data are N(4, 0.5²). Three generators come closer and closer to them. The best D is sure
# where only one density lives, and it is ½ wherever the two densities agree. When G has caught up, D
# can do no better than ½ everywhere. This is the "D → ½" of notebook 01.

# %%
def normal_pdf(x, mean, std):
    return torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi))


xs = torch.linspace(0, 7, 300)
generators = {"G = N(1, 1)": (1.0, 1.0), "G = N(3, 0.8)": (3.0, 0.8), "G = data": (4.0, 0.5)}
plt.figure(figsize=(7, 3))
for label, (m, s) in generators.items():
    plt.plot(xs, optimal_d(normal_pdf(xs, 4.0, 0.5), normal_pdf(xs, m, s)), label=label)
plt.axhline(0.5, color="grey", lw=0.5)
plt.xlabel("x"); plt.ylabel("D*(x)"); plt.legend(); plt.show()

# %% [markdown]
# ## 1.2 The value of the game
# In practice D outputs probabilities on a batch of real images and a batch of fakes. Write V(D, G) from
# them: the mean of log D(x) over the real batch plus the mean of log(1 − D(G(z))) over the fakes. The two
# batches need not be the same size.

# %%
def value(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """V(D, G) estimated from D's probabilities on a real batch (n,) and on a fake batch (m,): one number."""
    # BEGIN SOLUTION
    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()
    # END SOLUTION


check_value(value)

# %% [markdown]
# **See it.** Put the best D of each generator into your V, on samples. Goodfellow et al. show that
# V(D*, G) = −log 4 + 2·JS(p_data ‖ p_g). So V falls to −log 4 as G reaches the data, and that is the only
# place where it gets there.

# %%
n = 2_000 if FAST else 100_000
g = torch.Generator().manual_seed(SEED)
x_real = 4.0 + 0.5 * torch.randn(n, generator=g)
for label, (m, s) in generators.items():
    x_fake = m + s * torch.randn(n, generator=g)
    d_star = lambda x: optimal_d(normal_pdf(x, 4.0, 0.5), normal_pdf(x, m, s)).clamp(1e-7, 1 - 1e-7)  # noqa: E731
    print(f"{label:<14} V(D*, G) = {float(value(d_star(x_real), d_star(x_fake))):+.3f}   (-log 4 = {-math.log(4):.3f})")

# %% [markdown]
# ## 1.3 Two losses for G
# D returns a **logit** a, and D = sigmoid(a). G can minimise the loss of the game, log(1 − D(G(z))).
# That loss *saturates*. Or G can minimise −log D(G(z)), the *non-saturating* loss that Goodfellow et al.
# recommend and DCGAN uses. Write both as means over a batch of logits. Take the logs from the logits
# themselves: in float32, `torch.sigmoid(a)` is exactly 0 below about a = −88, so
# `torch.log(torch.sigmoid(a))` is −inf there. `F.logsigmoid` and `F.softplus` (log(1 + eᵃ)) are stable.
# Hint: log(1 − sigmoid(a)) = −softplus(a).

# %%
def saturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """mean of log(1 - D(G(z))) over the batch, from D's logits on the fakes."""
    # BEGIN SOLUTION
    return -F.softplus(fake_logits).mean()
    # END SOLUTION


def non_saturating_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """mean of -log D(G(z)) over the batch, from D's logits on the fakes."""
    # BEGIN SOLUTION
    return F.softplus(-fake_logits).mean()
    # END SOLUTION


check_generator_losses(saturating_loss, non_saturating_loss)

# %% [markdown]
# **See it.** Plot each loss's gradient with respect to the logit, found by autograd through *your*
# functions, against D(G(z)). Early in training D rejects the fakes, so D(G(z)) is near 0. There the
# saturating loss gives G almost no gradient, and the non-saturating one gives it the most.

# %%
a = torch.linspace(-6, 6, 200, requires_grad=True)
d = torch.sigmoid(a).detach()
plt.figure(figsize=(6, 3))
for name, loss in (("saturating", saturating_loss), ("non-saturating", non_saturating_loss)):
    (grad,) = torch.autograd.grad(loss(a) * len(a), a)  # times n: the gradient of each sample's own loss
    plt.plot(d, grad, label=name)
plt.xlabel("D(G(z))"); plt.ylabel("d loss / d logit"); plt.legend(); plt.show()

# %% [markdown]
# ## Think about it
# 1. Your D* needs p_data(x). Why can a real discriminator never compute it? What does it do instead?
# 2. V(D*, G) = −log 4 + 2·JS. Why does that make the game a sensible way to fit p_g to p_data? What does it
#    promise, and what does it leave out?
# 3. Both losses have the same fixed point. Why does the choice still matter in practice?

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. Only samples of p_data exist. A trained D approximates D* from those samples, and it is only as good
#    as its capacity and its training. Notebook 01's 1-D D gets within 0.1 of ½ on the data's support.
# 2. JS ≥ 0, with 0 only at p_g = p_data. So a G that minimises V(D*, G) matches the data. That promise
#    holds only if D is optimal at every step and G can represent p_data. Real training alternates
#    gradient steps, which is why it can oscillate or collapse (notebook 01's ring).
# 3. The gradients differ where it matters. At the start D(G(z)) ≈ 0, and the saturating loss's gradient
#    −D is ≈ 0 there, so G barely moves. The non-saturating loss's gradient −(1 − D) is ≈ −1 there.

# %% [markdown]
# ## Summary
# - The best D for a fixed G is p_data / (p_data + p_g). It is ½ everywhere once G matches the data.
# - V(D, G) is two batch means of logs. At the best D it equals −log 4 + 2·JS, so it is smallest exactly at
#   p_g = p_data.
# - G trains on −log D(G(z)), computed from the logits (softplus), because log(1 − D(G(z))) gives no
#   gradient while G is still bad.
