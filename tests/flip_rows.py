#!/usr/bin/python3
"""Flips single bytes inside the finished rows of a bpsweep results file and checks that
`bpsweep verify` names exactly the damaged point each time.

Each flip goes into a fresh copy of FILE: a per-point dataset is chosen at random (so
that small columns such as /status or /run/epochs_run are hit as often as /weights),
then a finished row, a byte of that row and a non-zero XOR mask. A /status byte is
never turned into 0 (pending), which is not damage but an unfinished point. The byte's
place in the file comes from the dataset's offset (contiguous layout) and the row size.

  flip_rows.py BPSWEEP FILE --flips 100 --seed 1 --tmp DIR
      verify must exit 4 and list exactly the flipped point, every time
  flip_rows.py BPSWEEP FILE --points 3 --seed 1 --out DAMAGED.h5
      one copy with one flip in each of 3 distinct points; prints their indices
"""
import argparse
import random
import shutil
import subprocess
import sys

import h5py
import numpy as np


def row_datasets(path):
    """(name, file offset, row bytes) of every per-point dataset, and the status column."""
    out = []
    with h5py.File(path, "r", locking=False) as f:
        n = int(f.attrs["n_points"])
        status = f["status"][()]

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.ndim >= 1 and obj.shape[0] == n \
                    and not name.startswith("axes"):
                row = obj.dtype.itemsize * int(np.prod(obj.shape[1:], dtype=np.int64))
                out.append(("/" + name, obj.id.get_offset(), row))
        f.visititems(visit)
    return out, status


def flip(path, dsets, status, rng, point=None):
    """One flip in a finished row (point, if given); returns (point, dataset, byte)."""
    done = np.flatnonzero(status != 0)
    name, offset, row = rng.choice(dsets)
    p = int(point if point is not None else rng.choice(done))
    byte = rng.randrange(row)
    at = offset + p * row + byte
    with open(path, "r+b") as f:
        f.seek(at)
        old = f.read(1)[0]
        mask = rng.randrange(1, 256)
        if name == "/status":
            mask = old ^ rng.choice([v for v in range(1, 256) if v != old])
        f.seek(at)
        f.write(bytes([old ^ mask]))
    return p, name, byte


def verify(bpsweep, path):
    r = subprocess.run([bpsweep, "verify", path], capture_output=True, text=True)
    listed = {int(line.split()[1]) for line in r.stdout.splitlines()
              if line.startswith("damaged ")}
    return r.returncode, listed, r.stdout + r.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bpsweep")
    ap.add_argument("file")
    ap.add_argument("--flips", type=int, default=0)
    ap.add_argument("--points", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tmp")
    ap.add_argument("--out")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    dsets, status = row_datasets(args.file)
    if args.points:
        shutil.copyfile(args.file, args.out)
        points = rng.sample(sorted(np.flatnonzero(status != 0).tolist()), args.points)
        for p in points:
            flip(args.out, dsets, status, rng, p)
        print(" ".join(str(p) for p in sorted(points)))
        return 0
    found = 0
    copy = f"{args.tmp}/flip.h5"
    for i in range(args.flips):
        shutil.copyfile(args.file, copy)
        p, name, byte = flip(copy, dsets, status, rng)
        code, listed, text = verify(args.bpsweep, copy)
        if code == 4 and listed == {p}:
            found += 1
        else:
            print(f"flip {i}: point {p} {name} byte {byte}: verify exit {code}, listed "
                  f"{sorted(listed)}\n{text}")
    print(f"verify found {found} of {args.flips} single-byte flips "
          f"({len(dsets)} per-point datasets)")
    return 0 if found == args.flips else 1


if __name__ == "__main__":
    sys.exit(main())
