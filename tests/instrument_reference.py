"""Checks bpsweep's instruments against PyTorch on the same weights, all cases in one
process: the empirical NTK against per-logit torch.autograd gradients (elementwise
within 1e-4 of the largest entry).
    usage: instrument_reference.py CASEDIR   (written by tests/instrument_cases)"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import Mlp, set_flat  # noqa: E402


def load(d, name, what, dtype):
    return np.fromfile(os.path.join(d, f"{name}.{what}"), dtype=dtype)


def ntk_reference(model, x):
    """K = G G^T with G the (n*K, P) per-logit gradients, rows i*K + l, in float64."""
    params = [p for p in model.parameters()]
    out = model(x)
    rows = []
    for i in range(out.shape[0]):
        for l in range(out.shape[1]):
            g = torch.autograd.grad(out[i, l], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]).double())
    G = torch.stack(rows)
    return (G @ G.T).numpy()


def check_ntk(d, c):
    model = Mlp(c)
    set_flat(model.flat_params(), load(d, c["name"], "params.f32", np.float32))
    if c["batch_norm"]:
        set_flat(model.flat_buffers(), load(d, c["name"], "buffers.f32", np.float32))
    model.eval()
    x = torch.from_numpy(load(d, c["name"], "x.f32", np.float32).reshape(c["n"], c["n_in"]))
    ref = ntk_reference(model, x)
    got = load(d, c["name"], "ntk.f64", np.float64).reshape(ref.shape)
    err = np.abs(got - ref).max() / np.abs(ref).max()
    ok = err <= 1e-4
    print(f"ntk {c['name']:8s} M={ref.shape[0]:3d}  max |K - K_torch| / max |K_torch| = "
          f"{err:.2e}  {'ok' if ok else 'FAIL (limit 1e-4)'}")
    return ok


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    cases = json.load(open(os.path.join(d, "cases.json")))
    ok = all([check_ntk(d, c) for c in cases])
    print("all instruments match PyTorch" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
