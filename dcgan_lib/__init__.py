"""dcgan_lib: the importable half of the DCGAN course (Radford, Metz & Chintala, 2015).

One idea per module, listed here in the order they build on each other: each module imports only modules
listed above it (tests/test_structure.py checks it, which also rules out import cycles), so each can be read
knowing only what comes before it.

Foundations
    errors        the one exception family users see, each a one-line message
    torch_files   torch files written atomically and read with weights_only=True
    images        image sizes (powers of two, 16 to 128) and the uint8 / [-1, 1] conventions
    config        TrainConfig: a run's settings with the paper's defaults (imports no torch)
    device        which device a run uses
    distributed   torchrun: which process this is, the process group, a sum over processes

Data
    faces         the offline default: procedural cartoon faces with ground truth
    datasets      the real datasets held in memory (digits, MNIST, Fashion-MNIST, CIFAR-10) and shared checks
    streaming     the large real datasets read from disk (CelebA, LSUN, image folders)
    data          one interface over all of them: load_data(name) -> ImageData

Models
    models        Generator and Discriminator, built from the paper's guidelines
    architecture  the guidelines taken apart: conv arithmetic, layer tables, the ablation variants
    checkpoint    checkpoints written and read in one place (also the PyTorch tutorial's netG.pth)

Measuring
    latent        the z sampler, lerp and slerp paths, generating many images, measures of a walk
    classifiers   the course's own attribute and digit classifiers
    metrics       Fréchet distance, KID, nearest neighbours, total variation, gap closed
    memorisation  does a generator copy its training images?
    evaluate      the evaluation of a generator (`dcgan evaluate`)
    inception     the standard Inception FID / KID, where the weights can be had

Training and the paper's findings
    viz           grids, GIFs and plots, and LivePlot for a run in a notebook
    train         d_step and g_step, the two half-steps, and train(), the run built from them
    ablations     notebook 02: train each architecture variant and compare
    diagnostics   notebook 03: what a run's numbers say when it fails
    arithmetic    notebook 05: labelled pools of codes, concept vectors, the paper's equations, the turn vector
    probes        notebooks 06 and 07: D's features, guided backprop, dropping G's feature maps
    toy           notebook 01: 1-D and 2-D GANs for the theory
    widgets       notebook 04: sliders over the latent space

Around the course
    environment   versions, the device, Colab
    exercises     the exercises' automatic checks
    sandbox       the box `dcgan grade --isolate` runs students' code in (bubblewrap, limits)
    checker       the process that re-runs a submission's checks on its definitions alone
    grading       `dcgan grade`: each notebook in its own process, verdicts confirmed by the checker
    export        `dcgan export`: a small checkpoint and its card
    cli           the `dcgan` command (also `python -m dcgan_lib`)
"""

__version__ = "0.1.0"
