#!/usr/bin/env bash
# Never lose work, with real mpirun, real signals and real kills. Every interrupted
# sweep is resumed until it is complete, and its results file must then be
# bit-identical to an uninterrupted run (tests/compare_results.py), while the trace
# (BPSWEEP_TRACE) shows that no finished point was trained again and that an
# interrupted point went on from where its last checkpoint was (checkpoints are
# written after every step here: --checkpoint-interval 0).
#   usage: resume.sh BPSWEEP [SEED]      (SEED replays the random kill moments)
set -u
bin=$1
seed=${2:-$(( $(date +%s) % 100000 ))}
. "$(dirname "$0")/lib.sh"
spec=$specs/resume.json
pids=()
at_exit 'for p in "${pids[@]}"; do kill -KILL -- -$p 2>/dev/null; done'
echo "random kill moments from seed $seed (replay: $0 $bin $seed)"
RANDOM=$seed

start() { # np out [env...]: a sweep in its own process group; sets $pid
    local np=$1 out=$2
    shift 2
    env BPSWEEP_TRACE="$out.trace" "$@" setsid "$here/mpirun.sh" "$np" "$bin" run "$spec" \
        -o "$out" --checkpoint-interval 0 --progress-interval 60 2>>"$out.log" &
    pid=$!
    pids+=("$pid")
}
reap() { # pid: wait for the job and every process of its group to be gone
    wait "$1" 2>/dev/null
    local code=$?
    for _ in $(seq 100); do
        pgrep -g "$1" >/dev/null || break
        sleep 0.1
    done
    return $code
}
finish() { # np out: resume until complete (at most 3 runs)
    local np=$1 out=$2 code=1
    for _ in 1 2 3; do
        BPSWEEP_TRACE="$out.trace" "$here/mpirun.sh" "$np" "$bin" resume "$out" \
            --checkpoint-interval 0 --progress-interval 60 2>>"$out.log"
        code=$?
        [ $code -eq 0 ] && return 0
    done
    echo "resume of $out ended $code: $(tail -3 "$out.log")"
    return 1
}
same() { # out: identical to the uninterrupted run
    $py "$here/compare_results.py" "$tmp/ref.h5" "$1" >"$1.cmp" || { cat "$1.cmp"; return 1; }
}
trace_ok() { # out: no finished point retrained; restarts lose at most the step in flight
    $py "$here/check_trace.py" "$1.trace" 8 2>/dev/null
}

# the reference: no interruption
"$here/mpirun.sh" 3 "$bin" run "$spec" -o "$tmp/ref.h5" --checkpoint-interval 0 2>"$tmp/ref.log" &&
    ok || bad "reference run: $(tail -3 "$tmp/ref.log")"

# SIGUSR1 to mpirun (forwarded to every rank): exit 3 quickly; resume on 2 ranks
out=$tmp/usr1.h5
start 3 "$out"
# a second into training, not into the file's creation (a signal then stops the
# creation, with no point started and so no checkpoint; on a loaded machine that took
# longer than the second this test used to wait)
wait_lines "$out.log" "starting [0-9]+ points" 1 60
sleep 1
t0=$(date +%s.%N)
kill -USR1 "$pid"
reap "$pid"
code=$?
dt=$(echo "$(date +%s.%N) - $t0" | bc)
echo "SIGUSR1: exit $code after $dt s"
[ $code -eq 3 ] && ok || bad "SIGUSR1: exit $code, want 3: $(tail -3 "$out.log")"
awk -v t="$dt" 'BEGIN { exit !(t < 30) }' && ok || bad "SIGUSR1: stop took $dt s"
grep -Eq '"state":[[:space:]]*"stopped"' "$out.progress.json" && ok || bad "SIGUSR1: progress not stopped"
ls "$out.ckpt"/point-*.state >/dev/null 2>&1 && ok || bad "SIGUSR1: no checkpoint left"
"$bin" status "$out" | grep -q pending && ok || bad "SIGUSR1: status shows nothing pending"
finish 2 "$out" && same "$out" && trace_ok "$out" && ok || bad "SIGUSR1: resume on 2 ranks"
[ ! -e "$out.ckpt" ] && [ ! -e "$out.lock" ] && ok || bad "checkpoint folder or lock left behind"

# SIGTERM to every rank (what srun and scancel do): mpirun returns the ranks' code 3
out=$tmp/term.h5
start 3 "$out"
sleep 1
pkill -TERM -P "$pid" # the ranks, children of mpirun
reap "$pid"
code=$?
[ $code -eq 3 ] && ok || bad "SIGTERM to the ranks: exit $code, want 3: $(tail -3 "$out.log")"
finish 1 "$out" && same "$out" && trace_ok "$out" && ok || bad "SIGTERM: resume serially"

# a second signal stops at once, finished rows intact
out=$tmp/twice.h5
start 3 "$out"
sleep 1.5
kill -USR1 "$pid"; kill -USR1 "$pid"
reap "$pid"
code=$?
[ $code -ne 0 ] && ok || bad "two signals: exit 0"
finish 3 "$out" && same "$out" && trace_ok "$out" && ok || bad "two signals: resume"

# SIGKILL of the whole job at random moments, then resumes
out=$tmp/kill.h5
for k in 1 2 3; do
    start 3 "$out"
    ms=$(( 300 + RANDOM % 2500 ))
    sleep "$(echo "$ms / 1000" | bc -l)"
    kill -KILL -- "-$pid" 2>/dev/null
    reap "$pid"
    echo "kill $k after $ms ms"
done
finish 3 "$out" && same "$out" && trace_ok "$out" && ok || bad "random SIGKILLs (seed $seed)"

# kills placed by fault injection: file creation, a row's write, a checkpoint's write,
# mid-epoch
for fault in create:1 row:2 checkpoint:40 epoch:300; do
    out=$tmp/fault-${fault%%:*}.h5
    start 3 "$out" BPSWEEP_FAULT="$fault"
    reap "$pid"
    if [ "${fault%%:*}" = create ]; then # no results file yet: the same command again
        [ ! -e "$out" ] && ok || bad "a killed creation left $out"
        BPSWEEP_TRACE="$out.trace" "$here/mpirun.sh" 3 "$bin" run "$spec" -o "$out" \
            --checkpoint-interval 0 2>>"$out.log"
    else
        finish 3 "$out"
    fi
    same "$out" && trace_ok "$out" && ok || bad "fault $fault: $(tail -3 "$out.log")"
done

summary
