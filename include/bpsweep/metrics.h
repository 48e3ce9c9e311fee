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

/* Per dense layer l (L entries): statistics of its weight matrix W (O,I) from the
 * singular values, computed in double precision with LAPACKE_dgesdd. If spectra is not
 * NULL, layer l's singular values (descending) go to spectra[l * stride ..], NaN-padded
 * to stride (>= the largest min(O, I)). Returns 0, or -1 if LAPACK failed to converge
 * (that layer's values are then NaN). */
int metrics_layer_stats(const Net *net, LayerStats *out, float *spectra, int stride);

/* The largest min(O, I) over the net's dense layers: the length of a spectrum row. */
int metrics_max_rank(const NetConfig *cfg);

/* 64-bit FNV-1a hash of the parameter bytes followed by the batch-norm buffer bytes:
 * equal hashes mean bit-identical nets. */
uint64_t metrics_param_hash(const Net *net);

#endif
