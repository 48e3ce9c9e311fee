/* conv_spectrum: the FFT method against the singular values of the explicitly assembled
 * operator matrix (LAPACKE_dgesdd in double), the Frobenius identity, 1x1 convolutions,
 * strides, kernels larger than the input, the zero-padded dense path, refusals. */
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/conv_spectrum.h"
#include "test_util.h"

/* The reference: the circular operator y[o, i, j] = sum W[o, c, ki, kj]
 * x[c, (s i + ki) mod n, (s j + kj) mod m] assembled as a dense (O n' m') x (C n m)
 * matrix, its singular values by dgesdd (descending). Returns how many. */
static size_t dense_circular(const float *W, int O, int C, int k, int s, int n, int m, double *sv)
{
    const int np = n / s, mp = m / s;
    const size_t rows = (size_t)O * (size_t)(np * mp), cols = (size_t)C * (size_t)(n * m);
    double *A = calloc(rows * cols, sizeof *A); /* column-major */
    for (int o = 0; o < O; o++)
        for (int i = 0; i < np; i++)
            for (int j = 0; j < mp; j++)
                for (int c = 0; c < C; c++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            size_t row = (size_t)((o * np + i) * mp + j);
                            size_t col = (size_t)((c * n + (s * i + ki) % n) * m + (s * j + kj) % m);
                            A[row + rows * col] += (double)W[((o * C + c) * k + ki) * k + kj];
                        }
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)rows, (lapack_int)cols, A,
                                     (lapack_int)rows, sv, NULL, 1, NULL, 1);
    CHECK(info == 0);
    free(A);
    return rows < cols ? rows : cols;
}

static double kernel_frobenius2(const float *W, size_t n)
{
    double f = 0;
    for (size_t i = 0; i < n; i++)
        f += (double)W[i] * (double)W[i];
    return f;
}

/* Max |a - b| / s_max over two descending lists of length N. */
static double max_rel_diff(const double *a, const double *b, size_t N)
{
    double d = 0, smax = fabs(b[0]) > 0 ? fabs(b[0]) : 1.0;
    for (size_t i = 0; i < N; i++)
        d = fmax(d, fabs(a[i] - b[i]) / smax);
    return d;
}

/* FFT spectrum == dense circular spectrum to 1e-9 of the largest value; the Frobenius
 * identity sum s^2 = (n/s)(m/s) ||W||_F^2 when the kernel fits (k <= n, m). */
static void check_case(int O, int C, int k, int s, int n, int m)
{
    float *W = test_random_kernel(O, C, k, (unsigned)(O * 1000 + C * 100 + k * 10 + s + n * m));
    const size_t N = conv_spectrum_count(O, C, s, n, m);
    double *fft = malloc(N * sizeof *fft);
    double *ref = malloc((size_t)O * (size_t)C * (size_t)(n * m) * sizeof *ref);
    BpsErr err = {{0}};
    int rc = conv_spectrum_values(W, O, C, k, s, n, m, fft, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    size_t Nref = dense_circular(W, O, C, k, s, n, m, ref);
    CHECK_MSG(Nref == N, "O=%d C=%d k=%d s=%d %dx%d: %zu values, the matrix has %zu", O, C, k, s,
              n, m, N, Nref);
    if (rc == 0 && Nref == N) {
        double d = max_rel_diff(fft, ref, N);
        CHECK_MSG(d < 1e-9, "O=%d C=%d k=%d s=%d %dx%d: max |fft - dense| / s_max = %.3g", O, C, k,
                  s, n, m, d);
        for (size_t i = 1; i < N; i++)
            CHECK(fft[i] <= fft[i - 1]);
        LayerStats st;
        metrics_spectrum_stats(fft, N, &st);
        CHECK(st.spectral == fft[0]);
        if (k <= n && k <= m) {
            double want = sqrt((double)((n / s) * (m / s)) *
                               kernel_frobenius2(W, (size_t)O * (size_t)C * (size_t)(k * k)));
            CHECK_MSG(fabs(st.frobenius - want) <= 1e-10 * want,
                      "Frobenius %.15g, sqrt(n' m') ||W||_F = %.15g", st.frobenius, want);
        }
    }
    free(W);
    free(fft);
    free(ref);
}

static void fft_spectrum_should_match_dense_circular_operator(void)
{
    check_case(3, 2, 3, 1, 5, 4);
    check_case(2, 4, 1, 1, 3, 3);
    check_case(3, 2, 3, 1, 6, 6); /* the 2 -> 3 channels on 6x6 */
    check_case(4, 3, 3, 1, 7, 1);
    check_case(1, 1, 2, 1, 1, 1);
}

static void kernel_larger_than_input_should_wrap_around(void)
{
    check_case(2, 3, 3, 1, 2, 5);
    check_case(2, 2, 5, 1, 3, 2);
}

static void strided_spectrum_should_match_dense_circular_operator(void)
{
    check_case(3, 2, 3, 2, 6, 4);
    check_case(4, 1, 1, 2, 4, 4);  /* O < C s^2 vs O = C s^2 */
    check_case(2, 3, 3, 2, 4, 6);  /* O < C s^2 */
    check_case(5, 1, 3, 3, 6, 3);
}

/* A 1x1 convolution is the kernel matrix W (O, C) at every position: its spectrum is W's
 * singular values each repeated n m times. */
static void one_by_one_conv_should_repeat_kernel_singular_values(void)
{
    const int O = 2, C = 4, n = 3, m = 3;
    float *W = test_random_kernel(O, C, 1, 7);
    double a[8], sk[2], s[2 * 9];
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            a[o + O * c] = (double)W[o * C + c];
    CHECK(LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', O, C, a, O, sk, NULL, 1, NULL, 1) == 0);
    BpsErr err = {{0}};
    CHECK(conv_spectrum_count(O, C, 1, n, m) == 18);
    CHECK_MSG(conv_spectrum_values(W, O, C, 1, 1, n, m, s, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 18; i++)
        CHECK_MSG(fabs(s[i] - sk[i / 9]) <= 1e-12 * sk[0], "value %d: %.15g want %.15g", i, s[i],
                  sk[i / 9]);
    free(W);
}

/* The zero-padded dense path: with a 1x1 kernel and no padding it is the circular
 * operator; with padding, its Frobenius norm counts each tap once per output position where
 * it lands inside the input. */
static void dense_zero_padded_should_agree_where_it_must(void)
{
    float *W = test_random_kernel(3, 2, 1, 11);
    double a[3 * 2 * 16], b[3 * 2 * 16];
    size_t N = 0;
    BpsErr err = {{0}};
    CHECK_MSG(conv_spectrum_dense(W, 3, 2, 1, 1, 0, 4, 4, a, &N, &err) == 0, "%s", err.msg);
    CHECK(N == 32);
    CHECK(conv_spectrum_values(W, 3, 2, 1, 1, 4, 4, b, &err) == 0);
    CHECK(max_rel_diff(a, b, 32) < 1e-12);
    free(W);

    /* 3x3, pad 1, 6x6: Frobenius^2 of the zero-padded operator = sum over taps of the
     * number of output positions where the tap lands inside the input */
    const int O = 3, C = 2, k = 3, n = 6, m = 6;
    W = test_random_kernel(O, C, k, 12);
    double *s = malloc(4096 * sizeof *s);
    CHECK_MSG(conv_spectrum_dense(W, O, C, k, 1, 1, n, m, s, &N, &err) == 0, "%s", err.msg);
    CHECK(N == (size_t)(C * n * m)); /* min(O n m, C n m) */
    double want = 0;
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) {
                    int ci = ki == 1 ? n : n - 1, cj = kj == 1 ? m : m - 1; /* pad 1 */
                    double w = (double)W[((o * C + c) * k + ki) * k + kj];
                    want += w * w * ci * cj;
                }
    LayerStats st;
    metrics_spectrum_stats(s, N, &st);
    CHECK_MSG(fabs(st.frobenius - sqrt(want)) <= 1e-10 * sqrt(want), "%.15g want %.15g",
              st.frobenius, sqrt(want));
    free(s);
    free(W);
}

static void stats_should_match_dense_layer_definitions(void)
{
    const double s[3] = {3.0, 2.0, 0.5};
    LayerStats st;
    metrics_spectrum_stats(s, 3, &st);
    double fro = sqrt(9.0 + 4.0 + 0.25);
    CHECK(st.spectral == 3.0);
    CHECK(fabs(st.frobenius - fro) < 1e-15);
    CHECK(fabs(st.effective_rank - 5.5 / fro) < 1e-15);
    const double z[2] = {0, 0};
    metrics_spectrum_stats(z, 2, &st);
    CHECK(st.effective_rank == 0.0 && st.frobenius == 0.0);
}

static void bad_sizes_should_be_refused(void)
{
    float W[9] = {0};
    double s[64];
    size_t N;
    BpsErr err = {{0}};
    CHECK(conv_spectrum_count(1, 1, 2, 5, 4) == 0);
    CHECK(conv_spectrum_values(W, 1, 1, 3, 2, 5, 4, s, &err) == -1);
    CHECK(strstr(err.msg, "does not divide") != NULL);
    CHECK(conv_spectrum_values(W, 0, 1, 3, 1, 5, 4, s, &err) == -1);
    CHECK(conv_spectrum_values(W, 1, 1, 3, 1, 5, 0, s, &err) == -1);
    CHECK(conv_spectrum_dense(W, 1, 1, 3, 1, 0, 2, 2, s, &N, &err) == -1);
    float *big = calloc(64 * 64 * 9, sizeof *big);
    CHECK(conv_spectrum_dense(big, 64, 64, 3, 1, 1, 32, 32, s, &N, &err) == -1);
    CHECK(strstr(err.msg, "more than") != NULL);
    free(big);
}

int main(void)
{
    RUN(fft_spectrum_should_match_dense_circular_operator);
    RUN(kernel_larger_than_input_should_wrap_around);
    RUN(strided_spectrum_should_match_dense_circular_operator);
    RUN(one_by_one_conv_should_repeat_kernel_singular_values);
    RUN(dense_zero_padded_should_agree_where_it_must);
    RUN(stats_should_match_dense_layer_definitions);
    RUN(bad_sizes_should_be_refused);
    return test_summary();
}
