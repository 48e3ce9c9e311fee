#!/usr/bin/python3
"""PyTorch reference loop for bench/conv.py: samples/s of SGD training of a ConvNet or a
CIFAR ResNet-18 (the architectures of bpsweep's presets, docs/spec.md).

Pre-batched random images in memory, torch.set_num_threads(1) (oneDNN convolutions),
CrossEntropyLoss, torch.optim.SGD(lr 0.01, momentum 0.9, weight decay 5e-4), batch 128:
the same work per step as bpsweep's trainer. Prints:
  torch <name> samples_per_s <x> step_ms <x>
"""
import argparse
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F


def convnet(cin, hw, w, classes, bn):
    layers = []
    for i, o in enumerate([w, 2 * w, 2 * w, 4 * w, 4 * w]):
        layers.append(nn.Conv2d(cin, o, 3, padding=1, bias=not bn))
        if bn:
            layers.append(nn.BatchNorm2d(o))
        layers.append(nn.ReLU())
        if i >= 3:
            layers.append(nn.MaxPool2d(3))
        cin = o
    features = nn.Sequential(*layers)
    n = features(torch.zeros(1, layers[0].in_channels, *hw)).numel()
    return nn.Sequential(features, nn.Flatten(), nn.Linear(n, classes))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                       nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        return F.relu(self.b2(self.c2(y)) + self.short(x))


class ResNet18(nn.Module):
    def __init__(self, cin, base, w, classes):
        super().__init__()
        widths = [base, 2 * base * w, 4 * base * w, 8 * base * w]
        self.stem = nn.Sequential(nn.Conv2d(cin, base, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(base), nn.ReLU())
        blocks, c = [], base
        for s, o in enumerate(widths):
            for k in range(2):
                blocks.append(Block(c, o, 2 if s > 0 and k == 0 else 1))
                c = o
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        y = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset", choices=["convnet", "resnet18"])
    ap.add_argument("width", type=int)
    ap.add_argument("base", type=int)
    ap.add_argument("shape", type=int, nargs=3, help="C H W")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    c, h, w = args.shape
    if args.preset == "convnet":
        model = convnet(c, (h, w), args.width, 10, False)
    else:
        model = ResNet18(c, args.base, args.width, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    n_batches = 10
    xs = [torch.randn(args.batch, c, h, w) for _ in range(n_batches)]
    ys = [torch.randint(0, 10, (args.batch,)) for _ in range(n_batches)]

    def step(i):
        opt.zero_grad()
        loss = loss_fn(model(xs[i % n_batches]), ys[i % n_batches])
        loss.backward()
        opt.step()

    for i in range(n_batches):  # warm-up: one epoch, as bench_conv
        step(i)
    # per-step time of epochs of n_batches steps; the median epoch counts
    epochs = []
    for e in range(max(1, args.steps // n_batches)):
        t0 = time.perf_counter()
        for i in range(n_batches):
            step(i)
        epochs.append((time.perf_counter() - t0) / n_batches)
    s = statistics.median(epochs)
    name = f"{args.preset}-w{args.width}-b{args.base}-{c}x{h}x{w}"
    print(f"torch {name} samples_per_s {args.batch / s:.1f} step_ms {s * 1e3:.3f}")


if __name__ == "__main__":
    main()
