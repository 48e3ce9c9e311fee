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
    const Net *net;        /* shapes, op list and running statistics; parameters: theta */
    const Dataset *d;
    int n;
    double lambda, c;
    NnRWork *w;            /* activations of a chunk, in double */
    double *x;             /* (CHUNK, D) */
    float *xf;             /* (CHUNK, D) a chunk of a compact set as floats, else NULL */
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

/* The weight layer a ReLU op belongs to: the last op with a weight matrix before it. */
static int relu_layer(const Net *net, int op)
{
    int layer = -1;
    for (int i = 0; i < op; i++)
        layer = net->ops[i].layer >= 0 ? net->ops[i].layer : layer;
    return layer;
}

/* Negative inputs of every ReLU op in the chunk's forward pass, per weight layer. */
static void count_negative(const Ctx *cx, int B, long *neg, long *total)
{
    const Net *net = cx->net;
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        int l = op->d.kind == OP_RELU ? relu_layer(net, i) : -1;
        if (l < 0)
            continue;
        const size_t n = (size_t)B * shape_size(op->in_shape);
        const double *z = cx->w->act[op->d.in[0]];
        for (size_t k = 0; k < n; k++)
            neg[l] += z[k] < 0;
        total[l] += (long)n;
    }
}

/* One pass over the samples. Returns the mean cross-entropy; with g, g = its gradient +
 * R's; with v and hv, hv = (Hessian of loss + R) v, exactly: the R-operator (Pearlmutter)
 * through the ops' forward and backward passes (op.h), batch norm in evaluation mode.
 * neg, total (L) count negative ReLU inputs per layer if not NULL. */
static double pass(Ctx *cx, const double *theta, double *g, const double *v, double *hv,
                   long *neg, long *total)
{
    const Net *net = cx->net;
    const int D = cx->d->d, K = net->cfg.n_out;
    const size_t P = net->n_params;
    if (g)
        memset(g, 0, P * sizeof *g);
    if (hv)
        memset(hv, 0, P * sizeof *hv);
    double loss = 0;
    for (int s0 = 0; s0 < cx->n; s0 += CHUNK) {
        const int B = cx->n - s0 < CHUNK ? cx->n - s0 : CHUNK;
        const float *xs = dataset_rows(cx->d, s0, B, cx->xf); /* (B, D) */
        for (size_t k = 0; k < (size_t)B * (size_t)D; k++)
            cx->x[k] = (double)xs[k];
        nn_r_forward(net, cx->w, theta, hv ? v : NULL, cx->x, B);
        if (neg)
            count_negative(cx, B, neg, total);
        /* softmax cross-entropy: d = (p - onehot) / n; R{d} = (p * R{o} - p (p . R{o})) / n */
        const double *logits = cx->w->act[net->out_slot], *rlogits = cx->w->ract[net->out_slot];
        double *dout = cx->w->grad[net->out_slot], *rdout = cx->w->rgrad[net->out_slot];
        for (int i = 0; i < B; i++) {
            const double *o = logits + (size_t)i * K;
            double m = o[0], sum = 0, pr = 0;
            for (int k = 1; k < K; k++)
                m = o[k] > m ? o[k] : m;
            for (int k = 0; k < K; k++)
                sum += exp(o[k] - m);
            int y = cx->d->y[s0 + i];
            loss += log(sum) + m - o[y];
            double *d = dout + (size_t)i * K, *rd = rdout + (size_t)i * K;
            const double *ro = rlogits + (size_t)i * K;
            for (int k = 0; k < K; k++) {
                double p = exp(o[k] - m) / sum;
                d[k] = (p - (k == y)) / cx->n;
                if (hv)
                    pr += p * ro[k];
            }
            for (int k = 0; hv && k < K; k++)
                rd[k] = exp(o[k] - m) / sum * (ro[k] - pr) / cx->n;
        }
        if (g || hv)
            nn_r_backward(net, cx->w, theta, hv ? v : NULL, B, g, hv);
    }
    double s = reg_sign(cx, theta);
    for (size_t k = 0; g && cx->lambda != 0 && k < P; k++)
        g[k] += cx->lambda * s * theta[k];
    for (size_t k = 0; hv && cx->lambda != 0 && k < P; k++)
        hv[k] += cx->lambda * s * v[k];
    return loss / cx->n;
}

/* Whether the extreme Ritz values of the Lanczos tridiagonal (alpha, beta) of size m,
 * with next coefficient b, have converged: the residual of a Ritz pair (theta_i, Q s_i) is
 * |b s_i[m-1]|, and both the smallest and the largest-magnitude pair must have one below
 * tol |theta_max_abs|. */
static bool ritz_converged(const double *alpha, const double *beta, int m, double b, double tol)
{
    double *d = xmalloc((size_t)m * sizeof *d), *e = xmalloc((size_t)m * sizeof *e);
    double *z = xmalloc((size_t)m * (size_t)m * sizeof *z);
    memcpy(d, alpha, (size_t)m * sizeof *d);
    memcpy(e, beta, (size_t)m * sizeof *e);
    bool ok = LAPACKE_dstev(LAPACK_COL_MAJOR, 'V', m, d, e, z, m) == 0;
    if (ok) {
        int imax = fabs(d[m - 1]) >= fabs(d[0]) ? m - 1 : 0;
        double scale = tol * fabs(d[imax]);
        /* column i of z (column-major) is s_i; its last component is z[i m + m - 1] */
        ok = fabs(b * z[(size_t)m - 1]) <= scale &&
             fabs(b * z[(size_t)imax * (size_t)m + (size_t)m - 1]) <= scale;
    }
    free(d), free(e), free(z);
    return ok;
}

/* Lanczos with full reorthogonalisation: extreme eigenvalues of the Hessian. */
static int lanczos(Ctx *cx, const double *theta, int iterations, double tol, uint64_t seed,
                   Certificate *out)
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
    double nq = sqrt(bps_dot(Q, Q, P));
    for (size_t i = 0; i < P; i++)
        Q[i] /= nq;
    int m = 0;
    for (int j = 0; j < k; j++) {
        double *q = Q + (size_t)j * P;
        pass(cx, theta, NULL, q, w, NULL, NULL);
        alpha[j] = bps_dot(q, w, P);
        m = j + 1;
        for (int pass = 0; pass < 2; pass++) /* w -= Q Q^T w, twice */
            for (int i = 0; i <= j; i++) {
                const double *qi = Q + (size_t)i * P;
                double c = bps_dot(qi, w, P);
                for (size_t t = 0; t < P; t++)
                    w[t] -= c * qi[t];
            }
        beta[j] = sqrt(bps_dot(w, w, P));
        if (j + 1 == k || beta[j] < 1e-10 * (fabs(alpha[j]) + 1e-30) ||
            (tol > 0 && ritz_converged(alpha, beta, m, beta[j], tol)))
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

/* The passes' context over the first n samples of d (n <= 0 or > d->n: all). */
static void ctx_open(Ctx *cx, const Net *net, const Dataset *d, int n, double lambda, double c)
{
    *cx = (Ctx){.net = net, .d = d, .n = n > 0 && n < d->n ? n : d->n, .lambda = lambda, .c = c};
    cx->w = nn_rwork_new(net, CHUNK);
    cx->x = xmalloc((size_t)CHUNK * (size_t)net->cfg.n_in * sizeof(double));
    cx->xf = d->x ? NULL : xmalloc((size_t)CHUNK * (size_t)net->cfg.n_in * sizeof(float));
}

static void ctx_close(Ctx *cx)
{
    nn_rwork_free(cx->net, cx->w);
    free(cx->x);
    free(cx->xf);
}

/* The net's parameters in double (P), malloc'd. */
static double *net_theta(const Net *net)
{
    double *theta = xmalloc(net->n_params * sizeof *theta);
    for (size_t k = 0; k < net->n_params; k++)
        theta[k] = (double)net->params[k];
    return theta;
}

/* R(theta) = (lambda/2) | ||theta||^2 - c | */
static double reg_value(const Ctx *cx, const double *theta)
{
    double sq = bps_dot(theta, theta, cx->net->n_params);
    return cx->lambda / 2 * (cx->c == 0 ? sq : fabs(sq - cx->c));
}

/* neg_frac (L) from the per-layer counts: NaN for layers without ReLU */
static void fractions(int L, const long *neg, const long *total, double *neg_frac)
{
    for (int l = 0; l < L; l++)
        neg_frac[l] = total[l] > 0 ? (double)neg[l] / (double)total[l] : (double)NAN;
}

int cert_measure(const Net *net, const Dataset *d, int n, double lambda, double c,
                 int iterations, double tol, uint64_t seed, Certificate *out, double *neg_frac)
{
    const int L = net->n_layers;
    const size_t P = net->n_params;
    Ctx cx;
    ctx_open(&cx, net, d, n, lambda, c);
    double *theta = net_theta(net), *g = xmalloc(P * sizeof *g);
    long *neg = xcalloc((size_t)L + 1, sizeof *neg);
    long *total = xcalloc((size_t)L + 1, sizeof *total);
    out->loss_data = pass(&cx, theta, g, NULL, NULL, neg_frac ? neg : NULL, total);
    out->loss = out->loss_data + reg_value(&cx, theta);
    out->grad_norm = sqrt(bps_dot(g, g, P));
    if (neg_frac)
        fractions(L, neg, total, neg_frac);
    out->hess_max_abs = out->hess_min = NAN;
    out->hess_iterations = 0;
    int rc = iterations > 0 ? lanczos(&cx, theta, iterations, tol, seed, out) : 0;
    free(g);
    free(neg);
    free(total);
    free(theta);
    ctx_close(&cx);
    return rc;
}

void cert_negative_fraction(const Net *net, const Dataset *d, double *neg_frac)
{
    const int L = net->n_layers;
    Ctx cx;
    ctx_open(&cx, net, d, 0, 0, 0);
    double *theta = net_theta(net);
    long *neg = xcalloc((size_t)L + 1, sizeof *neg);
    long *total = xcalloc((size_t)L + 1, sizeof *total);
    pass(&cx, theta, NULL, NULL, NULL, neg, total); /* the forward pass alone */
    fractions(L, neg, total, neg_frac);
    free(neg);
    free(total);
    free(theta);
    ctx_close(&cx);
}

double cert_grad_norm(const Net *net, const Dataset *d, double lambda, double c)
{
    Certificate ct;
    return cert_measure(net, d, 0, lambda, c, 0, 0, 0, &ct, NULL) == 0 ? ct.grad_norm
                                                                       : (double)NAN;
}

CertVerdict cert_verdict(const Certificate *c, double tol)
{
    if (!(c->grad_norm < tol))
        return CERT_NOT_CONVERGED;
    return c->hess_min >= -tol * fabs(c->hess_max_abs) ? CERT_MINIMUM : CERT_SADDLE;
}

struct CertObjective {
    Ctx cx;
};

CertObjective *cert_objective_new(const Net *net, const Dataset *d, double lambda, double c)
{
    CertObjective *o = xmalloc(sizeof *o);
    ctx_open(&o->cx, net, d, 0, lambda, c);
    return o;
}

void cert_objective_free(CertObjective *o)
{
    if (!o)
        return;
    ctx_close(&o->cx);
    free(o);
}

double cert_objective(void *obj, const double *theta, double *g, const double *v, double *hv)
{
    CertObjective *o = obj;
    return pass(&o->cx, theta, g, v, hv, NULL, NULL) + reg_value(&o->cx, theta);
}
