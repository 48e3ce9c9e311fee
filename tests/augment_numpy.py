#!/usr/bin/env python3
"""Augmentation (random crop with zero padding, horizontal flip) against numpy.

Runs tests/augment_cases for a few shapes and settings and recomputes every sample
independently: the stream key (rng_key of src/rng.c, SplitMix64's finaliser) and the
uniform draws in Python integers, the crop with np.pad and slicing, the flip with
np.flip. The offsets, flips and every output value must be equal.

  augment_numpy.py --cases build/tests/augment_cases
"""
import argparse
import subprocess
import sys

import numpy as np

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
RNG_AUGMENT = 7


def mix64(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def rng_key(seed, dims, purpose, index):
    k = mix64((seed + GOLDEN) & MASK)
    for i, d in enumerate(dims):
        k = mix64(k ^ ((d + GOLDEN * (i + 1)) & MASK))
    k = mix64(k ^ (purpose << 32))
    return mix64(k ^ index)


def uniform(key, counter):
    """Draw number `counter` (0-based) of the stream, as rng_uniform."""
    return (mix64((key + GOLDEN * (counter + 1)) & MASK) >> 11) / 2.0**53


def expected(x, pad, flip_on, key, s):
    oy = int(uniform(key, 4 * s) * (2 * pad + 1))
    ox = int(uniform(key, 4 * s + 1) * (2 * pad + 1))
    flip = flip_on and uniform(key, 4 * s + 2) < 0.5
    c, h, w = x.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    out = padded[:, oy:oy + h, ox:ox + w]
    if flip:
        out = np.flip(out, axis=2)
    return oy, ox, int(flip), out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", required=True, help="the augment_cases program")
    args = ap.parse_args()
    dims = [48, 16, 10]
    settings = [(1, 4, 4, 1, 1), (3, 4, 4, 4, 1), (2, 3, 5, 2, 0), (1, 28, 28, 4, 1),
                (3, 8, 8, 0, 1), (1, 5, 6, 9, 1)]
    failures = 0
    for c, h, w, pad, flip in settings:
        seed, epoch, n = 11, 2, 200
        cmd = [args.cases, str(c), str(h), str(w), str(pad), str(flip), str(seed), str(epoch),
               str(n)] + [str(d) for d in dims]
        lines = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()
        if len(lines) != n:
            print(f"FAIL {cmd}: {len(lines)} lines, expected {n}")
            failures += 1
            continue
        key = rng_key(seed, dims, RNG_AUGMENT, epoch)
        bad = 0
        for s, line in enumerate(lines):
            v = [int(t) for t in line.split()]
            k = np.arange(c * h * w)
            x = ((s * 131 + k * 7) % 251 + 1).astype(np.float32).reshape(c, h, w)
            oy, ox, fl, out = expected(x, pad, bool(flip), key, s)
            got = np.array(v[4:], dtype=np.float32).reshape(c, h, w)
            if v[:4] != [s, oy, ox, fl] or not np.array_equal(got, out):
                if bad < 3:
                    print(f"FAIL ({c}, {h}, {w}) pad {pad} flip {flip} sample {s}: "
                          f"C {v[1:4]} numpy {[oy, ox, fl]}")
                bad += 1
        failures += bad
        print(f"({c}, {h}, {w}) pad {pad} flip {flip}: {n - bad}/{n} samples equal")
    print("all equal" if failures == 0 else f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
