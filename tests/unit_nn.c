/* nn: gradients against central finite differences of an independent double-precision
 * reference forward pass (naive loops), on tiny shapes, for every layer option. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/nn.h"
#include "bpsweep/rng.h"
#include "test_util.h"

enum { D = 5, K = 3, B = 6 };

/* Reference: mean softmax cross-entropy of the net given double parameters p laid out
 * like Net.params, in training mode (batch statistics) or eval mode (running stats
 * from rbuf). Independent of nn.c: plain loops, double throughout. */
static double ref_loss(const Net *net, const double *p, const double *rbuf, const float *x,
                       const uint8_t *y, int n, bool train)
{
    double act[64][64], nxt[64][64];
    int width = net->cfg.n_in;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < width; j++)
            act[i][j] = (double)x[i * width + j];
    for (int l = 0; l < net->n_layers; l++) {
        const NnLayer *ly = &net->layers[l];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < ly->out; o++) {
                double s = p[ly->b + (size_t)o];
                for (int k = 0; k < ly->in; k++)
                    s += act[i][k] * p[ly->w + (size_t)o * (size_t)ly->in + (size_t)k];
                nxt[i][o] = s;
            }
        if (ly->bn) {
            for (int o = 0; o < ly->out; o++) {
                double mean = 0, var = 0;
                if (train) {
                    for (int i = 0; i < n; i++)
                        mean += nxt[i][o];
                    mean /= n;
                    for (int i = 0; i < n; i++)
                        var += (nxt[i][o] - mean) * (nxt[i][o] - mean);
                    var /= n;
                } else {
                    mean = rbuf[ly->rmean + (size_t)o];
                    var = rbuf[ly->rvar + (size_t)o];
                }
                for (int i = 0; i < n; i++)
                    nxt[i][o] = p[ly->gamma + (size_t)o] * (nxt[i][o] - mean) /
                                    sqrt(var + (double)BN_EPS) +
                                p[ly->beta + (size_t)o];
            }
        }
        /* the MLP shorthand: hidden layers have the activation and, where I == O, the skip */
        bool hidden = l < net->n_layers - 1;
        bool relu = hidden && net->cfg.act == ACT_RELU;
        bool skip = hidden && net->cfg.skip && ly->in == ly->out;
        for (int i = 0; i < n; i++)
            for (int o = 0; o < ly->out; o++) {
                double a = relu && nxt[i][o] < 0 ? 0.0 : nxt[i][o];
                nxt[i][o] = skip ? a + act[i][o] : a;
            }
        memcpy(act, nxt, sizeof act);
    }
    double loss = 0;
    for (int i = 0; i < n; i++) {
        double m = act[i][0], s = 0;
        for (int k = 1; k < K; k++)
            m = fmax(m, act[i][k]);
        for (int k = 0; k < K; k++)
            s += exp(act[i][k] - m);
        loss += -(act[i][y[i]] - m - log(s));
    }
    return loss / n;
}

static void make_batch(float *x, uint8_t *y, uint64_t seed)
{
    RngStream r = rng_stream(seed);
    for (int i = 0; i < B * D; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < B; i++)
        y[i] = (uint8_t)(i % K);
}

/* Analytic float gradients vs central differences (h = 1e-6) of the double reference. */
static void check_gradients(const char *name, NetConfig cfg)
{
    cfg.n_in = D;
    cfg.n_out = K;
    Net *net = nn_new(&cfg, B);
    nn_init_params(net, 42);
    if (cfg.batch_norm) /* non-trivial gamma and beta */
        for (int l = 0; l < net->n_layers; l++)
            if (net->layers[l].bn)
                for (int j = 0; j < net->layers[l].out; j++) {
                    net->params[net->layers[l].gamma + (size_t)j] = 0.5f + 0.25f * (float)j;
                    net->params[net->layers[l].beta + (size_t)j] = 0.1f * (float)j - 0.2f;
                }
    float x[B * D];
    uint8_t y[B];
    make_batch(x, y, 7);

    size_t P = net->n_params;
    double *p = calloc(P, sizeof *p), *fd = calloc(P, sizeof *fd);
    for (size_t i = 0; i < P; i++)
        p[i] = (double)net->params[i];
    nn_forward(net, x, B, true);
    double loss = nn_loss(net, y, B, NULL, true);
    nn_backward(net, x, B, NULL, NULL);
    double ref = ref_loss(net, p, NULL, x, y, B, true);
    CHECK_MSG(fabs(loss - ref) <= 1e-5 * fabs(ref), "%s: loss %.9g vs reference %.9g", name,
              loss, ref);
    const double h = 1e-6;
    for (size_t i = 0; i < P; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = ref_loss(net, p, NULL, x, y, B, true);
        p[i] = keep - h;
        double lm = ref_loss(net, p, NULL, x, y, B, true);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * h);
    }
    char what[128];
    snprintf(what, sizeof what, "%s gradient", name);
    test_allclose(what, net->grads, fd, (long)P, 1e-5, 1e-3);
    free(p);
    free(fd);
    nn_free(net);
}

static NetConfig base_config(void)
{
    NetConfig c = {0};
    c.n_hidden = 2;
    c.hidden[0] = 4;
    c.hidden[1] = 4;
    c.act = ACT_RELU;
    return c;
}

static void gradient_should_match_finite_differences_plain(void)
{
    check_gradients("plain relu", base_config());
}

static void gradient_should_match_finite_differences_identity(void)
{
    NetConfig c = base_config();
    c.act = ACT_IDENTITY;
    check_gradients("identity", c);
}

static void gradient_should_match_finite_differences_skip(void)
{
    NetConfig c = base_config();
    c.skip = true;
    check_gradients("skip", c);
    c.act = ACT_IDENTITY;
    check_gradients("skip identity", c);
}

static void gradient_should_match_finite_differences_batch_norm(void)
{
    NetConfig c = base_config();
    c.batch_norm = true;
    check_gradients("batch norm", c);
    c.skip = true;
    check_gradients("batch norm skip", c);
    c.act = ACT_IDENTITY;
    check_gradients("batch norm skip identity", c);
}

static void gradient_should_match_finite_differences_deep_and_linear_softmax(void)
{
    NetConfig c = base_config();
    c.n_hidden = 3;
    c.hidden[2] = 3;
    c.w_init = WINIT_HE_NORMAL;
    c.b_init = BINIT_UNIFORM;
    c.b_value = 0.5;
    check_gradients("three hidden, he normal", c);
    NetConfig lin = {0};
    check_gradients("linear softmax", lin);
}

static void eval_mode_should_use_running_statistics(void)
{
    NetConfig c = base_config();
    c.batch_norm = true;
    c.skip = true;
    c.n_in = D;
    c.n_out = K;
    Net *net = nn_new(&c, B);
    nn_init_params(net, 3);
    float x[B * D];
    uint8_t y[B];
    make_batch(x, y, 11);
    /* running stats after one training pass: 0.9 * (0, 1) + 0.1 * (mean, unbiased var) */
    nn_forward(net, x, B, true);
    const NnLayer *ly = &net->layers[0];
    const float *z = net->work->act[net->ops[ly->op].d.out]; /* the dense output */
    for (int o = 0; o < ly->out; o++) {
        double mean = 0, var = 0;
        for (int i = 0; i < B; i++)
            mean += (double)z[i * ly->out + o];
        mean /= B;
        for (int i = 0; i < B; i++)
            var += ((double)z[i * ly->out + o] - mean) * ((double)z[i * ly->out + o] - mean);
        var /= B - 1;
        double rm = (double)net->buffers[ly->rmean + (size_t)o];
        double rv = (double)net->buffers[ly->rvar + (size_t)o];
        CHECK_MSG(fabs(rm - 0.1 * mean) < 1e-6, "running mean %g want %g", rm, 0.1 * mean);
        CHECK_MSG(fabs(rv - (0.9 + 0.1 * var)) < 1e-5, "running var %g want %g", rv,
                  0.9 + 0.1 * var);
    }
    size_t P = net->n_params;
    double *p = malloc(P * sizeof *p), *rb = malloc(net->n_buffers * sizeof *rb);
    for (size_t i = 0; i < P; i++)
        p[i] = (double)net->params[i];
    for (size_t i = 0; i < net->n_buffers; i++)
        rb[i] = (double)net->buffers[i];
    nn_forward(net, x, B, false);
    double loss = nn_loss(net, y, B, NULL, false);
    double ref = ref_loss(net, p, rb, x, y, B, false);
    CHECK_MSG(fabs(loss - ref) <= 1e-5 * fabs(ref), "eval loss %.9g vs %.9g", loss, ref);
    free(p);
    free(rb);
    nn_free(net);
}

static void init_should_follow_config_and_be_paired(void)
{
    NetConfig c = base_config();
    c.n_in = D;
    c.n_out = K;
    c.b_init = BINIT_CONSTANT;
    c.b_value = 20;
    Net *a = nn_new(&c, B);
    nn_init_params(a, 5);
    c.b_init = BINIT_TORCH;
    c.act = ACT_IDENTITY;
    Net *b = nn_new(&c, B);
    nn_init_params(b, 5);
    /* same seed and shapes: identical weights whatever the bias scheme or activation */
    for (int l = 0; l < a->n_layers; l++) {
        const NnLayer *ly = &a->layers[l];
        CHECK(memcmp(a->params + ly->w, b->params + ly->w,
                     (size_t)ly->in * (size_t)ly->out * sizeof(float)) == 0);
        double bound = 1.0 / sqrt((double)ly->in);
        for (int j = 0; j < ly->out; j++) {
            CHECK(a->params[ly->b + (size_t)j] == 20.0f);
            CHECK(fabs((double)b->params[ly->b + (size_t)j]) <= bound);
        }
        for (size_t i = 0; i < (size_t)ly->in * (size_t)ly->out; i++)
            CHECK(fabs((double)a->params[ly->w + i]) <= bound);
    }
    nn_init_params(b, 6);
    CHECK(memcmp(a->params, b->params, a->layers[0].out * sizeof(float)) != 0);
    nn_free(a);
    nn_free(b);
}

/* init: bias_offset adds to the drawn biases (the same draws); parameters zero / equal
 * set every parameter, batch norm's included; identity weights copy the input. */
static void init_options_should_follow_their_definitions(void)
{
    NetConfig c = base_config();
    c.n_in = D;
    c.n_out = K;
    c.batch_norm = true;
    Net *a = nn_new(&c, B);
    nn_init_params(a, 7);
    c.b_offset = 20;
    Net *b = nn_new(&c, B);
    nn_init_params(b, 7);
    for (int l = 0; l < a->n_layers; l++) {
        const NnLayer *ly = &a->layers[l];
        size_t nw = (size_t)ly->in * (size_t)ly->out;
        CHECK(memcmp(a->params + ly->w, b->params + ly->w, nw * sizeof(float)) == 0);
        for (int j = 0; j < ly->out; j++) {
            CHECK(b->params[ly->b + (size_t)j] == a->params[ly->b + (size_t)j] + 20.0f);
            if (ly->bn) {
                CHECK(b->params[ly->gamma + (size_t)j] == 1.0f);
                CHECK(b->params[ly->beta + (size_t)j] == 20.0f);
            }
        }
    }
    c.b_offset = 0;
    c.p_init = PINIT_EQUAL;
    c.p_value = 0.001;
    Net *e = nn_new(&c, B);
    nn_init_params(e, 7);
    for (size_t k = 0; k < e->n_params; k++)
        CHECK(e->params[k] == 0.001f);
    nn_free(e);
    c.p_init = PINIT_ZERO;
    Net *z = nn_new(&c, B);
    nn_init_params(z, 7);
    for (size_t k = 0; k < z->n_params; k++)
        CHECK(z->params[k] == 0.0f);
    nn_free(a);
    nn_free(b);
    nn_free(z);

    NetConfig id = {0};
    id.n_in = 3;
    id.n_out = 2;
    id.n_hidden = 2;
    id.hidden[0] = 3;
    id.hidden[1] = 5;
    id.w_init = WINIT_IDENTITY;
    Net *n = nn_new(&id, B);
    nn_init_params(n, 1);
    for (int l = 0; l < 2; l++) { /* hidden: [I; 0] */
        const NnLayer *ly = &n->layers[l];
        for (int i = 0; i < ly->out; i++)
            for (int j = 0; j < ly->in; j++)
                CHECK(n->params[ly->w + (size_t)i * (size_t)ly->in + (size_t)j] == (i == j));
    }
    const NnLayer *out = &n->layers[2]; /* 5 -> 2, narrower: PyTorch's default */
    double bound = 1.0 / sqrt(5.0);
    bool any = false;
    for (size_t i = 0; i < 10; i++) {
        float v = n->params[out->w + i];
        CHECK(fabs((double)v) <= bound);
        any |= v != 0.0f && v != 1.0f;
    }
    CHECK(any);
    nn_free(n);
}

int main(void)
{
    RUN(gradient_should_match_finite_differences_plain);
    RUN(gradient_should_match_finite_differences_identity);
    RUN(gradient_should_match_finite_differences_skip);
    RUN(gradient_should_match_finite_differences_batch_norm);
    RUN(gradient_should_match_finite_differences_deep_and_linear_softmax);
    RUN(eval_mode_should_use_running_statistics);
    RUN(init_should_follow_config_and_be_paired);
    RUN(init_options_should_follow_their_definitions);
    return test_summary();
}
