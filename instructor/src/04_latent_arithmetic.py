# %% [markdown]
# # Exercise 4 · Walk the latent space, then do arithmetic in it
#
# **What you will learn:** to write spherical interpolation and the paper's concept arithmetic yourself, and
# to measure with your own function what notebook 05 shows: averaging k = 3 codes per concept makes
# "smiling long-haired − neutral long-haired + neutral short-haired" work more often than k = 1. Everything
# runs on the shipped `faces32` generator, so there is no training.
#
# Do notebooks 04 and 05 first (or follow them in class). About 15 minutes.

# %% tags=["parameters"]
FAST = False
SEED = 0
POOL_SIZE = 10_000  # codes drawn once and labelled by the classifier
DRAWS = 200  # random draws of the equation per k

# %%
if FAST:  # tiny settings for the test suite: same code, rates too noisy to judge
    POOL_SIZE, DRAWS = 3_000, 20

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import torch

from dcgan_lib.checkpoint import load_generator
from dcgan_lib.exercises import check_equation, check_slerp
from dcgan_lib.arithmetic import arithmetic_trials, classifier_labeller, equation_codes, label_pool, paper_equations
from dcgan_lib.latent import generate_many, lerp, z_from_seed
from dcgan_lib.viz import grid_image

torch.manual_seed(SEED)
G = load_generator("faces32")  # the shipped 32x32 faces generator

# %% [markdown]
# ## 4.1 Slerp
# Gaussian codes in 100 dimensions have norms close to √100 = 10. The straight line between two of them
# passes much closer to the origin, where G saw almost no codes in training. Spherical interpolation follows
# the great circle instead. With ω the angle between z₀ and z₁ (cos ω = z₀·z₁ / (|z₀||z₁|)):
#
# slerp(z₀, z₁, t) = [sin((1 − t)ω) z₀ + sin(tω) z₁] / sin ω
#
# Write it for two codes of shape (nz,) and a number t in [0, 1]. `torch.arccos`, `torch.sin` and
# `torch.dot` are all you need.

# %%
def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float) -> torch.Tensor:
    """The point a fraction t along the great circle from z0 to z1 (both (nz,))."""
    # BEGIN SOLUTION
    omega = torch.arccos(torch.dot(z0, z1) / (z0.norm() * z1.norm()))
    return (torch.sin((1 - t) * omega) * z0 + torch.sin(t * omega) * z1) / torch.sin(omega)
    # END SOLUTION


check_slerp(slerp)

# %% [markdown]
# **See it.** Two walks between the same pair of faces. The top row is your slerp, the bottom row lerp.
# One walk shows little difference. Notebook 04 measures the difference over 100 walks: lerp's middle
# images lose about 7% of their contrast.

# %%
z0, z1 = z_from_seed(SEED, 2, G.nz).flatten(1)  # two codes (nz,)
ts = torch.linspace(0, 1, 10)
walks = torch.stack([slerp(z0, z1, float(t)) for t in ts] + [lerp(z0, z1, float(t)) for t in ts])  # (20, nz)
grid_image(generate_many(G, walks), nrow=10, scale=3)

# %% [markdown]
# ## 4.2 Concept arithmetic
# A concept is the **mean** of the codes of k samples that show it. The paper averaged k = 3. Given the
# codes of three concepts a, b and c, each a tensor (k, nz, 1, 1), return the code of "a − b + c".

# %%
def combine(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """mean(a) - mean(b) + mean(c) over each concept's k codes: (k, nz, 1, 1) each -> (nz, 1, 1)."""
    # BEGIN SOLUTION
    return a.mean(0) - b.mean(0) + c.mean(0)
    # END SOLUTION


check_equation(combine)

# %% [markdown]
# **See it.** The course classifier labels a pool of codes. Each concept draws its k codes from those
# labelled *confidently*, as notebook 05 explains. Long hair stands in for the paper's "woman". One draw
# at k = 3 gives the three concepts' codes and the result your `combine` makes of them:

# %%
labeller = classifier_labeller("faces")
pool = label_pool(G, labeller, POOL_SIZE, seed=SEED)
smiling_eq = paper_equations()[0]
print(smiling_eq.name)
terms, _ = equation_codes(pool, smiling_eq, 3, torch.Generator().manual_seed(SEED))  # (3 concepts, 3 codes, nz, 1, 1)
# rows: smiling long-haired, neutral long-haired, neutral short-haired; the last column is the result
rows = [torch.cat([t, combine(*terms)[None]]) for t in terms]
read = labeller(generate_many(G, combine(*terms)[None]))
print(f"the classifier on the result: smiling {float(read['smiling']):.2f}, long hair {float(read['long_hair']):.2f}")
grid_image(generate_many(G, torch.cat(rows)), nrow=4, scale=3)

# %% [markdown]
# Now measure it. One draw says little, and this one may well have failed. Over many random draws, how
# often does the classifier read the result as a smiling, short-haired face? The same draws are run with k = 1 and with k = 3, and `combine` is yours:

# %%
for k in (1, 3):
    r = arithmetic_trials(G, pool, smiling_eq, labeller, k=k, trials=DRAWS, seed=SEED, combine=combine)
    print(f"k = {k}: {r.describe()}")

# %% [markdown]
# ## Think about it
# 1. Why does the mean of three codes work better than one code? Think about what the three "smiling,
#    long-haired" faces share and what they do not.
# 2. For k = 1, a − b + c has about √3 times the norm of a single code. For k = 3 it has about the norm of a
#    single code. Why, and why might that matter to G?
# 3. Notebook 05 finds the smiling equation at about 62% for k = 3, short of the 80% the course aimed for.
#    What in the generator limits it?

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. The k codes share the concept, but each also carries its own hair colour, skin, background and turn.
#    The mean keeps the shared part and shrinks the individual parts by about 1/√k, so fewer stray
#    attributes survive the subtraction.
# 2. Each code is N(0, I). The sum of three independent codes has variance 3 per dimension. The mean of
#    k codes has variance 1/k, so for k = 3 the result has variance 3 · 1/3 = 1, like a code G was trained
#    on. At k = 1 the result sits far outside the shell of training codes.
# 3. Long hair is not one direction in z: the generator ties it to hair colour. A linear read-out from z
#    predicts long hair for only 77% of codes, and grey hair's long-hair direction points partly against
#    black and brown hair's. The subtraction therefore removes one colour's long hair but not another's.
#    Notebook 05 and [the results](../docs/results.md#vector-arithmetic-why-k--3-stays-under-80) measure this (78% / 80% when the three terms share a hair colour).

# %% [markdown]
# ## Summary
# - Slerp keeps codes on the shell where G was trained. Lerp dips towards the origin and washes images out.
# - A concept vector is the mean of k codes. Arithmetic on concepts is mean(a) − mean(b) + mean(c).
# - Averaging (k = 3) makes the arithmetic succeed more often than single codes (k = 1). Your own
#   `combine` measured it on the shipped generator.
