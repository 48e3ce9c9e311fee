/* Minimal test harness: each test program runs named cases and exits non-zero if
 * any check failed. Checks print file:line and what differed. */
#ifndef BPSWEEP_TEST_UTIL_H
#define BPSWEEP_TEST_UTIL_H

#include <stdio.h>

extern int test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

/* Runs a test function, printing its name and the verdict. */
#define RUN(fn)                                                                      \
    do {                                                                             \
        int before_ = test_failures;                                                 \
        fn();                                                                        \
        printf("%-60s %s\n", #fn, test_failures == before_ ? "ok" : "FAILED");       \
    } while (0)

/* Exit status of a test program. */
int test_summary(void);

/* |a - b| <= atol + rtol * |ref|: element count that fail; prints the worst. */
long test_allclose(const char *what, const float *a, const double *ref, long n, double atol,
                   double rtol);

/* Writes bytes to path (for making corrupt input files); returns 0 on success. */
int test_write_bytes(const char *path, const void *data, size_t n);

/* v (n) = deterministic values in [-1, 1) from seed (a 64-bit LCG): test kernels. */
void test_fill_uniform(float *v, size_t n, unsigned seed);

/* A new O x C x k x k kernel of test_fill_uniform values (free it). */
float *test_random_kernel(int O, int C, int k, unsigned seed);

/* The reference-case programs' outputs: bytes to DIR/NAME.WHAT, or n floats to
 * DIR/NAME.WHAT.f32; 0, or -1 after perror. */
int test_write_case(const char *dir, const char *name, const char *what, const void *v,
                    size_t bytes);
int test_write_floats(const char *dir, const char *name, const char *what, const float *v,
                      size_t n);

/* A fresh temporary directory (mkdtemp under $TMPDIR or /tmp); static storage. It and
 * everything in it are removed at exit if every check passed (kept otherwise). */
const char *test_tmpdir(void);

#endif
