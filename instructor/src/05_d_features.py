# %% [markdown]
# # Exercise 5 · The discriminator as a feature extractor
#
# **What you will learn:** to turn a trained D into an image representation the paper's way (every
# convolution layer max-pooled to 4×4 and concatenated), and to measure that representation fairly with a
# few labels: a random labelled set drawn reproducibly, features scaled with the labelled set's statistics
# alone, and the same D *before* training as the baseline. At the end your own functions reproduce
# notebook 06's digits table with the shipped `digits32` checkpoint, so there is no training.
#
# Do notebook 06 first (or follow it in class). About 15 minutes.

# %% tags=["parameters"]
FAST = False
SEED = 0
PER_CLASS = (10, 50)  # labelled digits per class
DRAWS = 10  # random draws of the labelled digits (mean ± std over them)

# %%
if FAST:  # tiny settings for the test suite: same code, numbers too noisy to judge
    PER_CLASS, DRAWS = (10,), 2

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import torch
import torch.nn.functional as F
from sklearn.svm import LinearSVC

from dcgan_lib import checkpoint, probes
from dcgan_lib.images import to_model_range
from dcgan_lib.datasets import holdout_mask, load_digits
from dcgan_lib.exercises import check_pick_labelled, check_pooled_features, check_standardise
from dcgan_lib.viz import grid_image

torch.manual_seed(SEED)
ckpt = checkpoint.load("digits32")  # the shipped DCGAN trained on scikit-learn's digits
D = checkpoint.build_discriminator(ckpt)
D0 = probes.initial_models(ckpt)[1]  # the same D before training: same architecture, seed and initialisation
images, labels = load_digits(32)  # uint8 (1797, 1, 32, 32), labels 0..9
x = to_model_range(images)  # [-1, 1], as D saw them in training

# %% [markdown]
# ## 5.1 Pool every layer to 4×4
# D reads a 32×32 image through three strided convolutions, `conv1` (16×16 maps), `conv2` (8×8) and `conv3`
# (4×4). `D.features(x, ["conv1", "conv2", "conv3"])` returns their outputs as a dict, each (N, C, s, s).
# The paper's features max-pool each layer's maps to a 4×4 grid (`F.adaptive_max_pool2d(h, 4)`), flatten
# them (`.flatten(1)`) and concatenate the layers in that order along dimension 1. The features are data
# for a classifier, not part of a training step, so compute them under `torch.no_grad()`.
#
# One more detail: BatchNorm. In training mode it normalises with the statistics of the batch, so an
# image's features would depend on which other images share its batch. `checkpoint.build_discriminator`
# returns D in eval mode, but the check hands your function a D in **training mode**, as it would be straight
# after training. Switch it to its running statistics first (`D.eval()`).

# %%
def pooled_features(D, x: torch.Tensor) -> torch.Tensor:
    """The paper's D features: images (N, C, 32, 32) in [-1, 1] -> (N, 16 * (channels of conv1 + conv2 + conv3))."""
    # BEGIN SOLUTION
    D.eval()
    layers = ["conv1", "conv2", "conv3"]
    with torch.no_grad():
        maps = D.features(x, layers)  # name -> (N, C, s, s), s = 16, 8, 4
    return torch.cat([F.adaptive_max_pool2d(maps[n], 4).flatten(1) for n in layers], 1)  # (N, 16 * sum of C)
    # END SOLUTION


check_pooled_features(pooled_features)

# %% [markdown]
# **See it.** Three representations of the same 1,797 digits: the trained D's features, the untrained D's,
# and the 1,024 raw pixels.

# %%
features = {"trained D": pooled_features(D, x), "untrained D": pooled_features(D0, x), "pixels": x.flatten(1)}
for name, f in features.items():
    print(f"{name:<12} {tuple(f.shape)}")

# %% [markdown]
# ## 5.2 A few labels, drawn at random
# The test is "how well does a linear classifier do with only k labelled examples per class?". A quarter of
# the digits is set aside as the test set. From the rest (the *pool*) we pick k examples of each class at
# random. Write the pick: `per_class` indices of every class in `labels`, none twice. Draw with the
# `generator` you are given (`torch.randperm(n, generator=generator)`), so that the same seed gives the
# same pick, and each draw of the experiment gets a different one.

# %%
def pick_labelled(labels: torch.Tensor, per_class: int, generator: torch.Generator) -> torch.Tensor:
    """Indices (per_class * number of classes,) into labels (N,): per_class random examples of each class."""
    # BEGIN SOLUTION
    picks = []
    for c in labels.unique():
        of_c = (labels == c).nonzero().flatten()  # the indices of class c
        picks.append(of_c[torch.randperm(len(of_c), generator=generator)[:per_class]])
    return torch.cat(picks)
    # END SOLUTION


check_pick_labelled(pick_labelled)

# %% [markdown]
# **See it.** The test quarter is fixed (every class split the same way). Here is one draw of 10 labelled
# digits per class from the pool, one class per column:

# %%
test = holdout_mask(labels, SEED)  # bool (1797,): a random quarter of each class, the same as notebook 06's
y_pool, y_test = labels[~test], labels[test]
idx = pick_labelled(y_pool, 10, torch.Generator().manual_seed(SEED))
idx = idx[y_pool[idx].argsort(stable=True)]  # grouped by class, whatever order your pick returned
by_row = idx.view(10, 10).T.flatten()  # (class, example) -> one row per example, one column per class
print(f"pool {len(y_pool)} digits, test set {len(y_test)}; picked {len(idx)}")
grid_image(to_model_range(images[~test][by_row]), nrow=10, scale=2)

# %% [markdown]
# ## 5.3 Scale the features with the labelled set alone
# A linear SVM is sensitive to the scale of each feature, so every feature is standardised: minus its mean,
# divided by its standard deviation. Both are computed on the **labelled** examples only, and the same
# numbers are applied to the test features. The test set stands for images nobody has seen yet; it cannot
# set the scale. Some features are constant on the labelled set (the digits' border pixels are always 0),
# so add a small epsilon (1e-6) to the standard deviation.

# %%
def standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """train (n, F) and test (m, F) -> both standardised with the mean and std of train's features."""
    # BEGIN SOLUTION
    mean, std = train.mean(0), train.std(0) + 1e-6  # (F,) each: one per feature (column)
    return (train - mean) / std, (test - mean) / std
    # END SOLUTION


check_standardise(standardise)

# %% [markdown]
# **See it.** Now the whole experiment with your three functions: for each representation and each number of
# labels, `DRAWS` random picks, a linear L2-SVM (`LinearSVC`: squared hinge loss and an L2 penalty, C = 1)
# on the standardised labelled features, and its accuracy on the test quarter. As in notebook 06, the
# features are also divided by √(number of features), so that C = 1 means the same for 1,024 pixels as for
# 3,584 D features. Every representation sees the same picks.

# %%
def accuracy(f: torch.Tensor, per_class: int, draw: int) -> float:
    """Test accuracy of a linear L2-SVM on per_class labelled examples of each class (pick number `draw`)."""
    pick = pick_labelled(y_pool, per_class, torch.Generator().manual_seed(draw))
    train, test_f = standardise(f[~test][pick], f[test])
    scale = f.shape[1] ** 0.5
    svm = LinearSVC(C=1.0, max_iter=5000, random_state=0).fit((train / scale).numpy(), y_pool[pick].numpy())  # fixed solver order
    return float((torch.from_numpy(svm.predict((test_f / scale).numpy())) == y_test).float().mean())


print(f"{'labels per class':<18}" + "".join(f"{k:>16}" for k in PER_CLASS))
for name, f in features.items():
    accs = [torch.tensor([accuracy(f, k, d) for d in range(DRAWS)]) for k in PER_CLASS]
    print(f"{name:<18}" + "".join(f"{a.mean():>10.3f} ± {a.std():.3f}" for a in accs))

# %% [markdown]
# Compare with notebook 06's table, which uses the course's `probes.few_label_accuracy` (other random picks,
# so the numbers differ a little).
#
# ## Think about it
# 1. The untrained D often does about as well as the trained one on these small digits, and better than
#    pixels. Why is the untrained D the fairer baseline for "what did GAN training add"?
# 2. What goes wrong if the test features are standardised with their own mean and standard deviation?
#    Think of a test set of one image.
# 3. `digits32` was trained on all 1,797 digits, test quarter included (without labels). Which way can that
#    bias the comparison, and how would you remove it?

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. Random convolutions with max-pooling are already a good image representation: they respond to local
#    edges and keep a coarse map of where they fired. Pixels lack both. An untrained D has exactly the
#    architecture, size and initialisation of the trained one, so the only difference between the two rows
#    is GAN training. Against pixels alone, architecture and training would be mixed up.
# 2. The test set would set its own scale, so a test image's features would depend on the other test
#    images. A single test image would standardise to 0/0. In deployment images arrive one at a time, and a
#    classifier must map each of them with the scale it was trained with. Shifting the test set to mean 0
#    also removes a real difference between labelled and test data, which makes the accuracy look better
#    than it would be.
# 3. D saw the test digits while learning to tell real from fake. Its features can fit those very images
#    better than new ones, which flatters the trained D (a transductive setting). Train the GAN on the pool
#    only, or measure on images D never saw. Notebook 06 does the second with the faces: the faces D on
#    the digits, and the faces' attributes on fresh faces.

# %% [markdown]
# ## Summary
# - The paper's D features: every conv layer max-pooled to 4×4, flattened and concatenated (3,584 numbers for
#   the course's 32×32 D), with BatchNorm's running statistics so an image's features do not depend on its
#   batch.
# - Few-label evaluation needs a reproducible random pick per class, and features scaled with the labelled
#   set's statistics alone.
# - Compare against the same D before training, not only against pixels: that is what says what GAN
#   training added.
