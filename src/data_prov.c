/* data_prov: the provenance of a loaded data set (DataProvenance): checksums of the
 * files read, statistics of the normalisation, and its printing and comparison with
 * what a results file recorded. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "data_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROV_BLOCK (1u << 20) /* bytes per read when checksumming a file */

int data_file_checksum(const char *path, DataFile *out, BpsErr *err)
{
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return bps_fail(err, "%s: cannot open it to checksum it: %s", path, strerror(errno));
    unsigned char *buf = xmalloc(PROV_BLOCK);
    uint64_t h = BPS_HASH_INIT, bytes = 0;
    size_t got;
    while ((got = fread(buf, 1, PROV_BLOCK, f)) > 0) {
        h = bps_hash_bytes(h, buf, got);
        bytes += got;
    }
    int rc = 0;
    if (ferror(f))
        rc = bps_fail(err, "%s: read error while checksumming it", path);
    free(buf);
    fclose(f);
    out->bytes = bytes;
    out->checksum = h;
    return rc;
}

char *data_provenance_files(const DataProvenance *p)
{
    size_t cap = 1 + (size_t)p->n_files * (DATA_PROV_NAME_MAX + 64), len = 0;
    char *s = xmalloc(cap);
    s[0] = '\0';
    for (int i = 0; i < p->n_files; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%s %" PRIu64 " %016" PRIx64,
                                i ? "; " : "", p->files[i].name, p->files[i].bytes,
                                p->files[i].checksum);
    return s;
}

/* A list of n statistics, "[a, b, c]", rounded to 4 significant digits. */
static void print_stats(FILE *out, const char *name, const double *v, int n)
{
    fprintf(out, " %s [", name);
    for (int i = 0; i < n && i < 8; i++)
        fprintf(out, "%s%.4g", i ? ", " : "", v[i]);
    if (n > 8)
        fprintf(out, ", ... (%d values)", n);
    fputc(']', out);
}

void data_provenance_print(FILE *out, const DataProvenance *p)
{
    fprintf(out, "data: %s%s%s, samples (%d, %d, %d), train %d, test %d, normalization %s",
            p->source, p->dir[0] ? " " : "", p->dir, p->shape.c, p->shape.h, p->shape.w,
            p->n_train, p->n_test, data_norm_name(p->norm));
    if (p->n_stats > 0) {
        fputs(":", out);
        print_stats(out, "mean", p->mean, p->n_stats);
        print_stats(out, "std", p->std, p->n_stats);
    }
    if (strcmp(p->source, "synthetic") == 0)
        fputs(" (generated: no files; its parameters and seed are in the spec)", out);
    fputc('\n', out);
    for (int i = 0; i < p->n_files; i++)
        fprintf(out, "  %-28s %12" PRIu64 " bytes  %s %016" PRIx64 "\n", p->files[i].name,
                p->files[i].bytes, DATA_CHECKSUM_ALGORITHM, p->files[i].checksum);
}

/* Whether the "; "-joined list holds the entry of n bytes. */
static bool list_has(const char *list, const char *entry, size_t n)
{
    for (const char *q = list; *q;) {
        const char *end = strstr(q, "; ");
        size_t m = end ? (size_t)(end - q) : strlen(q);
        if (m == n && memcmp(q, entry, n) == 0)
            return true;
        q += m + (end ? 2 : 0);
    }
    return false;
}

/* The entries of the "; "-joined list a that list b lacks, "; "-joined into out (at least
 * strlen(a) + 1 bytes). */
static void entries_missing(const char *a, const char *b, char *out)
{
    size_t len = 0;
    out[0] = '\0';
    while (*a) {
        const char *end = strstr(a, "; ");
        size_t n = end ? (size_t)(end - a) : strlen(a);
        if (!list_has(b, a, n))
            len += (size_t)sprintf(out + len, "%s%.*s", len ? "; " : "", (int)n, a);
        a += n + (end ? 2 : 0);
    }
}

int data_provenance_compare(const DataProvenance *p, const char *recorded, const char *what,
                            FILE *log)
{
    if (!recorded)
        return 0;
    char *now = data_provenance_files(p);
    int differ = strcmp(now, recorded) != 0;
    if (differ) {
        char *was_only = xmalloc(strlen(recorded) + 1), *now_only = xmalloc(strlen(now) + 1);
        entries_missing(recorded, now, was_only);
        entries_missing(now, recorded, now_only);
        fprintf(log,
                "bpsweep: warning: %s was created with other data files than those read now "
                "(another copy of the data set?): the file records [%s], read now [%s] (name, "
                "bytes, %s checksum); its rows so far come from the former\n",
                what, was_only, now_only, DATA_CHECKSUM_ALGORITHM);
        free(was_only);
        free(now_only);
    }
    free(now);
    return differ;
}

void data_provenance_free(DataProvenance *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->std);
    memset(p, 0, sizeof *p);
}

/* The statistics arrays of prov for norm on train (NULL, NULL for none), before
 * normalising. */
void data_prov_stats_alloc(DataProvenance *prov, const Dataset *train, Normalization norm)
{
    if (!prov)
        return;
    prov->n_stats = norm == NORM_STANDARDIZE  ? 1
                    : norm == NORM_PER_CHANNEL ? (train->c > 0 ? train->c : train->d)
                                               : 0;
    if (prov->n_stats > 0) {
        prov->mean = xcalloc((size_t)prov->n_stats, sizeof(double));
        prov->std = xcalloc((size_t)prov->n_stats, sizeof(double));
    }
}

/* prov->dir (the real path of dir if it resolves) and the checksums of the n files
 * paths[i]. */
int data_prov_files(DataProvenance *prov, const char *dir, const char *const *paths, int n,
                    BpsErr *err)
{
    assert(n <= DATA_PROV_MAX_FILES);
    char *real = realpath(dir, NULL);
    const char *d = real ? real : dir;
    size_t len = strlen(d);
    if (len >= sizeof prov->dir) {
        free(real);
        return bps_fail(err, "%s: data directory path too long", dir);
    }
    memcpy(prov->dir, d, len + 1);
    free(real);
    for (int i = 0; i < n; i++)
        if (data_file_checksum(paths[i], &prov->files[i], err) != 0)
            return -1;
    prov->n_files = n;
    return 0;
}
