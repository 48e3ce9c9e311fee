/* rank_project_conv: RankMin / RankMax on a convolution's operator, against an
 * independent computation (direct DFT by loops over the whole n x m grid, a per-frequency
 * LAPACKE_zgesdd with vectors, inverse DFT by loops, restriction to k x k, distance),
 * and the two limits: a threshold above every value zeroes the layer, a cap above the
 * largest leaves the kernel bit-identical. rank_project: the layers RankEdit selects. */
#include <complex.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/rank.h"
#include "bpsweep/util.h"
#include "test_util.h"

static const double PI = 3.14159265358979323846;

/* The reference projection: Wout (O, C, k, k) in double, the changed fraction and the
 * restriction distance. */
static void reference(const float *W, int O, int C, int k, int n, int m, RankMode mode,
                      double thr, bool relative, double *Wout, double *frac, double *dist)
{
    const int r = O < C ? O : C, nm = n * m;
    double complex *P = calloc((size_t)nm * (size_t)(O * C), sizeof *P); /* [f][c][o] */
    for (int u = 0; u < n; u++)
        for (int v = 0; v < m; v++)
            for (int o = 0; o < O; o++)
                for (int c = 0; c < C; c++) {
                    double complex z = 0;
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++)
                            z += (double)W[((o * C + c) * k + ki) * k + kj] *
                                 cexp(CMPLX(0.0, -2.0 * PI *
                                                     ((double)(u * ki) / n +
                                                      (double)(v * kj) / m)));
                    P[(size_t)(u * m + v) * (size_t)(O * C) + (size_t)(c * O + o)] = z;
                }
    double *S = calloc((size_t)nm * (size_t)r, sizeof *S);
    double complex *U = calloc((size_t)nm * (size_t)(O * r), sizeof *U);
    double complex *VT = calloc((size_t)nm * (size_t)(r * C), sizeof *VT);
    double complex *A = calloc((size_t)(O * C) + 8, sizeof *A);
    double smax = 0;
    for (int f = 0; f < nm; f++) {
        memcpy(A, P + (size_t)f * (size_t)(O * C), (size_t)(O * C) * sizeof *A);
        int info = LAPACKE_zgesdd(LAPACK_COL_MAJOR, 'S', O, C, A, O, S + f * r, U + f * O * r,
                                  O, VT + f * r * C, r);
        CHECK(info == 0);
        if (S[f * r] > smax)
            smax = S[f * r];
    }
    const double t = relative ? thr * smax : thr;
    long changed = 0;
    for (int f = 0; f < nm; f++) { /* P'(f) = U diag(sigma') V^H */
        for (int j = 0; j < r; j++) {
            double s = S[f * r + j], e = mode == RANK_MIN ? (s < t ? 0 : s) : (s > t ? t : s);
            changed += e != s;
            S[f * r + j] = e;
        }
        for (int o = 0; o < O; o++)
            for (int c = 0; c < C; c++) {
                double complex z = 0;
                for (int j = 0; j < r; j++)
                    z += U[f * O * r + j * O + o] * S[f * r + j] * VT[f * r * C + c * r + j];
                P[(size_t)f * (size_t)(O * C) + (size_t)(c * O + o)] = z;
            }
    }
    double full = 0, out = 0;
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) {
                    double complex z = 0;
                    for (int u = 0; u < n; u++)
                        for (int v = 0; v < m; v++)
                            z += P[(size_t)(u * m + v) * (size_t)(O * C) + (size_t)(c * O + o)] *
                                 cexp(CMPLX(0.0, 2.0 * PI * ((double)(u * i) / n +
                                                            (double)(v * j) / m)));
                    double x = creal(z) / nm;
                    full += x * x;
                    if (i < k && j < k)
                        Wout[((o * C + c) * k + i) * k + j] = x;
                    else
                        out += x * x;
                }
    *frac = (double)changed / ((double)r * nm);
    *dist = full > 0 ? sqrt(out / full) : 0;
    free(P);
    free(S);
    free(U);
    free(VT);
    free(A);
}

static void check_case(int O, int C, int k, int n, int m, RankMode mode, double thr,
                       bool relative, unsigned seed)
{
    const size_t nw = (size_t)(O * C * k * k);
    float *W = test_random_kernel(O, C, k, seed);
    double *ref = malloc(nw * sizeof *ref), frac, dist;
    reference(W, O, C, k, n, m, mode, thr, relative, ref, &frac, &dist);
    RankEffect e;
    CHECK(rank_project_conv(W, O, C, k, n, m, mode, thr, relative, &e) == 0);
    double wmax = 0, err = 0;
    for (size_t i = 0; i < nw; i++) {
        wmax = fmax(wmax, fabs(ref[i]));
        err = fmax(err, fabs((double)W[i] - ref[i]));
    }
    CHECK_MSG(err <= 1e-6 * wmax, "%dx%d->%d at %dx%d mode %d: kernel off by %g (max %g)", C,
              k, O, n, m, (int)mode, err, wmax);
    CHECK_MSG(e.changed_fraction == frac, "fraction %.17g, reference %.17g", e.changed_fraction,
              frac);
    CHECK_MSG(fabs(e.restrict_distance - dist) <= 1e-10 + 1e-9 * dist,
              "distance %.17g, reference %.17g", e.restrict_distance, dist);
    CHECK(frac > 0 && frac < 1 && dist > 0); /* the cases do something */
    free(W);
    free(ref);
}

static void test_matches_reference(void)
{
    check_case(3, 2, 3, 6, 6, RANK_MIN, 0.5, true, 1);
    check_case(3, 2, 3, 6, 6, RANK_MAX, 0.5, true, 2);
    check_case(2, 3, 3, 5, 4, RANK_MIN, 0.6, true, 3);  /* odd n, O < C */
    check_case(2, 3, 2, 4, 5, RANK_MAX, 1.0, false, 4); /* odd m, absolute cap */
}

static void test_rankmin_above_all_zeroes(void)
{
    float *W = test_random_kernel(3, 2, 3, 5);
    RankEffect e;
    CHECK(rank_project_conv(W, 3, 2, 3, 6, 6, RANK_MIN, 1.01, true, &e) == 0);
    for (int i = 0; i < 3 * 2 * 9; i++)
        CHECK(W[i] == 0.0f);
    CHECK(e.changed_fraction == 1.0 && e.restrict_distance == 0.0);
    free(W);
    W = test_random_kernel(3, 2, 3, 6);
    CHECK(rank_project_conv(W, 3, 2, 3, 6, 6, RANK_MIN, 1e6, false, &e) == 0);
    for (int i = 0; i < 3 * 2 * 9; i++)
        CHECK(W[i] == 0.0f);
    free(W);
}

static void test_rankmax_above_all_unchanged(void)
{
    float *W = test_random_kernel(3, 2, 3, 7), *W0 = malloc(54 * sizeof *W0);
    memcpy(W0, W, 54 * sizeof *W0);
    RankEffect e;
    CHECK(rank_project_conv(W, 3, 2, 3, 6, 6, RANK_MAX, 1.0, true, &e) == 0);
    CHECK(memcmp(W, W0, 54 * sizeof *W) == 0);
    CHECK(e.changed_fraction == 0.0 && e.restrict_distance == 0.0);
    CHECK(rank_project_conv(W, 3, 2, 3, 6, 6, RANK_MAX, 1e6, false, &e) == 0);
    CHECK(memcmp(W, W0, 54 * sizeof *W) == 0);
    free(W);
    free(W0);
}

static void test_kernel_larger_than_input_refused(void)
{
    float *W = test_random_kernel(2, 2, 3, 8);
    RankEffect e = {-1, -1};
    CHECK(rank_project_conv(W, 2, 2, 3, 2, 6, RANK_MIN, 0.5, true, &e) == 1);
    CHECK(e.changed_fraction == -1);
    free(W);
}

/* A net's layers: the first only with edit.first, the output layer only with
 * edit.output; the others always; a layer not edited keeps its bits and a NaN effect. */
static void test_project_selects_layers(void)
{
    NetConfig cfg = {.n_in = 6, .n_out = 3, .n_hidden = 2, .hidden = {5, 4}};
    Net *net = nn_new(&cfg, 1);
    nn_init_params(net, 7);
    const size_t bytes = net->n_params * sizeof(float);
    float *before = xmalloc(bytes);
    memcpy(before, net->params, bytes);
    RankEffect eff[3];
    static const struct {
        bool first, output;
    } CASES[] = {{false, true}, {true, true}, {false, false}, {true, false}};
    for (size_t c = 0; c < sizeof CASES / sizeof *CASES; c++) {
        memcpy(net->params, before, bytes);
        /* a threshold above every singular value: every edited layer becomes zero */
        const RankEdit edit = {RANK_MIN, 2.0, true, CASES[c].first, CASES[c].output};
        CHECK(rank_project(net, &edit, eff) == 0);
        for (int l = 0; l < net->n_layers; l++) {
            const NnLayer *ly = &net->layers[l];
            const size_t n = (size_t)ly->out * ly->in;
            const bool edited = (l > 0 || CASES[c].first) &&
                                (l < net->n_layers - 1 || CASES[c].output);
            bool zero = true;
            for (size_t i = 0; i < n; i++)
                zero &= net->params[ly->w + i] == 0.0f;
            CHECK_MSG(edited ? zero && eff[l].changed_fraction == 1.0
                             : memcmp(net->params + ly->w, before + ly->w, n * sizeof(float)) == 0 &&
                                   isnan(eff[l].changed_fraction),
                      "case %zu layer %d: edited %d", c, l, edited);
        }
    }
    free(before);
    nn_free(net);
}

int main(void)
{
    RUN(test_matches_reference);
    RUN(test_rankmin_above_all_zeroes);
    RUN(test_rankmax_above_all_unchanged);
    RUN(test_kernel_larger_than_input_refused);
    RUN(test_project_selects_layers);
    return test_summary();
}
