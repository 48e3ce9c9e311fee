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

void pgd_data_range(const Dataset *d, float *lo, float *hi)
{
    size_t n = (size_t)d->n * (size_t)d->d;
    float a = n ? d->x[0] : 0.0f, b = a;
    for (size_t i = 1; i < n; i++) {
        a = d->x[i] < a ? d->x[i] : a;
        b = d->x[i] > b ? d->x[i] : b;
    }
    *lo = a;
    *hi = b;
}

void pgd_random_start(const float *x, size_t n, const PgdConfig *c, RngStream *rng, float *start)
{
    for (size_t i = 0; i < n; i++) {
        float u = (float)(2.0 * rng_uniform(rng) - 1.0);
        start[i] = clampf(x[i] + c->eps * u, c->lo, c->hi);
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
        for (size_t i = 0; i < n; i++) {
            float s = grad[i] > 0.0f ? 1.0f : grad[i] < 0.0f ? -1.0f : 0.0f;
            float v = clampf(x_adv[i] + c->alpha * s, x[i] - c->eps, x[i] + c->eps);
            x_adv[i] = clampf(v, c->lo, c->hi);
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
    long correct = 0;
    for (int start = 0; start < n; start += bs) {
        int B = n - start < bs ? n - start : bs;
        const float *x = d->x + (size_t)start * (size_t)D;
        pgd_random_start(x, (size_t)B * (size_t)D, c, rng, adv);
        pgd_attack(net, x, d->y + start, B, c, adv, grad);
        nn_forward(net, adv, B, false);
        nn_loss(net, d->y + start, B, &correct, false);
    }
    free(adv);
    free(grad);
    return n > 0 ? (double)correct / (double)n : (double)NAN;
}
