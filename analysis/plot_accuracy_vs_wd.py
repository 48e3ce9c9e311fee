#!/usr/bin/python3
"""Plot final test accuracy against weight decay, one line per architecture.

Each marker is the mean over seeds of the final test accuracy of the points that
finished (status "done"); error bars are the 95% t-interval of that mean (or, with
--error minmax, the range over seeds). Diverged, pending and failed points are left
out and counted in the caption. The x axis is logarithmic; when the grid includes
weight decay 0 it is symmetric-logarithmic (linear between 0 and the smallest
non-zero weight decay) so that 0 appears on it.

If the sweep has several conditions or norm-bias targets, each combination gets its
own line; --cond and --norm-bias restrict the plot to one of them.

    /usr/bin/python3 analysis/plot_accuracy_vs_wd.py results.h5
    /usr/bin/python3 analysis/plot_accuracy_vs_wd.py results.h5 -o wd.png --csv wd.csv
"""

import argparse
import csv
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as ticker  # noqa: E402
import matplotlib.transforms as transforms  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402

METRIC = "final_test_acc"
BY = ("arch", "cond", "norm_bias", "weight_decay")


def format_wd(v):
    """A weight decay as a short tick label: 0, 1e-5, 5e-4, 0.01."""
    if v == 0:
        return "0"
    if 0.01 <= abs(v) < 1000:
        return f"{v:g}"
    mantissa, exponent = f"{v:.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def error_bar(row, kind):
    """(below, above) the mean, in accuracy units, or (0, 0) if it cannot be drawn."""
    if kind == "minmax":
        return row["mean"] - row["min"], row["max"] - row["mean"]
    if row["n"] >= 2:
        return row["ci95"], row["ci95"]
    return 0.0, 0.0


def aggregate(res, cond=None, norm_bias=None, error="ci95"):
    """group_stats of the final test accuracy over seeds, with the error bar of each
    group added as err_low / err_high. Returns (rows, mask of the plotted points)."""
    t = res.table
    filters = {}
    if cond is not None:
        filters["cond"] = cond
    if norm_bias is not None:
        filters["norm_bias"] = norm_bias
    where = br.select(t, **filters)
    rows = br.group_stats(t, METRIC, by=BY, where=where)
    for r in rows:
        r["err_low"], r["err_high"] = error_bar(r, error)
    return rows, where


def series_label(row, vary_cond, vary_nb):
    label = row["arch"]
    if vary_cond:
        label += f", {row['cond']}"
    if vary_nb:
        label += f", nb={row['norm_bias']:g}"
    return label


def set_wd_axis(ax, wds):
    """Log x axis, symmetric-log if weight decay 0 is in the grid; ticks at the grid values.
    Returns a sentence for the caption saying which."""
    nonzero = sorted(w for w in wds if w > 0)
    if not nonzero:
        ax.set_xlim(-1, 1)
        how = ""
    elif 0 in wds:
        linthresh = nonzero[0]
        ax.set_xscale("symlog", linthresh=linthresh, linscale=1.0)
        ax.set_xlim(-0.5 * linthresh, nonzero[-1] * 2)
        how = f" X axis: symmetric log, linear between 0 and {format_wd(linthresh)}."
    else:
        ax.set_xscale("log")
        ax.set_xlim(nonzero[0] / 2, nonzero[-1] * 2)
        how = " X axis: log."
    if len(wds) <= 8:  # more would crowd the labels: leave the ticks to matplotlib
        ax.xaxis.set_major_locator(ticker.FixedLocator(wds))
        ax.xaxis.set_major_formatter(ticker.FixedFormatter([format_wd(w) for w in wds]))
        ax.xaxis.set_minor_locator(ticker.NullLocator())
    return how


def plot(res, rows, where, error, out_png):
    t = res.table
    plotted = [r for r in rows if r["n"] > 0]
    vary_cond = len({r["cond"] for r in rows}) > 1
    vary_nb = len({r["norm_bias"] for r in rows}) > 1
    wds = sorted({r["weight_decay"] for r in rows})

    fig, ax = plt.subplots(figsize=(7.5, 5.4))
    n_full = max(r["n"] for r in plotted)  # seeds per marker when nothing is missing
    labels = list(dict.fromkeys(series_label(r, vary_cond, vary_nb) for r in plotted))
    for k, label in enumerate(labels):
        s = [r for r in plotted if series_label(r, vary_cond, vary_nb) == label]
        s.sort(key=lambda r: r["weight_decay"])
        x = [r["weight_decay"] for r in s]
        y = [100 * r["mean"] for r in s]
        yerr = [[100 * r["err_low"] for r in s], [100 * r["err_high"] for r in s]]
        # Shift each line a few points sideways so that error bars do not hide each other
        # (5 points apart, all lines within 24 points).
        step = min(5.0, 24.0 / max(len(labels) - 1, 1))
        shift = transforms.offset_copy(ax.transData, fig=fig, units="points",
                                       x=step * (k - (len(labels) - 1) / 2), y=0)
        ax.errorbar(x, y, yerr=yerr, marker="o", markersize=5, capsize=4, linewidth=1.5,
                    elinewidth=1.2, label=label, transform=shift)
        for r, xi, yi in zip(s, x, y):  # say where seeds are missing
            if r["n"] < n_full:
                ax.annotate(f"n={r['n']}", (xi, yi), xycoords=shift, xytext=(6, -12),
                            textcoords="offset points", fontsize=7, color="0.3",
                            bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.8))

    how = set_wd_axis(ax, wds)
    ax.set_xlabel("weight decay λ (coefficient of the L2 penalty, dimensionless)")
    ax.set_ylabel("final test accuracy (%)")
    ax.grid(True, color="0.9")
    ax.legend(title="architecture" + (", condition" if vary_cond else "")
              + (", norm-bias target" if vary_nb else ""), loc="best", fontsize=9)

    done = br.select(t, status="done") & where
    ax.set_title(f"{res.name}: test accuracy vs weight decay\n"
                 f"{res.n_points} grid points, {np.count_nonzero(done)} done and plotted "
                 f"(spec {res.attrs.get('spec_hash', '?')})", fontsize=11)

    if error == "minmax":
        bars = "Error bars: min to max over seeds."
    else:
        bars = "Error bars: 95% t-interval of the mean over seeds"
        one_seed = min(r["n"] for r in plotted) < 2
        bars += " (none where only one seed is done)." if one_seed else "."
    left_out = [f"{np.count_nonzero(br.select(t, status=s) & where)} {s}"
                for s in ("diverged", "pending", "failed")]
    caption = (f"Markers: mean over the seeds that are done ({n_full} per marker unless "
               f"marked n=...).\n{bars}\n"
               f"Not counted: {', '.join(left_out)} points.{how}")
    fig.text(0.01, 0.01, caption, fontsize=7.5, va="bottom", ha="left", color="0.25")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(out_png, dpi=150)
    plt.close(fig)


def write_csv(rows, path):
    """The aggregated table, accuracies in percent, one row per (arch, cond, nb, wd)."""
    columns = ["arch", "cond", "norm_bias", "weight_decay", "n", "n_not_counted",
               "mean_pct", "std_pct", "sem_pct", "ci95_pct", "min_pct", "max_pct",
               "err_low_pct", "err_high_pct"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            pct = [100 * r[k] for k in ("mean", "std", "sem", "ci95", "min", "max",
                                         "err_low", "err_high")]
            w.writerow([r["arch"], r["cond"], repr(r["norm_bias"]), repr(r["weight_decay"]),
                        r["n"], r["n_skipped"]]
                       + ["" if math.isnan(v) else f"{v:.10g}" for v in pct])


def main():
    parser = argparse.ArgumentParser(
        description="Plot final test accuracy (mean over seeds) against weight decay, "
                    "one line per architecture.")
    parser.add_argument("results", help="results file written by bpsweep (results.h5)")
    parser.add_argument("-o", "--output", help="PNG to write (default: "
                        "<results>_accuracy_vs_wd.png next to the results file)")
    parser.add_argument("--csv", metavar="FILE", help="also write the plotted table as CSV")
    parser.add_argument("--cond", help="plot only this condition")
    parser.add_argument("--norm-bias", type=float, help="plot only this norm-bias target")
    parser.add_argument("--error", choices=["ci95", "minmax"], default="ci95",
                        help="error bars: 95%% t-interval of the mean (default) or "
                             "min-max range over seeds")
    args = parser.parse_args()

    try:
        res = br.load(args.results)
    except (OSError, ValueError, KeyError) as e:
        print(f"plot_accuracy_vs_wd.py: {e}", file=sys.stderr)
        return 2
    rows, where = aggregate(res, args.cond, args.norm_bias, args.error)
    if not np.any(where):
        print(f"plot_accuracy_vs_wd.py: {args.results}: no grid point matches "
              f"--cond/--norm-bias", file=sys.stderr)
        return 1
    if not any(r["n"] > 0 for r in rows):
        print(f"plot_accuracy_vs_wd.py: {args.results}: nothing to plot yet, no point is "
              f"done with a finite {METRIC}", file=sys.stderr)
        return 1

    out_png = args.output or os.path.splitext(args.results)[0] + "_accuracy_vs_wd.png"
    plot(res, rows, where, args.error, out_png)
    print(f"wrote {out_png}")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
