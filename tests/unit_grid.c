/* unit_grid: size, stable index order, index <-> point round trip, keys, and the
 * per-point network and training settings of a sweep grid. */
#include "bpsweep/grid.h"

#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* 2 architectures x 2 conditions x 2 norm-bias targets x 3 weight decays x 2 seeds */
static const char *SPEC_TEXT =
    "{\"architectures\": ["
    "  {\"name\": \"mlp\", \"hidden\": [16, 16]},"
    "  {\"name\": \"wide\", \"hidden\": [\"2w\"], \"widths\": [8], \"batch_norm\": true}],"
    " \"grid\": {\"weight_decay\": [0, 5e-4, 1e-5], \"seed\": [7, 3],"
    "  \"norm_bias\": {\"targets\": [0, 0.5], \"relative\": true},"
    "  \"conditions\": [{\"name\": \"plain\"},"
    "                  {\"name\": \"fast\", \"train\": {\"lr\": 0.1, \"epochs\": 0}}]},"
    " \"train\": {\"epochs\": 3, \"batch_size\": 32, \"lr\": 0.05}}";

/* The same sweep with every axis listed in another order. */
static const char *SPEC_SHUFFLED =
    "{\"architectures\": ["
    "  {\"name\": \"wide\", \"hidden\": [\"2w\"], \"widths\": [8], \"batch_norm\": true},"
    "  {\"name\": \"mlp\", \"hidden\": [16, 16]}],"
    " \"grid\": {\"weight_decay\": [1e-5, 0, 5e-4], \"seed\": [3, 7],"
    "  \"norm_bias\": {\"targets\": [0.5, 0], \"relative\": true},"
    "  \"conditions\": [{\"name\": \"fast\", \"train\": {\"lr\": 0.1, \"epochs\": 0}},"
    "                  {\"name\": \"plain\"}]},"
    " \"train\": {\"epochs\": 3, \"batch_size\": 32, \"lr\": 0.05}}";

static Spec *load(const char *text)
{
    Spec *s = NULL;
    BpsErr err;
    int rc = spec_parse(text, "grid.json", &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return s;
}

static void grid_size_should_be_product_of_axes(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    CHECK(grid_size(s) == 2 * 2 * 2 * 3 * 2);
    spec_free(s);
}

static void grid_index_should_follow_documented_order(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    int64_t want = 0;
    for (int a = 0; a < s->n_arch; a++)
        for (int c = 0; c < s->n_cond; c++)
            for (int nb = 0; nb < s->n_nb; nb++)
                for (int wd = 0; wd < s->n_wd; wd++)
                    for (int seed = 0; seed < s->n_seed; seed++, want++) {
                        GridPoint p = {.arch = a, .cond = c, .nb = nb, .wd = wd, .seed = seed};
                        CHECK_MSG(grid_index(s, p) == want, "point (%d,%d,%d,%d,%d): %lld",
                                  a, c, nb, wd, seed, (long long)grid_index(s, p));
                    }
    CHECK(want == grid_size(s));
    GridPoint p = grid_point(s, 1);
    CHECK(p.seed == 1 && p.wd == 0 && p.nb == 0 && p.cond == 0 && p.arch == 0);
    p = grid_point(s, 2);
    CHECK(p.seed == 0 && p.wd == 1);
    p = grid_point(s, grid_size(s) - 1);
    CHECK(p.arch == 1 && p.cond == 1 && p.nb == 1 && p.wd == 2 && p.seed == 1);
    spec_free(s);
}

static void grid_point_should_round_trip_every_index(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    for (int64_t i = 0; i < grid_size(s); i++) {
        GridPoint p = grid_point(s, i);
        CHECK(p.arch >= 0 && p.arch < s->n_arch && p.cond >= 0 && p.cond < s->n_cond);
        CHECK(p.nb >= 0 && p.nb < s->n_nb && p.wd >= 0 && p.wd < s->n_wd);
        CHECK(p.seed >= 0 && p.seed < s->n_seed);
        CHECK_MSG(grid_index(s, p) == i, "index %lld -> %lld", (long long)i,
                  (long long)grid_index(s, p));
    }
    spec_free(s);
}

static void grid_key_should_have_documented_format(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    char key[GRID_KEY_MAX];
    grid_key(s, grid_point(s, 0), key, sizeof key);
    CHECK_MSG(strcmp(key, "arch=mlp/cond=plain/wd=0/nb=0/seed=7") == 0, "%s", key);
    GridPoint p = {.arch = 1, .cond = 1, .nb = 1, .wd = 1, .seed = 1};
    grid_key(s, p, key, sizeof key);
    CHECK_MSG(strcmp(key, "arch=wide@w=8/cond=fast/wd=0.00050000000000000001/nb=0.5/seed=3") == 0,
              "%s", key);
    spec_free(s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Field by field (struct padding is not comparable). */
static int same_net(const NetConfig *a, const NetConfig *b)
{
    int same = a->n_in == b->n_in && a->n_out == b->n_out && a->n_hidden == b->n_hidden &&
               a->act == b->act && a->skip == b->skip && a->batch_norm == b->batch_norm &&
               a->w_init == b->w_init && a->w_value == b->w_value && a->b_init == b->b_init &&
               a->b_value == b->b_value;
    for (int i = 0; same && i < a->n_hidden; i++)
        same = a->hidden[i] == b->hidden[i];
    return same;
}

static int same_train(const TrainConfig *a, const TrainConfig *b)
{
    int same = a->epochs == b->epochs && a->batch_size == b->batch_size && a->lr == b->lr &&
               a->momentum == b->momentum && a->nesterov == b->nesterov &&
               a->schedule == b->schedule && a->n_milestones == b->n_milestones &&
               a->gamma == b->gamma && a->shuffle == b->shuffle &&
               a->drop_last == b->drop_last && a->clip_value == b->clip_value &&
               a->weight_decay == b->weight_decay && a->norm_bias == b->norm_bias &&
               a->norm_bias_relative == b->norm_bias_relative;
    for (int i = 0; same && i < a->n_milestones; i++)
        same = a->milestones[i] == b->milestones[i];
    return same;
}

/* Keys name coordinates by value: unique within a sweep, and the same set of keys
 * (each with the same settings) when the spec lists its axes in another order. */
static void grid_keys_should_be_unique_and_independent_of_axis_order(void)
{
    Spec *s = load(SPEC_TEXT), *t = load(SPEC_SHUFFLED);
    if (!s || !t) {
        spec_free(s);
        spec_free(t);
        return;
    }
    int64_t n = grid_size(s);
    CHECK(grid_size(t) == n);
    char **ks = xcalloc((size_t)n, sizeof *ks), **kt = xcalloc((size_t)n, sizeof *kt);
    for (int64_t i = 0; i < n; i++) {
        ks[i] = xmalloc(GRID_KEY_MAX);
        kt[i] = xmalloc(GRID_KEY_MAX);
        grid_key(s, grid_point(s, i), ks[i], GRID_KEY_MAX);
        grid_key(t, grid_point(t, i), kt[i], GRID_KEY_MAX);
    }
    /* the same key in both specs means the same settings */
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < n; j++) {
            if (strcmp(ks[i], kt[j]) != 0)
                continue;
            NetConfig na, nb;
            TrainConfig ta, tb;
            uint64_t sa, sb;
            grid_point_config(s, grid_point(s, i), (Shape){20, 1, 1}, 4, &na, &ta, &sa);
            grid_point_config(t, grid_point(t, j), (Shape){20, 1, 1}, 4, &nb, &tb, &sb);
            CHECK(same_net(&na, &nb) && same_train(&ta, &tb));
            CHECK(sa == sb);
        }
    }
    qsort(ks, (size_t)n, sizeof *ks, cmp_str);
    qsort(kt, (size_t)n, sizeof *kt, cmp_str);
    for (int64_t i = 0; i < n; i++) {
        CHECK_MSG(strcmp(ks[i], kt[i]) == 0, "%s vs %s", ks[i], kt[i]);
        if (i > 0)
            CHECK_MSG(strcmp(ks[i - 1], ks[i]) != 0, "duplicate key %s", ks[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        free(ks[i]);
        free(kt[i]);
    }
    free(ks);
    free(kt);
    spec_free(s);
    spec_free(t);
}

static void grid_point_config_should_fill_net_train_and_seed(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    GridPoint p = {.arch = 1, .cond = 1, .nb = 1, .wd = 1, .seed = 0};
    NetConfig net;
    TrainConfig train;
    uint64_t seed = 0;
    memset(&net, 0xff, sizeof net);
    memset(&train, 0xff, sizeof train);
    grid_point_config(s, p, (Shape){20, 1, 1}, 4, &net, &train, &seed);
    CHECK(net.n_in == 20 && net.n_out == 4);
    CHECK(net.n_hidden == 1 && net.hidden[0] == 16 && net.batch_norm && net.act == ACT_RELU);
    CHECK(train.lr == 0.1 && train.epochs == 0 && train.batch_size == 32);
    CHECK(train.momentum == 0.9 && train.schedule == SCHED_CONSTANT);
    CHECK(train.weight_decay == 5e-4 && train.norm_bias == 0.5 && train.norm_bias_relative);
    CHECK(seed == 7);
    /* the spec itself is unchanged: n_in/n_out stay 0, conditions carry no regulariser */
    CHECK(s->arch[1].net.n_in == 0 && s->arch[1].net.n_out == 0);
    CHECK(s->cond[1].train.weight_decay == 0 && s->cond[1].train.norm_bias == 0);

    p = (GridPoint){.arch = 0, .cond = 0, .nb = 0, .wd = 2, .seed = 1};
    grid_point_config(s, p, (Shape){784, 1, 1}, 10, &net, &train, &seed);
    CHECK(net.n_in == 784 && net.n_out == 10 && net.n_hidden == 2 && !net.batch_norm);
    CHECK(train.lr == 0.05 && train.epochs == 3 && train.weight_decay == 1e-5);
    CHECK(train.norm_bias == 0 && train.norm_bias_relative && seed == 3);
    spec_free(s);
}

/* parameters: mlp 20-16-16-4 = (20*16+16) + (16*16+16) + (16*4+4) = 676;
 * wide@w=8 20-16(bn)-4 = (20*16+16) + 2*16 + (16*4+4) = 436 */
static void grid_cost_should_scale_with_params_samples_and_epochs(void)
{
    Spec *s = load(SPEC_TEXT);
    if (!s)
        return;
    GridPoint p = {.arch = 0, .cond = 0, .nb = 0, .wd = 0, .seed = 0};
    CHECK_MSG(grid_cost(s, p, (Shape){20, 1, 1}, 4, 512) == 676.0 * 512 * 3, "%g", grid_cost(s, p, (Shape){20, 1, 1}, 4, 512));
    p.arch = 1;
    CHECK_MSG(grid_cost(s, p, (Shape){20, 1, 1}, 4, 512) == 436.0 * 512 * 3, "%g", grid_cost(s, p, (Shape){20, 1, 1}, 4, 512));
    p.cond = 1; /* epochs 0 counts as one */
    CHECK(grid_cost(s, p, (Shape){20, 1, 1}, 4, 100) == 436.0 * 100);
    spec_free(s);
}

int main(void)
{
    RUN(grid_size_should_be_product_of_axes);
    RUN(grid_index_should_follow_documented_order);
    RUN(grid_point_should_round_trip_every_index);
    RUN(grid_key_should_have_documented_format);
    RUN(grid_keys_should_be_unique_and_independent_of_axis_order);
    RUN(grid_point_config_should_fill_net_train_and_seed);
    RUN(grid_cost_should_scale_with_params_samples_and_epochs);
    return test_summary();
}
