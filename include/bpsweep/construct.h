/* construct: the constructed linear minimum of claim 1 (init.construct, nn.h
 * ConstructConfig). Numerics only.
 *
 * Stage 1 fits the linear softmax classifier x -> A x + a0 (K x D and K) to the training
 * set, weight decay 0, by L-BFGS in double precision (memory 10, backtracking Armijo line
 * search, start at 0): deterministic, full-batch, and far faster than gradient descent on
 * this badly conditioned problem. It stops when the full-batch gradient norm is below the
 * tolerance or after max_iterations.
 *
 * Stage 2 writes a ReLU MLP (hidden widths h_l >= D, no skip, no batch norm) computing the
 * same logits: with offset o (every input x_j > -o),
 *   layer 1:   W = [I_D; 0], bias o for every unit    -> h_1 = (x + o, o, ..., o) > 0
 *   layer l>1: W = [I_D 0; 0 0], bias 0 for the first D units, o for the others
 *   output:    W = [A 0], bias a0 - o A 1
 * so every unit is strictly active on every input and logits = A x + a0 up to float
 * rounding. A net without hidden layers is the linear model itself. */
#ifndef BPSWEEP_CONSTRUCT_H
#define BPSWEEP_CONSTRUCT_H

#include "bpsweep/data.h"
#include "bpsweep/nn.h"

typedef struct {
    double grad_norm;   /* the linear fit's final full-batch gradient norm */
    int iterations;     /* L-BFGS iterations run */
    double offset;      /* the first hidden bias used */
    double logit_diff;  /* max |net logits - linear logits| over train and test inputs */
} ConstructResult;

/* Builds net's parameters from the linear fit to train (test: only for the offset and
 * logit_diff; may be NULL). net->cfg must be a plain MLP with hidden widths >= D. */
void construct_linear(Net *net, const Dataset *train, const Dataset *test, ConstructResult *out);

#endif
