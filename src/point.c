/* point: one grid point from initialisation (or a saved state) to its result. */
#include "bpsweep/point.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Final measurements of a finished (or diverged) run. */
static void measure(Trainer *t, const Dataset *train, const Dataset *test, PointResult *res)
{
    const Net *net = t->net;
    res->n_layers = net->n_layers;
    res->layers = xcalloc((size_t)net->n_layers, sizeof *res->layers);
    res->param_hash = metrics_param_hash(net);
    res->param_norm = metrics_param_norm(net);
    if (res->status == POINT_DIVERGED) {
        res->final_train_loss = res->final_train_acc = NAN;
        res->final_test_loss = res->final_test_acc = NAN;
        for (int l = 0; l < net->n_layers; l++)
            res->layers[l].frobenius = res->layers[l].spectral =
                res->layers[l].effective_rank = NAN;
        return;
    }
    trainer_evaluate(t, train, &res->final_train_loss, &res->final_train_acc);
    trainer_evaluate(t, test, &res->final_test_loss, &res->final_test_acc);
    metrics_layer_stats(net, res->layers);
}

int point_train(const Spec *spec, int64_t index, const Dataset *train, const Dataset *test,
                const PointOptions *opt, PointResult *res, BpsErr *err)
{
    double t0 = bps_now();
    memset(res, 0, sizeof *res);
    if (index < 0 || index >= grid_size(spec))
        return bps_fail(err, "point %lld: out of range (the grid has %lld points)",
                        (long long)index, (long long)grid_size(spec));
    GridPoint gp = grid_point(spec, index);
    NetConfig net_cfg;
    TrainConfig cfg;
    uint64_t seed;
    grid_point_config(spec, gp, train->d, train->classes, &net_cfg, &cfg, &seed);
    res->index = index;
    grid_key(spec, gp, res->key, sizeof res->key);

    Trainer *t = trainer_new(&net_cfg, &cfg, seed);
    t->hook = opt->hook;
    t->hook_ctx = opt->hook_ctx;
    if (opt->load_state) {
        char *buf;
        size_t n;
        if (bps_read_file(opt->load_state, &buf, &n, err) != 0 ||
            trainer_state_load(t, buf, n, err) != 0) {
            if (buf)
                free(buf);
            trainer_free(t);
            return -1;
        }
        free(buf);
    }
    while (!trainer_finished(t) && (opt->stop_after <= 0 || t->epoch < opt->stop_after)) {
        trainer_epoch(t, train, test);
        if (opt->log)
            log_epoch(opt->log, t);
    }
    res->epochs = cfg.epochs;
    res->epochs_run = t->epoch;
    res->diverged_epoch = t->diverged_epoch;
    res->n_params = t->net->n_params;
    res->history = xcalloc((size_t)(cfg.epochs > 0 ? cfg.epochs : 1), sizeof *res->history);
    memcpy(res->history, t->history, (size_t)t->epoch * sizeof *res->history);
    if (!trainer_finished(t)) {
        res->status = POINT_PENDING;
        if (opt->save_state) {
            size_t n;
            void *buf = trainer_state_save(t, &n);
            int rc = bps_write_file_atomic(opt->save_state, buf, n, err);
            free(buf);
            if (rc != 0) {
                trainer_free(t);
                point_result_free(res);
                return -1;
            }
        }
    } else {
        res->status = t->diverged_epoch ? POINT_DIVERGED : POINT_DONE;
        measure(t, train, test, res);
    }
    trainer_free(t);
    res->wall_seconds = bps_now() - t0;
    return 0;
}

void point_result_free(PointResult *res)
{
    if (!res)
        return;
    free(res->history);
    free(res->layers);
    res->history = NULL;
    res->layers = NULL;
}
