#!/usr/bin/env bash
# The commands around a sweep: `status` while it runs (from the progress file) and
# after (from the results file), plain progress lines when stderr is not a terminal,
# `export --csv`, `plan`.   usage: sweep_tools.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
pid=
at_exit '[ -n "$pid" ] && kill $pid 2>/dev/null'

# live status while a sweep runs
out=$tmp/slow.h5
"$here/mpirun.sh" 2 "$bin" run "$specs/slow.json" -o "$out" --progress-interval 0.5 2>"$tmp/slow.log" &
pid=$!
for _ in $(seq 100); do
    grep -Eq '"state":[[:space:]]*"running"' "$out.progress.json" 2>/dev/null && break
    sleep 0.1
done
"$bin" status "$out" >"$tmp/live" 2>&1 && grep -q "sweep running on" "$tmp/live" &&
    grep -q "^mlp " "$tmp/live" && ok || bad "live status: $(cat "$tmp/live")"
wait $pid && ok || bad "slow sweep failed: $(tail -3 "$tmp/slow.log")"
[ "$(grep -c 'bpsweep: .* finished (' "$tmp/slow.log")" -ge 2 ] && ok ||
    bad "no periodic progress lines: $(cat "$tmp/slow.log")"
grep -Eq '"state":[[:space:]]*"finished"' "$out.progress.json" && ok || bad "progress file not finished"

# status from the file after the sweep
"$bin" status "$out" >"$tmp/st" 2>&1 && grep -Eq "^total +4 +0 +0 +0 +0" "$tmp/st" && ok ||
    bad "status after: $(cat "$tmp/st")"

# export
"$bin" export "$out" --csv "$tmp/t.csv" && ok || bad "export failed"
[ "$(wc -l <"$tmp/t.csv")" -eq 5 ] && head -1 "$tmp/t.csv" | grep -q "final_test_acc" &&
    [ "$(cut -d, -f8 "$tmp/t.csv" | sort | uniq -c | awk '{print $1, $2}' | grep -c '^4 done$')" -eq 1 ] &&
    ok || bad "csv: $(cat "$tmp/t.csv")"
"$bin" export "$tmp/missing.h5" --csv "$tmp/u.csv" 2>/dev/null
[ $? -eq 2 ] && [ ! -e "$tmp/u.csv" ] && ok || bad "export of a missing file"
"$bin" status "$tmp/t.csv" >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "not an HDF5 file" "$tmp/err" && ok || bad "status of a non-HDF5 file: $(cat "$tmp/err")"

# plan
"$bin" plan "$specs/sweep15.json" --ranks 3 >"$tmp/plan" 2>&1 &&
    grep -q "core-hours" "$tmp/plan" && grep -q "results file:" "$tmp/plan" &&
    grep -q "on 3 ranks (2 workers" "$tmp/plan" && ok || bad "plan: $(cat "$tmp/plan")"
# a conv net whose evaluation batches (256 samples) would take more than plan's 256 MiB
# of timing memory, but whose training steps of 8 do not: timed at its own batch size
# (no '~'), not scaled from an MLP's multiply-adds, which run faster than a conv net's
cat >"$tmp/conv.json" <<'EOF'
{"name": "plan_conv",
 "data": {"source": "synthetic", "n_train": 16, "n_test": 8, "features": 784, "classes": 10,
          "image_shape": [1, 28, 28]},
 "architectures": [{"name": "cnn", "preset": "convnet", "widths": [16], "batch_norm": true}],
 "grid": {"seed": [0]},
 "train": {"epochs": 1, "batch_size": 8, "lr": 0.01}}
EOF
"$bin" plan "$tmp/conv.json" >"$tmp/plan" 2>&1 && grep -Eq '^cnn@w=16 .* ms +[0-9.]+ s$' "$tmp/plan" &&
    ! grep -q "too large to time" "$tmp/plan" && ok ||
    bad "plan of a conv net timed at its batch size: $(cat "$tmp/plan")"

summary
