/* lock: the results file's lock, with stale-lock detection. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/lock.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long a lock held by a live process is watched before the run is refused: long
 * enough for the ranks of a job whose mpirun was just killed to exit (0.3-0.8 s
 * measured), short beside any job's start-up. */
#define LOCK_WAIT_SECONDS 2.0

typedef struct {
    char host[256];
    long pid;
    char job[64];
} Holder;

/* A Slurm job id as squeue takes it: digits, optionally "_digits" (an array task). */
static bool valid_job_id(const char *s)
{
    size_t i = 0;
    while (isdigit((unsigned char)s[i]))
        i++;
    if (i == 0 || i > 20)
        return false;
    if (s[i] == '\0')
        return true;
    if (s[i++] != '_' || !isdigit((unsigned char)s[i]))
        return false;
    size_t j = i;
    while (isdigit((unsigned char)s[j]))
        j++;
    return s[j] == '\0' && j - i <= 20;
}

/* This process's Slurm job id, or "-" outside Slurm or when the variable holds
 * something that is not a job id. */
static const char *slurm_job(void)
{
    const char *j = getenv("SLURM_JOB_ID");
    return j && valid_job_id(j) ? j : "-";
}

static int write_lock(const char *path, BpsErr *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
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

/* Replaces every byte that is not printable ASCII, so that a forged lock cannot put
 * terminal control sequences into a message. */
static void printable(char *s)
{
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e)
            *s = '?';
}

/* Reads the holder from the lock file, which is not followed if it is a symbolic link.
 * Returns 0, or -1 when the file is missing, unreadable or not of the lock's form. The
 * fields are kept as read (made printable); the job is validated where it is used. */
static int read_holder(const char *path, Holder *h)
{
    memset(h, 0, sizeof *h);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    char text[512];
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? read(fd, text, sizeof text - 1) : -1;
    close(fd);
    if (n <= 0)
        return -1;
    text[n] = '\0';
    char pid[32];
    if (sscanf(text, "%255s %31s %63s", h->host, pid, h->job) != 3)
        return -1;
    char *end;
    errno = 0;
    h->pid = strtol(pid, &end, 10);
    printable(h->host);
    printable(h->job);
    return *end == '\0' && errno == 0 && h->pid > 0 ? 0 : -1;
}

/* Runs argv (no shell) with stdout and stderr into out (at most len - 1 bytes, NUL
 * terminated). Returns the exit status, or -1 when it could not be run or did not
 * exit normally. */
static int run_capture(char *const argv[], char *out, size_t len)
{
    int fds[2];
    out[0] = '\0';
    if (pipe(fds) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    for (;;) {
        char sink[256];
        char *dst = n < len - 1 ? out + n : sink;
        size_t room = n < len - 1 ? len - 1 - n : sizeof sink;
        ssize_t got = read(fds[0], dst, room);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        if (dst == out + n)
            n += (size_t)got;
    }
    out[n] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) != 127 ? WEXITSTATUS(status) : -1;
}

/* 1: the job is known to be finished; 0: running or unknown (no squeue, no answer
 * from the controller). job must be a valid job id. */
static int slurm_job_gone(const char *job)
{
    char id[64];
    snprintf(id, sizeof id, "%s", job);
    char *argv[] = {"squeue", "-h", "-j", id, "-o", "%T", NULL};
    char out[256];
    int rc = run_capture(argv, out, sizeof out);
    if (rc < 0)
        return 0;
    if (rc != 0) /* the controller knows no such job any more: gone */
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

/* Why the holder no longer holds the lock, or NULL if it may still. A job field that
 * is neither "-" nor a Slurm job id is an unknown job: it is never passed to squeue,
 * and such a lock is only stale when its process is gone on this host. */
static const char *stale_reason(const Holder *h)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    bool is_job = valid_job_id(h->job);
    if (is_job && strcmp(h->job, slurm_job()) == 0)
        return "left by an earlier run of this Slurm job";
    if (strcmp(h->host, host) == 0 && !process_alive(h->pid))
        return "its process is gone";
    if (is_job && slurm_job_gone(h->job))
        return "its Slurm job is no longer running";
    return NULL;
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Whether a live holder on this host exits within LOCK_WAIT_SECONDS. */
static bool holder_exits(const Holder *h)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    if (strcmp(h->host, host) != 0)
        return false;
    for (double waited = 0; waited < LOCK_WAIT_SECONDS; waited += 0.1) {
        if (!process_alive(h->pid))
            return true;
        sleep_seconds(0.1);
    }
    return false;
}

int lock_acquire(const char *results, char *lock_path, FILE *log, BpsErr *err)
{
    if (snprintf(lock_path, LOCK_PATH_MAX, "%s.lock", results) >= LOCK_PATH_MAX)
        return bps_fail(err, "%s: path too long", results);
    for (int tries = 0; tries < 3; tries++) {
        int rc = write_lock(lock_path, err);
        if (rc <= 0)
            return rc;
        Holder h;
        if (read_holder(lock_path, &h) != 0) {
            /* being written this very moment, or garbage: look once more */
            sleep_seconds(0.2);
            if (read_holder(lock_path, &h) != 0) {
                if (access(lock_path, F_OK) != 0)
                    continue; /* removed meanwhile: try to take it */
                return bps_fail(err, "%s: exists but is not a bpsweep lock; remove it if no "
                                "sweep is writing %s", lock_path, results);
            }
        }
        const char *why = stale_reason(&h);
        /* a holder that is exiting (its mpirun was just killed) lets go within a second */
        if (!why && holder_exits(&h))
            why = "its process has exited";
        if (!why) {
            bool known = valid_job_id(h.job) || strcmp(h.job, "-") == 0;
            return bps_fail(err, "%s is being written by another sweep (host %s, pid %ld, "
                            "Slurm job %s%s); if that is wrong, remove %s", results, h.host,
                            h.pid, h.job, known ? "" : ": not a job id, an unknown job",
                            lock_path);
        }
        fprintf(log, "bpsweep: warning: taking over the stale lock %s (host %s, pid %ld, job "
                "%s): %s\n", lock_path, h.host, h.pid, h.job, why);
        unlink(lock_path);
    }
    return bps_fail(err, "%s: could not take over the lock", lock_path);
}

bool lock_held_by(const char *results, const char *host, long pid)
{
    char path[LOCK_PATH_MAX];
    Holder h;
    if (snprintf(path, sizeof path, "%s.lock", results) >= (int)sizeof path ||
        read_holder(path, &h) != 0 || h.pid != pid)
        return false;
    char me[256] = "", theirs[256];
    gethostname(me, sizeof me - 1);
    snprintf(theirs, sizeof theirs, "%s", host);
    printable(theirs);
    return strcmp(h.host, theirs) == 0 && (strcmp(h.host, me) != 0 || process_alive(pid));
}

void lock_release(const char *lock_path)
{
    if (lock_path && *lock_path)
        unlink(lock_path);
}
