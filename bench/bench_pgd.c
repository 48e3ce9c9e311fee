/* Times PGD (pgd_attack) on an MLP: batches of 128 random inputs in [0, 1], eps 0.1,
 * step 0.025. usage: bench_pgd D H1 [H2 ...] K --steps s --batches b
 * Prints "per_sample_step <seconds> per_sample_attack <seconds>" (medians over batches). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/pgd.h"
#include "bpsweep/rng.h"
#include "bpsweep/util.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    enum { B = 128 };
    int dims[NN_MAX_HIDDEN + 2], nd = 0, steps = 20, batches = 7;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = atoi(argv[++i]);
        else if (nd < NN_MAX_HIDDEN + 2)
            dims[nd++] = atoi(argv[i]);
    }
    if (nd < 2 || steps < 1 || batches < 1) {
        fprintf(stderr, "usage: bench_pgd D H1 [H2 ...] K --steps s --batches b\n");
        return 2;
    }
    NetConfig cfg = {.n_in = dims[0], .n_out = dims[nd - 1], .n_hidden = nd - 2};
    memcpy(cfg.hidden, dims + 1, (size_t)cfg.n_hidden * sizeof *dims);
    Net *net = nn_new(&cfg, B);
    nn_init_params(net, 1);
    size_t n = (size_t)B * (size_t)cfg.n_in;
    float *x = xmalloc(n * sizeof *x), *adv = xmalloc(n * sizeof *adv), *g = xmalloc(n * sizeof *g);
    uint8_t y[B];
    RngStream r = rng_stream(rng_key(3, NULL, 0, RNG_DATA, 0));
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rng_uniform(&r);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)rng_below(&r, (uint64_t)cfg.n_out);
    PgdConfig c = pgd_config_uniform(0.1f, 0.025f, steps, 0.0f, 1.0f);
    double *t = xmalloc((size_t)batches * sizeof *t);
    for (int k = 0; k < batches; k++) {
        double t0 = bps_now();
        pgd_random_start(x, n, &c, &r, adv);
        pgd_attack(net, x, y, B, &c, adv, g);
        t[k] = (bps_now() - t0) / B;
    }
    qsort(t, (size_t)batches, sizeof *t, cmp);
    printf("per_sample_step %.9f per_sample_attack %.9f\n", t[batches / 2] / steps, t[batches / 2]);
    free(t);
    free(x);
    free(adv);
    free(g);
    nn_free(net);
    return 0;
}
