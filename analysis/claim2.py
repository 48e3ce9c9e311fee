#!/usr/bin/python3
"""Claim 2, small norms: the norm-bias regulariser (pull ||theta||^2 towards c) against
plain weight decay (c = 0), paired by seed.

Reads a results file of a sweep like sweeps/claim2.json or claim2-convnet.json
(architectures x weight decay lambda x relative norm-bias targets c x seeds), or the
exports of its sweeps (the MLPs, the ConvNet without and with batch norm, each with a
second sweep of more targets, the ResNet-18), and writes

    claim2_tuned.csv     per architecture: the weight decay and the norm-bias setting
                         chosen on the validation split, and the paired test-accuracy
                         differences between them and no regularisation (lambda = 0)
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
# the MLPs; the ConvNet without and with batch norm and the ResNet-18, one sweep each
# (each family has its own batch size and learning rate); the two ConvNets again with
# the target c = 1 (their -c1 sweeps: the same nets, more norm-bias settings)
SWEEPS = ("claim2", "claim2-convnet", "claim2-convnet-c1", "claim2-convnet-bn",
          "claim2-convnet-bn-c1", "claim2-resnet18")
TITLE = "Claim 2: small-norm parameters are not optimal"
PAPER = ("Weight decay pulls the parameters towards norm 0. The authors replace it by a "
         "'norm-bias' regulariser (lambda/2)|‖theta‖² - c| that pulls the squared norm "
         "towards a target c, and find targets c > 0 that match or beat c = 0 (plain "
         "weight decay): small norm is not what makes a net generalise. The gains are "
         "small, so they must be judged by confidence intervals over paired seeds.")
# The setups side by side in the report's first table (from the authors' code; ours
# from the sweeps above).
PAPER_SETUP = ('CIFAR-10 with crop and flip; ResNet-18, DenseNet, MobileNetV2, Fixup ResNet-20, a 4-layer MLP of width 2048; SGD lr 0.01, momentum 0.9, batch 128, x0.1 at epochs 25, 35, 40, 45 (of 50); weight decay 1e-4; norm-bias targets c as absolute numbers (NormBias/main.py)')
OUR_SETUP = ("Fashion-MNIST; the last training images held out for choosing settings (validation); SGD momentum 0.9, x0.1 at 50%, 70%, 80% and 90% of training (the authors' shape); 5 seeds. MLPs (claim2.json): 12,000 training images of which 2,000 validation, no augmentation; [256, 256] with and without batch norm and skips; λ in {0, 5e-4, 5e-3}, c relative to ‖θ₀‖² in {0, 0.5, 1, 2, 4}; lr 0.01, batch 128, 20 epochs. Conv nets (claim2-convnet.json, claim2-convnet-bn.json, claim2-resnet18.json): 2,000 training images of which 500 validation, 2,000 test images, crop (padding 4) and flip; ConvNet w = 16 without batch norm (batch 32, lr 0.03), with batch norm (batch 128, lr 0.01), ResNet-18 b = 4 (batch 128, lr 0.05), learning rates and batch sizes from a one-seed pilot on the validation split; λ in {0, 5e-4, 5e-3}, c in {0, 2}, and c = 1 for λ > 0 in a second sweep per ConvNet (claim2-convnet-c1.json, claim2-convnet-bn-c1.json); ResNet-18: c in {0, 0.5, 1, 2, 4}, as the MLPs; 10 epochs")

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
        if k[1] == 0 and k[2] != 0:
            continue  # without a regulariser c does nothing: the runs of c = 0 again
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
        for wd in dict.fromkeys(r["wd"] for r in rows if r["arch"] == arch and r["wd"] > 0):
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


def tuned(t):
    """Tuned against tuned, per architecture: on the validation split (mean final_val_acc
    over seeds, never the test set) the best weight decay (c = 0, λ > 0) and the best
    norm-bias setting (λ > 0, c > 0) are chosen; with no regularisation (λ = 0) they are
    compared on the test set, paired by seed. [] without a validation split."""
    if "final_val_acc" not in t:
        return []
    ok = cc.done(t)
    out = []
    for arch in dict.fromkeys(t["arch"].tolist()):
        mine = ok & (t["arch"] == arch)

        def mean_val(wd, c):
            sel = mine & (t["weight_decay"] == wd) & (t["norm_bias"] == c)
            return float(np.mean(t["final_val_acc"][sel])) if sel.any() else -1.0

        settings = sorted(set(zip(t["weight_decay"][mine].tolist(),
                                  t["norm_bias"][mine].tolist())))
        wd_only = [s for s in settings if s[0] > 0 and s[1] == 0]
        nb = [s for s in settings if s[0] > 0 and s[1] > 0]
        if not wd_only or not nb or (0.0, 0.0) not in settings:
            continue
        best_wd = max(wd_only, key=lambda s: mean_val(*s))
        best_nb = max(nb, key=lambda s: mean_val(*s))
        chosen = {"none": (0.0, 0.0), "wd": best_wd, "nb": best_nb}
        test = {}
        for name, (wd, c) in chosen.items():
            sel = mine & (t["weight_decay"] == wd) & (t["norm_bias"] == c)
            test[name] = dict(zip(t["seed"][sel].tolist(), t["final_test_acc"][sel].tolist()))
        seeds = sorted(set(test["none"]) & set(test["wd"]) & set(test["nb"]))

        def paired(a, b):
            return br.describe([test[a][s] - test[b][s] for s in seeds])

        out.append({"arch": arch, "chosen": chosen,
                    "val": {k: mean_val(*v) for k, v in chosen.items()},
                    "test": {k: br.describe([test[k][s] for s in seeds]) for k in chosen},
                    "nb_wd": paired("nb", "wd"), "nb_none": paired("nb", "none"),
                    "wd_none": paired("wd", "none"), "n": len(seeds)})
    return out


def tuned_section(t, outdir):
    rows = tuned(t)
    if not rows:
        return ("*No validation split in this sweep (`data.validation`): the tuned "
                "comparison cannot be made without choosing on the test set.*\n\n")
    cc.write_table(
        os.path.join(outdir, "claim2_tuned.csv"),
        ["architecture", "n_seeds", "weight_decay_chosen", "norm_bias_lambda_chosen",
         "norm_bias_c_chosen", "val_acc_none", "val_acc_weight_decay", "val_acc_norm_bias",
         "test_acc_none", "test_acc_weight_decay", "test_acc_norm_bias",
         "norm_bias_minus_weight_decay", "norm_bias_minus_weight_decay_ci95",
         "norm_bias_minus_none", "norm_bias_minus_none_ci95", "weight_decay_minus_none",
         "weight_decay_minus_none_ci95"],
        [[r["arch"], r["n"], r["chosen"]["wd"][0], r["chosen"]["nb"][0], r["chosen"]["nb"][1],
          r["val"]["none"], r["val"]["wd"], r["val"]["nb"], r["test"]["none"]["mean"],
          r["test"]["wd"]["mean"], r["test"]["nb"]["mean"], r["nb_wd"]["mean"],
          r["nb_wd"]["ci95"], r["nb_none"]["mean"], r["nb_none"]["ci95"],
          r["wd_none"]["mean"], r["wd_none"]["ci95"]] for r in rows])
    table = cc.md_table(
        ["architecture", "n", "chosen λ (weight decay)", "chosen λ, c (norm-bias)",
         "test acc %: none / weight decay / norm-bias", "norm-bias − weight decay (pp)",
         "norm-bias − none (pp)", "weight decay − none (pp)"],
        [[r["arch"], r["n"], f"{r['chosen']['wd'][0]:g}",
          f"{r['chosen']['nb'][0]:g}, {r['chosen']['nb'][1]:g}",
          " / ".join(cc.pct(r["test"][k]) for k in ("none", "wd", "nb")),
          diff_text(r["nb_wd"]), diff_text(r["nb_none"]), diff_text(r["wd_none"])]
         for r in rows])
    return "".join([
        "**Tuned against tuned.** Per architecture, the best plain weight decay (c = 0, "
        "λ > 0) and the best norm-bias setting (λ > 0, c > 0) are chosen on the validation "
        "split held out of the training data (`data.validation`: the mean final validation "
        "accuracy over seeds), never on the test set; then the test accuracies of the "
        "chosen settings and of no regularisation (λ = 0) are compared, paired by seed. "
        "Choosing the best of many settings on the data that judges them would favour "
        "whichever family offers more settings; here the test set is untouched by the "
        "choice.\n\n", table, "\n"])


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
        tuned_section(t, outdir),
        "Best target per architecture and λ (chosen on the test set: descriptive only):\n\n",
        summary, "\n", "All settings:\n\n", table,
        "\n", accuracy_figure(rows, outdir, link), "\n", norm_figure(rows, outdir, link)])


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
