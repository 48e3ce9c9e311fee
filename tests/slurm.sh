#!/usr/bin/env bash
# The real job script on a real (private, single-node) Slurm: jobscripts/slurm/sweep.sbatch
# is submitted with sbatch on a sweep longer than its time limit, and must take the
# warning signal, checkpoint, requeue itself and finish bit-identical to an
# uninterrupted run; scancel followed by a manual resubmission (under mpirun) must
# resume, a duplicate job must be refused by the lock; where
# requeue is not allowed, the job must chain a dependent job instead.
#   usage: slurm.sh BPSWEEP        (as root; .ci/setup.sh installs slurm-wlm and munge)
# Timing: the sweep is sized to take ~45 s on 2 workers (epochs scaled from one timed
# point, below). A 1-minute job asks for SIGUSR1@20; slurmctld checks every 30 s and sends it once the end is within 20 + 30 s,
# so it comes 10 to 40 s after the start: the first job never finishes the sweep, and a
# later one may be stopped again (at most 8 restarts). bpsweep's own deadline stop, 5 s
# before the end, is the backstop.
set -u
bin=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
. "$here/slurm_env.sh"
root=$(cd "$here/.." && pwd)
sbatch_script=$root/jobscripts/slurm/sweep.sbatch
n_points=26
# The sweep must outlast a 1-minute job: ~45 s of work on 2 workers, whatever the speed of
# this machine. One point of tests/data/specs/slurm.json (60 epochs) is timed, and the
# epochs scaled so that 13 points (26 on 2 workers) take about 45 s; 20..120 epochs.
t_point=$($py - "$bin" "$specs/slurm.json" <<'PY'
import subprocess, sys, time
t = time.monotonic()
subprocess.run([sys.argv[1], "train", sys.argv[2], "--point", "0", "--quiet"], check=True,
               stdout=subprocess.DEVNULL)
print(time.monotonic() - t)
PY
)
epochs=$($py -c "import sys; print(max(20, min(120, round(60 * 45 / (13 * float(sys.argv[1]))))))" "$t_point")
spec=$tmp/slurm.json
sed "s/\"epochs\": 60/\"epochs\": $epochs/" "$specs/slurm.json" >"$spec"
echo "one point of 60 epochs: $t_point s; the sweep trains $epochs epochs per point"

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm.sh starts slurmctld and slurmd and needs root; skipped"
    exit 77
fi
at_exit slurm_stop
slurm_start "$tmp/slurm" || { cat "$tmp/slurm/"*.log; exit 1; }

export BPSWEEP_BIN=$bin BPSWEEP_DRAIN=5 BPSWEEP_MAX_RESTARTS=8
export BPSWEEP_RUN_ARGS="--checkpoint-interval 2 --progress-interval 10"
submit() { # out time [sbatch options]: submits the job script; prints the job id
    local out=$1 time=$2
    shift 2
    BPSWEEP_TRACE=$out.trace sbatch --parsable --chdir="$tmp" --output="$out.log" \
        --time="$time" --nodes=1 --ntasks-per-node=3 \
        --mem-per-cpu=100M --signal=B:USR1@20 "$@" "$sbatch_script" "$spec" "$out"
}
# Waits until job $1 has left the queue (at most $2 seconds), releasing a requeued job's
# begin time (Slurm holds it back by the credential lifetime) once it has waited 2 s:
# releasing it in the second of the requeue would trip Slurm's revoked-credential check.
wait_job() {
    local job=$1 limit=$2 t0=$SECONDS held=
    while [ $((SECONDS - t0)) -lt "$limit" ]; do
        local st
        st=$(squeue -h -j "$job" -o '%T %r' 2>/dev/null)
        [ -z "$st" ] && return 0
        if [ "$st" = "PENDING BeginTime" ]; then
            held=${held:-$SECONDS}
            if [ $((SECONDS - held)) -ge 2 ]; then
                scontrol update JobId="$job" StartTime=now && echo "released job $job"
                held=
            fi
        fi
        sleep 0.5
    done
    echo "job $job still in the queue after $limit s: $st"
    scancel "$job"
    return 1
}
same() { # out: identical to the uninterrupted run
    $py "$here/compare_results.py" "$tmp/ref.h5" "$1" >"$1.cmp" || { cat "$1.cmp"; return 1; }
}
in_log() { # out pattern description
    grep -Eq "$2" "$1.log" && ok || bad "$3: '$2' not in the job log ($1.log)"
}

# the reference: no interruption, plain mpirun
t0=$SECONDS
"$here/mpirun.sh" 3 "$bin" run "$spec" -o "$tmp/ref.h5" 2>"$tmp/ref.log" &&
    ok || bad "reference run: $(tail -3 "$tmp/ref.log")"
echo "reference run: $((SECONDS - t0)) s"

if [ -z "${SLURM_TEST_ONLY_CHAIN:-}" ]; then
# 1. A time limit too short for the sweep: warning signal, checkpoint, requeue, finish.
out=$tmp/limit.h5
t0=$SECONDS
job=$(submit "$out" 1)
wait_job "$job" 240
restarts=$(scontrol show job "$job" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
state=$(scontrol show job "$job" | sed -n 's/.*JobState=\([A-Z]*\).*/\1/p')
echo "time limit: job $job $state after $restarts restart(s), $((SECONDS - t0)) s"
[ "$state" = COMPLETED ] && ok || bad "time limit: job ended $state: $(tail -5 "$out.log")"
[ "${restarts:-0}" -ge 1 ] && ok || bad "time limit: the job never requeued itself"
in_log "$out" 'received SIGUSR1 \(time limit warning\)' "time limit"
in_log "$out" 'bpsweep: sweep stopped by SIGUSR1 after' "time limit"
in_log "$out" 'interrupted on rank [0-9]+, continues from its checkpoint' "time limit"
in_log "$out" 'incomplete: requeued \(restart 1\)' "time limit"
in_log "$out" "restart 1 of at most 8: .* -> $out" "time limit"
in_log "$out" "sweep complete: $out" "time limit"
in_log "$out" "total +$n_points +0 +0 +0 +0" "time limit: final summary"
same "$out" && ok || bad "time limit: results differ from the uninterrupted run"
$py "$here/check_trace.py" "$out.trace" "$n_points" --min-continued 1 &&
    ok || bad "time limit: trace"

# 2. scancel of the running job, then the same sbatch by hand: resumes, recomputes
# nothing. The resubmission runs under mpirun (BPSWEEP_LAUNCHER=mpirun): a duplicate job
# submitted meanwhile is refused by the lock (exit 2) and leaves the sweep alone, and
# SIGUSR1 to the batch shell (scancel --signal=USR1 --batch) reaches the ranks through
# mpirun: exit 3, requeue, finish.
out=$tmp/cancel.h5
wait_done() { wait_lines "$out.log" ': done on rank' "$1" 60; } # n points done (the log)
job=$(submit "$out" 5)
wait_done 4
scancel "$job"
wait_job "$job" 60
done_before=$(grep -c ': done on rank' "$out.log")
echo "scancel: $done_before points were done"
in_log "$out" 'received SIGTERM' "scancel"
in_log "$out" 'stopped by SIGTERM, not requeued' "scancel"
[ "$done_before" -ge 4 ] && [ "$done_before" -lt $n_points ] && ok ||
    bad "scancel: $done_before points done before the cancel"
job2=$(BPSWEEP_LAUNCHER=mpirun OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    submit "$out" 5)
wait_done $((done_before + 3))
dup=$(BPSWEEP_TRACE=$tmp/dup.trace sbatch --parsable --chdir="$tmp" --output="$tmp/dup.log" \
    --time=1 --nodes=1 --ntasks-per-node=3 --mem-per-cpu=100M "$sbatch_script" "$spec" "$out")
wait_job "$dup" 60
grep -q "is being written by another sweep" "$tmp/dup.log" &&
    grep -q "sweep stopped with an error (exit 2)" "$tmp/dup.log" && ok ||
    bad "duplicate job: not refused by the lock: $(tail -5 "$tmp/dup.log")"
[ ! -s "$tmp/dup.trace" ] && ok || bad "duplicate job: trained points"
scancel --signal=USR1 --batch "$job2"
wait_job "$job2" 120
in_log "$out" 'mpirun: Forwarding signal 10 to job' "mpirun launcher"
in_log "$out" 'incomplete: requeued \(restart 1\)' "mpirun launcher"
in_log "$out" "sweep complete: $out" "resubmitted"
same "$out" && ok || bad "scancel + resubmit: results differ from the uninterrupted run"
$py "$here/check_trace.py" "$out.trace" "$n_points" --min-continued 1 && ok ||
    bad "scancel + resubmit: trace"

fi
# 3. Requeue not allowed (--no-requeue), submitted by jobscripts/submit: the job submits
# its successor, with the same sbatch options, instead.
out=$tmp/chain.h5
BPSWEEP_TRACE=$out.trace "$root/jobscripts/submit" "$spec" --nodes 1 --ntasks-per-node 3 --time 1 --results "$out" \
    --chdir="$tmp" --output="$out.log" --mem-per-cpu=100M --signal=B:USR1@20 --no-requeue \
    >"$tmp/submit.out" 2>&1
cat "$tmp/submit.out"
job=$(sed -n 's/^submitted job \([0-9]*\)$/\1/p' "$tmp/submit.out")
grep -Eq "^compute: .*core-hours" "$tmp/submit.out" && grep -q "^results:  $out" "$tmp/submit.out" &&
    ok || bad "submit: no plan or no results path in its output"
[ -n "$job" ] && wait_job "$job" 100
in_log "$out" "incomplete: requeue not allowed; submitted job [0-9]+ to continue" "chain"
# follow the chain: each job that stops early names its successor in the log
while next=$(sed -n 's/.*submitted job \([0-9]*\) to continue.*/\1/p' "$out.log" | tail -1) &&
    [ -n "$next" ] && [ "$next" != "$job" ]; do
    wait_job "$next" 100 || break
    job=$next
done
in_log "$out" "restart 1 of at most 8" "chain"
in_log "$out" "sweep complete: $out" "chain"
same "$out" && ok || bad "chain: results differ from the uninterrupted run"
$py "$here/check_trace.py" "$out.trace" "$n_points" --min-continued 1 && ok || bad "chain: trace"

summary
