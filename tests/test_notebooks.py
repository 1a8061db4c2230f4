"""Every notebook follows the course conventions and runs top to bottom in FAST mode."""

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_conventions(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged `parameters`"
    assert "FAST" in tagged[0].source and "SEED" in tagged[0].source
    assert nb.cells[0].cell_type == "markdown" and "learn" in nb.cells[0].source.lower()
    assert "summary" in nb.cells[-1].source.lower()
    code = [c for c in nb.cells if c.cell_type == "code"]
    # committed with the outputs of a full run, in order (never hand-edited)
    counts = [c.get("execution_count") for c in code]
    assert all(counts) and counts == sorted(counts), "commit notebooks executed top to bottom (see README)"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_in_fast_mode(path, tmp_path):
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"FAST": True, "SEED": 0},
        cwd=str(path.parent), kernel_name="python3", progress_bar=False,
    )
