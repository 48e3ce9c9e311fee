#!/usr/bin/env bash
# Distributed sweeps with real mpirun:
#  * P = 1, 2, 3, 4, 5 ranks (3+ oversubscribe 2 cores) on a 15-point grid (15 does not
#    divide by 2 or 4 workers): exit 0, every point done with one attempt, every point
#    started exactly once and every epoch started exactly once (BPSWEEP_TRACE);
#  * every dataset bit-identical between P = 1 and P = 2..5, except the timing,
#    host, rank and attempt columns (tests/compare_results.py says which);
#  * the file opens with h5py and h5dump;
#  * a transient failure (BPSWEEP_INJECT_FAIL) is retried on another worker and ends
#    done with 2 attempts, bit-identical to the clean run;
#  * out-of-memory points fail after --max-attempts, NaN losses diverge, the sweep
#    finishes the rest and exits 4;
#  * bad spec and an output file of another sweep exit 2 through mpirun; the same
#    spec on a finished file recomputes nothing.
# usage: sweep_mpi.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
run() { # np output [env...] -- extra args
    local np=$1 out=$2
    shift 2
    env "$@" "$here/mpirun.sh" "$np" "$bin" run "$specs/sweep15.json" -o "$out" \
        --progress-interval 1 2>"$out.log"
}
check_trace() { # trace-file n_points epochs
    $py - "$1" "$2" "$3" <<'PY' || return 1
import sys, collections
path, n, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
starts, dones = collections.Counter(), collections.Counter()
epoch_starts = collections.Counter()
for line in open(path):
    f = line.split()
    if f[1] == "start":
        starts[int(f[0])] += 1
    elif f[1] == "done":
        dones[int(f[0])] += 1
    else:
        epoch_starts[(int(f[0]), int(f[1]))] += 1
want_epochs = {(p, e) for p in range(n) for e in range(epochs)}
assert set(starts) == set(range(n)) and set(starts.values()) == {1}, starts
assert set(dones) == set(range(n)) and set(dones.values()) == {1}, dones
assert set(epoch_starts) == want_epochs and set(epoch_starts.values()) == {1}, epoch_starts
PY
}
check_table() { # file: every point done, one attempt
    $py - "$1" <<'PY' || return 1
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    assert (f["/status"][()] == 1).all(), f["/status"][()]
    assert (f["/run/attempts"][()] == 1).all(), f["/run/attempts"][()]
    assert np.isfinite(f["/metrics/final_test_acc"][()]).all()
PY
}

for np in 1 2 3 4 5; do
    out=$tmp/p$np.h5
    if run $np "$out" BPSWEEP_TRACE="$tmp/trace$np"; then ok; else bad "P=$np exit $?: $(tail -3 "$out.log")"; fi
    check_trace "$tmp/trace$np" 15 2 && ok || bad "P=$np trace"
    check_table "$out" && ok || bad "P=$np table"
done
for np in 2 3 4 5; do
    $py "$here/compare_results.py" "$tmp/p1.h5" "$tmp/p$np.h5" && ok || bad "P=1 vs P=$np differ"
done
h5dump -H "$tmp/p3.h5" >/dev/null && ok || bad "h5dump cannot read the file"
grep -q "sweep finished" "$tmp/p5.h5.log" && ok || bad "no final summary line"

# a transient failure is retried on another worker
out=$tmp/inject.h5
run 3 "$out" BPSWEEP_TRACE="$tmp/trace_inject" BPSWEEP_INJECT_FAIL=1 && ok || bad "inject: exit $?"
$py - "$out" "$tmp/trace_inject" <<'PY' && ok || bad "inject: retry not on another worker"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f["/status"][1] == 1 and f["/run/attempts"][1] == 2, (f["/status"][1], f["/run/attempts"][1])
ranks = [l.split()[2] for l in open(sys.argv[2]) if l.split()[:2] == ["1", "start"]]
assert len(ranks) == 2 and ranks[0] != ranks[1], ranks
PY
$py "$here/compare_results.py" "$tmp/p1.h5" "$out" >/dev/null && ok || bad "inject: results differ from the clean run"

# permanent failures and divergence
out=$tmp/faults.h5
env "$here/mpirun.sh" 3 "$bin" run "$specs/faults.json" -o "$out" --max-attempts 2 2>"$out.log"
code=$?
[ $code -eq 4 ] && ok || bad "faults: exit $code, want 4: $(tail -3 "$out.log")"
$py - "$out" <<'PY' && ok || bad "faults: wrong statuses"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    st, att, msg = f["/status"][()], f["/run/attempts"][()], f["/run/message"][()]
    de = f["/run/diverged_epoch"][()]
    # grid order: small/ok x3, small/explode x3, huge/ok x3, huge/explode x3
    assert list(st[:3]) == [1] * 3 and list(st[3:6]) == [2] * 3, st
    assert list(st[6:]) == [3] * 6 and list(att[6:]) == [2] * 6, (st, att)
    assert all(b"out of memory" in m for m in msg[6:]), msg
    assert all(d == 1 for d in de[3:6]), de
PY

# errors every rank sees alike: exit 2 through mpirun, one message
"$here/mpirun.sh" 3 "$bin" run "$specs/bad_range.json" -o "$tmp/x.h5" 2>"$tmp/err"
code=$?
[ $code -eq 2 ] && [ "$(grep -c 'train.lr' "$tmp/err")" -eq 1 ] && ok || bad "bad spec: exit $code: $(cat "$tmp/err")"
# the same spec on a finished file: nothing to do, nothing recomputed
BPSWEEP_TRACE="$tmp/trace_again" "$here/mpirun.sh" 2 "$bin" run "$specs/sweep15.json" -o "$tmp/p1.h5" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && [ ! -s "$tmp/trace_again" ] && ok || bad "rerun of a finished sweep: exit $code: $(cat "$tmp/err")"
# another spec on it: refused, with the differences
"$here/mpirun.sh" 2 "$bin" run "$specs/faults.json" -o "$tmp/p1.h5" 2>"$tmp/err"
code=$?
[ $code -eq 2 ] && grep -q "holds a different sweep" "$tmp/err" && grep -q "name: \"sweep15\" -> \"faults\"" "$tmp/err" &&
    ok || bad "other spec on an existing file: exit $code: $(cat "$tmp/err")"

summary
