#!/usr/bin/python3
"""Claim 3, the neural tangent kernel: how much the empirical NTK moves during
training, against width, for plain MLPs, MLPs with skip connections and batch norm,
the ConvNet and the ResNet-18 with its skip x batch-norm ablation.

Reads a results file of a sweep like sweeps/claim3.json, claim3-conv.json or
claim3-conv-bnstats.json (width templates, measure.ntk on, optionally
measure.ntk.epochs and batch_norm), or the exports of the claim's sweeps (SWEEPS),
and writes

    claim3_table.csv      per architecture family and width: the nets done and those
                          that learned (LEARNED_TRAIN_ACC), NTK similarity
                          <K0,K1>/(|K0||K1|), relative change |K1-K0|/|K0|, the same
                          between K/tr K, trace growth, Pearson correlation, relative
                          parameter change, test accuracy
    claim3_slopes.csv     per family, over the nets that learned: the slope of the
                          similarity (and of log2 of the relative changes) against
                          log2(width), with 95% intervals
    claim3_slope_differences.csv
                          each skip / batch-norm family against the plain net of its
                          kind and depth (shared widths), each conv family against the
                          4-layer MLP: the difference of similarity slopes
    claim3_bn_statistics.csv
                          the same trained batch-norm nets (equal parameter hashes)
                          measured with the running and with the data's batch-norm
                          statistics (measure.ntk.batch_norm): both similarities and
                          their paired difference, per family and width
    claim3_ntk.png        similarity and relative change against width, one line per
                          MLP family (claim3_ntk_conv.png: the conv families)
    claim3_evolution.png  similarity to K0 after each measured epoch, at the widest
                          width every family has (only with measure.ntk.epochs)

    /usr/bin/python3 analysis/claim3.py results.h5 --out DIR
    /usr/bin/python3 analysis/claim3.py --points claim3_points.csv claim3-conv_points.csv --out DIR
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
# the MLP families; the ConvNet; the ResNet-18 with and without skips; the ResNets without
# batch norm; the batch-norm ResNets again, their kernels measured with the data's
# batch-norm statistics
SWEEPS = ("claim3", "claim3-convnet", "claim3-conv", "claim3-conv-nobn", "claim3-conv-bnstats")
TITLE = "Claim 3: ResNets do not behave like the neural tangent kernel"
PAPER = ("Wide-network theory says the empirical NTK barely moves during training. The "
         "authors measure the NTK of 25 training images (all 10 logits) before and after "
         "training: for MLPs its similarity to the initial kernel rises towards 1 with "
         "width, for ResNets it does not, and skip connections interacting with batch "
         "norm matter (the 2 x 2 design skip on/off x batch norm on/off).")
# The setups side by side in the report's first table (from the authors' code; ours
# from sweeps/claim3.json).
PAPER_SETUP = ('CIFAR-10, no augmentation, no shuffling; two- and four-layer MLPs, ConvNet, ResNet-18, WRN, VGG, MobileNetV2 over width multipliers; SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128, x0.2 at epochs 60, 120, 160; NTK of 25 training images x 10 logits in eval mode (job_neural_kernel.py)')
OUR_SETUP = ('Fashion-MNIST, no shuffling, SGD lr 0.01, momentum 0.9, weight decay 5e-4, batch 128, x0.2 at 30%, 60% and 80% of training (the authors\' 60, 120, 160 of 200), NTK of 25 images x 10 logits in eval mode, 5 seeds. MLPs (claim3.json): 5,000 training images, 10 epochs; 2- and 4-layer MLPs at widths 64-4096, 4-layer MLPs with batch norm, skips and both at 64-1024. Conv nets: 1,000 training images, 8 epochs; ConvNet at w = 2-32 with batch 32 (claim3-convnet.json; at batch 128 it did not learn), ResNet-18 with base width b = 2 at w = 1-16 and without skips at w = 1, 4, 16 (claim3-conv.json), without batch norm, with and without skips, at w = 1, 4, 16 (claim3-conv-nobn.json). The same batch-norm ResNets at w = 1, 4, 16 with their kernels measured with the batch-norm statistics of the NTK\'s 128-image pool (claim3-conv-bnstats.json; the nets are bit-identical to claim3-conv\'s)')


def preset(t, i):
    """The architecture kind of row i: mlp, convnet, resnet18 (exports before the
    preset column hold only MLPs)."""
    return str(t["preset"][i]) if "preset" in t and str(t["preset"][i]) else "mlp"


def data_statistics(t, i):
    """Row i's kernels were measured with the batch-norm statistics of the data
    (measure.ntk.batch_norm "data"), not the running ones; exports from before the
    column hold only the latter."""
    return ("ntk_batch_norm" in t and str(t["ntk_batch_norm"][i]) == "data"
            and bool(int(t["batch_norm"][i])))


def family_label(t, i):
    """'4-layer MLP + skip + BN', 'ConvNet', 'ResNet-18 (b = 2), no skip' from the
    architecture columns of row i; ', K with data BN statistics' where measured so."""
    skip, bn = int(t["skip"][i]), int(t["batch_norm"][i])
    kind = preset(t, i)
    tag = ", K with data BN statistics" if data_statistics(t, i) else ""
    if kind == "resnet18":
        label = f"ResNet-18 (b = {int(t['base_width'][i])})"
        return label + "".join(s for s, off in ((", no skip", not skip), (", no BN", not bn))
                               if off) + tag
    label = "ConvNet" if kind == "convnet" else f"{int(t['depth'][i]) + 1}-layer MLP"
    return label + (" + skip" if skip else "") + (" + BN" if bn else "") + tag


# A net whose training accuracy stays below twice the chance level of a 10-class data set
# (Fashion-MNIST, CIFAR-10) did not leave its initial plateau: its kernel did not move
# because nothing was learned, which says nothing about the NTK regime. The slopes count
# only nets that learned; the table shows how many did.
LEARNED_TRAIN_ACC = 0.2


def learned(t):
    """Per row: the net's final training accuracy reached LEARNED_TRAIN_ACC."""
    return np.asarray(t["final_train_acc"], dtype=float) >= LEARNED_TRAIN_ACC


def plain(t, i):
    """Row i's family is its kind's reference: no skip connections, no batch norm."""
    return not int(t["skip"][i]) and not int(t["batch_norm"][i])


def derived(t):
    """Per row: the relative NTK change, the same after dividing each kernel by its
    trace (K/tr K: a kernel that only grew in scale has change 0), the trace's growth
    tr K1 / tr K0 and the relative parameter change. The trace-normalised change needs
    only the norms, the similarity and the traces: with a = K0/t0 and b = K1/t1,
    |b - a|^2 = |K1|^2/t1^2 + |K0|^2/t0^2 - 2 sim |K0||K1|/(t0 t1)."""
    n0, n1, sim = t["ntk_norm0"], t["ntk_norm1"], t["ntk_similarity"]
    t0 = t.get("ntk_trace0", np.full(len(n0), math.nan))
    t1 = t.get("ntk_trace1", np.full(len(n0), math.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        sq = (n1 / t1) ** 2 + (n0 / t0) ** 2 - 2 * sim * n0 * n1 / (t0 * t1)
        return {"ntk_change": t["ntk_distance"] / t["ntk_norm0"],
                "trace_change": np.sqrt(np.maximum(sq, 0.0)) / (n0 / t0),
                "trace_growth": t1 / t0,
                "param_change": t["param_distance"] / t["init_param_norm"]}


def stats(t):
    ok = cc.done(t)
    d = derived(t)
    rows = []
    seen = {}
    learnt = learned(t)
    for i in range(len(t["index"])):
        seen.setdefault((str(t["family"][i]), int(t["width"][i])), i)
    for (family, width), i0 in seen.items():
        mine = (t["family"] == family) & (t["width"] == width)
        sel = ok & mine
        rows.append({"family": family, "label": family_label(t, i0), "width": width,
                     "n": int(sel.sum()), "n_all": int(mine.sum()),
                     "n_learned": int((sel & learnt).sum()),
                     "sim": br.describe(t["ntk_similarity"][sel]),
                     "change": br.describe(d["ntk_change"][sel]),
                     "trace_change": br.describe(d["trace_change"][sel]),
                     "growth": br.describe(d["trace_growth"][sel]),
                     "pearson": br.describe(t["ntk_pearson"][sel]),
                     "param": br.describe(d["param_change"][sel]),
                     "acc": br.describe(t["final_test_acc"][sel])})
    return rows


def family_slopes(t, families=None, widths=None):
    """Per family (in order of appearance), over its done points whose nets learned (seeds
    as replicates): the slope of the NTK similarity and of log2 of the relative change
    against log2(width), i.e. per doubling of the width; optionally only the given
    families and widths. A family with no net that learned has no slope."""
    ok = cc.done(t) & learned(t)
    if widths is not None:
        ok &= np.isin(t["width"], list(widths))
    x = np.log2(np.asarray(t["width"], dtype=float))
    d = derived(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_change = np.log2(d["ntk_change"])
        log_trace_change = np.log2(d["trace_change"])
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
                    "change": cc.slope(x[sel], log_change[sel]),
                    "trace_change": cc.slope(x[sel], log_trace_change[sel])}
    return out


def slope_comparisons(t):
    """Every family with skip connections or batch norm against the plain family of the
    same kind and depth (the 4-layer MLP, the ResNet-18 without skips and batch norm):
    the difference of their similarity slopes, fitted on the widths both have (a slope
    depends on the range it is fitted over). Then every ConvNet and ResNet-18 family
    against the deepest plain MLP, each fitted over its own width range (their widths
    count different things: units, channel multipliers)."""
    rows = []
    fams = list(dict.fromkeys(t["family"].tolist()))
    info = {f: np.flatnonzero(t["family"] == f)[0] for f in fams}

    def compare(fam, ref, widths):
        fits = family_slopes(t, (fam, ref), widths)
        if len(fits) == 2:
            rows.append({"family": fam, "label": fits[fam]["label"], "ref": ref,
                         "ref_label": fits[ref]["label"], "a": fits[fam]["sim"],
                         "b": fits[ref]["sim"],
                         "widths": (width_range(fits[fam]["widths"]) if widths else
                                    f"{width_range(fits[fam]['widths'])} / "
                                    f"{width_range(fits[ref]['widths'])}"),
                         "diff": cc.slope_difference(fits[fam]["sim"], fits[ref]["sim"])})

    for fam in fams:
        i = info[fam]
        if plain(t, i):
            continue
        ref = [f for f in fams if preset(t, info[f]) == preset(t, i) and plain(t, info[f])
               and int(t["depth"][info[f]]) == int(t["depth"][i])]
        if ref:
            shared = (set(t["width"][t["family"] == fam].tolist()) &
                      set(t["width"][t["family"] == ref[0]].tolist()))
            compare(fam, ref[0], shared)
    mlps = [f for f in fams if preset(t, info[f]) == "mlp" and plain(t, info[f])]
    if mlps:
        deepest = max(mlps, key=lambda f: int(t["depth"][info[f]]))
        for fam in fams:
            if preset(t, info[fam]) in ("convnet", "resnet18"):
                compare(fam, deepest, None)
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
        ["family", "architecture", "widths", "n_learned", "similarity_slope", "similarity_slope_ci95",
         "log2_change_slope", "log2_change_slope_ci95", "log2_trace_normalised_change_slope",
         "log2_trace_normalised_change_slope_ci95"],
        [[f, r["label"], width_range(r["widths"]), r["sim"]["n"], r["sim"]["slope"],
          r["sim"]["ci95"], r["change"]["slope"], r["change"]["ci95"],
          r["trace_change"]["slope"], r["trace_change"]["ci95"]] for f, r in fits.items()])
    comps = slope_comparisons(t)
    cc.write_table(
        os.path.join(outdir, "claim3_slope_differences.csv"),
        ["family", "reference", "widths", "similarity_slope", "reference_slope",
         "difference", "difference_ci95", "welch_df"],
        [[c["family"], c["ref"], c["widths"], c["a"]["slope"], c["b"]["slope"],
          c["diff"]["diff"], c["diff"]["ci95"], c["diff"]["df"]] for c in comps])
    table = cc.md_table(
        ["architecture", "widths", "n learned", "similarity slope per doubling",
         "log₂ relative change, slope per doubling", "log₂ trace-normalised change, slope"],
        [[r["label"], width_range(r["widths"]), r["sim"]["n"],
          signed(r["sim"]["slope"], r["sim"]["ci95"]),
          signed(r["change"]["slope"], r["change"]["ci95"], 2),
          signed(r["trace_change"]["slope"], r["trace_change"]["ci95"], 2)]
         for r in fits.values()])
    diffs = cc.md_table(
        ["architecture", "against", "widths", "its slope", "the plain net's slope",
         "difference"],
        [[c["label"], c["ref_label"], c["widths"], signed(c["a"]["slope"], math.nan),
          signed(c["b"]["slope"], math.nan), signed(c["diff"]["diff"], c["diff"]["ci95"])]
         for c in comps])
    return "".join([
        "**Slopes against width.** The claim is about a trend: the least-squares slope of "
        "the NTK similarity against log₂(width) over every done point of a family whose net "
        f"learned (training accuracy at least {LEARNED_TRAIN_ACC:.0%}, twice the chance level "
        "of ten classes: a net that never left its initial plateau keeps its kernel because "
        "it learned nothing; the table above counts them), seeds as replicates, per "
        "doubling of the width, ± the half-width of its 95% "
        "t-interval (n − 2 degrees of freedom). A positive slope means the kernel keeps its "
        "shape better as the net widens, the NTK-regime trend. The similarity is "
        "scale-free: multiplying K₁ by any constant leaves it unchanged, so the growth of "
        "the kernel's norm cannot move it (dividing each kernel by its trace leaves it as "
        "it is). The relative change ‖K₁ − K₀‖/‖K₀‖ does grow with the norm and is shown "
        "for comparison, as log₂ per doubling, beside the same change between the "
        "trace-normalised kernels K/tr K (zero for a kernel that only grew in scale; "
        "exports with the traces only).\n\n",
        table, "\n",
        "Each family with skip connections or batch norm against the plain net of its kind "
        "and depth (the MLP without them, the ResNet-18 without skips and batch norm), both "
        "fitted on the widths they share; then each convolutional family against the "
        "plain 4-layer MLP, each fitted over its own width range (a ×16 range for both; "
        "the widths count channels and units, so only the slopes per doubling compare). "
        "The difference of the slopes with the 95% interval of Welch's approximation.\n\n",
        diffs, "\n"])


def ntk_figure(rows, outdir, link, name, xlabel):
    """Similarity and relative change against width for the given rows' families."""
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
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("NTK similarity ⟨K₀,K₁⟩ / (‖K₀‖‖K₁‖)\n(1 = the kernel kept its shape)")
    axes[1].set_ylabel("relative NTK change ‖K₁ − K₀‖ / ‖K₀‖")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.suptitle("Claim 3: how far the empirical NTK moves in training (mean ± 95% CI over seeds)")
    fig.tight_layout()
    return cc.save_figure(fig, outdir, name, link)


def ntk_figures(t, rows, outdir, link):
    """One figure for the MLP families, one for the convolutional ones (their widths
    count different things)."""
    kinds = {r["family"]: preset(t, np.flatnonzero(t["family"] == r["family"])[0]) for r in rows}
    mlp = [r for r in rows if kinds[r["family"]] == "mlp"]
    conv = [r for r in rows if kinds[r["family"]] != "mlp"]
    out = []
    if mlp:
        out.append(ntk_figure(mlp, outdir, link, "claim3_ntk.png",
                              "width w (units per hidden layer)"))
    if conv:
        out.append(ntk_figure(conv, outdir, link, "claim3_ntk_conv.png",
                              "width w (ConvNet: channels w to 4w; ResNet-18: stages b, 2bw, 4bw, 8bw)"))
    return "\n".join(out)


def evolution_figure(t, outdir, link):
    """Similarity to K0 after the measured epochs and at the end, per family, at the
    widest width all families share; '' if the sweep measured no epochs."""
    cols = sorted((c for c in t if re.fullmatch(r"ntk_similarity_epoch_e\d+", c)),
                  key=lambda c: int(c.rsplit("e", 1)[1]))
    if not cols:
        return ""
    ok = cc.done(t)
    measured = np.isfinite(np.asarray(t[cols[0]], dtype=float))
    fams = list(dict.fromkeys(t["family"][measured].tolist()))
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


def statistics_section(t, outdir):
    """The same trained nets (equal parameter hashes) measured with the running batch-norm
    statistics and with the data's: per family and width, both similarities and their
    difference paired by net; '' when no net was measured both ways."""
    ok = cc.done(t)
    running, data = {}, {}
    for i in np.flatnonzero(ok):
        if int(t["batch_norm"][i]) and np.isfinite(t["ntk_similarity"][i]):
            (data if data_statistics(t, i) else running)[str(t["param_hash"][i])] = i
    pairs = [(running[h], data[h]) for h in data if h in running]
    if not pairs:
        return ""
    groups = {}
    for a, b in pairs:
        groups.setdefault((str(t["family"][a]), int(t["width"][a])), []).append((a, b))
    rows = []
    sim = t["ntk_similarity"]
    for (fam, width), ab in groups.items():
        rows.append({"family": fam, "label": family_label(t, ab[0][0]), "width": width,
                     "running": br.describe([sim[a] for a, _ in ab]),
                     "data": br.describe([sim[b] for _, b in ab]),
                     "diff": br.describe([sim[b] - sim[a] for a, b in ab])})
    cc.write_table(
        os.path.join(outdir, "claim3_bn_statistics.csv"),
        ["family", "width", "n_nets", "similarity_running_mean", "similarity_running_ci95",
         "similarity_data_mean", "similarity_data_ci95", "data_minus_running_mean",
         "data_minus_running_ci95"],
        [[r["family"], r["width"], r["diff"]["n"], r["running"]["mean"], r["running"]["ci95"],
          r["data"]["mean"], r["data"]["ci95"], r["diff"]["mean"], r["diff"]["ci95"]]
         for r in rows])
    table = cc.md_table(
        ["architecture", "width", "nets", "similarity, running statistics",
         "similarity, data statistics", "data − running (paired)"],
        [[r["label"], r["width"], r["diff"]["n"], cc.mean_ci(r["running"]), cc.mean_ci(r["data"]),
          signed(r["diff"]["mean"], r["diff"]["ci95"])] for r in rows])
    return "".join([
        "**Which batch-norm statistics.** In evaluation mode a batch-norm net's kernel "
        "depends on the running statistics, which are 0 and 1 at initialisation: K₀ is "
        "then the kernel of the net without its normalisation, K₁ that of the normalised "
        "net. The same trained nets (equal parameter hashes), measured once with the "
        "running statistics (as the authors) and once with those of the NTK's pool of "
        "training images (`measure.ntk.batch_norm: \"data\"`), so that only the weights "
        "differ between K₀ and K₁; differences paired by net.\n\n", table, "\n"])


def analyse(t, outdir, link):
    rows = stats(t)
    cc.write_table(
        os.path.join(outdir, "claim3_table.csv"),
        ["family", "architecture", "width", "n_done", "n_learned", "ntk_similarity_mean",
         "ntk_similarity_ci95", "ntk_relative_change_mean", "ntk_relative_change_ci95",
         "ntk_trace_normalised_change_mean", "ntk_trace_normalised_change_ci95",
         "ntk_trace_growth_mean", "ntk_pearson_mean", "param_relative_change_mean",
         "test_acc_mean", "test_acc_ci95"],
        [[r["family"], r["label"], r["width"], r["n"], r["n_learned"], r["sim"]["mean"],
          r["sim"]["ci95"], r["change"]["mean"], r["change"]["ci95"], r["trace_change"]["mean"],
          r["trace_change"]["ci95"], r["growth"]["mean"], r["pearson"]["mean"],
          r["param"]["mean"], r["acc"]["mean"], r["acc"]["ci95"]] for r in rows])

    table = cc.md_table(
        ["architecture", "width", "n", "learned", "NTK similarity", "‖K₁−K₀‖/‖K₀‖",
         "same, K/tr K", "tr K₁/tr K₀", "Pearson", "‖θ₁−θ₀‖/‖θ₀‖", "test acc %"],
        [[r["label"], r["width"], f"{r['n']}/{r['n_all']}", r["n_learned"]] +
         [cc.mean_ci(r[k]) for k in ("sim", "change", "trace_change", "growth", "pearson", "param")] +
         [cc.pct(r["acc"])] for r in rows])
    return "".join([
        f"{cc.status_line(t)}. Means over seeds, ± the half-width of the 95% t-interval. "
        "The kernel is the empirical NTK of the measure.ntk inputs (with the defaults, 25 "
        "training images x 10 logits: 250 x 250) in evaluation mode, at initialisation "
        "(K₀) and after training (K₁). *learned*: the nets whose training accuracy reached "
        f"{LEARNED_TRAIN_ACC:.0%} (the slopes below count only those).\n\n",
        table, "\n", slopes_section(t, outdir), statistics_section(t, outdir),
        ntk_figures(t, rows, outdir, link), "\n", evolution_figure(t, outdir, link)])


if __name__ == "__main__":
    sys.exit(cc.run_claim(sys.modules[__name__]))
