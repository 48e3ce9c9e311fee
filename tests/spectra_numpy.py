"""Recomputes with numpy what tests/spectra_cases.c wrote with bpsweep, and compares.

Conventions (docs/metrics.md, "Convolution operator spectra" and "Rank projection"):
a kernel W (O, C, k, k) acts on an input (C, n, m) as the CIRCULAR cross-correlation

    y[o, i, j] = sum_{c, ki, kj} W[o, c, ki, kj] x[c, (s i + ki) mod n, (s j + kj) mod m]

- stride 1: its singular values are those of the O x C blocks P(u, v), P = np.fft.fft2 of
  each kernel zero-padded (taps beyond n or m wrapped) to n x m;
- stride s: those of the O x (C s^2) blocks (1/s) [P(u' + a n/s, v' + b m/s)]_{a, b};
- RankMin / RankMax on a stride-1 operator: every block P = U diag(sigma) V^H,
  t = threshold (x the largest sigma of the whole operator if relative),
  RankMin sigma' = 0 where sigma < t, RankMax sigma' = min(sigma, t); the intended kernel
  K = ifft2(U diag(sigma') V^H) (n x m), the new kernel its taps [0, k) x [0, k);
  changed_fraction = (values with sigma' != sigma) / (all min(O, C) n m values),
  restrict_distance = ||K outside the k x k support||_F / ||K||_F (0 when K = 0).
Every spectrum is also checked against the singular values of the operator matrix
assembled by applying the convolution to basis vectors (circular, and zero-padded for
bpsweep's conv_spectrum_dense).

usage: spectra_numpy.py DIR   (DIR written by spectra_cases)"""
import argparse
import json
import math
import os
import sys

import numpy as np

SPECTRUM_RTOL = 1e-5  # of the largest singular value
KERNEL_TOL = 1e-5     # of the largest tap of the original kernel
DIST_RTOL = 1e-6
DIST_ATOL = 1e-12     # distances that are 0 up to rounding (1x1 kernels)
TIE_RTOL = 1e-12      # a singular value this close to t may fall either side


def padded_kernel(W, n, m):
    """W (O, C, k, k) placed at taps [0, k) of an n x m grid, wrapped where k > n or m."""
    O, C, k, _ = W.shape
    K = np.zeros((O, C, n, m))
    for ki in range(k):
        for kj in range(k):
            K[:, :, ki % n, kj % m] += W[:, :, ki, kj]
    return K


def spectrum_fft(W, stride, n, m):
    """All singular values of the circular operator by the FFT method, descending."""
    P = np.fft.fft2(padded_kernel(W, n, m))  # (O, C, n, m)
    s, np_, mp_ = stride, n // stride, m // stride
    blocks = []
    for u in range(np_):
        for v in range(mp_):
            cols = [P[:, :, u + a * np_, v + b * mp_] for a in range(s) for b in range(s)]
            blocks.append(np.hstack(cols) / s)  # O x (C s^2)
    sv = np.linalg.svd(np.array(blocks), compute_uv=False).ravel()
    return np.sort(sv)[::-1]


def conv_apply(W, X, stride, pad, circular):
    """The convolution of a batch X (B, C, n, m): circular (taps mod n, m, output n/s x
    m/s) or zero-padded by pad (output (n + 2 pad - k)/s + 1 ...)."""
    O, C, k, _ = W.shape
    B, _, n, m = X.shape
    s = stride
    if circular:
        ho, wo = n // s, m // s
    else:
        ho, wo = (n + 2 * pad - k) // s + 1, (m + 2 * pad - k) // s + 1
        X = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    Y = np.zeros((B, O, ho, wo))
    for ki in range(k):
        for kj in range(k):
            if circular:  # Xs[b, c, i, j] = x[b, c, (s i + ki) mod n, (s j + kj) mod m]
                Xs = np.roll(X, (-ki, -kj), axis=(2, 3))[:, :, ::s, ::s]
            else:
                Xs = X[:, :, ki:ki + s * (ho - 1) + 1:s, kj:kj + s * (wo - 1) + 1:s]
            Y += np.einsum("oc,bcij->boij", W[:, :, ki, kj], Xs)
    return Y


def spectrum_matrix(W, stride, pad, n, m, circular):
    """Singular values of the operator matrix built column by column from basis inputs."""
    C = W.shape[1]
    E = np.eye(C * n * m).reshape(C * n * m, C, n, m)
    M = conv_apply(W, E, stride, pad, circular).reshape(C * n * m, -1).T
    return np.linalg.svd(M, compute_uv=False)


def project_conv(W, n, m, mode, threshold, relative):
    """RankMin / RankMax on the circular stride-1 operator. Returns the k x k kernel, the
    changed count, how many values are ties with t, the number of values, the
    restriction distance and the largest imaginary part of the intended kernel."""
    O, C, k, _ = W.shape
    P = np.fft.fft2(padded_kernel(W, n, m)).transpose(2, 3, 0, 1)  # (n, m, O, C)
    U, S, Vh = np.linalg.svd(P, full_matrices=False)
    smax = S.max()
    t = threshold * smax if relative else threshold
    if mode == "min":
        S2 = np.where(S < t, 0.0, S)
    else:
        S2 = np.minimum(S, t)
    changed = int(np.count_nonzero(S2 != S))
    ties = int(np.count_nonzero(np.abs(S - t) <= TIE_RTOL * smax))
    P2 = (U * S2[..., None, :]) @ Vh
    Kc = np.fft.ifft2(P2.transpose(2, 3, 0, 1))  # (O, C, n, m)
    K = Kc.real
    out = K.copy()
    out[:, :, :k, :k] = 0.0
    full = np.linalg.norm(K)
    dist = np.linalg.norm(out) / full if full > 0 else 0.0
    return K[:, :, :k, :k], changed, ties, S.size, dist, np.abs(Kc.imag).max()


def project_dense(Wd, mode, threshold, relative):
    """RankMin / RankMax on a dense W (O, I) with t relative to its own sigma_max."""
    U, S, Vh = np.linalg.svd(Wd, full_matrices=False)
    t = threshold * S[0] if relative else threshold
    S2 = np.where(S < t, 0.0, S) if mode == "min" else np.minimum(S, t)
    ties = int(np.count_nonzero(np.abs(S - t) <= TIE_RTOL * S[0]))
    return (U * S2) @ Vh, int(np.count_nonzero(S2 != S)), ties, S.size


class Checker:
    def __init__(self):
        self.failures = []

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
            print("  FAIL " + what)


def load(path, dtype, shape=None):
    a = np.fromfile(path, dtype=dtype)
    return a.reshape(shape) if shape is not None else a


def check_projection(ck, label, W, Wc, proj, n, m, worst):
    """Compare bpsweep's projected kernel Wc and recorded effect with numpy's."""
    k = W.shape[2]
    frac, dist = proj["changed_fraction"], proj["restrict_distance"]
    Kn, changed, ties, total, dist_n, imag = project_conv(
        W.astype(np.float64), n, m, proj["mode"], proj["threshold"], proj["relative"])
    scale = np.abs(W).max()
    kerr = np.abs(Wc.astype(np.float64) - Kn).max() / scale
    derr = abs(dist - dist_n)
    changed_c = frac * total
    ck.check(abs(changed_c - round(changed_c)) < 1e-9 and
             abs(round(changed_c) - changed) <= ties,
             "%s: changed_fraction %r (%g values), numpy %d of %d (%d ties)"
             % (label, frac, changed_c, changed, total, ties))
    ck.check(kerr <= KERNEL_TOL, "%s: kernel differs by %.3g of the largest tap" % (label, kerr))
    ck.check(derr <= DIST_RTOL * abs(dist_n) + DIST_ATOL,
             "%s: restrict_distance %r, numpy %r" % (label, dist, dist_n))
    ck.check(imag <= 1e-9 * scale, "%s: intended kernel not real (imag %.3g)" % (label, imag))
    if changed == 0 and ties == 0:  # nothing changes: bit-identical, effect {0, 0}
        ck.check(np.array_equal(Wc.view(np.uint32), W.view(np.uint32)) and frac == 0.0 and
                 dist == 0.0, "%s: no value changes, but the kernel or effect moved" % label)
    if proj["mode"] == "min" and changed == total:  # everything removed: all zero
        ck.check(not np.any(Wc) and dist == 0.0, "%s: RankMin above every value left a "
                 "non-zero kernel (max %.3g) or distance %r" % (label, np.abs(Wc).max(), dist))
    worst["kernel"] = max(worst["kernel"], kerr)
    if dist_n > 1e-9:  # relative where the distance is not 0 up to rounding
        worst["dist"] = max(worst["dist"], derr / dist_n)
    else:
        worst["dist0"] = max(worst["dist0"], derr)
    worst["frac"] = max(worst["frac"], abs(round(changed_c) - changed))
    return kerr, derr, changed, ties, total


def run_case(ck, d, c):
    name, O, C, k = c["name"], c["O"], c["C"], c["k"]
    s, pad, n, m = c["stride"], c["pad"], c["n"], c["m"]
    print("%s: %d -> %d, k %d, stride %d, pad %d, %dx%d" % (name, C, O, k, s, pad, n, m))
    W = load(os.path.join(d, name + ".kernel.f32"), np.float32, (O, C, k, k))
    Wd = W.astype(np.float64)
    sv = load(os.path.join(d, name + ".spectrum.f64"), np.float64)
    dense = load(os.path.join(d, name + ".dense.f64"), np.float64)
    fft = spectrum_fft(Wd, s, n, m)
    circ = spectrum_matrix(Wd, s, pad, n, m, circular=True)
    zero = spectrum_matrix(Wd, s, pad, n, m, circular=False)
    ck.check(sv.size == c["count"] == fft.size == circ.size,
             "%s: %d values, count %d, numpy %d (FFT), %d (matrix)"
             % (name, sv.size, c["count"], fft.size, circ.size))
    ck.check(dense.size == c["dense_count"] == zero.size,
             "%s: %d dense values, numpy %d" % (name, dense.size, zero.size))
    ck.check(np.all(np.diff(sv) <= 0), "%s: the spectrum is not sorted descending" % name)
    e_fft = e_circ = e_zero = math.inf
    if sv.size == fft.size == circ.size:
        e_fft = np.abs(sv - fft).max() / fft[0]
        e_circ = np.abs(sv - circ).max() / circ[0]
    if dense.size == zero.size:
        e_zero = np.abs(dense - zero).max() / zero[0]
    for what, e in (("FFT", e_fft), ("operator matrix", e_circ), ("zero-padded matrix", e_zero)):
        ck.check(e <= SPECTRUM_RTOL, "%s: spectrum vs numpy %s: %.3g of s_max" % (name, what, e))
    print("  spectrum: %d values, s_max %.6g; max|ds|/s_max vs numpy FFT %.2e, vs the "
          "circular operator matrix %.2e; zero-padded (conv_spectrum_dense) vs its matrix %.2e"
          % (sv.size, sv[0], e_fft, e_circ, e_zero))
    worst = {"kernel": 0.0, "dist": 0.0, "dist0": 0.0, "frac": 0}
    for p in c["projections"]:
        label = "%s %s" % (name, p["tag"])
        Wc = load(os.path.join(d, "%s.%s.f32" % (name, p["tag"])), np.float32, (O, C, k, k))
        if k > n or k > m:  # refused: the caller falls back to the reshaped projection
            ck.check(p["rc"] == 1 and np.array_equal(Wc.view(np.uint32), W.view(np.uint32)),
                     "%s: k > n, m should be refused with W untouched (rc %d)" % (label, p["rc"]))
            continue
        ck.check(p["rc"] == 0, "%s: rank_project_conv returned %d" % (label, p["rc"]))
        kerr, derr, changed, ties, total = check_projection(ck, label, W, Wc, p, n, m, worst)
        print("  %-13s changed %3d/%d (bpsweep %.6f), distance %.6f (|diff| %.1e), "
              "kernel max|diff|/max|W| %.1e"
              % (p["tag"], changed, total, p["changed_fraction"], p["restrict_distance"], derr,
                 kerr))
    if c["projections"] and not (k > n or k > m):
        print("  worst projection errors: kernel %.2e of max|W|, distance %.2e relative "
              "(%.1e absolute where it is 0), changed count %d"
              % (worst["kernel"], worst["dist"], worst["dist0"], worst["frac"]))
    elif c["projections"]:
        print("  projections: refused (k > n), kernel untouched")


def run_net(ck, d, net):
    """rank_project on a conv net: layer 0 and every bias untouched, layer 1 (a stride-1
    conv) by its operator at its input size, layer 2 (dense) by its matrix."""
    print("net: conv 2->3 (5x7), conv 3->4 (5x7), dense 140->3, rank_project")
    before = load(os.path.join(d, "net.before.f32"), np.float32)
    ck.check(before.size == net["n_params"], "net: %d params, expected %d"
             % (before.size, net["n_params"]))
    L = net["layers"]
    for p in net["projections"]:
        after = load(os.path.join(d, "net.%s.f32" % p["tag"]), np.float32)
        untouched = np.ones(before.size, dtype=bool)
        worst = {"kernel": 0.0, "dist": 0.0, "dist0": 0.0, "frac": 0}
        for l, ly in enumerate(L):
            size = ly["out"] * ly["in"]
            frac, dist = p["effects"][l]
            label = "net %s layer %d" % (p["tag"], l)
            if l == 0:
                ck.check(math.isnan(frac) and math.isnan(dist), "%s: effect not NaN" % label)
                continue
            untouched[ly["w"]:ly["w"] + size] = False
            W = before[ly["w"]:ly["w"] + size]
            Wc = after[ly["w"]:ly["w"] + size]
            if ly["kind"] == "conv":
                k, C = ly["k"], ly["C"]
                proj = dict(p, changed_fraction=frac, restrict_distance=dist)
                kerr, derr, changed, ties, total = check_projection(
                    ck, label, W.reshape(ly["out"], C, k, k), Wc.reshape(ly["out"], C, k, k),
                    proj, ly["n"], ly["m"], worst)
                print("  %s layer %d (conv %dx%d operator): changed %d/%d (bpsweep %.6f), "
                      "distance %.6f (|diff| %.1e), kernel %.1e"
                      % (p["tag"], l, ly["n"], ly["m"], changed, total, frac, dist, derr, kerr))
            else:
                Wn, changed, ties, total = project_dense(
                    W.reshape(ly["out"], ly["in"]).astype(np.float64), p["mode"],
                    p["threshold"], p["relative"])
                kerr = np.abs(Wc.reshape(Wn.shape) - Wn).max() / np.abs(W).max()
                ck.check(kerr <= KERNEL_TOL, "%s: dense W differs by %.3g" % (label, kerr))
                ck.check(abs(round(frac * total) - changed) <= ties and math.isnan(dist),
                         "%s: changed_fraction %r (numpy %d of %d), distance %r (NaN expected)"
                         % (label, frac, changed, total, dist))
                print("  %s layer %d (dense): changed %d/%d (bpsweep %.6f), W %.1e"
                      % (p["tag"], l, changed, total, frac, kerr))
        ck.check(np.array_equal(after[untouched].view(np.uint32),
                                before[untouched].view(np.uint32)),
                 "net %s: layer 0 or a bias changed" % p["tag"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", help="the directory spectra_cases wrote")
    args = ap.parse_args()
    with open(os.path.join(args.dir, "index.json")) as f:
        index = json.load(f)
    ck = Checker()
    for c in index["cases"]:
        run_case(ck, args.dir, c)
    run_net(ck, args.dir, index["net"])
    if ck.failures:
        print("spectra_numpy: %d failure(s)" % len(ck.failures))
        return 1
    print("spectra_numpy: all %d cases and the net agree with numpy" % len(index["cases"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
