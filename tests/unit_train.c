/* train: the optimizer step against a double-precision reference of the update rule,
 * schedules, state round trip and its checks, divergence as a result. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/train.h"
#include "test_util.h"

static NetConfig small_net(void)
{
    NetConfig c = {0};
    c.n_in = 6;
    c.n_out = 3;
    c.n_hidden = 2;
    c.hidden[0] = 5;
    c.hidden[1] = 5;
    c.act = ACT_RELU;
    c.batch_norm = true;
    c.skip = true;
    return c;
}

static TrainConfig base_cfg(void)
{
    TrainConfig t = {0};
    t.epochs = 4;
    t.batch_size = 8;
    t.lr = 0.1;
    t.momentum = 0.9;
    t.shuffle = true;
    t.gamma = 0.1;
    return t;
}

/* Two steps by trainer_step vs the update rule of train.h in double, from the same
 * parameters and with the gradients nn_backward gives. */
static void check_step(const char *name, TrainConfig cfg)
{
    NetConfig nc = small_net();
    Trainer *t = trainer_new(&nc, &cfg, 9);
    Dataset tr, te;
    dataset_synthetic(8, 4, 6, 3, 1.0, 5, &tr, &te);
    size_t P = t->net->n_params;
    double *p = malloc(P * sizeof *p), *m = calloc(P, sizeof *m);
    float *g = malloc(P * sizeof *g);
    for (size_t i = 0; i < P; i++)
        p[i] = (double)t->net->params[i];
    for (int step = 0; step < 2; step++) {
        /* gradients at the current parameters, from a scratch net with the same state */
        Net *probe = nn_new(&nc, 8);
        memcpy(probe->params, t->net->params, P * sizeof(float));
        memcpy(probe->buffers, t->net->buffers, t->net->n_buffers * sizeof(float));
        nn_forward(probe, tr.x, 8, true);
        nn_loss(probe, tr.y, 8, NULL, true);
        nn_backward(probe, tr.x, 8, NULL, NULL);
        memcpy(g, probe->grads, P * sizeof(float));
        nn_free(probe);

        double sq = 0;
        for (size_t i = 0; i < P; i++)
            sq += p[i] * p[i];
        double c = t->norm_bias_c, s = c == 0 ? 1.0 : (sq > c ? 1.0 : sq < c ? -1.0 : 0.0);
        for (size_t i = 0; i < P; i++) {
            double gi = (double)g[i];
            if (cfg.clip_value > 0)
                gi = fmin(fmax(gi, -cfg.clip_value), cfg.clip_value);
            gi += cfg.weight_decay * s * p[i];
            m[i] = cfg.momentum * m[i] + gi;
            double d = cfg.momentum == 0 ? gi : cfg.nesterov ? gi + cfg.momentum * m[i] : m[i];
            p[i] -= cfg.lr * d;
        }
        trainer_step(t, tr.x, tr.y, 8, cfg.lr, NULL);
    }
    char what[96];
    snprintf(what, sizeof what, "%s: parameters after two steps", name);
    test_allclose(what, t->net->params, p, (long)P, 1e-6, 1e-5);
    free(p);
    free(m);
    free(g);
    dataset_free(&tr);
    dataset_free(&te);
    trainer_free(t);
}

static void step_should_follow_torch_sgd_rule(void)
{
    TrainConfig c = base_cfg();
    c.weight_decay = 0.01;
    check_step("momentum + weight decay", c);
    c.nesterov = true;
    check_step("nesterov", c);
    c.momentum = 0;
    c.nesterov = false;
    check_step("plain sgd", c);
    c = base_cfg();
    c.clip_value = 0.01;
    check_step("clipped", c);
    c = base_cfg();
    c.weight_decay = 0.5;
    c.norm_bias = 0.7;
    c.norm_bias_relative = true;
    check_step("norm-bias below", c);
    c.norm_bias = 1.3;
    check_step("norm-bias above", c);
}

static void schedules_should_match_pytorch_formulas(void)
{
    TrainConfig c = base_cfg();
    c.epochs = 10;
    CHECK(train_lr(&c, 7) == 0.1);
    c.schedule = SCHED_MULTISTEP;
    c.n_milestones = 2;
    c.milestones[0] = 3;
    c.milestones[1] = 6;
    CHECK(fabs(train_lr(&c, 2) - 0.1) < 1e-15);
    CHECK(fabs(train_lr(&c, 3) - 0.01) < 1e-15);
    CHECK(fabs(train_lr(&c, 6) - 0.001) < 1e-15);
    c.schedule = SCHED_COSINE;
    CHECK(fabs(train_lr(&c, 0) - 0.1) < 1e-15);
    CHECK(fabs(train_lr(&c, 5) - 0.05) < 1e-15);
    CHECK(fabs(train_lr(&c, 9) - 0.05 * (1 + cos(0.9 * 3.14159265358979323846))) < 1e-15);
}

/* Saves a's state (frees a; *buf, *n get the bytes), loads it into a new trainer of the
 * same point and trains that to the end; returns it. */
static Trainer *save_restore_finish(Trainer *a, const NetConfig *nc, const TrainConfig *cfg,
                                    const Dataset *tr, const Dataset *te, unsigned char **buf,
                                    size_t *n)
{
    *buf = trainer_state_save(a, n);
    trainer_free(a);
    Trainer *b = trainer_new(nc, cfg, 4);
    BpsErr err;
    CHECK_MSG(trainer_state_load(b, *buf, *n, &err) == 0, "%s", err.msg);
    while (!trainer_finished(b))
        trainer_epoch(b, tr, te);
    return b;
}

static void state_should_round_trip_bit_identically(void)
{
    NetConfig nc = small_net();
    TrainConfig cfg = base_cfg();
    cfg.weight_decay = 1e-3;
    Dataset tr, te;
    dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te);
    Trainer *straight = trainer_new(&nc, &cfg, 4);
    while (!trainer_finished(straight))
        trainer_epoch(straight, &tr, &te);

    Trainer *a = trainer_new(&nc, &cfg, 4);
    trainer_epoch(a, &tr, &te);
    trainer_epoch(a, &tr, &te);
    size_t n;
    unsigned char *buf;
    Trainer *b = save_restore_finish(a, &nc, &cfg, &tr, &te, &buf, &n);
    BpsErr err;
    size_t P = straight->net->n_params;
    CHECK(memcmp(straight->net->params, b->net->params, P * sizeof(float)) == 0);
    CHECK(memcmp(straight->momentum, b->momentum, P * sizeof(float)) == 0);
    CHECK(memcmp(straight->net->buffers, b->net->buffers,
                 straight->net->n_buffers * sizeof(float)) == 0);
    for (int e = 0; e < cfg.epochs; e++)
        CHECK(straight->history[e].test_loss == b->history[e].test_loss);

    /* corruption and mismatches are refused with a message */
    buf[n / 2] ^= 1;
    CHECK(trainer_state_load(b, buf, n, &err) != 0 && strstr(err.msg, "checksum"));
    buf[n / 2] ^= 1;
    CHECK(trainer_state_load(b, buf, n - 1, &err) != 0 && strstr(err.msg, "expected"));
    Trainer *other = trainer_new(&nc, &cfg, 5);
    CHECK(trainer_state_load(other, buf, n, &err) != 0 && strstr(err.msg, "different point"));
    trainer_free(other);
    free(buf);
    trainer_free(straight);
    trainer_free(b);
    dataset_free(&tr);
    dataset_free(&te);
}

typedef struct {
    int calls, stop_at;
} StopCtx;

static bool stop_after_calls(void *ctx, Trainer *t)
{
    (void)t;
    StopCtx *c = ctx;
    return ++c->calls == c->stop_at;
}

static void state_should_resume_mid_epoch_bit_identically(void)
{
    NetConfig nc = small_net();
    TrainConfig cfg = base_cfg();
    cfg.weight_decay = 1e-3;
    Dataset tr, te;
    dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te); /* 7 steps per epoch */
    Trainer *straight = trainer_new(&nc, &cfg, 4);
    while (!trainer_finished(straight))
        trainer_epoch(straight, &tr, &te);

    /* stop in the middle of epoch 2 (after 7 + 3 steps), save, restore, go on */
    Trainer *a = trainer_new(&nc, &cfg, 4);
    StopCtx sc = {0, 9};
    a->should_stop = stop_after_calls;
    a->stop_ctx = &sc;
    CHECK(trainer_epoch(a, &tr, &te) == 0);
    CHECK(trainer_epoch(a, &tr, &te) == 2);
    CHECK(a->epoch == 1 && a->batch_pos == 24);
    size_t n;
    unsigned char *buf;
    Trainer *b = save_restore_finish(a, &nc, &cfg, &tr, &te, &buf, &n);
    CHECK(memcmp(straight->net->params, b->net->params, b->net->n_params * sizeof(float)) == 0);
    CHECK(memcmp(straight->momentum, b->momentum, b->net->n_params * sizeof(float)) == 0);
    for (int e = 0; e < cfg.epochs; e++) {
        CHECK(straight->history[e].train_loss == b->history[e].train_loss);
        CHECK(straight->history[e].train_acc == b->history[e].train_acc);
    }
    CHECK(straight->step == b->step);
    free(buf);
    trainer_free(straight);
    trainer_free(b);
    dataset_free(&tr);
    dataset_free(&te);
}

/* train.freeze_batch_norm: after the freeze epoch the running statistics stay as they
 * were and the steps use them (a frozen step equals one taken in evaluation mode), while
 * the parameters keep training. */
static void freeze_should_stop_the_batch_statistics(void)
{
    NetConfig nc = small_net();
    TrainConfig cfg = base_cfg();
    cfg.freeze_bn_epoch = 2;
    Dataset tr, te;
    dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te);
    Trainer *t = trainer_new(&nc, &cfg, 4);
    const size_t nb = t->net->n_buffers, P = t->net->n_params;
    float *buf1 = xmalloc(nb * sizeof *buf1), *p2 = xmalloc(P * sizeof *p2);
    trainer_epoch(t, &tr, &te);
    memcpy(buf1, t->net->buffers, nb * sizeof *buf1);
    trainer_epoch(t, &tr, &te);
    CHECK(memcmp(buf1, t->net->buffers, nb * sizeof *buf1) != 0); /* epoch 2 still moves them */
    memcpy(buf1, t->net->buffers, nb * sizeof *buf1);
    memcpy(p2, t->net->params, P * sizeof *p2);
    trainer_epoch(t, &tr, &te);
    trainer_epoch(t, &tr, &te);
    CHECK(memcmp(buf1, t->net->buffers, nb * sizeof *buf1) == 0);
    CHECK(memcmp(p2, t->net->params, P * sizeof *p2) != 0);
    /* a frozen step's loss is the evaluation-mode loss of the same batch */
    float *x = xmalloc(8 * 6 * sizeof *x);
    memcpy(x, tr.x, 8 * 6 * sizeof *x);
    nn_forward(t->net, x, 8, false);
    double eval = nn_loss(t->net, tr.y, 8, NULL, false);
    double step = trainer_step(t, x, tr.y, 8, 0.0, NULL);
    CHECK_MSG(step == eval, "frozen step loss %.17g, evaluation loss %.17g", step, eval);
    free(buf1), free(p2), free(x);
    trainer_free(t);
    dataset_free(&tr);
    dataset_free(&te);
}

/* init.construct: a fit stopped between iterations, saved and restored, ends with the
 * same net, bit for bit, as one run straight through (both methods). */
static void construction_should_resume_bit_identically(void)
{
    for (int method = FIT_NEWTON; method <= FIT_LBFGS; method++) {
        NetConfig nc = {0};
        nc.n_in = 6;
        nc.n_out = 3;
        nc.n_hidden = 1;
        nc.hidden[0] = 8;
        nc.construct = (ConstructConfig){true, (FitMethod)method, 1e-12, 200, (double)NAN};
        TrainConfig cfg = base_cfg();
        cfg.epochs = 1;
        Dataset tr, te;
        dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te);
        Trainer *straight = trainer_new(&nc, &cfg, 4);
        CHECK(trainer_construct(straight, &tr, &te) == 0 && straight->constructed);
        CHECK(straight->construct.iterations > 3);

        Trainer *a = trainer_new(&nc, &cfg, 4);
        StopCtx sc = {0, 2}; /* stop after the second iteration */
        a->should_stop = stop_after_calls;
        a->stop_ctx = &sc;
        CHECK(trainer_construct(a, &tr, &te) == 2 && !a->constructed);
        CHECK(!trainer_finished(a));
        size_t n;
        unsigned char *buf = trainer_state_save(a, &n);
        Trainer *b = trainer_new(&nc, &cfg, 4);
        BpsErr err;
        CHECK(trainer_state_load(b, buf, n, &err) == 0);
        CHECK(trainer_construct(b, &tr, &te) == 0 && b->constructed);
        CHECK(memcmp(straight->net->params, b->net->params,
                     b->net->n_params * sizeof(float)) == 0);
        CHECK(straight->construct.iterations == b->construct.iterations);
        CHECK(straight->construct.grad_norm == b->construct.grad_norm);
        free(buf);
        trainer_free(straight);
        trainer_free(a);
        trainer_free(b);
        dataset_free(&tr);
        dataset_free(&te);
    }
}

static void divergence_should_be_a_result(void)
{
    NetConfig nc = small_net();
    nc.batch_norm = false;
    TrainConfig cfg = base_cfg();
    cfg.lr = 1e30;
    Dataset tr, te;
    dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te);
    Trainer *t = trainer_new(&nc, &cfg, 4);
    int rc = 0;
    while (!trainer_finished(t) && rc == 0)
        rc = trainer_epoch(t, &tr, &te);
    CHECK(rc == 1);
    CHECK(t->diverged_epoch >= 1 && t->diverged_epoch <= cfg.epochs);
    CHECK(trainer_finished(t));
    trainer_free(t);
    dataset_free(&tr);
    dataset_free(&te);
}

static void shuffle_should_be_paired_across_regularisation(void)
{
    /* same seed and shapes, different weight decay: identical first-epoch batches */
    NetConfig nc = small_net();
    TrainConfig a = base_cfg(), b = base_cfg();
    b.weight_decay = 0.1;
    Trainer *ta = trainer_new(&nc, &a, 8), *tb = trainer_new(&nc, &b, 8);
    CHECK(memcmp(ta->net->params, tb->net->params, ta->net->n_params * sizeof(float)) == 0);
    Dataset tr, te;
    dataset_synthetic(40, 8, 6, 3, 1.0, 2, &tr, &te);
    trainer_epoch(ta, &tr, NULL);
    trainer_epoch(tb, &tr, NULL);
    CHECK(memcmp(ta->order, tb->order, 40 * sizeof(uint32_t)) == 0);
    CHECK(ta->shuffle_rng.counter == tb->shuffle_rng.counter);
    trainer_free(ta);
    trainer_free(tb);
    dataset_free(&tr);
    dataset_free(&te);
}

/* The hook's record of the sample indices trained, in order. */
typedef struct {
    uint32_t idx[512];
    int n;
} SeenOrder;

static void record_indices(void *ctx, uint64_t step, const uint32_t *idx, int B, double loss)
{
    (void)step, (void)loss;
    SeenOrder *s = ctx;
    for (int i = 0; i < B && s->n < 512; i++)
        s->idx[s->n++] = idx[i];
}

/* train_epoch_order (what --print-order prints) replays the batches training used: every
 * epoch of a run that is saved and restored mid-epoch, with a dropped partial batch. */
static void epoch_order_should_replay_the_trained_batches(void)
{
    NetConfig nc = small_net();
    TrainConfig cfg = base_cfg();
    cfg.epochs = 3;
    cfg.drop_last = true; /* 43 samples, batches of 8: the last 3 of every epoch dropped */
    Dataset tr, te;
    dataset_synthetic(43, 8, 6, 3, 1.0, 4, &tr, &te);
    Trainer *t = trainer_new(&nc, &cfg, 21);
    SeenOrder seen = {.n = 0};
    t->hook = record_indices;
    t->hook_ctx = &seen;
    StopCtx stop = {0, 2}; /* the first trainer stops at its second stop point */
    t->should_stop = stop_after_calls;
    t->stop_ctx = &stop;
    uint32_t order[43];
    for (int e = 0; e < cfg.epochs; e++) {
        seen.n = 0;
        while (trainer_epoch(t, &tr, NULL) == 2) {
            /* stopped mid-epoch: continue in a restored trainer, as a resumed point */
            size_t n;
            void *buf = trainer_state_save(t, &n);
            trainer_free(t);
            t = trainer_new(&nc, &cfg, 21);
            BpsErr err;
            CHECK(trainer_state_load(t, buf, n, &err) == 0);
            free(buf);
            t->hook = record_indices;
            t->hook_ctx = &seen;
        }
        train_epoch_order(&nc, &cfg, 21, tr.n, e, order);
        CHECK(seen.n == 40);
        CHECK(memcmp(seen.idx, order, 40 * sizeof *order) == 0);
    }
    /* different epochs, different orders; without shuffle the data order */
    uint32_t first[43];
    train_epoch_order(&nc, &cfg, 21, tr.n, 0, first);
    CHECK(memcmp(first, order, sizeof order) != 0);
    cfg.shuffle = false;
    train_epoch_order(&nc, &cfg, 21, tr.n, 2, order);
    for (int i = 0; i < 43; i++)
        CHECK(order[i] == (uint32_t)i);
    trainer_free(t);
    dataset_free(&tr);
    dataset_free(&te);
}

/* ---- augmentation ------------------------------------------------------------------ */

/* The augmentation of sample s, computed independently of train.c: the three uniforms
 * from raw draws at counters 4s, 4s+1, 4s+2, an explicitly zero-padded image, the
 * window cut out, then mirrored. */
static void reference_augment(const float *x, int C, int H, int W, int pad, bool flip_on,
                              uint64_t key, uint32_t s, float *out, int *oy, int *ox, int *fl)
{
    double u[3];
    for (int k = 0; k < 3; k++) {
        RngStream r = {key, (uint64_t)s * 4 + (uint64_t)k};
        u[k] = ldexp((double)(rng_next_u64(&r) >> 11), -53);
    }
    *oy = (int)floor(u[0] * (2 * pad + 1));
    *ox = (int)floor(u[1] * (2 * pad + 1));
    *fl = flip_on && u[2] < 0.5;
    int Hp = H + 2 * pad, Wp = W + 2 * pad;
    float *padded = calloc((size_t)C * Hp * Wp, sizeof *padded);
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                padded[((size_t)c * Hp + i + pad) * Wp + j + pad] = x[((size_t)c * H + i) * W + j];
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                float v = padded[((size_t)c * Hp + i + *oy) * Wp + j + *ox];
                int jo = *fl ? W - 1 - j : j;
                out[((size_t)c * H + i) * W + jo] = v;
            }
    free(padded);
}

static void augment_should_equal_an_independent_crop_and_flip(void)
{
    const int C = 2, H = 5, W = 7, D = C * H * W, n = 300;
    float x[2 * 5 * 7], got[2 * 5 * 7], want[2 * 5 * 7];
    for (int k = 0; k < D; k++)
        x[k] = (float)(k + 1); /* no zeros: a value out of place shows */
    int dims[3] = {D, 4, 3};
    const int pads[] = {0, 1, 2, 4, 9}; /* 9 > H, W: some windows see only padding */
    for (int pi = 0; pi < 5; pi++) {
        for (int flip_on = 0; flip_on < 2; flip_on++) {
            int pad = pads[pi];
            uint64_t key = train_augment_key(77, dims, 3, pi + 1);
            int seen_y[19] = {0}, seen_x[19] = {0}, flips = 0, bad = 0;
            for (uint32_t s = 0; s < (uint32_t)n; s++) {
                int oy, ox, fl;
                reference_augment(x, C, H, W, pad, flip_on, key, s, want, &oy, &ox, &fl);
                AugmentDraw a = train_augment_draw(key, s, pad, flip_on);
                memset(got, 0xff, sizeof got);
                train_augment_sample(x, C, H, W, pad, a, got);
                if (a.oy != oy || a.ox != ox || a.flip != (fl != 0) ||
                    memcmp(got, want, sizeof got) != 0)
                    bad++;
                seen_y[oy]++;
                seen_x[ox]++;
                flips += fl;
            }
            CHECK(bad == 0);
            for (int o = 0; o <= 2 * pad; o++) /* every offset occurs */
                CHECK(seen_y[o] > 0 && seen_x[o] > 0);
            if (flip_on)
                CHECK(flips > n / 2 - 45 && flips < n / 2 + 45);
            else
                CHECK(flips == 0);
        }
    }
    /* the identity: no padding, no flip */
    AugmentDraw id = train_augment_draw(1, 3, 0, false);
    train_augment_sample(x, C, H, W, 0, id, got);
    CHECK(memcmp(got, x, sizeof x) == 0);
}

static TrainConfig augment_cfg(void)
{
    TrainConfig cfg = base_cfg();
    cfg.aug_crop_padding = 1;
    cfg.aug_flip = true;
    return cfg;
}

static void augment_should_be_deterministic_and_resume_bit_identically(void)
{
    NetConfig nc = small_net();
    TrainConfig cfg = augment_cfg();
    Dataset tr, te;
    dataset_synthetic(50, 20, 6, 3, 1.0, 2, &tr, &te);
    tr.c = te.c = 1; /* (1, 2, 3) images */
    tr.h = te.h = 2;
    tr.w = te.w = 3;
    Trainer *straight = trainer_new(&nc, &cfg, 4), *again = trainer_new(&nc, &cfg, 4);
    while (!trainer_finished(straight))
        trainer_epoch(straight, &tr, &te);
    while (!trainer_finished(again))
        trainer_epoch(again, &tr, &te);
    size_t P = straight->net->n_params;
    CHECK(memcmp(straight->net->params, again->net->params, P * sizeof(float)) == 0);

    /* augmentation changes training */
    TrainConfig plain_cfg = base_cfg();
    Trainer *plain = trainer_new(&nc, &plain_cfg, 4);
    while (!trainer_finished(plain))
        trainer_epoch(plain, &tr, &te);
    CHECK(memcmp(straight->net->params, plain->net->params, P * sizeof(float)) != 0);

    /* stopped mid-epoch 2, saved, restored: the same bits */
    Trainer *a = trainer_new(&nc, &cfg, 4);
    StopCtx sc = {0, 9};
    a->should_stop = stop_after_calls;
    a->stop_ctx = &sc;
    CHECK(trainer_epoch(a, &tr, &te) == 0);
    CHECK(trainer_epoch(a, &tr, &te) == 2);
    size_t n;
    unsigned char *buf;
    Trainer *b = save_restore_finish(a, &nc, &cfg, &tr, &te, &buf, &n);
    CHECK(memcmp(straight->net->params, b->net->params, P * sizeof(float)) == 0);
    for (int e = 0; e < cfg.epochs; e++)
        CHECK(straight->history[e].train_loss == b->history[e].train_loss);
    free(buf);
    trainer_free(straight);
    trainer_free(again);
    trainer_free(plain);
    trainer_free(b);
    dataset_free(&tr);
    dataset_free(&te);
}

/* PGD on data normalised per channel: each channel clamped to its own training range,
 * with eps the same fraction of each channel's range; globally normalised data keep one
 * range. */
static void pgd_should_clamp_each_channel_to_its_own_range(void)
{
    enum { N = 6, C = 2, S = 4, D = C * S };
    float x[N * D];
    uint8_t y[N];
    RngStream r = rng_stream(5);
    for (int i = 0; i < N; i++) {
        y[i] = (uint8_t)(i % 3);
        for (int s = 0; s < S; s++) {
            x[i * D + s] = (float)(rng_uniform(&r) * 2.0 - 1.0);           /* [-1, 1] */
            x[i * D + S + s] = (float)(3.0 + rng_uniform(&r) * 6.0);       /* [3, 9] */
        }
    }
    Dataset d = {.n = N, .d = D, .classes = 3, .x = x, .y = y, .borrowed = true, .c = C, .h = 2,
                 .w = 2, .norm = NORM_PER_CHANNEL};
    PgdConfig c = pgd_config(&d, 0.1, 0.25, 3);
    CHECK(c.channels == C && c.plane == S);
    for (int ch = 0; ch < C; ch++) {
        float lo = x[ch * S], hi = lo;
        for (int i = 0; i < N; i++)
            for (int s = 0; s < S; s++) {
                float v = x[i * D + ch * S + s];
                lo = v < lo ? v : lo, hi = v > hi ? v : hi;
            }
        CHECK_MSG(c.lo[ch] == lo && c.hi[ch] == hi, "channel %d: [%g, %g] vs [%g, %g]", ch,
                  (double)c.lo[ch], (double)c.hi[ch], (double)lo, (double)hi);
        CHECK(c.eps[ch] == (float)(0.1 * (double)(hi - lo)) &&
              c.alpha[ch] == (float)(0.25 * (double)c.eps[ch]));
    }
    /* the attack stays within each channel's eps-ball and range */
    NetConfig nc = {0};
    nc.n_in = D, nc.n_out = 3, nc.n_hidden = 1, nc.hidden[0] = 8, nc.act = ACT_RELU;
    Net *net = nn_new(&nc, N);
    nn_init_params(net, 3);
    float adv[N * D], grad[N * D];
    RngStream ar = rng_stream(9);
    pgd_random_start(x, N * D, &c, &ar, adv);
    pgd_attack(net, x, y, N, &c, adv, grad);
    bool inside = true, moved = false;
    for (int i = 0; i < N * D; i++) {
        int ch = (i % D) / S;
        inside &= adv[i] >= c.lo[ch] && adv[i] <= c.hi[ch] &&
                  fabsf(adv[i] - x[i]) <= c.eps[ch] * (1 + 1e-6f);
        moved |= fabsf(adv[i] - x[i]) > 0.5f * c.eps[0] && ch == 1;
    }
    CHECK(inside && moved);
    nn_free(net);
    /* globally normalised: one range over every input */
    d.norm = NORM_STANDARDIZE;
    c = pgd_config(&d, 0.1, 0.25, 3);
    CHECK(c.channels == 1 && c.lo[0] < -0.5f && c.hi[0] > 8.0f);
}

int main(void)
{
    RUN(step_should_follow_torch_sgd_rule);
    RUN(schedules_should_match_pytorch_formulas);
    RUN(state_should_round_trip_bit_identically);
    RUN(state_should_resume_mid_epoch_bit_identically);
    RUN(divergence_should_be_a_result);
    RUN(shuffle_should_be_paired_across_regularisation);
    RUN(epoch_order_should_replay_the_trained_batches);
    RUN(augment_should_equal_an_independent_crop_and_flip);
    RUN(augment_should_be_deterministic_and_resume_bit_identically);
    RUN(pgd_should_clamp_each_channel_to_its_own_range);
    RUN(freeze_should_stop_the_batch_statistics);
    RUN(construction_should_resume_bit_identically);
    return test_summary();
}
