#!/usr/bin/python3
"""PyTorch reference for the ConvNet learning figure: trains the bpsweep preset's ConvNet
(bench/torch_conv.py builds the same architecture) on Fashion-MNIST by the recipe of
bench/specs/convnet_fashion.json, and prints the test accuracy after every epoch.

Recipe: the full 60,000 / 10,000 IDX sets, each pixel standardised with the training
set's global mean and standard deviation (bpsweep's "standardize"), batches of 128
reshuffled every epoch, SGD lr 0.05 with momentum 0.9 and weight decay 5e-4, the learning
rate set per epoch to 0.5 lr (1 + cos(pi e / E)) for E epochs, PyTorch's default
initialisation, one thread. The linear twin (--linear) needs a smaller rate (--lr 0.005:
at 0.05 five stacked linear convolutions diverge in the first epoch, in bpsweep too).
usage: torch_learning_conv.py [--epochs E] [--width W] [--lr LR] [--linear] [--data DIR]
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from bpsweep.idx import read_idx  # noqa: E402
from torch_conv import convnet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--linear", action="store_true", help="the linear twin (no ReLU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    xs = {s: read_idx(os.path.join(args.data, f"{s}-images-idx3-ubyte.gz")).astype(np.float32)
          for s in ("train", "t10k")}
    ys = {s: read_idx(os.path.join(args.data, f"{s}-labels-idx1-ubyte.gz")).astype(np.int64)
          for s in ("train", "t10k")}
    mean, std = xs["train"].mean(dtype=np.float64), xs["train"].std(dtype=np.float64)
    x_train = torch.from_numpy((xs["train"] - mean) / std).float().unsqueeze(1)
    x_test = torch.from_numpy((xs["t10k"] - mean) / std).float().unsqueeze(1)
    y_train, y_test = torch.from_numpy(ys["train"]), torch.from_numpy(ys["t10k"])
    model = convnet(1, (28, 28), args.width, 10, False)
    if args.linear:
        model = nn.Sequential(*[m for m in model.modules()
                                if not isinstance(m, (nn.Sequential, nn.ReLU))])
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    n = x_train.shape[0]
    for e in range(args.epochs):
        for g in opt.param_groups:
            g["lr"] = 0.5 * args.lr * (1 + math.cos(math.pi * e / args.epochs))
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for i in range(0, n, 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            loss_fn(model(x_train[b]), y_train[b]).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            correct = sum((model(x_test[i:i + 1000]).argmax(1) == y_test[i:i + 1000]).sum().item()
                          for i in range(0, x_test.shape[0], 1000))
        print(f"epoch {e + 1} test_acc {correct / x_test.shape[0]:.4f} "
              f"seconds {time.perf_counter() - t0:.1f}", flush=True)


if __name__ == "__main__":
    main()
