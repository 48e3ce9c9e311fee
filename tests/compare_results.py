#!/usr/bin/python3
"""Compares two bpsweep results files dataset by dataset, bit for bit.

Excluded, because they describe how a point was run rather than what it computed:
/run/wall_seconds, /run/finished, /run/rank, /run/host, /run/attempts and
/curves/epoch_seconds, and /run/checksum, which covers them. Root attributes are not compared (creation time differs).
Exits 0 when every other dataset is byte-identical, 1 otherwise.
usage: compare_results.py A.h5 B.h5
"""
import argparse
import sys

import h5py
import numpy as np

EXCLUDED = {"/run/wall_seconds", "/run/finished", "/run/rank", "/run/host", "/run/attempts",
            "/curves/epoch_seconds", "/run/checksum"}


def datasets(f):
    names = []
    f.visititems(lambda name, obj: names.append("/" + name)
                 if isinstance(obj, h5py.Dataset) else None)
    return set(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    args = ap.parse_args()
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        na, nb = datasets(fa), datasets(fb)
        if na - EXCLUDED != nb - EXCLUDED:
            print("different datasets:", sorted((na ^ nb) - EXCLUDED))
            return 1
        bad = []
        for name in sorted(na - EXCLUDED):
            a, b = fa[name][()], fb[name][()]
            a, b = np.asarray(a), np.asarray(b)
            # bit for bit: the raw bytes (NaN payloads and string padding included)
            if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
                bad.append(name)
        compared = len(na - EXCLUDED)
        print(f"compared {compared} datasets bit for bit; excluded {sorted(EXCLUDED & na)}")
        if bad:
            print("DIFFERENT:", bad)
            return 1
    print("identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
