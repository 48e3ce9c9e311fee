/* newton: the trust-region Newton-CG iteration against its rules (newton.h) on objectives
 * whose steps can be worked out by hand, and to convergence on Rosenbrock's function. */
#include <math.h>
#include <stdlib.h>

#include "bpsweep/newton.h"
#include "test_util.h"

/* f(x) = sum_k a_k x_k^2 / 2 (a diagonal quadratic, a_k of either sign) */
typedef struct {
    const double *a;
    int products;
} Quad;

static double quad(void *ctx, const double *x, double *g, const double *v, double *hv)
{
    Quad *q = ctx;
    double f = 0;
    for (int k = 0; k < 2; k++) {
        f += q->a[k] * x[k] * x[k] / 2;
        if (g)
            g[k] = q->a[k] * x[k];
        if (v)
            hv[k] = q->a[k] * v[k];
    }
    q->products += v != NULL;
    return f;
}

/* Rosenbrock: (1 - x)^2 + 100 (y - x^2)^2, minimum 0 at (1, 1) */
static double rosen(void *ctx, const double *x, double *g, const double *v, double *hv)
{
    (void)ctx;
    double a = 1 - x[0], b = x[1] - x[0] * x[0];
    if (g) {
        g[0] = -2 * a - 400 * x[0] * b;
        g[1] = 200 * b;
    }
    if (v) {
        double hxx = 2 - 400 * b + 800 * x[0] * x[0], hxy = -400 * x[0], hyy = 200;
        hv[0] = hxx * v[0] + hxy * v[1];
        hv[1] = hxy * v[0] + hyy * v[1];
    }
    return a * a + 100 * b * b;
}

static const NewtonConfig CFG = {1000.0, 250};

/* Along an eigenvector one CG product reaches the minimum inside the region: the model is
 * exact (rho = 1) but the step is inside, so the radius stays. */
static void newton_should_take_the_newton_step_inside_the_region(void)
{
    const double a[2] = {1.0, 4.0};
    Quad q = {a, 0};
    double x[2] = {0.0, 0.5}, radius = 10;
    NewtonStep st;
    newton_iterate(quad, &q, 2, x, &radius, &CFG, &st);
    CHECK(st.accepted && !st.boundary);
    CHECK_MSG(x[0] == 0 && x[1] == 0, "x = (%g, %g)", x[0], x[1]);
    CHECK_MSG(st.rho == 1, "rho %.17g", st.rho);
    CHECK(radius == 10 && st.cg_products == 1 && q.products == 1);
    CHECK_MSG(st.predicted == 0.5 && st.f == 0.5 && st.f_trial == 0, "predicted %.17g, f %.17g",
              st.predicted, st.f);
}

/* A step that reaches the boundary with an exact model doubles the radius. */
static void newton_should_double_the_radius_when_the_model_is_good_on_the_boundary(void)
{
    const double a[2] = {1.0, 1.0};
    Quad q = {a, 0};
    double x[2] = {3.0, 4.0}, radius = 1; /* the minimum is 5 away */
    NewtonStep st;
    newton_iterate(quad, &q, 2, x, &radius, &CFG, &st);
    CHECK(st.accepted && st.boundary && radius == 2);
    CHECK_MSG(fabs(x[0] - 2.4) < 1e-14 && fabs(x[1] - 3.2) < 1e-14, "x = (%.17g, %.17g)", x[0],
              x[1]);
    CHECK_MSG(fabs(st.step_norm - 1) < 1e-14, "|p| = %.17g", st.step_norm);
}

/* Negative curvature along the first direction: to the boundary, then the lower end. At
 * x = (0.5, 0) on f = -x^2/2 + y^2/2 the gradient is (-0.5, 0), d = (0.5, 0), d.Hd < 0:
 * the ends t = -2 and t = 2 give p = (-1, 0) with model 0 and p = (1, 0) with model -1. */
static void newton_should_follow_negative_curvature_to_the_boundary(void)
{
    const double a[2] = {-1.0, 1.0};
    Quad q = {a, 0};
    double x[2] = {0.5, 0.0}, radius = 1;
    NewtonStep st;
    newton_iterate(quad, &q, 2, x, &radius, &CFG, &st);
    CHECK(st.boundary && st.cg_products == 1 && st.accepted);
    CHECK_MSG(fabs(x[0] - 1.5) < 1e-14 && x[1] == 0, "x = (%.17g, %.17g)", x[0], x[1]);
    /* exact model (rho = 1) on the boundary: the radius doubles */
    CHECK(radius == 2);
}

/* A model that predicts far more than the function gives: rejected, radius / 4, x kept. */
static double cliff(void *ctx, const double *x, double *g, const double *v, double *hv)
{
    double f = quad(ctx, x, g, v, hv);
    return x[0] < 0.5 ? f + 10 : f; /* a step past 0.5 lands on a cliff the model misses */
}

static void newton_should_reject_a_step_the_model_mispredicts(void)
{
    const double a[2] = {1.0, 1.0};
    Quad q = {a, 0};
    double x[2] = {2.0, 0.0}, radius = 8;
    NewtonStep st;
    newton_iterate(cliff, &q, 2, x, &radius, &CFG, &st);
    CHECK(!st.accepted && st.rho < NEWTON_ETA && radius == 2);
    CHECK(x[0] == 2.0 && x[1] == 0.0);
}

/* cg_max bounds the products; the step is then the CG iterate reached (p = z): from
 * x = (1, 0.01) on a = (1, 100), g = (1, 1), one CG step goes t = g.g / g.Hg = 2/101 along
 * -g, and its residual (0.98, -0.98) is still above eps = |g| / 2. */
static void newton_should_stop_cg_after_cg_max_products(void)
{
    const double a[2] = {1.0, 100.0};
    Quad q = {a, 0};
    double x[2] = {1.0, 0.01}, radius = 100;
    const NewtonConfig one = {1000.0, 1};
    NewtonStep st;
    newton_iterate(quad, &q, 2, x, &radius, &one, &st);
    double t = 2.0 / 101.0;
    CHECK(st.cg_products == 1 && q.products == 1 && !st.boundary && st.accepted);
    CHECK(radius == 100);
    CHECK_MSG(fabs(x[0] - (1 - t)) < 1e-15 && fabs(x[1] - (0.01 - t)) < 1e-15,
              "x = (%.17g, %.17g), want (%.17g, %.17g)", x[0], x[1], 1 - t, 0.01 - t);
    /* with two products CG reaches the minimum */
    double y[2] = {1.0, 0.01};
    newton_iterate(quad, &q, 2, y, &radius, &CFG, &st);
    CHECK_MSG(st.cg_products == 2 && fabs(y[0]) < 1e-15 && fabs(y[1]) < 1e-15,
              "%d products, y = (%.3g, %.3g)", st.cg_products, y[0], y[1]);
}

static void newton_should_leave_a_critical_point_alone(void)
{
    const double a[2] = {1.0, 1.0};
    Quad q = {a, 0};
    double x[2] = {0.0, 0.0}, radius = 3;
    NewtonStep st;
    newton_iterate(quad, &q, 2, x, &radius, &CFG, &st);
    CHECK(!st.accepted && st.grad_norm == 0 && q.products == 0 && radius == 3);
}

/* From scipy's classic start (-1.2, 1), radius 1: to a gradient norm below 1e-10 at (1, 1). */
static void newton_should_minimise_rosenbrock(void)
{
    double x[2] = {-1.2, 1.0}, radius = 1;
    NewtonStep st = {0};
    int it = 0;
    for (; it < 100; it++) {
        newton_iterate(rosen, NULL, 2, x, &radius, &CFG, &st);
        double g[2];
        rosen(NULL, x, g, NULL, NULL);
        if (hypot(g[0], g[1]) < 1e-10)
            break;
    }
    CHECK_MSG(it < 100 && fabs(x[0] - 1) < 1e-9 && fabs(x[1] - 1) < 1e-9,
              "%d iterations, x = (%.17g, %.17g)", it + 1, x[0], x[1]);
}

int main(void)
{
    RUN(newton_should_take_the_newton_step_inside_the_region);
    RUN(newton_should_double_the_radius_when_the_model_is_good_on_the_boundary);
    RUN(newton_should_follow_negative_curvature_to_the_boundary);
    RUN(newton_should_reject_a_step_the_model_mispredicts);
    RUN(newton_should_stop_cg_after_cg_max_products);
    RUN(newton_should_leave_a_critical_point_alone);
    RUN(newton_should_minimise_rosenbrock);
    return test_summary();
}
