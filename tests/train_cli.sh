#!/usr/bin/env bash
# The command line as a new user meets it, and what `train` promises to print or write:
#  * `bpsweep COMMAND --help` and `bpsweep help COMMAND` print COMMAND's usage on stdout
#    and exit 0, for every command; --version names the libraries;
#  * --save-state with --stop-after past the last epoch writes the final state, which the
#    Python reader (bpsweep.load_state) reads back to the printed results;
#  * train.lr_sharpness keeps its measured sharpness in the state: resumed runs are
#    bit-identical and the lr is f / sharpness;
#  * train.optimizer "newton" keeps its trust radius in the state: resumed runs are
#    bit-identical, and the state's radius is what the next iteration would use;
#  * --log-steps prints every step, and each epoch's train_loss is the sample-weighted
#    mean of its steps' losses (docs/data.md);
#  * --print-order prints the batches that tests/batch_order.py computes from
#    docs/numerics.md#batch-order alone, for an MLP and a ConvNet with drop_last;
#  * data.validation holds samples out of training and of the statistics: the rest trains
#    bit for bit as the smaller set does, and final_val_acc is measured.
# usage: train_cli.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
export PYTHONPATH=$here/../python

for cmd in run resume extend status export verify plan train help; do
    "$bin" $cmd --help >"$tmp/h1" 2>"$tmp/e1"
    rc=$?
    "$bin" help $cmd >"$tmp/h2" 2>>"$tmp/e1"
    rc2=$?
    if [ $rc -eq 0 ] && [ $rc2 -eq 0 ] && [ ! -s "$tmp/e1" ] && cmp -s "$tmp/h1" "$tmp/h2" &&
        grep -q "^usage: bpsweep" "$tmp/h1"; then
        ok
    else
        bad "$cmd --help: exit $rc / help $cmd: exit $rc2, stderr $(head -c 200 "$tmp/e1")"
    fi
done
# --help wins over a missing argument, wherever it stands
"$bin" resume --help >/dev/null && "$bin" train "$specs/tiny.json" --point 0 -h >/dev/null &&
    ok || bad "--help after other arguments"
"$bin" --version >"$tmp/v" && grep -q "^bpsweep [0-9]" "$tmp/v" && grep -q "^MPI: " "$tmp/v" &&
    grep -q "^HDF5: .*parallel" "$tmp/v" && grep -q "^OpenBLAS: " "$tmp/v" && ok ||
    bad "--version: $(cat "$tmp/v")"
"$bin" >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "no command: not exit 2"

# --save-state past the end: the final state, read back in Python
"$bin" train "$specs/tiny.json" --point 2 --stop-after 99 --save-state "$tmp/final.state" \
    --quiet >"$tmp/out" && [ -s "$tmp/final.state" ] && grep -q '^result status done' "$tmp/out" &&
    ok || bad "--save-state after the last epoch wrote no state"
$py - "$tmp/final.state" "$tmp/out" <<'EOF' && ok || bad "load_state disagrees with the results"
import sys
import numpy as np
import bpsweep
from bpsweep.state import fnv1a64
st = bpsweep.load_state(sys.argv[1])
res = {l.split()[1]: l.split()[2:] for l in open(sys.argv[2]) if l.startswith("result ")}
assert st["epoch"] == int(res["epochs_run"][0]) == st["epochs"], st["epoch"]
for name in ("test_acc", "train_loss", "test_loss", "train_acc"):
    assert np.array_equal(st["history"][name], np.array(res[name][:st["epochs"]], float)), name
# the parameter hash bpsweep prints is FNV-1a over the final float32 parameters
assert f"{fnv1a64(st['params'].tobytes()):016x}" == res["param_hash"][0], res["param_hash"]
assert st["params"].size == int(res["n_params"][0])
EOF
# the final state loads and finishes at once with the same results
"$bin" train "$specs/tiny.json" --point 2 --load-state "$tmp/final.state" --quiet >"$tmp/again" &&
    diff <(grep '^result' "$tmp/out" | grep -v epoch_seconds) \
        <(grep '^result' "$tmp/again" | grep -v epoch_seconds) >/dev/null && ok ||
    bad "the final state does not reproduce the results"

# train.lr_sharpness: the measured sharpness is kept in the state (its lr = f / sharpness),
# and a run stopped after 2 of 4 epochs and continued ends bit-identical to a straight run
cat >"$tmp/sharp.json" <<'EOF'
{"name": "sharp", "data": {"source": "synthetic", "n_train": 70, "n_test": 20, "features": 8,
 "classes": 3}, "architectures": [{"name": "m", "hidden": [6]}], "grid": {"seed": [4]},
 "train": {"epochs": 4, "batch_size": "full", "lr_sharpness": 0.8, "momentum": 0.5}}
EOF
# resumed NAME K: NAME.json's point 0 straight (NAME.out), and stopped after K epochs
# (NAME.state) then continued: the same results
resumed() {
    "$bin" train "$tmp/$1.json" --point 0 --quiet >"$tmp/$1.out" &&
        "$bin" train "$tmp/$1.json" --point 0 --stop-after "$2" --save-state "$tmp/$1.state" \
            --quiet >/dev/null &&
        "$bin" train "$tmp/$1.json" --point 0 --load-state "$tmp/$1.state" --quiet \
            >"$tmp/$1.again" &&
        diff <(grep '^result' "$tmp/$1.out" | grep -v epoch_seconds) \
            <(grep '^result' "$tmp/$1.again" | grep -v epoch_seconds) >/dev/null
}
resumed sharp 2 && ok || bad "lr_sharpness: a resumed run differs from a straight one"
$py - "$tmp/sharp.state" "$tmp/sharp.out" <<'EOF' && ok || bad "lr_sharpness: state and lr disagree"
import sys
import bpsweep
st = bpsweep.load_state(sys.argv[1])
res = {l.split()[1]: l.split()[2:] for l in open(sys.argv[2]) if l.startswith("result ")}
assert st["sharpness"] > 0 and st["lr"] == 0.8 / st["sharpness"], (st["sharpness"], st["lr"])
assert all(float(v) == st["lr"] for v in res["lr"]), (res["lr"], st["lr"])
EOF

# train.optimizer "newton": the trust radius is kept in the state, and a run stopped after
# 3 of 6 iterations and continued ends bit-identical to a straight run
cat >"$tmp/newton.json" <<'EOF'
{"name": "newton", "data": {"source": "synthetic", "n_train": 70, "n_test": 20, "features": 8,
 "classes": 3}, "architectures": [{"name": "m", "hidden": [6]}], "grid": {"seed": [4]},
 "train": {"epochs": 6, "batch_size": "full", "optimizer": "newton",
 "trust_region": {"radius": 0.5}}}
EOF
resumed newton 3 && ok || bad "newton: a resumed run differs from a straight one"
$py - "$tmp/newton.state" "$tmp/newton.out" <<'EOF' && ok || bad "newton: state and radius disagree"
import sys
import bpsweep
st = bpsweep.load_state(sys.argv[1])
res = {l.split()[1]: l.split()[2:] for l in open(sys.argv[2]) if l.startswith("result ")}
radius = [float(v) for v in res["lr"]]  # the lr curve holds each iteration's radius
assert radius[0] == 0.5 and st["epoch"] == 3, (radius, st["epoch"])
assert st["trust_radius"] == radius[3], (st["trust_radius"], radius)
loss = [float(v) for v in res["train_loss"]]
assert loss[-1] < loss[0], loss
EOF

# --log-steps: train_loss is the sample-weighted mean of the steps' losses (17 digits)
cat >"$tmp/odd.json" <<'EOF'
{"name": "odd", "data": {"source": "synthetic", "n_train": 70, "n_test": 20, "features": 8,
 "classes": 3}, "architectures": [{"name": "m", "hidden": [6]}], "grid": {"seed": [4]},
 "train": {"epochs": 2, "batch_size": 16, "lr": 0.1}}
EOF
"$bin" train "$tmp/odd.json" --point 0 --log-steps --quiet >"$tmp/steps" && ok || bad "--log-steps"
$py - "$tmp/steps" <<'EOF' && ok || bad "train_loss is not the sample-weighted mean of the steps"
import sys
lines = open(sys.argv[1]).read().splitlines()
steps = [l.split() for l in lines if l.startswith("step ")]
assert len(steps) == 10, len(steps)  # 2 epochs x 5 batches (16, 16, 16, 16, 6)
train_loss = [float(v) for l in lines if l.startswith("result train_loss ")
              for v in l.split()[2:]]
for e in range(2):
    s = [(int(t[5]), float(t[7])) for t in steps if int(t[3]) == e]
    weighted = sum(b * v for b, v in s) / sum(b for b, _ in s)
    plain = sum(v for _, v in s) / len(s)
    assert abs(weighted - train_loss[e]) <= 1e-12 * abs(weighted), (weighted, train_loss[e])
    assert abs(plain - train_loss[e]) > 1e-9, "the last batch is smaller: the means differ"
EOF

# --print-order against the doc's algorithm
$py "$here/batch_order.py" "$bin" "$specs/tiny.json" 3 1 20,16,16,4 3 >"$tmp/o1" && ok ||
    bad "MLP batch order: $(cat "$tmp/o1")"
cat >"$tmp/conv.json" <<'EOF'
{"name": "conv_order",
 "data": {"source": "synthetic", "n_train": 97, "n_test": 32, "features": 432, "classes": 4,
          "image_shape": [3, 12, 12]},
 "architectures": [{"name": "cnn", "preset": "convnet", "widths": [2], "batch_norm": true}],
 "grid": {"seed": [7]}, "train": {"epochs": 3, "batch_size": 10, "drop_last": true}}
EOF
$py "$here/batch_order.py" "$bin" "$tmp/conv.json" 0 7 432,288,576,576,1152,128,4 3 >"$tmp/o2" &&
    ok || bad "ConvNet batch order: $(cat "$tmp/o2")"
"$bin" train "$tmp/conv.json" --point 0 --print-order 3 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "trains 3 epochs" "$tmp/err" && ok || bad "--print-order past the end"
# data.validation: the held-out samples are neither trained on nor in the statistics, so a
# point with the last V of N samples held out trains bit for bit as on the first N - V
# (synthetic sets are prefix-stable; Fashion-MNIST through train_subset, standardized)
val_pair() { # name spec-with-validation spec-without
    "$bin" train "$2" --point 1 --quiet >"$tmp/va" && "$bin" train "$3" --point 1 --quiet >"$tmp/vb" &&
        grep -q '^result final_val_acc 0\.' "$tmp/va" &&
        diff <(grep '^result' "$tmp/va" | grep -v 'final_val\|epoch_seconds') \
            <(grep '^result' "$tmp/vb" | grep -v 'final_val\|epoch_seconds') >/dev/null &&
        ok || bad "$1: holding out validation samples changed the training"
}
for src in synthetic idx; do
    if [ $src = synthetic ]; then
        data_a='"source": "synthetic", "n_train": 300, "n_test": 100, "features": 10, "classes": 3, "validation": 100'
        data_b='"source": "synthetic", "n_train": 200, "n_test": 100, "features": 10, "classes": 3'
    else
        data_a='"train_subset": 1000, "test_subset": 500, "validation": 200'
        data_b='"train_subset": 800, "test_subset": 500'
    fi
    for v in a b; do
        eval "d=\$data_$v"
        printf '{"data": {%s}, "architectures": [{"name": "m", "hidden": [16]}],
 "grid": {"seed": [0], "weight_decay": [0, 0.001]}, "train": {"epochs": 2, "batch_size": 32}}\n' \
            "$d" >"$tmp/val_$v.json"
    done
    val_pair "$src" "$tmp/val_a.json" "$tmp/val_b.json"
done
summary
