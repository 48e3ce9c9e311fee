/* metrics: singular-value statistics on matrices with known spectra, norms, hash. */
#include <math.h>
#include <string.h>

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

int main(void)
{
    RUN(layer_stats_should_match_known_singular_values);
    RUN(layer_stats_should_give_rank_one_for_rank_one_matrix);
    RUN(norm_and_hash_should_cover_every_parameter);
    return test_summary();
}
