/* cli: `bpsweep train`, help and version. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/cli.h"

#include <cblas.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <mpi.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpsweep/data.h"
#include "bpsweep/export.h"
#include "bpsweep/grid.h"
#include "bpsweep/lock.h"
#include "bpsweep/plan.h"
#include "bpsweep/point.h"
#include "bpsweep/progress.h"
#include "bpsweep/sched.h"
#include "bpsweep/spec.h"
#include "bpsweep/store.h"
#include "bpsweep/util.h"
#include "bpsweep_commit.h" /* BPSWEEP_COMMIT, generated at build time */

static const char USAGE[] =
    "usage: bpsweep <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SPEC -o FILE       run the whole grid of SPEC into the HDF5 results FILE;\n"
    "                         start with mpirun/srun for P ranks (1 coordinator, P-1\n"
    "                         workers) or alone to run serially. If FILE exists and\n"
    "                         holds the same sweep, it is resumed\n"
    "  resume FILE            resume the sweep of FILE (the spec is read from it), at\n"
    "                         any rank count\n"
    "  extend OLD SPEC -o NEW write NEW for SPEC, a strict extension of OLD's sweep (more\n"
    "                         values on an axis), with OLD's finished rows carried over\n"
    "                         by point key; OLD is not modified; then resume NEW\n"
    "  status FILE            points done/running/pending/failed/diverged per\n"
    "                         architecture and the best test accuracy so far\n"
    "  export FILE --csv OUT  one row per point: coordinates, status, scalar metrics\n"
    "  verify FILE            check every finished row against its checksum and list the\n"
    "                         damaged points (exit 4 if there are any)\n"
    "  plan SPEC [--ranks P]  points, core-hours, wall time on P ranks, memory per\n"
    "                         rank and results-file size, from a short calibration\n"
    "  train SPEC --point K   train grid point K of SPEC in this process\n"
    "  train SPEC --list      print the grid: index, key, parameters\n"
    "\n"
    "run and resume options:\n"
    "  -o, --output FILE      results file (run)\n"
    "  --max-attempts N       attempts per point before it stays failed (default 3)\n"
    "  --retry-failed         give failed points new attempts when resuming\n"
    "  --checkpoint-interval S  seconds between checkpoints of a point in flight\n"
    "                         (default 60)\n"
    "  --deadline T           stop cleanly before T: Unix seconds, or +S for S seconds\n"
    "                         from now (default: $SLURM_JOB_END_TIME if set); no point\n"
    "                         is started that cannot finish or reach a checkpoint in time\n"
    "  --drain S              stop this many seconds before the deadline (default 10)\n"
    "  --progress-interval S  seconds between progress lines when stderr is not a\n"
    "                         terminal (default 30)\n"
    "  --log-points           a line for every point that ends or is interrupted: its\n"
    "                         key, status, rank, seconds and test accuracy (job logs)\n"
    "\n"
    "train options:\n"
    "  --point K              the point's index (see --list)\n"
    "  --stop-after E         stop after epoch E (with --save-state: save and exit)\n"
    "  --save-state FILE      where --stop-after writes the trainer state\n"
    "  --load-state FILE      continue from a saved trainer state of the same point\n"
    "  --quiet                no per-epoch lines\n"
    "\n"
    "exit codes (the same through mpirun and srun):\n"
    "  0  success\n"
    "  1  internal or system error\n"
    "  2  bad input: spec, data files, command line, an output file of another sweep,\n"
    "     a results file locked by another sweep\n"
    "  3  incomplete: stopped by a signal (SIGTERM, SIGINT, SIGUSR1) or the deadline;\n"
    "     run the same command again (or bpsweep resume FILE) to continue\n"
    "  4  the sweep finished, but some points failed on every attempt; verify: the\n"
    "     file has damaged rows\n";

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

/* ---- run -------------------------------------------------------------------------- */

typedef struct {
    const char *spec_path;  /* run: SPEC; resume: NULL (the spec is in the file) */
    SweepOptions sweep;
} RunArgs;

static int parse_seconds(const char *val, double *out)
{
    char *end;
    double v = val ? strtod(val, &end) : 0;
    if (!val || *end || !(v >= 0) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

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
    if (env_end && *env_end && (parse_seconds(env_end, &o->deadline) != 0 || o->deadline < 1)) {
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
            if (!val || parse_int(val, 1, 255, &n) != 0)
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
            if (parse_seconds(val, dst) != 0 || (opt[2] == 'p' && *dst == 0))
                return snprintf(msg, len, "%s expects seconds", opt), -1;
            i++;
        } else if (strcmp(opt, "--deadline") == 0) {
            double v;
            if (parse_seconds(val && val[0] == '+' ? val + 1 : val, &v) != 0)
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

/* resume: rank 0 reads the spec stored in the results file (validating the file as
 * every command does, store_reader_open) and sends it to all. */
static int spec_from_results(MPI_Comm comm, const char *path, Spec **spec, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    StoreReader *r = NULL;
    long long len = -1;
    if (rank == 0 && store_reader_open(path, &r, err) == 0)
        len = (long long)strlen(store_reader_spec(r)->canonical);
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
    if (len < 0) {
        if (rank != 0)
            bps_fail(err, "%s: cannot read the results file", path);
        return -1;
    }
    char *json = rank == 0 ? xstrdup(store_reader_spec(r)->canonical) : xmalloc((size_t)len + 1);
    store_reader_close(r);
    MPI_Bcast(json, (int)len + 1, MPI_CHAR, 0, comm);
    int rc = spec_parse(json, path, spec, err);
    free(json);
    return rc;
}

static int cmd_run(int argc, char **argv, bool resume)
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
            fprintf(stderr, "bpsweep: %s\n(see bpsweep --help)\n", msg);
        code = BPS_EXIT_BADINPUT;
    } else if (resume ? spec_from_results(MPI_COMM_WORLD, a.sweep.output, &spec, &err) != 0
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

/* ---- status and export ----------------------------------------------------------------- */

/* Adds a chunk of the results file's rows to a Progress summary (progress_init'ed). */
static void progress_add_rows(const StoreTable *t, Progress *p)
{
    for (int64_t i = 0; i < t->n_rows; i++) {
        ProgressArch *a = &p->arch[t->arch[i]];
        int64_t *slot[2] = {NULL, NULL};
        switch ((PointStatus)t->status[i]) {
        case POINT_DONE:
            slot[0] = &a->n.done, slot[1] = &p->n.done;
            break;
        case POINT_DIVERGED:
            slot[0] = &a->n.diverged, slot[1] = &p->n.diverged;
            break;
        case POINT_FAILED:
            slot[0] = &a->n.failed, slot[1] = &p->n.failed;
            break;
        default:
            slot[0] = &a->n.pending, slot[1] = &p->n.pending;
            break;
        }
        (*slot[0])++;
        (*slot[1])++;
        double acc = t->scalar[M_final_test_acc][i];
        if (t->status[i] == POINT_DONE && isfinite(acc) &&
            (!isfinite(a->best_test_acc) || acc > a->best_test_acc))
            a->best_test_acc = acc;
    }
}

/* A progress file counts as live while its sweep says it is running, has written it
 * within the last minute (the coordinator rewrites it at least every 10 s; a time in
 * the future is not believed), and the results file's lock is held by the process the
 * progress file names, alive if it runs on this host. */
static bool progress_is_live(const Progress *p, const char *results)
{
    double age = progress_clock() - p->updated;
    return strcmp(p->state, "running") == 0 && age < 60.0 && age > -5.0 &&
           lock_held_by(results, p->host, p->pid);
}

static int cmd_status(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return usage_error("status: expects exactly one results FILE");
    const char *path = argv[0];
    char ppath[4096];
    progress_path(path, ppath, sizeof ppath);
    BpsErr err;
    Progress p;
    if (progress_read(ppath, &p, &err) == 0 && progress_is_live(&p, path)) {
        char line[512];
        printf("%s: sweep running on %s (pid %ld); progress file updated %.0f s ago\n", path,
               p.host, p.pid, progress_clock() - p.updated);
        progress_line(&p, progress_clock(), line, sizeof line);
        printf("%s\n\n", line);
        progress_print_table(stdout, &p);
        progress_free(&p);
        return BPS_EXIT_OK;
    }
    progress_free(&p);
    /* the file in chunks (bounded memory), validated as every command does */
    StoreReader *r = NULL;
    if (store_reader_open(path, &r, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    const Spec *spec = store_reader_spec(r);
    progress_init(&p, spec, "file");
    StoreTable t = {0};
    int got;
    int64_t damaged = 0;
    while ((got = store_reader_next(r, &t, &err)) == 1) {
        progress_add_rows(&t, &p);
        damaged += t.n_damaged;
    }
    if (got == 0)
        printf("%s: %s, %lld points, spec %s, created %s\n", path, spec->name,
               (long long)t.shape.n_points, t.spec_hash, t.created ? t.created : "?");
    if (got == 0)
        progress_print_table(stdout, &p);
    if (got == 0 && damaged > 0)
        fprintf(stderr, "bpsweep: warning: %s: %lld damaged rows (their checksums do not match) "
                "are counted as pending; bpsweep verify %s lists them, resuming computes them "
                "again\n", path, (long long)damaged, path);
    else if (got != 0)
        fprintf(stderr, "bpsweep: %s\n", err.msg);
    progress_free(&p);
    store_table_free(&t);
    store_reader_close(r);
    return got == 0 ? BPS_EXIT_OK : BPS_EXIT_BADINPUT;
}

/* verify: every row of the file against its checksum; the damaged points listed. */
static int cmd_verify(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return usage_error("verify: expects exactly one results FILE");
    const char *path = argv[0];
    BpsErr err;
    StoreReader *r = NULL;
    if (store_reader_open(path, &r, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    StoreTable t = {0};
    int got;
    int64_t damaged = 0, finished = 0, n = 0;
    int version = 0;
    while ((got = store_reader_next(r, &t, &err)) == 1) {
        version = t.format_version;
        n = t.shape.n_points;
        for (int64_t i = 0; i < t.n_rows; i++) {
            finished += t.status[i] != POINT_PENDING;
            if (t.damaged[i])
                printf("damaged %lld %.*s\n", (long long)(t.first + i), (int)sizeof t.key[i],
                       t.key[i]);
        }
        damaged += t.n_damaged;
    }
    store_table_free(&t);
    store_reader_close(r);
    if (got != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    printf("%s: %lld points, %lld finished rows checked, %lld damaged%s\n", path, (long long)n,
           (long long)finished, (long long)damaged,
           version < 2 ? " (format version 1 has no row checksums: only status bytes and "
                         "axis indices were checked)"
                       : "");
    if (damaged > 0)
        printf("resume the sweep (bpsweep resume %s) to compute the damaged points again\n",
               path);
    return damaged > 0 ? BPS_EXIT_POINTS_FAILED : BPS_EXIT_OK;
}

/* Whether path is an HDF5 file: its signature at offset 0, 512, 1024, 2048, ... */
static bool is_hdf5_file(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    bool found = false;
    for (long off = 0; !found && off <= (1L << 20); off = off ? 2 * off : 512) {
        unsigned char buf[8];
        found = fseek(f, off, SEEK_SET) == 0 && fread(buf, 1, 8, f) == 8 &&
                memcmp(buf, sig, 8) == 0;
    }
    fclose(f);
    return found;
}

static bool same_file(const struct stat *a, const char *path)
{
    struct stat b;
    return stat(path, &b) == 0 && a->st_dev == b.st_dev && a->st_ino == b.st_ino;
}

/* export writes only CSV: it refuses a target that is an HDF5 file, the results file
 * itself, or one of its companions (lock, progress file, checkpoint folder and what is
 * in it), which replacing would destroy a sweep. */
static int check_csv_target(const char *results, const char *csv, BpsErr *err)
{
    char parent[4200], companion[4200];
    snprintf(parent, sizeof parent, "%s", csv);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0'; /* "/name": the parent is "/" */
    else if (slash)
        *slash = '\0';
    snprintf(companion, sizeof companion, "%s.ckpt", results);
    struct stat st;
    if (stat(companion, &st) == 0 && same_file(&st, slash ? parent : "."))
        return bps_fail(err, "%s: is in the sweep's checkpoint folder %s", csv, companion);
    if (stat(csv, &st) != 0)
        return 0; /* nothing there yet: a new file */
    if (S_ISDIR(st.st_mode))
        return bps_fail(err, "%s: is a directory", csv);
    const char *suffix[] = {"", ".lock", ".progress.json"};
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        snprintf(companion, sizeof companion, "%s%s", results, suffix[i]);
        if (same_file(&st, companion))
            return bps_fail(err, "%s: is %s%s; export writes a new CSV file: choose another "
                            "name", csv, i ? "the sweep's " : "the results file", suffix[i]);
    }
    if (is_hdf5_file(csv))
        return bps_fail(err, "%s: is an HDF5 file, not a CSV file; export does not write over "
                        "it", csv);
    return 0;
}

static int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *csv = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv = argv[++i];
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else
            return usage_error("export: unexpected argument '%s'", argv[i]);
    }
    if (!in || !csv)
        return usage_error("export: expects FILE --csv OUT");
    BpsErr err;
    if (check_csv_target(in, csv, &err) != 0 || export_csv(in, csv, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    return BPS_EXIT_OK;
}

static int cmd_plan(int argc, char **argv)
{
    const char *spec_path = NULL;
    long long ranks = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--ranks") == 0) {
            if (i + 1 >= argc || parse_int(argv[i + 1], 1, 1 << 24, &ranks) != 0)
                return usage_error("--ranks expects a positive integer");
            i++;
        } else if (argv[i][0] != '-' && !spec_path) {
            spec_path = argv[i];
        } else {
            return usage_error("plan: unexpected argument '%s'", argv[i]);
        }
    }
    if (!spec_path)
        return usage_error("plan: missing SPEC");
    BpsErr err;
    Spec *spec = NULL;
    Dataset train = {0}, test = {0};
    DataProvenance prov = {0};
    Plan plan;
    int rc = BPS_EXIT_BADINPUT;
    if (spec_load(spec_path, &spec, &err) == 0 &&
        dataset_load_compact(&spec->data, &train, &test, &prov, &err) == 0 &&
        spec_check_nets(spec, dataset_shape(&train), train.classes, spec_path, &err) == 0 &&
        spec_check_augment(spec, dataset_shape(&train), spec_path, &err) == 0 &&
        plan_make(spec, (int)ranks, &train, &test, &plan, &err) == 0) {
        plan.data = &prov;
        plan_print(stdout, spec, &plan);
        plan_free(&plan);
        rc = BPS_EXIT_OK;
    } else {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
    }
    dataset_free(&train);
    dataset_free(&test);
    data_provenance_free(&prov);
    spec_free(spec);
    return rc;
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

static int cmd_extend(int argc, char **argv)
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
            return usage_error("extend: unexpected argument '%s'", argv[i]);
    }
    if (!old_path || !spec_path || !out)
        return usage_error("extend: expects OLD.h5 NEW_SPEC -o NEW.h5");
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
        spec_check_augment(spec, dataset_shape(&train), spec_path, &err) != 0 ||
        store_create(MPI_COMM_SELF, out, spec, &prov, dataset_shape(&train), train.classes, NULL,
                     &err) != 0 ||
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
    if (strcmp(argv[1], "run") == 0 || strcmp(argv[1], "resume") == 0)
        return cmd_run(argc - 2, argv + 2, strcmp(argv[1], "resume") == 0);
    if (strcmp(argv[1], "status") == 0)
        return cmd_status(argc - 2, argv + 2);
    if (strcmp(argv[1], "export") == 0)
        return cmd_export(argc - 2, argv + 2);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 2, argv + 2);
    if (strcmp(argv[1], "plan") == 0)
        return cmd_plan(argc - 2, argv + 2);
    if (strcmp(argv[1], "extend") == 0)
        return cmd_extend(argc - 2, argv + 2);
    return usage_error("unknown command '%s'", argv[1]);
}
