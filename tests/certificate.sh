#!/usr/bin/env bash
# The local-minimum certificate separates a constructed minimum from an ordinary one
# (claim 1). On two-dimensional data whose classes are unions of clusters (no linear
# classifier fits them), small MLPs are trained to convergence by full-batch SGD:
#   - with every bias at +20, every ReLU stays active: negative-pre-activation fraction
#     exactly 0, gradient norm < 1e-3, smallest Hessian eigenvalue >= -1e-3 |lambda_max|,
#     test accuracy within 1 point of its linear twin's (it is a linear model);
#   - with the default initialisation: negative fraction > 0.2 and test accuracy at least
#     3 points above its linear twin's.
# Without weight decay: with it, the +20 biases feel a pull of lambda * 20 each, which
# first-order training removes only over ~1 / (lr lambda) steps (measured: the gradient
# norm stalls at sqrt(16) * 5e-4 * 20 = 0.04 whatever the epochs).
#   usage: certificate.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
out=$tmp/cert.h5
"$bin" run "$specs/certificate.json" -o "$out" 2>"$tmp/log" && ok || bad "run: $(tail -3 "$tmp/log")"
$py - "$out" <<'PY' && ok || bad "the certificate does not separate the +20 minimum"
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
names = [a.decode() for a in f["/axes/architectures"][:]]
m = {n: {k: f["/metrics/" + k][i] for k in ("final_test_acc", "cert_grad_norm", "hessian_max_abs",
                                           "hessian_min")} for i, n in enumerate(names)}
neg = {n: f["/layers/relu_negative_fraction"][i][0] for i, n in enumerate(names)}
for n in names:
    print(f"{n:15s} test acc {m[n]['final_test_acc']:.4f}  grad norm {m[n]['cert_grad_norm']:.2e}  "
          f"lambda_max {m[n]['hessian_max_abs']:.4g}  lambda_min {m[n]['hessian_min']:.3g}  "
          f"negative fraction {neg[n]:.4f}")
b, bl, d, dl = m["bias20"], m["bias20_linear"], m["default"], m["default_linear"]
checks = [
    ("+20: negative fraction 0", neg["bias20"] == 0),
    ("+20: gradient norm < 1e-3", b["cert_grad_norm"] < 1e-3),
    ("+20: lambda_min >= -1e-3 |lambda_max|", b["hessian_min"] >= -1e-3 * abs(b["hessian_max_abs"])),
    ("+20: within 1 point of its linear twin",
     abs(b["final_test_acc"] - bl["final_test_acc"]) <= 0.01),
    ("default: negative fraction > 0.2", neg["default"] > 0.2),
    ("default: >= 3 points above its linear twin",
     d["final_test_acc"] - dl["final_test_acc"] >= 0.03),
]
for what, good in checks:
    print(f"  {'ok  ' if good else 'FAIL'} {what}")
sys.exit(0 if all(g for _, g in checks) else 1)
PY
summary
