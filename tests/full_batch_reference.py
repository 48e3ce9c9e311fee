"""Full-batch gradient descent and the gradient-norm stopping rule against PyTorch.

Called by tests/full_batch_reference.sh in three steps on one folder DIR:

  prepare DIR   writes the data (data.h5: 300 train / 100 test samples, 6 float32
                features, 3 classes) and the specs init.json (epochs 0: the stored weights
                are the initialisation) and train.json (20 full-batch epochs).
  plan DIR      reads the initial weights from init.h5, runs full-batch SGD in float64
                with torch for STOP_LIMIT epochs, measures the full-batch gradient norm of
                cross-entropy + (lambda/2) ||theta||^2 after every epoch, picks a threshold
                T that the norm first crosses well inside the run (never within
                MARGIN of T), and writes stop.json (train.stop with T, epochs STOP_LIMIT)
                and before.json (the same, with epochs one short of the expected stop).
  check DIR     compares train.h5 with torch (curves of every epoch, final parameters),
                stop.h5 / before.h5 with the independent gradient norms, and sharp.h5
                (train.lr_sharpness = SHARP_F) with lr = SHARP_F / |lambda|max of the
                full Hessian at the initialisation (torch, float64) and the run at that lr,
                and newton.h5 (train.optimizer "newton") with scipy.optimize's trust-ncg
                from the same start on torch's float64 gradients and Hessian products.

Both sides read the same float32 data and start from the same float32 parameters; the
reference computes in float64. bpsweep's train_loss of a full-batch epoch is the mean loss
before that epoch's step; its test_loss is measured after the step.
"""
import json
import os
import sys

import h5py
import numpy as np
import scipy.optimize
import torch

N_TRAIN, N_TEST, D, K = 300, 100, 6, 3
LR, MOMENTUM, WD = 0.1, 0.9, 1e-3
EPOCHS = 20
STOP_LIMIT = 200
MARGIN = 1e-3          # T stays at least this far (relative) from every measured norm
ARCHS = [{"name": "mlp8", "hidden": [8]}, {"name": "mlp8x5", "hidden": [8, 5]}]
# optimizer "newton" to the gradient rule: a smooth objective (no hidden layer; on ARCHS
# the iterates cross ReLU kinks, which keep the gradient near 1e-2 for 400 iterations, as
# they do scipy's, and make long runs sensitive to rounding)
SMOOTH = {"name": "linear", "hidden": []}
# curves: 1e-4 relative; parameters: 1e-4 + 1e-3 |ref|; stop_grad_norm: 1e-6 relative
CURVE_RTOL, PARAM_ATOL, PARAM_RTOL, NORM_RTOL = 1e-4, 1e-4, 1e-3, 1e-6
SHARP_F, SHARP_RTOL = 0.5, 1e-6  # lr_sharpness; its lr against the full Hessian's
# optimizer "newton": iterations compared on ARCHS; the limit and rule on SMOOTH
NEWTON_EPOCHS, NEWTON_LIMIT, NEWTON_STOP = 30, 400, 1e-5
# lr of the reference; set to 0.1001 to see the test fail
REF_LR = float(os.environ.get("FULL_BATCH_REF_LR", LR))

torch.set_default_dtype(torch.float64)


def spec(dirname, epochs, arch_names, stop=None, sharpness=None, newton=False):
    train = {"epochs": epochs, "batch_size": "full", "lr": LR, "momentum": MOMENTUM,
             "shuffle": True}
    if newton:
        train["optimizer"] = "newton"
    if sharpness is not None:
        train["lr_sharpness"] = sharpness
    if stop is not None:
        train["stop"] = {"grad_norm": stop, "every": 1}
    return {"name": "full_batch_reference",
            "data": {"source": "hdf5", "path": os.path.join(dirname, "data.h5"), "classes": K,
                     "normalization": "unit"},
            "architectures": [a for a in ARCHS + [SMOOTH] if a["name"] in arch_names],
            "grid": {"weight_decay": [WD], "seed": [0]},
            "train": train,
            "output": {"store_weights": True}}


def write_spec(dirname, name, s):
    with open(os.path.join(dirname, name), "w") as f:
        json.dump(s, f, indent=1)


def prepare(dirname):
    rng = np.random.default_rng(7)
    n = N_TRAIN + N_TEST
    x = rng.normal(size=(n, D)).astype(np.float32)
    # labels from a random quadratic rule with label noise: no net fits them exactly
    a, b = rng.normal(size=(D, K)), rng.normal(size=(D, K))
    score = x @ a + 0.5 * (x ** 2) @ b + rng.normal(scale=0.7, size=(n, K))
    y = np.argmax(score, axis=1).astype(np.int64)
    with h5py.File(os.path.join(dirname, "data.h5"), "w") as f:
        f["train/x"], f["train/y"] = x[:N_TRAIN], y[:N_TRAIN]
        f["test/x"], f["test/y"] = x[N_TRAIN:], y[N_TRAIN:]
    names = [a["name"] for a in ARCHS]
    write_spec(dirname, "init.json", spec(dirname, 0, names + [SMOOTH["name"]]))
    write_spec(dirname, "train.json", spec(dirname, EPOCHS, names))
    write_spec(dirname, "sharp.json", spec(dirname, EPOCHS, names, sharpness=SHARP_F))
    write_spec(dirname, "newton.json", spec(dirname, NEWTON_EPOCHS, names, newton=True))
    write_spec(dirname, "newton_stop.json", spec(dirname, NEWTON_LIMIT, [SMOOTH["name"]],
                                                 stop=NEWTON_STOP, newton=True))


def load_data(dirname):
    with h5py.File(os.path.join(dirname, "data.h5"), "r") as f:
        return [torch.from_numpy(f[k][:].astype(np.float64 if "x" in k else np.int64))
                for k in ("train/x", "train/y", "test/x", "test/y")]


class Results:
    """One results file: architecture names, metrics, curves and parameters by name."""

    def __init__(self, path):
        with h5py.File(path, "r") as f:
            self.names = [a.decode() for a in f["/axes/architectures"][:]]
            self.status = f["/status"][:]
            self.metrics = {k: f["/metrics"][k][:] for k in f["/metrics"]}
            self.curves = {k: f["/curves"][k][:] for k in f["/curves"]}
            self.weights = f["/weights"][:]
            self.n_params = f["/run/n_params"][:]
            self.epochs_run = f["/run/epochs_run"][:]

    def index(self, name):
        return self.names.index(name)

    def params(self, name):
        """The point's parameters as float64 tensors: per layer W (out, in), b (out)."""
        i = self.index(name)
        flat = self.weights[i, :self.n_params[i]].astype(np.float64)
        arch = next(a for a in ARCHS + [SMOOTH] if a["name"] == name)
        sizes = [D] + arch["hidden"] + [K]
        out, off = [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w = flat[off:off + fan_out * fan_in].reshape(fan_out, fan_in)
            off += fan_out * fan_in
            b = flat[off:off + fan_out]
            off += fan_out
            out += [torch.tensor(w), torch.tensor(b)]
        assert off == len(flat) and not np.isnan(flat).any(), name
        return out


def forward(params, x):
    h = x
    for l in range(0, len(params), 2):
        h = h @ params[l].T + params[l + 1]
        if l + 2 < len(params):
            h = torch.relu(h)
    return h


def grad_norm(params, x, y):
    """||grad (mean cross-entropy + (lambda/2) ||theta||^2)||, float64, whole set."""
    p = [q.detach().clone().requires_grad_(True) for q in params]
    loss = torch.nn.functional.cross_entropy(forward(p, x), y)
    loss = loss + WD / 2 * sum((q * q).sum() for q in p)
    g = torch.autograd.grad(loss, p)
    return float(torch.sqrt(sum((gi * gi).sum() for gi in g)))


def sharpness(params, x, y):
    """|lambda|max of the full Hessian of mean cross-entropy + (lambda/2) ||theta||^2."""
    shapes = [q.shape for q in params]
    flat = torch.cat([q.flatten() for q in params])

    def loss(v):
        p, off = [], 0
        for sh in shapes:
            p.append(v[off:off + sh.numel()].reshape(sh))
            off += sh.numel()
        return torch.nn.functional.cross_entropy(forward(p, x), y) + WD / 2 * (v * v).sum()

    h = torch.autograd.functional.hessian(loss, flat)
    return float(torch.linalg.eigvalsh(h).abs().max())


def trust_ncg(init, x, y, iterations):
    """scipy's trust-ncg (the rules bpsweep's optimizer "newton" follows) from init on
    mean cross-entropy + (lambda/2) ||theta||^2 in float64, for `iterations` or until the
    gradient norm is below NEWTON_STOP: the mean cross-entropy (without R, as bpsweep's train_loss) at the
    start and after every iteration (a rejected one repeats it), and the final parameters
    as one flat vector."""
    shapes = [q.shape for q in init]

    def data_loss(v):
        p, off = [], 0
        for sh in shapes:
            p.append(v[off:off + sh.numel()].reshape(sh))
            off += sh.numel()
        return torch.nn.functional.cross_entropy(forward(p, x), y)

    def objective(v):
        return data_loss(v) + WD / 2 * (v * v).sum()

    def fun(v):
        t = torch.tensor(v, requires_grad=True)
        f = objective(t)
        g, = torch.autograd.grad(f, t)
        return float(f), g.numpy()

    def hessp(v, d):
        t = torch.tensor(v, requires_grad=True)
        g, = torch.autograd.grad(objective(t), t, create_graph=True)
        hv, = torch.autograd.grad(g, t, grad_outputs=torch.tensor(d))
        return hv.numpy()

    x0 = flat(init)
    values = [float(data_loss(torch.tensor(x0)))]
    r = scipy.optimize.minimize(fun, x0, jac=True, hessp=hessp, method="trust-ncg",
                                callback=lambda v: values.append(float(data_loss(torch.tensor(v)))),
                                options={"gtol": NEWTON_STOP, "maxiter": iterations})
    return np.array(values), r.x


def trajectory(init, data, epochs, lr=REF_LR):
    """Full-batch SGD (torch.optim.SGD: coupled weight decay, momentum, dampening 0) from
    init: per epoch the train loss before the step, the test loss after it, the gradient
    norm after it; and the final parameters."""
    x, y, xt, yt = data
    p = [q.detach().clone().requires_grad_(True) for q in init]
    opt = torch.optim.SGD(p, lr=lr, momentum=MOMENTUM, weight_decay=WD)
    train_loss, test_loss, norms = [], [], []
    for _ in range(epochs):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(forward(p, x), y)
        loss.backward()
        opt.step()
        train_loss.append(float(loss))
        with torch.no_grad():
            test_loss.append(float(torch.nn.functional.cross_entropy(forward(p, xt), yt)))
        norms.append(grad_norm(p, x, y))
    return np.array(train_loss), np.array(test_loss), np.array(norms), [q.detach() for q in p]


def pick_threshold(norms):
    """(T, e): the first epoch e (1-based) where the norm falls below T, with T far (MARGIN,
    relative) from every norm measured up to e; aims at the middle of the run."""
    for e in range(len(norms) // 3, len(norms)):
        before = norms[:e].min() if e > 0 else np.inf
        if norms[e] * (1 + 4 * MARGIN) < before:
            t = np.sqrt(norms[e] * before)
            return t, e + 1
    return None, None


def plan(dirname):
    data = load_data(dirname)
    init = Results(os.path.join(dirname, "init.h5")).params("mlp8")
    _, _, norms, _ = trajectory(init, data, STOP_LIMIT)
    t, e = pick_threshold(norms)
    if t is None:
        print(f"no threshold: gradient norms {norms[0]:.4g} .. {norms[-1]:.4g}")
        return 1
    print(f"stop threshold T = {t:.6g}: the reference norm first falls below it after epoch "
          f"{e} ({norms[e - 1]:.6g}; least before {norms[:e - 1].min():.6g})")
    write_spec(dirname, "stop.json", spec(dirname, STOP_LIMIT, ["mlp8"], stop=t))
    write_spec(dirname, "before.json", spec(dirname, e - 1, ["mlp8"], stop=t))
    with open(os.path.join(dirname, "stop.txt"), "w") as f:
        f.write(f"{t!r} {e}\n")
    return 0


def flat(params):
    """Per-layer tensors as one float64 vector in bpsweep's parameter order."""
    return torch.cat([q.flatten() for q in params]).numpy()


def param_error(got, ref):
    """(every value within PARAM_ATOL + PARAM_RTOL |ref|, worst |error|, worst error over
    that bound) of parameter vectors."""
    err = np.abs(got - ref)
    bound = PARAM_ATOL + PARAM_RTOL * np.abs(ref)
    return bool((err <= bound).all()), err.max(), (err / bound).max()


def rel(a, b):
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def check(dirname):
    data = load_data(dirname)
    x, y = data[0], data[1]
    init = Results(os.path.join(dirname, "init.h5"))
    res = Results(os.path.join(dirname, "train.h5"))
    failures = []

    def expect(good, what):
        print(f"  {'ok  ' if good else 'FAIL'} {what}")
        if not good:
            failures.append(what)

    for a in ARCHS:
        name = a["name"]
        i = res.index(name)
        expect(res.status[i] == 1 and res.epochs_run[i] == EPOCHS,
               f"{name}: status {res.status[i]}, {res.epochs_run[i]} epochs run")
        train_loss, test_loss, _, final = trajectory(init.params(name), data, EPOCHS)
        e_train = rel(res.curves["train_loss"][i, :EPOCHS], train_loss)
        e_test = rel(res.curves["test_loss"][i, :EPOCHS], test_loss)
        expect(e_train.max() <= CURVE_RTOL,
               f"{name}: train_loss of every epoch, worst relative error {e_train.max():.2e} "
               f"(epoch {e_train.argmax() + 1}; loss {train_loss[0]:.5f} -> {train_loss[-1]:.5f})")
        expect(e_test.max() <= CURVE_RTOL,
               f"{name}: test_loss of every epoch, worst relative error {e_test.max():.2e} "
               f"(epoch {e_test.argmax() + 1})")
        ref = flat(final)
        good, worst, worst_rel = param_error(flat(res.params(name)), ref)
        moved = np.abs(ref - flat(init.params(name))).max()
        expect(good, f"{name}: {len(ref)} final parameters, worst |error| {worst:.2e}, worst "
               f"error / (1e-4 + 1e-3 |ref|) {worst_rel:.2e} (largest move from the "
               f"initialisation {moved:.3f})")

    # train.lr_sharpness: lr = f / |lambda|max at the initialisation, then the same descent
    sharp = Results(os.path.join(dirname, "sharp.h5"))
    for a in ARCHS:
        name = a["name"]
        i = sharp.index(name)
        lam = sharpness(init.params(name), x, y)
        lr_ref = SHARP_F / lam * REF_LR / LR
        lr_got = sharp.curves["lr"][i, :EPOCHS]
        expect(sharp.status[i] == 1 and (rel(lr_got, lr_ref) <= SHARP_RTOL).all(),
               f"{name}: lr_sharpness {SHARP_F}: lr {lr_got[0]:.10g} in every epoch, reference "
               f"{SHARP_F} / {lam:.10g} = {lr_ref:.10g} (relative error "
               f"{rel(lr_got, lr_ref).max():.2e})")
        train_loss, _, _, _ = trajectory(init.params(name), data, EPOCHS, lr=lr_ref)
        e_train = rel(sharp.curves["train_loss"][i, :EPOCHS], train_loss)
        expect(e_train.max() <= CURVE_RTOL,
               f"{name}: lr_sharpness: train_loss of every epoch at that lr, worst relative "
               f"error {e_train.max():.2e} (loss {train_loss[0]:.5f} -> {train_loss[-1]:.5f})")

    # train.optimizer "newton": scipy's trust-ncg, iteration by iteration; on ARCHS for
    # NEWTON_EPOCHS, on SMOOTH to the gradient rule
    def compare_newton(res, name, iterations, stop):
        i = res.index(name)
        ref, ref_x = trust_ncg(init.params(name), x, y, iterations)
        n_run = res.epochs_run[i]
        got = res.curves["train_loss"][i, :n_run]  # the loss before each iteration
        n = min(n_run, len(ref) - 1)
        if stop:
            g_ind = grad_norm(res.params(name), x, y)
            expect(res.status[i] == 1 and res.metrics["stop_epoch"][i] == n_run
                   and n_run == len(ref) - 1 and g_ind < NEWTON_STOP,
                   f"{name}: newton stopped by the gradient rule after {n_run} iterations "
                   f"(trust-ncg: {len(ref) - 1}); independent gradient norm {g_ind:.3e} "
                   f"< {NEWTON_STOP}")
        else:
            expect(res.status[i] == 1 and n_run == iterations,
                   f"{name}: newton: status {res.status[i]}, {n_run} iterations run")
        e_loss = rel(got[:n], ref[:n])
        expect(e_loss.max() <= CURVE_RTOL,
               f"{name}: newton: train_loss of every iteration against trust-ncg's, worst "
               f"relative error {e_loss.max():.2e} (loss {got[0]:.5f} -> {got[n - 1]:.5f})")
        good, worst, worst_rel = param_error(flat(res.params(name)), ref_x)
        expect(good, f"{name}: newton: {len(ref_x)} final parameters against trust-ncg's, "
               f"worst |error| {worst:.2e}, worst error / (1e-4 + 1e-3 |ref|) {worst_rel:.2e}")

    newton = Results(os.path.join(dirname, "newton.h5"))
    for a in ARCHS:
        compare_newton(newton, a["name"], NEWTON_EPOCHS, False)
    compare_newton(Results(os.path.join(dirname, "newton_stop.h5")), SMOOTH["name"],
                   NEWTON_LIMIT, True)

    # the stopping rule
    with open(os.path.join(dirname, "stop.txt")) as f:
        t, e_ref = f.read().split()
    t, e_ref = float(t), int(e_ref)
    stop = Results(os.path.join(dirname, "stop.h5"))
    before = Results(os.path.join(dirname, "before.h5"))
    i = stop.index("mlp8")
    e_got = stop.metrics["stop_epoch"][i]
    g_got = stop.metrics["stop_grad_norm"][i]
    expect(e_got == e_ref and stop.epochs_run[i] == e_ref and stop.status[i] == 1,
           f"stop_epoch {e_got}, epochs_run {stop.epochs_run[i]}, status {stop.status[i]}; "
           f"reference: first below T = {t:.6g} after epoch {e_ref}")
    g_ind = grad_norm(stop.params("mlp8"), x, y)
    expect(rel(g_got, g_ind) <= NORM_RTOL and g_ind < t,
           f"stop_grad_norm {g_got:.10g}, independent norm of the stopped run's parameters "
           f"{g_ind:.10g} (relative error {rel(g_got, g_ind):.2e}, < T)")
    tail = {k: stop.curves[k][i, e_ref:] for k in ("train_loss", "test_loss", "lr")}
    expect(all(np.isnan(v).all() for v in tail.values())
           and not np.isnan(stop.curves["train_loss"][i, :e_ref]).any(),
           f"curves NaN after the stop epoch ({STOP_LIMIT - e_ref} epochs), finite before")
    # one epoch short of the stop: the rule must not fire, and its last norm is >= T
    j = before.index("mlp8")
    g_before = before.metrics["stop_grad_norm"][j]
    g_before_ind = grad_norm(before.params("mlp8"), x, y)
    expect(np.isnan(before.metrics["stop_epoch"][j]) and before.epochs_run[j] == e_ref - 1,
           f"{e_ref - 1} epochs: stop_epoch {before.metrics['stop_epoch'][j]} (NaN: did not "
           f"stop), epochs_run {before.epochs_run[j]}")
    expect(rel(g_before, g_before_ind) <= NORM_RTOL and g_before_ind >= t,
           f"{e_ref - 1} epochs: stop_grad_norm {g_before:.10g}, independent "
           f"{g_before_ind:.10g} (relative error {rel(g_before, g_before_ind):.2e}, >= T)")
    # the curves of the stopped run agree with the run one epoch short
    same = np.array_equal(stop.curves["train_loss"][i, :e_ref - 1],
                          before.curves["train_loss"][j, :e_ref - 1])
    expect(same, f"train_loss of the first {e_ref - 1} epochs identical in both stop runs")
    return 1 if failures else 0


def main():
    step, dirname = sys.argv[1], sys.argv[2]
    if step == "prepare":
        prepare(dirname)
        return 0
    return {"plan": plan, "check": check}[step](dirname)


if __name__ == "__main__":
    sys.exit(main())
