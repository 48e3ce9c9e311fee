/* op conv: 2-D convolution as PyTorch's Conv2d (cross-correlation, zero padding):
 *   y[o, oh, ow] = b[o] + sum_{c, ki, kj} W[o, c, ki, kj] x[c, oh s - pad + ki, ow s - pad + kj]
 * with x (C, H, W) per sample, W (O, C, k, k), b (O) unless no_bias, stride s, output
 * (O, Ho, Wo), Ho = (H + 2 pad - k) / s + 1 (floor), likewise Wo.
 *
 * Letters: K = C k k (the fan-in, rows of a column matrix), S = Ho Wo (output positions),
 * HW = H W. Per sample, with col(x) (K, S) the im2col matrix of x
 * (col[(c k + ki) k + kj, oh Wo + ow] = x[c, oh s - pad + ki, ow s - pad + kj], 0 in the
 * padding), the convolution is one GEMM:  Y (O, S) = W (O, K) col(x) (K, S) + b.
 * Samples are taken in chunks of nb side by side, col (K, nb S), so that the GEMMs stay
 * wide when S is small (late ResNet stages); a 1x1 convolution with stride 1 and no
 * padding has col(x) = x (C, HW) and needs no copy. Derivations: docs/numerics.md. */
#include <cblas.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/op.h"
#include "bpsweep/util.h"

/* Columns a GEMM should have at least: samples are batched until nb S reaches it. */
enum { CONV_MIN_COLS = 256 };

/* The geometry of one conv op. */
typedef struct {
    int C, H, W;    /* input */
    int O, Ho, Wo;  /* output */
    int k, s, pad;
    int K, S, HW;   /* C k k, Ho Wo, H W */
    bool direct;    /* 1x1, stride 1, no padding: col(x) = x */
} Geom;

static Geom geom(const Op *op)
{
    const OpDesc *d = &op->d;
    Geom g = {op->in_shape.c, op->in_shape.h, op->in_shape.w, op->out_shape.c, op->out_shape.h,
              op->out_shape.w, d->kernel, d->stride, d->pad, 0, 0, 0, false};
    g.K = g.C * g.k * g.k;
    g.S = g.Ho * g.Wo;
    g.HW = g.H * g.W;
    g.direct = g.k == 1 && g.s == 1 && g.pad == 0;
    return g;
}

/* Samples per chunk for batches of B. */
static int chunk(const Geom *g, int B)
{
    int nb = g->S >= CONV_MIN_COLS ? 1 : (CONV_MIN_COLS + g->S - 1) / g->S;
    return nb < B ? nb : (B > 0 ? B : 1);
}

static int conv_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    const int k = d->kernel, s = d->stride, p = d->pad;
    if (d->units < 1)
        return snprintf(msg, len, "conv needs out channels >= 1, not %d", d->units), -1;
    if (k < 1)
        return snprintf(msg, len, "conv needs kernel >= 1, not %d", k), -1;
    if (s < 1)
        return snprintf(msg, len, "conv needs stride >= 1, not %d", s), -1;
    if (p < 0)
        return snprintf(msg, len, "conv needs pad >= 0, not %d", p), -1;
    const int hp = in[0].h + 2 * p, wp = in[0].w + 2 * p;
    if (k > hp || k > wp)
        return snprintf(msg, len, "kernel %d is larger than the padded input %dx%d", k, hp, wp), -1;
    const int ho = (hp - k) / s + 1, wo = (wp - k) / s + 1;
    if (ho < 1 || wo < 1 || in[0].c < 1)
        return snprintf(msg, len, "conv has no output for the input %dx%dx%d", in[0].c, in[0].h, in[0].w),
               -1;
    *out = (Shape){d->units, ho, wo};
    return 0;
}

static size_t conv_params(const OpDesc *d, Shape in, Shape out)
{
    const size_t nw = (size_t)out.c * (size_t)in.c * (size_t)d->kernel * (size_t)d->kernel;
    return d->no_bias ? nw : nw + (size_t)out.c;
}

static size_t conv_scratch(const Op *op, int B)
{
    const Geom g = geom(op);
    if (g.direct)
        return 0;
    /* col (K, nb S) and a (O, nb S) output or dy block */
    const size_t nbS = (size_t)chunk(&g, B) * (size_t)g.S;
    return ((size_t)g.K + (size_t)g.O) * nbS;
}

/* ---- im2col and col2im ------------------------------------------------------------ */

/* The output indices o in [*lo, *hi) with 0 <= o s + off < n, within [0, no). */
static void valid_range(int off, int s, int n, int no, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + s - 1) / s;
    int m = n - 1 - off, h = m < 0 ? 0 : m / s + 1;
    if (h > no)
        h = no;
    if (l > h)
        l = h;
    *lo = l, *hi = h;
}

/* Zeroes the columns of rows (n, w) that a shift by dj wrapped around: ow < -dj or
 * ow >= w - dj. */
static void zero_wrap(float *d, int n, int w, int dj)
{
    const int lo = dj < 0 ? 0 : w - dj, hi = dj < 0 ? -dj : w;
    for (int r = 0; r < n; r++)
        for (int ow = lo; ow < hi; ow++)
            d[(size_t)r * (size_t)w + (size_t)ow] = 0.0f;
}

/* col (K, S) with row stride ld = col(x), x (C, H, W): row (c k + ki) k + kj holds
 * x[c, oh s - pad + ki, ow s - pad + kj] at oh Wo + ow, zeros in the padding. */
static void im2col(const Geom *g, const float *x, float *col, size_t ld)
{
    const int k = g->k, s = g->s, Wo = g->Wo, Ho = g->Ho;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < k; ki++) {
            int oh_lo, oh_hi;
            valid_range(ki - g->pad, s, g->H, Ho, &oh_lo, &oh_hi);
            for (int kj = 0; kj < k; kj++) {
                int ow_lo, ow_hi;
                valid_range(kj - g->pad, s, g->W, Wo, &ow_lo, &ow_hi);
                float *dst = col + (size_t)((c * k + ki) * k + kj) * ld;
                memset(dst, 0, (size_t)oh_lo * (size_t)Wo * sizeof *dst);
                memset(dst + (size_t)oh_hi * (size_t)Wo, 0, (size_t)(Ho - oh_hi) * (size_t)Wo * sizeof *dst);
                const int dj = kj - g->pad;
                if (s == 1 && Wo == g->W && dj > -Wo && dj < Wo) {
                    /* "same" width: the valid rows are one shifted block of the plane,
                     * whose wrapped-around columns are the padding */
                    const float *plane = x + (size_t)c * (size_t)g->HW;
                    const long base = (long)(oh_lo + ki - g->pad) * Wo + dj, n = (long)(oh_hi - oh_lo) * Wo;
                    const long t0 = base < 0 ? -base : 0, t1 = base + n > g->HW ? g->HW - base : n;
                    float *d = dst + (size_t)oh_lo * (size_t)Wo;
                    if (t1 > t0)
                        memcpy(d + t0, plane + base + t0, (size_t)(t1 - t0) * sizeof *d);
                    zero_wrap(d, oh_hi - oh_lo, Wo, dj);
                    continue;
                }
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    float *d = dst + (size_t)oh * (size_t)Wo;
                    const float *src = x + ((size_t)c * (size_t)g->H + (size_t)(oh * s - g->pad + ki)) * (size_t)g->W
                                       + (size_t)(ow_lo * s - g->pad + kj);
                    for (int ow = 0; ow < ow_lo; ow++)
                        d[ow] = 0.0f;
                    float *dv = d + ow_lo;
                    const int n = ow_hi - ow_lo;
                    if (s == 1)
                        for (int j = 0; j < n; j++)
                            dv[j] = src[j];
                    else
                        for (int j = 0; j < n; j++)
                            dv[j] = src[(size_t)j * (size_t)s];
                    for (int ow = ow_hi; ow < Wo; ow++)
                        d[ow] = 0.0f;
                }
            }
        }
}

/* dx (C, H, W) += col2im(dcol): the adjoint of im2col, a scatter-add of dcol (K, S) with
 * row stride ld; padding positions are dropped (and zeroed in dcol, which is clobbered). */
static void col2im(const Geom *g, float *dcol, size_t ld, float *dx)
{
    const int k = g->k, s = g->s, Wo = g->Wo, Ho = g->Ho;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < k; ki++) {
            int oh_lo, oh_hi;
            valid_range(ki - g->pad, s, g->H, Ho, &oh_lo, &oh_hi);
            for (int kj = 0; kj < k; kj++) {
                int ow_lo, ow_hi;
                valid_range(kj - g->pad, s, g->W, Wo, &ow_lo, &ow_hi);
                float *src = dcol + (size_t)((c * k + ki) * k + kj) * ld;
                const int dj = kj - g->pad;
                if (s == 1 && Wo == g->W && dj > -Wo && dj < Wo) {
                    /* one shifted block, as in im2col, with the wrapped columns zeroed */
                    float *plane = dx + (size_t)c * (size_t)g->HW, *sv = src + (size_t)oh_lo * (size_t)Wo;
                    const long base = (long)(oh_lo + ki - g->pad) * Wo + dj, n = (long)(oh_hi - oh_lo) * Wo;
                    const long t0 = base < 0 ? -base : 0, t1 = base + n > g->HW ? g->HW - base : n;
                    zero_wrap(sv, oh_hi - oh_lo, Wo, dj);
                    for (long t = t0; t < t1; t++)
                        plane[base + t] += sv[t];
                    continue;
                }
                const int n = ow_hi - ow_lo;
                for (int oh = oh_lo; oh < oh_hi; oh++) {
                    const float *sv = src + (size_t)oh * (size_t)Wo + (size_t)ow_lo;
                    float *d = dx + ((size_t)c * (size_t)g->H + (size_t)(oh * s - g->pad + ki)) * (size_t)g->W
                               + (size_t)(ow_lo * s - g->pad + kj);
                    if (s == 1)
                        for (int j = 0; j < n; j++)
                            d[j] += sv[j];
                    else
                        for (int j = 0; j < n; j++)
                            d[(size_t)j * (size_t)s] += sv[j];
                }
            }
        }
}

void op_conv_columns(const Op *op, const float *x, float *col)
{
    const Geom g = geom(op);
    if (g.direct)
        memcpy(col, x, (size_t)g.K * (size_t)g.S * sizeof *col);
    else
        im2col(&g, x, col, (size_t)g.S);
}

int op_conv_group(const Op *op)
{
    const Geom g = geom(op);
    return g.direct ? 1 : chunk(&g, INT_MAX);
}

/* The same two in double for the R-passes (not hot). */
static void im2col_d(const Geom *g, const double *x, double *col)
{
    const int k = g->k, s = g->s;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                double *dst = col + (size_t)((c * k + ki) * k + kj) * (size_t)g->S;
                for (int oh = 0; oh < g->Ho; oh++)
                    for (int ow = 0; ow < g->Wo; ow++) {
                        int ih = oh * s - g->pad + ki, iw = ow * s - g->pad + kj;
                        bool in = ih >= 0 && ih < g->H && iw >= 0 && iw < g->W;
                        dst[oh * g->Wo + ow] = in ? x[((size_t)c * (size_t)g->H + (size_t)ih) * (size_t)g->W + (size_t)iw] : 0.0;
                    }
            }
}

static void col2im_d(const Geom *g, const double *dcol, double *dx)
{
    const int k = g->k, s = g->s;
    for (int c = 0; c < g->C; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const double *src = dcol + (size_t)((c * k + ki) * k + kj) * (size_t)g->S;
                for (int oh = 0; oh < g->Ho; oh++)
                    for (int ow = 0; ow < g->Wo; ow++) {
                        int ih = oh * s - g->pad + ki, iw = ow * s - g->pad + kj;
                        if (ih >= 0 && ih < g->H && iw >= 0 && iw < g->W)
                            dx[((size_t)c * (size_t)g->H + (size_t)ih) * (size_t)g->W + (size_t)iw] +=
                                src[oh * g->Wo + ow];
                    }
            }
}

/* ---- float passes ------------------------------------------------------------------ */

/* y (B, O, S) = conv(x (B, C, H, W); W) + b */
static void conv_forward(const Op *op, const OpPass *a)
{
    const Geom g = geom(op);
    const int B = a->B, O = g.O, K = g.K, S = g.S;
    const float *Wt = a->p, *b = op->d.no_bias ? NULL : a->p + (size_t)O * (size_t)K;
    const size_t nx = (size_t)g.C * (size_t)g.HW, ny = (size_t)O * (size_t)S;
    const int nb = g.direct ? 1 : chunk(&g, B);
    /* col (K, nb S), then yc (O, nb S); no scratch when col(x) = x */
    float *col = a->scratch, *yc = g.direct ? NULL : a->scratch + (size_t)K * (size_t)nb * (size_t)S;
    for (int i0 = 0; i0 < B; i0 += nb) {
        const int n = B - i0 < nb ? B - i0 : nb, ld = n * S;
        const float *x = a->x[0] + (size_t)i0 * nx;
        float *y = a->y + (size_t)i0 * ny;
        if (g.direct) {
            /* Y_i (O, HW) = W (O, C) X_i (C, HW) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, S, K, 1.0f, Wt, K, x, S, 0.0f, y, S);
        } else if (n == 1) {
            im2col(&g, x, col, (size_t)S);
            /* Y_i (O, S) = W (O, K) col(X_i) (K, S) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, S, K, 1.0f, Wt, K, col, S, 0.0f, y, S);
        } else {
            for (int j = 0; j < n; j++)
                im2col(&g, x + (size_t)j * nx, col + (size_t)j * (size_t)S, (size_t)ld);
            /* [Y_i0 .. Y_i0+n-1] (O, n S) = W (O, K) [col(X_i0) .. col(X_i0+n-1)] (K, n S) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, ld, K, 1.0f, Wt, K, col, ld, 0.0f, yc, ld);
            for (int j = 0; j < n; j++)
                for (int o = 0; o < O; o++) {
                    float *dst = y + (size_t)j * ny + (size_t)o * (size_t)S;
                    const float *src = yc + (size_t)o * (size_t)ld + (size_t)j * (size_t)S;
                    const float bo = b ? b[o] : 0.0f;
                    for (int q = 0; q < S; q++)
                        dst[q] = src[q] + bo;
                }
            continue;
        }
        for (int j = 0; b && j < n; j++) /* the single-sample paths: + b */
            for (int o = 0; o < O; o++) {
                float *row = y + (size_t)j * ny + (size_t)o * (size_t)S;
                for (int q = 0; q < S; q++)
                    row[q] += b[o];
            }
    }
}

/* From dy (B, O, S):  dW = sum_i dY_i col(X_i)^T,  db = sum_i,positions dY_i,
 * dcol_i = W^T dY_i,  dx_i (+)= col2im(dcol_i). */
static void conv_backward(const Op *op, const OpPass *a)
{
    const Geom g = geom(op);
    const int B = a->B, O = g.O, K = g.K, S = g.S;
    const float *Wt = a->p;
    const size_t nx = (size_t)g.C * (size_t)g.HW, ny = (size_t)O * (size_t)S;
    float *dW = a->dp, *dx = a->dx[0];
    const bool add = a->dx_add[0];
    if (dW && !op->d.no_bias) {
        float *db = dW + (size_t)O * (size_t)K;
        memset(db, 0, (size_t)O * sizeof *db);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < O; o++) {
                const float *row = a->dy + (size_t)i * ny + (size_t)o * (size_t)S;
                float sum = 0.0f;
                for (int q = 0; q < S; q++)
                    sum += row[q];
                db[o] += sum;
            }
    }
    if (!dW && !dx)
        return;
    if (g.direct) {
        for (int i = 0; i < B; i++) {
            const float *x = a->x[0] + (size_t)i * nx, *dy = a->dy + (size_t)i * ny;
            /* dW (O, C) (+)= dY_i (O, HW) X_i^T (HW, C) */
            if (dW)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, S, 1.0f, dy, S, x, S,
                            i ? 1.0f : 0.0f, dW, K);
            /* dX_i (C, HW) (+)= W^T (C, O) dY_i (O, HW) */
            if (dx)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, S, O, 1.0f, Wt, K, dy, S,
                            add ? 1.0f : 0.0f, dx + (size_t)i * nx, S);
        }
        return;
    }
    const int nb = chunk(&g, B);
    /* col (K, nb S), then dyc (O, nb S) */
    float *col = a->scratch, *dyc = a->scratch + (size_t)K * (size_t)nb * (size_t)S;
    for (int i0 = 0; i0 < B; i0 += nb) {
        const int n = B - i0 < nb ? B - i0 : nb, ld = n * S;
        const float *x = a->x[0] + (size_t)i0 * nx, *dyb = a->dy + (size_t)i0 * ny;
        if (n > 1) { /* [dY_i0 .. dY_i0+n-1] side by side: (O, n S) */
            for (int j = 0; j < n; j++)
                for (int o = 0; o < O; o++)
                    memcpy(dyc + (size_t)o * (size_t)ld + (size_t)j * (size_t)S, dyb + (size_t)j * ny + (size_t)o * (size_t)S,
                           (size_t)S * sizeof *dyc);
            dyb = dyc;
        }
        if (dW) {
            for (int j = 0; j < n; j++)
                im2col(&g, x + (size_t)j * nx, col + (size_t)j * (size_t)S, (size_t)ld);
            /* dW (O, K) (+)= dY (O, n S) col^T (n S, K), over the chunk's samples */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, ld, 1.0f, dyb, ld, col, ld,
                        i0 ? 1.0f : 0.0f, dW, K);
        }
        if (dx) {
            /* dcol (K, n S) = W^T (K, O) dY (O, n S), then dx_i (+)= col2im(dcol_i) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, ld, O, 1.0f, Wt, K, dyb, ld, 0.0f, col, ld);
            float *dxb = dx + (size_t)i0 * nx;
            if (!add)
                memset(dxb, 0, (size_t)n * nx * sizeof *dxb);
            for (int j = 0; j < n; j++)
                col2im(&g, col + (size_t)j * (size_t)S, (size_t)ld, dxb + (size_t)j * nx);
        }
    }
}

/* ---- double passes with the R-operator (per sample, not hot) ----------------------- */

/* y = conv(x; W) + b,  R{y} = conv(R{x}; W) + conv(x; V_W) + V_b */
static void conv_r_forward(const Op *op, const OpRPass *a)
{
    const Geom g = geom(op);
    const int O = g.O, K = g.K, S = g.S;
    const size_t nw = (size_t)O * (size_t)K, nx = (size_t)g.C * (size_t)g.HW, ny = (size_t)O * (size_t)S;
    double *col = xmalloc((size_t)K * (size_t)S * sizeof *col);
    for (int i = 0; i < a->B; i++) {
        double *y = a->y + (size_t)i * ny, *ry = a->ry ? a->ry + (size_t)i * ny : NULL;
        for (int o = 0; o < O; o++)
            for (int q = 0; q < S; q++) {
                y[(size_t)o * S + (size_t)q] = op->d.no_bias ? 0.0 : a->p[nw + (size_t)o];
                if (ry)
                    ry[(size_t)o * S + (size_t)q] = op->d.no_bias ? 0.0 : a->v[nw + (size_t)o];
            }
        im2col_d(&g, a->x[0] + (size_t)i * nx, col);
        /* Y_i += W col(X_i);  R{Y_i} += V_W col(X_i) */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, S, K, 1.0, a->p, K, col, S, 1.0, y, S);
        if (!ry)
            continue;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, S, K, 1.0, a->v, K, col, S, 1.0, ry, S);
        if (a->rx[0]) { /* R{Y_i} += W col(R{X_i}) */
            im2col_d(&g, a->rx[0] + (size_t)i * nx, col);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, S, K, 1.0, a->p, K, col, S, 1.0, ry, S);
        }
    }
    free(col);
}

/* dW += dY col(X)^T, db += sum dY;  R{dW} += R{dY} col(X)^T + dY col(R{X})^T,
 * R{db} += sum R{dY};  dX (+)= col2im(W^T dY);  R{dX} (+)= col2im(W^T R{dY} + V_W^T dY) */
static void conv_r_backward(const Op *op, const OpRPass *a)
{
    const Geom g = geom(op);
    const int O = g.O, K = g.K, S = g.S;
    const size_t nw = (size_t)O * (size_t)K, nx = (size_t)g.C * (size_t)g.HW, ny = (size_t)O * (size_t)S;
    const bool bias = !op->d.no_bias;
    double *col = xmalloc((size_t)K * (size_t)S * sizeof *col);
    for (int i = 0; i < a->B; i++) {
        const double *x = a->x[0] + (size_t)i * nx, *rx = a->rx[0] ? a->rx[0] + (size_t)i * nx : NULL;
        const double *dy = a->dy + (size_t)i * ny, *rdy = a->rdy ? a->rdy + (size_t)i * ny : NULL;
        if (a->dp || (a->rdp && rdy)) {
            im2col_d(&g, x, col);
            if (a->dp) /* dW (O, K) += dY_i (O, S) col(X_i)^T (S, K) */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, S, 1.0, dy, S, col, S, 1.0, a->dp, K);
            if (a->rdp && rdy) /* R{dW} += R{dY_i} col(X_i)^T */
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, S, 1.0, rdy, S, col, S, 1.0, a->rdp, K);
        }
        if (a->rdp && rx) { /* R{dW} += dY_i col(R{X_i})^T */
            im2col_d(&g, rx, col);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, K, S, 1.0, dy, S, col, S, 1.0, a->rdp, K);
        }
        for (int o = 0; bias && o < O; o++)
            for (int q = 0; q < S; q++) {
                if (a->dp)
                    a->dp[nw + (size_t)o] += dy[(size_t)o * S + (size_t)q];
                if (a->rdp && rdy)
                    a->rdp[nw + (size_t)o] += rdy[(size_t)o * S + (size_t)q];
            }
        if (a->dx[0]) { /* dcol = W^T (K, O) dY_i (O, S); dX_i (+)= col2im(dcol) */
            double *dx = a->dx[0] + (size_t)i * nx;
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, S, O, 1.0, a->p, K, dy, S, 0.0, col, S);
            if (!a->dx_add[0])
                memset(dx, 0, nx * sizeof *dx);
            col2im_d(&g, col, dx);
        }
        if (a->rdx[0]) { /* dcol = W^T R{dY_i} + V_W^T dY_i; R{dX_i} (+)= col2im(dcol) */
            double *rdx = a->rdx[0] + (size_t)i * nx;
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, S, O, 1.0, a->v, K, dy, S, 0.0, col, S);
            if (rdy)
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, S, O, 1.0, a->p, K, rdy, S, 1.0, col, S);
            if (!a->dx_add[0])
                memset(rdx, 0, nx * sizeof *rdx);
            col2im_d(&g, col, rdx);
        }
    }
    free(col);
}

static void conv_weight_view(const Op *op, WeightView *w)
{
    *w = (WeightView){op->p, op->out_shape.c, op->in_shape.c * op->d.kernel * op->d.kernel};
}

static double conv_flops(const Op *op)
{
    const Geom g = geom(op);
    return (double)g.O * (double)g.S * (double)g.K;
}

const OpKindDef OP_CONV_DEF = {
    .name = "conv",
    .n_inputs = 1,
    .shape = conv_shape,
    .n_params = conv_params,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .scratch_floats = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .r_forward = conv_r_forward,
    .r_backward = conv_r_backward,
    .weight_view = conv_weight_view,
    .flops = conv_flops,
};
