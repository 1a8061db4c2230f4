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
