/* sched: coordinator / worker protocol over MPI, progress, the run. The data set once
 * per node is sched_data.c, the look at an existing results file and the checkpoint
 * folder sched_resume.c (sched_internal.h); ranks reach their verdicts through agree.h.
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

#include "bpsweep/agree.h"
#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/lease.h"
#include "bpsweep/lock.h"
#include "bpsweep/point.h"
#include "bpsweep/progress.h"
#include "bpsweep/store.h"
#include "bpsweep/util.h"
#include "sched_internal.h"

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
int sched_run(MPI_Comm comm, const Spec *spec, const SweepOptions *opt)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    double t0 = bps_now();
    install_signal_handlers();
    BpsErr err;
    char lock[LOCK_PATH_MAX] = "";
    int rc = rank == 0 ? lock_acquire(opt->output, lock, opt->log, &err) : 0;
    if (rank == 0 && rc == 0 && (rc = sched_check_checkpoint_dir(opt->output, &err)) != 0)
        lock_release(lock);
    if (agree_root(comm, rc, &err) != 0) {
        if (rank == 0)
            fprintf(opt->log, "bpsweep: %s\n", err.msg);
        return BPS_EXIT_BADINPUT;
    }
    StoreTable table = {0};
    int exists = 0; /* resume: rank 0 found the file */
    rc = rank == 0 ? sched_check_existing(opt->output, spec, &table, &exists, opt->log, &err) : 0;
    bool failed = agree_root(comm, rc, &err) != 0;
    MPI_Bcast(&exists, 1, MPI_INT, 0, comm);
    SharedData data = {MPI_WIN_NULL, {0}, {0}};
    DataProvenance prov = {0};
    if (!failed && sched_data_load(comm, &spec->data, &data, &prov, &err) != 0)
        failed = true;
    if (!failed && rank == 0 && exists)
        data_provenance_compare(&prov, table.data_files, opt->output, opt->log);
    /* every rank has the same data and spec: the same verdict */
    if (!failed &&
        spec_check_nets(spec, dataset_shape(&data.train), data.train.classes, "spec", &err) != 0)
        failed = true;
    if (!failed && spec_check_augment(spec, dataset_shape(&data.train), "spec", &err) != 0)
        failed = true;
    int created = 0;
    if (!failed && !exists) {
        /* the file's shape from the networks of the spec on this data (point.h); a
         * signal during creation stops it between slabs (STORE_STOPPED) */
        StoreShape shape = point_store_shape(spec, dataset_shape(&data.train),
                                             data.train.classes);
        created = store_create_shaped(comm, opt->output, spec, &shape, &prov, &g_signal, &err);
        failed = created != 0;
    }
    Worker w = {.comm = comm, .rank = rank, .size = size, .spec = spec, .opt = opt, .data = &data,
                .trace_fd = -1};
    if (!failed && store_open(comm, opt->output, &w.store, &err) != 0)
        failed = true;
    if (failed) { /* every step above returns alike on every rank */
        if (rank == 0 && created == STORE_STOPPED)
            fprintf(opt->log, "bpsweep: %s by %s after %.1f s; nothing was computed (run the "
                    "same command again to start)\n", err.msg,
                    g_signal == SIGTERM ? "SIGTERM" : g_signal == SIGINT ? "SIGINT" : "SIGUSR1",
                    bps_now() - t0);
        else if (rank == 0)
            fprintf(opt->log, "bpsweep: %s\n", err.msg);
        store_table_free(&table);
        sched_data_free(&data);
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
        sched_prepare_checkpoints(w.ckpt_dir, exists ? &table : NULL, opt->log);
    MPI_Barrier(comm); /* the checkpoint folder exists before any worker trains */

    int code = BPS_EXIT_OK;
    if (rank == 0) {
        int n_workers = size > 1 ? size - 1 : 1;
        Coordinator c;
        coord_init(&c, spec, opt, &data, size, exists ? &table : NULL);
        LeaseCounts n0 = lease_counts(c.leases);
        fprintf(opt->log, "bpsweep: %s %lld points (%lld to run) on %d worker%s (%d rank%s); "
                "results in %s\n", exists ? "resuming" : "starting", (long long)grid_size(spec),
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
    /* collective, the same on every rank (the first failing rank's message) */
    int close_failed = store_close(w.store, &err) != 0;
    if (close_failed && rank == 0)
        fprintf(stderr, "bpsweep: %s\n", err.msg);
    MPI_Bcast(&code, 1, MPI_INT, 0, comm);
    if (close_failed)
        code = BPS_EXIT_ERROR;
    if (w.trace_fd >= 0)
        close(w.trace_fd);
    sched_data_free(&data);
    data_provenance_free(&prov);
    if (rank == 0) {
        if (code != BPS_EXIT_INCOMPLETE)
            rmdir(w.ckpt_dir); /* empty once every point has its row */
        lock_release(lock);
    }
    return code;
}
