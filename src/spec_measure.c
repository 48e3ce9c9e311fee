/* spec_measure: "measure" - the instruments run on every point (robustness, the
 * local-minimum certificate, the NTK), each enabled with its defaults when given. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include "bpsweep/cert.h"

#include <limits.h>

/* Up to SPEC_MAX_EPS distinct radii in (0, 1]. */
static int read_eps_list(const Ctx *c, const cJSON *arr, const char *path, void *obj)
{
    RobustSpec *r = obj;
    char ipath[SPEC_PATH_LEN];
    if (spec_read_array(c, arr, path, "radii in (0, 1] (fractions of the data range)", &r->n_eps))
        return -1;
    if (r->n_eps > SPEC_MAX_EPS)
        return spec_fail_at(c, path, "expected at most %d radii, got %d", SPEC_MAX_EPS, r->n_eps);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        if (spec_read_num(c, e, ipath, &(Range){0, 1, true, false}, &r->eps[i]))
            return -1;
        for (int j = 0; j < i; j++)
            if (r->eps[j] == r->eps[i])
                return spec_fail_at(c, ipath, "duplicate value (also %s[%d])", path, j);
    }
    return 0;
}

static void write_eps_list(SpecBuf *b, const void *obj)
{
    const RobustSpec *r = obj;
    spec_write_num_array(b, r->eps, r->n_eps);
}

/* measure.robustness (a RobustSpec) */
static const SpecField ROBUST_FIELDS[] = {
    {SPEC_CUSTOM("eps", read_eps_list, write_eps_list), .required = true},
    {SPEC_INT("steps", RobustSpec, steps, 1, 10000)},
    {SPEC_NUM("step_ratio", RobustSpec, step_ratio, SPEC_POSITIVE)},
    {SPEC_INT("test_samples", RobustSpec, test_samples, 0, INT_MAX)},
    {SPEC_INT("train_samples", RobustSpec, train_samples, 0, INT_MAX)},
    {.key = NULL}};

/* measure.certificate (a CertSpec); the tolerance is written when not the default (so
 * older hashes hold) */
static bool cert_tol_set(const void *obj)
{
    return ((const CertSpec *)obj)->tolerance != CERT_DEFAULT_TOLERANCE;
}

static bool lanczos_tol_set(const void *obj)
{
    return ((const CertSpec *)obj)->lanczos_tolerance != 0;
}

static const SpecField CERT_FIELDS[] = {
    {SPEC_INT("samples", CertSpec, samples, 0, INT_MAX)},
    {SPEC_INT("iterations", CertSpec, iterations, 0, 100000)},
    {SPEC_NUM("tolerance", CertSpec, tolerance, 0, 1, true, true), .when = cert_tol_set},
    {SPEC_NUM("lanczos_tolerance", CertSpec, lanczos_tolerance, 0, 1, false, true),
     .when = lanczos_tol_set},
    {.key = NULL}};

/* measure.ntk.epochs: at most 64, strictly increasing. */
static int read_ntk_epochs(const Ctx *c, const cJSON *ep, const char *path, void *obj)
{
    NtkSpec *ntk = obj;
    char ipath[SPEC_PATH_LEN];
    int n;
    if (spec_read_array(c, ep, path, "epochs (integers >= 1), increasing", &n))
        return -1;
    if (n > 64)
        return spec_fail_at(c, path, "expected at most 64 epochs, got %d", n);
    int i = 0;
    for (const cJSON *e = ep->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        int64_t ev;
        if (spec_read_int(c, e, ipath, 1, SPEC_MAX_EPOCHS, NULL, &ev))
            return -1;
        if (i > 0 && ev <= ntk->epochs[i - 1])
            return spec_fail_at(c, ipath, "epochs must be strictly increasing, but %lld follows %d",
                                (long long)ev, ntk->epochs[i - 1]);
        ntk->epochs[i] = (int)ev;
    }
    ntk->n_epochs = n;
    return 0;
}

static bool ntk_has_epochs(const void *obj)
{
    return ((const NtkSpec *)obj)->n_epochs > 0; /* only when given */
}

static void write_ntk_epochs(SpecBuf *b, const void *obj)
{
    const NtkSpec *ntk = obj;
    spec_write_int_array(b, ntk->epochs, ntk->n_epochs);
}

static bool ntk_bn_data(const void *obj)
{
    return ((const NtkSpec *)obj)->batch_norm == NTK_BN_DATA;
}

/* measure.ntk (an NtkSpec); batch_norm is written only when not the default, so older
 * hashes hold */
static const char *const NTK_BN_NAMES[] = {"running", "data", NULL};
static const SpecField NTK_FIELDS[] = {
    {SPEC_INT("samples", NtkSpec, samples, 1, 256)},
    {SPEC_INT("pool", NtkSpec, pool, 1, 1 << 28)},
    {SPEC_CUSTOM("epochs", read_ntk_epochs, write_ntk_epochs), .when = ntk_has_epochs},
    {SPEC_ENUM("batch_norm", NtkSpec, batch_norm, NTK_BN_NAMES), .when = ntk_bn_data},
    {.key = NULL}};

/* The members of "measure" are members of the Spec; each instrument given is enabled
 * with its defaults, then its members are read. */
static int read_robustness(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    RobustSpec *r = &((Spec *)obj)->robust;
    *r = (RobustSpec){.enabled = true, .steps = 20, .step_ratio = 0.25, .test_samples = 1000};
    return spec_read_object(c, v, path, ROBUST_FIELDS, 0, NULL, false, r);
}

static int read_certificate(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    CertSpec *cert = &((Spec *)obj)->cert;
    *cert = (CertSpec){true, 0, 100, CERT_DEFAULT_TOLERANCE, 0};
    return spec_read_object(c, v, path, CERT_FIELDS, 0, NULL, false, cert);
}

static int read_ntk(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    NtkSpec *ntk = &((Spec *)obj)->ntk;
    *ntk = (NtkSpec){.enabled = true, .samples = 25, .pool = 128};
    if (spec_read_object(c, v, path, NTK_FIELDS, 0, NULL, false, ntk))
        return -1;
    if (ntk->samples > ntk->pool) {
        char kpath[SPEC_PATH_LEN];
        spec_path_key(kpath, path, NTK_FIELDS[0].key); /* samples */
        return spec_fail_at(c, kpath, "expected at most pool = %d samples, got %d", ntk->pool,
                            ntk->samples);
    }
    return 0;
}

static bool ntk_on(const void *obj)
{
    return ((const Spec *)obj)->ntk.enabled;
}

static bool robustness_on(const void *obj)
{
    return ((const Spec *)obj)->robust.enabled;
}

static bool certificate_on(const void *obj)
{
    return ((const Spec *)obj)->cert.enabled;
}

static void write_ntk(SpecBuf *b, const void *obj)
{
    spec_write_object(b, NTK_FIELDS, 0, &((const Spec *)obj)->ntk);
}

static void write_robustness(SpecBuf *b, const void *obj)
{
    spec_write_object(b, ROBUST_FIELDS, 0, &((const Spec *)obj)->robust);
}

static void write_certificate(SpecBuf *b, const void *obj)
{
    spec_write_object(b, CERT_FIELDS, 0, &((const Spec *)obj)->cert);
}

/* "measure": the instruments run on every point (docs/spec.md#measure); written only
 * when one is on, so older hashes hold. ntk is read last. */
static const SpecField MEASURE_FIELDS[] = {
    {SPEC_CUSTOM("ntk", read_ntk, write_ntk), .pass = 1, .when = ntk_on},
    {SPEC_CUSTOM("robustness", read_robustness, write_robustness), .when = robustness_on},
    {SPEC_CUSTOM("certificate", read_certificate, write_certificate), .when = certificate_on},
    {.key = NULL}};

int spec_read_measure(const Ctx *c, const cJSON *v, const char *path, Spec *s)
{
    return spec_read_object(c, v, path, MEASURE_FIELDS, 0, NULL, false, s);
}

void spec_write_measure(SpecBuf *b, const Spec *s)
{
    spec_write_object(b, MEASURE_FIELDS, 0, s);
}
