#!/usr/bin/env bash
# Results folders are shared: what anyone who can write them can plant there - a forged
# lock, symbolic links for temporary files, the checkpoint folder or the progress file,
# a CSV target that is the results file - must not run commands, overwrite files outside
# the folder, or destroy a sweep. Also: the deadline in the past, a lock whose holder is
# exiting, plan on a net too large to build.   usage: hardening.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
spec=$specs/tiny.json

# ---- 1. command injection through the lock's job field ------------------------------
# A job field that is not a Slurm job id reaches no shell and no squeue: the lock is
# held by an unknown job, and the run is refused.
mkdir -m 1777 "$tmp/shared"
echo "otherhost 12345 x';touch\${IFS}PWNED;echo\${IFS}' 0" >"$tmp/shared/r.h5.lock"
(cd "$tmp/shared" && "$bin" run "$spec" -o "$tmp/shared/r.h5" >"$tmp/out" 2>"$tmp/err")
code=$?
[ ! -e "$tmp/shared/PWNED" ] && [ -z "$(find "$tmp" / -maxdepth 1 -name PWNED 2>/dev/null)" ] &&
    ok || bad "injection: a file PWNED was created"
[ $code -eq 2 ] && grep -q "unknown job" "$tmp/err" && [ ! -e "$tmp/shared/r.h5" ] && ok ||
    bad "injection: exit $code (want 2, lock held by an unknown job): $(cat "$tmp/err")"

# A valid job id goes to squeue as one argument, without a shell: a squeue on PATH that
# records its arguments and says the job is unknown lets the lock be taken over.
mkdir "$tmp/fakebin"
cat >"$tmp/fakebin/squeue" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/squeue.args"
echo "slurm_load_jobs error: Invalid job id specified" >&2
exit 1
EOF
chmod +x "$tmp/fakebin/squeue"
echo "otherhost 12345 4242_7 0" >"$tmp/shared/j.h5.lock"
PATH=$tmp/fakebin:$PATH "$bin" run "$spec" -o "$tmp/shared/j.h5" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && grep -q "its Slurm job is no longer running" "$tmp/err" && ok ||
    bad "finished Slurm job: exit $code: $(cat "$tmp/err")"
printf -- '-h\n-j\n4242_7\n-o\n%%T\n' | cmp -s - "$tmp/squeue.args" && ok ||
    bad "squeue arguments: $(cat "$tmp/squeue.args" 2>/dev/null)"

# ---- 14. a lock whose holder is exiting is waited for; a live one is refused -------
sleep 0.7 &
echo "$(hostname) $! - 0" >"$tmp/exiting.h5.lock"
"$bin" run "$spec" -o "$tmp/exiting.h5" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && grep -q "taking over the stale lock" "$tmp/err" && ok ||
    bad "exiting holder: exit $code: $(cat "$tmp/err")"
sleep 30 &
holder=$!
at_exit "kill $holder 2>/dev/null"
echo "$(hostname) $holder - 0" >"$tmp/held.h5.lock"
t0=$SECONDS
"$bin" run "$spec" -o "$tmp/held.h5" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 2 ] && grep -q "is being written by another sweep" "$tmp/err" &&
    [ $((SECONDS - t0)) -le 5 ] && [ ! -e "$tmp/held.h5" ] && ok ||
    bad "live holder: exit $code after $((SECONDS - t0)) s: $(cat "$tmp/err")"
kill $holder 2>/dev/null

# ---- 7. symbolic links planted for temporary files and the progress file -----------
# The victim lives outside the results folder; links for the next thousands of process
# ids, and the progress file itself as a link, must leave it unchanged.
mkdir "$tmp/outside" "$tmp/res"
echo "precious" >"$tmp/outside/victim"
# (one process plants them all, so the next process ids are still ahead)
$py - "$tmp" <<'PY'
import os, sys
tmp = sys.argv[1]
for p in range(os.getpid(), os.getpid() + 3000):
    for name in (f"s.h5.progress.json.tmp.{p}", f"link.csv.tmp.{p}"):
        os.symlink(f"{tmp}/outside/victim", f"{tmp}/res/{name}")
PY
ln -s "$tmp/outside/victim" "$tmp/res/s.h5.progress.json"
"$bin" run "$spec" -o "$tmp/res/s.h5" --progress-interval 0.05 >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && ok || bad "run beside planted links: exit $code: $(cat "$tmp/err")"
ln -s "$tmp/outside/victim" "$tmp/res/link.csv"
"$bin" export "$tmp/res/s.h5" --csv "$tmp/res/link.csv" >"$tmp/out" 2>"$tmp/err" && ok ||
    bad "export to a link: $(cat "$tmp/err")"
[ "$(cat "$tmp/outside/victim")" = precious ] && ok ||
    bad "a file outside the results folder was overwritten: $(head -c 200 "$tmp/outside/victim")"
[ ! -L "$tmp/res/s.h5.progress.json" ] && [ ! -L "$tmp/res/link.csv" ] && ok ||
    bad "the links were written through instead of replaced"

# ---- 13. the checkpoint folder as a symbolic link -----------------------------------
mkdir "$tmp/outside/ck"
echo "keep" >"$tmp/outside/ck/point-0.state"
ln -s "$tmp/outside/ck" "$tmp/res/c.h5.ckpt"
"$bin" run "$spec" -o "$tmp/res/c.h5" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 2 ] && grep -q "c.h5.ckpt: is not a directory (a symbolic link)" "$tmp/err" &&
    [ "$(ls "$tmp/outside/ck")" = point-0.state ] && [ ! -e "$tmp/res/c.h5.lock" ] && ok ||
    bad "checkpoint link: exit $code, target holds $(ls "$tmp/outside/ck"): $(cat "$tmp/err")"

# ---- 8. export never writes over the results file or its companions ----------------
r=$tmp/res/s.h5
cp "$r" "$tmp/res/other.h5"
echo "host 1 - 0" >"$r.lock"
mkdir -p "$r.ckpt"
echo "x" >"$r.ckpt/point-1.state"
sum_before=$(md5sum "$r" "$tmp/res/other.h5" "$r.lock" "$r.ckpt/point-1.state")
for target in "$r" "$r.lock" "$tmp/res/other.h5" "$r.ckpt/point-1.state" "$r.ckpt/new.csv" \
    "$tmp/res/../res/s.h5"; do
    "$bin" export "$r" --csv "$target" >"$tmp/out" 2>"$tmp/err"
    code=$?
    [ $code -eq 2 ] && [ -s "$tmp/err" ] && ok || bad "export --csv $target: exit $code"
done
[ "$sum_before" = "$(md5sum "$r" "$tmp/res/other.h5" "$r.lock" "$r.ckpt/point-1.state")" ] &&
    [ ! -e "$r.ckpt/new.csv" ] && ok || bad "export changed the results file or a companion"
rm -rf "$r.lock" "$r.ckpt"

# ---- 11. status does not believe a progress file whose sweep is gone ---------------
now=$(date +%s)
cat >"$r.progress.json" <<EOF
{"state": "running", "host": "$(hostname)", "pid": 999999, "started": $now, "updated": $now,
 "eta_seconds": null, "points": {"pending": 1e300, "running": -5, "done": 3, "diverged": 0,
 "failed": 0}, "architectures": []}
EOF
"$bin" status "$r" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && ! grep -q "sweep running" "$tmp/out" && grep -q "tiny, 4 points" "$tmp/out" &&
    ok || bad "status believed a dead sweep's progress file: $(cat "$tmp/out" "$tmp/err")"

# ---- 10. a deadline at or below the drain time stops at once (exit 3), then resumes --
"$bin" run "$spec" -o "$tmp/dl.h5" --deadline 1 >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 3 ] && grep -q "stopped for the deadline" "$tmp/err" && ok ||
    bad "--deadline 1: exit $code (want 3): $(tail -2 "$tmp/err")"
"$bin" run "$spec" -o "$tmp/dl.h5" --deadline +5 --drain 10 >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 3 ] && ok || bad "--deadline +5 --drain 10: exit $code (want 3)"

# ---- checkpoints planted as links (to /dev/zero, to a file outside) are not read ----
mkdir -p "$tmp/dl.h5.ckpt"
ln -s /dev/zero "$tmp/dl.h5.ckpt/point-0.state"
ln -s "$tmp/outside/victim" "$tmp/dl.h5.ckpt/point-1.state"
"$bin" resume "$tmp/dl.h5" >"$tmp/out" 2>"$tmp/err"
code=$?
[ $code -eq 0 ] && [ "$(grep -c "ignoring its checkpoint.*is a symbolic link" "$tmp/err")" -eq 2 ] &&
    [ "$(cat "$tmp/outside/victim")" = precious ] && ok ||
    bad "resume with planted checkpoint links: exit $code: $(cat "$tmp/err")"

# ---- 2, 12. plan on a net too large to build: estimated, not allocated -------------
# prints the exit status and the child's max RSS (KiB); stdout, stderr to $tmp/out, err
$py - "$tmp" "$bin" plan "$specs/faults.json" >"$tmp/rss" <<'PY'
import resource, subprocess, sys
tmp = sys.argv[1]
with open(tmp + "/out", "w") as out, open(tmp + "/err", "w") as err:
    rc = subprocess.run(sys.argv[2:], stdout=out, stderr=err).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
read -r code rss <"$tmp/rss"
[ "$code" -eq 0 ] && grep -q "too large to time at its batch size" "$tmp/out" && [ "$rss" -lt 300000 ] &&
    ok || bad "plan faults.json: exit $code, max RSS $rss KiB: $(cat "$tmp/err")"

summary
