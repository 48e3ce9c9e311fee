/* Training throughput of bpsweep's trainer and its GEMM-bound efficiency.
 *
 * For each MLP: trains epochs of in-memory random data through trainer_epoch
 * (shuffle, batch gather, forward, backward, SGD update), and times OpenBLAS sgemm
 * alone on exactly the GEMM shapes one training step issues. Prints one line per
 * net:
 *   mlp <dims> batch <B> samples_per_s <x> step_ms <x> gemm_ms <x> gemm_efficiency <x>
 * where gemm_ms is the time the step's GEMMs take at their measured rates and
 * gemm_efficiency = gemm_ms / step_ms. Both times are medians of means (step: over
 * epochs of 20 steps; GEMM: over trials of >= 0.1 s), so the noise of a shared machine
 * weighs on both alike. best_* use the fastest epoch and the fastest trial instead.
 *
 * usage: bench_mlp [--steps N] D H1 ... K   (default: both benchmark nets) */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/rng.h"
#include "bpsweep/train.h"

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k;
} Gemm;

/* The GEMMs of one step, in the order nn.c issues them (see nn_forward/nn_backward). */
static int step_gemms(const NetConfig *c, int B, Gemm *g)
{
    int n = 0, in = c->n_in;
    int L = c->n_hidden + 1;
    int dims[NN_MAX_HIDDEN + 2];
    for (int l = 0; l < L; l++) {
        int out = l < c->n_hidden ? c->hidden[l] : c->n_out;
        dims[l] = in;
        g[n++] = (Gemm){CblasNoTrans, CblasTrans, B, out, in}; /* z = x W^T */
        in = out;
    }
    for (int l = L - 1; l >= 0; l--) {
        int out = l < c->n_hidden ? c->hidden[l] : c->n_out;
        g[n++] = (Gemm){CblasTrans, CblasNoTrans, out, dims[l], B}; /* dW = dz^T x */
        if (l > 0)
            g[n++] = (Gemm){CblasNoTrans, CblasNoTrans, B, dims[l], out}; /* dx = dz W */
    }
    return n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define TRIALS 7

/* Seconds per call of one GEMM shape: the median over TRIALS trials of the mean time
 * per call in a loop of at least 0.1 s - the same statistic as the step time, so the
 * machine's noise weighs on both alike. */
static double time_gemm(const Gemm *g, double *best)
{
    size_t na = (size_t)g->m * (size_t)g->k, nb = (size_t)g->k * (size_t)g->n;
    float *a = xalloc_aligned(na * sizeof(float)), *b = xalloc_aligned(nb * sizeof(float));
    float *c = xalloc_aligned((size_t)g->m * (size_t)g->n * sizeof(float));
    for (size_t i = 0; i < na; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < nb; i++)
        b[i] = (float)(i % 5) * 0.1f;
    int lda = g->ta == CblasNoTrans ? g->k : g->m;
    int ldb = g->tb == CblasNoTrans ? g->n : g->k;
    double trial[TRIALS];
    for (int t = 0; t < TRIALS; t++) {
        double t0 = bps_now(), dt;
        long calls = 0;
        do {
            cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a, lda, b, ldb, 0.0f,
                        c, g->n);
            calls++;
        } while ((dt = bps_now() - t0) < 0.1);
        trial[t] = dt / (double)calls;
    }
    free(a);
    free(b);
    free(c);
    double m = median(trial, TRIALS); /* sorts trial */
    *best = trial[0];
    return m;
}

static void bench(const NetConfig *net, int batch, int steps)
{
    TrainConfig cfg = {0};
    cfg.batch_size = batch;
    cfg.lr = 0.01;
    cfg.momentum = 0.9;
    cfg.weight_decay = 5e-4;
    cfg.shuffle = true;
    cfg.gamma = 0.1;
    int per_epoch = 20;
    cfg.epochs = 1 + (steps + per_epoch - 1) / per_epoch;
    Dataset train = {0};
    train.n = batch * per_epoch;
    train.d = net->n_in;
    train.classes = net->n_out;
    train.x = xalloc_aligned((size_t)train.n * (size_t)train.d * sizeof(float));
    train.y = xmalloc((size_t)train.n);
    RngStream r = rng_stream(7);
    for (size_t i = 0; i < (size_t)train.n * (size_t)train.d; i++)
        train.x[i] = (float)rng_normal(&r);
    for (int i = 0; i < train.n; i++)
        train.y[i] = (uint8_t)rng_below(&r, (uint64_t)train.classes);

    Trainer *t = trainer_new(net, &cfg, 1);
    trainer_epoch(t, &train, NULL); /* warm-up */
    /* per-step time of each epoch (per_epoch steps); the median epoch counts */
    double epoch_step[256];
    int n_epochs = 0;
    while (!trainer_finished(t) && n_epochs < 256) {
        uint64_t s0 = t->step;
        double t0 = bps_now();
        trainer_epoch(t, &train, NULL);
        epoch_step[n_epochs++] = (bps_now() - t0) / (double)(t->step - s0);
    }
    double step_s = median(epoch_step, n_epochs), step_best = epoch_step[0];

    Gemm g[4 * NN_MAX_HIDDEN];
    int ng = step_gemms(net, batch, g);
    double gemm_s = 0, gemm_best = 0;
    for (int i = 0; i < ng; i++) {
        double best;
        double dt = time_gemm(&g[i], &best);
        gemm_best += best;
        if (getenv("BENCH_VERBOSE"))
            printf("  gemm %c%c m %d n %d k %d: %.4f ms, %.1f GFLOP/s\n",
                   g[i].ta == CblasTrans ? 'T' : 'N', g[i].tb == CblasTrans ? 'T' : 'N', g[i].m,
                   g[i].n, g[i].k, dt * 1e3, 2.0 * g[i].m * g[i].n * g[i].k / dt * 1e-9);
        gemm_s += dt;
    }

    printf("mlp %d", net->n_in);
    for (int l = 0; l < net->n_hidden; l++)
        printf("-%d", net->hidden[l]);
    printf("-%d batch %d samples_per_s %.1f step_ms %.4f gemm_ms %.4f gemm_efficiency %.4f "
           "best_step_ms %.4f best_gemm_ms %.4f best_efficiency %.4f\n",
           net->n_out, batch, batch / step_s, step_s * 1e3, gemm_s * 1e3, gemm_s / step_s,
           step_best * 1e3, gemm_best * 1e3, gemm_best / step_best);
    fflush(stdout);
    trainer_free(t);
    dataset_free(&train);
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    int steps = 300, batch = 128, a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--steps") == 0) {
        steps = atoi(argv[a + 1]);
        a += 2;
    }
    if (a < argc) {
        NetConfig c = {0};
        c.act = ACT_RELU;
        c.n_in = atoi(argv[a]);
        c.n_out = atoi(argv[argc - 1]);
        for (int i = a + 1; i < argc - 1; i++)
            c.hidden[c.n_hidden++] = atoi(argv[i]);
        bench(&c, batch, steps);
        return 0;
    }
    NetConfig large = {.n_in = 784, .n_out = 10, .n_hidden = 2, .hidden = {1024, 1024}};
    NetConfig small = {.n_in = 784, .n_out = 10, .n_hidden = 2, .hidden = {256, 256}};
    bench(&large, batch, steps);
    bench(&small, batch, steps * 4);
    return 0;
}
