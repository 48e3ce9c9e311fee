/* data: data sets as plain arrays. Reads IDX files (gzip-compressed or plain),
 * makes deterministic synthetic sets, normalises.
 *
 * A Dataset owns its arrays unless `borrowed` is set (a view into memory owned
 * elsewhere, e.g. a node-shared window); dataset_free frees only what it owns. */
#ifndef BPSWEEP_DATA_H
#define BPSWEEP_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "bpsweep/util.h"

typedef struct {
    int n;          /* samples */
    int d;          /* features per sample (28*28 = 784 for Fashion-MNIST) */
    int classes;    /* label range [0, classes) */
    float *x;       /* (n, d) row-major */
    uint8_t *y;     /* (n) */
    bool borrowed;  /* x and y are not owned */
} Dataset;

typedef enum {
    NORM_NONE = 0,     /* raw values (IDX: 0..255) */
    NORM_UNIT,         /* IDX: x / 255, in [0, 1] */
    NORM_STANDARDIZE,  /* IDX: (x/255 - mean) / std with the train set's global mean and std */
} Normalization;

/* Reads an IDX image file (magic 0x00000803, u8, dims n x rows x cols) and its label
 * file (magic 0x00000801, u8, n) into *out, as floats x/1 (raw 0..255; normalise with
 * dataset_normalize). Either file may be gzip-compressed. keep > 0 keeps only the first
 * `keep` samples; keep > n is an error. classes is in [1, 256]. Both files are read and
 * checked to the end whatever keep is. Errors (missing file, bad gzip, wrong magic,
 * sizes that disagree with the header, truncated or trailing data, labels >= classes,
 * image/label count mismatch) name the file and what was expected; on error nothing is
 * allocated and *out is zeroed. On success the caller frees *out with dataset_free. */
int dataset_read_idx(const char *images_path, const char *labels_path, int classes, int keep,
                     Dataset *out, BpsErr *err);

/* Loads the standard four files "train-images-idx3-ubyte.gz" etc. from dir (also
 * accepts the names without .gz); classes = 10. keep_train/keep_test: 0 = all, else the
 * first n samples (more than the file holds is an error, reported as train_subset /
 * test_subset). On error nothing is allocated and both sets are zeroed. */
int dataset_load_dir(const char *dir, int keep_train, int keep_test, Dataset *train,
                     Dataset *test, BpsErr *err);

/* Deterministic synthetic classification set: `classes` Gaussian clusters in d
 * dimensions; centres ~ N(0, 1) per coordinate, samples = centre + noise * N(0, 1),
 * labels cycling 0..classes-1. Train and test come from disjoint draws of the
 * RNG_DATA streams keyed by seed. Values are already roughly standardised.
 * Streams: rng_key(seed, {d, classes}, 2, RNG_DATA, i) with i = 0 centres, 1 train,
 * 2 test, drawn in sample order, so the first m samples do not depend on n_train or
 * n_test. Needs n_train >= 1, n_test >= 0, d >= 1, classes in [1, 256] (asserted);
 * the caller frees both sets with dataset_free. */
void dataset_synthetic(int n_train, int n_test, int d, int classes, double noise,
                       uint64_t seed, Dataset *train, Dataset *test);

/* The same with `clusters` centres per class (sample i: label i % classes, centre
 * (i / classes) % clusters of that label): with clusters > 1 the classes are unions of
 * clusters, which a linear classifier cannot separate in general. clusters = 1 is
 * dataset_synthetic, bit for bit. */
void dataset_synthetic_clusters(int n_train, int n_test, int d, int classes, int clusters,
                                double noise, uint64_t seed, Dataset *train, Dataset *test);

/* Normalises train and test (test may be NULL) in place with statistics of train (see
 * Normalization). For NORM_UNIT / NORM_STANDARDIZE the raw scale is [0, 255]; the mean
 * and population std are global over all train pixels, computed in double (a std of 0
 * is taken as 1). Writes the range that raw values [0, 255] map to into lo/hi (if
 * non-NULL), e.g. for clamping attacks: NORM_NONE gives [0, 255]. */
void dataset_normalize(Dataset *train, Dataset *test, Normalization norm, float *lo, float *hi);

typedef enum { DATA_IDX = 0, DATA_SYNTHETIC } DataKind;

#define DATA_PATH_MAX 1024

/* What a sweep spec says about its data (see docs/spec.md). */
typedef struct {
    DataKind kind;
    char path[DATA_PATH_MAX]; /* IDX: directory of the four files */
    int train_subset;         /* first n training samples; 0 = all */
    int test_subset;          /* first n test samples; 0 = all */
    Normalization norm;
    /* synthetic */
    int n_train, n_test, features, classes;
    double noise;
    int clusters;             /* centres per class (default 1) */
    uint64_t seed;
} DataConfig;

/* Loads (IDX) or makes (synthetic) the train and test sets a DataConfig describes,
 * subsets and normalises them. Synthetic sets ignore `norm` (they are already roughly
 * standardised); their subsets keep the first n samples and may not exceed n_train /
 * n_test. On error nothing is allocated and both sets are zeroed; on success the
 * caller frees both with dataset_free. */
int dataset_load(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err);

/* Frees x and y unless borrowed, and zeroes *ds. Accepts NULL. */
void dataset_free(Dataset *ds);

#endif
