#!/usr/bin/env bash
# Bad input through the binary: every bad spec in tests/data/specs (table in its
# README.md) and corrupt data files must give exit status 2, one message containing
# the expected text on stderr, and nothing on stdout.   usage: cli_bad_input.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"

expect_bad() { # name expected-substring command...
    local name=$1 want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne 2 ] || ! grep -qF -- "$want" "$tmp/err" || [ -s "$tmp/out" ]; then
        echo "FAIL $name: exit $rc (want 2), stderr: $(head -c 400 "$tmp/err")"
        [ -s "$tmp/out" ] && echo "     unexpected stdout: $(head -c 200 "$tmp/out")"
        echo "     wanted message containing: $want"
        fail=$((fail + 1))
    else
        ok
    fi
}

# bad specs, from the table in tests/data/specs/README.md
while IFS= read -r line; do
    file=${line%%: *}
    want=${line#*: }
    expect_bad "$file" "$want" "$bin" train "$specs/$file" --point 0
done < <(grep -E '^bad_[a-z_]+\.json: ' "$specs/README.md")

expect_bad missing_spec "nope.json: cannot open" "$bin" train "$tmp/nope.json" --point 0
expect_bad point_out_of_range "the grid of" "$bin" train "$specs/tiny.json" --point 4
expect_bad unknown_option "unknown option '--frobnicate'" "$bin" train "$specs/tiny.json" --frobnicate
expect_bad unknown_command "unknown command 'fly'" "$bin" fly

# issue 20: limits and strings the parser used to take
expect_bad spec_too_large "/dev/zero: larger than 16 MiB" "$bin" plan /dev/zero
printf '{"architectures": [{"name": "a", "hidden": [4], "activation": "relu\\u0000tanh"}],
 "grid": {"seed": [0]}}\n' >"$tmp/nul.json"
expect_bad nul_in_string "nul.json: architectures[0].activation: the string contains a NUL" \
    "$bin" train "$tmp/nul.json" --point 0
$py -c 'import json; print(json.dumps({"architectures": [{"name": "a", "hidden": [4]}],
  "grid": {"seed": list(range(2048)), "weight_decay": list(range(1024)),
           "norm_bias": list(range(1025))}}))' >"$tmp/huge.json"
expect_bad grid_over_limit "more than the limit of 2^31" "$bin" plan "$tmp/huge.json"
# run B -o A.h5 where A.h5 holds another sweep: a difference longer than 127 characters
# went through a 128-byte stack buffer (SIGABRT, or the stack copied into the message)
if "$bin" run "$specs/tiny.json" -o "$tmp/A.h5" >"$tmp/out" 2>"$tmp/err"; then
    long='[1000,1001,1002,1003,1004,1005,1006,1007,1008,1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,1024,1025,1026,1027,1028,1029]'
    sed "s/\"hidden\": \[16, 16\]/\"hidden\": $long/" "$specs/tiny.json" >"$tmp/B.json"
    expect_bad different_sweep_long_difference "  architectures[0].hidden: [16,16] -> $long" \
        "$bin" run "$tmp/B.json" -o "$tmp/A.h5"
else
    bad "run tiny.json -o A.h5 failed: $(head -c 400 "$tmp/err")"
fi

# bad data: an IDX spec pointing at a folder of corrupt files
make_spec() { # dir
    printf '{"data": {"source": "idx", "path": "%s"}, "architectures": [{"name": "m", "hidden": [4]}],
 "grid": {"seed": [0]}, "train": {"epochs": 1}}\n' "$1" >"$tmp/data.json"
}
mkdir -p "$tmp/missing"
make_spec "$tmp/missing"
expect_bad data_missing "train-images-idx3-ubyte" "$bin" train "$tmp/data.json" --point 0

# bad CIFAR data: tiny sets in the exact binary formats (2 records per file), each then
# broken in one way; the intact sets must train
mk_cifar() { # dir cifar10|cifar100
    mkdir -p "$1"
    $py - "$1" "$2" <<'PY'
import os, sys
d, kind = sys.argv[1:3]
names = ([f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
         if kind == "cifar10" else ["train.bin", "test.bin"])
for k, name in enumerate(names):
    with open(os.path.join(d, name), "wb") as f:
        for r in range(2):
            labels = [r + k] if kind == "cifar10" else [r, 10 * r + k]
            f.write(bytes(labels) + bytes((r * 31 + k + j) % 256 for j in range(3072)))
PY
}
cifar_spec() { # dir source [extra keys]
    printf '{"data": {"source": "%s", "path": "%s"%s}, "architectures": [{"name": "m", "hidden": [4]}],
 "grid": {"seed": [0]}, "train": {"epochs": 1, "batch_size": 4}}\n' "$2" "$1" "${3:-}" >"$tmp/cifar.json"
}
for kind in cifar10 cifar100; do
    mk_cifar "$tmp/$kind-good" $kind
    cifar_spec "$tmp/$kind-good" $kind ', "normalization": "per_channel"'
    "$bin" train "$tmp/cifar.json" --point 0 >"$tmp/out" 2>"$tmp/err" && ok ||
        bad "$kind: the intact set does not train: $(head -c 400 "$tmp/err")"
done
mk_cifar "$tmp/c10-missing" cifar10
rm "$tmp/c10-missing/data_batch_4.bin"
cifar_spec "$tmp/c10-missing" cifar10
expect_bad cifar_missing_batch "c10-missing/data_batch_4.bin: cannot open CIFAR-10 file" \
    "$bin" train "$tmp/cifar.json" --point 0
mk_cifar "$tmp/c10-size" cifar10
truncate -s 6000 "$tmp/c10-size/test_batch.bin"
cifar_spec "$tmp/c10-size" cifar10
expect_bad cifar_partial_record "c10-size/test_batch.bin: 6000 bytes is not a whole number of 3073-byte CIFAR-10 records" \
    "$bin" train "$tmp/cifar.json" --point 0
mk_cifar "$tmp/c10-label" cifar10
cifar_spec "$tmp/c10-label" cifar10
printf '\x0a' | dd of="$tmp/c10-label/data_batch_2.bin" bs=1 seek=3073 conv=notrunc 2>/dev/null
expect_bad cifar_label_range "c10-label/data_batch_2.bin: label 10 of record 1 is out of range [0, 10)" \
    "$bin" train "$tmp/cifar.json" --point 0
mk_cifar "$tmp/c100-label" cifar100
cifar_spec "$tmp/c100-label" cifar100 ', "labels": "coarse"'
printf '\x14' | dd of="$tmp/c100-label/test.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_bad cifar100_coarse_range "c100-label/test.bin: coarse label 20 of record 0 is out of range [0, 20)" \
    "$bin" train "$tmp/cifar.json" --point 0
mk_cifar "$tmp/c100-empty" cifar100
: >"$tmp/c100-empty/train.bin"
cifar_spec "$tmp/c100-empty" cifar100
expect_bad cifar_empty_set "c100-empty/train.bin: empty file; expected CIFAR-100 records" \
    "$bin" train "$tmp/cifar.json" --point 0
cifar_spec "$tmp/cifar10-good" cifar10 ', "train_subset": 11'
expect_bad cifar_subset_too_large "train_subset 11 exceeds the 10 samples of $tmp/cifar10-good/data_batch_1.bin .. " \
    "$bin" train "$tmp/cifar.json" --point 0
expect_bad cifar_subset_plan "train_subset 11 exceeds the 10 samples" "$bin" plan "$tmp/cifar.json"

good=/usr/share/datasets/fashion-mnist
if [ -d "$good" ]; then
    mk() { # name: copy the real set, then let the caller break one file
        mkdir -p "$tmp/$1" && cp "$good"/*.gz "$tmp/$1/"
    }
    mk magic
    printf '\x00\x00\x08\x02\x00\x00\x00\x01' | gzip >"$tmp/magic/t10k-labels-idx1-ubyte.gz"
    make_spec "$tmp/magic"
    expect_bad data_wrong_magic "t10k-labels-idx1-ubyte.gz" "$bin" train "$tmp/data.json" --point 0
    mk truncated
    gzip -dc "$good/train-labels-idx1-ubyte.gz" | head -c 30000 | gzip >"$tmp/truncated/train-labels-idx1-ubyte.gz"
    make_spec "$tmp/truncated"
    expect_bad data_truncated "train-labels-idx1-ubyte.gz" "$bin" train "$tmp/data.json" --point 0
    mk badgzip
    head -c 100000 "$good/t10k-images-idx3-ubyte.gz" >"$tmp/badgzip/t10k-images-idx3-ubyte.gz"
    make_spec "$tmp/badgzip"
    expect_bad data_bad_gzip "t10k-images-idx3-ubyte.gz" "$bin" train "$tmp/data.json" --point 0
    # an op list whose last output is not the 10 classes of the files: known only once
    # they are read, refused before anything is trained or written, with its JSON path
    cat >"$tmp/layers.json" <<EOF
{"data": {"path": "$good", "train_subset": 100, "test_subset": 50},
 "architectures": [{"name": "a", "hidden": [8]},
                   {"name": "b", "layers": [{"type": "dense", "out": 8}, {"type": "relu"},
                                            {"type": "dense", "out": 5}]}],
 "grid": {"seed": [0]}, "train": {"epochs": 1}}
EOF
    want="architectures[1].layers[2]: the last op's output is (5, 1, 1), not the 10 classes (for inputs (1, 28, 28)"
    expect_bad layers_train "$want" "$bin" train "$tmp/layers.json" --point 0
    expect_bad layers_plan "$want" "$bin" plan "$tmp/layers.json"
    # presets: on flat data (no image shape), and an unknown one
    cat >"$tmp/preset_flat.json" <<'EOF'
{"data": {"source": "synthetic", "n_train": 8, "n_test": 4, "features": 12, "classes": 2},
 "architectures": [{"name": "r", "preset": "resnet18", "base_width": 4}], "grid": {"seed": [0]}}
EOF
    expect_bad preset_flat "architectures[0].preset: preset \"resnet18\" needs images" "$bin" plan \
        "$tmp/preset_flat.json"
    sed 's/resnet18/vgg/' "$tmp/preset_flat.json" >"$tmp/preset_unknown.json"
    expect_bad preset_unknown "architectures[0].preset: expected one of \"convnet\", \"resnet18\"" \
        "$bin" plan "$tmp/preset_unknown.json"
    expect_bad layers_run "$want" "$bin" run "$tmp/layers.json" -o "$tmp/layers.h5"
    [ ! -e "$tmp/layers.h5" ] && ok || bad "run of a bad op list created its results file"
else
    echo "note: $good absent; corrupt-IDX cases run in unit_data only"
fi

summary
