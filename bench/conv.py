#!/usr/bin/python3
"""Convolutional trainer benchmark: bpsweep vs PyTorch 1.13 (oneDNN), one thread each.

Runs, alternating, `--repeats` times each (the median run counts):
  * build/bench/bench_conv: bpsweep's trainer (batch 128, SGD momentum 0.9, weight decay
    5e-4) on the ConvNet w = 16 on 1x28x28 and ResNet-18 with base width 16 on 3x32x32,
    with the GEMM-bound efficiency (the step's sgemm calls timed alone / step time) and
    the time per op kind;
  * bench/torch_conv.py: the same nets and optimizer in PyTorch.
Prints samples/s of both, their ratio against the target 1.5, the efficiency against the
target 0.70, and bpsweep's time per op kind in the median run.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
NETS = [("convnet", "16", "0", "1 28 28"), ("resnet18", "1", "16", "3 32 32")]
RATIO_TARGET, EFF_TARGET = 1.5, 0.70


def parse(line):
    return {k: float(v) for k, v in re.findall(r"(\w+) ([0-9.]+)", line)}


def run(cmd, env):
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-bin", default=os.path.join(HERE, "..", "build", "bench",
                                                         "bench_conv"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--only", choices=["convnet", "resnet18"])
    args = ap.parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    ok = True
    rows = []
    for preset, width, base, shape in NETS:
        if args.only and preset != args.only:
            continue
        net = [preset, width, base] + shape.split()
        ours, ref = [], []
        for _ in range(args.repeats):
            out = run([args.bench_bin, "--steps", str(args.steps)] + net, env)
            lines = out.strip().splitlines()
            head = next(l for l in lines if l.startswith("conv "))
            times = [l for l in lines if l.startswith("time ")]
            ours.append((parse(head), times))
            ref.append(parse(run(["/usr/bin/python3", os.path.join(HERE, "torch_conv.py"),
                                  "--steps", str(args.steps)] + net, env)))
        ours.sort(key=lambda r: r[0]["samples_per_s"])
        ref.sort(key=lambda r: r["samples_per_s"])
        mine, times = ours[len(ours) // 2]
        theirs = ref[len(ref) // 2]
        ratio = mine["samples_per_s"] / theirs["samples_per_s"]
        eff = mine["gemm_efficiency"]
        good = ratio >= RATIO_TARGET and eff >= EFF_TARGET
        ok &= good
        name = f"{preset}-w{width}" + (f"-b{base}" if preset == "resnet18" else "")
        rows.append((name, mine, theirs, ratio, eff, good, times))
    print(f"{'net':18s} {'bpsweep/s':>10s} {'torch/s':>10s} {'ratio':>6s} {'target':>6s}  "
          f"{'step ms':>8s} {'gemm ms':>8s} {'gemm eff':>8s} {'target':>6s}  GFLOP/s")
    for name, mine, theirs, ratio, eff, good, times in rows:
        gflops = 3 * 2 * mine["flops_per_sample"] * mine["samples_per_s"] * 1e-9
        print(f"{name:18s} {mine['samples_per_s']:10.1f} {theirs['samples_per_s']:10.1f} "
              f"{ratio:6.2f} {RATIO_TARGET:6.2f}  {mine['step_ms']:8.1f} {mine['gemm_ms']:8.1f} "
              f"{eff:8.2f} {EFF_TARGET:6.2f}  {gflops:6.1f}  {'ok' if good else 'MISSED'}")
    for name, mine, theirs, ratio, eff, good, times in rows:
        print(f"\n{name}: time per op kind in one step (ms; gemm = inside sgemm)")
        total = 0.0
        for t in times:
            f = t.split()
            kind, vals = f[1], parse(" ".join(f[2:]))
            total += vals["fwd_ms"] + vals["bwd_ms"]
            print(f"  {kind:16s} forward {vals['fwd_ms']:8.2f}  backward {vals['bwd_ms']:8.2f}  "
                  f"of which sgemm {vals['gemm_ms']:8.2f}")
        print(f"  {'ops in all':16s} {total:8.2f}; rest of the step (loss, update, gather) "
              f"{mine['step_ms'] - total:8.2f}")
    print("\n(GFLOP/s counts 3 x the forward multiply-adds x 2 per sample)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
