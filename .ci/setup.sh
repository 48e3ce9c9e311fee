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
    cmake gcc make pkg-config
    libopenmpi-dev openmpi-bin libopenblas-dev liblapacke-dev
    libhdf5-openmpi-dev hdf5-tools libcjson-dev zlib1g-dev
    dataset-fashion-mnist
    python3-h5py python3-numpy python3-matplotlib python3-torch
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
    (cd "$root/build" && ctest --output-on-failure) 2>&1 | tee "$root/build/ctest.out" || rc=1
    print_slowest "$root/build/ctest.out"
    echo "test suite finished in $((SECONDS - t0)) s"
    return $rc
}

demo() {
    build "$root/build"
    "$root/build/bpsweep" train "$root/sweeps/demo.json" --list
    "$root/build/bpsweep" train "$root/sweeps/demo.json" --point 0
}

case "${1:-}" in
    deps) deps ;;
    build) deps && build "$root/build" ;;
    test) deps && run_tests ;;
    demo) deps && demo ;;
    *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
