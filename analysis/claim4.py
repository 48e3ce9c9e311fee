#!/usr/bin/python3
"""Claim 4, rank: effective rank against clean and robust accuracy for untrained,
natural, adversarial, RankMin and RankMax (and their adversarial) nets.

Reads a results file of a sweep like sweeps/claim4.json (conditions with
train.rank_projection and train.adversarial, measure.robustness on) and writes

    claim4_table.csv  per architecture and condition: effective rank of each layer,
                      clean and PGD accuracy on test and train subsets, and the paired
                      differences to the condition's baseline (natural, or adversarial
                      for adversarially trained conditions)
    claim4_rank.png   effective rank of the hidden-to-hidden layers against clean test
                      accuracy and against test accuracy under the strongest attack

    /usr/bin/python3 analysis/claim4.py results.h5 --out DIR
    /usr/bin/python3 analysis/claim4.py --points claim4_points.csv --out DIR
"""

import math
import os
import re
import sys
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402
import claims_common as cc  # noqa: E402
from claims_common import plt  # noqa: E402

NAME = "claim4"
SWEEPS = ("claim4", "claim4-conv")  # the MLP; the ConvNet and ResNet-18
TITLE = "Claim 4: rank does not predict generalisation or robustness"
PAPER = ("Theory links low rank to generalisation and robustness. The authors edit the "
         "singular values of every layer but the first at fixed epochs: RankMin zeroes "
         "those below a threshold, RankMax caps them, flattening the spectrum. Low rank "
         "does not improve accuracy or robustness, high rank is often better, and "
         "adversarial training does not need low rank.")
# The setups side by side in the report's first table (from the authors' code; ours
# from sweeps/claim4.json).
PAPER_SETUP = ('CIFAR-10 with crop and flip; ResNet-18; SGD lr 0.01, momentum 0.9, weight decay 2e-4, clip 0.1, x0.1 at epochs 15, 30, 40; RankMin (σ < 0.5 zeroed) and RankMax (σ capped at 1.5) on every conv layer but the first at the learning-rate drops; PGD training eps 4/255, evaluation at 1/255 (Rank_study/train_net.py)')
OUR_SETUP = ('Fashion-MNIST; SGD lr 0.01, momentum 0.9, weight decay 2e-4, clip 0.1, x0.1 at 50% and 75% of training; relative thresholds; PGD training eps 0.1 (7 steps); 5 seeds. ConvNet (w = 8, batch norm) and ResNet-18 (b = 4) (claim4-conv.json): 2,000 training images, 6 epochs; RankMin zeroes σ < 0.5 σmax, RankMax caps σ at 0.5 σmax, on every layer but the first and the output layer, at the two learning-rate drops (the authors\' design); PGD evaluation at 0.1 and 0.025 (the authors\' ratio of 4 to 1) on 500 test and 250 training images. MLP [256, 256, 256] (claim4.json): 10,000 training images, 20 epochs, the same projections at the same two drops; PGD evaluation at 0.025, 0.05 and 0.1 on 1,000 test and 1,000 training images')


def rank_columns(t):
    """effective_rank_<j> columns of the layers after the first, in order."""
    cols = sorted((c for c in t if re.fullmatch(r"effective_rank_\d+", c)),
                  key=lambda c: int(c.rsplit("_", 1)[1]))
    return cols


def layer_matrix(t, name):
    """[rows, layers] of the per-layer column <name>_<j> for every layer with an
    effective_rank column (NaN where the export has no such column)."""
    n = len(t["index"])
    return np.column_stack([np.asarray(t.get(f"{name}_{c.rsplit('_', 1)[1]}", np.full(n, math.nan)),
                                       dtype=float) for c in rank_columns(t)])


def output_layer(t):
    """Per row: the column of layer_matrix holding its output layer, the row's last layer
    with an effective rank (-1 for a row without any)."""
    return np.isfinite(layer_matrix(t, "effective_rank")).sum(axis=1) - 1


def hidden_rank(t):
    """Per row: mean effective rank of the hidden-to-hidden layers (2 .. L-1), the layers
    the projections edit apart from the small output layer."""
    n = len(t["index"])
    if not rank_columns(t):
        return np.full(n, math.nan)
    m, last = layer_matrix(t, "effective_rank"), output_layer(t)
    out = np.full(n, math.nan)
    for i in range(n):
        v = m[i, 1:max(last[i], 1)]
        if len(v):
            out[i] = v.mean()
    return out


def projection_columns(t, name):
    """Per row: mean and (min, max) of the per-layer column <name>_<j>
    (rank_changed_fraction, rank_restrict_distance) over the layers the last rank
    projection edited, the output layer left out as in hidden_rank; NaN without
    projection."""
    n = len(t["index"])
    m = layer_matrix(t, name) if rank_columns(t) else np.full((n, 1), math.nan)
    if not np.isfinite(m).any():
        return np.full(n, math.nan), np.full(n, math.nan), np.full(n, math.nan)
    for i, last in enumerate(output_layer(t)):
        if last >= 0:
            m[i, last] = math.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: no projection
        return np.nanmean(m, axis=1), np.nanmin(m, axis=1), np.nanmax(m, axis=1)


def robust_columns(t, which):
    """(eps, column) of robust_<which>_acc_<eps>, ascending eps."""
    out = []
    for c in t:
        m = re.fullmatch(rf"robust_{which}_acc_(.+)", c)
        if m:
            out.append((float(m.group(1)), c))
    return sorted(out)


def baseline_of(t):
    """Per row the condition whose difference it reports: natural training (or
    adversarial training with the same radius) without rank projection; '' for
    untrained or baseline conditions."""
    base = {}
    for i in range(len(t["index"])):
        if t["rank_mode"][i] == "off" and t["train_epochs"][i] > 0:
            base.setdefault(float(t["adversarial_eps"][i]), str(t["cond"][i]))
    return np.array(["" if t["train_epochs"][i] == 0 or t["rank_mode"][i] == "off"
                     else base.get(float(t["adversarial_eps"][i]), "")
                     for i in range(len(t["index"]))])


def stats(t):
    ok = cc.done(t)
    rank = hidden_rank(t)
    test_rob = robust_columns(t, "test")
    train_rob = robust_columns(t, "train")
    base = baseline_of(t)
    changed, changed_lo, changed_hi = projection_columns(t, "rank_changed_fraction")
    restrict = projection_columns(t, "rank_restrict_distance")[0]
    strongest = test_rob[-1][1] if test_rob else None
    rows = []
    for arch in dict.fromkeys(t["arch"].tolist()):
        for cond in dict.fromkeys(t["cond"].tolist()):
            sel = ok & (t["arch"] == arch) & (t["cond"] == cond)
            allsel = (t["arch"] == arch) & (t["cond"] == cond)
            if not allsel.any():
                continue
            b = base[np.flatnonzero(allsel)[0]]
            pair = {}
            if b:
                for col in ["final_test_acc"] + ([strongest] if strongest else []):
                    pair[col] = br.paired_differences(
                        t, col, {"cond": b}, group_by=("arch", "cond"),
                        where=(t["arch"] == arch) & np.isin(t["cond"], [cond, b]))
                    pair[col] = next(r for r in pair[col] if r["cond"] == cond)
            rows.append({
                "arch": arch, "cond": cond, "n": int(sel.sum()), "n_all": int(allsel.sum()),
                "baseline": b, "rank": br.describe(rank[sel]),
                "layer_ranks": [br.describe(t[c][sel])["mean"] for c in rank_columns(t)],
                "changed": br.describe(changed[sel]),
                "changed_range": (float(np.nanmin(changed_lo[sel])) if np.isfinite(changed_lo[sel]).any() else math.nan,
                                  float(np.nanmax(changed_hi[sel])) if np.isfinite(changed_hi[sel]).any() else math.nan),
                "restrict": br.describe(restrict[sel]),
                "test": br.describe(t["final_test_acc"][sel]),
                "train": br.describe(t["final_train_acc"][sel]),
                "rob_test": [(e, br.describe(t[c][sel])) for e, c in test_rob],
                "rob_train": [(e, br.describe(t[c][sel])) for e, c in train_rob],
                "pair": pair, "strongest": strongest})
    return rows


def ranks_text(ranks):
    """Every layer's effective rank, or for a deep net (more than 6 layers) the first,
    the mean of the hidden layers and the last."""
    if len(ranks) <= 6:
        return " / ".join(f"{v:.1f}" for v in ranks)
    return f"{ranks[0]:.1f} / mean {np.mean(ranks[1:-1]):.1f} over {len(ranks) - 2} / {ranks[-1]:.1f}"


def changed_text(r):
    """'62% (55-71%)': the mean fraction of singular values the last projection changed
    per edited layer, and its range over layers and seeds; '-' without projection."""
    d, (lo, hi) = r["changed"], r["changed_range"]
    if d["n"] == 0 or not np.isfinite(d["mean"]):
        return "-"
    return f"{100 * d['mean']:.0f}% ({100 * lo:.0f}-{100 * hi:.0f}%)"


def pair_text(d):
    if not d or d["n"] == 0:
        return "-"
    return f"{100 * d['mean']:+.2f}" + (f" ± {100 * d['ci95']:.2f}" if d["n"] >= 2 else "")


def rank_figure(rows, outdir, link):
    """Per architecture (one row of panels each: their ranks differ in scale), effective
    rank against clean test accuracy and against test accuracy under the strongest
    attack; one colour per condition throughout."""
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    conds = list(dict.fromkeys(r["cond"] for r in rows))
    strongest = rows[0]["rob_test"][-1][0] if rows and rows[0]["rob_test"] else None
    fig, axes = plt.subplots(len(archs), 2, figsize=(11, 3.8 * len(archs)), squeeze=False)
    for a, arch in enumerate(archs):
        for r in (q for q in rows if q["arch"] == arch and q["n"] > 0):
            k = conds.index(r["cond"])
            style = dict(marker="os^vDP*X"[k % 8], color=f"C{k % 10}", capsize=3, ls="none",
                         label=r["cond"])
            x, xe = r["rank"]["mean"], np.nan_to_num(r["rank"]["ci95"])
            points = [(axes[a][0], r["test"])]
            if r["rob_test"]:
                points.append((axes[a][1], r["rob_test"][-1][1]))
            for ax, d in points:
                ax.errorbar(x, 100 * d["mean"], xerr=xe, yerr=np.nan_to_num(100 * d["ci95"]),
                            **style)
                ax.annotate(r["cond"], (x, 100 * d["mean"]), textcoords="offset points",
                            xytext=(4, 4), fontsize=7, color=style["color"])
        for ax in axes[a]:
            ax.set_xlabel(f"{arch}: effective rank ‖σ‖₁/‖σ‖₂, mean over hidden layers")
            ax.grid(alpha=0.3)
        axes[a][0].set_ylabel("clean test accuracy (%)")
        axes[a][1].set_ylabel("test accuracy under PGD (%)" +
                              (f"\nL∞ radius {strongest:g} of the data range" if strongest else ""))
        axes[a][0].legend(fontsize=7)
    fig.suptitle("Claim 4: effective rank against accuracy and robustness (mean ± 95% CI over seeds)")
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim4_rank.png", link)


def analyse(t, outdir, link):
    rows = stats(t)
    eps_test = [e for e, _ in rows[0]["rob_test"]] if rows else []
    eps_train = [e for e, _ in rows[0]["rob_train"]] if rows else []
    n_layers = len(rows[0]["layer_ranks"]) if rows else 0
    headers = (["architecture", "condition", "n_done", "baseline", "hidden_rank_mean",
                "hidden_rank_ci95"] + [f"effective_rank_{j + 1}" for j in range(n_layers)] +
               ["test_acc_mean", "test_acc_ci95", "train_acc_mean"] +
               [f"robust_test_acc_{e:g}" for e in eps_test] +
               [f"robust_train_acc_{e:g}" for e in eps_train] +
               ["test_acc_minus_baseline", "test_acc_minus_baseline_ci95",
                "robust_minus_baseline", "robust_minus_baseline_ci95",
                "projection_changed_fraction_mean", "projection_changed_fraction_min",
                "projection_changed_fraction_max", "projection_restrict_distance_mean"])
    body = []
    for r in rows:
        pt = r["pair"].get("final_test_acc", {"mean": math.nan, "ci95": math.nan})
        pr = r["pair"].get(r["strongest"], {"mean": math.nan, "ci95": math.nan})
        body.append([r["arch"], r["cond"], r["n"], r["baseline"], r["rank"]["mean"], r["rank"]["ci95"]]
                    + r["layer_ranks"] + [r["test"]["mean"], r["test"]["ci95"], r["train"]["mean"]]
                    + [d["mean"] for _, d in r["rob_test"]] + [d["mean"] for _, d in r["rob_train"]]
                    + [pt["mean"], pt["ci95"], pr["mean"], pr["ci95"], r["changed"]["mean"],
                       r["changed_range"][0], r["changed_range"][1], r["restrict"]["mean"]])
    cc.write_table(os.path.join(outdir, "claim4_table.csv"), headers, body)
    md_headers = (["architecture", "condition", "n", "effective rank by layer",
                   "projection changed (range)", "clean test %", "clean train %"] + [f"PGD test % (ε={e:g})" for e in eps_test] +
                  ([f"PGD train % (ε={eps_train[-1]:g})"] if eps_train else []) +
                  ["clean − baseline (pp)", "PGD − baseline (pp)"])
    md_rows = []
    for r in rows:
        md_rows.append(
            [r["arch"], r["cond"], f"{r['n']}/{r['n_all']}",
             ranks_text([v for v in r["layer_ranks"] if not math.isnan(v)]),
             changed_text(r), cc.pct(r["test"]), cc.pct(r["train"])] + [cc.pct(d) for _, d in r["rob_test"]] +
            ([cc.pct(r["rob_train"][-1][1])] if eps_train else []) +
            [pair_text(r["pair"].get("final_test_acc")) + (f" vs {r['baseline']}" if r["baseline"] else ""),
             pair_text(r["pair"].get(r["strongest"]))])
    return "".join([
        f"{cc.status_line(t)}. Means over seeds, ± the half-width of the 95% t-interval. "
        "Effective rank = ‖σ‖₁/‖σ‖₂ of each layer's singular values after training: a "
        "dense layer's weight matrix, a convolution's operator on its input feature map "
        "(FFT method, docs/metrics.md); layer 1 is never projected, the last layer is the "
        "output layer. 'Projection changed' is the fraction of each edited layer's "
        "singular values the last projection zeroed (RankMin) or capped (RankMax), mean "
        "over layers and seeds, with its range. PGD: L∞ with a random start and the "
        "steps of measure.robustness (20 steps of 0.25 ε for the MLP, 10 for the conv "
        "nets), at the training radius and a quarter of it (the authors' ratio); ε is a "
        "fraction of the data range. '− baseline' is the paired (same seed) difference to "
        "the same training without rank projection.\n\n",
        cc.md_table(md_headers, md_rows), "\n", rank_figure(rows, outdir, link)])


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
