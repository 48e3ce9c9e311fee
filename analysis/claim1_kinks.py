#!/usr/bin/python3
"""Claim 1: how many of a trained ReLU net's pre-activations sit on the kink.

A ReLU net's training loss is smooth except where a pre-activation z (one hidden unit on
one training sample) is exactly 0. A minimum inside a smooth piece has a zero gradient,
which the certificate's gradient rule can see; a minimum on a kink need not, and then
descent and Newton's method both stall with a gradient that does not go to 0. Such a
point shows itself as an excess of |z| near 0: the optimiser has pushed those pairs onto
the kink and keeps them there.

For every finished MLP point of a results file that stored its weights
(output.store_weights), this computes z for every hidden unit and training sample
(float64 from the stored float32 weights) and counts

    at_kink    pairs with |z| < EPS (1e-5)
    expected   what a smooth density of z would put there: the pairs with
               REF <= |z| < 2 REF (REF = 1e-3) times EPS / REF
    ratio      at_kink / expected (about 1 at a random initialisation, measured on the
               same data; far above 1 for a net sitting on kinks)

and writes one CSV row per point (index, arch, cond, seed, n_pairs, at_kink, expected,
ratio, negative_fraction).

    /usr/bin/python3 analysis/claim1_kinks.py RESULTS.h5 --out kinks.csv
"""

import argparse
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bpsweep  # noqa: E402

EPS, REF = 1e-5, 1e-3
HEADERS = ["index", "arch", "cond", "seed", "n_pairs", "at_kink", "expected", "ratio",
           "negative_fraction"]


def pre_activations(params, sizes, x):
    """The hidden layers' pre-activations (samples, units) of a plain MLP with layer
    sizes `sizes` (input, hidden..., output), parameters W (out, in) then b per layer."""
    out, off, h = [], 0, x
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        w = params[off:off + fan_out * fan_in].reshape(fan_out, fan_in)
        off += fan_out * fan_in
        z = h @ w.T + params[off:off + fan_out]
        off += fan_out
        out.append(z)
        h = np.maximum(z, 0)
    return out


def kink_counts(z):
    """(n_pairs, at_kink, expected, ratio, negative fraction) of pre-activations z."""
    flat = np.concatenate([v.ravel() for v in z])
    a = np.abs(flat)
    at = int(np.sum(a < EPS))
    expected = float(np.sum((a >= REF) & (a < 2 * REF))) * EPS / REF
    ratio = at / expected if expected > 0 else float("nan")
    return a.size, at, expected, ratio, float(np.mean(flat < 0))


def rows(res, x):
    if res.weights is None:
        raise SystemExit(f"{res.path}: no stored weights (output.store_weights)")
    arch = {a["name"]: a for a in res.spec["architectures"]}
    t = res.table
    out = []
    for i in range(res.n_points):
        a = arch.get(str(t["arch"][i]))
        if t["status"][i] != "done" or a is None or "hidden" not in a or not a["hidden"]:
            continue
        sizes = [x.shape[1]] + list(a["hidden"]) + [None]
        params = res.weights[i, :int(t["n_params"][i])].astype(np.float64)
        n, at, expected, ratio, neg = kink_counts(pre_activations(params, sizes, x))
        out.append([int(t["index"][i]), t["arch"][i], t["cond"][i], int(t["seed"][i]), n, at,
                    f"{expected:.6g}", f"{ratio:.6g}", f"{neg:.6g}"])
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results")
    ap.add_argument("--out", required=True, help="CSV to write")
    args = ap.parse_args(argv)
    res = bpsweep.load(args.results, weights=True)
    if res.spec["data"].get("source") != "hdf5" or res.spec["data"].get("normalization") != "none":
        raise SystemExit("claim1_kinks.py reads hdf5 data without normalisation (the nets' "
                         "own inputs), as claim 1's sweeps have")
    data = res.spec["data"]["path"]
    if not os.path.isabs(data):  # sweeps name their data relative to the repository
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", data)
    with h5py.File(data, "r") as f:
        x = np.asarray(f["train/x"], dtype=np.float64)
    with open(args.out, "w") as f:
        f.write(",".join(HEADERS) + "\n")
        for r in rows(res, x):
            f.write(",".join(str(v) for v in r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
