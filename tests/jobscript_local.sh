#!/usr/bin/env bash
# jobscripts/local.sh, the workstation launcher: Ctrl-C (SIGINT to the script) stops the
# sweep cleanly with exit 3 and no restart; the same command again resumes, and a rank
# killed mid-sweep makes the script start the sweep again; the result is bit-identical
# to an uninterrupted run and no finished point was trained again.
#   usage: jobscript_local.sh BPSWEEP
set -u
bin=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
spec=$specs/local.json
export BPSWEEP_BIN=$bin
local_sh=$here/../jobscripts/local.sh
pid=
at_exit '[ -n "$pid" ] && kill -KILL -- -$pid 2>/dev/null'

"$here/mpirun.sh" 3 "$bin" run "$spec" -o "$tmp/ref.h5" 2>"$tmp/ref.log" &&
    ok || bad "reference run: $(tail -3 "$tmp/ref.log")"

out=$tmp/local.h5
export BPSWEEP_TRACE=$out.trace
wait_points() { wait_lines "$out.trace" ' done ' "$1" 30; } # n points done (the trace)

# Ctrl-C: a clean stop, exit 3, no restart. (A background job starts with SIGINT
# ignored, which a script cannot trap: env gives it back its default.)
setsid env --default-signal=INT "$local_sh" "$spec" "$out" -n 3 --checkpoint-interval 1 2>"$out.log" &
pid=$!
wait_points 2
kill -INT "$pid"
wait "$pid"
code=$?
[ $code -eq 3 ] && ok || bad "Ctrl-C: exit $code, want 3: $(tail -3 "$out.log")"
grep -q 'stopped (exit 3); run the same command again to resume' "$out.log" && ok ||
    bad "Ctrl-C: no stop message: $(tail -3 "$out.log")"
grep -q 'restart 1' "$out.log" && bad "Ctrl-C: the script restarted the sweep" || ok
ls "$out.ckpt"/point-*.state >/dev/null 2>&1 && ok || bad "Ctrl-C: no checkpoint left"

# the same command again; a rank killed on the way: the script starts the sweep again
setsid "$local_sh" "$spec" "$out" -n 3 --checkpoint-interval 1 2>>"$out.log" &
pid=$!
wait_points 5
pkill -KILL -n -f "bpsweep run $spec -o $out" # the newest rank
wait "$pid"
code=$?
pid=
[ $code -eq 0 ] && ok || bad "after a killed rank: exit $code, want 0: $(tail -3 "$out.log")"
grep -Eq 'exit [0-9]+ with [0-9]+ points left: restart 1 of at most 5' "$out.log" && ok ||
    bad "killed rank: no restart in the log: $(tail -5 "$out.log")"
$py "$here/compare_results.py" "$tmp/ref.h5" "$out" >"$out.cmp" && ok || { cat "$out.cmp"; bad "results differ"; }
$py "$here/check_trace.py" "$out.trace" 8 --min-continued 1 --allow-rewind --killed 1 && ok ||
    bad "trace"

summary
