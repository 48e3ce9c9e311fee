/* sched: coordinator / worker protocol over MPI, node-shared data, progress.
 *
 * Protocol (tags below; messages are fixed structs sent as bytes: all ranks of a
 * sweep run the same binary on one machine type):
 *   worker -> 0  TAG_REPORT  Report: the point it just finished (point = -1 on the
 *                            first request), its status, time and test accuracy
 *   0 -> worker  TAG_LEASE   Lease: the next point and its attempt number, or
 *                            point = -1: stop
 *   0 -> worker  TAG_STOP    (no payload) checkpoint the point in flight and report it
 *                            (status pending) at the next step
 * A worker is never told to wait: when nothing is pending but points are still
 * running (and may fail and be retried), the coordinator parks its request and
 * answers it when there is work again or the sweep is over.
 *
 * Stopping (a signal on any rank, or the deadline): the coordinator leases nothing
 * more and tells busy workers to stop; workers stop by themselves too, at their next
 * step, when they see the signal or the deadline. An interrupted point reports status
 * pending and stays pending in the file, with its checkpoint. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/sched.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/lease.h"
#include "bpsweep/lock.h"
#include "bpsweep/point.h"
#include "bpsweep/progress.h"
#include "bpsweep/store.h"
#include "bpsweep/util.h"

enum { TAG_REPORT = 1, TAG_LEASE = 2, TAG_STOP = 3 };

/* ---- signals --------------------------------------------------------------------------- */

static volatile sig_atomic_t g_signal; /* the first SIGTERM / SIGINT / SIGUSR1 seen */

/* When the sweep stops for the deadline (Unix time), 0 when it has none. A deadline
 * at or below the drain time - one already past - stops the sweep at once. */
static double stop_time(const SweepOptions *opt)
{
    if (!(opt->deadline > 0))
        return 0;
    double t = opt->deadline - opt->drain_seconds;
    return t >= 1 ? t : 1;
}

/* The first signal asks for a clean stop; a second one ends the process at once
 * (finished rows are on disk already; a row being written keeps status pending). */
static void on_signal(int sig)
{
    if (g_signal)
        _exit(BPS_EXIT_INCOMPLETE);
    g_signal = sig;
}

static void install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

typedef struct {
    int64_t point;   /* -1: no point yet */
    int32_t status;  /* PointStatus */
    int32_t pad;
    double seconds;
    double test_acc;
} Report;

typedef struct {
    int64_t point;   /* -1: stop */
    int32_t attempt;
    int32_t pad;
} Lease;

/* ---- data once per node ------------------------------------------------------------ */

typedef struct {
    MPI_Win win;
    Dataset train, test;
} SharedData;

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* Collective over comm: rank 0's *p (the data set's provenance) on every rank. */
static void provenance_bcast(MPI_Comm comm, DataProvenance *p)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(p, (int)sizeof *p, MPI_BYTE, 0, comm); /* the pointers are replaced below */
    if (rank != 0) {
        p->mean = p->n_stats > 0 ? xmalloc((size_t)p->n_stats * sizeof(double)) : NULL;
        p->std = p->n_stats > 0 ? xmalloc((size_t)p->n_stats * sizeof(double)) : NULL;
    }
    if (p->n_stats > 0) {
        MPI_Bcast(p->mean, p->n_stats, MPI_DOUBLE, 0, comm);
        MPI_Bcast(p->std, p->n_stats, MPI_DOUBLE, 0, comm);
    }
}

/* Collective over comm: the first rank of every node loads the data set and copies
 * it into a shared-memory window; every rank of the node gets views into it. Byte
 * sources (IDX, CIFAR, HDF5 uint8) are loaded in the compact form (data.h): the window
 * holds the raw bytes and the per-channel tables of their normalised floats, a quarter
 * of the float form's size (CIFAR-10: 184 MB instead of 737 MB per node), and the
 * trainer converts each batch (bit for bit the floats; docs/data.md); float sources
 * (synthetic, HDF5 float32) are held as floats. Rank 0 (a node leader) also records the
 * data set's provenance (file checksums) into *prov, which every rank gets on success
 * (free with data_provenance_free; zeroed on failure). Returns the same result on every
 * rank; on failure err holds the message (on the ranks whose node leader saw it; others
 * get a generic one). */
static int shared_data_load(MPI_Comm comm, const DataConfig *cfg, SharedData *sd,
                            DataProvenance *prov, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(prov, 0, sizeof *prov);
    memset(sd, 0, sizeof *sd);
    sd->win = MPI_WIN_NULL;
    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int node_rank;
    MPI_Comm_rank(node, &node_rank);

    Dataset tr = {0}, te = {0};
    /* failed, train n/d/classes, test n/d/classes, C, H, W, norm, tables (0: floats) */
    int64_t meta[12] = {0};
    if (node_rank == 0) {
        meta[0] = dataset_load_compact(cfg, &tr, &te, rank == 0 ? prov : NULL, err) != 0;
        meta[1] = tr.n, meta[2] = tr.d, meta[3] = tr.classes;
        meta[4] = te.n, meta[5] = te.d, meta[6] = te.classes;
        meta[7] = tr.c, meta[8] = tr.h, meta[9] = tr.w, meta[10] = tr.norm;
        meta[11] = tr.x8 ? tr.lut_c : 0;
    }
    MPI_Bcast(meta, 12, MPI_INT64_T, 0, node);
    int bad = (int)meta[0];
    MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm); /* every node agrees */
    if (bad) {
        if (!meta[0])
            bps_fail(err, "the data set could not be loaded on another node");
        MPI_Comm_free(&node);
        data_provenance_free(prov); /* rank 0 whose node loaded it: another node failed */
        return -1;
    }
    provenance_bcast(comm, prov);
    const int lut_c = (int)meta[11];
    const size_t value = lut_c > 0 ? 1 : sizeof(float); /* bytes per stored pixel */
    /* layout: train x, train y, test x, test y, tables (lut_c, 256) floats */
    size_t x_tr = align64((size_t)meta[1] * (size_t)meta[2] * value);
    size_t y_tr = align64((size_t)meta[1]);
    size_t x_te = align64((size_t)meta[4] * (size_t)meta[5] * value);
    size_t y_te = align64((size_t)meta[4]);
    size_t lut = (size_t)lut_c * 256 * sizeof(float);
    size_t total = x_tr + y_tr + x_te + y_te + lut;
    unsigned char *base = NULL;
    MPI_Win_allocate_shared(node_rank == 0 ? (MPI_Aint)total : 0, 1, MPI_INFO_NULL, node, &base,
                            &sd->win);
    if (node_rank != 0) {
        MPI_Aint size;
        int disp;
        MPI_Win_shared_query(sd->win, 0, &size, &disp, &base);
    }
    MPI_Win_fence(0, sd->win); /* REQUIRED: opens the epoch in which the leader fills it */
    unsigned char *xs_tr = base, *xs_te = base + x_tr + y_tr;
    float *luts = lut_c > 0 ? (float *)(void *)(base + x_tr + y_tr + x_te + y_te) : NULL;
    if (node_rank == 0) {
        memcpy(xs_tr, lut_c ? (void *)tr.x8 : (void *)tr.x, (size_t)tr.n * (size_t)tr.d * value);
        memcpy(base + x_tr, tr.y, (size_t)tr.n);
        memcpy(xs_te, lut_c ? (void *)te.x8 : (void *)te.x, (size_t)te.n * (size_t)te.d * value);
        memcpy(base + x_tr + y_tr + x_te, te.y, (size_t)te.n);
        if (lut_c)
            memcpy(luts, tr.lut, lut); /* test's tables are the same (train's statistics) */
        dataset_free(&tr);
        dataset_free(&te);
    }
    MPI_Win_fence(0, sd->win); /* REQUIRED: the copies are visible to the node after it */
    MPI_Comm_free(&node);
    sd->train = (Dataset){.n = (int)meta[1], .d = (int)meta[2], .classes = (int)meta[3],
                          .y = base + x_tr, .borrowed = true,
                          .c = (int)meta[7], .h = (int)meta[8], .w = (int)meta[9],
                          .norm = (Normalization)meta[10]};
    sd->test = (Dataset){.n = (int)meta[4], .d = (int)meta[5], .classes = (int)meta[6],
                         .y = base + x_tr + y_tr + x_te, .borrowed = true,
                         .c = (int)meta[7], .h = (int)meta[8], .w = (int)meta[9],
                         .norm = (Normalization)meta[10]};
    if (lut_c) {
        sd->train.x8 = xs_tr, sd->train.lut = luts, sd->train.lut_c = lut_c;
        sd->test.x8 = xs_te, sd->test.lut = luts, sd->test.lut_c = lut_c;
    } else {
        sd->train.x = (float *)(void *)xs_tr;
        sd->test.x = (float *)(void *)xs_te;
    }
    return 0;
}

static void shared_data_free(SharedData *sd)
{
    if (sd->win != MPI_WIN_NULL)
        MPI_Win_free(&sd->win);
}

/* ---- waiting without taking a core ------------------------------------------------- */

/* Open MPI's blocking calls poll a core flat out; the coordinator's loop and a worker's
 * wait for its lease use this instead: spin only briefly after a message (the next one
 * is often close behind when points are short), then sleep with a growing interval -
 * and while nothing is expected soon (quiet_seconds, e.g. until the next point is
 * estimated to finish), sleep up to half that, at most 50 ms: a handful of wake-ups a
 * second instead of hundreds, which matters when ranks share a core. */
typedef struct {
    double last_message;
    long sleep_ns;
} Backoff;

static void backoff_wait(Backoff *b, double quiet_seconds)
{
    if (bps_now() - b->last_message < 200e-6)
        return;
    long ns = b->sleep_ns;
    if (quiet_seconds > 0.01)
        ns = (long)(1e9 * (quiet_seconds / 2 < 0.05 ? quiet_seconds / 2 : 0.05));
    struct timespec ts = {0, ns};
    nanosleep(&ts, NULL);
    b->sleep_ns = b->sleep_ns * 2 > 2000000 ? 2000000 : b->sleep_ns * 2;
}

static void backoff_reset(Backoff *b)
{
    b->last_message = bps_now();
    b->sleep_ns = 50000;
}

/* ---- one point on a worker --------------------------------------------------------- */

typedef struct {
    MPI_Comm comm;
    int rank, size;
    const Spec *spec;
    const SweepOptions *opt;
    Store *store;
    const SharedData *data;
    char host[STORE_HOST_MAX];
    char ckpt_dir[4096];     /* "<output>.ckpt" */
    double stop_at;          /* deadline minus drain (Unix time), 0 = none */
    bool stopping;           /* a signal, the deadline or the coordinator said stop */
    double next_probe;       /* when to look for the coordinator's TAG_STOP again */
    int trace_fd;            /* BPSWEEP_TRACE, or -1 */
    const char *inject_fail; /* BPSWEEP_INJECT_FAIL, or NULL */
} Worker;

static void checkpoint_path(const char *dir, int64_t point, char *buf, size_t len)
{
    snprintf(buf, len, "%s/point-%lld.state", dir, (long long)point);
}

/* Between steps: has anything asked this worker to stop? */
static bool worker_should_stop(void *ctx)
{
    Worker *w = ctx;
    if (!w->stopping) {
        double now = progress_clock();
        if (g_signal || (w->stop_at > 0 && now >= w->stop_at)) {
            w->stopping = true;
        } else if (w->size > 1 && now >= w->next_probe) {
            /* at most every 20 ms: a probe per step costs the step MPI progress calls */
            w->next_probe = now + 0.02;
            int flag;
            MPI_Iprobe(0, TAG_STOP, w->comm, &flag, MPI_STATUS_IGNORE);
            if (flag) {
                MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_STOP, w->comm, MPI_STATUS_IGNORE);
                w->stopping = true;
            }
        }
    }
    return w->stopping;
}

static void trace(const Worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One whole line per write(2) with O_APPEND: lines of all ranks interleave intact. */
static void trace(const Worker *w, const char *fmt, ...)
{
    if (w->trace_fd < 0)
        return;
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(w->trace_fd, line, (size_t)n) != n)
        fprintf(stderr, "bpsweep: rank %d: trace write failed: %s\n", w->rank, strerror(errno));
}

static void trace_epoch(void *ctx, int64_t point, int epoch)
{
    const Worker *w = ctx;
    trace(w, "%lld %d %d\n", (long long)point, epoch, w->rank);
}

static bool injected_failure(const Worker *w, int64_t point, int attempt)
{
    if (!w->inject_fail || attempt != 1)
        return false;
    for (const char *s = w->inject_fail; *s;) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
            break;
        if (v == point)
            return true;
        s = *end == ',' ? end + 1 : end;
    }
    return false;
}

/* Trains a point (from its checkpoint if it has one) and writes its row, then removes
 * the checkpoint. An interrupted point writes no row: it stays pending, with its
 * checkpoint. A failure to write a row aborts the job: the row of a finished point
 * must not silently go missing. */
static Report worker_run_point(Worker *w, int64_t point, int attempt)
{
    PointResult res;
    BpsErr err;
    char ckpt[4200];
    checkpoint_path(w->ckpt_dir, point, ckpt, sizeof ckpt);
    PointOptions opt = {0};
    opt.keep_weights = w->spec->store_weights;
    opt.epoch_start = trace_epoch;
    opt.epoch_ctx = w;
    opt.checkpoint = ckpt;
    opt.checkpoint_interval = w->opt->checkpoint_interval;
    opt.should_stop = worker_should_stop;
    opt.stop_ctx = w;
    opt.warn = stderr;
    trace(w, "%lld start %d %d\n", (long long)point, w->rank, attempt);
    if (injected_failure(w, point, attempt)) {
        memset(&res, 0, sizeof res);
        res.index = point;
        res.status = POINT_FAILED;
        snprintf(res.message, sizeof res.message, "injected failure (BPSWEEP_INJECT_FAIL)");
    } else if (point_train(w->spec, point, &w->data->train, &w->data->test, &opt, &res, &err)) {
        res.status = POINT_FAILED;
        snprintf(res.message, sizeof res.message, "%.*s", (int)sizeof res.message - 1, err.msg);
    }
    if (res.status == POINT_FAILED)
        fprintf(stderr, "bpsweep: rank %d: point %lld attempt %d failed: %s\n", w->rank,
                (long long)point, attempt, res.message);
    if (res.status == POINT_PENDING) {
        trace(w, "%lld stop %d %d\n", (long long)point, w->rank, res.epochs_run);
    } else {
        RowInfo info = {w->rank, "", attempt, progress_clock()};
        memcpy(info.host, w->host, sizeof info.host);
        if (store_write_row(w->store, &res, &info, &err) != 0) {
            fprintf(stderr, "bpsweep: rank %d: cannot write the row of point %lld: %s\n",
                    w->rank, (long long)point, err.msg);
            MPI_Abort(w->comm, BPS_EXIT_ERROR);
        }
        unlink(ckpt);
        trace(w, "%lld done %d\n", (long long)point, w->rank);
    }
    Report rep = {point, (int32_t)res.status, 0, res.wall_seconds,
                  res.metric[M_final_test_acc] ? res.metric[M_final_test_acc][0] : (double)NAN};
    point_result_free(&res);
    return rep;
}

static void worker_loop(Worker *w)
{
    Report rep = {-1, 0, 0, 0.0, (double)NAN};
    for (;;) {
        MPI_Send(&rep, (int)sizeof rep, MPI_BYTE, 0, TAG_REPORT, w->comm);
        Lease ls;
        MPI_Request req;
        MPI_Irecv(&ls, (int)sizeof ls, MPI_BYTE, 0, TAG_LEASE, w->comm, &req);
        Backoff bo;
        backoff_reset(&bo);
        for (int done = 0;;) {
            MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (done)
                break;
            backoff_wait(&bo, 0); /* parked while others finish: no core spent */
        }
        if (ls.point < 0) {
            /* a stop request may still be in flight: receive it, to leave nothing behind */
            int flag = 1;
            while (flag) {
                MPI_Iprobe(0, TAG_STOP, w->comm, &flag, MPI_STATUS_IGNORE);
                if (flag)
                    MPI_Recv(NULL, 0, MPI_BYTE, 0, TAG_STOP, w->comm, MPI_STATUS_IGNORE);
            }
            return;
        }
        rep = worker_run_point(w, ls.point, ls.attempt);
    }
}

/* ---- the coordinator's view: leases and progress ----------------------------------- */

typedef struct {
    const Spec *spec;
    const SweepOptions *opt;
    Leases *leases;
    Progress progress;
    char progress_file[4096];
    bool tty;
    bool dirty;              /* counts changed since the progress file was written */
    bool stopping;           /* no more leases: a signal, the deadline, an interruption */
    double stop_at;          /* deadline minus drain, 0 = none */
    double last_line, last_json, last_bar;
    int64_t per_arch;        /* points per architecture (grid order: arch outermost) */
    int64_t *running_on;     /* (size) point each worker rank runs, -1 if idle */
    double *expected_end;    /* (size) when that point should finish (Unix time) */
} Coordinator;

static void coord_best(Coordinator *c, int64_t point, double acc)
{
    ProgressArch *a = &c->progress.arch[point / c->per_arch];
    if (isfinite(acc) && (!isfinite(a->best_test_acc) || acc > a->best_test_acc))
        a->best_test_acc = acc;
}

/* The coordinator's state; on resume, the points of `table` that are finished stay
 * finished (failed ones get new attempts with retry_failed). */
static void coord_init(Coordinator *c, const Spec *spec, const SweepOptions *opt,
                       const SharedData *data, int size, const StoreTable *table)
{
    memset(c, 0, sizeof *c);
    c->spec = spec;
    c->opt = opt;
    int n_workers = size > 1 ? size - 1 : 1;
    int64_t n = grid_size(spec);
    int n_groups = spec->n_arch * spec->n_cond;
    double *cost = xmalloc((size_t)n_groups * sizeof *cost);
    for (int g = 0; g < n_groups; g++) {
        GridPoint gp = {g / spec->n_cond, g % spec->n_cond, 0, 0, 0};
        cost[g] = grid_cost(spec, gp, dataset_shape(&data->train), data->train.classes,
                            data->train.n);
    }
    c->leases = lease_new(n, n_groups, cost, opt->max_attempts, n_workers);
    free(cost);
    c->per_arch = n / spec->n_arch;
    c->running_on = xmalloc((size_t)size * sizeof *c->running_on);
    c->expected_end = xcalloc((size_t)size, sizeof *c->expected_end);
    for (int r = 0; r < size; r++)
        c->running_on[r] = -1;
    c->stop_at = stop_time(opt);

    Progress *p = &c->progress;
    progress_init(p, spec, "running");
    gethostname(p->host, sizeof p->host - 1);
    p->pid = (long)getpid();
    p->started = p->updated = progress_clock();
    for (int64_t i = 0; table && i < n; i++) {
        LeaseState st = table->status[i] == POINT_DONE       ? LEASE_DONE
                        : table->status[i] == POINT_DIVERGED ? LEASE_DIVERGED
                        : table->status[i] == POINT_FAILED   ? LEASE_FAILED
                                                             : LEASE_PENDING;
        int attempts = table->attempts[i];
        if (st == LEASE_FAILED && (opt->retry_failed || attempts < opt->max_attempts)) {
            st = LEASE_PENDING;
            attempts = opt->retry_failed ? 0 : attempts;
        }
        if (st == LEASE_PENDING && attempts == 0)
            continue;
        lease_restore(c->leases, i, st, attempts);
        if (st == LEASE_DONE)
            coord_best(c, i, table->scalar[M_final_test_acc][i]);
    }
    progress_path(opt->output, c->progress_file, sizeof c->progress_file);
    c->tty = isatty(fileno(opt->log));
}

static void coord_free(Coordinator *c)
{
    lease_free(c->leases);
    progress_free(&c->progress);
    free(c->running_on);
    free(c->expected_end);
}

/* The next point for worker, if the sweep is not stopping and a point fits before the
 * deadline: it must finish, or at least reach its next checkpoint, before stop_at. */
static int64_t coord_lease(Coordinator *c, int worker, int *attempt)
{
    double now = progress_clock();
    if (!c->stopping && (g_signal || (c->stop_at > 0 && now >= c->stop_at)))
        c->stopping = true;
    if (c->stopping)
        return -1;
    double max_seconds = INFINITY;
    if (c->stop_at > 0 && c->stop_at - now <= c->opt->checkpoint_interval)
        max_seconds = c->stop_at - now;
    int64_t p = lease_next(c->leases, worker, max_seconds);
    if (p >= 0) {
        *attempt = lease_attempts(c->leases, p);
        c->running_on[worker] = p;
        /* unknown (now) until a point has finished and estimates are in seconds */
        c->expected_end[worker] =
            now + (lease_calibrated(c->leases) ? lease_estimate(c->leases, p) : 0.0);
        c->dirty = true;
    }
    return p;
}

/* --log-points: one line per point that ends or is interrupted, for job logs. */
static void coord_log_point(const Coordinator *c, const Report *r, int worker)
{
    char key[GRID_KEY_MAX];
    grid_key(c->spec, grid_point(c->spec, r->point), key, sizeof key);
    FILE *log = c->opt->log;
    if (c->tty)
        fputs("\r\033[K", log); /* over the bar, which the next redraw restores */
    if (r->status == POINT_PENDING)
        fprintf(log, "bpsweep: point %lld %s: interrupted on rank %d, continues from its "
                "checkpoint\n", (long long)r->point, key, worker);
    else
        fprintf(log, "bpsweep: point %lld %s: %s on rank %d in %.1f s, test acc %.4f\n",
                (long long)r->point, key, point_status_name((PointStatus)r->status), worker,
                r->seconds, r->test_acc);
    fflush(log);
}

static void coord_finish(Coordinator *c, const Report *r, int worker)
{
    c->running_on[worker] = -1;
    if (c->opt->log_points)
        coord_log_point(c, r, worker);
    if (r->status == POINT_PENDING) {
        /* interrupted: someone is stopping the sweep */
        lease_release(c->leases, r->point);
        c->stopping = true;
        c->dirty = true;
        return;
    }
    LeaseState s = lease_finish(c->leases, r->point, (PointStatus)r->status, r->seconds, worker);
    c->dirty = true;
    if (s == LEASE_DONE)
        coord_best(c, r->point, r->test_acc);
}

/* Progress output: a bar on a terminal (at most 5 redraws a second), else a plain line
 * every progress_interval seconds; the JSON file at most once a second when something
 * changed and at least every 10 seconds. force: write everything now (start, end). */
static void coord_progress(Coordinator *c, int n_workers, bool force)
{
    double now = progress_clock();
    Progress *p = &c->progress;
    FILE *log = c->opt->log;
    bool bar = c->tty && (force || now - c->last_bar >= 0.2);
    bool line = !c->tty && (force || now - c->last_line >= c->opt->progress_interval);
    bool json = force || (c->dirty && now - c->last_json >= 1.0) || now - c->last_json >= 10.0;
    if (!bar && !line && !json)
        return;
    LeaseCounts lc = lease_counts(c->leases);
    p->n = (ProgressCounts){lc.pending, lc.running, lc.done, lc.diverged, lc.failed};
    for (int a = 0; a < p->n_arch; a++) {
        lc = lease_counts_in(c->leases, a * c->per_arch, (a + 1) * c->per_arch);
        p->arch[a].n = (ProgressCounts){lc.pending, lc.running, lc.done, lc.diverged, lc.failed};
    }
    p->eta_seconds = lease_remaining_seconds(c->leases) / n_workers;
    char text[512];
    if (bar) {
        progress_bar(p, now, 30, text, sizeof text);
        fprintf(log, "\r\033[K%s", text);
        fflush(log);
        c->last_bar = now;
    }
    if (line) {
        progress_line(p, now, text, sizeof text);
        fprintf(log, "bpsweep: %s\n", text);
        fflush(log);
        c->last_line = now;
    }
    if (json) {
        p->updated = now;
        BpsErr err;
        if (progress_write(c->progress_file, p, &err) != 0)
            fprintf(log, "bpsweep: warning: %s\n", err.msg);
        c->last_json = now;
        c->dirty = false;
    }
}

/* Seconds until the first busy worker is expected to report (0 if one is overdue or
 * none is busy, or stopping: then nobody can be predicted). */
static double coord_quiet_seconds(const Coordinator *c, int size)
{
    if (c->stopping)
        return 0;
    double now = progress_clock(), soonest = INFINITY;
    for (int r = 1; r < size; r++)
        if (c->running_on[r] >= 0 && c->expected_end[r] < soonest)
            soonest = c->expected_end[r];
    return isfinite(soonest) && soonest > now ? soonest - now : 0;
}

static void send_lease(MPI_Comm comm, int worker, int64_t point, int attempt)
{
    Lease ls = {point, attempt, 0};
    MPI_Send(&ls, (int)sizeof ls, MPI_BYTE, worker, TAG_LEASE, comm);
}

/* Once stopping: every busy worker is told to checkpoint and report. */
static void coord_stop_workers(Coordinator *c, MPI_Comm comm, int size, bool *told)
{
    for (int r = 1; r < size; r++)
        if (c->running_on[r] >= 0 && !told[r]) {
            MPI_Send(NULL, 0, MPI_BYTE, r, TAG_STOP, comm);
            told[r] = true;
        }
}

static void coordinator_loop(Coordinator *c, MPI_Comm comm, int size)
{
    int n_workers = size - 1, active = n_workers, n_parked = 0;
    int *parked = xmalloc((size_t)n_workers * sizeof *parked);
    bool *told = xcalloc((size_t)size, sizeof *told);
    Backoff bo;
    backoff_reset(&bo);
    while (active > 0) {
        if (!c->stopping && (g_signal || (c->stop_at > 0 && progress_clock() >= c->stop_at)))
            c->stopping = true;
        if (c->stopping)
            coord_stop_workers(c, comm, size, told);
        int flag;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_REPORT, comm, &flag, &st);
        if (!flag) {
            coord_progress(c, n_workers, false);
            backoff_wait(&bo, coord_quiet_seconds(c, size));
            continue;
        }
        backoff_reset(&bo);
        Report rep;
        int w = st.MPI_SOURCE;
        MPI_Recv(&rep, (int)sizeof rep, MPI_BYTE, w, TAG_REPORT, comm, MPI_STATUS_IGNORE);
        if (rep.point >= 0)
            coord_finish(c, &rep, w);
        parked[n_parked++] = w;
        /* serve every parked worker that can be served: the new request, and others
         * when a failure re-queued a point or the sweep is over or stopping */
        for (int i = 0; i < n_parked;) {
            int attempt = 0;
            int64_t p = coord_lease(c, parked[i], &attempt);
            bool over = lease_all_finished(c->leases) || c->stopping ||
                        lease_counts(c->leases).running == 0;
            if (p >= 0 || over) {
                send_lease(comm, parked[i], p, p >= 0 ? attempt : 0);
                if (p < 0)
                    active--;
                parked[i] = parked[--n_parked];
            } else {
                i++;
            }
        }
        coord_progress(c, n_workers, false);
    }
    free(parked);
    free(told);
}

static void serial_loop(Coordinator *c, Worker *w)
{
    int attempt = 0;
    int64_t p;
    while ((p = coord_lease(c, 0, &attempt)) >= 0) {
        Report rep = worker_run_point(w, p, attempt);
        coord_finish(c, &rep, 0);
        coord_progress(c, 1, false);
    }
}

/* ---- the sweep ------------------------------------------------------------------------ */

static int open_trace(void)
{
    const char *path = getenv("BPSWEEP_TRACE");
    if (!path || !*path)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0644);
    if (fd < 0)
        fprintf(stderr, "bpsweep: warning: BPSWEEP_TRACE=%s: %s\n", path, strerror(errno));
    return fd;
}

/* Rank 0: a new file, or an existing one that must hold the same sweep. The file is
 * read in chunks (store_reader_next), keeping of each point only what the coordinator
 * needs - status, attempts and the final test accuracy, 13 bytes a point - in *table
 * (zeroed for a new file; its other arrays stay NULL). Damaged rows (a checksum that
 * does not match) read as pending: they are computed again, with a warning. Returns 0
 * or -1 with err. */
static int check_existing(const char *path, const Spec *spec, StoreTable *table, bool *exists,
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
static int check_checkpoint_dir(const char *output, BpsErr *err)
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
static void prepare_checkpoints(const char *dir, const StoreTable *table, FILE *log)
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

int sched_run(MPI_Comm comm, const Spec *spec, const SweepOptions *opt)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double t0 = bps_now();
    install_signal_handlers();
    BpsErr err;
    char lock[LOCK_PATH_MAX] = "";
    int bad = rank == 0 && lock_acquire(opt->output, lock, opt->log, &err) != 0;
    if (rank == 0 && !bad && check_checkpoint_dir(opt->output, &err) != 0) {
        lock_release(lock);
        bad = 1;
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, comm);
    if (bad) {
        if (rank == 0)
            fprintf(opt->log, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    StoreTable table = {0};
    bool exists = false;
    bad = rank == 0 && check_existing(opt->output, spec, &table, &exists, opt->log, &err) != 0;
    int flags[2] = {bad, exists};
    MPI_Bcast(flags, 2, MPI_INT, 0, comm);
    SharedData data = {MPI_WIN_NULL, {0}, {0}};
    DataProvenance prov = {0};
    if (!flags[0] && shared_data_load(comm, &spec->data, &data, &prov, &err) != 0)
        flags[0] = 1;
    if (!flags[0] && rank == 0 && flags[1])
        data_provenance_compare(&prov, table.data_files, opt->output, opt->log);
    /* every rank has the same data and spec: the same verdict */
    if (!flags[0] &&
        spec_check_nets(spec, dataset_shape(&data.train), data.train.classes, "spec", &err) != 0)
        flags[0] = 1;
    if (!flags[0] && spec_check_augment(spec, dataset_shape(&data.train), "spec", &err) != 0)
        flags[0] = 1;
    int created = 0;
    if (!flags[0] && !flags[1]) {
        /* a signal during creation stops it between slabs (STORE_STOPPED) */
        created = store_create(comm, opt->output, spec, &prov, dataset_shape(&data.train),
                               data.train.classes, &g_signal, &err);
        flags[0] = created != 0;
    }
    Worker w = {.comm = comm, .rank = rank, .size = size, .spec = spec, .opt = opt, .data = &data,
                .trace_fd = -1};
    if (!flags[0] && store_open(comm, opt->output, &w.store, &err) != 0)
        flags[0] = 1;
    if (flags[0]) { /* every step above returns alike on every rank */
        if (rank == 0 && created == STORE_STOPPED)
            fprintf(opt->log, "bpsweep: %s by %s after %.1f s; nothing was computed (run the "
                    "same command again to start)\n", err.msg,
                    g_signal == SIGTERM ? "SIGTERM" : g_signal == SIGINT ? "SIGINT" : "SIGUSR1",
                    bps_now() - t0);
        else if (rank == 0)
            fprintf(opt->log, "bpsweep: %s\n", err.msg);
        store_table_free(&table);
        shared_data_free(&data);
        data_provenance_free(&prov);
        if (rank == 0)
            lock_release(lock);
        return created == STORE_STOPPED ? BPS_EXIT_INCOMPLETE : BPS_EXIT_BADINPUT;
    }
    w.trace_fd = open_trace();
    w.inject_fail = getenv("BPSWEEP_INJECT_FAIL");
    w.stop_at = stop_time(opt);
    gethostname(w.host, sizeof w.host - 1);
    snprintf(w.ckpt_dir, sizeof w.ckpt_dir, "%s.ckpt", opt->output);
    if (rank == 0)
        prepare_checkpoints(w.ckpt_dir, flags[1] ? &table : NULL, opt->log);
    MPI_Barrier(comm); /* the checkpoint folder exists before any worker trains */

    int code = BPS_EXIT_OK;
    if (rank == 0) {
        int n_workers = size > 1 ? size - 1 : 1;
        Coordinator c;
        coord_init(&c, spec, opt, &data, size, flags[1] ? &table : NULL);
        LeaseCounts n0 = lease_counts(c.leases);
        fprintf(opt->log, "bpsweep: %s %lld points (%lld to run) on %d worker%s (%d rank%s); "
                "results in %s\n", flags[1] ? "resuming" : "starting", (long long)grid_size(spec),
                (long long)n0.pending, n_workers, n_workers == 1 ? "" : "s", size,
                size == 1 ? "" : "s", opt->output);
        coord_progress(&c, n_workers, true);
        if (size == 1)
            serial_loop(&c, &w);
        else
            coordinator_loop(&c, comm, size);
        LeaseCounts n = lease_counts(c.leases);
        if (n.pending > 0)
            code = BPS_EXIT_INCOMPLETE;
        else if (n.failed > 0)
            code = BPS_EXIT_POINTS_FAILED;
        snprintf(c.progress.state, sizeof c.progress.state, "%s",
                 n.pending > 0 ? "stopped" : "finished");
        coord_progress(&c, n_workers, true);
        if (c.tty)
            fputc('\n', opt->log);
        char why[64];
        if (g_signal)
            snprintf(why, sizeof why, "stopped by %s", g_signal == SIGTERM  ? "SIGTERM"
                                                       : g_signal == SIGINT ? "SIGINT"
                                                                            : "SIGUSR1");
        else if (c.stop_at > 0 && progress_clock() >= c.stop_at)
            snprintf(why, sizeof why, "stopped for the deadline");
        else
            snprintf(why, sizeof why, "stopped (a worker was interrupted)");
        fprintf(opt->log,
                "bpsweep: sweep %s after %.1f s: %lld done, %lld diverged, %lld failed, %lld "
                "pending; results in %s%s\n",
                n.pending > 0 ? why : "finished", bps_now() - t0, (long long)n.done,
                (long long)n.diverged, (long long)n.failed, (long long)n.pending, opt->output,
                n.pending > 0 ? " (run the same command again to resume)" : "");
        coord_free(&c);
    } else {
        worker_loop(&w);
    }
    store_table_free(&table);
    int close_failed = store_close(w.store, &err) != 0;
    if (close_failed)
        fprintf(stderr, "bpsweep: rank %d: %s\n", rank, err.msg);
    MPI_Allreduce(MPI_IN_PLACE, &close_failed, 1, MPI_INT, MPI_MAX, comm);
    MPI_Bcast(&code, 1, MPI_INT, 0, comm);
    if (close_failed)
        code = BPS_EXIT_ERROR;
    if (w.trace_fd >= 0)
        close(w.trace_fd);
    shared_data_free(&data);
    data_provenance_free(&prov);
    if (rank == 0) {
        if (code != BPS_EXIT_INCOMPLETE)
            rmdir(w.ckpt_dir); /* empty once every point has its row */
        lock_release(lock);
    }
    return code;
}
