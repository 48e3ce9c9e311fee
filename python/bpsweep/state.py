"""Read a bpsweep trainer state (`bpsweep train --save-state`, or a sweep's checkpoint in
RESULTS.h5.ckpt/) into named numpy arrays. The byte layout is docs/trainer-state.md;
this is its executable description.

    st = load_state("point.state")
    st["epoch"], st["step"]            # header fields, as Python numbers
    st["params"], st["momentum"]       # float32 [n_params], the net's parameter order
    st["history"]["test_acc"]          # float64 [epochs], NaN for epochs not run
"""
import struct

import numpy as np

MAGIC = 0x3174617473707062  # "bppstat1" read as a little-endian u64
VERSION = 8

# The header: 33 fields of 8 bytes in this order, no padding (Q u64, q i64, d double).
HEADER = [
    ("magic", "Q"), ("version", "Q"),
    ("n_params", "Q"), ("n_buffers", "Q"), ("epochs", "Q"), ("batch_size", "Q"),
    ("n_layers", "Q"), ("fit_bytes", "Q"),
    ("seed", "Q"), ("epoch", "Q"), ("step", "Q"), ("rng_key", "Q"), ("rng_counter", "Q"),
    ("diverged_epoch", "q"), ("stopped_epoch", "q"),
    ("stop_grad_norm", "d"), ("sharpness", "d"), ("trust_radius", "d"),
    ("construct_grad_norm", "d"), ("construct_iterations", "q"),
    ("construct_offset", "d"), ("construct_logit_diff", "d"),
    ("constructed", "q"),
    ("norm_bias_c", "d"), ("init_sq_norm", "d"), ("weight_decay", "d"), ("lr", "d"),
    ("batch_pos", "Q"), ("epoch_rng", "Q"),
    ("epoch_correct", "q"), ("epoch_seen", "q"),
    ("epoch_loss_sum", "d"), ("epoch_seconds", "d"),
]

# One record per epoch of the condition (at least one): 8 doubles.
HISTORY = ["train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds",
           "probe0", "probe1"]
# One record per weight layer: what the last rank projection did (NaN before any).
RANK_EFFECT = ["changed_fraction", "restrict_distance"]


def fnv1a64(data):
    """64-bit FNV-1a of bytes (the state's checksum); about 3 s per 10 MB."""
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def load_state(path, verify=True, byteorder="<"):
    """The trainer state at `path` as a dict: every header field by name, and
    history (dict name -> float64 [epochs]), rank_effect (dict name -> float64
    [n_layers]), params and momentum (float32 [n_params]), buffers (float32
    [n_buffers]: each batch-norm op's running means then running variances, in op
    order), fit (init.construct's linear fit: n, memory, iterations, done, head, m, fx,
    w, g and, for L-BFGS, S, Y, rho; None without one) and checksum.

    verify: check the FNV-1a checksum (pure Python, slow for large nets). The state is
    written in the machine's byte order; byteorder "<" is x86-64's.
    Raises ValueError for a file that is not a state of this version, or damaged."""
    with open(path, "rb") as f:
        data = f.read()
    fmt = byteorder + "".join(t for _, t in HEADER)
    size = struct.calcsize(fmt)
    if len(data) < size + 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a trainer state")
    out = dict(zip((n for n, _ in HEADER), struct.unpack_from(fmt, data, 0)))
    if out["magic"] != MAGIC:
        raise ValueError(f"{path}: not a bpsweep trainer state")
    if out["version"] != VERSION:
        raise ValueError(f"{path}: trainer state version {out['version']}, this reader "
                         f"reads {VERSION}")
    n_hist = max(int(out["epochs"]), 1)
    P, nb, L = int(out["n_params"]), int(out["n_buffers"]), int(out["n_layers"])
    expected = size + 8 * (8 * n_hist + 2 * L) + 4 * (2 * P + nb) + int(out["fit_bytes"]) + 8
    if len(data) != expected:
        raise ValueError(f"{path}: {len(data)} bytes, the header says {expected}")
    stored = struct.unpack_from(byteorder + "Q", data, len(data) - 8)[0]
    if verify and fnv1a64(data[:-8]) != stored:
        raise ValueError(f"{path}: checksum mismatch (damaged file)")
    out["checksum"] = stored

    pos = size

    def take(dtype, count):
        nonlocal pos
        a = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder(byteorder), count=count,
                          offset=pos)
        pos += a.nbytes
        return a.copy()

    hist = take("f8", 8 * n_hist).reshape(n_hist, 8)
    out["history"] = {name: hist[:, j] for j, name in enumerate(HISTORY)}
    effect = take("f8", 2 * L).reshape(L, 2)
    out["rank_effect"] = {name: effect[:, j] for j, name in enumerate(RANK_EFFECT)}
    out["params"] = take("f4", P)
    out["momentum"] = take("f4", P)
    out["buffers"] = take("f4", nb)
    out["fit"] = None
    if out["fit_bytes"]:
        n, memory, it, done, head, m = (int(v) for v in take("i8", 6))
        fit = {"n": n, "memory": memory, "iterations": it, "done": bool(done), "head": head,
               "m": m, "fx": float(take("f8", 1)[0]), "w": take("f8", n), "g": take("f8", n)}
        if memory:
            fit["S"] = take("f8", memory * n).reshape(memory, n)
            fit["Y"] = take("f8", memory * n).reshape(memory, n)
            fit["rho"] = take("f8", memory)
        out["fit"] = fit
    if pos != len(data) - 8:
        raise ValueError(f"{path}: the fit's {out['fit_bytes']} bytes do not match its "
                         f"header")
    return out
