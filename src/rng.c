/* rng: counter-based random streams (SplitMix64 finaliser over key + counter). */
#include "bpsweep/rng.h"

#include <math.h>

#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

uint64_t rng_key(uint64_t seed, const int *dims, int n_dims, RngPurpose purpose, int index)
{
    uint64_t k = mix64(seed + GOLDEN);
    for (int i = 0; i < n_dims; i++)
        k = mix64(k ^ ((uint64_t)(uint32_t)dims[i] + GOLDEN * (uint64_t)(i + 1)));
    k = mix64(k ^ ((uint64_t)purpose << 32));
    k = mix64(k ^ (uint64_t)(uint32_t)index);
    return k;
}

RngStream rng_stream(uint64_t key)
{
    RngStream s = {key, 0};
    return s;
}

uint64_t rng_next_u64(RngStream *s)
{
    uint64_t z = s->key + GOLDEN * (s->counter + 1);
    s->counter++;
    return mix64(z);
}

double rng_uniform(RngStream *s)
{
    return (double)(rng_next_u64(s) >> 11) * 0x1.0p-53;
}

double rng_normal(RngStream *s)
{
    double u1 = rng_uniform(s), u2 = rng_uniform(s);
    /* 1 - u1 is in (0, 1]: log never sees 0 */
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

uint64_t rng_below(RngStream *s, uint64_t n)
{
    /* rejection sampling: accept values below the largest multiple of n */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t r = rng_next_u64(s);
        if (r < limit)
            return r % n;
    }
}
