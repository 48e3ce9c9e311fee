/* conv_spectrum: the singular values of a 2-D convolution's linear operator on its input
 * feature map, by the FFT method of Sedghi, Gupta and Long (ICLR 2019), not those of the
 * kernel tensor reshaped. Numerics only: no MPI, HDF5 or JSON. Formulas, caveats and
 * costs: docs/metrics.md#convolution-operator-spectra.
 *
 * Letters: W (O, C, k, k) the kernel as op_conv.c stores it (row-major, float), input
 * (C, n, m) (the op's real input height and width), stride s, output (O, n/s, m/s).
 *
 * What is computed: the operator of the CIRCULAR (periodic) convolution
 *     y[o, i, j] = sum_{c, ki, kj} W[o, c, ki, kj] x[c, (s i + ki) mod n, (s j + kj) mod m]
 * on the n x m input. With P(u, v) = sum_{ki, kj} W[:, :, ki, kj] e^{+2 pi i (u ki/n + v kj/m)}
 * (O x C; the 2-D DFT of each kernel zero-padded - or wrapped, if k > n - to n x m, up to
 * conjugation, which does not change singular values):
 *   s = 1: the singular values are the union over the n m frequencies (u, v) of those of
 *          P(u, v): min(O, C) n m values.
 *   s > 1 (s must divide n and m): the union over the (n/s)(m/s) frequencies (u', v') of
 *          the singular values of the O x (C s^2) block
 *              (1/s) [ P(u' + a n/s, v' + b m/s) ]_{a, b = 0..s-1}
 *          (subsampling folds s^2 aliased frequencies together): min(O, C s^2)(n/s)(m/s)
 *          values. Exact for the circular strided operator.
 * For a zero-padded convolution (op_conv's padding) this is the standard approximation: the
 * circular operator of the same kernel at the same input size (the output grid is shifted
 * by pad, which does not change singular values; only the wrap-around at the border
 * differs). conv_spectrum_dense gives the exact zero-padded operator of a small layer.
 *
 * Storage: a results file should not keep every value (a 512 -> 512 layer at 32x32 has
 * 524288, a CIFAR ResNet-18 about half a million per point). It should keep the summary
 * statistics computed from ALL values (metrics_spectrum_stats) and the top `keep` values,
 * which is what the dense layers' /spectra rows do today; the full spectrum can always be
 * recomputed from a checkpoint's kernel, because it is a deterministic function of it. */
#ifndef BPSWEEP_CONV_SPECTRUM_H
#define BPSWEEP_CONV_SPECTRUM_H

#include <complex.h>
#include <stddef.h>

#include "bpsweep/metrics.h"
#include "bpsweep/util.h"

/* The r2c DFT of every kernel (o, c) of W (O, C, k, k), zero-padded (wrapped around where
 * k > n or m) to n x m: P[(o C + c) n (m/2+1) + u (m/2+1) + v] for v <= m/2 (the other
 * half is conjugate). NULL when out of memory or FFTW cannot plan; free with
 * conv_kernel_dft_free. Shared by the spectra and the rank projections (rank.c). */
double complex *conv_kernel_dft(const float *W, int O, int C, int k, int n, int m);
void conv_kernel_dft_free(double complex *P);

/* The number of singular values of the circular operator: min(O, C s^2) (n/s) (m/s);
 * 0 if the sizes are not valid for conv_spectrum_values (s not dividing n or m, ...). */
size_t conv_spectrum_count(int O, int C, int stride, int n, int m);

/* All singular values of the circular convolution operator of W (O, C, k, k) with stride
 * s on an n x m input, in double, sorted descending, into s_out (conv_spectrum_count
 * values, allocated by the caller). Any k >= 1 (k > n or m wraps the kernel around, as
 * the circular operator does). One r2c FFTW plan per call (FFTW_ESTIMATE: the planner is
 * not thread-safe, so call from one thread at a time), one LAPACKE_zgesdd per frequency
 * (about half of them: a real kernel makes the frequency (-u, -v) the conjugate of (u, v)).
 * Returns 0, or -1 with a message in err for invalid sizes or a LAPACK failure (s_out is
 * then unspecified). */
int conv_spectrum_values(const float *W, int O, int C, int k, int stride, int n, int m,
                         double *s_out, BpsErr *err);

/* The exact operator of the ZERO-PADDED convolution (op_conv.c's: padding pad, stride s,
 * output (O, Ho, Wo), Ho = (n + 2 pad - k)/s + 1), by assembling the dense
 * (O Ho Wo) x (C n m) matrix and LAPACKE_dgesdd: min(O Ho Wo, C n m) values, descending,
 * into s_out; *count receives how many. Refuses (-1 and a message) when either dimension
 * exceeds CONV_SPECTRUM_DENSE_MAX: it is for small layers and for measuring how far the
 * circular spectrum is from the zero-padded one. */
enum { CONV_SPECTRUM_DENSE_MAX = 4096 };
int conv_spectrum_dense(const float *W, int O, int C, int k, int stride, int pad, int n, int m,
                        double *s_out, size_t *count, BpsErr *err);


#endif
