/* cli_results: `bpsweep status`, `verify`, `export` and `plan` - the commands that read
 * a results file or a spec and compute nothing of the sweep. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bpsweep/data.h"
#include "bpsweep/export.h"
#include "bpsweep/lock.h"
#include "bpsweep/plan.h"
#include "bpsweep/progress.h"
#include "bpsweep/spec.h"
#include "bpsweep/store_reader.h"
#include "bpsweep/util.h"
#include "cli_internal.h"

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

int cmd_status(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return cli_usage_error("status", "status: expects exactly one results FILE");
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
int cmd_verify(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return cli_usage_error("verify", "verify: expects exactly one results FILE");
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

int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *csv = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv = argv[++i];
        else if (argv[i][0] != '-' && !in)
            in = argv[i];
        else
            return cli_usage_error("export", "export: unexpected argument '%s'", argv[i]);
    }
    if (!in || !csv)
        return cli_usage_error("export", "export: expects FILE --csv OUT");
    BpsErr err;
    if (check_csv_target(in, csv, &err) != 0 || export_csv(in, csv, &err) != 0) {
        fprintf(stderr, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    return BPS_EXIT_OK;
}

int cmd_plan(int argc, char **argv)
{
    const char *spec_path = NULL;
    long long ranks = 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--ranks") == 0) {
            if (i + 1 >= argc || cli_parse_int(argv[i + 1], 1, 1 << 24, &ranks) != 0)
                return cli_usage_error("plan", "--ranks expects a positive integer");
            i++;
        } else if (argv[i][0] != '-' && !spec_path) {
            spec_path = argv[i];
        } else {
            return cli_usage_error("plan", "plan: unexpected argument '%s'", argv[i]);
        }
    }
    if (!spec_path)
        return cli_usage_error("plan", "plan: missing SPEC");
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
