/* rank: projections that edit the singular values of a net's weight matrices (the
 * paper's RankMin / RankMax, claim 4). Numerics only: LAPACK SVD in double. */
#ifndef BPSWEEP_RANK_H
#define BPSWEEP_RANK_H

#include <stdbool.h>

#include "bpsweep/nn.h"

typedef enum {
    RANK_OFF = 0,
    RANK_MIN,  /* zero every singular value below the threshold: lower rank */
    RANK_MAX,  /* cap every singular value at the threshold: a flatter spectrum */
} RankMode;

/* Every dense layer's W except the first: W = U diag(sigma) V^T (LAPACKE_dgesdd),
 * sigma edited by mode with threshold t (times the layer's largest sigma if relative),
 * W rebuilt as U diag(sigma') V^T and rounded to float. Biases and batch-norm
 * parameters are untouched, and so is the optimizer's momentum. Returns 0, or -1 if an
 * SVD failed to converge (that layer is left as it was). */
int rank_project(Net *net, RankMode mode, double threshold, bool relative);

#endif
