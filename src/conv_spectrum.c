/* conv_spectrum: singular values of a convolution's linear operator (Sedghi, Gupta and
 * Long 2019), FFTW3 for the 2-D DFTs of the kernels, LAPACKE_zgesdd per frequency.
 *
 * Derivation (one spatial axis; the second is the same). With the unitary DFT
 * x[t] = n^{-1/2} sum_f xh[f] e^{2 pi i f t/n}, the circular cross-correlation
 * y[i] = sum_ki W[ki] x[(i + ki) mod n] is yh[f] = P+(f) xh[f], P+(f) = sum_ki W[ki]
 * e^{+2 pi i f ki/n}: the operator is block-diagonal in frequency, so its singular values
 * are those of the P+(f). FFTW's forward transform gives P-(f) = conj(P+(f)) = P+(-f) for
 * a real kernel: the same set of blocks. Stride s (s | n): z[i] = y[s i] has the unitary
 * DFT (n' = n/s) zh[f'] = s^{-1/2} sum_{a<s} yh[f' + a n'], so in two dimensions the block
 * of frequency (u', v') maps the s^2 aliased inputs xh[u' + a n', v' + b m'] through
 * (1/s) [P(u' + a n', v' + b m')]_{a,b}: O x (C s^2). Its conjugate is the block of
 * (-u', -v') with permuted columns, so only v' <= m'/2 is decomposed and the values of
 * 0 < v' < m'/2 (strictly, 2 v' != m') count twice. */
#include <complex.h> /* before fftw3.h: fftw_complex is then double _Complex */
#include <fftw3.h>
#include <lapacke.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/conv_spectrum.h"

static int cmp_desc(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

static int check_sizes(int O, int C, int k, int stride, int n, int m, BpsErr *err)
{
    if (O < 1 || C < 1 || k < 1 || stride < 1 || n < 1 || m < 1)
        return bps_fail(err, "conv spectrum: need O, C, k, stride, n, m >= 1, not %d, %d, %d, %d, "
                             "%d, %d", O, C, k, stride, n, m);
    return 0;
}

size_t conv_spectrum_count(int O, int C, int stride, int n, int m)
{
    if (O < 1 || C < 1 || stride < 1 || n < 1 || m < 1 || n % stride || m % stride)
        return 0;
    const long cs = (long)C * stride * stride, r = O < cs ? O : cs;
    return (size_t)r * (size_t)(n / stride) * (size_t)(m / stride);
}

int conv_spectrum_values(const float *W, int O, int C, int k, int stride, int n, int m,
                         double *s_out, BpsErr *err)
{
    if (check_sizes(O, C, k, stride, n, m, err))
        return -1;
    if (n % stride || m % stride)
        return bps_fail(err, "conv spectrum: stride %d does not divide the input %dx%d (the FFT "
                             "method needs it; conv_spectrum_dense handles small layers)",
                        stride, n, m);
    const int s = stride, np = n / s, mp = m / s, mh = m / 2 + 1, cols = C * s * s;
    const int r = O < cols ? O : cols;
    const size_t nmh = (size_t)n * (size_t)mh;
    const size_t n_all = (size_t)O * (size_t)C * nmh;
    double complex *P = conv_kernel_dft(W, O, C, k, n, m);
    /* A (O, C s^2) column-major, with zeroed slack: OpenBLAS 0.3.21's Haswell zgemv kernel
     * (inside zgesdd) reads up to 32 bytes past the matrix (valgrind, this test) */
    double complex *A = calloc((size_t)O * (size_t)cols + 8, sizeof *A);
    double *sv = malloc((size_t)r * sizeof *sv);
    int rc = -1;
    if (!P || !A || !sv) {
        bps_fail(err, "conv spectrum: out of memory for %zu frequency coefficients (%d x %d "
                      "channels at %dx%d)", n_all, O, C, n, m);
        goto fail;
    }
    size_t pos = 0;
    for (int up = 0; up < np; up++)
        for (int vp = 0; vp <= mp / 2; vp++) {
            const int mult = (vp == 0 || 2 * vp == mp) ? 1 : 2;
            for (int a = 0; a < s; a++)
                for (int b = 0; b < s; b++) {
                    int u = up + a * np, v = vp + b * mp;
                    bool conj_ = false;
                    if (v >= mh) { /* P(u, v) = conj(P(-u, -v)) for a real kernel */
                        u = (n - u) % n;
                        v = m - v;
                        conj_ = true;
                    }
                    const size_t f = (size_t)u * (size_t)mh + (size_t)v;
                    for (int c = 0; c < C; c++) {
                        double complex *col = A + (size_t)O * (size_t)((a * s + b) * C + c);
                        for (int o = 0; o < O; o++) {
                            double complex z = P[((size_t)o * (size_t)C + (size_t)c) * nmh + f];
                            col[o] = (conj_ ? conj(z) : z) / (double)s;
                        }
                    }
                }
            lapack_int info =
                LAPACKE_zgesdd(LAPACK_COL_MAJOR, 'N', O, cols, A, O, sv, NULL, 1, NULL, 1);
            if (info != 0) {
                bps_fail(err, "conv spectrum: LAPACKE_zgesdd failed (info %d) at frequency "
                              "(%d, %d)", (int)info, up, vp);
                goto fail;
            }
            for (int t = 0; t < mult; t++) {
                memcpy(s_out + pos, sv, (size_t)r * sizeof *sv);
                pos += (size_t)r;
            }
        }
    /* can't happen: every frequency (u', v') of the n' x m' grid is counted once */
    if (pos != conv_spectrum_count(O, C, s, n, m)) {
        bps_fail(err, "conv spectrum: internal error, %zu values instead of %zu", pos,
                 conv_spectrum_count(O, C, s, n, m));
        goto fail;
    }
    qsort(s_out, pos, sizeof *s_out, cmp_desc);
    rc = 0;
fail:
    conv_kernel_dft_free(P);
    free(A);
    free(sv);
    return rc;
}

int conv_spectrum_dense(const float *W, int O, int C, int k, int stride, int pad, int n, int m,
                        double *s_out, size_t *count, BpsErr *err)
{
    if (check_sizes(O, C, k, stride, n, m, err))
        return -1;
    if (pad < 0 || k > n + 2 * pad || k > m + 2 * pad)
        return bps_fail(err, "conv spectrum: kernel %d with pad %d does not fit the input %dx%d",
                        k, pad, n, m);
    const int ho = (n + 2 * pad - k) / stride + 1, wo = (m + 2 * pad - k) / stride + 1;
    const long rows = (long)O * ho * wo, cols = (long)C * n * m;
    if (rows > CONV_SPECTRUM_DENSE_MAX || cols > CONV_SPECTRUM_DENSE_MAX)
        return bps_fail(err, "conv spectrum: the dense operator would be %ld x %ld, more than "
                             "%d x %d; use conv_spectrum_values (circular) instead",
                        rows, cols, CONV_SPECTRUM_DENSE_MAX, CONV_SPECTRUM_DENSE_MAX);
    /* A (rows, cols) column-major: row (o, i, j), column (c, y, x) of the input */
    double *A = calloc((size_t)rows * (size_t)cols, sizeof *A);
    if (!A)
        return bps_fail(err, "conv spectrum: out of memory for a %ld x %ld matrix", rows, cols);
    for (int o = 0; o < O; o++)
        for (int i = 0; i < ho; i++)
            for (int j = 0; j < wo; j++) {
                const size_t row = ((size_t)o * (size_t)ho + (size_t)i) * (size_t)wo + (size_t)j;
                for (int c = 0; c < C; c++)
                    for (int ki = 0; ki < k; ki++)
                        for (int kj = 0; kj < k; kj++) {
                            const int y = i * stride - pad + ki, x = j * stride - pad + kj;
                            if (y < 0 || y >= n || x < 0 || x >= m)
                                continue; /* zero padding */
                            const size_t col = ((size_t)c * (size_t)n + (size_t)y) * (size_t)m +
                                               (size_t)x;
                            A[row + (size_t)rows * col] +=
                                (double)W[(((size_t)o * (size_t)C + (size_t)c) * (size_t)k +
                                           (size_t)ki) * (size_t)k + (size_t)kj];
                        }
            }
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)rows, (lapack_int)cols, A,
                                     (lapack_int)rows, s_out, NULL, 1, NULL, 1);
    free(A);
    if (info != 0)
        return bps_fail(err, "conv spectrum: LAPACKE_dgesdd failed (info %d)", (int)info);
    *count = (size_t)(rows < cols ? rows : cols);
    return 0;
}

double complex *conv_kernel_dft(const float *W, int O, int C, int k, int n, int m)
{
    const int mh = m / 2 + 1;
    const size_t nm = (size_t)n * (size_t)m, nmh = (size_t)n * (size_t)mh;
    double complex *P = fftw_malloc((size_t)O * (size_t)C * nmh * sizeof *P);
    double *in = fftw_malloc((size_t)C * nm * sizeof *in);
    double complex *out = fftw_malloc((size_t)C * nmh * sizeof *out);
    const int dims[2] = {n, m};
    /* one plan for the C kernels of an output channel, reused O times */
    fftw_plan plan = P && in && out ? fftw_plan_many_dft_r2c(2, dims, C, in, NULL, 1, (int)nm,
                                                              out, NULL, 1, (int)nmh,
                                                              FFTW_ESTIMATE)
                                    : NULL;
    for (int o = 0; plan && o < O; o++) {
        memset(in, 0, (size_t)C * nm * sizeof *in);
        for (int c = 0; c < C; c++)
            for (int ki = 0; ki < k; ki++)
                for (int kj = 0; kj < k; kj++) /* taps beyond n or m wrap around */
                    in[(size_t)c * nm + (size_t)(ki % n) * (size_t)m + (size_t)(kj % m)] +=
                        (double)W[(((size_t)o * (size_t)C + (size_t)c) * (size_t)k + (size_t)ki) *
                                      (size_t)k + (size_t)kj];
        fftw_execute(plan);
        memcpy(P + (size_t)o * (size_t)C * nmh, out, (size_t)C * nmh * sizeof *out);
    }
    if (!plan) {
        fftw_free(P);
        P = NULL;
    } else {
        fftw_destroy_plan(plan);
    }
    fftw_free(in);
    fftw_free(out);
    return P;
}

void conv_kernel_dft_free(double complex *P)
{
    fftw_free(P);
}

