/* pgd: projected gradient descent attacks under the L-infinity norm (Madry et al.), for
 * robust accuracy and adversarial training. Numerics only.
 *
 * From a start x_0 (usually x + U(-eps, eps) clamped to the data range):
 *     x_{k+1} = clamp( clamp(x_k + alpha * sign(grad_x L(x_k)), x - eps, x + eps), lo, hi )
 * with L the mean cross-entropy of the batch, the net in evaluation mode (batch norm with
 * its running statistics, which the attack never updates), and sign(0) = 0. The data
 * range [lo, hi] is one for every input, or one per channel for data normalised per
 * channel (each channel's pixel range maps to its own interval); eps and alpha are then
 * per channel too, the same fraction of each channel's range. */
#ifndef BPSWEEP_PGD_H
#define BPSWEEP_PGD_H

#include <stdint.h>

#include "bpsweep/data.h"
#include "bpsweep/nn.h"
#include "bpsweep/rng.h"

#define PGD_MAX_CHANNELS 256

typedef struct PgdConfig {
    int steps;
    int channels;  /* 1: one range for every input; C: one per channel */
    int plane;     /* values of one channel in a sample (H W); with one channel, 0 */
    /* per channel: radius, step size and the data range, in input units */
    float eps[PGD_MAX_CHANNELS], alpha[PGD_MAX_CHANNELS];
    float lo[PGD_MAX_CHANNELS], hi[PGD_MAX_CHANNELS];
} PgdConfig;

/* The attack on inputs like d's: radius eps_frac x (hi - lo) and step step_ratio x that
 * radius, with [lo, hi] the smallest and largest input value of d - of each channel if d
 * was normalised per channel (and has at most PGD_MAX_CHANNELS channels), else of all. */
PgdConfig pgd_config(const Dataset *d, double eps_frac, double step_ratio, int steps);

/* One range [lo, hi] for every input, radius eps and step alpha in input units. */
PgdConfig pgd_config_uniform(float eps, float alpha, int steps, float lo, float hi);

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
