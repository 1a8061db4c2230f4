"""`dcgan grade`: grade students' exercise notebooks, one notebook at a time, each in its own process.

For each notebook the grader starts a worker process (`python -m dcgan_lib.grading JOB`) in its own session, which
1. runs the notebook top to bottom in a fresh kernel (every cell, even after an error), its cells limited to
   `timeout` seconds all together: this shows whether the notebook runs, and which pass lines it prints;
2. runs the checker (`checker.py`), a fresh process that rebuilds the student's functions from the notebook's code
   and calls each check itself: the verdict comes from there, never from what the kernel printed. An exercise
   passes when the notebook printed its pass line *and* the checker confirmed it; a printed pass line the
   checker did not confirm is reported as such;
3. kills every process the kernel and the checker left behind: the worker is their "subreaper" (Linux), so even
   a process that left the kernel's session is found among its descendants.

A notebook that times out, whose kernel dies, or that is no notebook at all gets that one reason and the batch goes
on. With `isolate` (`--isolate`), the kernel and the checker run in a throwaway box (`sandbox.py`). The checks
still run the student's code: see `checker.py` for what the checker's verdict protects against and what not.
"""

from __future__ import annotations

import csv
import ctypes
import dataclasses
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import sandbox
from .errors import DCGANError

UNCONFIRMED = "the notebook printed a pass line the grader could not reproduce"
STARTUP_S = 120  # what the worker may spend besides the notebook's cells and the checks: kernel start, shutdown


@dataclass
class Grade:
    """What grading one notebook found: for each exercise it is graded on, passed (None) or the reason it did not."""

    notebook: Path
    results: dict[str, str | None]  # exercise id -> None if passed, else the one-line reason
    problem: str | None = None  # one reason for the whole notebook: "timed out after 5 s", "no notebook at ..."

    @property
    def passed(self) -> int:
        return sum(r is None for r in self.results.values())

    @property
    def graded(self) -> bool:
        """False for a file that could not be graded at all (missing, not a notebook, no checks)."""
        return bool(self.results) or self.problem is None

    def describe(self) -> str:
        """One line per notebook, then one indented line per exercise that did not pass."""
        if not self.graded:
            return f"{self.notebook}: not graded: {self.problem}"
        head = f"{self.notebook}: {self.passed}/{len(self.results)} exercises passed"
        if self.problem:
            return f"{head}: {self.problem}"
        return "\n".join([head] + [f"  {i}: {r}" for i, r in self.results.items() if r is not None])


class CsvLog:
    """grades.csv, one row per exercise, written as each notebook finishes (so an interrupted batch keeps its rows)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file = open(self.path, "w", newline="")  # noqa: SIM115 - closed by close()
        self._rows = csv.writer(self._file)
        self._rows.writerow(["notebook", "exercise", "passed", "reason"])
        self._file.flush()

    def write(self, grade: Grade) -> None:
        rows = [[str(grade.notebook), i, r is None, r or ""] for i, r in grade.results.items()]
        self._rows.writerows(rows or [[str(grade.notebook), "", False, grade.problem or ""]])
        self._file.flush()

    def close(self) -> None:
        self._file.close()


# ------------------------------------------------------------------------------------------------- the grader


def _expected(path: Path) -> dict[str, str]:
    """The exercises a notebook is graded on, id -> check name; DCGANError if it cannot be graded. A notebook named
    NN_... is graded on all of exercise N's checks (a deleted check counts as failed), any other on those it calls."""
    import nbformat

    from .exercises import CHECKS

    if not path.is_file():
        raise DCGANError(f"no notebook at {path}: give the path of a student's .ipynb file")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:  # not JSON, or not a notebook
        raise DCGANError(f"{path} is not a readable notebook ({type(e).__name__}): give a .ipynb file") from None
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    number = path.name.split("_")[0].lstrip("0")  # "03_training_step.ipynb" -> "3": its exercises are 3.1, 3.2
    ids = [i for i in CHECKS if i.split(".")[0] == number] or [i for i, name in CHECKS.items() if any(f"{name}(" in s for s in code)]
    if not ids:
        raise DCGANError(f"{path} calls none of the exercise checks ({', '.join(CHECKS.values())}): is it an exercise notebook?")
    return {i: CHECKS[i] for i in ids}


def combine(expected: Iterable[str], outcome: dict) -> dict[str, str | None]:
    """Each exercise's result from the worker's outcome: passed only if the kernel printed the pass line and the
    checker confirmed it; the kernel's reason where the notebook itself failed; else the checker's."""
    if outcome.get("problem"):
        return {i: outcome["problem"] for i in expected}
    printed, checked = outcome.get("printed", {}), outcome.get("checked") or {}
    results = {}
    for i in expected:
        shown = printed.get(i, "the check did not run (the cell printed no result)")
        if shown is not None:
            results[i] = shown
            continue
        confirmed = checked.get(i, outcome.get("checker_problem") or "the grader's check did not run")
        results[i] = None if confirmed is None else f"{UNCONFIRMED}: {confirmed}"
    return results


def grade_notebook(path: str | Path, fast: bool = True, timeout: int = 600, isolate: sandbox.Limits | None = None) -> Grade:
    """Grade one notebook in a worker process (see the module docstring): `timeout` limits its cells all together
    and, again, each check the checker runs; `fast` sets FAST = True after the parameters cell, as CI does;
    `isolate` runs the student's code in a box with these limits. A file that cannot be graded gets a Grade that
    says why; only a grader without nbclient raises (DCGANError)."""
    try:
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError:  # the grader's own environment, not a student's file: the whole batch stops
        raise DCGANError("grading runs notebooks with nbclient: pip install nbclient ipykernel (both are in the 'dev' extra)") from None
    path = Path(path)
    try:
        expected = _expected(path)
    except DCGANError as e:
        return Grade(path, {}, str(e))
    from .exercises import PASSED

    tmp = Path(tempfile.mkdtemp(prefix="dcgan-grade-"))
    try:
        if isolate is None:
            box, notebook = sandbox.plain(path.parent), path.resolve()
        else:
            work = tmp / "work"
            work.mkdir()
            notebook = work / path.name
            shutil.copyfile(path, notebook)
            cpu = isolate.cpu_s or (timeout * (2 + len(expected)) + STARTUP_S) * (os.cpu_count() or 1)
            box = sandbox.isolated(work, dataclasses.replace(isolate, cpu_s=cpu))
            if box.owner is not None:
                os.chown(notebook, box.owner, box.owner)
        job = {"notebook": str(notebook), "exercises": expected, "passed": PASSED, "fast": fast, "timeout": timeout,
               "box": dataclasses.asdict(box), "result": str(tmp / "result.json"), "private": str(tmp)}
        (tmp / "job.json").write_text(json.dumps(job))
        outcome = _run_worker(tmp, limit=STARTUP_S + timeout * (1 + len(expected)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Grade(path, combine(expected, outcome), outcome.get("problem"))


def grade_notebooks(paths: Iterable[str | Path], fast: bool = True, timeout: int = 600,
                    isolate: sandbox.Limits | None = None) -> Iterator[Grade]:
    """grade_notebook for each path in turn, yielding each Grade as soon as it is known."""
    for p in paths:
        yield grade_notebook(p, fast=fast, timeout=timeout, isolate=isolate)


def _run_worker(tmp: Path, limit: float) -> dict:
    """Start the worker on tmp/job.json in its own session and wait at most `limit` s for tmp/result.json.
    Ctrl-C (KeyboardInterrupt) stops the worker, which stops the kernel, before it goes on up."""
    env = sandbox.own_environment()  # the worker imports this dcgan_lib
    with open(tmp / "worker.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dcgan_lib.grading", str(tmp / "job.json")], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=env, start_new_session=True)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return {"problem": f"timed out after {limit:.0f} s (the grader stopped it)"}
        finally:
            _stop(proc)
    try:
        return json.loads((tmp / "result.json").read_text())
    except (OSError, ValueError):
        lines = (tmp / "worker.log").read_text(errors="replace").strip().splitlines()
        return {"problem": f"the grader's worker failed (exit code {proc.returncode}): {lines[-1] if lines else 'no message'}"}


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM the worker (it kills what it started, then exits); SIGKILL its session if it does not."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait()


# ------------------------------------------------------------------------------------------------- the worker


def _become_subreaper() -> None:
    """Orphaned descendants (a kernel's double-forked daemons) become our children instead of init's (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _descendants(root: int) -> list[int]:
    """Live (not zombie) processes descended from `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not d.isdigit():
            continue
        try:
            stat = Path(f"/proc/{d}/stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]  # the name, in parentheses, may hold spaces
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(d))
    found, todo = [], [root]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_descendants() -> None:
    """SIGKILL every process this one started, and theirs, until none is left; reap them."""
    for _ in range(50):
        pids = _descendants(os.getpid())
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        if not pids:
            return
        time.sleep(0.05)


def _first_line(cell) -> str:  # noqa: ANN001 - an nbformat cell
    line = next((s for s in cell.source.splitlines() if s.strip()), "")
    return line if len(line) <= 50 else line[:47] + "..."


def _reason(outputs: list, exercise: str, passed: str) -> str | None:
    """None if the cell printed exercise `exercise`'s pass line, else the one-line reason it did not."""
    for o in outputs:
        if o.get("output_type") == "stream" and passed.format(id=exercise) in o.get("text", ""):
            return None
    for o in outputs:
        if o.get("output_type") == "error":
            value = str(o.get("evalue", "")).strip().splitlines()
            line = f"{o.get('ename', 'Error')}: {value[0] if value else ''}"
            return line.removeprefix("ExerciseError: ").removeprefix(f"exercise {exercise}: ")
    return "the check did not run (the cell printed no result)"


def _kernel_manager(box: sandbox.Sandbox):  # noqa: ANN202
    """A jupyter KernelManager that starts the kernel through the box's prefix, its sockets in the box's cwd."""
    from jupyter_client import AsyncKernelManager

    class BoxedKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
            return box.prefix + super().format_kernel_cmd(extra_arguments)

        def write_connection_file(self, **kwargs) -> None:  # noqa: ANN003
            super().write_connection_file(**kwargs)
            if box.owner is not None:  # readable by the box's user only
                os.chown(self.connection_file, box.owner, box.owner)

    km = BoxedKernelManager(kernel_name="python3", transport=box.transport)
    if box.transport == "ipc":  # inside the box: the connection file and the sockets in its throwaway folder
        km.connection_file = str(Path(box.cwd) / "kernel.json")
        km.ip = str(Path(box.cwd) / "kernel-ipc")
    return km


def _run_kernel(job: dict, nb) -> tuple[str | None, dict[str, str | None]]:  # noqa: ANN001
    """Run the notebook; return (a problem that stopped it, or None) and the pass line each check printed (None)
    or the reason it did not."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    box = sandbox.Sandbox(**job["box"])
    started: list[float] = []
    current: list = [None]

    def time_left(cell) -> int:  # noqa: ANN001 - one limit for all cells together
        started or started.append(time.monotonic())
        current[0] = cell
        return max(1, math.ceil(job["timeout"] - (time.monotonic() - started[0])))

    km = _kernel_manager(box)
    client = NotebookClient(nb, km=km, timeout_func=time_left, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": box.cwd}})
    try:
        client.execute()
    except CellTimeoutError:
        return f"timed out after {job['timeout']} s (in the cell starting `{_first_line(current[0])}`)", {}
    except DeadKernelError:
        code = km.provisioner.process.poll() if km.provisioner is not None and km.provisioner.process else None
        where = f"in the cell starting `{_first_line(current[0])}`" if current[0] is not None else "as it started"
        return f"the kernel died {where}{'' if code is None else f' (exit code {code})'}", {}
    except Exception as e:  # noqa: BLE001 - e.g. a kernel that never answered
        lines = str(e).strip().splitlines()
        return f"the notebook could not run: {type(e).__name__}: {lines[-1] if lines else ''}", {}
    printed = {}
    for i, name in job["exercises"].items():
        cells = [c for c in nb.cells if c.cell_type == "code" and f"{name}(" in c.source]
        printed[i] = _reason(cells[-1].outputs, i, job["passed"]) if cells else f"the notebook no longer calls {name}"
    return None, printed


def _run_checker(job: dict, nb) -> tuple[dict | None, str | None]:  # noqa: ANN001
    """The checker's verdicts on the notebook's code, or None and why there are none."""
    box = sandbox.Sandbox(**job["box"])
    private = Path(job["private"])
    task = {"cells": [c.source for c in nb.cells if c.cell_type == "code"], "exercises": job["exercises"],
            "seconds": job["timeout"]}
    limit = STARTUP_S + job["timeout"] * len(job["exercises"])
    with open(private / "checker.out", "w+") as out, open(private / "checker.err", "w+") as err:
        proc = subprocess.Popen([*box.prefix, sys.executable, "-m", "dcgan_lib.checker"], stdin=subprocess.PIPE,
                                stdout=out, stderr=err, cwd=box.cwd, env=box.env, start_new_session=True)
        try:
            proc.communicate(json.dumps(task).encode(), timeout=limit)
        except subprocess.TimeoutExpired:
            kill_descendants()
            return None, f"the grader's check did not finish in {limit} s"
        out.seek(0)
        err.seek(0)
        try:
            return json.loads(out.read())["results"], None
        except (ValueError, KeyError):
            lines = err.read()[-2000:].strip().splitlines()
            return None, f"the grader's check crashed (exit code {proc.returncode}): {lines[-1] if lines else 'no message'}"


def _read_for_run(job: dict):  # noqa: ANN202
    import nbformat

    nb = nbformat.read(job["notebook"], as_version=4)
    if job["fast"]:
        at = next((k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), None)
        if at is not None:
            nb.cells.insert(at + 1, nbformat.v4.new_code_cell("FAST = True  # injected by dcgan grade"))
    return nb


def work(job: dict) -> dict:
    """Grade the job's notebook (in this process, the worker): the kernel's run, then the checker's."""
    nb = _read_for_run(job)
    problem, printed = _run_kernel(job, nb)
    kill_descendants()  # before the checker starts: nothing of the kernel's may outlive it
    if problem:
        return {"problem": problem}
    checked, checker_problem = _run_checker(job, _read_for_run(job))  # the cells as written, outputs aside
    return {"printed": printed, "checked": checked, "checker_problem": checker_problem}


def _worker_main(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    _become_subreaper()

    def stop(signum, frame) -> None:  # noqa: ANN001 - the grader's time limit or Ctrl-C
        kill_descendants()
        os._exit(124)

    signal.signal(signal.SIGTERM, stop)
    try:
        outcome = work(job)
    finally:
        kill_descendants()
    Path(job["result"]).write_text(json.dumps(outcome))


if __name__ == "__main__":
    _worker_main(sys.argv[1])
