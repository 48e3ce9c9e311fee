/* construct: the constructed linear minimum (construct.h). */
#include "bpsweep/construct.h"

#include <assert.h>
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "bpsweep/util.h"

enum { CHUNK = 256, MEMORY = 10, MAX_HALVINGS = 60 };


typedef struct {
    const Dataset *d;
    int D, K;
    float *xf;   /* (CHUNK, D) */
    double *x;   /* (CHUNK, D) */
    double *z;   /* (CHUNK, K) */
} Fit;

/* Rows [start, start + B) of ds as doubles in f->x. */
static const double *rows(Fit *f, const Dataset *ds, int start, int B)
{
    const float *src = dataset_rows(ds, start, B, f->xf);
    for (size_t k = 0; k < (size_t)B * (size_t)f->D; k++)
        f->x[k] = src[k];
    return f->x;
}

/* z (B, K) = X A^T + a0 for the linear model w = (A (K, D), a0 (K)) */
static void logits(Fit *f, const double *w, const double *x, int B)
{
    const int D = f->D, K = f->K;
    for (int i = 0; i < B; i++)
        memcpy(f->z + (size_t)i * K, w + (size_t)K * D, (size_t)K * sizeof *f->z);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, K, D, 1.0, x, D, w, D, 1.0, f->z, K);
}

/* Mean cross-entropy of w over the training set and its gradient g. */
static double loss_grad(Fit *f, const double *w, double *g)
{
    const Dataset *d = f->d;
    const int D = f->D, K = f->K;
    memset(g, 0, (size_t)K * (D + 1) * sizeof *g);
    double loss = 0;
    for (int start = 0; start < d->n; start += CHUNK) {
        int B = d->n - start < CHUNK ? d->n - start : CHUNK;
        const double *x = rows(f, d, start, B);
        logits(f, w, x, B);
        for (int i = 0; i < B; i++) { /* z <- (softmax - onehot) / n */
            double *z = f->z + (size_t)i * K, mx = z[0], s = 0;
            for (int k = 1; k < K; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < K; k++)
                s += exp(z[k] - mx);
            int y = d->y[start + i];
            loss += log(s) + mx - z[y];
            for (int k = 0; k < K; k++)
                z[k] = (exp(z[k] - mx) / s - (k == y)) / d->n;
        }
        /* dA += dZ^T X, da0 += column sums of dZ */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, D, B, 1.0, f->z, K, x, D, 1.0, g,
                    D);
        for (int i = 0; i < B; i++)
            for (int k = 0; k < K; k++)
                g[(size_t)K * D + k] += f->z[(size_t)i * K + k];
    }
    return loss / d->n;
}

/* H ((K-1)(D+1) square, row-major) = the Hessian of the mean cross-entropy in the
 * parameters of classes 0..K-2, each class's (A_k (D), a0_k) in turn:
 *   H[(a, i), (b, j)] = sum_n p_a (delta_ab - p_b) x~_i x~_j / n,  x~ = (x, 1). */
static void hessian(Fit *f, const double *w, double *H)
{
    const Dataset *d = f->d;
    const int D = f->D, K = f->K, D1 = D + 1, m = (K - 1) * D1;
    double *x1 = xmalloc((size_t)CHUNK * D1 * sizeof *x1);
    double *xs = xmalloc((size_t)CHUNK * D1 * sizeof *xs);
    memset(H, 0, (size_t)m * m * sizeof *H);
    for (int start = 0; start < d->n; start += CHUNK) {
        int B = d->n - start < CHUNK ? d->n - start : CHUNK;
        const double *x = rows(f, d, start, B);
        logits(f, w, x, B);
        for (int i = 0; i < B; i++) {
            double *z = f->z + (size_t)i * K, mx = z[0], s = 0;
            for (int k = 1; k < K; k++)
                mx = z[k] > mx ? z[k] : mx;
            for (int k = 0; k < K; k++)
                s += (z[k] = exp(z[k] - mx));
            for (int k = 0; k < K; k++)
                z[k] /= s;
            memcpy(x1 + (size_t)i * D1, x + (size_t)i * D, (size_t)D * sizeof *x1);
            x1[(size_t)i * D1 + D] = 1.0;
        }
        for (int a = 0; a < K - 1; a++)
            for (int b = a; b < K - 1; b++) {
                for (int i = 0; i < B; i++) { /* xs = x~ scaled by p_a (delta_ab - p_b) / n */
                    const double *p = f->z + (size_t)i * K;
                    double c = p[a] * ((a == b) - p[b]) / d->n;
                    for (int j = 0; j < D1; j++)
                        xs[(size_t)i * D1 + j] = c * x1[(size_t)i * D1 + j];
                }
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D1, D1, B, 1.0, x1, D1, xs,
                            D1, 1.0, H + (size_t)a * D1 * m + (size_t)b * D1, m);
            }
    }
    for (int a = 0; a < K - 1; a++) /* the blocks below the diagonal by symmetry */
        for (int b = 0; b < a; b++)
            for (int i = 0; i < D1; i++)
                for (int j = 0; j < D1; j++)
                    H[((size_t)a * D1 + i) * m + (size_t)b * D1 + j] =
                        H[((size_t)b * D1 + j) * m + (size_t)a * D1 + i];
    free(x1), free(xs);
}

/* The fit between iterations: what a checkpoint holds (construct_fit_save). */
struct ConstructFit {
    int D, K;
    bool newton;
    double tol;
    int max_it;
    size_t n;          /* K (D + 1) */
    /* saved */
    int64_t it, done, head, m;
    double fx;
    double *w, *g;     /* (n) the iterate and its gradient */
    double *S, *Y;     /* L-BFGS: (MEMORY, n) the last pairs, a ring from head */
    double rho[MEMORY];
};

/* Newton's method with a backtracking (Armijo) line search, on the parameters of classes
 * 0..K-2: the softmax is unchanged by adding one vector to every class, so class K-1
 * stays at 0 and the reduced Hessian is positive definite when the data span their
 * space (a tiny ridge is added if Cholesky fails). One iteration; false when no descent
 * is left at this precision. */
static bool newton_step(ConstructFit *cf, Fit *f)
{
    const int D = cf->D, K = cf->K, D1 = D + 1, m = (K - 1) * D1;
    const size_t n = cf->n;
    double *g = cf->g, *w = cf->w;
    double *wn = xmalloc(n * sizeof *wn), *gn = xmalloc(n * sizeof *gn);
    double *H = xmalloc((size_t)m * m * sizeof *H), *p = xmalloc((size_t)m * sizeof *p);
    bool ok = true;
    /* the reduced vector's entry (a, j) is A[a][j] (j < D) or a0[a] (j = D) */
#define AT(v, a, j) (*((j) < D ? &(v)[(size_t)(a) * D + (j)] : &(v)[(size_t)K * D + (a)]))
    for (int ridge = 0; ridge < 2; ridge++) {
        hessian(f, w, H);
        if (ridge) { /* not positive definite at this precision: a tiny ridge */
            double tr = 0;
            for (int i = 0; i < m; i++)
                tr += H[(size_t)i * m + i];
            for (int i = 0; i < m; i++)
                H[(size_t)i * m + i] += 1e-12 * tr / m;
        }
        for (int a = 0; a < K - 1; a++)
            for (int j = 0; j < D1; j++)
                p[a * D1 + j] = -AT(g, a, j);
        ok = LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', m, 1, H, m, p, 1) == 0;
        if (ok)
            break;
    }
    double gp = 0;
    for (int a = 0; ok && a < K - 1; a++)
        for (int j = 0; j < D1; j++)
            gp += AT(g, a, j) * p[a * D1 + j];
    double step = 1.0, fn = cf->fx;
    int h = 0;
    for (; ok && h < MAX_HALVINGS; h++, step *= 0.5) {
        memcpy(wn, w, n * sizeof *wn);
        for (int a = 0; a < K - 1; a++)
            for (int j = 0; j < D1; j++)
                AT(wn, a, j) += step * p[a * D1 + j];
        fn = loss_grad(f, wn, gn);
        if (fn <= cf->fx + 1e-4 * step * gp)
            break;
    }
#undef AT
    ok = ok && h < MAX_HALVINGS && gp < 0;
    if (ok) {
        memcpy(w, wn, n * sizeof *w);
        memcpy(g, gn, n * sizeof *g);
        cf->fx = fn;
    }
    free(wn), free(gn), free(H), free(p);
    return ok;
}

/* L-BFGS (Nocedal and Wright, algorithm 7.4, two-loop recursion), one iteration; false
 * when no descent is left at this precision. */
static bool lbfgs_step(ConstructFit *cf, Fit *f)
{
    const size_t n = cf->n;
    double *g = cf->g, *w = cf->w, *S = cf->S, *Y = cf->Y, *rho = cf->rho, al[MEMORY];
    const int m = (int)cf->m, head = (int)cf->head;
    double *p = xmalloc(n * sizeof *p), *wn = xmalloc(n * sizeof *wn);
    double *gn = xmalloc(n * sizeof *gn);
    /* p = -H g */
    for (size_t i = 0; i < n; i++)
        p[i] = -g[i];
    for (int j = 0; j < m; j++) {
        int k = (head - 1 - j + MEMORY) % MEMORY;
        al[k] = rho[k] * bps_dot(S + k * n, p, n);
        for (size_t i = 0; i < n; i++)
            p[i] -= al[k] * Y[k * n + i];
    }
    int last = (head - 1 + MEMORY) % MEMORY;
    double gamma = m ? bps_dot(S + last * n, Y + last * n, n) / bps_dot(Y + last * n, Y + last * n, n)
                     : 1.0 / sqrt(bps_dot(g, g, n));
    for (size_t i = 0; i < n; i++)
        p[i] *= gamma;
    for (int j = m - 1; j >= 0; j--) {
        int k = (head - 1 - j + MEMORY) % MEMORY;
        double b = rho[k] * bps_dot(Y + k * n, p, n);
        for (size_t i = 0; i < n; i++)
            p[i] += (al[k] - b) * S[k * n + i];
    }
    double gp = bps_dot(g, p, n), step = 1.0, fn = cf->fx;
    int h;
    for (h = 0; h < MAX_HALVINGS; h++, step *= 0.5) { /* Armijo, c1 = 1e-4 */
        for (size_t i = 0; i < n; i++)
            wn[i] = w[i] + step * p[i];
        fn = loss_grad(f, wn, gn);
        if (fn <= cf->fx + 1e-4 * step * gp)
            break;
    }
    bool ok = h < MAX_HALVINGS && gp < 0;
    if (ok) {
        double *sv = S + head * n, *yv = Y + head * n;
        for (size_t i = 0; i < n; i++) {
            sv[i] = wn[i] - w[i];
            yv[i] = gn[i] - g[i];
        }
        double sy = bps_dot(sv, yv, n);
        if (sy > 1e-300) { /* keep the pair only with positive curvature */
            rho[head] = 1.0 / sy;
            cf->head = (head + 1) % MEMORY;
            cf->m = m < MEMORY ? m + 1 : MEMORY;
        }
        memcpy(w, wn, n * sizeof *w);
        memcpy(g, gn, n * sizeof *g);
        cf->fx = fn;
    }
    free(p), free(wn), free(gn);
    return ok;
}

static Fit fit_scratch(const Dataset *d, int D, int K)
{
    Fit f = {.d = d, .D = D, .K = K};
    f.xf = xmalloc((size_t)CHUNK * D * sizeof *f.xf);
    f.x = xmalloc((size_t)CHUNK * D * sizeof *f.x);
    f.z = xmalloc((size_t)CHUNK * K * sizeof *f.z);
    return f;
}

static void fit_scratch_free(Fit *f)
{
    free(f->xf), free(f->x), free(f->z);
}

ConstructFit *construct_fit_new(const NetConfig *cfg)
{
    ConstructFit *cf = xcalloc(1, sizeof *cf);
    cf->D = cfg->n_in;
    cf->K = cfg->n_out;
    cf->newton = construct_uses_newton(cfg);
    cf->tol = cfg->construct.tolerance;
    cf->max_it = cfg->construct.max_iterations;
    cf->n = (size_t)cf->K * (size_t)(cf->D + 1);
    cf->w = xcalloc(cf->n, sizeof *cf->w);
    cf->g = xcalloc(cf->n, sizeof *cf->g);
    cf->fx = NAN;
    if (!cf->newton) {
        cf->S = xcalloc(MEMORY * cf->n, sizeof *cf->S);
        cf->Y = xcalloc(MEMORY * cf->n, sizeof *cf->Y);
    }
    return cf;
}

void construct_fit_free(ConstructFit *cf)
{
    if (!cf)
        return;
    free(cf->w), free(cf->g), free(cf->S), free(cf->Y);
    free(cf);
}

int construct_fit_run(ConstructFit *cf, const Dataset *train, bool (*should_stop)(void *),
                      void *ctx)
{
    assert(train->d == cf->D);
    Fit f = fit_scratch(train, cf->D, cf->K);
    int rc = 0;
    if (isnan(cf->fx)) /* from w = 0 */
        cf->fx = loss_grad(&f, cf->w, cf->g);
    while (!cf->done) {
        if (cf->it >= cf->max_it || !(sqrt(bps_dot(cf->g, cf->g, cf->n)) >= cf->tol) ||
            !(cf->newton ? newton_step(cf, &f) : lbfgs_step(cf, &f))) {
            cf->done = 1;
            break;
        }
        cf->it++;
        if (should_stop && should_stop(ctx)) {
            rc = 2;
            break;
        }
    }
    fit_scratch_free(&f);
    return rc;
}

/* Serialised: it, done, head, m (int64), fx, then w, g (n doubles each) and, for
 * L-BFGS, S, Y (MEMORY n each) and rho (MEMORY). */
size_t construct_fit_state_size(const ConstructFit *cf)
{
    size_t doubles = 1 + 2 * cf->n + (cf->newton ? 0 : 2 * MEMORY * cf->n + MEMORY);
    return 6 * sizeof(int64_t) + doubles * sizeof(double);
}

#define PUT(p, src, bytes) (memcpy((p), (src), (bytes)), (p) += (bytes))
#define GET(dst, p, bytes) (memcpy((dst), (p), (bytes)), (p) += (bytes))

void construct_fit_save(const ConstructFit *cf, void *buf)
{
    unsigned char *p = buf;
    /* self-describing: n and the L-BFGS memory (0: Newton) first */
    const int64_t head[6] = {(int64_t)cf->n, cf->newton ? 0 : MEMORY, cf->it, cf->done,
                             cf->head, cf->m};
    PUT(p, head, sizeof head);
    PUT(p, &cf->fx, sizeof cf->fx);
    PUT(p, cf->w, cf->n * sizeof *cf->w);
    PUT(p, cf->g, cf->n * sizeof *cf->g);
    if (!cf->newton) {
        PUT(p, cf->S, MEMORY * cf->n * sizeof *cf->S);
        PUT(p, cf->Y, MEMORY * cf->n * sizeof *cf->Y);
        PUT(p, cf->rho, sizeof cf->rho);
    }
}

void construct_fit_load(ConstructFit *cf, const void *buf)
{
    const unsigned char *p = buf;
    int64_t head[6]; /* n and the memory are the configuration's (checked by the caller) */
    GET(head, p, sizeof head);
    cf->it = head[2], cf->done = head[3], cf->head = head[4], cf->m = head[5];
    GET(&cf->fx, p, sizeof cf->fx);
    GET(cf->w, p, cf->n * sizeof *cf->w);
    GET(cf->g, p, cf->n * sizeof *cf->g);
    if (!cf->newton) {
        GET(cf->S, p, MEMORY * cf->n * sizeof *cf->S);
        GET(cf->Y, p, MEMORY * cf->n * sizeof *cf->Y);
        GET(cf->rho, p, sizeof cf->rho);
    }
}

#undef PUT
#undef GET

/* max |net logits - linear logits| over ds */
static double logit_diff(Fit *f, Net *net, const double *w, const Dataset *ds)
{
    double worst = 0;
    NnWork *wk = nn_work_new(net, CHUNK);
    for (int start = 0; wk && start < ds->n; start += CHUNK) {
        int B = ds->n - start < CHUNK ? ds->n - start : CHUNK;
        const float *z = nn_forward_work(net, wk, dataset_rows(ds, start, B, f->xf), B, false);
        logits(f, w, rows(f, ds, start, B), B);
        for (size_t k = 0; k < (size_t)B * (size_t)f->K; k++)
            worst = fmax(worst, fabs((double)z[k] - f->z[k]));
    }
    nn_work_free(net, wk);
    return wk ? worst : (double)NAN;
}

bool construct_uses_newton(const NetConfig *cfg)
{
    const FitMethod how = cfg->construct.method;
    return how == FIT_NEWTON ||
           (how == FIT_AUTO && (cfg->n_out - 1) * (cfg->n_in + 1) <= CONSTRUCT_NEWTON_MAX_ROWS);
}

void construct_embed(Net *net, const ConstructFit *cf, const Dataset *train,
                     const Dataset *test, ConstructResult *out)
{
    const NetConfig *cfg = &net->cfg;
    const int D = cfg->n_in, K = cfg->n_out, H = net->n_layers - 1;
    assert(cf->done && cf->D == D && cf->K == K && cfg->n_ops == 0 && !cfg->skip &&
           !cfg->batch_norm);
    Fit f = fit_scratch(train, D, K);
    const double *w = cf->w;
    out->grad_norm = sqrt(bps_dot(cf->g, cf->g, cf->n));
    out->iterations = (int)cf->it;

    /* the offset: 1 above the smallest input, unless given */
    float lo = 0, hi = 0, lo2 = 0, hi2 = 0;
    dataset_min_max(train, 0, D, &lo, &hi);
    if (test && test->n > 0) {
        dataset_min_max(test, 0, D, &lo2, &hi2);
        lo = fminf(lo, lo2);
    }
    /* a float, so that the units holding it are exact */
    const double o = (float)(isnan(cfg->construct.offset) ? 1.0 - fmin(0.0, (double)lo)
                                                          : cfg->construct.offset);
    out->offset = o;
    memset(net->params, 0, net->n_params * sizeof *net->params);
    for (int l = 0; l < H; l++) {
        const NnLayer *ly = &net->layers[l];
        assert(ly->out >= D);
        for (int i = 0; i < ly->out; i++) {
            if (i < D)
                net->params[ly->w + (size_t)i * ly->in + (size_t)i] = 1.0f;
            net->params[ly->b + (size_t)i] = l == 0 || i >= D ? (float)o : 0.0f;
        }
    }
    /* the output layer: logits = V h + c with h_j = x_j + o (j < D) and o on the other
     * units; V = [A 0] rounded to float, and the constant a0 - o sum_j V_kj carried as
     * exactly as floats allow: with two spare units (each o), by their weights u_hi +
     * u_lo = (a0 - c) / o - sum_j V_kj split into a float and its float remainder, and
     * c = a0 rounded; else by c alone. The constant is large (o |sum_j A_kj|, about 10^3
     * on Fashion-MNIST's components), so one float would leave an error of 10^-4 in
     * every logit, and a gradient of that order at the built net. */
    const NnLayer *ly = &net->layers[H];
    const bool spare = H > 0 && ly->in >= D + 2;
    for (int k = 0; k < K; k++) {
        double rowsum = 0;
        for (int j = 0; j < D; j++) {
            float v = (float)w[(size_t)k * D + j];
            net->params[ly->w + (size_t)k * ly->in + (size_t)j] = v;
            rowsum += (double)v;
        }
        const double a0 = w[(size_t)K * D + k];
        float *c = &net->params[ly->b + (size_t)k];
        if (spare) {
            *c = (float)a0;
            double u = (a0 - (double)*c) / o - rowsum;
            float u_hi = (float)u, u_lo = (float)(u - (double)u_hi);
            net->params[ly->w + (size_t)k * ly->in + (size_t)D] = u_hi;
            net->params[ly->w + (size_t)k * ly->in + (size_t)D + 1] = u_lo;
        } else {
            *c = (float)(a0 - (H > 0 ? o * rowsum : 0.0));
        }
    }
    out->logit_diff = logit_diff(&f, net, w, train);
    if (test && test->n > 0)
        out->logit_diff = fmax(out->logit_diff, logit_diff(&f, net, w, test));
    fit_scratch_free(&f);
}
