/* ntk: the empirical neural tangent kernel of a net over a few inputs and all its
 * logits, and the measures that compare two kernels. Numerics only.
 *
 * For inputs x_1..x_n and logits f_1..f_K, with M = n K and rows r = i K + l,
 *     K[r, s] = < d f_l(x_i) / d theta , d f_m(x_j) / d theta >     (r = (i,l), s = (j,m))
 * with the net in evaluation mode (batch norm uses its running statistics). No M x P
 * gradient matrix is formed: a dense layer z = a W^T + b contributes
 *     (a_i . a_j + 1) (dz_r . dz_s)
 * where a_i is the layer's input for sample i and dz_r = d f_l(x_i) / dz, a row of a
 * backward pass of M rows; batch norm's gamma and beta add (du_r * xhat_i).(du_s * xhat_j)
 * and du_r . du_s. So each layer costs an n x n Gram of inputs and an M x M Gram of
 * back-propagated signals (ssyrk), and memory is O(M x width), whatever P is.
 * Derivation: docs/metrics.md. */
#ifndef BPSWEEP_NTK_H
#define BPSWEEP_NTK_H

#include <stddef.h>
#include <stdint.h>

#include "bpsweep/nn.h"

/* The inputs of the kernel: among the first `pool` training samples (in data-set order),
 * sorted stably by label, the first `n`. Writes n indices into idx; returns n, or the
 * number available if fewer. */
int ntk_select(const uint8_t *labels, int n_samples, int pool, int n, int *idx);

/* K (M x M, row-major, M = n * net->cfg.n_out) of net at the inputs x (n, D). Does not
 * touch the net's caches, so it can run between training steps. Returns 0, or -1 if
 * its work space (O(M x widest layer) floats) cannot be allocated. */
int ntk_kernel(const Net *net, const float *x, int n, double *K);

typedef struct {
    double norm0, norm1;   /* ||K0||_F, ||K1||_F */
    double distance;       /* ||K1 - K0||_F */
    double similarity;     /* <K0, K1>_F / (||K0||_F ||K1||_F) */
    double pearson;        /* Pearson correlation of the M^2 entries */
} NtkCompare;

/* Compares two kernels of m x m entries. */
NtkCompare ntk_compare(const double *K0, const double *K1, size_t m);

#endif
