#!/usr/bin/env bash
# The results file at 10^7 points (10 architectures x 10 conditions x 10 norm-bias targets
# x 10 weight decays x 1000 seeds, 1 epoch, tiny nets): a signal while it is being created,
# its size, and the time and peak memory (max RSS) of status, export, verify and resume
# reading it. Manual, not in CI (about 2 minutes and 10 GB of sparse file).
#   usage: bench/store_large.sh BPSWEEP [DIR]     (DIR: where the file goes, default /tmp)
set -u
bin=$1
dir=$(mktemp -d "${2:-/tmp}/store_large.XXXXXX")
trap 'rm -rf "$dir"' EXIT
here=$(cd "$(dirname "$0")/.." && pwd)
/usr/bin/python3 - >"$dir/big.json" <<'PY'
import json
print(json.dumps({"name": "big", "data": {"source": "synthetic", "n_train": 64, "n_test": 32,
                  "features": 8, "classes": 2},
                  "architectures": [{"name": f"a{i}", "hidden": [4]} for i in range(10)],
                  "grid": {"weight_decay": [i * 1e-4 for i in range(10)],
                           "norm_bias": [i * 0.1 for i in range(10)],
                           "conditions": [{"name": f"c{i}"} for i in range(10)],
                           "seed": list(range(1000))},
                  "train": {"epochs": 1, "batch_size": 32, "lr": 0.05}}))
PY
out=$dir/big.h5
# SIGUSR1 3 s into the creation, serially and through mpirun at 2 ranks
for how in serial mpirun; do
    if [ $how = serial ]; then
        "$bin" run "$dir/big.json" -o "$out" 2>"$dir/log" &
    else
        setsid "$here/tests/mpirun.sh" 2 "$bin" run "$dir/big.json" -o "$out" 2>"$dir/log" &
    fi
    pid=$!
    sleep 3
    [ -e "$out.creating" ] || echo "warning: $out.creating not there at the signal"
    t0=$(date +%s.%N)
    kill -USR1 $pid
    wait $pid
    code=$?
    echo "SIGUSR1 during creation ($how): exit $code after $(echo "$(date +%s.%N) - $t0" | bc) s;" \
         "left: $(cd "$dir" && ls | grep '^big.h5' | tr '\n' ' ')"
done
/usr/bin/time -f "create (and stop at the deadline): %e s, max RSS %M KB" \
    "$bin" run "$dir/big.json" -o "$out" --deadline +1 --drain 0 2>&1 | tail -1
echo "file: $(stat -c %s "$out") bytes apparent, $(du -k "$out" | cut -f1) KB on disk"
for cmd in "status $out" "export $out --csv $dir/big.csv" "verify $out"; do
    /usr/bin/time -f "${cmd%% *}: %e s, max RSS %M KB" "$bin" $cmd 2>&1 >/dev/null | tail -1
done
/usr/bin/time -f "resume (reads the file, stops at the deadline): %e s, max RSS %M KB" \
    "$bin" resume "$out" --deadline +1 --drain 0 2>&1 | tail -1
