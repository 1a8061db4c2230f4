"""Mutation check (issue 23: "a mutation run makes the suite fail"): proves the tests fail for known-wrong code.

Each mutation is one exact text replacement in one file of dcgan_lib, a mistake a student or a refactor could
make: D's or G's labels swapped, D's loss reaching into G, the interpolation widget ignoring its method, the
few-label probe standardising the test set with its own statistics, Ctrl-C's exit code, a NaN checkpoint kept...
For each one the script

1. copies the working tree (the files git tracks, as they are now, uncommitted edits included, plus untracked
   files git does not ignore) into a temporary folder, so the repository itself is never touched;
2. applies the replacement there; the original text must occur exactly once, so a refactor that removes or
   duplicates it stops the script with one clear line instead of silently testing unchanged code;
3. checks that `import dcgan_lib` in that folder imports the copy (the venv's editable install points at the
   repository: the copy is put first on PYTHONPATH and is the working directory, and the check proves it won);
4. runs `python -m pytest -q -x -p no:cacheprovider <that mutation's tests>` in the copy: the tests must fail
   ("caught"); passing means the suite cannot tell the wrong code from the right one ("MISSED").

First the same tests run on an unmodified copy and must pass, or a failure would prove nothing. Only pytest's
exit code 1 (tests failed) counts as caught: any other exit (a collection error, a timeout) is an ERROR row, and a
mutated file that no longer compiles stops the script.

    python tools/mutation_check.py            # every mutation, each with its targeted tests (about 90 s)
    python tools/mutation_check.py --list     # the mutations, their files and tests
    python tools/mutation_check.py --only swap-D-labels
    python tools/mutation_check.py --full     # each mutation against the whole suite, -m "not browser" (slow)

Prints one table (mutation, file, tests, result, seconds) and the test that caught each mutation; exits 1 if the
baseline fails or any mutation is missed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
FULL_SUITE = ["-m", "not browser", "tests"]  # the browser test drives Chromium (pyproject.toml's markers)
TIMEOUT_S = 3600  # one pytest run; the full suite takes about 5 minutes


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]
    why: str


MUTATIONS = [
    Mutation(
        "swap-D-labels", "dcgan_lib/train.py",
        "F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float))\n"
        "                + F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float))",
        "F.binary_cross_entropy_with_logits(real_logits.float(), torch.zeros_like(real_logits, dtype=torch.float))\n"
        "                + F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float))",
        ("tests/test_gan_behaviour.py", "tests/test_train.py::test_a_run_writes_history_samples_and_checkpoint"),
        "d_step: D learns real -> 0, fake -> 1"),
    Mutation(
        "swap-G-label", "dcgan_lib/train.py",
        "loss = F.binary_cross_entropy_with_logits(logits.float(), torch.ones_like(logits, dtype=torch.float))",
        "loss = F.binary_cross_entropy_with_logits(logits.float(), torch.zeros_like(logits, dtype=torch.float))",
        ("tests/test_gan_behaviour.py",),
        "g_step: G's target is 0 (fake) instead of 1"),
    Mutation(
        "ignore-lerp-method", "dcgan_lib/widgets.py",
        'return (slerp if self.method == "slerp" else lerp)(z0, z1, float(self.t.value))',
        "return slerp(z0, z1, float(self.t.value))",
        ("tests/test_widgets.py::test_interpolation_slider_follows_its_method",),
        "InterpolationSlider always slerps, whatever its method"),
    Mutation(
        "leak-test-standardisation", "dcgan_lib/probes.py",
        "svm.predict((xte - mu) / sd / scale)",
        "svm.predict((xte - xte.mean(0)) / (xte.std(0) + 1e-6) / scale)",
        ("tests/test_probes.py::test_few_label_accuracy_standardises_with_the_labelled_set_alone",),
        "few_label_accuracy scales the test set with its own mean and std"),
    Mutation(
        "no-detach", "dcgan_lib/train.py",
        "fake_logits = D(fake.detach())",
        "fake_logits = D(fake)",
        ("tests/test_train.py::test_a_run_writes_history_samples_and_checkpoint",),
        "d_step: D's loss reaches into G"),
    Mutation(
        "cli-interrupt-exit-code", "dcgan_lib/cli.py",
        "        return 130\n    except MemoryError:",
        "        return 1\n    except MemoryError:",
        ("tests/test_cli.py::test_every_failure_branch_of_main_is_one_line_and_its_exit_code",),
        "main(): Ctrl-C exits 1 instead of 130"),
    Mutation(
        "nan-checkpoint-kept", "dcgan_lib/train.py",
        "        check_finite(ckpt)\n",
        "        pass\n",
        ("tests/test_faults.py::test_a_run_at_an_absurd_learning_rate_stops_and_keeps_only_finite_checkpoints",),
        "save(): no finite check before a checkpoint is written"),
    Mutation(
        "adam-default-betas", "dcgan_lib/train.py",
        "opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **kw)",
        "opt_G = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.9, 0.999), **kw)",
        ("tests/test_train.py::test_the_default_adam_kernel_gives_the_for_loops_numbers_to_the_bit",),
        "make_optimisers: G's Adam gets torch's default beta1 0.9, not the run's (the paper's 0.5)"),
    Mutation(
        "wilson-wald-centre", "dcgan_lib/arithmetic.py",
        "centre = (p + z * z / (2 * n)) / (1 + z * z / n)",
        "centre = p",
        ("tests/test_latent.py::test_wilson_interval",),
        "wilson_interval centred on p (Wald's centre), not Wilson's"),
]


class Broken(Exception):
    """The check itself cannot run as intended (a mutation's text is gone, the copy is not imported...)."""


def working_tree_files() -> list[str]:
    """Tracked files as they are in the working tree (deleted ones skipped), plus untracked, not ignored ones."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         check=True, capture_output=True).stdout.decode()
    return sorted({p for p in out.split("\0") if p and os.path.lexists(ROOT / p) and not (ROOT / p).is_dir()})


def copy_tree(files: list[str], dest: Path) -> None:
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target, follow_symlinks=False)


def apply(m: Mutation, copy: Path) -> None:
    path = copy / m.file
    text = path.read_text()
    n = text.count(m.old)
    if n != 1:
        raise Broken(f"mutation {m.name}: the text to replace occurs {n} times in {m.file} (must be exactly once): "
                     f"{m.old.strip().splitlines()[0]!r}; update MUTATIONS in tools/mutation_check.py")
    mutated = text.replace(m.old, m.new)
    try:
        compile(mutated, str(path), "exec")
    except SyntaxError as e:
        raise Broken(f"mutation {m.name}: the mutated {m.file} does not compile: {e}") from e
    path.write_text(mutated)


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["COLUMNS"] = "200"  # pytest's summary lines, not cut at 80 characters
    return env


def check_imports_the_copy(copy: Path) -> None:
    """The venv's editable install points at the repository; the copy must win (it does: PYTHONPATH and the
    working directory come before the editable finder, which sits at the end of sys.meta_path)."""
    out = subprocess.run([sys.executable, "-c", "import dcgan_lib; print(dcgan_lib.__file__)"], cwd=copy,
                         env=environment(copy), capture_output=True, text=True)
    where = Path(out.stdout.strip() or "?").resolve()
    if out.returncode or not where.is_relative_to(copy.resolve()):
        raise Broken(f"in {copy}, `import dcgan_lib` gives {where} (not the copy): {out.stderr.strip()[-300:]}")


def pytest(copy: Path, selection: list[str]) -> tuple[int, str, float]:
    t = time.perf_counter()
    try:
        out = subprocess.run(PYTEST + selection, cwd=copy, env=environment(copy), capture_output=True, text=True,
                             timeout=TIMEOUT_S)
        code, text = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as e:
        code, text = -1, f"timed out after {TIMEOUT_S} s\n{e.stdout or ''}"
    return code, text, time.perf_counter() - t


def summary(text: str) -> str:
    """pytest's last line without the timing, e.g. '1 failed, 2 passed'."""
    lines = [line.strip("= ").strip() for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else "no output"
    return re.sub(r"\s+in [\d.]+s.*$", "", last)


def first_failure(text: str) -> str:
    """The first failed test's id and the first line of its error, e.g. 'tests/x.py::test_y: assert 0.57 == ...'."""
    lines = text.splitlines()
    test = next((line.split(" - ")[0].split(" ", 1)[1] for line in lines if line.startswith(("FAILED ", "ERROR "))), "")
    error = next((line[1:].strip() for line in lines if line.startswith("E ")), "")
    return f"{test}: {error}" if test else summary(text)


def run_one(files: list[str], selection: list[str], m: Mutation | None) -> tuple[int, str, float]:
    with tempfile.TemporaryDirectory(prefix="mutation_check_") as tmp:
        copy = Path(tmp) / "repo"
        copy_tree(files, copy)
        if m is not None:
            apply(m, copy)
        check_imports_the_copy(copy)
        return pytest(copy, selection)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--list", action="store_true", help="list the mutations and exit")
    p.add_argument("--only", metavar="NAME", action="append", help="run this mutation only (repeatable)")
    p.add_argument("--full", action="store_true", help='run the whole suite (-m "not browser") for each mutation')
    args = p.parse_args(argv)

    chosen = MUTATIONS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTATIONS}
        if unknown:
            p.error(f"unknown mutation(s) {', '.join(sorted(unknown))}: see --list")
        chosen = [m for m in MUTATIONS if m.name in args.only]
    if args.list:
        for m in chosen:
            print(f"{m.name:<27} {m.file:<24} {m.why}\n{'':<27} tests: {' '.join(m.tests)}")
        return 0

    def selection(m: Mutation) -> list[str]:
        return FULL_SUITE if args.full else list(m.tests)

    files = working_tree_files()
    rows: list[tuple[str, str, str, str, str, str]] = []  # name, file, tests, result, pytest, seconds
    details: list[str] = []
    t_all = time.perf_counter()
    baseline = list(dict.fromkeys(t for m in chosen for t in selection(m)))
    print(f"baseline: {len(baseline)} test selection(s) on an unmutated copy of {len(files)} files ...", flush=True)
    try:
        code, text, s = run_one(files, baseline, None)
        ok = code == 0
        rows.append(("(baseline, unmutated)", "-", "union of the selections below", "passes" if ok else "FAILS",
                     summary(text), f"{s:.1f}"))
        if not ok:
            details.append("baseline: the unmutated code fails its tests, so no mutation result means anything:\n"
                           + "\n".join(text.splitlines()[-25:]))
        else:
            for m in chosen:
                print(f"{m.name} ...", flush=True)
                code, text, s = run_one(files, selection(m), m)
                result = {1: "caught", 0: "MISSED"}.get(code, f"ERROR (pytest exit {code})")
                rows.append((m.name, m.file, " ".join(selection(m)), result, summary(text), f"{s:.1f}"))
                if code == 1:
                    details.append(f"{m.name} ({m.why}): {first_failure(text)[:220]}")
                else:
                    details.append(f"{m.name} ({m.why}): {result}; pytest's last lines:\n"
                                   + "\n".join(text.splitlines()[-15:]))
    except Broken as e:
        print(f"mutation_check: error: {e}", file=sys.stderr)
        return 1

    head = ("mutation", "file", "tests run", "result", "pytest", "seconds")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join("-" * w for w in widths)
    print()
    for r in [head, None, *rows]:
        print(line if r is None else "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s ({'whole suite' if args.full else 'targeted tests'}, -x)\n")
    for d in details:
        print(d)
    failed = [r[0] for r in rows if r[3] not in ("caught", "passes")]
    if failed:
        print(f"\nmutation_check: FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"\nall {len(chosen)} mutation(s) caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
