#!/usr/bin/env bash
# The constructed linear minimum (init.construct, claim 1) on synthetic data: 4 features,
# 3 overlapping classes. The linear fit (L-BFGS) meets its tolerance; the ReLU nets built
# from it (1 and 3 hidden layers) compute the linear model's logits (max difference at
# float rounding; Newton and L-BFGS fits agree), every ReLU is active on every training and test input, and the
# certificate on the full training set calls them minima (gradient norm < 1e-4,
# lambda_min >= -1e-4 |lambda_max|); their accuracy is the linear model's. A default-
# initialised net of the same shape, untrained, is not certified.
#   usage: construct.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
out=$tmp/construct.h5
"$bin" run "$specs/construct.json" -o "$out" 2>"$tmp/log" && ok || bad "run: $(tail -3 "$tmp/log")"
$py - "$out" <<'PY' && ok || bad "the construction does not hold"
import sys
import h5py
import numpy as np
f = h5py.File(sys.argv[1], "r")
names = [a.decode() for a in f["/axes/architectures"][:]]
m = {k: f["/metrics/" + k][:].ravel() for k in f["/metrics"]}
neg, negt = f["/layers/relu_negative_fraction"][:], f["/layers/relu_negative_fraction_test"][:]
i = {n: k for k, n in enumerate(names)}
for n in names:
    k = i[n]
    print(f"{n:8s} test acc {m['final_test_acc'][k]:.4f}  fit grad {m['construct_grad_norm'][k]:.2e}"
          f" ({m['construct_iterations'][k]:.0f} it)  logit diff {m['construct_logit_diff'][k]:.2e}"
          f"  cert grad {m['cert_grad_norm'][k]:.2e}  lambda_min {m['hessian_min'][k]:.3g}"
          f"  lambda_max {m['hessian_max_abs'][k]:.4g}  verdict {m['cert_verdict'][k]:.0f}")
fails = []
lin = i["lin"]
for n in ("a", "a3", "a_lbfgs", "lin"):
    k = i[n]
    if not m["construct_grad_norm"][k] < 1e-9: fails.append(f"{n}: fit did not converge")
    if not m["construct_logit_diff"][k] < 1e-5: fails.append(f"{n}: logits differ")
    if not m["cert_verdict"][k] == 1: fails.append(f"{n}: not certified")
    if not m["cert_grad_norm"][k] < 1e-4: fails.append(f"{n}: gradient norm")
    if m["final_test_acc"][k] != m["final_test_acc"][lin]: fails.append(f"{n}: accuracy differs from the linear model's")
for n in ("a", "a3"):
    k = i[n]
    row = neg[k][~np.isnan(neg[k])]
    rowt = negt[k][~np.isnan(negt[k])]
    if len(row) == 0 or np.any(row != 0) or np.any(rowt != 0): fails.append(f"{n}: a ReLU is inactive")
if m["cert_verdict"][i["default"]] == 1: fails.append("default: certified")
print("\n".join(fails) or "all checks hold")
sys.exit(1 if fails else 0)
PY
summary
