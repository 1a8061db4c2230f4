# %% [markdown]
# # 04 · Walking in the latent space
#
# **What you will learn:** how to walk from one code z to another, and why a straight line (lerp) leaves the
# region where Gaussian codes live while a great circle (slerp) stays in it. (The paper's Figure 4 does not say
# which path it took; slerp for GAN walks was proposed later, by White (2016). On this generator the cost of
# lerp turns out small: its midpoint faces lose 6.6% of their contrast.) You will also learn how to
# *measure* the paper's claim that walks change images smoothly rather than jumping, and how to check that
# the generator does not just replay memorised training faces. At the end you get sliders to walk the space
# yourself: between two codes, and along the smiling, glasses and head-turn directions of notebook 05.

# %% tags=["parameters"]
FAST = False
SEED = 0
N_PATHS = 100  # random slerp walks measured for smoothness and memorisation
STEPS = 16  # images per walk
POOL_SIZE = 10_000  # labelled codes the slider directions are averaged from
N_TRAIN = 20_000  # training faces searched for nearest neighbours (faces32 was trained on all 20,000)

# %%
if FAST:  # tiny settings for the test suite: same code, numbers too noisy to judge
    N_PATHS, POOL_SIZE, N_TRAIN = 12, 2000, 4000

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import time

import matplotlib.pyplot as plt
import torch

from dcgan_lib.checkpoint import load as load_checkpoint
from dcgan_lib.checkpoint import load_generator
from dcgan_lib.classifiers import load_classifier
from dcgan_lib.images import to_model_range
from dcgan_lib.memorisation import nearest_neighbour_check
from dcgan_lib.faces import make_faces
from dcgan_lib.arithmetic import attribute_direction, classifier_labeller, label_pool, turn_codes
from dcgan_lib.latent import (generate_many, monotonicity, path_norms, quantiles, random_paths, sample_z, splice,
                              step_ratio, z_from_seed)
from dcgan_lib.viz import to_pil
from dcgan_lib.widgets import DirectionSliders, InterpolationSlider, sweep

torch.manual_seed(SEED)
notebook_start = time.perf_counter()
G = load_generator("faces32")  # the shipped 32x32 faces generator: no training in this notebook
classifier = load_classifier("faces")
labeller = classifier_labeller(classifier)

# %% [markdown]
# ## Gaussian codes live on a shell
# G was trained on codes z ~ N(0, I) with nz = 100 dimensions. In high dimensions such codes are almost never
# near the origin. Their norm |z| concentrates near √nz = 10, with a spread of only about 0.7, whatever the
# direction. Let us measure it:

# %%
norms = sample_z(10_000, G.nz, generator=torch.Generator().manual_seed(SEED)).flatten(1).norm(dim=1)
print(f"|z| over 10,000 codes: mean {norms.mean():.2f}, std {norms.std():.2f}, 1st-99th percentile "
      f"{quantiles(norms, (0.01, 0.99))[0]:.2f}-{quantiles(norms, (0.01, 0.99))[1]:.2f}  (√nz = {G.nz ** 0.5:.0f})")

# %% [markdown]
# ## Lerp cuts through the middle; slerp stays on the shell
# Two random codes are almost orthogonal. The straight line between them, **lerp**
# (1 − t)·z₀ + t·z₁, passes at t = ½ through a point of norm ≈ √(nz/2) ≈ 7. G almost never saw a code that
# short in training (we count below how rarely). **Slerp** moves along the great circle through z₀ and z₁, so
# its norm stays between the two ends. We measure the norm along both kinds of path for `N_PATHS` random pairs:

# %%
lerp_paths = random_paths(N_PATHS, STEPS, G.nz, seed=SEED, method="lerp")  # (P, S, nz, 1, 1)
slerp_paths = random_paths(N_PATHS, STEPS, G.nz, seed=SEED, method="slerp")  # same end points
t = torch.linspace(0, 1, STEPS)
fig, ax = plt.subplots(figsize=(5, 3))
for name, paths in (("lerp", lerp_paths), ("slerp", slerp_paths)):
    n = torch.stack([path_norms(p) for p in paths])  # (P, S)
    ax.plot(t, n.mean(0), label=name)
    ax.fill_between(t, *torch.quantile(n, torch.tensor([0.05, 0.95]), dim=0), alpha=0.2)
    print(f"{name:5s}: mean |z| at the ends {n[:, 0].mean():.2f}, at the middle {n[:, STEPS // 2].mean():.2f}, "
          f"lowest on any path {n.min():.2f}")
ax.axhspan(*quantiles(norms, (0.01, 0.99)), color="grey", alpha=0.15, label="1-99% of |z| for N(0, I)")
ax.set(xlabel="position t along the path", ylabel="|z|")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# How rare is a code as short as the lerp midpoints? |z|² of a Gaussian code follows a χ² distribution with nz
# degrees of freedom, so P(|z| ≤ r) is the regularised incomplete gamma function P(nz/2, r²/2). The faces32
# checkpoint records its training steps and batch size, so we can also say how many of its training codes
# were that short, on average:

# %%
lerp_middle = torch.stack([path_norms(p) for p in lerp_paths])[:, STEPS // 2].mean().double()
share = float(torch.special.gammainc(torch.tensor(G.nz / 2, dtype=torch.float64), lerp_middle**2 / 2))
trained = load_checkpoint("faces32")
n_codes = trained["step"] * trained["config"]["batch_size"]  # one batch of fresh codes per training step
print(f"P(|z| <= {lerp_middle:.2f}) = {share:.1e}, about {share * 1e6:.0f} codes in a million; "
      f"faces32 trained on {n_codes / 1e6:.1f} M codes, so about {share * n_codes:.0f} of them were that short")

# %% [markdown]
# What does the dip look like? Below are three of the pairs measured above: three lerp rows, then three slerp
# rows between the same end points. With this generator the difference is subtle to the eye. In the middle of
# the lerp rows the faces are a little flatter.

# %%
shown = torch.linspace(0, STEPS - 1, 8).round().long()  # 8 frames, both ends included
rows = torch.cat([lerp_paths[i, shown] for i in (0, 1, 2)] + [slerp_paths[i, shown] for i in (0, 1, 2)])
to_pil(generate_many(G, rows), nrow=STEPS // 2, scale=2)

# %% [markdown]
# Let us put numbers on "flatter". We measure the contrast (the standard deviation of an image's pixels) and
# the classifier's confidence (how far its smiling, glasses and long-hair probabilities are from ½, scaled to
# [0, 1]). We compare the ends of the paths with their midpoints:

# %%
def contrast_and_confidence(z):
    x = generate_many(G, z)
    p = labeller(x)
    conf = torch.stack([(p[k] - 0.5).abs() * 2 for k in ("smiling", "eyeglasses", "long_hair")]).mean()
    return x.flatten(1).std(1).mean(), conf

mid = STEPS // 2
ends = contrast_and_confidence(slerp_paths[:, 0])
mids = {"lerp": contrast_and_confidence(lerp_paths[:, mid]), "slerp": contrast_and_confidence(slerp_paths[:, mid])}
print("                   contrast  confidence")
print("  path ends        %.3f     %.3f" % ends)
for name, (contrast, confidence) in mids.items():
    print(f"  {name:5s} midpoints  {contrast:.3f}     {confidence:.3f}")
print(f"lerp midpoints against the path ends: contrast {mids['lerp'][0] / ends[0] - 1:+.1%}, "
      f"confidence {mids['lerp'][1] / ends[1] - 1:+.1%}")

# %% [markdown]
# Only the contrast drops. The lerp midpoints are flatter, but the classifier reads their smiles, glasses and
# hair as confidently as at the path ends (a shade more, in fact). On this generator lerp's detour through
# short codes costs some contrast, not recognisable faces.

# %% [markdown]
# ## Walks like the paper's Figure 4
# Each row is a slerp walk between two random codes. The paper's point: the images change **gradually**, and
# things appear or disappear along the way (glasses fade in, hair grows, the smile turns), rather than
# jumping between a few stored pictures.

# %%
walks = generate_many(G, slerp_paths[3:9, shown].flatten(0, 1))  # 6 walks, 8 frames each
to_pil(walks, nrow=STEPS // 2, scale=2)

# %% [markdown]
# ## Measuring smoothness
# "Smooth" means no single step along a walk changes the image much more than the others. For each walk we
# take the distance between consecutive images, then the **ratio of the largest step to the mean step**. An
# even walk gives about 1. A walk that jumps once between two unrelated images gives a large ratio: that
# one step dwarfs the rest. We measure it in two spaces:
# - **image space**: RMS pixel difference;
# - **feature space**: the classifier's 128-d penultimate features, which is closer to "what the face is".
#
# For comparison we build *jumping* walks: the first half of walk i spliced to the second half of walk i + 1.
# That is a smooth walk with one switch to an unrelated image in the middle.

# %%
images = generate_many(G, slerp_paths.flatten(0, 1))  # (P*S, 3, 32, 32)
frames = {"image": images.reshape(N_PATHS, STEPS, -1),
          "feature": classifier.embed(images)[0].reshape(N_PATHS, STEPS, -1)}
ratios = {}
print(f"largest step / mean step along {N_PATHS} slerp walks of {STEPS} images (median, 95th percentile)")
for space, f in frames.items():
    ratios[space] = (step_ratio(f), step_ratio(splice(f)))
    (smooth_med, smooth_p95), (jump_med, jump_p95) = quantiles(ratios[space][0]), quantiles(ratios[space][1])
    print(f"  {space:7s} space: walks {smooth_med:.2f}, {smooth_p95:.2f}   |   "
          f"walks with one jump {jump_med:.2f}, {jump_p95:.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 2.8))
for ax, (space, (smooth, jump)) in zip(axes, ratios.items()):
    bins = torch.linspace(1, float(max(smooth.max(), jump.max())), 30)
    ax.hist(smooth, bins, alpha=0.7, label="slerp walks")
    ax.hist(jump, bins, alpha=0.7, label="walks with one jump")
    ax.set(title=f"{space} space", xlabel="largest step / mean step")
axes[0].legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# Real walks are not perfectly even. The step in which glasses appear, say, is larger than the rest. The two
# distributions overlap little in pixels and more in features (the overlap is counted below). The check:
# almost every walk should be smoother than the typical jumping walk. We require the walks' 95th percentile to
# stay below the jumping walks' median, in both spaces.

# %%
for space, (smooth, jump) in ratios.items():
    share = (smooth < jump.median()).float().mean()
    print(f"{space:7s}: {share:.0%} of the walks are smoother than the median jumping walk; overlap: "
          f"{int((smooth > jump.min()).sum())} walks rougher than the smoothest jumping walk, "
          f"{int((jump < smooth.max()).sum())} jumping walks smoother than the roughest walk")
    if not FAST:
        assert quantiles(smooth)[1] < quantiles(jump)[0], f"walks in {space} space jump as much as spliced ones"

# %% [markdown]
# ## Memorisation: are the walks made of training faces?
# A generator that memorised its training set could walk smoothly between stored faces and still be
# a copier. `nearest_neighbour_check` compares how close each generated image comes to its nearest
# training face with how close a training face comes to its nearest *other* training face. The faces32
# generator was trained on `make_faces(20000, 32, seed=0)`. The queries are 500 walk images drawn at random
# (`n_queries`), against 500 training faces. A ratio (walk distance over training distance) near 0 would
# mean copies; about 1 means the walk images sit as far from the training set as new real faces do. A ratio
# well **above** 1 is not "better than 1": the library reads it as samples unlike any real image.

# %%
train = make_faces(N_TRAIN, 32, seed=0).images
check = nearest_neighbour_check(images, train, classifier=classifier, n_queries=min(500, len(images)), seed=SEED)
for space, s in check.spaces.items():
    print(f"{space:7s}: median distance walk->train {s['gen_median']:.3f} vs train->train {s['base_median']:.3f} "
          f"(ratio {s['median_ratio']:.2f}, 5th-percentile ratio {s['p5_ratio']:.2f}); "
          f"near copies {s['near_copy_share']:.1%}")
print("memorisation check:", "passed" if check.passed else "FAILED")
if not FAST:
    assert check.passed, "walk images sit nearer the training faces than real faces do: G may be copying"

# %% [markdown]
# The pixel ratio is a little above 1, and the feature ratio of about 2.5 is well above it: in the
# classifier's features, G's faces sit farther from every real face than real faces sit from each other.
# That is no copying, but it is a quality gap. The features notice differences between G's faces and real
# ones that the pixels barely show (the Fréchet distance of notebook 03 measures the same gap another way).
#
# Seeing is believing. Here are eight of the walk images the check used (top) and the training face it
# found nearest to each in pixels (bottom). The cartoon faces all share one layout, so neighbours look alike
# in colour and shape. But none is a copy: as measured above, a walk image is *farther* from its nearest
# training face than a training face is from its nearest other one.

# %%
pairs = slice(0, 8)  # the first 8 of the check's queries and their nearest training faces in pixels
to_pil(torch.cat([images[check.generated_index[pairs]], to_model_range(train[check.nearest_index["pixel"][pairs]])]),
       nrow=8, scale=2)

# %% [markdown]
# ## Sliders: walk it yourself
# The widgets below keep **one** image and redraw it when you let go of a slider (`continuous_update=False`).
# A drag therefore costs one generator call, a few milliseconds on a CPU. Under the image, the classifier
# says what it sees. (Until you run a widget's cell, its saved output is a line of text such as
# `InterpolationSlider(children=...`: run the notebook and the sliders appear. If they never do, notebook 00's
# widget section says what to install.)
#
# **Between two codes.** Pick two seeds, or press "new pair", and move t from 0 to 1 along the slerp path.

# %%
walker = InterpolationSlider(G, seed_a=SEED, seed_b=SEED + 1, labeller=labeller)
walker

# %% [markdown]
# How responsive is it? We set the slider's value from code, as a drag does, which runs its update
# function, and time each redraw. (A number to look at, not a test: a busy laptop may take longer, and
# anything under about a second still feels like a slider.)

# %%
redraw = []
for value in torch.linspace(0, 1, 21).tolist():
    walker.t.value = value  # triggers update(): new code, new PNG bytes in the same Image widget
    redraw.append(walker.last_redraw_s)
redraw = torch.tensor(redraw)
print(f"redraw time over {len(redraw)} moves: median {redraw.median() * 1000:.1f} ms, max {redraw.max() * 1000:.1f} ms")

# %% [markdown]
# **Along meaningful directions.** Notebook 05 builds concept vectors from codes that the classifier labels
# confidently. Here we use the largest version: the mean code of *all* confidently smiling faces in a
# labelled pool minus the mean code of all confidently neutral ones, and likewise for glasses. For head turn
# we use right-looking minus left-looking. Adding α times a direction to a code should add that attribute.

# %%
pool = label_pool(G, labeller, POOL_SIZE, seed=SEED + 1)
left, right = turn_codes(pool, None)
directions = {"smiling": attribute_direction(pool, "smiling"), "eyeglasses": attribute_direction(pool, "eyeglasses"),
              "head turn": right - left}
print({name: round(float(d.norm()), 2) for name, d in directions.items()})

# %% [markdown]
# The sliders start from a **neutral** face, so that each one has something to add: the first seed whose face
# the classifier reads as not smiling, without glasses and looking ahead. (The face of seed 0 already smiles
# and wears glasses, so its smiling and glasses sliders would barely change it.)

# %%
def reading(seed):  # what the classifier sees in the face drawn from one seed
    return {k: round(float(v[0]), 2) for k, v in labeller(generate_many(G, z_from_seed(seed, 1, G.nz))).items()}

neutral = next(s for s in range(SEED, SEED + 1000)
               if reading(s)["smiling"] < 0.1 and reading(s)["eyeglasses"] < 0.1 and abs(reading(s)["turn"]) < 0.2)
print(f"seed {SEED}: {reading(SEED)}\nseed {neutral}: {reading(neutral)}")
sliders = DirectionSliders(G, directions, seed=neutral, labeller=labeller)
sliders

# %% [markdown]
# For readers whose notebook does not render widgets, here is what the sliders do, as a static grid. For
# each direction, two faces go from α = −2 to α = +2 (the middle column is the face itself).

# %%
alphas = torch.linspace(-2, 2, 9)
faces = z_from_seed(SEED + 10, 2, G.nz)
rows = torch.cat([sweep(z, d, alphas) for d in directions.values() for z in faces])
print("rows: " + ", ".join(f"{name} ×2" for name in directions))
to_pil(generate_many(G, rows), nrow=len(alphas), scale=2)

# %% [markdown]
# Does each slider do what its name says? Over 50 random faces, we check that the classifier's reading of
# the attribute rises with α. We give the Spearman correlation with α, and the share of faces where the
# reading at α = +2 is above the reading at α = −2.

# %%
read = {"smiling": "smiling", "eyeglasses": "eyeglasses", "head turn": "turn"}
faces = z_from_seed(SEED + 20, 50 if not FAST else 10, G.nz)
for name, d in directions.items():
    readings = [labeller(generate_many(G, sweep(z, d, alphas)))[read[name]] for z in faces]
    rho = torch.tensor([monotonicity(r)["spearman"] for r in readings])
    up = torch.tensor([float(r[-1] > r[0]) for r in readings])
    print(f"{name:10s}: Spearman with α {rho.mean():.2f} (mean over {len(faces)} faces), "
          f"reading rises end to end for {up.mean():.0%}")

# %%
print(f"notebook wall time: {time.perf_counter() - notebook_start:.0f} s")

# %% [markdown]
# ## Summary
# - Gaussian codes live on a thin shell of radius ≈ √nz. **Lerp** between two of them dips to ≈ √(nz/2) in
#   the middle, where G almost never saw a code in training (about 7 codes in a million are that short), and
#   its midpoint faces come out with less contrast, though the classifier reads them as confidently.
#   **Slerp** stays on the shell, so it is the safer walk; on this generator the difference is small.
# - Slerp walks change images **smoothly**. Over 100 walks, the largest step is about 2.2 times the mean step
#   in pixels and 2.4 times in the classifier's features (medians), against about 5 times for a walk with one
#   jump to an unrelated image. The two overlap little in pixels, more in features.
# - The walk images are **not copies** of training faces. They are no nearer the training set than new real
#   faces are (the nearest-neighbour check passed). In the classifier's features they are much farther
#   (ratio about 2.5): a gap in quality, not a sign of originality.
# - Sliders built on concept vectors (smiling, glasses, head turn) change those attributes, and each redraw
#   takes milliseconds on a CPU.
# - Next: **05 · vector arithmetic**, where concept vectors are built, added and measured.
