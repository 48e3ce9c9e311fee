#!/usr/bin/env bash
# Reproduce the paper's four claims on this machine: run the workstation sweeps, export
# them into docs/reproduction/data/, and regenerate docs/reproduction.md.
#
#   analysis/reproduce.sh [SWEEP...]   (default: every sweep below, about 6 hours)
#
#   sweeps: claim1 claim1-converge claim1-newton claim2 claim2-convnet claim2-convnet-c1
#           claim2-convnet-bn claim2-convnet-bn-c1 claim2-resnet18 claim3 claim3-convnet
#           claim3-conv claim3-conv-nobn claim3-conv-bnstats claim4 claim4-conv
#
# Each sweep runs sweeps/<claim>.json with jobscripts/local.sh (mpirun on every core plus
# the coordinator; an interrupted run resumes where it stopped when started again) into
# $RESULTS_DIR/<claim>.h5 (default results/); its points table (bpsweep_results.py
# --export) and wall time go to docs/reproduction/data/, and analysis/report.py rewrites
# the report with every table and figure (docs/reproduction.md gives each sweep's time).
# Build first (bash .ci/setup.sh build); the binary is $BPSWEEP_BIN or build/bpsweep.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
results=${RESULTS_DIR:-$root/results}
export BPSWEEP_BIN=${BPSWEEP_BIN:-$root/build/bpsweep}
py=/usr/bin/python3
data=$root/docs/reproduction/data
claims=("$@")
[ ${#claims[@]} -gt 0 ] || claims=(claim1 claim1-converge claim1-newton claim2 claim2-convnet claim2-convnet-c1 claim2-convnet-bn claim2-convnet-bn-c1 claim2-resnet18 claim3 claim3-convnet claim3-conv claim3-conv-nobn claim3-conv-bnstats claim4 claim4-conv)
mkdir -p "$results" "$data"
ranks=$(($(nproc) + 1))
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)

for claim in "${claims[@]}"; do
    spec=sweeps/$claim.json
    [ -f "$root/$spec" ] || { echo "reproduce.sh: no $spec" >&2; exit 2; }
    # claim 1 reads Fashion-MNIST's principal components (analysis/prepare_claim1_data.py
    # says why), made once from the Debian package's files
    if [ "$claim" = claim1 ] && [ ! -f "$root/data/fashion-mnist-pca50.h5" ]; then
        mkdir -p "$root/data"
        "$py" "$root/analysis/prepare_claim1_data.py" "$root/data/fashion-mnist-pca50.h5"
    fi
    # what plan expects, recorded beside the measured time (the report shows both)
    plan=$("$BPSWEEP_BIN" plan "$root/$spec" --ranks "$ranks" |
        awk '/^wall time:/ { v = $3; u = $4; print (u == "s" ? v / 60 : u == "h" ? v * 60 : v) }')
    started=$(date -u +%FT%TZ)
    t0=$(date +%s)
    (cd "$root" && jobscripts/local.sh "$spec" "$results/$claim.h5" -n "$ranks")
    wall=$(($(date +%s) - t0))
    "$py" "$root/analysis/bpsweep_results.py" "$results/$claim.h5" --export "$data/${claim}_points.csv"
    # claim 1's sweeps that store their weights: how many pre-activations sit on the kink
    case $claim in
    claim1-converge | claim1-newton)
        "$py" "$root/analysis/claim1_kinks.py" "$results/$claim.h5" --out "$data/${claim}_kinks.csv" ;;
    esac
    cat > "$data/${claim}_run.json" <<EOF
{"spec": "$spec", "command": "jobscripts/local.sh $spec $claim.h5 -n $ranks", "ranks": $ranks,
 "machine": "$(nproc) cores ($cpu)", "wall_seconds": $wall, "started": "$started",
 "plan_wall_minutes": ${plan:-null}}
EOF
done
"$py" "$root/analysis/report.py"
