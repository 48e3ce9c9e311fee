"""Checks a sweep's trace (BPSWEEP_TRACE) after interruptions and resumes:
every point finished exactly once, none trained after its row was written, and none
went back to an earlier epoch (an interrupted point continues from its checkpoint).
    usage: check_trace.py TRACE N_POINTS [--min-continued K] [--allow-rewind]
--min-continued: at least K points must have continued from a checkpoint past epoch 0
(proof that stopped work was checkpointed and resumed, not redone).
--allow-rewind: a point may go back to its last checkpoint (after a SIGKILL, with
checkpoints less often than every step).
--killed K: K ranks were SIGKILLed; each may have died between writing a point's row
and its "done" line, so up to K points may lack that line, if their trace ends in an
epoch (they were never started again; the caller checks their rows in the results).
Prints the problems (at most 5) and exits 1 if there are any."""
import argparse
import sys

ap = argparse.ArgumentParser()
ap.add_argument("trace")
ap.add_argument("n_points", type=int)
ap.add_argument("--min-continued", type=int, default=0)
ap.add_argument("--allow-rewind", action="store_true")
ap.add_argument("--killed", type=int, default=0)
a = ap.parse_args()

done, last_epoch, restarted, continued, problems = set(), {}, set(), set(), []
last_event = {}
for line in open(a.trace):
    f = line.split()
    p, what = int(f[0]), f[1]
    last_event[p] = what
    if p in done:
        problems.append(f"point {p} ran again after its row was written: {line.strip()}")
    if what == "done":
        done.add(p)
    elif what == "start":
        if p in last_epoch:
            restarted.add(p)
    elif what != "stop":
        e = int(what)
        if p in restarted:  # the first epoch after a restart: where its checkpoint was
            restarted.discard(p)
            if e > 0:
                continued.add(p)
        if p in last_epoch and e < last_epoch[p] and not a.allow_rewind:
            problems.append(f"point {p} went back from epoch {last_epoch[p]} to {e}")
        last_epoch[p] = max(e, last_epoch.get(p, e))
unfinished = [p for p in last_event if p not in done]
killed_after_row = [p for p in unfinished if last_event[p] not in ("start", "stop")]
if len(done) != a.n_points and not (len(done) + len(unfinished) == a.n_points and
                                    len(unfinished) <= a.killed and
                                    len(killed_after_row) == len(unfinished)):
    problems.append(f"{len(done)} of {a.n_points} points done")
if len(continued) < a.min_continued:
    problems.append(f"{len(continued)} points continued from a checkpoint past epoch 0, "
                    f"want at least {a.min_continued}")
print("\n".join(problems[:5]))
print(f"trace: {len(done)} points done, {len(continued)} continued from a checkpoint",
      file=sys.stderr)
sys.exit(1 if problems else 0)
