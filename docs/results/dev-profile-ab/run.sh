#!/bin/bash
cd /work/main
for i in 1 2 3; do
  if [ $((i % 2)) -eq 1 ]; then order="before after"; else order="after before"; fi
  for side in $order; do
    echo "=== round $i $side $(date +%T)"
    /root/.cache/xtask-$side bench --cases cifar-resnet56,resnet50 --json /tmp/ab/$side-$i.json 2>&1 | grep -v '^\s*$' | tail -8
  done
done
echo done $(date +%T)
