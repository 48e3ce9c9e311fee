"""The "hdf5" data source on files written by h5py, compared with numpy.

Every case writes an HDF5 file as a user would, loads it with the C reader (hdf5_cases,
which calls dataset_load and dumps what it read) and compares pixels, labels and shape
with the arrays written, and the normalised values with numpy's statistics. Bad files
must exit 2 with one message naming the file and what was expected, from hdf5_cases and
from `bpsweep train`.

    usage: data_hdf5.py --cases HDF5_CASES --bpsweep BPSWEEP
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL", what)


def write_h5(path, groups):
    """groups: {"train/x": array, ...}; each array written as a dataset of that name."""
    with h5py.File(path, "w") as f:
        for name, arr in groups.items():
            f.create_dataset(name, data=arr)


def image_set(rng, n, shape, dtype, classes):
    if dtype == np.uint8:
        x = rng.integers(0, 256, size=(n,) + shape, dtype=np.uint8)
        # channels with different ranges, so per-channel statistics differ
        if len(shape) == 3:
            for c in range(shape[0]):
                x[:, c] = (x[:, c] // (c + 1) + 40 * c).astype(np.uint8)
    else:
        x = rng.normal(size=(n,) + shape).astype(np.float32)
        if len(shape) == 3:
            x *= np.arange(1, shape[0] + 1, dtype=np.float32).reshape(-1, 1, 1)
    y = (np.arange(n) * 7 % classes).astype(np.int64)
    return x, y


def load(args, tmp, path, classes, keep=(0, 0), norm="none", names=None):
    out = os.path.join(tmp, "out")
    cmd = [args.cases, path, str(classes), str(keep[0]), str(keep[1]), norm, out]
    cmd += names or []
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return None, r
    n_tr, n_te, d, k, c, h, w = map(int, r.stdout.split())
    read = {}
    for split, n in (("train", n_tr), ("test", n_te)):
        read[split + "/x"] = np.fromfile(f"{out}.{split}.x", dtype=np.float32).reshape(n, d)
        read[split + "/y"] = np.fromfile(f"{out}.{split}.y", dtype=np.uint8)
    return {"shape": (c, h, w), "classes": k, **read}, r


def normalised(x, x_train, norm, scale, per_channel_shape):
    """numpy's version of the normalisation of x with statistics of x_train (both raw)."""
    xs = (x.astype(np.float32) / np.float32(scale)).astype(np.float64)
    ts = x_train.astype(np.float64) / scale
    if norm == "none":
        return x.astype(np.float64)
    if norm == "unit":
        return xs
    if norm == "standardize":
        return (xs - ts.mean()) / ts.std()
    c = per_channel_shape[0]
    t = ts.reshape(len(ts), c, -1)
    mean, std = t.mean(axis=(0, 2)), t.std(axis=(0, 2))
    return ((xs.reshape(len(xs), c, -1) - mean[None, :, None]) / std[None, :, None])


def good_cases(args, tmp):
    rng = np.random.default_rng(15)
    cases = [("uint8 (N, C, H, W)", (3, 4, 5), np.uint8),
             ("uint8 (N, D)", (20,), np.uint8),
             ("float32 (N, C, H, W)", (2, 3, 3), np.float32),
             ("float32 (N, D)", (7,), np.float32)]
    for name, shape, dtype in cases:
        classes = 5
        xtr, ytr = image_set(rng, 13, shape, dtype, classes)
        xte, yte = image_set(rng, 6, shape, dtype, classes)
        path = os.path.join(tmp, "good.h5")
        write_h5(path, {"train/x": xtr, "train/y": ytr, "test/x": xte, "test/y": yte})
        want_shape = shape if len(shape) == 3 else (shape[0], 1, 1)
        scale = 255.0 if dtype == np.uint8 else 1.0
        for norm in ("none", "unit", "standardize", "per_channel"):
            got, r = load(args, tmp, path, classes, norm=norm)
            check(got is not None, f"{name} {norm}: {r.stderr.strip()}")
            if got is None:
                continue
            check(got["shape"] == want_shape, f"{name}: shape {got['shape']}, want {want_shape}")
            check(got["classes"] == classes, f"{name}: classes {got['classes']}")
            check(np.array_equal(got["train/y"], ytr) and np.array_equal(got["test/y"], yte),
                  f"{name} {norm}: labels differ")
            for split, x in (("train", xtr), ("test", xte)):
                want = normalised(x, xtr, norm, scale, want_shape).reshape(len(x), -1)
                diff = np.abs(got[split + "/x"].astype(np.float64) - want)
                tol = 0.0 if norm == "none" else 1e-6 * (1 + np.abs(want))
                check(np.all(diff <= tol), f"{name} {norm} {split}: max difference "
                      f"{diff.max():.3g} from numpy")
            print(f"ok  {name:22s} {norm}")
        # subsets: the first samples, in order
        got, r = load(args, tmp, path, classes, keep=(4, 2))
        check(got is not None and np.array_equal(got["train/x"], xtr[:4].reshape(4, -1)) and
              np.array_equal(got["test/y"], yte[:2]), f"{name}: subset differs {r.stderr}")
    # other label types and dataset names of the user's choosing
    xtr, _ = image_set(rng, 9, (1, 2, 2), np.uint8, 3)
    xte, _ = image_set(rng, 4, (1, 2, 2), np.uint8, 3)
    for ytype in (np.uint8, np.int32, np.uint16):
        path = os.path.join(tmp, "names.h5")
        ytr, yte = (np.arange(9) % 3).astype(ytype), (np.arange(4) % 3).astype(ytype)
        write_h5(path, {"a/images": xtr, "a/labels": ytr, "b/images": xte, "b/labels": yte})
        got, r = load(args, tmp, path, 3, names=["a/images", "a/labels", "b/images", "b/labels"])
        check(got is not None and np.array_equal(got["train/y"], ytr) and
              np.array_equal(got["test/x"], xte.reshape(4, -1)), f"labels {ytype}: {r.stderr}")
    print("ok  label types uint8, int32, uint16; custom dataset names")


def bad_cases(args, tmp):
    rng = np.random.default_rng(16)
    xtr, ytr = image_set(rng, 10, (3, 2, 2), np.uint8, 4)
    xte, yte = image_set(rng, 5, (3, 2, 2), np.uint8, 4)
    good = {"train/x": xtr, "train/y": ytr, "test/x": xte, "test/y": yte}

    def variant(**change):
        g = dict(good)
        for k, v in change.items():
            name = k.replace("__", "/")
            if v is None:
                del g[name]
            else:
                g[name] = v
        return g

    cases = [
        ("missing dataset", variant(test__y=None), 'no dataset "test/y"'),
        ("missing group", variant(test__x=None, test__y=None), 'no dataset "test/x" (no "test"'),
        ("lengths differ", variant(train__y=ytr[:9]),
         '"train/x" holds 10 samples but "train/y" holds 9 labels'),
        ("non-integer y", variant(train__y=ytr.astype(np.float32)),
         '"train/y" holds floating-point values; expected integer class labels'),
        ("label >= classes", variant(test__y=np.array([0, 1, 4, 2, 1])),
         '"test/y": label 4 at index 2 is out of range [0, 4)'),
        ("negative label", variant(train__y=-ytr), "out of range [0, 4)"),
        ("empty set", variant(train__x=xtr[:0], train__y=ytr[:0]),
         '"train/x" holds 0 samples; expected at least one'),
        ("float64 x", variant(test__x=xte.astype(np.float64)),
         '"test/x" holds floats of 8 bytes; expected uint8'),
        ("rank 3 x", variant(train__x=xtr[:, 0]), '"train/x" has 3 dimensions'),
        ("shapes differ", variant(test__x=xte[:, :2]), "differ in shape"),
        ("types differ", variant(test__x=xte.astype(np.float32)),
         '"train/x" holds uint8 but "test/x" holds float32'),
        ("y of rank 2", variant(train__y=ytr.reshape(10, 1)), '"train/y" has 2 dimensions'),
    ]
    for name, groups, want in cases:
        path = os.path.join(tmp, "bad.h5")
        write_h5(path, groups)
        expect_bad(args, tmp, name, path, want)
    path = os.path.join(tmp, "bad.h5")
    write_h5(path, good)
    expect_bad(args, tmp, "subset too large", path,
               'train_subset 11 exceeds the 10 samples of', keep=(11, 0))
    with open(path, "wb") as f:
        f.write(b"not an HDF5 file\n" * 100)
    expect_bad(args, tmp, "not HDF5", path, "not an HDF5 file")
    expect_bad(args, tmp, "missing file", os.path.join(tmp, "nope.h5"),
               "cannot open HDF5 data file: No such file or directory")

    # through the binary: exit 2, one line naming the file, nothing on stdout
    for name, groups, want in cases[:4]:
        path = os.path.join(tmp, "cli.h5")
        write_h5(path, groups)
        spec = os.path.join(tmp, "cli.json")
        with open(spec, "w") as f:
            json.dump({"data": {"source": "hdf5", "path": path, "classes": 4},
                       "architectures": [{"name": "m", "hidden": [4]}], "grid": {"seed": [0]},
                       "train": {"epochs": 1}}, f)
        r = subprocess.run([args.bpsweep, "train", spec, "--point", "0"], capture_output=True,
                           text=True)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and not r.stdout and len(lines) == 1 and path in lines[0] and
              want in lines[0], f"bpsweep, {name}: exit {r.returncode}, stderr {r.stderr!r}")
        print(f"ok  bpsweep train, {name}: exit 2")


def expect_bad(args, tmp, name, path, want, keep=(0, 0)):
    got, r = load(args, tmp, path, 4, keep=keep)
    msg = r.stderr.strip()
    check(got is None and r.returncode == 2 and path in msg and want in msg and
          "\n" not in msg, f"{name}: exit {r.returncode}, message {msg!r}, want {want!r}")
    print(f"ok  {name}: {msg}")


def end_to_end(args, tmp):
    """A tiny image sweep on an HDF5 set trains through the binary."""
    rng = np.random.default_rng(17)
    xtr, ytr = image_set(rng, 64, (3, 4, 4), np.uint8, 3)
    xte, yte = image_set(rng, 16, (3, 4, 4), np.uint8, 3)
    path = os.path.join(tmp, "e2e.h5")
    write_h5(path, {"train/x": xtr, "train/y": ytr, "test/x": xte, "test/y": yte})
    spec = os.path.join(tmp, "e2e.json")
    with open(spec, "w") as f:
        json.dump({"data": {"source": "hdf5", "path": path, "classes": 3,
                            "normalization": "per_channel"},
                   "architectures": [{"name": "m", "hidden": [8]}], "grid": {"seed": [0]},
                   "train": {"epochs": 2, "batch_size": 16}}, f)
    r = subprocess.run([args.bpsweep, "train", spec, "--point", "0"], capture_output=True,
                       text=True)
    check(r.returncode == 0 and "result " in r.stdout, f"end to end: exit {r.returncode}, "
          f"{r.stderr[:300]}")
    print("ok  bpsweep train on an HDF5 set, per_channel")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", required=True, help="the hdf5_cases test program")
    p.add_argument("--bpsweep", required=True, help="the bpsweep binary")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        good_cases(args, tmp)
        bad_cases(args, tmp)
        end_to_end(args, tmp)
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
