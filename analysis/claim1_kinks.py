#!/usr/bin/python3
"""Claim 1: how many of a trained ReLU net's pre-activations sit on the kink.

A ReLU net's training loss is smooth except where a pre-activation z (one hidden unit on
one training sample) is exactly 0. A minimum inside a smooth piece has a zero gradient,
which the certificate's gradient rule can see; a minimum on a kink need not, and then
descent and Newton's method both stall with a gradient that does not go to 0. Such a
point shows itself as an excess of |z| near 0: the optimiser has pushed those pairs onto
the kink and keeps them there. The excess is necessary, not sufficient (subgrad_norm
below decides).

For every finished MLP point of a results file that stored its weights
(output.store_weights), this computes z for every hidden unit and training sample
(float64 from the stored float32 weights) and counts

    at_kink    pairs with |z| < EPS (1e-5)
    expected   what a smooth density of z would put there: the pairs with
               REF <= |z| < 2 REF (REF = 1e-3) times EPS / REF
    ratio      at_kink / expected (about 1 at a random initialisation, measured on the
               same data; far above 1 for a net sitting on kinks)

Many pairs at the kink do not make a point a minimum: it must also be stationary in the
nonsmooth sense, 0 in the convex hull of the gradients of the smooth pieces that meet
there. For a net with one hidden layer (z = x W1^T + b1, h = relu(z), f = h W2^T + b2,
loss L = mean cross-entropy + (lambda/2) ||theta||^2) this is computed exactly, in
float64 on the whole training set:

    grad_norm         ||grad L|| with relu'(0) = 0, as bpsweep's certificate computes it
                      (an independent check of cert_grad_norm)
    output_grad_norm  the norm of the output layer's block (W2, b2) of grad L; no kink
                      changes it (relu(z) is continuous and about 0 at a kink pair), so
                      every element of the subdifferential has this block, and a point
                      with output_grad_norm above a tolerance is stationary in no sense
    subgrad_norm      the smallest ||g|| over g = g_0 + sum_{(n,j) at kink} s_nj v_nj,
                      s_nj in [0, 1]: each kink pair's ReLU derivative anywhere between its
                      two one-sided values, g_0 the gradient with every kink pair's
                      derivative 0 and v_nj = c_nj [x_n, 1] (c_nj = dL/dh_nj) the change in
                      unit j's block (W1 row j, b1_j) when pair (n, j) switches on. As g
                      is affine in s, the set is the convex hull of the gradients of all
                      2^k pieces; its smallest norm is a box-constrained least-squares
                      problem per hidden unit (scipy's bounded-variable least squares),
                      since v_nj touches unit j's block only

with the same EPS for "at the kink". output_grad_norm <= subgrad_norm <= grad_norm; a
subgrad_norm above the certificate's tolerance says that the point is not a minimum of
any kind, on a kink or not. Other depths, and norm-bias regularisers, get NaN.

It writes one CSV row per point (index, arch, cond, seed, n_pairs, at_kink, expected,
ratio, negative_fraction, grad_norm, output_grad_norm, subgrad_norm).

    /usr/bin/python3 analysis/claim1_kinks.py RESULTS.h5 --out kinks.csv
"""

import argparse
import math
import os
import sys

import h5py
import numpy as np
from scipy.optimize import lsq_linear

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import bpsweep  # noqa: E402

EPS, REF = 1e-5, 1e-3
HEADERS = ["index", "arch", "cond", "seed", "n_pairs", "at_kink", "expected", "ratio",
           "negative_fraction", "grad_norm", "output_grad_norm", "subgrad_norm"]


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


def stationarity(params, sizes, x, y, weight_decay):
    """(grad_norm, output_grad_norm, subgrad_norm) of a 1-hidden-layer MLP (sizes: input,
    hidden, output) at params on samples x with labels y; see the module's docstring."""
    d, h, k = sizes
    n = len(x)
    w1 = params[:h * d].reshape(h, d)
    b1 = params[h * d:h * d + h]
    w2 = params[h * d + h:h * d + h + k * h].reshape(k, h)
    b2 = params[h * d + h + k * h:]
    z = x @ w1.T + b1
    a = np.maximum(z, 0)
    o = a @ w2.T + b2
    p = np.exp(o - o.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d_out = p
    d_out[np.arange(n), y] -= 1
    d_out /= n
    c = d_out @ w2  # dL/dh, samples x units
    xb = np.hstack([x, np.ones((n, 1))])
    g_out = np.hstack([d_out.T @ a, d_out.sum(axis=0)[:, None]]) + \
        weight_decay * np.hstack([w2, b2[:, None]])
    decay1 = weight_decay * np.hstack([w1, b1[:, None]])
    kink = np.abs(z) < EPS
    g_hidden = (c * (z > 0)).T @ xb + decay1
    g0 = (c * ((z > 0) & ~kink)).T @ xb + decay1
    out2 = float(np.sum(g_out ** 2))
    sub2 = out2
    for j in range(h):
        at = np.nonzero(kink[:, j])[0]
        if len(at) == 0:
            sub2 += float(g0[j] @ g0[j])
            continue
        v = (xb[at] * c[at, j][:, None]).T  # (d + 1) x pairs
        s = lsq_linear(v, -g0[j], bounds=(0, 1), method="bvls").x
        r = g0[j] + v @ s
        sub2 += float(r @ r)
    return math.sqrt(out2 + float(np.sum(g_hidden ** 2))), math.sqrt(out2), math.sqrt(sub2)


def rows(res, x, y):
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
        norms = [math.nan] * 3
        if len(sizes) == 3 and float(t["norm_bias"][i]) == 0:
            sizes[-1] = int(res.spec["data"]["classes"])
            norms = stationarity(params, sizes, x, y, float(t["weight_decay"][i]))
        out.append([int(t["index"][i]), t["arch"][i], t["cond"][i], int(t["seed"][i]), n, at,
                    f"{expected:.6g}", f"{ratio:.6g}", f"{neg:.6g}",
                    *(f"{v:.6g}" for v in norms)])
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
    if res.spec["data"].get("train_subset") or res.spec["data"].get("validation"):
        raise SystemExit("claim1_kinks.py measures the whole training file; this sweep trained "
                         "on part of it (data.train_subset or data.validation)")
    data = res.spec["data"]["path"]
    if not os.path.isabs(data):  # sweeps name their data relative to the repository
        data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", data)
    with h5py.File(data, "r") as f:
        x = np.asarray(f["train/x"], dtype=np.float64)
        y = np.asarray(f["train/y"], dtype=np.int64)
    with open(args.out, "w") as f:
        f.write(",".join(HEADERS) + "\n")
        for r in rows(res, x, y):
            f.write(",".join(str(v) for v in r) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
