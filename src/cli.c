/* cli: `bpsweep train`, help and version. */
#include "bpsweep/cli.h"

#include <cblas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/util.h"

static const char USAGE[] =
    "usage: bpsweep <command> [options]\n"
    "\n"
    "commands:\n"
    "  train SPEC --point K   train grid point K of SPEC in this process\n"
    "  train SPEC --list      print the grid: index, key, parameters\n"
    "\n"
    "train options:\n"
    "  --point K              the point's index (see --list)\n"
    "  --stop-after E         stop after epoch E (with --save-state: save and exit)\n"
    "  --save-state FILE      where --stop-after writes the trainer state\n"
    "  --load-state FILE      continue from a saved trainer state of the same point\n"
    "  --quiet                no per-epoch lines\n"
    "\n"
    "exit codes:\n"
    "  0  success\n"
    "  1  internal or system error\n"
    "  2  bad input: spec, data files, command line\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bpsweep: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see bpsweep --help)\n");
    va_end(ap);
    return BPS_EXIT_BADINPUT;
}

static int parse_int(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

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
        grid_point_config(spec, gp, train->d, train->classes, &net, &cfg, &seed);
        grid_key(spec, gp, key, sizeof key);
        printf("%7lld  %10zu  %s\n", (long long)i, nn_param_count(&net), key);
    }
}

static int cmd_train(int argc, char **argv)
{
    const char *spec_path = NULL;
    long long point = -1, stop_after = 0;
    bool list = false, quiet = false;
    PointOptions opt = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (strcmp(a, "--point") == 0 || strcmp(a, "--stop-after") == 0) {
            long long *dst = a[2] == 'p' ? &point : &stop_after;
            if (!val || parse_int(val, 0, INT64_MAX, dst) != 0)
                return usage_error("%s expects a non-negative integer", a);
            i++;
        } else if (strcmp(a, "--save-state") == 0 || strcmp(a, "--load-state") == 0) {
            if (!val)
                return usage_error("%s expects a file name", a);
            if (a[2] == 's')
                opt.save_state = val;
            else
                opt.load_state = val;
            i++;
        } else if (a[0] == '-') {
            return usage_error("train: unknown option '%s'", a);
        } else if (!spec_path) {
            spec_path = a;
        } else {
            return usage_error("train: unexpected argument '%s'", a);
        }
    }
    if (!spec_path)
        return usage_error("train: missing SPEC");
    if (!list && point < 0)
        return usage_error("train: give --point K or --list");
    if (opt.save_state && stop_after <= 0)
        return usage_error("train: --save-state needs --stop-after");

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
    if (dataset_load(&spec->data, &train, &test, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        spec_free(spec);
        return BPS_EXIT_BADINPUT;
    }
    int rc = BPS_EXIT_OK;
    if (list) {
        list_grid(spec, &train);
    } else {
        PointResult res;
        opt.stop_after = (int)stop_after;
        opt.log = quiet ? NULL : stdout;
        char key[GRID_KEY_MAX];
        grid_key(spec, grid_point(spec, point), key, sizeof key);
        if (!quiet)
            printf("point %lld of %lld: %s (train %d x %d, test %d)\n", point,
                   (long long)grid_size(spec), key, train.n, train.d, test.n);
        if (point_train(spec, point, &train, &test, &opt, &res, &err) != 0) {
            fprintf(stderr, "bpsweep: %s\n", err.msg);
            rc = BPS_EXIT_BADINPUT;
        } else {
            print_result(&res);
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

int cli_main(int argc, char **argv)
{
    /* one BLAS thread per process: ranks are the parallelism, and bit-identical
     * results need a fixed reduction order */
    openblas_set_num_threads(1);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? BPS_EXIT_BADINPUT : BPS_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("bpsweep %s (commit %s)\n", BPSWEEP_VERSION, BPSWEEP_COMMIT);
        return BPS_EXIT_OK;
    }
    if (strcmp(argv[1], "train") == 0)
        return cmd_train(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", argv[1]);
}
