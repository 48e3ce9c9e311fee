#!/usr/bin/python3
"""Reference dispatcher: mpi4py.futures running N no-op tasks, one task per message.

Run under MPI with the futures launcher, so that rank 0 runs this script and ranks
1..P-1 are the pool's workers (the same shape as a bpsweep sweep):

    tests/mpirun.sh P /usr/bin/python3 -m mpi4py.futures bench/mpi4py_noop.py N

Prints one line "tasks N seconds S tasks_per_s R": S is the time of
executor.map(noop, range(N)) with the default chunksize=1, measured after a warm-up
task has made sure every worker is up.
"""
import argparse
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def noop(i):
    return i


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, help="number of no-op tasks")
    args = ap.parse_args()
    with MPIPoolExecutor() as executor:
        # warm-up: one task per worker, so that pool start-up is not timed
        list(executor.map(noop, range(MPI.COMM_WORLD.Get_size() - 1)))
        t0 = time.perf_counter()
        for _ in executor.map(noop, range(args.n)):
            pass
        seconds = time.perf_counter() - t0
    print(f"tasks {args.n} seconds {seconds:.6f} tasks_per_s {args.n / seconds:.1f}")


if __name__ == "__main__":
    main()
