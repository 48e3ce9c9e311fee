/* nn: the op list - building it, checking it, and walking it forward and backward.
 * What each op computes is in its own src/op_<kind>.c; conventions in nn.h and op.h;
 * derivations in docs/numerics.md. */
#include "bpsweep/nn.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/rng.h"
#include "bpsweep/util.h"

/* ---- the op list ------------------------------------------------------------------ */

int nn_expand(const NetConfig *cfg, OpDesc *ops)
{
    if (cfg->n_ops > 0) {
        memcpy(ops, cfg->ops, (size_t)cfg->n_ops * sizeof *ops);
        return cfg->n_ops;
    }
    if (cfg->preset != PRESET_NONE)
        return nn_preset_expand(cfg, ops);
    int n = 0, slot = 0, next = 1, width = cfg->n_in;
    for (int l = 0; l < cfg->n_hidden; l++) {
        const int in_slot = slot, out = cfg->hidden[l];
        ops[n++] = (OpDesc){.kind = OP_DENSE, .in = {slot, -1}, .out = next, .units = out};
        slot = next++;
        if (cfg->batch_norm) {
            ops[n++] = (OpDesc){.kind = OP_BATCH_NORM, .in = {slot, -1}, .out = next};
            slot = next++;
        }
        if (cfg->act == ACT_RELU) {
            ops[n++] = (OpDesc){.kind = OP_RELU, .in = {slot, -1}, .out = next};
            slot = next++;
        }
        if (cfg->skip && width == out) {
            ops[n++] = (OpDesc){.kind = OP_ADD, .in = {slot, in_slot}, .out = next};
            slot = next++;
        }
        width = out;
    }
    ops[n++] = (OpDesc){.kind = OP_DENSE, .in = {slot, -1}, .out = next, .units = cfg->n_out};
    return n;
}

/* Formats msg and returns -1. */
static int say(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int say(char *msg, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Resolves shapes; with ops, fills them (shapes, parameter and buffer offsets, layer
 * index). Returns the number of slots, or -1 with msg and *bad_op. */
static int resolve(const NetConfig *cfg, const OpDesc *desc, int n_ops, Op *ops, Shape *shapes,
                   char *msg, size_t len, int *bad_op)
{
    *bad_op = -1;
    if (n_ops < 1)
        return say(msg, len, "a net needs at least one op");
    /* slots are numbered 0 (the input) .. n_ops: each op writes a new one */
    Shape *shape = shapes ? shapes : xmalloc((size_t)(n_ops + 1) * sizeof *shape);
    bool *written = xcalloc((size_t)n_ops + 1, sizeof *written);
    shape[0] = cfg->in_shape.c > 0 ? cfg->in_shape : (Shape){cfg->n_in, 1, 1};
    if (shape_size(shape[0]) != (size_t)cfg->n_in) {
        if (!shapes)
            free(shape);
        free(written);
        return say(msg, len, "the input shape (%d, %d, %d) does not hold %d features",
                   cfg->in_shape.c, cfg->in_shape.h, cfg->in_shape.w, cfg->n_in);
    }
    written[0] = true;
    size_t p = 0, buf = 0;
    int layer = 0, rc = 0, max_slot = 0;
    for (int i = 0; i < n_ops && rc == 0; i++) {
        const OpDesc *d = &desc[i];
        *bad_op = i;
        if ((int)d->kind < 0 || d->kind >= OP_N_KINDS) {
            rc = say(msg, len, "unknown op kind %d", (int)d->kind);
            break;
        }
        const OpKindDef *k = OP_KINDS[d->kind];
        Shape in[OP_MAX_INPUTS];
        for (int j = 0; j < k->n_inputs && rc == 0; j++) {
            int s = d->in[j];
            if (s < 0 || s > n_ops || !written[s])
                rc = say(msg, len, "%s reads slot %d, which no earlier op writes", k->name,
                              s);
            else
                in[j] = shape[s];
        }
        if (rc)
            break;
        if (d->out < 1 || d->out > n_ops) {
            rc = say(msg, len, "writes slot %d: slots are numbered 1..%d (one per op)",
                          d->out, n_ops);
            break;
        }
        if (written[d->out]) {
            rc = say(msg, len, "writes slot %d, which an earlier op wrote", d->out);
            break;
        }
        Shape out;
        if (k->shape(d, in, &out, msg, len) != 0) {
            rc = -1;
            break;
        }
        written[d->out] = true;
        shape[d->out] = out;
        max_slot = d->out > max_slot ? d->out : max_slot;
        size_t np = k->n_params(d, in[0], out), nb = k->n_buffers(d, in[0], out);
        if (ops) {
            ops[i] = (Op){.d = *d, .in_shape = in[0], .out_shape = out, .p = p, .n_p = np,
                          .buf = buf, .n_buf = nb, .layer = k->weight_view ? layer : -1};
        }
        layer += k->weight_view != NULL;
        p += np;
        buf += nb;
    }
    if (rc == 0) {
        Shape last = shape[desc[n_ops - 1].out];
        *bad_op = n_ops - 1;
        if (last.c != cfg->n_out || last.h != 1 || last.w != 1)
            rc = say(msg, len, "the last op's output is (%d, %d, %d), not the %d classes",
                          last.c, last.h, last.w, cfg->n_out);
    }
    if (rc == 0)
        *bad_op = -1;
    free(written);
    if (!shapes)
        free(shape);
    return rc == 0 ? max_slot + 1 : -1;
}

int nn_check(const NetConfig *cfg, char *msg, size_t len, int *bad_op)
{
    *bad_op = -1;
    if (cfg->preset != PRESET_NONE && cfg->in_shape.h * cfg->in_shape.w <= 1)
        return say(msg, len, "preset \"%s\" needs images, but the data set is flat (%d features "
                   "without an image shape)", PRESET_NAMES[cfg->preset], cfg->n_in);
    OpDesc *ops = xmalloc(NN_MAX_OPS * sizeof *ops);
    int n = nn_expand(cfg, ops);
    int rc = resolve(cfg, ops, n, NULL, NULL, msg, len, bad_op) < 0 ? -1 : 0;
    free(ops);
    return rc;
}

/* The ops of a configuration that passes nn_check, resolved. */
typedef struct {
    Op *ops;       /* (n) */
    Shape *shapes; /* per slot */
    int n, n_slots;
} Resolved;

static Resolved resolve_cfg(const NetConfig *cfg)
{
    Resolved r;
    OpDesc *desc = xmalloc(NN_MAX_OPS * sizeof *desc);
    int bad;
    char msg[256];
    r.n = nn_expand(cfg, desc);
    r.ops = xcalloc((size_t)r.n, sizeof *r.ops);
    r.shapes = xcalloc((size_t)r.n + 1, sizeof *r.shapes);
    r.n_slots = resolve(cfg, desc, r.n, r.ops, r.shapes, msg, sizeof msg, &bad);
    assert(r.n_slots > 0); /* callers build nets from checked configurations */
    free(desc);
    return r;
}

static void resolved_free(Resolved *r)
{
    free(r->ops);
    free(r->shapes);
}

size_t nn_param_count(const NetConfig *cfg)
{
    Resolved r = resolve_cfg(cfg);
    size_t p = r.ops[r.n - 1].p + r.ops[r.n - 1].n_p;
    resolved_free(&r);
    return p;
}

double nn_flops(const NetConfig *cfg)
{
    Resolved r = resolve_cfg(cfg);
    double f = 0;
    for (int i = 0; i < r.n; i++)
        f += OP_KINDS[r.ops[i].d.kind]->flops(&r.ops[i]);
    resolved_free(&r);
    return f;
}

int nn_weight_views(const NetConfig *cfg, WeightView *views)
{
    Resolved r = resolve_cfg(cfg);
    int L = 0;
    for (int i = 0; i < r.n; i++) {
        const OpKindDef *k = OP_KINDS[r.ops[i].d.kind];
        if (k->weight_view && views)
            k->weight_view(&r.ops[i], &views[L]);
        L += k->weight_view != NULL;
    }
    resolved_free(&r);
    return L;
}

int nn_resolve(const NetConfig *cfg, Op *ops)
{
    Resolved r = resolve_cfg(cfg);
    memcpy(ops, r.ops, (size_t)r.n * sizeof *ops);
    int n = r.n;
    resolved_free(&r);
    return n;
}

size_t nn_work_bytes(const NetConfig *cfg, int forward_batch, int backward_batch)
{
    Resolved r = resolve_cfg(cfg);
    size_t floats = 0;
    for (int s = 0; s < r.n_slots; s++) /* values (not the input's) and gradients */
        floats += ((s > 0 ? (size_t)forward_batch : 0) + (size_t)backward_batch) *
                  shape_size(r.shapes[s]);
    size_t scratch = 0;
    for (int i = 0; i < r.n; i++) {
        floats += OP_KINDS[r.ops[i].d.kind]->cache_floats(&r.ops[i], forward_batch) +
                  OP_KINDS[r.ops[i].d.kind]->aux_floats(&r.ops[i]);
        size_t sc = op_scratch_floats(&r.ops[i], forward_batch);
        scratch = sc > scratch ? sc : scratch;
    }
    floats += scratch;
    resolved_free(&r);
    return floats * sizeof(float);
}

int nn_shape_dims(const NetConfig *cfg, int *dims)
{
    Resolved r = resolve_cfg(cfg);
    int k = 0;
    dims[k++] = cfg->n_in;
    for (int i = 0; i < r.n; i++)
        if (OP_KINDS[r.ops[i].d.kind]->weight_view)
            dims[k++] = (int)shape_size(r.ops[i].out_shape);
    resolved_free(&r);
    return k;
}

/* ---- allocation ---------------------------------------------------------------------- */

/* Allocation that may fail: counts failures in *bad instead of exiting. */
static void *try_alloc(size_t n, int *bad)
{
    void *p = bps_try_alloc_aligned(n);
    if (!p)
        (*bad)++;
    return p;
}

static size_t widest_features(const Net *net)
{
    size_t c = 1;
    for (int s = 0; s < net->n_slots; s++)
        c = (size_t)net->slot_shape[s].c > c ? (size_t)net->slot_shape[s].c : c;
    return c;
}

NnWork *nn_work_new(const Net *net, int max_batch)
{
    int bad = 0;
    NnWork *w = xcalloc(1, sizeof *w);
    w->max_batch = max_batch;
    w->act = xcalloc((size_t)net->n_slots, sizeof *w->act);
    w->grad = xcalloc((size_t)net->n_slots, sizeof *w->grad);
    w->grad_set = xcalloc((size_t)net->n_slots, sizeof *w->grad_set);
    w->cache = xcalloc((size_t)net->n_ops, sizeof *w->cache);
    w->aux = xcalloc((size_t)net->n_ops, sizeof *w->aux);
    for (int s = 0; s < net->n_slots; s++) {
        size_t n = (size_t)max_batch * shape_size(net->slot_shape[s]) * sizeof(float);
        if (s > 0) /* act[0] points at the caller's input */
            w->act[s] = try_alloc(n, &bad);
        w->grad[s] = try_alloc(n, &bad);
    }
    size_t scratch = 0;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        const OpKindDef *k = OP_KINDS[op->d.kind];
        size_t nc = k->cache_floats(op, max_batch), na = k->aux_floats(op);
        size_t sc = op_scratch_floats(op, max_batch);
        w->cache[i] = nc ? try_alloc(nc * sizeof(float), &bad) : NULL;
        w->aux[i] = na ? try_alloc(na * sizeof(float), &bad) : NULL;
        scratch = sc > scratch ? sc : scratch;
    }
    w->scratch = scratch ? try_alloc(scratch * sizeof(float), &bad) : NULL;
    w->red = try_alloc(2 * widest_features(net) * sizeof(double), &bad);
    if (bad) {
        nn_work_free(net, w);
        return NULL;
    }
    return w;
}

void nn_work_free(const Net *net, NnWork *w)
{
    if (!w)
        return;
    for (int s = 0; s < net->n_slots; s++) {
        if (s > 0)
            free(w->act[s]);
        free(w->grad[s]);
    }
    for (int i = 0; i < net->n_ops; i++) {
        free(w->cache[i]);
        free(w->aux[i]);
    }
    free(w->act);
    free(w->grad);
    free(w->grad_set);
    free(w->cache);
    free(w->aux);
    free(w->red);
    free(w->scratch);
    free(w);
}

/* The weight layers, and the batch norm that reads each one's output. */
static void find_layers(Net *net)
{
    net->n_layers = 0;
    for (int i = 0; i < net->n_ops; i++)
        net->n_layers += OP_KINDS[net->ops[i].d.kind]->weight_view != NULL;
    net->layers = xcalloc((size_t)(net->n_layers ? net->n_layers : 1), sizeof *net->layers);
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        if (op->layer < 0)
            continue;
        NnLayer *ly = &net->layers[op->layer];
        WeightView wv;
        OP_KINDS[op->d.kind]->weight_view(op, &wv);
        *ly = (NnLayer){.op = i, .in = wv.cols, .out = wv.rows, .w = wv.off,
                        .b = wv.off + (size_t)wv.rows * (size_t)wv.cols};
        for (int j = i + 1; j < net->n_ops; j++) {
            const Op *bn = &net->ops[j];
            if (bn->d.kind == OP_BATCH_NORM && bn->d.in[0] == op->d.out) {
                ly->bn = true;
                ly->gamma = bn->p;
                ly->beta = bn->p + (size_t)bn->out_shape.c;
                ly->rmean = bn->buf;
                ly->rvar = bn->buf + (size_t)bn->out_shape.c;
            }
        }
    }
}

Net *nn_new(const NetConfig *cfg, int max_batch)
{
    assert(cfg->n_in > 0 && cfg->n_out > 0 && max_batch > 0);
    Net *net = xcalloc(1, sizeof *net);
    net->cfg = *cfg;
    net->max_batch = max_batch;
    Resolved r = resolve_cfg(cfg);
    net->n_ops = r.n;
    net->ops = r.ops;
    net->slot_shape = r.shapes;
    net->n_slots = r.n_slots;
    net->out_slot = net->ops[net->n_ops - 1].d.out;
    const Op *last = &net->ops[net->n_ops - 1];
    net->n_params = last->p + last->n_p;
    for (int i = 0; i < net->n_ops; i++)
        net->n_buffers += net->ops[i].n_buf;
    find_layers(net);
    int bad = 0;
    net->params = try_alloc(net->n_params * sizeof(float), &bad);
    net->grads = try_alloc(net->n_params * sizeof(float), &bad);
    net->buffers = try_alloc((net->n_buffers ? net->n_buffers : 1) * sizeof(float), &bad);
    net->work = bad ? NULL : nn_work_new(net, max_batch);
    if (bad || !net->work) {
        nn_free(net);
        return NULL;
    }
    net->dlogits = net->work->grad[net->out_slot];
    memset(net->params, 0, net->n_params * sizeof(float));
    memset(net->grads, 0, net->n_params * sizeof(float));
    return net;
}

void nn_free(Net *net)
{
    if (!net)
        return;
    nn_work_free(net, net->work);
    free(net->ops);
    free(net->slot_shape);
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net);
}

/* ---- initialisation ------------------------------------------------------------ */

/* A weight matrix W (O, I) of a dense or convolution op (I = C k k: the fan-in) and its
 * bias (O) if the op has one, b_offset added. */
static void init_weights(const NetConfig *cfg, const Op *op, float *params, RngStream *ws,
                         RngStream *bs)
{
    WeightView v;
    OP_KINDS[op->d.kind]->weight_view(op, &v);
    const int I = v.cols, O = v.rows;
    const size_t nw = (size_t)I * (size_t)O;
    float *W = params + v.off, *b = op->n_p > nw ? W + nw : NULL;
    /* nn.Linear and nn.Conv2d: kaiming_uniform(a = sqrt(5)) gives bound 1/sqrt(fan_in)
     * for weights, and the bias bound is 1/sqrt(fan_in) too */
    double bound = 1.0 / sqrt((double)I);
    switch (cfg->w_init) {
    case WINIT_TORCH:
        for (size_t i = 0; i < nw; i++)
            W[i] = (float)((2.0 * rng_uniform(ws) - 1.0) * bound);
        break;
    case WINIT_HE_NORMAL: {
        double sd = sqrt(2.0 / (double)I);
        for (size_t i = 0; i < nw; i++)
            W[i] = (float)(sd * rng_normal(ws));
        break;
    }
    case WINIT_CONSTANT:
        for (size_t i = 0; i < nw; i++)
            W[i] = (float)cfg->w_value;
        break;
    case WINIT_IDENTITY:
        /* [I; 0] where the layer is at least as wide as its input, else as PyTorch */
        for (size_t i = 0; i < nw; i++)
            W[i] = O >= I && op->d.kind == OP_DENSE
                       ? (float)(i / (size_t)I == i % (size_t)I)
                       : (float)((2.0 * rng_uniform(ws) - 1.0) * bound);
        break;
    }
    for (int j = 0; b && j < O; j++) {
        switch (cfg->b_init) {
        case BINIT_TORCH:
            b[j] = (float)((2.0 * rng_uniform(bs) - 1.0) * bound);
            break;
        case BINIT_ZERO:
            b[j] = 0.0f;
            break;
        case BINIT_CONSTANT:
            b[j] = (float)cfg->b_value;
            break;
        case BINIT_UNIFORM:
            b[j] = (float)((2.0 * rng_uniform(bs) - 1.0) * cfg->b_value);
            break;
        }
        if (cfg->b_offset != 0)
            b[j] += (float)cfg->b_offset;
    }
}

void nn_init_params(Net *net, uint64_t seed)
{
    const NetConfig *cfg = &net->cfg;
    int *dims = xmalloc(NN_MAX_DIMS * sizeof *dims);
    int n_dims = nn_shape_dims(cfg, dims);
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        float *p = net->params + op->p;
        if (op->layer >= 0) {
            RngStream ws = rng_stream(rng_key(seed, dims, n_dims, RNG_INIT_WEIGHT, op->layer));
            RngStream bs = rng_stream(rng_key(seed, dims, n_dims, RNG_INIT_BIAS, op->layer));
            init_weights(cfg, op, net->params, &ws, &bs);
        } else if (op->d.kind == OP_BATCH_NORM) {
            const int C = op->out_shape.c;
            float *buf = net->buffers + op->buf;
            for (int c = 0; c < C; c++) {
                p[c] = 1.0f;                      /* gamma */
                p[C + c] = (float)cfg->b_offset;  /* beta */
                buf[c] = 0.0f;                    /* running mean */
                buf[C + c] = 1.0f;
            }
        }
    }
    if (cfg->p_init != PINIT_NONE) {
        const float v = cfg->p_init == PINIT_EQUAL ? (float)cfg->p_value : 0.0f;
        for (size_t k = 0; k < net->n_params; k++)
            net->params[k] = v;
    }
    free(dims);
}

/* ---- forward and backward in float ------------------------------------------------ */

static OpPass op_pass(const Net *net, NnWork *w, int i, int B, bool train)
{
    const Op *op = &net->ops[i];
    OpPass a = {.B = B, .train = train, .y = w->act[op->d.out], .p = net->params + op->p,
                .buf = net->buffers + op->buf, .work = w->red, .cache = w->cache[i],
                .aux = w->aux[i], .scratch = w->scratch};
    for (int j = 0; j < OP_KINDS[op->d.kind]->n_inputs; j++)
        a.x[j] = w->act[op->d.in[j]];
    return a;
}

const float *nn_forward_work(const Net *net, NnWork *w, const float *x, int B, bool train)
{
    assert(B > 0 && B <= w->max_batch);
    w->last_train = train;
    w->act[0] = (float *)(uintptr_t)x; /* read only: no op writes slot 0 */
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        OpPass a = op_pass(net, w, i, B, train);
        OP_KINDS[op->d.kind]->forward(op, &a);
    }
    return w->act[net->out_slot];
}

void nn_work_repeat(const Net *net, const NnWork *src, int first, int n, int k, NnWork *dst)
{
    assert(n * k <= dst->max_batch && first + n <= src->max_batch && !src->last_train);
    dst->last_train = false;
    bool *read = xcalloc((size_t)net->n_slots, sizeof *read);
    for (int i = 0; i < net->n_ops; i++) {
        const OpKindDef *kind = OP_KINDS[net->ops[i].d.kind];
        for (int j = 0; kind->backward_reads_x && j < kind->n_inputs; j++)
            read[net->ops[i].d.in[j]] = true;
    }
    for (int s = 0; s < net->n_slots; s++) {
        const size_t row = shape_size(net->slot_shape[s]);
        if (s == 0 || !read[s])
            continue; /* the input stays the caller's; the backward reads no other */
        for (int r = 0; r < n * k; r++)
            memcpy(dst->act[s] + (size_t)r * row, src->act[s] + (size_t)(first + r / k) * row,
                   row * sizeof(float));
    }
    free(read);
    for (int i = 0; i < net->n_ops; i++) { /* evaluation mode: aux is per feature */
        const Op *op = &net->ops[i];
        size_t na = OP_KINDS[op->d.kind]->aux_floats(op);
        if (na)
            memcpy(dst->aux[i], src->aux[i], na * sizeof(float));
    }
}

const float *nn_forward(Net *net, const float *x, int B, bool train)
{
    assert(B <= net->max_batch);
    return nn_forward_work(net, net->work, x, B, train);
}

int nn_set_batch_statistics(Net *net, const float *x, int n)
{
    if (net->n_buffers == 0)
        return 0;
    NnWork *w = nn_work_new(net, n);
    if (!w)
        return -1;
    /* the training-mode pass moves each statistic r to (1 - m) r + m s; from r = 0 that
     * is m s, and s = (m s) / m up to one rounding */
    memset(net->buffers, 0, net->n_buffers * sizeof *net->buffers);
    nn_forward_work(net, w, x, n, true);
    for (size_t k = 0; k < net->n_buffers; k++)
        net->buffers[k] /= BN_MOMENTUM;
    nn_work_free(net, w);
    return 0;
}

const float *nn_logits(const Net *net)
{
    return net->work->act[net->out_slot];
}

double nn_loss(Net *net, const uint8_t *y, int B, long *correct, bool want_grad)
{
    const int K = net->cfg.n_out;
    const float *logits = nn_logits(net);
    double total = 0.0;
    long right = 0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * (size_t)K;
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (l[k] > l[arg])
                arg = k;
        right += arg == y[i];
        double m = (double)l[arg], s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp((double)l[k] - m);
        double log_s = log(s);
        total += -((double)l[y[i]] - m - log_s);
        if (want_grad) {
            /* d(mean CE)/d logits = (softmax - onehot) / B */
            float *g = net->dlogits + (size_t)i * (size_t)K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)l[k] - m - log_s);
                g[k] = (float)((p - (k == y[i] ? 1.0 : 0.0)) / B);
            }
        }
    }
    if (correct)
        *correct += right;
    return total / B;
}

void nn_backward_work(const Net *net, NnWork *w, int B, float *dparams, float *dx,
                      NnRangeHook hook, void *ctx, NnOpObserver observe, void *obs_ctx)
{
    assert(B > 0 && B <= w->max_batch);
    memset(w->grad_set, 0, (size_t)net->n_slots * sizeof *w->grad_set);
    w->grad_set[net->out_slot] = true;
    for (int i = net->n_ops - 1; i >= 0; i--) {
        const Op *op = &net->ops[i];
        const OpKindDef *k = OP_KINDS[op->d.kind];
        if (!w->grad_set[op->d.out])
            continue; /* nothing downstream of this op reaches the logits */
        OpPass a = op_pass(net, w, i, B, w->last_train);
        a.dy = w->grad[op->d.out];
        a.dp = dparams && op->n_p ? dparams + op->p : NULL;
        for (int j = 0; j < k->n_inputs; j++) {
            int s = op->d.in[j];
            /* the input's gradient is wanted unless it is the net's input and dx is not */
            a.dx[j] = s == 0 && !dx ? NULL : w->grad[s];
            a.dx_add[j] = w->grad_set[s];
        }
        if (a.dp || a.dx[0] || (k->n_inputs > 1 && a.dx[1]))
            k->backward(op, &a);
        for (int j = 0; j < k->n_inputs; j++)
            w->grad_set[op->d.in[j]] |= a.dx[j] != NULL;
        if (observe)
            observe(obs_ctx, net, w, i, B);
        if (hook && a.dp)
            hook(ctx, op->p, op->n_p);
    }
    if (dx) {
        const size_t n = (size_t)B * shape_size(net->slot_shape[0]);
        if (w->grad_set[0])
            memcpy(dx, w->grad[0], n * sizeof *dx);
        else
            memset(dx, 0, n * sizeof *dx);
    }
}

void nn_backward(Net *net, const float *x, int B, NnRangeHook hook, void *ctx)
{
    assert(B <= net->max_batch && x == net->work->act[0]);
    (void)x;
    nn_backward_work(net, net->work, B, net->grads, NULL, hook, ctx, NULL, NULL);
}

void nn_input_grad(Net *net, int B, float *dx)
{
    bool has_bn = false;
    for (int i = 0; i < net->n_ops; i++)
        has_bn |= net->ops[i].d.kind == OP_BATCH_NORM;
    assert(!(has_bn && net->work->last_train));
    (void)has_bn;
    nn_backward_work(net, net->work, B, NULL, dx, NULL, NULL, NULL, NULL);
}

/* ---- double precision with the R-operator -------------------------------------------- */

NnRWork *nn_rwork_new(const Net *net, int max_batch)
{
    NnRWork *w = xcalloc(1, sizeof *w);
    w->max_batch = max_batch;
    double ***arrays[4] = {&w->act, &w->ract, &w->grad, &w->rgrad};
    for (int a = 0; a < 4; a++) {
        *arrays[a] = xcalloc((size_t)net->n_slots, sizeof **arrays[a]);
        for (int s = 0; s < net->n_slots; s++)
            (*arrays[a])[s] = xmalloc((size_t)max_batch * shape_size(net->slot_shape[s]) *
                                      sizeof(double));
    }
    w->grad_set = xcalloc((size_t)net->n_slots, sizeof *w->grad_set);
    return w;
}

void nn_rwork_free(const Net *net, NnRWork *w)
{
    if (!w)
        return;
    double **arrays[4] = {w->act, w->ract, w->grad, w->rgrad};
    for (int a = 0; a < 4; a++) {
        for (int s = 0; s < net->n_slots; s++)
            free(arrays[a][s]);
        free(arrays[a]);
    }
    free(w->grad_set);
    free(w);
}

void nn_r_forward(const Net *net, NnRWork *w, const double *theta, const double *v,
                  const double *x, int B)
{
    assert(B > 0 && B <= w->max_batch);
    memcpy(w->act[0], x, (size_t)B * shape_size(net->slot_shape[0]) * sizeof *x);
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        const OpKindDef *k = OP_KINDS[op->d.kind];
        OpRPass a = {.B = B, .y = w->act[op->d.out], .ry = v ? w->ract[op->d.out] : NULL,
                     .p = theta + op->p, .v = v ? v + op->p : NULL,
                     .buf = net->buffers + op->buf};
        for (int j = 0; j < k->n_inputs; j++) {
            a.x[j] = w->act[op->d.in[j]];
            /* the input has no tangent: R{x} = 0 */
            a.rx[j] = v && op->d.in[j] != 0 ? w->ract[op->d.in[j]] : NULL;
        }
        k->r_forward(op, &a);
    }
}

void nn_r_backward(const Net *net, NnRWork *w, const double *theta, const double *v, int B,
                   double *g, double *hv)
{
    memset(w->grad_set, 0, (size_t)net->n_slots * sizeof *w->grad_set);
    w->grad_set[net->out_slot] = true;
    for (int i = net->n_ops - 1; i >= 0; i--) {
        const Op *op = &net->ops[i];
        const OpKindDef *k = OP_KINDS[op->d.kind];
        if (!w->grad_set[op->d.out])
            continue;
        OpRPass a = {.B = B, .p = theta + op->p, .v = v ? v + op->p : NULL,
                     .buf = net->buffers + op->buf, .dy = w->grad[op->d.out],
                     .rdy = v ? w->rgrad[op->d.out] : NULL,
                     .dp = g && op->n_p ? g + op->p : NULL,
                     .rdp = hv && op->n_p ? hv + op->p : NULL};
        for (int j = 0; j < k->n_inputs; j++) {
            int s = op->d.in[j];
            a.x[j] = w->act[s];
            a.rx[j] = v && s != 0 ? w->ract[s] : NULL;
            a.dx[j] = s != 0 ? w->grad[s] : NULL; /* the input's gradient is not needed */
            a.rdx[j] = s != 0 && v ? w->rgrad[s] : NULL;
            a.dx_add[j] = w->grad_set[s];
        }
        k->r_backward(op, &a);
        for (int j = 0; j < k->n_inputs; j++)
            w->grad_set[op->d.in[j]] |= a.dx[j] != NULL;
    }
}
