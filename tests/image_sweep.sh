#!/usr/bin/env bash
# A tiny image sweep on generated CIFAR-10 binary files (the exact format, 40 records per
# file) through real mpirun: per-channel normalisation, an uninterrupted run on 2 ranks
# as the reference, then a run on 3 ranks killed mid-epoch (BPSWEEP_FAULT=epoch:8) and
# resumed on 2 ranks, which must end bit-identical to the reference. Two of the four points
# train with augmentation (crop with padding 4 and flip).
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
summary
