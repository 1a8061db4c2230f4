#!/usr/bin/env bash
# Execute notebooks in place with their default (full) settings, so the committed outputs come from
# one documented command: bash tools/run_notebooks.sh [notebooks/NN_name.ipynb ...]
set -euo pipefail
cd "$(dirname "$0")/.."
notebooks=("$@")
[ ${#notebooks[@]} -eq 0 ] && notebooks=(notebooks/[0-9][0-9]_*.ipynb)
for nb in "${notebooks[@]}"; do
  echo "== $nb"
  python -m papermill "$nb" "$nb" --cwd notebooks -k python3 --no-progress-bar
done
