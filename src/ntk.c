/* ntk: the empirical NTK layer by layer from Gram matrices (see ntk.h, docs/metrics.md). */
#include "bpsweep/ntk.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/op.h"
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

/* c = A A^T + 1 for the rows i * step of A (n step, I): the samples' layer inputs, in
 * double. */
static void input_gram(const float *A, int n, int step, int fan_in, double *c)
{
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            double s = 1.0;
            const float *a = A + (size_t)i * step * fan_in, *b = A + (size_t)j * step * fan_in;
            for (int k = 0; k < fan_in; k++)
                s += (double)a[k] * (double)b[k];
            c[(size_t)i * n + j] = c[(size_t)j * n + i] = s;
        }
}

typedef struct {
    double *K;      /* (R, R) */
    float *G, *t;   /* (R, R) Gram; (R, widest) */
    double *c;      /* (n, n) */
    const NnWork *wn; /* the samples' forward pass: the layers' inputs */
    int n, k_out;
} Factorised;

/* After an op's backward pass over the R rows (row r: logit r % K of sample r / K), its
 * parameters' share of the kernel, from the factorisation of their gradients:
 *   dense (dW_r = dz_r a_r^T, db_r = dz_r):   (a_i . a_j + 1) (dz_r . dz_s)
 *   batch norm (dgamma_r = dy_r xhat_i, dbeta_r = dy_r):  (dy_r xhat_i).(dy_s xhat_j) + dy_r.dy_s */
static void factorised_share(void *ctx, const Net *net, const NnWork *w, int i, int R)
{
    Factorised *f = ctx;
    const Op *op = &net->ops[i];
    const float *dy = w->grad[op->d.out], *x = f->wn->act[op->d.in[0]];
    const int O = (int)shape_size(op->out_shape);
    if (op->d.kind == OP_DENSE) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, O, 1.0f, dy, O, 0.0f, f->G, R);
        input_gram(x, f->n, 1, (int)shape_size(op->in_shape), f->c);
        add_gram(f->K, f->G, f->c, f->n, f->k_out);
    } else if (op->d.kind == OP_BATCH_NORM) {
        const float *mean = net->buffers + op->buf, *var = mean + O;
        for (int r = 0; r < R; r++)
            for (int o = 0; o < O; o++) {
                size_t k = (size_t)r * O + (size_t)o, xk = (size_t)(r / f->k_out) * O + (size_t)o;
                f->t[k] = dy[k] * ((x[xk] - mean[o]) / sqrtf(var[o] + BN_EPS));
            }
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, O, 1.0f, f->t, O, 0.0f, f->G, R);
        add_gram(f->K, f->G, NULL, f->n, f->k_out);
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, O, 1.0f, dy, O, 0.0f, f->G, R);
        add_gram(f->K, f->G, NULL, f->n, f->k_out);
    }
}

/* The rows of samples [s0, s0 + ns) of a backward pass per sample and logit, into w:
 * what its backward reads of wn's evaluation-mode forward pass of the samples, each row
 * repeated K times (the input too, into xr, which becomes w's input), with the one-hot
 * logit gradients. The shares read the layers' inputs from wn. */
static void rows_fill(const Net *net, const NnWork *wn, const float *x, int s0, int ns,
                      NnWork *w, float *xr)
{
    const int D = net->cfg.n_in, K = net->cfg.n_out, R = ns * K;
    nn_work_repeat(net, wn, s0, ns, K, w);
    for (int r = 0; r < R; r++)
        memcpy(xr + (size_t)r * D, x + (size_t)(s0 + r / K) * D, (size_t)D * sizeof *xr);
    w->act[0] = xr;
    float *dlogits = w->grad[net->out_slot];
    memset(dlogits, 0, (size_t)R * (size_t)K * sizeof *dlogits);
    for (int r = 0; r < R; r++)
        dlogits[(size_t)r * K + (size_t)(r % K)] = 1.0f;
}

/* The evaluation-mode forward pass of the n samples x, or NULL (out of memory). */
static NnWork *samples_forward(const Net *net, const float *x, int n)
{
    NnWork *wn = nn_work_new(net, n);
    if (wn)
        nn_forward_work(net, wn, x, n, false);
    return wn;
}

/* parameters only in dense ops and batch norms over vectors (one value per channel) */
static bool ops_factorised(const Op *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const Op *op = &ops[i];
        bool vector_bn = op->d.kind == OP_BATCH_NORM && op->out_shape.h * op->out_shape.w == 1;
        if (op->n_p > 0 && op->d.kind != OP_DENSE && !vector_bn)
            return false;
    }
    return true;
}

bool ntk_factorised_applies(const Net *net)
{
    return ops_factorised(net->ops, net->n_ops);
}

int ntk_kernel_factorised(const Net *net, const float *x, int n, double *K)
{
    assert(ntk_factorised_applies(net));
    const int R = n * net->cfg.n_out;
    size_t widest = 1;
    for (int s = 0; s < net->n_slots; s++)
        widest = shape_size(net->slot_shape[s]) > widest ? shape_size(net->slot_shape[s]) : widest;
    NnWork *wn = samples_forward(net, x, n), *w = nn_work_new(net, R);
    float *xr = bps_try_alloc_aligned((size_t)R * (size_t)net->cfg.n_in * sizeof *xr);
    if (wn && w && xr)
        rows_fill(net, wn, x, 0, n, w, xr);
    Factorised f = {K, bps_try_alloc_aligned((size_t)R * R * sizeof(float)),
                    bps_try_alloc_aligned((size_t)R * widest * sizeof(float)),
                    bps_try_alloc_aligned((size_t)n * n * sizeof(double)), wn, n, net->cfg.n_out};
    int rc = wn && w && xr && f.G && f.t && f.c ? 0 : -1;
    if (rc == 0) {
        memset(K, 0, (size_t)R * R * sizeof *K);
        nn_backward_work(net, w, R, NULL, NULL, NULL, NULL, factorised_share, &f);
    }
    nn_work_free(net, wn);
    nn_work_free(net, w);
    free(xr);
    free(f.G);
    free(f.t);
    free(f.c);
    return rc;
}

int ntk_kernel_generic(const Net *net, const float *x, int n, double *K, size_t chunk_bytes)
{
    const int D = net->cfg.n_in, k_out = net->cfg.n_out, R = n * k_out;
    const size_t P = net->n_params;
    /* parameters per chunk: R rows of the Jacobian in double within chunk_bytes */
    size_t pc = chunk_bytes / ((size_t)R * sizeof(double));
    pc = pc < 1 ? 1 : pc > P ? P : pc;
    NnWork *w = nn_work_new(net, 1);
    float *grad = bps_try_alloc_aligned(P * sizeof *grad);
    double *J = bps_try_alloc_aligned((size_t)R * pc * sizeof *J);
    int rc = w && grad && J ? 0 : -1;
    if (rc == 0)
        memset(K, 0, (size_t)R * R * sizeof *K);
    for (size_t p0 = 0; rc == 0 && p0 < P; p0 += pc) {
        const size_t np = P - p0 < pc ? P - p0 : pc;
        /* J[r, :] = d f_l(x_i) / d theta[p0, p0 + np), row r = i K + l */
        for (int i = 0; i < n; i++) {
            nn_forward_work(net, w, x + (size_t)i * D, 1, false);
            for (int l = 0; l < k_out; l++) {
                float *dlogits = w->grad[net->out_slot];
                memset(dlogits, 0, (size_t)k_out * sizeof *dlogits);
                dlogits[l] = 1.0f;
                nn_backward_work(net, w, 1, grad, NULL, NULL, NULL, NULL, NULL);
                double *row = J + (size_t)(i * k_out + l) * np;
                for (size_t k = 0; k < np; k++)
                    row[k] = (double)grad[p0 + k];
            }
        }
        /* K += J J^T (upper triangle), mirrored at the end */
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, (int)np, 1.0, J, (int)np, 1.0, K,
                    R);
    }
    for (int r = 0; rc == 0 && r < R; r++)
        for (int s = 0; s < r; s++)
            K[(size_t)r * R + (size_t)s] = K[(size_t)s * R + (size_t)r];
    nn_work_free(net, w);
    free(grad);
    free(J);
    return rc;
}

/* Columns of J per float ssyrk in add_jjt: each entry of a block's Gram is a float sum of
 * at most this many products. */
#define NTK_SUM_WIDTH 4096

typedef struct {
    double *K;      /* (R, R), upper triangle */
    float *J;       /* the scratch: an op's block of J (R, nu per), or conv_gram_share's
                       doubles */
    float *G;       /* (R, R), upper triangle: the Gram of a block of NTK_SUM_WIDTH columns */
    float **store;  /* stored path: per op, what its share needs from every pass
                       (op_store_floats); NULL: one pass, each share added at once */
    const NnWork *wn; /* the samples' forward pass: the layers' inputs */
    size_t cap;     /* bytes of one block of J */
    int n, k_out;   /* samples and logits of the kernel */
    int s0;         /* the pass's first sample */
    int rc;
} Jacobian;

/* An op's units (output channels or features) and each one's parameters (*per): its
 * block of J over R rows holds the parameters of *uc units, at most cap bytes of floats
 * (or one unit). */
static void op_units(const Op *op, int R, size_t cap, int *per, int *uc)
{
    const int units = op->out_shape.c;
    *per = (int)(op->n_p / (size_t)units);
    size_t u = cap / ((size_t)R * (size_t)*per * sizeof(float));
    *uc = u < 1 ? 1 : u > (size_t)units ? units : (int)u;
}

/* Doubles of scratch conv_gram_share needs for a conv with O units of F weights (+ 1 with a
 * bias) over S positions, for n samples of K rows. */
static size_t conv_gram_doubles(int n, int K, int O, int S, int F)
{
    return (size_t)n * F * S + (size_t)n * K * O * S + (size_t)S * S + (size_t)K * O * S;
}

/* Whether op is a conv whose share conv_gram_share computes in at most cap bytes and in
 * fewer flops than forming J_op: its n(n+1)/2 (S^2 F + K O S^2 + K^2 O S) double
 * multiply-adds, counted twice (float runs at twice the double rate), against J_op's
 * M O F S (per-row GEMMs) + M^2/2 O F (ssyrk) in float. On a CIFAR ResNet-18 that is
 * the last stage (S = 16, F = 1152: 10x fewer flops), about 3/4 of its parameters. */
static bool conv_by_gram(const Op *op, int n, int K, size_t cap)
{
    if (op->d.kind != OP_CONV)
        return false;
    const int O = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const int F = (int)(op->n_p / (size_t)O);
    const double pairs = 0.5 * n * (n + 1), M = (double)n * K;
    const double gram =
        2 * pairs * ((double)S * S * F + (double)K * O * S * S + (double)K * K * O * S);
    return gram < M * O * F * S + 0.5 * M * M * O * F &&
           conv_gram_doubles(n, K, O, S, F) * sizeof(double) <= cap;
}

/* Bytes of op's scratch in the one-pass path (one buffer, the largest, serves every op):
 * conv_gram_share's doubles, or its block of J; in the stored path only the former. */
static size_t op_block_bytes(const Op *op, int n, int K, size_t cap, bool stored)
{
    if (op->n_p == 0)
        return 0;
    if (conv_by_gram(op, n, K, cap)) {
        const int O = op->out_shape.c;
        return conv_gram_doubles(n, K, O, op->out_shape.h * op->out_shape.w,
                                 (int)(op->n_p / (size_t)O)) * sizeof(double);
    }
    if (stored)
        return 0;
    int per, uc;
    op_units(op, n * K, cap, &per, &uc);
    return (size_t)n * K * (size_t)uc * (size_t)per * sizeof(float);
}

/* Floats the stored path keeps of op over all passes: its whole J_op (R, n_p), or, where
 * conv_by_gram, its output signals (R, O S). */
static size_t op_store_floats(const Op *op, int n, int K, size_t cap)
{
    if (op->n_p == 0)
        return 0;
    const size_t R = (size_t)n * (size_t)K;
    return R * (conv_by_gram(op, n, K, cap) ? shape_size(op->out_shape) : op->n_p);
}

static size_t gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* How ntk_kernel_jacobian runs for n samples on the ops of cfg: in passes of *samples
 * samples, as many as a work space of pass_bytes holds (at least one), keeping every
 * op's store (*store bytes, at most cap in all), where that takes more than one pass;
 * else in one pass of all n (*store = 0; pass_bytes 0 always). *scratch: the one scratch
 * buffer. */
static void jacobian_plan(const NetConfig *cfg, const Op *ops, int n_ops, int n, size_t cap,
                          size_t pass_bytes, int *samples, size_t *store, size_t *scratch)
{
    const int K = cfg->n_out;
    size_t floats = 0, direct = 64, stored = 64;
    for (int i = 0; i < n_ops; i++) {
        floats += op_store_floats(&ops[i], n, K, cap);
        size_t b = op_block_bytes(&ops[i], n, K, cap, false);
        direct = b > direct ? b : direct;
        b = op_block_bytes(&ops[i], n, K, cap, true);
        stored = b > stored ? b : stored;
    }
    /* whole samples, in multiples of `step` that split every conv's GEMM groups as one
     * pass of all n does (op_conv_group), so that the signals keep their bits; a group
     * beyond all M rows leaves one pass */
    const size_t M = (size_t)n * (size_t)K;
    size_t group = 1;
    for (int i = 0; i < n_ops && group <= M; i++)
        if (ops[i].d.kind == OP_CONV) {
            const size_t g = (size_t)op_conv_group(&ops[i]);
            group = group / gcd(group, g) * g;
        }
    const size_t step = group / gcd(group, (size_t)K);
    size_t s = 0;
    if (pass_bytes && group <= M && step < (size_t)n && floats * sizeof(float) <= cap) {
        const size_t per_step = nn_work_bytes(cfg, (int)step * K, (int)step * K);
        s = pass_bytes / (per_step ? per_step : 1) * step;
        s = s < step ? step : s;
    }
    if (s && s < (size_t)n) {
        *samples = (int)s;
        *store = floats * sizeof(float);
        *scratch = stored;
    } else {
        *samples = n;
        *store = 0;
        *scratch = direct;
    }
}

/* K (R, R; upper triangle, double) += J J^T for J (R, np; row stride np), in float: one
 * ssyrk per block of at most w = NTK_SUM_WIDTH columns into G, added into K in double, so
 * an entry's float sums run over at most w products (OpenBLAS adds them in shorter runs
 * still). Rounding: at most about w u sum_k |J_rk J_sk| <= w u sqrt(K_rr K_ss) <= w u
 * max K by Cauchy-Schwarz (u = 2^-24), summed over blocks the same; in practice errors
 * of both signs, measured 1.3-1.4e-7 of the largest entry on bench/ntk_conv.py's nets against
 * dsyrk over the same J (docs/metrics.md), the size of J's own float rounding. OpenBLAS
 * runs float at twice the double rate. */
static void add_jjt(double *K, float *G, const float *J, int R, int np)
{
    for (int c0 = 0; c0 < np; c0 += NTK_SUM_WIDTH) {
        const int w = np - c0 < NTK_SUM_WIDTH ? np - c0 : NTK_SUM_WIDTH;
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, R, w, 1.0f, J + c0, np, 0.0f, G, R);
        for (int r = 0; r < R; r++)
            for (int s = r; s < R; s++)
                K[(size_t)r * R + (size_t)s] += (double)G[(size_t)r * R + (size_t)s];
    }
}

/* A conv op's share of the kernel without forming J_op (where conv_by_gram). For row r of
 * sample i and row s of sample j, with dW_r = dY_r (O, S) col_i^T (S, F) and db_r = dY_r 1
 * (a row of ones appended to col_i = col(X_i) (F, S) when the conv has a bias),
 *   <dW_r, dW_s> + <db_r, db_s> = sum_{p,q} A_rs[p,q] B_ij[p,q],
 *   A_rs = dY_r^T dY_s (S, S),  B_ij = col_i^T col_j (S, S).
 * Per pair i <= j: B_ij; T = dY_j B_ij^T for the K rows of sample j at once ((K O, S):
 * T_s[o,p] = sum_q dY_s[o,q] B_ij[p,q]); then K[i's rows, j's rows] += dY_i (K, O S) T^T
 * (K_rs = sum_{o,p} dY_r[o,p] T_s[o,p]). In double from the float signals dy (all R rows)
 * and the samples' inputs x (n, C H W), as accurate as the dsyrk of J_op (scratch:
 * conv_gram_doubles). Writes whole diagonal blocks; the caller mirrors the upper
 * triangle. */
static void conv_gram_share(Jacobian *jc, const Op *op, const float *dy, const float *x,
                            double *scratch)
{
    const int n = jc->n, K = jc->k_out, R = n * K;
    const int O = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const int F0 = op->in_shape.c * op->d.kernel * op->d.kernel, F = F0 + !op->d.no_bias;
    const size_t nx = shape_size(op->in_shape), ny = (size_t)O * S;
    float *col = bps_try_alloc_aligned((size_t)F0 * (size_t)S * sizeof *col);
    if (!col) {
        jc->rc = -1;
        return;
    }
    double *cols = scratch;                 /* (n, F, S) */
    double *dyd = cols + (size_t)n * F * S; /* (R, O S) */
    double *B = dyd + (size_t)R * ny;       /* (S, S) */
    double *T = B + (size_t)S * S;          /* (K O, S) */
    for (int i = 0; i < n; i++) {
        op_conv_columns(op, x + (size_t)i * nx, col);
        double *c = cols + (size_t)i * F * S;
        for (size_t k = 0; k < (size_t)F0 * S; k++)
            c[k] = col[k];
        for (size_t k = (size_t)F0 * S; k < (size_t)F * S; k++)
            c[k] = 1.0;
    }
    free(col);
    for (size_t k = 0; k < (size_t)R * ny; k++)
        dyd[k] = dy[k];
    for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++) {
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, S, S, F, 1.0,
                        cols + (size_t)i * F * S, S, cols + (size_t)j * F * S, S, 0.0, B, S);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K * O, S, S, 1.0,
                        dyd + (size_t)j * K * ny, S, B, S, 0.0, T, S);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, K, (int)ny, 1.0,
                        dyd + (size_t)i * K * ny, (int)ny, T, (int)ny, 1.0,
                        jc->K + (size_t)i * K * R + (size_t)j * K, R);
        }
}

/* Rows of J_op for units [u0, u0 + nu) of op (at most one block) from a pass of ns
 * samples, K rows each (row r: logit r % K of the pass's sample r / K; dy: the rows'
 * signals, x: the samples' inputs), row r at J + r nu per, in float, per unit its fan
 * weights then its bias (any order would do: the sum over the parameters is what counts):
 *   conv:       dW_r = dY_r (O, S) col(X_i)^T (S, C k k),  db_r = sum over positions dY_r
 *   dense:      dW_r = dz_r x_i^T,  db_r = dz_r
 *   batch norm: dgamma_r = sum_q dy_r xhat_i,  dbeta_r = sum_q dy_r (running statistics)
 * A conv's K rows of sample i share col(X_i) (col: scratch of C k k x S floats): when the
 * block holds all the op's units, their dY_r are one (K O, S) matrix and one sgemm
 * writes all their weights into J (a unit's row stride in J: per). */
static void op_rows(const Net *net, const Op *op, const float *dy, const float *x, float *col,
                    int ns, int K, int u0, int nu, float *J)
{
    const size_t nx = shape_size(op->in_shape), ny = shape_size(op->out_shape);
    const OpKind kind = op->d.kind;
    assert(kind == OP_CONV || kind == OP_DENSE || kind == OP_BATCH_NORM);
    /* units, a unit's weights (fan) and its parameters (per), positions per unit (S) */
    const int units = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const int fan = kind == OP_BATCH_NORM ? 1
                    : kind == OP_DENSE    ? (int)nx
                                          : op->in_shape.c * op->d.kernel * op->d.kernel;
    const bool bias = kind != OP_CONV || !op->d.no_bias;
    const int per = fan + (bias ? 1 : 0), np = nu * per;
    assert((size_t)units * (size_t)per == op->n_p);
    const float *mean = net->buffers + op->buf, *var = mean + units;
    for (int s = 0; s < ns; s++) {
        if (kind == OP_CONV) {
            op_conv_columns(op, x + (size_t)s * nx, col);
            /* J_r[u, 0:fan) (nu, C k k) = dY_r[u0, u0 + nu) (nu, S) col(X_i)^T (S, C k k),
             * for the K rows r of sample s at once when nu = units */
            const int rows = nu == units ? K : 1;
            for (int l = 0; l < K; l += rows) {
                const int r = s * K + l;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows * nu, fan, S, 1.0f,
                            dy + (size_t)r * ny + (size_t)u0 * S, S, col, S, 0.0f,
                            J + (size_t)r * np, per);
            }
        }
        for (int l = 0; l < K; l++) {
            const int r = s * K + l;
            const float *dyr = dy + (size_t)r * ny, *xr = x + (size_t)s * nx;
            float *row = J + (size_t)r * np;
            if (kind == OP_CONV) {
                for (int u = 0; bias && u < nu; u++) {
                    const float *yu = dyr + (size_t)(u0 + u) * S;
                    float sum = 0.0f;
                    for (int q = 0; q < S; q++)
                        sum += yu[q];
                    row[(size_t)u * per + fan] = sum;
                }
            } else if (kind == OP_DENSE) {
                for (int u = 0; u < nu; u++) {
                    for (int k = 0; k < fan; k++)
                        row[(size_t)u * per + k] = dyr[u0 + u] * xr[k];
                    row[(size_t)u * per + fan] = dyr[u0 + u];
                }
            } else {
                for (int u = 0; u < nu; u++) {
                    const int c = u0 + u;
                    float dg = 0.0f, db = 0.0f;
                    for (int q = 0; q < S; q++) {
                        size_t k = (size_t)c * S + (size_t)q;
                        float xh = (xr[k] - mean[c]) / sqrtf(var[c] + BN_EPS);
                        dg += dyr[k] * xh;
                        db += dyr[k];
                    }
                    row[2 * u] = dg;
                    row[2 * u + 1] = db;
                }
            }
        }
    }
}

/* After an op's backward pass over a pass's R rows: in one pass, its parameters' share
 * of the kernel at once, conv_gram_share where conv_by_gram, else K += J_op J_op^T
 * (add_jjt) over blocks of its units; in the stored path, the pass's rows of J_op (or
 * its signals and inputs) into the op's store, for jacobian_finish. */
static void jacobian_share(void *ctx, const Net *net, const NnWork *w, int i, int R)
{
    Jacobian *jc = ctx;
    const Op *op = &net->ops[i];
    if (op->n_p == 0 || jc->rc)
        return;
    const float *dy = w->grad[op->d.out], *x = jc->wn->act[op->d.in[0]];
    const int K = jc->k_out, ns = R / K, units = op->out_shape.c;
    const bool gram = conv_by_gram(op, jc->n, K, jc->cap);
    if (jc->store && gram) {
        memcpy(jc->store[i] + (size_t)jc->s0 * K * shape_size(op->out_shape), dy,
               (size_t)R * shape_size(op->out_shape) * sizeof *dy);
        return;
    }
    if (gram) {
        conv_gram_share(jc, op, dy, x, (double *)(void *)jc->J);
        return;
    }
    x += (size_t)jc->s0 * shape_size(op->in_shape); /* the pass's samples */
    float *col = NULL;
    if (op->d.kind == OP_CONV) {
        col = bps_try_alloc_aligned((size_t)op->in_shape.c * op->d.kernel * op->d.kernel *
                                    (size_t)op->out_shape.h * op->out_shape.w * sizeof *col);
        if (!col) {
            jc->rc = -1;
            return;
        }
    }
    if (jc->store) {
        op_rows(net, op, dy, x, col, ns, K, 0, units, jc->store[i] + (size_t)jc->s0 * K * op->n_p);
    } else {
        int per, uc;
        op_units(op, R, jc->cap, &per, &uc);
        for (int u0 = 0; u0 < units; u0 += uc) {
            const int nu = units - u0 < uc ? units - u0 : uc;
            op_rows(net, op, dy, x, col, ns, K, u0, nu, jc->J);
            add_jjt(jc->K, jc->G, jc->J, R, nu * per);
        }
    }
    free(col);
}

/* The stored path's shares, after every pass, in the one-pass path's order (last op
 * first), so that both add the same numbers to K in the same order. */
static void jacobian_finish(Jacobian *jc, const Net *net)
{
    const int K = jc->k_out, R = jc->n * K;
    for (int i = net->n_ops - 1; jc->rc == 0 && i >= 0; i--) {
        const Op *op = &net->ops[i];
        if (op->n_p == 0)
            continue;
        if (conv_by_gram(op, jc->n, K, jc->cap))
            conv_gram_share(jc, op, jc->store[i], jc->wn->act[op->d.in[0]],
                            (double *)(void *)jc->J);
        else
            add_jjt(jc->K, jc->G, jc->store[i], R, (int)op->n_p);
    }
}

/* jacobian_plan for the ops of cfg; returns whether the factorised path applies to them. */
static bool cfg_jacobian_plan(const NetConfig *cfg, int n, size_t cap, size_t pass_bytes,
                              int *samples, size_t *store, size_t *scratch)
{
    Op *ops = xmalloc(NN_MAX_OPS * sizeof *ops);
    int n_ops = nn_resolve(cfg, ops);
    jacobian_plan(cfg, ops, n_ops, n, cap, pass_bytes, samples, store, scratch);
    bool factorised = ops_factorised(ops, n_ops);
    free(ops);
    return factorised;
}

int ntk_jacobian_pass_samples(const NetConfig *cfg, int n, size_t chunk_bytes,
                              size_t pass_bytes)
{
    int samples;
    size_t store, scratch;
    cfg_jacobian_plan(cfg, n, chunk_bytes, pass_bytes, &samples, &store, &scratch);
    return samples;
}

int ntk_kernel_jacobian(const Net *net, const float *x, int n, double *K, size_t chunk_bytes,
                        size_t pass_bytes)
{
    const int k_out = net->cfg.n_out, R = n * k_out;
    int samples;
    size_t store_bytes, scratch;
    jacobian_plan(&net->cfg, net->ops, net->n_ops, n, chunk_bytes, pass_bytes, &samples,
                  &store_bytes, &scratch);
    const int rows = samples * k_out;
    NnWork *wn = samples_forward(net, x, n), *w = nn_work_new(net, rows);
    float *xr = bps_try_alloc_aligned((size_t)rows * (size_t)net->cfg.n_in * sizeof *xr);
    float *store = store_bytes ? bps_try_alloc_aligned(store_bytes) : NULL;
    float **stores = store_bytes ? calloc((size_t)net->n_ops, sizeof *stores) : NULL;
    Jacobian jc = {K, bps_try_alloc_aligned(scratch),
                   bps_try_alloc_aligned((size_t)R * R * sizeof(float)), stores, wn, chunk_bytes,
                   n, k_out, 0, 0};
    jc.rc = wn && w && xr && jc.J && jc.G && (!store_bytes || (store && stores)) ? 0 : -1;
    for (size_t i = 0, off = 0; jc.rc == 0 && stores && i < (size_t)net->n_ops; i++) {
        stores[i] = store + off;
        off += op_store_floats(&net->ops[i], n, k_out, chunk_bytes);
    }
    if (jc.rc == 0)
        memset(K, 0, (size_t)R * R * sizeof *K);
    for (int s0 = 0; jc.rc == 0 && s0 < n; s0 += samples) {
        const int ns = n - s0 < samples ? n - s0 : samples;
        rows_fill(net, wn, x, s0, ns, w, xr);
        jc.s0 = s0;
        nn_backward_work(net, w, ns * k_out, NULL, NULL, NULL, NULL, jacobian_share, &jc);
    }
    if (jc.rc == 0 && stores)
        jacobian_finish(&jc, net);
    for (int r = 0; jc.rc == 0 && r < R; r++)
        for (int s = 0; s < r; s++)
            K[(size_t)r * R + (size_t)s] = K[(size_t)s * R + (size_t)r];
    nn_work_free(net, wn);
    nn_work_free(net, w);
    free(xr);
    free(store);
    free(stores);
    free(jc.J);
    free(jc.G);
    return jc.rc;
}

size_t ntk_bytes(const NetConfig *cfg, int M)
{
    const int n = M / cfg->n_out;
    int samples;
    size_t store, scratch;
    const bool factorised = cfg_jacobian_plan(cfg, n, NTK_CHUNK_BYTES, NTK_PASS_BYTES,
                                              &samples, &store, &scratch);
    /* the per-op Jacobian path: the samples' forward pass, a pass's rows and input, the
     * stores, the scratch and the float Gram of add_jjt */
    const size_t rows = (size_t)samples * (size_t)cfg->n_out;
    return factorised ? 0
                      : nn_work_bytes(cfg, n, 0) + nn_work_bytes(cfg, (int)rows, (int)rows) +
                            rows * (size_t)cfg->n_in * sizeof(float) + store + scratch +
                            (size_t)M * (size_t)M * sizeof(float);
}

int ntk_kernel(const Net *net, const float *x, int n, double *K)
{
    return ntk_factorised_applies(net) ? ntk_kernel_factorised(net, x, n, K)
                                       : ntk_kernel_jacobian(net, x, n, K, NTK_CHUNK_BYTES,
                                                             NTK_PASS_BYTES);
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
