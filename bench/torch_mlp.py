#!/usr/bin/python3
"""PyTorch reference loop for bench/mlp.py: samples/s of SGD training of an MLP.

Pre-batched random tensors in memory, torch.set_num_threads(1), nn.Linear + ReLU,
CrossEntropyLoss, torch.optim.SGD(lr, momentum 0.9, weight decay 5e-4): the same
work per step as bpsweep's trainer. Prints: torch <dims> samples_per_s <x> step_ms <x>
"""
import argparse
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dims", type=int, nargs="+", help="D H1 ... K")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    d = args.dims
    layers = []
    for i, o in zip(d[:-2], d[1:-1]):
        layers += [torch.nn.Linear(i, o), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers, torch.nn.Linear(d[-2], d[-1]))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    n_batches = 50
    xs = [torch.randn(args.batch, d[0]) for _ in range(n_batches)]
    ys = [torch.randint(0, d[-1], (args.batch,)) for _ in range(n_batches)]

    def step(i):
        opt.zero_grad()
        loss = loss_fn(model(xs[i % n_batches]), ys[i % n_batches])
        loss.backward()
        opt.step()

    for i in range(n_batches):  # warm-up
        step(i)
    # mean step time of chunks of 20 steps; the median chunk counts (as bench_mlp does)
    chunks = []
    for c in range(max(1, args.steps // 20)):
        t0 = time.perf_counter()
        for i in range(20):
            step(c * 20 + i)
        chunks.append((time.perf_counter() - t0) / 20)
    dt = statistics.median(chunks)
    print(f"torch {'-'.join(map(str, d))} batch {args.batch} samples_per_s "
          f"{args.batch / dt:.1f} step_ms {dt * 1e3:.4f}", flush=True)


if __name__ == "__main__":
    main()
