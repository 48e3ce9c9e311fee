#!/usr/bin/env bash
# Runs instrument_cases (bpsweep's instruments) and recomputes every case with PyTorch.
# usage: instrument_reference.sh INSTRUMENT_CASES
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$1" "$tmp"
/usr/bin/python3 "$(dirname "$0")/instrument_reference.py" "$tmp"
