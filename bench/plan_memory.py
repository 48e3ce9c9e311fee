#!/usr/bin/python3
"""Memory per point: `bpsweep plan`'s estimate against the peak RSS of the point trained.

For each net (the ConvNet w = 16 on 1x28x28, ResNet-18 with base width 16 on 3x32x32,
the MLP 784-1024-1024-10; batch 128, synthetic data of 512 training samples), writes a
one-point spec, reads plan's "memory" line, trains the point with `bpsweep train` and
takes its peak RSS (/usr/bin/time). The estimate is the whole line: data + net + the
runtime allowance plan states (~30 MiB: program, libraries, OpenBLAS's buffers; a serial
run has no MPI, so it is generous there). Prints both and their ratio; the target is
within 20%.
usage: plan_memory.py [--bin build/bpsweep]
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = [
    ("convnet-w16", [1, 28, 28], {"name": "cnn", "preset": "convnet", "widths": [16]}),
    ("resnet18-b16", [3, 32, 32], {"name": "r18", "preset": "resnet18", "base_width": 16}),
    ("mlp-1024", [1, 28, 28], {"name": "mlp", "hidden": [1024, 1024]}),
]
UNITS = {"B": 1 / 2**20, "KiB": 1 / 1024, "MiB": 1.0, "GiB": 1024.0}


def mib(text):
    v, u = text.split()
    return float(v) * UNITS[u]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "build", "bpsweep"))
    args = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    ok = True
    print(f"{'net':14s} {'plan MiB':>9s} {'peak RSS MiB':>13s} {'ratio':>6s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, shape, arch in NETS:
            c, h, w = shape
            spec = {"name": "mem", "data": {"source": "synthetic", "n_train": 512, "n_test": 128,
                                            "features": c * h * w, "classes": 10,
                                            "image_shape": shape},
                    "architectures": [arch], "grid": {"seed": [0]},
                    "train": {"epochs": 1, "batch_size": 128, "lr": 0.05}}
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(spec, f)
            out = subprocess.run([args.bin, "plan", path], env=env, check=True,
                                 capture_output=True, text=True).stdout
            m = re.search(r"memory:\s+([0-9.]+ \w+) of data.*plus ([0-9.]+ \w+) per rank.*"
                          r"runtime \(~([0-9.]+ \w+) per rank\)", out)
            plan = mib(m.group(1)) + mib(m.group(2)) + mib(m.group(3))
            res = subprocess.run(["/usr/bin/time", "-f", "maxrss %M", args.bin, "train", path,
                                  "--point", "0", "--quiet"], env=env, check=True,
                                 capture_output=True, text=True)
            rss = int(re.search(r"maxrss (\d+)", res.stderr).group(1)) / 1024  # KiB -> MiB
            ratio = plan / rss
            ok &= abs(ratio - 1) <= 0.2
            print(f"{name:14s} {plan:9.1f} {rss:13.1f} {ratio:6.2f}  "
                  f"{'ok' if abs(ratio - 1) <= 0.2 else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
