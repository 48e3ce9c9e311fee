"""IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed, as numpy arrays: the
format bpsweep's "idx" source reads (docs/data.md), for scripts that prepare data or
reproduce a run outside bpsweep."""
import gzip

import numpy as np


def read_idx(path):
    """The array of an IDX file of unsigned bytes (type 0x08): shape from its header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        b = f.read()
    if b[:2] != b"\0\0" or b[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    nd = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims)
