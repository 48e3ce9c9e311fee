/* data: data sets as plain arrays. Reads IDX files (gzip-compressed or plain), the
 * CIFAR-10/100 binary distributions and HDF5 array files (src/data_hdf5.c), makes
 * deterministic synthetic sets, normalises (globally or per channel).
 *
 * A Dataset owns its arrays unless `borrowed` is set (a view into memory owned
 * elsewhere, e.g. a node-shared window); dataset_free frees only what it owns. */
#ifndef BPSWEEP_DATA_H
#define BPSWEEP_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpsweep/op.h"
#include "bpsweep/util.h"

/* Shapes: a sample is an image of C channels of H x W pixels, stored channel-major, so
 * that x holds (n, C, H, W) row-major and d = C*H*W; a dense network sees the flat d
 * features. Sets without an image shape have (C, H, W) = (d, 1, 1). */
/* With s the raw scale of a source (255 for byte pixels, 1 for float data): */
typedef enum {
    NORM_NONE = 0,     /* raw values (bytes: 0..255) */
    NORM_UNIT,         /* x / s, in [0, 1] for bytes */
    NORM_STANDARDIZE,  /* (x/s - mean) / std with the train set's global mean and std */
    NORM_PER_CHANNEL,  /* (x/s - mean_c) / std_c with the train set's statistics of channel c */
} Normalization;

/* A set holds its samples in one of two forms:
 * - float: x, the normalised values;
 * - compact (byte sources loaded with dataset_load_compact): x is NULL, x8 holds the raw
 *   bytes and lut the normalised float of every byte value, per channel (lut_c = C for
 *   NORM_PER_CHANNEL, else 1 table for every pixel). The float of byte v at pixel j is
 *   lut[(j / (d / lut_c)) * 256 + v], bit for bit the value the float form holds there.
 * Read samples through dataset_rows / dataset_copy_rows / dataset_gather, which serve
 * both forms. */
typedef struct {
    int n;          /* samples */
    int d;          /* features per sample, C*H*W (28*28 = 784 for Fashion-MNIST) */
    int classes;    /* label range [0, classes) */
    float *x;       /* (n, C, H, W) = (n, d) row-major; NULL in the compact form */
    uint8_t *y;     /* (n) */
    bool borrowed;  /* x, x8, lut and y are not owned */
    int c, h, w;    /* C, H, W: (1, 28, 28) for MNIST, (3, 32, 32) for CIFAR */
    Normalization norm; /* how x was normalised (per channel: PGD clamps per channel) */
    uint8_t *x8;    /* compact form: (n, C, H, W) raw bytes, else NULL */
    float *lut;     /* compact form: (lut_c, 256) normalised value of each byte, else NULL */
    int lut_c;      /* compact form: tables, 1 or C (d % lut_c == 0); else 0 */
} Dataset;

/* A borrowed view of samples [start, start + n) of ds, in ds's form (its tables
 * shared); valid while ds is. dataset_free on it frees nothing. */
Dataset dataset_view(const Dataset *ds, int start, int n);

/* Samples [start, start + n) as (n, d) floats: a pointer into x for the float form (buf
 * unused, may be NULL), else converted into buf ((n, d) floats, caller's) and buf. */
const float *dataset_rows(const Dataset *ds, int start, int n, float *buf);

/* Copies samples [start, start + n) as floats into out (n, d), from either form. */
void dataset_copy_rows(const Dataset *ds, int start, int n, float *out);

/* out (n, d) = the samples idx[0..n) as floats, from either form. */
void dataset_gather(const Dataset *ds, const uint32_t *idx, int n, float *out);

/* A hint: sample i will be read soon (the compact form starts loading its bytes into
 * the cache; nothing for the float form, whose longer rows the hardware prefetches). */
void dataset_prefetch(const Dataset *ds, int i);

/* Smallest and largest value (as floats) of pixels [j0, j0 + len) of every sample, from
 * either form (len >= 1); 0 and 0 for an empty set. */
void dataset_min_max(const Dataset *ds, int j0, int len, float *lo, float *hi);

/* A sample's shape (C, H, W). */
static inline Shape dataset_shape(const Dataset *ds)
{
    return (Shape){ds->c, ds->h, ds->w};
}


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
 * non-NULL), e.g. for clamping attacks: NORM_NONE gives [0, 255]. NORM_PER_CHANNEL
 * uses train->c channels of h*w pixels each; its lo/hi are the smallest lo and the
 * largest hi over the channels. */
void dataset_normalize(Dataset *train, Dataset *test, Normalization norm, float *lo, float *hi);

/* dataset_normalize for raw values on the scale [0, scale] (255 for byte sources, 1
 * for float data, whose values are then taken as they are). mean and std (each NULL or
 * (C) = train->c doubles) get the statistics of x/scale used: index 0 for
 * NORM_STANDARDIZE, one per channel for NORM_PER_CHANNEL, nothing for the others. */
void dataset_normalize_scaled(Dataset *train, Dataset *test, Normalization norm, float scale,
                              float *lo, float *hi, double *mean, double *std);

/* Reads the CIFAR-10 binary distribution from dir: data_batch_1.bin .. data_batch_5.bin
 * (train, in that order) and test_batch.bin, records of 1 label byte + 3072 pixel bytes
 * (1024 R, 1024 G, 1024 B, each 32x32 row-major), into sets of shape (3, 32, 32) with 10
 * classes and raw values 0..255. keep_train / keep_test as for dataset_load_dir. Every
 * file is read and every label checked whatever is kept. Errors (missing file, a size
 * that is not a whole number of records, an empty file, a label >= 10, a subset larger
 * than the set) name the file; on error nothing is allocated and both sets are zeroed. */
int dataset_read_cifar10(const char *dir, int keep_train, int keep_test, Dataset *train,
                         Dataset *test, BpsErr *err);

/* CIFAR-100: dir/train.bin and dir/test.bin, records of 1 coarse label byte + 1 fine
 * label byte + 3072 pixel bytes; fine = true keeps the fine labels (100 classes), else
 * the coarse ones (20). Both labels of every record are checked. As dataset_read_cifar10
 * otherwise. */
int dataset_read_cifar100(const char *dir, bool fine, int keep_train, int keep_test,
                          Dataset *train, Dataset *test, BpsErr *err);

#define DATA_H5_NAME_MAX 255

/* The datasets of an "hdf5" source: paths inside the file ("train/x" etc.). */
typedef struct {
    char train_x[DATA_H5_NAME_MAX + 1], train_y[DATA_H5_NAME_MAX + 1];
    char test_x[DATA_H5_NAME_MAX + 1], test_y[DATA_H5_NAME_MAX + 1];
} DataH5Names;

/* Reads the train and test splits of the HDF5 file at path, serially (default file
 * access, no MPI): x as uint8 or float32 of shape (N, C, H, W) (samples of that shape) or
 * (N, D) (shape (D, 1, 1)), the same sample shape and type in both splits; y integers of
 * shape (N) in [0, classes), classes in [1, 256]. keep_train / keep_test as for
 * dataset_load_dir; every label is checked whatever is kept. *scale (if non-NULL) gets the
 * raw scale for normalisation: 255 for uint8, 1 for float32. bytes: uint8 x is kept as
 * its raw bytes in x8 (x and lut NULL; dataset_load_compact builds the tables). Errors
 * (file missing or not HDF5, a dataset missing, a wrong type or rank, x and y of
 * different lengths, non-integer y, a label out of range, an empty split, a subset
 * larger than the split) name the file and the dataset; on error nothing is allocated and both sets are zeroed. */
int dataset_read_hdf5(const char *path, const DataH5Names *names, int classes, int keep_train,
                      int keep_test, bool bytes, Dataset *train, Dataset *test, float *scale,
                      BpsErr *err);

/* The values are the indices of the source names in the spec. */
typedef enum { DATA_IDX = 0, DATA_SYNTHETIC, DATA_CIFAR10, DATA_CIFAR100, DATA_HDF5 } DataKind;

typedef enum { CIFAR_FINE = 0, CIFAR_COARSE } CifarLabels;

#define DATA_PATH_MAX 1024

/* What a sweep spec says about its data (see docs/spec.md). */
typedef struct {
    DataKind kind;
    char path[DATA_PATH_MAX]; /* IDX, CIFAR: directory of the files; HDF5: the file */
    int train_subset;         /* first n training samples; 0 = all */
    int test_subset;          /* first n test samples; 0 = all */
    Normalization norm;
    CifarLabels labels;       /* CIFAR-100: fine (100 classes) or coarse (20) */
    DataH5Names h5;           /* HDF5: the datasets */
    /* synthetic (classes: also HDF5) */
    int n_train, n_test, features, classes;
    double noise;
    int clusters;             /* centres per class (default 1) */
    uint64_t seed;
    int image[3];             /* synthetic: (C, H, W) with C*H*W = features, or all 0 */
    int validation;           /* the last n training samples (after train_subset) are held
                                 out: not trained on, not in the normalisation statistics,
                                 evaluated as the validation set (point.c); 0 = none */
} DataConfig;

/* The sample shape of a synthetic set: `image`, or (features, 1, 1). */
static inline Shape data_synthetic_shape(const DataConfig *cfg)
{
    return cfg->image[0] > 0 ? (Shape){cfg->image[0], cfg->image[1], cfg->image[2]}
                             : (Shape){cfg->features, 1, 1};
}

/* Loads (IDX, CIFAR, HDF5) or makes (synthetic) the train and test sets a DataConfig
 * describes, with their shape, subsets and normalises them. Synthetic sets ignore `norm`
 * (they are already roughly standardised) and have the shape `image` if given, else
 * (features, 1, 1); their subsets keep the first n samples and may not exceed n_train /
 * n_test. On error nothing is allocated and both sets are zeroed; on success the
 * caller frees both with dataset_free. */
int dataset_load(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err);

/* ---- provenance ----------------------------------------------------------------- */

#define DATA_PROV_MAX_FILES 6          /* CIFAR-10: five train batches and the test batch */
#define DATA_PROV_NAME_MAX 256
#define DATA_CHECKSUM_ALGORITHM "fnv1a-64" /* FNV-1a 64-bit (bps_hash_bytes) */

/* One file a data set was read from. */
typedef struct {
    char name[DATA_PROV_NAME_MAX]; /* base name, e.g. "train-images-idx3-ubyte.gz" */
    uint64_t bytes;                /* size on disk */
    uint64_t checksum;             /* DATA_CHECKSUM_ALGORITHM over the bytes as stored on
                                      disk (the compressed ones of a .gz file) */
} DataFile;

/* What produced a loaded data set: which files (which copy of CIFAR), the shape, the
 * counts and the normalisation statistics. Synthetic sets record no files: their
 * generator parameters (seed, noise, ...) are in the spec. */
typedef struct {
    char source[16];            /* "idx", "cifar10", "cifar100", "hdf5", "synthetic" */
    char dir[DATA_PATH_MAX];    /* directory of the files; "" for synthetic */
    Shape shape;                /* (C, H, W) of a sample */
    int n_train, n_test;        /* samples, after the subsets */
    Normalization norm;         /* as applied (synthetic: NORM_NONE) */
    int n_stats;                /* 0 (NORM_NONE, NORM_UNIT), 1 (NORM_STANDARDIZE), C
                                   (NORM_PER_CHANNEL) */
    double *mean, *std;         /* (n_stats) each, statistics of x/scale of the train set
                                   (see dataset_normalize_scaled); owned, NULL if n_stats
                                   is 0 */
    int n_files;
    DataFile files[DATA_PROV_MAX_FILES];
} DataProvenance;

/* dataset_load that also fills *prov (if non-NULL): every field above, each file's size
 * and checksum read again in 1 MiB blocks after the data set was read (FNV-1a runs at
 * about 0.5 GB/s: Fashion-MNIST's four files, 31 MB, take about 50 ms, a tenth of
 * loading them). A file that cannot be read again for its
 * checksum is an error. On error nothing is allocated, both sets and *prov are zeroed;
 * on success the caller frees *prov with data_provenance_free. */
int dataset_load_provenance(const DataConfig *cfg, Dataset *train, Dataset *test,
                            DataProvenance *prov, BpsErr *err);

/* dataset_load_provenance that returns byte sources (IDX, CIFAR, HDF5 uint8) in the
 * compact form (see Dataset; a quarter of the memory) - the float of every pixel
 * equal, bit for bit, to what dataset_load gives - and float sources (synthetic, HDF5
 * float32) as dataset_load does. Train and test own their tables. */
int dataset_load_compact(const DataConfig *cfg, Dataset *train, Dataset *test,
                         DataProvenance *prov, BpsErr *err);

/* Size and checksum of the file at path into *out (name: its base name). Errors name
 * the file. */
int data_file_checksum(const char *path, DataFile *out, BpsErr *err);

/* The name of a normalisation as the spec writes it ("none", "unit", "standardize",
 * "per_channel"). */
const char *data_norm_name(Normalization norm);

/* The files of p as one string, "name bytes checksum" per file (checksum: 16 hex
 * digits) joined by "; ", "" without files. The caller frees it. */
char *data_provenance_files(const DataProvenance *p);

/* One line, "data: ..." (source, shape, counts, normalisation with its statistics
 * rounded to 4 digits), then one line per file with its size and checksum. */
void data_provenance_print(FILE *out, const DataProvenance *p);

/* Compares the files of p with `recorded`, a data_files string as data_provenance_files
 * makes it (NULL: nothing recorded, as in results files of earlier versions: no
 * comparison). When they differ (another copy of the data set: other sizes or
 * checksums), prints a warning to log naming `what` (the results file) and the entries
 * of each list that the other lacks, and returns 1; else returns 0. Directories are not compared: a moved copy is the same. */
int data_provenance_compare(const DataProvenance *p, const char *recorded, const char *what,
                            FILE *log);

/* Frees the statistics and zeroes *p. Accepts NULL. */
void data_provenance_free(DataProvenance *p);

/* Frees x, x8, lut and y unless borrowed, and zeroes *ds. Accepts NULL. */
void dataset_free(Dataset *ds);

#endif
