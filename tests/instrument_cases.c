/* Writes cases for tests/instrument_reference.py: small nets with bpsweep's parameters
 * and batch-norm statistics, inputs, and what bpsweep's instruments compute on them
 * (the empirical NTK; RankMin / RankMax projections; the local-minimum certificate, on
 * MLPs and on a tiny conv net at constructed saddles and a trained minimum). PyTorch and
 * numpy recompute each from the same weights and compare.
 *   usage: instrument_cases OUTDIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/cert.h"
#include "bpsweep/ntk.h"
#include "bpsweep/pgd.h"
#include "bpsweep/rank.h"
#include "bpsweep/rng.h"

#include "test_util.h"

typedef struct {
    const char *name;
    int hidden[4], n_hidden;
    bool relu, skip, bn;
    int n; /* NTK samples */
} Case;

static const Case CASES[] = {
    {"plain", {32, 24}, 2, true, false, false, 5},
    {"bn_skip", {24, 24, 24}, 3, true, true, true, 6},
    {"linear", {16}, 1, false, false, false, 4},
    {"bn", {20}, 1, true, false, true, 3},
};
enum { D = 12, K = 5 };

static int run_case(const char *dir, const Case *c, FILE *index, int k)
{
    NetConfig cfg = {.n_in = D, .n_out = K, .n_hidden = c->n_hidden,
                     .act = c->relu ? ACT_RELU : ACT_IDENTITY, .skip = c->skip,
                     .batch_norm = c->bn};
    memcpy(cfg.hidden, c->hidden, sizeof c->hidden);
    Net *net = nn_new(&cfg, 64);
    nn_init_params(net, 77 + (uint64_t)k);
    /* non-trivial batch-norm statistics and affine parameters, so that evaluation
     * mode matters */
    RngStream r = rng_stream(rng_key(5, NULL, 0, RNG_DATA, k));
    for (size_t i = 0; i < net->n_buffers; i++)
        net->buffers[i] = (float)(0.5 + rng_uniform(&r));
    for (int l = 0; l < net->n_layers; l++)
        if (net->layers[l].bn)
            for (int o = 0; o < net->layers[l].out; o++) {
                net->params[net->layers[l].gamma + (size_t)o] = (float)(0.5 + rng_uniform(&r));
                net->params[net->layers[l].beta + (size_t)o] = (float)(rng_uniform(&r) - 0.5);
            }
    float *x = malloc((size_t)c->n * D * sizeof *x);
    for (int i = 0; i < c->n * D; i++)
        x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    int m = c->n * K;
    double *ntk = malloc((size_t)m * m * sizeof *ntk);
    int rc = ntk_kernel(net, x, c->n, ntk);
    if (rc == 0)
        rc = test_write_case(dir, c->name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             test_write_case(dir, c->name, "buffers.f32", net->buffers,
                        net->n_buffers * sizeof(float)) ||
             test_write_case(dir, c->name, "x.f32", x, (size_t)c->n * D * sizeof *x) ||
             test_write_case(dir, c->name, "ntk.f64", ntk, (size_t)m * m * sizeof *ntk);
    fprintf(index,
            "%s{\"name\": \"%s\", \"n_in\": %d, \"n_out\": %d, \"hidden\": [", k ? ",\n" : "",
            c->name, D, K);
    for (int l = 0; l < c->n_hidden; l++)
        fprintf(index, "%s%d", l ? ", " : "", c->hidden[l]);
    fprintf(index, "], \"relu\": %s, \"skip\": %s, \"batch_norm\": %s, \"n\": %d}",
            c->relu ? "true" : "false", c->skip ? "true" : "false", c->bn ? "true" : "false",
            c->n);
    free(x);
    free(ntk);
    nn_free(net);
    return rc;
}

/* The local-minimum certificate of a small net on 40 samples: every value, for PyTorch's
 * dense Hessian and autograd gradient to redo. */
static int cert_case(const char *dir, const char *name, int h1, int h2, bool relu, bool skip,
                     bool bn, double lambda, double c, FILE *index)
{
    enum { N = 40, DD = 6, KK = 3 };
    NetConfig cfg = {.n_in = DD, .n_out = KK, .n_hidden = h2 ? 2 : 1, .hidden = {h1, h2},
                     .act = relu ? ACT_RELU : ACT_IDENTITY, .skip = skip, .batch_norm = bn};
    Net *net = nn_new(&cfg, 1);
    nn_init_params(net, 11);
    RngStream rb = rng_stream(rng_key(9, NULL, 0, RNG_DATA, 0));
    for (int l = 0; l < net->n_layers; l++) /* gamma, beta and statistics of a trained net */
        for (int o = 0; net->layers[l].bn && o < net->layers[l].out; o++) {
            net->params[net->layers[l].gamma + (size_t)o] = (float)(0.5 + rng_uniform(&rb));
            net->params[net->layers[l].beta + (size_t)o] = (float)(rng_uniform(&rb) - 0.5);
            net->buffers[net->layers[l].rmean + (size_t)o] = (float)(0.4 * rng_uniform(&rb) - 0.2);
            net->buffers[net->layers[l].rvar + (size_t)o] = (float)(0.5 + rng_uniform(&rb));
        }
    static float x[N * DD];
    static uint8_t y[N];
    RngStream r = rng_stream(rng_key(8, NULL, 0, RNG_DATA, 0));
    for (int i = 0; i < N * DD; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < N; i++)
        y[i] = (uint8_t)rng_below(&r, KK);
    Dataset d = {.n = N, .d = DD, .classes = KK, .x = x, .y = y, .borrowed = true, .c = DD,
                 .h = 1, .w = 1};
    Certificate ct;
    double neg[4];
    int rc = cert_measure(net, &d, 0, lambda, c, (int)net->n_params, 0, 3, &ct, neg);
    if (rc == 0)
        rc = test_write_case(dir, name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             test_write_case(dir, name, "buffers.f32", net->buffers, net->n_buffers * sizeof(float)) ||
             test_write_case(dir, name, "x.f32", x, sizeof x) || test_write_case(dir, name, "y.u8", y, sizeof y);
    fprintf(index, "{\"name\": \"%s\", \"n_in\": %d, \"n_out\": %d, \"hidden\": [%d", name,
            DD, KK, h1);
    if (h2)
        fprintf(index, ", %d", h2);
    fprintf(index, "], \"relu\": %s, \"skip\": %s, \"batch_norm\": %s, \"n\": %d, \"lambda\": %.17g, \"c\": %.17g, "
            "\"loss\": %.17g, \"loss_data\": %.17g, \"grad_norm\": %.17g, \"hess_max_abs\": "
            "%.17g, \"hess_min\": %.17g, \"iterations\": %d, \"neg_frac\": [",
            relu ? "true" : "false", skip ? "true" : "false", bn ? "true" : "false", N, lambda, c, ct.loss, ct.loss_data,
            ct.grad_norm, ct.hess_max_abs, ct.hess_min, ct.hess_iterations);
    for (int l = 0; l < net->n_layers; l++)
        fprintf(index, "%s%.17g", l ? ", " : "", isnan(neg[l]) ? -1.0 : neg[l]);
    fprintf(index, "]}");
    nn_free(net);
    return rc;
}

/* PGD on a batch from a random start, and the input gradient at that start. */
static int pgd_case(const char *dir, const char *name, bool bn, bool skip, FILE *index)
{
    enum { B = 16 };
    NetConfig cfg = {.n_in = D, .n_out = K, .n_hidden = 2, .hidden = {D, 24}, .act = ACT_RELU,
                     .skip = skip, .batch_norm = bn};
    Net *net = nn_new(&cfg, B);
    nn_init_params(net, 5);
    RngStream r = rng_stream(rng_key(6, NULL, 0, RNG_DATA, 0));
    for (int l = 0; l < net->n_layers; l++) /* running statistics that keep ReLUs alive */
        for (int o = 0; bn && o < net->layers[l].out && net->layers[l].bn; o++) {
            net->buffers[net->layers[l].rmean + (size_t)o] = (float)(0.2 * rng_uniform(&r) - 0.1);
            net->buffers[net->layers[l].rvar + (size_t)o] = (float)(0.5 + rng_uniform(&r));
        }
    float x[B * D], start[B * D], adv[B * D], grad[B * D];
    uint8_t y[B];
    for (int i = 0; i < B * D; i++)
        x[i] = (float)rng_uniform(&r);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)rng_below(&r, K);
    PgdConfig c = pgd_config_uniform(0.1f, 0.025f, 7, 0.0f, 1.0f);
    RngStream adv_rng = rng_stream(rng_key(7, NULL, 0, RNG_ADVERSARIAL, 0));
    pgd_random_start(x, B * D, &c, &adv_rng, start);
    nn_forward(net, start, B, false);
    nn_loss(net, y, B, NULL, true);
    nn_input_grad(net, B, grad);
    memcpy(adv, start, sizeof adv);
    pgd_attack(net, x, y, B, &c, adv, grad);
    float g0[B * D];
    nn_forward(net, start, B, false);
    nn_loss(net, y, B, NULL, true);
    nn_input_grad(net, B, g0);
    int rc = test_write_case(dir, name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             test_write_case(dir, name, "buffers.f32", net->buffers, net->n_buffers * sizeof(float)) ||
             test_write_case(dir, name, "x.f32", x, sizeof x) || test_write_case(dir, name, "y.u8", y, sizeof y) ||
             test_write_case(dir, name, "start.f32", start, sizeof start) ||
             test_write_case(dir, name, "grad.f32", g0, sizeof g0) ||
             test_write_case(dir, name, "adv.f32", adv, sizeof adv);
    fprintf(index, "{\"name\": \"%s\", \"n_in\": %d, \"n_out\": %d, \"hidden\": [%d, 24], "
            "\"relu\": true, \"skip\": %s, \"batch_norm\": %s, \"n\": %d, \"eps\": %.9g, "
            "\"alpha\": %.9g, \"steps\": %d, \"lo\": 0, \"hi\": 1}", name, D, K, D,
            skip ? "true" : "false", bn ? "true" : "false", B, (double)c.eps[0], (double)c.alpha[0],
            c.steps);
    nn_free(net);
    return rc;
}

/* A net before and after a rank projection, for numpy's SVD to redo. */
static int rank_case(const char *dir, const char *name, RankMode mode, double t, bool relative,
                     FILE *index)
{
    NetConfig cfg = {.n_in = D, .n_out = K, .n_hidden = 2, .hidden = {20, 16}};
    Net *net = nn_new(&cfg, 1);
    nn_init_params(net, 99);
    size_t bytes = net->n_params * sizeof(float);
    int rc = test_write_case(dir, name, "before.f32", net->params, bytes);
    if (rc == 0)
        rc = rank_project(net, &(RankEdit){mode, t, relative, .output = true}, NULL);
    if (rc == 0)
        rc = test_write_case(dir, name, "after.f32", net->params, bytes);
    fprintf(index, "{\"name\": \"%s\", \"dims\": [%d, 20, 16, %d], \"mode\": \"%s\", "
            "\"threshold\": %.17g, \"relative\": %s}", name, D, K,
            mode == RANK_MIN ? "min" : "max", t, relative ? "true" : "false");
    nn_free(net);
    return rc;
}


/* ---- convolutional nets (presets) ---------------------------------------------------- */

typedef struct {
    const char *name;
    Preset preset;
    int width;     /* convnet: width_mult w; resnet18: base width b (width_mult 1) */
    Shape in;      /* (C, H, W) */
    bool bn;
    int n;         /* samples */
    int pool;      /* NTK: > 0 measures with the batch statistics of `pool` other samples
                      (nn_set_batch_statistics, measure.ntk.batch_norm "data") */
} ConvCase;

static Net *conv_net(const ConvCase *c, int max_batch, uint64_t seed)
{
    NetConfig cfg = {.n_in = (int)shape_size(c->in), .n_out = K, .in_shape = c->in,
                     .act = ACT_RELU, .skip = true, .batch_norm = c->bn, .preset = c->preset,
                     .width_mult = c->preset == PRESET_CONVNET ? c->width : 1,
                     .base_width = c->preset == PRESET_RESNET18 ? c->width : 0};
    Net *net = nn_new(&cfg, max_batch);
    nn_init_params(net, seed);
    /* batch norm as after training: gamma, beta and running statistics away from their
     * initial 1, 0, 0, 1 (means small, so that ReLUs stay alive), so evaluation mode matters */
    RngStream r = rng_stream(rng_key(12, NULL, 0, RNG_DATA, seed));
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        if (op->d.kind != OP_BATCH_NORM)
            continue;
        const size_t C = op->n_p / 2;
        for (size_t o = 0; o < C; o++) {
            net->params[op->p + o] = (float)(0.5 + rng_uniform(&r));
            net->params[op->p + C + o] = (float)(0.4 * rng_uniform(&r) - 0.2);
            net->buffers[op->buf + o] = (float)(0.2 * rng_uniform(&r) - 0.1);
            net->buffers[op->buf + C + o] = (float)(0.5 + rng_uniform(&r));
        }
    }
    return net;
}

/* The description conv_reference.build reads, without the closing brace. */
static void conv_json(FILE *index, const ConvCase *c)
{
    fprintf(index, "{\"name\": \"%s\", \"arch\": \"%s\", \"in_shape\": [%d, %d, %d], "
            "\"n_in\": %d, \"n_out\": %d, \"width_mult\": %d, \"base_width\": %d, "
            "\"batch_norm\": %s, \"skip\": true, \"relu\": true, \"n\": %d",
            c->name, PRESET_NAMES[c->preset], c->in.c, c->in.h, c->in.w, (int)shape_size(c->in),
            K, c->preset == PRESET_CONVNET ? c->width : 1,
            c->preset == PRESET_RESNET18 ? c->width : 0, c->bn ? "true" : "false", c->n);
}

static int write_net(const char *dir, const char *name, const Net *net)
{
    return test_write_case(dir, name, "params.f32", net->params, net->n_params * sizeof(float)) ||
           test_write_case(dir, name, "buffers.f32", net->buffers, net->n_buffers * sizeof(float));
}

/* The empirical NTK of a conv net (ntk_kernel: the generic path). */
static int conv_ntk_case(const char *dir, const ConvCase *c, FILE *index, uint64_t seed)
{
    Net *net = conv_net(c, 1, seed);
    const int Din = net->cfg.n_in, m = c->n * K;
    float *x = malloc((size_t)c->n * Din * sizeof *x);
    double *ntk = malloc((size_t)m * m * sizeof *ntk);
    RngStream r = rng_stream(rng_key(13, NULL, 0, RNG_DATA, seed));
    for (int i = 0; i < c->n * Din; i++)
        x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    float *pool = malloc(((size_t)c->pool * Din + 1) * sizeof *pool);
    for (int i = 0; i < c->pool * Din; i++)
        pool[i] = (float)(1.5 * rng_uniform(&r) - 0.5); /* a mean away from 0 */
    int rc = c->pool ? nn_set_batch_statistics(net, pool, c->pool) : 0;
    if (rc == 0)
        rc = ntk_kernel(net, x, c->n, ntk);
    if (rc == 0)
        rc = write_net(dir, c->name, net) ||
             test_write_case(dir, c->name, "x.f32", x, (size_t)c->n * Din * sizeof *x) ||
             test_write_case(dir, c->name, "pool.f32", pool, (size_t)c->pool * Din * sizeof *x) ||
             test_write_case(dir, c->name, "ntk.f64", ntk, (size_t)m * m * sizeof *ntk);
    conv_json(index, c);
    fprintf(index, ", \"params\": %zu, \"factorised\": %s, \"pool\": %d}", net->n_params,
            ntk_factorised_applies(net) ? "true" : "false", c->pool);
    free(pool);
    free(x);
    free(ntk);
    nn_free(net);
    return rc;
}

/* The gradient and a Hessian-vector product of the mean cross-entropy of c->n samples,
 * in double with the R-operator (nn_r_forward / nn_r_backward, batch norm in evaluation
 * mode), as the certificate's pass computes them (regulariser 0). */
static int hvp_case(const char *dir, const ConvCase *c, FILE *index, uint64_t seed)
{
    Net *net = conv_net(c, c->n, seed);
    const int Din = net->cfg.n_in, B = c->n;
    const size_t P = net->n_params;
    double *theta = malloc(P * sizeof *theta), *v = malloc(P * sizeof *v);
    double *g = calloc(P, sizeof *g), *hv = calloc(P, sizeof *hv);
    double *x = malloc((size_t)B * Din * sizeof *x);
    uint8_t y[64];
    RngStream r = rng_stream(rng_key(14, NULL, 0, RNG_DATA, seed));
    for (size_t k = 0; k < P; k++) {
        theta[k] = (double)net->params[k];
        v[k] = rng_normal(&r);
    }
    for (int i = 0; i < B * Din; i++)
        x[i] = rng_normal(&r);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)rng_below(&r, K);
    NnRWork *w = nn_rwork_new(net, B);
    nn_r_forward(net, w, theta, v, x, B);
    const double *logits = w->act[net->out_slot], *rlogits = w->ract[net->out_slot];
    double *dout = w->grad[net->out_slot], *rdout = w->rgrad[net->out_slot], loss = 0;
    for (int i = 0; i < B; i++) { /* softmax cross-entropy and its R{}, as cert.c */
        const double *o = logits + (size_t)i * K, *ro = rlogits + (size_t)i * K;
        double mx = o[0], sum = 0, pr = 0;
        for (int k = 1; k < K; k++)
            mx = o[k] > mx ? o[k] : mx;
        for (int k = 0; k < K; k++)
            sum += exp(o[k] - mx);
        loss += log(sum) + mx - o[y[i]];
        for (int k = 0; k < K; k++) {
            double p = exp(o[k] - mx) / sum;
            dout[(size_t)i * K + k] = (p - (k == y[i])) / B;
            pr += p * ro[k];
        }
        for (int k = 0; k < K; k++)
            rdout[(size_t)i * K + k] = exp(o[k] - mx) / sum * (ro[k] - pr) / B;
    }
    nn_r_backward(net, w, theta, v, B, g, hv);
    int rc = write_net(dir, c->name, net) ||
             test_write_case(dir, c->name, "x.f64", x, (size_t)B * Din * sizeof *x) ||
             test_write_case(dir, c->name, "y.u8", y, (size_t)B) ||
             test_write_case(dir, c->name, "v.f64", v, P * sizeof *v) ||
             test_write_case(dir, c->name, "g.f64", g, P * sizeof *g) ||
             test_write_case(dir, c->name, "hv.f64", hv, P * sizeof *hv);
    conv_json(index, c);
    fprintf(index, ", \"params\": %zu, \"loss\": %.17g}", P, loss / B);
    nn_rwork_free(net, w);
    free(theta);
    free(v);
    free(g);
    free(hv);
    free(x);
    nn_free(net);
    return rc;
}

/* PGD on a conv net from a random start, and the input gradient at that start. With
 * per_channel, the inputs are a data set normalised per channel (each channel its own
 * range) and pgd_config gives every channel its own radius, step and clamp range. */
static int conv_pgd_case(const char *dir, const ConvCase *c, bool per_channel, FILE *index,
                         uint64_t seed)
{
    enum { MAXB = 16 };
    Net *net = conv_net(c, c->n, seed);
    const int Din = net->cfg.n_in, B = c->n, C = c->in.c, plane = Din / C;
    const size_t n = (size_t)B * Din;
    float *x = malloc(n * sizeof *x), *start = malloc(n * sizeof *x), *adv = malloc(n * sizeof *x);
    float *grad = malloc(n * sizeof *x), *g0 = malloc(n * sizeof *x);
    uint8_t y[MAXB];
    RngStream r = rng_stream(rng_key(15, NULL, 0, RNG_DATA, seed));
    for (size_t k = 0; k < n; k++) {
        const int ch = (int)((k % (size_t)Din) / (size_t)plane);
        /* per channel: pixels in [0, 1] standardised with channel statistics of their own */
        const double u = rng_uniform(&r);
        x[k] = per_channel ? (float)((u - 0.3 - 0.1 * ch) / (0.2 + 0.1 * ch)) : (float)u;
    }
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)rng_below(&r, K);
    PgdConfig pc;
    if (per_channel) {
        Dataset d = {.n = B, .d = Din, .classes = K, .x = x, .y = y, .borrowed = true, .c = C,
                     .h = c->in.h, .w = c->in.w, .norm = NORM_PER_CHANNEL};
        pc = pgd_config(&d, 0.05, 0.25, 6);
    } else {
        pc = pgd_config_uniform(0.1f, 0.025f, 6, 0.0f, 1.0f);
    }
    RngStream adv_rng = rng_stream(rng_key(16, NULL, 0, RNG_ADVERSARIAL, seed));
    pgd_random_start(x, n, &pc, &adv_rng, start);
    memcpy(adv, start, n * sizeof *adv);
    pgd_attack(net, x, y, B, &pc, adv, grad);
    nn_forward(net, start, B, false);
    nn_loss(net, y, B, NULL, true);
    nn_input_grad(net, B, g0);
    int rc = write_net(dir, c->name, net) || test_write_case(dir, c->name, "x.f32", x, n * sizeof *x) ||
             test_write_case(dir, c->name, "y.u8", y, (size_t)B) ||
             test_write_case(dir, c->name, "start.f32", start, n * sizeof *x) ||
             test_write_case(dir, c->name, "grad.f32", g0, n * sizeof *x) ||
             test_write_case(dir, c->name, "adv.f32", adv, n * sizeof *x);
    conv_json(index, c);
    fprintf(index, ", \"steps\": %d, \"channels\": %d", pc.steps, pc.channels);
    const char *key[4] = {"eps", "alpha", "lo", "hi"};
    const float *val[4] = {pc.eps, pc.alpha, pc.lo, pc.hi};
    for (int q = 0; q < 4; q++) {
        fprintf(index, ", \"%s\": [", key[q]);
        for (int ch = 0; ch < pc.channels; ch++)
            fprintf(index, "%s%.9g", ch ? ", " : "", (double)val[q][ch]);
        fprintf(index, "]");
    }
    fprintf(index, "}");
    free(x);
    free(start);
    free(adv);
    free(grad);
    free(g0);
    nn_free(net);
    return rc;
}

/* ---- the certificate on a tiny conv net: constructed saddles, a trained minimum ------ */

/* conv 3x3 (pad 1, SC_CH channels) [-> relu] -> flatten -> dense to SC_K classes, on
 * SC_N images (1, 5, 5): the class patterns below plus noise, classes of unequal size.
 * The minimum is trained on the net without the ReLU: with it, weight decay drives
 * gradient descent onto ReLU kinks (pre-activations exactly 0, where the loss is not
 * differentiable: ||grad|| stalls near 1e-4 and the fixed-pattern Hessian has negative
 * eigenvalues); its minima are not smooth points the certificate can certify. */
enum { SC_N = 40, SC_H = 5, SC_W = 5, SC_D = SC_H * SC_W, SC_CH = 1, SC_K = 3 };
static const int SC_COUNT[SC_K] = {20, 12, 8};

static NetConfig sc_config(bool relu)
{
    NetConfig cfg = {.n_in = SC_D, .n_out = SC_K, .in_shape = {1, SC_H, SC_W}};
    int n = 0;
    cfg.ops[n++] = (OpDesc){.kind = OP_CONV, .units = SC_CH, .kernel = 3, .stride = 1, .pad = 1};
    if (relu)
        cfg.ops[n++] = (OpDesc){.kind = OP_RELU};
    cfg.ops[n++] = (OpDesc){.kind = OP_FLATTEN};
    cfg.ops[n++] = (OpDesc){.kind = OP_DENSE, .units = SC_K};
    for (int i = 0; i < n; i++) /* a chain: op i reads slot i, writes slot i + 1 */
        cfg.ops[i].in[0] = i, cfg.ops[i].in[1] = -1, cfg.ops[i].out = i + 1;
    cfg.n_ops = n;
    return cfg;
}

/* x (SC_N, SC_D): class k's pattern sin(1.3 (k + 1) p) over pixels p, plus N(0, 0.5^2)
 * noise; y (SC_N): SC_COUNT[k] samples of class k, interleaved. */
static void sc_data(float *x, uint8_t *y)
{
    RngStream r = rng_stream(rng_key(17, NULL, 0, RNG_DATA, 0));
    int left[SC_K];
    memcpy(left, SC_COUNT, sizeof left);
    for (int i = 0; i < SC_N; i++) {
        int k = i % SC_K;
        while (left[k] == 0)
            k = (k + 1) % SC_K;
        left[k]--;
        y[i] = (uint8_t)k;
        for (int p = 0; p < SC_D; p++)
            x[(size_t)i * SC_D + p] = (float)(sin(1.3 * (k + 1) * p) + 0.5 * rng_normal(&r));
    }
}

/* The saddle: conv weights 0 and conv bias 0.5 (every ReLU strictly active, h = 0.5
 * for every sample), dense weights 0 and dense bias the class log-frequencies log f_k.
 * Every sample's softmax is then p = f, so with dL/dlogits = (p - y) / n:
 *   dL/db_out = mean(p - y) = f - f = 0;  dL/dW_out = mean((p - y) h^T) = 0.5 (f - f) = 0;
 *   dL/dh = W_out^T (p - y) = 0, hence dL/dW_conv = dL/db_conv = 0.
 * Stationary (up to the float rounding of log f_k). Not a minimum: the mixed block
 * d^2L / dW_out dW_conv = mean((p - y) x_patch^T) is non-zero when the inputs correlate
 * with the labels, while the W_conv block is 0 (W_out = 0), so the Hessian
 * [[A, C], [C^T, 0]] has a negative eigenvalue. */
static void sc_saddle(Net *net)
{
    memset(net->params, 0, net->n_params * sizeof *net->params);
    const Op *conv = &net->ops[0], *out = &net->ops[net->n_ops - 1];
    for (int o = 0; o < SC_CH; o++)
        net->params[conv->p + (size_t)SC_CH * 9 + o] = 0.5f; /* conv b after W (O, 1, 3, 3) */
    for (int k = 0; k < SC_K; k++)
        net->params[out->p + (size_t)SC_K * SC_CH * SC_D + k] = (float)log((double)SC_COUNT[k] / SC_N);
}

/* The minimum: full-batch gradient descent with heavy-ball momentum on the mean
 * cross-entropy + (lambda/2) ||theta||^2, in double (nn_r_forward / nn_r_backward) from
 * nn_init_params, until ||grad|| < 1e-12; then rounded to the net's float parameters.
 * Returns the steps taken, or -1 if it did not converge. */
static int sc_train(Net *net, const float *xf, const uint8_t *y, double lambda)
{
    enum { MAX_STEPS = 20000 };
    const double lr = 1.0, momentum = 0.9;
    const size_t P = net->n_params;
    double *theta = malloc(P * sizeof *theta), *vel = calloc(P, sizeof *vel);
    double *g = malloc(P * sizeof *g), *x = malloc((size_t)SC_N * SC_D * sizeof *x);
    NnRWork *w = nn_rwork_new(net, SC_N);
    for (size_t k = 0; k < P; k++)
        theta[k] = (double)net->params[k];
    for (int i = 0; i < SC_N * SC_D; i++)
        x[i] = (double)xf[i];
    int steps = -1;
    for (int s = 0; s < MAX_STEPS; s++) {
        nn_r_forward(net, w, theta, NULL, x, SC_N);
        const double *logits = w->act[net->out_slot];
        double *dout = w->grad[net->out_slot];
        for (int i = 0; i < SC_N; i++) { /* dL/dlogits = (softmax - onehot) / n */
            const double *o = logits + (size_t)i * SC_K;
            double mx = o[0], sum = 0;
            for (int k = 1; k < SC_K; k++)
                mx = o[k] > mx ? o[k] : mx;
            for (int k = 0; k < SC_K; k++)
                sum += exp(o[k] - mx);
            for (int k = 0; k < SC_K; k++)
                dout[(size_t)i * SC_K + k] = (exp(o[k] - mx) / sum - (k == y[i])) / SC_N;
        }
        memset(g, 0, P * sizeof *g);
        nn_r_backward(net, w, theta, NULL, SC_N, g, NULL);
        double gn = 0;
        for (size_t k = 0; k < P; k++) {
            g[k] += lambda * theta[k];
            gn += g[k] * g[k];
        }
        if (sqrt(gn) < 1e-12) {
            steps = s;
            break;
        }
        for (size_t k = 0; k < P; k++) {
            vel[k] = momentum * vel[k] - lr * g[k];
            theta[k] += vel[k];
        }
    }
    for (size_t k = 0; k < P; k++)
        net->params[k] = (float)theta[k];
    nn_rwork_free(net, w);
    free(theta);
    free(vel);
    free(g);
    free(x);
    return steps;
}

/* The certificate, with Lanczos run for P iterations (exact on these tiny nets), of the
 * saddle on the ReLU net (every ReLU strictly active), the saddle on the net without
 * ReLU, and the trained minimum of the latter (weight decay 1e-2). The minimum must be
 * certified (||grad|| < tol, lambda_min >= -tol |lambda_max|); the saddles, as
 * stationary, must not be (lambda_min < -1e-3 |lambda_max|). The weights go to
 * tests/instrument_reference.py, which redoes gradient and dense Hessian with PyTorch.
 * Returns 0, or 1 (with a message) on failure. */
static int cert_conv_cases(const char *dir, FILE *index)
{
    static const struct {
        const char *name;
        bool relu, saddle;
    } CC[] = {
        {"cert_conv_saddle", true, true},
        {"cert_conv_lin_saddle", false, true},
        {"cert_conv_lin_min", false, false},
    };
    const double tol = 1e-6, lambda = 1e-2;
    static float x[SC_N * SC_D];
    static uint8_t y[SC_N];
    sc_data(x, y);
    Dataset d = {.n = SC_N, .d = SC_D, .classes = SC_K, .x = x, .y = y, .borrowed = true, .c = 1,
                 .h = SC_H, .w = SC_W};
    int rc = 0;
    for (int q = 0; q < (int)(sizeof CC / sizeof CC[0]) && rc == 0; q++) {
        const char *name = CC[q].name;
        const bool saddle = CC[q].saddle;
        const double lam = saddle ? 0.0 : lambda;
        NetConfig cfg = sc_config(CC[q].relu);
        Net *net = nn_new(&cfg, 1);
        int steps = 0;
        if (saddle) {
            sc_saddle(net);
        } else {
            nn_init_params(net, 23);
            steps = sc_train(net, x, y, lam);
        }
        Certificate ct;
        double neg[2];
        if (cert_measure(net, &d, 0, lam, 0.0, (int)net->n_params, 0, 5, &ct, neg) != 0) {
            fprintf(stderr, "%s: cert_measure failed\n", name);
            nn_free(net);
            return 1;
        }
        const double lmax = fabs(ct.hess_max_abs);
        const bool certified = ct.grad_norm < tol && ct.hess_min >= -tol * lmax;
        bool ok = saddle ? ct.grad_norm < tol && !certified && ct.hess_min < -1e-3 * lmax
                         : steps >= 0 && certified;
        if (CC[q].relu) /* linear on the data: no ReLU input at or below 0 */
            ok = ok && neg[0] == 0;
        printf("%s P=%zu lambda=%g, %s: ||grad|| %.3e, lambda_max_abs %.6g, lambda_min %.6g "
               "(%.3e x |lambda_max|), %d Lanczos steps", name, net->n_params, lam,
               saddle ? "constructed" : "trained", ct.grad_norm, ct.hess_max_abs, ct.hess_min,
               ct.hess_min / lmax, ct.hess_iterations);
        if (CC[q].relu)
            printf(", ReLU negative fraction %g", neg[0]);
        if (!saddle)
            printf(", %d steps of full-batch gradient descent", steps);
        printf(": %s  %s\n", certified ? "certified minimum" : "not certified", ok ? "ok" : "FAIL");
        if (!ok)
            rc = 1;
        if (write_net(dir, name, net) || test_write_case(dir, name, "x.f32", x, sizeof x) ||
            test_write_case(dir, name, "y.u8", y, sizeof y))
            rc = 1;
        fprintf(index, "%s{\"name\": \"%s\", \"relu\": %s, \"saddle\": %s, \"in_shape\": [1, %d, %d], "
                "\"channels\": %d, \"kernel\": 3, \"pad\": 1, \"n_out\": %d, \"n\": %d, "
                "\"lambda\": %.17g, \"grad_norm\": %.17g, \"hess_max_abs\": %.17g, "
                "\"hess_min\": %.17g, \"iterations\": %d, \"params\": %zu, \"neg_frac\": %.17g}",
                q ? ",\n" : "", name, CC[q].relu ? "true" : "false", saddle ? "true" : "false",
                SC_H, SC_W, SC_CH, SC_K, SC_N, lam, ct.grad_norm, ct.hess_max_abs, ct.hess_min,
                ct.hess_iterations, net->n_params, CC[q].relu ? neg[0] : -1.0);
        nn_free(net);
    }
    return rc;
}

static const ConvCase CONV_NTK[] = {
    {"ntk_convnet_bn", PRESET_CONVNET, 2, {3, 9, 9}, true, 4, 0},
    {"ntk_convnet", PRESET_CONVNET, 2, {1, 12, 12}, false, 3, 0},
    {"ntk_resnet_bn", PRESET_RESNET18, 2, {3, 8, 8}, true, 3, 0},
    {"ntk_resnet_bn_data", PRESET_RESNET18, 2, {3, 8, 8}, true, 3, 7},
    {"ntk_convnet_bn_data", PRESET_CONVNET, 2, {3, 9, 9}, true, 4, 5},
};
static const ConvCase CONV_HVP[] = {
    {"hvp_convnet_bn", PRESET_CONVNET, 2, {3, 9, 9}, true, 12, 0},
    {"hvp_resnet_bn", PRESET_RESNET18, 2, {3, 8, 8}, true, 8, 0},
};
static const ConvCase CONV_PGD[] = {
    {"pgd_convnet_bn", PRESET_CONVNET, 2, {3, 9, 9}, true, 12, 0},
    {"pgd_resnet_pc", PRESET_RESNET18, 2, {3, 8, 8}, true, 12, 0},
};

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: instrument_cases OUTDIR\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.json", argv[1]);
    FILE *index = fopen(path, "w");
    if (!index) {
        perror(path);
        return 1;
    }
    fprintf(index, "{\"ntk\": [\n");
    int rc = 0;
    for (int k = 0; k < (int)(sizeof CASES / sizeof CASES[0]) && rc == 0; k++)
        rc = run_case(argv[1], &CASES[k], index, k);
    for (int k = 0; k < (int)(sizeof CONV_NTK / sizeof CONV_NTK[0]) && rc == 0; k++) {
        fprintf(index, ",\n");
        rc = conv_ntk_case(argv[1], &CONV_NTK[k], index, 40 + (uint64_t)k);
    }
    fprintf(index, "\n],\n\"rank\": [\n");
    if (rc == 0)
        rc = rank_case(argv[1], "rankmin", RANK_MIN, 0.5, true, index);
    fprintf(index, ",\n");
    if (rc == 0)
        rc = rank_case(argv[1], "rankmax", RANK_MAX, 0.3, false, index);
    fprintf(index, "\n],\n\"pgd\": [\n");
    if (rc == 0)
        rc = pgd_case(argv[1], "pgd_plain", false, false, index);
    fprintf(index, ",\n");
    if (rc == 0)
        rc = pgd_case(argv[1], "pgd_bn_skip", true, true, index);
    for (int k = 0; k < (int)(sizeof CONV_PGD / sizeof CONV_PGD[0]) && rc == 0; k++) {
        fprintf(index, ",\n");
        rc = conv_pgd_case(argv[1], &CONV_PGD[k], k == 1, index, 60 + (uint64_t)k);
    }
    fprintf(index, "\n],\n\"hvp\": [\n");
    for (int k = 0; k < (int)(sizeof CONV_HVP / sizeof CONV_HVP[0]) && rc == 0; k++) {
        fprintf(index, "%s", k ? ",\n" : "");
        rc = hvp_case(argv[1], &CONV_HVP[k], index, 50 + (uint64_t)k);
    }
    fprintf(index, "\n],\n\"cert\": [\n");
    if (rc == 0)
        rc = cert_case(argv[1], "cert_relu", 8, 0, true, false, false, 0.01, 0.0, index);
    fprintf(index, ",\n");
    if (rc == 0)
        rc = cert_case(argv[1], "cert_skip_nb", 6, 6, true, true, false, 0.05, 3.0, index);
    fprintf(index, ",\n");
    if (rc == 0) /* batch norm in evaluation mode, with a skip */
        rc = cert_case(argv[1], "cert_bn_skip", 6, 6, true, true, true, 0.01, 0.0, index);
    fprintf(index, ",\n");
    if (rc == 0)
        rc = cert_case(argv[1], "cert_linear", 5, 0, false, false, false, 0.0, 0.0, index);
    fprintf(index, "\n],\n\"cert_conv\": [\n");
    if (rc == 0)
        rc = cert_conv_cases(argv[1], index);
    fprintf(index, "\n]}\n");
    if (fclose(index) != 0)
        rc = 1;
    return rc ? 1 : 0;
}
