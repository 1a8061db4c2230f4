#!/usr/bin/env bash
# Execute notebooks in place with their default (full) settings, so the committed outputs come from
# one documented command: bash tools/run_notebooks.sh [notebooks/NN_name.ipynb ...]
# With no argument it runs the course's notebooks and then the exercise solutions (instructor/solutions/).
# Each runs from its own folder, as JupyterLab and nbval run it.
set -euo pipefail
cd "$(dirname "$0")/.."
notebooks=("$@")
[ ${#notebooks[@]} -eq 0 ] && notebooks=(notebooks/[0-9][0-9]_*.ipynb instructor/solutions/[0-9][0-9]_*.ipynb)
for nb in "${notebooks[@]}"; do
  echo "== $nb"
  python -m papermill "$nb" "$nb" --cwd "$(dirname "$nb")" -k python3 --no-progress-bar
done
