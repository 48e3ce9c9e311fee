/* Times bpsweep's empirical NTK (ntk_kernel) of an MLP, or of a preset conv net, over n
 * inputs and all logits.
 *   usage: bench_ntk D H1 [H2 ...] K --samples n --repeats r
 *          bench_ntk --preset convnet|resnet18 --width w --shape C H W --classes K
 *                    --samples n --repeats r [--pass-bytes b]
 * (--width: the ConvNet's w, or the ResNet-18's base width b with widening 1; batch
 * norm on, evaluation mode; --pass-bytes: ntk_kernel_jacobian's work space per backward
 * pass, 0 for one pass of all rows, default ntk_kernel's.) Prints one line: "seconds
 * <median> min <fastest> m <M> params <P> blas_core <OpenBLAS's kernel set> k_hash
 * <FNV-1a of the kernel's bytes>". Inputs are uniform in [-1, 1]; the
 * weights are the net's default initialisation (seed 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

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
    int dims[NN_MAX_HIDDEN + 2], nd = 0, n = 25, repeats = 5, width = 0, classes = 10;
    size_t pass_bytes = NTK_PASS_BYTES;
    Preset preset = PRESET_NONE;
    Shape shape = {0, 0, 0};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--preset") == 0 && i + 1 < argc) {
            ++i;
            for (int k = 0; PRESET_NAMES[k]; k++)
                if (strcmp(argv[i], PRESET_NAMES[k]) == 0)
                    preset = (Preset)k;
        } else if (strcmp(argv[i], "--width") == 0 && i + 1 < argc) {
            width = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--classes") == 0 && i + 1 < argc) {
            classes = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--shape") == 0 && i + 3 < argc) {
            shape = (Shape){atoi(argv[i + 1]), atoi(argv[i + 2]), atoi(argv[i + 3])};
            i += 3;
        } else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (strcmp(argv[i], "--repeats") == 0 && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (strcmp(argv[i], "--pass-bytes") == 0 && i + 1 < argc)
            pass_bytes = (size_t)strtoull(argv[++i], NULL, 10);
        else if (nd < NN_MAX_HIDDEN + 2)
            dims[nd++] = atoi(argv[i]);
    }
    const bool conv = preset != PRESET_NONE;
    if ((conv ? width < 1 || shape_size(shape) < 1 : nd < 2) || n < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_ntk D H1 [H2 ...] K --samples n --repeats r\n"
                        "       bench_ntk --preset convnet|resnet18 --width w --shape C H W "
                        "--classes K --samples n --repeats r [--pass-bytes b]\n");
        return 2;
    }
    NetConfig cfg = {0};
    if (conv) {
        cfg = (NetConfig){.n_in = (int)shape_size(shape), .n_out = classes, .in_shape = shape,
                          .preset = preset, .act = ACT_RELU, .skip = true, .batch_norm = true,
                          .width_mult = preset == PRESET_CONVNET ? width : 1,
                          .base_width = preset == PRESET_RESNET18 ? width : 0};
    } else {
        cfg = (NetConfig){.n_in = dims[0], .n_out = dims[nd - 1], .n_hidden = nd - 2};
        memcpy(cfg.hidden, dims + 1, (size_t)cfg.n_hidden * sizeof *dims);
    }
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
        if ((conv ? ntk_kernel_jacobian(net, x, n, K, NTK_CHUNK_BYTES, pass_bytes)
                  : ntk_kernel(net, x, n, K)) != 0) {
            fprintf(stderr, "bench_ntk: out of memory\n");
            return 1;
        }
        t[k] = bps_now() - t0;
    }
    qsort(t, (size_t)repeats, sizeof *t, cmp);
    printf("seconds %.6f min %.6f m %d params %zu blas_core %s k_hash %016llx\n", t[repeats / 2],
           t[0], m, net->n_params, openblas_get_corename(),
           (unsigned long long)bps_hash_bytes(BPS_HASH_INIT, K, (size_t)m * m * sizeof *K));
    free(t);
    free(K);
    free(x);
    nn_free(net);
    return 0;
}
