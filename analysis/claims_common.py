"""What the four claim scripts (claim1.py .. claim4.py) share: their command line,
number formatting, Markdown and CSV tables, and figure files.

A claim script is a module with NAME ("claim1"), TITLE, PAPER (what the paper
claims, one paragraph), optionally SWEEPS (the names of its sweeps when it has more
than one, e.g. ("claim3", "claim3-conv"): their exports are analysed together, see
concat) and analyse(t, outdir, link) -> Markdown, where t is a
points table (bpsweep_results.points_table, or read back from its CSV), outdir the
directory for the tables and figures, and link the prefix under which the Markdown
refers to them. run_claim() gives every script the same command line:

    claimN.py results.h5 --out DIR     export DIR/data/claimN_points.csv, then analyse it
    claimN.py --points CSV [CSV...] --out DIR
                                       analyse exported tables (no results file needed)

Either way the tables and figures come from the exported CSV alone, which is what
lets analysis/report.py regenerate them from committed files.
"""

import argparse
import csv
import io
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402  (python3-pil, a dependency of python3-matplotlib)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpsweep_results as br  # noqa: E402

DPI = 100


def mean_ci(row, digits=3, scale=1.0):
    """'0.584 ± 0.063' from a describe() dict: mean and 95% CI, both times scale ('-'
    without values, no CI from one value)."""
    if row["n"] == 0 or not np.isfinite(row["mean"]):
        return "-"
    ci = f" ± {scale * row['ci95']:.{digits}f}" if row["n"] >= 2 else ""
    return f"{scale * row['mean']:.{digits}f}{ci}"


def pct(row, digits=2):
    """'89.74 ± 0.12' from a describe() dict of fractions: mean and 95% CI in percent."""
    return mean_ci(row, digits, 100.0)


def num(x, digits=3):
    """A number for a table: %.3g style, '-' for NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.{digits}g}"


def md_table(headers, rows):
    """A Markdown table (rows are lists of already formatted strings)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def write_table(path, headers, rows):
    """The same table as CSV (numbers unformatted, as given)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(headers)
        for r in rows:
            w.writerow(["nan" if isinstance(c, float) and math.isnan(c) else c for c in r])


def save_figure(fig, outdir, name, link):
    """Save fig as outdir/name, a 256-colour PNG (a third of the size of matplotlib's
    RGBA one, so the committed figures stay small), and return the Markdown image line
    for it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    image.save(os.path.join(outdir, name), optimize=True)
    return f"![{name}]({link}{name})\n"


def done(t):
    """Mask of the rows whose status is done."""
    return t["status"] == "done"


def status_line(t):
    """'96 points: 94 done, 2 diverged' (the statuses that occur)."""
    names, counts = np.unique(t["status"], return_counts=True)
    return f"{len(t['status'])} points: " + ", ".join(f"{c} {s}" for s, c in zip(names, counts))


def provenance(t):
    """Sweep name, spec hash and commit of an exported table (the same on every row)."""
    def one(col):
        values = sorted(set(t[col].tolist())) if col in t else []
        return ", ".join(str(v) for v in values) if values else "?"
    return {"sweep": one("sweep"), "spec_hash": one("spec_hash"), "commit": one("bpsweep_commit")}


def sweeps(module):
    """The names of a claim's sweeps (its exports are data/<name>_points.csv)."""
    return tuple(getattr(module, "SWEEPS", (module.NAME,)))


def concat(tables):
    """The rows of several points tables (the exports of one claim's sweeps) as one
    table, in order; a column missing from a table is NaN on its rows (text columns:
    empty), so sweeps of different instruments or export versions combine."""
    if len(tables) == 1:
        return tables[0]
    names = list(dict.fromkeys(c for t in tables for c in t))
    out = {}
    for c in names:
        text = any(c in t and t[c].dtype.kind in "US" for t in tables)
        if all(c in t and t[c].dtype.kind in "iu" for t in tables):
            out[c] = np.concatenate([t[c] for t in tables])
            continue
        parts = []
        for t in tables:
            n = len(t["index"])
            if c in t:
                parts.append(t[c].astype(str) if text else t[c].astype(float))
            else:
                parts.append(np.full(n, "") if text else np.full(n, math.nan))
        out[c] = np.concatenate(parts)
    return out


def slope(x, y):
    """Least-squares slope of y on x (finite pairs only) with its standard error and
    the half-width of its 95% t-interval (n - 2 degrees of freedom): a dict n, slope,
    se, df, ci95; NaN where there are fewer than 3 points or x does not vary."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = len(x)
    out = {"n": n, "slope": math.nan, "se": math.nan, "df": n - 2, "ci95": math.nan}
    sxx = float(((x - x.mean()) ** 2).sum()) if n else 0.0
    if n < 3 or sxx == 0.0:
        return out
    b = float(((x - x.mean()) * (y - y.mean())).sum()) / sxx
    resid = y - y.mean() - b * (x - x.mean())
    se = math.sqrt(float((resid ** 2).sum()) / (n - 2) / sxx)
    out.update(slope=b, se=se, ci95=br.t_quantile_975(n - 2) * se)
    return out


def slope_difference(a, b):
    """a's slope minus b's (two independent fits from slope()), with the 95% interval
    of Welch's approximation (Welch-Satterthwaite degrees of freedom)."""
    diff = a["slope"] - b["slope"]
    va, vb = a["se"] ** 2, b["se"] ** 2
    se = math.sqrt(va + vb)
    if not math.isfinite(se) or se == 0.0:
        return {"diff": diff, "se": se, "df": math.nan, "ci95": math.nan}
    df = (va + vb) ** 2 / (va ** 2 / a["df"] + vb ** 2 / b["df"])
    return {"diff": diff, "se": se, "df": df, "ci95": br.t_quantile_975(df) * se}


def errorbar(ax, x, rows, scale=100.0, **kw):
    """Plot describe() rows at x with their 95% CI as error bars."""
    mean = np.array([r["mean"] for r in rows]) * scale
    ci = np.array([r["ci95"] if r["n"] >= 2 else 0.0 for r in rows]) * scale
    return ax.errorbar(x, mean, yerr=np.nan_to_num(ci), capsize=3, **kw)


def run_claim(module, argv=None):
    """The command line shared by the claim scripts (see the module documentation)."""
    p = argparse.ArgumentParser(description=f"{module.TITLE}: tables and figures of {module.NAME}.")
    p.add_argument("results", nargs="?", help="results file of the claim's sweep (results.h5)")
    p.add_argument("--points", nargs="+",
                   help="exported points tables (of the claim's sweeps) instead of a results file")
    p.add_argument("--out", required=True, help="directory for the tables, figures and data/")
    args = p.parse_args(argv)
    if bool(args.results) == bool(args.points):
        p.error("give either a results file or --points CSV")
    os.makedirs(os.path.join(args.out, "data"), exist_ok=True)
    points = args.points
    if args.results:
        try:
            res = br.load(args.results)
        except (OSError, ValueError) as e:
            print(f"{module.NAME}.py: {e}", file=sys.stderr)
            return 2
        points = [os.path.join(args.out, "data", f"{module.NAME}_points.csv")]
        br.write_csv(br.points_table(res), points[0])
        print(f"wrote {points[0]}")
    md = module.analyse(concat([br.read_csv(p) for p in points]), args.out, "")
    path = os.path.join(args.out, f"{module.NAME}.md")
    with open(path, "w") as f:
        f.write(md)
    print(f"wrote {path} and the tables and figures it names")
    return 0
