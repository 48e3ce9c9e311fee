#!/usr/bin/python3
"""Tests of the claim scripts (analysis/claim1.py .. claim4.py) and the report generator.

1. Runs four tiny sweeps (tests/analysis/specs/claimN_tiny.json, synthetic data,
   under a second each) with the real bpsweep binary, so the scripts are tested on
   results files in the current format, then runs each claim script on its file and
   checks the export, the tables and the figures.
2. Regenerates the reproduction report from the committed exports
   (docs/reproduction/data) into a temporary directory and checks that its tables and
   the report text are byte-identical to the committed ones and that every figure it
   names was drawn.

    /usr/bin/python3 tests/analysis/test_claims.py --bpsweep build/bpsweep

Prints every failed check and "N passed, M failed"; exits 1 if any check failed.
"""

import argparse
import csv
import filecmp
import math
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
ANALYSIS = os.path.join(ROOT, "analysis")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, ANALYSIS)

import bpsweep_results as br  # noqa: E402
import report  # noqa: E402

passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        print(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.returncode


def table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def is_png(path):
    if not os.path.exists(path):
        return False
    with open(path, "rb") as f:
        return f.read(8) == b"\x89PNG\r\n\x1a\n"


def same_file(a, b):
    """Both exist and have the same bytes."""
    return os.path.exists(a) and os.path.exists(b) and filecmp.cmp(a, b, shallow=False)


def same_values(a, b):
    """Two column arrays equal, NaN equal to NaN."""
    if a.dtype.kind in "US" or b.dtype.kind in "US":
        return a.astype(str).tolist() == b.astype(str).tolist()
    a, b = a.astype(float), b.astype(float)
    return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


def test_paired_differences():
    t = {"index": np.arange(6), "status": np.array(["done"] * 5 + ["failed"]),
         "arch": np.array(["a"] * 6), "c": np.array([0, 0, 0, 1, 1, 1]),
         "seed": np.array([0, 1, 2, 0, 1, 2]), "v": np.array([1.0, 2.0, 3.0, 1.5, 2.5, 9.0])}
    rows = br.paired_differences(t, "v", {"c": 0}, group_by=("arch", "c"))
    one = next(r for r in rows if r["c"] == 1)
    check(one["n"] == 2 and one["mean"] == 0.5 and one["std"] == 0.0,
          f"paired differences skip the failed row and pair by seed: {one}")
    zero = next(r for r in rows if r["c"] == 0)
    check(zero["n"] == 3 and zero["mean"] == 0.0, f"the baseline pairs with itself: {zero}")


def test_claim(bpsweep, tmp, name, checks):
    spec = os.path.join(HERE, "specs", f"{name}_tiny.json")
    h5 = os.path.join(tmp, f"{name}.h5")
    out = os.path.join(tmp, name)
    if run([bpsweep, "run", spec, "-o", h5]) != 0:
        check(False, f"{name}: the tiny sweep ran")
        return
    check(run([PYTHON, os.path.join(ANALYSIS, f"{name}.py"), h5, "--out", out]) == 0,
          f"{name}.py ran on {h5}")
    points = os.path.join(out, "data", f"{name}_points.csv")
    if not os.path.exists(points):
        check(False, f"{name}: {points} written")
        return
    exported = br.read_csv(points)
    direct = br.points_table(br.load(h5))
    check(list(exported) == list(direct), f"{name}: the export has the points table's columns")
    bad = [c for c in direct if c in exported and not same_values(exported[c], direct[c])]
    check(not bad, f"{name}: exported columns read back equal to the results file: {bad}")
    res = br.load(h5)
    check(set(exported["spec_hash"].tolist()) == {res.attrs["spec_hash"]} and
          set(exported["bpsweep_commit"].tolist()) == {res.attrs["bpsweep_commit"]},
          f"{name}: every row carries the spec hash and commit")
    md = open(os.path.join(out, f"{name}.md")).read()
    for fig in re.findall(r"!\[[^]]*\]\(([^)]+)\)", md):
        path = os.path.join(out, fig)
        check(os.path.exists(path) and is_png(path), f"{name}: figure {fig} drawn")
    check(len(re.findall(r"!\[", md)) >= 1, f"{name}: the Markdown names its figures")
    # the --points path gives the same tables as the results-file path
    again = os.path.join(tmp, name + "_again")
    check(run([PYTHON, os.path.join(ANALYSIS, f"{name}.py"), "--points", points, "--out", again]) == 0,
          f"{name}.py --points ran")
    check(same_file(os.path.join(out, f"{name}_table.csv"), os.path.join(again, f"{name}_table.csv")),
          f"{name}: the table from the export equals the table from the results file")
    checks(table(os.path.join(out, f"{name}_table.csv")), exported)


def claim1_checks(rows, t):
    check(len(rows) == 12, f"claim1: 6 architectures x 2 conditions = 12 rows, got {len(rows)}")
    by = {(r["architecture"], r["condition"]): r for r in rows}
    built = by.get(("d1-constructed", "at_init"), {})
    check(built.get("n_certified_minimum") == "3" and built.get("negative_fraction_train") == "0.0"
          and built.get("negative_fraction_test") == "0.0",
          f"claim1: the constructed net is a certified minimum on every seed, all ReLUs active: {built}")
    lin = by.get(("linear-constructed", "at_init"), {})
    check(math.isclose(float(lin.get("test_acc_mean", "nan")), float(built.get("test_acc_mean", "nan")),
                       rel_tol=1e-12), "claim1: the constructed net has the linear model's accuracy")
    check(float(built.get("construct_logit_diff_max", "nan")) < 1e-4,
          f"claim1: the constructed net's logits are the linear model's: {built}")
    d2 = by.get(("d2-default", "sgd"), {})
    check(d2.get("n_done") == "3", f"claim1: 3 seeds of the trained default net: {d2}")
    mine = (t["arch"] == "d1-default") & (t["cond"] == "sgd")
    want = float(np.mean(t["final_test_acc"][mine]))
    check(math.isclose(float(by[("d1-default", "sgd")]["test_acc_mean"]), want, rel_tol=1e-12),
          "claim1: test accuracy is the mean over seeds")
    v = t["cert_verdict"][mine & (t["status"] == "done")]
    conv = int(np.sum((v == 1) | (v == 2)))
    check(by[("d1-default", "sgd")]["n_converged"] == str(conv),
          "claim1: converged counts follow the verdict column")


def claim2_checks(rows, t):
    check(len(rows) == 14, "claim2: 2 architectures x (2 lambdas x 3 targets + lambda = 0 once) "
          f"= 14 rows, got {len(rows)}")
    # lambda = 0: every target is the same run
    sel = t["weight_decay"] == 0
    for a in ("mlp", "mlp-skip-bn"):
        hashes = {(s, h) for s, h, x in zip(t["seed"][sel], t["param_hash"][sel], t["arch"][sel]) if x == a}
        check(len(hashes) == 3, f"claim2: lambda = 0 gives one parameter hash per seed: {hashes}")
    # tuned against tuned: the choice made on the validation accuracy, by hand
    import claim2
    tuned = {r["arch"]: r for r in claim2.tuned(t)}
    check(set(tuned) == {"mlp", "mlp-skip-bn"}, f"claim2: a tuned comparison per architecture: {set(tuned)}")
    for a, r in tuned.items():
        mine = t["arch"] == a
        val = {}
        for wd, c, v in zip(t["weight_decay"][mine], t["norm_bias"][mine], t["final_val_acc"][mine]):
            val.setdefault((wd, c), []).append(v)
        mean = {k: np.mean(v) for k, v in val.items()}
        want_wd = max((k for k in mean if k[0] > 0 and k[1] == 0), key=lambda k: mean[k])
        want_nb = max((k for k in mean if k[0] > 0 and k[1] > 0), key=lambda k: mean[k])
        check(r["chosen"]["wd"] == want_wd and r["chosen"]["nb"] == want_nb and r["n"] == 3,
              f"claim2: {a}: chosen {r['chosen']} on validation, by hand {want_wd} {want_nb}")
        test = {(wd, c, s): x for wd, c, s, x in zip(t["weight_decay"][mine], t["norm_bias"][mine],
                                                    t["seed"][mine], t["final_test_acc"][mine])}
        diff = np.mean([test[(*want_nb, s)] - test[(*want_wd, s)] for s in (0, 1, 2)])
        check(math.isclose(r["nb_wd"]["mean"], diff, abs_tol=1e-15),
              f"claim2: {a}: norm-bias minus weight decay {r['nb_wd']['mean']} == {diff}")
    for r in rows:
        if r["norm_bias_target"] in ("0", "0.0"):
            check(float(r["paired_diff_mean"]) == 0.0 and r["paired_n"] == "3",
                  f"claim2: c = 0 is its own baseline with 3 pairs: {r}")
    # by hand: one paired difference
    sel = (t["arch"] == "mlp") & (t["weight_decay"] == 1e-2)
    acc = {(c, s): a for c, s, a in zip(t["norm_bias"][sel], t["seed"][sel], t["final_test_acc"][sel])}
    want = np.mean([acc[(2.0, s)] - acc[(0.0, s)] for s in (0, 1, 2)])
    got = [float(r["paired_diff_mean"]) for r in rows if r["architecture"] == "mlp"
           and float(r["weight_decay"]) == 1e-2 and float(r["norm_bias_target"]) == 2.0]
    check(got and math.isclose(got[0], want, abs_tol=1e-15), f"claim2: paired difference {got} == {want}")


def claim3_checks(rows, t):
    check(len(rows) == 6, f"claim3: 3 families x 2 widths = 6 rows, got {len(rows)}")
    sims = [float(r["ntk_similarity_mean"]) for r in rows]
    check(all(-1 <= s <= 1 for s in sims), f"claim3: similarities in [-1, 1]: {sims}")
    check([r["architecture"] for r in rows][-1] == "4-layer MLP + skip + BN",
          f"claim3: family labels from the architecture: {[r['architecture'] for r in rows]}")
    check("ntk_similarity_epoch_e1" in t and "ntk_similarity_epoch_e2" in t
          and "ntk_similarity_epoch_e3" not in t, "claim3: the export keeps the measured epochs only")


def tiny_export(bpsweep, tmp, name):
    """Runs tests/analysis/specs/NAME_tiny.json into TMP/NAME.h5 and exports its points
    table to TMP/NAME_points.csv: (h5, csv), or None if the sweep failed."""
    spec = os.path.join(HERE, "specs", f"{name}_tiny.json")
    h5 = os.path.join(tmp, f"{name}.h5")
    if run([bpsweep, "run", spec, "-o", h5]) != 0:
        check(False, f"{name}: the tiny sweep ran")
        return None
    points = os.path.join(tmp, f"{name}_points.csv")
    br.write_csv(br.points_table(br.load(h5)), points)
    return h5, points


def test_claim3_conv(bpsweep, tmp):
    """Claim 3 over two sweeps (the MLP one of test_claim and a tiny ConvNet and ResNet
    one): the families' labels, the slope comparisons, and the trace-normalised change
    against the kernels stored in the results file; then a third sweep, the ResNets
    measured with the data's batch-norm statistics, paired with the second's."""
    ran = tiny_export(bpsweep, tmp, "claim3-conv")
    if not ran:
        return
    h5, points = ran
    mlp = os.path.join(tmp, "claim3", "data", "claim3_points.csv")
    out = os.path.join(tmp, "claim3_both")
    check(run([PYTHON, os.path.join(ANALYSIS, "claim3.py"), "--points", mlp, points,
               "--out", out]) == 0, "claim3.py --points with two exports ran")
    rows = table(os.path.join(out, "claim3_table.csv"))
    labels = list(dict.fromkeys(r["architecture"] for r in rows))
    check(labels == ["2-layer MLP", "4-layer MLP", "4-layer MLP + skip + BN", "ConvNet",
                     "ResNet-18 (b = 1)", "ResNet-18 (b = 1), no skip, no BN"],
          f"claim3: the families of both sweeps, labelled by kind: {labels}")
    pairs = [(r["family"], r["reference"]) for r in
             table(os.path.join(out, "claim3_slope_differences.csv"))]
    check(pairs == [("mlp4-skip-bn", "mlp4"), ("resnet18", "resnet18-noskip-nobn"),
                    ("convnet", "mlp4"), ("resnet18", "mlp4"), ("resnet18-noskip-nobn", "mlp4")],
          f"claim3: each residual family against its plain twin, each conv family against "
          f"the 4-layer MLP: {pairs}")
    # the trace-normalised change from the stored kernels, by hand
    import h5py
    res = br.load(h5)
    with h5py.File(h5, "r") as f:
        k0, k1 = f["ntk/K0"][()].astype(float), f["ntk/K1"][()].astype(float)
    m = int(round(math.sqrt(k0.shape[1])))
    change = {}
    for i in np.flatnonzero(res.table["status"] == "done"):
        a = k0[i].reshape(m, m) / np.trace(k0[i].reshape(m, m))
        b = k1[i].reshape(m, m) / np.trace(k1[i].reshape(m, m))
        arch = str(res.table["arch"][i])
        change.setdefault(arch, []).append(np.linalg.norm(b - a) / np.linalg.norm(a))
    for r in rows:
        arch = f"{r['family']}@w={r['width']}"
        if arch in change:
            got, want = float(r["ntk_trace_normalised_change_mean"]), float(np.mean(change[arch]))
            check(math.isclose(got, want, rel_tol=1e-6),
                  f"claim3: {arch}: trace-normalised change {got} == {want} from the kernels")
    check(len(change) == 9, f"claim3: 9 conv architectures checked: {sorted(change)}")

    # the ResNet-18s again, their kernels measured with the pool's batch-norm statistics:
    # the same nets (training untouched), paired with the first sweep's by parameter hash
    ran = tiny_export(bpsweep, tmp, "claim3-conv-data")
    if not ran:
        return
    h5d, points_d = ran
    out = os.path.join(tmp, "claim3_data")
    check(run([PYTHON, os.path.join(ANALYSIS, "claim3.py"), "--points", mlp, points, points_d,
               "--out", out]) == 0, "claim3.py --points with three exports ran")
    labels = list(dict.fromkeys(r["architecture"] for r in table(os.path.join(out, "claim3_table.csv"))))
    check(labels[-1] == "ResNet-18 (b = 1), K with data BN statistics",
          f"claim3: the data-statistics family labelled as such: {labels}")
    a, d = br.points_table(res), br.points_table(br.load(h5d))
    check(set(d["ntk_batch_norm"].tolist()) == {"data"} and
          set(a["ntk_batch_norm"].tolist()) == {"running"}, "claim3: ntk_batch_norm exported")
    sim = {}
    for t in (a, d):
        for i in range(len(t["index"])):
            if str(t["family"][i]).startswith("resnet18") and int(t["batch_norm"][i]):
                sim.setdefault((int(t["width"][i]), int(t["seed"][i])), {})[str(t["ntk_batch_norm"][i])] = \
                    (str(t["param_hash"][i]), float(t["ntk_similarity"][i]))
    rows = table(os.path.join(out, "claim3_bn_statistics.csv"))
    check([(r["family"], r["width"], r["n_nets"]) for r in rows] == [("resnet18", "1", "2"), ("resnet18", "2", "2")],
          f"claim3: both widths paired over 2 nets: {rows}")
    for r in rows:
        w = int(r["width"])
        both = [sim[(w, s)] for s in (0, 1)]
        check(all(b["running"][0] == b["data"][0] for b in both),
              f"claim3: width {w}: the same nets both ways (parameter hashes) {both}")
        want = np.mean([b["data"][1] - b["running"][1] for b in both])
        check(math.isclose(float(r["data_minus_running_mean"]), want, rel_tol=1e-9) and want != 0,
              f"claim3: width {w}: data minus running {r['data_minus_running_mean']} == {want}")


def test_concat():
    import claims_common as cc
    a = {"index": np.arange(2), "x": np.array([1, 2]), "s": np.array(["p", "q"])}
    b = {"index": np.arange(1), "y": np.array([0.5]), "s": np.array(["r"])}
    t = cc.concat([a, b])
    check(t["index"].dtype.kind == "i" and t["index"].tolist() == [0, 1, 0]
          and np.isnan(t["x"][2]) and t["x"][:2].tolist() == [1.0, 2.0]
          and np.isnan(t["y"][:2]).all() and t["s"].tolist() == ["p", "q", "r"],
          f"concat: rows of both tables, missing columns NaN, integer columns kept: {t}")


def test_kinks():
    """claim1_kinks.py: the pre-activations of a 2-hidden-layer MLP against a direct
    computation, and the kink counts: about 1 for a smooth density of z, far above 1
    with pairs stacked at 0 (as descent leaves them), NaN with nothing near 0."""
    import claim1_kinks as ck
    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 3))
    w1, b1, w2, b2 = rng.normal(size=(4, 3)), rng.normal(size=4), rng.normal(size=(2, 4)), rng.normal(size=2)
    params = np.concatenate([w1.ravel(), b1, w2.ravel(), b2, rng.normal(size=2 * 2 + 2)])
    z = ck.pre_activations(params, [3, 4, 2, 2], x)
    z1 = x @ w1.T + b1
    check(len(z) == 2 and np.allclose(z[0], z1) and np.allclose(z[1], np.maximum(z1, 0) @ w2.T + b2),
          "claim1_kinks: the hidden layers' pre-activations, layer by layer")
    smooth = rng.uniform(-1, 1, size=(2_000_000, 1))
    _, at, expected, ratio, neg = ck.kink_counts([smooth])
    check(0.7 < ratio < 1.3 and abs(expected - 20) < 5 and abs(neg - 0.5) < 0.01,
          f"claim1_kinks: a uniform z has no excess at 0: ratio {ratio:.3g}, expected {expected:.3g}")
    stacked = np.vstack([smooth, rng.uniform(-1e-6, 1e-6, size=(500, 1))])
    _, at, expected, ratio, _ = ck.kink_counts([stacked])
    check(ratio > 20 and at >= 500, f"claim1_kinks: 500 pairs at the kink: ratio {ratio:.3g}")
    _, at, expected, ratio, _ = ck.kink_counts([smooth + 5])
    check(at == 0 and expected == 0 and math.isnan(ratio), "claim1_kinks: nothing near the kink")


def test_stationarity():
    """claim1_kinks.stationarity on a 1-hidden-layer net against central differences in
    float64: without kinks, the gradient and its output block; with pairs placed exactly on
    the kink (repeated samples with other labels), the smallest norm over the convex hull
    of the pieces' gradients, each piece's gradient by differences of that piece's own
    loss (its ReLU pattern fixed) and the hull's minimum by projected gradient descent."""
    import claim1_kinks as ck
    rng = np.random.default_rng(5)
    d, h, k, wd = 3, 4, 3, 0.01
    x = rng.normal(size=(30, d))
    y = rng.integers(0, k, size=30)
    params = rng.normal(size=h * d + h + k * h + k)

    def piece_loss(theta, mask):
        w1, b1 = theta[:h * d].reshape(h, d), theta[h * d:h * d + h]
        w2, b2 = theta[h * d + h:h * d + h + k * h].reshape(k, h), theta[h * d + h + k * h:]
        o = (mask * (x @ w1.T + b1)) @ w2.T + b2
        o = o - o.max(axis=1, keepdims=True)
        ce = np.log(np.exp(o).sum(axis=1)) - o[np.arange(len(x)), y]
        return ce.mean() + wd / 2 * theta @ theta

    def piece_grad(theta, mask, step=1e-5):
        e = np.eye(len(theta)) * step
        return np.array([(piece_loss(theta + v, mask) - piece_loss(theta - v, mask)) / (2 * step)
                         for v in e])

    z = x @ params[:h * d].reshape(h, d).T + params[h * d:h * d + h]
    check(np.abs(z).min() > 1e-3, "stationarity: the smooth case has no pair near the kink")
    g = piece_grad(params, (z > 0).astype(float))
    gn, out, sub = ck.stationarity(params, [d, h, k], x, y, wd)
    n_out = k * h + k
    check(abs(gn - np.linalg.norm(g)) < 1e-8 * np.linalg.norm(g)
          and abs(out - np.linalg.norm(g[-n_out:])) < 1e-8 * np.linalg.norm(g) and sub == gn,
          f"stationarity, no kink: {gn:.12g} / {np.linalg.norm(g):.12g}, output block "
          f"{out:.12g} / {np.linalg.norm(g[-n_out:]):.12g}, hull {sub:.12g}")

    x[10:16] = x[0]  # sample 0 six times, other labels: six pairs per unit on one point
    x[20:24] = x[1]
    y[10:16] = rng.integers(0, k, size=6)
    for j, n in ((0, 0), (1, 0), (2, 1)):  # put units 0, 1 (sample 0) and 2 (sample 1) on the kink
        params[h * d + j] = -x[n] @ params[j * d:(j + 1) * d]
    z = x @ params[:h * d].reshape(h, d).T + params[h * d:h * d + h]
    at = np.argwhere(np.abs(z) < ck.EPS)
    base = (z > 0) & (np.abs(z) >= ck.EPS)
    g0 = piece_grad(params, base.astype(float))
    cols = []
    for n, j in at:  # the gradient of the piece with only pair (n, j) switched on, minus g0
        m = base.copy()
        m[n, j] = True
        cols.append(piece_grad(params, m.astype(float)) - g0)
    v = np.array(cols).T
    s = np.full(len(at), 0.5)
    lip = np.linalg.norm(v, 2) ** 2
    for _ in range(200_000):
        s = np.clip(s - (v.T @ (g0 + v @ s)) / lip, 0, 1)
    ref = np.linalg.norm(g0 + v @ s)
    gn, out, sub = ck.stationarity(params, [d, h, k], x, y, wd)
    on = np.linalg.norm(g0 + v.sum(axis=1))
    check(len(at) == 19 and abs(gn - np.linalg.norm(g0)) < 1e-8 * gn
          and abs(sub - ref) < 1e-6 * gn and sub < min(gn, on) - 1e-5 * gn and sub >= out,
          f"stationarity on {len(at)} kink pairs: hull minimum {sub:.10g}, reference {ref:.10g}, "
          f"all pairs off {gn:.6g} (differences {np.linalg.norm(g0):.6g}), all on {on:.6g}, "
          f"output block {out:.6g}")


def claim4_checks(rows, t):
    check([r["condition"] for r in rows] ==
          ["untrained", "natural", "adversarial", "rankmin", "rankmax"],
          f"claim4: one row per condition: {[r['condition'] for r in rows]}")
    base = {r["condition"]: r["baseline"] for r in rows}
    check(base == {"untrained": "", "natural": "", "adversarial": "", "rankmin": "natural",
                   "rankmax": "natural"}, f"claim4: baselines {base}")
    check("robust_test_acc_0.02" in rows[0] and "robust_train_acc_0.05" in rows[0],
          "claim4: robust accuracy per radius")
    check(all(float(r["hidden_rank_mean"]) > 1 for r in rows), "claim4: effective ranks above 1")
    # the fraction the projection changed: mean over the hidden layers, by hand
    layers = sorted(int(c.rsplit("_", 1)[1]) for c in t if re.fullmatch(r"effective_rank_\d+", c))
    for r in rows:
        sel = (t["cond"] == r["condition"]) & (t["status"] == "done")
        per_row = []
        for i in np.flatnonzero(sel):
            v = [t.get(f"rank_changed_fraction_{j}", np.full(len(sel), math.nan))[i]
                 for j in layers[:-1]]
            v = [x for x in v if np.isfinite(x)]
            if v:
                per_row.append(np.mean(v))
        got = float(r["projection_changed_fraction_mean"])
        if r["condition"].startswith("rank"):
            check(per_row and math.isclose(got, np.mean(per_row), rel_tol=1e-12) and 0 < got <= 1,
                  f"claim4: {r['condition']}: changed fraction {got} == {per_row}")
        else:
            check(math.isnan(got), f"claim4: {r['condition']}: no projection, no fraction: {got}")


def test_report(tmp):
    data = os.path.join(ROOT, "docs", "reproduction", "data")
    out = os.path.join(tmp, "reproduction")
    md = os.path.join(tmp, "reproduction.md")
    check(report.main(["--data", data, "--out", out, "--report", md]) == 0, "report.py ran")
    committed = os.path.join(ROOT, "docs", "reproduction.md")
    check(same_file(md, committed),
          "the regenerated report equals docs/reproduction.md (rerun analysis/report.py?)")
    import claims_common as cc
    for claim in report.CLAIMS:
        name = f"{claim.NAME}_table.csv"
        for sweep in cc.sweeps(claim):
            check(os.path.exists(os.path.join(data, f"{sweep}_points.csv")),
                  f"committed export of {sweep}")
        check(same_file(os.path.join(out, name), os.path.join(ROOT, "docs", "reproduction", name)),
              f"regenerated {name} equals the committed one")
    text = open(md).read()
    for fig in re.findall(r"!\[[^]]*\]\(reproduction/([^)]+)\)", text):
        check(is_png(os.path.join(out, fig)) and
              os.path.exists(os.path.join(ROOT, "docs", "reproduction", fig)),
              f"figure {fig} regenerated and committed")
    verdicts = report.read_verdicts(os.path.join(ROOT, "docs", "reproduction", "verdicts.md"))
    for claim in report.CLAIMS:
        word = report.verdict_word(verdicts.get(claim.NAME, ""))
        check(re.match(r"(supports|contradicts|suggestive|no detectable effect|inconclusive)\b",
                       word) is not None,
              f"{claim.NAME} has a verdict (supports, contradicts, suggestive, no detectable "
              f"effect or inconclusive): {word!r}")


# A quoted result: a number with a decimal point or an exponent (counts, widths and
# epochs are integers); numbers inside `code spans` are settings of the spec, not results.
RESULT = r"(?<![\w.])[-+−]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w.])"


def result_numbers(text):
    """The results quoted in text: (number as written, its value) outside code spans."""
    text = re.sub(r"`[^`]*`", " ", text)
    return [(n, float(n.lstrip("+-−"))) for n in re.findall(RESULT, text)
            if "." in n or "e" in n]


def test_verdict_numbers(report_path, verdicts_path):
    """Every number a verdict quotes is one of the generated report's table cells, so the
    prose cannot say more (or other) than the tables: compared by value, so 0.093 is
    0.0930, but 0.138 is not 0.1375."""
    tables = "\n".join(l for l in open(report_path).read().splitlines() if l.startswith("|"))
    values = {v for _, v in result_numbers(tables)}
    values |= {float(n) for n in re.findall(r"(?<![\w.])\d+(?![\w.])", tables)}
    missing = []
    section = "?"
    for line in open(verdicts_path).read().splitlines():
        m = re.match(r"## (\w+)", line)
        section = m.group(1) if m else section
        missing += [f"{section}: {n}" for n, v in result_numbers(line) if v not in values]
    check(not missing, "every number quoted in verdicts.md is in a table of the report: "
          f"not found {missing}")


def test_claim3_learned():
    """Claim 3's slopes count only the nets that learned: a net left at chance (training
    accuracy below claim3.LEARNED_TRAIN_ACC) with a kernel that did not move would pull
    the slope; without it the fit is the line through the others, which is exact here."""
    import claim3
    widths = np.array([1, 2, 4, 1, 2, 4])
    sim = np.array([0.5, 0.6, 0.7, 0.99, 0.6, 0.7])  # the 4th net did not learn
    n = len(widths)
    t = {"index": np.arange(n), "status": np.array(["done"] * n),
         "family": np.array(["convnet"] * n), "width": widths, "preset": np.array(["convnet"] * n),
         "skip": np.zeros(n, int), "batch_norm": np.zeros(n, int), "depth": np.full(n, 5),
         "ntk_similarity": sim, "ntk_norm0": np.ones(n), "ntk_norm1": np.full(n, 2.0),
         "ntk_distance": np.full(n, 1.5), "param_distance": np.ones(n),
         "init_param_norm": np.full(n, 4.0), "ntk_pearson": sim,
         "final_test_acc": np.full(n, 0.5),
         "final_train_acc": np.array([0.6, 0.7, 0.8, claim3.LEARNED_TRAIN_ACC - 0.01, 0.7, 0.8])}
    fit = claim3.family_slopes(t)["convnet"]["sim"]
    check(fit["n"] == 5 and math.isclose(fit["slope"], 0.1, rel_tol=1e-9),
          f"claim3: the slope over the 5 nets that learned, 0.1 per doubling: {fit}")
    rows = claim3.stats(t)
    check([(r["width"], r["n"], r["n_learned"]) for r in rows] == [(1, 2, 1), (2, 2, 2), (4, 2, 2)],
          f"claim3: the table counts every done net and those that learned: {rows}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bpsweep", required=True)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        test_paired_differences()
        test_claim(args.bpsweep, tmp, "claim1", claim1_checks)
        test_claim(args.bpsweep, tmp, "claim2", claim2_checks)
        test_claim(args.bpsweep, tmp, "claim3", claim3_checks)
        test_claim3_conv(args.bpsweep, tmp)
        test_concat()
        test_kinks()
        test_stationarity()
        test_claim3_learned()
        test_claim(args.bpsweep, tmp, "claim4", claim4_checks)
        test_report(tmp)
        test_verdict_numbers(os.path.join(ROOT, "docs", "reproduction.md"),
                             os.path.join(ROOT, "docs", "reproduction", "verdicts.md"))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
