#!/usr/bin/python3
"""Trainer benchmark: bpsweep vs a PyTorch reference loop, and GEMM-bound efficiency.

Runs, in one process environment (one BLAS thread each, OPENBLAS_NUM_THREADS=1, the
environment's other OpenBLAS settings unchanged):
  * build/bench/bench_mlp: bpsweep's trainer on 784-1024-1024-10 and 784-256-256-10
    (batch 128, momentum 0.9, weight decay 5e-4) plus OpenBLAS sgemm alone on the
    GEMM shapes of one step;
  * bench/torch_mlp.py: the same nets and optimizer in PyTorch.
Each side is measured `--repeats` times, alternating, and the median run counts.
Prints samples/s of both, their ratio, and the GEMM-bound efficiency with its target
(median statistics; "(best)" is the same ratio from the fastest epoch and fastest GEMM
trials).
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = [("784 1024 1024 10", 300, 1.15, 0.85), ("784 256 256 10", 1200, 1.20, 0.75)]


def parse(line):
    return {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", line)}


def median_run(runs, key):
    return sorted(runs, key=lambda r: r[key])[len(runs) // 2]


def run(cmd, env):
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return parse(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-bin", default=os.path.join(HERE, "..", "build", "bench",
                                                         "bench_mlp"))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    ok = True
    print(f"{'net':22s} {'bpsweep/s':>10s} {'torch/s':>10s} {'ratio':>6s} {'target':>6s}  "
          f"{'step ms':>8s} {'gemm ms':>8s} {'gemm eff':>8s} {'target':>6s} {'(best)':>7s}")
    for dims, steps, ratio_target, eff_target in NETS:
        ours, ref = [], []
        for _ in range(args.repeats):
            ours.append(run([args.bench_bin, "--steps", str(steps)] + dims.split(), env))
            ref.append(run(["/usr/bin/python3", os.path.join(HERE, "torch_mlp.py"), "--steps",
                            str(steps)] + dims.split(), env))
        best = median_run(ours, "samples_per_s")
        best_ref = median_run(ref, "samples_per_s")
        ratio = best["samples_per_s"] / best_ref["samples_per_s"]
        eff = best["gemm_efficiency"]
        good = ratio >= ratio_target and eff >= eff_target
        ok &= good
        print(f"{dims.replace(' ', '-'):22s} {best['samples_per_s']:10.0f} "
              f"{best_ref['samples_per_s']:10.0f} {ratio:6.2f} {ratio_target:6.2f}  "
              f"{best['step_ms']:8.3f} {best['gemm_ms']:8.3f} {eff:8.1%} {eff_target:6.0%} "
              f"{best['best_efficiency']:7.1%}"
              f"  {'ok' if good else 'BELOW TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
