"""Read a bpsweep results file (results.h5) into plain numpy arrays or pandas frames.

A sweep writes one HDF5 file with one row per grid point (architecture x condition
x norm-bias target x weight decay x seed). This module turns it into a table you
can filter and average without knowing anything about the C code.

    import bpsweep as br

    res = br.load("results.h5")
    t = res.table                          # dict: column name -> numpy array, one row per point
    mask = br.select(t, arch="mlp", status="done")
    print(t["final_test_acc"][mask].mean())
    for row in br.group_stats(t, "final_test_acc", by=("arch", "weight_decay")):
        print(row["arch"], row["weight_decay"], row["mean"], "+-", row["ci95"], "n =", row["n"])

What load() returns (a Results object):
    table   dict of 1-D arrays, one entry per grid point, in grid order:
              index, key, arch, cond (names), weight_decay, norm_bias, seed,
              status ("pending", "done", "diverged" or "failed"),
              attempts, epochs_run, diverged_epoch (1-based, 0 = did not diverge),
              wall_seconds, n_params, param_hash, rank, host, finished (Unix time),
              message (why a point failed), and every metric in /metrics
              (final_train_loss, final_train_acc, final_test_loss, final_test_acc,
              param_norm, init_param_norm, ...). Accuracies are fractions in [0, 1].
    curves  dict name -> [n_points, max_epochs] array, one column per epoch, NaN after
            the last epoch a point ran (train_loss, train_acc, test_loss, test_acc,
            lr, epoch_seconds)
    layers  dict name -> [n_points, max_layers] array, one column per dense layer,
            NaN beyond a network's depth (frobenius, spectral, effective_rank,
            relu_negative_fraction)
    robust  dict name -> [n_points, n_eps] array of accuracies under PGD, one column per
            radius of measure.robustness.eps (test_acc, train_acc); {} without it
    robust_eps  those radii (fractions of the data range), [] without them
    spec    the sweep spec (canonical JSON, parsed to a dict)
    attrs   the file's provenance attributes (spec_hash, bpsweep_version, created, ...,
            and the data set's: data_source, data_shape, data_mean, data_files, ...)
    weights [n_points, max_params] float32 final parameters, only with
            load(path, weights=True) and only if the sweep stored them; else None
    ntk_traces  dict ntk_trace0, ntk_trace1 -> [n_points] traces of K0 and K1 (float64
            sums of the stored kernels' diagonals; NaN where not measured), from
            /ntk; {} without measure.ntk

Statistics count only points whose status is "done" unless told otherwise: a
diverged run has no meaningful final accuracy, and pending or failed runs have none.

points_table(res) flattens all of it into one tidy table, one row per point, with the
provenance (spec hash, commit) on every row; write_csv / read_csv store and read it.
The per-claim scripts (claim1.py .. claim4.py) export that table and make their
tables and figures from it alone, so analysis/report.py can regenerate everything
from committed CSV files without the results files.

With pandas: res.to_dataframe() is the table of `bpsweep export` (the same columns and
values), res.curves_frame(), res.layers_frame() and res.robust_frame() the curves,
per-layer values and robustness in long format (one row per point and epoch, layer or
radius). Without pandas they return the same columns as dicts of numpy arrays.

Run as a module for a short summary of a file, or to export its points table:

    python3 -m bpsweep results.h5
    python3 -m bpsweep results.h5 --export points.csv
"""

import argparse
import csv
import json
import math
import sys

import h5py
import numpy as np

FORMAT = "bpsweep-results"
FORMAT_VERSION = 2  # 2 added /run/checksum and the metrics attribute; reads 1 and 2

# Datasets load() cannot do without; /run, /metrics, /curves, /layers are read as found.
REQUIRED = ["spec_json", "axes/architectures", "axes/conditions", "status", "points/key",
            "points/arch", "points/cond", "points/weight_decay", "points/norm_bias", "points/seed"]

# /status byte -> name
STATUS_NAMES = {0: "pending", 1: "done", 2: "diverged", 3: "failed"}

# Two-sided 95% quantiles of Student's t distribution, t(0.975, df), for df = 1..30.
T975 = [
    12.706204736174698, 4.302652729749464, 3.182446305284263, 2.7764451051977934,
    2.570581835636314, 2.4469118511449692, 2.3646242515927844, 2.306004135204166,
    2.2621571628540993, 2.2281388519649385, 2.200985160082949, 2.1788128296634177,
    2.1603686564610127, 2.1447866879169273, 2.131449545559323, 2.1199052992210112,
    2.1098155778331806, 2.10092204024096, 2.093024054408263, 2.0859634472658364,
    2.0796138447276626, 2.0738730679040147, 2.0686576104190406, 2.0638985616280205,
    2.059538552753294, 2.055529438642871, 2.0518305164802833, 2.048407141795244,
    2.045229642132703, 2.0422724563012373,
]
Z975 = 1.959963984540054  # the same quantile of the normal distribution


class Results:
    """The contents of one results file; see the module documentation."""

    def __init__(self, path, attrs, spec, table, metric_names, curves, layers, weights,
                 robust=None, ntk_traces=None):
        self.path = path
        self.robust = robust or {}
        self.ntk_traces = ntk_traces or {}
        self.robust_eps = list(spec.get("measure", {}).get("robustness", {}).get("eps", []))
        self.metric_names = metric_names  # the columns of table that came from /metrics
        self.attrs = attrs
        self.spec = spec
        self.table = table
        self.curves = curves
        self.layers = layers
        self.weights = weights

    @property
    def n_points(self):
        return len(self.table["index"])

    @property
    def name(self):
        """The sweep's name from its spec."""
        return self.spec.get("name", "?")

    def export_table(self):
        """The table of `bpsweep export --csv`: the same columns in the same order, as a
        dict column -> 1-D numpy array. Pending rows have NaN (None for text) from
        attempts on, as the CSV has empty fields there. Rows whose checksum does not
        match are exported as pending by the C export; this reader does not check
        checksums (bpsweep verify does)."""
        t, n = self.table, self.n_points
        written = t["status"] != "pending"
        cols = {"index": t["index"].astype(np.int64)}
        for c in ("key", "arch", "cond"):
            cols[c] = np.array(t[c], dtype=object)
        cols["weight_decay"] = np.asarray(t["weight_decay"], dtype=float)
        cols["norm_bias"] = np.asarray(t["norm_bias"], dtype=float)
        cols["seed"] = np.asarray(t["seed"]).astype(np.int64)
        cols["status"] = np.array(t["status"], dtype=object)

        def when_written(values, text=False):
            if text:
                return np.array([v if w else None for v, w in zip(values, written)],
                                dtype=object)
            if written.all():
                return np.asarray(values)
            return np.where(written, np.asarray(values, dtype=float), math.nan)

        for c in ("attempts", "epochs_run", "diverged_epoch"):
            cols[c] = when_written(np.asarray(t[c]).astype(np.int64))
        cols["param_hash"] = when_written([f"{int(h):016x}" for h in t["param_hash"]], True)
        cols["wall_seconds"] = when_written(np.asarray(t["wall_seconds"], dtype=float))
        cols["rank"] = when_written(np.asarray(t["rank"]).astype(np.int64))
        cols["host"] = when_written(t["host"], True)
        order = str(self.attrs.get("metrics", "")).split(",")
        for m in [m for m in order if m in self.metric_names] or self.metric_names:
            cols[m] = np.where(written, np.asarray(t[m], dtype=float), math.nan)
        return cols

    def to_dataframe(self):
        """export_table() as a pandas DataFrame (one row per point), or the dict of numpy
        arrays itself when pandas is not installed. Equal to the CSV of `bpsweep export`
        read with read_export()."""
        return _frame(self.export_table())

    def _long(self, groups, label, labels=None):
        """A long table of [n_points, k] matrices: index, label (1-based or labels[j]),
        one column per matrix; rows where every matrix is NaN are left out, and so are
        pending points (their rows were never written)."""
        if not groups:
            return _frame({"index": np.zeros(0, np.int64), label: np.zeros(0)})
        k = max(m.shape[1] for m in groups.values())
        idx, col = np.meshgrid(np.arange(self.n_points), np.arange(k), indexing="ij")
        values = {}
        for name, m in groups.items():
            full = np.full((self.n_points, k), math.nan)
            full[:, :m.shape[1]] = np.asarray(m, dtype=float)
            values[name] = full.ravel()
        keep = np.zeros(idx.size, dtype=bool)
        written = np.repeat(self.table["status"] != "pending", k)
        for v in values.values():
            keep |= np.isfinite(v)
        keep &= written
        keys = col.ravel()[keep]
        out = {"index": idx.ravel()[keep].astype(np.int64),
               label: np.asarray(labels)[keys] if labels is not None else keys + 1}
        out.update({name: v[keep] for name, v in values.items()})
        return _frame(out)

    def curves_frame(self):
        """The per-epoch curves in long format: index, epoch (1-based), one column per
        curve (train_loss, test_acc, lr, ...); only epochs where some curve has a
        value. Pivot on (index, epoch) to get res.curves back."""
        return self._long(self.curves, "epoch")

    def layers_frame(self):
        """The per-layer values in long format: index, layer (1-based weight layer), one
        column per layer metric (frobenius, spectral, effective_rank, ...)."""
        return self._long(self.layers, "layer")

    def robust_frame(self):
        """Accuracy under PGD in long format: index, eps, test_acc, train_acc."""
        return self._long(self.robust, "eps", labels=np.asarray(self.robust_eps, dtype=float))


def _frame(cols):
    """A pandas DataFrame of the column dict, or the dict itself without pandas."""
    try:
        import pandas as pd
    except ImportError:
        return cols
    return pd.DataFrame(cols)


# Columns of `bpsweep export` that are text whatever they look like, and the integer
# ones (float when pending rows leave them empty); every other column is a real number.
EXPORT_TEXT = ("key", "arch", "cond", "status", "param_hash", "host")
EXPORT_INTEGER = ("index", "seed", "attempts", "epochs_run", "diverged_epoch", "rank")


def read_export(path):
    """The CSV of `bpsweep export` as a pandas DataFrame: text columns stay text (a
    param_hash of only digits too) with None for empty fields, "nan" and empty fields
    of the numeric columns are NaN."""
    import pandas as pd
    with open(path, newline="") as f:
        header = next(csv.reader(f), [])
    na = {c: [""] if c in EXPORT_TEXT else ["", "nan"] for c in header}
    # real numbers stay float when every value is whole ("0" is a weight decay too)
    dtypes = {c: object if c in EXPORT_TEXT else float for c in header
              if c not in EXPORT_INTEGER}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=na,
                     float_precision="round_trip")  # %.17g back to the same double
    for c in EXPORT_TEXT:
        if c in df:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def _text(value):
    """A fixed-length HDF5 string (bytes, NUL-padded) as a Python str."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).split(b"\0", 1)[0].decode("utf-8", "replace")
    return str(value)


def _texts(array):
    """An array of fixed-length strings as a numpy array of str."""
    return np.array([_text(v) for v in array], dtype=str)


def _attr(value):
    """An HDF5 attribute as a plain Python value."""
    if isinstance(value, (bytes, np.bytes_)):
        return _text(value)
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim else value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_group(f, name):
    """Every dataset of group `name` as name -> numpy array ({} if there is no group)."""
    if name not in f:
        return {}
    out = {}
    for key, ds in f[name].items():
        data = ds[()]
        out[key] = _texts(data) if data.dtype.kind == "S" else data
    return out


def load(path, weights=False):
    """Read the results file at `path` into a Results object.

    Raises ValueError if the file is not a bpsweep results file or was written in a
    newer format version, OSError if it cannot be opened as HDF5; messages start
    with the path."""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise OSError(f"{path}: cannot open as HDF5 ({e})") from None
    with f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        if attrs.get("format") != FORMAT:
            raise ValueError(f"{path}: not a bpsweep results file "
                             f"(attribute format is {attrs.get('format')!r}, expected {FORMAT!r})")
        if int(attrs.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"{path}: written in results format version "
                             f"{attrs['format_version']}, this script reads up to "
                             f"{FORMAT_VERSION}; update the analysis scripts")
        missing = [d for d in REQUIRED if d not in f]
        if missing:
            raise ValueError(f"{path}: incomplete results file, missing {', '.join(missing)}")
        spec_text = f["spec_json"][()]
        if isinstance(spec_text, np.ndarray):  # a one-element array instead of a scalar
            spec_text = spec_text.reshape(-1)[0]
        spec = json.loads(_text(spec_text))

        points = _read_group(f, "points")
        arch_names = _texts(f["axes/architectures"][()])
        cond_names = _texts(f["axes/conditions"][()])
        status = f["status"][()]
        n = len(status)

        table = {
            "index": np.arange(n),
            "key": points["key"],
            "arch": arch_names[points["arch"]],
            "cond": cond_names[points["cond"]],
            "weight_decay": points["weight_decay"],
            "norm_bias": points["norm_bias"],
            "seed": points["seed"],
            "status": np.array([STATUS_NAMES.get(int(s), f"unknown({int(s)})") for s in status],
                               dtype=str),
        }
        table.update(_read_group(f, "run"))      # attempts, epochs_run, wall_seconds, ...
        metrics = _read_group(f, "metrics")      # final_test_acc, param_norm, ...
        table.update(metrics)

        curves = _read_group(f, "curves")
        layers = _read_group(f, "layers")
        robust = _read_group(f, "robust")
        w = f["weights"][()] if weights and "weights" in f else None
        traces = _ntk_traces(f)

    return Results(path, attrs, spec, table, list(metrics), curves, layers, w, robust, traces)


def _ntk_traces(f):
    """The traces of the stored kernels /ntk/K0 and /ntk/K1 (rows M x M, row-major), in
    float64, one row at a time so a large file is never read whole; {} without them."""
    if "ntk/K0" not in f or "ntk/K1" not in f:
        return {}
    out = {}
    for name, key in (("ntk_trace0", "ntk/K0"), ("ntk_trace1", "ntk/K1")):
        ds = f[key]
        m = math.isqrt(ds.shape[1])
        diag = np.arange(m) * (m + 1)
        out[name] = np.array([np.sum(ds[i, :][diag], dtype=np.float64)
                              for i in range(ds.shape[0])])
    return out


# Curves sampled only at chosen epochs; points_table keeps the epochs they were measured at.
SPARSE_CURVES = ("ntk_similarity_epoch", "ntk_change_epoch")


def _bias_label(init):
    """A short label of an architecture's bias initialisation."""
    if "construct" in init:
        return "constructed"
    if "parameters" in init:
        return {"zero": "all zero", "equal": f"all {init.get('parameters_value', 0):g}"}.get(
            init["parameters"], init["parameters"])
    kind, v = init.get("bias", "torch_default"), init.get("bias_value", 0)
    label = {"torch_default": "default", "zero": "zero", "constant": f"{v:+g}",
             "uniform": f"U(-{v:g},{v:g})"}.get(kind, kind)
    off = init.get("bias_offset", 0)
    return label if off == 0 else f"{label} {off:+g}" if label != "default" else f"default {off:+g}"


ARCH_COLUMNS = ("family", "preset", "base_width", "width", "depth", "activation",
                "batch_norm", "skip", "bias_init")


# Hidden weight layers of the presets (docs/spec.md): the ConvNet's five convolutions; the
# ResNet-18's stem and sixteen block convolutions (projection shortcuts not counted).
PRESET_DEPTH = {"convnet": 5, "resnet18": 17}


def _depth(a):
    """Hidden weight layers of an architecture: its hidden widths, its preset's, or the
    dense and conv layers of its op list but the last."""
    if "hidden" in a:
        return len(a["hidden"])
    if "preset" in a:
        return PRESET_DEPTH[a["preset"]]
    return sum(l["type"] in ("dense", "conv") for l in a.get("layers", [])) - 1


def _arch_info(spec):
    """Architecture name -> its ARCH_COLUMNS values, from the canonical spec."""
    out = {}
    for a in spec.get("architectures", []):
        kind = a.get("preset", "mlp" if "hidden" in a else "layers")
        out[a["name"]] = (a.get("family", a["name"]), kind, int(a.get("base_width", 0)),
                          int(a.get("width", 0)), _depth(a),
                          a.get("activation", "relu"), int(bool(a.get("batch_norm", False))),
                          int(bool(a.get("skip", False))), _bias_label(a.get("init", {})))
    return out


COND_COLUMNS = ("train_epochs", "adversarial_eps", "rank_mode")

# Metrics every sweep measures; the others (instruments) are exported only where measured.
ALWAYS_EXPORTED = ("final_train_loss", "final_train_acc", "final_test_loss", "final_test_acc",
                   "param_norm", "init_param_norm", "param_distance")


def _cond_info(spec):
    """Condition name -> its COND_COLUMNS values, from the canonical spec."""
    out = {}
    for c in spec.get("grid", {}).get("conditions", []):
        train = c.get("train", {})
        out[c["name"]] = (int(train.get("epochs", 0)),
                          float(train.get("adversarial", {}).get("eps", 0.0)),
                          train.get("rank_projection", {}).get("mode", "off"))
    return out


def points_table(res):
    """The whole sweep as one tidy table: a dict column -> 1-D array, one row per point.

    Columns, in order: sweep, spec_hash, bpsweep_commit (provenance, the same on every
    row); index, key, arch, family, preset (mlp for hidden widths, convnet, resnet18,
    layers for an op list), base_width (resnet18's b, else 0), width (0 for a fixed
    architecture), depth (hidden weight layers), activation, batch_norm, skip (0/1), bias_init (default, +20, zero, "default +20" for bias_offset,
    U(-1,1), "all zero", "all 0.001", "constructed", ...), cond, train_epochs, adversarial_eps (0 = natural training), rank_mode
    (off, min, max), weight_decay, norm_bias, seed, status, epochs_run, wall_seconds,
    n_params, param_hash (16 hex digits of the final parameters' hash); every scalar
    metric (NaN on pending rows), every layer metric as <name>_<layer> (1-based) and
    every robustness column as robust_<set>_acc_<eps>, leaving out instrument columns
    that are NaN on every row (an instrument the sweep did not run); ntk_trace0,
    ntk_trace1 (res.ntk_traces) and ntk_batch_norm (running or data: the statistics
    batch norm used in the kernels, measure.ntk.batch_norm) with measure.ntk; and the
    sparse curves (SPARSE_CURVES) as <name>_e<epoch> at the epochs where some point
    measured them."""
    t, n = res.table, res.n_points
    written = t["status"] != "pending"   # pending rows were never written: no values
    info = _arch_info(res.spec)
    cols = {
        "sweep": np.full(n, res.name),
        "spec_hash": np.full(n, str(res.attrs.get("spec_hash", ""))),
        "bpsweep_commit": np.full(n, str(res.attrs.get("bpsweep_commit", ""))),
    }
    for c in ("index", "key", "arch"):
        cols[c] = t[c]
    arch_rows = [info.get(a) or (a, "?", 0, 0, 0, "relu", 0, 0, "default") for a in t["arch"]]
    for j, c in enumerate(ARCH_COLUMNS):
        cols[c] = np.array([r[j] for r in arch_rows])
    cols["cond"] = t["cond"]
    cond_info = _cond_info(res.spec)
    cond_rows = [cond_info.get(c) or (0, 0.0, "off") for c in t["cond"]]
    for j, c in enumerate(COND_COLUMNS):
        cols[c] = np.array([r[j] for r in cond_rows])
    for c in ("weight_decay", "norm_bias", "seed", "status", "epochs_run",
              "wall_seconds", "n_params"):
        if c in t:
            cols[c] = t[c]
    if "param_hash" in t:  # 16 hex digits, as bpsweep prints it; equal hashes = equal nets
        cols["param_hash"] = np.array([f"{int(h):016x}" if w else ""
                                       for h, w in zip(t["param_hash"], written)])
    for m in res.metric_names:
        column = np.where(written, t[m], math.nan)
        if np.isfinite(column).any() or m in ALWAYS_EXPORTED:
            cols[m] = column
    for m, values in res.ntk_traces.items():
        cols[m] = np.where(written, values, math.nan)
    ntk = res.spec.get("measure", {}).get("ntk")
    if ntk is not None:  # which batch-norm statistics the kernels were measured with
        cols["ntk_batch_norm"] = np.full(n, ntk.get("batch_norm", "running"))

    def add_matrix(prefix, matrix, labels):
        for j, label in enumerate(labels):
            column = np.where(written, np.asarray(matrix[:, j], dtype=float), math.nan)
            if np.isfinite(column).any():
                cols[f"{prefix}_{label}"] = column

    for name, matrix in res.layers.items():
        add_matrix(name, matrix, range(1, matrix.shape[1] + 1))
    for name, matrix in res.robust.items():
        add_matrix(f"robust_{name}", matrix, [f"{e:g}" for e in res.robust_eps])
    for name in SPARSE_CURVES:
        if name in res.curves:
            add_matrix(name, res.curves[name], [f"e{k}" for k in range(1, res.curves[name].shape[1] + 1)])
    return cols


def _csv_field(v):
    if isinstance(v, (float, np.floating)):
        return "nan" if math.isnan(v) else repr(float(v))
    if isinstance(v, (np.integer,)):
        return str(int(v))
    return str(v)


def write_csv(cols, path):
    """Write a column dict (points_table or any table of equal-length columns) as CSV:
    a header line, then one line per row; floats in their shortest exact form, NaN as
    nan."""
    names = list(cols)
    n = len(cols[names[0]]) if names else 0
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(names)
        for i in range(n):
            w.writerow([_csv_field(cols[c][i]) for c in names])


# Columns that are text whatever they look like: a hash or commit can be all digits
# ("719411032347" read as a number made the export check fail on that commit).
TEXT_COLUMNS = {"sweep", "spec_hash", "bpsweep_commit", "key", "arch", "family", "cond",
                "status", "host", "message", "param_hash", "activation", "bias_init",
                "rank_mode", "preset", "ntk_batch_norm"}


def read_csv(path):
    """Read a CSV written by write_csv (or bpsweep export) back into a dict column ->
    numpy array: TEXT_COLUMNS and columns that do not parse as numbers as str, other
    numeric columns as float (int where every value is whole and the column has no
    NaN)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path}: empty CSV file")
    names, body = rows[0], rows[1:]
    cols = {}
    for j, name in enumerate(names):
        raw = [r[j] if j < len(r) else "" for r in body]
        if name in TEXT_COLUMNS:
            cols[name] = np.array(raw, dtype=str)
            continue
        try:
            values = np.array([float(v) if v != "" else math.nan for v in raw])
        except ValueError:
            cols[name] = np.array(raw, dtype=str)
            continue
        if len(values) and np.isfinite(values).all() and (values == np.round(values)).all() \
                and all("." not in v and "e" not in v.lower() for v in raw):
            values = values.astype(np.int64)
        cols[name] = values
    return cols


def paired_differences(table, value, baseline, pair_by="seed", group_by=(), where=None,
                       statuses=("done",)):
    """Statistics of paired differences value(row) - value(its baseline row).

    `baseline` is a dict column -> value picking the reference rows (e.g.
    {"norm_bias": 0}); a row is paired with the baseline row that agrees with it on
    every column of group_by except those in `baseline`, and on pair_by (the seed).
    Returns one dict per group (the group_by columns and describe() of the
    differences, n = number of complete pairs); only rows and baselines whose status
    is in `statuses` count."""
    n = len(table["index"])
    rows_in = np.ones(n, dtype=bool) if where is None else np.asarray(where)
    ok = np.isin(table["status"], list(statuses)) if statuses is not None else np.ones(n, bool)
    match_cols = [c for c in group_by if c not in baseline] + [pair_by]
    is_base = np.ones(n, dtype=bool)
    for c, v in baseline.items():
        is_base &= table[c] == v
    base_value = {}
    for i in np.flatnonzero(rows_in & is_base & ok):
        base_value[tuple(table[c][i].item() for c in match_cols)] = float(table[value][i])
    groups = {}
    for i in np.flatnonzero(rows_in):
        g = tuple(table[c][i].item() for c in group_by)
        diffs = groups.setdefault(g, [])
        ref = base_value.get(tuple(table[c][i].item() for c in match_cols))
        if ok[i] and ref is not None:
            diffs.append(float(table[value][i]) - ref)
    out = []
    for g, diffs in groups.items():
        row = dict(zip(group_by, g))
        row.update(describe(diffs))
        out.append(row)
    return out


def select(table, **conditions):
    """Boolean mask of the rows that satisfy every condition.

    Each keyword names a column; its value is either one value (rows equal to it),
    a list/tuple/set of values (rows equal to any of them), or a function taking
    the column array and returning a boolean array. Numbers are compared exactly, so
    use the values of the spec (5e-4 matches 0.0005).

        select(t, arch="mlp", status="done", weight_decay=[0, 5e-4])
        select(t, final_test_acc=lambda a: a > 0.85)
    """
    mask = np.ones(len(table["index"]), dtype=bool)
    for column, want in conditions.items():
        if column not in table:
            raise KeyError(f"no column {column!r}; columns are {', '.join(table)}")
        values = table[column]
        if callable(want):
            mask &= np.asarray(want(values), dtype=bool)
        elif isinstance(want, (list, tuple, set, frozenset)):
            mask &= np.isin(values, list(want))
        else:
            mask &= values == want
    return mask


def t_quantile_975(df):
    """t(0.975, df): the 95% two-sided quantile of Student's t with df degrees of freedom.

    Exact table for df <= 30; above, the Cornish-Fisher expansion around the normal
    quantile (error below 1e-7)."""
    if df < 1:
        return math.nan
    if df <= 30:
        return T975[int(df) - 1]
    z = Z975
    return (z + (z**3 + z) / (4 * df)
            + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3)
            + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * df**4))


def describe(values):
    """n, mean, std (n-1 in the denominator), sem, ci95 (half-width of the 95%
    t-interval of the mean), min and max of the finite entries of `values`.
    Statistics that need more values than there are come out as NaN."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    out = {"n": n, "mean": math.nan, "std": math.nan, "sem": math.nan, "ci95": math.nan,
           "min": math.nan, "max": math.nan}
    if n >= 1:
        out.update(mean=float(v.mean()), min=float(v.min()), max=float(v.max()))
    if n >= 2:
        std = float(v.std(ddof=1))
        sem = std / math.sqrt(n)
        out.update(std=std, sem=sem, ci95=t_quantile_975(n - 1) * sem)
    return out


def group_stats(table, value, by=("arch", "cond", "norm_bias", "weight_decay"),
                statuses=("done",), where=None):
    """Statistics of column `value` over the rows of each group.

    Rows are grouped by the columns in `by` (in order of first appearance, which is
    grid order); `where` is an optional boolean mask from select(). Only rows whose
    status is in `statuses` count (statuses=None counts every row), and NaN values are
    left out. Returns a list of dicts, one per group: the `by` columns, the fields of
    describe() (n, mean, std, sem, ci95, min, max) and n_skipped, the rows of the
    group that did not count. A group whose rows were all skipped has n = 0 and NaN
    statistics, so nothing disappears silently."""
    rows_in = np.ones(len(table["index"]), dtype=bool) if where is None else np.asarray(where)
    counted = rows_in.copy()
    if statuses is not None:
        counted &= np.isin(table["status"], list(statuses))

    groups = {}  # group values -> row indices (dicts keep insertion order)
    for i in np.flatnonzero(rows_in):
        k = tuple(table[c][i].item() for c in by)
        groups.setdefault(k, []).append(i)

    values = np.asarray(table[value], dtype=float)
    out = []
    for k, idx in groups.items():
        idx = np.array(idx)
        use = idx[counted[idx]]
        row = dict(zip(by, k))
        row.update(describe(values[use]))
        row["n_skipped"] = len(idx) - row["n"]
        out.append(row)
    return out


def summary(res):
    """A few lines describing a results file: provenance, status counts and the final
    test accuracy per architecture and condition."""
    t, a = res.table, res.attrs
    lines = [
        f"{res.path}: sweep {res.name!r}, spec hash {a.get('spec_hash', '?')}",
        f"  written by bpsweep {a.get('bpsweep_version', '?')} "
        f"({a.get('bpsweep_commit', '?')}), created {a.get('created', '?')}",
        f"  {res.n_points} points; curves {a.get('max_epochs', '?')} epochs, "
        f"layers {a.get('max_layers', '?')}, weights "
        + ("stored" if int(a.get("max_params", 0) or 0) > 0 else "not stored"),
    ]
    if "data_source" in a:  # absent in files of earlier versions
        stats = ""
        if len(a.get("data_mean", [])):
            stats = (" (mean " + ", ".join(f"{v:.4g}" for v in np.ravel(a["data_mean"]))
                     + "; std " + ", ".join(f"{v:.4g}" for v in np.ravel(a["data_std"])) + ")")
        where = f"{a['data_source']} {a.get('data_dir', '')}".strip()
        lines.append(f"  data: {where}, samples "
                     f"{tuple(np.ravel(a['data_shape']).tolist())}, train "
                     f"{a['data_train_samples']}, test {a['data_test_samples']}, "
                     f"normalization {a['data_normalization']}{stats}")
        lines.append(f"  data files ({a.get('data_checksum', '?')}: name bytes checksum): "
                     f"{a.get('data_files') or 'none (generated)'}")
    counts = [f"{np.count_nonzero(t['status'] == s)} {s}" for s in STATUS_NAMES.values()]
    other = np.count_nonzero(~np.isin(t["status"], list(STATUS_NAMES.values())))
    if other:
        counts.append(f"{other} unknown")
    lines.append("  status: " + ", ".join(counts))
    for i in np.flatnonzero(t["status"] == "failed")[:5]:
        lines.append(f"    failed {t['key'][i]}: {t['message'][i] if 'message' in t else ''}")

    if "final_test_acc" in t:
        lines.append("  final test accuracy (%) of the done points, pooled over weight decay, "
                     "norm bias and seed:")
        lines.append(f"    {'architecture':<24} {'condition':<16} "
                     f"{'mean':>6} {'min':>6} {'max':>6}   n")
        for r in group_stats(t, "final_test_acc", by=("arch", "cond")):
            lines.append(f"    {r['arch']:<24} {r['cond']:<16} {100 * r['mean']:6.2f} "
                         f"{100 * r['min']:6.2f} {100 * r['max']:6.2f}  {r['n']:2d}"
                         + (f" (+{r['n_skipped']} not counted)" if r["n_skipped"] else ""))
    lines.append("  metrics: " + ", ".join(res.metric_names))
    lines.append("  curves: " + ", ".join(res.curves) + "; layers: " + ", ".join(res.layers))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description="Print a short summary of a bpsweep results file, "
                                     "or export its points table.")
    parser.add_argument("results", help="results file written by bpsweep (results.h5)")
    parser.add_argument("--export", metavar="CSV",
                        help="write points_table (one row per point, with provenance) to CSV")
    args = parser.parse_args()
    try:
        res = load(args.results)
    except (OSError, ValueError, KeyError) as e:
        print(f"bpsweep: {e}", file=sys.stderr)
        return 2
    if args.export:
        write_csv(points_table(res), args.export)
        print(f"wrote {args.export}")
    else:
        print(summary(res))
    return 0
