/* op: the table of op kinds (one entry per src/op_<kind>.c) and what they share. */
#include "bpsweep/op.h"

#include <stdio.h>
#include <string.h>

extern const OpKindDef OP_DENSE_DEF, OP_BATCH_NORM_DEF, OP_RELU_DEF, OP_IDENTITY_DEF,
    OP_ADD_DEF, OP_FLATTEN_DEF, OP_CONV_DEF, OP_MAX_POOL_DEF, OP_AVG_POOL_DEF,
    OP_GLOBAL_AVG_POOL_DEF;

const OpKindDef *const OP_KINDS[OP_N_KINDS] = {
    [OP_DENSE] = &OP_DENSE_DEF,
    [OP_BATCH_NORM] = &OP_BATCH_NORM_DEF,
    [OP_RELU] = &OP_RELU_DEF,
    [OP_IDENTITY] = &OP_IDENTITY_DEF,
    [OP_ADD] = &OP_ADD_DEF,
    [OP_FLATTEN] = &OP_FLATTEN_DEF,
    [OP_CONV] = &OP_CONV_DEF,
    [OP_MAX_POOL] = &OP_MAX_POOL_DEF,
    [OP_AVG_POOL] = &OP_AVG_POOL_DEF,
    [OP_GLOBAL_AVG_POOL] = &OP_GLOBAL_AVG_POOL_DEF,
};

int op_kind_by_name(const char *name)
{
    for (int k = 0; k < OP_N_KINDS; k++)
        if (strcmp(OP_KINDS[k]->name, name) == 0)
            return k;
    return -1;
}

void op_grad_store(float *dst, const float *src, size_t n, bool add)
{
    if (add)
        for (size_t i = 0; i < n; i++)
            dst[i] += src[i];
    else
        memcpy(dst, src, n * sizeof *dst);
}

void op_grad_store_d(double *dst, const double *src, size_t n, bool add)
{
    if (add)
        for (size_t i = 0; i < n; i++)
            dst[i] += src[i];
    else
        memcpy(dst, src, n * sizeof *dst);
}

size_t op_scratch_floats(const Op *op, int B)
{
    const OpKindDef *k = OP_KINDS[op->d.kind];
    return k->scratch_floats ? k->scratch_floats(op, B) : 0;
}

int op_pool_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    const char *name = OP_KINDS[d->kind]->name;
    const int k = d->kernel, s = d->stride, pad = d->pad, H = in[0].h, W = in[0].w;
    if (k < 1 || s < 1 || pad < 0)
        return snprintf(msg, len, "%s needs kernel >= 1, stride >= 1 and pad >= 0, not "
                        "kernel %d, stride %d, pad %d", name, k, s, pad), -1;
    if (pad > k / 2)
        return snprintf(msg, len, "%s: pad %d is more than half the kernel %d (PyTorch "
                        "refuses it)", name, pad, k), -1;
    if (k > H + 2 * pad || k > W + 2 * pad)
        return snprintf(msg, len, "%s: kernel %d is larger than the padded input %d x %d "
                        "(input %d x %d, pad %d): no output", name, k, H + 2 * pad,
                        W + 2 * pad, H, W, pad), -1;
    *out = (Shape){in[0].c, (H + 2 * pad - k) / s + 1, (W + 2 * pad - k) / s + 1};
    return 0;
}

double op_pool_flops(const Op *op)
{
    return (double)shape_size(op->out_shape) * op->d.kernel * op->d.kernel;
}

int op_same_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d, (void)msg, (void)len;
    *out = in[0];
    return 0;
}

size_t op_none(const OpDesc *d, Shape in, Shape out)
{
    (void)d, (void)in, (void)out;
    return 0;
}

size_t op_no_cache(const Op *op, int B)
{
    (void)op, (void)B;
    return 0;
}

size_t op_no_aux(const Op *op)
{
    (void)op;
    return 0;
}

/* ---- the passes of kinds that copy their input (identity, flatten) ---------------- */

void op_copy_forward(const Op *op, const OpPass *a)
{
    memcpy(a->y, a->x[0], (size_t)a->B * shape_size(op->out_shape) * sizeof *a->y);
}

void op_copy_backward(const Op *op, const OpPass *a)
{
    if (a->dx[0])
        op_grad_store(a->dx[0], a->dy, (size_t)a->B * shape_size(op->out_shape), a->dx_add[0]);
}

void op_copy_r_forward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    memcpy(a->y, a->x[0], n * sizeof *a->y);
    if (a->ry && a->rx[0])
        memcpy(a->ry, a->rx[0], n * sizeof *a->ry);
    else if (a->ry)
        memset(a->ry, 0, n * sizeof *a->ry);
}

void op_copy_r_backward(const Op *op, const OpRPass *a)
{
    const size_t n = (size_t)a->B * shape_size(op->out_shape);
    if (a->dx[0])
        op_grad_store_d(a->dx[0], a->dy, n, a->dx_add[0]);
    if (a->rdx[0])
        op_grad_store_d(a->rdx[0], a->rdy, n, a->dx_add[0]);
}

double op_no_flops(const Op *op)
{
    (void)op;
    return 0;
}
