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
    want="architectures[1].layers[2]: the last op's output is (5, 1, 1), not the 10 classes (for 784"
    expect_bad layers_train "$want" "$bin" train "$tmp/layers.json" --point 0
    expect_bad layers_plan "$want" "$bin" plan "$tmp/layers.json"
    expect_bad layers_run "$want" "$bin" run "$tmp/layers.json" -o "$tmp/layers.h5"
    [ ! -e "$tmp/layers.h5" ] && ok || bad "run of a bad op list created its results file"
else
    echo "note: $good absent; corrupt-IDX cases run in unit_data only"
fi

summary
