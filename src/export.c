/* export: a results file as a tidy CSV table (see export.h). */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/export.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bpsweep/point.h"
#include "bpsweep/store_reader.h"

/* A growing text buffer. */
typedef struct {
    char *data;
    size_t len, cap;
} Text;

static void text_reserve(Text *t, size_t extra)
{
    if (t->len + extra + 1 <= t->cap)
        return;
    size_t cap = t->cap ? t->cap : 1 << 16;
    while (cap < t->len + extra + 1)
        cap *= 2;
    t->data = xrealloc(t->data, cap);
    t->cap = cap;
}

static void text_printf(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_printf(Text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    text_reserve(t, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* A string field, quoted per RFC 4180 if it holds a comma, quote or line break. */
static void csv_string(Text *t, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        text_printf(t, ",%s", s);
        return;
    }
    text_printf(t, ",\"");
    for (; *s; s++)
        text_printf(t, *s == '"' ? "\"\"" : "%c", *s);
    text_printf(t, "\"");
}

/* A double: %.17g, with NaN as "nan" and infinities as "inf" / "-inf". */
static void csv_double(Text *t, double v)
{
    if (isnan(v))
        text_printf(t, ",nan");
    else if (isinf(v))
        text_printf(t, ",%s", v > 0 ? "inf" : "-inf");
    else
        text_printf(t, ",%.17g", v);
}

static void csv_header(Text *t)
{
    text_printf(t, "index,key,arch,cond,weight_decay,norm_bias,seed,status,attempts,epochs_run,"
                   "diverged_epoch,param_hash,wall_seconds,rank,host");
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
            text_printf(t, ",%s", POINT_METRIC_DEFS[m].name);
    text_printf(t, "\n");
}

static void csv_row(Text *t, const StoreTable *tab, int64_t i)
{
    text_printf(t, "%lld", (long long)i);
    csv_string(t, tab->key[i]);
    csv_string(t, tab->arch_name[i]);
    csv_string(t, tab->cond_name[i]);
    csv_double(t, tab->weight_decay[i]);
    csv_double(t, tab->norm_bias[i]);
    text_printf(t, ",%lld", (long long)tab->seed[i]);
    csv_string(t, point_status_name((PointStatus)tab->status[i]));
    if (tab->status[i] == POINT_PENDING) {
        /* attempts .. host and the metrics: never written */
        text_printf(t, ",,,,,,,");
        for (int m = 0; m < N_METRICS; m++)
            if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
                text_printf(t, ",");
        text_printf(t, "\n");
        return;
    }
    text_printf(t, ",%d,%d,%d,%016" PRIx64, (int)tab->attempts[i], (int)tab->epochs_run[i],
                (int)tab->diverged_epoch[i], tab->param_hash[i]);
    csv_double(t, tab->wall_seconds[i]);
    text_printf(t, ",%d", (int)tab->rank[i]);
    csv_string(t, tab->host[i]);
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
            csv_double(t, tab->scalar[m][i]);
    text_printf(t, "\n");
}

/* Writes all of t's text to f and empties t. */
static int text_flush(Text *t, FILE *f)
{
    size_t n = t->len;
    t->len = 0;
    return fwrite(t->data, 1, n, f) == n ? 0 : -1;
}

/* Streams the CSV of the results file r into f, a chunk of rows at a time (bounded
 * memory); warns on stderr about damaged rows, which are written as pending. */
static int write_rows(StoreReader *r, const char *h5_path, FILE *f, BpsErr *err)
{
    Text t = {NULL, 0, 0};
    StoreTable tab = {0};
    csv_header(&t);
    int got, rc = 0;
    int64_t damaged = 0;
    while (rc == 0 && (got = store_reader_next(r, &tab, err)) == 1) {
        for (int64_t i = 0; i < tab.n_rows; i++) {
            if (tab.damaged[i] && damaged + i < 20)
                fprintf(stderr, "bpsweep: warning: %s: point %lld: damaged row (its checksum does "
                        "not match): exported as pending\n", h5_path, (long long)(tab.first + i));
            csv_row(&t, &tab, i);
        }
        damaged += tab.n_damaged;
        if (text_flush(&t, f) != 0)
            rc = bps_fail(err, "write failed: %s", strerror(errno));
    }
    if (rc == 0 && got < 0)
        rc = -1;
    if (rc == 0 && damaged > 0)
        fprintf(stderr, "bpsweep: warning: %s: %lld damaged rows exported as pending (bpsweep "
                "verify %s lists them; resuming the sweep computes them again)\n", h5_path,
                (long long)damaged, h5_path);
    store_table_free(&tab);
    free(t.data);
    return rc;
}

int export_csv(const char *h5_path, const char *csv_path, BpsErr *err)
{
    StoreReader *r = NULL;
    if (store_reader_open(h5_path, &r, err) != 0)
        return -1;
    int rc;
    if (strcmp(csv_path, "-") == 0) {
        rc = write_rows(r, h5_path, stdout, err);
        if (rc == 0 && fflush(stdout) != 0)
            rc = bps_fail(err, "<stdout>: write failed");
        else if (rc != 0)
            bps_err_prefix(err, "<stdout>");
        store_reader_close(r);
        return rc;
    }
    /* atomically: a temporary file beside the target (mkstemp: O_EXCL, never a file or
     * link somebody planted), fsync, rename */
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", csv_path) >= (int)sizeof tmp) {
        store_reader_close(r);
        return bps_fail(err, "%s: name too long", csv_path);
    }
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        store_reader_close(r);
        return bps_fail(err, "%s: cannot create a temporary file beside it: %s", csv_path,
                        strerror(e));
    }
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask); /* as a file the shell would create, not mkstemp's 0600 */
    rc = write_rows(r, h5_path, f, err);
    store_reader_close(r);
    if (rc != 0)
        bps_err_prefix(err, "%s", tmp);
    if (rc == 0 && (fflush(f) != 0 || fsync(fd) != 0))
        rc = bps_fail(err, "%s: write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = bps_fail(err, "%s: close failed: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, csv_path) != 0)
        rc = bps_fail(err, "%s: rename failed: %s", csv_path, strerror(errno));
    if (rc != 0)
        unlink(tmp);
    return rc;
}
