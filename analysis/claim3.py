#!/usr/bin/python3
"""Claim 3, the neural tangent kernel: how much the empirical NTK moves during
training, against width, for plain MLPs and for MLPs with skip connections and batch
norm.

Reads a results file of a sweep like sweeps/claim3.json (width templates, measure.ntk
on, optionally measure.ntk.epochs) and writes

    claim3_table.csv      per architecture family and width: NTK similarity
                          <K0,K1>/(|K0||K1|), relative change |K1-K0|/|K0|, Pearson
                          correlation, relative parameter change, test accuracy
    claim3_slopes.csv     per family: the slope of the similarity (and of log2 of the
                          relative change) against log2(width), with 95% intervals
    claim3_slope_differences.csv
                          each skip / batch-norm family against the plain MLP of its
                          depth: the difference of similarity slopes on shared widths
    claim3_ntk.png        similarity and relative change against width, one line per
                          architecture family
    claim3_evolution.png  similarity to K0 after each measured epoch, at the widest
                          width every family has (only with measure.ntk.epochs)

    /usr/bin/python3 analysis/claim3.py results.h5 --out DIR
    /usr/bin/python3 analysis/claim3.py --points claim3_points.csv --out DIR
"""

import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402
import claims_common as cc  # noqa: E402
from claims_common import plt  # noqa: E402

NAME = "claim3"
TITLE = "Claim 3: ResNets do not behave like the neural tangent kernel"
PAPER = ("Wide-network theory says the empirical NTK barely moves during training. The "
         "authors measure the NTK of 25 training images (all 10 logits) before and after "
         "training: for MLPs its similarity to the initial kernel rises towards 1 with "
         "width, for ResNets it does not, and skip connections interacting with batch "
         "norm matter (the 2 x 2 design skip on/off x batch norm on/off).")
# The setups side by side in the report's first table (from the authors' code; ours
# from sweeps/claim3.json).
PAPER_SETUP = ('CIFAR-10, no augmentation, no shuffling; two- and four-layer MLPs, ConvNet, ResNet-18, WRN, VGG, MobileNetV2 over width multipliers; SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128, x0.2 at epochs 60, 120, 160; NTK of 25 training images x 10 logits in eval mode (job_neural_kernel.py)')
OUR_SETUP = ('Fashion-MNIST, 5,000 training images, no shuffling; 2- and 4-layer MLPs at widths 64-4096, 4-layer MLPs with batch norm, skips and both at 64-1024; SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128, 10 epochs, constant lr; NTK of 25 images x 10 logits in eval mode; 3 seeds')


def family_label(t, i):
    """'4-layer MLP + skip + BN' from the architecture columns of row i."""
    label = f"{int(t['depth'][i]) + 1}-layer MLP"
    if int(t["skip"][i]):
        label += " + skip"
    if int(t["batch_norm"][i]):
        label += " + BN"
    return label


def derived(t):
    """Relative NTK change and relative parameter change per row."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"ntk_change": t["ntk_distance"] / t["ntk_norm0"],
                "param_change": t["param_distance"] / t["init_param_norm"]}


def stats(t):
    ok = cc.done(t)
    d = derived(t)
    rows = []
    seen = {}
    for i in range(len(t["index"])):
        seen.setdefault((str(t["family"][i]), int(t["width"][i])), i)
    for (family, width), i0 in seen.items():
        mine = (t["family"] == family) & (t["width"] == width)
        sel = ok & mine
        rows.append({"family": family, "label": family_label(t, i0), "width": width,
                     "n": int(sel.sum()), "n_all": int(mine.sum()),
                     "sim": br.describe(t["ntk_similarity"][sel]),
                     "change": br.describe(d["ntk_change"][sel]),
                     "pearson": br.describe(t["ntk_pearson"][sel]),
                     "param": br.describe(d["param_change"][sel]),
                     "acc": br.describe(t["final_test_acc"][sel])})
    return rows


def family_slopes(t, families=None, widths=None):
    """Per family (in order of appearance), over its done points (seeds as replicates):
    the slope of the NTK similarity and of log2 of the relative change against
    log2(width), i.e. per doubling of the width; optionally only the given families and
    widths."""
    ok = cc.done(t)
    if widths is not None:
        ok &= np.isin(t["width"], list(widths))
    x = np.log2(np.asarray(t["width"], dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        log_change = np.log2(derived(t)["ntk_change"])
    out = {}
    for fam in dict.fromkeys(t["family"].tolist()):
        if families is not None and fam not in families:
            continue
        sel = ok & (t["family"] == fam)
        if not sel.any():
            continue
        out[fam] = {"label": family_label(t, np.flatnonzero(sel)[0]),
                    "widths": sorted(set(t["width"][sel].tolist())),
                    "sim": cc.slope(x[sel], t["ntk_similarity"][sel]),
                    "change": cc.slope(x[sel], log_change[sel])}
    return out


def slope_comparisons(t):
    """Every family with skip connections or batch norm against the plain family of the
    same depth: the difference of their similarity slopes, fitted on the widths both
    have (a slope depends on the range it is fitted over)."""
    rows = []
    fams = list(dict.fromkeys(t["family"].tolist()))
    info = {f: np.flatnonzero(t["family"] == f)[0] for f in fams}
    for fam in fams:
        i = info[fam]
        if not (int(t["skip"][i]) or int(t["batch_norm"][i])):
            continue
        ref = [f for f in fams if int(t["depth"][info[f]]) == int(t["depth"][i]) and
               not int(t["skip"][info[f]]) and not int(t["batch_norm"][info[f]])]
        if not ref:
            continue
        shared = (set(t["width"][t["family"] == fam].tolist()) &
                  set(t["width"][t["family"] == ref[0]].tolist()))
        fits = family_slopes(t, (fam, ref[0]), shared)
        if len(fits) < 2:
            continue
        rows.append({"family": fam, "label": fits[fam]["label"], "ref": ref[0],
                     "ref_label": fits[ref[0]]["label"], "widths": sorted(shared),
                     "a": fits[fam]["sim"], "b": fits[ref[0]]["sim"],
                     "diff": cc.slope_difference(fits[fam]["sim"], fits[ref[0]]["sim"])})
    return rows


def signed(x, ci, digits=3):
    """'+0.041 ± 0.010' (or '-' for NaN)."""
    if not np.isfinite(x):
        return "-"
    return f"{x:+.{digits}f}" + (f" ± {ci:.{digits}f}" if np.isfinite(ci) else "")


def width_range(widths):
    return f"{min(widths)}-{max(widths)}" if len(widths) > 1 else str(widths[0])


def slopes_section(t, outdir):
    """The verdict's numbers: slopes per doubling of the width, per family, and the
    differences between each residual or batch-norm family and its plain twin; both
    tables also written as CSV."""
    fits = family_slopes(t)
    cc.write_table(
        os.path.join(outdir, "claim3_slopes.csv"),
        ["family", "architecture", "widths", "n_done", "similarity_slope", "similarity_slope_ci95",
         "log2_change_slope", "log2_change_slope_ci95"],
        [[f, r["label"], width_range(r["widths"]), r["sim"]["n"], r["sim"]["slope"],
          r["sim"]["ci95"], r["change"]["slope"], r["change"]["ci95"]] for f, r in fits.items()])
    comps = slope_comparisons(t)
    cc.write_table(
        os.path.join(outdir, "claim3_slope_differences.csv"),
        ["family", "reference", "widths", "similarity_slope", "reference_slope",
         "difference", "difference_ci95", "welch_df"],
        [[c["family"], c["ref"], width_range(c["widths"]), c["a"]["slope"], c["b"]["slope"],
          c["diff"]["diff"], c["diff"]["ci95"], c["diff"]["df"]] for c in comps])
    table = cc.md_table(
        ["architecture", "widths", "n", "similarity slope per doubling",
         "log₂ relative change, slope per doubling"],
        [[r["label"], width_range(r["widths"]), r["sim"]["n"],
          signed(r["sim"]["slope"], r["sim"]["ci95"]),
          signed(r["change"]["slope"], r["change"]["ci95"], 2)] for r in fits.values()])
    diffs = cc.md_table(
        ["architecture", "against", "widths", "its slope", "the plain net's slope",
         "difference"],
        [[c["label"], c["ref_label"], width_range(c["widths"]), signed(c["a"]["slope"], math.nan),
          signed(c["b"]["slope"], math.nan), signed(c["diff"]["diff"], c["diff"]["ci95"])]
         for c in comps])
    return "".join([
        "**Slopes against width.** The claim is about a trend: the least-squares slope of "
        "the NTK similarity against log₂(width) over every done point of a family (seeds "
        "as replicates), per doubling of the width, ± the half-width of its 95% "
        "t-interval (n − 2 degrees of freedom). A positive slope means the kernel keeps its "
        "shape better as the net widens, the NTK-regime trend. The similarity is "
        "scale-free: multiplying K₁ by any constant leaves it unchanged, so the growth of "
        "the kernel's norm cannot move it; the relative change ‖K₁ − K₀‖/‖K₀‖ does grow "
        "with the norm and is shown for comparison, as log₂ per doubling.\n\n",
        table, "\n",
        "Each family with skip connections or batch norm against the plain MLP of the same "
        "depth, both fitted on the widths they share; the difference of the slopes with "
        "the 95% interval of Welch's approximation (degrees of freedom rounded down).\n\n",
        diffs, "\n"])


def ntk_figure(rows, outdir, link):
    fams = list(dict.fromkeys(r["family"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for k, fam in enumerate(fams):
        mine = sorted((r for r in rows if r["family"] == fam), key=lambda r: r["width"])
        x = [r["width"] for r in mine]
        style = dict(marker="os^vDP*"[k % 7], color=f"C{k}", label=mine[0]["label"])
        cc.errorbar(axes[0], x, [r["sim"] for r in mine], scale=1.0, **style)
        cc.errorbar(axes[1], x, [r["change"] for r in mine], scale=1.0, **style)
    widths = sorted({r["width"] for r in rows})
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(widths)
        ax.set_xticklabels([str(w) for w in widths])
        ax.minorticks_off()
        ax.set_xlabel("width w (units per hidden layer)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NTK similarity ⟨K₀,K₁⟩ / (‖K₀‖‖K₁‖)\n(1 = the kernel kept its shape)")
    axes[1].set_ylabel("relative NTK change ‖K₁ − K₀‖ / ‖K₀‖")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Claim 3: how far the empirical NTK moves in training (mean ± 95% CI over seeds)")
    fig.tight_layout()
    return cc.save_figure(fig, outdir, "claim3_ntk.png", link)


def evolution_figure(t, outdir, link):
    """Similarity to K0 after the measured epochs and at the end, per family, at the
    widest width all families share; '' if the sweep measured no epochs."""
    cols = sorted((c for c in t if re.fullmatch(r"ntk_similarity_epoch_e\d+", c)),
                  key=lambda c: int(c.rsplit("e", 1)[1]))
    if not cols:
        return ""
    ok = cc.done(t)
    fams = list(dict.fromkeys(t["family"].tolist()))
    shared = set.intersection(*[set(t["width"][t["family"] == f].tolist()) for f in fams])
    if not shared:
        return ""
    width = max(shared)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, fam in enumerate(fams):
        sel = ok & (t["family"] == fam) & (t["width"] == width)
        if not sel.any():
            continue
        epochs = [int(c.rsplit("e", 1)[1]) for c in cols]
        rows = [br.describe(t[c][sel]) for c in cols]
        last = int(np.max(t["epochs_run"][sel]))
        if last not in epochs:
            epochs.append(last)
            rows.append(br.describe(t["ntk_similarity"][sel]))
        cc.errorbar(ax, epochs, rows, scale=1.0, marker="os^vDP*"[k % 7], color=f"C{k}",
                    label=family_label(t, np.flatnonzero(sel)[0]))
    ax.set_xlabel("epoch")
    ax.set_ylabel("NTK similarity to initialisation")
    ax.set_title(f"Claim 3: kernel evolution at width {width} (mean ± 95% CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return cc.save_figure(fig, outdir, "claim3_evolution.png", link)


def analyse(t, outdir, link):
    rows = stats(t)
    cc.write_table(
        os.path.join(outdir, "claim3_table.csv"),
        ["family", "architecture", "width", "n_done", "ntk_similarity_mean", "ntk_similarity_ci95",
         "ntk_relative_change_mean", "ntk_relative_change_ci95", "ntk_pearson_mean",
         "param_relative_change_mean", "test_acc_mean", "test_acc_ci95"],
        [[r["family"], r["label"], r["width"], r["n"], r["sim"]["mean"], r["sim"]["ci95"],
          r["change"]["mean"], r["change"]["ci95"], r["pearson"]["mean"], r["param"]["mean"],
          r["acc"]["mean"], r["acc"]["ci95"]] for r in rows])

    def ci(d, digits=3):
        if d["n"] == 0:
            return "-"
        return f"{d['mean']:.{digits}f}" + (f" ± {d['ci95']:.{digits}f}" if d["n"] >= 2 else "")

    table = cc.md_table(
        ["architecture", "width", "n", "NTK similarity", "‖K₁−K₀‖/‖K₀‖", "Pearson",
         "‖θ₁−θ₀‖/‖θ₀‖", "test acc %"],
        [[r["label"], r["width"], f"{r['n']}/{r['n_all']}", ci(r["sim"]), ci(r["change"]),
          ci(r["pearson"]), ci(r["param"]), cc.pct(r["acc"])] for r in rows])
    return "".join([
        f"{cc.status_line(t)}. Means over seeds, ± the half-width of the 95% t-interval. "
        "The kernel is the empirical NTK of the measure.ntk inputs (with the defaults, 25 "
        "training images x 10 logits: 250 x 250) in evaluation mode, at initialisation "
        "(K₀) and after training (K₁).\n\n",
        table, "\n", slopes_section(t, outdir), ntk_figure(rows, outdir, link), "\n",
        evolution_figure(t, outdir, link)])


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
