#!/usr/bin/env bash
# A Colab-like environment: Colab's widget pins (ipywidgets 7.7.1, widgetsnbextension 3.6) and the oldest torch
# pyproject allows (torch>=2.2: 2.2.2 with torchvision 0.17.2, and numpy<2, which torch 2.2 was built against).
# The course is then installed by the notebooks' own install cell, run in a kernel of that venv (it clones the
# committed tree and pip-installs it), which must leave those versions alone; then the widget tests, the
# torch-floor tests and notebook 04 (FAST) run there.
#   COLAB_VENV=/path  keep the venv (else a temp dir, removed on exit); COLAB_PYTHON=python3.12  the interpreter
#   COLAB_TORCH, COLAB_TORCHVISION, COLAB_NUMPY  other pins, e.g. the torch Colab lists
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH="${COLAB_TORCH:-2.2.2}" TORCHVISION="${COLAB_TORCHVISION:-0.17.2}" NUMPY="${COLAB_NUMPY:-numpy<2}"
KERNEL=dcgan-colab-like
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT  # a throwaway venv holds ~5 GB (torch 2.2.2 from PyPI brings its CUDA libraries)
VENV="${COLAB_VENV:-$WORK/venv}"
LOG="$WORK/pip.log"
# Colab's pip has no constraint file; this machine's (torch<=2.14.1) is dropped so that it hides nothing.
# (An empty PIP_CONSTRAINT does not drop it: pip then still reads the config file's.)
export PIP_CONSTRAINT=/dev/null PYTHONUNBUFFERED=1
pip_install() {
    python -m pip install "$@" >>"$LOG" 2>&1 || { tail -n 25 "$LOG"; echo "colab_like: error: pip install $* failed" >&2; exit 1; }
}
versions() {
    python -c "from importlib.metadata import version as v
print(' '.join(f'{p}={v(p)}' for p in ('torch', 'torchvision', 'numpy', 'ipywidgets', 'widgetsnbextension')))"
}

"${COLAB_PYTHON:-python3}" -m venv "$VENV"
# shellcheck disable=SC1091
source "$VENV/bin/activate"
echo "colab_like: venv $VENV ($(python --version))"
pip_install -q --upgrade pip
pip_install -q "torch==$TORCH" "torchvision==$TORCHVISION" "$NUMPY" ipywidgets==7.7.1 "widgetsnbextension~=3.6.0"
before="$(versions)"
echo "colab_like: preinstalled  $before"

# The tools the tests need (Colab has its own); they must not touch the pins either
pip_install -q pytest papermill ipykernel nbformat nbclient scipy

# A kernel of this venv under its own name, found first (JUPYTER_PATH), so papermill cannot use another python3
python -m ipykernel install --prefix "$VENV" --name "$KERNEL" --display-name "Python (Colab-like)" >/dev/null
export JUPYTER_PATH="$VENV/share/jupyter"

# --- the notebooks' own install cell, run in that kernel as on a fresh Colab runtime: it clones the course (here
# from a local copy of this repository's committed tree, under the name pyproject gives) and pip-installs it ---
REPO_NAME="$(python tools/nbbuild.py --repository | sed 's#.*/##')"
git clone -q --bare . "$WORK/remote/$REPO_NAME.git"
python - "$KERNEL" "$WORK" "file://$WORK/remote/$REPO_NAME" <<'EOF'
import sys

import nbformat
import papermill

sys.path.insert(0, "tools")
from nbbuild import install_cell  # noqa: E402

kernel, work, url = sys.argv[1:]
probe = "import sys, dcgan_lib, ipywidgets, torch; print(sys.executable, dcgan_lib.__file__, ipywidgets.__version__, torch.__version__)"
nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(install_cell(url)), nbformat.v4.new_code_cell(probe)])
nbformat.write(nb, f"{work}/install.ipynb")
out = papermill.execute_notebook(f"{work}/install.ipynb", f"{work}/install_out.ipynb", kernel_name=kernel, cwd=work,
                                 progress_bar=False)
executable, package, widgets, torch = out.cells[1].outputs[-1].text.split()
if executable != sys.executable or not package.startswith(work):
    sys.exit(f"colab_like: error: kernel {kernel} runs {executable} with dcgan_lib from {package}, not this venv's clone")
print(f"colab_like: the install cell installed {package} in kernel {kernel} (python {executable}, "
      f"ipywidgets {widgets}, torch {torch})")
EOF
after="$(versions)"
echo "colab_like: after install $after"
if [ "$before" != "$after" ]; then
    echo "colab_like: error: pip changed the preinstalled packages: before [$before], after [$after]" >&2
    exit 1
fi

python -m pytest -q -p no:cacheprovider tests/test_widgets.py tests/test_checkpoint.py tests/test_latent.py tests/test_models.py
papermill notebooks/04_latent_walk.ipynb "$WORK/04_latent_walk.ipynb" -p FAST True -p SEED 0 --cwd notebooks \
    -k "$KERNEL" --no-progress-bar --log-level WARNING
echo "colab_like: OK in $((SECONDS / 60)) min $((SECONDS % 60)) s: $after; widget and torch-floor tests passed, notebook 04 (FAST) ran in kernel $KERNEL"
