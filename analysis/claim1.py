#!/usr/bin/python3
"""Claim 1, suboptimal local minima: nets whose biases start at +20 (and other bias
initialisations) against default nets and their linear twins.

Reads a results file of a sweep like sweeps/claim1.json (architectures of several
depths, each with several bias initialisations and identity-activation twins,
measure.certificate on) and writes

    claim1_table.csv      per architecture and condition: train and test accuracy,
                          the paired difference to the linear twin, and the
                          certificate (gradient norm, ReLU-negative fraction per layer,
                          Hessian extremes), means over seeds
    claim1_accuracy.png   test accuracy per bias initialisation, one panel per depth
                          and condition, against the linear twin
    claim1_linearity.png  test accuracy against the fraction of negative ReLU
                          pre-activations, one marker per trained net

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
TITLE = "Claim 1: suboptimal local minima are everywhere"
PAPER = ("A ReLU net whose units are all active on the training data is a linear model "
         "there, so the best linear classifier is a local minimum of the ReLU net. The "
         "authors initialise every bias to +20 (controls: -20, zero, all 0.001, U(-v, v)) "
         "and train normally: the +20 nets end where their linear twins (ReLU removed) "
         "end, far below normally initialised nets, and a certificate (gradient norm near "
         "0, no negative pre-activations, no negative Hessian eigenvalue) shows they sit "
         "at such a linear minimum.")


def layer_columns(t, prefix):
    """The per-layer columns <prefix>_1, <prefix>_2, ... present in t, in order."""
    out, j = [], 1
    while f"{prefix}_{j}" in t:
        out.append(f"{prefix}_{j}")
        j += 1
    return out


def mean_negative_fraction(t):
    """Per row: the mean over ReLU layers of the negative pre-activation fraction
    (NaN for nets without ReLU layers or without the certificate)."""
    cols = layer_columns(t, "relu_negative_fraction")
    if not cols:
        return np.full(len(t["index"]), math.nan)
    m = np.column_stack([t[c] for c in cols])
    finite = np.isfinite(m)
    count = finite.sum(axis=1)
    total = np.where(finite, m, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), math.nan)


def twin_index(t, same_bias=False):
    """Per row, the row of its linear twin (-1 if the sweep has none): the
    identity-activation net of the same depth, condition, weight decay and seed, with
    default biases, or with the row's own biases if same_bias."""
    n = len(t["index"])

    def key(i, bias):
        return (t["depth"][i], bias, t["cond"][i], t["weight_decay"][i], t["seed"][i])

    twins = {key(i, t["bias_init"][i]): i for i in range(n) if t["activation"][i] == "identity"}
    return np.array([twins.get(key(i, t["bias_init"][i] if same_bias else "default"), -1)
                     for i in range(n)])


def mean_finite(values):
    """Mean of the finite entries, NaN if there are none."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else math.nan


def arch_label(t, i):
    kind = "linear twin" if t["activation"][i] == "identity" else "ReLU"
    return f"{kind}, bias {t['bias_init'][i]}"


def groups(t):
    """(depth, cond) -> {architecture: its row indices}, in grid order."""
    out = {}
    for i in range(len(t["index"])):
        g = out.setdefault((int(t["depth"][i]), str(t["cond"][i])), {})
        g.setdefault(str(t["arch"][i]), []).append(i)
    return out


def table_rows(t):
    ok = cc.done(t)
    twin = twin_index(t)
    same = twin_index(t, same_bias=True)
    neg = mean_negative_fraction(t)
    neg_cols = layer_columns(t, "relu_negative_fraction")
    rows = []
    for (depth, cond), archs in groups(t).items():
        for arch, idx in archs.items():
            idx = np.array(idx)
            use = idx[ok[idx]]
            paired = [t["final_test_acc"][i] - t["final_test_acc"][twin[i]]
                      for i in use if twin[i] >= 0 and ok[twin[i]]]

            def mean_of(col):
                return mean_finite(t[col][use]) if col in t else math.nan

            relu = t["activation"][idx[0]] == "relu"
            identical = [t["param_hash"][i] == t["param_hash"][same[i]]
                         for i in use if relu and same[i] >= 0 and ok[same[i]]]
            rows.append({
                "depth": depth, "cond": cond, "arch": arch, "label": arch_label(t, idx[0]),
                "identical": (sum(identical), len(identical)),
                "n": len(use), "n_all": len(idx),
                "n_diverged": int(np.sum(t["status"][idx] == "diverged")),
                "train": br.describe(t["final_train_acc"][use]),
                "test": br.describe(t["final_test_acc"][use]),
                "vs_twin": br.describe(paired),
                "grad": mean_of("cert_grad_norm"),
                "neg_layers": [mean_of(c) for c in neg_cols],
                "neg": mean_finite(neg[use]),
                "hmin": mean_of("hessian_min"), "hmax": mean_of("hessian_max_abs"),
                "loss": mean_of("cert_loss_data"),
            })
    return rows


def write_csv_table(rows, path):
    headers = ["depth", "condition", "architecture", "n_done", "n_points", "train_acc_mean",
               "train_acc_ci95", "test_acc_mean", "test_acc_ci95", "test_minus_twin_mean",
               "test_minus_twin_ci95", "train_loss", "grad_norm", "negative_fraction_mean",
               "negative_fraction_by_layer", "hessian_min", "hessian_max_abs",
               "seeds_identical_to_same_init_twin", "seeds_with_same_init_twin"]
    out = [[r["depth"], r["cond"], r["arch"], r["n"], r["n_all"], r["train"]["mean"],
            r["train"]["ci95"], r["test"]["mean"], r["test"]["ci95"], r["vs_twin"]["mean"],
            r["vs_twin"]["ci95"], r["loss"], r["grad"], r["neg"],
            " ".join(f"{v:.4f}" for v in r["neg_layers"] if not math.isnan(v)),
            r["hmin"], r["hmax"], r["identical"][0], r["identical"][1]] for r in rows]
    cc.write_table(path, headers, out)


def markdown_table(rows):
    headers = ["depth", "condition", "architecture", "n", "train acc %", "test acc %",
               "test - linear twin (pp)", "loss", "grad norm", "neg. fraction by layer",
               "λmin", "\\|λ\\|max", "= its linear twin, bit for bit"]
    body = []
    for r in rows:
        neg = " / ".join(f"{v:.2f}" for v in r["neg_layers"] if not math.isnan(v)) or "-"
        twin = r["vs_twin"]
        body.append([r["depth"], r["cond"], r["arch"], f"{r['n']}/{r['n_all']}",
                     cc.pct(r["train"]), cc.pct(r["test"]),
                     "-" if twin["n"] == 0 or (twin["mean"] == 0 and twin["std"] == 0)
                     else f"{100 * twin['mean']:+.2f} ± {100 * twin['ci95']:.2f}"
                     if twin["n"] >= 2 else f"{100 * twin['mean']:+.2f}",
                     cc.num(r["loss"]), cc.num(r["grad"], 2), neg, cc.num(r["hmin"], 2),
                     cc.num(r["hmax"], 3),
                     f"{r['identical'][0]} of {r['identical'][1]} seeds" if r["identical"][1] else "-"])
    return cc.md_table(headers, body)


def accuracy_figure(t, rows, outdir, link):
    conds = sorted({r["cond"] for r in rows}, key=lambda c: (c != "standard", c))
    depths = sorted({r["depth"] for r in rows})
    fig, axes = plt.subplots(len(conds), len(depths), figsize=(5.2 * len(depths), 3.8 * len(conds)),
                             squeeze=False, sharey=True)
    for a, cond in enumerate(conds):
        for b, depth in enumerate(depths):
            ax = axes[a][b]
            mine = [r for r in rows if r["depth"] == depth and r["cond"] == cond]
            x = np.arange(len(mine))
            colours = ["tab:gray" if "linear" in r["label"] else "tab:blue" for r in mine]
            test = np.array([100 * r["test"]["mean"] for r in mine])
            ci = np.array([100 * r["test"]["ci95"] if r["test"]["n"] >= 2 else 0 for r in mine])
            ax.bar(x, test, yerr=np.nan_to_num(ci), capsize=3, color=colours,
                   label="test accuracy (mean ± 95% CI)")
            train = np.array([100 * r["train"]["mean"] for r in mine])
            ax.plot(x, train, "k_", markersize=14, mew=2, label="train accuracy (mean)")
            twin = [r for r in mine if r["label"] == "linear twin, bias default"]
            if twin:
                ax.axhline(100 * twin[0]["test"]["mean"], color="tab:red", ls="--", lw=1,
                           label="linear twin, test")
            for xi, r in zip(x, mine):
                if r["n_diverged"]:
                    ax.text(xi, 2, f"{r['n_diverged']} of {r['n_all']} diverged", ha="center",
                            va="bottom", fontsize=7, rotation=90)
            ax.set_xticks(x)
            ax.set_xticklabels([r["label"].replace("ReLU, bias ", "").replace("linear twin, bias ", "lin. ")
                                for r in mine], rotation=35, ha="right")
            ax.set_ylim(0, 100)
            ax.set_title(f"{depth} hidden layer{'s' if depth > 1 else ''}, condition {cond}")
            if b == 0:
                ax.set_ylabel("accuracy (%)")
            ax.set_xlabel("bias initialisation (blue: ReLU net, grey: linear twin)")
            ax.grid(axis="y", alpha=0.3)
            if a == 0 and b == 0:
                ax.legend(loc="lower left", fontsize=8)
    fig.suptitle("Claim 1: final accuracy per bias initialisation", y=1.0)
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim1_accuracy.png", link)


def linearity_figure(t, outdir, link):
    ok = cc.done(t) & (t["activation"] == "relu")
    neg = mean_negative_fraction(t)
    conds = sorted(set(t["cond"].tolist()), key=lambda c: (c != "standard", c))
    depths = sorted(set(int(d) for d in t["depth"]))
    inits = list(dict.fromkeys(t["bias_init"][ok].tolist()))
    fig, axes = plt.subplots(1, len(conds), figsize=(5.2 * len(conds), 4.2), squeeze=False,
                             sharey=True)
    for a, cond in enumerate(conds):
        ax = axes[0][a]
        twins = cc.done(t) & (t["activation"] == "identity") & (t["cond"] == cond)
        if twins.any():
            acc = 100 * t["final_test_acc"][twins]
            ax.axhspan(acc.min(), acc.max(), color="tab:red", alpha=0.15)
        for k, lab in enumerate(inits):
            for d, depth in enumerate(depths):
                sel = ok & (t["bias_init"] == lab) & (t["cond"] == cond) & (t["depth"] == depth)
                if sel.any():
                    ax.scatter(neg[sel], 100 * t["final_test_acc"][sel], marker="os^vD"[d % 5],
                               color=f"C{k}", alpha=0.8)
        ax.set_title(f"condition {cond}")
        ax.set_xlabel("fraction of negative ReLU pre-activations\n"
                      "(training data, mean over layers; 0 = linear on the data)")
        ax.set_xlim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test accuracy (%)")
    handles = [plt.Line2D([], [], color=f"C{k}", marker="o", ls="none", label=f"bias {lab}")
               for k, lab in enumerate(inits)]
    handles += [plt.Line2D([], [], color="k", marker="os^vD"[d % 5], ls="none",
                           label=f"{depth} hidden layer{'s' if depth > 1 else ''}")
                for d, depth in enumerate(depths)]
    handles.append(plt.matplotlib.patches.Patch(color="tab:red", alpha=0.15,
                                                label="linear twins (range)"))
    axes[0][-1].legend(handles=handles, fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle("Claim 1: linearity on the data against test accuracy (one marker per net)")
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim1_linearity.png", link)


def analyse(t, outdir, link):
    rows = table_rows(t)
    write_csv_table(rows, os.path.join(outdir, "claim1_table.csv"))
    md = [f"{cc.status_line(t)}. Means over seeds; ± is the half-width of the 95% t-interval; "
          "'test - linear twin' is the paired (same seed) difference to the ReLU-free net "
          "with default biases of the same depth and condition. The certificate columns "
          "(loss without the regulariser, gradient norm of the regularised loss, negative "
          "pre-activation fraction per ReLU layer, Hessian extremes) are measured on the "
          "certificate subset of the training set. The last column counts the seeds whose "
          "final parameters are bit-identical (same parameter hash) to those of the linear "
          "twin with the same biases: a net whose ReLUs never switched off trains exactly "
          "like that twin.\n\n",
          markdown_table(rows), "\n",
          accuracy_figure(t, rows, outdir, link), "\n",
          linearity_figure(t, outdir, link)]
    return "".join(md)


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
