/* op avg_pool: y = the mean of x over k x k windows, stride s, zero padding pad counted
 * in the mean (PyTorch's AvgPool2d with count_include_pad=True, ceil_mode=False): every
 * window lies inside the padded input, so the divisor is always k k.
 * Per sample x (C, H, W) -> y (C, Ho, Wo), Ho = (H + 2 pad - k) / s + 1 (floor). */
#include <stdio.h>

#include "bpsweep/op.h"

/* x (B C, H, W) -> y (B C, Ho, Wo) */
static void avg_pool_forward(const Op *op, const OpPass *a)
{
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    const float inv = 1.0f / (float)(k * k);
    for (size_t r = 0; r < planes; r++) {
        const float *x = a->x[0] + r * (size_t)H * (size_t)W;
        float *y = a->y + r * (size_t)Ho * (size_t)Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            op_window(oh, k, s, pad, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                op_window(ow, k, s, pad, W, &w0, &w1);
                float sum = 0.0f;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        sum += x[ih * W + iw];
                y[oh * Wo + ow] = sum * inv;
            }
        }
    }
}

/* y_o = (1/k^2) sum_{j in window o} x_j  =>  dx_j (+)= sum_{o: j in window o} dy_o / k^2
 * (windows overlap when s < k) */
static void avg_pool_backward(const Op *op, const OpPass *a)
{
    if (!a->dx[0])
        return;
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    const float inv = 1.0f / (float)(k * k);
    for (size_t r = 0; r < planes; r++) {
        float *dx = a->dx[0] + r * (size_t)H * (size_t)W;
        const float *dy = a->dy + r * (size_t)Ho * (size_t)Wo;
        if (!a->dx_add[0])
            for (int j = 0; j < H * W; j++)
                dx[j] = 0.0f;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            op_window(oh, k, s, pad, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                op_window(ow, k, s, pad, W, &w0, &w1);
                float g = dy[oh * Wo + ow] * inv;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++)
                        dx[ih * W + iw] += g;
            }
        }
    }
}

/* linear: R{y} = the same window means of R{x} (zero where R{x} is NULL) */
static void avg_pool_r_forward(const Op *op, const OpRPass *a)
{
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    const double inv = 1.0 / (double)(k * k);
    for (size_t r = 0; r < planes; r++) {
        const size_t xo = r * (size_t)H * (size_t)W, yo = r * (size_t)Ho * (size_t)Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            op_window(oh, k, s, pad, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                op_window(ow, k, s, pad, W, &w0, &w1);
                double sum = 0.0, rsum = 0.0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        sum += a->x[0][xo + (size_t)(ih * W + iw)];
                        if (a->rx[0])
                            rsum += a->rx[0][xo + (size_t)(ih * W + iw)];
                    }
                a->y[yo + (size_t)(oh * Wo + ow)] = sum * inv;
                if (a->ry)
                    a->ry[yo + (size_t)(oh * Wo + ow)] = rsum * inv;
            }
        }
    }
}

/* dx (+)= the scatter of dy / k^2, R{dx} (+)= the scatter of R{dy} / k^2 */
static void avg_pool_r_backward(const Op *op, const OpRPass *a)
{
    const int k = op->d.kernel, s = op->d.stride, pad = op->d.pad;
    const int H = op->in_shape.h, W = op->in_shape.w, Ho = op->out_shape.h, Wo = op->out_shape.w;
    const size_t planes = (size_t)a->B * (size_t)op->in_shape.c;
    const size_t nx = planes * (size_t)H * (size_t)W;
    const double inv = 1.0 / (double)(k * k);
    if (!a->dx_add[0]) {
        for (size_t j = 0; a->dx[0] && j < nx; j++)
            a->dx[0][j] = 0.0;
        for (size_t j = 0; a->rdx[0] && j < nx; j++)
            a->rdx[0][j] = 0.0;
    }
    for (size_t r = 0; r < planes; r++) {
        const size_t xo = r * (size_t)H * (size_t)W, yo = r * (size_t)Ho * (size_t)Wo;
        for (int oh = 0; oh < Ho; oh++) {
            int h0, h1;
            op_window(oh, k, s, pad, H, &h0, &h1);
            for (int ow = 0; ow < Wo; ow++) {
                int w0, w1;
                op_window(ow, k, s, pad, W, &w0, &w1);
                size_t o = yo + (size_t)(oh * Wo + ow);
                double g = a->dy[o] * inv, rg = a->rdy ? a->rdy[o] * inv : 0.0;
                for (int ih = h0; ih < h1; ih++)
                    for (int iw = w0; iw < w1; iw++) {
                        size_t j = xo + (size_t)(ih * W + iw);
                        if (a->dx[0])
                            a->dx[0][j] += g;
                        if (a->rdx[0])
                            a->rdx[0][j] += rg;
                    }
            }
        }
    }
}

const OpKindDef OP_AVG_POOL_DEF = {
    .name = "avg_pool",
    .n_inputs = 1,
    .shape = op_pool_shape,
    .n_params = op_none,
    .n_buffers = op_none,
    .cache_floats = op_no_cache,
    .aux_floats = op_no_aux,
    .forward = avg_pool_forward,
    .backward = avg_pool_backward,
    .r_forward = avg_pool_r_forward,
    .r_backward = avg_pool_r_backward,
    .flops = op_pool_flops,
};
