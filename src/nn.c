/* nn: dense / batch-norm / ReLU / skip layers, forward and backward with cblas_sgemm.
 * Conventions and dimension letters are in nn.h; derivations in docs/numerics.md. */
#include "bpsweep/nn.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/rng.h"
#include "bpsweep/util.h"

size_t nn_param_count(const NetConfig *cfg)
{
    size_t n = 0;
    int in = cfg->n_in;
    for (int l = 0; l <= cfg->n_hidden; l++) {
        int out = l < cfg->n_hidden ? cfg->hidden[l] : cfg->n_out;
        n += (size_t)in * (size_t)out + (size_t)out;
        if (l < cfg->n_hidden && cfg->batch_norm)
            n += 2 * (size_t)out;
        in = out;
    }
    return n;
}

int nn_shape_dims(const NetConfig *cfg, int *dims)
{
    int n = 0;
    dims[n++] = cfg->n_in;
    for (int l = 0; l < cfg->n_hidden; l++)
        dims[n++] = cfg->hidden[l];
    dims[n++] = cfg->n_out;
    return n;
}

/* Allocation that may fail: counts failures in *bad instead of exiting. */
static void *try_alloc(size_t n, int *bad)
{
    void *p = bps_try_alloc_aligned(n);
    if (!p)
        (*bad)++;
    return p;
}

Net *nn_new(const NetConfig *cfg, int max_batch)
{
    assert(cfg->n_in > 0 && cfg->n_out > 0 && max_batch > 0);
    assert(cfg->n_hidden >= 0 && cfg->n_hidden <= NN_MAX_HIDDEN);
    Net *net = xcalloc(1, sizeof *net);
    net->cfg = *cfg;
    net->n_layers = cfg->n_hidden + 1;
    net->layers = xcalloc((size_t)net->n_layers, sizeof *net->layers);
    net->max_batch = max_batch;

    int bad = 0;
    size_t p = 0, buf = 0;
    int in = cfg->n_in, max_width = cfg->n_in;
    for (int l = 0; l < net->n_layers; l++) {
        NnLayer *ly = &net->layers[l];
        bool hidden = l < cfg->n_hidden;
        ly->in = in;
        ly->out = hidden ? cfg->hidden[l] : cfg->n_out;
        ly->bn = hidden && cfg->batch_norm;
        ly->relu = hidden && cfg->act == ACT_RELU;
        ly->skip = hidden && cfg->skip && ly->in == ly->out;
        ly->w = p;
        p += (size_t)ly->in * (size_t)ly->out;
        ly->b = p;
        p += (size_t)ly->out;
        if (ly->bn) {
            ly->gamma = p;
            p += (size_t)ly->out;
            ly->beta = p;
            p += (size_t)ly->out;
            ly->rmean = buf;
            buf += (size_t)ly->out;
            ly->rvar = buf;
            buf += (size_t)ly->out;
        }
        size_t cache = (size_t)max_batch * (size_t)ly->out * sizeof(float);
        ly->z = try_alloc(cache, &bad);
        /* u aliases z unless batch norm transforms it; h aliases u when the layer
         * is the identity map of u (identity activation, no skip) */
        ly->xhat = ly->bn ? try_alloc(cache, &bad) : NULL;
        ly->u = ly->bn ? try_alloc(cache, &bad) : ly->z;
        ly->h = (ly->relu || ly->skip) ? try_alloc(cache, &bad) : ly->u;
        ly->inv_std = ly->bn ? try_alloc((size_t)ly->out * sizeof(float), &bad) : NULL;
        if (ly->out > max_width)
            max_width = ly->out;
        in = ly->out;
    }
    assert(p == nn_param_count(cfg));
    net->n_params = p;
    net->params = try_alloc(p * sizeof(float), &bad);
    net->grads = try_alloc(p * sizeof(float), &bad);
    net->n_buffers = buf;
    net->buffers = try_alloc((buf ? buf : 1) * sizeof(float), &bad);
    net->max_width = max_width;
    net->dlogits = try_alloc((size_t)max_batch * (size_t)cfg->n_out * sizeof(float), &bad);
    for (int i = 0; i < 2; i++)
        net->scratch[i] =
            try_alloc((size_t)max_batch * (size_t)max_width * sizeof(float), &bad);
    net->colsum = try_alloc(2 * (size_t)max_width * sizeof(double), &bad);
    if (bad) {
        nn_free(net);
        return NULL;
    }
    memset(net->params, 0, p * sizeof(float));
    memset(net->grads, 0, p * sizeof(float));
    return net;
}

void nn_free(Net *net)
{
    if (!net)
        return;
    for (int l = 0; l < net->n_layers; l++) {
        NnLayer *ly = &net->layers[l];
        if (ly->h != ly->u)
            free(ly->h);
        if (ly->u != ly->z)
            free(ly->u);
        free(ly->z);
        free(ly->xhat);
        free(ly->inv_std);
    }
    free(net->layers);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->dlogits);
    free(net->scratch[0]);
    free(net->scratch[1]);
    free(net->colsum);
    free(net);
}

/* ---- initialisation ------------------------------------------------------------ */

void nn_init_params(Net *net, uint64_t seed)
{
    const NetConfig *cfg = &net->cfg;
    int dims[NN_MAX_HIDDEN + 2];
    int n_dims = nn_shape_dims(cfg, dims);
    for (int l = 0; l < net->n_layers; l++) {
        NnLayer *ly = &net->layers[l];
        float *W = net->params + ly->w, *b = net->params + ly->b;
        size_t nw = (size_t)ly->in * (size_t)ly->out;
        /* nn.Linear: kaiming_uniform(a = sqrt(5)) gives bound 1/sqrt(fan_in) for
         * weights, and the bias bound is 1/sqrt(fan_in) too */
        double bound = 1.0 / sqrt((double)ly->in);
        RngStream ws = rng_stream(rng_key(seed, dims, n_dims, RNG_INIT_WEIGHT, l));
        RngStream bs = rng_stream(rng_key(seed, dims, n_dims, RNG_INIT_BIAS, l));
        switch (cfg->w_init) {
        case WINIT_TORCH:
            for (size_t i = 0; i < nw; i++)
                W[i] = (float)((2.0 * rng_uniform(&ws) - 1.0) * bound);
            break;
        case WINIT_HE_NORMAL: {
            double sd = sqrt(2.0 / (double)ly->in);
            for (size_t i = 0; i < nw; i++)
                W[i] = (float)(sd * rng_normal(&ws));
            break;
        }
        case WINIT_CONSTANT:
            for (size_t i = 0; i < nw; i++)
                W[i] = (float)cfg->w_value;
            break;
        }
        for (int j = 0; j < ly->out; j++) {
            switch (cfg->b_init) {
            case BINIT_TORCH:
                b[j] = (float)((2.0 * rng_uniform(&bs) - 1.0) * bound);
                break;
            case BINIT_ZERO:
                b[j] = 0.0f;
                break;
            case BINIT_CONSTANT:
                b[j] = (float)cfg->b_value;
                break;
            case BINIT_UNIFORM:
                b[j] = (float)((2.0 * rng_uniform(&bs) - 1.0) * cfg->b_value);
                break;
            }
        }
        if (ly->bn) {
            for (int j = 0; j < ly->out; j++) {
                net->params[ly->gamma + (size_t)j] = 1.0f;
                net->params[ly->beta + (size_t)j] = 0.0f;
                net->buffers[ly->rmean + (size_t)j] = 0.0f;
                net->buffers[ly->rvar + (size_t)j] = 1.0f;
            }
        }
    }
}

/* ---- forward --------------------------------------------------------------------- */

/* Training-mode batch norm of z (B,O) (bias already added): batch mean and biased
 * variance normalise, running statistics move by NN_BN_MOMENTUM with the unbiased
 * variance (PyTorch). Writes xhat and u = gamma * xhat + beta. */
static void bn_forward_train(Net *net, NnLayer *ly, int B)
{
    const int fan_out = ly->out;
    double *mean = net->colsum, *var = net->colsum + net->max_width;
    const float *gamma = net->params + ly->gamma, *beta = net->params + ly->beta;
    float *rmean = net->buffers + ly->rmean, *rvar = net->buffers + ly->rvar;
    memset(mean, 0, (size_t)fan_out * sizeof *mean);
    memset(var, 0, (size_t)fan_out * sizeof *var);
    for (int i = 0; i < B; i++) {
        const float *z = ly->z + (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++)
            mean[j] += (double)z[j];
    }
    for (int j = 0; j < fan_out; j++)
        mean[j] /= B;
    for (int i = 0; i < B; i++) {
        const float *z = ly->z + (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++) {
            double c = (double)z[j] - mean[j];
            var[j] += c * c;
        }
    }
    /* B = 1 has no unbiased variance (PyTorch refuses it); keep the biased one */
    double unbias = B > 1 ? (double)B / (double)(B - 1) : 1.0;
    for (int j = 0; j < fan_out; j++) {
        var[j] /= B;
        ly->inv_std[j] = (float)(1.0 / sqrt(var[j] + (double)NN_BN_EPS));
        rmean[j] = (1.0f - NN_BN_MOMENTUM) * rmean[j] + NN_BN_MOMENTUM * (float)mean[j];
        rvar[j] = (1.0f - NN_BN_MOMENTUM) * rvar[j] + NN_BN_MOMENTUM * (float)(var[j] * unbias);
    }
    for (int i = 0; i < B; i++) {
        size_t r = (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++) {
            float xh = (ly->z[r + j] - (float)mean[j]) * ly->inv_std[j];
            ly->xhat[r + j] = xh;
            ly->u[r + j] = gamma[j] * xh + beta[j];
        }
    }
}

/* Evaluation-mode batch norm with the running statistics. */
static void bn_forward_eval(const Net *net, NnLayer *ly, int B)
{
    const int fan_out = ly->out;
    const float *gamma = net->params + ly->gamma, *beta = net->params + ly->beta;
    const float *rmean = net->buffers + ly->rmean, *rvar = net->buffers + ly->rvar;
    float *scale = ly->inv_std; /* reused as per-feature scale; training refills it */
    for (int j = 0; j < fan_out; j++)
        scale[j] = gamma[j] / sqrtf(rvar[j] + NN_BN_EPS);
    for (int i = 0; i < B; i++) {
        size_t r = (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++)
            ly->u[r + j] = (ly->z[r + j] - rmean[j]) * scale[j] + beta[j];
    }
}

const float *nn_forward(Net *net, const float *x, int B, bool train)
{
    assert(B > 0 && B <= net->max_batch);
    net->last_train = train;
    const float *in = x; /* (B,I) */
    for (int l = 0; l < net->n_layers; l++) {
        NnLayer *ly = &net->layers[l];
        const int fan_in = ly->in, fan_out = ly->out;
        const float *W = net->params + ly->w, *b = net->params + ly->b;
        /* z = x W^T: (B,I) x (I,O) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, fan_out, fan_in, 1.0f, in, fan_in, W, fan_in, 0.0f,
                    ly->z, fan_out);
        if (ly->bn) {
            for (int i = 0; i < B; i++) {
                float *z = ly->z + (size_t)i * (size_t)fan_out;
                for (int j = 0; j < fan_out; j++)
                    z[j] += b[j];
            }
            if (train)
                bn_forward_train(net, ly, B);
            else
                bn_forward_eval(net, ly, B);
            if (ly->relu || ly->skip) {
                for (int i = 0; i < B; i++) {
                    size_t r = (size_t)i * (size_t)fan_out;
                    const float *u = ly->u + r, *xs = in + (size_t)i * (size_t)fan_in;
                    float *h = ly->h + r;
                    for (int j = 0; j < fan_out; j++) {
                        float a = ly->relu ? (u[j] > 0.0f ? u[j] : 0.0f) : u[j];
                        h[j] = ly->skip ? a + xs[j] : a;
                    }
                }
            }
        } else {
            /* one pass: u = z + b (in place, u aliases z), h = act(u) [+ x] */
            for (int i = 0; i < B; i++) {
                size_t r = (size_t)i * (size_t)fan_out;
                float *u = ly->z + r, *h = ly->h + r;
                const float *xs = in + (size_t)i * (size_t)fan_in;
                if (ly->relu && !ly->skip) {
                    for (int j = 0; j < fan_out; j++) {
                        u[j] += b[j];
                        h[j] = (u[j] > 0.0f ? u[j] : 0.0f);
                    }
                } else if (ly->skip) {
                    for (int j = 0; j < fan_out; j++) {
                        u[j] += b[j];
                        h[j] = (ly->relu ? (u[j] > 0.0f ? u[j] : 0.0f) : u[j]) + xs[j];
                    }
                } else {
                    for (int j = 0; j < fan_out; j++)
                        u[j] += b[j];
                }
            }
        }
        in = ly->h;
    }
    return net->layers[net->n_layers - 1].h;
}

const float *nn_logits(const Net *net)
{
    return net->layers[net->n_layers - 1].h;
}

double nn_loss(Net *net, const uint8_t *y, int B, long *correct, bool want_grad)
{
    const int K = net->cfg.n_out;
    const float *logits = nn_logits(net);
    double total = 0.0;
    long right = 0;
    for (int i = 0; i < B; i++) {
        const float *l = logits + (size_t)i * (size_t)K;
        int arg = 0;
        for (int k = 1; k < K; k++)
            if (l[k] > l[arg])
                arg = k;
        right += arg == y[i];
        double m = (double)l[arg], s = 0.0;
        for (int k = 0; k < K; k++)
            s += exp((double)l[k] - m);
        double log_s = log(s);
        total += -((double)l[y[i]] - m - log_s);
        if (want_grad) {
            /* d(mean CE)/d logits = (softmax - onehot) / B */
            float *g = net->dlogits + (size_t)i * (size_t)K;
            for (int k = 0; k < K; k++) {
                double p = exp((double)l[k] - m - log_s);
                g[k] = (float)((p - (k == y[i] ? 1.0 : 0.0)) / B);
            }
        }
    }
    if (correct)
        *correct += right;
    return total / B;
}

/* ---- backward -------------------------------------------------------------------- */

/* Batch-norm backward, in place on d (B,O): on entry d = dL/du, on exit d = dL/dz.
 * With u = gamma * xhat + beta, xhat = (z - mean) * inv_std (batch statistics):
 *   dbeta = sum_i du,  dgamma = sum_i du * xhat,
 *   dz = gamma * inv_std / B * (B du - dbeta - xhat * dgamma)   (docs/numerics.md) */
static void bn_backward(Net *net, const NnLayer *ly, float *d, int B)
{
    const int fan_out = ly->out;
    double *sum_du = net->colsum, *sum_du_xhat = net->colsum + net->max_width;
    memset(sum_du, 0, (size_t)fan_out * sizeof *sum_du);
    memset(sum_du_xhat, 0, (size_t)fan_out * sizeof *sum_du_xhat);
    for (int i = 0; i < B; i++) {
        size_t r = (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++) {
            sum_du[j] += (double)d[r + j];
            sum_du_xhat[j] += (double)d[r + j] * (double)ly->xhat[r + j];
        }
    }
    const float *gamma = net->params + ly->gamma;
    float *dgamma = net->grads + ly->gamma, *dbeta = net->grads + ly->beta;
    for (int j = 0; j < fan_out; j++) {
        dbeta[j] = (float)sum_du[j];
        dgamma[j] = (float)sum_du_xhat[j];
    }
    for (int i = 0; i < B; i++) {
        size_t r = (size_t)i * (size_t)fan_out;
        for (int j = 0; j < fan_out; j++) {
            float k = gamma[j] * ly->inv_std[j] / (float)B;
            d[r + j] = k * ((float)B * d[r + j] - dbeta[j] - ly->xhat[r + j] * dgamma[j]);
        }
    }
}

void nn_backward(Net *net, const float *x, int B, NnRangeHook hook, void *ctx)
{
    assert(B > 0 && B <= net->max_batch);
    const int L = net->n_layers;
    float *dh = net->dlogits; /* dL/dh of the current layer, (B,O) */
    int cur = 0;              /* scratch[cur] is free; dh is never in it */
    for (int l = L - 1; l >= 0; l--) {
        NnLayer *ly = &net->layers[l];
        const int fan_in = ly->in, fan_out = ly->out;
        const float *in = l > 0 ? net->layers[l - 1].h : x; /* (B,I) */
        const float *W = net->params + ly->w;
        float *dW = net->grads + ly->w, *db = net->grads + ly->b;

        /* dz = dL/dz (B,O). Without a skip, dh is not needed afterwards and dz
         * overwrites it; with a skip, dh is kept for dx = dh + dz W. */
        float *dz = ly->skip ? net->scratch[cur] : dh;
        const size_t n = (size_t)B * (size_t)fan_out;
        if (ly->relu) {
            /* h = relu(u) [+ x]: du = dh * [u > 0] */
            const float *u = ly->u;
            for (size_t k = 0; k < n; k++) {
                float g = dh[k]; /* loaded unconditionally so the loop vectorises */
                dz[k] = u[k] > 0.0f ? g : 0.0f;
            }
        } else if (ly->skip) {
            memcpy(dz, dh, n * sizeof *dz);
        }
        if (ly->bn)
            bn_backward(net, ly, dz, B);

        /* z = x W^T + b:  db = sum_i dz,  dW = dz^T x (O,B)x(B,I),  dx = dz W (B,O)x(O,I) */
        memset(db, 0, (size_t)fan_out * sizeof *db);
        for (int i = 0; i < B; i++) {
            const float *row = dz + (size_t)i * (size_t)fan_out;
            for (int j = 0; j < fan_out; j++)
                db[j] += row[j];
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fan_out, fan_in, B, 1.0f, dz, fan_out, in, fan_in, 0.0f,
                    dW, fan_in);
        if (l > 0) {
            if (ly->skip) {
                /* dx = dh + dz W, accumulated into dh's buffer */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fan_in, fan_out, 1.0f, dz, fan_out, W, fan_in,
                            1.0f, dh, fan_in);
            } else {
                float *dx = net->scratch[cur];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fan_in, fan_out, 1.0f, dz, fan_out, W, fan_in,
                            0.0f, dx, fan_in);
                dh = dx;
                cur = 1 - cur;
            }
        }
        if (hook) {
            /* the layer's parameters are no longer read by this backward pass */
            size_t end = ly->bn ? ly->beta + (size_t)fan_out : ly->b + (size_t)fan_out;
            hook(ctx, ly->w, end - ly->w);
        }
    }
}

void nn_input_grad(Net *net, int B, float *dx)
{
    assert(B > 0 && B <= net->max_batch);
    assert(!(net->cfg.batch_norm && net->last_train));
    float *dh = net->dlogits; /* dL/dh of the current layer, (B,O) */
    int cur = 0;              /* scratch[cur] is free; dh is never in it */
    for (int l = net->n_layers - 1; l >= 0; l--) {
        const NnLayer *ly = &net->layers[l];
        const int fan_in = ly->in, fan_out = ly->out;
        const size_t n = (size_t)B * (size_t)fan_out;
        /* dz = dL/dz; in place unless the skip still needs dh */
        float *dz = ly->skip ? net->scratch[cur] : dh;
        for (size_t k = 0; k < n; k++) {
            float g = dh[k];
            dz[k] = ly->relu && !(ly->u[k] > 0.0f) ? 0.0f : g;
        }
        if (ly->bn) /* evaluation mode: u = (z - mean) * scale + beta, scale in inv_std */
            for (int i = 0; i < B; i++)
                for (int j = 0; j < fan_out; j++)
                    dz[(size_t)i * (size_t)fan_out + (size_t)j] *= ly->inv_std[j];
        /* dx = dz W, plus dh through the skip */
        const float *W = net->params + ly->w;
        float *out = l == 0 ? dx : ly->skip ? dh : net->scratch[cur];
        if (ly->skip && out != dh)
            memcpy(out, dh, (size_t)B * (size_t)fan_in * sizeof *out);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fan_in, fan_out, 1.0f, dz,
                    fan_out, W, fan_in, ly->skip ? 1.0f : 0.0f, out, fan_in);
        if (out != dh && l > 0) {
            dh = out;
            cur = 1 - cur;
        }
    }
}
