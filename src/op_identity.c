/* op identity: y = x (the activation of a linear twin). */
#include "bpsweep/op.h"

const OpKindDef OP_IDENTITY_DEF = {
    .name = "identity",
    .n_inputs = 1,
    .shape = op_same_shape,
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
