#!/usr/bin/env bash
# Issue 24's GPU checks in one go, for a session lent a GPU (about 9 minutes on one GPU):
#   1. tests/test_gpu.py: training in fp32/bf16/fp16, resume, each speed switch (compile, fused Adam, CUDA graphs,
#      NCHW) against the eager run, CUDA graphs resuming and falling back, a step never synchronising, two GPUs;
#   2. benchmarks/throughput.py: the course against the pytorch/examples loop, default and fast path;
#   3. the ablation table at 64x64 width 64;
#   4. what a checkpoint takes from training, written on the training thread or in the background.
# Usage: bash benchmarks/gpu_check.sh [LOG_DIR]   (default: $OUT if set, else runs/gpu_check); needs the course's
# dependencies and a CUDA torch in the current Python ($PYTHON to choose another). Every step runs even if one fails.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG_DIR=${1:-${OUT:-runs/gpu_check}}
mkdir -p "$LOG_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python}
if ! $PY -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
    echo "gpu_check: no CUDA GPU visible to $PY: run it on a machine with one" >&2
    exit 2
fi
status=0
step() {  # step SECONDS COMMAND...: run with a time limit, log it, remember a failure
    local limit=$1; shift
    echo "=== $* (limit ${limit}s)"
    local t0=$SECONDS
    timeout "$limit" "$@" || { echo "=== FAILED (exit $?)"; status=1; }
    echo "=== $((SECONDS - t0)) s"
}
{
    date
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    $PY -c "import torch, dcgan_lib; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0), dcgan_lib.__file__)"
    step 240 $PY -m pytest -q -p no:cacheprovider tests/test_gpu.py
    step 100 $PY benchmarks/throughput.py --device cuda --steps 20 --rounds 5
    step 100 $PY benchmarks/throughput.py --device cuda --steps 20 --rounds 5 --compile --fused-adam --cuda-graphs
    step 120 $PY benchmarks/throughput.py --device cuda --steps 20 --rounds 5 --ablation --sizes 64 --widths 64
    step 60 $PY benchmarks/checkpoint_write.py --device cuda --batch-size 128 --steps 20 --rounds 5
    echo "=== done, exit $status"
    exit "$status"
} 2>&1 | tee "$LOG_DIR/gpu_check.log"
exit "${PIPESTATUS[0]}"
