#!/usr/bin/env bash
# Builds the spec parser's libFuzzer target (clang, ASan + UBSan; a build of its own,
# no MPI or HDF5) and runs it: first every seed once at full length, then fuzzing for
# SECONDS from the seeds. Exits non-zero on a finding (crash, sanitizer report, leak,
# timeout, or a broken invariant of fuzz_spec.c); the input is kept in BUILD/artifacts/.
# The seeds are the committed reproducers (tests/fuzz/corpus) and every spec of the
# repository (sweeps/, tests/data/specs/, tests/analysis/specs/); what the fuzzer finds
# beyond them goes to BUILD/corpus, which is not committed.
#   usage: tests/fuzz/run.sh [BUILD-DIR [SECONDS]]      (defaults: build-fuzz, 60)
#   replay a finding: BUILD/tests/fuzz/fuzz_spec BUILD/artifacts/crash-...
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build-fuzz}
seconds=${2:-60}
t0=$SECONDS
CC=${FUZZ_CC:-clang} cmake -S "$root" -B "$build" -DBPSWEEP_FUZZ=ON -DBPSWEEP_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >"$build/build.log" 2>&1 ||
    { cat "$build/build.log"; exit 1; }
fuzz=$build/tests/fuzz/fuzz_spec
seeds=("$root/tests/fuzz/corpus" "$root/sweeps" "$root/tests/data/specs" "$root/tests/analysis/specs")
files=()
for d in "${seeds[@]}"; do files+=("$d"/*.json); done
rm -rf "$build/corpus" "$build/artifacts"
mkdir -p "$build/corpus" "$build/artifacts"

if ! "$fuzz" -artifact_prefix="$build/artifacts/" "${files[@]}" >"$build/seeds.log" 2>&1; then
    tail -40 "$build/seeds.log"
    echo "fuzz_spec: FAILED on a seed (${#files[@]} seeds); see $build/seeds.log"
    exit 1
fi
if ! "$fuzz" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/" "$build/corpus" "${seeds[@]}" \
    >"$build/fuzz.log" 2>&1; then
    tail -60 "$build/fuzz.log"
    echo "fuzz_spec: FINDING after fuzzing; input in $build/artifacts/, log $build/fuzz.log"
    exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz.log")
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz.log")
echo "fuzz_spec: ${#files[@]} seeds ok; ${runs:-?} inputs in ${seconds} s (${speed:-?}/s)," \
     "corpus $(ls "$build/corpus" | wc -l) new inputs, no finding; $((SECONDS - t0)) s in all"
