"""Build a notebook from a percent-format script (`# %%` code cells, `# %% [markdown]` prose cells).

Authoring helper only: the committed .ipynb is what users open. A cell header may carry tags, e.g.
`# %% tags=["parameters"]`. Exercise sources (instructor/src/) mark each answer with `# BEGIN SOLUTION` and
`# END SOLUTION` lines; `--student` replaces every such block with `raise NotImplementedError` (same
indentation) and leaves out cells tagged "solution", so the student and solution notebooks come from one file.
Usage: python tools/nbbuild.py [--student] SRC.py OUT.ipynb
"""

import json
import re
import sys

import nbformat

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
        else:
            cell = nbformat.v4.new_code_cell(student_code(body) if student else body)  # solutions keep the markers
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    args = sys.argv[1:]
    student = args[:1] == ["--student"]
    args = args[1:] if student else args
    if len(args) != 2 or args[0] in ("-h", "--help"):
        sys.exit("usage: python tools/nbbuild.py [--student] notebooks/src/NN_name.py notebooks/NN_name.ipynb")
    src, out = args
    nbformat.write(build(open(src).read(), student=student), out)
