#!/bin/bash
# A/B of burn-flex's im2col shifted copy: xtask-noshift (before) vs xtask-shift (after), same
# profile and source otherwise; three runs each, the build that runs first alternating.
cd /work/main
for i in 1 2 3; do
  if [ $((i % 2)) -eq 1 ]; then order="noshift shift"; else order="shift noshift"; fi
  for side in $order; do
    echo "=== round $i $side $(date +%T)"
    /root/.cache/xtask-$side bench --cases cifar-resnet56,resnet50 --json /tmp/ab2/$side-$i.json 2>&1 | grep -v '^\s*$'
  done
done
echo done $(date +%T)
