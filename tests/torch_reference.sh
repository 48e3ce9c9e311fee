#!/usr/bin/env bash
# Runs torch_ref_cases (bpsweep's trainer) and retrains every case with PyTorch.
# usage: torch_reference.sh TORCH_REF_CASES
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$1" "$tmp"
/usr/bin/python3 "$(dirname "$0")/torch_reference.py" "$tmp"
