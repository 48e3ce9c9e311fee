/* metrics: parameter norms, singular-value statistics, parameter hash. */
#include "bpsweep/metrics.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

#include "bpsweep/conv_spectrum.h"
#include "bpsweep/util.h"

double metrics_param_norm(const Net *net)
{
    double s = 0.0;
    for (size_t i = 0; i < net->n_params; i++)
        s += (double)net->params[i] * (double)net->params[i];
    return sqrt(s);
}

/* The singular values of conv op `op` (weights W at params + its view's offset), all of
 * them, descending, into a new array (*count of them), or NULL (message in err). */
static double *conv_values(const Op *op, const float *W, size_t *count, BpsErr *err)
{
    const int O = op->out_shape.c, C = op->in_shape.c, k = op->d.kernel, s = op->d.stride;
    const int n = op->in_shape.h, m = op->in_shape.w;
    *count = conv_spectrum_count(O, C, s, n, m);
    if (*count > 0) {
        double *v = xmalloc(*count * sizeof *v);
        if (conv_spectrum_values(W, O, C, k, s, n, m, v, err) == 0)
            return v;
        free(v);
        return NULL;
    }
    /* the stride does not divide the input: the zero-padded operator itself, if small */
    const size_t rows = shape_size(op->out_shape), cols = shape_size(op->in_shape);
    const size_t most = rows < cols ? rows : cols;
    double *v = xmalloc((most ? most : 1) * sizeof *v);
    if (conv_spectrum_dense(W, O, C, k, s, op->d.pad, n, m, v, count, err) == 0)
        return v;
    free(v);
    return NULL;
}

/* How many singular values of op a spectrum row keeps. */
static int kept_values(const Op *op, const WeightView *v)
{
    if (op->d.kind != OP_CONV)
        return v->rows < v->cols ? v->rows : v->cols;
    size_t n = conv_spectrum_count(op->out_shape.c, op->in_shape.c, op->d.stride,
                                   op->in_shape.h, op->in_shape.w);
    if (n == 0) /* the zero-padded operator: min(O Ho Wo, C H W) */
        n = shape_size(op->out_shape) < shape_size(op->in_shape) ? shape_size(op->out_shape)
                                                                 : shape_size(op->in_shape);
    return n < METRICS_CONV_SPECTRUM_KEEP ? (int)n : METRICS_CONV_SPECTRUM_KEEP;
}

int metrics_max_rank(const NetConfig *cfg)
{
    Op *ops = xmalloc(NN_MAX_OPS * sizeof *ops);
    int r = 0, n = nn_resolve(cfg, ops);
    for (int i = 0; i < n; i++) {
        WeightView v;
        if (!OP_KINDS[ops[i].d.kind]->weight_view)
            continue;
        OP_KINDS[ops[i].d.kind]->weight_view(&ops[i], &v);
        int k = kept_values(&ops[i], &v);
        r = k > r ? k : r;
    }
    free(ops);
    return r;
}

/* The singular values of a weight matrix W (O, I), descending, into a new array (*count =
 * min(O, I) of them), or NULL if LAPACK failed. */
static double *matrix_values(const float *W, int fan_out, int fan_in, size_t *count)
{
    const int k = fan_out < fan_in ? fan_out : fan_in;
    size_t n = (size_t)fan_out * (size_t)fan_in;
    double *a = xmalloc(n * sizeof *a), *s = xmalloc((size_t)k * sizeof *s);
    for (size_t i = 0; i < n; i++)
        a[i] = (double)W[i];
    /* singular values only; W (O,I) row-major is A = W^T (I,O) column-major, with the
     * same singular values. a is overwritten. */
    lapack_int info =
        LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', fan_in, fan_out, a, fan_in, s, NULL, 1, NULL, 1);
    free(a);
    if (info != 0) {
        free(s);
        return NULL;
    }
    *count = (size_t)k;
    return s;
}

void metrics_spectrum_stats(const double *s, size_t N, LayerStats *st)
{
    double l1 = 0.0, l2 = 0.0;
    for (size_t i = 0; i < N; i++) {
        l1 += s[i];
        l2 += s[i] * s[i];
    }
    st->spectral = N > 0 ? s[0] : 0.0;
    st->frobenius = sqrt(l2);
    st->effective_rank = l2 > 0 ? l1 / sqrt(l2) : 0.0;
}

int metrics_layer_stats(const Net *net, LayerStats *out, float *spectra, int stride)
{
    int rc = 0;
    for (int l = 0; l < net->n_layers; l++) {
        const NnLayer *ly = &net->layers[l];
        const Op *op = &net->ops[ly->op];
        size_t k = 0;
        BpsErr err;
        double *s = op->d.kind == OP_CONV ? conv_values(op, net->params + ly->w, &k, &err)
                                          : matrix_values(net->params + ly->w, ly->out, ly->in, &k);
        if (!s) {
            out[l].frobenius = out[l].spectral = out[l].effective_rank = NAN;
            rc = -1;
        } else {
            metrics_spectrum_stats(s, k, &out[l]);
        }
        for (int i = 0; spectra && i < stride; i++)
            spectra[(size_t)l * (size_t)stride + (size_t)i] =
                s && (size_t)i < k ? (float)s[i] : NAN;
        free(s);
    }
    return rc;
}

uint64_t metrics_param_hash(const Net *net)
{
    uint64_t h = bps_hash_bytes(BPS_HASH_INIT, net->params, net->n_params * sizeof(float));
    return bps_hash_bytes(h, net->buffers, net->n_buffers * sizeof(float));
}
