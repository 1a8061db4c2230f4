# %% [markdown]
# # Exercise 6 · Inside the networks: guided backprop and forgetting glasses
#
# **What you will learn:** the one rule that turns backpropagation into guided backpropagation, how to
# turn a saliency map into a number (its share on the face), and the two ways of removing a generator's
# feature maps: zeroing them as the paper did, and fixing them to an average. With your own functions you
# then measure notebook 07's findings on the shipped `faces32` checkpoint: the trained D looks at the
# face more than the untrained one, and G forgets glasses when the maps tied to them are fixed to their
# average on faces without glasses.
#
# Do notebook 07 first (or follow it in class). About 20 minutes.

# %% tags=["parameters"]
FAST = False
SEED = 0
N_FACES = 200  # fresh faces for the saliency share
N_BOX_TRAIN = 4000  # procedural faces with glasses that teach the box regressor
N_FIT = 1000  # codes whose samples with glasses pick the maps to remove
N_MEASURE = 1000  # other codes on which removing them is measured

# %%
if FAST:  # tiny settings for the test suite: same code, numbers too noisy to judge
    N_FACES, N_BOX_TRAIN, N_FIT, N_MEASURE = 16, 500, 300, 100

# %% [markdown]
# ## Install the course (Colab only)

# %% tags=["install"]
# (tools/nbbuild.py writes the install cell here: the same cell in every notebook)

# %%
import torch

from dcgan_lib import checkpoint, probes
from dcgan_lib.classifiers import load_classifier
from dcgan_lib.images import to_model_range
from dcgan_lib.evaluate import attribute_rates
from dcgan_lib.exercises import check_fill_maps, check_guided_relu, check_inside_share, check_zero_maps
from dcgan_lib.faces import make_faces
from dcgan_lib.latent import sample_z
from dcgan_lib.models import generate
from dcgan_lib.viz import grid_image

torch.manual_seed(SEED)
ckpt = checkpoint.load("faces32")
D = checkpoint.build_discriminator(ckpt)
D0 = probes.initial_models(ckpt)[1]  # the same D before training
faces = make_faces(N_FACES, 32, seed=620_000 + SEED)  # fresh faces, never seen in training, with their face masks
x = to_model_range(faces.images)

# %% [markdown]
# ## 6.1 The guided-backprop rule
# Backpropagation through a ReLU passes the gradient from above wherever the unit was active. Guided
# backpropagation (Springenberg et al., 2014) passes it only where it is **also positive**: only evidence
# *for* the unit flows back to the image, and the maps get much cleaner. Write the rule for one ReLU:
# given the gradient arriving from above and the ReLU's output (positive exactly where its input was),
# return the gradient to pass below. D uses LeakyReLU, whose output is negative, not zero, where the unit is
# inactive. The course treats it as a ReLU here, so "active" means `output > 0`.

# %%
def guided_relu(grad_out: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """The gradient guided backprop passes below a ReLU: grad_out where grad_out > 0 and output > 0, else 0."""
    # BEGIN SOLUTION
    return grad_out.clamp(min=0) * (output > 0)
    # END SOLUTION


check_guided_relu(guided_relu)

# %% [markdown]
# **See it.** `probes.guided_backprop(D, x, layer, unit, rule=...)` puts your rule at every activation of D
# and backpropagates one `conv3` unit's strongest response to the image. Top row: three faces. Then unit 0's
# gradient with plain backprop's rule (`g * (out > 0)`), then with yours. Grey is 0; each map is scaled to
# its largest value.

# %%
def scaled(g: torch.Tensor) -> torch.Tensor:
    """Gradients (N, C, H, W) scaled to [-1, 1] per image, to draw them like images (0 = grey)."""
    return g / g.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-12)


plain = probes.guided_backprop(D, x[:3], "conv3", unit=0, rule=lambda g, out: g * (out > 0))
guided = probes.guided_backprop(D, x[:3], "conv3", unit=0, rule=guided_relu)
grid_image(torch.cat([x[:3], scaled(plain), scaled(guided)]), nrow=3, scale=3)

# %% [markdown]
# ## 6.2 How much of it is on the face?
# A picture convinces, a number measures. The faces know their own masks (`faces.mask`, (N, 32, 32), True
# on the face). Take a pixel's saliency as the sum over the colour channels of |gradient|, and return each
# image's share of saliency that falls inside its mask.

# %%
def inside_share(gradient: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """gradient (N, C, H, W) and mask (N, H, W) -> (N,): each image's share of sum_c |gradient| inside its mask."""
    # BEGIN SOLUTION
    saliency = gradient.abs().sum(1)  # (N, C, H, W) -> (N, H, W)
    return (saliency * mask).flatten(1).sum(1) / saliency.flatten(1).sum(1)
    # END SOLUTION


check_inside_share(inside_share)

# %% [markdown]
# **See it.** The share for the trained D and for the same D before training, using your rule, against chance
# (the share of the image the face covers):

# %%
print(f"chance (the mask's area): {faces.mask.float().mean():.3f}")
for name, d in (("trained D", D), ("untrained D", D0)):
    share = inside_share(probes.guided_backprop(d, x, "conv3", rule=guided_relu), faces.mask)
    print(f"{name}: {share.mean():.3f} ± {share.std():.3f} of the saliency on the face")

# %% [markdown]
# ## 6.3 Forgetting to draw: zero the maps
# The paper makes its generator "forget" windows: a logistic regression finds the feature maps of one layer
# that are active inside window boxes, and the generator runs with those maps removed. Notebook 07 does the
# same with glasses, boxed without hand labels. An *edit* changes one layer's output on its way up:
# `G(z, edits={"block1": edit})` calls `edit(h)` on block1's maps h (N, C, 4, 4).
#
# Write the paper's way of removing maps: a copy of h with the given channels zero at every position, for
# every image. Return a copy and leave h as it is. h is a ReLU's output, and changing it in place
# breaks backpropagation through G.

# %%
def zero_maps(h: torch.Tensor, channels) -> torch.Tensor:
    """A copy of G's maps h (N, C, H, W) with `channels` (a list or tensor of indices) zero everywhere."""
    # BEGIN SOLUTION
    out = h.clone()
    out[:, channels] = 0
    return out
    # END SOLUTION


check_zero_maps(zero_maps)

# %% [markdown]
# ## 6.4 Or fix them to an average
# Zero is not a neutral value for these maps: the next layer never saw a face where they were all off.
# *Mean ablation* sets a removed map to its average instead, here the average over faces **without**
# glasses: the map then carries nothing about z, but the next layer still gets typical input. Write it:
# a copy of h whose `channels` hold `average`'s maps (C, H, W), the same for every image.

# %%
def fill_maps(h: torch.Tensor, channels, average: torch.Tensor) -> torch.Tensor:
    """A copy of h (N, C, H, W) whose `channels` are replaced by average[channels] (average: (C, H, W))."""
    # BEGIN SOLUTION
    out = h.clone()
    out[:, channels] = average[channels]  # (k, H, W), broadcast over the N images
    return out
    # END SOLUTION


check_fill_maps(fill_maps)

# %% [markdown]
# **See it.** The course finds the maps as notebook 07 does. A box regressor learns where glasses sit from
# the procedural faces' own boxes. The classifier picks the generated samples with glasses, and the
# regressor boxes them. Then the paper's logistic regression weighs `block1`'s maps inside against outside
# the boxes. Notebook 07 chose `block1` and the maps above half the largest weight (τ = 0.5) on separate
# codes. The average is taken over the samples without glasses.

# %%
G, clf = checkpoint.load_generator("faces32"), load_classifier("faces")
box_faces = make_faces(N_BOX_TRAIN, 32, seed=640_000 + SEED, eyeglasses=True)
regressor = probes.fit_box_regressor(box_faces.images, box_faces.boxes["glasses"])
found = probes.find_objects(G, sample_z(N_FIT, G.nz, generator=torch.Generator().manual_seed(1_000 + SEED)), clf, regressor)
channels, _ = probes.maps_to_drop(G, found.z, found.boxes, "block1", threshold=0.5)
average = probes.average_maps(G, found.z_without, "block1")  # (128, 4, 4)
print(f"{len(found.z)} of {N_FIT} samples have glasses; {len(channels)} of block1's 128 maps are tied to them")

# %% [markdown]
# Now G on new codes three times: as it is, with those maps zeroed by your `zero_maps`, and with them
# fixed to the average by your `fill_maps`. The classifier reads each set:

# %%
z = sample_z(N_MEASURE, G.nz, generator=torch.Generator().manual_seed(3_000 + SEED))
edits = {"G": None, "zeroed": {"block1": lambda h: zero_maps(h, channels)},
         "average": {"block1": lambda h: fill_maps(h, channels, average)}}
for name, e in edits.items():
    r = attribute_rates(generate(G, z, edits=e), clf)
    print(f"{name:<8} glasses {r['eyeglasses']:.3f}  smiling {r['smiling']:.3f}  long hair {r['long_hair']:.3f}")

# %% [markdown]
# The same eight faces with glasses, drawn by G (top row), with the maps zeroed (middle) and with them fixed
# to the average (bottom):

# %%
z8 = z[clf.predict(generate(G, z))["eyeglasses"] > 0.5][:8]
grid_image(torch.cat([generate(G, z8, edits=e) for e in edits.values()]), nrow=8, scale=3)

# %% [markdown]
# ## Think about it
# 1. The untrained D's saliency is above chance too. What about a face makes random filters respond to it?
# 2. The classifier's glasses rate can fall because the glasses are gone, or because the faces are.
#    Notebook 07 checks with a Fréchet distance and with pictures. What would you look for in the grid above?
# 3. Fixing a map to its average avoids the input the next layer never saw. What does it still take away
#    from G, besides glasses? Think of what else those maps drew.

# %% [markdown] tags=["solution"]
# **Answers (instructor's copy).**
# 1. The face is where the image has its edges and contrast (eyes, mouth, glasses frames, the outline against
#    the background). Random convolutions respond to local contrast, and max-pooling keeps the strongest
#    responses, so the gradient also lands on the face. Training adds the rest: in notebook 07 the trained
#    D puts more of its saliency on the face than the untrained one, on most faces.
# 2. Frames gone and eyes drawn in their place, with the rest of the face (hair, skin, background) unchanged,
#    is forgetting. Blotches, checkerboards or colour noise where a face was mean the classifier is reading
#    broken images; its rate falls but nothing was "forgotten". Two Fréchet distances tell them apart: when
#    glasses are forgotten, the FD to real faces *without* glasses falls towards G's own level (notebook 07:
#    9.8 → 1.9); when faces break, it does not fall (9.6 → 9.3 for zeroed `block2` maps with batch
#    statistics) while the FD to all real faces jumps (0.8 → 16).
# 3. Each map is fixed for every z, so whatever else it drew stops depending on z too. Notebook 07 measures
#    it: the 12 `block1` maps also carried skin tone, and dark skin falls from 0.22 to 0.11 of the faces.
#    Dark frames and dark skin both darken the eye region, and a 4×4 layer cannot keep them apart. Why the
#    paper's zeroing worked on bedrooms is open: notebook 07 tested two explanations, more maps per layer
#    (64×64 generators of width 64 and 128) and BatchNorm's batch statistics, and neither made zeroing work
#    here.

# %% [markdown]
# ## Summary
# - Guided backprop is plain backprop with one change at every ReLU: only positive gradients pass, and only
#   through active units.
# - A saliency map becomes a number when you know where the object is: the share inside the face mask,
#   against the mask's area as chance.
# - Removing maps is an edit on one layer's output. Zeroing them is the paper's way; fixing them to their
#   average on faces without the object is the gentler one, and on `faces32` it is the one that works
#   (notebook 07 shows it is fragile: on generators trained with other seeds it often does not).
