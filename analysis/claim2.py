#!/usr/bin/python3
"""Claim 2, small norms: the norm-bias regulariser (pull ||theta||^2 towards c) against
plain weight decay (c = 0), paired by seed.

Reads a results file of a sweep like sweeps/claim2.json (architectures x weight decay
lambda x relative norm-bias targets c x seeds) and writes

    claim2_table.csv     per architecture, lambda and c: test accuracy, its paired
                         difference to c = 0 (same architecture, lambda and seed) with
                         the 95% CI, final ||theta|| and ||theta|| / ||theta_0||
    claim2_accuracy.png  test accuracy and the paired difference against the target c,
                         one column per architecture, one line per lambda
    claim2_norm.png      test accuracy against the final parameter norm

    /usr/bin/python3 analysis/claim2.py results.h5 --out DIR
    /usr/bin/python3 analysis/claim2.py --points claim2_points.csv --out DIR
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402
import claims_common as cc  # noqa: E402
from claims_common import plt  # noqa: E402

NAME = "claim2"
TITLE = "Claim 2: small-norm parameters are not optimal"
PAPER = ("Weight decay pulls the parameters towards norm 0. The authors replace it by a "
         "'norm-bias' regulariser (lambda/2)|‖theta‖² - c| that pulls the squared norm "
         "towards a target c, and find targets c > 0 that match or beat c = 0 (plain "
         "weight decay): small norm is not what makes a net generalise. The gains are "
         "small, so they must be judged by confidence intervals over paired seeds.")
# The setups side by side in the report's first table (from the authors' code; ours
# from sweeps/claim2.json).
PAPER_SETUP = ('CIFAR-10 with crop and flip; ResNet-18, DenseNet, MobileNetV2, Fixup ResNet-20, a 4-layer MLP of width 2048; SGD lr 0.01, momentum 0.9, batch 128, x0.1 at epochs 25, 35, 40, 45 (of 50); weight decay 1e-4; norm-bias targets c as absolute numbers (NormBias/main.py)')
OUR_SETUP = ('Fashion-MNIST, 10,000 training images, no augmentation; MLP [256, 256] with and without batch norm and skips; λ in {5e-4, 5e-3}, c relative to ‖θ₀‖² in {0, 0.5, 1, 2, 4}; SGD lr 0.01, momentum 0.9, batch 128, 20 epochs, x0.1 at 60% and 80%; 6 seeds; no λ = 0 and no validation split yet')

BY = ("arch", "weight_decay", "norm_bias")


def stats(t):
    """One dict per (architecture, lambda, c): accuracy, paired difference to c = 0,
    norms; grid order."""
    ok = cc.done(t)
    acc = {(r["arch"], r["weight_decay"], r["norm_bias"]): r
           for r in br.group_stats(t, "final_test_acc", by=BY)}
    diff = {(r["arch"], r["weight_decay"], r["norm_bias"]): r
            for r in br.paired_differences(t, "final_test_acc", {"norm_bias": 0.0},
                                           group_by=BY)}
    rows = []
    for k, a in acc.items():
        sel = ok & (t["arch"] == k[0]) & (t["weight_decay"] == k[1]) & (t["norm_bias"] == k[2])
        norm = br.describe(t["param_norm"][sel])
        ratio = br.describe(t["param_norm"][sel] / t["init_param_norm"][sel])
        rows.append({"arch": k[0], "wd": k[1], "c": k[2], "acc": a, "diff": diff[k],
                     "norm": norm, "ratio": ratio,
                     "train_loss": br.describe(t["final_train_loss"][sel])["mean"],
                     "test_loss": br.describe(t["final_test_loss"][sel])["mean"]})
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    return sorted(rows, key=lambda r: (archs.index(r["arch"]), r["wd"], r["c"]))


def diff_text(d, digits=2):
    if d["n"] == 0:
        return "-"
    if d["n"] >= 2 and d["std"] > 0:
        return f"{100 * d['mean']:+.{digits}f} ± {100 * d['ci95']:.{digits}f}"
    return f"{100 * d['mean']:+.{digits}f}"


def verdict_counts(rows):
    """Per (architecture, lambda): the best c > 0 and whether its paired CI excludes 0."""
    out = []
    for arch in dict.fromkeys(r["arch"] for r in rows):
        for wd in dict.fromkeys(r["wd"] for r in rows if r["arch"] == arch):
            cand = [r for r in rows if r["arch"] == arch and r["wd"] == wd and r["c"] > 0
                    and r["diff"]["n"] >= 2]
            if not cand:
                continue
            best = max(cand, key=lambda r: r["diff"]["mean"])
            lo = best["diff"]["mean"] - best["diff"]["ci95"]
            hi = best["diff"]["mean"] + best["diff"]["ci95"]
            out.append({"arch": arch, "wd": wd, "best": best,
                        "outcome": "better" if lo > 0 else "worse" if hi < 0 else "no difference",
                        "n_better": sum(r["diff"]["mean"] - r["diff"]["ci95"] > 0 for r in cand),
                        "n_worse": sum(r["diff"]["mean"] + r["diff"]["ci95"] < 0 for r in cand),
                        "n_targets": len(cand)})
    return out


def accuracy_figure(rows, outdir, link):
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    wds = list(dict.fromkeys(r["wd"] for r in rows))
    fig, axes = plt.subplots(2, len(archs), figsize=(3.6 * len(archs), 6.6), squeeze=False,
                             sharex=True, sharey="row")
    for j, arch in enumerate(archs):
        for k, wd in enumerate(wds):
            mine = [r for r in rows if r["arch"] == arch and r["wd"] == wd]
            x = np.array([r["c"] for r in mine]) + (k - (len(wds) - 1) / 2) * 0.06
            cc.errorbar(axes[0][j], x, [r["acc"] for r in mine], marker="o", color=f"C{k}",
                        label=f"λ = {wd:g}")
            cc.errorbar(axes[1][j], x, [r["diff"] for r in mine], marker="o", color=f"C{k}",
                        label=f"λ = {wd:g}")
        axes[0][j].set_title(arch)
        axes[1][j].axhline(0, color="k", lw=0.8)
        axes[1][j].set_xlabel("target c (× ‖θ₀‖²)")
        for ax in (axes[0][j], axes[1][j]):
            ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)\nmean ± 95% CI")
    axes[1][0].set_ylabel("test accuracy minus c = 0 (pp)\npaired by seed, mean ± 95% CI")
    axes[0][0].legend(fontsize=8)
    fig.suptitle("Claim 2: norm-bias targets c against plain weight decay (c = 0)", y=1.0)
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim2_accuracy.png", link)


def norm_figure(rows, outdir, link):
    archs = list(dict.fromkeys(r["arch"] for r in rows))
    wds = list(dict.fromkeys(r["wd"] for r in rows))
    cs = sorted(set(r["c"] for r in rows))
    fig, axes = plt.subplots(1, len(archs), figsize=(3.6 * len(archs), 3.6), squeeze=False,
                             sharey=True)
    markers = "os^vD"
    for j, arch in enumerate(archs):
        ax = axes[0][j]
        for r in (r for r in rows if r["arch"] == arch):
            if r["acc"]["n"] == 0:
                continue
            ax.errorbar(r["norm"]["mean"], 100 * r["acc"]["mean"],
                        xerr=np.nan_to_num(r["norm"]["ci95"]),
                        yerr=np.nan_to_num(100 * r["acc"]["ci95"]), capsize=2,
                        marker=markers[wds.index(r["wd"]) % len(markers)],
                        color=f"C{cs.index(r['c'])}", ls="none")
        ax.set_title(arch)
        ax.set_xlabel("final ‖θ‖ (mean ± 95% CI)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    handles = [plt.Line2D([], [], color=f"C{i}", marker="o", ls="none", label=f"c = {c:g}·‖θ₀‖²")
               for i, c in enumerate(cs)]
    handles += [plt.Line2D([], [], color="k", marker=markers[i % len(markers)], ls="none",
                           label=f"λ = {wd:g}") for i, wd in enumerate(wds)]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle("Claim 2: test accuracy against the final parameter norm", y=1.02)
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim2_norm.png", link)


def analyse(t, outdir, link):
    rows = stats(t)
    cc.write_table(
        os.path.join(outdir, "claim2_table.csv"),
        ["architecture", "weight_decay", "norm_bias_target", "n_done", "test_acc_mean",
         "test_acc_ci95", "paired_diff_mean", "paired_diff_ci95", "paired_n", "param_norm_mean",
         "param_norm_over_init_mean", "train_loss_mean", "test_loss_mean"],
        [[r["arch"], r["wd"], r["c"], r["acc"]["n"], r["acc"]["mean"], r["acc"]["ci95"],
          r["diff"]["mean"], r["diff"]["ci95"], r["diff"]["n"], r["norm"]["mean"],
          r["ratio"]["mean"], r["train_loss"], r["test_loss"]] for r in rows])
    table = cc.md_table(
        ["architecture", "λ", "c (× ‖θ₀‖²)", "n", "test acc %", "minus c = 0 (pp, paired)",
         "final ‖θ‖", "‖θ‖/‖θ₀‖", "train loss", "test loss"],
        [[r["arch"], f"{r['wd']:g}", f"{r['c']:g}", r["acc"]["n"], cc.pct(r["acc"]),
          "-" if r["c"] == 0 else diff_text(r["diff"]), cc.num(r["norm"]["mean"], 4),
          cc.num(r["ratio"]["mean"], 3), cc.num(r["train_loss"]), cc.num(r["test_loss"])]
         for r in rows])
    summary = cc.md_table(
        ["architecture", "λ", "best c > 0", "its paired difference (pp)", "outcome",
         "targets better / worse than c = 0 (CI excludes 0)"],
        [[v["arch"], f"{v['wd']:g}", f"{v['best']['c']:g}", diff_text(v["best"]["diff"]),
          v["outcome"], f"{v['n_better']} / {v['n_worse']} of {v['n_targets']}"]
         for v in verdict_counts(rows)])
    return "".join([
        f"{cc.status_line(t)}. Means over seeds, ± the half-width of the 95% t-interval. "
        "'minus c = 0' is the difference in test accuracy to plain weight decay of the "
        "same architecture, λ and seed (the seed fixes the initialisation and the order "
        "of the batches, so the pairs differ only in the regulariser).\n\n",
        "Best target per architecture and λ:\n\n", summary, "\n", "All settings:\n\n", table,
        "\n", accuracy_figure(rows, outdir, link), "\n", norm_figure(rows, outdir, link)])


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
