/* metrics: measurements of a trained net that do not need the data: parameter
 * norms, per-layer spectra (LAPACK SVD), the parameter hash. Numerics only. */
#ifndef BPSWEEP_METRICS_H
#define BPSWEEP_METRICS_H

#include <stdint.h>

#include "bpsweep/nn.h"

typedef struct {
    double frobenius;       /* ||W||_F */
    double spectral;        /* sigma_max(W) */
    double effective_rank;  /* ||sigma||_1 / ||sigma||_2 (nuclear over Frobenius) */
} LayerStats;

/* ||theta||_2 over every parameter (weights, biases, batch-norm gamma and beta). */
double metrics_param_norm(const Net *net);

/* Per layer l (L entries), statistics from singular values in double precision:
 * - dense: of its weight matrix W (O,I) (LAPACKE_dgesdd);
 * - conv: of its linear operator on the op's input feature map (conv_spectrum.h: the
 *   circular operator by FFT; where the stride does not divide the input size, the
 *   exact zero-padded operator if it has at most CONV_SPECTRUM_DENSE_MAX rows and
 *   columns; else NaN), the statistics from all of them.
 * If spectra is not NULL, layer l's largest singular values (descending) go to
 * spectra[l * stride ..], NaN-padded to stride (metrics_max_rank). Returns 0, or -1 if a
 * layer's values could not be computed (they are then NaN). */
int metrics_layer_stats(const Net *net, LayerStats *out, float *spectra, int stride);

/* The statistics of N singular values sorted descending: spectral = s[0], frobenius =
 * sqrt(sum s^2), effective_rank = ||s||_1 / ||s||_2 (0 for a zero matrix or operator). */
void metrics_spectrum_stats(const double *s, size_t N, LayerStats *st);

/* Singular values a spectrum row keeps of a convolution: the largest this many. */
#define METRICS_CONV_SPECTRUM_KEEP 1024

/* The length of a spectrum row: the largest number of singular values any layer keeps
 * (dense: min(O, I); conv: all of its operator's, at most METRICS_CONV_SPECTRUM_KEEP). */
int metrics_max_rank(const NetConfig *cfg);

/* 64-bit FNV-1a hash of the parameter bytes followed by the batch-norm buffer bytes:
 * equal hashes mean bit-identical nets. */
uint64_t metrics_param_hash(const Net *net);

#endif
