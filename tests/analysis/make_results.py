#!/usr/bin/python3
"""Write a small, fake but realistic bpsweep results file, so that the analysis
scripts can be tested without running the C code.

The sweep: 2 architectures (mlp: 784-128-128-10, linear: 784-128-10 without ReLU)
x 1 condition (base) x 1 norm-bias target (0) x 3 weight decays (0, 1e-4, 5e-4)
x 3 seeds = 18 points, 6 epochs each, in the layout of docs/results-format.md.
Most points are done; a few are not, as in a sweep that is still running:

    index  5  mlp    wd=1e-4  seed=2   diverged at epoch 3 (curves stop there)
    index  8  mlp    wd=5e-4  seed=2   pending (its rows were never written: zeros)
    index 15  linear wd=5e-4  seed=0   failed after 3 attempts, with a message
    index 16  linear wd=5e-4  seed=1   pending

So the (mlp, 1e-4) and (mlp, 5e-4) groups have 2 done seeds and (linear, 5e-4) has 1.

    /usr/bin/python3 tests/analysis/make_results.py fake.h5 [--weights]
"""

import argparse
import json
import math
import sys

import h5py
import numpy as np

ARCHS = [  # name, hidden widths, activation
    ("mlp", [128, 128], "relu"),
    ("linear", [128], "identity"),
]
CONDITIONS = ["base"]
NORM_BIAS = [0.0]
WEIGHT_DECAY = [0.0, 1e-4, 5e-4]
SEEDS = [0, 1, 2]
EPOCHS = 6
N_IN, N_OUT = 784, 10

DIVERGED = {5: 3}         # index -> epoch (1-based) at which the loss became NaN
PENDING = {8, 16}
FAILED = {15: "out of memory allocating the network (101770 parameters); "
              "hint: run fewer ranks per node"}

PENDING_CODE, DONE_CODE, DIVERGED_CODE, FAILED_CODE = 0, 1, 2, 3


def fnv1a64(text):
    """The spec hash bpsweep uses: 64-bit FNV-1a of the canonical text."""
    h = 0xcbf29ce484222325
    for byte in text.encode():
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def as_json_number(x):
    """Whole numbers as integers, as the canonical form prints them (0, not 0.0)."""
    return int(x) if float(x).is_integer() else x


def canonical_spec():
    """The sweep's spec in bpsweep's canonical form (compact JSON, defaults filled)."""
    train = {"epochs": EPOCHS, "batch_size": 128, "lr": 0.05, "momentum": 0.9,
             "nesterov": False, "schedule": {"type": "cosine"}, "shuffle": True,
             "drop_last": False, "clip_value": 0}
    spec = {
        "schema_version": 1,
        "name": "fake-wd",
        "data": {"source": "idx", "path": "/usr/share/datasets/fashion-mnist",
                 "train_subset": 10000, "test_subset": 2000, "normalization": "standardize"},
        "architectures": [
            {"name": name, "hidden": hidden, "activation": act, "skip": False,
             "batch_norm": False, "init": {"weights": "torch_default", "bias": "torch_default"}}
            for name, hidden, act in ARCHS],
        "grid": {"weight_decay": [as_json_number(v) for v in WEIGHT_DECAY], "seed": SEEDS,
                 "norm_bias": {"targets": [as_json_number(v) for v in NORM_BIAS],
                               "relative": True},
                 "conditions": [{"name": c, "train": train} for c in CONDITIONS]},
        "train": train,
    }
    return json.dumps(spec, separators=(",", ":"))


def layer_shapes(hidden):
    """(fan_out, fan_in) of each dense layer."""
    sizes = [N_IN] + hidden + [N_OUT]
    return [(sizes[i + 1], sizes[i]) for i in range(len(sizes) - 1)]


def n_params(hidden):
    return sum(o * i + o for o, i in layer_shapes(hidden))


def fixed(strings, size):
    """Fixed-length, NUL-padded byte strings as the C code writes them."""
    return np.array([s.encode() for s in strings], dtype=f"S{size}")


def make(path, weights=False, seed=12345):
    rng = np.random.default_rng(seed)
    rng_weights = np.random.default_rng(seed + 1)  # the other numbers do not depend on --weights
    grid = [(a, c, nb, wd, s)
            for a in range(len(ARCHS)) for c in range(len(CONDITIONS))
            for nb in range(len(NORM_BIAS)) for wd in range(len(WEIGHT_DECAY))
            for s in range(len(SEEDS))]  # architecture outermost, seed innermost
    n = len(grid)
    max_layers = max(len(h) + 1 for _, h, _ in ARCHS)
    max_params = max(n_params(h) for _, h, _ in ARCHS) if weights else 0

    # Every per-point dataset starts as the C code leaves an unwritten row: zeros.
    status = np.zeros(n, np.uint8)
    metric_names = ["final_train_loss", "final_train_acc", "final_test_loss",
                    "final_test_acc", "param_norm", "init_param_norm"]
    metrics = {m: np.zeros(n) for m in metric_names}
    curve_names = ["train_loss", "train_acc", "test_loss", "test_acc", "lr", "epoch_seconds"]
    curves = {m: np.zeros((n, EPOCHS)) for m in curve_names}
    layers = {m: np.zeros((n, max_layers)) for m in ["frobenius", "spectral", "effective_rank"]}
    run = {
        "param_hash": np.zeros(n, np.uint64), "epochs_run": np.zeros(n, np.int32),
        "diverged_epoch": np.zeros(n, np.int32), "n_params": np.zeros(n, np.int64),
        "wall_seconds": np.zeros(n), "rank": np.zeros(n, np.int32),
        "host": [""] * n, "attempts": np.zeros(n, np.int32), "finished": np.zeros(n),
        "message": [""] * n,
    }
    w = np.zeros((n, max_params), np.float32) if weights else None
    created = 1718000000.0
    clock = created

    for i, (a, c, nb, wd_i, s) in enumerate(grid):
        if i in PENDING:
            continue
        name, hidden, act = ARCHS[a]
        wd = WEIGHT_DECAY[wd_i]
        run["attempts"][i] = 3 if i in FAILED else 1
        run["rank"][i] = i % 4
        run["host"][i] = f"node{1 + i % 4 // 2:02d}"
        clock += 30 + 10 * rng.random()
        run["finished"][i] = clock
        for m in metrics.values():
            m[i] = math.nan
        for m in list(curves.values()) + list(layers.values()):
            m[i, :] = math.nan
        if w is not None:
            w[i, :] = math.nan
        if i in FAILED:
            status[i] = FAILED_CODE
            run["message"][i] = FAILED[i]
            continue

        P = n_params(hidden)
        run["n_params"][i] = P
        init_norm = math.sqrt(P / 3 * 0.0013) * (1 + 0.01 * rng.standard_normal())
        metrics["init_param_norm"][i] = init_norm

        # Fake training: accuracy approaches a final value that a little weight decay
        # improves; the linear twin saturates near 84%, the MLP near 89%.
        final = (0.885 if act == "relu" else 0.840) + 12 * wd + 0.002 * rng.standard_normal()
        e = np.arange(1, EPOCHS + 1)
        test_acc = final - (final - 0.70) * np.exp(-(e - 1) / 1.2)
        train_acc = test_acc + 0.01 * (e / EPOCHS)
        test_loss = 0.30 + 1.5 * (1 - test_acc) + 0.01 * rng.standard_normal(EPOCHS)
        train_loss = test_loss - 0.02 * (e / EPOCHS)
        lr = 0.5 * 0.05 * (1 + np.cos(np.pi * (e - 1) / EPOCHS))
        seconds = 1.2 * len(hidden) * (1 + 0.05 * rng.random(EPOCHS))

        ran = EPOCHS
        if i in DIVERGED:
            ran = DIVERGED[i]
            train_loss[ran - 1] = math.nan  # the epoch in which the loss became NaN
            status[i] = DIVERGED_CODE
            run["diverged_epoch"][i] = ran
        else:
            status[i] = DONE_CODE
        run["epochs_run"][i] = ran
        for name_c, values in [("train_loss", train_loss), ("train_acc", train_acc),
                               ("test_loss", test_loss), ("test_acc", test_acc),
                               ("lr", lr), ("epoch_seconds", seconds)]:
            curves[name_c][i, :ran] = values[:ran]
        run["wall_seconds"][i] = seconds[:ran].sum() + 0.8
        if i in DIVERGED:
            continue

        metrics["final_test_acc"][i] = test_acc[-1]
        metrics["final_test_loss"][i] = test_loss[-1]
        metrics["final_train_acc"][i] = train_acc[-1] + 0.004
        metrics["final_train_loss"][i] = train_loss[-1] - 0.01
        metrics["param_norm"][i] = init_norm * (1.6 - 400 * wd)
        for L, (fan_out, fan_in) in enumerate(layer_shapes(hidden)):
            frob = math.sqrt(fan_out / 3) * (1.3 - 300 * wd) * (1 + 0.02 * rng.standard_normal())
            layers["frobenius"][i, L] = frob
            layers["spectral"][i, L] = frob / math.sqrt(min(fan_out, fan_in)) * 4
            layers["effective_rank"][i, L] = 0.8 * math.sqrt(min(fan_out, fan_in))
        run["param_hash"][i] = rng.integers(0, 2**63, dtype=np.int64).astype(np.uint64) * 2 + 1
        if w is not None:
            w[i, :P] = rng_weights.standard_normal(P).astype(np.float32) * 0.03

    spec_text = canonical_spec()
    with h5py.File(path, "w") as f:
        for k, v in [("format", "bpsweep-results"), ("spec_hash", f"{fnv1a64(spec_text):016x}"),
                     ("bpsweep_version", "0.1.0"), ("bpsweep_commit", "f95e4e8"),
                     ("created", "2024-06-10T06:13:20Z")]:
            f.attrs[k] = np.bytes_(v)
        for k, v in [("format_version", 1), ("n_points", n), ("max_epochs", EPOCHS),
                     ("max_layers", max_layers), ("max_params", max_params)]:
            f.attrs[k] = np.int64(v)
        f["spec_json"] = np.bytes_(spec_text)

        f["axes/architectures"] = fixed([a[0] for a in ARCHS], 64)
        f["axes/conditions"] = fixed(CONDITIONS, 64)
        f["axes/weight_decay"] = np.array(WEIGHT_DECAY, np.float64)
        f["axes/norm_bias"] = np.array(NORM_BIAS, np.float64)
        f["axes/seed"] = np.array(SEEDS, np.int64)

        keys = [f"arch={ARCHS[a][0]}/cond={CONDITIONS[c]}/wd={WEIGHT_DECAY[wd]:.17g}"
                f"/nb={NORM_BIAS[nb]:.17g}/seed={SEEDS[s]}" for a, c, nb, wd, s in grid]
        f["points/key"] = fixed(keys, 256)
        for col, name in enumerate(["arch", "cond", "nb", "wd", "seed_index"]):
            f[f"points/{name}"] = np.array([g[col] for g in grid], np.int32)
        f["points/weight_decay"] = np.array([WEIGHT_DECAY[g[3]] for g in grid], np.float64)
        f["points/norm_bias"] = np.array([NORM_BIAS[g[2]] for g in grid], np.float64)
        f["points/seed"] = np.array([SEEDS[g[4]] for g in grid], np.int64)

        f["status"] = status
        for k, v in metrics.items():
            f[f"metrics/{k}"] = v
        for k, v in curves.items():
            f[f"curves/{k}"] = v
        for k, v in layers.items():
            f[f"layers/{k}"] = v
        for k, v in run.items():
            if k == "host":
                v = fixed(v, 64)
            elif k == "message":
                v = fixed(v, 256)
            f[f"run/{k}"] = v
        if w is not None:
            f["weights"] = w


def main():
    parser = argparse.ArgumentParser(description="Write a fake bpsweep results file "
                                     "(18 points, some diverged, pending or failed).")
    parser.add_argument("output", help="HDF5 file to write (overwritten)")
    parser.add_argument("--weights", action="store_true", help="also write /weights")
    parser.add_argument("--seed", type=int, default=12345, help="seed of the fake numbers")
    args = parser.parse_args()
    make(args.output, weights=args.weights, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
