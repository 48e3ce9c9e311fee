/* op max_pool: y = the max of x over k x k windows, stride s, padding pad (padded
 * positions never win), as PyTorch's MaxPool2d with ceil_mode=False, which also requires
 * pad <= k / 2, so every window holds at least one input position.
 * Per sample x (C, H, W) -> y (C, Ho, Wo), Ho = (H + 2 pad - k) / s + 1 (floor).
 *
 * Tie rule (PyTorch's CPU kernel): the window is scanned row-major from its first input
 * position with max = -inf, and the max moves to a value when `v > max || isnan(v)`, so
 * among equal maxima the first wins (a NaN, the last NaN). The gradient dy of an output
 * goes to that argmax alone; overlapping windows accumulate.
 *
 * The argmax: a training-mode forward stores it per output in the cache (int32 window
 * positions, B C Ho Wo of them, memcpy'd into the float buffer) for the training-mode
 * backward, which runs on every step. An evaluation-mode backward recomputes it from x:
 * its forward may not have been on this work space (nn_work_repeat copies activations
 * and aux, not caches), and x is always at hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bpsweep/op.h"

_Static_assert(sizeof(int32_t) == sizeof(float), "an argmax takes one float of the cache");

static size_t max_pool_cache(const Op *op, int B)
{
    return (size_t)B * shape_size(op->out_shape); /* the argmax of each output, int32 */
}

/* The argmax, as ih W + iw, of the plane x (H, W) over rows [h0, h1), columns [w0, w1),
 * with PyTorch's tie rule, written literally (the double passes). */
static inline int argmax_d(const double *x, int W, int h0, int h1, int w0, int w1)
{
    int arg = h0 * W + w0;
    double m = -(double)INFINITY;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            double v = x[ih * W + iw];
            bool up = v > m || isnan(v);
            m = up ? v : m;
            arg = up ? ih * W + iw : arg;
        }
    return arg;
}

/* The same argmax for float x, in two branch-free passes (random data mispredicts the
 * literal loop's branch; this runs twice per training step). Pass 1: the max m and
 * whether there is a NaN. Without one, the literal loop's index is the first x == m
 * (it moves only to larger values; all -inf keeps the first position); with one, it is
 * the last NaN (a NaN moves it, nothing but a NaN beats it). */
static inline int argmax_f(const float *x, int W, int h0, int h1, int w0, int w1)
{
    float m = -INFINITY;
    bool nan = false;
    for (int ih = h0; ih < h1; ih++)
        for (int iw = w0; iw < w1; iw++) {
            float v = x[ih * W + iw];
            m = v > m ? v : m;
            nan |= v != v;
        }
    int arg = h0 * W + w0;
    if (!nan)
        for (int ih = h1 - 1; ih >= h0; ih--)
            for (int iw = w1 - 1; iw >= w0; iw--)
                arg = x[ih * W + iw] == m ? ih * W + iw : arg;
    else
        for (int ih = h0; ih < h1; ih++)
            for (int iw = w0; iw < w1; iw++)
                arg = isnan(x[ih * W + iw]) ? ih * W + iw : arg;
    return arg;
}

/* x (B C, H, W) -> y (B C, Ho, Wo); training mode: cache (B C, Ho, Wo) the argmax */
static void max_pool_forward(const Op *op, const OpPass *a)
{
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    for (size_t r = 0; r < planes; r++) {
        const float *x = a->x[0] + r * (size_t)H * (size_t)W;
        float *y = a->y + r * (size_t)Ho * (size_t)Wo;
        float *idx = a->cache + r * (size_t)Ho * (size_t)Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            op_window(oh, k, s, pad, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                op_window(ow, k, s, pad, W, &w0, &w1);
                int32_t arg = argmax_f(x, W, h0, h1, w0, w1);
                y[oh * Wo + ow] = x[arg];
                if (a->train)
                    memcpy(&idx[oh * Wo + ow], &arg, sizeof arg);
            }
        }
    }
}

/* y_o = x_{argmax o}  =>  dx_j (+)= sum_{o: argmax o = j} dy_o */
static void max_pool_backward(const Op *op, const OpPass *a)
{
    if (!a->dx[0])
        return;
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    if (!a->dx_add[0])
        memset(a->dx[0], 0, planes * (size_t)H * (size_t)W * sizeof *a->dx[0]);
    for (size_t r = 0; r < planes; r++) {
        const float *x = a->x[0] + r * (size_t)H * (size_t)W;
        const float *dy = a->dy + r * (size_t)Ho * (size_t)Wo;
        const float *idx = a->cache + r * (size_t)Ho * (size_t)Wo;
        float *dx = a->dx[0] + r * (size_t)H * (size_t)W;
        if (a->train) /* the argmax the forward stored */
            for (int o = 0; o < Ho * Wo; o++) {
                int32_t arg;
                memcpy(&arg, &idx[o], sizeof arg);
                dx[arg] += dy[o];
            }
        else /* recomputed: see the head of this file */
            for (int oh = 0; oh < Ho; oh++) {
                int h0, h1;
                op_window(oh, k, s, pad, H, &h0, &h1);
                for (int ow = 0; ow < Wo; ow++) {
                    int w0, w1;
                    op_window(ow, k, s, pad, W, &w0, &w1);
                    dx[argmax_f(x, W, h0, h1, w0, w1)] += dy[oh * Wo + ow];
                }
            }
    }
}

/* Apply f(a, r, o, j) to every output o of plane r with its argmax j (double x). */
#define FOR_ARGMAX_D(op, a, BODY)                                                           \
    do {                                                                                    \
        const int k_ = (op)->d.kernel, s_ = (op)->d.stride, pad_ = (op)->d.pad;             \
        const int H_ = (op)->in_shape.h, W_ = (op)->in_shape.w;                             \
        const int Ho_ = (op)->out_shape.h, Wo_ = (op)->out_shape.w;                         \
        const size_t planes_ = (size_t)(a)->B * (size_t)(op)->in_shape.c;                   \
        for (size_t r_ = 0; r_ < planes_; r_++) {                                           \
            const size_t xo_ = r_ * (size_t)H_ * (size_t)W_;                                \
            for (int oh_ = 0; oh_ < Ho_; oh_++) {                                           \
                int h0_, h1_;                                                               \
                op_window(oh_, k_, s_, pad_, H_, &h0_, &h1_);                                  \
                for (int ow_ = 0; ow_ < Wo_; ow_++) {                                       \
                    int w0_, w1_;                                                           \
                    op_window(ow_, k_, s_, pad_, W_, &w0_, &w1_);                              \
                    const size_t o = (r_ * (size_t)Ho_ + (size_t)oh_) * (size_t)Wo_ +       \
                                     (size_t)ow_;                                           \
                    const size_t j =                                                        \
                        xo_ + (size_t)argmax_d((a)->x[0] + xo_, W_, h0_, h1_, w0_, w1_);    \
                    BODY                                                                    \
                }                                                                           \
            }                                                                               \
        }                                                                                   \
    } while (0)

/* y = x at the argmax of x; R{y} = R{x} there (the pattern held fixed) */
static void max_pool_r_forward(const Op *op, const OpRPass *a)
{
    FOR_ARGMAX_D(op, a, {
        a->y[o] = a->x[0][j];
        if (a->ry)
            a->ry[o] = a->rx[0] ? a->rx[0][j] : 0.0;
    });
}

/* dx, R{dx} (+)= dy, R{dy} scattered to the argmax; no parameters */
static void max_pool_r_backward(const Op *op, const OpRPass *a)
{
    const size_t nx = (size_t)a->B * shape_size(op->in_shape);
    if (!a->dx_add[0]) {
        if (a->dx[0])
            memset(a->dx[0], 0, nx * sizeof *a->dx[0]);
        if (a->rdx[0])
            memset(a->rdx[0], 0, nx * sizeof *a->rdx[0]);
    }
    if (!a->dx[0] && !a->rdx[0])
        return;
    FOR_ARGMAX_D(op, a, {
        if (a->dx[0])
            a->dx[0][j] += a->dy[o];
        if (a->rdx[0] && a->rdy)
            a->rdx[0][j] += a->rdy[o];
    });
}

const OpKindDef OP_MAX_POOL_DEF = {
    .name = "max_pool",
    .n_inputs = 1,
    .shape = op_pool_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = max_pool_cache,
    .aux_floats = op_no_aux,
    .forward = max_pool_forward,
    .backward = max_pool_backward,
    .backward_reads_x = true,
    .r_forward = max_pool_r_forward,
    .r_backward = max_pool_r_backward,
    .flops = op_pool_flops,
};
