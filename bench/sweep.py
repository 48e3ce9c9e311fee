#!/usr/bin/python3
"""Sweep benchmark: coordinator throughput, parallel efficiency, coordinator CPU, memory.

Runs `bpsweep run` under MPI (tests/mpirun.sh) and measures, in one run:
  1. coordinator throughput: zero-epoch points (bench/specs/noop.json, its seed list
     replaced by 0..N-1) on P = 2 and P = 3 ranks, by the difference method
     N / (median wall(2N) - median wall(N)) over whole `mpirun` runs, side by side with
     mpi4py.futures dispatching N no-op tasks (bench/mpi4py_noop.py), measured the
     same way and alternated with our runs;
  2. parallel efficiency: 20 points of about one second each (bench/specs/second.json)
     serially (P = 1) and on 2 workers (P = 3); sweep phase = "started" to "updated" of
     the final progress file; efficiency = serial / (2 x parallel), from medians; for
     information, how busy the workers were, how fast a point trains with two at once
     (from /run/wall_seconds of the results) and the same for two plain processes;
  3. the coordinator's CPU use during those P = 3 runs, from /proc/PID/stat
     (utime + stime) of the pid the progress file names;
  4. memory on full Fashion-MNIST (bench/specs/fmnist_memory.json): the summed PSS
     (/proc/PID/smaps_rollup) of all bpsweep processes of a 4-rank and a 1-rank sweep,
     the largest of the samples taken while points train.
Prints a table of targets and exits 1 if one is missed. Run from anywhere:
    /usr/bin/python3 bench/sweep.py
"""
import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MPIRUN = os.path.join(ROOT, "tests", "mpirun.sh")
SPECS = os.path.join(ROOT, "bench", "specs")
NOOP_PY = os.path.join(ROOT, "bench", "mpi4py_noop.py")
TICK = os.sysconf("SC_CLK_TCK")


# ---- /proc ---------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def wakeups(pid):
    """Voluntary context switches of the process's main thread (one per sleep)."""
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", f.read()).group(1))


def unused_seconds():
    """CPU seconds the machine has been idle, waiting for I/O or stolen by the host,
    summed over CPUs since boot (/proc/stat). Idle time is measured exactly on a
    tickless kernel, while user and system time are sampled at each tick and miss a
    process that wakes briefly between ticks, so busy time = CPUs x wall - this."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    return (fields[3] + fields[4] + fields[7]) / TICK  # idle, iowait, steal


def own_seconds():
    """CPU seconds of this script and of every child it has waited for (mpirun waits
    for its ranks, so theirs count too)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return int(re.search(r"^Pss:\s+(\d+) kB", f.read(), re.M).group(1))


def bpsweep_pids(root_pid):
    """Pids of the processes named bpsweep that descend from root_pid (the mpirun)."""
    parent, name = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue
        pid = int(entry)
        name[pid] = text[text.index("(") + 1:text.rindex(")")]
        parent[pid] = int(text.rsplit(")", 1)[1].split()[1])
    found = []
    for pid in parent:
        p = pid
        while p in parent and p != root_pid and p > 1:
            p = parent[p]
        if p == root_pid and name[pid] == "bpsweep":
            found.append(pid)
    return found


def read_progress(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


# ---- running things -------------------------------------------------------------------

def write_spec(src, dst, n_seeds=None):
    with open(src) as f:
        spec = json.load(f)
    if n_seeds is not None:
        spec["grid"]["seed"] = list(range(n_seeds))
    with open(dst, "w") as f:
        json.dump(spec, f)


class Sweep:
    """One `mpirun -np P bpsweep run SPEC -o OUT`, optionally sampled while it runs."""

    def __init__(self, args, np_, spec, out):
        self.cmd = [MPIRUN, str(np_), args.bin, "run", spec, "-o", out]
        self.out = out
        self.progress = out + ".progress.json"
        self.wall = None
        self.cpu = None      # (seconds of coordinator CPU, seconds of wall, wakeups)
        self.pss = []        # summed PSS (KiB) of every sample taken while training

    def run(self, sample_cpu=False, sample_pss=False, period=0.25):
        log = open(self.out + ".log", "w")
        t0 = time.perf_counter()
        proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        first = last = None
        if sample_cpu or sample_pss:
            while proc.poll() is None:
                time.sleep(period)
                p = read_progress(self.progress)
                if not p or p["state"] != "running":
                    continue
                try:
                    if sample_cpu:
                        s = (time.perf_counter(), cpu_seconds(int(p["pid"])),
                             wakeups(int(p["pid"])))
                        first = first or s
                        last = s
                    if sample_pss:
                        self.pss.append(sum(pss_kib(q) for q in bpsweep_pids(proc.pid)))
                except (OSError, AttributeError):
                    pass  # a process ended between listing and reading
        proc.wait()
        self.wall = time.perf_counter() - t0
        log.close()
        if proc.returncode != 0:
            with open(self.out + ".log") as f:
                sys.exit(f"{' '.join(self.cmd)}: exit {proc.returncode}\n{f.read()[-2000:]}")
        if first and last and last[0] > first[0]:
            self.cpu = (last[1] - first[1], last[0] - first[0], last[2] - first[2])
        return self

    def sweep_seconds(self):
        """Sweep phase from the final progress file: coordinator start to finish."""
        p = read_progress(self.progress)
        assert p and p["state"] == "finished", self.progress
        return p["updated"] - p["started"]


def mpi4py_run(np_, n):
    """Whole-mpirun wall time and the script's own time of mapping n no-op tasks."""
    t0 = time.perf_counter()
    out = subprocess.run([MPIRUN, str(np_), "/usr/bin/python3", "-m", "mpi4py.futures",
                          NOOP_PY, str(n)], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"mpi4py_noop.py on {np_} ranks: exit {out.returncode}\n{out.stderr[-2000:]}")
    return wall, float(re.search(r"seconds ([0-9.]+)", out.stdout).group(1))


# ---- the four measurements ---------------------------------------------------------------

def throughput(args, tmp):
    """Points/s of bpsweep and tasks/s of mpi4py.futures on P = 2 and 3 ranks."""
    n = args.points
    specs = {}
    for k in (n, 2 * n):
        specs[k] = os.path.join(tmp, f"noop{k}.json")
        write_spec(os.path.join(SPECS, "noop.json"), specs[k], k)
    rows = {}
    for np_ in (2, 3):
        ours = {n: [], 2 * n: []}
        ours_in = {n: [], 2 * n: []}
        ref = {n: [], 2 * n: []}
        ref_in = {n: [], 2 * n: []}
        for rep in range(args.repeats):
            for k in (n, 2 * n) if rep % 2 == 0 else (2 * n, n):
                s = Sweep(args, np_, specs[k], os.path.join(tmp, f"t{np_}_{k}_{rep}.h5")).run()
                ours[k].append(s.wall)
                ours_in[k].append(s.sweep_seconds())
                wall, inner = mpi4py_run(np_, k)
                ref[k].append(wall)
                ref_in[k].append(inner)
                os.remove(s.out)
        med = {k: statistics.median(v) for k, v in ours.items()}
        ref_med = {k: statistics.median(v) for k, v in ref.items()}
        rows[np_] = {
            "ours": n / (med[2 * n] - med[n]),
            "ref": n / (ref_med[2 * n] - ref_med[n]),
            "ours_inner": 2 * n / statistics.median(ours_in[2 * n]),
            "ref_inner": 2 * n / statistics.median(ref_in[2 * n]),
            "walls": (med[n], med[2 * n], ref_med[n], ref_med[2 * n]),
        }
        r = rows[np_]
        print(f"  P={np_}: bpsweep wall {med[n]:.2f} s ({n}) {med[2 * n]:.2f} s ({2 * n}) -> "
              f"{r['ours']:.0f} points/s (sweep phase alone {r['ours_inner']:.0f}/s); "
              f"mpi4py wall {ref_med[n]:.2f} s {ref_med[2 * n]:.2f} s -> {r['ref']:.0f} tasks/s "
              f"(map alone {r['ref_inner']:.0f}/s)", flush=True)
    return rows


def point_seconds(results):
    """Sum of the points' own times (training and metrics) from a results file."""
    with h5py.File(results, "r") as f:
        return float(f["/run/wall_seconds"][()].sum())


def train_alone(args, points):
    """Per-point seconds of `bpsweep train --point K` (no MPI), K in points, in turn."""
    spec = os.path.join(SPECS, "second.json")
    times = []
    for k in points:
        out = subprocess.run([args.bin, "train", spec, "--point", str(k)], check=True,
                             capture_output=True, text=True).stdout
        times.append(float(re.search(r"^wall_seconds ([0-9.]+)", out, re.M).group(1)))
    return times


def machine_ceiling(args):
    """Point speed with two plain processes training at once / speed with one alone."""
    alone = train_alone(args, [0, 1])
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(train_alone, args, [2, 3])
        b = pool.submit(train_alone, args, [4, 5])
        pair = a.result() + b.result()
    return statistics.mean(alone) / statistics.mean(pair)


def efficiency(args, tmp):
    """Serial vs 2-worker sweep phase, and rank 0's CPU use during the 2-worker runs.

    efficiency = serial / (2 x parallel) = (busy_2 / busy_1) x speed, where busy is the
    points' own time summed / (workers x sweep phase) and speed = summed point time of
    the serial run / that of the parallel run. The machine ceiling is the same speed
    ratio for two plain `bpsweep train` processes (no MPI, no coordinator)."""
    spec = os.path.join(SPECS, "second.json")
    serial, parallel, cpu, busy1, busy2, speed, ceiling = [], [], [], [], [], [], []
    for rep in range(args.eff_repeats):
        # the serial run is polled like the parallel one, so both see the same observer
        s1 = Sweep(args, 1, spec, os.path.join(tmp, f"e1_{rep}.h5")).run(sample_cpu=True)
        s3 = Sweep(args, 3, spec, os.path.join(tmp, f"e3_{rep}.h5")).run(sample_cpu=True)
        serial.append(s1.sweep_seconds())
        parallel.append(s3.sweep_seconds())
        work1, work3 = point_seconds(s1.out), point_seconds(s3.out)
        busy1.append(work1 / serial[-1])
        busy2.append(work3 / (2 * parallel[-1]))
        speed.append(work1 / work3)
        ceiling.append(machine_ceiling(args))
        used, wall, wake = s3.cpu
        cpu.append((100 * used / wall, wake / wall))
        print(f"  run {rep + 1}: serial {serial[-1]:.2f} s, 2 workers {parallel[-1]:.2f} s "
              f"(efficiency {serial[-1] / (2 * parallel[-1]):.1%}: workers busy "
              f"{busy1[-1]:.1%} / {busy2[-1]:.1%}, point speed with 2 at once "
              f"{speed[-1]:.1%}, plain processes {ceiling[-1]:.1%}); coordinator "
              f"{cpu[-1][0]:.2f}% of a core, {cpu[-1][1]:.0f} wake-ups/s over {wall:.1f} s",
              flush=True)
    t1, t2 = statistics.median(serial), statistics.median(parallel)
    return {"serial": t1, "parallel": t2, "eff": t1 / (2 * t2),
            "busy1": statistics.median(busy1), "busy2": statistics.median(busy2),
            "speed": statistics.median(speed), "ceiling": statistics.median(ceiling),
            "cpu": statistics.median(c[0] for c in cpu),
            "wakeups": statistics.median(c[1] for c in cpu)}


def memory(args, tmp):
    """Largest summed PSS (MiB) while training, on 1 and 4 ranks."""
    spec = os.path.join(SPECS, "fmnist_memory.json")
    pss = {}
    for np_ in (1, 4):
        s = Sweep(args, np_, spec, os.path.join(tmp, f"m{np_}.h5")).run(sample_pss=True)
        if not s.pss:
            sys.exit(f"memory: no sample taken while the {np_}-rank sweep trained")
        pss[np_] = max(s.pss) / 1024
        print(f"  P={np_}: largest summed PSS of {len(s.pss)} samples {pss[np_]:.1f} MiB",
              flush=True)
    return pss


# ---- report -----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bpsweep"))
    ap.add_argument("--points", type=int, default=4000,
                    help="N of the throughput sweeps (N and 2N points; default 4000)")
    ap.add_argument("--repeats", type=int, default=5,
                    help="runs per throughput configuration (default 5)")
    ap.add_argument("--eff-repeats", type=int, default=4,
                    help="serial / parallel pairs of the efficiency sweep (default 4)")
    args = ap.parse_args()
    t_start, unused_start, own_start = time.perf_counter(), unused_seconds(), own_seconds()
    with tempfile.TemporaryDirectory(prefix="bpsweep-bench-") as tmp:
        print("1. coordinator throughput (zero-epoch points vs mpi4py.futures no-ops)")
        tp = throughput(args, tmp)
        print("2./3. parallel efficiency and coordinator CPU (about-one-second points)")
        ef = efficiency(args, tmp)
        print("4. memory on full Fashion-MNIST")
        mem = memory(args, tmp)

    checks = []  # (target, measured, goal, ok)
    for np_, r in tp.items():
        w = np_ - 1
        checks.append((f"throughput P={np_} ({w} worker{'s' if w > 1 else ''})",
                       f"{r['ours']:.0f} points/s", ">= 2000", r["ours"] >= 2000))
        checks.append((f"  vs mpi4py.futures P={np_}",
                       f"{r['ours']:.0f} vs {r['ref']:.0f}/s",
                       ">= 1.00x", r["ours"] >= r["ref"]))
    checks.append(("parallel efficiency, 2 workers",
                   f"{ef['eff']:.1%} ({ef['serial']:.1f} s / 2 x {ef['parallel']:.1f} s)",
                   ">= 95%", ef["eff"] >= 0.95))
    checks.append(("  workers busy: serial / 2 workers",
                   f"{ef['busy1']:.1%} / {ef['busy2']:.1%}", "(info)", True))
    checks.append(("  point speed, 2 at once / alone",
                   f"{ef['speed']:.1%} (plain processes {ef['ceiling']:.1%})", "(info)", True))
    checks.append(("coordinator CPU while training",
                   f"{ef['cpu']:.2f}% ({ef['wakeups']:.0f} wake-ups/s)", "< 2%", ef["cpu"] < 2))
    ratio = mem[4] / mem[1]
    checks.append(("memory PSS 4 ranks / 1 rank",
                   f"{ratio:.2f} ({mem[4]:.0f} / {mem[1]:.0f} MiB)", "< 1.5", ratio < 1.5))

    print(f"\n{'target':34s} {'measured':38s} {'goal':8s} result")
    for name, measured, goal, good in checks:
        verdict = "" if goal == "(info)" else "ok" if good else "BELOW"
        print(f"{name:34s} {measured:38s} {goal:8s} {verdict}")
    wall = time.perf_counter() - t_start
    busy = wall * os.cpu_count() - (unused_seconds() - unused_start)
    other = busy - (own_seconds() - own_start)
    print(f"(benchmark took {wall:.0f} s; other processes used {other:.1f} CPU-s meanwhile, "
          f"{other / (wall * os.cpu_count()):.1%} of the machine)")
    if other > 0.03 * wall * os.cpu_count():
        print("warning: the machine was not idle; timings are unreliable, run again")
    return 0 if all(c[3] for c in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
