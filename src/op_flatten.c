/* op flatten: (C, H, W) -> (C*H*W, 1, 1); the bytes of a sample do not move. */
#include <string.h>

#include "bpsweep/op.h"

static int flatten_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d, (void)msg, (void)len;
    *out = (Shape){(int)shape_size(in[0]), 1, 1};
    return 0;
}

static void flatten_forward(const Op *op, const OpPass *a)
{
    memcpy(a->y, a->x[0], (size_t)a->B * shape_size(op->out_shape) * sizeof *a->y);
}

static void flatten_backward(const Op *op, const OpPass *a)
{
    if (a->dx[0])
        op_grad_store(a->dx[0], a->dy, (size_t)a->B * shape_size(op->out_shape), a->dx_add[0]);
}

static void flatten_r_forward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    memcpy(a->y, a->x[0], n * sizeof *a->y);
    if (a->ry && a->rx[0])
        memcpy(a->ry, a->rx[0], n * sizeof *a->ry);
    else if (a->ry)
        memset(a->ry, 0, n * sizeof *a->ry);
}

static void flatten_r_backward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    if (a->dx[0])
        op_grad_store_d(a->dx[0], a->dy, n, a->dx_add[0]);
    if (a->rdx[0])
        op_grad_store_d(a->rdx[0], a->rdy, n, a->dx_add[0]);
}

static double no_flops(const Op *op)
{
    (void)op;
    return 0;
}

const OpKindDef OP_FLATTEN_DEF = {
    .name = "flatten",
    .n_inputs = 1,
    .shape = flatten_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .r_forward = flatten_r_forward,
    .r_backward = flatten_r_backward,
    .flops = no_flops,
};
