"""Every notebook follows the course conventions and runs top to bottom in FAST mode."""

import difflib
import os
import re
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
    assert all(counts) and counts == sorted(counts), "commit notebooks executed top to bottom (docs/development.md)"
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
    """Every notebook runs top to bottom with FAST = True, and prints what its FAST run printed when the file in
    tests/fast_outputs/ was made: most of a notebook's scientific checks need the full run's sizes, so the FAST
    run (seeded, on the CPU) is held to its own numbers instead. After a deliberate change, remake them with
    `DCGAN_UPDATE_FAST_OUTPUTS=1 python -m pytest tests/test_notebooks.py -k fast_mode` and read the diff."""
    papermill = pytest.importorskip("papermill")
    out = papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"FAST": True, "SEED": 0},
        cwd=str(path.parent), kernel_name="python3", progress_bar=False,
    )
    printed = _sanitized(_printed_text(out, separator="\n-- cell --\n", pictures=False))
    expected = FAST_OUTPUTS / f"{path.stem}.txt"
    if os.environ.get("DCGAN_UPDATE_FAST_OUTPUTS"):
        expected.write_text(printed)
    assert expected.exists(), f"no {expected.relative_to(ROOT)}: make it with DCGAN_UPDATE_FAST_OUTPUTS=1 (see the docstring)"
    want = expected.read_text()
    if printed != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), printed.splitlines(), "expected", "this run", lineterm="", n=1))
        pytest.fail(f"{path.name} in FAST mode prints other numbers than {expected.name}:\n{diff[:3000]}", pytrace=False)


FAST_OUTPUTS = ROOT / "tests" / "fast_outputs"


def _sanitized(text: str) -> str:
    """The printed text with what varies from run to run (times, versions, ...) replaced, as nbval does it."""
    rules = re.findall(r"^regex: (.*)$\n^replace: (.*)$", (ROOT / "tools" / "nbval_sanitize.cfg").read_text(), flags=re.M)
    for pattern, replacement in rules:
        text = re.sub(pattern, replacement, text)
    return text


# -------------------------------------------------------------------------- numbers in the prose come from outputs

# A number in a notebook's prose with a decimal point or a percent sign is a measurement, and must be one the
# notebook prints (to the prose's precision), so that text and outputs cannot drift apart. These are the
# exceptions: numbers that are not measured by the notebook they sit in, each with the reason.
NOT_FROM_OUTPUTS = {
    "01_gan_theory": {
        "95%": "the share of a Gaussian within 2 sigma (a definition)",
        "0.06": "3 sigma of the ring's modes, sigma = 0.02 (the data's definition)",
        "5%": "the share of samples that makes a mode 'reached' (a definition)",
        "98.9%": "the share of a 2-D Gaussian within 3 sigma (a fact the first output then shows)",
    },
    "03_training": {
        "0.05": "the course's target for attribute rates",
        "0.026": "0.531 - 0.505: the difference of two rates this notebook prints",
        "0.69": "the GPU cell's run on a lent H100; on a CPU that cell does not train",
    },
    "05_vector_arithmetic": {
        "0.001": "the judge's confidence threshold for 'no' (a setting)",
        "0.25": "the paper's uniform noise in the picture of an equation (a setting)",
        "0.016": "dcgan evaluate's held-out long-hair gap for faces32 (docs/results.md)",
        "0.107": "dcgan evaluate's held-out long-hair gap within grey hair (docs/results.md)",
    },
    "06_discriminator_features": {
        "82.8%": "the paper's CIFAR-10 accuracy with all labels (its Table 1)",
        "73.8%": "the paper's CIFAR-10 accuracy with 400 labels per class (its Table 1)",
        "0.4%": "the spread of the paper's 73.8% (its Table 1)",
        "22.48%": "the paper's SVHN error with 1000 labels (its Table 2)",
    },
}
PROSE_NUMBER = re.compile(r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?%?")
OUTPUT_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?%?")


def _printed_text(nb: nbformat.NotebookNode, separator: str = "\n", pictures: bool = True) -> str:
    """Every text a notebook's code cells printed or returned (plain text), in order. `pictures=False` also leaves
    out the text that stands for a picture ("<Figure size ...>"), which one matplotlib-inline sends and another not."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = [o for o in cell.get("outputs", []) if pictures or not any(k.startswith("image/") for k in o.get("data", {}))]
        parts = [o.get("text", "") if o.get("output_type") == "stream" else o.get("data", {}).get("text/plain", "")
                 for o in outputs if o.get("output_type") != "display_data" or "text/plain" in o.get("data", {})]
        texts.append("".join(p if isinstance(p, str) else "".join(p) for p in parts))
    return separator.join(texts)


def _prose_numbers(markdown: str) -> list[str]:
    """Measured-looking numbers (decimals, percentages) in prose, outside code spans and section numbers."""
    text = re.sub(r"`[^`]*`", " ", markdown)  # code: arguments, not results
    text = re.sub(r"(?:§|[Ss]ection)\s*[\d.]*\d", " ", text)  # the paper's section numbers
    return [n for n in PROSE_NUMBER.findall(text) if "." in n or "%" in n]


def _matches(prose: str, printed: list[str]) -> bool:
    """True if some printed number, rounded to the prose's decimals, reads like the prose number."""
    percent, value = prose.endswith("%"), prose.rstrip("%").replace(",", "")
    decimals = len(value.split(".")[1]) if "." in value else 0
    for p in printed:
        if p.endswith("%") != percent:
            continue
        if f"{float(p.rstrip('%').replace(',', '')):.{decimals}f}" == f"{float(value):.{decimals}f}":
            return True
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_numbers_in_the_prose_come_from_the_outputs(path):
    nb = nbformat.read(path, as_version=4)
    printed = OUTPUT_NUMBER.findall(_printed_text(nb))
    allowed = NOT_FROM_OUTPUTS.get(path.stem, {})
    prose = [n for c in nb.cells if c.cell_type == "markdown" for n in _prose_numbers(c.source)]
    unknown = sorted({n for n in prose if n not in allowed and not _matches(n, printed)})
    assert not unknown, (f"{path.name}: the prose says {unknown}, which no output prints: print it, reword the prose, "
                         "or list it in NOT_FROM_OUTPUTS with the reason")
    stale = sorted(set(allowed) - set(prose))
    assert not stale, f"NOT_FROM_OUTPUTS lists {stale} for {path.name}, which its prose no longer says"


# ------------------------------------------------------------------------------------------ the install cell

COURSE_NOTEBOOKS = NOTEBOOKS + sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "instructor" / "solutions").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_notebook_opens_with_the_one_install_cell(path):
    """The same install cell everywhere, cloning pyproject's repository URL (its one home), and before the first
    cell that uses the course, so that Colab has it before the first import."""
    nbbuild = _tool("nbbuild")
    url = nbbuild.repository()
    assert url.startswith("https://github.com/")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    cells = [c for c in code if "install" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: one cell tagged 'install' (tools/nbbuild.py writes it)"
    assert cells[0].source == nbbuild.install_cell(url) and f"git clone -q --depth 1 {url}.git" in cells[0].source
    first = next(c for c in code if "dcgan_lib" in c.source)
    assert first is cells[0], f"{path.name}: the install cell must come before the first cell that uses dcgan_lib"


def test_set_repo_moves_every_url_and_keeps_the_outputs(tmp_path):
    """tools/set_repo.py: pyproject, the README's badges and every install cell follow the new URL."""
    import shutil

    for rel in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / rel, tmp_path / rel)
    for path in COURSE_NOTEBOOKS:
        (tmp_path / path.parent.relative_to(ROOT)).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, tmp_path / path.relative_to(ROOT))
    old, new = _tool("nbbuild").repository(), "https://github.com/a-teacher/gan-course-2027"
    done = _tool("set_repo").set_repo(new + "/", tmp_path)
    assert done["notebooks"] == len(COURSE_NOTEBOOKS) and _tool("nbbuild").repository(tmp_path / "pyproject.toml") == new
    readme = (tmp_path / "README.md").read_text()
    assert old not in readme and readme.count("colab.research.google.com/github/a-teacher/gan-course-2027/blob/main/") >= 8
    for path in COURSE_NOTEBOOKS:
        before = nbformat.read(path, as_version=4)
        after = nbformat.read(tmp_path / path.relative_to(ROOT), as_version=4)
        (cell,) = [c for c in after.cells if "install" in c.metadata.get("tags", [])]
        assert "git clone -q --depth 1 https://github.com/a-teacher/gan-course-2027.git" in cell.source
        assert "%cd gan-course-2027/notebooks" in cell.source
        assert [c.get("outputs") for c in after.cells] == [c.get("outputs") for c in before.cells]
    with pytest.raises(SystemExit, match="not a GitHub repository"):
        _tool("set_repo").set_repo("https://gitlab.com/x/y", tmp_path)


def test_readme_badges_open_the_repository():
    """One Colab badge per notebook, each opening that notebook in pyproject's repository."""
    import re

    path = _tool("nbbuild").repository().removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", (ROOT / "README.md").read_text())
    assert sorted(links) == sorted(f"{path}/blob/main/notebooks/{p.name}" for p in NOTEBOOKS), links


# ------------------------------------------------------------------------------------------------- slides


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_slides_build_from_the_committed_notebook(path, tmp_path):
    """tools/slides.py: one slide per heading, the committed pictures on them, the set-up cells left out."""
    import re

    slides = _tool("slides").build_slides(path, tmp_path, reveal_prefix="reveal.js")
    html = slides.read_text()
    nb = nbformat.read(path, as_version=4)
    headings = [c for c in nb.cells if c.cell_type == "markdown" and re.match(r"#{1,3} ", c.source)]
    assert html.count("<section") >= len(headings) > 2
    assert nb.cells[0].source.splitlines()[0].lstrip("# ").split(" · ")[-1] in html
    assert "git clone" not in html and "FAST = False" not in html  # the install and parameters cells are skipped
    pictures = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    assert html.count("data:image/png;base64") >= pictures
    assert 'src="reveal.js/dist/reveal.js"' in html or "reveal.js/dist/reveal" in html


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
    from dcgan_lib.grading import grade_notebook

    solution = grade_notebook(ROOT / "instructor" / "solutions" / f"{src.stem}.ipynb")
    assert solution.results and solution.passed == len(solution.results), solution.describe()
    student = grade_notebook(ROOT / "exercises" / f"{src.stem}.ipynb")
    assert student.results.keys() == solution.results.keys() and student.passed == 0
    assert all(r.startswith("not done yet") for r in student.results.values()), student.describe()
