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
else
    echo "note: $good absent; corrupt-IDX cases run in unit_data only"
fi

summary
