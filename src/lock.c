/* lock: the results file's lock, with stale-lock detection. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char host[256];
    long pid;
    char job[64];
} Holder;

static const char *slurm_job(void)
{
    const char *j = getenv("SLURM_JOB_ID");
    return j && *j ? j : "-";
}

static int write_lock(const char *path, BpsErr *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        return errno == EEXIST ? 1 : bps_fail(err, "%s: cannot create: %s", path, strerror(errno));
    char host[256] = "", text[512];
    gethostname(host, sizeof host - 1);
    int n = snprintf(text, sizeof text, "%s %ld %s %ld\n", host, (long)getpid(), slurm_job(),
                     (long)time(NULL));
    if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return bps_fail(err, "%s: cannot write: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

static int read_holder(const char *path, Holder *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = fscanf(f, "%255s %ld %63s", h->host, &h->pid, h->job);
    fclose(f);
    return n == 3 ? 0 : -1;
}

/* 1: the job is known to be finished; 0: running or unknown (no squeue, no answer
 * from the controller). */
static int slurm_job_gone(const char *job)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "squeue -h -j '%s' -o %%T 2>&1", job);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char out[256] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int rc = pclose(p);
    if (rc == -1 || !WIFEXITED(rc))
        return 0;
    if (WEXITSTATUS(rc) != 0) /* the controller knows no such job any more: gone */
        return strstr(out, "Invalid job id") != NULL;
    char state[64] = "";
    if (sscanf(out, "%63s", state) != 1)
        return 1; /* no longer listed */
    return strcmp(state, "RUNNING") != 0 && strcmp(state, "COMPLETING") != 0 &&
           strcmp(state, "PENDING") != 0 && strcmp(state, "CONFIGURING") != 0 &&
           strcmp(state, "SUSPENDED") != 0 && strcmp(state, "REQUEUED") != 0;
}

/* A process that exists and has not exited (a zombie has). */
static bool process_alive(long pid)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
        return false;
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return true; /* no /proc: trust kill() */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return !(paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X'));
}

/* Why the holder no longer holds the lock, or NULL if it may still. */
static const char *stale_reason(const Holder *h)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (strcmp(h->job, "-") != 0 && strcmp(h->job, slurm_job()) == 0)
        return "left by an earlier run of this Slurm job";
    if (strcmp(h->host, host) == 0 && !process_alive(h->pid))
        return "its process is gone";
    if (strcmp(h->job, "-") != 0 && slurm_job_gone(h->job))
        return "its Slurm job is no longer running";
    return NULL;
}

int lock_acquire(const char *results, char *lock_path, FILE *log, BpsErr *err)
{
    if (snprintf(lock_path, LOCK_PATH_MAX, "%s.lock", results) >= LOCK_PATH_MAX)
        return bps_fail(err, "%s: path too long", results);
    for (int tries = 0; tries < 2; tries++) {
        int rc = write_lock(lock_path, err);
        if (rc <= 0)
            return rc;
        Holder h;
        if (read_holder(lock_path, &h) != 0) {
            /* being written this very moment, or garbage: look once more */
            struct timespec ts = {0, 200000000};
            nanosleep(&ts, NULL);
            if (read_holder(lock_path, &h) != 0)
                return bps_fail(err, "%s: exists but is unreadable; remove it if no sweep is "
                                "writing %s", lock_path, results);
        }
        const char *why = stale_reason(&h);
        if (!why)
            return bps_fail(err, "%s is being written by another sweep (host %s, pid %ld, Slurm "
                            "job %s); if that is wrong, remove %s", results, h.host, h.pid, h.job,
                            lock_path);
        fprintf(log, "bpsweep: warning: taking over the stale lock %s (host %s, pid %ld, job "
                "%s): %s\n", lock_path, h.host, h.pid, h.job, why);
        unlink(lock_path);
    }
    return bps_fail(err, "%s: could not take over the lock", lock_path);
}

void lock_release(const char *lock_path)
{
    if (lock_path && *lock_path)
        unlink(lock_path);
}
