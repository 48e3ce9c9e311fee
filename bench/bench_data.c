/* Times the trainer's batch gather from the two forms of a data set (data.h): floats
 * (x) against the compact form (raw bytes x8 and a 256-entry table per channel),
 * without and with augmentation (crop with zero padding and flip), the way
 * trainer_epoch does it; prints the memory per node of Fashion-MNIST and CIFAR-10 in
 * both forms.
 * usage: bench_data C H W [--n samples] [--pad p] [--batches b]
 * Batches of 128 random samples from a set of n (default 20000) random images of
 * (C, H, W). Prints per batch, medians over the batches: "float <s> bytes <s>" for the
 * plain gather and for the augmented one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
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

/* The batch idx (B) of ds into xb (B, D) as trainer_epoch gathers it; row (D) is the
 * scratch row of a compact set. */
static void gather(const Dataset *ds, const uint32_t *idx, int B, bool augment, int pad,
                   uint64_t key, float *row, float *xb)
{
    const size_t D = (size_t)ds->d;
    if (!augment) {
        dataset_gather(ds, idx, B, xb);
        return;
    }
    for (int i = 0; i < B; i++) {
        AugmentDraw a = train_augment_draw(key, idx[i], pad, true);
        if (i + 1 < B)
            dataset_prefetch(ds, (int)idx[i + 1]);
        train_augment_sample(dataset_rows(ds, (int)idx[i], 1, row), ds->c, ds->h, ds->w, pad, a,
                             xb + (size_t)i * D);
    }
}

static void print_memory(const char *name, double n, double d, int tables)
{
    double labels = n, f = n * d * 4 + labels, b = n * d + labels + tables * 256.0 * 4;
    printf("%s: %.0f samples of %.0f: floats %.1f MB, bytes %.1f MB per node\n", name, n, d,
           f / 1e6, b / 1e6);
}

int main(int argc, char **argv)
{
    enum { B = 128, REPS = 20 };
    int dims[3], nd = 0, n = 20000, pad = 4, batches = 15;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pad") == 0 && i + 1 < argc)
            pad = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = atoi(argv[++i]);
        else if (nd < 3)
            dims[nd++] = atoi(argv[i]);
    }
    if (nd != 3 || n < B || batches < 1 || batches > 1000) {
        fprintf(stderr, "usage: bench_data C H W [--n samples] [--pad p] [--batches b]\n");
        return 2;
    }
    const int C = dims[0], H = dims[1], W = dims[2], D = C * H * W;
    /* the compact set: random bytes, per-channel standardisation tables */
    Dataset c8 = {.n = n, .d = D, .classes = 10, .c = C, .h = H, .w = W,
                  .norm = NORM_PER_CHANNEL, .lut_c = C};
    c8.x8 = xalloc_aligned((size_t)n * (size_t)D);
    c8.y = xcalloc((size_t)n, 1);
    c8.lut = xmalloc((size_t)C * 256 * sizeof *c8.lut);
    RngStream r = rng_stream(5);
    for (size_t i = 0; i < (size_t)n * (size_t)D; i++)
        c8.x8[i] = (uint8_t)rng_below(&r, 256);
    for (int ch = 0; ch < C; ch++)
        for (int v = 0; v < 256; v++)
            c8.lut[ch * 256 + v] = (float)(((double)((float)v / 255.0f) - 0.4 - 0.01 * ch) / 0.25);
    /* the same set as floats */
    Dataset f = c8;
    f.x8 = NULL, f.lut = NULL, f.lut_c = 0;
    f.y = xcalloc((size_t)n, 1);
    f.x = xalloc_aligned((size_t)n * (size_t)D * sizeof(float));
    dataset_copy_rows(&c8, 0, n, f.x);

    float *xb = xalloc_aligned((size_t)B * (size_t)D * sizeof *xb);
    float *xb2 = xalloc_aligned((size_t)B * (size_t)D * sizeof *xb);
    float *row = xalloc_aligned((size_t)D * sizeof *row);
    double *t[4];
    for (int k = 0; k < 4; k++)
        t[k] = xmalloc((size_t)batches * sizeof *t[k]);
    uint64_t key = train_augment_key(1, dims, 3, 0);
    int mismatches = 0;
    for (int b = 0; b < batches; b++) {
        uint32_t idx[REPS][B];
        for (int k = 0; k < REPS; k++)
            for (int i = 0; i < B; i++)
                idx[k][i] = (uint32_t)rng_below(&r, (uint64_t)n);
        for (int m = 0; m < 4; m++) { /* float, bytes; plain, augmented */
            const Dataset *ds = m % 2 ? &c8 : &f;
            double t0 = bps_now();
            for (int k = 0; k < REPS; k++)
                gather(ds, idx[k], B, m >= 2, pad, key, row, xb);
            t[m][b] = (bps_now() - t0) / REPS;
        }
        for (int m = 0; m < 2; m++) { /* the forms agree */
            gather(&f, idx[0], B, m, pad, key, row, xb);
            gather(&c8, idx[0], B, m, pad, key, row, xb2);
            mismatches += memcmp(xb, xb2, (size_t)B * (size_t)D * sizeof *xb) != 0;
        }
    }
    printf("(%d, %d, %d), %d samples, batch %d: gather float %.1f us bytes %.1f us; "
           "crop %d + flip float %.1f us bytes %.1f us (per batch)\n",
           C, H, W, n, B, 1e6 * median(t[0], batches), 1e6 * median(t[1], batches), pad,
           1e6 * median(t[2], batches), 1e6 * median(t[3], batches));
    print_memory("Fashion-MNIST", 70000, 784, 1);
    print_memory("CIFAR-10", 60000, 3072, 3);
    for (int k = 0; k < 4; k++)
        free(t[k]);
    free(xb);
    free(xb2);
    free(row);
    dataset_free(&f);
    dataset_free(&c8);
    if (mismatches) {
        fprintf(stderr, "the two forms gave different batches %d times\n", mismatches);
        return 1;
    }
    return 0;
}
