# %% [markdown]
# # Exercise 2 · Build the generator from the guidelines
#
# **What you will learn:** how a DCGAN generator grows a 32×32 image out of a 100-number code. You will
# predict the size of a transposed convolution's output, write the block that doubles an image's side, and
# stack the blocks into a generator that follows the paper's guidelines. Each check compares your code with
# PyTorch and with the guidelines. It prints **✓ exercise … passed**, or the rule you broke.
#
# Do notebook 02 first (or follow it in class). About 15 minutes.

# %% tags=["parameters"]
FAST = False
SEED = 0

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import torch
from torch import nn

from dcgan_lib.architecture import format_layer_table, layer_table
from dcgan_lib.exercises import check_generator, check_generator_block, check_transposed_size
from dcgan_lib.latent import sample_z
from dcgan_lib.viz import grid_image

_ = torch.manual_seed(SEED)  # the same draws on every run

# %% [markdown]
# ## 2.1 How big is a transposed convolution's output?
# A convolution with kernel k, stride s and padding p maps a side of n to ⌊(n + 2p − k)/s⌋ + 1. A transposed
# convolution runs that map backwards: it is the gradient of a convolution with respect to its input. Solve
# the formula for the input side to get its output side (ignore `output_padding`):

# %%
def transposed_size(n: int, kernel: int, stride: int, padding: int) -> int:
    """Side of nn.ConvTranspose2d's output for an n x n input."""
    # BEGIN SOLUTION
    return (n - 1) * stride - 2 * padding + kernel
    # END SOLUTION


check_transposed_size(transposed_size)

# %% [markdown]
# **See it.** The generator starts from a 1×1 "image" with 100 channels, which is z itself. One transposed
# convolution with kernel 4, stride 1 and no padding makes it 4×4. Then kernel 4, stride 2, padding 1 doubles
# the side each time:

# %%
side = transposed_size(1, 4, 1, 0)
sides = [1, side]
while side < 32:
    side = transposed_size(side, 4, 2, 1)
    sides.append(side)
print(" -> ".join(f"{s}x{s}" for s in sides))

# %% [markdown]
# ## 2.2 The block that doubles the side
# The guidelines for G's hidden layers are: a fractional-strided (transposed) convolution, no pooling and
# no fully connected layer; BatchNorm; ReLU. Write a block that maps (B, c_in, s, s) to
# (B, c_out, 2s, 2s). Leave out the convolution's bias (`bias=False`). The BatchNorm right after it
# subtracts the mean, so a bias would be cancelled anyway. Build it from `nn` layers in an `nn.Sequential`:
# the check reads the layers in order.

# %%
def generator_block(c_in: int, c_out: int) -> nn.Module:
    """(B, c_in, s, s) -> (B, c_out, 2s, 2s): transposed convolution, BatchNorm, ReLU."""
    # BEGIN SOLUTION
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True))
    # END SOLUTION


check_generator_block(generator_block)

# %% [markdown]
# ## 2.3 The whole generator
# Now stack the pieces into a 32×32 RGB generator:
# - z (B, nz, 1, 1) → (B, 4·width, 4, 4): kernel 4, stride 1, padding 0, then BatchNorm and ReLU;
# - two of your blocks: 4·width → 2·width channels (8×8), then 2·width → width (16×16);
# - an output layer width → 3 channels (32×32) with **no** BatchNorm, then `nn.Tanh()`, because the
#   training images are scaled to [−1, 1].

# %%
def build_generator(nz: int, width: int) -> nn.Module:
    """z (B, nz, 1, 1) -> images (B, 3, 32, 32) in [-1, 1]."""
    # BEGIN SOLUTION
    return nn.Sequential(
        nn.ConvTranspose2d(nz, 4 * width, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * width), nn.ReLU(True),
        generator_block(4 * width, 2 * width),
        generator_block(2 * width, width),
        nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh(),
    )
    # END SOLUTION


check_generator(build_generator)

# %% [markdown]
# **See it.** Here is your generator's layer table, with the shapes it actually produces and where its
# parameters sit. Below it are 16 samples before any training. They are almost uniform grey: the untrained
# layers' outputs are near 0, and tanh(0) is the middle grey. Notebook 03 trains a network of this exact
# shape.

# %%
G = build_generator(100, 32)
print(format_layer_table(layer_table(G, sample_z(2, 100)), input_shape=(100, 1, 1)))
with torch.no_grad():
    samples = G.eval()(sample_z(16, 100, generator=torch.Generator().manual_seed(SEED)))
grid_image(samples, nrow=8, scale=3)

# %% [markdown]
# ## Think about it
# 1. Which layers hold most of the parameters? Why does that follow from the channel counts?
# 2. Kernel 4 and stride 2 overlap evenly. What would kernel 3 with stride 2 do to the picture (notebook 02's
#    checkerboard)?
# 3. Why is there no BatchNorm on the output layer? What does notebook 02's `batchnorm-all` ablation show?

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. The first two transposed convolutions: 100·128·16 and 128·64·16 weights at width 32. A layer's weights
#    grow with c_in·c_out·k², so the layers near z, which have the most channels, dominate. The
#    output layer has only 32·3·16.
# 2. With kernel 3 and stride 2, output pixels alternately receive one or two kernel taps
#    (`architecture.overlap_counts`). That uneven overlap prints a checkerboard into the image.
# 3. BatchNorm would force every image's colours to a batch mean and spread that the data do not have, and
#    it makes samples depend on their batch. The paper reports that BatchNorm on all layers caused sample
#    oscillation and instability. Notebook 02's short runs do not show that clearly: over four seeds,
#    BatchNorm everywhere cannot be told apart from the baseline at 300 steps ([the claims table](../docs/results.md#the-papers-claims-reproduced)). An
#    honest answer is "the paper says so; our budget is too small to confirm it".

# %% [markdown]
# ## Summary
# - A transposed convolution's output side is (n − 1)·s − 2p + k. Kernel 4, stride 2, padding 1 doubles it.
# - A DCGAN generator block is ConvTranspose2d, then BatchNorm, then ReLU. No pooling, no Linear layers.
# - The output layer has no BatchNorm and ends in tanh, so samples are in the data's range [−1, 1].
