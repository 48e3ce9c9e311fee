/* op identity: y = x (the activation of a linear twin). */
#include "bpsweep/op.h"

static int same_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len)
{
    (void)d, (void)msg, (void)len;
    *out = in[0];
    return 0;
}

const OpKindDef OP_IDENTITY_DEF = {
    .name = "identity",
    .n_inputs = 1,
    .shape = same_shape,
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
