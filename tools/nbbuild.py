"""Build a notebook from a percent-format script (`# %%` code cells, `# %% [markdown]` prose cells).

Authoring helper only: the committed .ipynb is what users open. A cell header may carry tags, e.g.
`# %% tags=["parameters"]`. Exercise sources (instructor/src/) mark each answer with `# BEGIN SOLUTION` and
`# END SOLUTION` lines; `--student` replaces every such block with `raise NotImplementedError` (same
indentation) and leaves out cells tagged "solution", so the student and solution notebooks come from one file.
A cell tagged "install" gets the install cell below, the same in every notebook and exercise: its body in the
source is only a comment, and the repository it clones is pyproject.toml's `[project.urls] Repository`, the
URL's one home (`tools/set_repo.py` changes it everywhere).
Usage: python tools/nbbuild.py [--student] SRC.py OUT.ipynb   (or --repository: print the URL)
"""

import json
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
INSTALL_TAG = "install"
INSTALL_CELL = """\
# Colab, or a Python without the course: fetch the course (code, checkpoints, classifiers) and install it.
# pip keeps the runtime's own torch and ipywidgets (Colab's 7.7 works). The same cell opens every notebook.
try:
    import dcgan_lib
except ImportError:
    !git clone -q --depth 1 {url}.git
    %pip install -q -e {name}
    import os, sys; sys.path.insert(0, os.path.abspath("{name}"))  # an editable install is seen only after a restart
    %cd {name}/notebooks
    import dcgan_lib
from dcgan_lib.environment import enable_colab_widgets

enable_colab_widgets()  # on Colab only: its custom widget manager draws the course's sliders"""


def repository(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The course's repository URL, as pyproject.toml's [project.urls] gives it."""
    m = re.search(r'^Repository\s*=\s*"(https://[^"]+?)/?"\s*$', pyproject.read_text(), flags=re.M)
    if not m:
        raise SystemExit(f'{pyproject}: no `Repository = "https://..."` line under [project.urls]')
    return m.group(1)


def install_cell(url: str | None = None) -> str:
    """The install cell's code for the repository at `url` (default: pyproject's)."""
    url = url or repository()
    return INSTALL_CELL.format(url=url, name=url.rsplit("/", 1)[-1])


SOLUTION = re.compile(r"^([ \t]*)# BEGIN SOLUTION\n.*?^[ \t]*# END SOLUTION\n?", flags=re.M | re.S)


def student_code(code: str) -> str:
    """Each marked answer replaced by a stub the exercise checks recognise as "not done yet"."""
    out = SOLUTION.sub(lambda m: f"{m.group(1)}# your code here\n{m.group(1)}raise NotImplementedError\n", code)
    if "SOLUTION" in out:
        raise ValueError(f"unmatched BEGIN/END SOLUTION marker in:\n{code[:300]}")
    return out.rstrip("\n")


def build(src: str, student: bool = False) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    for block in re.split(r"^# %%", src, flags=re.M)[1:]:
        header, _, body = block.partition("\n")
        body = body.strip("\n")
        tags = json.loads(m.group(1)) if (m := re.search(r"tags=(\[.*?\])", header)) else []
        if student and "solution" in tags:
            continue
        if "[markdown]" in header:
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(text)
        elif INSTALL_TAG in tags:
            cell = nbformat.v4.new_code_cell(install_cell())
        else:
            cell = nbformat.v4.new_code_cell(student_code(body) if student else body)  # solutions keep the markers
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    args = sys.argv[1:]
    if args == ["--repository"]:  # for scripts: the URL the install cell clones
        sys.exit(print(repository()))
    student = args[:1] == ["--student"]
    args = args[1:] if student else args
    if len(args) != 2 or args[0] in ("-h", "--help"):
        sys.exit("usage: python tools/nbbuild.py [--student] notebooks/src/NN_name.py notebooks/NN_name.ipynb")
    src, out = args
    nbformat.write(build(open(src).read(), student=student), out)
