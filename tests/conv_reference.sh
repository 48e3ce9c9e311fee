#!/usr/bin/env bash
# Runs conv_ref_cases (bpsweep's trainer on the convolutional presets) and retrains every
# case with PyTorch.  usage: conv_reference.sh CONV_REF_CASES
set -eu
# one BLAS / OpenMP thread per process: spinning helper threads on a busy 2-core CI
# machine made the same work take minutes instead of seconds
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$1" "$tmp"
/usr/bin/python3 "$(dirname "$0")/conv_reference.py" "$tmp"
