#!/usr/bin/env bash
# Determinism and saved state through the binary, each run a separate process:
#  * the same point trained twice gives identical result lines (every metric printed
#    with 17 digits, and the hash of the final parameter bytes; not the epoch timings);
#  * 3 epochs, save, restore in a new process, 2 more epochs == 5 epochs straight,
#    for a batch-norm + skip + Nesterov + cosine + norm-bias point and a plain one;
#  * an explicit op list that spells out an MLP gives the MLP's bits.
# usage: cli_determinism.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
check_same() { # name file-a file-b: their result lines must be identical and present
    grep '^result ' "$2" | grep -v '^result epoch_seconds' >"$tmp/ra"
    grep '^result ' "$3" | grep -v '^result epoch_seconds' >"$tmp/rb"
    if cmp -s "$tmp/ra" "$tmp/rb" && grep -q '^result param_hash' "$tmp/ra"; then
        pass=$((pass + 1))
    else
        echo "FAIL $1:"; diff "$tmp/ra" "$tmp/rb" | head -20
        fail=$((fail + 1))
    fi
}

for point in 0 3; do
    "$bin" train "$specs/tiny.json" --point $point --quiet >"$tmp/a" &&
        "$bin" train "$specs/tiny.json" --point $point --quiet >"$tmp/b" || fail=$((fail + 1))
    check_same "tiny point $point twice" "$tmp/a" "$tmp/b"
done

for point in 0 1; do
    "$bin" train "$specs/state5.json" --point $point --quiet >"$tmp/straight" || fail=$((fail + 1))
    "$bin" train "$specs/state5.json" --point $point --quiet --stop-after 3 \
        --save-state "$tmp/state" >"$tmp/first" || fail=$((fail + 1))
    grep -q '^result status pending' "$tmp/first" || { echo "FAIL: first part not pending"; fail=$((fail + 1)); }
    "$bin" train "$specs/state5.json" --point $point --quiet --load-state "$tmp/state" \
        >"$tmp/resumed" || fail=$((fail + 1))
    check_same "state5 point $point: 3 + 2 epochs vs 5" "$tmp/straight" "$tmp/resumed"
done

# a state file of another point is refused
"$bin" train "$specs/state5.json" --point 1 --quiet --stop-after 1 --save-state "$tmp/s1" >/dev/null
if "$bin" train "$specs/state5.json" --point 0 --quiet --load-state "$tmp/s1" >/dev/null 2>"$tmp/err"; then
    echo "FAIL: state of point 1 accepted for point 0"; fail=$((fail + 1))
else
    pass=$((pass + 1))
fi
# an explicit op list ("layers") that spells out an MLP trains the same bits as "hidden":
# points k (hidden) and k + 4 (layers) of layers_mlp.json, every result line but the key
for point in 0 1 2 3; do
    "$bin" train "$specs/layers_mlp.json" --point $point --quiet | grep -v '^result \(key\|index\)' >"$tmp/h" &&
        "$bin" train "$specs/layers_mlp.json" --point $((point + 4)) --quiet |
        grep -v '^result \(key\|index\)' >"$tmp/l" || fail=$((fail + 1))
    check_same "layers vs hidden, point $point" "$tmp/h" "$tmp/l"
done
# augmentation (crop with zero padding, flip) on synthetic (2, 4, 5) images: trained twice,
# and 2 + 2 epochs through a state file, the same result lines; without an image shape it
# is refused (exit 2) naming train.augment
cat >"$tmp/aug.json" <<'EOF'
{"name": "aug", "data": {"source": "synthetic", "n_train": 96, "n_test": 32, "features": 40,
 "classes": 4, "image_shape": [2, 4, 5]},
 "architectures": [{"name": "mlp", "hidden": [16]}], "grid": {"seed": [3]},
 "train": {"epochs": 4, "batch_size": 16, "lr": 0.05,
           "augment": {"crop_padding": 2, "flip": true}}}
EOF
"$bin" train "$tmp/aug.json" --point 0 --quiet >"$tmp/a" &&
    "$bin" train "$tmp/aug.json" --point 0 --quiet >"$tmp/b" || fail=$((fail + 1))
check_same "augmented point twice" "$tmp/a" "$tmp/b"
"$bin" train "$tmp/aug.json" --point 0 --quiet --stop-after 2 --save-state "$tmp/augstate" \
    >/dev/null && "$bin" train "$tmp/aug.json" --point 0 --quiet --load-state "$tmp/augstate" \
    >"$tmp/resumed" || fail=$((fail + 1))
check_same "augmented point: 2 + 2 epochs vs 4" "$tmp/a" "$tmp/resumed"
sed 's/, "image_shape": \[2, 4, 5\]//' "$tmp/aug.json" >"$tmp/flat.json"
"$bin" train "$tmp/flat.json" --point 0 --quiet >/dev/null 2>"$tmp/err"
code=$?
if [ $code -eq 2 ] && grep -q 'train.augment: crop and flip need image data' "$tmp/err"; then
    pass=$((pass + 1))
else
    echo "FAIL: augmentation of flat data: exit $code, $(cat "$tmp/err")"; fail=$((fail + 1))
fi
summary
