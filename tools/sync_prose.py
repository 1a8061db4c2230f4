"""Copy the prose (markdown cells) of notebooks/src/NN_name.py into an executed notebook, keeping its outputs.

For fixing the wording of an already-run notebook without running it again: the code cells must be
unchanged (checked), so every output still comes from the code shown above it.
Usage: python tools/sync_prose.py notebooks/src/NN_name.py notebooks/NN_name.ipynb
"""

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import build  # noqa: E402


def sync(src: Path, notebook: Path) -> int:
    built = build(src.read_text())
    nb = nbformat.read(notebook, as_version=4)
    if [c.cell_type for c in built.cells] != [c.cell_type for c in nb.cells]:
        raise SystemExit(f"{notebook}: the cells differ in number or kind from {src}: rebuild and rerun it")
    changed = 0
    for new, old in zip(built.cells, nb.cells):
        if old.cell_type == "code" and new.source != old.source:
            raise SystemExit(f"{notebook}: a code cell changed; rebuild and rerun it:\n{new.source[:200]}")
        if old.cell_type == "markdown" and new.source != old.source:
            old.source = new.source
            changed += 1
    if changed:  # leave an up-to-date notebook's file untouched
        nbformat.write(nb, notebook)
    return changed


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit("usage: python tools/sync_prose.py notebooks/src/NN_name.py notebooks/NN_name.ipynb")
    print(f"{sync(Path(sys.argv[1]), Path(sys.argv[2]))} markdown cells updated")
