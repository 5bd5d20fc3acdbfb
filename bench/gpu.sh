#!/usr/bin/env bash
# The bench cases on an NVIDIA GPU: skipnet on the cuda and wgpu backends, each case beside
# PyTorch CUDA eager (bench/torch_reference.py --device cuda), written as JSON + text.
#
# Build the binary on any machine (no GPU needed to compile), then run this where the GPU is:
#
#   cargo build --release -p xtask --features wgpu,cuda      # → target/release/xtask
#   bench/gpu.sh                                             # on the GPU machine
#
# Settings (environment):
#   XTASK         the xtask binary (default: target/release/xtask, else $CARGO_TARGET_DIR's)
#   TORCH_PYTHON  a Python with torch (CUDA build) and torchvision (default: python3); without
#                 one, skipnet is measured alone and the script says so
#   OUT           where the results go (default: docs/results/gpu)
#   ROUNDS        side-by-side rounds per case (default: 3)
#   ITERS, WARMUP timed and untimed iterations per measurement (default: 10, 2)
#   BACKENDS      which skipnet backends (default: "cuda wgpu")
#   BUDGET_S      wall-clock limit per backend in seconds (default: 210; two backends fit the
#                 8 minutes this script is sized for on an H200)
set -euo pipefail

cd "$(dirname "$0")/.."
XTASK=${XTASK:-}
if [[ -z "$XTASK" ]]; then
    for candidate in target/release/xtask "${CARGO_TARGET_DIR:-/nonexistent}/release/xtask"; do
        if [[ -x "$candidate" ]]; then XTASK=$candidate; break; fi
    done
fi
if [[ -z "$XTASK" || ! -x "$XTASK" ]]; then
    echo "bench/gpu.sh: no xtask binary; build it with" >&2
    echo "  cargo build --release -p xtask --features wgpu,cuda" >&2
    echo "or point XTASK at one." >&2
    exit 2
fi
TORCH_PYTHON=${TORCH_PYTHON:-python3}
OUT=${OUT:-docs/results/gpu}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-2}
BACKENDS=${BACKENDS:-cuda wgpu}
BUDGET_S=${BUDGET_S:-210}

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "bench/gpu.sh: no NVIDIA GPU here (nvidia-smi finds none)" >&2
    exit 2
fi
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    | tee "$OUT/gpu.txt"

torch_flags=()
if "$TORCH_PYTHON" -c 'import torch, torchvision, sys; sys.exit(0 if torch.cuda.is_available() else 1)' \
    2>/dev/null; then
    "$TORCH_PYTHON" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda)' \
        | tee -a "$OUT/gpu.txt"
    torch_flags=(--vs-torch --torch-device cuda --torch-python "$TORCH_PYTHON" --rounds "$ROUNDS")
else
    echo "PyTorch with CUDA not found ($TORCH_PYTHON): skipnet alone, no ratios" | tee -a "$OUT/gpu.txt"
fi

status=0
for backend in $BACKENDS; do
    echo "== skipnet $backend ==" | tee -a "$OUT/gpu.txt"
    started=$(date +%s)
    if timeout "$BUDGET_S" "$XTASK" bench --backend "$backend" --iters "$ITERS" --warmup "$WARMUP" \
        "${torch_flags[@]}" --json "$OUT/bench-$backend.json" 2>&1 | tee "$OUT/bench-$backend.txt"; then
        echo "$backend: $(( $(date +%s) - started )) s" | tee -a "$OUT/gpu.txt"
    else
        echo "$backend: failed or over ${BUDGET_S} s (see $OUT/bench-$backend.txt)" | tee -a "$OUT/gpu.txt"
        status=1
    fi
done
exit $status
