/* metrics: singular-value statistics on matrices with known spectra, norms, hash. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/conv_spectrum.h"
#include "bpsweep/metrics.h"
#include "test_util.h"

/* A net whose single weight matrix (O = 3, I = 4) is U diag(s) V^T with rotations. */
static Net *net_with_spectrum(const double *s)
{
    NetConfig c = {0};
    c.n_in = 4;
    c.n_out = 3;
    Net *net = nn_new(&c, 1);
    double ca = cos(0.3), sa = sin(0.3), cb = cos(1.1), sb = sin(1.1);
    double U[3][3] = {{ca, -sa, 0}, {sa, ca, 0}, {0, 0, 1}};
    double V[4][4] = {{1, 0, 0, 0}, {0, cb, -sb, 0}, {0, sb, cb, 0}, {0, 0, 0, 1}};
    for (int o = 0; o < 3; o++)
        for (int i = 0; i < 4; i++) {
            double w = 0;
            for (int k = 0; k < 3; k++)
                w += U[o][k] * s[k] * V[i][k];
            net->params[net->layers[0].w + (size_t)(o * 4 + i)] = (float)w;
        }
    return net;
}

static void layer_stats_should_match_known_singular_values(void)
{
    const double s[3] = {3.0, 2.0, 0.5};
    Net *net = net_with_spectrum(s);
    LayerStats st;
    float sv[5];
    CHECK(metrics_layer_stats(net, &st, sv, 5) == 0);
    for (int k = 0; k < 3; k++)
        CHECK_MSG(fabs((double)sv[k] - s[k]) < 1e-6, "singular value %d: %.9g want %.9g", k,
                  (double)sv[k], s[k]);
    CHECK(isnan(sv[3]) && isnan(sv[4]));
    double fro = sqrt(9.0 + 4.0 + 0.25), eff = 5.5 / fro;
    CHECK_MSG(fabs(st.frobenius - fro) < 1e-6, "frobenius %.9g want %.9g", st.frobenius, fro);
    CHECK_MSG(fabs(st.spectral - 3.0) < 1e-6, "spectral %.9g want 3", st.spectral);
    CHECK_MSG(fabs(st.effective_rank - eff) < 1e-6, "effective rank %.9g want %.9g",
              st.effective_rank, eff);
    nn_free(net);
}

static void layer_stats_should_give_rank_one_for_rank_one_matrix(void)
{
    const double s[3] = {2.0, 0.0, 0.0};
    Net *net = net_with_spectrum(s);
    LayerStats st;
    CHECK(metrics_layer_stats(net, &st, NULL, 0) == 0);
    CHECK_MSG(fabs(st.effective_rank - 1.0) < 1e-6, "effective rank %.9g", st.effective_rank);
    nn_free(net);
}

static void norm_and_hash_should_cover_every_parameter(void)
{
    const double s[3] = {1.0, 1.0, 1.0};
    Net *net = net_with_spectrum(s);
    for (size_t i = 0; i < 3; i++)
        net->params[net->layers[0].b + i] = 2.0f;
    /* ||W||_F^2 = 3, biases add 3 * 4 */
    CHECK_MSG(fabs(metrics_param_norm(net) - sqrt(15.0)) < 1e-6, "norm %.9g",
              metrics_param_norm(net));
    uint64_t h = metrics_param_hash(net);
    CHECK(h == metrics_param_hash(net));
    net->params[net->n_params - 1] = nextafterf(2.0f, 3.0f); /* one ulp in the last bias */
    CHECK(h != metrics_param_hash(net));
    nn_free(net);
}

/* A convolution layer's statistics and spectrum row are those of its operator on the
 * op's input: the circular FFT spectrum when the stride divides the input, else the
 * exact zero-padded operator; dense layers keep min(O, I) values. */
static void conv_layers_should_use_their_operator_spectrum(void)
{
    const int strides[2] = {1, 2}; /* 2 does not divide 5: the dense path */
    for (int t = 0; t < 2; t++) {
        NetConfig c = {0};
        c.n_in = 2 * 5 * 6, c.in_shape = (Shape){2, 5, 6}, c.n_out = 2, c.n_ops = 2;
        c.ops[0] = (OpDesc){.kind = OP_CONV, .in = {0, -1}, .out = 1, .units = 3, .kernel = 3,
                            .stride = strides[t], .pad = 1};
        c.ops[1] = (OpDesc){.kind = OP_DENSE, .in = {1, -1}, .out = 2, .units = 2};
        char msg[128];
        int bad;
        CHECK_MSG(nn_check(&c, msg, sizeof msg, &bad) == 0, "%s", msg);
        Net *net = nn_new(&c, 1);
        nn_init_params(net, 7);
        const Op *op = &net->ops[0];
        size_t n = strides[t] == 1 ? conv_spectrum_count(3, 2, 1, 5, 6)
                                   : (size_t)(shape_size(op->out_shape) < 60 ? shape_size(op->out_shape) : 60);
        double s[60];
        BpsErr err;
        size_t got = n;
        int rc = strides[t] == 1
                     ? conv_spectrum_values(net->params, 3, 2, 3, 1, 5, 6, s, &err)
                     : conv_spectrum_dense(net->params, 3, 2, 3, 2, 1, 5, 6, s, &got, &err);
        CHECK(rc == 0 && got == n);
        LayerStats ref, ls[2];
        metrics_spectrum_stats(s, n, &ref);
        int R = metrics_max_rank(&c);
        CHECK_MSG(R == (int)n, "row length %d, want %zu", R, n);
        float *row = malloc(2 * (size_t)R * sizeof *row);
        CHECK(metrics_layer_stats(net, ls, row, R) == 0);
        CHECK(ls[0].spectral == ref.spectral && ls[0].frobenius == ref.frobenius &&
              ls[0].effective_rank == ref.effective_rank);
        CHECK(row[0] == (float)s[0] && row[R - 1] == (float)s[n - 1]);
        CHECK(isnan(row[R + 2]) && !isnan(row[R + 1])); /* the dense layer: min(2, 3 H W) */
        free(row);
        nn_free(net);
    }
}

int main(void)
{
    RUN(layer_stats_should_match_known_singular_values);
    RUN(layer_stats_should_give_rank_one_for_rank_one_matrix);
    RUN(norm_and_hash_should_cover_every_parameter);
    RUN(conv_layers_should_use_their_operator_spectrum);
    return test_summary();
}
