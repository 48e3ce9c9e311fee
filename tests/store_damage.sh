#!/usr/bin/env bash
# Damage in a results file is found, reported alike by every command, and costs only the
# damaged points:
#  - single-byte flips inside finished rows: `bpsweep verify` names the flipped point
#    every time (100 flips, each on a fresh copy); an untouched file verifies clean;
#    status, export and resume warn, and resuming recomputes exactly the damaged points
#    and ends bit-identical to the undamaged run;
#  - a damaged stored spec (a byte that breaks the JSON, a byte that keeps it valid) and
#    a damaged metric link: status, export, verify, resume and run all exit 2;
#  - extend writes valid checksums; a format-1 file (no checksums) reads and resumes;
#  - a file larger than the free disk space is refused before it is created;
#  - SIGUSR1 while a large file is being created: exit 3 at once, no `.creating` and no
#    lock left, and the next run creates it.
# usage: store_damage.sh BPSWEEP [SEED]
set -u
bin=$1
seed=${2:-$(( $(date +%s) % 100000 ))}
. "$(dirname "$0")/lib.sh"
echo "random flips from seed $seed (replay: $0 $bin $seed)"
pids=()
at_exit 'for p in "${pids[@]}"; do kill -KILL -- -$p 2>/dev/null; done'

# a small sweep with every kind of per-point dataset (curves, layers, weights, NTK)
$py - "$specs/tiny.json" >"$tmp/spec.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["grid"]["seed"] = [0, 1, 2, 3]
s["output"] = {"store_weights": True}
s["measure"] = {"ntk": {"samples": 2, "pool": 8}}
print(json.dumps(s))
PY
"$here/mpirun.sh" 2 "$bin" run "$tmp/spec.json" -o "$tmp/ref.h5" 2>"$tmp/ref.log" &&
    ok || bad "reference run: $(tail -3 "$tmp/ref.log")"
"$bin" verify "$tmp/ref.h5" >"$tmp/v.out" 2>&1 && grep -q "8 finished rows checked, 0 damaged" "$tmp/v.out" &&
    ok || bad "verify of an untouched file: $(cat "$tmp/v.out")"

# 100 single-byte flips, one at a time
$py "$here/flip_rows.py" "$bin" "$tmp/ref.h5" --flips 100 --seed "$seed" --tmp "$tmp" >"$tmp/flips.out" &&
    ok || bad "flips: $(tail -20 "$tmp/flips.out")"
tail -1 "$tmp/flips.out"

# three damaged points: every tool warns, resume recomputes exactly them
damaged=$($py "$here/flip_rows.py" "$bin" "$tmp/ref.h5" --points 3 --seed "$seed" --out "$tmp/dmg.h5")
"$bin" verify "$tmp/dmg.h5" >"$tmp/v.out" 2>&1
code=$?
[ $code -eq 4 ] && [ "$(awk '/^damaged /{print $2}' "$tmp/v.out" | sort -n | tr '\n' ' ')" = "$damaged " ] &&
    ok || bad "verify of points $damaged: exit $code: $(cat "$tmp/v.out")"
"$bin" status "$tmp/dmg.h5" >/dev/null 2>"$tmp/s.err" && grep -q "3 damaged rows" "$tmp/s.err" &&
    ok || bad "status does not warn: $(cat "$tmp/s.err")"
"$bin" export "$tmp/dmg.h5" --csv "$tmp/dmg.csv" 2>"$tmp/e.err" && grep -q "3 damaged rows" "$tmp/e.err" &&
    [ "$(grep -c ',pending,' "$tmp/dmg.csv")" -eq 3 ] && ok || bad "export: $(cat "$tmp/e.err")"
BPSWEEP_TRACE="$tmp/trace" "$here/mpirun.sh" 2 "$bin" resume "$tmp/dmg.h5" 2>"$tmp/r.log" &&
    ok || bad "resume: $(tail -3 "$tmp/r.log")"
[ "$(grep -c "damaged row" "$tmp/r.log")" -eq 3 ] && ok || bad "resume does not warn: $(cat "$tmp/r.log")"
[ "$(awk '$2 == "start" {print $1}' "$tmp/trace" | sort -n | tr '\n' ' ')" = "$damaged " ] &&
    ok || bad "resume trained $(awk '$2 == "start" {print $1}' "$tmp/trace" | tr '\n' ' '), want $damaged"
$py "$here/compare_results.py" "$tmp/ref.h5" "$tmp/dmg.h5" >"$tmp/cmp.out" && ok || bad "after resume: $(cat "$tmp/cmp.out")"
"$bin" verify "$tmp/dmg.h5" >/dev/null && ok || bad "verify after resume"

# extend copies rows with valid checksums of their new place
$py - "$tmp/spec.json" >"$tmp/spec_ext.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["grid"]["seed"] = [0, 1, 2, 3, 4]
print(json.dumps(s))
PY
"$bin" extend "$tmp/ref.h5" "$tmp/spec_ext.json" -o "$tmp/ext.h5" >/dev/null 2>&1 &&
    "$bin" verify "$tmp/ext.h5" >"$tmp/v.out" 2>&1 && grep -q "8 finished rows checked, 0 damaged" "$tmp/v.out" &&
    ok || bad "verify after extend: $(cat "$tmp/v.out")"

# a format-1 file (no checksums, no metrics list) still reads and resumes as format 1
cp "$tmp/ref.h5" "$tmp/v1.h5"
$py - "$tmp/v1.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "a") as f:
    del f["run/checksum"]
    del f.attrs["metrics"]
    f.attrs["format_version"] = np.int64(1)
    st = f["status"][()]
    st[[1, 5]] = 0
    f["status"][...] = st
PY
"$bin" verify "$tmp/v1.h5" >"$tmp/v.out" 2>&1 && grep -q "6 finished rows checked, 0 damaged (format version 1" "$tmp/v.out" &&
    ok || bad "verify of a format-1 file: $(cat "$tmp/v.out")"
"$here/mpirun.sh" 1 "$bin" resume "$tmp/v1.h5" 2>"$tmp/r1.log" && ok || bad "resume of a format-1 file: $(tail -2 "$tmp/r1.log")"
$py -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r'); sys.exit(f.attrs['format_version'] != 1 or 'checksum' in f['run'])" "$tmp/v1.h5" &&
    $py "$here/compare_results.py" "$tmp/ref.h5" "$tmp/v1.h5" >"$tmp/cmp.out" && ok || bad "format-1 file after resume: $(cat "$tmp/cmp.out")"

# every command on a damaged file: exit 2 from all of them
all_refuse() { # file what
    local c out=() 
    "$bin" status "$1" >/dev/null 2>&1; out+=($?)
    "$bin" export "$1" --csv "$tmp/x.csv" >/dev/null 2>&1; out+=($?)
    "$bin" verify "$1" >/dev/null 2>&1; out+=($?)
    "$here/mpirun.sh" 1 "$bin" resume "$1" >/dev/null 2>&1; out+=($?)
    "$here/mpirun.sh" 1 "$bin" run "$tmp/spec.json" -o "$1" >/dev/null 2>&1; out+=($?)
    [ "${out[*]}" = "2 2 2 2 2" ] && ok || bad "$2: status export verify resume run exit ${out[*]}, want all 2"
    [ ! -e "$tmp/x.csv" ] && [ ! -e "$1.lock" ] || bad "$2: left $(ls "$tmp"/x.csv "$1".lock 2>/dev/null)"
}
spec_flip() { # out byte-test: flips the first byte of /spec_json for which byte-test holds
    cp "$tmp/ref.h5" "$1"
    $py - "$1" "$2" <<'PY'
import sys, h5py
path, kind = sys.argv[1], sys.argv[2]
with h5py.File(path, "r") as f:
    d = f["spec_json"]
    off, text = d.id.get_offset(), d[()]
i = text.index(b"{") if kind == "brace" else text.index(b'"lr":0.05') + len('"lr":0.0')
with open(path, "r+b") as f:
    f.seek(off + i)
    f.write(b"X" if kind == "brace" else b"6")   # breaks the JSON / keeps it valid
PY
}
spec_flip "$tmp/spec1.h5" brace && all_refuse "$tmp/spec1.h5" "spec JSON broken"
spec_flip "$tmp/spec2.h5" digit && all_refuse "$tmp/spec2.h5" "spec still parses, hash differs"
"$bin" status "$tmp/spec2.h5" 2>&1 | grep -q "does not match its hash" && ok || bad "spec hash message"
cp "$tmp/ref.h5" "$tmp/metric.h5"
$py -c "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); f.move('metrics/final_test_acc', 'metrics/final_test_acc~')" "$tmp/metric.h5"
all_refuse "$tmp/metric.h5" "metric link renamed"
"$bin" export "$tmp/metric.h5" --csv - 2>&1 | grep -q "final_test_acc is missing (the file's .metrics. attribute lists it)" &&
    ok || bad "metric link message: $("$bin" export "$tmp/metric.h5" --csv - 2>&1 | tail -1)"

# a file larger than the free space: refused before creation, nothing left behind
$py - >"$tmp/huge.json" <<'PY'
import json
print(json.dumps({"name": "huge", "data": {"source": "synthetic", "n_train": 64, "n_test": 32,
                  "features": 8, "classes": 2},
                  "architectures": [{"name": "huge", "hidden": [8192, 8192, 8192, 8192]}],
                  "grid": {"seed": list(range(20000))}, "output": {"store_weights": True},
                  "train": {"epochs": 1, "batch_size": 32, "lr": 0.05}}))
PY
"$bin" run "$tmp/huge.json" -o "$tmp/huge.h5" 2>"$tmp/huge.err"
code=$?
[ $code -eq 2 ] && grep -q "GiB free" "$tmp/huge.err" && [ -z "$(ls "$tmp" | grep '^huge.h5')" ] &&
    ok || bad "huge file: exit $code, $(cat "$tmp/huge.err"), left $(ls "$tmp" | grep '^huge.h5')"

# SIGUSR1 while a 10^6-point file is being created: exit 3 within 5 s, nothing left;
# the next run creates the file
$py - >"$tmp/big.json" <<'PY'
import json
print(json.dumps({"name": "big", "data": {"source": "synthetic", "n_train": 64, "n_test": 32,
                  "features": 8, "classes": 2},
                  "architectures": [{"name": f"a{i}", "hidden": [4]} for i in range(10)],
                  "grid": {"weight_decay": [i * 1e-4 for i in range(10)],
                           "norm_bias": [i * 0.1 for i in range(10)],
                           "conditions": [{"name": f"c{i}"} for i in range(10)],
                           "seed": list(range(100))},
                  "train": {"epochs": 1, "batch_size": 32, "lr": 0.05}}))
PY
setsid "$here/mpirun.sh" 2 "$bin" run "$tmp/big.json" -o "$tmp/big.h5" 2>"$tmp/big.log" &
pid=$!
pids+=("$pid")
for _ in $(seq 400); do [ -e "$tmp/big.h5.creating" ] && break; sleep 0.05; done
[ -e "$tmp/big.h5.creating" ] || bad "no big.h5.creating"
sleep 0.2
t0=$(date +%s.%N)
kill -USR1 "$pid"
wait "$pid"
code=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
echo "SIGUSR1 during creation of 10^6 points: exit $code after $secs s"
[ $code -eq 3 ] && [ "$(echo "$secs < 5" | bc)" = 1 ] && grep -q "stopped while creating" "$tmp/big.log" &&
    ok || bad "SIGUSR1 during creation: exit $code after $secs s: $(cat "$tmp/big.log")"
[ -z "$(ls "$tmp" | grep -E '^big.h5(.creating|.lock)?$')" ] && ok || bad "left $(ls "$tmp" | grep '^big.h5')"
"$bin" run "$tmp/big.json" -o "$tmp/big.h5" --deadline +1 --drain 0 2>"$tmp/big2.log"
code=$?
[ $code -eq 3 ] && [ -e "$tmp/big.h5" ] && [ ! -e "$tmp/big.h5.lock" ] && ok || bad "run after the stop: exit $code: $(tail -2 "$tmp/big2.log")"
"$bin" status "$tmp/big.h5" >/dev/null 2>&1 && ok || bad "status of the 10^6-point file"

summary
