/* op relu: y = max(x, 0) elementwise; relu'(0) = 0 (PyTorch), here and in the R-ops. */
#include <stdio.h>

#include "bpsweep/op.h"

static void relu_forward(const Op *op, const OpPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    const float *x = a->x[0];
    float *y = a->y;
    for (size_t k = 0; k < n; k++)
        y[k] = x[k] > 0.0f ? x[k] : 0.0f;
}

static void relu_backward(const Op *op, const OpPass *a)
{
    if (!a->dx[0])
        return;
    /* dx (+)= dy * [x > 0] */
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    const float *x = a->x[0], *dy = a->dy;
    float *dx = a->dx[0];
    if (a->dx_add[0])
        for (size_t k = 0; k < n; k++)
            dx[k] += x[k] > 0.0f ? dy[k] : 0.0f;
    else
        for (size_t k = 0; k < n; k++) {
            float g = dy[k]; /* loaded unconditionally so the loop vectorises */
            dx[k] = x[k] > 0.0f ? g : 0.0f;
        }
}

static void relu_r_forward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    for (size_t k = 0; k < n; k++) {
        bool on = a->x[0][k] > 0;
        a->y[k] = on ? a->x[0][k] : 0.0;
        if (a->ry) /* R{y} = [x > 0] R{x}: the pattern of theta held fixed */
            a->ry[k] = on && a->rx[0] ? a->rx[0][k] : 0.0;
    }
}

static void relu_r_backward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    const bool add = a->dx_add[0];
    for (size_t k = 0; k < n; k++) {
        bool on = a->x[0][k] > 0;
        if (a->dx[0])
            a->dx[0][k] = (add ? a->dx[0][k] : 0.0) + (on ? a->dy[k] : 0.0);
        if (a->rdx[0])
            a->rdx[0][k] = (add ? a->rdx[0][k] : 0.0) + (on ? a->rdy[k] : 0.0);
    }
}

static double relu_flops(const Op *op)
{
    return (double)shape_size(op->out_shape);
}

const OpKindDef OP_RELU_DEF = {
    .name = "relu",
    .n_inputs = 1,
    .shape = op_same_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = relu_forward,
    .backward = relu_backward,
    .backward_reads_x = true,
    .r_forward = relu_r_forward,
    .r_backward = relu_r_backward,
    .flops = relu_flops,
};
