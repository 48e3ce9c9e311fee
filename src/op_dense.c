/* op dense: y = x W^T + b, x (B,I), W (O,I), b (O), y (B,O); parameters W then b. An
 * input of shape (C, H, W) is read as its I = C*H*W values in row-major order, as if
 * flattened (so an MLP on images sees the flat vector). */
#include <cblas.h>
#include <stdio.h>
#include <string.h>

#include "bpsweep/op.h"

static int dense_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)in;
    if (d->units < 1)
        return snprintf(msg, len, "dense needs out >= 1"), -1;
    *out = (Shape){d->units, 1, 1};
    return 0;
}

static size_t dense_params(const OpDesc *d, Shape in, Shape out)
{
    (void)d;
    return shape_size(in) * shape_size(out) + shape_size(out);
}

static void dense_forward(const Op *op, const OpPass *a)
{
    const int B = a->B, n_in = (int)shape_size(op->in_shape), n_out = op->out_shape.c;
    const float *W = a->p, *b = a->p + (size_t)n_out * n_in;
    /* y = x W^T: (B,I) x (I,O), then + b */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0f, a->x[0], n_in, W, n_in, 0.0f,
                a->y, n_out);
    for (int i = 0; i < B; i++) {
        float *y = a->y + (size_t)i * (size_t)n_out;
        for (int j = 0; j < n_out; j++)
            y[j] += b[j];
    }
}

static void dense_backward(const Op *op, const OpPass *a)
{
    const int B = a->B, n_in = (int)shape_size(op->in_shape), n_out = op->out_shape.c;
    const float *dz = a->dy, *W = a->p;
    if (a->dp) {
        /* y = x W^T + b:  db = sum_i dy,  dW = dy^T x (O,B)x(B,I) */
        float *dW = a->dp, *db = a->dp + (size_t)n_out * n_in;
        memset(db, 0, (size_t)n_out * sizeof *db);
        for (int i = 0; i < B; i++) {
            const float *row = dz + (size_t)i * (size_t)n_out;
            for (int j = 0; j < n_out; j++)
                db[j] += row[j];
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0f, dz, n_out, a->x[0], n_in,
                    0.0f, dW, n_in);
    }
    /* dx (+)= dy W: (B,O) x (O,I) */
    if (a->dx[0])
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0f, dz, n_out, W, n_in,
                    a->dx_add[0] ? 1.0f : 0.0f, a->dx[0], n_in);
}

static void dense_r_forward(const Op *op, const OpRPass *a)
{
    const int B = a->B, n_in = (int)shape_size(op->in_shape), n_out = op->out_shape.c;
    const size_t nw = (size_t)n_out * n_in;
    /* y = b + x W^T */
    for (int i = 0; i < B; i++)
        memcpy(a->y + (size_t)i * n_out, a->p + nw, (size_t)n_out * sizeof *a->y);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0, a->x[0], n_in, a->p, n_in, 1.0,
                a->y, n_out);
    if (!a->ry)
        return;
    /* R{y} = V_b + R{x} W^T + x V_W^T */
    for (int i = 0; i < B; i++)
        memcpy(a->ry + (size_t)i * n_out, a->v + nw, (size_t)n_out * sizeof *a->ry);
    if (a->rx[0])
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0, a->rx[0], n_in, a->p, n_in,
                    1.0, a->ry, n_out);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, n_out, n_in, 1.0, a->x[0], n_in, a->v, n_in, 1.0,
                a->ry, n_out);
}

static void dense_r_backward(const Op *op, const OpRPass *a)
{
    const int B = a->B, n_in = (int)shape_size(op->in_shape), n_out = op->out_shape.c;
    const size_t nw = (size_t)n_out * n_in, n = (size_t)B * (size_t)n_out;
    const double *d = a->dy, *rd = a->rdy;
    if (a->dp) { /* gW += dy^T x; gb += sum dy */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0, d, n_out, a->x[0], n_in, 1.0,
                    a->dp, n_in);
        for (size_t k = 0; k < n; k++)
            a->dp[nw + k % (size_t)n_out] += d[k];
    }
    if (a->rdp) { /* R{gW} += R{dy}^T x + dy^T R{x}; R{gb} += sum R{dy} */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0, rd, n_out, a->x[0], n_in, 1.0,
                    a->rdp, n_in);
        if (a->rx[0])
            cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, B, 1.0, d, n_out, a->rx[0], n_in,
                        1.0, a->rdp, n_in);
        for (size_t k = 0; k < n; k++)
            a->rdp[nw + k % (size_t)n_out] += rd[k];
    }
    /* dx (+)= dy W; R{dx} (+)= R{dy} W + dy V_W */
    if (a->dx[0])
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0, d, n_out, a->p, n_in,
                    a->dx_add[0] ? 1.0 : 0.0, a->dx[0], n_in);
    if (a->rdx[0]) {
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0, rd, n_out, a->p, n_in,
                    a->dx_add[0] ? 1.0 : 0.0, a->rdx[0], n_in);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n_in, n_out, 1.0, d, n_out, a->v, n_in, 1.0,
                    a->rdx[0], n_in);
    }
}

static void dense_weight_view(const Op *op, WeightView *w)
{
    *w = (WeightView){op->p, op->out_shape.c, (int)shape_size(op->in_shape)};
}

static double dense_flops(const Op *op)
{
    return (double)shape_size(op->in_shape) * op->out_shape.c;
}

const OpKindDef OP_DENSE_DEF = {
    .name = "dense",
    .n_inputs = 1,
    .shape = dense_shape,
    .n_params = dense_params,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = dense_forward,
    .backward = dense_backward,
    .r_forward = dense_r_forward,
    .r_backward = dense_r_backward,
    .weight_view = dense_weight_view,
    .flops = dense_flops,
};
