#!/usr/bin/python3
"""Fashion-MNIST projected on its first k principal components, whitened: the data of
the claim-1 sweeps (sweeps/claim1.json).

Why not raw pixels: without weight decay the linear softmax classifier on raw pixels has
no finite minimiser. Pixels that are non-zero in only a few training images, all of one
class, let a weight grow without bound while the loss keeps falling (measured: L-BFGS
and Newton iterates whose norm grows past 10^3-10^4 while the loss changes in its 10th
digit), so no constructed net can have a zero gradient. On the principal components
every direction varies across all classes, and Newton's method reaches a gradient norm
of 1e-12 at a weight norm of about 100 (k = 50).

Pixels are scaled to [0, 1]; the mean, the covariance and its eigenvectors come from the
training set alone (float64, numpy.linalg.eigh; each eigenvector's sign fixed so that
its largest-magnitude entry is positive, so the file is the same on every machine);
train and test are projected with them and divided by sqrt(eigenvalue). Writes the
"hdf5" source of docs/data.md: train/x, test/x float32 (N, k), train/y, test/y uint8.

    /usr/bin/python3 analysis/prepare_claim1_data.py OUT.h5 [--components 50]
        [--source /usr/share/datasets/fashion-mnist]
"""
import argparse
import os
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results  # noqa: E402,F401  (puts the source tree's package on the path)
from bpsweep.idx import read_idx  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--components", type=int, default=50)
    ap.add_argument("--source", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    src = lambda name: os.path.join(a.source, name)
    xtr = read_idx(src("train-images-idx3-ubyte.gz")).reshape(60000, -1) / 255.0
    ytr = read_idx(src("train-labels-idx1-ubyte.gz"))
    xte = read_idx(src("t10k-images-idx3-ubyte.gz")).reshape(10000, -1) / 255.0
    yte = read_idx(src("t10k-labels-idx1-ubyte.gz"))
    mu = xtr.mean(0)
    cov = (xtr - mu).T @ (xtr - mu) / len(xtr)
    ev, U = np.linalg.eigh(cov)
    order = np.argsort(ev)[::-1][:a.components]
    ev, U = ev[order], U[:, order]
    U *= np.sign(U[np.abs(U).argmax(0), np.arange(U.shape[1])])
    proj = lambda x: ((x - mu) @ U / np.sqrt(ev)).astype(np.float32)
    # written next to OUT under a temporary name, then renamed: never a half-written file
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(a.out)), suffix=".h5")
    os.close(fd)
    with h5py.File(tmp, "w") as f:
        f.create_dataset("train/x", data=proj(xtr))
        f.create_dataset("train/y", data=ytr.astype(np.uint8))
        f.create_dataset("test/x", data=proj(xte))
        f.create_dataset("test/y", data=yte.astype(np.uint8))
        f.attrs["description"] = (f"Fashion-MNIST, pixels/255, first {a.components} principal "
                                  "components of the training set, whitened")
        f.attrs["explained_variance_fraction"] = float(ev.sum() / np.trace(cov))
    os.replace(tmp, a.out)
    print(f"wrote {a.out}: {a.components} components, "
          f"{100 * ev.sum() / np.trace(cov):.1f}% of the pixel variance")


if __name__ == "__main__":
    main()
