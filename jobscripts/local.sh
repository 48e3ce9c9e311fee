#!/usr/bin/env bash
# bpsweep on a workstation: mpirun on every local core, resumed in a loop until done.
#
#   jobscripts/local.sh SPEC RESULTS [-n RANKS] [--max-restarts N] [bpsweep run options]
#
#   -n RANKS            MPI ranks (default: cores + 1; rank 0 only coordinates)
#   --max-restarts N    restarts after an incomplete or crashed run (default 5)
#   other options       passed to `bpsweep run` (e.g. --checkpoint-interval 30)
#
# The same semantics as the Slurm job script: the sweep starts, or resumes if RESULTS
# holds it already; a run that ends incomplete (exit 3) or crashes (a rank killed, say)
# is started again as long as it made progress, at most --max-restarts times; success
# (0), failed points (4) and bad input (2) end the loop. Ctrl-C or SIGTERM stops the
# sweep cleanly (points in flight are checkpointed) and ends the loop; a second Ctrl-C
# stops at once. Run the same command again to continue.
# Installed as bpsweep-local. The binary: $BPSWEEP_BIN, else the one this script belongs
# to (installed beside it, or build/bpsweep of this checkout), else bpsweep on PATH.
set -uo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
own_bin=$here/bpsweep
[ -f "$here/slurm/sweep.sbatch" ] && own_bin=$here/../build/bpsweep # a source checkout
[ -x "$own_bin" ] || own_bin=$(command -v bpsweep || echo "$own_bin")

log() { echo "[local.sh $(date '+%F %T')] $*" >&2; }
case ${1:-} in -h | --help)
    sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
esac
if [ $# -lt 2 ]; then
    sed -n '4,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
spec=$1 results=$2
shift 2
ranks=$(($(nproc) + 1)) max_restarts=5 run_args=()
while [ $# -gt 0 ]; do
    case $1 in
    -n) ranks=${2:?-n expects a number}; shift ;;
    --max-restarts) max_restarts=${2:?--max-restarts expects a number}; shift ;;
    *) run_args+=("$1") ;;
    esac
    shift
done
bin=${BPSWEEP_BIN:-$own_bin}
[ -x "$bin" ] || { log "no bpsweep binary at '$bin' (build it, or set BPSWEEP_BIN)"; exit 2; }
# Open MPI refuses root and more ranks than cores unless told
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

wait_for() { # pid: its exit status, across traps that interrupt `wait` (status > 128)
    local r
    while :; do
        wait "$1"
        r=$?
        ((r > 128)) && kill -0 "$1" 2>/dev/null && continue
        break
    done
    ((r > 128)) && { wait "$1"; r=$?; } # it may have ended just after a trap: its own status
    return "$r"
}
pending() { # points left, from the progress file (empty if there is none yet)
    sed -n 's/.*"pending":[[:space:]]*\([0-9]*\).*/\1/p' "$results.progress.json" 2>/dev/null |
        head -1
}

# mpirun runs in its own session, so that Ctrl-C reaches the ranks once, through here:
# mpirun forwards SIGUSR1 to every rank, which stops the sweep cleanly (exit 3).
pid= stop=
on_stop() {
    log "stopping the sweep (points in flight are checkpointed); again to stop at once"
    stop=1
    [ -n "$pid" ] && kill -USR1 "$pid" 2>/dev/null
}
trap on_stop INT TERM

restarts=0 before=$(pending)
while :; do
    setsid mpirun --oversubscribe --bind-to none -np "$ranks" \
        "$bin" run "$spec" -o "$results" "${run_args[@]}" &
    pid=$!
    wait_for "$pid"
    rc=$?
    pid=
    case $rc in
    0 | 2 | 4) exit "$rc" ;;
    esac
    if [ -n "$stop" ]; then
        log "stopped (exit $rc); run the same command again to resume"
        exit 3
    fi
    now=$(pending)
    if ((restarts >= max_restarts)); then
        log "incomplete after $restarts restarts (exit $rc); run the same command to continue"
        exit 3
    fi
    if [ -n "$now" ] && [ -n "$before" ] && ((now >= before)); then
        log "exit $rc and no point finished since the last start: giving up"
        exit "$rc"
    fi
    restarts=$((restarts + 1))
    before=$now
    log "exit $rc with ${now:-?} points left: restart $restarts of at most $max_restarts"
    sleep 2
done
