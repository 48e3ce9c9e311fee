/* point: one grid point from initialisation (or a saved state) to its result. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/point.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POINT_METRIC_DEF(kind, name, desc) {#name, METRIC_##kind, desc},
const MetricDef POINT_METRIC_DEFS[N_METRICS] = {POINT_METRICS(POINT_METRIC_DEF)};
#undef POINT_METRIC_DEF

const char *point_status_name(PointStatus s)
{
    switch (s) {
    case POINT_PENDING:
        return "pending";
    case POINT_DONE:
        return "done";
    case POINT_DIVERGED:
        return "diverged";
    case POINT_FAILED:
        return "failed";
    }
    return "unknown";
}

StoreShape point_store_shape(const Spec *spec, Shape in, int n_out)
{
    StoreShape sh = {grid_size(spec), 1, 1, 0, 0, 0, 0};
    for (int c = 0; c < spec->n_cond; c++)
        if (spec->cond[c].train.epochs > sh.max_epochs)
            sh.max_epochs = spec->cond[c].train.epochs;
    for (int a = 0; a < spec->n_arch; a++) {
        NetConfig net = spec->arch[a].net;
        net.n_in = (int)shape_size(in);
        net.in_shape = in;
        net.n_out = n_out;
        int layers = nn_weight_views(&net, NULL);
        if (layers > sh.max_layers)
            sh.max_layers = layers;
        int64_t p = (int64_t)nn_param_count(&net);
        if (spec->store_weights && p > sh.max_params)
            sh.max_params = p;
        int64_t r = metrics_max_rank(&net);
        sh.max_rank = r > sh.max_rank ? r : sh.max_rank;
    }
    sh.ntk_m = spec->ntk.enabled ? (int64_t)spec->ntk.samples * n_out : 0;
    sh.n_eps = spec->robust.enabled ? spec->robust.n_eps : 0;
    return sh;
}

static void log_epoch(FILE *log, const Trainer *t)
{
    const EpochMetrics *m = &t->history[t->epoch - 1];
    fprintf(log,
            "epoch %3d/%d  lr %.5f  train_loss %.5f  train_acc %.4f  test_loss %.5f  "
            "test_acc %.4f  %.2f s\n",
            t->epoch, t->cfg.epochs, m->lr, m->train_loss, m->train_acc, m->test_loss,
            m->test_acc, m->seconds);
    fflush(log);
}

/* Allocates every metric of res, NaN-filled, with lengths by kind. */
static void alloc_metrics(PointResult *res, int epochs, int n_layers)
{
    for (int m = 0; m < N_METRICS; m++) {
        int n = POINT_METRIC_DEFS[m].kind == METRIC_SCALAR  ? 1
                : POINT_METRIC_DEFS[m].kind == METRIC_CURVE ? epochs
                                                            : n_layers;
        res->metric_len[m] = n;
        res->metric[m] = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        for (int i = 0; i < n; i++)
            res->metric[m][i] = NAN;
    }
}

static void record_curves(const Trainer *t, PointResult *res)
{
    for (int e = 0; e < t->epoch; e++) {
        const EpochMetrics *h = &t->history[e];
        res->metric[M_train_loss][e] = h->train_loss;
        res->metric[M_train_acc][e] = h->train_acc;
        res->metric[M_test_loss][e] = h->test_loss;
        res->metric[M_test_acc][e] = h->test_acc;
        res->metric[M_lr][e] = h->lr;
        res->metric[M_epoch_seconds][e] = h->seconds;
        res->metric[M_ntk_similarity_epoch][e] = h->probe[0];
        res->metric[M_ntk_change_epoch][e] = h->probe[1];
    }
}

/* The kernel of net at the inputs x (n, D), rounded to float as the file stores it (the
 * comparison measures then describe the stored matrices); NULL if out of memory. */
static double *ntk_stored(const Net *net, const float *x, int n)
{
    size_t m = (size_t)n * (size_t)net->cfg.n_out, mm = m * m;
    double *K = bps_try_alloc_aligned(mm * sizeof *K);
    if (K && ntk_kernel(net, x, n, K) != 0) {
        free(K);
        return NULL;
    }
    for (size_t k = 0; K && k < mm; k++)
        K[k] = (double)(float)K[k];
    return K;
}

/* The kernel of net as ntk_stored, with measure.ntk.batch_norm "data" and batch norm in
 * the net: of a copy whose running statistics are those of the pool's samples xp (np). */
static double *ntk_measured(const Net *net, const NtkSpec *ns, const float *x, int n,
                            const float *xp, int np)
{
    if (ns->batch_norm != NTK_BN_DATA || net->n_buffers == 0)
        return ntk_stored(net, x, n);
    Net *copy = nn_new(&net->cfg, 1);
    double *K = NULL;
    if (copy) {
        memcpy(copy->params, net->params, net->n_params * sizeof *net->params);
        if (nn_set_batch_statistics(copy, xp, np) == 0)
            K = ntk_stored(copy, x, n);
    }
    nn_free(copy);
    return K;
}

/* The NTK of net against the one at initialisation (net0, rebuilt from the seed).
 * If res is not NULL the two kernels are kept in it. False if the kernels could not be
 * computed (work space, or fewer than `samples` training samples in the pool). */
static bool ntk_vs_init(const Net *net, const Net *net0, const NtkSpec *ns, const Dataset *train,
                        NtkCompare *out, PointResult *res)
{
    const int n = ns->samples, D = train->d;
    const int np = ns->batch_norm == NTK_BN_DATA ? (ns->pool < train->n ? ns->pool : train->n) : 0;
    int *idx = xmalloc((size_t)n * sizeof *idx);
    bool ok = ntk_select(train->y, train->n, ns->pool, n, idx) == n;
    float *x = xmalloc((size_t)n * (size_t)D * sizeof *x);
    float *xp = np ? xmalloc((size_t)np * (size_t)D * sizeof *xp) : NULL;
    for (int i = 0; ok && i < n; i++)
        dataset_copy_rows(train, idx[i], 1, x + (size_t)i * D);
    if (ok && np)
        dataset_copy_rows(train, 0, np, xp);
    double *k0 = ok ? ntk_measured(net0, ns, x, n, xp, np) : NULL;
    double *k1 = k0 ? ntk_measured(net, ns, x, n, xp, np) : NULL;
    ok = k1 != NULL;
    if (ok) {
        const int m = n * net->cfg.n_out;
        const size_t mm = (size_t)m * (size_t)m;
        *out = ntk_compare(k0, k1, (size_t)m);
        if (res) {
            res->ntk_m = m;
            res->ntk0 = xmalloc(mm * sizeof(float));
            res->ntk1 = xmalloc(mm * sizeof(float));
            for (size_t k = 0; k < mm; k++) {
                res->ntk0[k] = (float)k0[k];
                res->ntk1[k] = (float)k1[k];
            }
        }
    }
    free(k0);
    free(k1);
    free(x);
    free(xp);
    free(idx);
    return ok;
}

/* The net at initialisation, rebuilt from the seed (so a resumed point needs nothing more
 * in its checkpoint); NULL if it cannot be allocated. */
static Net *initial_net(const NetConfig *cfg, uint64_t seed)
{
    if (cfg->construct.on)
        return NULL; /* built from the data, not drawn: these measures stay NaN */
    Net *net0 = nn_new(cfg, 1);
    if (net0)
        nn_init_params(net0, seed);
    return net0;
}

/* What needs the initial parameters: ||theta_1 - theta_0|| and the NTK comparison. */
static void measure_from_init(const Net *net, const Spec *spec, uint64_t seed,
                              const Dataset *train, PointResult *res)
{
    Net *net0 = initial_net(&net->cfg, seed);
    if (!net0)
        return; /* out of memory: these stay NaN */
    double d = 0;
    for (size_t k = 0; k < net->n_params; k++) {
        double v = (double)net->params[k] - (double)net0->params[k];
        d += v * v;
    }
    res->metric[M_param_distance][0] = sqrt(d);
    NtkCompare c;
    if (spec->ntk.enabled && ntk_vs_init(net, net0, &spec->ntk, train, &c, res)) {
        double **mt = res->metric;
        mt[M_ntk_norm0][0] = c.norm0;
        mt[M_ntk_norm1][0] = c.norm1;
        mt[M_ntk_distance][0] = c.distance;
        mt[M_ntk_similarity][0] = c.similarity;
        mt[M_ntk_pearson][0] = c.pearson;
    }
    nn_free(net0);
}

/* measure.ntk.epochs: after a listed epoch, the kernel against K0 goes into the epoch's
 * history (saved with the trainer state, so a resumed point keeps it). */
static void ntk_epoch_probe(Trainer *t, const Spec *spec, uint64_t seed, const Dataset *train)
{
    const NtkSpec *ns = &spec->ntk;
    bool listed = false;
    for (int i = 0; i < ns->n_epochs; i++)
        listed |= ns->epochs[i] == t->epoch;
    if (!ns->enabled || !listed)
        return;
    Net *net0 = initial_net(&t->net->cfg, seed);
    NtkCompare c;
    if (net0 && ntk_vs_init(t->net, net0, ns, train, &c, NULL)) {
        t->history[t->epoch - 1].probe[0] = c.similarity;
        t->history[t->epoch - 1].probe[1] = c.distance / c.norm0;
    }
    nn_free(net0);
}

/* measure.robustness: accuracy under PGD at every radius, random starts from the point's
 * own streams (RNG_ADVERSARIAL index 1 + 2e for the test set, 2 + 2e for the training
 * set; index 0 is adversarial training's). */
static void measure_robust(Net *net, const Spec *spec, uint64_t seed, const Dataset *train,
                           const Dataset *test, PointResult *res)
{
    const RobustSpec *rs = &spec->robust;
    int dims[NN_MAX_DIMS];
    int n_dims = nn_shape_dims(&net->cfg, dims);
    res->n_eps = rs->n_eps;
    res->robust_test = xmalloc((size_t)rs->n_eps * sizeof(double));
    res->robust_train = xmalloc((size_t)rs->n_eps * sizeof(double));
    for (int e = 0; e < rs->n_eps; e++) {
        PgdConfig c = pgd_config(train, rs->eps[e], rs->step_ratio, rs->steps);
        RngStream r = rng_stream(rng_key(seed, dims, n_dims, RNG_ADVERSARIAL, 1 + 2 * e));
        res->robust_test[e] = pgd_accuracy(net, test, rs->test_samples ? rs->test_samples : test->n,
                                           &c, &r);
        r = rng_stream(rng_key(seed, dims, n_dims, RNG_ADVERSARIAL, 2 + 2 * e));
        res->robust_train[e] = rs->train_samples > 0
                                   ? pgd_accuracy(net, train, rs->train_samples, &c, &r)
                                   : (double)NAN;
    }
}

/* Final measurements of a finished run; a diverged run keeps NaN where a measurement
 * of a broken net means nothing. */
static void measure(Trainer *t, const Spec *spec, uint64_t seed, const Dataset *train,
                    const Dataset *test, const Dataset *val, PointResult *res)
{
    const Net *net = t->net;
    double **m = res->metric;
    res->param_hash = metrics_param_hash(net);
    m[M_param_norm][0] = metrics_param_norm(net);
    m[M_init_param_norm][0] = sqrt(t->init_sq_norm);
    for (int l = 0; l < net->n_layers; l++) {
        m[M_rank_changed_fraction][l] = t->rank_effect[l].changed_fraction;
        m[M_rank_restrict_distance][l] = t->rank_effect[l].restrict_distance;
    }
    if (res->status == POINT_DIVERGED)
        return;
    measure_from_init(net, spec, seed, train, res);
    if (spec->cert.enabled) {
        const CertSpec *cs = &spec->cert;
        Certificate c;
        double *neg = xmalloc((size_t)net->n_layers * sizeof *neg);
        if (cert_measure(net, train, cs->samples, t->cfg.weight_decay, t->norm_bias_c,
                         cs->iterations, cs->lanczos_tolerance, seed, &c, neg) == 0) {
            m[M_cert_loss][0] = c.loss;
            m[M_cert_loss_data][0] = c.loss_data;
            m[M_cert_grad_norm][0] = c.grad_norm;
            m[M_hessian_max_abs][0] = c.hess_max_abs;
            m[M_hessian_min][0] = c.hess_min;
            if (cs->iterations > 0) {
                m[M_hessian_iterations][0] = c.hess_iterations;
                m[M_cert_verdict][0] = cert_verdict(&c, cs->tolerance);
            }
            memcpy(m[M_relu_negative_fraction], neg, (size_t)net->n_layers * sizeof *neg);
        }
        cert_negative_fraction(net, test, neg);
        memcpy(m[M_relu_negative_fraction_test], neg, (size_t)net->n_layers * sizeof *neg);
        free(neg);
    }
    if (net->cfg.construct.on) {
        m[M_construct_grad_norm][0] = t->construct.grad_norm;
        m[M_construct_iterations][0] = t->construct.iterations;
        m[M_construct_offset][0] = t->construct.offset;
        m[M_construct_logit_diff][0] = t->construct.logit_diff;
    }
    if (t->cfg.stop_grad_norm > 0) {
        m[M_stop_epoch][0] = t->stopped_epoch > 0 ? t->stopped_epoch : (double)NAN;
        m[M_stop_grad_norm][0] = t->stop_grad_norm;
    }
    if (spec->robust.enabled)
        measure_robust(t->net, spec, seed, train, test, res);
    trainer_evaluate(t, train, &m[M_final_train_loss][0], &m[M_final_train_acc][0]);
    trainer_evaluate(t, test, &m[M_final_test_loss][0], &m[M_final_test_acc][0]);
    if (val->n > 0)
        trainer_evaluate(t, val, &m[M_final_val_loss][0], &m[M_final_val_acc][0]);
    LayerStats *ls = xcalloc((size_t)net->n_layers, sizeof *ls);
    res->spectra_rank = metrics_max_rank(&net->cfg);
    res->spectra = xmalloc((size_t)net->n_layers * (size_t)res->spectra_rank * sizeof(float));
    metrics_layer_stats(net, ls, res->spectra, res->spectra_rank);
    for (int l = 0; l < net->n_layers; l++) {
        m[M_frobenius][l] = ls[l].frobenius;
        m[M_spectral][l] = ls[l].spectral;
        m[M_effective_rank][l] = ls[l].effective_rank;
    }
    free(ls);
}

static int load_state(Trainer *t, const char *path, BpsErr *err)
{
    char *buf = NULL;
    size_t n;
    /* a checkpoint has exactly the state's size; a link or a larger file is refused
     * before it is read (the folder may be writable by others) */
    int rc = bps_read_file_max(path, trainer_state_size(t), BPS_READ_NOFOLLOW, &buf, &n, err);
    if (rc == 0)
        rc = trainer_state_load(t, buf, n, err);
    if (rc != 0)
        bps_err_prefix(err, "%s", path);
    free(buf);
    return rc;
}

static int save_state(const Trainer *t, const char *path, BpsErr *err)
{
    size_t n;
    void *buf = trainer_state_save(t, &n);
    int rc = bps_write_file_atomic(path, buf, n, "checkpoint", err);
    free(buf);
    return rc;
}

typedef struct {
    const PointOptions *opt;
    double last_checkpoint;
    bool stopped;
} Checkpointer;

/* Between two steps (and at epoch boundaries): stop if asked - the state is saved by
 * point_train - else write a checkpoint when the interval has passed. */
static bool between_steps(void *ctx, Trainer *t)
{
    Checkpointer *ck = ctx;
    const PointOptions *opt = ck->opt;
    bps_fault_point("epoch");
    if (opt->should_stop && opt->should_stop(opt->stop_ctx)) {
        ck->stopped = true;
        return true;
    }
    if (opt->checkpoint && bps_now() - ck->last_checkpoint >= opt->checkpoint_interval) {
        BpsErr err;
        if (save_state(t, opt->checkpoint, &err) != 0)
            fprintf(opt->warn ? opt->warn : stderr, "bpsweep: warning: checkpoint not written "
                    "(training goes on): %s\n", err.msg);
        ck->last_checkpoint = bps_now();
    }
    return false;
}

int point_train(const Spec *spec, int64_t index, const Dataset *train, const Dataset *test,
                const PointOptions *opt, PointResult *res, BpsErr *err)
{
    double t0 = bps_now();
    memset(res, 0, sizeof *res);
    if (index < 0 || index >= grid_size(spec))
        return bps_fail(err, "point %lld: out of range (the grid has %lld points)",
                        (long long)index, (long long)grid_size(spec));
    /* data.validation: the last samples of the training set are held out; everything from
     * here on (training, the instruments) sees the samples trained on */
    const int n_val = spec->data.validation;
    if (n_val >= train->n)
        return bps_fail(err, "data.validation: %d samples held out of %d training samples",
                        n_val, train->n);
    const Dataset fit = dataset_view(train, 0, train->n - n_val);
    const Dataset val = dataset_view(train, train->n - n_val, n_val);
    train = &fit;
    GridPoint gp = grid_point(spec, index);
    NetConfig net_cfg;
    TrainConfig cfg;
    uint64_t seed;
    grid_point_config(spec, gp, dataset_shape(train), train->classes, &net_cfg, &cfg, &seed);
    res->index = index;
    grid_key(spec, gp, res->key, sizeof res->key);
    res->epochs = cfg.epochs;
    res->n_layers = nn_weight_views(&net_cfg, NULL);
    res->n_params = nn_param_count(&net_cfg);
    alloc_metrics(res, cfg.epochs, res->n_layers);

    Trainer *t = trainer_new(&net_cfg, &cfg, seed);
    if (!t) {
        res->status = POINT_FAILED;
        snprintf(res->message, sizeof res->message,
                 "out of memory building the net (%zu parameters, batch %d)", res->n_params,
                 cfg.batch_size);
        res->wall_seconds = bps_now() - t0;
        return 0;
    }
    t->hook = opt->hook;
    t->hook_ctx = opt->hook_ctx;
    if (opt->load_state && load_state(t, opt->load_state, err) != 0) {
        trainer_free(t);
        return -1;
    }
    Checkpointer ck = {opt, bps_now(), false};
    /* a state that does not load leaves the fresh trainer untouched: start over */
    if (opt->checkpoint && access(opt->checkpoint, F_OK) == 0 &&
        load_state(t, opt->checkpoint, err) != 0) {
        fprintf(opt->warn ? opt->warn : stderr,
                "bpsweep: warning: point %lld: ignoring its checkpoint and starting over: %s\n",
                (long long)index, err->msg);
        unlink(opt->checkpoint);
    }
    if (opt->checkpoint || opt->should_stop) {
        t->should_stop = between_steps;
        t->stop_ctx = &ck;
    }
    /* init.construct: the linear fit stops and checkpoints between its iterations like
     * training between steps (a loaded state may hold it half done, or done) */
    if (t->cfit && !t->constructed && !ck.stopped)
        trainer_construct(t, train, test);
    /* train.lr_sharpness: the learning rate from the sharpness at the start (a loaded
     * state keeps it) */
    if (t->cfg.lr_sharpness > 0 && !(t->sharpness > 0) && !ck.stopped && !trainer_finished(t) &&
        (!t->cfit || t->constructed) && trainer_resolve_lr(t, train) != 0) {
        res->status = POINT_FAILED;
        snprintf(res->message, sizeof res->message,
                 "train.lr_sharpness: the Hessian's largest eigenvalue could not be measured "
                 "(no memory for %d Lanczos vectors of %zu parameters, or LAPACK failed)",
                 TRAIN_SHARPNESS_ITERATIONS, res->n_params);
        trainer_free(t);
        res->wall_seconds = bps_now() - t0;
        return 0;
    }
    while (!trainer_finished(t) && (opt->stop_after <= 0 || t->epoch < opt->stop_after) &&
           !ck.stopped && (!t->cfit || t->constructed)) {
        if (opt->epoch_start)
            opt->epoch_start(opt->epoch_ctx, index, t->epoch);
        int rc = trainer_epoch(t, train, test);
        if (rc == 0)
            ntk_epoch_probe(t, spec, seed, train);
        if (rc != 2 && opt->log)
            log_epoch(opt->log, t);
        if (!trainer_finished(t) && !ck.stopped)
            between_steps(&ck, t); /* an epoch boundary counts as a place to stop */
    }
    res->epochs_run = t->epoch;
    res->diverged_epoch = t->diverged_epoch;
    record_curves(t, res);
    /* where training stopped: after stop_after's epoch, or at the end */
    int rc = opt->save_state ? save_state(t, opt->save_state, err) : 0;
    if (!trainer_finished(t)) {
        res->status = POINT_PENDING;
        if (ck.stopped && opt->checkpoint && save_state(t, opt->checkpoint, err) != 0)
            fprintf(opt->warn ? opt->warn : stderr,
                    "bpsweep: error: point %lld: cannot write its checkpoint, its progress is "
                    "lost: %s\n", (long long)index, err->msg);
    } else {
        res->status = t->diverged_epoch ? POINT_DIVERGED : POINT_DONE;
        measure(t, spec, seed, train, test, &val, res);
        if (opt->keep_weights) {
            res->weights = xmalloc(res->n_params * sizeof(float));
            memcpy(res->weights, t->net->params, res->n_params * sizeof(float));
        }
    }
    trainer_free(t);
    res->wall_seconds = bps_now() - t0;
    return rc;
}

void point_result_free(PointResult *res)
{
    if (!res)
        return;
    for (int m = 0; m < N_METRICS; m++) {
        free(res->metric[m]);
        res->metric[m] = NULL;
    }
    free(res->weights);
    free(res->ntk0);
    free(res->ntk1);
    free(res->spectra);
    free(res->robust_test);
    free(res->robust_train);
    res->weights = res->ntk0 = res->ntk1 = res->spectra = NULL;
    res->robust_test = res->robust_train = NULL;
}
