"""Every notebook follows the course conventions and runs top to bottom in FAST mode."""

from pathlib import Path

import nbformat
import pytest

from dcgan_lib.exercises import CHECKS as EXERCISE_CHECKS

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((ROOT / "instructor" / "src").glob("[0-9][0-9]_*.py"))  # one source per exercise notebook


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_conventions(path):
    check_conventions(nbformat.read(path, as_version=4))


def check_conventions(nb: nbformat.NotebookNode, executed: bool = True) -> None:
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged `parameters`"
    assert "FAST" in tagged[0].source and "SEED" in tagged[0].source
    assert nb.cells[0].cell_type == "markdown" and "learn" in nb.cells[0].source.lower()
    assert "summary" in nb.cells[-1].source.lower()
    code = [c for c in nb.cells if c.cell_type == "code"]
    if not executed:
        return
    # committed with the outputs of a full run, in order (never hand-edited)
    counts = [c.get("execution_count") for c in code]
    assert all(counts) and counts == sorted(counts), "commit notebooks executed top to bottom (see README)"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_source(path):
    """notebooks/src/NN_name.py is the reviewable source; the .ipynb must be built from it (tools/nbbuild.py)."""
    nbbuild = _tool("nbbuild")
    src = path.parent / "src" / f"{path.stem}.py"
    assert src.exists(), f"missing source {src}"
    built = nbbuild.build(src.read_text())
    committed = nbformat.read(path, as_version=4)
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in committed.cells], (
        f"{path.name} differs from {src.name}: rebuild with python tools/nbbuild.py then bash tools/run_notebooks.sh")


def _tool(name: str):
    import importlib.util
    import sys

    tools = Path(__file__).parent.parent / "tools"
    sys.path.insert(0, str(tools))  # sync_prose imports nbbuild
    try:
        spec = importlib.util.spec_from_file_location(name, tools / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(tools))


def test_sync_prose_updates_the_prose_and_keeps_the_outputs(tmp_path):
    sync, build = _tool("sync_prose").sync, _tool("nbbuild").build
    src = tmp_path / "nb.py"
    src.write_text("# %% [markdown]\n# Old words.\n\n# %%\nprint(1)\n")
    nb = build(src.read_text())
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    nbformat.write(nb, tmp_path / "nb.ipynb")
    src.write_text("# %% [markdown]\n# New words.\n\n# %%\nprint(1)\n")
    assert sync(src, tmp_path / "nb.ipynb") == 1
    after = nbformat.read(tmp_path / "nb.ipynb", as_version=4)
    assert after.cells[0].source == "New words." and after.cells[1].outputs[0]["text"] == "1\n"
    src.write_text("# %% [markdown]\n# New words.\n\n# %%\nprint(2)\n")
    with pytest.raises(SystemExit, match="code cell changed"):
        sync(src, tmp_path / "nb.ipynb")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_fast_mode(path, tmp_path):
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"FAST": True, "SEED": 0},
        cwd=str(path.parent), kernel_name="python3", progress_bar=False,
    )


# ------------------------------------------------------------------------------------------------ exercises


def test_there_are_exercises():
    assert EXERCISES and len(list((ROOT / "exercises").glob("*.ipynb"))) == len(EXERCISES)


@pytest.mark.parametrize("src", EXERCISES, ids=lambda p: p.stem)
def test_student_notebook_is_its_source_without_the_answers(src):
    """exercises/NN.ipynb is built with `nbbuild.py --student`: stubs instead of answers, no outputs."""
    student = nbformat.read(ROOT / "exercises" / f"{src.stem}.ipynb", as_version=4)
    built = _tool("nbbuild").build(src.read_text(), student=True)
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in student.cells], (
        f"rebuild with python tools/nbbuild.py --student {src.relative_to(ROOT)} exercises/{src.stem}.ipynb")
    check_conventions(student, executed=False)
    text = "\n".join(c.source for c in student.cells)
    assert "SOLUTION" not in text and "instructor's copy" not in text
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert code.count("raise NotImplementedError") == src.read_text().count("# BEGIN SOLUTION") > 0
    assert not any(c.get("outputs") or c.get("execution_count") for c in student.cells if c.cell_type == "code")


@pytest.mark.parametrize("src", EXERCISES, ids=lambda p: p.stem)
def test_solution_notebook_is_its_source_run_with_every_check_passing(src):
    solution = nbformat.read(ROOT / "instructor" / "solutions" / f"{src.stem}.ipynb", as_version=4)
    built = _tool("nbbuild").build(src.read_text())
    assert [(c.cell_type, c.source) for c in built.cells] == [(c.cell_type, c.source) for c in solution.cells], (
        f"rebuild with python tools/nbbuild.py {src.relative_to(ROOT)} instructor/solutions/{src.stem}.ipynb, then run it")
    check_conventions(solution)
    printed = "".join(o.get("text", "") for c in solution.cells if c.cell_type == "code" for o in c.outputs)
    checked = [i for i, name in EXERCISE_CHECKS.items() if f"{name}(" in src.read_text()]
    assert checked and all(f"exercise {i} passed" in printed for i in checked)


@pytest.mark.parametrize("src", EXERCISES, ids=lambda p: p.stem)
def test_exercises_grade_in_fast_mode(src):
    """FAST runs: the solutions pass every check; the untouched student notebook passes none, and says why."""
    pytest.importorskip("nbclient")
    from dcgan_lib.exercises import grade_notebook

    solution = grade_notebook(ROOT / "instructor" / "solutions" / f"{src.stem}.ipynb")
    assert solution.results and solution.passed == len(solution.results), solution.describe()
    student = grade_notebook(ROOT / "exercises" / f"{src.stem}.ipynb")
    assert student.results.keys() == solution.results.keys() and student.passed == 0
    assert all(r.startswith("not done yet") for r in student.results.values()), student.describe()
