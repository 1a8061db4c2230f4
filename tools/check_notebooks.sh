#!/usr/bin/env bash
# Check that the committed notebooks still say what their code prints: nbval runs each notebook afresh, with
# its committed (full) settings, and compares every cell's output with the committed one after the
# replacements in tools/nbval_sanitize.cfg (wall times, versions, ...). A cell whose output differs fails.
# Usage: bash tools/check_notebooks.sh [NOTEBOOK.ipynb ...]   (default: the course's notebooks and the solutions)
# The whole set takes about as long as tools/run_notebooks.sh (a quarter of an hour on 2 cores); CI checks a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
notebooks=("$@")
[ ${#notebooks[@]} -eq 0 ] && notebooks=(notebooks/[0-9][0-9]_*.ipynb instructor/solutions/[0-9][0-9]_*.ipynb)
# the kernel draws inline figures only when no other matplotlib backend is forced on it (CI sets Agg)
unset MPLBACKEND
python -m pytest --nbval "${notebooks[@]}" --nbval-current-env --nbval-sanitize-with tools/nbval_sanitize.cfg \
    -p no:cacheprovider -q
