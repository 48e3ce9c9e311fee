/* Writes cases for tests/instrument_reference.py: small nets with bpsweep's parameters
 * and batch-norm statistics, inputs, and what bpsweep's instruments compute on them
 * (the empirical NTK; RankMin / RankMax projections). PyTorch and numpy recompute each
 * from the same weights and compare.
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

static int write_file(const char *dir, const char *name, const char *what, const void *v,
                      size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, what);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(v, 1, bytes, f) != bytes || fclose(f) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

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
        rc = write_file(dir, c->name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             write_file(dir, c->name, "buffers.f32", net->buffers,
                        net->n_buffers * sizeof(float)) ||
             write_file(dir, c->name, "x.f32", x, (size_t)c->n * D * sizeof *x) ||
             write_file(dir, c->name, "ntk.f64", ntk, (size_t)m * m * sizeof *ntk);
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
    int rc = cert_measure(net, &d, 0, lambda, c, (int)net->n_params, 3, &ct, neg);
    if (rc == 0)
        rc = write_file(dir, name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             write_file(dir, name, "buffers.f32", net->buffers, net->n_buffers * sizeof(float)) ||
             write_file(dir, name, "x.f32", x, sizeof x) || write_file(dir, name, "y.u8", y, sizeof y);
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
    int rc = write_file(dir, name, "params.f32", net->params, net->n_params * sizeof(float)) ||
             write_file(dir, name, "buffers.f32", net->buffers, net->n_buffers * sizeof(float)) ||
             write_file(dir, name, "x.f32", x, sizeof x) || write_file(dir, name, "y.u8", y, sizeof y) ||
             write_file(dir, name, "start.f32", start, sizeof start) ||
             write_file(dir, name, "grad.f32", g0, sizeof g0) ||
             write_file(dir, name, "adv.f32", adv, sizeof adv);
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
    int rc = write_file(dir, name, "before.f32", net->params, bytes);
    if (rc == 0)
        rc = rank_project(net, mode, t, relative);
    if (rc == 0)
        rc = write_file(dir, name, "after.f32", net->params, bytes);
    fprintf(index, "{\"name\": \"%s\", \"dims\": [%d, 20, 16, %d], \"mode\": \"%s\", "
            "\"threshold\": %.17g, \"relative\": %s}", name, D, K,
            mode == RANK_MIN ? "min" : "max", t, relative ? "true" : "false");
    nn_free(net);
    return rc;
}

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
    fprintf(index, "\n]}\n");
    if (fclose(index) != 0)
        rc = 1;
    return rc ? 1 : 0;
}
