/* Times bpsweep's empirical NTK (ntk_kernel) of an MLP over n inputs and all logits.
 *   usage: bench_ntk D H1 [H2 ...] K --samples n --repeats r
 * Prints one line: "seconds <median> min <fastest> m <M>". Inputs are uniform in
 * [-1, 1]; the weights are the net's default initialisation (seed 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/ntk.h"
#include "bpsweep/rng.h"
#include "bpsweep/util.h"

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int dims[NN_MAX_HIDDEN + 2], nd = 0, n = 25, repeats = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (nd < NN_MAX_HIDDEN + 2)
            dims[nd++] = atoi(argv[i]);
    }
    if (nd < 2 || n < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_ntk D H1 [H2 ...] K --samples n --repeats r\n");
        return 2;
    }
    NetConfig cfg = {.n_in = dims[0], .n_out = dims[nd - 1], .n_hidden = nd - 2};
    memcpy(cfg.hidden, dims + 1, (size_t)cfg.n_hidden * sizeof *dims);
    Net *net = nn_new(&cfg, 1);
    nn_init_params(net, 1);
    RngStream r = rng_stream(rng_key(2, NULL, 0, RNG_DATA, 0));
    float *x = xmalloc((size_t)n * (size_t)cfg.n_in * sizeof *x);
    for (size_t i = 0; i < (size_t)n * (size_t)cfg.n_in; i++)
        x[i] = (float)(2.0 * rng_uniform(&r) - 1.0);
    int m = n * cfg.n_out;
    double *K = xmalloc((size_t)m * m * sizeof *K);
    double *t = xmalloc((size_t)repeats * sizeof *t);
    for (int k = 0; k < repeats; k++) {
        double t0 = bps_now();
        if (ntk_kernel(net, x, n, K) != 0) {
            fprintf(stderr, "bench_ntk: out of memory\n");
            return 1;
        }
        t[k] = bps_now() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp);
    printf("seconds %.6f min %.6f m %d\n", t[repeats / 2], t[0], m);
    free(t);
    free(K);
    free(x);
    nn_free(net);
    return 0;
}
