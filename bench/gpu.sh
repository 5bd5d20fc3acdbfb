#!/usr/bin/env bash
# The bench cases on an NVIDIA GPU: skipnet on the cuda and wgpu backends, with Burn's kernel
# fusion (the `wgpu`/`cuda` features) and without it (`wgpu-unfused`/`cuda-unfused`; both
# autotune), each case beside PyTorch CUDA eager (bench/torch_reference.py --device cuda),
# written as JSON + text, so the first GPU run shows what fusion buys.
#
# Build the binaries on any machine (no GPU needed to compile), then run this where the GPU is:
#
#   cargo build --release -p xtask --features wgpu,cuda                   # → target/release/xtask
#   CARGO_TARGET_DIR=target/unfused \
#     cargo build --release -p xtask --features wgpu-unfused,cuda-unfused  # → target/unfused/release/xtask
#   bench/gpu.sh                                                          # on the GPU machine
#
# Settings (environment):
#   XTASK         the fused xtask binary (default: target/release/xtask, else $CARGO_TARGET_DIR's)
#   XTASK_UNFUSED the unfused one (default: target/unfused/release/xtask); without it only the
#                 fused build is measured, and the script says so
#   TORCH_PYTHON  a Python with torch (CUDA build) and torchvision (default: python3); without
#                 one, skipnet is measured alone and the script says so
#   OUT           where the results go (default: docs/results/gpu)
#   ROUNDS        side-by-side rounds per case (default: 3)
#   ITERS, WARMUP timed and untimed iterations per measurement (default: 10, 2)
#   BACKENDS      which skipnet backends (default: "cuda wgpu")
#   BUDGET_S      wall-clock limit per backend and build in seconds (default: 120; two backends
#                 fused and unfused fit the 8 minutes this script is sized for on an H200)
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
XTASK_UNFUSED=${XTASK_UNFUSED:-target/unfused/release/xtask}
TORCH_PYTHON=${TORCH_PYTHON:-python3}
OUT=${OUT:-docs/results/gpu}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-2}
BACKENDS=${BACKENDS:-cuda wgpu}
BUDGET_S=${BUDGET_S:-120}

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

builds=("fused:$XTASK")
if [[ -x "$XTASK_UNFUSED" ]]; then
    builds+=("unfused:$XTASK_UNFUSED")
else
    echo "no unfused build at $XTASK_UNFUSED: fused only, no fusion comparison" | tee -a "$OUT/gpu.txt"
fi

status=0
for backend in $BACKENDS; do
    for build in "${builds[@]}"; do
        variant=${build%%:*}
        binary=${build#*:}
        name="bench-$backend-$variant"
        echo "== skipnet $backend, $variant ==" | tee -a "$OUT/gpu.txt"
        started=$(date +%s)
        if timeout "$BUDGET_S" "$binary" bench --backend "$backend" --iters "$ITERS" \
            --warmup "$WARMUP" "${torch_flags[@]}" --json "$OUT/$name.json" 2>&1 \
            | tee "$OUT/$name.txt"; then
            echo "$backend $variant: $(( $(date +%s) - started )) s" | tee -a "$OUT/gpu.txt"
        else
            echo "$backend $variant: failed or over ${BUDGET_S} s (see $OUT/$name.txt)" \
                | tee -a "$OUT/gpu.txt"
            status=1
        fi
    done
done
exit $status
