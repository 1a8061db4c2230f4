"""Slides for the instructor, built from the committed notebooks: one reveal.js page per notebook.

Nothing is run: the slides show each notebook's committed outputs, pictures included. A heading cell (`#` or
`##`) starts a slide and a `###` heading a sub-slide below it; the parameters and install cells are left out;
every other cell follows on the slide of its heading, which scrolls when it is long. The tagging is done on a
copy, so the notebooks themselves carry no slide metadata to keep in step.
reveal.js itself comes from a CDN when the page opens; for an offline room, fetch it once (`npm pack reveal.js@4`,
unpack it) and pass its folder with --reveal-prefix.
Usage: python tools/slides.py [notebooks/NN_name.ipynb ...] [--out runs/slides] [--reveal-prefix DIR_OR_URL]
"""

import argparse
import re
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = {"parameters", "install", "injected-parameters"}


def slide_type(cell: nbformat.NotebookNode) -> str:
    """reveal.js's role for one cell: a new slide at a heading, a sub-slide at a `###`, left out, or more of the same."""
    if LEFT_OUT & set(cell.metadata.get("tags", [])):
        return "skip"
    if cell.cell_type == "markdown":
        if re.match(r"#{1,2} ", cell.source):
            return "slide"
        if cell.source.startswith("### "):
            return "subslide"
    return "-"


def build_slides(notebook: Path, out: Path, reveal_prefix: str | None = None) -> Path:
    """Write `out/<notebook>.slides.html` and return its path."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
    exporter = SlidesExporter(reveal_scroll=True)  # long cells scroll inside their slide
    if reveal_prefix:
        exporter.reveal_url_prefix = reveal_prefix
    html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook.stem}})
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{notebook.stem}.slides.html"
    path.write_text(html, encoding="utf-8")
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "slides", help="folder for the .slides.html files")
    parser.add_argument("--reveal-prefix", help="where reveal.js is (a folder or URL); default: nbconvert's CDN")
    args = parser.parse_args()
    for notebook in args.notebooks or sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        print(build_slides(notebook, args.out, args.reveal_prefix))
