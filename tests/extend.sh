#!/usr/bin/env bash
# bpsweep extend: a strict extension (more architectures, weight decays and seeds)
# gets a new file with the finished rows carried over by point key; the old file is
# untouched; resuming the new file runs only the new points and ends bit-identical to
# a fresh run of the extended spec. Anything else is refused with the differences.
# usage: extend.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

"$here/mpirun.sh" 3 "$bin" run "$specs/sweep15.json" -o "$tmp/old.h5" 2>/dev/null && ok || bad "old sweep"
sum=$(md5sum <"$tmp/old.h5")
"$bin" extend "$tmp/old.h5" "$specs/sweep15_extended.json" -o "$tmp/new.h5" >"$tmp/ext.out" 2>&1 &&
    grep -q "15 finished rows carried over" "$tmp/ext.out" && ok || bad "extend: $(cat "$tmp/ext.out")"
[ "$(md5sum <"$tmp/old.h5")" = "$sum" ] && ok || bad "the old file changed"
BPSWEEP_TRACE="$tmp/trace" "$here/mpirun.sh" 3 "$bin" resume "$tmp/new.h5" 2>"$tmp/resume.log" &&
    ok || bad "resume of the extension: $(tail -3 "$tmp/resume.log")"
[ "$(grep -c ' start ' "$tmp/trace")" -eq 33 ] && ok || bad "resume ran $(grep -c ' start ' "$tmp/trace") points, want 48 - 15 = 33"
"$here/mpirun.sh" 3 "$bin" run "$specs/sweep15_extended.json" -o "$tmp/fresh.h5" 2>/dev/null
$py "$here/compare_results.py" "$tmp/fresh.h5" "$tmp/new.h5" && ok || bad "extension differs from a fresh run"

# not strict extensions
sed 's/"lr": 0.05/"lr": 0.02/' "$specs/sweep15_extended.json" >"$tmp/lr.json"
"$bin" extend "$tmp/old.h5" "$tmp/lr.json" -o "$tmp/x.h5" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "train: differs" "$tmp/err" && [ ! -e "$tmp/x.h5" ] && ok || bad "changed lr: $(cat "$tmp/err")"
$py - "$specs/sweep15_extended.json" >"$tmp/ntk.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["measure"] = {"ntk": {"samples": 4, "pool": 20}}
print(json.dumps(s))
PY
"$bin" extend "$tmp/old.h5" "$tmp/ntk.json" -o "$tmp/x.h5" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "measure: only in the new spec" "$tmp/err" && ok || bad "added NTK: $(cat "$tmp/err")"
sed 's/"seed": \[0, 1, 2, 3, 4, 5\]/"seed": [0, 1, 2, 3]/' "$specs/sweep15_extended.json" >"$tmp/seeds.json"
"$bin" extend "$tmp/old.h5" "$tmp/seeds.json" -o "$tmp/x.h5" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "grid.seed\[4\]: value 4 is missing" "$tmp/err" && ok || bad "dropped seed: $(cat "$tmp/err")"
"$bin" extend "$tmp/old.h5" "$specs/sweep15_extended.json" -o "$tmp/old.h5" 2>"$tmp/err"
[ $? -eq 2 ] && [ "$(md5sum <"$tmp/old.h5")" = "$sum" ] && ok || bad "extend onto the old file: $(cat "$tmp/err")"

summary
