#!/usr/bin/python3
"""Tests of the Python analysis scripts on a fake results file (make_results.py).

    /usr/bin/python3 tests/analysis/test_analysis.py

Prints every failed check and "N passed, M failed"; exits 1 if any check failed.
Needs only Debian's python3-h5py, python3-numpy and python3-matplotlib.
"""

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYSIS = os.path.join(HERE, "..", "..", "analysis")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import bpsweep.results as br  # noqa: E402
import make_results  # noqa: E402

passed = 0
failed = 0


def check(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print(f"FAILED: {what}")


def close(a, b, tol=1e-12):
    return abs(a - b) <= tol * max(1.0, abs(b))


def run(args):
    return subprocess.run([PYTHON] + args, capture_output=True, text=True, timeout=60)


def by_hand(path):
    """final_test_acc of the done points per (arch name, weight decay), read with h5py
    directly rather than through the loader."""
    with h5py.File(path, "r") as f:
        names = [n.decode() for n in f["axes/architectures"][()]]
        arch = [names[i] for i in f["points/arch"][()]]
        wd = f["points/weight_decay"][()]
        done = f["status"][()] == 1
        acc = f["metrics/final_test_acc"][()]
    groups = {}
    for a, w, d, v in zip(arch, wd, done, acc):
        if d:
            groups.setdefault((a, float(w)), []).append(v)
    return {k: np.array(v) for k, v in groups.items()}


def test_loader(path):
    res = br.load(path, weights=True)
    t = res.table
    check(res.n_points == 18, "18 points")
    for col in ["index", "key", "arch", "cond", "weight_decay", "norm_bias", "seed", "status",
                "attempts", "epochs_run", "diverged_epoch", "wall_seconds", "n_params",
                "param_hash", "host", "message", "final_train_loss", "final_train_acc",
                "final_test_loss", "final_test_acc", "param_norm", "init_param_norm"]:
        check(col in t and len(t[col]) == 18, f"table column {col} with 18 rows")
    check(res.metric_names and set(res.metric_names) == {
        "final_train_loss", "final_train_acc", "final_test_loss", "final_test_acc",
        "param_norm", "init_param_norm"}, f"metric names {res.metric_names}")

    # grid order: architecture outermost, seed innermost
    check(list(t["arch"]) == ["mlp"] * 9 + ["linear"] * 9, f"arch column {list(t['arch'])}")
    check(set(t["cond"]) == {"base"}, "cond column")
    check(list(t["weight_decay"][:9]) == [0, 0, 0, 1e-4, 1e-4, 1e-4, 5e-4, 5e-4, 5e-4],
          "weight_decay column")
    check(list(t["seed"][:6]) == [0, 1, 2, 0, 1, 2], "seed column")
    check(t["key"][6] == "arch=mlp/cond=base/wd=0.00050000000000000001/nb=0/seed=0",
          f"key decoded without NULs: {t['key'][6]!r}")

    status = dict(zip(range(18), t["status"]))
    check(status[5] == "diverged" and status[8] == "pending" and status[16] == "pending"
          and status[15] == "failed", "status names of the unfinished points")
    check(np.count_nonzero(t["status"] == "done") == 14, "14 done")
    check(t["diverged_epoch"][5] == 3 and t["epochs_run"][5] == 3, "diverged at epoch 3")
    check(t["diverged_epoch"][0] == 0 and t["epochs_run"][0] == 6, "point 0 ran 6 epochs")
    check(t["message"][15].startswith("out of memory") and t["message"][0] == "",
          "failure message decoded")
    check(t["attempts"][15] == 3 and t["attempts"][8] == 0, "attempts")
    check(t["n_params"][0] == 784 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10, "n_params")

    # curves and layers: shapes and NaN padding
    check(set(res.curves) == {"train_loss", "train_acc", "test_loss", "test_acc", "lr",
                              "epoch_seconds"}, "curve names")
    check(res.curves["test_acc"].shape == (18, 6), "curve shape [N, max_epochs]")
    check(np.all(np.isfinite(res.curves["test_acc"][5, :3]))
          and np.all(np.isnan(res.curves["test_acc"][5, 3:])), "diverged curve NaN after epoch 3")
    check(close(res.curves["test_acc"][0, -1], t["final_test_acc"][0]),
          "last test_acc epoch equals final_test_acc")
    check(res.layers["frobenius"].shape == (18, 3), "layer shape [N, max_layers]")
    check(np.all(np.isfinite(res.layers["frobenius"][0])), "mlp has 3 layers")
    check(np.isfinite(res.layers["frobenius"][9, 1]) and np.isnan(res.layers["frobenius"][9, 2]),
          "linear has 2 layers, third column NaN")
    check(res.weights is not None and res.weights.shape == (18, 118282)
          and res.weights.dtype == np.float32, "weights loaded on request")
    check(br.load(path).weights is None, "weights not loaded by default")

    # spec and provenance
    check(res.name == "fake-wd" and res.spec["grid"]["weight_decay"] == [0, 0.0001, 0.0005],
          "spec parsed")
    with h5py.File(path, "r") as f:
        spec_text = f["spec_json"][()].decode()
    check(res.attrs["spec_hash"] == f"{make_results.fnv1a64(spec_text):016x}",
          "spec_hash attribute is FNV-1a of spec_json")
    check(res.attrs["format_version"] == 1 and res.attrs["n_points"] == 18
          and res.attrs["max_epochs"] == 6, "integer attributes")
    return res


def test_select(t):
    idx = np.flatnonzero(br.select(t, arch="mlp", weight_decay=5e-4))
    check(list(idx) == [6, 7, 8], f"select arch and wd: {idx}")
    idx = np.flatnonzero(br.select(t, status=["pending", "failed"]))
    check(list(idx) == [8, 15, 16], f"select a list of statuses: {idx}")
    idx = np.flatnonzero(br.select(t, arch="linear", final_test_acc=lambda a: a > 0.5))
    check(list(idx) == [9, 10, 11, 12, 13, 14, 17], f"select with a function: {idx}")
    try:
        br.select(t, no_such_column=1)
        check(False, "select on an unknown column raises KeyError")
    except KeyError:
        check(True, "")


def test_statistics(path, t):
    # t quantiles: df 1 and 2 have closed forms
    t1 = math.tan(0.475 * math.pi)
    t2 = 0.95 / math.sqrt(2 * 0.975 * 0.025)
    check(close(br.t_quantile_975(1), t1, 1e-12), "t(0.975, 1) = tan(0.475 pi)")
    check(close(br.t_quantile_975(2), t2, 1e-12), "t(0.975, 2) = 4.3027")
    qs = [br.t_quantile_975(df) for df in range(1, 200)]
    check(all(a > b for a, b in zip(qs, qs[1:])), "t quantile decreases with df")
    check(abs(br.t_quantile_975(30) - br.t_quantile_975(31)) < 0.003, "table meets expansion")
    check(abs(br.t_quantile_975(10**6) - 1.959963984540054) < 1e-5, "t tends to the normal")

    d = br.describe([1.0, 2.0, 3.0, float("nan")])
    check(d["n"] == 3 and d["mean"] == 2.0 and close(d["std"], 1.0), f"describe skips NaN: {d}")
    check(close(d["ci95"], t2 / math.sqrt(3)), "describe ci95 = t * s / sqrt(n)")

    rows = br.group_stats(t, "final_test_acc", by=("arch", "weight_decay"))
    hand = by_hand(path)
    check(len(rows) == 6, f"6 groups, got {len(rows)}")
    check([(r["arch"], r["weight_decay"]) for r in rows][:3] == [("mlp", 0.0), ("mlp", 1e-4),
                                                                 ("mlp", 5e-4)], "grid order")
    want_n = {("mlp", 0.0): 3, ("mlp", 1e-4): 2, ("mlp", 5e-4): 2,
              ("linear", 0.0): 3, ("linear", 1e-4): 3, ("linear", 5e-4): 1}
    for r in rows:
        k = (r["arch"], r["weight_decay"])
        v = hand[k]
        check(r["n"] == want_n[k] == len(v), f"{k}: n = {r['n']}")
        check(r["n_skipped"] == 3 - want_n[k], f"{k}: n_skipped = {r['n_skipped']}")
        check(close(r["mean"], v.mean()), f"{k}: mean {r['mean']} vs {v.mean()}")
        check(close(r["min"], v.min()) and close(r["max"], v.max()), f"{k}: min, max")
        if len(v) >= 2:
            s = v.std(ddof=1)
            tq = {2: t1, 3: t2}[len(v)]
            check(close(r["std"], s), f"{k}: std")
            check(close(r["sem"], s / math.sqrt(len(v))), f"{k}: sem")
            check(close(r["ci95"], tq * s / math.sqrt(len(v))), f"{k}: ci95 with t = {tq}")
        else:
            check(math.isnan(r["std"]) and math.isnan(r["ci95"]), f"{k}: no spread with n = 1")

    # every status counted: the pending row (zeros, never written) comes in, the
    # diverged row (NaN) still stays out
    rows_all = br.group_stats(t, "final_test_acc", by=("arch", "weight_decay"), statuses=None)
    r = [r for r in rows_all if (r["arch"], r["weight_decay"]) == ("mlp", 5e-4)][0]
    check(r["n"] == 3 and r["min"] == 0.0, "statuses=None counts the pending row")
    r = [r for r in rows_all if (r["arch"], r["weight_decay"]) == ("mlp", 1e-4)][0]
    check(r["n"] == 2, "NaN of the diverged row is never counted")

    where = br.select(t, arch="linear")
    rows = br.group_stats(t, "final_test_acc", by=("weight_decay",), where=where)
    check([r["n"] for r in rows] == [3, 3, 1], "group_stats with where=")


def test_bad_files(tmp):
    other = os.path.join(tmp, "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    try:
        br.load(other)
        check(False, "a non-bpsweep HDF5 file is refused")
    except ValueError as e:
        check("not a bpsweep results file" in str(e), f"message: {e}")

    newer = os.path.join(tmp, "newer.h5")
    make_results.make(newer)
    with h5py.File(newer, "a") as f:
        f.attrs["format_version"] = np.int64(3)
    try:
        br.load(newer)
        check(False, "a newer format version is refused")
    except ValueError as e:
        check("version 3" in str(e), f"message: {e}")

    p = run([os.path.join(ANALYSIS, "bpsweep_results.py"), other])
    check(p.returncode == 2 and "not a bpsweep results file" in p.stderr,
          f"summary of a bad file exits 2: {p.returncode} {p.stderr!r}")


def test_summary_script(path):
    p = run([os.path.join(ANALYSIS, "bpsweep_results.py"), path])
    check(p.returncode == 0, f"summary exit code {p.returncode}: {p.stderr}")
    check("fake-wd" in p.stdout and "2 pending, 14 done, 1 diverged, 1 failed" in p.stdout,
          f"summary output:\n{p.stdout}")


def png_size(path):
    """(width, height) of a PNG, or None if the file is not one."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_plot_script(path, t):
    tmp = os.path.dirname(path)
    csv_path = os.path.join(tmp, "wd.csv")
    script = os.path.join(ANALYSIS, "plot_accuracy_vs_wd.py")
    p = run([script, path, "--csv", csv_path])
    check(p.returncode == 0, f"plot exit code {p.returncode}: {p.stderr}")

    png = os.path.splitext(path)[0] + "_accuracy_vs_wd.png"  # default: next to the results
    check(os.path.exists(png), f"{png} written")
    if os.path.exists(png):
        size = png_size(png)
        check(size is not None and size[0] >= 800 and size[1] >= 500, f"PNG of {size} pixels")
        check(os.path.getsize(png) > 20000, f"PNG of {os.path.getsize(png)} bytes")

    check(os.path.exists(csv_path), "CSV written")
    if os.path.exists(csv_path):
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
        check(len(rows) == 6, f"6 CSV rows, got {len(rows)}")
        stats = {(r["arch"], r["weight_decay"]): r
                 for r in br.group_stats(t, "final_test_acc", by=("arch", "weight_decay"))}
        for r in rows:
            k = (r["arch"], float(r["weight_decay"]))
            check(k in stats, f"CSV group {k}")
            if k not in stats:
                continue
            s = stats[k]
            check(int(r["n"]) == s["n"], f"CSV n of {k}")
            check(close(float(r["mean_pct"]), 100 * s["mean"], 1e-9), f"CSV mean of {k}")
            if s["n"] >= 2:
                check(close(float(r["ci95_pct"]), 100 * s["ci95"], 1e-9)
                      and r["err_low_pct"] == r["ci95_pct"], f"CSV error bar of {k}")
            else:
                check(r["ci95_pct"] == "" and float(r["err_low_pct"]) == 0, f"CSV n=1 row {k}")

    p = run([script, path, "--cond", "no-such-condition", "-o", os.path.join(tmp, "x.png")])
    check(p.returncode == 1 and "no grid point matches" in p.stderr
          and not os.path.exists(os.path.join(tmp, "x.png")),
          f"unknown condition: exit {p.returncode}, {p.stderr!r}")


def test_read_csv_text_columns(tmp):
    """A commit or hash that happens to be all digits stays text (commit 719411032347
    was read as a number, and the export check failed on it)."""
    path = os.path.join(tmp, "digits.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["bpsweep_commit", "spec_hash", "param_hash", "seed", "final_test_acc"])
        w.writerow(["719411032347", "0123456789012345", "1e10000000000000", "3", "0.5"])
    t = br.read_csv(path)
    check(t["bpsweep_commit"][0] == "719411032347" and t["spec_hash"][0] == "0123456789012345"
          and t["param_hash"][0] == "1e10000000000000", "read_csv keeps hashes and commits as text")
    check(t["seed"][0] == 3 and t["final_test_acc"][0] == 0.5, "read_csv reads numbers")


def test_depth():
    """Depth (hidden weight layers) of each kind of architecture in a canonical spec."""
    spec = {"architectures": [
        {"name": "m", "hidden": [8, 8]},
        {"name": "c@w=16", "family": "c", "width": 16, "preset": "convnet"},
        {"name": "r", "preset": "resnet18", "base_width": 16},
        {"name": "l", "layers": [{"type": "conv", "out": 4, "kernel": 3}, {"type": "relu"},
                                 {"type": "dense", "out": 8}, {"type": "dense", "out": 10}]}]}
    info = br._arch_info(spec)
    col = {c: j for j, c in enumerate(br.ARCH_COLUMNS)}
    check([info[n][col["depth"]] for n in ("m", "c@w=16", "r", "l")] == [2, 5, 17, 2],
          "depth of an MLP, the presets and an op list")
    check((info["c@w=16"][col["family"]], info["c@w=16"][col["width"]]) == ("c", 16),
          "a preset's family and width")
    check([info[n][col["preset"]] for n in ("m", "c@w=16", "r", "l")] ==
          ["mlp", "convnet", "resnet18", "layers"], "the kind of each architecture")
    check([info[n][col["base_width"]] for n in ("m", "r")] == [0, 16],
          "resnet18's base width, 0 elsewhere")


def main():
    parser = argparse.ArgumentParser(
        description="Test the analysis scripts on a fake results file.")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="bpsweep-analysis-")
    path = os.path.join(tmp, "results.h5")
    make_results.make(path, weights=True)

    res = test_loader(path)
    test_select(res.table)
    test_statistics(path, res.table)
    test_bad_files(tmp)
    test_read_csv_text_columns(tmp)
    test_depth()
    test_summary_script(path)
    test_plot_script(path, res.table)

    if args.keep:
        print(f"files in {tmp}")
    else:
        for name in os.listdir(tmp):
            os.remove(os.path.join(tmp, name))
        os.rmdir(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
