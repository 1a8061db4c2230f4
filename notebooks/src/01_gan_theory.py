# %% [markdown]
# # 01 · GAN theory: the counterfeiter and the police
#
# **What you will learn:** the game a GAN plays (Goodfellow et al., 2014) — a generator G that forges
# samples and a discriminator D that tries to catch them; the value function V(D, G) they fight over; why
# the best possible D outputs 1/2 everywhere once G has learned the data; why in practice G is trained with
# the *non-saturating* loss; and the classic failure, **mode collapse**, which we provoke, measure over five
# seeds and then remedy.
#
# Everything here runs on tiny networks (a few thousand weights) in a few minutes on a CPU, so each claim
# comes with a number you can reproduce. `FAST = True` shrinks every experiment to seconds (the test suite
# runs it that way); the claims are only checked at the full settings.

# %% tags=["parameters"]
FAST = False
SEED = 0
STEPS_1D = 2000  # G steps of the 1-D GAN (each with 5 D steps)
EARLY_STEPS = 100  # the first steps of that run, trained with each generator loss
STEPS_2D = 5000  # steps of every 2-D ring run
N_SEEDS = 5  # 2-D seeds: SEED, SEED + 1, ...

# %% [markdown]
# ## Install the course (Colab only)
# The same cell as in every notebook: on Colab it clones and installs the course when `dcgan_lib` is missing.

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from IPython.display import Image

from dcgan_lib import toy

torch.set_num_threads(1)  # tiny networks: more threads only add overhead (and the timings stay comparable)
if FAST:  # seconds, not minutes: the pictures appear, the numbers mean nothing
    STEPS_1D, EARLY_STEPS, STEPS_2D, N_SEEDS = 100, 20, 200, 2
SEEDS = list(range(SEED, SEED + N_SEEDS))
OUT = Path("runs/01_gan_theory")  # GIFs go here (ignored by git); the notebook embeds them
OUT.mkdir(parents=True, exist_ok=True)
T0 = time.perf_counter()

# %% [markdown]
# ## 1 · The counterfeiter and the police
# A counterfeiter prints banknotes; the police inspect every note and say "real" or "fake". Each time the
# police catch a fake, the counterfeiter learns what gave it away and prints a better one; each time a fake
# slips through, the police learn to look harder. If both keep improving, the fakes end up
# indistinguishable from real money, and the police can do no better than a coin toss.
#
# In a GAN the counterfeiter is the **generator** G: it turns random noise z into a sample G(z). The police
# are the **discriminator** D: it gets a sample and outputs D(x), the probability that x is real. D is
# trained to be right; G is trained, *through D's gradient*, to make D wrong. G never sees a real sample:
# everything it knows about the data comes from D.

# %%
toy.plot_gan_schematic()
plt.show()

# %% [markdown]
# ## 2 · The minimax game and the optimal discriminator
# D and G play a two-player game with the value function
#
# $$\min_G \max_D V(D, G) = \mathbb{E}_{x \sim p_\text{data}}[\log D(x)] +
#   \mathbb{E}_{z \sim p_z}[\log(1 - D(G(z)))].$$
#
# D wants V large: $\log D(x)$ near 0 on real data and $\log(1 - D(G(z)))$ near 0 on fakes. G wants V small.
# Write $p_g$ for the distribution of G(z). For a fixed G, V is an integral over x of
# $p_\text{data}(x)\log D(x) + p_g(x)\log(1 - D(x))$, and the function $y \mapsto a\log y + b\log(1-y)$ peaks
# at $y = a/(a+b)$. So the **optimal discriminator** is
#
# $$D^*(x) = \frac{p_\text{data}(x)}{p_\text{data}(x) + p_g(x)}.$$
#
# Put it back into V, with the mixture $M = \tfrac12(p_\text{data} + p_g)$:
#
# $$V(D^*, G) = -\log 4 + \mathrm{KL}(p_\text{data}\,\|\,M) + \mathrm{KL}(p_g\,\|\,M)
#   = -\log 4 + 2\,\mathrm{JSD}(p_\text{data}\,\|\,p_g).$$
#
# The Jensen–Shannon divergence is never negative and is zero only when the two distributions are equal. So
# against the best D, G's best move is $p_g = p_\text{data}$; there $D^*(x) = p/(p + p) = 1/2$ **everywhere**
# — the police are reduced to a coin toss — and $V = -\log 4$.
#
# A numerical check on a grid, with the data N(4, 0.5²) and three Gaussian "generators":

# %%
x = np.linspace(-4, 12, 20001)
dx = x[1] - x[0]
normal = lambda m, s: np.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))  # noqa: E731
p_data = normal(4.0, 0.5)
for g_mean, g_std in [(0.0, 1.0), (3.5, 0.8), (4.0, 0.5)]:
    p_g = normal(g_mean, g_std)
    d_star = p_data / (p_data + p_g + 1e-300)
    v = ((p_data * np.log(d_star + 1e-300) + p_g * np.log(1 - d_star + 1e-300)) * dx).sum()
    m = (p_data + p_g) / 2
    kl = lambda p: (p * np.log((p + 1e-300) / (m + 1e-300)) * dx).sum()  # noqa: E731
    jsd = (kl(p_data) + kl(p_g)) / 2
    on_data = d_star[np.abs(x - 4.0) <= 1.0]  # the data's support: mean ± 2σ
    print(f"G = N({g_mean}, {g_std}²): V(D*, G) = {v:+.4f}, -log 4 + 2 JSD = {-math.log(4) + 2 * jsd:+.4f}, "
          f"D* on the data's support in [{on_data.min():.3f}, {on_data.max():.3f}]")
print(f"-log 4 = {-math.log(4):+.4f}")

# %% [markdown]
# ## 3 · A 1-D GAN, animated like Figure 1 of Goodfellow et al.
# Now we train the real thing. The data is N(4, 0.5²); G and D are MLPs with two hidden layers of 32 units;
# G maps z ~ N(0, 1) to a number. Algorithm 1 of Goodfellow et al. takes k D steps per G step (they used
# k = 1; with k = 1 this toy D lags behind G, so we use k = 5; `toy.train_1d`). The pictures use the colour
# code of their Figure 1: **black dots** the data's density, **green** G's density (a kernel density
# estimate of 4000 samples), **blue dashes** D(x).
#
# Most of the action happens in the first 100 steps, so we keep a frame every 5 steps there and every 100
# steps after. Watch D first separate the two (high over the data, low over G's samples), then G slide
# along D's slope towards the data, and D flatten towards 1/2 where the two densities agree. The table
# follows D's mean over the data and over G's samples (what the two terms of V score), every 10 steps up to
# step 100, then at the end. Far from both densities D never sees a sample, so whatever it outputs there (the bumps
# left and right) means nothing.

# %%
EARLY_FRAMES = range(0, min(100, STEPS_1D), 5)  # extra snapshots; they use no random numbers
run_1d = toy.train_1d(steps=STEPS_1D, seed=SEED, snapshot_every=max(1, STEPS_1D // 20), snapshot_steps=EARLY_FRAMES)
print(f"trained {STEPS_1D} steps in {run_1d.seconds:.1f} s; {len(run_1d.snapshots)} snapshots")
shown = [s for s in run_1d.snapshots if (s["step"] <= 100 and s["step"] % 10 == 0) or s is run_1d.snapshots[-1]]
for name, key, fmt in [("step", "step", "6d"), ("G's mean", "g_mean", "+6.2f"),
                       ("mean D over the data", "d_on_data", "6.2f"), ("mean D over G's samples", "d_on_g", "6.2f")]:
    print(f"{name:<24}" + "".join(f"{s[key]:{fmt}}" for s in shown))

# %% [markdown]
# Four frames: the start, the frame where D tells the two apart best (the largest gap between its two
# means), step 100 and the end.

# %%
by_step = {s["step"]: s for s in run_1d.snapshots}
sharpest = max(run_1d.snapshots, key=lambda s: s["d_on_data"] - s["d_on_g"])
picks = sorted({0, sharpest["step"], min(100, STEPS_1D), STEPS_1D})
fig, axes = plt.subplots(1, len(picks), figsize=(13, 2.8), sharey=True)
for ax, step in zip(axes, picks):
    toy.plot_1d_snapshot(ax, by_step[step])
    ax.set_ylim(0, 1.05)
axes[0].legend(loc="upper left", fontsize=8)
plt.tight_layout()
plt.show()

# %%
def draw_1d(ax, snap):
    toy.plot_1d_snapshot(ax, snap)
    ax.set_ylim(0, 1.05)
    ax.legend(loc="upper left", fontsize=7)


gif_1d = toy.save_snapshot_gif(run_1d.snapshots, draw_1d, OUT / "gan_1d.gif")
Image(filename=gif_1d)

# %% [markdown]
# **The check.** At the equilibrium D(x) = 1/2 on the data. We measure the mean of |D(x) − 0.5| over 201
# evenly spaced points of the data's support (mean ± 2σ, where 95% of the data lies); the target is ≤ 0.1.
# A flat D alone proves little: an *untrained* D is also close to 1/2 (see step 0 below), and a D can go
# flat because it stopped learning. So we also compare G's mean and standard deviation with the data's.

# %%
deviation = run_1d.d_deviation()
g = run_1d.sample(20_000, seed=SEED)
step0 = run_1d.snapshots[0]
on_support = np.abs(step0["xs"] - run_1d.data_mean) <= 2 * run_1d.data_std
print(f"mean |D(x) - 0.5| on the data's support: {deviation:.3f} at the end (target <= 0.1); "
      f"{np.abs(step0['d_prob'][on_support] - 0.5).mean():.3f} for the untrained D at step 0")
print(f"G's samples: mean {g.mean():.3f}, std {g.std():.3f}   data: mean {run_1d.data_mean}, std {run_1d.data_std}")
if not FAST:
    assert deviation <= 0.1, f"D is not near 1/2 on the data (mean |D - 0.5| = {deviation:.3f}); train longer"
    assert abs(g.mean() - run_1d.data_mean) < 0.15 and abs(g.std() - run_1d.data_std) < 0.15, (
        "D looks flat but G's moments are off: D stopped learning rather than G matching the data")
    print("check passed: D is a coin toss on the data and G matches the data's mean and spread")

# %% [markdown]
# ## 4 · Saturating versus non-saturating generator loss
# The minimax game tells G to **minimise log(1 − D(G(z)))**. Early in training G is bad, D rejects its
# samples confidently, D(G(z)) ≈ 0, and this loss is flat: it *saturates*. Goodfellow et al. therefore
# train G to **maximise log D(G(z))** instead (the *non-saturating* loss, −log D(G(z)) to minimise): same
# fixed point, strong gradients exactly when G is losing. With D = sigmoid(a) for D's logit a, the gradients
# with respect to a are −D for the saturating loss and −(1 − D) for the non-saturating one
# (`toy.generator_loss_gradients`, checked against autograd in the tests):

# %%
d = torch.linspace(0.001, 0.999, 200)
grads = toy.generator_loss_gradients(d)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(d, grads["saturating"].abs(), label="saturating: min log(1 - D(G(z)))")
ax.plot(d, grads["non_saturating"].abs(), label="non-saturating: min -log D(G(z))")
ax.axvspan(0, 0.1, color="grey", alpha=0.2, label="early training: D rejects the fakes")
ax.set_xlabel("D(G(z))")
ax.set_ylabel("|d loss / d logit|")
ax.legend(fontsize=7)
plt.tight_layout()
plt.show()
for v in (0.01, 0.5):
    got = toy.generator_loss_gradients(torch.tensor(v))
    print(f"D(G(z)) = {v}: saturating |grad| = {got['saturating'].abs():.3f}, "
          f"non-saturating |grad| = {got['non_saturating'].abs():.3f}")

# %% [markdown]
# What this does to training: the first EARLY_STEPS steps of the same 1-D run (same seed, same data, same
# noise, same D optimiser), once with each loss. G is trained with momentum SGD, as in Goodfellow et al., so the
# size of its gradient decides the size of its step. (The SGD learning rate, 0.003, was picked on seeds 100 and 101, not
# on the seed shown here.) We follow G's mean, its distance to the data's mean of 4, D(G(z)) and the norm of
# G's gradient.

# %%
def early_runs(g_optimizer, lr_g=None):  # the first EARLY_STEPS steps of the 1-D run, once with each loss
    return {loss: toy.train_1d(steps=STEPS_1D, stop_at=EARLY_STEPS, seed=SEED, loss=loss, snapshot_every=5,
                               g_optimizer=g_optimizer, lr_g=lr_g) for loss in ("saturating", "non_saturating")}


early_sgd = early_runs("sgd", lr_g=0.003)
summary_sgd = toy.report_early(early_sgd)  # prints one line per loss
if not FAST:
    assert summary_sgd["saturating"]["closest"] > summary_sgd["non_saturating"]["closest"] + 2, (
        "the saturating loss was not clearly slower early on here")
    print("check passed: with the saturating loss G stalls far from the data while D grows sure of itself")

# %% [markdown]
# With SGD the non-saturating G overshoots and swings around the data (momentum; a different problem,
# which the learning-rate decay damps later), but it gets there; the saturating G has hardly left 0, and the
# surer D becomes, the smaller G's gradient gets.
#
# **With Adam the gap mostly closes.** Adam divides each step by a running estimate of the gradient's size,
# so a consistently small gradient still moves the weights by about the learning rate. The saturating
# loss still hands G a smaller gradient (compare the mean |grad G|), yet here G reaches the data at about
# the same pace. Part of why GANs train with Adam — and the non-saturating loss stays the default, because
# it needs no such rescue.

# %%
early_adam = early_runs("adam")
toy.report_early(early_adam)
fig, axes = plt.subplots(1, 2, figsize=(10, 3), sharey=True)
toy.plot_g_mean(axes[0], early_sgd, "G trained with momentum SGD")
toy.plot_g_mean(axes[1], early_adam, "G trained with Adam")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 5 · Mode collapse on a ring of eight Gaussians
# Real data has many modes (faces with and without glasses, smiling or not). A GAN's generator can
# "succeed" by producing only one kind of sample that fools the current D; D then learns to reject that
# kind, and G jumps to another: **mode collapse**, with **mode hopping**. The standard test bed (Metz et
# al., 2016) is a mixture of 8 Gaussians on a circle of radius 2, each with σ = 0.02. Two measurements:
#
# - **high-quality sample**: a sample within 3σ = 0.06 of some mode's centre; we report their share;
# - **covered mode**: a mode that receives at least 1% of all samples as high-quality samples
#   (a fair share would be 12.5%).
#
# Both are strict: a G whose samples sit 0.1 from a mode — close on the plot — gets no credit. So we also
# report a looser measure of where G's mass is, **modes reached**: modes that are the nearest mode of at
# least 5% of the samples, however far away (`toy.nearest_mode_shares`).
#
# First, the metric on real data (it should say 8 modes, ~99% high quality, since 3σ holds 98.9% of a 2-D
# Gaussian's mass):

# %%
centres = toy.ring_centres()
real = toy.ring_of_gaussians(2000, seed=SEED)
stats = toy.mode_stats(real, centres)
print(f"real data: {stats['modes_covered']}/8 modes covered, high quality {stats['high_quality']:.1%}")
fig, ax = plt.subplots(figsize=(3, 3))
toy.plot_2d_snapshot(ax, real, centres)
ax.set_title("the data")
plt.show()

# %% [markdown]
# ### A plain GAN, five seeds
# G: 16-D noise → two hidden layers of 64 ReLU units → (x, y); D: the mirror image; non-saturating loss,
# Adam (β1 = 0.5), batch 256, one D step per G step. D learns 3× slower than G (3e-4 vs 1e-3), a regime
# in which G outruns D's feedback (what happens with equal rates is an exercise at the end).
#
# The five seeds train together as one batched ensemble (`toy.train_2d_seeds`; networks this small spend
# much of their time on per-step overhead, which the seeds then share). Each member starts from the same
# weights, data and noise as a single `toy.train_2d` run with its seed, and no member influences another.
# Float rounding still differs a little, and a GAN amplifies it over thousands of steps, so the same seed
# trained alone (or on another CPU) may end on other modes — one more reason to look at five seeds.

# %%
SIZE_2D = dict(hidden=64, batch_size=256, snapshot_every=max(1, STEPS_2D // 20))
runs = {"none": toy.train_2d_seeds(SEEDS, steps=STEPS_2D, **SIZE_2D)}
for r in runs["none"]:
    print(f"seed {r.seed}: {r.final['modes_covered']}/8 modes covered, high quality {r.final['high_quality']:.1%}")
print(f"{len(SEEDS)} seeds in {sum(r.seconds for r in runs['none']):.0f} s")

# %% [markdown]
# ### Mode hopping
# Take the seed that ends with the fewest covered modes (the first such seed) and look at G's samples over
# training. To see *where* G is when its samples are too blurry to count as high quality, we also ask which
# mode is nearest to most of its samples (`toy.nearest_mode_shares`), and what share of samples that mode
# gets: near 1/8 for a G that spreads over the ring, near 1 for a collapsed one.

# %%
hop = min(runs["none"], key=lambda r: r.final["modes_covered"])
shares = [toy.nearest_mode_shares(s["samples"], centres) for s in hop.snapshots]
dominant = [int(s.argmax()) for s in shares]
print(f"seed {hop.seed}: mode nearest to most samples, snapshot by snapshot: {dominant}")
print(f"share of samples nearest that mode: median {np.median([float(s.max()) for s in shares[1:]]):.0%} "
      f"(1/8 = 12.5% if spread evenly); it changed {sum(a != b for a, b in zip(dominant[1:], dominant[2:]))} "
      f"times after step {hop.snapshots[1]['step']}, visiting {len(set(dominant[1:]))} of 8 modes")
picks = [hop.snapshots[i] for i in np.linspace(0, len(hop.snapshots) - 1, 6).round().astype(int)]
fig, axes = plt.subplots(1, 6, figsize=(13, 2.4))
for ax, snap in zip(axes, picks):
    toy.plot_2d_snapshot(ax, snap["samples"], centres)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), title=f"step {snap['step']}")
plt.tight_layout()
plt.show()

# %%
def draw_2d(ax, snap):
    toy.plot_2d_snapshot(ax, snap["samples"], centres)
    ax.set(xlim=(-3, 3), ylim=(-3, 3), title=f"plain GAN, seed {hop.seed}, step {snap['step']}")


Image(filename=toy.save_snapshot_gif(hop.snapshots, draw_2d, OUT / "mode_hopping.gif", figsize=(3.2, 3.2)))

# %% [markdown]
# ### Remedies, on the same five seeds
# - **Minibatch standard deviation** (Karras et al., 2018; a simpler cousin of Salimans et al.'s minibatch
#   discrimination, 2016): D also sees how spread out the whole batch is, so a batch of near-identical
#   samples is easy to call fake, and collapsing stops paying off.
# - **Gradient penalty** (R1, Mescheder et al., 2018): penalise D's gradient on real data, so D stays smooth
#   instead of building sharp walls that shove G from one mode to the next. The weight γ = 10 was chosen on
#   seeds 100–104, not on the seeds below; with γ = 1 it did not help there (0.4/8 modes after 4000 steps).
#
# (`toy.train_2d` also implements *unrolled* GANs, Metz et al., 2016, where G trains against D's next few
# steps; it costs six D steps per G step, so it is left as an exercise and not measured here.)
# Same sizes, same seeds, same data and noise; only the remedy differs.

# %%
REMEDIES = {"minibatch_std": {}, "gradient_penalty": {"gp_weight": 10.0}}
for remedy, extra in REMEDIES.items():
    runs[remedy] = toy.train_2d_seeds(SEEDS, steps=STEPS_2D, remedy=remedy, **SIZE_2D, **extra)

def modes_reached(r):
    return int((toy.nearest_mode_shares(r.snapshots[-1]["samples"], centres) >= 0.05).sum())


print(f"after {STEPS_2D} steps, seeds {SEEDS}")
print(f"{'remedy':>17} | {'modes covered per seed':^24} | mean covered | high quality | modes reached | time")
for remedy, rs in runs.items():
    modes = [r.final["modes_covered"] for r in rs]
    quality = np.mean([r.final["high_quality"] for r in rs])
    reached = np.mean([modes_reached(r) for r in rs])
    print(f"{remedy:>17} | {str(modes):^24} | {np.mean(modes):8.1f}/8   | {quality:11.1%} | {reached:9.1f}/8   | "
          f"{sum(r.seconds for r in rs):4.0f} s")

# %% [markdown]
# Modes covered over training (mean over the seeds), and the last snapshot of every run:

# %%
fig, ax = plt.subplots(figsize=(5, 3))
for remedy, rs in runs.items():
    steps = [s["step"] for s in rs[0].stats]
    ax.plot(steps, np.mean([[s["modes_covered"] for s in r.stats] for r in rs], axis=0), label=remedy)
ax.set(xlabel="step", ylabel="modes covered (mean)", ylim=(0, 8.3))
ax.legend(fontsize=7)
plt.tight_layout()
plt.show()

fig, axes = plt.subplots(len(runs), len(SEEDS), figsize=(2.2 * len(SEEDS), 2.2 * len(runs)), squeeze=False)
for row, (remedy, rs) in zip(axes, runs.items()):
    for ax, r in zip(row, rs):
        toy.plot_2d_snapshot(ax, r.snapshots[-1]["samples"], centres)
        ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[], title=f"{remedy}, seed {r.seed}")
        ax.title.set_fontsize(7)
plt.tight_layout()
plt.show()

# %%
mean_modes = {remedy: np.mean([r.final["modes_covered"] for r in rs]) for remedy, rs in runs.items()}
mean_reached = {remedy: np.mean([modes_reached(r) for r in rs]) for remedy, rs in runs.items()}
print("mean modes covered:", {k: round(float(v), 1) for k, v in mean_modes.items()})
print("mean modes reached:", {k: round(float(v), 1) for k, v in mean_reached.items()})
if not FAST:
    assert mean_reached["none"] <= 3, "the plain GAN did not collapse here (try unequal learning rates)"
    assert mean_modes["minibatch_std"] > mean_modes["none"] + 2 and mean_reached["minibatch_std"] >= 7, (
        "minibatch std did not spread G over the ring here")
    print("check passed: the plain GAN collapses; with minibatch std G spreads over the ring and covers more modes")
print(f"experiments in this notebook took {time.perf_counter() - T0:.0f} s")

# %% [markdown]
# ## Summary
# - A GAN is a game: D maximises V(D, G) = E[log D(x)] + E[log(1 − D(G(z)))], G minimises it.
# - For a fixed G the best D is p_data / (p_data + p_g); against it, G minimises the Jensen–Shannon
#   divergence to the data, so at the optimum p_g = p_data and D(x) = 1/2 everywhere.
# - The 1-D GAN reaches that point in practice: D within 0.1 of 1/2 on the data (printed above), with G's
#   mean and spread matching the data's.
# - The saturating loss log(1 − D(G(z))) gives G almost no gradient when D rejects its samples; the
#   non-saturating loss −log D(G(z)) is strongest there. With momentum SGD (Goodfellow et al.'s
#   optimiser; DCGAN uses Adam) the saturating G stalls far from the data while the non-saturating one
#   reaches it; Adam hides most of the gap.
# - Mode collapse is real and measurable: on the ring of 8 Gaussians a plain GAN puts nearly all its samples
#   near one mode at a time and hops from mode to mode. Minibatch standard deviation and an R1 gradient
#   penalty were measured on the same seeds (table above); whether a remedy covers every mode sharply
#   within this budget varies from seed to seed, so read the per-seed column, not just the mean.
# - Exercises: train longer (`STEPS_2D`) and watch the curves above; try `remedy="unrolled"` in
#   `toy.train_2d_seeds`; set the two learning rates equal and see whether the plain GAN still collapses.
# - Next: **02 · architecture** — the convolutional G and D of DCGAN.
