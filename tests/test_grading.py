"""`dcgan grade` (dcgan_lib/grading.py, checker.py, sandbox.py): each notebook is graded in its own process with its
own time limit, its verdicts come from the checker and not from what its kernel printed, its processes are gone
afterwards, and --isolate keeps it away from the answer key and other students' files.

The notebooks here are tiny (checks 1.1, 1.2 and 2.1 only); tests/test_notebooks.py grades the real solutions."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbclient")

from dcgan_lib import checker, grading, sandbox  # noqa: E402
from dcgan_lib.cli import main  # noqa: E402

ROOT = Path(__file__).parent.parent
HEAD = "import torch\nfrom dcgan_lib.exercises import check_optimal_d, check_transposed_size, check_value"
D_RIGHT = "def optimal_d(p_data, p_g):\n    return p_data / (p_data + p_g)\n\ncheck_optimal_d(optimal_d)"
V_RIGHT = "def value(d_real, d_fake):\n    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()\n\ncheck_value(value)"


def notebook(path: Path, *cells: str) -> Path:
    """A notebook of these code cells; not named NN_..., so it is graded on the checks it calls."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def alive(pid_file: Path) -> bool:
    """The process whose pid the notebook wrote there still runs (a zombie has no command line)."""
    pid = int(pid_file.read_text().strip())
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())
    except OSError:
        return False


def grade_cli(*args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """`dcgan grade ARGS` as its own process, importing this checkout's dcgan_lib."""
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "dcgan_lib", "grade", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


# ------------------------------------------------------------------------------------ without a kernel: the rules


def test_the_checker_keeps_only_definitions_imports_and_constants():
    cells = ["import torch\nfrom torch import nn\n%matplotlib inline",
             "EPS = 1e-6\nA, B = 1, [2, 3]\nbce = nn.BCEWithLogitsLoss()\nx: int = 3\nhelper = lambda a: a\n"
             "G = build()\nex._expect = print\nwith_names = torch.zeros(EPS)\nsetattr(ex, 'x', 1)",
             "def f(a):\n    return a\n\nclass C:\n    pass\n\nfor i in range(3):\n    pass\ncheck_value(f)"]
    kept, dropped = checker.split_statements(checker.parse_cells(cells))
    names = {t for _, s in kept for t in checker._bound_names(s)}
    assert names == {"torch", "nn", "EPS", "A", "B", "bce", "x", "f", "C"}
    assert set(dropped) >= {"helper", "G", "with_names", "i"} and "ex" not in names
    assert dropped["helper"] == "cell 2: `helper = lambda a: a`"
    assert checker.last_calls(checker.parse_cells(cells), {"check_value"})["check_value"].args[0].id == "f"


def test_the_tamper_check_sees_replaced_checker_code(monkeypatch):
    from dcgan_lib import exercises as ex

    snap = checker.snapshot()
    assert checker.changes(snap) == []
    monkeypatch.setattr(ex, "_expect", lambda *a: None)
    assert checker.changes(snap) == ["dcgan_lib.exercises._expect"]
    monkeypatch.undo()
    monkeypatch.setattr(ex.check_value, "__code__", (lambda value: None).__code__)
    assert checker.changes(snap) == ["dcgan_lib.exercises.check_value"]
    monkeypatch.undo()
    import torch

    monkeypatch.setattr(torch.Tensor, "max", lambda self, *a: torch.zeros(()), raising=False)  # shadows TensorBase.max
    assert checker.changes(snap) == ["torch.Tensor.max"]


def test_a_pass_line_counts_only_when_the_checker_confirms_it():
    printed = {"1.1": None, "1.2": None, "1.3": "off by 0.5"}
    outcome = {"printed": printed, "checked": {"1.1": None, "1.2": "off by 0.3", "1.3": "off by 0.5"}}
    assert grading.combine(["1.1", "1.2", "1.3"], outcome) == {
        "1.1": None, "1.2": f"{grading.UNCONFIRMED}: off by 0.3", "1.3": "off by 0.5"}
    crashed = {"printed": printed, "checked": None, "checker_problem": "the grader's check crashed"}
    assert grading.combine(["1.1"], crashed) == {"1.1": f"{grading.UNCONFIRMED}: the grader's check crashed"}
    assert grading.combine(["1.1", "1.2"], {"problem": "timed out after 5 s"}) == {"1.1": "timed out after 5 s",
                                                                                  "1.2": "timed out after 5 s"}


def test_a_check_that_hangs_or_exits_gets_a_reason():
    assert checker._in_child(1, lambda: time.sleep(30)) == "the check did not finish in 1 s"
    assert checker._in_child(5, lambda: os._exit(3)) == "the check stopped without a result (exit code 3)"
    assert checker._in_child(5, lambda: "off by 0.5") == "off by 0.5"


# -------------------------------------------------------------------------------- graded: moved from test_exercises


def test_grading_a_half_done_notebook(tmp_path):
    nb = nbformat.read(ROOT / "exercises" / "01_the_game.ipynb", as_version=4)
    stubs = [c for c in nb.cells if "raise NotImplementedError" in c.source and c.cell_type == "code"]
    assert len(stubs) == 3  # 1.1, 1.2, 1.3 (two functions in 1.3's cell)
    stubs[0].source = stubs[0].source.replace("raise NotImplementedError", "return p_data / (p_data + p_g)")
    stubs[1].source = stubs[1].source.replace("raise NotImplementedError", "return torch.log(d_real).mean()")
    nbformat.write(nb, tmp_path / "student.ipynb")
    grade = grading.grade_notebook(tmp_path / "student.ipynb")
    assert grade.results["1.1"] is None
    assert "off by" in grade.results["1.2"] and grade.results["1.3"].startswith("not done yet")
    assert grade.passed == 1 and grade.describe().splitlines()[0].endswith("1/3 exercises passed")


def test_a_deleted_check_counts_as_failed(tmp_path):
    nb = nbformat.read(ROOT / "instructor" / "solutions" / "02_building_blocks.ipynb", as_version=4)
    for c in nb.cells:
        c.source = c.source.replace("check_generator(build_generator)", "")
    nbformat.write(nb, tmp_path / "02_building_blocks.ipynb")
    grade = grading.grade_notebook(tmp_path / "02_building_blocks.ipynb")
    assert grade.results["2.1"] is None and grade.results["2.3"] == "the notebook no longer calls check_generator"


def test_grade_command_goes_on_past_files_it_cannot_grade(tmp_path, capsys):
    solved = notebook(tmp_path / "solved.ipynb", HEAD, D_RIGHT, V_RIGHT)
    (tmp_path / "bad.ipynb").write_text("not json")
    other = notebook(tmp_path / "other.ipynb", "1")
    batch = [str(tmp_path / "missing.ipynb"), str(solved), str(tmp_path / "bad.ipynb"), str(other)]
    assert main(["grade", *batch, "--csv", str(tmp_path / "g.csv")]) == 2  # 2: a file could not be graded
    out, err = capsys.readouterr()
    assert "solved.ipynb: 2/2 exercises passed" in out and "2/2 exercises passed in 1 notebook; 3 not graded" in out
    assert "no notebook at" in err and "not a readable notebook" in err and "calls none of the exercise checks" in err
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows[0] == "notebook,exercise,passed,reason" and len(rows) == 6
    assert rows[2].endswith(",1.1,True,") and rows[1].startswith(f"{tmp_path / 'missing.ipynb'},,False,no notebook at")
    assert main(["grade", str(solved)]) == 0
    assert "2/2 exercises passed in 1 notebook" in capsys.readouterr().out


# ------------------------------------------------------------------- one notebook's failure is that notebook's only


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One `dcgan grade --timeout 10` over a notebook that sleeps, one whose kernel dies, and one that passes
    and leaves processes running (one in the kernel's session, one that left it)."""
    d = tmp_path_factory.mktemp("batch")
    slow = notebook(d / "slow.ipynb", HEAD, f"import os\nopen({str(d / 'slow.pid')!r}, 'w').write(str(os.getpid()))",
                    "import time; time.sleep(60)", D_RIGHT)
    died = notebook(d / "died.ipynb", HEAD, "import os\nos._exit(1)", D_RIGHT)
    busy = notebook(d / "busy.ipynb", HEAD,
                    "import subprocess\n"
                    "child = subprocess.Popen(['sleep', '1000'])\n"
                    f"open({str(d / 'child.pid')!r}, 'w').write(str(child.pid))\n"
                    f"subprocess.run(['setsid', 'sh', '-c', 'sleep 1001 & echo $! > {d / 'daemon.pid'}'])",
                    D_RIGHT, V_RIGHT)
    start = time.monotonic()
    proc = grade_cli(str(slow), str(died), str(busy), "--timeout", "10", "--csv", str(d / "g.csv"))
    out, err = proc.communicate(timeout=600)
    return {"dir": d, "rc": proc.returncode, "out": out, "err": err, "seconds": time.monotonic() - start}


def test_a_notebook_over_its_time_limit_is_graded_timed_out_and_the_batch_goes_on(batch):
    assert "slow.ipynb: 0/1 exercises passed: timed out after 10 s (in the cell starting `import time; time.sleep(60)`)" \
        in batch["out"], batch["out"] + batch["err"]
    assert "busy.ipynb: 2/2 exercises passed" in batch["out"]
    assert batch["rc"] == 1 and "2/4 exercises passed in 3 notebooks" in batch["out"]
    assert not alive(batch["dir"] / "slow.pid")  # its kernel was stopped


def test_a_kernel_that_dies_is_that_notebooks_result(batch):
    assert "died.ipynb: 0/1 exercises passed: the kernel died in the cell starting `import os` (exit code 1)" in batch["out"]


def test_the_csv_holds_every_notebook_even_failed_ones(batch):
    rows = (batch["dir"] / "g.csv").read_text().splitlines()
    assert rows[0] == "notebook,exercise,passed,reason" and len(rows) == 5
    assert ",1.1,False,timed out after 10 s" in rows[1] and ",1.1,False,the kernel died" in rows[2]
    assert rows[3].endswith(",1.1,True,") and rows[4].endswith(",1.2,True,")
    assert batch["err"] == "", batch["err"]  # no traceback anywhere


def test_the_students_processes_are_gone_after_grading(batch):
    assert "busy.ipynb: 2/2" in batch["out"]
    assert not alive(batch["dir"] / "child.pid")  # in the kernel's process group
    assert not alive(batch["dir"] / "daemon.pid")  # left the kernel's session: found through the subreaper


def test_ctrl_c_keeps_the_finished_rows(tmp_path):
    done = notebook(tmp_path / "done.ipynb", HEAD, D_RIGHT, V_RIGHT)
    slow = notebook(tmp_path / "slow.ipynb", HEAD, f"import os\nopen({str(tmp_path / 'kernel.pid')!r}, 'w').write(str(os.getpid()))",
                    "import time; time.sleep(300)", D_RIGHT)
    proc = grade_cli(str(done), str(slow), "--csv", str(tmp_path / "g.csv"))
    deadline = time.monotonic() + 300
    while not (tmp_path / "kernel.pid").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)  # the second notebook's kernel is sleeping: the first is graded
    assert (tmp_path / "kernel.pid").exists(), proc.communicate()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == f"dcgan grade: interrupted after 1 of 2 notebooks; {tmp_path / 'g.csv'} holds their rows"
    assert "done.ipynb: 2/2 exercises passed" in out
    rows = (tmp_path / "g.csv").read_text().splitlines()
    assert rows == ["notebook,exercise,passed,reason", f"{done},1.1,True,", f"{done},1.2,True,"]
    time.sleep(1)
    assert not alive(tmp_path / "kernel.pid")


# ---------------------------------------------------------------------------------- verdicts that cannot be forged


def test_a_notebook_that_tampers_with_the_checks_passes_nothing(tmp_path):
    forged = notebook(
        tmp_path / "forged.ipynb", HEAD + "\nimport dcgan_lib.exercises as ex",
        # top level: every check passes in this kernel (the checker drops these lines)
        "ex._expect = lambda *args, **kwargs: None\nex.check_transposed_size = lambda fn: print('✓ exercise 2.1 passed')",
        # in a function body, which the checker does run: caught by the tamper check
        "def optimal_d(p_data, p_g):\n    import dcgan_lib.exercises as ex\n    ex._expect = lambda *args, **kwargs: None\n"
        "    return p_g / (p_data + p_g)\n\ncheck_optimal_d(optimal_d)",
        "def value(d_real, d_fake):\n    torch.Tensor.max = lambda self, *args: torch.zeros(())\n    return torch.log(d_real).mean()\n\n"
        "check_value(value)",
        # a printed pass line
        "def size(n, kernel, stride, padding):\n    return n * stride\n\ntry:\n    check_transposed_size(size)\n"
        "except Exception:\n    pass\nprint('✓ exercise 2.1 passed: forged')")
    grade = grading.grade_notebook(forged)
    assert grade.passed == 0, grade.describe()
    assert grade.results["1.1"] == "the notebook printed a pass line the grader could not reproduce: the submission " \
                                   "changed the checker's code (dcgan_lib.exercises._expect)"
    assert grade.results["1.2"].endswith("the submission changed the checker's code (torch.Tensor.max)")
    assert grade.results["2.1"].startswith(f"{grading.UNCONFIRMED}: n=1, kernel=4, stride=1, padding=0: you give 1")


def test_constants_count_and_a_dropped_statement_is_named(tmp_path):
    nb = notebook(tmp_path / "constants.ipynb", HEAD,
                  "EPS = 0.0\nWEIGHTS = {'data': 1.0}\nbce = torch.nn.BCEWithLogitsLoss()",
                  "def optimal_d(p_data, p_g):\n    assert isinstance(bce, torch.nn.Module)\n"
                  "    return WEIGHTS['data'] * p_data / (p_data + p_g + EPS)\n\ncheck_optimal_d(optimal_d)",
                  "helper = lambda d_real, d_fake: torch.log(d_real).mean() + torch.log(1 - d_fake).mean()",
                  "def value(d_real, d_fake):\n    return helper(d_real, d_fake)\n\ncheck_value(value)")
    grade = grading.grade_notebook(nb)
    assert grade.results["1.1"] is None, grade.describe()
    reason = grade.results["1.2"]
    assert reason.startswith(f"{grading.UNCONFIRMED}: your function raised NameError: name 'helper' is not defined")
    assert "`helper` is set by a top-level statement the grader does not run (cell 4: `helper = lambda d_real, " in reason
    assert reason.endswith(checker.DROPPED_HINT)


# ---------------------------------------------------------------------------------------------------- --isolate

needs_bwrap = pytest.mark.skipif(sandbox.isolation_problem() is not None, reason=f"--isolate: {sandbox.isolation_problem()}")


def prying(tmp_path: Path) -> Path:
    """alice's notebook tries to read the answer key and bob's notebook (1.1), the grader's environment (1.2), and
    to map 12 GiB (2.1); each function returns the right answer only if it cannot."""
    notebook(tmp_path / "bob" / "01_the_game.ipynb", "secret = 42")
    targets = [str(ROOT / "instructor" / "solutions" / "01_the_game.ipynb"), str(tmp_path / "bob" / "01_the_game.ipynb")]
    return notebook(
        tmp_path / "alice" / "prying.ipynb", HEAD, f"TARGETS = {targets!r}\nAS_NOBODY = {os.geteuid() == 0}",
        "def optimal_d(p_data, p_g):\n    for path in TARGETS:\n        try:\n            open(path).read(1)\n"
        "        except OSError:\n            continue\n        raise RuntimeError(f'read {path}')\n"
        "    return p_data / (p_data + p_g)\n\ncheck_optimal_d(optimal_d)",
        "def value(d_real, d_fake):\n    import os\n    if 'DCGAN_TEST_SECRET' in os.environ:\n"
        "        raise RuntimeError('saw the grader environment')\n    if AS_NOBODY and os.geteuid() != 65534:\n"
        "        raise RuntimeError(f'runs as user {os.geteuid()}')\n"
        "    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()\n\ncheck_value(value)",
        "def size(n, kernel, stride, padding):\n    import mmap\n    try:\n        mmap.mmap(-1, 12 * 2**30).close()\n"
        "    except (OSError, MemoryError):\n        return (n - 1) * stride - 2 * padding + kernel\n"
        "    raise RuntimeError('mapped 12 GiB')\n\ncheck_transposed_size(size)")


@needs_bwrap
def test_isolate_keeps_a_submission_from_the_answer_key_other_students_and_the_graders_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_TEST_SECRET", "1")
    nb = prying(tmp_path)
    loose = grading.grade_notebook(nb)  # without --isolate it can: the probes work
    assert loose.results["1.1"] == f"your function raised RuntimeError: read {ROOT / 'instructor' / 'solutions' / '01_the_game.ipynb'} " \
                                   "(called with (61,), (61,))", loose.describe()
    assert "saw the grader environment" in loose.results["1.2"] and "mapped 12 GiB" in loose.results["2.1"]
    boxed = grading.grade_notebook(nb, isolate=sandbox.Limits(memory_gb=8))
    assert boxed.passed == 3, boxed.describe()
    assert not (tmp_path / "alice" / "home").exists()  # the kernel's files stayed in the throwaway copy


def test_isolate_without_bubblewrap_says_so_in_one_line_and_still_grades(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "isolation_problem", lambda: "bubblewrap is not installed (apt-get install bubblewrap)")
    monkeypatch.setenv("DCGAN_TEST_SECRET", "1")
    nb = notebook(tmp_path / "plain.ipynb", HEAD, D_RIGHT,
                  "def value(d_real, d_fake):\n    import os\n    if 'DCGAN_TEST_SECRET' in os.environ or os.getcwd() == "
                  f"{str(tmp_path)!r}:\n        raise RuntimeError('not in a box')\n"
                  "    return torch.log(d_real).mean() + torch.log(1 - d_fake).mean()\n\ncheck_value(value)")
    assert main(["grade", "--isolate", str(nb)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("dcgan grade: warning: --isolate without bubblewrap: bubblewrap is not installed") and err.count("\n") == 1
    assert "plain.ipynb: 2/2 exercises passed" in out
