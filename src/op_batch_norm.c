/* op batch_norm: per feature c of (C, H, W) over the B*H*W values of the batch
 * (PyTorch's BatchNorm1d for vectors, BatchNorm2d for images), with parameters gamma,
 * beta (C) and buffers running mean, running var (C):
 *   training:   xhat = (x - mean_batch) / sqrt(var_batch + eps),  y = gamma xhat + beta,
 *               running statistics move by BN_MOMENTUM, with the unbiased variance
 *   evaluation: y = (x - running_mean) * gamma / sqrt(running_var + eps) + beta
 * Derivation of the backward pass: docs/numerics.md. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bpsweep/op.h"

static size_t bn_params(const OpDesc *d, Shape in, Shape out)
{
    (void)d, (void)out;
    return 2 * (size_t)in.c;
}

static size_t bn_cache(const Op *op, int B)
{
    return (size_t)B * shape_size(op->out_shape); /* xhat */
}

static size_t bn_aux(const Op *op)
{
    /* 1/std (training) or the evaluation scale; dgamma and dbeta of the backward */
    return 3 * (size_t)op->out_shape.c;
}

/* Reductions over a row of n floats (a channel's positions in one sample), in double with
 * four partial sums, so that the additions overlap instead of each waiting on the last. */
static double row_sum(const float *x, int n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += (double)x[j], s1 += (double)x[j + 1];
        s2 += (double)x[j + 2], s3 += (double)x[j + 3];
    }
    for (; j < n; j++)
        s0 += (double)x[j];
    return (s0 + s1) + (s2 + s3);
}

static double row_sq_dev(const float *x, int n, double m)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        double d0 = (double)x[j] - m, d1 = (double)x[j + 1] - m;
        double d2 = (double)x[j + 2] - m, d3 = (double)x[j + 3] - m;
        s0 += d0 * d0, s1 += d1 * d1, s2 += d2 * d2, s3 += d3 * d3;
    }
    for (; j < n; j++) {
        double d = (double)x[j] - m;
        s0 += d * d;
    }
    return (s0 + s1) + (s2 + s3);
}

static double row_dot(const float *a, const float *b, int n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        s0 += (double)a[j] * (double)b[j], s1 += (double)a[j + 1] * (double)b[j + 1];
        s2 += (double)a[j + 2] * (double)b[j + 2], s3 += (double)a[j + 3] * (double)b[j + 3];
    }
    for (; j < n; j++)
        s0 += (double)a[j] * (double)b[j];
    return (s0 + s1) + (s2 + s3);
}

/* the row of sample i, channel c in x (B, C, S) */
#define ROW(p, i, c) ((p) + ((size_t)(i) * (size_t)C + (size_t)(c)) * (size_t)S)

static void bn_forward_train(const Op *op, const OpPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const float *gamma = a->p, *beta = a->p + C, *x = a->x[0];
    float *rmean = a->buf, *rvar = a->buf + C, *inv_std = a->aux, *xhat = a->cache, *y = a->y;
    double *mean = a->work, *var = a->work + C;
    const double N = (double)B * S;
    memset(mean, 0, (size_t)C * sizeof *mean);
    memset(var, 0, (size_t)C * sizeof *var);
    if (S == 1) { /* features innermost: the loops vectorise */
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++)
                mean[c] += (double)x[(size_t)i * C + c];
        for (int c = 0; c < C; c++)
            mean[c] /= B;
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++) {
                double d = (double)x[(size_t)i * C + c] - mean[c];
                var[c] += d * d;
            }
    } else {
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++)
                mean[c] += row_sum(ROW(x, i, c), S);
        for (int c = 0; c < C; c++)
            mean[c] /= N;
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++)
                var[c] += row_sq_dev(ROW(x, i, c), S, mean[c]);
    }
    /* N = 1 has no unbiased variance (PyTorch refuses it); keep the biased one */
    double unbias = N > 1 ? N / (N - 1) : 1.0;
    for (int c = 0; c < C; c++) {
        var[c] /= N;
        inv_std[c] = (float)(1.0 / sqrt(var[c] + (double)BN_EPS));
        rmean[c] = (1.0f - BN_MOMENTUM) * rmean[c] + BN_MOMENTUM * (float)mean[c];
        rvar[c] = (1.0f - BN_MOMENTUM) * rvar[c] + BN_MOMENTUM * (float)(var[c] * unbias);
    }
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            const float m = (float)mean[c], is = inv_std[c], g = gamma[c], b = beta[c];
            const float *xr = ROW(x, i, c);
            float *xhr = ROW(xhat, i, c), *yr = ROW(y, i, c);
            for (int s = 0; s < S; s++) {
                float xh = (xr[s] - m) * is;
                xhr[s] = xh;
                yr[s] = g * xh + b;
            }
        }
}

static void bn_forward_eval(const Op *op, const OpPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const float *gamma = a->p, *beta = a->p + C, *rmean = a->buf, *rvar = a->buf + C;
    float *scale = a->aux;
    for (int c = 0; c < C; c++)
        scale[c] = gamma[c] / sqrtf(rvar[c] + BN_EPS);
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            const float m = rmean[c], sc = scale[c], b = beta[c];
            const float *xr = ROW(a->x[0], i, c);
            float *yr = ROW(a->y, i, c);
            for (int s = 0; s < S; s++)
                yr[s] = (xr[s] - m) * sc + b;
        }
}

static void bn_forward(const Op *op, const OpPass *a)
{
    if (a->train)
        bn_forward_train(op, a);
    else
        bn_forward_eval(op, a);
}

/* Training mode, with batch statistics: dbeta = sum dy, dgamma = sum dy xhat,
 *   dx = gamma inv_std / N (N dy - dbeta - xhat dgamma)            (docs/numerics.md) */
static void bn_backward_train(const Op *op, const OpPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const float *gamma = a->p, *inv_std = a->aux, *xhat = a->cache, *dy = a->dy;
    double *sum_dy = a->work, *sum_dy_xhat = a->work + C;
    memset(sum_dy, 0, (size_t)C * sizeof *sum_dy);
    memset(sum_dy_xhat, 0, (size_t)C * sizeof *sum_dy_xhat);
    if (S == 1) /* one value per row: the order of the sums as for vectors ever since */
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++) {
                size_t k = (size_t)i * C + (size_t)c;
                sum_dy[c] += (double)dy[k];
                sum_dy_xhat[c] += (double)dy[k] * (double)xhat[k];
            }
    else
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++) {
                sum_dy[c] += row_sum(ROW(dy, i, c), S);
                sum_dy_xhat[c] += row_dot(ROW(dy, i, c), ROW(xhat, i, c), S);
            }
    /* the sums as the float gradients hold them: the input gradient uses those */
    float *dgamma = a->aux + C, *dbeta = a->aux + 2 * C;
    for (int c = 0; c < C; c++) {
        dbeta[c] = (float)sum_dy[c];
        dgamma[c] = (float)sum_dy_xhat[c];
    }
    if (a->dp) {
        memcpy(a->dp, dgamma, (size_t)C * sizeof *dgamma);
        memcpy(a->dp + C, dbeta, (size_t)C * sizeof *dbeta);
    }
    if (!a->dx[0])
        return;
    const float N = (float)B * (float)S;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            const float k = gamma[c] * inv_std[c] / N, db = dbeta[c], dg = dgamma[c];
            const float *dyr = ROW(dy, i, c), *xr = ROW(xhat, i, c);
            float *dxr = ROW(a->dx[0], i, c);
            if (a->dx_add[0])
                for (int s = 0; s < S; s++)
                    dxr[s] += k * (N * dyr[s] - db - xr[s] * dg);
            else
                for (int s = 0; s < S; s++)
                    dxr[s] = k * (N * dyr[s] - db - xr[s] * dg);
        }
}

/* Evaluation mode, an affine map per feature: dx = dy * scale; dgamma = sum dy xhat
 * with xhat = (x - running_mean) / sqrt(running_var + eps); dbeta = sum dy. */
static void bn_backward_eval(const Op *op, const OpPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const float *scale = a->aux, *dy = a->dy;
    if (a->dp) {
        const float *rmean = a->buf, *rvar = a->buf + C;
        float *dgamma = a->dp, *dbeta = a->dp + C;
        memset(a->dp, 0, 2 * (size_t)C * sizeof *a->dp);
        for (int i = 0; i < B; i++)
            for (int c = 0; c < C; c++)
                for (int s = 0; s < S; s++) {
                    size_t k = ((size_t)i * C + (size_t)c) * (size_t)S + (size_t)s;
                    float xh = (a->x[0][k] - rmean[c]) / sqrtf(rvar[c] + BN_EPS);
                    dgamma[c] += dy[k] * xh;
                    dbeta[c] += dy[k];
                }
    }
    if (!a->dx[0])
        return;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            const float sc = scale[c], *dyr = ROW(dy, i, c);
            float *dxr = ROW(a->dx[0], i, c);
            if (a->dx_add[0])
                for (int s = 0; s < S; s++)
                    dxr[s] += dyr[s] * sc;
            else
                for (int s = 0; s < S; s++)
                    dxr[s] = dyr[s] * sc;
        }
}

static void bn_backward(const Op *op, const OpPass *a)
{
    if (a->train)
        bn_backward_train(op, a);
    else
        bn_backward_eval(op, a);
}

/* R-operator, evaluation mode, in double: with std = sqrt(running_var + eps),
 * xhat = (x - running_mean) / std and s = gamma / std:
 *   y = xhat gamma + beta                R{y} = R{x} s + xhat V_gamma + V_beta */
static void bn_r_forward(const Op *op, const OpRPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const double *gamma = a->p, *beta = a->p + C;
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            double std = sqrt((double)a->buf[C + c] + (double)BN_EPS), m = (double)a->buf[c];
            for (int s = 0; s < S; s++) {
                size_t k = ((size_t)i * C + (size_t)c) * (size_t)S + (size_t)s;
                double xh = (a->x[0][k] - m) / std;
                a->y[k] = xh * gamma[c] + beta[c];
                if (a->ry)
                    a->ry[k] = (a->rx[0] ? a->rx[0][k] * gamma[c] / std : 0.0) +
                               xh * a->v[c] + a->v[C + c];
            }
        }
}

/*   dx = dy s                            R{dx} = R{dy} s + dy V_gamma / std
 *   dgamma += dy xhat, dbeta += dy       R{dgamma} += R{dy} xhat + dy R{x} / std,
 *                                        R{dbeta} += R{dy} */
static void bn_r_backward(const Op *op, const OpRPass *a)
{
    const int B = a->B, C = op->out_shape.c, S = op->out_shape.h * op->out_shape.w;
    const double *gamma = a->p;
    const bool add = a->dx_add[0];
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++) {
            double std = sqrt((double)a->buf[C + c] + (double)BN_EPS), m = (double)a->buf[c];
            for (int s = 0; s < S; s++) {
                size_t k = ((size_t)i * C + (size_t)c) * (size_t)S + (size_t)s;
                double xh = (a->x[0][k] - m) / std, dy = a->dy[k];
                double rdy = a->rdy ? a->rdy[k] : 0.0, rx = a->rx[0] ? a->rx[0][k] : 0.0;
                if (a->dp) {
                    a->dp[c] += dy * xh;
                    a->dp[C + c] += dy;
                }
                if (a->rdp) {
                    a->rdp[c] += rdy * xh + dy * rx / std;
                    a->rdp[C + c] += rdy;
                }
                if (a->dx[0])
                    a->dx[0][k] = (add ? a->dx[0][k] : 0.0) + dy * gamma[c] / std;
                if (a->rdx[0])
                    a->rdx[0][k] =
                        (add ? a->rdx[0][k] : 0.0) + rdy * gamma[c] / std + dy * a->v[c] / std;
            }
        }
}

static double bn_flops(const Op *op)
{
    return 2.0 * (double)shape_size(op->out_shape);
}

const OpKindDef OP_BATCH_NORM_DEF = {
    .name = "batch_norm",
    .n_inputs = 1,
    .shape = op_same_shape,
    .n_params = bn_params,
    .n_buffers = bn_params, /* running mean and var: as many as gamma and beta */
    .cache_floats = bn_cache,
    .aux_floats = bn_aux,
    .forward = bn_forward,
    .backward = bn_backward,
    .r_forward = bn_r_forward,
    .r_backward = bn_r_backward,
    .flops = bn_flops,
};
