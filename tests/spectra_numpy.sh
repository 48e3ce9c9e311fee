#!/usr/bin/env bash
# Runs spectra_cases (bpsweep's convolution operator spectra and rank projections) and
# recomputes every case with numpy.
# usage: spectra_numpy.sh SPECTRA_CASES
set -eu
# one BLAS thread per process: the machine is shared
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$1" "$tmp"
/usr/bin/python3 "$(dirname "$0")/spectra_numpy.py" "$tmp"
