#!/usr/bin/python3
"""The batch order, reimplemented from docs/numerics.md#batch-order alone, against
`bpsweep train SPEC --point K --print-order E`.

usage: batch_order.py BPSWEEP SPEC POINT SEED SHAPE EPOCHS
  SEED   the point's seed value; SHAPE the comma-separated shape vector of the doc
  (input size, then every dense and conv op's output size); EPOCHS how many epochs to
  compare (0 .. EPOCHS-1). Exits 0 when every epoch's batches agree."""
import subprocess
import sys

M64 = (1 << 64) - 1
G = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def shuffle_key(seed, shape):
    k = mix((seed + G) & M64)
    for i, d in enumerate(shape):
        k = mix(k ^ ((d + G * (i + 1)) & M64))
    k = mix(k ^ (3 << 32))
    return mix(k ^ 0)


class Stream:
    def __init__(self, key):
        self.key, self.counter = key, 0

    def draw(self):
        self.counter += 1
        return mix((self.key + G * self.counter) & M64)

    def below(self, n):
        limit = M64 - M64 % n
        while True:
            r = self.draw()
            if r < limit:
                return r % n


def epoch_orders(seed, shape, n, epochs):
    s = Stream(shuffle_key(seed, shape))
    for _ in range(epochs):
        order = list(range(n))
        for i in range(n - 1, 0, -1):
            j = s.below(i + 1)
            order[i], order[j] = order[j], order[i]
        yield order


def printed_batches(binary, spec, point, epoch):
    out = subprocess.run([binary, "train", spec, "--point", str(point), "--print-order",
                          str(epoch)], check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if not l.startswith("#")]
    return [[int(v) for v in l.split()] for l in lines], out.splitlines()[0]


def main():
    binary, spec, point, seed, shape, epochs = sys.argv[1:7]
    shape = [int(v) for v in shape.split(",")]
    failures = 0
    for e in range(int(epochs)):
        batches, header = printed_batches(binary, spec, int(point), e)
        n = int(header.split(": ")[1].split()[0])  # "# point K epoch E: N samples, ..."
        B = len(batches[0])
        want = list(epoch_orders(int(seed), shape, n, e + 1))[-1]
        want_batches = [want[i:i + B] for i in range(0, n, B)]
        if len(want_batches[-1]) < B and "dropped" in header:
            want_batches.pop()
        if batches != want_batches:
            print(f"FAIL epoch {e}: {header}; first batch {batches[0][:8]}..., the doc's "
                  f"{want_batches[0][:8]}...")
            failures += 1
        else:
            print(f"ok epoch {e}: {len(batches)} batches of {B}, the doc's order")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
