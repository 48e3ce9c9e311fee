/* ntk: the empirical NTK layer by layer from Gram matrices (see ntk.h, docs/metrics.md). */
#include "bpsweep/ntk.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/util.h"

int ntk_select(const uint8_t *labels, int n_samples, int pool, int n, int *idx)
{
    if (pool > n_samples)
        pool = n_samples;
    int k = 0;
    for (int label = 0; label < 256 && k < n; label++) /* a stable sort by label */
        for (int i = 0; i < pool && k < n; i++)
            if (labels[i] == label)
                idx[k++] = i;
    return k;
}

/* Per hidden layer, the evaluation-mode forward pass of the n inputs. */
typedef struct {
    float *h;     /* (n, O) output: the next layer's input */
    float *u;     /* (n, O) pre-activation (ReLU mask) */
    float *xhat;  /* (n, O) normalised z, batch norm only */
    float *scale; /* (O) gamma / sqrt(running var + eps), batch norm only */
} Fwd;

static void forward_eval(const Net *net, const float *x, int n, Fwd *fw)
{
    const float *in = x;
    for (int l = 0; l < net->n_layers - 1; l++) {
        const NnLayer *ly = &net->layers[l];
        const int fan_in = ly->in, fan_out = ly->out;
        const float *W = net->params + ly->w, *b = net->params + ly->b;
        float *z = fw[l].u; /* z, then u in place */
        for (int i = 0; i < n; i++)
            memcpy(z + (size_t)i * fan_out, b, (size_t)fan_out * sizeof *z);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, fan_out, fan_in, 1.0f, in, fan_in, W, fan_in, 1.0f,
                    z, fan_out);
        if (ly->bn) {
            const float *g = net->params + ly->gamma, *beta = net->params + ly->beta;
            const float *mean = net->buffers + ly->rmean, *var = net->buffers + ly->rvar;
            for (int o = 0; o < fan_out; o++)
                fw[l].scale[o] = g[o] / sqrtf(var[o] + NN_BN_EPS);
            for (int i = 0; i < n; i++)
                for (int o = 0; o < fan_out; o++) {
                    size_t k = (size_t)i * fan_out + (size_t)o;
                    float xh = (z[k] - mean[o]) / sqrtf(var[o] + NN_BN_EPS);
                    fw[l].xhat[k] = xh;
                    z[k] = g[o] * xh + beta[o];
                }
        }
        for (size_t k = 0; k < (size_t)n * (size_t)fan_out; k++) {
            float v = ly->relu && z[k] < 0.0f ? 0.0f : z[k];
            fw[l].h[k] = ly->skip ? v + in[k] : v;
        }
        in = fw[l].h;
    }
}

/* K[r,s] += G[r,s] * (c == NULL ? 1 : c[r/k_out, s/k_out]) for the upper triangle G of an
 * ssyrk, mirrored. */
static void add_gram(double *K, const float *G, const double *c, int n, int k_out)
{
    const int R = n * k_out;
    for (int r = 0; r < R; r++)
        for (int s = r; s < R; s++) {
            double v = G[(size_t)r * R + (size_t)s];
            if (c)
                v *= c[(size_t)(r / k_out) * n + (size_t)(s / k_out)];
            K[(size_t)r * R + (size_t)s] += v;
            if (s != r)
                K[(size_t)s * R + (size_t)r] += v;
        }
}

/* c = A A^T + 1 for the layer inputs A (n, I), in double. */
static void input_gram(const float *A, int n, int fan_in, double *c)
{
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 1.0;
            const float *a = A + (size_t)i * fan_in, *b = A + (size_t)j * fan_in;
            for (int k = 0; k < fan_in; k++)
                s += (double)a[k] * (double)b[k];
            c[(size_t)i * n + j] = c[(size_t)j * n + i] = s;
        }
}

int ntk_kernel(const Net *net, const float *x, int n, double *K)
{
    const int L = net->n_layers, k_out = net->cfg.n_out, R = n * k_out;
    int maxw = net->cfg.n_in;
    for (int l = 0; l < L; l++)
        if (net->layers[l].out > maxw)
            maxw = net->layers[l].out;
    const size_t rw = (size_t)R * (size_t)maxw;
    Fwd *fw = xcalloc((size_t)L, sizeof *fw);
    float *buf[4] = {NULL}; /* dh, du, dx, t: (R, maxw) each */
    float *G = bps_try_alloc_aligned((size_t)R * R * sizeof *G);
    double *c = bps_try_alloc_aligned((size_t)n * n * sizeof *c);
    int bad = !G || !c;
    for (int i = 0; i < 4; i++)
        bad |= !(buf[i] = bps_try_alloc_aligned(rw * sizeof(float)));
    for (int l = 0; l < L - 1 && !bad; l++) {
        size_t no = (size_t)n * (size_t)net->layers[l].out;
        bad |= !(fw[l].h = bps_try_alloc_aligned(no * sizeof(float)));
        bad |= !(fw[l].u = bps_try_alloc_aligned(no * sizeof(float)));
        if (net->layers[l].bn) {
            bad |= !(fw[l].xhat = bps_try_alloc_aligned(no * sizeof(float)));
            bad |= !(fw[l].scale = bps_try_alloc_aligned((size_t)net->layers[l].out * sizeof(float)));
        }
    }
    if (!bad) {
        forward_eval(net, x, n, fw);
        memset(K, 0, (size_t)R * R * sizeof *K);

        /* output layer: dz_r = e_l, so dz_r . dz_s = [l == m] */
        const NnLayer *out = &net->layers[L - 1];
        input_gram(L > 1 ? fw[L - 2].h : x, n, out->in, c);
        for (int r = 0; r < R; r++)
            for (int s = r % k_out; s < R; s += k_out)
                K[(size_t)r * R + (size_t)s] += c[(size_t)(r / k_out) * n + (size_t)(s / k_out)];
        /* dh = dz W: row (i, l) is row l of W */
        float *dh = buf[0], *du = buf[1], *dx = buf[2], *t = buf[3];
        for (int r = 0; r < R; r++)
            memcpy(dh + (size_t)r * out->in, net->params + out->w + (size_t)(r % k_out) * out->in,
                   (size_t)out->in * sizeof *dh);

        for (int l = L - 2; l >= 0; l--) {
            const NnLayer *ly = &net->layers[l];
            const int fan_in = ly->in, fan_out = ly->out;
            for (int r = 0; r < R; r++) { /* du = dh * relu'(u) */
                const float *u = fw[l].u + (size_t)(r / k_out) * fan_out;
                const float *g = dh + (size_t)r * fan_out;
                float *d = du + (size_t)r * fan_out;
                for (int o = 0; o < fan_out; o++)
                    d[o] = ly->relu && u[o] <= 0.0f ? 0.0f : g[o];
            }
            if (ly->bn) { /* gamma: du * xhat; beta: du; then dz = du * gamma / std */
                for (int r = 0; r < R; r++) {
                    const float *xh = fw[l].xhat + (size_t)(r / k_out) * fan_out;
                    for (int o = 0; o < fan_out; o++)
                        t[(size_t)r * fan_out + o] = du[(size_t)r * fan_out + o] * xh[o];
                }
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, fan_out, 1.0f, t, fan_out, 0.0f, G, R);
                add_gram(K, G, NULL, n, k_out);
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, fan_out, 1.0f, du, fan_out, 0.0f, G, R);
                add_gram(K, G, NULL, n, k_out);
                for (int r = 0; r < R; r++)
                    for (int o = 0; o < fan_out; o++)
                        du[(size_t)r * fan_out + o] *= fw[l].scale[o];
            }
            /* W and b: (a_i . a_j + 1) (dz_r . dz_s), dz = du */
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, fan_out, 1.0f, du, fan_out, 0.0f, G, R);
            input_gram(l > 0 ? fw[l - 1].h : x, n, fan_in, c);
            add_gram(K, G, c, n, k_out);
            if (l > 0) { /* dx = dz W (+ dh through the skip) */
                if (ly->skip)
                    memcpy(dx, dh, (size_t)R * fan_in * sizeof *dx);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, fan_in, fan_out, 1.0f, du, fan_out,
                            net->params + ly->w, fan_in, ly->skip ? 1.0f : 0.0f, dx, fan_in);
                float *tmp = dh;
                dh = dx;
                dx = tmp;
            }
        }
    }
    for (int l = 0; l < L; l++) {
        free(fw[l].h);
        free(fw[l].u);
        free(fw[l].xhat);
        free(fw[l].scale);
    }
    free(fw);
    for (int i = 0; i < 4; i++)
        free(buf[i]);
    free(G);
    free(c);
    return bad ? -1 : 0;
}

NtkCompare ntk_compare(const double *K0, const double *K1, size_t m)
{
    const size_t N = m * m;
    double s0 = 0, s1 = 0, s00 = 0, s11 = 0, s01 = 0, sd = 0;
    for (size_t k = 0; k < N; k++) {
        double a = K0[k], b = K1[k];
        s0 += a;
        s1 += b;
        s00 += a * a;
        s11 += b * b;
        s01 += a * b;
        sd += (b - a) * (b - a);
    }
    NtkCompare c;
    c.norm0 = sqrt(s00);
    c.norm1 = sqrt(s11);
    c.distance = sqrt(sd);
    c.similarity = s01 / (c.norm0 * c.norm1);
    double cov = s01 - s0 * s1 / (double)N;
    double v0 = s00 - s0 * s0 / (double)N, v1 = s11 - s1 * s1 / (double)N;
    c.pearson = cov / sqrt(v0 * v1);
    return c;
}
