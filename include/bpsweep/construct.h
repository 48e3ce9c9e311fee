/* construct: the constructed linear minimum of claim 1 (init.construct, nn.h
 * ConstructConfig). Numerics only.
 *
 * Stage 1 fits the linear softmax classifier x -> A x + a0 (K x D and K) to the training
 * set, weight decay 0, in double precision from 0, deterministic and full-batch (method
 * "auto": by Newton's method with a backtracking (Armijo) line search when its Hessian
 * has at most 2048 rows ((K-1)(D+1); quadratic convergence: a gradient norm of 1e-12 in about 15
 * iterations on 50 features), else by L-BFGS (memory 10, the same line search), far
 * faster than gradient descent on this badly conditioned problem but only linearly
 * convergent; "newton" and "lbfgs" choose). It stops when the full-batch gradient norm is below the tolerance or
 * after max_iterations (each a Newton or L-BFGS step).
 *
 * Stage 2 writes a ReLU MLP (hidden widths h_l >= D, no skip, no batch norm) computing the
 * same logits: with offset o (every input x_j > -o),
 *   layer 1:   W = [I_D; 0], bias o for every unit    -> h_1 = (x + o, o, ..., o) > 0
 *   layer l>1: W = [I_D 0; 0 0], bias 0 for the first D units, o for the others
 *   output:    W = [A 0], bias a0 - o A 1
 * so every unit is strictly active on every input and logits = A x + a0 up to float
 * rounding. o is rounded to a float first (the units holding it are then exact), and
 * with two spare units in the last hidden layer the large constant a0 - o A 1 is carried
 * by their weights as a float and its float remainder (output bias: a0 rounded), which
 * took the gradient of the built 3-hidden-layer net on Fashion-MNIST's components from
 * 2.2e-4 to 1.3e-5. A net without hidden layers is the linear model itself. */
#ifndef BPSWEEP_CONSTRUCT_H
#define BPSWEEP_CONSTRUCT_H

#include <stdbool.h>
#include <stddef.h>

#include "bpsweep/data.h"
#include "bpsweep/nn.h"

typedef struct {
    double grad_norm;   /* the linear fit's final full-batch gradient norm */
    int iterations;     /* Newton or L-BFGS iterations run */
    double offset;      /* the first hidden bias used */
    double logit_diff;  /* max |net logits - linear logits| over train and test inputs */
} ConstructResult;

/* "auto" uses Newton when its Hessian has at most this many rows (32 MiB of doubles) */
#define CONSTRUCT_NEWTON_MAX_ROWS 2048

/* Whether cfg's construction fits by Newton's method (else L-BFGS). */
bool construct_uses_newton(const NetConfig *cfg);

/* The linear fit (stage 1) between iterations: iterate, gradient and, for L-BFGS, its
 * memory - all a checkpoint needs to continue bit-identically. */
typedef struct ConstructFit ConstructFit;

/* A fit from 0 for cfg's data shape (n_in, n_out) and construct settings. */
ConstructFit *construct_fit_new(const NetConfig *cfg);
void construct_fit_free(ConstructFit *cf); /* accepts NULL */

/* Runs the fit on train until done (returns 0), or until should_stop (may be NULL),
 * asked after every iteration, returns true (returns 2; call again to go on). */
int construct_fit_run(ConstructFit *cf, const Dataset *train, bool (*should_stop)(void *),
                      void *ctx);

/* The fit's state as bytes: construct_fit_state_size of them, the same for every fit
 * of the same configuration. */
size_t construct_fit_state_size(const ConstructFit *cf);
void construct_fit_save(const ConstructFit *cf, void *buf);
void construct_fit_load(ConstructFit *cf, const void *buf);

/* Stage 2: writes net's parameters from the finished fit (net->cfg a plain MLP with
 * hidden widths >= D, the fit's shape); test (may be NULL) only for the offset and
 * logit_diff. */
void construct_embed(Net *net, const ConstructFit *cf, const Dataset *train,
                     const Dataset *test, ConstructResult *out);

#endif
