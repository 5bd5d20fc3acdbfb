#!/usr/bin/env bash
# A/B of two builds of xtask on the same `bench` command, the side that runs first alternating
# each run (A B, B A, A B, ...), one JSON file per run; summarise with bench/ab_summary.py.
#
#   bench/ab_run.sh A_BINARY B_BINARY OUT_DIR [RUNS] [-- bench arguments]
#
# Files: OUT_DIR/a-N.json and OUT_DIR/b-N.json; output of every run on stdout.
set -euo pipefail
if (($# < 3)); then
  echo "usage: $0 A_BINARY B_BINARY OUT_DIR [RUNS] [-- bench arguments]" >&2
  exit 2
fi
a=$1 b=$2 out=$3
shift 3
runs=3
if (($# > 0)) && [[ $1 != -- ]]; then runs=$1; shift; fi
if (($# > 0)) && [[ $1 == -- ]]; then shift; fi
bench_args=("$@")
((${#bench_args[@]})) || bench_args=(--cases cifar-resnet56,resnet50)
mkdir -p "$out"
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then order="a b"; else order="b a"; fi
  for side in $order; do
    if [[ $side == a ]]; then binary=$a; else binary=$b; fi
    echo "=== run $i side $side ($binary) $(date +%T)"
    "$binary" bench "${bench_args[@]}" --json "$out/$side-$i.json" | grep -v '^\s*$'
  done
done
echo "done $(date +%T)"
