/* newton: a trust-region Newton-CG iteration (the rules are in newton.h). */
#include "bpsweep/newton.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/util.h"

/* y += a x */
static void axpy(double a, const double *x, double *y, size_t n)
{
    for (size_t k = 0; k < n; k++)
        y[k] += a * x[k];
}

/* The two t with |z + t d| = radius, ta <= tb (z inside: ta <= 0 <= tb), in the
 * cancellation-free form of Golub and Van Loan as scipy computes them. */
static void boundary_ts(const double *z, const double *d, size_t n, double radius, double *ta,
                        double *tb)
{
    double a = bps_dot(d, d, n), b = 2 * bps_dot(z, d, n), c = bps_dot(z, z, n) - radius * radius;
    double aux = b + copysign(sqrt(b * b - 4 * a * c), b);
    double t0 = -aux / (2 * a), t1 = -2 * c / aux;
    *ta = t0 < t1 ? t0 : t1;
    *tb = t0 < t1 ? t1 : t0;
}

/* m(z + t d) - f = g.p + p.Hp / 2 with p = z + t d, Hp = Hz + t Hd */
static double model(const double *g, const double *z, const double *hz, const double *d,
                    const double *hd, double t, size_t n)
{
    double gp = 0, php = 0;
    for (size_t k = 0; k < n; k++) {
        double p = z[k] + t * d[k], hp = hz[k] + t * hd[k];
        gp += g[k] * p;
        php += p * hp;
    }
    return gp + php / 2;
}

void newton_iterate(NewtonFn fn, void *ctx, size_t n, double *x, double *radius,
                    const NewtonConfig *cfg, NewtonStep *out)
{
    double *g = xmalloc(n * sizeof *g), *z = xcalloc(n, sizeof *z), *hz = xcalloc(n, sizeof *hz);
    double *r = xmalloc(n * sizeof *r), *d = xmalloc(n * sizeof *d), *hd = xmalloc(n * sizeof *hd);
    *out = (NewtonStep){0};
    out->f = fn(ctx, x, g, NULL, NULL);
    out->grad_norm = sqrt(bps_dot(g, g, n));
    out->f_trial = out->f;
    if (!(out->grad_norm > 0)) /* a critical point, or a non-finite gradient */
        goto done;
    const double eps = fmin(0.5, sqrt(out->grad_norm)) * out->grad_norm;
    memcpy(r, g, n * sizeof *r);
    for (size_t k = 0; k < n; k++)
        d[k] = -r[k];
    /* the step is z + t d, its product with H hz + t hd */
    double t = 0;
    while (out->cg_products < cfg->cg_max) {
        fn(ctx, x, NULL, d, hd);
        out->cg_products++;
        double dhd = bps_dot(d, hd, n);
        if (!(dhd > 0)) { /* non-positive curvature: to the boundary, the lower end */
            double ta, tb;
            boundary_ts(z, d, n, *radius, &ta, &tb);
            t = model(g, z, hz, d, hd, ta, n) < model(g, z, hz, d, hd, tb, n) ? ta : tb;
            out->boundary = true;
            break;
        }
        double rr = bps_dot(r, r, n), alpha = rr / dhd, zn = 0;
        for (size_t k = 0; k < n; k++)
            zn += (z[k] + alpha * d[k]) * (z[k] + alpha * d[k]);
        if (sqrt(zn) >= *radius) {
            double ta, tb;
            boundary_ts(z, d, n, *radius, &ta, &tb);
            t = tb;
            out->boundary = true;
            break;
        }
        axpy(alpha, hd, r, n);
        double rr_next = bps_dot(r, r, n);
        if (sqrt(rr_next) < eps) {
            t = alpha;
            break;
        }
        axpy(alpha, d, z, n);
        axpy(alpha, hd, hz, n);
        double beta = rr_next / rr;
        for (size_t k = 0; k < n; k++)
            d[k] = -r[k] + beta * d[k];
        t = 0; /* truncated here: p = z */
    }
    out->predicted = -model(g, z, hz, d, hd, t, n);
    for (size_t k = 0; k < n; k++) {
        z[k] += t * d[k]; /* z = p */
        r[k] = x[k] + z[k]; /* r = x + p */
    }
    out->step_norm = sqrt(bps_dot(z, z, n));
    out->f_trial = fn(ctx, r, NULL, NULL, NULL);
    /* a model that predicts no decrease (rounding, at a critical point) counts as a
     * failed step: scipy stops there, bpsweep shrinks the region */
    out->rho = out->predicted > 0 ? (out->f - out->f_trial) / out->predicted : -HUGE_VAL;
    if (!(out->rho >= 0.25)) /* also a NaN trial value */
        *radius *= 0.25;
    else if (out->rho > 0.75 && out->boundary)
        *radius = fmin(2 * *radius, cfg->max_radius);
    out->accepted = out->rho > NEWTON_ETA;
    if (out->accepted)
        memcpy(x, r, n * sizeof *x);
done:
    free(g), free(z), free(hz), free(r), free(d), free(hd);
}
