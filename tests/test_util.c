#define _XOPEN_SOURCE 700 /* nftw */
#include "test_util.h"

#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_failures = 0;

int test_summary(void)
{
    if (test_failures) {
        printf("%d check(s) FAILED\n", test_failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}

long test_allclose(const char *what, const float *a, const double *ref, long n, double atol,
                   double rtol)
{
    long bad = 0, worst = -1;
    double worst_excess = 0;
    for (long i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - ref[i]);
        double tol = atol + rtol * fabs(ref[i]);
        if (!(diff <= tol)) {
            bad++;
            double excess = isnan(diff) ? (double)INFINITY : diff / tol;
            if (worst < 0 || excess > worst_excess) {
                worst = i;
                worst_excess = excess;
            }
        }
    }
    if (bad) {
        fprintf(stderr, "%s: %ld of %ld elements differ; worst [%ld] got %.9g want %.9g\n", what,
                bad, n, worst, (double)a[worst], ref[worst]);
        test_failures++;
    }
    return bad;
}

int test_write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

void test_fill_uniform(float *v, size_t n, unsigned seed)
{
    unsigned long long x = 0x9E3779B97F4A7C15ull ^ seed;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
}

float *test_random_kernel(int O, int C, int k, unsigned seed)
{
    const size_t n = (size_t)O * (size_t)C * (size_t)k * (size_t)k;
    float *W = malloc(n * sizeof *W);
    test_fill_uniform(W, n, seed);
    return W;
}

int test_write_case(const char *dir, const char *name, const char *what, const void *v,
                    size_t bytes)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, what);
    if (test_write_bytes(path, v, bytes) != 0) {
        perror(path);
        return -1;
    }
    return 0;
}

int test_write_floats(const char *dir, const char *name, const char *what, const float *v,
                      size_t n)
{
    char ext[256];
    snprintf(ext, sizeof ext, "%s.f32", what);
    return test_write_case(dir, name, ext, v, n * sizeof *v);
}

/* The directories test_tmpdir made, removed at exit by the process that made them (not
 * by a forked child that calls exit) when every check passed; kept for a look otherwise. */
enum { MAX_TMPDIRS = 16 };
static char tmpdirs[MAX_TMPDIRS][512];
static int n_tmpdirs;
static pid_t tmpdir_owner;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    if (remove(path) != 0)
        perror(path);
    return 0;
}

static void remove_tmpdirs(void)
{
    if (getpid() != tmpdir_owner)
        return;
    for (int i = 0; i < n_tmpdirs; i++) {
        if (test_failures)
            fprintf(stderr, "kept %s for a look (checks failed)\n", tmpdirs[i]);
        else
            nftw(tmpdirs[i], remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
}

const char *test_tmpdir(void)
{
    if (n_tmpdirs == MAX_TMPDIRS) {
        fprintf(stderr, "test_tmpdir: more than %d directories\n", MAX_TMPDIRS);
        exit(2);
    }
    char *dir = tmpdirs[n_tmpdirs];
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof tmpdirs[0], "%s/bpsweep-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    if (n_tmpdirs++ == 0) {
        tmpdir_owner = getpid();
        atexit(remove_tmpdirs);
    }
    return dir;
}
