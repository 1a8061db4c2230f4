"""Build a notebook from a percent-format script (`# %%` code cells, `# %% [markdown]` prose cells).

Authoring helper only: the committed .ipynb is what users open. A cell header may carry tags, e.g.
`# %% tags=["parameters"]`. Usage: python tools/nbbuild.py SRC.py OUT.ipynb
"""

import json
import re
import sys

import nbformat


def build(src: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    for block in re.split(r"^# %%", src, flags=re.M)[1:]:
        header, _, body = block.partition("\n")
        body = body.strip("\n")
        tags = json.loads(m.group(1)) if (m := re.search(r"tags=(\[.*?\])", header)) else []
        if "[markdown]" in header:
            text = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cell = nbformat.v4.new_markdown_cell(text)
        else:
            cell = nbformat.v4.new_code_cell(body)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit("usage: python tools/nbbuild.py notebooks/src/NN_name.py notebooks/NN_name.ipynb")
    src, out = sys.argv[1], sys.argv[2]
    nbformat.write(build(open(src).read()), out)
