#!/usr/bin/env bash
# The trainer's features on convolutional presets through real mpirun: a ConvNet with batch
# norm and a ResNet-18 (base width 4) on synthetic 3x12x12 images, under norm-bias
# targets, clipping with a multistep schedule, augmentation, adversarial training and
# RankMin projections of the convolutions' operators,
# with the instruments (NTK at init, after epoch 2 and at the end; certificate; PGD
# robustness; operator spectra of the convolutions). An
# uninterrupted run on 2 ranks is the reference; a run on 3 ranks killed mid-epoch
# (BPSWEEP_FAULT=epoch:10, checkpoints every epoch) and resumed on 4 ranks, then on 2,
# must end bit-identical to it. A serial point trained 2 + 2 epochs through a state file
# equals the point trained 4 epochs.
#   usage: conv_sweep.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

cat >"$tmp/spec.json" <<'EOF'
{"name": "conv_tiny",
 "data": {"source": "synthetic", "n_train": 96, "n_test": 32, "features": 432, "classes": 4,
          "image_shape": [3, 12, 12]},
 "architectures": [{"name": "cnn", "preset": "convnet", "widths": [2], "batch_norm": true},
                   {"name": "r18", "preset": "resnet18", "base_width": 4}],
 "grid": {"seed": [0], "weight_decay": [5e-4], "norm_bias": {"targets": [0, 1.2], "relative": true},
          "conditions": [{"name": "plain"},
                         {"name": "clip", "train": {"clip_value": 0.05,
                          "schedule": {"type": "multistep", "milestones": [2], "gamma": 0.5},
                          "augment": {"crop_padding": 2, "flip": true}}},
                         {"name": "adv", "train": {"adversarial": {"eps": 0.03, "steps": 2}}},
                         {"name": "rank", "train": {"rank_projection": {"mode": "min",
                          "threshold": 0.3, "epochs": [1, 3]}}}]},
 "train": {"epochs": 4, "batch_size": 32, "lr": 0.05},
 "measure": {"ntk": {"samples": 4, "pool": 32, "epochs": [2]},
             "certificate": {"samples": 32, "iterations": 5},
             "robustness": {"eps": [0.03], "steps": 2, "test_samples": 16}}}
EOF

"$here/mpirun.sh" 2 "$bin" run "$tmp/spec.json" -o "$tmp/ref.h5" --checkpoint-interval 0 \
    2>"$tmp/ref.log" && ok || bad "reference run: $(tail -3 "$tmp/ref.log")"
"$bin" status "$tmp/ref.h5" >"$tmp/status" 2>&1 && awk '$1 == "total" && $2 == 16 { f = 1 }
    END { exit !f }' "$tmp/status" && ok || bad "reference: not 16 points done: $(cat "$tmp/status")"

out=$tmp/killed.h5
BPSWEEP_FAULT=epoch:10 "$here/mpirun.sh" 3 "$bin" run "$tmp/spec.json" -o "$out" \
    --checkpoint-interval 0 >/dev/null 2>"$out.log"
[ $? -ne 0 ] && ok || bad "the run with a kill at the 10th epoch finished"
"$bin" status "$out" >"$tmp/status" 2>&1
awk '$1 == "total" && $2 < 16 { f = 1 } END { exit !f }' "$tmp/status" && ok ||
    bad "the killed run left no work to resume: $(cat "$tmp/status")"
BPSWEEP_FAULT=epoch:6 "$here/mpirun.sh" 4 "$bin" resume "$out" --checkpoint-interval 0 \
    >/dev/null 2>>"$out.log"
code=1
for _ in 1 2 3; do
    "$here/mpirun.sh" 2 "$bin" resume "$out" --checkpoint-interval 0 >/dev/null 2>>"$out.log"
    code=$?
    [ $code -eq 0 ] && break
done
[ $code -eq 0 ] && ok || bad "resume ended $code: $(tail -3 "$out.log")"
$py "$here/compare_results.py" "$tmp/ref.h5" "$out" >"$tmp/cmp" && ok ||
    bad "killed and resumed differs from the reference: $(head -c 600 "$tmp/cmp")"

# RankMin on the operators recorded what it did: changed fractions in (0, 1] on every
# projected layer (not the first), NaN on the first
$py - "$tmp/ref.h5" <<'PY' && ok || bad "rank projection of the conv layers not recorded"
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
keys = [k.decode() if isinstance(k, bytes) else k for k in f["points/key"][:]]
frac = f["layers/rank_changed_fraction"][:]
rows = [i for i, k in enumerate(keys) if "cond=rank" in k]
assert rows and all(np.isnan(frac[i, 0]) for i in rows), "first layer projected"
assert all(np.all((frac[i, 1:4] > 0) & (frac[i, 1:4] <= 1)) for i in rows), frac[rows, :5]
PY
# a ResNet point with adversarial training through a state file
point=$("$bin" train "$tmp/spec.json" --list | awk '/arch=r18.*cond=adv.*nb=1.2/ { print $1 }')
"$bin" train "$tmp/spec.json" --point "$point" --quiet >"$tmp/a" 2>&1 &&
    "$bin" train "$tmp/spec.json" --point "$point" --quiet --stop-after 2 \
        --save-state "$tmp/state" >/dev/null 2>&1 &&
    "$bin" train "$tmp/spec.json" --point "$point" --quiet --load-state "$tmp/state" \
        >"$tmp/b" 2>&1 && ok || bad "training point $point through a state file failed"
for f in a b; do grep '^result ' "$tmp/$f" | grep -v '^result epoch_seconds' >"$tmp/$f.r"; done
grep -q '^result param_hash' "$tmp/a.r" && cmp -s "$tmp/a.r" "$tmp/b.r" && ok ||
    bad "point $point: 2 + 2 epochs differ from 4: $(diff "$tmp/a.r" "$tmp/b.r" | head -5)"

# measure.ntk.batch_norm "data": the kernels of a batch-norm net change (its initial
# running statistics are 0 and 1, the pool's are not), the training does not; a net
# without batch norm gives the same kernels either way
sed 's/"epochs": \[2\]}/"epochs": [2], "batch_norm": "data"}/' "$tmp/spec.json" >"$tmp/data.json"
sed 's/"batch_norm": true/"batch_norm": false/' "$tmp/spec.json" >"$tmp/nobn.json"
sed 's/"batch_norm": true/"batch_norm": false/' "$tmp/data.json" >"$tmp/nobn-data.json"
point=$("$bin" train "$tmp/spec.json" --list | awk '/arch=cnn.*cond=plain.*nb=0\// { print $1 }')
for s in spec data nobn nobn-data; do
    "$bin" train "$tmp/$s.json" --point "$point" --quiet 2>&1 | grep '^result ' |
        grep -v '^result epoch_seconds' >"$tmp/$s.r"
done
value() { awk -v k="$2" '$2 == k { print $3 }' "$tmp/$1.r"; }
[ "$(value spec param_hash)" = "$(value data param_hash)" ] && [ -n "$(value spec param_hash)" ] &&
    ok || bad "ntk batch_norm data changed the training: $(value spec param_hash) $(value data param_hash)"
[ "$(value spec ntk_norm0)" != "$(value data ntk_norm0)" ] &&
    $py -c "import sys; s = float(sys.argv[1]); assert 0 < s <= 1" "$(value data ntk_similarity)" &&
    ok || bad "ntk batch_norm data: K0 the same as with the running statistics, or no similarity: $(grep ntk "$tmp/data.r" | head -3)"
grep -q '^result ntk_norm0' "$tmp/nobn.r" && cmp -s "$tmp/nobn.r" "$tmp/nobn-data.r" && ok ||
    bad "ntk batch_norm data changed a net without batch norm: $(diff "$tmp/nobn.r" "$tmp/nobn-data.r" | head -4)"
summary
