#!/usr/bin/python3
"""Claim 1, suboptimal local minima: a certified linear minimum of a ReLU net against the
same net trained from its default initialisation, and the authors' bias controls.

Reads a results file of a sweep like sweeps/claim1.json: architectures of several depths
whose names end in an arm - `constructed` (init.construct: the linear classifier fitted
to convergence and embedded with every ReLU active), `default`, `plus20` / `minus20`
(bias offsets), `zero` / `equal` (every parameter 0 or 0.001), `uniform` (biases
U(-0.1, 0.1)) - and `linear-constructed` (the linear model itself), under conditions
(at initialisation, SGD, full-batch descent), measure.certificate on the full training
set. Writes

    claim1_table.csv      per architecture and condition: accuracies, training loss,
                          how many seeds converged (gradient norm < tolerance) and how
                          many are certified minima or saddles, the certificate's
                          values, the construction's figures
    claim1_gap.csv        per depth: the constructed net (condition at_init) against the
                          default net after each training condition, paired by seed:
                          test-accuracy and training-loss differences with 95% intervals
    claim1_accuracy.png   test accuracy per arm, one panel per depth and condition
    claim1_certificate.png  training loss against gradient norm, one marker per net,
                          coloured by the certificate's verdict

    /usr/bin/python3 analysis/claim1.py results.h5 --out DIR
    /usr/bin/python3 analysis/claim1.py --points claim1_points.csv --out DIR
"""

import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402
import claims_common as cc  # noqa: E402
from claims_common import plt  # noqa: E402

NAME = "claim1"
# the workstation sweep, and the 1-hidden-layer default and +20 nets by full-batch descent
# until the gradient rule fires or 6000 epochs (claim1-converge.json) and by the trust-region
# Newton method until it fires or 200 iterations (claim1-newton.json)
SWEEPS = ("claim1", "claim1-converge", "claim1-newton")
TITLE = "Claim 1: suboptimal local minima are everywhere"
PAPER = ("A ReLU net whose units are all active on the training data is a linear model "
         "there, so the best linear classifier, embedded in a ReLU net, is a local minimum "
         "of it - a poor one wherever a linear model cannot fit the data. The authors "
         "prove it constructively (train a linear model to convergence, embed it with "
         "every unit active, certify the point: gradient norm near 0, no negative "
         "pre-activation, no negative Hessian eigenvalue) and also initialise every bias "
         "at +20 (controls: -20, all parameters 0, all 0.001, U(-v, v)).")
# The setups side by side in the report's first table (from the authors' code; ours
# from sweeps/claim1.json).
PAPER_SETUP = ('CIFAR-10, no augmentation; MLPs 3072-2048-2048-1024-10 and 3072-256x3-10 (also with BN), ResNet-18, linear twins; SGD lr 0.01, momentum 0.4, weight decay 5e-4, batch 128, 450 epochs (x0.1 at 150, 250, 350); controls +20 / -20 added to every bias, all parameters 0 or 0.001, U(-0.1, 0.1) biases; constructed minima from a converged small net embedded with identity weights and bias offset 2, certified by 500 Hessian power iterations (job_local_optima.py, job_optima_from_subnets.py)')
OUR_SETUP = ("Fashion-MNIST's first 50 whitened principal components (60,000 / 10,000); MLPs with 1 and 3 hidden layers of 64 and the linear model; no weight decay; the constructed linear minimum (Newton fit to gradient 1e-12) and the authors' five initialisations, each at initialisation, after SGD (batch 256, lr 0.01, momentum 0.9, cosine, 20 epochs) and after 100 full-batch epochs at lr 1e-4; the 1-hidden-layer default and +20 nets also by full-batch descent at lr = 1 / λmax (momentum 0.9, x0.1 at epochs 1000 and 2000) until the gradient norm falls below 1e-4 or 6000 epochs (claim1-converge.json, condition gd_long), and by full-batch trust-region Newton-CG on exact Hessian-vector products until it falls below 1e-4 or 200 iterations (claim1-newton.json, condition newton); certificate on all 60,000 training images; 5 seeds")

VERDICTS = {1.0: "minimum", 2.0: "saddle", 0.0: "not converged"}


def arm(name):
    """The arm of an architecture name: its last '-' part ('constructed', 'default', ...)."""
    return name.rsplit("-", 1)[-1]


def layer_columns(t, prefix):
    """The per-layer columns <prefix>_1, <prefix>_2, ... present in t, in order."""
    out, j = [], 1
    while f"{prefix}_{j}" in t:
        out.append(f"{prefix}_{j}")
        j += 1
    return out


def mean_over_layers(t, prefix):
    """Per row: the mean of the finite per-layer values (NaN if none)."""
    cols = layer_columns(t, prefix)
    if not cols:
        return np.full(len(t["index"]), math.nan)
    m = np.column_stack([t[c] for c in cols])
    finite = np.isfinite(m)
    return np.where(finite.any(axis=1),
                    np.where(finite, m, 0.0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1),
                    math.nan)


def col(t, name):
    return t[name] if name in t else np.full(len(t["index"]), math.nan)


def mean_finite(v):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else math.nan


def max_finite(v):
    v = np.asarray(v, float)
    v = v[np.isfinite(v)]
    return float(v.max()) if len(v) else math.nan


def table_rows(t):
    ok = cc.done(t)
    verdict = col(t, "cert_verdict")
    neg, negt = mean_over_layers(t, "relu_negative_fraction"), mean_over_layers(
        t, "relu_negative_fraction_test")
    rows = []
    seen = {}
    for i in range(len(t["index"])):
        seen.setdefault((str(t["arch"][i]), str(t["cond"][i])), []).append(i)
    for (a, c), idx in seen.items():
        idx = np.array(idx)
        use = idx[ok[idx]]
        v = verdict[use]
        rows.append({
            "depth": int(t["depth"][idx[0]]), "arch": a, "arm": arm(a), "cond": c,
            "n": len(use), "n_all": len(idx),
            "n_diverged": int(np.sum(t["status"][idx] == "diverged")),
            "train": br.describe(t["final_train_acc"][use]),
            "test": br.describe(t["final_test_acc"][use]),
            "loss": br.describe(col(t, "cert_loss_data")[use]),
            "grad": br.describe(col(t, "cert_grad_norm")[use]),
            "n_converged": int(np.sum((v == 1) | (v == 2))),
            "n_minimum": int(np.sum(v == 1)), "n_saddle": int(np.sum(v == 2)),
            "n_stopped": int(np.sum(np.isfinite(col(t, "stop_epoch")[use]))),
            "neg": mean_finite(neg[use]), "neg_test": mean_finite(negt[use]),
            "hmin": mean_finite(col(t, "hessian_min")[use]),
            "hmax": mean_finite(col(t, "hessian_max_abs")[use]),
            "fit_grad": max_finite(col(t, "construct_grad_norm")[use]),
            "logit_diff": max_finite(col(t, "construct_logit_diff")[use]),
        })
    return rows


def gap_rows(t):
    """Per depth and training condition: constructed (at_init) minus default (trained),
    paired by seed, for test accuracy and training loss."""
    ok = cc.done(t)
    out = []
    depths = sorted({int(d) for d, a in zip(t["depth"], t["arch"]) if arm(str(a)) == "constructed"
                     and int(d) > 0})
    conds = [c for c in dict.fromkeys(t["cond"].tolist()) if c != "at_init"]
    for d in depths:
        built = {int(s): i for i in range(len(t["index"]))
                 if ok[i] and int(t["depth"][i]) == d and arm(str(t["arch"][i])) == "constructed"
                 and t["cond"][i] == "at_init" for s in [t["seed"][i]]}
        for c in conds:
            pairs = [(built[int(t["seed"][i])], i) for i in range(len(t["index"]))
                     if ok[i] and int(t["depth"][i]) == d and arm(str(t["arch"][i])) == "default"
                     and t["cond"][i] == c and int(t["seed"][i]) in built]
            if not pairs:  # a condition of another depth's sweep
                continue
            acc = [t["final_test_acc"][b] - t["final_test_acc"][j] for b, j in pairs]
            loss = [col(t, "cert_loss_data")[b] - col(t, "cert_loss_data")[j] for b, j in pairs]
            out.append({"depth": d, "cond": c, "acc": br.describe(acc), "loss": br.describe(loss)})
    return out


def write_csv_tables(rows, gaps, outdir):
    headers = ["depth", "condition", "architecture", "arm", "n_done", "n_points", "n_diverged",
               "train_acc_mean", "test_acc_mean", "test_acc_ci95", "train_loss_mean",
               "grad_norm_mean", "grad_norm_max", "n_converged", "n_certified_minimum",
               "n_saddle", "n_stopped_by_rule", "negative_fraction_train",
               "negative_fraction_test", "hessian_min_mean", "hessian_max_abs_mean",
               "construct_fit_grad_norm_max", "construct_logit_diff_max"]
    cc.write_table(os.path.join(outdir, "claim1_table.csv"), headers, [
        [r["depth"], r["cond"], r["arch"], r["arm"], r["n"], r["n_all"], r["n_diverged"],
         r["train"]["mean"], r["test"]["mean"], r["test"]["ci95"], r["loss"]["mean"],
         r["grad"]["mean"], r["grad"]["max"], r["n_converged"], r["n_minimum"], r["n_saddle"],
         r["n_stopped"], r["neg"], r["neg_test"], r["hmin"], r["hmax"], r["fit_grad"],
         r["logit_diff"]] for r in rows])
    cc.write_table(os.path.join(outdir, "claim1_gap.csv"),
                   ["depth", "condition", "n_pairs", "test_acc_diff_mean", "test_acc_diff_ci95",
                    "train_loss_diff_mean", "train_loss_diff_ci95"],
                   [[g["depth"], g["cond"], g["acc"]["n"], g["acc"]["mean"], g["acc"]["ci95"],
                     g["loss"]["mean"], g["loss"]["ci95"]] for g in gaps])


def markdown_tables(rows, gaps):
    headers = ["depth", "condition", "architecture", "n", "train acc %", "test acc %",
               "train loss", "grad norm (mean, max)", "converged / minima / saddles",
               "neg. fraction train / test", "λmin", "\\|λ\\|max"]
    body = []
    for r in rows:
        body.append([r["depth"], r["cond"], r["arch"],
                     f"{r['n']}/{r['n_all']}" + (f" ({r['n_diverged']} diverged)" if r["n_diverged"] else ""),
                     cc.pct(r["train"]), cc.pct(r["test"]), cc.num(r["loss"]["mean"], 4),
                     f"{cc.num(r['grad']['mean'], 2)}, {cc.num(r['grad']['max'], 2)}",
                     f"{r['n_converged']} / {r['n_minimum']} / {r['n_saddle']}",
                     f"{cc.num(r['neg'], 2)} / {cc.num(r['neg_test'], 2)}",
                     cc.num(r["hmin"], 2), cc.num(r["hmax"], 3)])
    md = cc.md_table(headers, body)
    built = [r for r in rows if r["arm"] == "constructed" and r["cond"] == "at_init"]
    if built:
        md += "\n" + cc.md_table(
            ["constructed net", "linear fit's gradient norm (max)",
             "max \\|logits - linear model's\\| (train and test)"],
            [[r["arch"], cc.num(r["fit_grad"], 2), cc.num(r["logit_diff"], 2)] for r in built])
    if gaps:
        md += "\n" + cc.md_table(
            ["depth", "default net trained by", "pairs", "test acc: constructed - default (pp)",
             "train loss: constructed - default"],
            [[g["depth"], g["cond"], g["acc"]["n"],
              f"{100 * g['acc']['mean']:+.2f} ± {100 * g['acc']['ci95']:.2f}"
              if g["acc"]["n"] >= 2 else cc.num(100 * g["acc"]["mean"]),
              f"{g['loss']['mean']:+.4f} ± {g['loss']['ci95']:.4f}"
              if g["loss"]["n"] >= 2 else cc.num(g["loss"]["mean"])] for g in gaps])
    return md


def accuracy_figure(rows, outdir, link):
    conds = list(dict.fromkeys(r["cond"] for r in rows))
    depths = sorted({r["depth"] for r in rows if r["depth"] > 0})
    fig, axes = plt.subplots(len(depths), len(conds), figsize=(4.6 * len(conds), 3.8 * len(depths)),
                             squeeze=False, sharey=True)
    lin = [r for r in rows if r["depth"] == 0 and r["cond"] == "at_init"]
    for a, depth in enumerate(depths):
        for b, cond in enumerate(conds):
            ax = axes[a][b]
            mine = [r for r in rows if r["depth"] == depth and r["cond"] == cond]
            if not mine:  # a condition run at another depth only
                ax.text(0.5, 0.5, "not run at this depth", ha="center", va="center",
                        transform=ax.transAxes, color="0.4")
            x = np.arange(len(mine))
            ax.bar(x, [100 * r["test"]["mean"] for r in mine],
                   yerr=np.nan_to_num([100 * r["test"]["ci95"] for r in mine]), capsize=3,
                   color=["tab:green" if r["arm"] == "constructed" else "tab:blue" for r in mine])
            for xi, r in zip(x, mine):
                label = f"{r['n_minimum']}/{r['n']} min" if r["n"] else "-"
                if r["n_diverged"]:
                    label += f", {r['n_diverged']} div."
                ax.text(xi, 3, label, ha="center", va="bottom", fontsize=7, rotation=90)
            if lin:
                ax.axhline(100 * lin[0]["test"]["mean"], color="tab:red", ls="--", lw=1,
                           label="linear model (constructed)")
            ax.set_xticks(x)
            ax.set_xticklabels([r["arm"] for r in mine], rotation=35, ha="right")
            ax.set_ylim(0, 100)
            ax.set_title(f"{depth} hidden layer{'s' if depth > 1 else ''}, {cond}")
            ax.grid(axis="y", alpha=0.3)
            if b == 0:
                ax.set_ylabel("test accuracy (%), mean ± 95% CI")
            if a == 0 and b == 0 and lin:
                ax.legend(loc="lower right", fontsize=8)
    fig.suptitle("Claim 1: test accuracy per arm (green: constructed; text: certified minima)", y=1.0)
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim1_accuracy.png", link)


def certificate_figure(t, outdir, link):
    ok = cc.done(t)
    g, loss, v = col(t, "cert_grad_norm"), col(t, "cert_loss_data"), col(t, "cert_verdict")
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for code, (name, colour) in {1.0: ("certified minimum", "tab:green"),
                                 2.0: ("saddle (gradient below tolerance)", "tab:orange"),
                                 0.0: ("not converged", "tab:gray")}.items():
        sel = ok & (v == code) & np.isfinite(g) & (g > 0)
        if sel.any():
            ax.scatter(g[sel], loss[sel], s=14, color=colour, label=f"{name} ({sel.sum()})", alpha=0.7)
    ax.axvline(1e-4, color="k", ls=":", lw=1, label="tolerance 1e-4")
    ax.set_xscale("log")
    ax.set_xlabel("full-batch gradient norm of the training loss")
    ax.set_ylabel("training loss (cross-entropy, full training set)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle("Claim 1: certificate of every finished net")
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim1_certificate.png", link)


def kink_table(t):
    """The markdown table of analysis/claim1_kinks.py's counts (the columns kink_at,
    kink_expected, kink_ratio that report.py adds from <sweep>_kinks.csv), '' without."""
    if "kink_at" not in t:
        return ""
    ok = cc.done(t) & np.isfinite(t["kink_at"])
    body = []
    for a, c in dict.fromkeys(zip(t["arch"][ok].tolist(), t["cond"][ok].tolist())):
        sel = ok & (t["arch"] == a) & (t["cond"] == c)
        ratio = t["kink_ratio"][sel]
        neg = mean_over_layers(t, "relu_negative_fraction")[sel]
        body.append([a, c, int(sel.sum()), cc.num(mean_finite(t["kink_at"][sel]), 3),
                     cc.num(mean_finite(t["kink_expected"][sel]), 2),
                     f"{cc.num(mean_finite(ratio), 3)} ({cc.num(np.nanmin(ratio), 3)}-"
                     f"{cc.num(np.nanmax(ratio), 3)})" if np.isfinite(ratio).any() else "-",
                     cc.num(mean_finite(neg), 2),
                     cc.num(mean_finite(t["kink_output_grad_norm"][sel]), 2),
                     cc.num(mean_finite(t["kink_subgrad_norm"][sel]), 2),
                     cc.num(mean_finite(t["cert_grad_norm"][sel]), 2)])
    return ("\nHow many pre-activations sit on the ReLU kink, and whether the point is "
            "stationary even so (`analysis/claim1_kinks.py` on the stored weights: every "
            "hidden unit on every training image, float64). *at kink*: pairs with "
            "\\|z\\| < 1e-5; *smooth*: what the density of z at 1e-3 <= \\|z\\| < 2e-3 "
            "puts below 1e-5; their ratio is about 1 without a spike at 0. *smallest "
            "subgradient*: the smallest gradient norm over the convex hull of the gradients "
            "of the smooth pieces that meet at those pairs (each pair's ReLU derivative "
            "anywhere in [0, 1]; 0 at a minimum on a kink); *output layer*: the output "
            "layer's part of the gradient, which no kink changes, a lower bound for it; "
            "*gradient*: the certificate's gradient norm.\n\n" +
            cc.md_table(["architecture", "condition", "n", "at kink (mean)", "smooth (mean)",
                         "ratio (mean, min-max)", "neg. fraction", "output layer (mean)",
                         "smallest subgradient (mean)", "gradient (mean)"], body))


def analyse(t, outdir, link):
    rows, gaps = table_rows(t), gap_rows(t)
    write_csv_tables(rows, gaps, outdir)
    md = [f"{cc.status_line(t)}. Means over seeds; ± is the half-width of the 95% t-interval. "
          "The certificate is measured on the full training set with the net's own "
          "regulariser (here none): a net is *converged* when its gradient norm is below "
          "the tolerance (1e-4), a *certified minimum* when in addition its smallest "
          "Hessian eigenvalue is at least -1e-4 |λmax|, a *saddle* when it is not; an "
          "unconverged net is no claim either way. The constructed nets have no random "
          "draw: their seeds differ only in training order, so at_init they are one point "
          "repeated. The last table pairs each seed's default net, trained, with the "
          "constructed net of the same depth.\n\n",
          markdown_tables(rows, gaps), kink_table(t), "\n",
          accuracy_figure(rows, outdir, link), "\n",
          certificate_figure(t, outdir, link)]
    return "".join(md)


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
