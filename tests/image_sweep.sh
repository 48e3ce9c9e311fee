#!/usr/bin/env bash
# A tiny image sweep on generated CIFAR-10 binary files (the exact format, 40 records per
# file) through real mpirun: per-channel normalisation, an uninterrupted run on 2 ranks
# as the reference, then a run on 3 ranks killed mid-epoch (BPSWEEP_FAULT=epoch:8) and
# resumed on 2 ranks, which must end bit-identical to the reference. Two of the four points
# train with augmentation (crop with padding 4 and flip). Then the data provenance: the
# data_ attributes of both files and `bpsweep plan` against checksums and statistics
# computed with numpy, and the warning when a sweep is resumed on another copy of the data.
#   usage: image_sweep.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

mkdir -p "$tmp/cifar"
$py - "$tmp/cifar" <<'PY'
import os, sys
import numpy as np
rng = np.random.default_rng(15)
for k, name in enumerate([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]):
    y = rng.integers(0, 10, 40, dtype=np.uint8)
    # pixels that depend on the label (so there is something to learn), per channel
    x = rng.integers(0, 128, (40, 3, 32, 32), dtype=np.uint8) + (y * 12)[:, None, None, None]
    np.concatenate([y[:, None], x.reshape(40, 3072)], axis=1).astype(np.uint8).tofile(
        os.path.join(sys.argv[1], name))
PY
cat >"$tmp/spec.json" <<EOF
{"name": "cifar_tiny",
 "data": {"source": "cifar10", "path": "$tmp/cifar", "normalization": "per_channel"},
 "architectures": [{"name": "mlp", "hidden": [16]}],
 "grid": {"seed": [0, 1],
          "conditions": [{"name": "plain"},
                         {"name": "augmented", "train": {"augment": {"crop_padding": 4, "flip": true}}}]},
 "train": {"epochs": 6, "batch_size": 20}}
EOF

"$here/mpirun.sh" 2 "$bin" run "$tmp/spec.json" -o "$tmp/ref.h5" --checkpoint-interval 0 \
    2>"$tmp/ref.log" && ok || bad "reference run: $(tail -3 "$tmp/ref.log")"
"$bin" status "$tmp/ref.h5" >"$tmp/status" 2>&1 && awk '$1 == "total" && $2 == 4 { f = 1 }
    END { exit !f }' "$tmp/status" && ok || bad "reference: not 4 points done: $(cat "$tmp/status")"

out=$tmp/killed.h5
BPSWEEP_FAULT=epoch:8 "$here/mpirun.sh" 3 "$bin" run "$tmp/spec.json" -o "$out" \
    --checkpoint-interval 0 >/dev/null 2>"$out.log"
[ $? -ne 0 ] && ok || bad "the run with a kill at the 8th epoch finished"
"$bin" status "$out" >"$tmp/status" 2>&1
awk '$1 == "total" && $2 < 4 { f = 1 } END { exit !f }' "$tmp/status" && ok ||
    bad "the killed run left no work to resume: $(cat "$tmp/status")"
code=1
for _ in 1 2 3; do
    "$here/mpirun.sh" 2 "$bin" resume "$out" --checkpoint-interval 0 >/dev/null 2>>"$out.log"
    code=$?
    [ $code -eq 0 ] && break
done
[ $code -eq 0 ] && ok || bad "resume ended $code: $(tail -3 "$out.log")"
$py "$here/compare_results.py" "$tmp/ref.h5" "$out" >"$tmp/cmp" && ok ||
    bad "killed and resumed differs from the reference: $(head -c 600 "$tmp/cmp")"

# Provenance: the data_ attributes of both files (created on 2 and on 3 ranks, the
# second resumed) against numpy's per-channel statistics and checksums computed here;
# `bpsweep plan` prints the same checksums.
"$bin" plan "$tmp/spec.json" >"$tmp/plan" 2>&1 || bad "plan: $(cat "$tmp/plan")"
$py - "$tmp/cifar" "$tmp/ref.h5" "$out" "$tmp/plan" >"$tmp/prov" 2>&1 <<'PY' && ok ||
import os, sys
import h5py
import numpy as np
cifar, plan = sys.argv[1], open(sys.argv[4]).read()
names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]

def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h

files = []
for n in names:
    data = open(os.path.join(cifar, n), "rb").read()
    files.append(f"{n} {len(data)} {fnv1a64(data):016x}")
train = np.concatenate([np.fromfile(os.path.join(cifar, n), np.uint8).reshape(-1, 3073)
                        for n in names[:5]])[:, 1:].reshape(-1, 3, 1024) / 255.0
mean, std = train.mean(axis=(0, 2)), train.std(axis=(0, 2))
errors = []
for path in sys.argv[2:4]:
    a = h5py.File(path, "r").attrs
    text = {k: a[k].decode() for k in ("data_source", "data_dir", "data_normalization",
                                         "data_checksum", "data_files")}
    want = {"data_source": "cifar10", "data_dir": os.path.realpath(cifar),
            "data_normalization": "per_channel", "data_checksum": "fnv1a-64",
            "data_files": "; ".join(files)}
    errors += [f"{path}: {k} = {text[k]!r}, expected {want[k]!r}" for k in want
               if text[k] != want[k]]
    if list(a["data_shape"]) != [3, 32, 32] or a["data_train_samples"] != 200 or \
            a["data_test_samples"] != 40:
        errors.append(f"{path}: shape {a['data_shape']}, samples {a['data_train_samples']} "
                      f"{a['data_test_samples']}")
    if not (np.allclose(a["data_mean"], mean, rtol=0, atol=1e-12) and
            np.allclose(a["data_std"], std, rtol=0, atol=1e-12)):
        errors.append(f"{path}: mean {a['data_mean']} std {a['data_std']}, numpy {mean} {std}")
for f in files:
    name, size, checksum = f.split()
    if not any(name in l and size in l and checksum in l for l in plan.splitlines()):
        errors.append(f"plan does not list {f}")
if "data: cifar10 " not in plan or "per_channel: mean [" not in plan:
    errors.append("plan has no data line")
print("\n".join(errors) or "ok")
sys.exit(1 if errors else 0)
PY
    bad "provenance: $(head -c 1500 "$tmp/prov")"

# Another copy of the data (one pixel changed): resuming warns with both checksums
$py -c "import sys; f = open(sys.argv[1], 'r+b'); f.seek(100); b = f.read(1); f.seek(100)
f.write(bytes([b[0] ^ 1]))" "$tmp/cifar/test_batch.bin"
"$bin" resume "$tmp/ref.h5" >"$tmp/warn" 2>&1 || bad "resume of a finished sweep: $(cat "$tmp/warn")"
grep -q "warning: $tmp/ref.h5 was created with other data files" "$tmp/warn" &&
    grep -Eq "records \[test_batch.bin 122920 [0-9a-f]{16}\], read now \[test_batch.bin 122920 [0-9a-f]{16}\]" \
        "$tmp/warn" && ok ||
    bad "no warning for another copy of the data: $(cat "$tmp/warn")"
summary
