/* ops: every op kind's backward pass and R-operator against central finite differences
 * in double precision on tiny shapes; its float passes against its double ones; at the
 * net level, Hessian-vector products against finite differences of gradients, the
 * generic NTK against the factorised one and against a finite-difference Jacobian, an
 * explicit op list against the MLP shorthand, and the op-list checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/ntk.h"
#include "bpsweep/op.h"
#include "bpsweep/rng.h"
#include "test_util.h"

enum { NB = 3 }; /* batch */

static RngStream g_rng;

static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * rng_uniform(&g_rng);
}

/* A random value away from 0, so that a ReLU's pattern does not flip within a step. */
static double away_from_zero(void)
{
    double v = uniform(0.2, 1.5);
    return rng_uniform(&g_rng) < 0.5 ? -v : v;
}

typedef struct {
    Op op;
    size_t nx[OP_MAX_INPUTS], ny; /* floats per batch */
    int n_in;
    double *x[OP_MAX_INPUTS], *rx[OP_MAX_INPUTS], *p, *v, *dy, *rdy;
    float *buf;
} Case;

static double *rand_vec(size_t n)
{
    double *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++)
        a[i] = away_from_zero();
    return a;
}

static Case make_case(OpDesc d, Shape in)
{
    Case c = {0};
    const OpKindDef *k = OP_KINDS[d.kind];
    d.in[0] = 0, d.in[1] = k->n_inputs > 1 ? 1 : -1, d.out = 2;
    Shape ins[2] = {in, in}, out;
    char msg[128];
    CHECK_MSG(k->shape(&d, ins, &out, msg, sizeof msg) == 0, "%s", msg);
    c.op = (Op){.d = d, .in_shape = in, .out_shape = out, .p = 0,
                .n_p = k->n_params(&d, in, out), .n_buf = k->n_buffers(&d, in, out), .layer = 0};
    c.n_in = k->n_inputs;
    for (int j = 0; j < c.n_in; j++) {
        c.nx[j] = NB * shape_size(in);
        c.x[j] = rand_vec(c.nx[j]);
        c.rx[j] = rand_vec(c.nx[j]);
    }
    c.ny = NB * shape_size(out);
    c.p = rand_vec(c.op.n_p);
    c.v = rand_vec(c.op.n_p);
    c.dy = rand_vec(c.ny);
    c.rdy = rand_vec(c.ny);
    c.buf = malloc((c.op.n_buf ? c.op.n_buf : 1) * sizeof *c.buf);
    for (size_t i = 0; i < c.op.n_buf; i++) /* running mean, then a positive variance */
        c.buf[i] = (float)(i < c.op.n_buf / 2 ? uniform(-0.3, 0.3) : uniform(0.5, 2.0));
    return c;
}

static void free_case(Case *c)
{
    for (int j = 0; j < c->n_in; j++)
        free(c->x[j]), free(c->rx[j]);
    free(c->p), free(c->v), free(c->dy), free(c->rdy), free(c->buf);
}

/* y (and ry) at x + t rx, p + t v */
static void forward_at(const Case *c, double t, double *y, double *ry)
{
    double *x[2] = {NULL, NULL}, *p = malloc((c->op.n_p ? c->op.n_p : 1) * sizeof *p);
    for (int j = 0; j < c->n_in; j++) {
        x[j] = malloc(c->nx[j] * sizeof(double));
        for (size_t i = 0; i < c->nx[j]; i++)
            x[j][i] = c->x[j][i] + t * c->rx[j][i];
    }
    for (size_t i = 0; i < c->op.n_p; i++)
        p[i] = c->p[i] + t * c->v[i];
    OpRPass a = {.B = NB, .x = {x[0], x[1]}, .rx = {c->rx[0], c->rx[1]}, .y = y, .ry = ry,
                 .p = p, .v = c->v, .buf = c->buf};
    OP_KINDS[c->op.d.kind]->r_forward(&c->op, &a);
    for (int j = 0; j < c->n_in; j++)
        free(x[j]);
    free(p);
}

/* dx, dp (and their R{}) at x + t rx, p + t v, dy + t rdy */
static void backward_at(const Case *c, double t, double **dx, double *dp, double **rdx,
                        double *rdp)
{
    double *x[2] = {NULL, NULL}, *p = malloc((c->op.n_p ? c->op.n_p : 1) * sizeof *p);
    double *dy = malloc(c->ny * sizeof *dy);
    for (int j = 0; j < c->n_in; j++) {
        x[j] = malloc(c->nx[j] * sizeof(double));
        for (size_t i = 0; i < c->nx[j]; i++)
            x[j][i] = c->x[j][i] + t * c->rx[j][i];
    }
    for (size_t i = 0; i < c->op.n_p; i++)
        p[i] = c->p[i] + t * c->v[i];
    for (size_t i = 0; i < c->ny; i++)
        dy[i] = c->dy[i] + t * c->rdy[i];
    if (dp)
        memset(dp, 0, c->op.n_p * sizeof *dp);
    if (rdp)
        memset(rdp, 0, c->op.n_p * sizeof *rdp);
    OpRPass a = {.B = NB, .x = {x[0], x[1]}, .rx = {c->rx[0], c->rx[1]}, .p = p, .v = c->v,
                 .buf = c->buf, .dy = dy, .rdy = c->rdy, .dx = {dx[0], dx[1]},
                 .rdx = {rdx ? rdx[0] : NULL, rdx ? rdx[1] : NULL}, .dp = c->op.n_p ? dp : NULL,
                 .rdp = c->op.n_p ? rdp : NULL};
    OP_KINDS[c->op.d.kind]->r_backward(&c->op, &a);
    for (int j = 0; j < c->n_in; j++)
        free(x[j]);
    free(p);
    free(dy);
}

static double rel_err(double a, double b)
{
    return fabs(a - b) / (fabs(b) + 1e-8);
}

static void check_close(const char *what, const char *kind, const double *a, const double *ref,
                        size_t n, double tol)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, rel_err(a[i], ref[i]));
    CHECK_MSG(worst <= tol, "%s %s: worst relative error %.3g > %.3g", kind, what, worst, tol);
}

/* Float results against double ones: relative to |ref| but at least 1% of the largest
 * |ref|, since a float sum of many terms (a convolution's C k k) that cancels to near 0
 * keeps only an absolute accuracy. */
static void check_close_float(const char *what, const char *kind, const double *a, const double *ref,
                              size_t n, double tol)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - ref[i]) / fmax(fabs(ref[i]), 1e-2 * scale + 1e-30));
    CHECK_MSG(worst <= tol, "%s %s: worst relative error %.3g > %.3g", kind, what, worst, tol);
}

/* The double passes against finite differences, and the float passes against the double
 * ones (batch norm in evaluation mode; training mode is in unit_nn). */
static void check_op(OpDesc d, Shape in)
{
    const OpKind kind = d.kind;
    const char *name = OP_KINDS[kind]->name;
    Case c = make_case(d, in);
    const double h = 1e-6;
    const size_t ny = c.ny, np = c.op.n_p;
    double *y = malloc(ny * sizeof *y), *ry = malloc(ny * sizeof *ry);
    double *yp = malloc(ny * sizeof *yp), *ym = malloc(ny * sizeof *ym);
    double *fd = malloc((ny > np ? ny : np) * sizeof *fd + 64 * sizeof *fd);
    /* R-forward: R{y} = d/dt y(x + t rx, p + t v) */
    forward_at(&c, 0, y, ry);
    forward_at(&c, h, yp, NULL);
    forward_at(&c, -h, ym, NULL);
    for (size_t i = 0; i < ny; i++)
        fd[i] = (yp[i] - ym[i]) / (2 * h);
    check_close("R-forward", name, ry, fd, ny, 1e-6);

    /* backward: dx = d(dy . y)/dx, dp = d(dy . y)/dp, one coordinate at a time */
    double *dx[2] = {NULL, NULL}, *rdx[2] = {NULL, NULL};
    for (int j = 0; j < c.n_in; j++) {
        dx[j] = calloc(c.nx[j], sizeof(double));
        rdx[j] = calloc(c.nx[j], sizeof(double));
    }
    double *dp = calloc(np + 1, sizeof *dp), *rdp = calloc(np + 1, sizeof *rdp);
    backward_at(&c, 0, dx, dp, rdx, rdp);
    for (int j = 0; j < c.n_in; j++) {
        double *fdx = malloc(c.nx[j] * sizeof *fdx);
        for (size_t i = 0; i < c.nx[j]; i++) {
            double keep = c.x[j][i], lp = 0, lm = 0;
            c.x[j][i] = keep + h;
            forward_at(&c, 0, yp, NULL);
            c.x[j][i] = keep - h;
            forward_at(&c, 0, ym, NULL);
            c.x[j][i] = keep;
            for (size_t k = 0; k < ny; k++)
                lp += c.dy[k] * yp[k], lm += c.dy[k] * ym[k];
            fdx[i] = (lp - lm) / (2 * h);
        }
        check_close("backward dx", name, dx[j], fdx, c.nx[j], 1e-6);
        free(fdx);
    }
    for (size_t i = 0; i < np; i++) {
        double keep = c.p[i], lp = 0, lm = 0;
        c.p[i] = keep + h;
        forward_at(&c, 0, yp, NULL);
        c.p[i] = keep - h;
        forward_at(&c, 0, ym, NULL);
        c.p[i] = keep;
        for (size_t k = 0; k < ny; k++)
            lp += c.dy[k] * yp[k], lm += c.dy[k] * ym[k];
        fd[i] = (lp - lm) / (2 * h);
    }
    check_close("backward dp", name, dp, fd, np, 1e-6);

    /* R-backward: R{dx}, R{dp} = d/dt of dx, dp at (x + t rx, p + t v, dy + t rdy) */
    double *dxp[2] = {NULL, NULL}, *dxm[2] = {NULL, NULL};
    for (int j = 0; j < c.n_in; j++) {
        dxp[j] = calloc(c.nx[j], sizeof(double));
        dxm[j] = calloc(c.nx[j], sizeof(double));
    }
    double *dpp = calloc(np + 1, sizeof *dpp), *dpm = calloc(np + 1, sizeof *dpm);
    backward_at(&c, h, dxp, dpp, NULL, NULL);
    backward_at(&c, -h, dxm, dpm, NULL, NULL);
    for (int j = 0; j < c.n_in; j++) {
        double *fdx = malloc(c.nx[j] * sizeof *fdx);
        for (size_t i = 0; i < c.nx[j]; i++)
            fdx[i] = (dxp[j][i] - dxm[j][i]) / (2 * h);
        check_close("R-backward dx", name, rdx[j], fdx, c.nx[j], 1e-6);
        free(fdx);
    }
    for (size_t i = 0; i < np; i++)
        fd[i] = (dpp[i] - dpm[i]) / (2 * h);
    check_close("R-backward dp", name, rdp, fd, np, 1e-6);

    /* the float passes, evaluation mode, against the double ones */
    const OpKindDef *k = OP_KINDS[kind];
    float *xf[2] = {NULL, NULL}, *dxf[2] = {NULL, NULL};
    float *pf = malloc((np + 1) * sizeof *pf), *yf = malloc(ny * sizeof *yf);
    float *dyf = malloc(ny * sizeof *dyf), *dpf = malloc((np + 1) * sizeof *dpf);
    float *cache = malloc((k->cache_floats(&c.op, NB) + 1) * sizeof *cache);
    float *aux = malloc((k->aux_floats(&c.op) + 1) * sizeof *aux);
    double work[2 * 64];
    float *scratch = malloc((op_scratch_floats(&c.op, NB) + 1) * sizeof *scratch);
    for (int j = 0; j < c.n_in; j++) {
        xf[j] = malloc(c.nx[j] * sizeof(float));
        dxf[j] = malloc(c.nx[j] * sizeof(float));
        for (size_t i = 0; i < c.nx[j]; i++)
            xf[j][i] = (float)c.x[j][i];
    }
    for (size_t i = 0; i < np; i++)
        pf[i] = (float)c.p[i];
    for (size_t i = 0; i < ny; i++)
        dyf[i] = (float)c.dy[i];
    OpPass a = {.B = NB, .train = false, .x = {xf[0], xf[1]}, .y = yf, .p = pf, .buf = c.buf,
                .work = work, .cache = cache, .aux = aux, .scratch = scratch, .dy = dyf, .dx = {dxf[0], dxf[1]},
                .dp = np ? dpf : NULL};
    k->forward(&c.op, &a);
    k->backward(&c.op, &a);
    double *tmp = malloc((ny > np ? ny : np) * sizeof *tmp + 8);
    for (size_t i = 0; i < ny; i++)
        tmp[i] = yf[i];
    check_close_float("float forward", name, tmp, y, ny, 1e-5);
    for (int j = 0; j < c.n_in; j++) {
        double *t2 = malloc(c.nx[j] * sizeof *t2);
        for (size_t i = 0; i < c.nx[j]; i++)
            t2[i] = dxf[j][i];
        check_close("float backward dx", name, t2, dx[j], c.nx[j], 1e-4);
        free(t2);
    }
    for (size_t i = 0; i < np; i++)
        tmp[i] = dpf[i];
    check_close("float backward dp", name, tmp, dp, np, 1e-4);

    for (int j = 0; j < c.n_in; j++)
        free(dx[j]), free(rdx[j]), free(dxp[j]), free(dxm[j]), free(xf[j]), free(dxf[j]);
    free(y), free(ry), free(yp), free(ym), free(fd), free(dp), free(rdp), free(dpp), free(dpm);
    free(pf), free(yf), free(dyf), free(dpf), free(cache), free(aux), free(scratch), free(tmp);
    free_case(&c);
}

static void check_kind(OpKind kind, Shape in, int units)
{
    check_op((OpDesc){.kind = kind, .units = units}, in);
}

static void every_kind_should_match_finite_differences(void)
{
    check_kind(OP_DENSE, (Shape){4, 1, 1}, 3);
    check_kind(OP_BATCH_NORM, (Shape){3, 1, 1}, 0);
    check_kind(OP_BATCH_NORM, (Shape){2, 2, 3}, 0); /* per channel over positions */
    check_kind(OP_RELU, (Shape){5, 1, 1}, 0);
    check_kind(OP_IDENTITY, (Shape){2, 2, 1}, 0);
    check_kind(OP_ADD, (Shape){4, 1, 1}, 0);
    check_kind(OP_FLATTEN, (Shape){2, 2, 2}, 0);
    /* pools: disjoint windows, overlapping windows (k 3 stride 2), padding, non-square
     * inputs, a ragged edge (floor), and the global mean */
    check_op((OpDesc){.kind = OP_MAX_POOL, .kernel = 3, .stride = 3}, (Shape){2, 7, 7});
    check_op((OpDesc){.kind = OP_MAX_POOL, .kernel = 3, .stride = 2}, (Shape){2, 5, 7});
    check_op((OpDesc){.kind = OP_MAX_POOL, .kernel = 3, .stride = 2, .pad = 1}, (Shape){2, 6, 5});
    check_op((OpDesc){.kind = OP_MAX_POOL, .kernel = 2, .stride = 1, .pad = 1}, (Shape){1, 3, 4});
    check_op((OpDesc){.kind = OP_AVG_POOL, .kernel = 3, .stride = 3}, (Shape){2, 7, 7});
    check_op((OpDesc){.kind = OP_AVG_POOL, .kernel = 3, .stride = 2}, (Shape){2, 5, 7});
    check_op((OpDesc){.kind = OP_AVG_POOL, .kernel = 3, .stride = 2, .pad = 1}, (Shape){2, 6, 5});
    check_op((OpDesc){.kind = OP_AVG_POOL, .kernel = 2, .stride = 1, .pad = 1}, (Shape){1, 3, 4});
    check_op((OpDesc){.kind = OP_GLOBAL_AVG_POOL}, (Shape){3, 4, 5});
    check_op((OpDesc){.kind = OP_GLOBAL_AVG_POOL}, (Shape){2, 1, 1});
    /* conv: the float passes take all NB samples in one GEMM here (small outputs) */
    check_op((OpDesc){.kind = OP_CONV, .units = 3, .kernel = 3, .stride = 1, .pad = 1}, (Shape){2, 4, 5});
    check_op((OpDesc){.kind = OP_CONV, .units = 3, .kernel = 3, .stride = 2, .pad = 1}, (Shape){2, 5, 7});
    check_op((OpDesc){.kind = OP_CONV, .units = 2, .kernel = 1, .stride = 1}, (Shape){3, 3, 4}); /* col = x */
    check_op((OpDesc){.kind = OP_CONV, .units = 4, .kernel = 1, .stride = 2}, (Shape){3, 5, 5}); /* shortcut */
    check_op((OpDesc){.kind = OP_CONV, .units = 2, .kernel = 3, .stride = 1, .no_bias = true}, (Shape){2, 4, 4});
    check_op((OpDesc){.kind = OP_CONV, .units = 2, .kernel = 2, .stride = 3, .pad = 2}, (Shape){1, 5, 6});
}

/* ---- conv against a direct loop ----------------------------------------------------- */

/* The float conv passes over B = 7 samples (chunks of samples with a remainder, one
 * sample per GEMM, 1x1 without im2col) against a direct convolution loop in double, with
 * dx accumulated, and with only dx or only dp wanted. */
static void check_conv_direct(OpDesc d, Shape in)
{
    enum { BD = 7 };
    const OpKindDef *k = OP_KINDS[OP_CONV];
    Shape out;
    char msg[128];
    d.kind = OP_CONV, d.in[0] = 0, d.in[1] = -1, d.out = 1;
    CHECK_MSG(k->shape(&d, &in, &out, msg, sizeof msg) == 0, "%s", msg);
    Op op = {.d = d, .in_shape = in, .out_shape = out, .n_p = k->n_params(&d, in, out)};
    const int C = in.c, H = in.h, W = in.w, O = out.c, Ho = out.h, Wo = out.w;
    const int kk = d.kernel, s = d.stride, pd = d.pad;
    const size_t nx = BD * shape_size(in), ny = BD * shape_size(out), np = op.n_p;
    const size_t nw = (size_t)O * (size_t)C * (size_t)kk * (size_t)kk;
    float *x = malloc(nx * sizeof *x), *p = malloc(np * sizeof *p), *dy = malloc(ny * sizeof *dy);
    float *y = malloc(ny * sizeof *y), *dx = malloc(nx * sizeof *dx), *dp = malloc(np * sizeof *dp);
    float *scratch = malloc((op_scratch_floats(&op, BD) + 1) * sizeof *scratch);
    double *yr = calloc(ny, sizeof *yr), *dxr = calloc(nx, sizeof *dxr), *dpr = calloc(np, sizeof *dpr);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < np; i++)
        p[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < ny; i++)
        dy[i] = (float)uniform(-1, 1);
    for (int i = 0; i < BD; i++)
        for (int o = 0; o < O; o++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    size_t yi = (((size_t)i * O + o) * Ho + oh) * Wo + ow;
                    double acc = d.no_bias ? 0 : (double)p[nw + (size_t)o];
                    for (int c = 0; c < C; c++)
                        for (int ki = 0; ki < kk; ki++)
                            for (int kj = 0; kj < kk; kj++) {
                                int ih = oh * s - pd + ki, iw = ow * s - pd + kj;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                    continue;
                                size_t xi = (((size_t)i * C + c) * H + ih) * W + iw;
                                size_t wi = (((size_t)o * C + c) * kk + ki) * kk + kj;
                                acc += (double)p[wi] * (double)x[xi];
                                dxr[xi] += (double)p[wi] * (double)dy[yi];
                                dpr[wi] += (double)dy[yi] * (double)x[xi];
                            }
                    yr[yi] = acc;
                    if (!d.no_bias)
                        dpr[nw + (size_t)o] += (double)dy[yi];
                }
    OpPass a = {.B = BD, .x = {x, NULL}, .y = y, .p = p, .scratch = scratch, .dy = dy,
                .dx = {dx, NULL}, .dp = dp};
    k->forward(&op, &a);
    test_allclose("conv forward vs direct", y, yr, (long)ny, 1e-5, 1e-5);
    k->backward(&op, &a);
    test_allclose("conv backward dx vs direct", dx, dxr, (long)nx, 1e-5, 1e-5);
    test_allclose("conv backward dp vs direct", dp, dpr, (long)np, 1e-4, 1e-5);
    /* only dx, accumulated onto 1 */
    for (size_t i = 0; i < nx; i++)
        dx[i] = 1.0f, dxr[i] += 1.0;
    a.dp = NULL, a.dx_add[0] = true;
    k->backward(&op, &a);
    test_allclose("conv backward dx accumulated", dx, dxr, (long)nx, 1e-5, 1e-5);
    /* only dp */
    memset(dp, 0, np * sizeof *dp);
    a.dp = dp, a.dx[0] = NULL;
    k->backward(&op, &a);
    test_allclose("conv backward dp alone", dp, dpr, (long)np, 1e-4, 1e-5);
    free(x), free(p), free(dy), free(y), free(dx), free(dp), free(scratch);
    free(yr), free(dxr), free(dpr);
}

static void conv_should_match_a_direct_loop(void)
{
    /* 100 positions: 3 samples per GEMM, chunks 3, 3, 1 */
    check_conv_direct((OpDesc){.units = 4, .kernel = 3, .stride = 1, .pad = 1}, (Shape){3, 10, 10});
    /* 289 positions: one sample per GEMM */
    check_conv_direct((OpDesc){.units = 3, .kernel = 3, .stride = 1, .pad = 1}, (Shape){2, 17, 17});
    /* 5x5, stride 2, all 7 samples in one GEMM, no bias */
    check_conv_direct((OpDesc){.units = 5, .kernel = 5, .stride = 2, .pad = 2, .no_bias = true},
                      (Shape){2, 9, 9});
    /* 1x1 stride 1: no im2col, large and small */
    check_conv_direct((OpDesc){.units = 3, .kernel = 1, .stride = 1}, (Shape){3, 16, 16});
    check_conv_direct((OpDesc){.units = 5, .kernel = 1, .stride = 1}, (Shape){4, 3, 3});
    /* 1x1 stride 2 (a projection shortcut), 3x3 stride 2 on an odd size */
    check_conv_direct((OpDesc){.units = 6, .kernel = 1, .stride = 2, .no_bias = true}, (Shape){4, 7, 7});
    check_conv_direct((OpDesc){.units = 4, .kernel = 3, .stride = 2, .pad = 1}, (Shape){3, 11, 9});
}

static void expect_conv_refused(OpDesc d, Shape in, const char *want)
{
    Shape out;
    char msg[128] = "";
    d.kind = OP_CONV;
    int rc = OP_KINDS[OP_CONV]->shape(&d, &in, &out, msg, sizeof msg);
    CHECK_MSG(rc == -1 && strstr(msg, want), "rc %d, message \"%s\" (want \"%s\")", rc, msg, want);
}

static void bad_conv_configs_should_be_refused(void)
{
    const Shape in = {2, 3, 3};
    expect_conv_refused((OpDesc){.units = 4, .kernel = 0, .stride = 1}, in, "kernel >= 1");
    expect_conv_refused((OpDesc){.units = 4, .kernel = 3, .stride = 0}, in, "stride >= 1");
    expect_conv_refused((OpDesc){.units = 4, .kernel = 3, .stride = 1, .pad = -1}, in, "pad >= 0");
    expect_conv_refused((OpDesc){.units = 0, .kernel = 3, .stride = 1}, in, "out channels >= 1");
    expect_conv_refused((OpDesc){.units = 4, .kernel = 5, .stride = 1}, in,
                        "kernel 5 is larger than the padded input 3x3");
    expect_conv_refused((OpDesc){.units = 4, .kernel = 6, .stride = 1, .pad = 1}, in,
                        "kernel 6 is larger than the padded input 5x5");
    Shape out;
    char msg[128];
    OpDesc ok = {.kind = OP_CONV, .units = 4, .kernel = 5, .stride = 2, .pad = 1};
    CHECK(OP_KINDS[OP_CONV]->shape(&ok, &in, &out, msg, sizeof msg) == 0 && out.c == 4 && out.h == 1 &&
          out.w == 1);
}

/* ---- pools ------------------------------------------------------------------------- */

static Op pool_op(OpDesc d, Shape in)
{
    Shape out = {0, 0, 0};
    char msg[160] = "";
    d.in[0] = 0, d.in[1] = -1, d.out = 1;
    CHECK_MSG(OP_KINDS[d.kind]->shape(&d, &in, &out, msg, sizeof msg) == 0, "%s", msg);
    return (Op){.d = d, .in_shape = in, .out_shape = out, .layer = -1};
}

/* One sample's float forward then backward; dx holds what add accumulates onto. */
static void pool_float_pass(const Op *op, const float *x, float *y, const float *dy, float *dx,
                            bool add, bool train)
{
    const OpKindDef *k = OP_KINDS[op->d.kind];
    float cache[256];
    CHECK(k->cache_floats(op, 1) <= 256);
    OpPass a = {.B = 1, .train = train, .x = {x}, .y = y, .cache = cache, .dy = dy,
                .dx = {dx}, .dx_add = {add}};
    k->forward(op, &a);
    k->backward(op, &a);
}

/* x (1, H, W) with windows that tie; want: dx for dy, y the maxima */
static void expect_max_pool_grad(const char *what, OpDesc d, Shape in, const float *x,
                                 const float *dy, const float *want_y, const float *want_dx)
{
    const Op op = pool_op(d, in);
    const int nx = (int)shape_size(in), ny = (int)shape_size(op.out_shape);
    float y[64], dx[64];
    double xd[64], rxd[64], yd[64], ryd[64], dyd[64], dxd[64], rdxd[64];
    for (int mode = 0; mode < 3; mode++) { /* float training, float evaluation, +added */
        for (int i = 0; i < nx; i++)
            dx[i] = mode == 2 ? 10.0f : -7.0f;
        pool_float_pass(&op, x, y, dy, dx, mode == 2, mode == 0);
        for (int o = 0; o < ny; o++)
            CHECK_MSG(y[o] == want_y[o], "%s mode %d: y[%d] = %g, want %g", what, mode, o,
                      (double)y[o], (double)want_y[o]);
        for (int i = 0; i < nx; i++)
            CHECK_MSG(dx[i] == want_dx[i] + (mode == 2 ? 10.0f : 0.0f),
                      "%s mode %d: dx[%d] = %g, want %g", what, mode, i, (double)dx[i],
                      (double)want_dx[i]);
    }
    /* double: R{y} = R{x} at the argmax, R{dx} = R{dy} scattered as dx */
    for (int i = 0; i < nx; i++)
        xd[i] = x[i], rxd[i] = 100.0 + i, dxd[i] = rdxd[i] = -7.0;
    for (int o = 0; o < ny; o++)
        dyd[o] = dy[o];
    OpRPass r = {.B = 1, .x = {xd}, .rx = {rxd}, .y = yd, .ry = ryd, .dy = dyd, .rdy = dyd,
                 .dx = {dxd}, .rdx = {rdxd}};
    OP_KINDS[OP_MAX_POOL]->r_forward(&op, &r);
    OP_KINDS[OP_MAX_POOL]->r_backward(&op, &r);
    for (int o = 0; o < ny; o++) {
        CHECK_MSG(yd[o] == (double)want_y[o], "%s double: y[%d] = %g", what, o, yd[o]);
        CHECK_MSG(xd[(int)ryd[o] - 100] == yd[o], "%s double: R{y}[%d] from x %d", what, o,
                  (int)ryd[o] - 100);
    }
    for (int i = 0; i < nx; i++)
        CHECK_MSG(dxd[i] == (double)want_dx[i] && rdxd[i] == (double)want_dx[i],
                  "%s double: dx[%d] = %g, R{dx} %g, want %g", what, i, dxd[i], rdxd[i],
                  (double)want_dx[i]);
    /* NULL R{x}, R{dx} */
    r.rx[0] = NULL, r.rdx[0] = NULL;
    OP_KINDS[OP_MAX_POOL]->r_forward(&op, &r);
    OP_KINDS[OP_MAX_POOL]->r_backward(&op, &r);
    for (int o = 0; o < ny; o++)
        CHECK(ryd[o] == 0.0);
}

static void max_pool_ties_should_send_the_gradient_to_the_first_maximum(void)
{
    /* k 2 stride 2: all equal -> the first; 5 at (0,3), (1,2), (1,3) -> (0,3); 7 at
     * (2,1), (3,0), (3,1) -> (2,1); all -1 -> (2,2): PyTorch's indices 0, 3, 9, 10 */
    const float x[16] = {1, 1, 0, 5, 1, 1, 5, 5, 2, 7, -1, -1, 7, 7, -1, -1};
    const float dy[4] = {1, 2, 3, 4}, y[4] = {1, 5, 7, -1};
    const float dx[16] = {1, 0, 0, 2, 0, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0, 0};
    expect_max_pool_grad("2x2 ties", (OpDesc){.kind = OP_MAX_POOL, .kernel = 2, .stride = 2},
                         (Shape){1, 4, 4}, x, dy, y, dx);
    /* k 3 stride 1: both overlapping windows pick the 9 at (0,1) and it gets both dy */
    const float xo[12] = {0, 9, 9, 0, 0, 0, 0, 9, 0, 0, 0, 0};
    const float dyo[2] = {1.5f, 2.0f}, yo[2] = {9, 9};
    const float dxo[12] = {0, 3.5f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_max_pool_grad("overlap", (OpDesc){.kind = OP_MAX_POOL, .kernel = 3, .stride = 1},
                         (Shape){1, 3, 4}, xo, dyo, yo, dxo);
    /* k 2 stride 2 pad 1 over negative values: the padding never wins */
    const float xp[4] = {-3, -3, -3, -4};
    const float dyp[4] = {1, 2, 3, 4}, yp[4] = {-3, -3, -3, -4};
    const float dxp[4] = {1, 2, 3, 4};
    expect_max_pool_grad("padding", (OpDesc){.kind = OP_MAX_POOL, .kernel = 2, .stride = 2,
                         .pad = 1}, (Shape){1, 2, 2}, xp, dyp, yp, dxp);
}

/* The training-mode backward (argmax from the cache) equals the evaluation-mode one
 * (recomputed), and both accumulate onto dx when asked. */
static void max_pool_cached_argmax_should_match_recomputed(void)
{
    const Op op = pool_op((OpDesc){.kind = OP_MAX_POOL, .kernel = 3, .stride = 2, .pad = 1},
                          (Shape){2, 7, 6});
    enum { B = 3 };
    const size_t nx = B * shape_size(op.in_shape), ny = B * shape_size(op.out_shape);
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *dy = malloc(ny * sizeof *dy);
    float *dxt = malloc(nx * sizeof *dxt), *dxe = malloc(nx * sizeof *dxe);
    float *cache = malloc(OP_KINDS[OP_MAX_POOL]->cache_floats(&op, B) * sizeof *cache);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)uniform(-1, 1), dxt[i] = dxe[i] = 0.5f;
    for (size_t o = 0; o < ny; o++)
        dy[o] = (float)uniform(-1, 1);
    for (int train = 0; train < 2; train++) {
        OpPass a = {.B = B, .train = train, .x = {x}, .y = y, .cache = cache, .dy = dy,
                    .dx = {train ? dxt : dxe}, .dx_add = {true}};
        OP_KINDS[OP_MAX_POOL]->forward(&op, &a);
        OP_KINDS[OP_MAX_POOL]->backward(&op, &a);
    }
    CHECK(memcmp(dxt, dxe, nx * sizeof *dxt) == 0);
    double moved = 0;
    for (size_t i = 0; i < nx; i++)
        moved += fabs((double)dxt[i] - 0.5);
    CHECK(moved > 0);
    free(x), free(y), free(dy), free(dxt), free(dxe), free(cache);
}

static void pool_shapes_should_follow_pytorch_and_refuse_bad_configs(void)
{
    const struct {
        OpDesc d;
        Shape in, want;
    } good[] = {
        {{.kind = OP_MAX_POOL, .kernel = 3, .stride = 3}, {64, 28, 28}, {64, 9, 9}},
        {{.kind = OP_MAX_POOL, .kernel = 3, .stride = 3}, {64, 9, 9}, {64, 3, 3}},
        {{.kind = OP_MAX_POOL, .kernel = 3, .stride = 2, .pad = 1}, {2, 5, 6}, {2, 3, 3}},
        {{.kind = OP_AVG_POOL, .kernel = 2, .stride = 1, .pad = 1}, {1, 3, 4}, {1, 4, 5}},
        {{.kind = OP_AVG_POOL, .kernel = 4, .stride = 4}, {1, 4, 4}, {1, 1, 1}},
        {{.kind = OP_GLOBAL_AVG_POOL}, {7, 5, 3}, {7, 1, 1}},
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        Shape out = {0, 0, 0};
        char msg[160] = "";
        int rc = OP_KINDS[good[i].d.kind]->shape(&good[i].d, &good[i].in, &out, msg, sizeof msg);
        CHECK_MSG(rc == 0 && out.c == good[i].want.c && out.h == good[i].want.h &&
                      out.w == good[i].want.w,
                  "good %zu: rc %d, (%d, %d, %d): %s", i, rc, out.c, out.h, out.w, msg);
    }
    const struct {
        OpDesc d;
        Shape in;
        const char *want;
    } bad[] = {
        {{.kind = OP_MAX_POOL, .kernel = 0, .stride = 1}, {1, 4, 4}, "not kernel 0"},
        {{.kind = OP_MAX_POOL, .kernel = 2, .stride = 0}, {1, 4, 4}, "stride 0"},
        {{.kind = OP_MAX_POOL, .kernel = 2, .stride = 1, .pad = -1}, {1, 4, 4}, "pad -1"},
        {{.kind = OP_MAX_POOL, .kernel = 3, .stride = 1, .pad = 2}, {1, 4, 4}, "more than half"},
        {{.kind = OP_MAX_POOL, .kernel = 5, .stride = 1}, {1, 9, 4}, "larger than the padded"},
        {{.kind = OP_AVG_POOL, .kernel = -1, .stride = 1}, {1, 4, 4}, "not kernel -1"},
        {{.kind = OP_AVG_POOL, .kernel = 2, .stride = -2}, {1, 4, 4}, "stride -2"},
        {{.kind = OP_AVG_POOL, .kernel = 2, .stride = 1, .pad = 2}, {1, 4, 4}, "more than half"},
        {{.kind = OP_AVG_POOL, .kernel = 3, .stride = 1, .pad = 0}, {1, 2, 8}, "larger than the padded"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        Shape out = {0, 0, 0};
        char msg[160] = "";
        int rc = OP_KINDS[bad[i].d.kind]->shape(&bad[i].d, &bad[i].in, &out, msg, sizeof msg);
        CHECK_MSG(rc == -1 && strstr(msg, bad[i].want), "bad %zu: rc %d, \"%s\" (want \"%s\")",
                  i, rc, msg, bad[i].want);
    }
}

/* ---- the net level ----------------------------------------------------------------- */

enum { ND = 4, NK = 3 };

static NetConfig mlp(int h1, int h2, bool bn, bool skip, Activation act)
{
    NetConfig c = {.n_in = ND, .n_out = NK, .n_hidden = 2, .hidden = {h1, h2}, .act = act,
                   .skip = skip, .batch_norm = bn};
    return c;
}

/* A net with random parameters and, for batch norm, random running statistics. */
static Net *random_net(const NetConfig *cfg, int max_batch, uint64_t seed)
{
    Net *net = nn_new(cfg, max_batch);
    nn_init_params(net, seed);
    RngStream r = rng_stream(seed + 99);
    for (int i = 0; i < net->n_ops; i++) {
        const Op *op = &net->ops[i];
        const int C = op->out_shape.c;
        for (int o = 0; op->d.kind == OP_BATCH_NORM && o < C; o++) {
            net->params[op->p + (size_t)o] = (float)(0.5 + rng_uniform(&r));          /* gamma */
            net->params[op->p + (size_t)(C + o)] = (float)(rng_uniform(&r) - 0.5);    /* beta */
            net->buffers[op->buf + (size_t)o] = (float)(0.4 * rng_uniform(&r) - 0.2); /* mean */
            net->buffers[op->buf + (size_t)(C + o)] = (float)(0.5 + rng_uniform(&r)); /* var */
        }
    }
    return net;
}

/* g = d/dtheta of 0.5 ||logits||^2 summed over the batch, and with v, hv = H v. */
static void grad_sq_logits(const Net *net, NnRWork *w, const double *theta, const double *v,
                           const double *x, int B, double *g, double *hv)
{
    nn_r_forward(net, w, theta, v, x, B);
    size_t n = (size_t)B * NK;
    memcpy(w->grad[net->out_slot], w->act[net->out_slot], n * sizeof(double));
    if (v)
        memcpy(w->rgrad[net->out_slot], w->ract[net->out_slot], n * sizeof(double));
    memset(g, 0, net->n_params * sizeof *g);
    if (hv)
        memset(hv, 0, net->n_params * sizeof *hv);
    nn_r_backward(net, w, theta, v, B, g, hv);
}

static void hvp_should_match_finite_differences_of_gradients(void)
{
    const NetConfig cfgs[3] = {mlp(5, 5, false, true, ACT_RELU), mlp(5, 5, true, true, ACT_RELU),
                               mlp(6, 4, true, false, ACT_IDENTITY)};
    for (int ci = 0; ci < 3; ci++) {
        Net *net = random_net(&cfgs[ci], 8, 7 + (uint64_t)ci);
        const size_t P = net->n_params;
        NnRWork *w = nn_rwork_new(net, 8);
        double x[8 * ND], *theta = malloc(P * sizeof *theta), *v = malloc(P * sizeof *v);
        double *g = malloc(P * sizeof *g), *hv = malloc(P * sizeof *hv);
        double *gp = malloc(P * sizeof *gp), *gm = malloc(P * sizeof *gm), *fd = malloc(P * sizeof *fd);
        for (int i = 0; i < 8 * ND; i++)
            x[i] = uniform(-1, 1);
        for (size_t k = 0; k < P; k++) {
            theta[k] = net->params[k];
            v[k] = uniform(-1, 1);
        }
        grad_sq_logits(net, w, theta, v, x, 8, g, hv);
        const double h = 1e-6;
        for (size_t k = 0; k < P; k++)
            theta[k] += h * v[k];
        grad_sq_logits(net, w, theta, NULL, x, 8, gp, NULL);
        for (size_t k = 0; k < P; k++)
            theta[k] -= 2 * h * v[k];
        grad_sq_logits(net, w, theta, NULL, x, 8, gm, NULL);
        double scale = 0;
        for (size_t k = 0; k < P; k++) {
            fd[k] = (gp[k] - gm[k]) / (2 * h);
            scale = fmax(scale, fabs(fd[k]));
        }
        double worst = 0;
        for (size_t k = 0; k < P; k++)
            worst = fmax(worst, fabs(hv[k] - fd[k]) / scale);
        CHECK_MSG(worst < 1e-6, "net %d: Hv vs finite differences of gradients: %.3g", ci, worst);
        nn_rwork_free(net, w);
        nn_free(net);
        free(theta), free(v), free(g), free(hv), free(gp), free(gm), free(fd);
    }
}

static double max_abs(const double *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static void generic_ntk_should_match_factorised_and_finite_differences(void)
{
    NetConfig cfgs[5] = {mlp(6, 5, false, false, ACT_RELU), mlp(5, 5, false, true, ACT_RELU),
                         mlp(5, 5, true, true, ACT_RELU), mlp(6, 4, false, false, ACT_IDENTITY),
                         {.n_in = ND, .n_out = NK, .n_ops = 4}};
    /* batch norm straight on the input */
    cfgs[4].ops[0] = (OpDesc){.kind = OP_BATCH_NORM, .in = {0, -1}, .out = 1, .units = 0};
    cfgs[4].ops[1] = (OpDesc){.kind = OP_DENSE, .in = {1, -1}, .out = 2, .units = 5};
    cfgs[4].ops[2] = (OpDesc){.kind = OP_RELU, .in = {2, -1}, .out = 3, .units = 0};
    cfgs[4].ops[3] = (OpDesc){.kind = OP_DENSE, .in = {3, -1}, .out = 4, .units = NK};
    enum { N = 3, M = N * NK };
    for (int ci = 0; ci < 5; ci++) {
        Net *net = random_net(&cfgs[ci], 8, 21 + (uint64_t)ci);
        float x[N * ND];
        for (int i = 0; i < N * ND; i++)
            x[i] = (float)uniform(-1, 1);
        double kf[M * M], kg[M * M], kc[M * M], kd[M * M];
        CHECK(ntk_kernel_factorised(net, x, N, kf) == 0);
        CHECK(ntk_kernel_generic(net, x, N, kg, NTK_CHUNK_BYTES) == 0);
        /* chunks of 3 parameters give the same kernel */
        CHECK(ntk_kernel_generic(net, x, N, kc, 3 * M * sizeof(double)) == 0);
        double s = max_abs(kf, M * M), worst = 0, worst_c = 0;
        for (int i = 0; i < M * M; i++) {
            worst = fmax(worst, fabs(kg[i] - kf[i]) / s);
            worst_c = fmax(worst_c, fabs(kc[i] - kg[i]) / s);
        }
        CHECK_MSG(worst < 1e-5, "net %d: generic vs factorised NTK %.3g", ci, worst);
        CHECK_MSG(worst_c < 1e-12, "net %d: chunked vs whole generic NTK %.3g", ci, worst_c);
        /* K = J J^T with J from central differences of the double forward */
        const size_t P = net->n_params;
        NnRWork *w = nn_rwork_new(net, N);
        double *theta = malloc(P * sizeof *theta), *J = malloc(M * P * sizeof *J), xd[N * ND];
        for (int i = 0; i < N * ND; i++)
            xd[i] = x[i];
        for (size_t k = 0; k < P; k++)
            theta[k] = net->params[k];
        const double h = 1e-6;
        for (size_t k = 0; k < P; k++) {
            double keep = theta[k], lp[M], lm[M];
            theta[k] = keep + h;
            nn_r_forward(net, w, theta, NULL, xd, N);
            memcpy(lp, w->act[net->out_slot], sizeof lp);
            theta[k] = keep - h;
            nn_r_forward(net, w, theta, NULL, xd, N);
            memcpy(lm, w->act[net->out_slot], sizeof lm);
            theta[k] = keep;
            for (int r = 0; r < M; r++)
                J[(size_t)r * P + k] = (lp[r] - lm[r]) / (2 * h);
        }
        for (int r = 0; r < M; r++)
            for (int q = 0; q < M; q++) {
                double d = 0;
                for (size_t k = 0; k < P; k++)
                    d += J[(size_t)r * P + k] * J[(size_t)q * P + k];
                kd[r * M + q] = d;
            }
        worst = 0;
        for (int i = 0; i < M * M; i++)
            worst = fmax(worst, fabs(kg[i] - kd[i]) / s);
        CHECK_MSG(worst < 1e-5, "net %d: generic NTK vs finite-difference Jacobian %.3g", ci, worst);
        nn_rwork_free(net, w);
        free(theta), free(J);
        nn_free(net);
    }
}

/* The per-op Jacobian path (one backward of M rows) against the generic one (M batch-1
 * backward passes) on nets with convolutions: a ConvNet with batch norm and a ResNet. */
static void jacobian_ntk_should_match_generic_on_conv_nets(void)
{
    enum { N = 3, K = 4, M = N * K };
    const Preset presets[2] = {PRESET_CONVNET, PRESET_RESNET18};
    const Shape shapes[2] = {{3, 16, 16}, {3, 8, 8}};
    for (int ci = 0; ci < 2; ci++) {
        NetConfig cfg = {.n_out = K, .in_shape = shapes[ci], .act = ACT_RELU, .skip = true,
                         .batch_norm = true, .preset = presets[ci], .base_width = 4, .width_mult = 2};
        cfg.n_in = (int)shape_size(cfg.in_shape);
        Net *net = random_net(&cfg, 8, 41 + (uint64_t)ci);
        CHECK(!ntk_factorised_applies(net));
        float *x = malloc((size_t)N * (size_t)cfg.n_in * sizeof *x);
        for (int i = 0; i < N * cfg.n_in; i++)
            x[i] = (float)uniform(-1, 1);
        double kg[M * M], kj[M * M], kc[M * M], kn[M * M];
        CHECK(ntk_kernel_generic(net, x, N, kg, NTK_CHUNK_BYTES) == 0);
        CHECK(ntk_kernel_jacobian(net, x, N, kj, NTK_CHUNK_BYTES, 0) == 0);
        CHECK(ntk_kernel(net, x, N, kn) == 0);
        /* blocks of one unit per op give the same kernel, up to the float rounding of the
         * per-row GEMMs, whose shapes (and so BLAS kernels) differ */
        CHECK(ntk_kernel_jacobian(net, x, N, kc, 1, 0) == 0);
        double s = max_abs(kg, M * M), worst = 0, worst_c = 0, worst_n = 0;
        for (int i = 0; i < M * M; i++) {
            worst = fmax(worst, fabs(kj[i] - kg[i]) / s);
            worst_c = fmax(worst_c, fabs(kc[i] - kj[i]) / s);
            worst_n = fmax(worst_n, fabs(kn[i] - kj[i]));
        }
        CHECK_MSG(worst < 1e-5, "net %d: per-op Jacobian vs generic NTK %.3g", ci, worst);
        CHECK_MSG(worst_c < 1e-6, "net %d: blocked vs whole per-op Jacobian NTK %.3g", ci, worst_c);
        CHECK_MSG(worst_n == 0, "net %d: ntk_kernel is not the per-op Jacobian path", ci);
        free(x);
        nn_free(net);
    }
}

/* The per-op Jacobian path in backward passes of a few samples (every J_op, or a
 * ResNet's last-stage signals and inputs, kept until the end) gives the one-pass kernel
 * to the last bit: a ConvNet on 3x16x16 (its last conv puts 11 samples in one GEMM, so
 * passes of 11) and a ResNet-18 on 3x8x8 with its last stage on the Gram route (1x1
 * positions: 256 samples per GEMM, passes of 64 of 4 rows), each with more samples than
 * one pass. (Passes that split those GEMMs elsewhere change the ResNet's kernel in its
 * last bits.) */
static void jacobian_ntk_in_passes_should_equal_one_pass(void)
{
    enum { K = 4 };
    const Preset presets[2] = {PRESET_CONVNET, PRESET_RESNET18};
    const Shape shapes[2] = {{3, 16, 16}, {3, 8, 8}};
    const int samples[2] = {13, 70}, per_pass[2] = {11, 64};
    for (int ci = 0; ci < 2; ci++) {
        NetConfig cfg = {.n_out = K, .in_shape = shapes[ci], .act = ACT_RELU, .skip = true,
                         .batch_norm = true, .preset = presets[ci], .base_width = 4, .width_mult = 2};
        cfg.n_in = (int)shape_size(cfg.in_shape);
        const int n = samples[ci], M = n * K;
        Net *net = random_net(&cfg, 8, 61 + (uint64_t)ci);
        float *x = malloc((size_t)n * (size_t)cfg.n_in * sizeof *x);
        double *one = malloc((size_t)M * M * sizeof *one), *passes = malloc((size_t)M * M * sizeof *passes);
        for (int i = 0; i < n * cfg.n_in; i++)
            x[i] = (float)uniform(-1, 1);
        CHECK_MSG(ntk_jacobian_pass_samples(&cfg, n, NTK_CHUNK_BYTES, 1) == per_pass[ci],
                  "net %d: %d samples per pass", ci, ntk_jacobian_pass_samples(&cfg, n, NTK_CHUNK_BYTES, 1));
        CHECK(ntk_jacobian_pass_samples(&cfg, n, NTK_CHUNK_BYTES, 0) == n);
        CHECK(ntk_kernel_jacobian(net, x, n, one, NTK_CHUNK_BYTES, 0) == 0);
        CHECK(ntk_kernel_jacobian(net, x, n, passes, NTK_CHUNK_BYTES, 1) == 0);
        int differ = 0;
        for (int i = 0; i < M * M; i++)
            differ += memcmp(&one[i], &passes[i], sizeof one[i]) != 0;
        CHECK_MSG(differ == 0, "net %d: %d of %d entries differ between passes and one pass",
                  ci, differ, M * M);
        free(x);
        free(one);
        free(passes);
        nn_free(net);
    }
}

static void explicit_ops_should_equal_the_mlp_shorthand(void)
{
    NetConfig a = mlp(6, 6, true, true, ACT_RELU);
    NetConfig b = a;
    b.n_ops = nn_expand(&a, b.ops);
    b.n_hidden = 0; /* the shorthand is ignored once there is an op list */
    b.batch_norm = b.skip = false;
    Net *na = nn_new(&a, 4), *nb = nn_new(&b, 4);
    CHECK(na->n_params == nb->n_params && na->n_buffers == nb->n_buffers);
    nn_init_params(na, 3);
    nn_init_params(nb, 3);
    CHECK(memcmp(na->params, nb->params, na->n_params * sizeof(float)) == 0);
    float x[4 * ND];
    for (int i = 0; i < 4 * ND; i++)
        x[i] = (float)uniform(-1, 1);
    const float *la = nn_forward(na, x, 4, true), *lb = nn_forward(nb, x, 4, true);
    CHECK(memcmp(la, lb, 4 * NK * sizeof(float)) == 0);
    nn_free(na);
    nn_free(nb);
}

static void expect_check_error(const char *what, NetConfig c, const char *want, int want_op)
{
    char msg[256] = "";
    int bad = -2;
    int rc = nn_check(&c, msg, sizeof msg, &bad);
    CHECK_MSG(rc == -1 && strstr(msg, want) && bad == want_op,
              "%s: rc %d, op %d (want %d), message \"%s\" (want \"%s\")", what, rc, bad, want_op,
              msg, want);
}

static void bad_op_lists_should_be_refused(void)
{
    NetConfig c = {.n_in = ND, .n_out = NK, .n_ops = 3};
    c.ops[0] = (OpDesc){.kind = OP_DENSE, .in = {0, -1}, .out = 1, .units = 5};
    c.ops[1] = (OpDesc){.kind = OP_RELU, .in = {1, -1}, .out = 2, .units = 0};
    c.ops[2] = (OpDesc){.kind = OP_DENSE, .in = {2, -1}, .out = 3, .units = NK};
    char msg[256];
    int bad;
    CHECK(nn_check(&c, msg, sizeof msg, &bad) == 0);
    NetConfig e = c;
    e.ops[2].units = 4;
    expect_check_error("last output", e, "not the 3 classes", 2);
    e = c;
    e.ops[1].in[0] = 3; /* read before it is written: a cycle or a dangling slot */
    expect_check_error("dangling", e, "reads slot 3, which no earlier op writes", 1);
    e = c;
    e.ops[1] = (OpDesc){.kind = OP_ADD, .in = {1, 0}, .out = 2, .units = 0};
    expect_check_error("shape", e, "add needs equal shapes", 1);
    e = c;
    e.ops[2].out = 2;
    expect_check_error("written twice", e, "which an earlier op wrote", 2);
    e = c;
    e.ops[1].kind = (OpKind)77;
    expect_check_error("kind", e, "unknown op kind", 1);
}

int main(void)
{
    g_rng = rng_stream(12345);
    RUN(every_kind_should_match_finite_differences);
    RUN(max_pool_ties_should_send_the_gradient_to_the_first_maximum);
    RUN(max_pool_cached_argmax_should_match_recomputed);
    RUN(pool_shapes_should_follow_pytorch_and_refuse_bad_configs);
    RUN(conv_should_match_a_direct_loop);
    RUN(bad_conv_configs_should_be_refused);
    RUN(hvp_should_match_finite_differences_of_gradients);
    RUN(generic_ntk_should_match_factorised_and_finite_differences);
    RUN(jacobian_ntk_should_match_generic_on_conv_nets);
    RUN(jacobian_ntk_in_passes_should_equal_one_pass);
    RUN(explicit_ops_should_equal_the_mlp_shorthand);
    RUN(bad_op_lists_should_be_refused);
    return test_summary();
}
