/* newton: one iteration of a trust-region Newton method whose subproblem is solved by
 * truncated conjugate gradients (Steihaug-Toint), on any twice-differentiable objective
 * given by its value, gradient and Hessian-vector products, in double precision. It
 * needs no Hessian, only products with it, and copes with negative curvature. Numerics
 * only.
 *
 * The rules are scipy.optimize.minimize(method="trust-ncg")'s (Nocedal and Wright,
 * Numerical Optimization, 2nd ed., Algorithms 4.1 and 7.2), so that a run can be checked
 * against it step by step. At x with value f, gradient g and trust radius R:
 *   CG on the model m(p) = f + g.p + p.Hp/2 from p = 0, residual r = g, direction d = -r,
 *   with tolerance eps = min(1/2, sqrt(|g|)) |g|:
 *     d.Hd <= 0        -> p = the point of {z + t d, |z + t d| = R} with the lower model
 *     |z + a d| >= R   -> p = z + t d with t > 0 and |p| = R   (a = r.r / d.Hd)
 *     |r + a Hd| < eps -> p = z + a d (inside the region)
 *     cg_max products  -> p = z (truncated; bpsweep's addition, scipy has no limit)
 *   rho = (f - f(x + p)) / (m(0) - m(p));
 *   rho < 1/4: R = R/4;  rho > 3/4 and p on the boundary: R = min(2R, max_radius);
 *   rho > eta (0.15): x = x + p (accepted), else x stays (rejected).
 * The model's value at p uses H p accumulated along the CG iterations (scipy computes one
 * more product for it; the two agree up to rounding). */
#ifndef BPSWEEP_NEWTON_H
#define BPSWEEP_NEWTON_H

#include <stdbool.h>
#include <stddef.h>

#define NEWTON_ETA 0.15

/* The objective at x (n values): returns f(x); with g != NULL, g = grad f(x); with
 * v != NULL, hv = (Hessian of f at x) v. */
typedef double (*NewtonFn)(void *ctx, const double *x, double *g, const double *v, double *hv);

typedef struct {
    double max_radius;  /* the radius never grows beyond this */
    int cg_max;         /* Hessian-vector products per iteration at most */
} NewtonConfig;

typedef struct {
    double f;           /* f(x) before the iteration */
    double grad_norm;   /* |grad f(x)| before the iteration */
    double f_trial;     /* f(x + p) */
    double predicted;   /* m(0) - m(p), the model's decrease */
    double rho;         /* the actual decrease over the predicted one */
    double step_norm;   /* |p| */
    int cg_products;    /* Hessian-vector products used */
    bool boundary;      /* p on the trust region's boundary */
    bool accepted;      /* x moved to x + p */
} NewtonStep;

/* One iteration from x (n values) with trust radius *radius (> 0), both updated in place.
 * A zero gradient leaves x and the radius as they are (accepted false, predicted 0). */
void newton_iterate(NewtonFn fn, void *ctx, size_t n, double *x, double *radius,
                    const NewtonConfig *cfg, NewtonStep *out);

#endif
