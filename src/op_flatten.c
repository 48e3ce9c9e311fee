/* op flatten: (C, H, W) -> (C*H*W, 1, 1); the bytes of a sample do not move. */
#include "bpsweep/op.h"

static int flatten_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d, (void)msg, (void)len;
    *out = (Shape){(int)shape_size(in[0]), 1, 1};
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
    .forward = op_copy_forward,
    .backward = op_copy_backward,
    .r_forward = op_copy_r_forward,
    .r_backward = op_copy_r_backward,
    .flops = op_no_flops,
};
