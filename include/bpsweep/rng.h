/* rng: counter-based random streams.
 *
 * A stream is a 64-bit key and a 64-bit counter. Draw i of a stream is a pure
 * function of (key, i): SplitMix64's finaliser applied to key + i * golden gamma.
 * Nothing depends on what was drawn before, so a stream is saved and restored by
 * its counter alone, and any draw can be recomputed.
 *
 * Keys are derived with rng_key(seed, shape, purpose, index): the seed of the grid
 * point, the network's layer shapes (n_in, hidden widths, n_out), what the draws
 * are for, and a sub-index (the layer). Regularisation, training condition,
 * activation and initialisation constants are deliberately not part of the key, so
 * points that differ only in those start from the same draws (paired comparisons). */
#ifndef BPSWEEP_RNG_H
#define BPSWEEP_RNG_H

#include <stdint.h>

typedef enum {
    RNG_INIT_WEIGHT = 1, /* weight matrix of layer `index` */
    RNG_INIT_BIAS = 2,   /* bias vector of layer `index` */
    RNG_SHUFFLE = 3,     /* epoch permutations */
    RNG_DATA = 4,        /* synthetic data sets */
    RNG_ADVERSARIAL = 5, /* random starts of adversarial attacks */
    RNG_HESSIAN = 6,     /* start vectors of Hessian eigenvalue iterations */
    RNG_AUGMENT = 7,     /* crop offsets and flips: index = epoch, 4 draws per sample */
} RngPurpose;

typedef struct {
    uint64_t key;
    uint64_t counter; /* number of 64-bit draws taken so far */
} RngStream;

/* Key from a seed, a shape vector (dims[0..n_dims-1]), a purpose and an index. */
uint64_t rng_key(uint64_t seed, const int *dims, int n_dims, RngPurpose purpose, int index);

RngStream rng_stream(uint64_t key);

uint64_t rng_next_u64(RngStream *s);
/* Uniform in [0, 1) with 53 random bits. */
double rng_uniform(RngStream *s);
/* Standard normal (Box-Muller; two uniforms per draw, no cached state). */
double rng_normal(RngStream *s);
/* Uniform integer in [0, n) without modulo bias. */
uint64_t rng_below(RngStream *s, uint64_t n);

#endif
