/* util: checked allocation, error messages, small helpers shared by every module.
 *
 * Errors the world can cause are reported through a BpsErr: the failing function
 * writes one human-readable message (naming the file or JSON path and what was
 * expected) and returns a non-zero int. Out-of-memory is not such an error: the
 * xmalloc family prints file and line and exits, because nothing sensible can
 * continue. */
#ifndef BPSWEEP_UTIL_H
#define BPSWEEP_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define BPS_ERR_MAX 1024

/* Exit codes of the bpsweep binary (documented in README.md and `bpsweep --help`). */
enum {
    BPS_EXIT_OK = 0,
    BPS_EXIT_ERROR = 1,     /* internal or system failure */
    BPS_EXIT_BADINPUT = 2,  /* bad spec, bad data file, bad command line */
    BPS_EXIT_INCOMPLETE = 3,    /* stopped early (signal, deadline): run again to resume */
    BPS_EXIT_POINTS_FAILED = 4, /* sweep finished, but some points failed every attempt */
};

typedef struct {
    char msg[BPS_ERR_MAX];
} BpsErr;

/* Formats a message into err (which may be NULL) and returns -1, so that
 * `return bps_fail(err, "...")` reads naturally. */
int bps_fail(BpsErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "prefix: " to the message already in err (for adding context). */
void bps_err_prefix(BpsErr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Checked allocation: never returns NULL; on failure prints file:line and exits(1).
 * Memory from these is freed with free(). */
#define xmalloc(n) bps_xmalloc((n), __FILE__, __LINE__)
#define xcalloc(n, size) bps_xcalloc((n), (size), __FILE__, __LINE__)
#define xrealloc(p, n) bps_xrealloc((p), (n), __FILE__, __LINE__)
#define xstrdup(s) bps_xstrdup((s), __FILE__, __LINE__)
/* 64-byte aligned float/double arrays for BLAS; free with free(). */
#define xalloc_aligned(n) bps_xalloc_aligned((n), __FILE__, __LINE__)

void *bps_xmalloc(size_t n, const char *file, int line);
void *bps_xcalloc(size_t n, size_t size, const char *file, int line);
void *bps_xrealloc(void *p, size_t n, const char *file, int line);
char *bps_xstrdup(const char *s, const char *file, int line);
void *bps_xalloc_aligned(size_t n, const char *file, int line);

/* 64-byte aligned allocation that may fail: NULL when memory is short (for buffers
 * whose size comes from the user, e.g. a network's width, so that a too-large point
 * fails alone instead of ending the process). Free with free(). */
void *bps_try_alloc_aligned(size_t n);

/* Fault injection for the kill tests: with BPSWEEP_FAULT=name:n in the environment,
 * the n-th call of bps_fault_point(name) in this process kills it with SIGKILL (the
 * way a node failure or `scancel` would). Names in use: "create" (results file
 * created, not yet flushed), "row" (a row written, its status not yet), "checkpoint"
 * (a checkpoint written and synced, not yet renamed into place), "epoch" (in the
 * middle of an epoch). Without the variable this is a cheap no-op. */
void bps_fault_point(const char *name);

/* The can't-happen guard (SQLite's NEVER): `if (NEVER(cond)) return <an error>;` for a
 * branch that a correct program never takes but that must not fall through silently if
 * it does. The condition is evaluated in every build; when it holds, bps_never prints
 * "internal error" with the condition, file and line to stderr, and then aborts in a
 * debug build (no NDEBUG) or returns 1 in a release build, so that the caller's error
 * path runs. Invariants that cost nothing to break stay plain asserts. */
#define NEVER(cond) ((cond) ? bps_never(#cond, __FILE__, __LINE__) : 0)
int bps_never(const char *cond, const char *file, int line);

/* Monotonic wall clock in seconds. */
double bps_now(void);

/* 64-bit FNV-1a over bytes, continuing from h (start with BPS_HASH_INIT). */
#define BPS_HASH_INIT UINT64_C(0xcbf29ce484222325)
uint64_t bps_hash_bytes(uint64_t h, const void *data, size_t n);

/* sum of a[k] b[k] over k = 0 .. n-1, in that order (the order fixes the bits of every
 * result computed from it: the certificate, the linear fit, the Newton iteration) */
double bps_dot(const double *a, const double *b, size_t n);

/* Reads a whole file into a NUL-terminated buffer (caller frees); *len gets the size. */
int bps_read_file(const char *path, char **out, size_t *len, BpsErr *err);

/* The same, refusing a file of more than max bytes as soon as it has read that much (so
 * /dev/zero is refused, not read forever: BPS_READ_TOO_LARGE, nothing allocated), and
 * with BPS_READ_NOFOLLOW a path that is a symbolic link (for files in a results folder
 * that others may write: progress files, checkpoints). Other failures return -1. */
#define BPS_READ_NOFOLLOW 1
#define BPS_READ_TOO_LARGE (-2)
int bps_read_file_max(const char *path, size_t max, int flags, char **out, size_t *len,
                      BpsErr *err);

/* Writes a file atomically: a new temporary file beside it (an unpredictable name,
 * created with O_EXCL|O_NOFOLLOW, so nothing planted in a shared folder is opened or
 * truncated), fsync, rename (which replaces a symbolic link at path, never its target).
 * fault (or NULL) names the bps_fault_point between the fsync and the rename. */
int bps_write_file_atomic(const char *path, const void *data, size_t n, const char *fault,
                          BpsErr *err);

#endif
