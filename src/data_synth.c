/* data_synth: deterministic synthetic sets - Gaussian clusters around random centres,
 * drawn from the RNG_DATA streams of the seed - and their setup from a DataConfig. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/rng.h"

/* Keys of the RNG_DATA streams of a synthetic set (the `index` of rng_key). */
enum { SYNTH_CENTRES = 0, SYNTH_TRAIN = 1, SYNTH_TEST = 2 };

/* Fills ds with n samples: sample i has label c = i % classes and features
 * centre[c + classes * ((i / classes) % clusters)] + noise * N(0, 1), drawn in order
 * from the stream with `key`. */
static void synthetic_fill(Dataset *ds, int n, int d, int classes, int clusters, double noise,
                           const double *centres, uint64_t key)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->classes = classes;
    ds->x = xalloc_aligned((size_t)n * (size_t)d * sizeof(float));
    ds->y = xmalloc((size_t)n);
    ds->borrowed = false;
    ds->c = d;
    ds->h = 1;
    ds->w = 1;
    RngStream s = rng_stream(key);
    for (int i = 0; i < n; i++) {
        int c = i % classes, k = c + classes * ((i / classes) % clusters);
        const double *centre = centres + (size_t)k * (size_t)d; /* (d) */
        float *xi = ds->x + (size_t)i * (size_t)d;              /* (d) */
        ds->y[i] = (uint8_t)c;
        for (int j = 0; j < d; j++)
            xi[j] = (float)(centre[j] + noise * rng_normal(&s));
    }
}

void dataset_synthetic_clusters(int n_train, int n_test, int d, int classes, int clusters,
                                double noise, uint64_t seed, Dataset *train, Dataset *test)
{
    assert(n_train >= 1 && n_test >= 0 && d >= 1);
    assert(classes >= 1 && classes <= 256 && clusters >= 1);
    const int dims[2] = {d, classes};
    size_t nc = (size_t)classes * (size_t)clusters;
    double *centres = xmalloc(nc * (size_t)d * sizeof(double)); /* (classes * clusters, d) */
    RngStream s = rng_stream(rng_key(seed, dims, 2, RNG_DATA, SYNTH_CENTRES));
    for (size_t i = 0; i < nc * (size_t)d; i++)
        centres[i] = rng_normal(&s);
    synthetic_fill(train, n_train, d, classes, clusters, noise, centres,
                   rng_key(seed, dims, 2, RNG_DATA, SYNTH_TRAIN));
    synthetic_fill(test, n_test, d, classes, clusters, noise, centres,
                   rng_key(seed, dims, 2, RNG_DATA, SYNTH_TEST));
    free(centres);
}

void dataset_synthetic(int n_train, int n_test, int d, int classes, double noise,
                       uint64_t seed, Dataset *train, Dataset *test)
{
    dataset_synthetic_clusters(n_train, n_test, d, classes, 1, noise, seed, train, test);
}

/* ---- from a DataConfig ----------------------------------------------------------- */

/* A subset setting for a synthetic set: 0 = all n, else at most n. */
static int synthetic_count(const char *name, int subset, const char *total_name, int n, int *out,
                           BpsErr *err)
{
    if (subset < 0)
        return bps_fail(err, "%s %d is negative; use 0 for all samples", name, subset);
    if (subset > n)
        return bps_fail(err, "%s %d exceeds the %d samples of the synthetic data set (%s)", name,
                        subset, n, total_name);
    *out = subset > 0 ? subset : n;
    return 0;
}

int data_load_synthetic(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err)
{
    if (cfg->n_train < 1 || cfg->n_test < 1 || (unsigned)cfg->n_train > DATA_MAX_SAMPLES ||
        (unsigned)cfg->n_test > DATA_MAX_SAMPLES)
        return bps_fail(err, "synthetic data: n_train and n_test must be in [1, %u], got %d and %d",
                        DATA_MAX_SAMPLES, cfg->n_train, cfg->n_test);
    if (cfg->features < 1 || (unsigned)cfg->features > DATA_MAX_FEATURES)
        return bps_fail(err, "synthetic data: features must be in [1, %u], got %d",
                        DATA_MAX_FEATURES, cfg->features);
    if (cfg->classes < 2 || cfg->classes > 256)
        return bps_fail(err, "synthetic data: classes must be in [2, 256], got %d", cfg->classes);
    if (!(cfg->noise >= 0.0) || !isfinite(cfg->noise))
        return bps_fail(err, "synthetic data: noise must be a finite number >= 0, got %g",
                        cfg->noise);
    int n_train = 0, n_test = 0;
    if (synthetic_count("train_subset", cfg->train_subset, "n_train", cfg->n_train, &n_train,
                        err) != 0 ||
        synthetic_count("test_subset", cfg->test_subset, "n_test", cfg->n_test, &n_test, err) != 0)
        return -1;
    /* Samples are drawn in order, so making only the first n_train samples gives
     * exactly the first n_train samples of the full set. */
    const int *im = cfg->image;
    if (im[0] || im[1] || im[2]) {
        if (im[0] < 1 || im[1] < 1 || im[2] < 1 ||
            (int64_t)im[0] * im[1] * im[2] != (int64_t)cfg->features)
            return bps_fail(err,
                            "synthetic data: image_shape [%d, %d, %d] must be positive with "
                            "C*H*W = features (%d)",
                            im[0], im[1], im[2], cfg->features);
    }
    dataset_synthetic_clusters(n_train, n_test, cfg->features, cfg->classes,
                               cfg->clusters > 0 ? cfg->clusters : 1, cfg->noise, cfg->seed, train,
                               test);
    if (im[0]) {
        train->c = test->c = im[0];
        train->h = test->h = im[1];
        train->w = test->w = im[2];
    }
    return 0;
}
