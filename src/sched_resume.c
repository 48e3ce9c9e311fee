/* sched_resume: rank 0's look at an existing results file (the same sweep, what is
 * finished, damaged rows) and at the checkpoint folder before a sweep starts (see
 * sched_internal.h). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sched_internal.h"


/* Rank 0: a new file, or an existing one that must hold the same sweep. The file is
 * read in chunks (store_reader_next), keeping of each point only what the coordinator
 * needs - status, attempts and the final test accuracy, 13 bytes a point - in *table
 * (zeroed for a new file; its other arrays stay NULL). Damaged rows (a checksum that
 * does not match) read as pending: they are computed again, with a warning. Returns 0
 * or -1 with err. */
int sched_check_existing(const char *path, const Spec *spec, StoreTable *table, int *exists,
                         FILE *log, BpsErr *err)
{
    memset(table, 0, sizeof *table);
    *exists = access(path, F_OK) == 0;
    if (!*exists)
        return 0;
    StoreReader *r = NULL;
    if (store_reader_open(path, &r, err) != 0) {
        bps_err_prefix(err, "cannot resume");
        return -1;
    }
    char *diff = spec_diff(store_reader_spec(r), spec);
    int rc = 0;
    if (*diff)
        rc = bps_fail(err, "%s holds a different sweep; refusing to mix results. Differences "
                      "(file -> spec):\n%s(use another -o, `bpsweep resume %s`, or `bpsweep "
                      "extend` for a strict extension)", path, diff, path);
    free(diff);
    StoreTable chunk = {0};
    int got = 0;
    int64_t shown = 0;
    while (rc == 0 && (got = store_reader_next(r, &chunk, err)) == 1) {
        if (chunk.first == 0) {
            size_t n = (size_t)chunk.shape.n_points;
            table->shape = chunk.shape;
            table->n_rows = chunk.shape.n_points;
            table->status = xmalloc(n);
            table->attempts = xmalloc(n * sizeof *table->attempts);
            table->scalar[M_final_test_acc] = xmalloc(n * sizeof(double));
            table->data_files = chunk.data_files ? xstrdup(chunk.data_files) : NULL;
        }
        size_t at = (size_t)chunk.first, n = (size_t)chunk.n_rows;
        memcpy(table->status + at, chunk.status, n);
        memcpy(table->attempts + at, chunk.attempts, n * sizeof *table->attempts);
        memcpy(table->scalar[M_final_test_acc] + at, chunk.scalar[M_final_test_acc],
               n * sizeof(double));
        table->n_damaged += chunk.n_damaged;
        for (int64_t i = 0; i < chunk.n_rows && shown < 20; i++)
            if (chunk.damaged[i]) {
                fprintf(log, "bpsweep: warning: %s: point %lld: damaged row (its checksum does "
                        "not match): it will be computed again\n", path,
                        (long long)(chunk.first + i));
                shown++;
            }
    }
    if (rc == 0 && got < 0) {
        bps_err_prefix(err, "cannot resume");
        rc = -1;
    }
    if (rc == 0 && table->n_damaged > shown)
        fprintf(log, "bpsweep: warning: %s: %lld damaged rows in all (bpsweep verify %s lists "
                "them): they will be computed again\n", path, (long long)table->n_damaged, path);
    store_table_free(&chunk);
    store_reader_close(r);
    if (rc)
        store_table_free(table);
    return rc;
}

/* Rank 0: "<output>.ckpt" is absent or a real directory - a symbolic link there would
 * send every checkpoint, and the removal of old ones, into its target. */
int sched_check_checkpoint_dir(const char *output, BpsErr *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s.ckpt", output);
    struct stat st;
    if (lstat(dir, &st) != 0)
        return errno == ENOENT ? 0 : bps_fail(err, "%s: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return bps_fail(err, "%s: is not a directory (%s); bpsweep keeps its checkpoints "
                        "there: remove it", dir, S_ISLNK(st.st_mode) ? "a symbolic link"
                                                                     : "another kind of file");
    return 0;
}

/* Rank 0: the checkpoint folder exists; checkpoints of finished points are removed
 * (left by a kill between a row's write and its checkpoint's removal). The folder is
 * opened without following a symbolic link, and the files are removed relative to it. */
void sched_prepare_checkpoints(const char *dir, const StoreTable *table, FILE *log)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        fprintf(log, "bpsweep: warning: %s: %s (points will not be checkpointed)\n", dir,
                strerror(errno));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long p;
        if (sscanf(e->d_name, "point-%lld.state", &p) == 1 && table && table->status &&
            p >= 0 && p < table->shape.n_points && table->status[p] != POINT_PENDING)
            unlinkat(fd, e->d_name, 0);
    }
    closedir(d);
}
