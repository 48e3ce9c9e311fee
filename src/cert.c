/* cert: local-minimum certificate in double precision (see cert.h). */
#include "bpsweep/cert.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/rng.h"
#include "bpsweep/util.h"

enum { CHUNK = 256 };

typedef struct {
    const Net *net;        /* shapes and flags only; parameters come from theta */
    const Dataset *d;
    int n;
    double lambda, c;
    double *a[NN_MAX_HIDDEN + 2];  /* per layer: its input (CHUNK, I); a[L] the logits */
    double *ra[NN_MAX_HIDDEN + 2]; /* R{a}: their directional derivatives along v */
    double *z[NN_MAX_HIDDEN + 1];  /* per hidden layer: pre-activation (CHUNK, O) */
    double *buf[6];       /* (CHUNK, widest): dh_out, d, dh_in and their R{} */
    double *x;            /* (CHUNK, D) */
} Ctx;

static double sign_of(double v)
{
    return (v > 0) - (v < 0);
}

/* s in R's gradient lambda * s * theta: sign(||theta||^2 - c), 1 for weight decay. */
static double reg_sign(const Ctx *cx, const double *theta)
{
    if (cx->c == 0)
        return 1.0;
    double sq = 0;
    for (size_t k = 0; k < cx->net->n_params; k++)
        sq += theta[k] * theta[k];
    return sign_of(sq - cx->c);
}

/* One pass over the samples. Returns the mean cross-entropy; with g, g = its gradient +
 * R's; with v and hv, hv = (Hessian of loss + R) v, exactly: the R-operator (Pearlmutter)
 * through the forward and backward passes, the ReLU pattern of theta held fixed (as
 * autograd's Hessian does). neg (L) counts negative pre-activations if not NULL. */
static double pass(Ctx *cx, const double *theta, double *g, const double *v, double *hv,
                   long *neg)
{
    const Net *net = cx->net;
    const int L = net->n_layers, D = cx->d->d, K = net->cfg.n_out;
    const size_t P = net->n_params;
    if (g)
        memset(g, 0, P * sizeof *g);
    if (hv)
        memset(hv, 0, P * sizeof *hv);
    double total = 0;
    for (int s0 = 0; s0 < cx->n; s0 += CHUNK) {
        const int B = cx->n - s0 < CHUNK ? cx->n - s0 : CHUNK;
        for (size_t k = 0; k < (size_t)B * (size_t)D; k++)
            cx->x[k] = (double)cx->d->x[(size_t)s0 * (size_t)D + k];
        cx->a[0] = cx->x;
        if (hv)
            memset(cx->ra[0], 0, (size_t)B * (size_t)D * sizeof(double));
        for (int l = 0; l < L; l++) { /* forward, and R{} of it along v */
            const NnLayer *ly = &net->layers[l];
            const int fi = ly->in, fo = ly->out;
            double *z = l < L - 1 ? cx->z[l] : cx->a[L], *rz = cx->ra[l + 1];
            for (int i = 0; i < B; i++)
                memcpy(z + (size_t)i * fo, theta + ly->b, (size_t)fo * sizeof *z);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, fo, fi, 1.0, cx->a[l], fi,
                        theta + ly->w, fi, 1.0, z, fo);
            if (hv) { /* R{z} = R{a} W^T + a V_W^T + V_b */
                for (int i = 0; i < B; i++)
                    memcpy(rz + (size_t)i * fo, v + ly->b, (size_t)fo * sizeof *rz);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, fo, fi, 1.0, cx->ra[l], fi,
                            theta + ly->w, fi, 1.0, rz, fo);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, fo, fi, 1.0, cx->a[l], fi,
                            v + ly->w, fi, 1.0, rz, fo);
            }
            if (l == L - 1)
                break;
            double *h = cx->a[l + 1];
            for (size_t k = 0; k < (size_t)B * (size_t)fo; k++) {
                bool off = ly->relu && z[k] < 0;
                if (neg && off)
                    neg[l]++;
                h[k] = (off ? 0.0 : z[k]) + (ly->skip ? cx->a[l][k] : 0.0);
                if (hv) /* R{h} = mask * R{z} (+ R{a} through the skip), in place */
                    rz[k] = (off ? 0.0 : rz[k]) + (ly->skip ? cx->ra[l][k] : 0.0);
            }
        }
        /* softmax cross-entropy: d = (p - onehot) / n; R{d} = (p * R{o} - p (p . R{o})) / n */
        double *dout = cx->buf[1], *rdout = cx->buf[4];
        for (int i = 0; i < B; i++) {
            const double *o = cx->a[L] + (size_t)i * K;
            double m = o[0], sum = 0, pr = 0;
            for (int k = 1; k < K; k++)
                m = o[k] > m ? o[k] : m;
            for (int k = 0; k < K; k++)
                sum += exp(o[k] - m);
            int y = cx->d->y[s0 + i];
            total += log(sum) + m - o[y];
            double *d = dout + (size_t)i * K, *rd = rdout + (size_t)i * K;
            const double *ro = cx->ra[L] + (size_t)i * K;
            for (int k = 0; k < K; k++) {
                double p = exp(o[k] - m) / sum;
                d[k] = (p - (k == y)) / cx->n;
                if (hv)
                    pr += p * ro[k];
            }
            for (int k = 0; hv && k < K; k++)
                rd[k] = exp(o[k] - m) / sum * (ro[k] - pr) / cx->n;
        }
        if (!g && !hv)
            continue;
        /* backward: dh = dL/dh of the layer's output, d = dL/dz, din = dL/d(input) */
        double *dh = cx->buf[0], *d = dout, *din = cx->buf[2];
        double *rdh = cx->buf[3], *rd = rdout, *rdin = cx->buf[5];
        for (int l = L - 1; l >= 0; l--) {
            const NnLayer *ly = &net->layers[l];
            const int fi = ly->in, fo = ly->out;
            const size_t n = (size_t)B * (size_t)fo;
            if (l < L - 1) /* d = mask * dh (and R{}), for a hidden layer */
                for (size_t k = 0; k < n; k++) {
                    bool off = ly->relu && cx->z[l][k] < 0;
                    d[k] = off ? 0.0 : dh[k];
                    if (hv)
                        rd[k] = off ? 0.0 : rdh[k];
                }
            if (g) {
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fo, fi, B, 1.0, d, fo,
                            cx->a[l], fi, 1.0, g + ly->w, fi);
                for (size_t k = 0; k < n; k++)
                    g[ly->b + k % (size_t)fo] += d[k];
            }
            if (hv) { /* R{gW} = R{d}^T a + d^T R{a}; R{gb} = sum R{d} */
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fo, fi, B, 1.0, rd, fo,
                            cx->a[l], fi, 1.0, hv + ly->w, fi);
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fo, fi, B, 1.0, d, fo,
                            cx->ra[l], fi, 1.0, hv + ly->w, fi);
                for (size_t k = 0; k < n; k++)
                    hv[ly->b + k % (size_t)fo] += rd[k];
            }
            if (l == 0)
                break;
            /* din = d W (+ dh through the skip); R{din} = R{d} W + d V_W (+ R{dh}) */
            const size_t ni = (size_t)B * (size_t)fi;
            if (ly->skip)
                memcpy(din, dh, ni * sizeof *din);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fi, fo, 1.0, d, fo,
                        theta + ly->w, fi, ly->skip ? 1.0 : 0.0, din, fi);
            if (hv) {
                if (ly->skip)
                    memcpy(rdin, rdh, ni * sizeof *rdin);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fi, fo, 1.0, rd, fo,
                            theta + ly->w, fi, ly->skip ? 1.0 : 0.0, rdin, fi);
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, fi, fo, 1.0, d, fo,
                            v + ly->w, fi, 1.0, rdin, fi);
            }
            /* the input's gradient is the next layer's output gradient; d and R{d} keep
             * their buffers (the logits' gradient is consumed) */
            double *t = dh;
            dh = din, din = t;
            t = rdh, rdh = rdin, rdin = t;
        }
    }
    double s = reg_sign(cx, theta);
    for (size_t k = 0; g && cx->lambda != 0 && k < P; k++)
        g[k] += cx->lambda * s * theta[k];
    for (size_t k = 0; hv && cx->lambda != 0 && k < P; k++)
        hv[k] += cx->lambda * s * v[k];
    return total / cx->n;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}

/* Lanczos with full reorthogonalisation: extreme eigenvalues of the Hessian. */
static int lanczos(Ctx *cx, const double *theta, int iterations, uint64_t seed, Certificate *out)
{
    const size_t P = cx->net->n_params;
    int k = iterations < (int)P ? iterations : (int)P;
    double *Q = bps_try_alloc_aligned((size_t)(k + 1) * P * sizeof *Q);
    double *w = xmalloc(P * sizeof *w);
    double *alpha = xcalloc((size_t)k + 1, sizeof *alpha), *beta = xcalloc((size_t)k + 1, sizeof *beta);
    if (!Q) {
        free(w), free(alpha), free(beta);
        return -1;
    }
    RngStream r = rng_stream(rng_key(seed, NULL, 0, RNG_HESSIAN, 0));
    for (size_t i = 0; i < P; i++)
        Q[i] = rng_normal(&r);
    double nq = sqrt(dot(Q, Q, P));
    for (size_t i = 0; i < P; i++)
        Q[i] /= nq;
    int m = 0;
    for (int j = 0; j < k; j++) {
        double *q = Q + (size_t)j * P;
        pass(cx, theta, NULL, q, w, NULL);
        alpha[j] = dot(q, w, P);
        m = j + 1;
        for (int pass = 0; pass < 2; pass++) /* w -= Q Q^T w, twice */
            for (int i = 0; i <= j; i++) {
                const double *qi = Q + (size_t)i * P;
                double c = dot(qi, w, P);
                for (size_t t = 0; t < P; t++)
                    w[t] -= c * qi[t];
            }
        beta[j] = sqrt(dot(w, w, P));
        if (j + 1 == k || beta[j] < 1e-10 * (fabs(alpha[j]) + 1e-30))
            break;
        double *qn = Q + (size_t)(j + 1) * P;
        for (size_t t = 0; t < P; t++)
            qn[t] = w[t] / beta[j];
    }
    /* eigenvalues of the tridiagonal (alpha, beta), ascending */
    int rc = LAPACKE_dstev(LAPACK_COL_MAJOR, 'N', m, alpha, beta, NULL, 1) == 0 ? 0 : -1;
    if (rc == 0) {
        out->hess_min = alpha[0];
        out->hess_max_abs = fabs(alpha[m - 1]) >= fabs(alpha[0]) ? alpha[m - 1] : alpha[0];
        out->hess_iterations = m;
    }
    free(Q), free(w), free(alpha), free(beta);
    return rc;
}

int cert_measure(const Net *net, const Dataset *d, int n, double lambda, double c,
                 int iterations, uint64_t seed, Certificate *out, double *neg_frac)
{
    const int L = net->n_layers;
    if (net->cfg.batch_norm)
        return -1;
    Ctx cx = {.net = net, .d = d, .n = n > 0 && n < d->n ? n : d->n, .lambda = lambda, .c = c};
    int maxw = net->cfg.n_in;
    for (int l = 0; l < L; l++)
        maxw = net->layers[l].out > maxw ? net->layers[l].out : maxw;
    for (int l = 0; l <= L; l++) { /* a[0] is the input chunk; a[L], ra[L] the logits */
        int w = l == 0 ? net->cfg.n_in : net->layers[l - 1].out;
        if (l > 0)
            cx.a[l] = xmalloc((size_t)CHUNK * (size_t)w * sizeof(double));
        cx.ra[l] = xmalloc((size_t)CHUNK * (size_t)w * sizeof(double));
    }
    for (int l = 0; l < L - 1; l++)
        cx.z[l] = xmalloc((size_t)CHUNK * (size_t)net->layers[l].out * sizeof(double));
    for (int i = 0; i < 6; i++)
        cx.buf[i] = xmalloc((size_t)CHUNK * (size_t)maxw * sizeof(double));
    cx.x = xmalloc((size_t)CHUNK * (size_t)net->cfg.n_in * sizeof(double));
    const size_t P = net->n_params;
    double *theta = xmalloc(P * sizeof *theta), *g = xmalloc(P * sizeof *g);
    for (size_t k = 0; k < P; k++)
        theta[k] = (double)net->params[k];
    long neg[NN_MAX_HIDDEN + 1] = {0};
    out->loss_data = pass(&cx, theta, g, NULL, NULL, neg);
    double sq = dot(theta, theta, P);
    out->loss = out->loss_data + lambda / 2 * (c == 0 ? sq : fabs(sq - c));
    out->grad_norm = sqrt(dot(g, g, P));
    for (int l = 0; l < L; l++)
        neg_frac[l] = l < L - 1 && net->layers[l].relu
                          ? (double)neg[l] / ((double)cx.n * net->layers[l].out)
                          : (double)NAN;
    out->hess_max_abs = out->hess_min = NAN;
    out->hess_iterations = 0;
    int rc = iterations > 0 ? lanczos(&cx, theta, iterations, seed, out) : 0;
    free(theta);
    free(g);
    for (int l = 0; l <= L; l++) {
        if (l > 0)
            free(cx.a[l]);
        free(cx.ra[l]);
    }
    for (int l = 0; l < L - 1; l++)
        free(cx.z[l]);
    for (int i = 0; i < 6; i++)
        free(cx.buf[i]);
    free(cx.x);
    return rc;
}
