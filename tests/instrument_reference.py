"""Checks bpsweep's instruments against PyTorch on the same weights, all cases in one
process: the empirical NTK against per-logit torch.autograd gradients (elementwise
within 1e-4 of the largest entry); RankMin / RankMax projections against numpy's SVD
(every layer but the first; within 1e-5 of the layer's largest weight; nothing else
changed); the input gradient (within 1e-4 of its largest entry) and PGD from a given start
(the same adversarial examples; at most 0.1% of the values may differ, where a gradient
sign is a rounding tie); the local-minimum certificate against the dense Hessian, on
small MLPs and on a tiny conv net at a constructed saddle and a trained minimum.
    usage: instrument_reference.py CASEDIR   (written by tests/instrument_cases)"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import Mlp, set_flat  # noqa: E402
import conv_reference  # noqa: E402  (its ConvNet / ResNet18, built from the layer tables)


def load(d, name, what, dtype):
    return np.fromfile(os.path.join(d, f"{name}.{what}"), dtype=dtype)


def ntk_reference(model, x):
    """K = G G^T with G the (n*K, P) per-logit gradients, rows i*K + l, in float64."""
    params = [p for p in model.parameters()]
    out = model(x)
    rows = []
    for i in range(out.shape[0]):
        for l in range(out.shape[1]):
            g = torch.autograd.grad(out[i, l], params, retain_graph=True)
            rows.append(torch.cat([t.reshape(-1) for t in g]).double())
    G = torch.stack(rows)
    return (G @ G.T).numpy()


def load_model(d, c, dtype=torch.float32):
    """The case's net with bpsweep's weights (and batch-norm statistics), in eval mode:
    an MLP, or with "arch" conv_reference's ConvNet / ResNet18, loaded in op order."""
    model = (conv_reference.build(c) if "arch" in c else Mlp(c)).to(dtype)
    set_flat(model.flat_params(), load(d, c["name"], "params.f32", np.float32))
    if c["batch_norm"]:
        set_flat(model.flat_buffers(), load(d, c["name"], "buffers.f32", np.float32))
    return model.eval()


def in_shape(c):
    """A batch's shape: (n, D), or (n, C, H, W) for a conv case."""
    return (c["n"], *c["in_shape"]) if "arch" in c else (c["n"], c["n_in"])


def batch_statistics(d, c, model, dtype):
    """measure.ntk.batch_norm "data": PyTorch's own way to the pool's statistics (reset,
    momentum 1, one training-mode batch); the result must also be the statistics
    bpsweep wrote."""
    pool = torch.from_numpy(load(d, c["name"], "pool.f32", np.float32)
                            .reshape(c["pool"], *c["in_shape"])).to(dtype)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = 1.0
    model.train()
    with torch.no_grad():
        model(pool)
    model.eval()
    got = load(d, c["name"], "buffers.f32", np.float32)
    want = torch.cat([t.reshape(-1) for t in model.flat_buffers()]).numpy()
    err = np.abs(got - want).max() / np.abs(want).max()
    print(f"ntk {c['name']}: pool statistics, max |s - s_torch| / max |s_torch| = {err:.2e}")
    return err <= 1e-5


def check_ntk(d, c):
    # conv nets: torch in float64 (bpsweep's float32 passes against an exact reference)
    dtype = torch.float64 if "arch" in c else torch.float32
    model = load_model(d, c, dtype)
    stats_ok = not c.get("pool") or batch_statistics(d, c, model, dtype)
    x = torch.from_numpy(load(d, c["name"], "x.f32", np.float32).reshape(in_shape(c))).to(dtype)
    ref = ntk_reference(model, x)
    got = load(d, c["name"], "ntk.f64", np.float64).reshape(ref.shape)
    err = np.abs(got - ref).max() / np.abs(ref).max()
    ok = err <= 1e-4 and stats_ok
    what = f" {c['arch']} P={c['params']}" if "arch" in c else ""
    print(f"ntk {c['name']:8s} M={ref.shape[0]:3d}{what}  max |K - K_torch| / max |K_torch| = "
          f"{err:.2e}  {'ok' if ok else 'FAIL (limit 1e-4)'}")
    return ok


def layers(flat, dims):
    """(W, b) views per dense layer of a flat parameter vector (no batch norm)."""
    out, off = [], 0
    for i, o in zip(dims[:-1], dims[1:]):
        out.append((flat[off:off + o * i].reshape(o, i), flat[off + o * i:off + o * i + o]))
        off += o * i + o
    return out


def check_rank(d, c):
    before = load(d, c["name"], "before.f32", np.float32)
    after = load(d, c["name"], "after.f32", np.float32)
    lb, la = layers(before, c["dims"]), layers(after, c["dims"])
    ok = np.array_equal(lb[0][0], la[0][0]) and all(
        np.array_equal(b[1], a[1]) for b, a in zip(lb, la))
    worst, ranks = 0.0, []
    for (wb, _), (wa, _) in zip(lb[1:], la[1:]):
        u, s, vt = np.linalg.svd(wb.astype(np.float64), full_matrices=False)
        t = c["threshold"] * s[0] if c["relative"] else c["threshold"]
        s2 = np.where(s < t, 0.0, s) if c["mode"] == "min" else np.minimum(s, t)
        ref = (u * s2) @ vt
        worst = max(worst, np.abs(wa - ref).max() / np.abs(ref).max())
        ranks.append(f"{np.count_nonzero(s2 > 0)}/{len(s)}")
    ok = ok and worst <= 1e-5
    print(f"rank {c['name']:8s} {c['mode']} t={c['threshold']}{' x sigma_max' if c['relative'] else ''}"
          f"  kept {', '.join(ranks)}  max |W - W_numpy| / max |W_numpy| = {worst:.2e}  "
          f"{'ok' if ok else 'FAIL (limit 1e-5, first layer and biases unchanged)'}")
    return ok


def check_pgd(d, c):
    """MLP cases: one range [lo, hi]. Conv cases: eps, alpha, lo, hi are lists, one per
    channel (or one for all), broadcast over (n, C, H, W)."""
    model = load_model(d, c)
    shape = in_shape(c)
    x = torch.from_numpy(load(d, c["name"], "x.f32", np.float32).reshape(shape))
    y = torch.from_numpy(load(d, c["name"], "y.u8", np.uint8).astype(np.int64))
    start = torch.from_numpy(load(d, c["name"], "start.f32", np.float32).reshape(shape))

    def per_channel(v):
        t = torch.tensor(v, dtype=torch.float32)
        return t.view(1, -1, 1, 1) if t.dim() == 1 else t

    eps, alpha = per_channel(c["eps"]), per_channel(c["alpha"])
    lo, hi = per_channel(c["lo"]), per_channel(c["hi"])

    def grad_at(xa):
        xa = xa.clone().requires_grad_(True)
        loss = torch.nn.functional.cross_entropy(model(xa), y)
        return torch.autograd.grad(loss, xa)[0]

    g_ref = grad_at(start).numpy()
    g = load(d, c["name"], "grad.f32", np.float32).reshape(shape)
    gerr = np.abs(g - g_ref).max() / np.abs(g_ref).max()
    xa = start.clone()
    for _ in range(c["steps"]):
        xa = xa + alpha * torch.sign(grad_at(xa))
        xa = torch.min(torch.max(xa, x - eps), x + eps)
        xa = torch.min(torch.max(xa, lo), hi)
    adv = load(d, c["name"], "adv.f32", np.float32).reshape(shape)
    differ = np.mean(adv != xa.numpy())
    moved = np.mean(adv != start.numpy())
    ok = gerr <= 1e-4 and differ <= 1e-3 and moved > 0.5
    if "channels" in c:  # the start and the result inside each channel's own range
        ok = ok and bool(torch.all((start >= lo) & (start <= hi)))
    chans = f", {c['channels']} channel range(s)" if "channels" in c else ""
    print(f"pgd  {c['name']:11s}{chans} input gradient err {gerr:.2e}; {c['steps']} steps: "
          f"{100 * differ:.2f}% of values differ from PyTorch's PGD (limit 0.1%), "
          f"{100 * moved:.0f}% moved  {'ok' if ok else 'FAIL'}")
    return ok


def cert_reference(c, theta, x, y, buffers):
    """Loss, gradient, dense Hessian and ReLU negative fractions of the regularised
    full-batch loss, float64, from a functional MLP on the flat parameter vector
    (bpsweep's layout: W, b[, gamma, beta] per layer), batch norm in evaluation mode
    with the running statistics in buffers (mean, var per layer)."""
    dims = [c["n_in"]] + c["hidden"] + [c["n_out"]]
    lam, target = c["lambda"], c["c"]

    def forward(t):
        """Logits, and per layer the fraction of negative pre-activations (-1: no ReLU)."""
        off, boff, h, negs = 0, 0, x, []
        for li, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
            W = t[off:off + o * i].reshape(o, i)
            b = t[off + o * i:off + o * i + o]
            off += o * i + o
            z = h @ W.T + b
            if li == len(dims) - 2:
                return z, negs + [-1.0]
            if c.get("batch_norm"):
                gamma, beta = t[off:off + o], t[off + o:off + 2 * o]
                mean, var = buffers[boff:boff + o], buffers[boff + o:boff + 2 * o]
                off, boff = off + 2 * o, boff + 2 * o
                z = (z - mean) / torch.sqrt(var + 1e-5) * gamma + beta
            negs.append(float((z < 0).double().mean()) if c["relu"] else -1.0)
            a = torch.relu(z) if c["relu"] else z
            h = a + h if c["skip"] and a.shape == h.shape else a

    def f(t):
        loss = torch.nn.functional.cross_entropy(forward(t)[0], y)
        sq = (t * t).sum()
        return loss + lam / 2 * (sq if target == 0 else (sq - target).abs()), loss

    t = theta.clone().requires_grad_(True)
    total, data = f(t)
    g = torch.autograd.grad(total, t)[0]
    ev = torch.linalg.eigvalsh(torch.autograd.functional.hessian(lambda v: f(v)[0], theta))
    return float(total), float(data), float(g.norm()), ev.numpy(), forward(theta)[1]


def check_cert(d, c):
    theta = torch.from_numpy(load(d, c["name"], "params.f32", np.float32).astype(np.float64))
    x = torch.from_numpy(load(d, c["name"], "x.f32", np.float32).astype(np.float64)
                         .reshape(c["n"], c["n_in"]))
    y = torch.from_numpy(load(d, c["name"], "y.u8", np.uint8).astype(np.int64))
    buffers = torch.from_numpy(load(d, c["name"], "buffers.f32", np.float32).astype(np.float64))
    loss, data, gnorm, ev, negs = cert_reference(c, theta, x, y, buffers)
    lmax = ev[np.argmax(np.abs(ev))]
    tol = 1e-3 * abs(lmax)
    errs = [abs(c["loss"] - loss) / abs(loss), abs(c["loss_data"] - data) / abs(data),
            abs(c["grad_norm"] - gnorm) / gnorm]
    eig = [abs(c["hess_max_abs"] - lmax), abs(c["hess_min"] - ev[0])]
    ok = max(errs) <= 1e-9 and max(eig) <= tol and np.allclose(c["neg_frac"], negs, atol=0)
    print(f"cert {c['name']:12s} loss/grad rel err {max(errs):.1e}; Hessian "
          f"lambda_max {c['hess_max_abs']:.6g} (torch {lmax:.6g}), lambda_min {c['hess_min']:.6g} "
          f"(torch {ev[0]:.6g}), err {max(eig) / abs(lmax):.1e} x |lambda_max| (limit 1e-3), "
          f"{c['iterations']} Lanczos steps; negative fractions {c['neg_frac']}  "
          f"{'ok' if ok else 'FAIL'}")
    return ok


def check_cert_conv(d, c):
    """A constructed saddle or a trained minimum of a tiny conv net (conv 3x3 [-> relu]
    -> flatten -> dense; bpsweep's layout: conv W (O,1,k,k), b (O), dense W (K,F), b (K)):
    gradient norm and the extreme eigenvalues of the dense float64 Hessian of the
    regularised loss against bpsweep's certificate (eigenvalues within 1e-6 |lambda_max|,
    exact Lanczos), and torch's own verdict: a saddle has ||grad|| < 1e-6 and
    lambda_min < -1e-3 |lambda_max|, a minimum ||grad|| < 1e-6 and lambda_min >= -1e-6
    |lambda_max|."""
    theta = torch.from_numpy(load(d, c["name"], "params.f32", np.float32).astype(np.float64))
    x = torch.from_numpy(load(d, c["name"], "x.f32", np.float32).astype(np.float64)
                         .reshape(c["n"], *c["in_shape"]))
    y = torch.from_numpy(load(d, c["name"], "y.u8", np.uint8).astype(np.int64))
    ch, k, cin = c["channels"], c["kernel"], c["in_shape"][0]
    nw = ch * cin * k * k
    feat = ch * c["in_shape"][1] * c["in_shape"][2]  # pad (k - 1) / 2, stride 1
    assert theta.numel() == nw + ch + c["n_out"] * feat + c["n_out"] == c["params"]

    def pre(t):
        return torch.nn.functional.conv2d(x, t[:nw].view(ch, cin, k, k), t[nw:nw + ch],
                                          padding=c["pad"])

    def f(t):
        z = pre(t)
        h = (torch.relu(z) if c["relu"] else z).flatten(1)
        o = nw + ch
        W, b = t[o:o + c["n_out"] * feat].view(c["n_out"], feat), t[o + c["n_out"] * feat:]
        return (torch.nn.functional.cross_entropy(h @ W.T + b, y)
                + c["lambda"] / 2 * (t * t).sum())

    t = theta.clone().requires_grad_(True)
    gnorm = float(torch.autograd.grad(f(t), t)[0].norm())
    ev = torch.linalg.eigvalsh(torch.autograd.functional.hessian(f, theta)).numpy()
    lmax = ev[np.argmax(np.abs(ev))]
    neg = float((pre(theta) < 0).double().mean()) if c["relu"] else -1.0
    eig_err = max(abs(c["hess_max_abs"] - lmax), abs(c["hess_min"] - ev[0])) / abs(lmax)
    grad_err = abs(c["grad_norm"] - gnorm)
    if c["saddle"]:
        verdict = gnorm < 1e-6 and ev[0] < -1e-3 * abs(lmax)
    else:
        verdict = gnorm < 1e-6 and ev[0] >= -1e-6 * abs(lmax)
    ok = (eig_err <= 1e-6 and grad_err <= 1e-9 + 1e-6 * gnorm and verdict
          and c["neg_frac"] == neg)
    print(f"cert {c['name']:20s} P={c['params']} lambda={c['lambda']:g}: torch ||grad|| "
          f"{gnorm:.3e} (bpsweep {c['grad_norm']:.3e}), lambda_max {lmax:.6g}, lambda_min "
          f"{ev[0]:.6g} (bpsweep {c['hess_max_abs']:.6g}, {c['hess_min']:.6g}; err "
          f"{eig_err:.1e} x |lambda_max|, limit 1e-6), torch: "
          f"{'saddle' if c['saddle'] else 'minimum'} {'confirmed' if verdict else 'NOT confirmed'}"
          f"  {'ok' if ok else 'FAIL'}")
    return ok


def check_hvp(d, c):
    """The gradient and Hessian-vector product of the mean cross-entropy against
    torch.autograd.functional.hvp on the conv model in float64 (batch norm in eval mode),
    the flat parameter vector mapped onto the modules in bpsweep's op order."""
    model = load_model(d, c, torch.float64)
    plist = model.flat_params()
    names = {id(p): n for n, p in model.named_parameters()}
    assert len(names) == len(plist)
    x = torch.from_numpy(load(d, c["name"], "x.f64", np.float64).reshape(in_shape(c)))
    y = torch.from_numpy(load(d, c["name"], "y.u8", np.uint8).astype(np.int64))
    theta = torch.from_numpy(load(d, c["name"], "params.f32", np.float32).astype(np.float64))
    v = torch.from_numpy(load(d, c["name"], "v.f64", np.float64))
    shapes = [p.shape for p in plist]
    sizes = [p.numel() for p in plist]

    def f(t):
        params = {names[id(p)]: piece.view(s)
                  for p, piece, s in zip(plist, torch.split(t, sizes), shapes)}
        out = torch.nn.utils.stateless.functional_call(model, params, (x,))
        return torch.nn.functional.cross_entropy(out, y)

    loss, hv_ref = torch.autograd.functional.hvp(f, theta, v)
    t = theta.clone().requires_grad_(True)
    g_ref = torch.autograd.grad(f(t), t)[0].numpy()
    hv_ref = hv_ref.numpy()
    g = load(d, c["name"], "g.f64", np.float64)
    hv = load(d, c["name"], "hv.f64", np.float64)
    errs = [abs(c["loss"] - float(loss)) / abs(float(loss)),
            np.abs(g - g_ref).max() / np.abs(g_ref).max(),
            np.abs(hv - hv_ref).max() / np.abs(hv_ref).max()]
    ok = max(errs) <= 1e-6
    print(f"hvp  {c['name']:14s} {c['arch']} P={c['params']} n={c['n']} float64: loss rel err "
          f"{errs[0]:.1e}, max |g - g_torch| / max |g_torch| {errs[1]:.1e}, "
          f"max |Hv - Hv_torch| / max |Hv_torch| {errs[2]:.1e}  "
          f"{'ok' if ok else 'FAIL (limit 1e-6)'}")
    return ok


def main():
    d = sys.argv[1]
    torch.set_num_threads(1)
    cases = json.load(open(os.path.join(d, "cases.json")))
    ok = all([check_ntk(d, c) for c in cases["ntk"]] + [check_rank(d, c) for c in cases["rank"]] +
             [check_pgd(d, c) for c in cases["pgd"]] + [check_hvp(d, c) for c in cases["hvp"]] +
             [check_cert(d, c) for c in cases["cert"]] +
             [check_cert_conv(d, c) for c in cases["cert_conv"]])
    print("all instruments match PyTorch" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
