/* export: a results file as a tidy CSV table (see export.h). */
#include "bpsweep/export.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/point.h"
#include "bpsweep/store.h"

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

int export_csv(const char *h5_path, const char *csv_path, BpsErr *err)
{
    StoreTable tab;
    if (store_read_table(h5_path, &tab, err) != 0)
        return -1;
    Text t = {NULL, 0, 0};
    csv_header(&t);
    for (int64_t i = 0; i < tab.shape.n_points; i++)
        csv_row(&t, &tab, i);
    store_table_free(&tab);
    int rc = 0;
    if (strcmp(csv_path, "-") == 0) {
        if (fwrite(t.data, 1, t.len, stdout) != t.len || fflush(stdout) != 0)
            rc = bps_fail(err, "<stdout>: write failed");
    } else {
        rc = bps_write_file_atomic(csv_path, t.data, t.len, NULL, err);
    }
    free(t.data);
    return rc;
}
