"""The `dcgan` command (also `python -m dcgan_lib`): train, sample, interpolate, evaluate, train-classifier,
export, grade and info, each a thin layer over the package.

Every user-facing problem ends as one line on stderr and a non-zero exit code, never a traceback.
Only argparse and the run's settings (`config`) are imported at the top: each command imports what it uses
when it runs, so that `dcgan --help` and `--version` answer without loading torch.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import os
import re
import sys
import time
import warnings
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable

from . import __version__
from .config import N_RATES, TrainConfig
from .errors import DCGANError

EXIT_USER_ERROR = 2
CHECKPOINT_HELP = "checkpoint.pt, a run folder, a shipped name (faces32) or the PyTorch tutorial's netG.pth"


MAX_SEED = 2**32  # every seed the package derives (seed + 1, seed * 1_000_003 + i, ...) stays within torch's range


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line in one line (not a usage block) and points to --help."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], need: str) -> Callable[[str], Any]:
    """An argparse type: `convert` the text, then refuse values that are not `ok` with "must be <need>"."""
    def parse(text: str) -> Any:
        value = convert(text)
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {need}, got {text}")
        return value

    parse.__name__ = convert.__name__  # argparse names it in "invalid int value: 'x'"
    return parse


_positive = _checked(int, lambda v: v > 0, "a positive integer")
_non_negative = _checked(int, lambda v: v >= 0, "0 or more")
_at_least_2 = _checked(int, lambda v: v >= 2, "at least 2 (a Frechet distance needs a covariance)")
_seed = _checked(int, lambda v: 0 <= v < MAX_SEED, f"between 0 and {MAX_SEED - 1}")
_rate = _checked(float, lambda v: math.isfinite(v) and v > 0, "a number > 0")
_weight = _checked(float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")
_beta = _checked(float, lambda v: 0 <= v < 1, "in [0, 1)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    d = TrainConfig()
    p = sub.add_parser("train", help="train a DCGAN (default: procedural faces, 32x32, CPU-sized)",
                       description="Train a DCGAN. Defaults: the offline procedural faces at 32x32, sized for a 2-core CPU.")
    p.add_argument("--dataset", default=d.dataset, help="faces | digits | mnist | fashion-mnist | cifar10 | celeba | lsun | folder (default: %(default)s)")
    p.add_argument("--image-size", type=int, default=d.image_size, help="16, 32, 64 or 128 (default: %(default)s)")
    p.add_argument("--epochs", type=_positive, default=d.epochs, help="passes over the data (default: %(default)s)")
    p.add_argument("--batch-size", type=_positive, default=d.batch_size, help="(default: %(default)s, as in the paper); under torchrun, the global batch, split over the processes")
    p.add_argument("--n-images", type=_positive, default=d.n_images, help="procedural faces to draw (default: %(default)s)")
    p.add_argument("--width", type=_positive, default=d.width, help="ngf = ndf (default: %(default)s)")
    p.add_argument("--nz", type=_positive, default=d.nz, help="latent size (default: %(default)s)")
    p.add_argument("--lr", type=_rate, default=d.lr, help="Adam learning rate (default: %(default)s)")
    p.add_argument("--lr-D", dest="lr_D", type=_rate, default=None, help="D's learning rate if different from --lr")
    p.add_argument("--variant", default=d.variant, help="dcgan, or an ablation of notebook 02 (see dcgan_lib.architecture.VARIANTS) (default: %(default)s)")
    p.add_argument("--r1", type=_weight, default=d.r1, help="R1 penalty weight on D's gradient at real images (default: %(default)s, off)")
    p.add_argument("--feature-matching", type=_weight, default=d.feature_matching,
                   help="weight of feature matching (batch means of D's last hidden layer, real vs fake) in G's loss (default: %(default)s, off)")
    p.add_argument("--init-from", default=None, help="start a new run from this checkpoint's weights (fine-tuning; a tutorial's netG.pth too)")
    p.add_argument("--beta1", type=_beta, default=d.beta1, help="Adam beta1 (default: %(default)s)")
    p.add_argument("--beta2", type=_beta, default=d.beta2, help="Adam beta2 (default: %(default)s)")
    p.add_argument("--device", default=d.device, help="auto | cpu | cuda | mps (default: %(default)s)")
    p.add_argument("--precision", default=d.precision, choices=["fp32", "bf16", "fp16"], help="autocast on CUDA (default: %(default)s)")
    p.add_argument("--out", default=d.out, help="run folder for checkpoint.pt, samples/, history.json (default: %(default)s)")
    p.add_argument("--resume", action="store_true", help="continue the checkpoint in --out exactly where it stopped")
    p.add_argument("--seed", type=_seed, default=d.seed, help="(default: %(default)s)")
    p.add_argument("--checkpoint-every", type=_non_negative, default=d.checkpoint_every,
                   help="steps between checkpoints; 0: at epoch ends only (default: %(default)s)")
    p.add_argument("--log-every", type=_positive, default=d.log_every, help="steps between loss readings (default: %(default)s)")
    p.add_argument("--data-root", default=d.data_root, help="where real datasets live, as <root>/<name> (default: %(default)s); for --dataset folder, the image folder itself")
    p.add_argument("--download", action="store_true", help="let torchvision download the dataset (needs internet)")
    p.add_argument("--channels", type=int, choices=[1, 3], default=None, help="convert images to 1 or 3 channels")
    p.add_argument("--eval-every", type=_non_negative, default=d.eval_every, help="epochs between evaluations recorded in the history (0: never)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    fast = p.add_argument_group("speed", "how the step is computed, not what (docs/performance.md); with torchrun "
                                "--nproc_per_node=N -m dcgan_lib train, --batch-size is the global batch")
    fast.add_argument("--compile", action="store_true", help="torch.compile G and D (eager again, with one warning line, if it cannot)")
    fast.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                      help="channels-last memory format (default: on CUDA only)")
    fast.add_argument("--fused-adam", action="store_true", help="Adam's fused CUDA kernel")
    fast.add_argument("--cuda-graphs", action="store_true", help="capture the whole step once as a CUDA graph and replay it (one GPU)")
    fast.add_argument("--sync-bn", action="store_true", help="with torchrun on GPUs: BatchNorm statistics over the global batch")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> None:
    from .distributed import world_from_env
    from .train import train

    names = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig(**{k: v for k, v in vars(args).items() if k in names}, progress=not args.no_progress)
    state = train(cfg, resume=args.resume)
    if not world_from_env().is_main:  # under torchrun, process 0 reports
        return
    last = next((r for r in reversed(state.history) if "loss_D" in r), {})  # evaluation records carry no losses
    print(f"trained {state.step} steps in {state.elapsed_s:.0f} s; checkpoint: {Path(cfg.out) / 'checkpoint.pt'}")
    if state.last_grid is not None:
        print(f"samples: {state.last_grid}")
    if "loss_D" in last:
        print(f"last losses: loss_D {last['loss_D']:.3f}  loss_G {last['loss_G']:.3f}  D(x) {last['D_x']:.2f}  D(G(z)) {last['D_G_z']:.2f}")


def _add_sample(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="save a grid of generated images from a checkpoint")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--n", type=_positive, default=64, help="number of images (default: %(default)s)")
    p.add_argument("--nrow", type=_positive, default=8, help="images per row (default: %(default)s)")
    p.add_argument("--seed", type=_seed, default=0, help="seed for z (default: %(default)s)")
    p.add_argument("--scale", type=_positive, default=2, help="enlarge the PNG this many times (default: %(default)s)")
    p.add_argument("--batch-stats", action="store_true", help="BatchNorm with batch statistics instead of running averages")
    p.add_argument("--device", default="cpu", help="(default: %(default)s)")
    p.add_argument("--out", default="samples.png", help="PNG to write (default: %(default)s)")
    p.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> None:
    import torch

    from .checkpoint import load_generator
    from .device import pick_device
    from .latent import sample_z
    from .models import generate
    from .viz import save_grid

    G = load_generator(args.checkpoint, pick_device(args.device))
    _check_grid_fits(G, args.n, args.scale, "--n or --scale")
    z = sample_z(args.n, G.nz, generator=torch.Generator().manual_seed(args.seed))
    path = save_grid(generate(G, z, train_bn=args.batch_stats), _png(args.out), nrow=args.nrow, scale=args.scale)
    print(f"wrote {path}")


def _add_interpolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="save rows of images along lerp or slerp paths between random z's")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--method", choices=["slerp", "lerp"], default="slerp", help="(default: %(default)s)")
    p.add_argument("--steps", type=int, default=10, help="images per path, ends included (default: %(default)s)")
    p.add_argument("--rows", type=_positive, default=4, help="number of paths (default: %(default)s)")
    p.add_argument("--seed", type=_seed, default=0, help="seed for the end points (default: %(default)s)")
    p.add_argument("--scale", type=_positive, default=2, help="enlarge the PNG this many times (default: %(default)s)")
    p.add_argument("--device", default="cpu", help="(default: %(default)s)")
    p.add_argument("--out", default="interpolation.png", help="PNG to write (default: %(default)s)")
    p.set_defaults(func=_interpolate)


def _interpolate(args: argparse.Namespace) -> None:
    import torch

    from .checkpoint import load_generator
    from .device import pick_device
    from .latent import interpolate, sample_z
    from .models import generate
    from .viz import save_grid

    if args.steps < 2:
        raise DCGANError(f"--steps must be at least 2, got {args.steps}")
    G = load_generator(args.checkpoint, pick_device(args.device))
    _check_grid_fits(G, args.rows * args.steps, args.scale, "--steps, --rows or --scale")
    ends = sample_z(2 * args.rows, G.nz, generator=torch.Generator().manual_seed(args.seed))
    z = torch.cat([interpolate(ends[2 * r], ends[2 * r + 1], args.steps, args.method) for r in range(args.rows)])
    path = save_grid(generate(G, z), _png(args.out), nrow=args.steps, scale=args.scale)
    print(f"wrote {path}")


def _check_grid_fits(G: Any, n: int, scale: int, flags: str) -> None:
    """Refuse, before generating anything, a grid that does not fit in memory (G's layer outputs for n images
    on its device, then the picture on the CPU): `--steps 100000000` would otherwise run for hours, or be killed."""
    import torch

    from .device import check_memory
    from .models import forward_numel
    from .viz import grid_bytes

    device = next(G.parameters()).device
    generating = 4 * n * forward_numel(G, torch.zeros(1, G.nz, 1, 1, device=device))
    picture = grid_bytes(n, G.image_size, scale)
    if device.type == "cpu":
        check_memory(generating + picture, device, f"a grid of {n:,} images at scale {scale}", f"use a smaller {flags}")
    else:
        check_memory(generating, device, f"generating {n:,} images", f"use a smaller {flags}")
        check_memory(picture, "cpu", f"a grid of {n:,} images at scale {scale}", f"use a smaller {flags}")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="measure a generator: attribute rates, Frechet distance with floor and ceiling, KID, memorisation",
                       description="Evaluate a checkpoint with the course classifiers (faces, digits); --standard adds Inception FID/KID (needs the weights).")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--n", type=_at_least_2, default=2000, help="generated and real images per set (default: %(default)s)")
    p.add_argument("--n-rates", type=_positive, default=N_RATES,
                   help="faces: generated and real images for the attribute rates (default: %(default)s)")
    p.add_argument("--dataset", default=None, help="what the weights were trained on, for a checkpoint that does not say (a netG.pth)")
    p.add_argument("--seed", type=_seed, default=None, help="seed for z and the untrained-G ceiling (default: the run's seed)")
    p.add_argument("--device", default="auto", help="(default: %(default)s)")
    p.add_argument("--standard", action="store_true", help="also standard Inception FID/KID via torchmetrics (downloads weights on first use)")
    p.add_argument("--data-root", default=None, help="where real datasets live, for --standard (default: the run's own --data-root)")
    p.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> None:
    print(evaluation_report(args.checkpoint, n=args.n, seed=args.seed, device=args.device, standard=args.standard,
                            data_root=args.data_root, n_rates=args.n_rates, dataset=args.dataset))


def evaluation_report(checkpoint: str | Path, n: int = 2000, seed: int | None = None, device: str = "auto",
                      standard: bool = False, standard_n: int = 10_000, data_root: str | Path | None = None,
                      n_rates: int | None = None, dataset: str | None = None) -> str:
    """What `dcgan evaluate --checkpoint PATH` prints: the course metrics table for faces and digits, and with
    `standard` the Inception FID/KID (any dataset; needs the weights; real images from `data_root`, by default
    where the run found its data). Raises DCGANError with a one-line fix."""
    from .checkpoint import build_generator, load
    from .data import load_data
    from .device import pick_device
    from .evaluate import EVALUATED_DATASETS, check_evaluable, evaluate_checkpoint
    from .inception import standard_fid

    ckpt = load(checkpoint)
    cfg = ckpt.get("config", {})
    dataset = dataset or cfg.get("dataset")
    if dataset is None:
        raise DCGANError(f"{checkpoint} does not say what it was trained on: pass --dataset (faces, digits, or a "
                         "real dataset with --standard)")
    parts = []
    if dataset in EVALUATED_DATASETS:
        parts.append(evaluate_checkpoint(checkpoint, n=n, seed=seed, device=device, dataset=dataset,
                                         n_rates=N_RATES if n_rates is None else n_rates).table())
    elif not standard:
        check_evaluable(dataset)
    if standard:
        G = build_generator(ckpt, pick_device(device))
        root = cfg.get("data_root", "data") if data_root is None else data_root  # an image folder, say
        data = load_data(dataset, G.image_size, int(cfg.get("n_images", 20_000)), int(cfg.get("seed", 0)), root)
        r = standard_fid(G, data, n=standard_n, seed=int(cfg.get("seed", 0)) if seed is None else seed, device=device)
        parts.append(f"Standard Inception FID ({int(r['n_fake'])} generated vs {int(r['n_real'])} real images; "
                     f"compare only with FIDs at the same n): FID {r['fid']:.2f}  KID {r['kid']:.4f} ± {r['kid_std']:.4f}")
    return "\n\n".join(parts)


def _add_train_classifier(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-classifier", help="train the course's attribute (faces) or digit classifier used by `dcgan evaluate`")
    p.add_argument("--kind", choices=["faces", "digits"], default="faces", help="(default: %(default)s)")
    p.add_argument("--out", default=None, help="where to write it (default: the shipped data/classifiers/<kind>.pt)")
    p.add_argument("--seed", type=_seed, default=0, help="(default: %(default)s)")
    p.add_argument("--n", type=_positive, default=None, help="training images (faces only; default: the card's)")
    p.add_argument("--epochs", type=_positive, default=None, help="(default: the card's)")
    p.add_argument("--device", default="auto", help="(default: %(default)s)")
    p.add_argument("--force", action="store_true", help="replace --out if it exists (the default --out is the shipped file)")
    p.set_defaults(func=_train_classifier)


def _train_classifier(args: argparse.Namespace) -> None:
    card = train_classifier_command(args.kind, out=args.out, seed=args.seed, n=args.n, epochs=args.epochs,
                                    device=args.device, overwrite=args.force)
    print(json.dumps(card["report"], indent=1))


def train_classifier_command(kind: str = "faces", out: str | Path | None = None, seed: int = 0, n: int | None = None,
                         epochs: int | None = None, device: str = "auto", progress: bool = True,
                         overwrite: bool = False) -> dict[str, Any]:
    """What `dcgan train-classifier` runs: train, write `out` (default: the shipped `data/classifiers/<kind>.pt`)
    and its card, and return the card. An existing `out` is replaced only with `overwrite=True`.
    Faces at the defaults take about 3 minutes on a 2-core CPU."""
    import torch

    from .classifiers import classifier_dir, save_classifier, train_classifier
    from .environment import cpu_name, versions
    from .torch_files import check_new_file

    if kind == "digits" and n is not None:
        raise DCGANError("--n applies to faces only: the digits classifier trains on all of scikit-learn's digits")
    out = classifier_dir() / f"{kind}.pt" if out is None else Path(out)
    check_new_file(out, overwrite)
    model, report = train_classifier(kind, n=n, epochs=epochs, seed=seed, device=device, progress=progress)
    args = [f"kind={kind!r}", f"seed={seed}"] + [f"{k}={v}" for k, v in (("n", n), ("epochs", epochs)) if v is not None]
    card = {
        "what": f"dcgan_lib {kind} classifier: {'faces attributes (smiling, eyeglasses, long_hair), turn, hair colour, skin tone, background' if kind == 'faces' else '10 digit classes'}",
        "command": f"dcgan train-classifier --kind {kind} --seed {seed}" + (f" --n {n}" if n else "") + (f" --epochs {epochs}" if epochs else ""),
        "function": f"dcgan_lib.cli.train_classifier_command({', '.join(args)})",
        "arch": model.arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "report": report,
        "hardware": {"device": report["device"], "cpu_threads": torch.get_num_threads(), "cpu": cpu_name(),
                     "load_average_1min_at_end": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None},
        "versions": {**versions(), "dcgan_lib": __version__},
        "date": time.strftime("%Y-%m-%d"),
    }
    save_classifier(model, out, card)  # also forgets the loaded classifiers, so the new file is read next
    return card


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="ship a run: a small checkpoint (no optimiser state) and a card with its command and evaluation")
    p.add_argument("--checkpoint", required=True, help=CHECKPOINT_HELP)
    p.add_argument("--name", required=True, help="e.g. faces32: writes <out-dir>/faces32.pt and faces32.json")
    p.add_argument("--out-dir", default=None, help="(default: the repository's data/checkpoints)")
    p.add_argument("--n", type=_at_least_2, default=2000, help="images per set for the card's evaluation (default: %(default)s)")
    p.add_argument("--heldout-seed", type=_seed, default=None, help="add an evaluation with other z's and real images (e.g. 1)")
    p.add_argument("--note", default=None, help="how this checkpoint was chosen, for the card")
    p.add_argument("--force", action="store_true", help="replace <out-dir>/<name>.pt if it exists (e.g. a shipped checkpoint)")
    p.add_argument("--dataset", default=None, help="what the weights were trained on, for a netG.pth (recorded in the export)")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> None:
    from .export import export

    pt, card = export(args.checkpoint, args.name, n_eval=args.n, out_dir=args.out_dir, heldout_seed=args.heldout_seed, note=args.note,
                      overwrite=args.force, dataset=args.dataset)
    print(f"wrote {pt} ({pt.stat().st_size / 2**20:.1f} MB) and {card}")


def _add_grade(sub: argparse._SubParsersAction) -> None:
    from .sandbox import Limits  # stdlib only: cheap

    d = Limits()
    p = sub.add_parser("grade", help="run students' exercise notebooks and count the exercises whose checks pass (runs their code)",
                       description="Grade students' exercise notebooks, each in its own process: the notebook runs top to bottom in "
                                   "a fresh kernel, and a separate checker process re-runs each check on the functions it defines "
                                   "(see instructor/README.md). Exit code 1 if an exercise failed, 2 if a file could not be graded.")
    p.add_argument("notebooks", nargs="+", metavar="NOTEBOOK", help="students' copies of exercises/NN_name.ipynb")
    p.add_argument("--full", action="store_true", help="run with the notebooks' own settings, not FAST = True")
    p.add_argument("--timeout", type=_positive, default=600,
                   help="seconds per notebook: its cells all together, not each cell (a notebook over it is graded 'timed out' "
                        "and the batch goes on); each check the grader re-runs gets as long (default: %(default)s)")
    p.add_argument("--csv", default=None, help="also write notebook,exercise,passed,reason rows to this file, as each notebook finishes")
    p.add_argument("--isolate", action="store_true",
                   help="run the students' code in a throwaway folder with a clean environment and resource limits and, where "
                        "bubblewrap works, a filesystem without the instructor's and other students' files, no network, as nobody")
    p.add_argument("--memory", type=_rate, default=d.memory_gb, metavar="GB",
                   help="with --isolate: address space per process, in GiB (default: %(default)s)")
    p.add_argument("--max-processes", type=_positive, default=d.processes, metavar="N",
                   help="with --isolate: processes and threads of the student's user (default: %(default)s)")
    p.set_defaults(func=_grade)


def _grade(args: argparse.Namespace) -> int:
    from .grading import CsvLog, grade_notebooks
    from .sandbox import Limits, isolation_problem

    isolate = Limits(memory_gb=args.memory, processes=args.max_processes) if args.isolate else None
    if isolate is not None and isolation_problem():
        print(f"dcgan grade: warning: --isolate without bubblewrap: {isolation_problem()}; the notebooks get a throwaway "
              "folder, a clean environment and resource limits, but can read every file the grader can", file=sys.stderr)
    log = CsvLog(args.csv) if args.csv else None  # opened first: an unwritable --csv stops the batch before it starts
    grades = []
    try:
        for g in grade_notebooks(args.notebooks, fast=not args.full, timeout=args.timeout, isolate=isolate):
            grades.append(g)
            if g.graded:
                print(g.describe(), flush=True)
            else:
                print(f"dcgan grade: error: {g.problem}", file=sys.stderr, flush=True)
            if log:
                log.write(g)
    except KeyboardInterrupt:
        kept = f"; {args.csv} holds their rows" if log else ""
        print(f"dcgan grade: interrupted after {len(grades)} of {len(args.notebooks)} notebooks{kept}", file=sys.stderr)
        return 130
    finally:
        if log:
            log.close()
    if log:
        print(f"wrote {args.csv}")
    total, passed = sum(len(g.results) for g in grades), sum(g.passed for g in grades)
    bad = sum(not g.graded for g in grades)
    print(f"{passed}/{total} exercises passed in {len(grades) - bad} notebook{'s' * (len(grades) - bad != 1)}"
          + (f"; {bad} not graded" if bad else ""))
    if bad:
        return EXIT_USER_ERROR
    return 0 if passed == total else 1  # 1: something to look at, like pytest


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print versions and the device training would use")
    p.set_defaults(func=_info)


def _info(args: argparse.Namespace) -> None:
    from .environment import report

    print(report())


def _png(path: str) -> Path:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise DCGANError(f"--out must end in .png, got {path}")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The `dcgan` argument parser (one subcommand per job)."""
    parser = _Parser(prog="dcgan", description="DCGAN course tools: train, sample, interpolate, evaluate, train-classifier, export, grade, info.")
    parser.add_argument("--version", action="version", version=f"dcgan_lib {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_train, _add_sample, _add_interpolate, _add_evaluate, _add_train_classifier, _add_export, _add_grade, _add_info):
        add(sub)
    return parser


def one_line(err: BaseException) -> str:
    """The last non-empty line of an error (DataLoader workers wrap the original message in a traceback)."""
    lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
    line = lines[-1] if lines else type(err).__name__
    return re.sub(r"^(?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception|Diverged): ", "", line)  # "pkg.DatasetError: msg" -> "msg"


def os_message(err: OSError) -> str:
    """One line for a file-system error, naming the path and what to do."""
    path = err.filename
    if path is None:
        return one_line(err)
    if isinstance(err, (NotADirectoryError, FileExistsError)):
        return f"cannot write {path}: part of that path is a file, not a folder: choose another --out"
    if isinstance(err, IsADirectoryError):
        return f"{path} is a folder: pass a file path"
    if isinstance(err, FileNotFoundError):
        return f"no such file or folder: {path}: check the path"
    if isinstance(err, PermissionError):
        return f"permission denied: {path}: choose a path you can write to"
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"cannot write {path}: no space left on device: free some space or choose another output folder"
    if err.errno == errno.EROFS:
        return f"cannot write {path}: the file system is read-only: choose another output folder"
    return f"{err.strerror or one_line(err)}: {path}"


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"dcgan: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dcgan`; returns the exit code."""
    args = build_parser().parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _one_line_warning  # e.g. "--precision bf16 applies on CUDA only", without a source line
    try:
        code = args.func(args)  # `grade` returns 1 when an exercise failed; the others return None
    except DCGANError as e:
        print(f"dcgan {args.command}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        print(f"dcgan {args.command}: error: {os_message(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except ValueError as e:
        print(f"dcgan {args.command}: error: {one_line(e)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt as e:  # train's says which checkpoint is kept (errors.Interrupted)
        print(f"dcgan {args.command}: interrupted{': ' + str(e) if str(e) else ''}", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"dcgan {args.command}: error: out of memory: use smaller sizes (--n, --batch-size, --width, --scale)", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as e:  # noqa: BLE001 - a bug, or a failure nobody foresaw: still one line, and the way to see more
        if os.environ.get("DCGAN_TRACEBACK"):
            raise
        first = next((line.strip() for line in str(e).splitlines() if line.strip()), "")[:200]
        if "out of memory" in first.lower() or "can't allocate memory" in first or "not enough memory" in first:
            print(f"dcgan {args.command}: error: out of memory ({first}): use smaller sizes (--n, --batch-size, --width)", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"dcgan {args.command}: internal error: {type(e).__name__}: {first} (a bug? rerun with DCGAN_TRACEBACK=1 "
              "to see where, and report it)", file=sys.stderr)
        return 1
    finally:
        warnings.showwarning = shown  # main() may run inside a notebook or a test session
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
