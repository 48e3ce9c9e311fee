#!/usr/bin/python3
"""Write stand-in CIFAR-10 files: the binary version's exact layout (data_batch_1.bin ..
data_batch_5.bin and test_batch.bin, 10,000 records of 1 label byte + 3,072 pixel bytes
each) filled with random bytes, so `bpsweep plan` can calibrate the CIFAR-10 cluster
specs on a machine without the data set (CIFAR-10 is not a Debian package). The
timings depend only on the shapes, never on the values; nothing trained on these files
means anything.

    /usr/bin/python3 analysis/cifar10_stand_in.py DIR
    build/bpsweep plan SPEC_WITH_PATH_DIR --ranks 129
"""

import os
import sys

import numpy as np


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        records = rng.integers(0, 256, (10000, 3073), dtype=np.uint8)
        records[:, 0] %= 10  # labels 0..9
        path = os.path.join(out, name)
        # a new file, never through a link or over another file (shared folders)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(records.tobytes())
    print(f"wrote stand-in CIFAR-10 files (random bytes) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
