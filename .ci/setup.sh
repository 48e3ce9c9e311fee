#!/usr/bin/env bash
# bpsweep's one setup script: installs what is missing (apt), builds, and runs the demo
# or the test suite. Idempotent; fast when everything is present.
#
#   bash .ci/setup.sh demo    install, build, run the demo (README quick start)
#   bash .ci/setup.sh test    install, build, run the whole test suite (what CI runs)
#   bash .ci/setup.sh deps    install the apt packages only
#   bash .ci/setup.sh build   install and build only (build/)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

PACKAGES=(
    cmake gcc make pkg-config bc procps
    libopenmpi-dev openmpi-bin libopenblas-dev liblapacke-dev
    libhdf5-openmpi-dev hdf5-tools libcjson-dev zlib1g-dev libfftw3-dev
    dataset-fashion-mnist
    python3-h5py python3-numpy python3-matplotlib python3-pandas python3-scipy python3-torch
    python3-mpi4py
    slurm-wlm munge
    clang libfuzzer-14-dev
)

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing: ${missing[*]}"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo=sudo
    fi
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() { # build-dir [cmake options]
    local dir=$1
    shift
    cmake -S "$root" -B "$dir" -DBPSWEEP_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

print_slowest() { # ctest output file
    echo "slowest tests:"
    grep -E 'Test +#[0-9]+: ' "$1" | sed -E 's/.*Test +#[0-9]+: ([^ ]+) .* ([0-9.]+) sec.*/\2 \1/' |
        sort -rn | head -8 | awk '{printf "  %8.2f s  %s\n", $1, $2}'
}

run_tests() {
    local t0=$SECONDS
    build "$root/build"
    # serial unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer
    build "$root/build-asan" -DBPSWEEP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
    local rc=0
    (cd "$root/build-asan" && ctest -L unit --output-on-failure) || rc=1
    # the spec parser under libFuzzer (ASan + UBSan): every seed, then 60 s of fuzzing
    bash "$root/tests/fuzz/run.sh" "$root/build-fuzz" 60 || rc=1
    (cd "$root/build" && ctest --output-on-failure) 2>&1 | tee "$root/build/ctest.out" || rc=1
    print_slowest "$root/build/ctest.out"
    echo "test suite finished in $((SECONDS - t0)) s"
    return $rc
}

demo() {
    build "$root/build"
    local out=$root/results/demo.h5 ranks=$((jobs + 1))
    mkdir -p "$root/results"
    rm -f "$out" "$out.progress.json" # the demo starts afresh each time
    echo "running sweeps/demo.json on $ranks MPI ranks (1 coordinator, $jobs workers)"
    "$root/build/bpsweep" plan "$root/sweeps/demo.json" --ranks "$ranks"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
        mpirun --oversubscribe --bind-to none -np "$ranks" \
        "$root/build/bpsweep" run "$root/sweeps/demo.json" -o "$out"
    "$root/build/bpsweep" status "$out"
    "$root/build/bpsweep" export "$out" --csv "$root/results/demo.csv"
    /usr/bin/python3 "$root/analysis/plot_accuracy_vs_wd.py" "$out" -o "$root/results/demo.png"
    echo "results: $out, table: results/demo.csv, figure: results/demo.png"
}

case "${1:-}" in
    deps) deps ;;
    build) deps && build "$root/build" ;;
    test) deps && run_tests ;;
    demo) deps && demo ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
