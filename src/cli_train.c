/* cli_train: `bpsweep train` - one grid point in this process, its grid (--list) and
 * its batch order (--print-order). */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/nn.h"
#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/train.h"
#include "bpsweep/util.h"
#include "cli_internal.h"

/* Every result with 17 significant digits, one "result" line per value, so that two
 * runs can be compared bit for bit with diff. */
static void print_result(const PointResult *r)
{
    printf("result index %lld\n", (long long)r->index);
    printf("result key %s\n", r->key);
    printf("result status %s\n", point_status_name(r->status));
    if (r->message[0])
        printf("result message %s\n", r->message);
    printf("result epochs_run %d\n", r->epochs_run);
    printf("result diverged_epoch %d\n", r->diverged_epoch);
    printf("result n_params %zu\n", r->n_params);
    for (int m = 0; m < N_METRICS; m++) {
        printf("result %s", POINT_METRIC_DEFS[m].name);
        for (int i = 0; i < r->metric_len[m]; i++)
            printf(" %.17g", r->metric[m][i]);
        printf("\n");
    }
    for (int i = 0; r->robust_test && i < r->n_eps; i++)
        printf("result robust_eps%d %.17g %.17g\n", i, r->robust_test[i], r->robust_train[i]);
    for (int l = 0; r->spectra && l < r->n_layers; l++) {
        printf("result spectrum%d", l);
        for (int i = 0; i < r->spectra_rank; i++)
            printf(" %.9g", (double)r->spectra[(size_t)l * (size_t)r->spectra_rank + (size_t)i]);
        printf("\n");
    }
    /* the kernels' diagonals and first rows: enough to tell two kernels apart */
    const float *kernel[2] = {r->ntk0, r->ntk1};
    for (int k = 0; k < 2; k++) {
        if (!kernel[k])
            continue;
        printf("result ntk%d_diagonal_row0", k);
        for (int i = 0; i < r->ntk_m; i++)
            printf(" %.9g", (double)kernel[k][(size_t)i * (size_t)r->ntk_m + (size_t)i]);
        for (int i = 0; i < r->ntk_m; i++)
            printf(" %.9g", (double)kernel[k][i]);
        printf("\n");
    }
    if (r->status == POINT_DONE || r->status == POINT_DIVERGED)
        printf("result param_hash %016llx\n", (unsigned long long)r->param_hash);
    printf("wall_seconds %.3f\n", r->wall_seconds);
}

static void list_grid(const Spec *spec, const Dataset *train)
{
    int64_t n = grid_size(spec);
    printf("# %lld points; spec hash %016llx\n", (long long)n, (unsigned long long)spec->hash);
    printf("# index  parameters  key\n");
    for (int64_t i = 0; i < n; i++) {
        GridPoint gp = grid_point(spec, i);
        NetConfig net;
        TrainConfig cfg;
        uint64_t seed;
        char key[GRID_KEY_MAX];
        grid_point_config(spec, gp, dataset_shape(train), train->classes, &net, &cfg, &seed);
        grid_key(spec, gp, key, sizeof key);
        printf("%7lld  %10zu  %s\n", (long long)i, nn_param_count(&net), key);
    }
}

/* --print-order: the epoch's sample indices, one line per batch, from the shuffle
 * stream replayed without training (train_epoch_order). */
static void print_order(const NetConfig *net, const TrainConfig *cfg, uint64_t seed,
                        int64_t point, int n, int epoch)
{
    uint32_t *order = xmalloc((size_t)n * sizeof *order);
    train_epoch_order(net, cfg, seed, n, epoch, order);
    int B = cfg->full_batch ? n : cfg->batch_size;
    printf("# point %lld epoch %d: %d samples, %s, batches of %d%s\n", (long long)point, epoch, n,
           cfg->full_batch ? "full batch" : cfg->shuffle ? "shuffled" : "data order", B,
           cfg->drop_last && n % B ? " (the last partial batch is dropped)" : "");
    for (int start = 0; start < n; start += B) {
        int end = start + B < n ? start + B : n;
        if (end - start < B && cfg->drop_last)
            break;
        for (int i = start; i < end; i++)
            printf(i > start ? " %u" : "%u", order[i]);
        printf("\n");
    }
    free(order);
}

/* --log-steps: the step hook prints every optimizer step; the epoch comes from the
 * epoch-start callback. */
typedef struct {
    int epoch;
} StepLog;

static void step_epoch(void *ctx, int64_t point, int epoch)
{
    (void)point;
    ((StepLog *)ctx)->epoch = epoch;
}

static void step_line(void *ctx, uint64_t step, const uint32_t *idx, int B, double loss)
{
    (void)idx;
    printf("step %llu epoch %d batch %d loss %.17g\n", (unsigned long long)step,
           ((StepLog *)ctx)->epoch, B, loss);
}

int cmd_train(int argc, char **argv)
{
    const char *spec_path = NULL;
    long long point = -1, stop_after = 0, order_epoch = -1;
    bool list = false, quiet = false, log_steps = false;
    PointOptions opt = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--log-steps") == 0) {
            log_steps = true;
        } else if (strcmp(a, "--point") == 0 || strcmp(a, "--stop-after") == 0 ||
                   strcmp(a, "--print-order") == 0) {
            long long *dst = a[3] == 'o' ? &point : a[3] == 't' ? &stop_after : &order_epoch;
            if (!val || cli_parse_int(val, 0, dst == &point ? INT64_MAX : INT32_MAX, dst) != 0)
                return cli_usage_error("train", "%s expects a non-negative integer", a);
            i++;
        } else if (strcmp(a, "--save-state") == 0 || strcmp(a, "--load-state") == 0) {
            if (!val)
                return cli_usage_error("train", "%s expects a file name", a);
            if (a[2] == 's')
                opt.save_state = val;
            else
                opt.load_state = val;
            i++;
        } else if (a[0] == '-') {
            return cli_usage_error("train", "train: unknown option '%s'", a);
        } else if (!spec_path) {
            spec_path = a;
        } else {
            return cli_usage_error("train", "train: unexpected argument '%s'", a);
        }
    }
    if (!spec_path)
        return cli_usage_error("train", "train: missing SPEC");
    if (!list && point < 0)
        return cli_usage_error("train", "train: give --point K or --list");
    if (order_epoch >= 0 && (list || stop_after || opt.save_state || opt.load_state || log_steps))
        return cli_usage_error("train", "train: --print-order only prints (with --point K)");

    BpsErr err;
    Spec *spec = NULL;
    if (spec_load(spec_path, &spec, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    if (point >= grid_size(spec)) {
        fprintf(stderr, "bpsweep: --point %lld: the grid of %s has %lld points (0..%lld)\n",
                point, spec_path, (long long)grid_size(spec), (long long)grid_size(spec) - 1);
        spec_free(spec);
        return BPS_EXIT_BADINPUT;
    }
    Dataset train = {0}, test = {0};
    if (dataset_load_compact(&spec->data, &train, &test, NULL, &err) != 0 ||
        spec_check_nets(spec, dataset_shape(&train), train.classes, spec_path, &err) != 0 ||
        spec_check_augment(spec, dataset_shape(&train), spec_path, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        dataset_free(&train);
        dataset_free(&test);
        spec_free(spec);
        return BPS_EXIT_BADINPUT;
    }
    int rc = BPS_EXIT_OK;
    NetConfig net;
    TrainConfig cfg;
    uint64_t seed;
    if (!list)
        grid_point_config(spec, grid_point(spec, point), dataset_shape(&train), train.classes,
                          &net, &cfg, &seed);
    if (list) {
        list_grid(spec, &train);
    } else if (order_epoch >= 0 && order_epoch >= cfg.epochs) {
        fprintf(stderr, "bpsweep: --print-order %lld: point %lld trains %d epochs (0..%d)\n",
                order_epoch, point, cfg.epochs, cfg.epochs - 1);
        rc = BPS_EXIT_BADINPUT;
    } else if (order_epoch >= 0) {
        print_order(&net, &cfg, seed, point, train.n, (int)order_epoch);
    } else {
        PointResult res;
        StepLog steps = {0};
        opt.stop_after = (int)stop_after;
        opt.log = quiet ? NULL : stdout;
        if (log_steps) {
            opt.hook = step_line;
            opt.hook_ctx = &steps;
            opt.epoch_start = step_epoch;
            opt.epoch_ctx = &steps;
        }
        char key[GRID_KEY_MAX];
        grid_key(spec, grid_point(spec, point), key, sizeof key);
        if (!quiet)
            printf("point %lld of %lld: %s (train %d x %d, validation %d, test %d)\n", point,
                   (long long)grid_size(spec), key, train.n - spec->data.validation, train.d,
                   spec->data.validation, test.n);
        if (point_train(spec, point, &train, &test, &opt, &res, &err) != 0) {
            fprintf(stderr, "bpsweep: %s\n", err.msg);
            rc = BPS_EXIT_BADINPUT;
        } else {
            print_result(&res);
            if (opt.save_state)
                printf("state %s after epoch %d\n", opt.save_state, res.epochs_run);
            if (res.status == POINT_FAILED) {
                fprintf(stderr, "bpsweep: point %lld failed: %s\n", point, res.message);
                rc = BPS_EXIT_ERROR;
            }
        }
        point_result_free(&res);
    }
    dataset_free(&train);
    dataset_free(&test);
    spec_free(spec);
    return rc;
}
