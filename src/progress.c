/* progress: progress JSON, terminal bar, log line, per-architecture table. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/progress.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double progress_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_init(Progress *p, const Spec *spec, const char *state)
{
    memset(p, 0, sizeof *p);
    snprintf(p->state, sizeof p->state, "%s", state);
    p->eta_seconds = NAN;
    p->n_arch = spec->n_arch;
    p->arch = xcalloc((size_t)spec->n_arch, sizeof *p->arch);
    for (int a = 0; a < spec->n_arch; a++) {
        snprintf(p->arch[a].name, sizeof p->arch[a].name, "%s", spec->arch[a].name);
        p->arch[a].best_test_acc = NAN;
    }
}

void progress_path(const char *results, char *buf, size_t len)
{
    snprintf(buf, len, "%s.progress.json", results);
}

static cJSON *counts_json(const ProgressCounts *n)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "pending", (double)n->pending);
    cJSON_AddNumberToObject(o, "running", (double)n->running);
    cJSON_AddNumberToObject(o, "done", (double)n->done);
    cJSON_AddNumberToObject(o, "diverged", (double)n->diverged);
    cJSON_AddNumberToObject(o, "failed", (double)n->failed);
    return o;
}

/* JSON has no NaN: unknown numbers are null. */
static void add_number_or_null(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

int progress_write(const char *path, const Progress *p, BpsErr *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "state", p->state);
    cJSON_AddStringToObject(root, "host", p->host);
    cJSON_AddNumberToObject(root, "pid", (double)p->pid);
    cJSON_AddNumberToObject(root, "started", p->started);
    cJSON_AddNumberToObject(root, "updated", p->updated);
    add_number_or_null(root, "eta_seconds", p->eta_seconds);
    cJSON_AddItemToObject(root, "points", counts_json(&p->n));
    cJSON *archs = cJSON_AddArrayToObject(root, "architectures");
    for (int i = 0; i < p->n_arch; i++) {
        cJSON *a = counts_json(&p->arch[i].n);
        cJSON_AddStringToObject(a, "name", p->arch[i].name);
        add_number_or_null(a, "best_test_acc", p->arch[i].best_test_acc);
        cJSON_AddItemToArray(archs, a);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return bps_fail(err, "%s: out of memory formatting progress", path);
    int rc = bps_write_file_atomic(path, text, strlen(text), NULL, err);
    free(text);
    return rc;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

/* A count from a file that anyone may have written: 0 unless a number in
 * [0, 2^53], so that sums and conversions cannot overflow. */
static int64_t count(const cJSON *o, const char *key)
{
    double v = num(o, key);
    return v >= 0 && v <= 9007199254740992.0 ? (int64_t)v : 0;
}

static void read_counts(const cJSON *o, ProgressCounts *n)
{
    n->pending = count(o, "pending");
    n->running = count(o, "running");
    n->done = count(o, "done");
    n->diverged = count(o, "diverged");
    n->failed = count(o, "failed");
}

static void copy_str(const cJSON *o, const char *key, char *dst, size_t len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* A progress file is a few kilobytes per architecture; anything much larger is not one. */
#define PROGRESS_FILE_MAX ((size_t)64 << 20)

int progress_read(const char *path, Progress *p, BpsErr *err)
{
    memset(p, 0, sizeof *p);
    char *text;
    if (bps_read_file_max(path, PROGRESS_FILE_MAX, BPS_READ_NOFOLLOW, &text, NULL, err))
        return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *points = cJSON_GetObjectItemCaseSensitive(root, "points");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (!cJSON_IsObject(root) || !cJSON_IsObject(points) || !cJSON_IsArray(archs)) {
        cJSON_Delete(root);
        return bps_fail(err, "%s: not a bpsweep progress file", path);
    }
    copy_str(root, "state", p->state, sizeof p->state);
    copy_str(root, "host", p->host, sizeof p->host);
    double pid = num(root, "pid");
    p->pid = pid >= 1 && pid <= 2147483647.0 ? (long)pid : 0;
    p->started = num(root, "started");
    p->updated = num(root, "updated");
    p->eta_seconds = num(root, "eta_seconds");
    read_counts(points, &p->n);
    p->n_arch = cJSON_GetArraySize(archs);
    p->arch = xcalloc((size_t)(p->n_arch ? p->n_arch : 1), sizeof *p->arch);
    int i = 0;
    for (const cJSON *a = archs->child; a; a = a->next, i++) {
        copy_str(a, "name", p->arch[i].name, sizeof p->arch[i].name);
        read_counts(a, &p->arch[i].n);
        p->arch[i].best_test_acc = num(a, "best_test_acc");
    }
    cJSON_Delete(root);
    return 0;
}

void progress_free(Progress *p)
{
    if (!p)
        return;
    free(p->arch);
    p->arch = NULL;
    p->n_arch = 0;
}

static void hms(double s, char *buf, size_t len)
{
    if (!(s >= 0 && s < 1e12)) { /* NaN, negative, or beyond any real sweep */
        snprintf(buf, len, "--:--:--");
        return;
    }
    long t = (long)(s + 0.5);
    snprintf(buf, len, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

static int64_t total_of(const ProgressCounts *n)
{
    return n->pending + n->running + n->done + n->diverged + n->failed;
}

void progress_line(const Progress *p, double now, char *buf, size_t len)
{
    char el[32], eta[32];
    hms(now - p->started, el, sizeof el);
    hms(p->eta_seconds, eta, sizeof eta);
    const ProgressCounts *n = &p->n;
    snprintf(buf, len,
             "%lld/%lld finished (%lld done, %lld diverged, %lld failed)  %lld running  "
             "elapsed %s  ETA %s",
             (long long)(n->done + n->diverged + n->failed), (long long)total_of(n),
             (long long)n->done, (long long)n->diverged, (long long)n->failed,
             (long long)n->running, el, eta);
}

void progress_bar(const Progress *p, double now, int width, char *buf, size_t len)
{
    int64_t total = total_of(&p->n);
    int64_t fin = p->n.done + p->n.diverged + p->n.failed;
    int fill = total > 0 ? (int)((double)width * (double)fin / (double)total) : 0;
    char bar[256];
    if (width > (int)sizeof bar - 1)
        width = (int)sizeof bar - 1;
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    char line[512];
    progress_line(p, now, line, sizeof line);
    snprintf(buf, len, "[%s] %s", bar, line);
}

void progress_print_table(FILE *out, const Progress *p)
{
    fprintf(out, "%-28s %7s %7s %7s %7s %8s %9s\n", "architecture", "done", "running",
            "pending", "failed", "diverged", "best acc");
    for (int i = 0; i < p->n_arch; i++) {
        const ProgressArch *a = &p->arch[i];
        char acc[32];
        if (isfinite(a->best_test_acc))
            snprintf(acc, sizeof acc, "%.4f", a->best_test_acc);
        else
            snprintf(acc, sizeof acc, "-");
        fprintf(out, "%-28s %7lld %7lld %7lld %7lld %8lld %9s\n", a->name, (long long)a->n.done,
                (long long)a->n.running, (long long)a->n.pending, (long long)a->n.failed,
                (long long)a->n.diverged, acc);
    }
    fprintf(out, "%-28s %7lld %7lld %7lld %7lld %8lld\n", "total", (long long)p->n.done,
            (long long)p->n.running, (long long)p->n.pending, (long long)p->n.failed,
            (long long)p->n.diverged);
}
