/* cli_sweep: `bpsweep run`, `resume` and `extend` - the commands that compute a sweep
 * into its results file. */
#define _POSIX_C_SOURCE 200809L
#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/point.h"
#include "bpsweep/progress.h"
#include "bpsweep/sched.h"
#include "bpsweep/spec.h"
#include "bpsweep/store.h"
#include "bpsweep/util.h"
#include "cli_internal.h"

/* ---- run -------------------------------------------------------------------------- */

typedef struct {
    const char *spec_path;  /* run: SPEC; resume: NULL (the spec is in the file) */
    SweepOptions sweep;
} RunArgs;

/* Parses `run` and `resume` arguments; identical on every rank, so every rank decides
 * alike. resume: the one positional argument is the results file. */
static int parse_run_args(int argc, char **argv, bool resume, RunArgs *a, char *msg, size_t len)
{
    memset(a, 0, sizeof *a);
    SweepOptions *o = &a->sweep;
    o->max_attempts = 3;
    o->progress_interval = 30.0;
    o->checkpoint_interval = 60.0;
    o->drain_seconds = 10.0;
    o->log = stderr;
    /* set by Slurm; a value that is not a time is ignored, with a warning */
    const char *env_end = getenv("SLURM_JOB_END_TIME");
    if (env_end && *env_end && (cli_parse_seconds(env_end, &o->deadline) != 0 || o->deadline < 1)) {
        fprintf(stderr, "bpsweep: warning: SLURM_JOB_END_TIME is not a Unix time; ignored\n");
        o->deadline = 0;
    }
    const char *cmd = resume ? "resume" : "run";
    for (int i = 0; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long long n;
        if (!resume && (strcmp(opt, "-o") == 0 || strcmp(opt, "--output") == 0)) {
            if (!val)
                return snprintf(msg, len, "%s expects a file name", opt), -1;
            o->output = val;
            i++;
        } else if (strcmp(opt, "--max-attempts") == 0) {
            if (!val || cli_parse_int(val, 1, 255, &n) != 0)
                return snprintf(msg, len, "--max-attempts expects an integer 1..255"), -1;
            o->max_attempts = (int)n;
            i++;
        } else if (strcmp(opt, "--retry-failed") == 0) {
            o->retry_failed = true;
        } else if (strcmp(opt, "--log-points") == 0) {
            o->log_points = true;
        } else if (strcmp(opt, "--progress-interval") == 0 ||
                   strcmp(opt, "--checkpoint-interval") == 0 || strcmp(opt, "--drain") == 0) {
            double *dst = opt[2] == 'p' ? &o->progress_interval
                          : opt[2] == 'c' ? &o->checkpoint_interval
                                          : &o->drain_seconds;
            if (cli_parse_seconds(val, dst) != 0 || (opt[2] == 'p' && *dst == 0))
                return snprintf(msg, len, "%s expects seconds", opt), -1;
            i++;
        } else if (strcmp(opt, "--deadline") == 0) {
            double v;
            if (cli_parse_seconds(val && val[0] == '+' ? val + 1 : val, &v) != 0)
                return snprintf(msg, len, "--deadline expects Unix seconds or +seconds"), -1;
            o->deadline = val[0] == '+' ? progress_clock() + v : v;
            if (o->deadline < 1) /* 0 means "none" inside; a time in the past stops at once */
                o->deadline = 1;
            i++;
        } else if (opt[0] == '-') {
            return snprintf(msg, len, "%s: unknown option '%s'", cmd, opt), -1;
        } else if (resume && !o->output) {
            o->output = opt;
        } else if (!resume && !a->spec_path) {
            a->spec_path = opt;
        } else {
            return snprintf(msg, len, "%s: unexpected argument '%s'", cmd, opt), -1;
        }
    }
    if (!resume && !a->spec_path)
        return snprintf(msg, len, "run: missing SPEC"), -1;
    if (!o->output)
        return snprintf(msg, len, resume ? "resume: missing FILE (the results file)"
                                         : "run: missing -o FILE (the results file)"), -1;
    return 0;
}

static int run_or_resume(int argc, char **argv, bool resume)
{
    MPI_Init(NULL, NULL);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    RunArgs a;
    char msg[256];
    int code;
    Spec *spec = NULL;
    BpsErr err;
    if (parse_run_args(argc, argv, resume, &a, msg, sizeof msg) != 0) {
        if (rank == 0)
            fprintf(stderr, "bpsweep: %s\n(see bpsweep %s --help)\n", msg,
                    resume ? "resume" : "run");
        code = BPS_EXIT_BADINPUT;
    } else if (resume ? store_read_spec(MPI_COMM_WORLD, a.sweep.output, &spec, &err) != 0
                      : spec_load(a.spec_path, &spec, &err) != 0) {
        /* every rank reads the same file and sees the same error */
        if (rank == 0)
            fprintf(stderr, "bpsweep: %s\n", err.msg);
        code = BPS_EXIT_BADINPUT;
    } else {
        code = sched_run(MPI_COMM_WORLD, spec, &a.sweep);
    }
    spec_free(spec);
    MPI_Finalize();
    return code;
}

int cmd_run(int argc, char **argv)
{
    return run_or_resume(argc, argv, false);
}

int cmd_resume(int argc, char **argv)
{
    return run_or_resume(argc, argv, true);
}

/* Index of name in the names of n items of a given stride, or -1. */
static int find_name(const char *base, size_t stride, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(base + (size_t)i * stride, name) == 0)
            return i;
    return -1;
}

static int find_value(const double *v, int n, double x)
{
    for (int i = 0; i < n; i++)
        if (v[i] == x)
            return i;
    return -1;
}

/* Row of every point of the old file in the new grid (by its coordinates' values). */
static int64_t *extension_map(const Spec *old, const Spec *new_, const StoreTable *t)
{
    int64_t n = t->shape.n_points, *map = xmalloc((size_t)n * sizeof *map);
    for (int64_t i = 0; i < n; i++) {
        GridPoint gp = {
            find_name(new_->arch[0].name, sizeof new_->arch[0], new_->n_arch,
                      old->arch[t->arch[i]].name),
            find_name(new_->cond[0].name, sizeof new_->cond[0], new_->n_cond,
                      old->cond[t->cond[i]].name),
            find_value(new_->norm_bias, new_->n_nb, old->norm_bias[t->nb[i]]),
            find_value(new_->weight_decay, new_->n_wd, old->weight_decay[t->wd[i]]),
            -1};
        for (int k = 0; k < new_->n_seed; k++)
            if (new_->seed[k] == old->seed[t->seed_index[i]])
                gp.seed = k;
        /* a strict extension has every old value: can't-happen guard all the same */
        bool found = gp.arch >= 0 && gp.cond >= 0 && gp.nb >= 0 && gp.wd >= 0 && gp.seed >= 0;
        map[i] = found ? grid_index(new_, gp) : -1;
    }
    return map;
}

int cmd_extend(int argc, char **argv)
{
    const char *old_path = NULL, *spec_path = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < argc)
            out = argv[++i];
        else if (argv[i][0] != '-' && !old_path)
            old_path = argv[i];
        else if (argv[i][0] != '-' && !spec_path)
            spec_path = argv[i];
        else
            return cli_usage_error("extend", "extend: unexpected argument '%s'", argv[i]);
    }
    if (!old_path || !spec_path || !out)
        return cli_usage_error("extend", "extend: expects OLD.h5 NEW_SPEC -o NEW.h5");
    MPI_Init(NULL, NULL);
    BpsErr err;
    StoreTable t = {0};
    Spec *old = NULL, *spec = NULL;
    Dataset train = {0}, test = {0};
    DataProvenance prov = {0};
    Store *st = NULL;
    int64_t *map = NULL;
    char *problems = NULL;
    int rc = BPS_EXIT_BADINPUT;
    if (store_read_table(old_path, &t, &err) != 0 || spec_parse(t.spec_json, old_path, &old, &err) != 0 ||
        spec_load(spec_path, &spec, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        goto done;
    }
    problems = spec_extension_problems(old, spec);
    if (*problems) {
        fprintf(stderr, "bpsweep: %s is not a strict extension of the sweep in %s:\n%s", spec_path,
                old_path, problems);
        goto done;
    }
    if (dataset_load_compact(&spec->data, &train, &test, &prov, &err) != 0 ||
        spec_check_nets(spec, dataset_shape(&train), train.classes, spec_path, &err) != 0 ||
        spec_check_augment(spec, dataset_shape(&train), spec_path, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        goto done;
    }
    StoreShape shape = point_store_shape(spec, dataset_shape(&train), train.classes);
    if (store_create_shaped(MPI_COMM_SELF, out, spec, &shape, &prov, NULL, &err) != 0 ||
        store_open(MPI_COMM_SELF, out, &st, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        goto done;
    }
    /* the carried-over rows were computed from the data OLD was created with */
    data_provenance_compare(&prov, t.data_files, old_path, stderr);
    map = extension_map(old, spec, &t);
    if (store_copy_rows(st, old_path, map, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        rc = BPS_EXIT_ERROR;
        goto done;
    }
    int64_t copied = 0;
    for (int64_t i = 0; i < t.shape.n_points; i++)
        copied += t.status[i] != POINT_PENDING && map[i] >= 0;
    printf("%s: %lld points; %lld finished rows carried over from %s, %lld to run "
           "(bpsweep resume %s)\n", out, (long long)grid_size(spec), (long long)copied, old_path,
           (long long)(grid_size(spec) - copied), out);
    rc = BPS_EXIT_OK;
done:
    if (st && store_close(st, &err) != 0 && rc == BPS_EXIT_OK) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        rc = BPS_EXIT_ERROR;
    }
    free(map);
    free(problems);
    dataset_free(&train);
    dataset_free(&test);
    data_provenance_free(&prov);
    spec_free(old);
    spec_free(spec);
    store_table_free(&t);
    MPI_Finalize();
    return rc;
}
