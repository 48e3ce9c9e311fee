/* pgd: L-infinity PGD attacks (see pgd.h). */
#include "bpsweep/pgd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/util.h"

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

PgdConfig pgd_config_uniform(float eps, float alpha, int steps, float lo, float hi)
{
    PgdConfig c = {.steps = steps, .channels = 1, .plane = 0};
    c.eps[0] = eps, c.alpha[0] = alpha, c.lo[0] = lo, c.hi[0] = hi;
    return c;
}

PgdConfig pgd_config(const Dataset *d, double eps_frac, double step_ratio, int steps)
{
    PgdConfig c = {.steps = steps, .channels = 1, .plane = 0};
    if (d->norm == NORM_PER_CHANNEL && d->c > 1 && d->c <= PGD_MAX_CHANNELS &&
        d->d % d->c == 0) {
        c.channels = d->c;
        c.plane = d->d / d->c;
    }
    for (int ch = 0; ch < c.channels; ch++) {
        if (c.channels == 1)
            dataset_min_max(d, 0, d->d, &c.lo[0], &c.hi[0]);
        else
            dataset_min_max(d, ch * c.plane, c.plane, &c.lo[ch], &c.hi[ch]);
        c.eps[ch] = (float)(eps_frac * (double)(c.hi[ch] - c.lo[ch]));
        c.alpha[ch] = (float)(step_ratio * (double)c.eps[ch]);
    }
    return c;
}

/* The runs of n values (samples of D = channels x plane values each) that share a
 * channel: [i0, i0 + len) in channel ch. */
#define FOR_CHANNEL_RUNS(c, n, i0, len, ch)                                                  \
    for (size_t i0 = 0, len = (c)->channels == 1 ? (n) : (size_t)(c)->plane, ch = 0; i0 < (n); \
         i0 += len, ch = (c)->channels == 1 ? 0 : (i0 / len) % (size_t)(c)->channels)

void pgd_random_start(const float *x, size_t n, const PgdConfig *c, RngStream *rng, float *start)
{
    FOR_CHANNEL_RUNS(c, n, i0, len, ch) {
        const float eps = c->eps[ch], lo = c->lo[ch], hi = c->hi[ch];
        for (size_t i = i0; i < i0 + len; i++) {
            float u = (float)(2.0 * rng_uniform(rng) - 1.0);
            start[i] = clampf(x[i] + eps * u, lo, hi);
        }
    }
}

void pgd_attack(Net *net, const float *x, const uint8_t *y, int B, const PgdConfig *c,
                float *x_adv, float *grad)
{
    const size_t n = (size_t)B * (size_t)net->cfg.n_in;
    for (int k = 0; k < c->steps; k++) {
        nn_forward(net, x_adv, B, false);
        nn_loss(net, y, B, NULL, true);
        nn_input_grad(net, B, grad);
        FOR_CHANNEL_RUNS(c, n, i0, len, ch) {
            const float eps = c->eps[ch], alpha = c->alpha[ch], lo = c->lo[ch], hi = c->hi[ch];
            for (size_t i = i0; i < i0 + len; i++) {
                float s = grad[i] > 0.0f ? 1.0f : grad[i] < 0.0f ? -1.0f : 0.0f;
                float v = clampf(x_adv[i] + alpha * s, x[i] - eps, x[i] + eps);
                x_adv[i] = clampf(v, lo, hi);
            }
        }
    }
}

double pgd_accuracy(Net *net, const Dataset *d, int n, const PgdConfig *c, RngStream *rng)
{
    if (n > d->n)
        n = d->n;
    const int D = d->d, bs = net->max_batch;
    float *adv = xmalloc((size_t)bs * (size_t)D * sizeof *adv);
    float *grad = xmalloc((size_t)bs * (size_t)D * sizeof *grad);
    float *xbuf = d->x ? NULL : xmalloc((size_t)bs * (size_t)D * sizeof *xbuf);
    long correct = 0;
    for (int start = 0; start < n; start += bs) {
        int B = n - start < bs ? n - start : bs;
        const float *x = dataset_rows(d, start, B, xbuf);
        pgd_random_start(x, (size_t)B * (size_t)D, c, rng, adv);
        pgd_attack(net, x, d->y + start, B, c, adv, grad);
        nn_forward(net, adv, B, false);
        nn_loss(net, d->y + start, B, &correct, false);
    }
    free(adv);
    free(grad);
    free(xbuf);
    return n > 0 ? (double)correct / (double)n : (double)NAN;
}
