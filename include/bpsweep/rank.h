/* rank: projections that edit the singular values of a net's weight matrices (the
 * paper's RankMin / RankMax, claim 4). Numerics only: LAPACK SVD in double, FFTW3 for
 * the operators of convolutions. Formulas: docs/metrics.md#rank-projection-claim-4. */
#ifndef BPSWEEP_RANK_H
#define BPSWEEP_RANK_H

#include <stdbool.h>

#include "bpsweep/nn.h"

typedef enum {
    RANK_OFF = 0,
    RANK_MIN,  /* zero every singular value below the threshold: lower rank */
    RANK_MAX,  /* cap every singular value at the threshold: a flatter spectrum */
} RankMode;

/* What one projection did to one layer; NaN where it does not apply. */
typedef struct {
    double changed_fraction;  /* singular values whose edited value differs, over all of
                                 them (a stride-1 conv: of its operator's) */
    double restrict_distance; /* stride-1 conv: ||K_intended - K_restricted||_F /
                                 ||K_intended||_F, K_intended the n x m kernel with the
                                 edited spectrum, K_restricted its k x k support (0 when
                                 K_intended is 0); NaN for dense layers and other convs */
} RankEffect;

/* One projection: which edit, with what threshold, on which layers. */
typedef struct {
    RankMode mode;
    double threshold; /* t */
    bool relative;    /* t times each layer's largest sigma */
    bool first;       /* also the first weight layer (the authors skip it) */
    bool output;      /* also the last weight layer, the output layer (the authors edit
                         only convolutions, so not their linear output layer) */
} RankEdit;

/* Every weight layer of the net that `edit` selects (layer 0, the first dense layer of
 * an MLP or the first convolution of a conv net, only with edit->first; the output
 * layer, the last, only with edit->output):
 * - a convolution with stride 1 whose kernel fits its input (k <= n, m): by its
 *   operator, rank_project_conv at the op's input size;
 * - any other layer (dense, strided conv): W (a conv's kernel reshaped to O x (C k k)) =
 *   U diag(sigma) V^T (LAPACKE_dgesdd), sigma edited by mode with threshold t (times the
 *   layer's largest sigma if relative), W rebuilt as U diag(sigma') V^T and rounded to
 *   float.
 * Biases and batch-norm parameters are untouched, and so is the optimizer's momentum.
 * effect (n_layers entries, or NULL) receives each layer's RankEffect (NaN for the
 * layers not edited). Returns 0, or -1 if an SVD failed to converge or memory ran out
 * (that layer is left as it was, its effect NaN). */
int rank_project(Net *net, const RankEdit *edit, RankEffect *effect);

/* RankMin / RankMax on the circular stride-1 operator of W (O, C, k, k) (op_conv's
 * layout, float) on an n x m input: P(u, v) = the 2-D DFT of each kernel zero-padded to
 * n x m (O x C per frequency, as conv_spectrum.h); every P(u, v) = U diag(sigma) V^H
 * (LAPACKE_zgesdd), sigma edited as rank_project does with t = threshold (times the
 * largest singular value of the whole operator if relative); the inverse DFT gives the
 * intended n x m kernel, whose k x k support (taps 0..k-1 on both axes, where the kernel
 * was placed) is written back to W, rounded to float; the rest is discarded. When no
 * singular value changes, W is left untouched (bit-identical) and effect is {0, 0}.
 * Returns 0; 1 without touching W if the sizes are not handled (k > n or k > m; the
 * caller falls back to the reshaped projection); -1 with W untouched if memory ran out
 * or an SVD failed. */
int rank_project_conv(float *W, int O, int C, int k, int n, int m, RankMode mode,
                      double threshold, bool relative, RankEffect *effect);

#endif
