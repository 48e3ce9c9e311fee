/* train: SGD with PyTorch semantics, norm-bias, schedules, the epoch loop and the
 * serialisable trainer state. The update rule is written out in train.h. */
#include "bpsweep/train.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/cert.h"
#include "bpsweep/newton.h"

#define STATE_MAGIC UINT64_C(0x3174617473707062) /* "bppstat1" little-endian */
#define STATE_VERSION 8 /* 3: EpochMetrics.probe; 4: rank_effect; 5: the stopping rule;
                          6: self-describing (n_layers, fit_bytes), no padding;
                          7: the sharpness of train.lr_sharpness; 8: the trust radius
                          of train.optimizer "newton" */
#define PI 3.14159265358979323846

double train_lr(const TrainConfig *cfg, int epoch)
{
    switch (cfg->schedule) {
    case SCHED_CONSTANT:
        return cfg->lr;
    case SCHED_MULTISTEP: {
        double lr = cfg->lr;
        for (int i = 0; i < cfg->n_milestones; i++)
            if (epoch >= cfg->milestones[i])
                lr *= cfg->gamma;
        return lr;
    }
    case SCHED_COSINE:
        if (cfg->epochs <= 0)
            return cfg->lr;
        return 0.5 * cfg->lr * (1.0 + cos(PI * (double)epoch / (double)cfg->epochs));
    }
    return cfg->lr;
}

static double sq_norm(const float *p, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)p[i] * (double)p[i];
    return s;
}

int trainer_max_batch(const TrainConfig *cfg)
{
    return cfg->batch_size > 256 ? cfg->batch_size : 256;
}

Trainer *trainer_new(const NetConfig *net_cfg, const TrainConfig *cfg, uint64_t seed)
{
    assert(cfg->batch_size > 0 && cfg->epochs >= 0);
    Net *net = nn_new(net_cfg, trainer_max_batch(cfg));
    float *momentum = net ? bps_try_alloc_aligned(net->n_params * sizeof(float)) : NULL;
    if (!momentum) {
        nn_free(net);
        return NULL;
    }
    Trainer *t = xcalloc(1, sizeof *t);
    t->cfg = *cfg;
    t->seed = seed;
    t->net = net;
    nn_init_params(net, seed);
    size_t P = net->n_params;
    t->momentum = momentum;
    memset(t->momentum, 0, P * sizeof(float));
    t->init_sq_norm = sq_norm(net->params, P);
    t->norm_bias_c = cfg->norm_bias_relative ? cfg->norm_bias * t->init_sq_norm : cfg->norm_bias;
    int dims[NN_MAX_DIMS];
    int n_dims = nn_shape_dims(net_cfg, dims);
    t->shuffle_rng = rng_stream(rng_key(seed, dims, n_dims, RNG_SHUFFLE, 0));
    t->adv_key = rng_key(seed, dims, n_dims, RNG_ADVERSARIAL, 0);
    t->history = xcalloc((size_t)(cfg->epochs > 0 ? cfg->epochs : 1), sizeof *t->history);
    t->stop_grad_norm = NAN;
    t->sharpness = NAN;
    t->trust_radius = cfg->optimizer == OPT_NEWTON ? cfg->newton_radius : (double)NAN;
    t->construct = (ConstructResult){NAN, 0, NAN, NAN};
    if (net_cfg->construct.on)
        t->cfit = construct_fit_new(net_cfg);
    t->rank_effect = xmalloc((size_t)(net->n_layers ? net->n_layers : 1) * sizeof *t->rank_effect);
    for (int l = 0; l < net->n_layers; l++)
        t->rank_effect[l] = (RankEffect){NAN, NAN};
    t->xbatch = xalloc_aligned((size_t)cfg->batch_size * (size_t)net_cfg->n_in * sizeof(float));
    t->ybatch = xmalloc((size_t)cfg->batch_size);
    return t;
}

void trainer_free(Trainer *t)
{
    if (!t)
        return;
    nn_free(t->net);
    free(t->momentum);
    free(t->history);
    free(t->rank_effect);
    free(t->order);
    free(t->xbatch);
    free(t->ybatch);
    free(t->xadv);
    free(t->xrow);
    free(t->xeval);
    free(t->adv_grad);
    free(t->adv_cfg);
    free(t->gacc);
    construct_fit_free(t->cfit);
    free(t);
}

static bool ask_stop(void *ctx)
{
    Trainer *t = ctx;
    return t->should_stop(t->stop_ctx, t);
}

int trainer_construct(Trainer *t, const Dataset *train, const Dataset *test)
{
    assert(t->cfit && !t->constructed && t->epoch == 0 && t->step == 0);
    if (construct_fit_run(t->cfit, train, t->should_stop ? ask_stop : NULL, t) == 2)
        return 2;
    construct_embed(t->net, t->cfit, train, test, &t->construct);
    t->constructed = true;
    t->init_sq_norm = sq_norm(t->net->params, t->net->n_params);
    t->norm_bias_c = t->cfg.norm_bias_relative ? t->cfg.norm_bias * t->init_sq_norm
                                               : t->cfg.norm_bias;
    return 0;
}

int trainer_resolve_lr(Trainer *t, const Dataset *train)
{
    assert(t->cfg.lr_sharpness > 0 && t->epoch == 0 && t->step == 0);
    Certificate c;
    if (cert_measure(t->net, train, 0, t->cfg.weight_decay, t->norm_bias_c,
                     TRAIN_SHARPNESS_ITERATIONS, TRAIN_SHARPNESS_TOLERANCE, t->seed, &c,
                     NULL) != 0 ||
        !(fabs(c.hess_max_abs) > 0 && isfinite(c.hess_max_abs)))
        return -1;
    t->sharpness = fabs(c.hess_max_abs);
    t->cfg.lr = t->cfg.lr_sharpness / t->sharpness;
    return 0;
}

bool trainer_finished(const Trainer *t)
{
    return t->diverged_epoch > 0 || t->stopped_epoch > 0 ||
           (t->epoch >= t->cfg.epochs && (!t->cfit || t->constructed));
}

/* ---- the optimizer step -------------------------------------------------------- */

typedef struct {
    Trainer *t;
    float lr, wd; /* wd = lambda * sign(||theta||^2 - c) */
} UpdateCtx;

/* SGD update of params[off, off+n), called by nn_backward per layer. */
static void sgd_update_range(void *ctx, size_t off, size_t n)
{
    const UpdateCtx *u = ctx;
    const TrainConfig *cfg = &u->t->cfg;
    float *restrict p = u->t->net->params + off;
    float *restrict g = u->t->net->grads + off;
    float *restrict m = u->t->momentum + off;
    const float lr = u->lr, wd = u->wd, mom = (float)cfg->momentum;
    if (cfg->clip_value > 0) {
        /* comparisons, not fminf/fmaxf: those are calls without -ffinite-math-only
         * (they doubled the step time of a 335k-parameter MLP) and would turn a NaN
         * into -c, where PyTorch's clamp keeps it */
        const float c = (float)cfg->clip_value;
        for (size_t i = 0; i < n; i++) {
            float v = g[i];
            g[i] = v > c ? c : v < -c ? -c : v;
        }
    }
    if (mom == 0.0f) {
        for (size_t i = 0; i < n; i++)
            p[i] -= lr * (g[i] + wd * p[i]);
    } else if (cfg->nesterov) {
        for (size_t i = 0; i < n; i++) {
            float d = g[i] + wd * p[i];
            float b = mom * m[i] + d;
            m[i] = b;
            p[i] -= lr * (d + mom * b);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float b = mom * m[i] + (g[i] + wd * p[i]);
            m[i] = b;
            p[i] -= lr * b;
        }
    }
}

/* Batch norm trains with batch statistics, or after train.freeze_batch_norm epochs with
 * its running statistics (which then no longer move), as the authors' stop_batchnorm. */
static bool batch_stats(const Trainer *t)
{
    return !(t->cfg.freeze_bn_epoch > 0 && t->epoch >= t->cfg.freeze_bn_epoch);
}

/* The update's regulariser factor: norm-bias lambda * sign(||theta||^2 - c); c = 0 is
 * weight decay (s = 1, exact: ||theta|| = 0 makes the term 0 whatever s is). */
static UpdateCtx update_ctx(Trainer *t, double lr)
{
    double s = 1.0;
    if (t->cfg.weight_decay != 0.0 && t->norm_bias_c != 0.0) {
        double d = sq_norm(t->net->params, t->net->n_params) - t->norm_bias_c;
        s = (d > 0) - (d < 0);
    }
    return (UpdateCtx){t, (float)lr, (float)(t->cfg.weight_decay * s)};
}

double trainer_step(Trainer *t, const float *x, const uint8_t *y, int B, double lr, long *correct)
{
    Net *net = t->net;
    nn_forward(net, x, B, batch_stats(t));
    double loss = nn_loss(net, y, B, correct, true);
    if (!isfinite(loss))
        return loss;
    UpdateCtx u = update_ctx(t, lr);
    nn_backward(net, x, B, sgd_update_range, &u);
    t->step++;
    return loss;
}

typedef struct {
    Trainer *t;
    double weight; /* the chunk's share of the training set */
} AccumulateCtx;

/* Full-batch descent: adds a chunk's gradient of params[off, off+n), weighted, to gacc. */
static void accumulate_range(void *ctx, size_t off, size_t n)
{
    const AccumulateCtx *a = ctx;
    double *restrict acc = a->t->gacc + off;
    const float *restrict g = a->t->net->grads + off;
    for (size_t i = 0; i < n; i++)
        acc[i] += a->weight * (double)g[i];
}

/* ---- epochs ------------------------------------------------------------------------ */

/* Summed loss and correct predictions of the net on ds in evaluation mode. */
static double evaluate(Trainer *t, const Dataset *ds, long *correct)
{
    Net *net = t->net;
    double total = 0.0;
    for (int start = 0; start < ds->n; start += net->max_batch) {
        int B = ds->n - start < net->max_batch ? ds->n - start : net->max_batch;
        if (!ds->x && !t->xeval)
            t->xeval = xalloc_aligned((size_t)net->max_batch * (size_t)ds->d * sizeof(float));
        nn_forward(net, dataset_rows(ds, start, B, t->xeval), B, false);
        total += nn_loss(net, ds->y + start, B, correct, false) * B;
    }
    return total;
}

void trainer_evaluate(Trainer *t, const Dataset *ds, double *loss, double *acc)
{
    long correct = 0;
    double total = evaluate(t, ds, &correct);
    *loss = ds->n ? total / ds->n : (double)NAN;
    *acc = ds->n ? (double)correct / ds->n : (double)NAN;
}

static bool params_finite(const Net *net)
{
    float acc = 0.0f;
    for (size_t i = 0; i < net->n_params; i++)
        acc += net->params[i] * 0.0f; /* NaN or Inf anywhere makes acc NaN */
    return acc == 0.0f;
}

/* order (n) = 0..n-1, then, with shuffle, a Fisher-Yates shuffle from the last
 * position down, drawn from s: for i = n-1 .. 1, swap order[i] with order[j], j a
 * uniform draw in [0, i] (rng_below). docs/numerics.md#batch-order says it precisely
 * enough to reimplement. */
static void shuffle_order(RngStream *s, bool shuffle, int n, uint32_t *order)
{
    for (int i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    for (int i = n - 1; shuffle && i > 0; i--) {
        uint32_t j = (uint32_t)rng_below(s, (uint64_t)i + 1);
        uint32_t tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
}

/* The sample order of the current epoch, from the shuffle stream (which continues
 * across epochs). */
static void epoch_order(Trainer *t, int n)
{
    if (t->order_n != n) {
        free(t->order);
        t->order = xmalloc((size_t)n * sizeof *t->order);
        t->order_n = n;
    }
    shuffle_order(&t->shuffle_rng, t->cfg.shuffle, n, t->order);
}

void train_epoch_order(const NetConfig *net_cfg, const TrainConfig *cfg, uint64_t seed, int n,
                       int epoch, uint32_t *order)
{
    int dims[NN_MAX_DIMS];
    int n_dims = nn_shape_dims(net_cfg, dims);
    RngStream s = rng_stream(rng_key(seed, dims, n_dims, RNG_SHUFFLE, 0));
    for (int e = 0; e <= epoch; e++)
        shuffle_order(&s, cfg->shuffle, n, order);
    if (cfg->full_batch) /* one step over the data in their order (the draws still taken) */
        shuffle_order(&s, false, n, order);
}

/* Adversarial training: PGD examples of the batch in t->xbatch, from a random start
 * keyed by the step (so a resumed run draws the same), the net in evaluation mode. */
static const float *adversarial_batch(Trainer *t, const Dataset *train, int B)
{
    const size_t n = (size_t)B * (size_t)train->d;
    if (!t->xadv) {
        size_t bytes = (size_t)t->cfg.batch_size * (size_t)train->d * sizeof(float);
        t->xadv = xalloc_aligned(bytes);
        t->adv_grad = xalloc_aligned(bytes);
        t->adv_cfg = xmalloc(sizeof *t->adv_cfg);
        *t->adv_cfg = pgd_config(train, t->cfg.adv_eps, t->cfg.adv_step_ratio, t->cfg.adv_steps);
    }
    const PgdConfig *c = t->adv_cfg;
    RngStream r = rng_stream(t->adv_key);
    r.counter = t->step << 32; /* 2^32 draws per step, far more than a batch takes */
    pgd_random_start(t->xbatch, n, c, &r, t->xadv);
    pgd_attack(t->net, t->xbatch, t->ybatch, B, c, t->xadv, t->adv_grad);
    return t->xadv;
}

/* ---- augmentation (the formulas are in train.h) ------------------------------------ */

uint64_t train_augment_key(uint64_t seed, const int *dims, int n_dims, int epoch)
{
    return rng_key(seed, dims, n_dims, RNG_AUGMENT, epoch);
}

AugmentDraw train_augment_draw(uint64_t key, uint32_t sample, int pad, bool flip)
{
    assert(pad >= 0);
    RngStream r = rng_stream(key);
    r.counter = (uint64_t)sample * 4; /* 4 counters per sample, 3 used */
    double n = 2.0 * pad + 1.0;
    AugmentDraw a;
    a.oy = (int)(rng_uniform(&r) * n); /* u < 1: at most 2p */
    a.ox = (int)(rng_uniform(&r) * n);
    a.flip = rng_uniform(&r) < 0.5 && flip;
    return a;
}

void train_augment_sample(const float *x, int C, int H, int W, int pad, AugmentDraw a,
                          float *out)
{
    /* output row i reads input row i + dy, column j (or W-1-j) reads j + dx */
    const int dy = a.oy - pad, dx = a.ox - pad;
    /* the output columns [j0, j1) whose source column is inside x */
    int j0 = dx < 0 ? -dx : 0, j1 = dx > 0 ? W - dx : W;
    if (j1 < j0)
        j1 = j0;
    for (int c = 0; c < C; c++) {
        for (int i = 0; i < H; i++) {
            float *o = out + ((size_t)c * H + i) * W;
            int si = i + dy;
            if (si < 0 || si >= H || j0 >= j1) {
                memset(o, 0, (size_t)W * sizeof(float));
                continue;
            }
            const float *src = x + ((size_t)c * H + si) * W + dx; /* src[j] = x[.][si][j + dx] */
            if (!a.flip) {
                for (int j = 0; j < j0; j++)
                    o[j] = 0.0f;
                memcpy(o + j0, src + j0, (size_t)(j1 - j0) * sizeof(float));
                for (int j = j1; j < W; j++)
                    o[j] = 0.0f;
            } else {
                /* o[W-1-j] = crop[j] */
                for (int j = 0; j < j0; j++)
                    o[W - 1 - j] = 0.0f;
                for (int j = j0; j < j1; j++)
                    o[W - 1 - j] = src[j];
                for (int j = j1; j < W; j++)
                    o[W - 1 - j] = 0.0f;
            }
        }
    }
}

/* Gathers the training samples idx (B) into t->xbatch and t->ybatch, augmented with the
 * epoch's key if augmentation is on. */
static void gather_batch(Trainer *t, const Dataset *train, const uint32_t *idx, int B,
                         bool augment, uint64_t aug_key)
{
    const int D = train->d, pad = t->cfg.aug_crop_padding;
    if (!augment) {
        dataset_gather(train, idx, B, t->xbatch);
    } else {
        if (!train->x && !t->xrow)
            t->xrow = xalloc_aligned((size_t)D * sizeof(float));
        for (int i = 0; i < B; i++) {
            AugmentDraw a = train_augment_draw(aug_key, idx[i], pad, t->cfg.aug_flip);
            if (i + 1 < B)
                dataset_prefetch(train, (int)idx[i + 1]);
            train_augment_sample(dataset_rows(train, (int)idx[i], 1, t->xrow), train->c,
                                 train->h, train->w, pad, a, t->xbatch + (size_t)i * (size_t)D);
        }
    }
    for (int i = 0; i < B; i++)
        t->ybatch[i] = train->y[idx[i]];
}

/* One step of full-batch gradient descent: the mean gradient over the whole training
 * set (chunks of batch_size in data order, each chunk's gradient weighted by its share,
 * summed in double), then one optimizer step. Returns the mean loss before the step. */
static double full_batch_step(Trainer *t, const Dataset *train, bool augment, uint64_t aug_key,
                              double lr, long *correct)
{
    Net *net = t->net;
    const size_t P = net->n_params;
    const int n = train->n, bs = t->cfg.batch_size;
    if (!t->gacc)
        t->gacc = xmalloc(P * sizeof *t->gacc);
    memset(t->gacc, 0, P * sizeof *t->gacc);
    double loss = 0.0;
    for (int start = 0; start < n; start += bs) {
        int B = n - start < bs ? n - start : bs;
        gather_batch(t, train, t->order + start, B, augment, aug_key);
        nn_forward(net, t->xbatch, B, batch_stats(t));
        double l = nn_loss(net, t->ybatch, B, correct, true);
        if (!isfinite(l))
            return l;
        loss += l * B;
        AccumulateCtx a = {t, (double)B / (double)n};
        nn_backward(net, t->xbatch, B, accumulate_range, &a);
    }
    for (size_t k = 0; k < P; k++)
        net->grads[k] = (float)t->gacc[k];
    UpdateCtx u = update_ctx(t, lr);
    sgd_update_range(&u, 0, P);
    t->step++;
    return loss / n;
}

/* One iteration of train.optimizer "newton" (newton.h) on the certificate's objective;
 * the epoch's training loss and accuracy are the net's before it, in evaluation mode
 * (as the objective sees it). Returns that loss. */
static double newton_epoch(Trainer *t, const Dataset *train, long *correct)
{
    Net *net = t->net;
    const size_t P = net->n_params;
    double loss = evaluate(t, train, correct) / train->n;
    if (!isfinite(loss))
        return loss;
    double *theta = xmalloc(P * sizeof *theta);
    for (size_t k = 0; k < P; k++)
        theta[k] = (double)net->params[k];
    CertObjective *o = cert_objective_new(net, train, t->cfg.weight_decay, t->norm_bias_c);
    NewtonConfig nc = {t->cfg.newton_max_radius, t->cfg.newton_cg};
    NewtonStep st;
    newton_iterate(cert_objective, o, P, theta, &t->trust_radius, &nc, &st);
    cert_objective_free(o);
    for (size_t k = 0; st.accepted && k < P; k++)
        net->params[k] = (float)theta[k];
    free(theta);
    t->step++;
    return isfinite(st.f) ? loss : st.f;
}

int trainer_epoch(Trainer *t, const Dataset *train, const Dataset *test)
{
    assert(!trainer_finished(t));
    assert(train->d == t->net->cfg.n_in);
    assert(!(t->cfg.lr_sharpness > 0) || t->sharpness > 0); /* trainer_resolve_lr first */
    double t0 = bps_now();
    const int n = train->n, bs = t->cfg.batch_size;
    EpochMetrics *em = &t->history[t->epoch];
    em->lr = train_lr(&t->cfg, t->epoch);
    if (t->batch_pos == 0) {
        /* a new epoch */
        em->probe[0] = em->probe[1] = NAN;
        t->epoch_rng = t->shuffle_rng.counter;
        t->epoch_loss_sum = 0.0;
        t->epoch_correct = t->epoch_seen = 0;
        t->epoch_seconds = 0.0;
        epoch_order(t, n);
    } else if (t->order_n != n) {
        /* continuing an epoch restored from a state: the same draws give its order */
        t->shuffle_rng.counter = t->epoch_rng;
        epoch_order(t, n);
    }
    /* augmentation: keyed by the epoch, drawn per sample (train.h) */
    const bool augment = t->cfg.aug_crop_padding > 0 || t->cfg.aug_flip;
    uint64_t aug_key = 0;
    if (augment) {
        assert(train->c * train->h * train->w == train->d && (train->h > 1 || train->w > 1));
        int dims[NN_MAX_DIMS];
        int n_dims = nn_shape_dims(&t->net->cfg, dims);
        aug_key = train_augment_key(t->seed, dims, n_dims, t->epoch);
    }
    bool diverged = false;
    if (t->cfg.optimizer == OPT_NEWTON)
        em->lr = t->trust_radius; /* the lr curve holds the iteration's trust radius */
    if (t->cfg.full_batch) {
        /* one step; no stop point inside it (the accumulated gradient is not saved) */
        for (int i = 0; i < n; i++)
            t->order[i] = (uint32_t)i;
        uint64_t step = t->step;
        double loss = t->cfg.optimizer == OPT_NEWTON
                          ? newton_epoch(t, train, &t->epoch_correct)
                          : full_batch_step(t, train, augment, aug_key, em->lr, &t->epoch_correct);
        if (t->hook)
            t->hook(t->hook_ctx, step, t->order, n, loss);
        diverged = !isfinite(loss);
        t->epoch_loss_sum = loss * n;
        t->epoch_seen = n;
        t->batch_pos = n;
    }
    while (t->batch_pos < n && !diverged) {
        int start = t->batch_pos;
        int B = n - start < bs ? n - start : bs;
        if (B < bs && t->cfg.drop_last)
            break;
        const uint32_t *idx = t->order + start;
        gather_batch(t, train, idx, B, augment, aug_key);
        uint64_t step = t->step;
        const float *xb = t->cfg.adv_eps > 0 ? adversarial_batch(t, train, B) : t->xbatch;
        double loss = trainer_step(t, xb, t->ybatch, B, em->lr, &t->epoch_correct);
        if (t->hook)
            t->hook(t->hook_ctx, step, idx, B, loss);
        diverged = !isfinite(loss);
        t->epoch_loss_sum += loss * B;
        t->epoch_seen += B;
        t->batch_pos = start + B;
        if (!diverged && t->batch_pos < n && t->should_stop &&
            t->should_stop(t->stop_ctx, t)) {
            t->epoch_seconds += bps_now() - t0;
            return 2;
        }
    }
    /* rank projection after this epoch: before the test evaluation, and with no stop
     * point between the last step and here, so a checkpoint never falls in between */
    for (int k = 0; k < t->cfg.n_rank_epochs && !diverged; k++)
        if (t->cfg.rank_epochs[k] == t->epoch + 1)
            rank_project(t->net, &t->cfg.rank,
                         t->rank_effect);
    if (!diverged)
        diverged = !params_finite(t->net);
    long seen = t->epoch_seen;
    em->train_loss = seen ? t->epoch_loss_sum / (double)seen : (double)NAN;
    em->train_acc = seen ? (double)t->epoch_correct / (double)seen : (double)NAN;
    if (test && !diverged)
        trainer_evaluate(t, test, &em->test_loss, &em->test_acc);
    else
        em->test_loss = em->test_acc = NAN;
    t->batch_pos = 0;
    t->epoch++;
    /* the stopping rule: the full-batch gradient norm of loss + regulariser, in double
     * over the whole training set (as the certificate measures it) */
    if (!diverged && t->cfg.stop_grad_norm > 0 && t->epoch % t->cfg.stop_every == 0) {
        t->stop_grad_norm = cert_grad_norm(t->net, train, t->cfg.weight_decay, t->norm_bias_c);
        if (t->stop_grad_norm < t->cfg.stop_grad_norm)
            t->stopped_epoch = t->epoch;
    }
    em->seconds = t->epoch_seconds + (bps_now() - t0);
    if (diverged) {
        t->diverged_epoch = t->epoch;
        return 1;
    }
    return 0;
}

/* ---- state ---------------------------------------------------------------------- */

/* Layout (docs/trainer-state.md): a header of 8-byte fields (no padding), then the
 * history, the rank effects, params, momentum, buffers, the linear fit of
 * init.construct (construct_fit_save) if any, then an FNV-1a hash of everything before
 * it. Native byte order: the state is for the same machine type, like the
 * bit-identity guarantee. */
typedef struct {
    uint64_t magic, version;
    uint64_t n_params, n_buffers, epochs, batch_size, n_layers, fit_bytes;
    uint64_t seed, epoch, step, rng_key, rng_counter;
    int64_t diverged_epoch, stopped_epoch;
    double stop_grad_norm, sharpness, trust_radius;
    double construct_grad_norm;
    int64_t construct_iterations;
    double construct_offset, construct_logit_diff;
    int64_t constructed;
    double norm_bias_c, init_sq_norm, weight_decay, lr;
    /* the epoch in progress */
    uint64_t batch_pos, epoch_rng;
    int64_t epoch_correct, epoch_seen;
    double epoch_loss_sum, epoch_seconds;
} StateHeader;

_Static_assert(sizeof(StateHeader) == 33 * 8, "the state header has no padding");

size_t trainer_state_size(const Trainer *t)
{
    const Net *net = t->net;
    size_t n_hist = (size_t)(t->cfg.epochs > 0 ? t->cfg.epochs : 1);
    return sizeof(StateHeader) + n_hist * sizeof(EpochMetrics) +
           (size_t)net->n_layers * sizeof(RankEffect) +
           (2 * net->n_params + net->n_buffers) * sizeof(float) +
           (t->cfit ? construct_fit_state_size(t->cfit) : 0) + sizeof(uint64_t);
}

void *trainer_state_save(const Trainer *t, size_t *size)
{
    const Net *net = t->net;
    size_t n_hist = (size_t)(t->cfg.epochs > 0 ? t->cfg.epochs : 1);
    size_t total = trainer_state_size(t);
    unsigned char *buf = xcalloc(1, total), *p = buf;
    StateHeader h = {
        .magic = STATE_MAGIC, .version = STATE_VERSION,
        .n_params = net->n_params, .n_buffers = net->n_buffers,
        .n_layers = (uint64_t)net->n_layers,
        .fit_bytes = t->cfit ? construct_fit_state_size(t->cfit) : 0,
        .epochs = (uint64_t)t->cfg.epochs, .batch_size = (uint64_t)t->cfg.batch_size,
        .seed = t->seed, .epoch = (uint64_t)t->epoch, .step = t->step,
        .rng_key = t->shuffle_rng.key, .rng_counter = t->shuffle_rng.counter,
        .diverged_epoch = t->diverged_epoch, .stopped_epoch = t->stopped_epoch,
        .stop_grad_norm = t->stop_grad_norm, .sharpness = t->sharpness,
        .trust_radius = t->trust_radius, .construct_grad_norm = t->construct.grad_norm,
        .construct_iterations = t->construct.iterations,
        .construct_offset = t->construct.offset, .construct_logit_diff = t->construct.logit_diff,
        .constructed = t->constructed,
        .norm_bias_c = t->norm_bias_c, .init_sq_norm = t->init_sq_norm,
        .weight_decay = t->cfg.weight_decay, .lr = t->cfg.lr,
        .batch_pos = (uint64_t)t->batch_pos, .epoch_rng = t->epoch_rng,
        .epoch_correct = t->epoch_correct, .epoch_seen = t->epoch_seen,
        .epoch_loss_sum = t->epoch_loss_sum, .epoch_seconds = t->epoch_seconds,
    };
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, t->history, n_hist * sizeof(EpochMetrics));
    p += n_hist * sizeof(EpochMetrics);
    memcpy(p, t->rank_effect, (size_t)net->n_layers * sizeof(RankEffect));
    p += (size_t)net->n_layers * sizeof(RankEffect);
    memcpy(p, net->params, net->n_params * sizeof(float));
    p += net->n_params * sizeof(float);
    memcpy(p, t->momentum, net->n_params * sizeof(float));
    p += net->n_params * sizeof(float);
    memcpy(p, net->buffers, net->n_buffers * sizeof(float));
    p += net->n_buffers * sizeof(float);
    if (t->cfit) {
        construct_fit_save(t->cfit, p);
        p += construct_fit_state_size(t->cfit);
    }
    uint64_t hash = bps_hash_bytes(BPS_HASH_INIT, buf, (size_t)(p - buf));
    memcpy(p, &hash, sizeof hash);
    *size = total;
    return buf;
}

int trainer_state_load(Trainer *t, const void *data, size_t size, BpsErr *err)
{
    Net *net = t->net;
    size_t n_hist = (size_t)(t->cfg.epochs > 0 ? t->cfg.epochs : 1);
    size_t total = trainer_state_size(t);
    StateHeader h;
    if (size < sizeof h)
        return bps_fail(err, "trainer state: %zu bytes, too short for a header", size);
    memcpy(&h, data, sizeof h);
    if (h.magic != STATE_MAGIC || h.version != STATE_VERSION)
        return bps_fail(err, "trainer state: not a bpsweep trainer state (version %llu)",
                        (unsigned long long)h.version);
    if (size != total)
        return bps_fail(err, "trainer state: %zu bytes, expected %zu for this network", size,
                        total);
    uint64_t stored;
    memcpy(&stored, (const unsigned char *)data + total - sizeof stored, sizeof stored);
    if (bps_hash_bytes(BPS_HASH_INIT, data, total - sizeof stored) != stored)
        return bps_fail(err, "trainer state: checksum mismatch (corrupt file)");
    /* lr_sharpness: the state's lr was resolved from the sharpness it keeps */
    double lr = t->cfg.lr_sharpness > 0 && h.sharpness > 0 ? t->cfg.lr_sharpness / h.sharpness
                                                            : t->cfg.lr;
    int dims[NN_MAX_DIMS];
    int n_dims = nn_shape_dims(&net->cfg, dims);
    if (h.n_params != net->n_params || h.n_buffers != net->n_buffers ||
        h.n_layers != (uint64_t)net->n_layers ||
        h.fit_bytes != (t->cfit ? construct_fit_state_size(t->cfit) : 0) ||
        h.epochs != (uint64_t)t->cfg.epochs || h.batch_size != (uint64_t)t->cfg.batch_size ||
        h.seed != t->seed || h.weight_decay != t->cfg.weight_decay || h.lr != lr ||
        h.rng_key != rng_key(t->seed, dims, n_dims, RNG_SHUFFLE, 0) ||
        h.epoch > (uint64_t)t->cfg.epochs)
        return bps_fail(err, "trainer state: saved for a different point or settings");
    const unsigned char *p = (const unsigned char *)data + sizeof h;
    memcpy(t->history, p, n_hist * sizeof(EpochMetrics));
    p += n_hist * sizeof(EpochMetrics);
    memcpy(t->rank_effect, p, (size_t)net->n_layers * sizeof(RankEffect));
    p += (size_t)net->n_layers * sizeof(RankEffect);
    memcpy(net->params, p, net->n_params * sizeof(float));
    p += net->n_params * sizeof(float);
    memcpy(t->momentum, p, net->n_params * sizeof(float));
    p += net->n_params * sizeof(float);
    memcpy(net->buffers, p, net->n_buffers * sizeof(float));
    p += net->n_buffers * sizeof(float);
    if (t->cfit)
        construct_fit_load(t->cfit, p);
    t->epoch = (int)h.epoch;
    t->step = h.step;
    t->shuffle_rng.counter = h.rng_counter;
    t->diverged_epoch = (int)h.diverged_epoch;
    t->stopped_epoch = (int)h.stopped_epoch;
    t->stop_grad_norm = h.stop_grad_norm;
    t->sharpness = h.sharpness;
    t->trust_radius = h.trust_radius;
    t->cfg.lr = lr;
    t->construct = (ConstructResult){h.construct_grad_norm, (int)h.construct_iterations,
                                     h.construct_offset, h.construct_logit_diff};
    t->constructed = h.constructed != 0;
    t->norm_bias_c = h.norm_bias_c;
    t->init_sq_norm = h.init_sq_norm;
    t->batch_pos = (int)h.batch_pos;
    t->epoch_rng = h.epoch_rng;
    t->epoch_correct = (long)h.epoch_correct;
    t->epoch_seen = (long)h.epoch_seen;
    t->epoch_loss_sum = h.epoch_loss_sum;
    t->epoch_seconds = h.epoch_seconds;
    t->order_n = 0; /* an epoch in progress regenerates its order from epoch_rng */
    return 0;
}
