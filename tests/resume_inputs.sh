#!/usr/bin/env bash
# The edges of resuming: the deadline, the lock, bad files and bad checkpoints, a full
# disk and a read-only folder.   usage: resume_inputs.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
mnt=
at_exit '[ -n "$mnt" ] && umount "$mnt" 2>/dev/null'
mpi() { "$here/mpirun.sh" "$@"; }

# a deadline 20 s away on a sweep that needs more (24 points of ~2.5 s on 2 workers):
# stops before it with exit 3; every point it started was either finished or
# checkpointed, none was started that could not reach a checkpoint in time
out=$tmp/deadline.h5
t0=$(date +%s.%N)
deadline=$(echo "$t0 + 20" | bc)
BPSWEEP_TRACE="$out.trace" mpi 3 "$bin" run "$specs/deadline.json" -o "$out" --deadline "$deadline" \
    --drain 3 --checkpoint-interval 2 2>"$out.log"
code=$?
end=$(date +%s.%N)
echo "deadline: exit $code at $(echo "$end - $t0" | bc) s of 20"
[ $code -eq 3 ] && ok || bad "deadline: exit $code: $(tail -3 "$out.log")"
awk -v e="$end" -v d="$deadline" 'BEGIN { exit !(e < d) }' && ok || bad "deadline: ended after it"
$py - "$out" "$out.trace" <<'PY' && ok || bad "deadline: a started point was neither done nor checkpointed"
import sys, os, h5py
out, trace = sys.argv[1], sys.argv[2]
started = {int(l.split()[0]) for l in open(trace) if l.split()[1] == "start"}
with h5py.File(out, "r") as f:
    status = f["/status"][()]
for p in started:
    assert status[p] == 1 or os.path.exists(f"{out}.ckpt/point-{p}.state"), p
assert 0 < sum(status == 1) < len(status), status
PY

# the lock: a second writer is refused while the first runs; a stale lock is taken over
out=$tmp/lock.h5
mpi 2 "$bin" run "$specs/slow.json" -o "$out" 2>"$tmp/first.log" &
first=$!
for _ in $(seq 50); do [ -e "$out.lock" ] && break; sleep 0.1; done
"$bin" run "$specs/slow.json" -o "$out" 2>"$tmp/second.log"
code=$?
[ $code -eq 2 ] && grep -q "is being written by another sweep" "$tmp/second.log" && ok ||
    bad "second writer: exit $code: $(cat "$tmp/second.log")"
wait $first && ok || bad "first writer failed: $(tail -3 "$tmp/first.log")"
[ ! -e "$out.lock" ] && ok || bad "lock left behind"
echo "$(hostname) 999999 - 0" >"$tmp/stale.h5.lock"
"$bin" run "$specs/tiny.json" -o "$tmp/stale.h5" 2>"$tmp/stale.log"
code=$?
[ $code -eq 0 ] && grep -q "taking over the stale lock" "$tmp/stale.log" && ok ||
    bad "stale lock: exit $code: $(cat "$tmp/stale.log")"
echo "otherhost 1 12345 0" >"$tmp/foreign.h5.lock" # another host, no squeue here: unknown
"$bin" run "$specs/tiny.json" -o "$tmp/foreign.h5" 2>"$tmp/foreign.log"
[ $? -eq 2 ] && grep -q "otherhost" "$tmp/foreign.log" && ok || bad "foreign lock: $(cat "$tmp/foreign.log")"

# bad files to resume
expect2() { # name pattern cmd...
    local name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local code=$?
    [ $code -eq 2 ] && grep -q "$want" "$tmp/err" && ok || bad "$name: exit $code: $(cat "$tmp/err")"
}
echo "not hdf5" >"$tmp/text.h5"
expect2 "resume of a text file" "not an HDF5 file" "$bin" resume "$tmp/text.h5"
$py -c "import h5py; h5py.File('$tmp/other.h5', 'w').create_dataset('x', data=[1])"
expect2 "resume of a foreign HDF5 file" "not a bpsweep results file" "$bin" resume "$tmp/other.h5"
"$bin" run "$specs/tiny.json" -o "$tmp/full.h5" 2>/dev/null
head -c 20000 "$tmp/full.h5" >"$tmp/trunc.h5"
expect2 "resume of a truncated file" "truncated" "$bin" resume "$tmp/trunc.h5"
expect2 "resume of a missing file" "cannot open\|No such file" "$bin" resume "$tmp/nothing.h5"

# a corrupt checkpoint: the point starts over, with a warning, and ends the same
# (slow.json: ~4 s of work, so the deadline always leaves points in flight)
out=$tmp/corrupt.h5
mpi 2 "$bin" run "$specs/slow.json" -o "$out" --checkpoint-interval 0 --deadline +1.5 --drain 0 2>"$out.log"
ck=$(ls "$out.ckpt"/point-*.state 2>/dev/null | head -1)
if [ -n "$ck" ]; then
    printf 'garbage' | dd of="$ck" bs=1 seek=100 conv=notrunc 2>/dev/null
    mpi 2 "$bin" resume "$out" 2>"$tmp/corrupt2.log"
    code=$?
    [ $code -eq 0 ] && grep -q "ignoring its checkpoint" "$tmp/corrupt2.log" && ok ||
        bad "corrupt checkpoint: exit $code: $(tail -3 "$tmp/corrupt2.log")"
    mpi 3 "$bin" run "$specs/slow.json" -o "$tmp/clean.h5" 2>/dev/null
    $py "$here/compare_results.py" "$tmp/clean.h5" "$out" >/dev/null && ok || bad "corrupt checkpoint: results differ"
else
    bad "corrupt checkpoint: the stopped sweep left no checkpoint: $(tail -3 "$out.log")"
fi

# a full disk while checkpointing, a read-only folder (tmpfs mounts; root only)
mnt=$tmp/mnt
mkdir -p "$mnt"
if mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
    out=$mnt/full.h5
    mpi 2 "$bin" run "$specs/deadline.json" -o "$out" --checkpoint-interval 0.2 --deadline +3 --drain 0 2>/dev/null
    before=$($py -c "import h5py; print((h5py.File('$out','r')['/status'][()] == 1).sum())")
    # fill the disk but for 8 KiB: the lock fits, the checkpoints do not
    dd if=/dev/zero of="$mnt/hole" bs=1k count=8 2>/dev/null
    dd if=/dev/zero of="$mnt/filler" bs=1k count=4000 2>/dev/null
    rm -f "$mnt/hole"
    mpi 2 "$bin" resume "$out" --checkpoint-interval 0.2 --deadline +2 --drain 0 2>"$tmp/full.log"
    code=$?
    [ $code -ne 0 ] && grep -q "checkpoint" "$tmp/full.log" && grep -q "No space left" "$tmp/full.log" &&
        ok || bad "full disk while checkpointing: exit $code: $(tail -5 "$tmp/full.log")"
    after=$($py -c "import h5py; print((h5py.File('$out','r')['/status'][()] == 1).sum())")
    [ -n "$before" ] && [ "$after" -ge "$before" ] && ok || bad "full disk: finished rows lost ($before -> $after)"
    umount "$mnt"
    mount -t tmpfs -o size=1m,ro tmpfs "$mnt" && {
        expect2 "run into a read-only folder" "Read-only" "$bin" run "$specs/tiny.json" -o "$mnt/ro.h5"
        umount "$mnt"
    }
    mnt=
else
    echo "note: cannot mount tmpfs here; full-disk and read-only cases skipped"
fi

summary
