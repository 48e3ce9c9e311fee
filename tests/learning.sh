#!/usr/bin/env bash
# Learns for real on the full Fashion-MNIST (60k/10k, standardised inputs):
#   MLP 784-256-256-10, SGD lr 0.05, momentum 0.9, wd 5e-4, batch 128, cosine over 10
#   epochs: test accuracy >= 0.89 (PyTorch: 0.896 with these settings here);
#   its linear twin (identity activation, lr 0.01): 0.835 <= test accuracy <= 0.855.
# usage: learning.sh BPSWEEP
set -u
bin=$1
specs=$(cd "$(dirname "$0")" && pwd)/data/specs
fail=0
acc() { "$bin" train "$specs/$1" --point 0 | tee /dev/stderr | awk '$2 == "final_test_acc" {print $3}'; }
mlp=$(acc learn_mlp.json)
lin=$(acc learn_linear.json)
echo "MLP test accuracy $mlp (want >= 0.89); linear twin $lin (want 0.835 .. 0.855)"
awk -v a="$mlp" 'BEGIN { exit !(a >= 0.89) }' || { echo "FAIL: MLP below 0.89"; fail=1; }
awk -v a="$lin" 'BEGIN { exit !(a >= 0.835 && a <= 0.855) }' || { echo "FAIL: linear twin outside range"; fail=1; }
[ $fail -eq 0 ] && echo "2 passed, 0 failed" || echo "failed"
exit $fail
