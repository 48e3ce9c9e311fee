#!/usr/bin/env bash
# Runs instrument_cases (bpsweep's instruments) and recomputes every case with PyTorch.
# usage: instrument_reference.sh INSTRUMENT_CASES
set -eu
# one BLAS / OpenMP thread per process: spinning helper threads on a busy 2-core CI
# machine made the same work take minutes instead of seconds
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$1" "$tmp"
/usr/bin/python3 "$(dirname "$0")/instrument_reference.py" "$tmp"
