#!/usr/bin/python3
"""Retrains every case written by torch_ref_cases with PyTorch and compares.

For each case: the same initial parameters, the same batches (indices logged by
bpsweep), torch.optim.SGD with the case's momentum / Nesterov / weight decay, the
norm-bias term added to the gradients before the step, gradient clipping by value,
and torch's own LR schedulers. Checks, per the trainer issue:
  * every step's loss within 1e-4 relative,
  * final parameters (and batch-norm running statistics) elementwise within
    1e-5 + 1e-4 * |reference|,
  * per-epoch learning rate and evaluation-mode test loss,
  * the weights moved: ||theta_end - theta_0|| / ||theta_0|| >= 1%.
Exits non-zero on any failure.   usage: torch_reference.py CASEDIR
"""
import argparse
import json
import os
import sys

import numpy as np
import torch


def load_f32(path, shape=None):
    a = np.fromfile(path, dtype=np.float32)
    return a.reshape(shape) if shape is not None else a


class Mlp(torch.nn.Module):
    """Mirror of bpsweep's MLP: dense -> [batch norm] -> act [+ skip], dense out."""

    def __init__(self, c):
        super().__init__()
        widths = [c["n_in"]] + c["hidden"]
        self.dense = torch.nn.ModuleList()
        self.bn = torch.nn.ModuleList()
        for i, o in zip(widths[:-1], widths[1:]):
            self.dense.append(torch.nn.Linear(i, o))
            self.bn.append(torch.nn.BatchNorm1d(o, eps=1e-5, momentum=0.1)
                           if c["batch_norm"] else torch.nn.Identity())
        self.out = torch.nn.Linear(widths[-1], c["n_out"])
        self.relu = c["relu"]
        self.skip = c["skip"]

    def forward(self, x):
        for dense, bn in zip(self.dense, self.bn):
            u = bn(dense(x))
            a = torch.relu(u) if self.relu else u
            x = a + x if self.skip and a.shape == x.shape else a
        return self.out(x)

    def flat_params(self):
        """Parameters in bpsweep's layout: per layer W, b[, gamma, beta]."""
        ps = []
        for dense, bn in zip(self.dense, self.bn):
            ps += [dense.weight, dense.bias]
            if isinstance(bn, torch.nn.BatchNorm1d):
                ps += [bn.weight, bn.bias]
        return ps + [self.out.weight, self.out.bias]

    def flat_buffers(self):
        bs = []
        for bn in self.bn:
            if isinstance(bn, torch.nn.BatchNorm1d):
                bs += [bn.running_mean, bn.running_var]
        return bs


def set_flat(tensors, flat):
    off = 0
    with torch.no_grad():
        for t in tensors:
            n = t.numel()
            t.copy_(torch.from_numpy(flat[off:off + n].copy()).view_as(t))
            off += n
    assert off == flat.size, (off, flat.size)


def get_flat(tensors):
    return torch.cat([t.detach().reshape(-1) for t in tensors]).numpy()


def run_case(casedir, name, xtr, ytr, xte, yte):
    with open(os.path.join(casedir, name + ".json")) as f:
        c = json.load(f)
    failures = []
    model = Mlp(c)
    params = model.flat_params()
    init = load_f32(os.path.join(casedir, name + ".init.f32"))
    set_flat(params, init)
    opt = torch.optim.SGD(params, lr=c["lr"], momentum=c["momentum"],
                          nesterov=c["nesterov"],
                          weight_decay=c["weight_decay"] if c["norm_bias_c"] == 0 else 0.0)
    if c["schedule"] == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c["epochs"])
    elif c["schedule"] == "multistep":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, c["milestones"], gamma=c["gamma"])
    else:
        sched = None
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = c["steps"]
    per_epoch = len(steps) // c["epochs"]
    worst_loss = 0.0
    for epoch in range(c["epochs"]):
        model.train()
        lr_torch = opt.param_groups[0]["lr"]
        lr_ours = c["epoch_lr"][epoch]
        if abs(lr_torch - lr_ours) > 1e-6 * abs(lr_torch):
            failures.append(f"epoch {epoch}: lr {lr_ours} vs torch {lr_torch}")
        for s in steps[epoch * per_epoch:(epoch + 1) * per_epoch]:
            idx = torch.tensor(s["idx"], dtype=torch.long)
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            if c["clip_value"] > 0:
                torch.nn.utils.clip_grad_value_(params, c["clip_value"])
            if c["norm_bias_c"] != 0:
                # R = lambda/2 |‖θ‖² - c|: gradient lambda * sign(‖θ‖² - c) * θ
                with torch.no_grad():
                    sq = sum(float((p.double() ** 2).sum()) for p in params)
                    sign = float(np.sign(sq - c["norm_bias_c"]))
                    for p in params:
                        p.grad.add_(p, alpha=c["weight_decay"] * sign)
            opt.step()
            rel = abs(loss.item() - s["loss"]) / abs(loss.item())
            worst_loss = max(worst_loss, rel)
            if rel > 1e-4:
                failures.append(f"step {s['step']}: loss {s['loss']:.9g} vs torch "
                                f"{loss.item():.9g} (rel {rel:.2e})")
        if sched:
            sched.step()
        model.eval()
        with torch.no_grad():
            test_loss = loss_fn(model(xte), yte).item()
        ours = c["epoch_test_loss"][epoch]
        if abs(test_loss - ours) > 1e-4 * abs(test_loss):
            failures.append(f"epoch {epoch}: test loss {ours:.9g} vs torch {test_loss:.9g}")

    final_ref = get_flat(params).astype(np.float64)
    final = load_f32(os.path.join(casedir, name + ".final.f32")).astype(np.float64)
    tol = 1e-5 + 1e-4 * np.abs(final_ref)
    bad = np.abs(final - final_ref) > tol
    worst_param = float(np.max(np.abs(final - final_ref) / tol))
    if bad.any():
        i = int(np.argmax(np.abs(final - final_ref) / tol))
        failures.append(f"{int(bad.sum())} of {bad.size} final parameters differ; worst [{i}] "
                        f"{final[i]:.9g} vs torch {final_ref[i]:.9g}")
    if c["n_buffers"]:
        buf_ref = get_flat(model.flat_buffers()).astype(np.float64)
        buf = load_f32(os.path.join(casedir, name + ".buffers.f32")).astype(np.float64)
        if (np.abs(buf - buf_ref) > 1e-5 + 1e-4 * np.abs(buf_ref)).any():
            failures.append("batch-norm running statistics differ")
    moved = float(np.linalg.norm(final_ref - init) / np.linalg.norm(init))
    if moved < 0.01:
        failures.append(f"weights moved only {moved:.2%}: the case does not test much")
    print(f"{name:28s} steps {len(steps):3d}  moved {moved:6.1%}  worst loss rel "
          f"{worst_loss:.1e}  worst param |diff|/tol {worst_param:.2f}  "
          f"{'ok' if not failures else 'FAILED'}")
    for f in failures[:10]:
        print("   ", f)
    return not failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("casedir")
    args = ap.parse_args()
    torch.set_num_threads(1)
    labels = load_f32(os.path.join(args.casedir, "data.labels.f32")).astype(np.int64)
    xtr = torch.from_numpy(load_f32(os.path.join(args.casedir, "data.train_x.f32"), (-1, 20)))
    xte = torch.from_numpy(load_f32(os.path.join(args.casedir, "data.test_x.f32"), (-1, 20)))
    ytr = torch.from_numpy(labels[:xtr.shape[0]])
    yte = torch.from_numpy(labels[xtr.shape[0]:])
    with open(os.path.join(args.casedir, "cases.txt")) as f:
        names = f.read().split()
    if not names:
        print("no cases")
        return 1
    ok = [run_case(args.casedir, n, xtr, ytr, xte, yte) for n in names]
    print(f"{sum(ok)} passed, {len(ok) - sum(ok)} failed")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
