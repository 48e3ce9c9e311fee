/* Training throughput of bpsweep's trainer on convolutional presets, its GEMM-bound
 * efficiency and where the step's time goes.
 *
 * For each net: trains epochs of in-memory random images through trainer_epoch (shuffle,
 * batch gather, forward, backward, SGD update with momentum and weight decay). Every
 * cblas_sgemm call of one training step is recorded (the link wraps cblas_sgemm, see
 * bench/CMakeLists.txt) and then timed alone, so gemm_ms is what the step's GEMMs take at
 * the rates OpenBLAS sustains on exactly those shapes, and gemm_efficiency = gemm_ms /
 * step_ms. A last pass times each op's forward and backward (GEMMs included) by kind,
 * and the rest of the step (loss, update, gather) by difference. Prints:
 *   conv <name> batch <B> samples_per_s <x> step_ms <x> gemm_ms <x> gemm_efficiency <x>
 *        gemms <n>
 *   time <kind> fwd_ms <x> bwd_ms <x> gemm_ms <x>      (one line per op kind)
 * Times are medians (steps: of epochs of 10 steps; GEMMs: of 5 trials of >= 0.05 s).
 *
 * usage: bench_conv [--steps N] convnet|resnet18 WIDTH BASE C H W */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/rng.h"
#include "bpsweep/train.h"

/* ---- the recorder of cblas_sgemm calls ----------------------------------------------- */

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k;
} Gemm;

#define MAX_GEMMS 100000
static Gemm g_rec[MAX_GEMMS];
static int g_n_rec;
static bool g_recording;
static double g_gemm_s; /* time inside sgemm while timing ops */
static bool g_timing;

void __real_cblas_sgemm(CBLAS_ORDER o, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m,
                        blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc);
void __wrap_cblas_sgemm(CBLAS_ORDER o, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m,
                        blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc);
void __wrap_cblas_sgemm(CBLAS_ORDER o, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m,
                        blasint n, blasint k, float alpha, const float *a, blasint lda,
                        const float *b, blasint ldb, float beta, float *c, blasint ldc)
{
    if (g_recording && g_n_rec < MAX_GEMMS)
        g_rec[g_n_rec++] = (Gemm){ta, tb, (int)m, (int)n, (int)k};
    double t0 = g_timing ? bps_now() : 0;
    __real_cblas_sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (g_timing)
        g_gemm_s += bps_now() - t0;
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

static int cmp_gemm(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(Gemm));
}

/* Seconds per call of one GEMM shape: the median of 5 trials of >= 0.05 s each. */
static double time_gemm(const Gemm *g)
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
    double trial[5];
    for (int t = 0; t < 5; t++) {
        double t0 = bps_now(), dt;
        long calls = 0;
        do {
            __real_cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, g->n, g->k, 1.0f, a, lda, b,
                               ldb, 1.0f, c, g->n);
            calls++;
        } while ((dt = bps_now() - t0) < 0.05);
        trial[t] = dt / (double)calls;
    }
    free(a);
    free(b);
    free(c);
    return median(trial, 5);
}

/* The time of the recorded GEMMs at their measured rates: distinct shapes timed once. */
static double recorded_gemm_seconds(void)
{
    Gemm *s = xmalloc((size_t)g_n_rec * sizeof *s);
    memcpy(s, g_rec, (size_t)g_n_rec * sizeof *s);
    qsort(s, (size_t)g_n_rec, sizeof *s, cmp_gemm);
    double total = 0;
    for (int i = 0; i < g_n_rec;) {
        int j = i;
        while (j < g_n_rec && cmp_gemm(&s[i], &s[j]) == 0)
            j++;
        double dt = time_gemm(&s[i]);
        if (getenv("BENCH_VERBOSE"))
            printf("  gemm %c%c m %d n %d k %d x%d: %.4f ms each, %.1f GFLOP/s\n",
                   s[i].ta == CblasTrans ? 'T' : 'N', s[i].tb == CblasTrans ? 'T' : 'N', s[i].m,
                   s[i].n, s[i].k, j - i, dt * 1e3, 2.0 * s[i].m * s[i].n * s[i].k / dt * 1e-9);
        total += dt * (j - i);
        i = j;
    }
    free(s);
    return total;
}

/* ---- per-kind times of the forward and backward passes ------------------------------ */

static void time_ops(Trainer *t, const float *x, int B)
{
    const Net *net = t->net;
    NnWork *w = net->work;
    double fwd[OP_N_KINDS] = {0}, bwd[OP_N_KINDS] = {0}, gfwd[OP_N_KINDS] = {0},
           gbwd[OP_N_KINDS] = {0};
    const int reps = 3;
    g_timing = true;
    for (int r = 0; r < reps; r++) {
        w->act[0] = (float *)(uintptr_t)x;
        for (int i = 0; i < net->n_ops; i++) {
            const Op *op = &net->ops[i];
            OpPass a = {.B = B, .train = true, .y = w->act[op->d.out], .p = net->params + op->p,
                        .buf = net->buffers + op->buf, .work = w->red, .cache = w->cache[i],
                        .aux = w->aux[i], .scratch = w->scratch};
            for (int j = 0; j < OP_KINDS[op->d.kind]->n_inputs; j++)
                a.x[j] = w->act[op->d.in[j]];
            g_gemm_s = 0;
            double t0 = bps_now();
            OP_KINDS[op->d.kind]->forward(op, &a);
            fwd[op->d.kind] += bps_now() - t0;
            gfwd[op->d.kind] += g_gemm_s;
        }
        /* backward in reverse op order, every gradient overwritten (dx_add false): the
         * cost of the passes, not the accumulation rule */
        for (int i = net->n_ops - 1; i >= 0; i--) {
            const Op *op = &net->ops[i];
            OpPass a = {.B = B, .train = true, .y = w->act[op->d.out], .p = net->params + op->p,
                        .buf = net->buffers + op->buf, .work = w->red, .cache = w->cache[i],
                        .aux = w->aux[i], .scratch = w->scratch, .dy = w->grad[op->d.out],
                        .dp = op->n_p ? net->grads + op->p : NULL};
            for (int j = 0; j < OP_KINDS[op->d.kind]->n_inputs; j++) {
                a.x[j] = w->act[op->d.in[j]];
                a.dx[j] = op->d.in[j] > 0 ? w->grad[op->d.in[j]] : NULL;
            }
            g_gemm_s = 0;
            double t0 = bps_now();
            OP_KINDS[op->d.kind]->backward(op, &a);
            bwd[op->d.kind] += bps_now() - t0;
            gbwd[op->d.kind] += g_gemm_s;
        }
    }
    g_timing = false;
    for (int k = 0; k < OP_N_KINDS; k++)
        if (fwd[k] > 0 || bwd[k] > 0)
            printf("time %s fwd_ms %.3f bwd_ms %.3f gemm_ms %.3f\n", OP_KINDS[k]->name,
                   fwd[k] / reps * 1e3, bwd[k] / reps * 1e3, (gfwd[k] + gbwd[k]) / reps * 1e3);
}

static void bench(const char *name, const NetConfig *net, int batch, int steps)
{
    TrainConfig cfg = {0};
    cfg.batch_size = batch;
    cfg.lr = 0.01;
    cfg.momentum = 0.9;
    cfg.weight_decay = 5e-4;
    cfg.shuffle = true;
    cfg.gamma = 0.1;
    const int per_epoch = 10;
    cfg.epochs = 2 + (steps + per_epoch - 1) / per_epoch;
    Dataset train = {0};
    train.n = batch * per_epoch;
    train.d = net->n_in;
    train.c = net->in_shape.c, train.h = net->in_shape.h, train.w = net->in_shape.w;
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
    double epoch_step[256];
    int n_epochs = 0;
    while (!trainer_finished(t) && n_epochs < 256) {
        uint64_t s0 = t->step;
        double t0 = bps_now();
        if (n_epochs == 0)
            g_recording = true;
        trainer_epoch(t, &train, NULL);
        if (n_epochs == 0) {
            g_recording = false;
            g_n_rec /= (int)(t->step - s0); /* one step's calls: every step issues the same */
        }
        epoch_step[n_epochs++] = (bps_now() - t0) / (double)(t->step - s0);
    }
    double step_s = median(epoch_step, n_epochs);
    double gemm_s = recorded_gemm_seconds();
    printf("conv %s batch %d samples_per_s %.1f step_ms %.3f gemm_ms %.3f gemm_efficiency %.4f "
           "gemms %d flops_per_sample %.0f\n",
           name, batch, batch / step_s, step_s * 1e3, gemm_s * 1e3, gemm_s / step_s, g_n_rec,
           nn_flops(net));
    time_ops(t, train.x, batch);
    fflush(stdout);
    trainer_free(t);
    dataset_free(&train);
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1);
    int steps = 30, a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--steps") == 0) {
        steps = atoi(argv[a + 1]);
        a += 2;
    }
    if (argc - a != 6) {
        fprintf(stderr, "usage: %s [--steps N] convnet|resnet18 WIDTH BASE C H W\n", argv[0]);
        return 2;
    }
    NetConfig c = {0};
    c.act = ACT_RELU;
    c.preset = strcmp(argv[a], "resnet18") == 0 ? PRESET_RESNET18 : PRESET_CONVNET;
    c.skip = c.batch_norm = c.preset == PRESET_RESNET18;
    c.width_mult = atoi(argv[a + 1]);
    c.base_width = atoi(argv[a + 2]);
    c.in_shape = (Shape){atoi(argv[a + 3]), atoi(argv[a + 4]), atoi(argv[a + 5])};
    c.n_in = (int)shape_size(c.in_shape);
    c.n_out = 10;
    char msg[256];
    int bad;
    if (nn_check(&c, msg, sizeof msg, &bad) != 0) {
        fprintf(stderr, "bench_conv: op %d: %s\n", bad, msg);
        return 2;
    }
    char name[64];
    snprintf(name, sizeof name, "%s-w%d-b%d-%dx%dx%d", argv[a], c.width_mult, c.base_width,
             c.in_shape.c, c.in_shape.h, c.in_shape.w);
    bench(name, &c, 128, steps);
    return 0;
}
