/* Times augmentation (train_augment_draw + train_augment_sample: crop with zero padding
 * and flip) against a plain gather (memcpy) and an SGD step of an MLP on the same batch.
 * usage: bench_augment C H W H1 [H2 ...] K --pad p --batches b
 * Batches of 128 samples from a set of 4096 random (C, H, W) samples. Prints per sample:
 * "gather <s> augment <s> step <s>" (medians over batches) and the augmentation's extra
 * cost (augment - gather) as a fraction of a step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/rng.h"
#include "bpsweep/train.h"
#include "bpsweep/util.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    enum { B = 128, N = 4096, REPS = 20 };
    int dims[NN_MAX_HIDDEN + 5], nd = 0, pad = 4, batches = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--pad") == 0 && i + 1 < argc)
            pad = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = atoi(argv[++i]);
        else if (nd < NN_MAX_HIDDEN + 5)
            dims[nd++] = atoi(argv[i]);
    }
    if (nd < 5 || batches < 1 || batches > 1000) {
        fprintf(stderr, "usage: bench_augment C H W H1 [H2 ...] K --pad p --batches b\n");
        return 2;
    }
    const int C = dims[0], H = dims[1], W = dims[2], D = C * H * W;
    NetConfig cfg = {.n_in = D, .n_out = dims[nd - 1], .n_hidden = nd - 4, .act = ACT_RELU};
    memcpy(cfg.hidden, dims + 3, (size_t)cfg.n_hidden * sizeof *dims);
    TrainConfig tc = {.epochs = 1, .batch_size = B, .lr = 0.01, .momentum = 0.9};
    Trainer *t = trainer_new(&cfg, &tc, 1);
    float *x = xmalloc((size_t)N * D * sizeof *x), *xb = xmalloc((size_t)B * D * sizeof *xb);
    uint8_t y[B];
    RngStream r = rng_stream(5);
    for (size_t i = 0; i < (size_t)N * D; i++)
        x[i] = (float)rng_uniform(&r);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)(i % cfg.n_out);
    double *tg = xmalloc((size_t)batches * sizeof *tg), *ta = xmalloc((size_t)batches * sizeof *ta),
           *ts = xmalloc((size_t)batches * sizeof *ts);
    uint64_t key = train_augment_key(1, dims, 3, 0);
    for (int b = 0; b < batches; b++) {
        uint32_t idx[B];
        for (int i = 0; i < B; i++)
            idx[i] = (uint32_t)rng_below(&r, N);
        double t0 = bps_now();
        for (int k = 0; k < REPS; k++)
            for (int i = 0; i < B; i++)
                memcpy(xb + (size_t)i * D, x + (size_t)idx[i] * D, (size_t)D * sizeof *xb);
        double t1 = bps_now();
        for (int k = 0; k < REPS; k++)
            for (int i = 0; i < B; i++)
                train_augment_sample(x + (size_t)idx[i] * D, C, H, W, pad,
                                     train_augment_draw(key, idx[i] + (uint32_t)k, pad, true),
                                     xb + (size_t)i * D);
        double t2 = bps_now();
        long correct = 0;
        trainer_step(t, xb, y, B, 0.01, &correct);
        double t3 = bps_now();
        tg[b] = (t1 - t0) / REPS / B;
        ta[b] = (t2 - t1) / REPS / B;
        ts[b] = (t3 - t2) / B;
    }
    double g = median(tg, batches), a = median(ta, batches), s = median(ts, batches);
    printf("gather %.3g augment %.3g step %.3g (seconds per sample); augment - gather = %.2f%% "
           "of a step, augment = %.2f%%\n", g, a, s, 100.0 * (a - g) / s, 100.0 * a / s);
    free(tg);
    free(ta);
    free(ts);
    free(x);
    free(xb);
    trainer_free(t);
    return 0;
}
