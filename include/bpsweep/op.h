/* op: the operations a network is made of. A network (nn.h) is an ordered list of ops
 * over numbered activation slots: slot 0 is the input, every op reads one or two slots
 * written before it and writes one new slot, and the last op's slot holds the logits.
 * Each op kind is one source file (src/op_<kind>.c) that fills one OpKindDef; the table
 * OP_KINDS maps OpKind to it. Nothing outside those files knows what a kind computes.
 * Numerics only: no MPI, HDF5 or JSON.
 *
 * Shapes are per sample, (C, H, W); a vector of D features is (D, 1, 1). Activations are
 * row-major (B, C*H*W) for a batch of B samples.
 *
 * Every kind has, over a batch:
 *   forward      y = f(x; theta), in float, in training or evaluation mode
 *   backward     dx (+)= dL/dx and, if asked for, dtheta = dL/dtheta, from dy = dL/dy,
 *                for the last forward (either mode: evaluation-mode backward is what
 *                attacks, the NTK and the certificate need)
 *   r_forward    in double: y and R{y} = d/dt y(x + t R{x}; theta + t v), the R-operator
 *   r_backward   in double: dx, dtheta and their R{} along v (exact Hessian-vector
 *                products, Pearlmutter 1994), evaluation mode, with the ReLU pattern of
 *                theta held fixed as autograd's Hessian does
 * and optionally a weight view (a matrix in the parameter block, for spectra and rank
 * projections) and its forward cost. Derivations: docs/numerics.md. */
#ifndef BPSWEEP_OP_H
#define BPSWEEP_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int c, h, w;
} Shape;

static inline size_t shape_size(Shape s)
{
    return (size_t)s.c * (size_t)s.h * (size_t)s.w;
}

typedef enum {
    OP_DENSE = 0,   /* y = x W^T + b, W (O, I); input (I, 1, 1), output (O, 1, 1) */
    OP_BATCH_NORM,  /* per feature (channel): PyTorch's BatchNorm1d/2d, gamma and beta */
    OP_RELU,        /* y = max(x, 0); relu'(0) = 0, as PyTorch */
    OP_IDENTITY,    /* y = x */
    OP_ADD,         /* y = x_0 + x_1 (a residual add), equal shapes */
    OP_FLATTEN,     /* (C, H, W) -> (C*H*W, 1, 1), the same bytes */
    OP_CONV,        /* 2-D convolution: W (O, C, k, k) then b (O) unless no_bias; stride,
                       zero padding pad; output (O, (H + 2 pad - k) / stride + 1, ...) */
    OP_MAX_POOL,    /* max over k x k windows, stride, padding pad (never the max) */
    OP_AVG_POOL,    /* mean over k x k windows, stride, zero padding pad counted in the
                       mean (PyTorch's count_include_pad) */
    OP_GLOBAL_AVG_POOL, /* (C, H, W) -> (C, 1, 1), the mean over positions */
    OP_N_KINDS
} OpKind;

#define OP_MAX_INPUTS 2

/* One op as a network description gives it. */
typedef struct {
    OpKind kind;
    int in[OP_MAX_INPUTS]; /* input slots; in[1] = -1 unless the kind takes two */
    int out;               /* output slot */
    int units;             /* dense: output features O; conv: output channels O */
    int kernel, stride, pad; /* conv, pools: k x k windows, stride, padding */
    bool no_bias;          /* conv: without a bias */
} OpDesc;

/* An op placed in a network: shapes resolved, its parameters and buffers located. */
typedef struct {
    OpDesc d;
    Shape in_shape, out_shape; /* of in[0] and out */
    size_t p, n_p;             /* its parameters: params[p, p + n_p) */
    size_t buf, n_buf;         /* its buffers (batch-norm running statistics) */
    int layer;                 /* index among the ops with a weight view, or -1 */
} Op;

/* The arguments of a float pass of one op over a batch. */
typedef struct {
    int B;
    bool train;                       /* forward: batch statistics (and update them);
                                         backward: the mode of the last forward */
    const float *x[OP_MAX_INPUTS];    /* inputs (B, in size) */
    float *y;                         /* output (B, out size) */
    const float *p;                   /* parameters of this op (its n_p) */
    float *buf;                       /* buffers of this op (its n_buf) */
    double *work;                     /* (2, widest feature count) reductions */
    float *cache;                     /* the op's work space between its forward and
                                         backward (cache_floats(B)), e.g. xhat */
    float *aux;                       /* (aux_floats) e.g. batch norm's 1/std */
    float *scratch;                   /* (scratch_floats(B)) shared by all ops, valid
                                         only within one pass (im2col columns) */
    /* backward */
    const float *dy;                  /* dL/dy (B, out size) */
    float *dx[OP_MAX_INPUTS];         /* dL/dx, NULL where not wanted */
    bool dx_add[OP_MAX_INPUTS];       /* accumulate into dx (it holds another path's) */
    float *dp;                        /* dL/dtheta of this op (overwritten), or NULL */
} OpPass;

/* The arguments of a double-precision pass with the R-operator along v. */
typedef struct {
    int B;
    const double *x[OP_MAX_INPUTS], *rx[OP_MAX_INPUTS]; /* inputs and R{inputs} */
    double *y, *ry;                                     /* output and R{output} */
    const double *p, *v;                                /* parameters, direction */
    const float *buf;                                   /* running statistics */
    /* backward: dy, R{dy} in; dx, R{dx} (+)= out; dp, R{dp} += (accumulated over
     * chunks of samples); any output may be NULL where not wanted */
    const double *dy, *rdy;
    double *dx[OP_MAX_INPUTS], *rdx[OP_MAX_INPUTS];
    bool dx_add[OP_MAX_INPUTS];
    double *dp, *rdp;
} OpRPass;

/* A weight matrix inside the parameter block: W (rows, cols) row-major at params + off
 * (for dense, (O, I); for a convolution its kernels as (O, C k k)). */
typedef struct {
    size_t off;
    int rows, cols;
} WeightView;

typedef struct {
    const char *name;   /* as in specs: "dense", "batch_norm", ... */
    int n_inputs;
    /* Output shape of op->d for the input shapes in[0..n_inputs), or -1 with a reason
     * in msg. */
    int (*shape)(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len);
    size_t (*n_params)(const OpDesc *d, Shape in, Shape out);
    size_t (*n_buffers)(const OpDesc *d, Shape in, Shape out);
    /* floats of OpPass.cache and .aux for batches of B */
    size_t (*cache_floats)(const Op *op, int B);
    size_t (*aux_floats)(const Op *op);
    /* floats of OpPass.scratch for batches of B (NULL: none) */
    size_t (*scratch_floats)(const Op *op, int B);
    void (*forward)(const Op *op, const OpPass *a);
    void (*backward)(const Op *op, const OpPass *a);
    /* an evaluation-mode backward without parameter gradients reads the input values
     * (a ReLU's mask, a max pool's argmax); other kinds read only dy, parameters and aux */
    bool backward_reads_x;
    void (*r_forward)(const Op *op, const OpRPass *a);
    void (*r_backward)(const Op *op, const OpRPass *a);
    /* NULL for kinds without a weight matrix */
    void (*weight_view)(const Op *op, WeightView *w);
    /* multiply-adds of one sample's forward pass */
    double (*flops)(const Op *op);
} OpKindDef;

extern const OpKindDef *const OP_KINDS[OP_N_KINDS];

/* The kind of a name as specs write it, or -1. */
int op_kind_by_name(const char *name);

/* dst = (add ? dst : 0) + src over n floats / doubles: how a gradient reaches an input
 * slot that other paths may have reached first. */
void op_grad_store(float *dst, const float *src, size_t n, bool add);
void op_grad_store_d(double *dst, const double *src, size_t n, bool add);

/* col (C k k, Ho Wo) = im2col of one sample x (C, H, W) of a conv op (its layout in
 * src/op_conv.c; x itself when 1x1, stride 1, no padding): dW = dY col^T per sample. */
void op_conv_columns(const Op *op, const float *x, float *col);

/* Samples a conv op's backward pass puts side by side in one GEMM (the last group of a
 * batch may be shorter): a batch split at multiples of this goes through the same GEMMs
 * row for row, so its signals have the same bits (ntk_kernel_jacobian's passes). */
int op_conv_group(const Op *op);

/* Floats of scratch op needs for batches of B (0 for kinds without scratch_floats). */
size_t op_scratch_floats(const Op *op, int B);

/* The output has the input's shape (elementwise kinds). */
int op_same_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len);

/* The output of a pool (max_pool, avg_pool) as PyTorch's MaxPool2d / AvgPool2d with
 * ceil_mode=False: (C, (H + 2 pad - k) / s + 1, (W + 2 pad - k) / s + 1); refused: k,
 * s < 1, pad < 0, pad > k / 2 (PyTorch refuses it; it keeps every window non-empty), a
 * kernel larger than the padded input. */
int op_pool_shape(const OpDesc *d, const Shape *in, Shape *out, char *msg, size_t len);

/* A pool's cost: k^2 comparisons or adds per output value (as relu and add count one
 * operation per value). */
double op_pool_flops(const Op *op);

/* The input positions [*lo, *hi) of a pool's window o (kernel k, stride s, padding pad)
 * along an axis of n positions; the rest of the window is padding. */
static inline void op_window(int o, int k, int s, int pad, int n, int *lo, int *hi)
{
    int a = o * s - pad, b = a + k;
    *lo = a > 0 ? a : 0;
    *hi = b < n ? b : n;
}

/* Table entries for kinds without parameters, buffers, cache or aux. */
size_t op_none(const OpDesc *d, Shape in, Shape out);
size_t op_no_cache(const Op *op, int B);
size_t op_no_aux(const Op *op);
double op_no_flops(const Op *op);

/* The passes of a kind whose output is its input (identity, flatten): y = x, dx (+)= dy. */
void op_copy_forward(const Op *op, const OpPass *a);
void op_copy_backward(const Op *op, const OpPass *a);
void op_copy_r_forward(const Op *op, const OpRPass *a);
void op_copy_r_backward(const Op *op, const OpRPass *a);

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

#endif
