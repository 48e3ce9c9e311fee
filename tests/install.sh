#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed tree alone: an
# environment with neither the source nor the build directory in it (the variables the
# installed module file sets, a working directory outside both), the demo sweep through
# the installed workstation launcher, status, export, verify, the Python reader
# (to_dataframe against the export read with pandas, the long frames against the curves)
# and an installed analysis script.   usage: install.sh BUILD_DIR
set -u
build=$(cd "$1" && pwd)
. "$(dirname "$0")/lib.sh"
src=$(cd "$here/.." && pwd)
pfx=$tmp/prefix
cmake --install "$build" --prefix "$pfx" >"$tmp/install.log" 2>&1 && ok ||
    { bad "cmake --install: $(tail -5 "$tmp/install.log")"; summary; exit; }

# the module file's settings, applied as `module load` would (prepend-path, setenv)
modfile=$(ls "$pfx"/share/modulefiles/bpsweep/* 2>/dev/null | head -1)
[ -n "$modfile" ] && ok || bad "no module file under $pfx/share/modulefiles/bpsweep"
env_args=(HOME="$tmp" LANG=C.UTF-8 PATH=/usr/bin:/bin)
prefix=$(sed -n 's/^set prefix //p' "$modfile")
[ "$prefix" = "$pfx" ] && ok || bad "the module file names prefix '$prefix', not $pfx"
while read -r cmd var value; do
    value=${value//\$prefix/$prefix}
    case $cmd in
    prepend-path) [ "$var" = PATH ] && env_args[2]="PATH=$value:/usr/bin:/bin" ||
        env_args+=("$var=$value") ;;
    setenv) env_args+=("$var=$value") ;;
    esac
done < <(grep -E '^(prepend-path|setenv) ' "$modfile")
for v in "${env_args[@]}"; do
    case $v in *"$src"* | *"$build"*) bad "the environment names the source or build tree: $v" ;; esac
done
# what mpirun needs as root (the harness's business, not the installed scripts')
[ "$(id -u)" -eq 0 ] && env_args+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
run() { (cd "$tmp/work" && env -i "${env_args[@]}" "$@"); }
mkdir -p "$tmp/work"

run bpsweep --version >"$tmp/v" && grep -q "^bpsweep " "$tmp/v" && ok || bad "bpsweep --version"
run sh -c 'command -v bpsweep' >"$tmp/which" && [ "$(cat "$tmp/which")" = "$pfx/bin/bpsweep" ] &&
    ok || bad "bpsweep on PATH is '$(cat "$tmp/which")', not the installed one"
# the demo sweep, with the installed launcher and example spec, on 3 ranks
run bpsweep-local "$pfx/share/bpsweep/sweeps/demo.json" demo.h5 -n 3 --progress-interval 600 \
    >"$tmp/local.log" 2>&1 && ok || bad "bpsweep-local demo: $(tail -5 "$tmp/local.log")"
run bpsweep status demo.h5 >"$tmp/status" && grep -q "30 points" "$tmp/status" && ok ||
    bad "status: $(head -5 "$tmp/status")"
run bpsweep export demo.h5 --csv demo.csv && ok || bad "export"
run bpsweep verify demo.h5 >/dev/null && ok || bad "verify"
# bpsweep-submit finds the installed job script and binary (a dry run: no Slurm needed)
run bpsweep-submit "$pfx/share/bpsweep/sweeps/demo.json" --nodes 1 --ntasks-per-node 3 \
    --time 5 --dry-run >"$tmp/submit" 2>&1 &&
    grep -q "would run: sbatch .*$pfx/share/bpsweep/jobscripts/slurm/sweep.sbatch" "$tmp/submit" &&
    ok || bad "bpsweep-submit --dry-run: $(tail -3 "$tmp/submit")"

run /usr/bin/python3 - <<'EOF' >"$tmp/py" 2>&1 && ok || bad "Python reader: $(tail -15 "$tmp/py")"
import numpy as np
import pandas as pd
import bpsweep
assert "/site-packages/bpsweep/" in bpsweep.__file__, bpsweep.__file__
res = bpsweep.load("demo.h5")
df = res.to_dataframe()
csv = bpsweep.read_export("demo.csv")
assert list(df.columns) == list(csv.columns), (list(df.columns), list(csv.columns))
pd.testing.assert_frame_equal(df, csv, check_exact=True)
assert len(df) == 30 and (df["status"] == "done").all()
# the long curves frame pivots back to the curves, NaN where no epoch ran
long = res.curves_frame()
assert set(long.columns) == {"index", "epoch", *res.curves}, long.columns
for name, m in res.curves.items():
    back = np.full(m.shape, np.nan)
    back[long["index"].to_numpy(), long["epoch"].to_numpy() - 1] = long[name].to_numpy()
    assert np.array_equal(back, m, equal_nan=True), name
layers = res.layers_frame()
for name, m in res.layers.items():
    back = np.full(m.shape, np.nan)
    back[layers["index"].to_numpy(), layers["layer"].to_numpy() - 1] = layers[name].to_numpy()
    assert np.array_equal(back, m, equal_nan=True), name
# the file records what `bpsweep --version` prints (one rank's line: all ranks agree here)
import subprocess
version = dict(l.split(":", 1) for l in subprocess.run(["bpsweep", "--version"], check=True,
               capture_output=True, text=True).stdout.splitlines()[1:])
assert res.attrs["mpi_library"] == version["MPI"].strip(), res.attrs["mpi_library"]
assert res.attrs["hdf5_version"] == version["HDF5"].strip(), res.attrs["hdf5_version"]
assert res.attrs["openblas_config"] in version["OpenBLAS"], res.attrs["openblas_config"]
# without pandas: the same columns as numpy arrays
import sys
sys.modules["pandas"] = None  # import pandas now fails
plain, plain_curves = res.to_dataframe(), res.curves_frame()
sys.modules["pandas"] = pd
assert isinstance(plain, dict) and isinstance(plain_curves, dict), type(plain)
pd.testing.assert_frame_equal(pd.DataFrame(plain), df, check_exact=True)
pd.testing.assert_frame_equal(pd.DataFrame(plain_curves), long, check_exact=True)
print("reader ok:", df.shape, long.shape, layers.shape)
EOF
run /usr/bin/python3 "$pfx/share/bpsweep/analysis/plot_accuracy_vs_wd.py" demo.h5 -o demo.png \
    >"$tmp/plot" 2>&1 && [ -s "$tmp/work/demo.png" ] && ok ||
    bad "installed analysis script: $(tail -5 "$tmp/plot")"
summary
