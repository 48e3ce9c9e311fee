/* op global_avg_pool: (C, H, W) -> (C, 1, 1), y_c = mean of x_c over its S = H W
 * positions (PyTorch's AdaptiveAvgPool2d(1) then flatten). */
#include <stdio.h>

#include "bpsweep/op.h"

static int gap_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d;
    if (in[0].c < 1 || in[0].h < 1 || in[0].w < 1)
        return snprintf(msg, len, "global_avg_pool needs a non-empty input, not (%d, %d, %d)",
                        in[0].c, in[0].h, in[0].w), -1;
    *out = (Shape){in[0].c, 1, 1};
    return 0;
}

/* x (B C, S) -> y (B C) */
static void gap_forward(const Op *op, const OpPass *a)
{
    const size_t n = (size_t)a->B * (size_t)op->in_shape.c;
    const size_t S = (size_t)op->in_shape.h * (size_t)op->in_shape.w;
    const float inv = 1.0f / (float)S;
    for (size_t r = 0; r < n; r++) {
        const float *x = a->x[0] + r * S;
        float s = 0.0f;
        for (size_t j = 0; j < S; j++)
            s += x[j];
        a->y[r] = s * inv;
    }
}

/* y_c = (1/S) sum_s x_cs  =>  dx_cs (+)= dy_c / S */
static void gap_backward(const Op *op, const OpPass *a)
{
    if (!a->dx[0])
        return;
    const size_t n = (size_t)a->B * (size_t)op->in_shape.c;
    const size_t S = (size_t)op->in_shape.h * (size_t)op->in_shape.w;
    const float inv = 1.0f / (float)S;
    for (size_t r = 0; r < n; r++) {
        float g = a->dy[r] * inv, *dx = a->dx[0] + r * S;
        if (a->dx_add[0])
            for (size_t j = 0; j < S; j++)
                dx[j] += g;
        else
            for (size_t j = 0; j < S; j++)
                dx[j] = g;
    }
}

/* linear: R{y} = the same mean of R{x} */
static void gap_r_forward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * (size_t)op->in_shape.c;
    const size_t S = (size_t)op->in_shape.h * (size_t)op->in_shape.w;
    for (size_t r = 0; r < n; r++) {
        double s = 0.0, rs = 0.0;
        for (size_t j = 0; j < S; j++) {
            s += a->x[0][r * S + j];
            if (a->rx[0])
                rs += a->rx[0][r * S + j];
        }
        a->y[r] = s / (double)S;
        if (a->ry)
            a->ry[r] = rs / (double)S;
    }
}

/* dx (+)= dy / S, R{dx} (+)= R{dy} / S; no parameters */
static void gap_r_backward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * (size_t)op->in_shape.c;
    const size_t S = (size_t)op->in_shape.h * (size_t)op->in_shape.w;
    const bool add = a->dx_add[0];
    for (size_t r = 0; r < n; r++) {
        double g = a->dy[r] / (double)S, rg = a->rdy ? a->rdy[r] / (double)S : 0.0;
        for (size_t j = 0; j < S; j++) {
            if (a->dx[0])
                a->dx[0][r * S + j] = (add ? a->dx[0][r * S + j] : 0.0) + g;
            if (a->rdx[0])
                a->rdx[0][r * S + j] = (add ? a->rdx[0][r * S + j] : 0.0) + rg;
        }
    }
}

/* one add per input value, as relu and add count one operation per value */
static double gap_flops(const Op *op)
{
    return (double)shape_size(op->in_shape);
}

const OpKindDef OP_GLOBAL_AVG_POOL_DEF = {
    .name = "global_avg_pool",
    .n_inputs = 1,
    .shape = gap_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = gap_forward,
    .backward = gap_backward,
    .r_forward = gap_r_forward,
    .r_backward = gap_r_backward,
    .flops = gap_flops,
};
