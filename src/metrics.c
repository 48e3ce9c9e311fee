/* metrics: parameter norms, singular-value statistics, parameter hash. */
#include "bpsweep/metrics.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "bpsweep/util.h"

double metrics_param_norm(const Net *net)
{
    double s = 0.0;
    for (size_t i = 0; i < net->n_params; i++)
        s += (double)net->params[i] * (double)net->params[i];
    return sqrt(s);
}

int metrics_max_rank(const NetConfig *cfg)
{
    WeightView *v = xmalloc(NN_MAX_OPS * sizeof *v);
    int r = 0, L = nn_weight_views(cfg, v);
    for (int l = 0; l < L; l++) {
        int k = v[l].rows < v[l].cols ? v[l].rows : v[l].cols;
        r = k > r ? k : r;
    }
    free(v);
    return r;
}

int metrics_layer_stats(const Net *net, LayerStats *out, float *spectra, int stride)
{
    int rc = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const NnLayer *ly = &net->layers[l];
        const int fan_out = ly->out, fan_in = ly->in, k = fan_out < fan_in ? fan_out : fan_in;
        size_t n = (size_t)fan_out * (size_t)fan_in;
        double *a = xmalloc(n * sizeof *a), *s = xmalloc((size_t)k * sizeof *s);
        for (size_t i = 0; i < n; i++)
            a[i] = (double)net->params[ly->w + i];
        /* singular values only; W (O,I) row-major is A = W^T (I,O) column-major, with
         * the same singular values. a is overwritten. */
        lapack_int info =
            LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', fan_in, fan_out, a, fan_in, s, NULL, 1, NULL, 1);
        if (info != 0) {
            out[l].frobenius = out[l].spectral = out[l].effective_rank = NAN;
            rc = -1;
        } else {
            double l1 = 0.0, l2 = 0.0;
            for (int i = 0; i < k; i++) {
                l1 += s[i];
                l2 += s[i] * s[i];
            }
            out[l].frobenius = sqrt(l2);
            out[l].spectral = s[0];
            out[l].effective_rank = l2 > 0 ? l1 / sqrt(l2) : 0.0;
        }
        for (int i = 0; spectra && i < stride; i++)
            spectra[(size_t)l * (size_t)stride + (size_t)i] =
                info == 0 && i < k ? (float)s[i] : NAN;
        free(a);
        free(s);
    }
    return rc;
}

uint64_t metrics_param_hash(const Net *net)
{
    uint64_t h = bps_hash_bytes(BPS_HASH_INIT, net->params, net->n_params * sizeof(float));
    return bps_hash_bytes(h, net->buffers, net->n_buffers * sizeof(float));
}
