"""Point the course at another repository: a fork, or a course copy of your own.

The URL lives in pyproject.toml (`[project.urls] Repository`). This rewrites it there, in the Colab badges and
links of the README and docs/, and in the install cell of every notebook, exercise and solution (outputs kept:
the install cell prints nothing where the course is installed).
Usage: python tools/set_repo.py https://github.com/OWNER/NAME [--root DIR]
"""

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from nbbuild import INSTALL_TAG, install_cell, repository  # noqa: E402

GITHUB = re.compile(r"^https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
NOTEBOOK_FOLDERS = ("notebooks", "exercises", "instructor/solutions")


def set_repo(new: str, root: Path) -> dict[str, int]:
    """Rewrite the repository URL under `root`; returns how many files of each kind changed."""
    new = new.rstrip("/").removesuffix(".git")
    if not GITHUB.match(new):
        raise SystemExit(f"{new!r} is not a GitHub repository URL: give https://github.com/OWNER/NAME (Colab opens GitHub)")
    pyproject = root / "pyproject.toml"
    old = repository(pyproject)
    changed = {"pyproject.toml": 0, "markdown": 0, "notebooks": 0}
    if new == old:
        return changed
    pyproject.write_text(re.sub(r'^(Repository\s*=\s*)"[^"]+"', rf'\1"{new}"', pyproject.read_text(), flags=re.M))
    changed["pyproject.toml"] = 1
    old_path, new_path = old.removeprefix("https://github.com/"), new.removeprefix("https://github.com/")
    for md in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = md.read_text() if md.exists() else ""
        updated = text.replace(f"colab.research.google.com/github/{old_path}/", f"colab.research.google.com/github/{new_path}/")
        updated = updated.replace(old, new)
        if updated != text:
            md.write_text(updated)
            changed["markdown"] += 1
    for folder in NOTEBOOK_FOLDERS:
        for path in sorted((root / folder).glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            cells = [c for c in nb.cells if INSTALL_TAG in c.metadata.get("tags", [])]
            if len(cells) != 1 or cells[0].source != install_cell(old):
                raise SystemExit(f"{path}: its install cell is not the template for {old}; rebuild it with tools/nbbuild.py first")
            cells[0].source = install_cell(new)
            nbformat.write(nb, path)
            changed["notebooks"] += 1
    return changed


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="https://github.com/OWNER/NAME")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent, help="the course's folder")
    args = parser.parse_args()
    done = set_repo(args.url, args.root)
    print(f"repository set to {args.url}: pyproject.toml, {done['markdown']} markdown files, {done['notebooks']} notebooks")
