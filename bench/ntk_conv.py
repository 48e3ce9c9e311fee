#!/usr/bin/python3
"""Empirical NTK benchmark on conv nets: bpsweep's kernel against PyTorch per-logit autograd.

The kernel over 25 inputs and all 10 logits (250 x 250) of the ConvNet w = 16 on 1x28x28
and the ResNet-18 of base width 16 on 3x32x32 (batch norm, evaluation mode), on one core
(one BLAS / torch thread each):
  * PyTorch: the same architecture as torch modules (tests/conv_reference.py's ConvNet
    and ResNet18), 250 calls of torch.autograd.grad (one per sample and logit) on one
    forward of the 25 inputs, gradients stacked into G (250 x P), K = G G^T - what
    bench/ntk.py times for the MLP;
  * bpsweep: build/bench/bench_ntk --preset ..., ntk_kernel (the per-op Jacobian path:
    the 250 rows backward in passes of a few samples, each op's Jacobian block from
    them, K += J J^T).
Prints both times, OpenBLAS's kernel set and the speed-up per net (the issue's target:
>= 10x). OpenBLAS 0.3.21 does not recognise every CPU and then runs its generic SSE3
kernels (Prescott), while PyTorch's oneDNN convolutions use the CPU's AVX-512; with
OPENBLAS_CORETYPE=SkylakeX in the environment both sides use AVX-512 (on a CPU that has it).
usage: ntk_conv.py [--nets convnet,resnet18] [--repeats r]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = {  # name: (bench_ntk arguments, conv_reference.build description)
    "convnet": (["--preset", "convnet", "--width", "16", "--shape", "1", "28", "28"],
                {"arch": "convnet", "in_shape": [1, 28, 28], "width_mult": 16}),
    "resnet18": (["--preset", "resnet18", "--width", "16", "--shape", "3", "32", "32"],
                 {"arch": "resnet18", "in_shape": [3, 32, 32], "base_width": 16, "width_mult": 1}),
}


def torch_seconds(desc, n, repeats):
    import torch
    sys.path.insert(0, os.path.join(HERE, "..", "tests"))
    import conv_reference
    torch.set_num_threads(1)
    torch.manual_seed(0)
    c = dict(desc, n_out=10, batch_norm=True, skip=True, relu=True)
    model = conv_reference.build(c).eval()
    params = list(model.parameters())
    x = torch.rand(n, *c["in_shape"]) * 2 - 1
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = model(x)
        rows = []
        for i in range(n):
            for l in range(out.shape[1]):
                g = torch.autograd.grad(out[i, l], params, retain_graph=True)
                rows.append(torch.cat([t.reshape(-1) for t in g]))
        G = torch.stack(rows)
        K = G @ G.T
        times.append(time.perf_counter() - t0)
        del G, K
    return sorted(times)[len(times) // 2], sum(p.numel() for p in params)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-bin", default=os.path.join(HERE, "..", "build", "bench", "bench_ntk"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--samples", type=int, default=25)
    ap.add_argument("--nets", default="convnet,resnet18")
    a = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    ok = True
    for name in a.nets.split(","):
        args, desc = NETS[name]
        out = subprocess.run([a.bench_bin, *args, "--classes", "10", "--samples", str(a.samples),
                              "--repeats", str(a.repeats)], env=env, check=True,
                             capture_output=True, text=True).stdout
        b = {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", out)}
        t, P = torch_seconds(desc, a.samples, a.repeats)
        assert P == int(b["params"]), (P, b["params"])  # the same architecture
        m = a.samples * 10
        ratio = t / b["seconds"]
        ok = ok and ratio >= 10
        print(f"empirical NTK {m} x {m}, {name} ({' '.join(args[2:])}), P = {P}, one core")
        print(f"  PyTorch per-logit autograd: {t:8.2f} s (median of {a.repeats})")
        core = re.search(r"blas_core (\S+)", out).group(1)
        print(f"  bpsweep ntk_kernel:         {b['seconds']:8.2f} s (median of {a.repeats}; "
              f"OpenBLAS kernels {core})")
        print(f"  speed-up: {ratio:.1f}x (target >= 10x) {'ok' if ratio >= 10 else 'BELOW TARGET'}",
              flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
