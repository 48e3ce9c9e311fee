/* util: checked allocation, error messages, hashing, whole-file I/O. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int bps_fail(BpsErr *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void bps_err_prefix(BpsErr *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[BPS_ERR_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    size_t np = strlen(prefix) + 2, nm = strnlen(err->msg, sizeof err->msg - 1);
    if (nm + np >= sizeof err->msg)
        nm = sizeof err->msg - np - 1;
    memmove(err->msg + np, err->msg, nm);
    err->msg[np + nm] = '\0';
    memcpy(err->msg, prefix, np - 2);
    err->msg[np - 2] = ':';
    err->msg[np - 1] = ' ';
}

static void out_of_memory(size_t n, const char *file, int line)
{
    fprintf(stderr, "bpsweep: out of memory allocating %zu bytes at %s:%d\n", n, file, line);
    exit(BPS_EXIT_ERROR);
}

void *bps_xmalloc(size_t n, const char *file, int line)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n, file, line);
    return p;
}

void *bps_xcalloc(size_t n, size_t size, const char *file, int line)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size, file, line);
    return p;
}

void *bps_xrealloc(void *p, size_t n, const char *file, int line)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n, file, line);
    return q;
}

char *bps_xstrdup(const char *s, const char *file, int line)
{
    size_t n = strlen(s) + 1;
    char *p = bps_xmalloc(n, file, line);
    memcpy(p, s, n);
    return p;
}

void *bps_xalloc_aligned(size_t n, const char *file, int line)
{
    void *p = NULL;
    size_t rounded = (n + 63) / 64 * 64;
    if (posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        out_of_memory(n, file, line);
    return p;
}

void *bps_try_alloc_aligned(size_t n)
{
    void *p = NULL;
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded < n || posix_memalign(&p, 64, rounded ? rounded : 64) != 0)
        return NULL;
    return p;
}

void bps_fault_point(const char *name)
{
    static int parsed = 0;
    static char want[64];
    static long at = 0, count = 0;
    if (!parsed) {
        const char *env = getenv("BPSWEEP_FAULT");
        const char *colon = env ? strchr(env, ':') : NULL;
        if (colon && (size_t)(colon - env) < sizeof want) {
            memcpy(want, env, (size_t)(colon - env));
            want[colon - env] = '\0';
            at = strtol(colon + 1, NULL, 10);
        }
        parsed = 1;
    }
    if (at > 0 && strcmp(name, want) == 0 && ++count == at)
        kill(getpid(), SIGKILL);
}

int bps_never(const char *cond, const char *file, int line)
{
    fprintf(stderr, "bpsweep: internal error: %s at %s:%d (please report it)\n", cond, file, line);
#ifndef NDEBUG
    abort();
#endif
    return 1;
}

double bps_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t bps_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

int bps_read_file_max(const char *path, size_t max, int flags, char **out, size_t *len,
                      BpsErr *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
                            (flags & BPS_READ_NOFOLLOW ? O_NOFOLLOW : 0));
    if (fd < 0)
        return bps_fail(err, "%s: cannot open: %s", path,
                        errno == ELOOP ? "is a symbolic link" : strerror(errno));
    /* O_NONBLOCK only so that opening a planted FIFO does not hang; reads block */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    struct stat st;
    bool no_stat = fstat(fd, &st) != 0;
    if (no_stat || S_ISDIR(st.st_mode)) {
        const char *why = no_stat ? strerror(errno) : "is a directory";
        close(fd);
        return bps_fail(err, "%s: cannot read: %s", path, why);
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t want = cap - n - 1;
        if (want > max - n + 1) /* one byte past max tells "too large" */
            want = max - n + 1;
        ssize_t got = read(fd, buf + n, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            close(fd);
            free(buf);
            return bps_fail(err, "%s: read error: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n > max) {
            close(fd);
            free(buf);
            bps_fail(err, "%s: larger than %zu bytes", path, max);
            return BPS_READ_TOO_LARGE;
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    if (len)
        *len = n;
    return 0;
}

int bps_read_file(const char *path, char **out, size_t *len, BpsErr *err)
{
    return bps_read_file_max(path, SIZE_MAX - 1, 0, out, len, err);
}

/* Creates a new temporary file beside path, "<path>.tmp.<pid>.<random>", with O_EXCL and
 * O_NOFOLLOW: a name somebody planted (a file or a symbolic link) is never opened, the
 * next name is tried instead. Returns the descriptor (name in tmp) or -1 with errno. */
static int create_temp_beside(const char *path, char *tmp, size_t len)
{
    static unsigned long counter;
    uint64_t h = bps_hash_bytes(BPS_HASH_INIT, path, strlen(path));
    for (int tries = 0; tries < 64; tries++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t salt[3] = {h, (uint64_t)ts.tv_nsec, (uint64_t)++counter};
        unsigned long r = (unsigned long)(bps_hash_bytes(BPS_HASH_INIT, salt, sizeof salt) &
                                          0xffffffffu);
        if (snprintf(tmp, len, "%s.tmp.%ld.%08lx", path, (long)getpid(), r) >= (int)len) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

int bps_write_file_atomic(const char *path, const void *data, size_t n, const char *fault,
                          BpsErr *err)
{
    char tmp[4200];
    int fd = create_temp_beside(path, tmp, sizeof tmp);
    if (fd < 0)
        return bps_fail(err, "%s: cannot create a temporary file beside it: %s", path,
                        strerror(errno));
    const char *p = data;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            unlink(tmp);
            return bps_fail(err, "%s: write failed: %s", tmp, strerror(e));
        }
        p += w;
        left -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return bps_fail(err, "%s: fsync/close failed: %s", tmp, strerror(e));
    }
    if (fault)
        bps_fault_point(fault);
    /* rename replaces a symbolic link at path itself, never the file it points to */
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return bps_fail(err, "%s: rename failed: %s", path, strerror(e));
    }
    return 0;
}

double bps_dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}
