#!/usr/bin/python3
"""Empirical NTK benchmark: bpsweep's layer-wise kernel against PyTorch per-logit autograd.

The kernel of a 784-1024-1024-10 MLP over 25 inputs and all 10 logits (250 x 250), on
one core (one BLAS / torch thread each, the environment's OpenBLAS settings unchanged):
  * PyTorch: 250 calls of torch.autograd.grad (one per sample and logit), gradients
    stacked into G (250 x P), K = G G^T - what a per-logit reference costs;
  * bpsweep: build/bench/bench_ntk, ntk_kernel (Gram matrices layer by layer).
Prints both times and the speed-up (target >= 10x).
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_seconds(dims, n, repeats):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layers = []
    for i, o in zip(dims[:-1], dims[1:]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1]).eval()
    params = list(model.parameters())
    x = torch.rand(n, dims[0]) * 2 - 1
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = model(x)
        rows = []
        for i in range(n):
            for l in range(dims[-1]):
                g = torch.autograd.grad(out[i, l], params, retain_graph=True)
                rows.append(torch.cat([t.reshape(-1) for t in g]))
        G = torch.stack(rows)
        K = G @ G.T
        times.append(time.perf_counter() - t0)
        del G, K
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-bin", default=os.path.join(HERE, "..", "build", "bench", "bench_ntk"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=25)
    a = ap.parse_args()
    dims = [784, 1024, 1024, 10]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([a.bench_bin, *map(str, dims), "--samples", str(a.samples),
                          "--repeats", str(max(5, a.repeats))], env=env, check=True,
                         capture_output=True, text=True).stdout
    c = {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", out)}
    t = torch_seconds(dims, a.samples, a.repeats)
    m = a.samples * dims[-1]
    print(f"empirical NTK {m} x {m}, MLP {'-'.join(map(str, dims))}, one core")
    print(f"  PyTorch per-logit autograd: {t:8.3f} s (median of {a.repeats})")
    print(f"  bpsweep ntk_kernel:         {c['seconds']:8.3f} s (median of {max(5, a.repeats)}; "
          f"fastest {c['min']:.3f} s)")
    ratio = t / c["seconds"]
    print(f"  speed-up: {ratio:.0f}x (target >= 10x) {'ok' if ratio >= 10 else 'BELOW TARGET'}")
    return 0 if ratio >= 10 else 1


if __name__ == "__main__":
    sys.exit(main())
