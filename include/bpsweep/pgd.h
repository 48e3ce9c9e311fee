/* pgd: projected gradient descent attacks under the L-infinity norm (Madry et al.), for
 * robust accuracy and adversarial training. Numerics only.
 *
 * From a start x_0 (usually x + U(-eps, eps) clamped to the data range):
 *     x_{k+1} = clamp( clamp(x_k + alpha * sign(grad_x L(x_k)), x - eps, x + eps), lo, hi )
 * with L the mean cross-entropy of the batch, the net in evaluation mode (batch norm with
 * its running statistics, which the attack never updates), and sign(0) = 0. */
#ifndef BPSWEEP_PGD_H
#define BPSWEEP_PGD_H

#include <stdint.h>

#include "bpsweep/data.h"
#include "bpsweep/nn.h"
#include "bpsweep/rng.h"

typedef struct {
    float eps, alpha;  /* radius and step size, in input units */
    int steps;
    float lo, hi;      /* the data range: every input is clamped to it */
} PgdConfig;

/* The smallest and largest input value of a data set. */
void pgd_data_range(const Dataset *d, float *lo, float *hi);

/* start = clamp(x + U(-eps, eps), lo, hi) for n values, uniforms drawn from rng. */
void pgd_random_start(const float *x, size_t n, const PgdConfig *c, RngStream *rng, float *start);

/* Runs c->steps steps on the batch x (B,D) with labels y, B <= net->max_batch; x_adv holds
 * the start on entry and the adversarial examples on return. grad is work space (B,D).
 * The net's caches and dlogits are overwritten; its parameters and gradients are not. */
void pgd_attack(Net *net, const float *x, const uint8_t *y, int B, const PgdConfig *c,
                float *x_adv, float *grad);

/* Accuracy on the first n samples of d under the attack, random starts from rng. */
double pgd_accuracy(Net *net, const Dataset *d, int n, const PgdConfig *c, RngStream *rng);

#endif
