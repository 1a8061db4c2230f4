# %% [markdown]
# # 02 · Architecture: the DCGAN guidelines, taken apart
#
# **What you will learn:** the five architecture guidelines of the DCGAN paper and why the authors chose each;
# how a fractional-strided (transposed) convolution works, as zero insertion followed by an ordinary
# convolution; the output-size formula that takes G from a 1×1 code to a 64×64 image; the 64×64 generator and
# discriminator layer by layer (shapes and parameters); where checkerboard artifacts come from; and, by
# training small models that each break one guideline, what happens when you ignore them.
#
# Everything here is measured, not asserted: each claim below comes with the number that backs it.

# %% tags=["parameters"]
FAST = False
SEED = 0
WIDTH = 16  # channels of the ablation models (the course's default is 32; 16 trains about 3x faster)
N_IMAGES = 12_800  # procedural faces in the ablation training set (32x32)
EPOCHS = 3  # 3 passes over the faces: 300 steps of 128 images per variant
EVAL_N = 1000  # generated samples per evaluation
BASELINE_SEEDS = 2  # the baseline is trained with this many seeds: their spread is our noise yardstick

# %% [markdown]
# ## Install the course (Colab only)
# The same cell as in every notebook: on Colab it clones and installs the course when `dcgan_lib` is missing.

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from dcgan_lib import architecture as arch
from dcgan_lib.ablations import format_ablation_table, train_and_evaluate
from dcgan_lib.data import load_data
from dcgan_lib.images import to_display, to_model_range
from dcgan_lib.latent import sample_z
from dcgan_lib.models import Discriminator, Generator, count_parameters, generate
from dcgan_lib.viz import grid

if FAST:  # a few steps per variant: checks that the code runs, shows nothing about the guidelines
    N_IMAGES, EPOCHS, EVAL_N, BASELINE_SEEDS = 256, 1, 200, 2
t_notebook = time.perf_counter()
torch.manual_seed(SEED)
torch.set_num_threads(1)  # float sums depend on the thread count: one thread gives these numbers on any CPU

# %% [markdown]
# ## The five guidelines
# Radford, Metz & Chintala (2015) tried many architectures before one trained stably; they summarise what
# worked as five rules. The "why" column paraphrases the paper.
#
# | guideline | what it means | why the paper chose it |
# |---|---|---|
# | 1. no pooling | D downsamples with **strided convolutions**, G upsamples with **fractional-strided (transposed) convolutions** | the "all convolutional net" (Springenberg et al., 2014): the network learns its own spatial down- and upsampling instead of using a fixed rule such as max-pooling |
# | 2. no fully connected hidden layers | z is projected and reshaped straight into G's first 4×4 feature map; D's last feature map goes straight to one output | global average pooling made training more stable but slower to converge; connecting the highest convolutional features directly to G's input and D's output "worked well" |
# | 3. BatchNorm in both nets, except G's output layer and D's input layer | each unit's input is normalised to zero mean and unit variance over the batch | it helps with poor initialisation and gradient flow, and was "critical to get deep generators to begin learning", preventing G from collapsing all samples to one point; on *every* layer it caused "sample oscillation and model instability" |
# | 4. ReLU in G, tanh at its output | ReLU after every hidden layer of G; tanh maps the output into [−1, 1], the range of the scaled images | the bounded tanh lets the model "learn more quickly to saturate and cover the color space" of the data |
# | 5. LeakyReLU (slope 0.2) in D | a small gradient for negative inputs | it "works well, especially for higher resolution modeling" (the original GAN's D used maxout) |
#
# The course's `Generator` and `Discriminator` (`dcgan_lib/models.py`) follow all five. The rest of this
# notebook opens up rule 1, draws the networks, and then breaks each rule in turn.

# %% [markdown]
# ## A fractional-strided convolution is zero insertion plus a convolution
# A convolution with stride 2 halves the size of its input. Its "transpose" doubles it, and there is a simple
# way to see how: put a zero between every pair of input pixels (the input now moves with stride ½ under
# the kernel — hence *fractional-strided*), pad the border with `kernel − 1 − padding` zeros, then run an
# ordinary stride-1 convolution with the kernel rotated by 180°. `arch.conv_transpose_by_zero_insertion`
# does exactly that; we check it against PyTorch's `nn.ConvTranspose2d` with G's settings (kernel 4,
# stride 2, padding 1).

# %%
layer = nn.ConvTranspose2d(8, 3, kernel_size=4, stride=2, padding=1, bias=False)
x = torch.randn(2, 8, 5, 5)
with torch.no_grad():
    ours, torchs = arch.conv_transpose_by_zero_insertion(x, layer.weight, stride=2, padding=1), layer(x)
diff = (ours - torchs).abs().max().item()
print(f"input {tuple(x.shape)} -> output {tuple(torchs.shape)}; zero insertion vs nn.ConvTranspose2d: max |difference| = {diff:.1e}")
assert diff < 1e-5, "zero insertion + convolution should equal the transposed convolution"

# %% [markdown]
# Here is the same thing on a 4×4 single-channel picture: the zeros inserted, the padded map that the
# convolution slides over, and the 8×8 result.

# %%
img = torch.arange(1.0, 17.0).reshape(1, 1, 4, 4)
w = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(SEED))
stages = {"input 4×4": img, "zeros inserted 7×7": arch.zero_insert(img, 2),
          "padded by k−1−p = 2: 11×11": nn.functional.pad(arch.zero_insert(img, 2), [2] * 4),
          "after the 4×4 convolution: 8×8": arch.conv_transpose_by_zero_insertion(img, w, 2, 1)}
fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, (title, t) in zip(axes, stages.items()):
    ax.imshow(t[0, 0], cmap="viridis"), ax.set_title(title, fontsize=9), ax.set_xticks([]), ax.set_yticks([])
plt.tight_layout(); plt.show()

# %% [markdown]
# ## The output-size formula
# For a transposed convolution, `out = (in − 1)·stride − 2·padding + kernel`; for a convolution,
# `out = ⌊(in + 2·padding − kernel) / stride⌋ + 1`. G's first layer (kernel 4, stride 1, padding 0) turns the
# 1×1 code into 4×4: this *is* the paper's "project and reshape", a fully connected layer written as a
# convolution. Each later layer (kernel 4, stride 2, padding 1) gives `(in − 1)·2 − 2 + 4 = 2·in`: it doubles.
# D runs the same ladder down. We compute the ladder from the formula and check it against real layers.

# %%
ladder_g, ladder_d, n = [], [], 1
for k, s, p in [(4, 1, 0)] + [(4, 2, 1)] * 4:
    out = arch.conv_transpose_output_size(n, k, s, p)
    real = nn.functional.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
    assert out == real, f"formula {out} != ConvTranspose2d {real}"
    ladder_g.append(out); n = out
for k, s, p in [(4, 2, 1)] * 4 + [(4, 1, 0)]:
    out = arch.conv_output_size(n, k, s, p)
    assert out == nn.functional.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s, padding=p).shape[-1]
    ladder_d.append(out); n = out
print("G: 1 ->", " -> ".join(map(str, ladder_g)), "   (the formula matches nn.ConvTranspose2d at every step)")
print("D: 64 ->", " -> ".join(map(str, ladder_d)), "   (the formula matches nn.Conv2d at every step)")

# %% [markdown]
# ## The 64×64 networks, layer by layer
# `arch.layer_table` runs the model once with a forward hook on every module and records what each produced.
# At `width = 64` (the PyTorch tutorial's size; the paper's Figure 1 generator, 1024 → 512 → 256 → 128
# channels, is width 128) the totals must be the tutorial's:
# 3,576,704 parameters in G and 2,765,568 in D.

# %%
G64, D64 = Generator(64, 3, nz=100, width=64), Discriminator(64, 3, width=64)
rows_g = arch.layer_table(G64, torch.randn(1, 100, 1, 1))
print("Generator\n" + arch.format_layer_table(rows_g, (100, 1, 1)))
assert sum(r["params"] for r in rows_g) == count_parameters(G64) == 3_576_704, "G's table should add up to 3,576,704"

# %%
rows_d = arch.layer_table(D64, torch.randn(1, 3, 64, 64))
print("Discriminator\n" + arch.format_layer_table(rows_d, (3, 64, 64)))
assert sum(r["params"] for r in rows_d) == count_parameters(D64) == 2_765_568, "D's table should add up to 2,765,568"
big = max(rows_g, key=lambda r: r["params"])
print(f"\nG's largest module is {big['layer']}'s {big['type']} ({big['shape']}): {big['params'] / count_parameters(G64):.0%} of G's parameters")

# %% [markdown]
# The two networks mirror each other: G's channels go 512 → 256 → 128 → 64 → 3 while its maps grow
# 4 → 64; D's go 64 → 128 → 256 → 512 → 1 while its maps shrink. BatchNorm layers hold only 2 numbers per
# channel; almost all parameters sit in the convolutions, and the most in the one between the layers with
# the most channels (512 → 256 in G, 256 → 512 in D: 2,097,152 parameters each, 59% of G's). There is no
# `Linear` and no pooling anywhere.

# %% [markdown]
# ## Checkerboard artifacts
# A transposed convolution with stride 2 lays one copy of its kernel per input pixel, two pixels apart. If
# the kernel size is not divisible by the stride, neighbouring copies overlap unevenly, and some output
# pixels receive more kernel taps than others (Odena, Dumoulin & Olah, "Deconvolution and Checkerboard
# Artifacts", 2016). `arch.overlap_counts` counts the taps per output pixel:

# %%
c3, c4 = arch.overlap_counts(3, 2, n_in=6, padding=1), arch.overlap_counts(4, 2, n_in=6, padding=1)
print("kernel 3, stride 2: taps per output pixel (inside):", sorted(set(c3[2:-2, 2:-2].flatten().tolist())))
print("kernel 4, stride 2: taps per output pixel (inside):", sorted(set(c4[2:-2, 2:-2].flatten().tolist())))

# %% [markdown]
# So a layer with constant weights turns a constant input into a checkerboard with kernel 3 and into a flat
# image with kernel 4 (DCGAN's choice). But with *learned* (here: random, as at initialisation) weights even
# kernel 4 can make a periodic pattern: each of the four output phases (row parity, column parity) uses a
# different quarter of the kernel. *Resize-then-convolve* (nearest-neighbour upsampling followed by an
# ordinary 3×3 convolution) has no such phases: on a constant input its output is flat whatever the weights.
# `arch.phase_means` measures the pattern as the mean of each of the four phases (borders cropped).

# %%
flat = torch.ones(1, 1, 12, 12)
g = torch.Generator().manual_seed(SEED)
rand4 = torch.randn(1, 1, 4, 4, generator=g) * 0.5 + 1
resize = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(1, 1, 3, 1, 1, bias=False))
with torch.no_grad():
    resize[1].weight.copy_(torch.randn(1, 1, 3, 3, generator=g) * 0.5 + 1)
    outputs = {"transposed, kernel 3, constant weights": nn.functional.conv_transpose2d(flat, torch.ones(1, 1, 3, 3), stride=2, padding=1),
               "transposed, kernel 4, constant weights": nn.functional.conv_transpose2d(flat, torch.ones(1, 1, 4, 4), stride=2, padding=1),
               "transposed, kernel 4, random weights": nn.functional.conv_transpose2d(flat, rand4, stride=2, padding=1),
               "nearest upsample + 3×3 conv, random weights": resize(flat)}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.2))
for ax, (title, y) in zip(axes, outputs.items()):
    m = arch.phase_means(y)
    spread = ((m.max() - m.min()) / m.abs().mean()).item()
    print(f"{title:<46} phase means {[round(v, 2) for v in m.flatten().tolist()]}  relative spread {spread:.2f}")
    ax.imshow(y[0, 0, 2:-2, 2:-2], cmap="gray", vmin=0, vmax=1.1 * y.max().item())  # a flat output shows as flat grey
    ax.set_title(title, fontsize=8), ax.set_xticks([]), ax.set_yticks([])
plt.tight_layout(); plt.show()

# %% [markdown]
# DCGAN keeps transposed convolutions with kernel 4 and stride 2: the overlap is even, and training learns
# weights whose phases agree — when training works. When it does not, the pattern stays: look for it in the
# no-BatchNorm samples below. Resize-then-convolve, used by many later GANs, removes its source at the cost
# of a fixed (unlearned) upsampling step — exactly what guideline 1 avoided.

# %% [markdown]
# ## Ablations: break one guideline at a time
# Each variant below is the course's DCGAN with a few modules swapped (`dcgan_lib.architecture.VARIANTS`);
# layers it shares with the baseline start from the same weights for the same seed. Every variant trains on
# the same procedural faces (32×32), with the same budget and the paper's optimiser, and is measured by the
# same evaluation (`dcgan_lib.evaluate.evaluate_generator`, notebook 03 explains it): the **gap closed** in
# Fréchet distance (0 = no better than an untrained generator, 1 = as close as real faces; the "untrained"
# reference is the baseline architecture for every row, so the column compares across rows), and the
# attribute rates the course classifier reads from the samples. `dcgan train --variant NAME` trains the
# same variants from the command line.

# %%
for name, what in arch.VARIANTS.items():
    torch.manual_seed(SEED)
    Gv, Dv = arch.build_variant(name, 32, 3, 100, WIDTH)
    print(f"{name:<14} G {count_parameters(Gv):>8,}  D {count_parameters(Dv):>8,} parameters   {what}")

# %% [markdown]
# One guideline can be seen before any training. Without BatchNorm nothing rescales the activations, and
# with weights drawn from N(0, 0.02) each layer shrinks its input: here is the spread (standard deviation)
# of each layer's output in an untrained G of each kind, for the same 256 codes.

# %%
z = sample_z(256, 100, generator=torch.Generator().manual_seed(SEED))
for name in ("dcgan", "no-batchnorm"):
    torch.manual_seed(SEED)
    Gv, _ = arch.build_variant(name, 32, 3, 100, WIDTH)
    with torch.no_grad():
        stds = {layer: out.std().item() for layer, out in Gv.features(z).items()}  # batch statistics, as in training
    print(f"{name:<14}" + "  ".join(f"{layer} {v:.4f}" for layer, v in stds.items()))

# %% [markdown]
# **The budget, and what it can show.** To keep this notebook near five minutes on two CPU cores, each
# variant gets `EPOCHS` × `N_IMAGES` = 3 × 12,800 faces (300 steps) at width 16 (half the course's default
# width; at width 32 the same time buys only a third of the steps). The shipped `faces32` model trained
# about 30 times as many steps, at twice the width. So this is a *short-budget* comparison with *one seed per variant*: it can show a guideline
# whose absence stops learning or slows it badly, but not small differences, and not what happens later in
# training. To tell the two apart, the baseline is trained with `BASELINE_SEEDS` seeds: a difference smaller
# than the spread between those runs is noise.

# %%
data = load_data("faces", 32, N_IMAGES, seed=SEED)
fixed_z = sample_z(16, 100, generator=torch.Generator().manual_seed(SEED + 2))
rows, samples = [], {}
for name in arch.VARIANTS:
    for s in range(SEED, SEED + (BASELINE_SEEDS if name == "dcgan" else 1)):
        G, row = train_and_evaluate(name, data, epochs=EPOCHS, seed=s, width=WIDTH, eval_n=EVAL_N, eval_seed=SEED)
        rows.append(row)
        if s == SEED:
            samples[name] = generate(G.cpu(), fixed_z)
        print(f"{name:<14} seed {s}: {row['steps']} steps in {row['train_s']:.0f} s, gap closed {row['gap_closed']:.2f}")

# %% [markdown]
# The table: one line per run, the data's own attribute rates (the same classifier on real faces) last.
# `D(x)` and `D(G(z))` are D's mean probabilities on real and fake batches over the last 20 steps.

# %%
from dcgan_lib.evaluate import attribute_rates

real_rates = attribute_rates(data.images[:EVAL_N].cpu())
print(format_ablation_table(rows, real_rates, times=False))  # the times are printed above

# %% [markdown]
# And what each variant draws from the same 16 latent codes (BatchNorm in running-statistics mode). Above
# the grids, the spread of the samples across z (the pixel standard deviation over the 16 images, averaged
# over pixels): near 0 means G draws the same picture whatever z is.

# %%
real16 = to_model_range(data.images[:16])
print(f"{'real faces':<14} spread across images {real16.std(0).mean():.3f}")
for name, imgs in samples.items():
    print(f"{name:<14} spread across z      {imgs.std(0).mean():.3f}")
fig, axes = plt.subplots(1, len(samples), figsize=(2.4 * len(samples), 2.8))
gap = {r["variant"]: r["gap_closed"] for r in rows if r["seed"] == SEED}
for ax, (name, imgs) in zip(axes, samples.items()):
    ax.imshow(grid(to_display(imgs), nrow=4).permute(1, 2, 0)), ax.set_axis_off()
    ax.set_title(f"{name}\ngap {gap[name]:.2f}", fontsize=9)
plt.tight_layout(); plt.show()

# %% [markdown]
# ### Reading the table against the noise
# The code below sets each variant's gap closed against the baseline's runs, with a deliberately crude rule:
# "lower" only when it falls below the lowest baseline run by more than the baseline runs' spread.

# %%
base = [r["gap_closed"] for r in rows if r["variant"] == "dcgan"]
spread = max(base) - min(base)
print(f"baseline gap closed over {len(base)} seeds: {', '.join(f'{b:.2f}' for b in base)} (spread {spread:.2f})")
for r in rows:
    if r["variant"] != "dcgan":
        lower = r["gap_closed"] < min(base) - spread
        print(f"  {r['variant']:<14} {r['gap_closed']:5.2f}: {'lower than the baseline' if lower else 'not distinguishable from the baseline at this budget'}")
train_s = {r["variant"]: r["train_s"] for r in rows if r["seed"] == SEED}
print(f"training time, max-pooling D against the baseline (seed {SEED}): {train_s['maxpool-d']:.0f} s / "
      f"{train_s['dcgan']:.0f} s = {train_s['maxpool-d'] / train_s['dcgan']:.1f}x")
print(f"(this notebook has run for {time.perf_counter() - t_notebook:.0f} s)")
if not FAST:
    assert min(base) > 0.4, "the baseline should close a good part of the gap in 300 steps; if not, the budget is too small to compare anything"

# %% [markdown]
# **What this can and cannot tell you.** Look first at the baseline's own seeds: two runs of the *same*
# architecture differ by the spread printed above (0.2 in gap closed is common after 300 steps), so a single
# run per variant can mislead. `benchmarks/ablations.py` repeats the table with three other seeds (about
# 17–20 minutes on one core); over those, no BatchNorm and the fully connected hidden layers closed less of the
# gap than every baseline run, max-pooling in D did so in two of three and ReLU in D in one of three, while
# BatchNorm everywhere never did (it was higher than every baseline run in two of three). Read the variants
# with that in mind:
# - **No BatchNorm** is the clearest failure: with the paper's N(0, 0.02) initialisation the signal shrinks
#   at every layer (measured above, before training) and G is slow to start. In this run it collapsed: its
#   samples vary least with z of all the variants (the spread printed above the grids) and all show the same
#   pinkish texture, the failure the paper says BatchNorm prevents ("collapsing all samples to a single
#   point"). Other seeds
#   learned a little, or went badly wrong (a gap closed far below 0: samples further from faces than an
#   untrained G's).
# - **Fully connected hidden layers** add parameters (see the table: 4× in D at this width) and learn more
#   slowly; look at their D(x) and D(G(z)): this D stays unsure where the others are confident.
# - **Max-pooling in D** costs more compute: each of D's downsampling convolutions runs at four times as many
#   positions before the pooling throws three quarters of them away. With G unchanged, the whole training
#   step took about three times as long (the `train s` column; the ratio is printed above), and it tended
#   to learn more slowly in this budget.
# - **BatchNorm on G's output and D's input** and **ReLU in D** show no clear cost at 300 steps and 32×32
#   (BatchNorm everywhere came out low in this seed-0 run, with odd colours, but was never lower than the
#   baseline in the three benchmark seeds). The
#   paper's reasons for those two rules — oscillation and instability, better behaviour at higher resolution —
#   are about long runs and larger images, which a five-minute budget does not reach. Not finding an effect
#   here is not evidence that there is none.
#
# The paper itself gives no ablation table for these rules; they are its authors' distilled experience.

# %% [markdown]
# ## Summary
# - DCGAN's five guidelines: strided / fractional-strided convolutions instead of pooling, no fully connected
#   hidden layers, BatchNorm except at G's output and D's input, ReLU + tanh in G, LeakyReLU in D.
# - A fractional-strided convolution is zero insertion plus an ordinary convolution (checked numerically);
#   `out = (in − 1)·stride − 2·padding + kernel` takes G from 1×1 to 64×64 by doubling.
# - The 64×64 G has 3,576,704 parameters and D 2,765,568 (checked from the layer table); most sit in the
#   convolution between the layers with the most channels (512 → 256: 59% of G).
# - Kernel 3 with stride 2 overlaps unevenly (a checkerboard even with constant weights); kernel 4 is even,
#   though learned weights can still make a periodic pattern; resize-then-convolve cannot.
# - Breaking one guideline at a time, with 300 steps per variant: removing BatchNorm and adding fully
#   connected hidden layers hurt clearly; max-pooling runs D's downsampling convolutions at 4× as many
#   positions (about 3× the training time, printed above) and tends to learn slower;
#   BatchNorm everywhere and ReLU in D show nothing at this budget. Two seeds of the *same* baseline differ
#   by a lot: always compare against the seed-to-seed spread, not a single run.
# - Next: **03 · Training**, the loop itself, and how to tell a healthy run from a failing one.
