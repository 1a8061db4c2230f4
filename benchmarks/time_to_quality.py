"""Time-to-quality curve of a run trained with --eval-every: gap closed and attribute rates against epoch and
training wall time (evaluation time excluded). python benchmarks/time_to_quality.py RUN_DIR [--out docs/x.png]"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from dcgan_lib.viz import plot_quality  # noqa: E402

ATTRS = ("smiling", "eyeglasses", "long_hair")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("run")
    p.add_argument("--out", default="docs/time_to_quality.png")
    p.add_argument("--mark-epoch", type=float, default=25, help="draw a line at this epoch (the CLI default)")
    p.add_argument("--timing", default=None,
                   help="take wall time per epoch from this run's history instead (e.g. an uncontended plain run of the "
                        "same config); epochs past its end are extrapolated at its mean pace")
    args = p.parse_args()
    history = json.loads((Path(args.run) / "history.json").read_text())
    evals = [r for r in history if "fd_gap_closed" in r]
    if not evals:
        raise SystemExit(f"{args.run}/history.json has no evaluations: train with --eval-every 1")
    epochs = [r["epoch"] for r in evals]
    minutes = [r["time_s"] / 60 for r in evals]
    time_label = "training wall time (minutes, 2 CPU cores, evaluation excluded)"
    if args.timing:
        timed = [r for r in json.loads((Path(args.timing) / "history.json").read_text()) if "loss_D" in r]
        pace = timed[-1]["time_s"] / timed[-1]["epoch"]  # seconds per epoch, start-up included

        def at(epoch: float) -> float:
            before = [r for r in timed if r["epoch"] <= epoch]
            if before and before[-1]["epoch"] == epoch:
                return before[-1]["time_s"]
            return timed[-1]["time_s"] + (epoch - timed[-1]["epoch"]) * pace if epoch > timed[-1]["epoch"] else epoch * pace

        minutes = [at(e) / 60 for e in epochs]
        time_label = f"minutes at the pace of the plain run ({pace:.1f} s/epoch)"
    print(f"{'epoch':>5} {'min':>6} {'gap':>6} {'FD/floor':>8} " + " ".join(f"{a + ' diff':>15}" for a in ATTRS))
    for r, m in zip(evals, minutes):
        print(f"{r['epoch']:5.0f} {m:6.1f} {r['fd_gap_closed']:6.3f} {r['fd_over_floor']:8.1f} "
              + " ".join(f"{r[a + '_diff']:15.3f}" for a in ATTRS))

    timed = [{**r, "time_s": m * 60} for r, m in zip(evals, minutes)]  # the (possibly re-timed) clock
    fig = plot_quality(timed, ATTRS, time_label=time_label, figsize=(11, 4))
    ax = fig.axes[0]
    ax.axvline(args.mark_epoch, color="tab:red", ls="--", lw=0.8, label=f"`dcgan train` default ({args.mark_epoch:g} epochs)")
    ax.legend(fontsize=8)
    fig.axes[1].set(title="quality against time (2 CPU cores)")
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
