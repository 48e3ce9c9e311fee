/* op add: y = x_0 + x_1, the residual add; both inputs have the output's shape. */
#include <stdio.h>

#include "bpsweep/op.h"

static int add_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d;
    if (in[0].c != in[1].c || in[0].h != in[1].h || in[0].w != in[1].w)
        return snprintf(msg, len, "add needs equal shapes, not (%d, %d, %d) and (%d, %d, %d)",
                        in[0].c, in[0].h, in[0].w, in[1].c, in[1].h, in[1].w), -1;
    *out = in[0];
    return 0;
}

static void add_forward(const Op *op, const OpPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    const float *x0 = a->x[0], *x1 = a->x[1];
    for (size_t k = 0; k < n; k++)
        a->y[k] = x0[k] + x1[k];
}

static void add_backward(const Op *op, const OpPass *a)
{
    /* dx_0 (+)= dy, dx_1 (+)= dy */
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    for (int i = 0; i < 2; i++)
        if (a->dx[i])
            op_grad_store(a->dx[i], a->dy, n, a->dx_add[i]);
}

static void add_r_forward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    for (size_t k = 0; k < n; k++) {
        a->y[k] = a->x[0][k] + a->x[1][k];
        if (a->ry) /* a missing R{x} is zero */
            a->ry[k] = (a->rx[0] ? a->rx[0][k] : 0.0) + (a->rx[1] ? a->rx[1][k] : 0.0);
    }
}

static void add_r_backward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    for (int i = 0; i < 2; i++) {
        if (a->dx[i])
            op_grad_store_d(a->dx[i], a->dy, n, a->dx_add[i]);
        if (a->rdx[i])
            op_grad_store_d(a->rdx[i], a->rdy, n, a->dx_add[i]);
    }
}

static double add_flops(const Op *op)
{
    return (double)shape_size(op->out_shape);
}

const OpKindDef OP_ADD_DEF = {
    .name = "add",
    .n_inputs = 2,
    .shape = add_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = add_forward,
    .backward = add_backward,
    .r_forward = add_r_forward,
    .r_backward = add_r_backward,
    .flops = add_flops,
};
