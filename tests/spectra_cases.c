/* Writes cases for tests/spectra_numpy.py: convolution kernels, bpsweep's singular values
 * of their circular operators (conv_spectrum_values) and of the zero-padded ones
 * (conv_spectrum_dense), and the kernels after RankMin / RankMax on the operator
 * (rank_project_conv, and rank_project on a small conv net) with the recorded
 * changed_fraction and restrict_distance. numpy recomputes each from the same kernels.
 *   usage: spectra_cases OUTDIR
 * OUTDIR/index.json lists the cases; per case NAME: NAME.kernel.f32 (O, C, k, k),
 * NAME.spectrum.f64 (count, descending), NAME.dense.f64 (dense_count, descending),
 * NAME.TAG.f32 (O, C, k, k) the kernel after projection TAG; the net: net.before.f32,
 * net.TAG.f32 (n_params). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/conv_spectrum.h"
#include "bpsweep/nn.h"
#include "bpsweep/rank.h"

#include "test_util.h"

typedef struct {
    const char *name;
    int O, C, k, stride, pad, n, m; /* W (O, C, k, k) on input (C, n, m) */
    bool project;                   /* run rank_project_conv (stride 1 only) */
} Case;

static const Case CASES[] = {
    {"c2to3_6x6", 3, 2, 3, 1, 1, 6, 6, true},
    {"c4to4_8x8", 4, 4, 3, 1, 1, 8, 8, true},
    {"c3to5_5x7", 5, 3, 3, 1, 1, 5, 7, true},
    {"c2to3_s2_8x6", 3, 2, 3, 2, 1, 8, 6, false},
    {"c6to4_k1_4x4", 4, 6, 1, 1, 0, 4, 4, true},
    {"c3to2_k5_4x4", 2, 3, 5, 1, 2, 4, 4, true}, /* k > n: spectrum wraps, projection refuses */
};

typedef struct {
    const char *tag;
    RankMode mode;
    double threshold;
    bool relative;
} Projection;

/* The last three never change a value: RankMin above every value zeroes the kernel,
 * RankMax above the largest leaves it bit-identical. */
static const Projection PROJECTIONS[] = {
    {"min_rel", RANK_MIN, 0.5, true},   {"max_rel", RANK_MAX, 0.3, true},
    {"min_abs", RANK_MIN, 1.0, false},  {"max_abs", RANK_MAX, 1.0, false},
    {"min_all", RANK_MIN, 1.5, true},   {"max_none", RANK_MAX, 1.5, true},
    {"max_none_abs", RANK_MAX, 1e6, false},
};
enum { N_PROJECTIONS = sizeof PROJECTIONS / sizeof PROJECTIONS[0] };

/* NaN is not JSON, but Python's json module reads it. */
static void print_double(FILE *f, double x)
{
    if (isnan(x))
        fputs("NaN", f);
    else
        fprintf(f, "%.17g", x);
}

static void print_projection(FILE *index, const Projection *p, int rc, RankEffect e, int i)
{
    fprintf(index, "%s\n    {\"tag\": \"%s\", \"mode\": \"%s\", \"threshold\": %.17g, "
                   "\"relative\": %s, \"rc\": %d, \"changed_fraction\": ",
            i ? "," : "", p->tag, p->mode == RANK_MIN ? "min" : "max", p->threshold,
            p->relative ? "true" : "false", rc);
    print_double(index, e.changed_fraction);
    fputs(", \"restrict_distance\": ", index);
    print_double(index, e.restrict_distance);
    fputs("}", index);
}

static int run_case(const char *dir, const Case *c, FILE *index, int ci)
{
    BpsErr err = {0};
    const size_t nw = (size_t)c->O * (size_t)c->C * (size_t)c->k * (size_t)c->k;
    const size_t count = conv_spectrum_count(c->O, c->C, c->stride, c->n, c->m);
    float *W = xmalloc(nw * sizeof *W), *Wp = xmalloc(nw * sizeof *Wp);
    double *sv = xmalloc(count * sizeof *sv);
    double *dense = xmalloc(CONV_SPECTRUM_DENSE_MAX * sizeof *dense);
    size_t dense_count = 0;
    int rc = -1;
    test_fill_uniform(W, nw, 1000u + (unsigned)ci);
    if (conv_spectrum_values(W, c->O, c->C, c->k, c->stride, c->n, c->m, sv, &err) ||
        conv_spectrum_dense(W, c->O, c->C, c->k, c->stride, c->pad, c->n, c->m, dense,
                            &dense_count, &err)) {
        fprintf(stderr, "%s: %s\n", c->name, err.msg);
        goto fail;
    }
    if (test_write_case(dir, c->name, "kernel.f32", W, nw * sizeof *W) ||
        test_write_case(dir, c->name, "spectrum.f64", sv, count * sizeof *sv) ||
        test_write_case(dir, c->name, "dense.f64", dense, dense_count * sizeof *dense))
        goto fail;
    fprintf(index,
            "%s\n  {\"name\": \"%s\", \"O\": %d, \"C\": %d, \"k\": %d, \"stride\": %d, "
            "\"pad\": %d, \"n\": %d, \"m\": %d, \"count\": %zu, \"dense_count\": %zu, "
            "\"projections\": [",
            ci ? "," : "", c->name, c->O, c->C, c->k, c->stride, c->pad, c->n, c->m, count,
            dense_count);
    for (int i = 0; c->project && i < N_PROJECTIONS; i++) {
        const Projection *p = &PROJECTIONS[i];
        RankEffect e = {NAN, NAN};
        memcpy(Wp, W, nw * sizeof *W);
        const int prc = rank_project_conv(Wp, c->O, c->C, c->k, c->n, c->m, p->mode,
                                          p->threshold, p->relative, &e);
        if (prc < 0) {
            fprintf(stderr, "%s: rank_project_conv %s failed\n", c->name, p->tag);
            goto fail;
        }
        char what[64];
        snprintf(what, sizeof what, "%s.f32", p->tag);
        if (test_write_case(dir, c->name, what, Wp, nw * sizeof *Wp))
            goto fail;
        print_projection(index, p, prc, e, i);
    }
    fputs("]}", index);
    rc = 0;
fail:
    free(W);
    free(Wp);
    free(sv);
    free(dense);
    return rc;
}

/* A conv net on (2, 5, 7) inputs, op i writing slot i + 1:
 *   0 conv 2->3 k3 pad 1 (layer 0: never projected)  1 relu
 *   2 conv 3->4 k3 pad 1 (layer 1: by its operator at 5x7)  3 relu  4 flatten
 *   5 dense 140->3 (layer 2: the matrix) */
static int run_net(const char *dir, FILE *index)
{
    NetConfig cfg = {.n_in = 70, .n_out = 3, .in_shape = {2, 5, 7}, .act = ACT_RELU};
    OpDesc *o = cfg.ops;
    o[0] = (OpDesc){.kind = OP_CONV, .in = {0, -1}, .units = 3, .kernel = 3, .stride = 1,
                    .pad = 1};
    o[1] = (OpDesc){.kind = OP_RELU, .in = {1, -1}};
    o[2] = (OpDesc){.kind = OP_CONV, .in = {2, -1}, .units = 4, .kernel = 3, .stride = 1,
                    .pad = 1};
    o[3] = (OpDesc){.kind = OP_RELU, .in = {3, -1}};
    o[4] = (OpDesc){.kind = OP_FLATTEN, .in = {4, -1}};
    o[5] = (OpDesc){.kind = OP_DENSE, .in = {5, -1}, .units = 3};
    cfg.n_ops = 6;
    for (int i = 0; i < cfg.n_ops; i++)
        o[i].out = i + 1;
    Net *net = nn_new(&cfg, 4);
    if (!net) {
        fprintf(stderr, "net: nn_new failed\n");
        return -1;
    }
    nn_init_params(net, 4242);
    const size_t bytes = net->n_params * sizeof *net->params;
    float *before = xmalloc(bytes);
    RankEffect *eff = xmalloc((size_t)net->n_layers * sizeof *eff);
    int rc = -1;
    if (test_write_case(dir, "net", "before.f32", net->params, bytes))
        goto fail;
    memcpy(before, net->params, bytes);
    fprintf(index, "\n ],\n \"net\": {\"n_params\": %zu, \"layers\": [", net->n_params);
    for (int l = 0; l < net->n_layers; l++) {
        const NnLayer *ly = &net->layers[l];
        const Op *op = &net->ops[ly->op];
        fprintf(index,
                "%s\n  {\"kind\": \"%s\", \"w\": %zu, \"b\": %zu, \"out\": %d, \"in\": %d, "
                "\"C\": %d, \"k\": %d, \"stride\": %d, \"n\": %d, \"m\": %d}",
                l ? "," : "", op->d.kind == OP_CONV ? "conv" : "dense", ly->w, ly->b, ly->out,
                ly->in, op->in_shape.c, op->d.kernel, op->d.stride, op->in_shape.h,
                op->in_shape.w);
    }
    fputs("],\n  \"projections\": [", index);
    for (int i = 0; i < 2; i++) { /* min_rel and max_rel */
        const Projection *p = &PROJECTIONS[i];
        memcpy(net->params, before, bytes);
        const int prc = rank_project(
            net, &(RankEdit){p->mode, p->threshold, p->relative, .output = true}, eff);
        char what[64];
        snprintf(what, sizeof what, "%s.f32", p->tag);
        if (prc != 0 || test_write_case(dir, "net", what, net->params, bytes)) {
            fprintf(stderr, "net: rank_project %s failed\n", p->tag);
            goto fail;
        }
        fprintf(index, "%s\n   {\"tag\": \"%s\", \"mode\": \"%s\", \"threshold\": %.17g, "
                       "\"relative\": %s, \"effects\": [",
                i ? "," : "", p->tag, p->mode == RANK_MIN ? "min" : "max", p->threshold,
                p->relative ? "true" : "false");
        for (int l = 0; l < net->n_layers; l++) {
            fputs(l ? ", [" : "[", index);
            print_double(index, eff[l].changed_fraction);
            fputs(", ", index);
            print_double(index, eff[l].restrict_distance);
            fputs("]", index);
        }
        fputs("]}", index);
    }
    fputs("]}\n}\n", index);
    rc = 0;
fail:
    free(before);
    free(eff);
    nn_free(net);
    return rc;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/index.json", argv[1]);
    FILE *index = fopen(path, "w");
    if (!index) {
        perror(path);
        return 1;
    }
    int rc = 0;
    fputs("{\"cases\": [", index);
    for (int i = 0; i < (int)(sizeof CASES / sizeof CASES[0]) && rc == 0; i++)
        rc = run_case(argv[1], &CASES[i], index, i);
    if (rc == 0)
        rc = run_net(argv[1], index);
    if (fclose(index) != 0) {
        perror(path);
        rc = -1;
    }
    return rc ? 1 : 0;
}
