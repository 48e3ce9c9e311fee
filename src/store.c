/* store: the parallel HDF5 results file (see store.h; layout in docs/results-format.md).
 *
 * One table drives everything: LAYOUT lists every dataset with its type, shape and
 * description, and layout_defs() splices in one dataset per entry of POINT_METRICS
 * after /status. Creating the file, opening it for rows, writing a row, reading the
 * table, store_file_bytes and store_describe all walk that list, so the file, its
 * readers and its documentation cannot disagree.
 *
 * Parallel HDF5 rules followed here (every HDF5 call in a collective function is
 * marked REQUIRED or optional, with the reason):
 *  - file create/open/flush/close, dataset create/close and attribute writes are
 *    collective and get identical arguments on every rank, so provenance that differs
 *    per rank (CPU model) is gathered and broadcast before it is written;
 *  - raw data is written independently: every dataset is contiguous and allocated when
 *    it is created, so writing a row changes no metadata and needs no other rank.
 *
 * Dimension letters: N points (n_points), E max_epochs, L max_layers, P max_params,
 * M ntk_size, R max_rank, n_eps robust_eps. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store.h"

#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "bpsweep/grid.h"
#include "bpsweep/metrics.h"

#include "bpsweep_commit.h" /* BPSWEEP_COMMIT, generated at build time */

/* H5Pset_file_locking exists from 1.10.7 on the 1.10 branch and from 1.12.1. */
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
#define STORE_HAVE_FILE_LOCKING 1
#else
#define STORE_HAVE_FILE_LOCKING 0
#endif

#define PROV_MAX 256        /* bytes of one rank's CPU model / OpenBLAS string */
#define POINTS_BATCH 4096   /* rows of /points written per H5Dwrite at creation */
#define PATH_MAX_DSET 64    /* longest dataset path, e.g. "/metrics/<name>" */

/* ---- the layout ---------------------------------------------------------------------- */

typedef enum { T_U8, T_I32, T_I64, T_U64, T_F32, T_F64, T_STR } ElemType;

typedef enum {
    DIM_SCALAR, /* one value (spec_json) */
    DIM_ARCH,   /* [n_arch] ... one per value of an axis */
    DIM_COND,
    DIM_WD,
    DIM_NB,
    DIM_SEED,
    DIM_POINT,  /* [N] */
    DIM_EPOCH,  /* [N, E] */
    DIM_LAYER,  /* [N, L] */
    DIM_PARAM,  /* [N, P] */
    DIM_NTK,    /* [N, M*M] */
    DIM_SPECTRA, /* [N, L*R] */
    DIM_EPS,     /* [N, n_eps] */
} Dim;
#define ROW_DIM0 DIM_POINT
#define N_ROW_DIMS 7 /* DIM_POINT .. DIM_EPS: the per-point shapes */

/* What a dataset holds; fields from F_KEY on are per point and written by
 * store_write_row (the coordinates F_KEY .. F_SEED also by store_create). */
typedef enum {
    F_SPEC_JSON,
    F_AXIS_ARCH, F_AXIS_COND, F_AXIS_WD, F_AXIS_NB, F_AXIS_SEED,
    F_KEY, F_ARCH, F_COND, F_NB, F_WD, F_SEED_INDEX, F_WEIGHT_DECAY, F_NORM_BIAS, F_SEED,
    F_STATUS,
    F_METRIC,
    F_PARAM_HASH, F_EPOCHS_RUN, F_DIVERGED_EPOCH, F_N_PARAMS, F_WALL_SECONDS, F_RANK,
    F_HOST, F_ATTEMPTS, F_FINISHED, F_MESSAGE, F_CHECKSUM,
    F_WEIGHTS, F_NTK0, F_NTK1, F_SPECTRA, F_ROBUST_TEST, F_ROBUST_TRAIN,
} Field;

typedef struct {
    Field field;
    char path[PATH_MAX_DSET];
    ElemType type;
    size_t str_size;   /* T_STR: bytes of the fixed-length string; 0 = sized to the value */
    Dim dim;
    const char *desc;
    int metric;        /* F_METRIC: the MetricId */
} DatasetDef;

/* Every dataset in file order; the metrics of POINT_METRICS follow /status. */
static const DatasetDef LAYOUT[] = {
    {F_SPEC_JSON, "/spec_json", T_STR, 0, DIM_SCALAR,
     "canonical spec JSON of the sweep (`spec_hash` is its hash); parse it with any JSON "
     "reader or `spec_parse`", 0},
    {F_AXIS_ARCH, "/axes/architectures", T_STR, SPEC_NAME_MAX, DIM_ARCH,
     "architecture names in spec order (templates expanded to `<name>@w=<w>`)", 0},
    {F_AXIS_COND, "/axes/conditions", T_STR, SPEC_NAME_MAX, DIM_COND,
     "condition names in spec order (`base` when the spec has none)", 0},
    {F_AXIS_WD, "/axes/weight_decay", T_F64, 0, DIM_WD, "weight-decay values in spec order", 0},
    {F_AXIS_NB, "/axes/norm_bias", T_F64, 0, DIM_NB,
     "norm-bias targets in spec order (multiples of the initial squared norm if the spec "
     "says `relative`)", 0},
    {F_AXIS_SEED, "/axes/seed", T_I64, 0, DIM_SEED, "seeds in spec order", 0},
    {F_KEY, "/points/key", T_STR, GRID_KEY_MAX, DIM_POINT,
     "point key `arch=../cond=../wd=../nb=../seed=..`: its identity across specs", 0},
    {F_ARCH, "/points/arch", T_I32, 0, DIM_POINT, "index into `/axes/architectures`", 0},
    {F_COND, "/points/cond", T_I32, 0, DIM_POINT, "index into `/axes/conditions`", 0},
    {F_NB, "/points/nb", T_I32, 0, DIM_POINT, "index into `/axes/norm_bias`", 0},
    {F_WD, "/points/wd", T_I32, 0, DIM_POINT, "index into `/axes/weight_decay`", 0},
    {F_SEED_INDEX, "/points/seed_index", T_I32, 0, DIM_POINT, "index into `/axes/seed`", 0},
    {F_WEIGHT_DECAY, "/points/weight_decay", T_F64, 0, DIM_POINT, "the point's weight decay", 0},
    {F_NORM_BIAS, "/points/norm_bias", T_F64, 0, DIM_POINT, "the point's norm-bias target", 0},
    {F_SEED, "/points/seed", T_I64, 0, DIM_POINT, "the point's seed", 0},
    {F_STATUS, "/status", T_U8, 0, DIM_POINT,
     "0 pending, 1 done, 2 diverged, 3 failed; fill value 0; written last in a row", 0},
    {F_PARAM_HASH, "/run/param_hash", T_U64, 0, DIM_POINT,
     "FNV-1a hash of the final parameter and batch-norm buffer bytes (bit-identity check)", 0},
    {F_EPOCHS_RUN, "/run/epochs_run", T_I32, 0, DIM_POINT, "epochs completed", 0},
    {F_DIVERGED_EPOCH, "/run/diverged_epoch", T_I32, 0, DIM_POINT,
     "1-based epoch in which the run diverged; 0 if it did not", 0},
    {F_N_PARAMS, "/run/n_params", T_I64, 0, DIM_POINT, "parameters of the net", 0},
    {F_WALL_SECONDS, "/run/wall_seconds", T_F64, 0, DIM_POINT,
     "training and measurement time of the last attempt", 0},
    {F_RANK, "/run/rank", T_I32, 0, DIM_POINT, "MPI rank that trained the point", 0},
    {F_HOST, "/run/host", T_STR, STORE_HOST_MAX, DIM_POINT, "host name of that rank", 0},
    {F_ATTEMPTS, "/run/attempts", T_I32, 0, DIM_POINT, "attempts made (1 on the first try)", 0},
    {F_FINISHED, "/run/finished", T_F64, 0, DIM_POINT, "Unix time the row was written", 0},
    {F_MESSAGE, "/run/message", T_STR, POINT_MESSAGE_MAX, DIM_POINT,
     "why a point failed; empty otherwise", 0},
    {F_CHECKSUM, "/run/checksum", T_U64, 0, DIM_POINT,
     "FNV-1a 64-bit hash of the row (see [row checksums](#row-checksums)); written just "
     "before `/status`; format 2", 0},
    {F_WEIGHTS, "/weights", T_F32, 0, DIM_PARAM,
     "final parameters (layer by layer: W, b[, gamma, beta]), NaN-padded; only with "
     "`output.store_weights`", 0},
    {F_NTK0, "/ntk/K0", T_F32, 0, DIM_NTK,
     "empirical NTK at initialisation, M x M row-major (row i*K + l: sample i, logit l; "
     "reshape to (M, M)); only with `measure.ntk`; NaN where not measured", 0},
    {F_NTK1, "/ntk/K1", T_F32, 0, DIM_NTK,
     "empirical NTK after training, as `/ntk/K0`", 0},
    {F_SPECTRA, "/spectra", T_F32, 0, DIM_SPECTRA,
     "singular values of each layer after training, descending: of a dense layer's weight "
     "matrix, of a convolution's operator on its input (the largest 1024; docs/metrics.md); "
     "layer l in columns [l*R, (l+1)*R) (reshape to (L, R)), NaN-padded", 0},
    {F_ROBUST_TEST, "/robust/test_acc", T_F64, 0, DIM_EPS,
     "accuracy under PGD on the first `test_samples` test samples, one column per radius of "
     "`measure.robustness.eps` (spec order); only with `measure.robustness`", 0},
    {F_ROBUST_TRAIN, "/robust/train_acc", T_F64, 0, DIM_EPS,
     "the same on the first `train_samples` training samples (NaN if 0)", 0},
};
#define N_LAYOUT ((int)(sizeof LAYOUT / sizeof LAYOUT[0]))
#define MAX_DEFS (sizeof LAYOUT / sizeof LAYOUT[0] + N_METRICS)

static const char *const KIND_GROUP[] = {"metrics", "curves", "layers"};
static const Dim KIND_DIM[] = {DIM_POINT, DIM_EPOCH, DIM_LAYER};

/* Fills defs (MAX_DEFS entries) with the whole layout in file order; returns the count. */
static int layout_defs(DatasetDef *defs)
{
    int n = 0;
    for (int i = 0; i < N_LAYOUT; i++) {
        defs[n++] = LAYOUT[i];
        if (LAYOUT[i].field != F_STATUS)
            continue;
        for (int kind = METRIC_SCALAR; kind <= METRIC_LAYER; kind++)
            for (int m = 0; m < N_METRICS; m++) {
                if ((int)POINT_METRIC_DEFS[m].kind != kind)
                    continue;
                DatasetDef *d = &defs[n++];
                memset(d, 0, sizeof *d);
                d->field = F_METRIC;
                int len = snprintf(d->path, sizeof d->path, "/%s/%s", KIND_GROUP[kind],
                                   POINT_METRIC_DEFS[m].name);
                assert(len > 0 && (size_t)len < sizeof d->path);
                (void)len;
                d->type = T_F64;
                d->dim = KIND_DIM[kind];
                d->desc = POINT_METRIC_DEFS[m].description;
                d->metric = m;
            }
    }
    assert(n == (int)MAX_DEFS);
    return n;
}

static bool is_row_field(Field f)
{
    return f >= F_KEY;
}

static bool is_coord_field(Field f)
{
    return f >= F_KEY && f <= F_SEED;
}

/* Per-point datasets of width 0 (no weights kept, no NTK measured) are not created. */
static bool dataset_absent(const StoreShape *sh, const DatasetDef *d);

/* What one file holds beyond its shape: the format version, and which metrics it has
 * (a file keeps the metrics of the bpsweep that created it). */
typedef struct {
    StoreShape shape;
    int version;
    bool has_metric[N_METRICS];
} FileLayout;

/* Whether dataset d is in a file of this layout. */
static bool file_has(const FileLayout *fl, const DatasetDef *d)
{
    if (dataset_absent(&fl->shape, d))
        return false;
    if (d->field == F_CHECKSUM)
        return fl->version >= 2;
    if (d->field == F_METRIC)
        return fl->has_metric[d->metric];
    return true;
}

/* Root attributes. */
typedef enum {
    A_FORMAT, A_FORMAT_VERSION, A_SPEC_HASH, A_VERSION, A_COMMIT, A_BLAS_CONFIG, A_BLAS_CORE,
    A_CPU_MODELS, A_CREATED, A_N_POINTS, A_MAX_EPOCHS, A_MAX_LAYERS, A_MAX_PARAMS, A_NTK_SIZE,
    A_MAX_RANK, A_ROBUST_EPS, A_METRICS,
    /* the data set's provenance (A_DATA_FIRST on): absent when created without it */
    A_DATA_SOURCE, A_DATA_DIR, A_DATA_SHAPE, A_DATA_TRAIN, A_DATA_TEST, A_DATA_NORM,
    A_DATA_MEAN, A_DATA_STD, A_DATA_CHECKSUM, A_DATA_FILES, N_ATTRS
} AttrId;
#define A_DATA_FIRST A_DATA_SOURCE
#define STORE_MAX_STATS 4096 /* most values of data_mean / data_std (8 bytes each: an
                                attribute stays well under HDF5's 64 KiB header message) */

static const struct {
    const char *name;
    ElemType type;
    const char *desc;
    const char *shape; /* NULL: a scalar */
} ATTRS[N_ATTRS] = {
    [A_FORMAT] = {"format", T_STR, "always `" STORE_FORMAT "`"},
    [A_FORMAT_VERSION] = {"format_version", T_I64,
                          "layout version (this page describes 2; version 1, without "
                          "`/run/checksum` and `metrics`, is still read); readers refuse newer "
                          "files"},
    [A_SPEC_HASH] = {"spec_hash", T_STR, "FNV-1a 64-bit hash of `/spec_json`, 16 hex digits"},
    [A_VERSION] = {"bpsweep_version", T_STR, "version of the bpsweep that created the file"},
    [A_COMMIT] = {"bpsweep_commit", T_STR,
                  "its git commit, at build time; `-dirty` if tracked files differed from it"},
    [A_BLAS_CONFIG] = {"openblas_config", T_STR,
                       "`openblas_get_config()` of every rank, distinct values joined by `; `"},
    [A_BLAS_CORE] = {"openblas_corename", T_STR,
                     "`openblas_get_corename()` (kernel set) of every rank, distinct values "
                     "joined by `; `"},
    [A_CPU_MODELS] = {"cpu_models", T_STR,
                      "distinct `model name` values of /proc/cpuinfo over all ranks, joined "
                      "by `; `"},
    [A_CREATED] = {"created", T_STR, "creation time, ISO 8601 UTC (`2024-06-10T06:13:20Z`)"},
    [A_N_POINTS] = {"n_points", T_I64, "N: points of the grid, rows of every per-point dataset"},
    [A_MAX_EPOCHS] = {"max_epochs", T_I64, "E: most epochs of any condition (at least 1)"},
    [A_MAX_LAYERS] = {"max_layers", T_I64, "L: most dense layers of any architecture"},
    [A_MAX_PARAMS] = {"max_params", T_I64,
                      "P: most parameters of any architecture if the file stores weights, "
                      "else 0"},
    [A_NTK_SIZE] = {"ntk_size", T_I64,
                    "M = NTK samples x classes with `measure.ntk`, else 0 (absent in files "
                    "of earlier versions: 0)"},
    [A_MAX_RANK] = {"max_rank", T_I64,
                    "R: most singular values any layer keeps: min(O, I) for dense, all of a "
                    "convolution's operator up to 1024 (absent in files of earlier versions, "
                    "which have no `/spectra`)"},
    [A_ROBUST_EPS] = {"robust_eps", T_I64,
                      "n_eps: radii of `measure.robustness`, else 0 (absent in earlier files)"},
    [A_METRICS] = {"metrics", T_STR,
                   "names of the metrics the file was created with (`/metrics`, `/curves`, "
                   "`/layers`), comma-separated; a metric missing from the file but listed "
                   "here is damage, one not listed was added to bpsweep later (format 2)"},
    [A_DATA_SOURCE] = {"data_source", T_STR,
                       "the data source: `idx`, `cifar10`, `cifar100`, `hdf5` or `synthetic`"},
    [A_DATA_DIR] = {"data_dir", T_STR,
                    "directory of the data files (resolved to an absolute path), `\"\"` for "
                    "synthetic data"},
    [A_DATA_SHAPE] = {"data_shape", T_I64, "shape (C, H, W) of a sample", "[3]"},
    [A_DATA_TRAIN] = {"data_train_samples", T_I64, "training samples (after `train_subset`)"},
    [A_DATA_TEST] = {"data_test_samples", T_I64, "test samples (after `test_subset`)"},
    [A_DATA_NORM] = {"data_normalization", T_STR,
                     "normalisation applied: `none`, `unit`, `standardize` or `per_channel` "
                     "(synthetic data: `none`)"},
    [A_DATA_MEAN] = {"data_mean", T_F64,
                     "training-set mean of x/255 (x/1 for float HDF5 data) subtracted by the "
                     "normalisation: one value for `standardize`, one per channel for "
                     "`per_channel`, none (an empty array) for `none` and `unit`, and for more "
                     "than 4096 channels",
                     "[k]"},
    [A_DATA_STD] = {"data_std", T_F64,
                    "the matching population standard deviations (divided by)", "[k]"},
    [A_DATA_CHECKSUM] = {"data_checksum", T_STR,
                         "algorithm of the checksums of `data_files`: `" DATA_CHECKSUM_ALGORITHM
                         "` (FNV-1a 64-bit over the bytes of the file as stored: the compressed "
                         "ones of a `.gz` file)"},
    [A_DATA_FILES] = {"data_files", T_STR,
                      "every file read, `name bytes checksum` (checksum: 16 hex digits) "
                      "joined by `; `, e.g. `train.bin 153700000 6e2a...; test.bin 30740000 "
                      "91c0...`; `\"\"` for synthetic data, whose generator parameters are in "
                      "`/spec_json`. With h5py: `[f.rsplit(\" \", 2) for f in "
                      "attrs[\"data_files\"].decode().split(\"; \") if f]`"},
};

/* ---- small helpers --------------------------------------------------------------------- */

static size_t elem_size(ElemType t, size_t str_size)
{
    switch (t) {
    case T_U8:
        return 1;
    case T_I32:
    case T_F32:
        return 4;
    case T_I64:
    case T_U64:
    case T_F64:
        return 8;
    case T_STR:
        return str_size;
    }
    return 0;
}

static const char *elem_name(ElemType t)
{
    static const char *const names[] = {"uint8", "int32", "int64", "uint64", "float32",
                                        "float64", "string"};
    return names[t];
}

/* The native HDF5 type of a numeric ElemType (not T_STR). */
static hid_t native_type(ElemType t)
{
    switch (t) {
    case T_U8:
        return H5T_NATIVE_UINT8;
    case T_I32:
        return H5T_NATIVE_INT32;
    case T_I64:
        return H5T_NATIVE_INT64;
    case T_U64:
        return H5T_NATIVE_UINT64;
    case T_F32:
        return H5T_NATIVE_FLOAT;
    case T_F64:
        return H5T_NATIVE_DOUBLE;
    case T_STR:
        break;
    }
    assert(!"native_type of a string");
    return H5I_INVALID_HID;
}

/* A fixed-length, NUL-terminated string type of size bytes; close with H5Tclose. */
static hid_t string_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return H5I_INVALID_HID;
    if (H5Tset_size(t, size ? size : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* Copies src into a zeroed fixed-length field of n bytes, always NUL-terminated. */
static void copy_fixed(char *dst, size_t n, const char *src)
{
    memset(dst, 0, n);
    if (src) {
        size_t len = strnlen(src, n - 1);
        memcpy(dst, src, len);
    }
}

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *ctx)
{
    char *buf = ctx;
    if (n == 0 && e->desc)
        snprintf(buf, BPS_ERR_MAX / 2, "%s", e->desc);
    return 0;
}

/* The innermost message of HDF5's error stack (what went wrong at the bottom), then
 * clears the stack. buf holds BPS_ERR_MAX / 2 bytes. */
static const char *h5_detail(char *buf)
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0])
        snprintf(buf, BPS_ERR_MAX / 2, "HDF5 error");
    return buf;
}

/* Formats "<path>: <what>: <HDF5 detail>" into err and returns -1. */
static int h5_fail(BpsErr *err, const char *path, const char *what)
{
    char detail[BPS_ERR_MAX / 2];
    return bps_fail(err, "%s: %s: %s", path, what, h5_detail(detail));
}

/* Why path does not open as HDF5: missing, not HDF5, truncated, or HDF5's own word.
 * detail is the HDF5 message of the failed open. Serial; returns -1. */
static int diagnose_open(const char *path, const char *detail, BpsErr *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bps_fail(err, "%s: cannot open: %s", path, strerror(errno));
    const char *trunc = strstr(detail, "truncated file");
    if (trunc) {
        long long eof = 0, base = 0, stored = 0;
        if (sscanf(trunc, "truncated file: eof = %lld, sblock->base_addr = %lld, stored_eof = %lld",
                   &eof, &base, &stored) == 3)
            return bps_fail(err,
                            "%s: truncated file (%lld of %lld bytes): was it copied while being "
                            "written, or did the disk fill up?",
                            path, eof, stored);
        return bps_fail(err, "%s: %s: was it copied while being written, or did the disk fill up?",
                        path, trunc);
    }
    htri_t is_h5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is_h5 == 0)
        return bps_fail(err, "%s: not an HDF5 file", path);
    return bps_fail(err, "%s: cannot open as HDF5: %s", path, detail);
}

/* ---- agreement between ranks ------------------------------------------------------------ */

/* Collective: combines every rank's rc. Returns 0 when all succeeded; otherwise -1 on
 * every rank, with err holding the message of the lowest failing rank (prefixed with
 * its rank when not every rank failed). *n_failed (may be NULL) gets the count. */
static int agree(MPI_Comm comm, int rc, BpsErr *err, int *n_failed)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int mine[2] = {rc != 0 ? rank : size, rc != 0};
    int lowest, count;
    MPI_Allreduce(&mine[0], &lowest, 1, MPI_INT, MPI_MIN, comm);
    MPI_Allreduce(&mine[1], &count, 1, MPI_INT, MPI_SUM, comm);
    if (n_failed)
        *n_failed = count;
    if (count == 0)
        return 0;
    char msg[BPS_ERR_MAX];
    if (rank == lowest)
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "error");
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, lowest, comm);
    if (err) {
        snprintf(err->msg, sizeof err->msg, "%s", msg);
        if (count < size)
            bps_err_prefix(err, "rank %d", lowest);
    }
    return -1;
}

/* Collective: rank 0's rc and message on every rank, for a check that rank 0 makes for
 * all (one look at the file system instead of one per rank). */
static int from_root(MPI_Comm comm, int rc, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc == 0)
        return 0;
    char msg[BPS_ERR_MAX];
    if (rank == 0)
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "error");
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, 0, comm);
    if (err)
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    return -1;
}

/* Collective: like agree, for a step after which every rank must hold the same HDF5
 * state (a collective create or open). A failure on some ranks only cannot be undone
 * collectively, so it ends the job (STYLE rule 13). */
static int agree_or_abort(MPI_Comm comm, int rc, BpsErr *err)
{
    int size, n_failed;
    MPI_Comm_size(comm, &size);
    if (agree(comm, rc, err, &n_failed) == 0)
        return 0;
    if (n_failed < size) {
        fprintf(stderr, "bpsweep: %s (inside a collective HDF5 operation; aborting)\n",
                err ? err->msg : "error");
        MPI_Abort(comm, BPS_EXIT_ERROR);
    }
    return -1;
}

/* ---- shape and size ------------------------------------------------------------------------ */

StoreShape store_shape(const Spec *spec, Shape in, int n_out)
{
    StoreShape sh = {grid_size(spec), 1, 1, 0, 0, 0, 0};
    for (int c = 0; c < spec->n_cond; c++)
        if (spec->cond[c].train.epochs > sh.max_epochs)
            sh.max_epochs = spec->cond[c].train.epochs;
    for (int a = 0; a < spec->n_arch; a++) {
        NetConfig net = spec->arch[a].net;
        net.n_in = (int)shape_size(in);
        net.in_shape = in;
        net.n_out = n_out;
        int layers = nn_weight_views(&net, NULL);
        if (layers > sh.max_layers)
            sh.max_layers = layers;
        int64_t p = (int64_t)nn_param_count(&net);
        if (spec->store_weights && p > sh.max_params)
            sh.max_params = p;
        int64_t r = metrics_max_rank(&net);
        sh.max_rank = r > sh.max_rank ? r : sh.max_rank;
    }
    sh.ntk_m = spec->ntk.enabled ? (int64_t)spec->ntk.samples * n_out : 0;
    sh.n_eps = spec->robust.enabled ? spec->robust.n_eps : 0;
    return sh;
}

/* Columns of one row of a per-point shape (1 for [N]). */
static int64_t row_width(const StoreShape *sh, Dim d)
{
    switch (d) {
    case DIM_EPOCH:
        return sh->max_epochs;
    case DIM_LAYER:
        return sh->max_layers;
    case DIM_PARAM:
        return sh->max_params;
    case DIM_NTK:
        return sh->ntk_m * sh->ntk_m;
    case DIM_SPECTRA:
        return sh->max_layers * sh->max_rank;
    case DIM_EPS:
        return sh->n_eps;
    default:
        return 1;
    }
}

static bool dataset_absent(const StoreShape *sh, const DatasetDef *d)
{
    return d->dim > DIM_POINT && row_width(sh, d->dim) == 0;
}

size_t store_file_bytes(const StoreShape *shape)
{
    DatasetDef defs[MAX_DEFS];
    int n = layout_defs(defs);
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        if (defs[i].dim >= DIM_POINT)
            bytes += (size_t)shape->n_points * (size_t)row_width(shape, defs[i].dim) *
                     elem_size(defs[i].type, defs[i].str_size);
    return bytes;
}

/* Dimensions of a dataset; returns its rank (0 for a scalar). */
static int dataset_dims(const DatasetDef *d, const Spec *spec, const StoreShape *sh,
                        hsize_t dims[2])
{
    switch (d->dim) {
    case DIM_SCALAR:
        return 0;
    case DIM_ARCH:
        dims[0] = (hsize_t)spec->n_arch;
        return 1;
    case DIM_COND:
        dims[0] = (hsize_t)spec->n_cond;
        return 1;
    case DIM_WD:
        dims[0] = (hsize_t)spec->n_wd;
        return 1;
    case DIM_NB:
        dims[0] = (hsize_t)spec->n_nb;
        return 1;
    case DIM_SEED:
        dims[0] = (hsize_t)spec->n_seed;
        return 1;
    case DIM_POINT:
        dims[0] = (hsize_t)sh->n_points;
        return 1;
    case DIM_EPOCH:
    case DIM_LAYER:
    case DIM_PARAM:
    case DIM_NTK:
    case DIM_SPECTRA:
    case DIM_EPS:
        dims[0] = (hsize_t)sh->n_points;
        dims[1] = (hsize_t)row_width(sh, d->dim);
        return 2;
    }
    return -1;
}

/* ---- provenance ---------------------------------------------------------------------------- */

typedef struct {
    char *blas_config, *blas_core, *cpu_models; /* distinct values over ranks, "; "-joined */
    int n_cpu_models;
    char created[32];
} Provenance;

static void provenance_free(Provenance *p)
{
    free(p->blas_config);
    free(p->blas_core);
    free(p->cpu_models);
}

/* The first "model name" of /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0)
            continue;
        const char *v = strchr(line, ':');
        if (!v)
            continue;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = strcspn(v, "\n");
        if (len > 0)
            snprintf(buf, n, "%.*s", (int)len, v);
        break;
    }
    fclose(f);
}

/* Collective: every rank's string (PROV_MAX bytes at most) -> the distinct values in rank
 * order joined by "; ", on every rank (caller frees). *n_distinct may be NULL. */
static char *gather_distinct(MPI_Comm comm, const char *mine, int *n_distinct)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    char local[PROV_MAX];
    copy_fixed(local, sizeof local, mine);
    char *all = rank == 0 ? xmalloc((size_t)size * PROV_MAX) : NULL;
    MPI_Gather(local, PROV_MAX, MPI_CHAR, all, PROV_MAX, MPI_CHAR, 0, comm);
    long len = 0;
    int distinct = 0;
    char *joined = NULL;
    if (rank == 0) {
        joined = xmalloc((size_t)size * (PROV_MAX + 2) + 1);
        joined[0] = '\0';
        for (int r = 0; r < size; r++) {
            const char *s = all + (size_t)r * PROV_MAX;
            int seen = 0;
            for (int q = 0; q < r && !seen; q++)
                seen = strcmp(s, all + (size_t)q * PROV_MAX) == 0;
            if (seen)
                continue;
            len += sprintf(joined + len, "%s%s", distinct ? "; " : "", s);
            distinct++;
        }
        free(all);
    }
    MPI_Bcast(&len, 1, MPI_LONG, 0, comm);
    MPI_Bcast(&distinct, 1, MPI_INT, 0, comm);
    if (rank != 0)
        joined = xmalloc((size_t)len + 1);
    MPI_Bcast(joined, (int)len + 1, MPI_CHAR, 0, comm);
    if (n_distinct)
        *n_distinct = distinct;
    return joined;
}

/* Collective: the same provenance strings on every rank. */
static void provenance_gather(MPI_Comm comm, Provenance *p)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    char buf[PROV_MAX];
    cpu_model(buf, sizeof buf);
    p->cpu_models = gather_distinct(comm, buf, &p->n_cpu_models);
    p->blas_core = gather_distinct(comm, openblas_get_corename(), NULL);
    p->blas_config = gather_distinct(comm, openblas_get_config(), NULL);
    memset(p->created, 0, sizeof p->created);
    if (rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(p->created, sizeof p->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    MPI_Bcast(p->created, (int)sizeof p->created, MPI_CHAR, 0, comm);
}

/* ---- attributes ---------------------------------------------------------------------------- */

/* Collective (H5Acreate and H5Awrite with the same value on every rank). */
static int attr_write(hid_t file, const char *name, hid_t type, const void *value)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    space = H5Screate(H5S_SCALAR);
    if (space < 0)
        goto done;
    /* REQUIRED collective: attribute creation changes metadata */
    attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    /* REQUIRED collective, same value on every rank: attribute data is cached per rank */
    if (H5Awrite(attr, type, value) < 0)
        goto done;
    rc = 0;
done:
    if (attr >= 0 && H5Aclose(attr) < 0) /* REQUIRED collective */
        rc = -1;
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Collective: a one-dimensional attribute of n values of the native type (n may be 0). */
static int attr_write_array(hid_t file, const char *name, hid_t type, hsize_t n,
                            const void *value)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    space = H5Screate_simple(1, &n, NULL);
    if (space < 0)
        goto done;
    /* REQUIRED collective: attribute creation changes metadata */
    attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    /* REQUIRED collective, same value on every rank */
    if (n > 0 && H5Awrite(attr, type, value) < 0)
        goto done;
    rc = 0;
done:
    if (attr >= 0 && H5Aclose(attr) < 0) /* REQUIRED collective */
        rc = -1;
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int attr_write_string(hid_t file, const char *name, const char *value)
{
    hid_t type = string_type(strlen(value) + 1);
    if (type < 0)
        return -1;
    int rc = attr_write(file, name, type, value);
    H5Tclose(type);
    return rc;
}

/* Collective: writes every attribute of ATTRS (those of the data set only with data). */
static int write_attributes(hid_t file, const char *path, const Spec *spec,
                            const StoreShape *sh, const Provenance *prov,
                            const DataProvenance *data, BpsErr *err)
{
    char *files = data ? data_provenance_files(data) : NULL;
    const int64_t shape[3] = {data ? data->shape.c : 0, data ? data->shape.h : 0,
                              data ? data->shape.w : 0};
    const hsize_t n_stats = data && data->n_stats <= STORE_MAX_STATS ? (hsize_t)data->n_stats : 0;
    int rc = 0;
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, spec->hash);
    char metrics[N_METRICS * 64 + 1] = "";
    size_t len = 0;
    for (int m = 0; m < N_METRICS; m++)
        len += (size_t)snprintf(metrics + len, sizeof metrics - len, "%s%s", m ? "," : "",
                                POINT_METRIC_DEFS[m].name);
    assert(len < sizeof metrics);
    for (int a = 0; a < N_ATTRS && rc == 0; a++) {
        const char *s = NULL;
        int64_t v = 0;
        const void *array = NULL; /* a one-dimensional attribute of `count` values */
        hsize_t count = 0;
        if (a >= A_DATA_FIRST && !data)
            continue;
        switch ((AttrId)a) {
        case A_FORMAT:
            s = STORE_FORMAT;
            break;
        case A_FORMAT_VERSION:
            v = STORE_FORMAT_VERSION;
            break;
        case A_SPEC_HASH:
            s = hash;
            break;
        case A_VERSION:
            s = BPSWEEP_VERSION;
            break;
        case A_COMMIT:
            s = BPSWEEP_COMMIT;
            break;
        case A_BLAS_CONFIG:
            s = prov->blas_config;
            break;
        case A_BLAS_CORE:
            s = prov->blas_core;
            break;
        case A_CPU_MODELS:
            s = prov->cpu_models;
            break;
        case A_CREATED:
            s = prov->created;
            break;
        case A_N_POINTS:
            v = sh->n_points;
            break;
        case A_MAX_EPOCHS:
            v = sh->max_epochs;
            break;
        case A_MAX_LAYERS:
            v = sh->max_layers;
            break;
        case A_MAX_PARAMS:
            v = sh->max_params;
            break;
        case A_NTK_SIZE:
            v = sh->ntk_m;
            break;
        case A_MAX_RANK:
            v = sh->max_rank;
            break;
        case A_ROBUST_EPS:
            v = sh->n_eps;
            break;
        case A_METRICS:
            s = metrics;
            break;
        case A_DATA_SOURCE:
            s = data->source;
            break;
        case A_DATA_DIR:
            s = data->dir;
            break;
        case A_DATA_SHAPE:
            array = shape;
            count = 3;
            break;
        case A_DATA_TRAIN:
            v = data->n_train;
            break;
        case A_DATA_TEST:
            v = data->n_test;
            break;
        case A_DATA_NORM:
            s = data_norm_name(data->norm);
            break;
        case A_DATA_MEAN:
            array = data->mean;
            count = n_stats;
            break;
        case A_DATA_STD:
            array = data->std;
            count = n_stats;
            break;
        case A_DATA_CHECKSUM:
            s = DATA_CHECKSUM_ALGORITHM;
            break;
        case A_DATA_FILES:
            s = files;
            break;
        case N_ATTRS:
            break;
        }
        assert((ATTRS[a].type == T_STR) == (s != NULL));
        assert(ATTRS[a].shape ? s == NULL : array == NULL);
        if (s)
            rc = attr_write_string(file, ATTRS[a].name, s);
        else if (ATTRS[a].shape)
            rc = attr_write_array(file, ATTRS[a].name, native_type(ATTRS[a].type), count, array);
        else
            rc = attr_write(file, ATTRS[a].name, H5T_NATIVE_INT64, &v);
        if (rc != 0) {
            char what[128];
            snprintf(what, sizeof what, "cannot write attribute %s", ATTRS[a].name);
            h5_fail(err, path, what);
        }
    }
    free(files);
    return rc;
}

/* Serial or collective read of a string attribute into a new NUL-terminated string
 * (caller frees); NULL if absent or not a fixed-length string. */
static char *attr_read_string(hid_t file, const char *name)
{
    char *out = NULL;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    if (H5Aexists(file, name) <= 0)
        goto done;
    attr = H5Aopen(file, name, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    ftype = H5Aget_type(attr);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0)
        goto done;
    size_t n = H5Tget_size(ftype);
    mtype = string_type(n + 1);
    if (n == 0 || mtype < 0)
        goto done;
    out = xcalloc(n + 1, 1);
    if (H5Aread(attr, mtype, out) < 0) {
        free(out);
        out = NULL;
    }
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (attr >= 0)
        H5Aclose(attr);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/* Reads an integer attribute; -1 if absent or not an integer. */
static int attr_read_int(hid_t file, const char *name, int64_t *v)
{
    int rc = -1;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    if (H5Aexists(file, name) <= 0)
        goto done;
    attr = H5Aopen(file, name, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    ftype = H5Aget_type(attr);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_INTEGER)
        goto done;
    if (H5Aread(attr, H5T_NATIVE_INT64, v) >= 0)
        rc = 0;
done:
    if (ftype >= 0)
        H5Tclose(ftype);
    if (attr >= 0)
        H5Aclose(attr);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* Checks the format attributes and reads the shape. */
/* A shape attribute that older files lack: *out = its value in [0, max], or 0 if absent. */
static int optional_shape_attr(hid_t file, const char *path, const char *name, int64_t max,
                               int64_t *out, BpsErr *err)
{
    *out = 0;
    if (H5Aexists(file, name) > 0 && (attr_read_int(file, name, out) != 0 || *out < 0 ||
                                      *out > max))
        return bps_fail(err, "%s: damaged results file: attribute %s is invalid", path, name);
    return 0;
}

static int check_format(hid_t file, const char *path, StoreShape *sh, int *version_out,
                        BpsErr *err)
{
    char *format = attr_read_string(file, "format");
    bool ours = format && strcmp(format, STORE_FORMAT) == 0;
    free(format);
    int64_t version = 0;
    if (!ours || attr_read_int(file, "format_version", &version) != 0 || version < 1)
        return bps_fail(err, "%s: not a bpsweep results file (no format = \"%s\" attribute)",
                        path, STORE_FORMAT);
    if (version > STORE_FORMAT_VERSION)
        return bps_fail(err,
                        "%s: written by a newer bpsweep (format version %lld; this one reads "
                        "up to %d): upgrade bpsweep to read it",
                        path, (long long)version, STORE_FORMAT_VERSION);
    int64_t v[4];
    const char *names[4] = {"n_points", "max_epochs", "max_layers", "max_params"};
    for (int i = 0; i < 4; i++)
        if (attr_read_int(file, names[i], &v[i]) != 0 || v[i] < 0)
            return bps_fail(err, "%s: damaged results file: attribute %s is missing or invalid",
                            path, names[i]);
    if (v[0] < 1 || v[1] < 1 || v[1] > INT32_MAX || v[2] < 1 || v[2] > INT32_MAX)
        return bps_fail(err, "%s: damaged results file: invalid shape attributes", path);
    *version_out = (int)version;
    sh->n_points = v[0];
    sh->max_epochs = (int)v[1];
    sh->max_layers = (int)v[2];
    sh->max_params = v[3];
    /* absent in format-1 files written before the instruments: 0, no such datasets */
    if (optional_shape_attr(file, path, "ntk_size", 65536, &sh->ntk_m, err) != 0 ||
        optional_shape_attr(file, path, "max_rank", 1 << 20, &sh->max_rank, err) != 0 ||
        optional_shape_attr(file, path, "robust_eps", SPEC_MAX_EPS, &sh->n_eps, err) != 0)
        return -1;
    return 0;
}

/* Serial: opens path read-only with the sec2 driver, without file locking (a running
 * sweep holds the file open, and reading it must not be refused), and checks that it is
 * a results file this bpsweep reads. Returns the file, or H5I_INVALID_HID with err set. */
static hid_t open_readonly(const char *path, StoreShape *sh, int *version, BpsErr *err)
{
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_sec2(fapl) < 0) {
        h5_fail(err, path, "cannot set up file access");
        goto done;
    }
#if STORE_HAVE_FILE_LOCKING
    if (H5Pset_file_locking(fapl, false, true) < 0) {
        h5_fail(err, path, "cannot disable file locking");
        goto done;
    }
#endif
    file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (file < 0) {
        char detail[BPS_ERR_MAX / 2];
        diagnose_open(path, h5_detail(detail), err);
        goto done;
    }
    if (check_format(file, path, sh, version, err) != 0) {
        H5Fclose(file);
        file = H5I_INVALID_HID;
    }
done:
    if (fapl >= 0)
        H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return file;
}

/* ---- creation ------------------------------------------------------------------------------ */

/* Collective (H5Dcreate): one dataset of the layout, contiguous, allocated now; only
 * /status gets a fill value, written now; nothing else is ever filled. */
static hid_t create_dataset(hid_t file, const DatasetDef *d, const Spec *spec,
                            const StoreShape *sh, hid_t type)
{
    hid_t id = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID,
          lcpl = H5I_INVALID_HID;
    hsize_t dims[2];
    int rank = dataset_dims(d, spec, sh, dims);
    space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (space < 0 || dcpl < 0 || lcpl < 0)
        goto done;
    /* REQUIRED: parents (/axes, /points, ...) are created with their first dataset */
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0)
        goto done;
    /* REQUIRED: contiguous and allocated at creation, so that independent row writes
     * never allocate space or touch metadata (parallel HDF5 needs metadata changes to
     * be collective) */
    if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)
        goto done;
    if (d->field == F_STATUS) {
        /* REQUIRED: the status byte of every row starts as 0 = pending; the fill is
         * written (collectively) during this create */
        uint8_t pending = POINT_PENDING;
        if (H5Pset_fill_value(dcpl, H5T_NATIVE_UINT8, &pending) < 0 ||
            H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) < 0)
            goto done;
    } else if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        /* REQUIRED: no fill for the rest, or creating a big file writes gigabytes */
        goto done;
    }
    /* optional: no modification times in object headers (nothing to update; files of
     * the same sweep differ less) */
    if (H5Pset_obj_track_times(dcpl, 0) < 0)
        goto done;
    /* REQUIRED collective: same name, type, space and properties on every rank */
    id = H5Dcreate2(file, d->path, type, space, lcpl, dcpl, H5P_DEFAULT);
done:
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return id;
}

/* Independent: writes count elements [start, start + count) of a 1-D dataset. */
static int write_slab(hid_t dset, hid_t mtype, hsize_t start, hsize_t count, const void *buf)
{
    int rc = -1;
    hid_t mspace = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
    mspace = H5Screate_simple(1, &count, NULL);
    fspace = H5Dget_space(dset);
    if (mspace < 0 || fspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0)
        goto done;
    /* independent transfer (the default dxpl): this rank's slab only */
    if (H5Dwrite(dset, mtype, mspace, fspace, H5P_DEFAULT, buf) >= 0)
        rc = 0;
done:
    if (fspace >= 0)
        H5Sclose(fspace);
    if (mspace >= 0)
        H5Sclose(mspace);
    return rc;
}

/* Collective: every rank writes its share of /points (a contiguous block of the grid)
 * independently, in slabs of POINTS_BATCH rows; after each slab the ranks agree on
 * whether *stop is set (every rank runs the same number of rounds). Returns 0, -1 if
 * a write failed on this rank, STORE_STOPPED on every rank when stopped. */
static int write_points(MPI_Comm comm, const Spec *spec, const StoreShape *sh,
                        const DatasetDef *defs, const hid_t *dset, const hid_t *mtype,
                        int n_defs, const volatile sig_atomic_t *stop)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t lo = sh->n_points * rank / size, hi = sh->n_points * (rank + 1) / size;
    int64_t most = (sh->n_points + size - 1) / size; /* the largest block of any rank */
    int64_t rounds = (most + POINTS_BATCH - 1) / POINTS_BATCH;
    char(*key)[GRID_KEY_MAX] = xcalloc(POINTS_BATCH, sizeof *key);
    int32_t(*idx)[5] = xmalloc(POINTS_BATCH * sizeof *idx); /* arch cond nb wd seed */
    int32_t *col = xmalloc(POINTS_BATCH * sizeof *col);
    double *wd = xmalloc(POINTS_BATCH * sizeof *wd), *nb = xmalloc(POINTS_BATCH * sizeof *nb);
    int64_t *seed = xmalloc(POINTS_BATCH * sizeof *seed);
    int rc = 0;
    for (int64_t r = 0; r < rounds; r++) {
        /* every round: the ranks agree on a stop (signals reach ranks at different
         * moments) and on a failed write, which ends the writing of every rank */
        int flags[2] = {stop && *stop, rc != 0}, any[2];
        MPI_Allreduce(flags, any, 2, MPI_INT, MPI_MAX, comm);
        if (any[0] && !any[1]) {
            rc = STORE_STOPPED;
            break;
        }
        if (any[1])
            break; /* a rank failed: the caller's agree() says which */
        int64_t b = lo + r * POINTS_BATCH;
        if (b >= hi)
            continue;
        int n = (int)(hi - b < POINTS_BATCH ? hi - b : POINTS_BATCH);
        memset(key, 0, (size_t)n * sizeof *key);
        for (int i = 0; i < n; i++) {
            GridPoint p = grid_point(spec, b + i);
            grid_key(spec, p, key[i], sizeof key[i]);
            int32_t v[5] = {p.arch, p.cond, p.nb, p.wd, p.seed};
            memcpy(idx[i], v, sizeof v);
            wd[i] = spec->weight_decay[p.wd];
            nb[i] = spec->norm_bias[p.nb];
            seed[i] = (int64_t)spec->seed[p.seed];
        }
        for (int d = 0; d < n_defs && rc == 0; d++) {
            const void *buf = NULL;
            Field f = defs[d].field;
            if (f >= F_ARCH && f <= F_SEED_INDEX) {
                for (int i = 0; i < n; i++)
                    col[i] = idx[i][f - F_ARCH];
                buf = col;
            } else if (f == F_KEY) {
                buf = key;
            } else if (f == F_WEIGHT_DECAY) {
                buf = wd;
            } else if (f == F_NORM_BIAS) {
                buf = nb;
            } else if (f == F_SEED) {
                buf = seed;
            } else {
                continue;
            }
            rc = write_slab(dset[d], mtype[d], (hsize_t)b, (hsize_t)n, buf);
        }
    }
    free(key);
    free(idx);
    free(col);
    free(wd);
    free(nb);
    free(seed);
    return rc;
}

/* Independent, rank 0 only: the axes and the spec JSON. */
static int write_axes(const Spec *spec, const DatasetDef *defs, const hid_t *dset,
                      const hid_t *mtype, int n_defs)
{
    int rc = 0;
    for (int d = 0; d < n_defs && rc == 0; d++) {
        void *owned = NULL;
        const void *buf = NULL;
        switch (defs[d].field) {
        case F_SPEC_JSON:
            buf = spec->canonical;
            break;
        case F_AXIS_ARCH:
        case F_AXIS_COND: {
            int n = defs[d].field == F_AXIS_ARCH ? spec->n_arch : spec->n_cond;
            char(*names)[SPEC_NAME_MAX] = xcalloc((size_t)n, sizeof *names);
            for (int i = 0; i < n; i++)
                copy_fixed(names[i], sizeof names[i], defs[d].field == F_AXIS_ARCH
                                                          ? spec->arch[i].name
                                                          : spec->cond[i].name);
            buf = owned = names;
            break;
        }
        case F_AXIS_WD:
            buf = spec->weight_decay;
            break;
        case F_AXIS_NB:
            buf = spec->norm_bias;
            break;
        case F_AXIS_SEED: {
            int64_t *seeds = xmalloc((size_t)spec->n_seed * sizeof *seeds);
            for (int i = 0; i < spec->n_seed; i++)
                seeds[i] = (int64_t)spec->seed[i];
            buf = owned = seeds;
            break;
        }
        default:
            continue;
        }
        /* independent transfer by rank 0 alone (default dxpl) */
        if (H5Dwrite(dset[d], mtype[d], H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            rc = -1;
        free(owned);
    }
    return rc;
}

/* Rank 0: refuses a file larger than the free space of the file system it goes to
 * (the datasets are allocated, not written, at creation: a full disk would show only
 * when rows are written, or leave a file that does not read back). */
static int check_free_space(const char *path, const StoreShape *sh, BpsErr *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return 0; /* cannot tell: creating it will say what is wrong */
    double need = (double)store_file_bytes(sh) + 1048576.0; /* metadata, spec, axes */
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (need <= avail)
        return 0;
    const double gib = 1073741824.0;
    return bps_fail(err,
                    "%s: the results file needs %.1f GiB and its file system (%s) has %.1f GiB "
                    "free: free space, "
                    "choose another -o, or make the sweep smaller (bpsweep plan SPEC shows the "
                    "size)",
                    path, need / gib, dir, avail / gib);
}

int store_create(MPI_Comm comm, const char *path, const Spec *spec, const DataProvenance *data,
                 Shape in, int n_out, const volatile sig_atomic_t *stop, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors become BpsErr messages */
    int rank;
    MPI_Comm_rank(comm, &rank);

    /* Refuse an existing file: rank 0 looks, every rank follows its answer. */
    int rc = 0;
    struct stat st;
    StoreShape sh = store_shape(spec, in, n_out);
    if (rank == 0 && stat(path, &st) == 0)
        rc = bps_fail(err,
                      "%s: already exists; bpsweep never overwrites results (remove it, or "
                      "choose another output file)",
                      path);
    if (rank == 0 && rc == 0)
        rc = check_free_space(path, &sh, err);
    if (from_root(comm, rc, err) != 0)
        return -1;
    /* The file is built under a temporary name and renamed into place once complete
     * and flushed: a job killed while creating it leaves no half-made results file
     * (only this temporary one, which the next attempt replaces). */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.creating", path);
    if (rank == 0)
        unlink(tmp);
    MPI_Barrier(comm);

    Provenance prov;
    provenance_gather(comm, &prov);
    if (rank == 0 && prov.n_cpu_models > 1)
        fprintf(stderr,
                "bpsweep: warning: ranks run on different CPU models (%s): results are "
                "bit-identical only per machine type\n",
                prov.cpu_models);

    DatasetDef defs[MAX_DEFS];
    int n_defs = layout_defs(defs);
    hid_t dset[MAX_DEFS], mtype[MAX_DEFS];
    for (int d = 0; d < n_defs; d++)
        dset[d] = mtype[d] = H5I_INVALID_HID;
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;

    fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* REQUIRED: the MPI-IO driver lets every rank of comm write this one file */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0)
        rc = h5_fail(err, path, "cannot set up parallel access");
    /* REQUIRED collective; H5F_ACC_EXCL: a file created meanwhile is still refused */
    if (rc == 0 && (file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl)) < 0)
        rc = h5_fail(err, path, "cannot create");
    if (fapl >= 0)
        H5Pclose(fapl);
    if (agree_or_abort(comm, rc, err) != 0) {
        provenance_free(&prov);
        return -1;
    }

    /* Every dataset and attribute: collective metadata, identical on every rank. */
    for (int d = 0; d < n_defs && rc == 0; d++) {
        if (dataset_absent(&sh, &defs[d]))
            continue;
        if (defs[d].type == T_STR) {
            size_t size = defs[d].field == F_SPEC_JSON ? strlen(spec->canonical) + 1
                                                       : defs[d].str_size;
            mtype[d] = string_type(size);
        } else {
            mtype[d] = H5Tcopy(native_type(defs[d].type));
        }
        if (mtype[d] < 0 || (dset[d] = create_dataset(file, &defs[d], spec, &sh, mtype[d])) < 0) {
            char what[128];
            snprintf(what, sizeof what, "cannot create dataset %s", defs[d].path);
            rc = h5_fail(err, path, what);
        }
    }
    if (rc == 0)
        rc = write_attributes(file, path, spec, &sh, &prov, data, err);
    provenance_free(&prov);
    int created_ok = agree_or_abort(comm, rc, err) == 0;

    /* Raw data, independent: each rank a block of /points, rank 0 the axes and spec;
     * a stop between slabs is seen by every rank alike. */
    bool stopped = false;
    if (created_ok) {
        rc = write_points(comm, spec, &sh, defs, dset, mtype, n_defs, stop);
        stopped = rc == STORE_STOPPED;
        if (rc == 0 && rank == 0)
            rc = write_axes(spec, defs, dset, mtype, n_defs);
        if (rc != 0 && !stopped)
            rc = h5_fail(err, path, "cannot write the point coordinates");
        created_ok = !stopped && agree(comm, rc, err, NULL) == 0;
    }

    bps_fault_point("create");
    int close_rc = 0;
    for (int d = 0; d < n_defs; d++) {
        /* REQUIRED collective: every rank closes the handles it created alike */
        if (dset[d] >= 0 && H5Dclose(dset[d]) < 0)
            close_rc = -1;
        if (mtype[d] >= 0)
            H5Tclose(mtype[d]);
    }
    /* REQUIRED collective flush: measured in this project, a job killed before it leaves
     * a file that no longer opens; after it, a kill loses only rows not yet written */
    if (created_ok && close_rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        close_rc = -1;
    /* REQUIRED collective */
    if (H5Fclose(file) < 0)
        close_rc = -1;
    if (created_ok && close_rc != 0)
        h5_fail(err, path, "cannot finish creating the file");
    if (stopped)
        bps_fail(err, "%s: stopped while creating the file", path);
    if (agree(comm, created_ok ? close_rc : -1, err, NULL) != 0) {
        /* We created it and it is unusable (or stopped): remove it, so a rerun is not
         * refused and creates it again. */
        if (rank == 0)
            unlink(tmp);
        return stopped ? STORE_STOPPED : -1;
    }
    /* rank 0 publishes the complete file; everyone learns whether that worked */
    rc = 0;
    if (rank == 0 && rename(tmp, path) != 0)
        rc = bps_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    return from_root(comm, rc, err);
}

/* ---- writing rows --------------------------------------------------------------------------- */

struct Store {
    char *path;
    MPI_Comm comm;               /* our duplicate of the caller's communicator */
    hid_t file;
    StoreShape shape;
    FileLayout layout;           /* the file's version and metrics */
    Spec *spec;                  /* the spec stored in the file: the rows' coordinates */
    int n_defs;
    DatasetDef defs[MAX_DEFS];
    hid_t dset[MAX_DEFS];        /* per-point datasets; H5I_INVALID_HID for the others */
    hid_t str_type[MAX_DEFS];    /* memory type of string datasets */
    size_t row_bytes[MAX_DEFS];  /* bytes of one row of a per-point dataset */
    unsigned char *rowbuf[MAX_DEFS]; /* one row of each per-point dataset (row_bytes) */
    hid_t fspace[N_ROW_DIMS];    /* file space per row shape; write_row selects one row */
    hid_t mspace[N_ROW_DIMS];    /* one row in memory */
};

/* Collective: closes every handle of s and the file (s stays allocated). */
static int store_release(Store *s)
{
    int rc = 0;
    for (int d = 0; d < s->n_defs; d++) {
        /* REQUIRED collective: every rank opened the same datasets */
        if (s->dset[d] >= 0 && H5Dclose(s->dset[d]) < 0)
            rc = -1;
        if (s->str_type[d] >= 0)
            H5Tclose(s->str_type[d]);
        s->dset[d] = s->str_type[d] = H5I_INVALID_HID;
    }
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] >= 0)
            H5Sclose(s->fspace[k]);
        if (s->mspace[k] >= 0)
            H5Sclose(s->mspace[k]);
        s->fspace[k] = s->mspace[k] = H5I_INVALID_HID;
    }
    /* REQUIRED collective */
    if (s->file >= 0 && H5Fclose(s->file) < 0)
        rc = -1;
    s->file = H5I_INVALID_HID;
    return rc;
}

/* Frees s and its communicator (after store_release). */
static void store_free(Store *s)
{
    MPI_Comm_free(&s->comm);
    for (int d = 0; d < s->n_defs; d++)
        free(s->rowbuf[d]);
    spec_free(s->spec);
    free(s->path);
    free(s);
}

/* Opens the per-point datasets of the file (coordinates included), checks their shapes
 * against s->shape and makes a row buffer for each. Every dataset this bpsweep writes
 * must be there: a file that predates a metric is resumed by the bpsweep that made it. */
static int open_row_datasets(Store *s, BpsErr *err)
{
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (!is_row_field(def->field))
            continue;
        if (dataset_absent(&s->shape, def) || (def->field == F_CHECKSUM && s->layout.version < 2))
            continue;
        /* REQUIRED on every rank alike (store_open is collective): HDF5 asks for
         * collective opens of objects that will be written */
        s->dset[d] = H5Dopen2(s->file, def->path, H5P_DEFAULT);
        if (s->dset[d] < 0)
            return bps_fail(err, "%s: missing dataset %s (damaged file, or written by another "
                            "bpsweep version: resume it with the bpsweep that started it)",
                            s->path, def->path);
        hsize_t want[2] = {(hsize_t)s->shape.n_points, (hsize_t)row_width(&s->shape, def->dim)};
        hsize_t got[2] = {0, 0};
        int want_rank = def->dim == DIM_POINT ? 1 : 2;
        hid_t space = H5Dget_space(s->dset[d]);
        int got_rank = space >= 0 ? H5Sget_simple_extent_dims(space, got, NULL) : -1;
        if (space >= 0)
            H5Sclose(space);
        if (got_rank != want_rank || got[0] != want[0] || (want_rank == 2 && got[1] != want[1]))
            return bps_fail(err, "%s: damaged results file: %s does not have the shape the "
                            "attributes say", s->path, def->path);
        if (def->type == T_STR && (s->str_type[d] = string_type(def->str_size)) < 0)
            return h5_fail(err, s->path, "cannot make a string type");
        s->row_bytes[d] = (size_t)want[1] * elem_size(def->type, def->str_size);
        if (want_rank == 1)
            s->row_bytes[d] = elem_size(def->type, def->str_size);
        s->rowbuf[d] = xcalloc(s->row_bytes[d], 1);
    }
    return 0;
}

/* The dataspaces write_row reuses: per row shape, the file space and one row in memory. */
static int make_row_spaces(Store *s, BpsErr *err)
{
    for (int k = 0; k < N_ROW_DIMS; k++) {
        Dim dim = (Dim)(ROW_DIM0 + k);
        hsize_t w = (hsize_t)row_width(&s->shape, dim);
        if (w == 0)
            continue;
        hsize_t dims[2] = {(hsize_t)s->shape.n_points, w};
        s->fspace[k] = H5Screate_simple(dim == DIM_POINT ? 1 : 2, dims, NULL);
        s->mspace[k] = H5Screate_simple(1, &w, NULL);
        if (s->fspace[k] < 0 || s->mspace[k] < 0)
            return h5_fail(err, s->path, "cannot make dataspaces");
    }
    return 0;
}

int store_open(MPI_Comm comm, const char *path, Store **out, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *out = NULL;
    Store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->file = H5I_INVALID_HID;
    s->n_defs = layout_defs(s->defs);
    for (int d = 0; d < s->n_defs; d++)
        s->dset[d] = s->str_type[d] = H5I_INVALID_HID;
    for (int k = 0; k < N_ROW_DIMS; k++)
        s->fspace[k] = s->mspace[k] = H5I_INVALID_HID;
    MPI_Comm_dup(comm, &s->comm);
    int rank;
    MPI_Comm_rank(s->comm, &rank);

    /* Rank 0 first validates the file read-only, as every reader does (so a file that
     * is not a results file is never opened for writing, and a damaged one is refused
     * alike by every command); it sends the stored spec to every rank. */
    int rc = 0;
    long long len = 0;
    char *json = NULL;
    if (rank == 0) {
        StoreReader *probe = NULL;
        rc = store_reader_open(path, &probe, err);
        if (rc == 0) {
            json = xstrdup(store_reader_spec(probe)->canonical);
            len = (long long)strlen(json);
        }
        store_reader_close(probe);
    }
    if (from_root(s->comm, rc, err) != 0) {
        store_free(s);
        return -1;
    }
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, s->comm);
    if (rank != 0)
        json = xmalloc((size_t)len + 1);
    MPI_Bcast(json, (int)len + 1, MPI_CHAR, 0, s->comm);
    rc = spec_parse(json, path, &s->spec, err); /* parsed on rank 0 already: alike */
    free(json);
    if (rc != 0) {
        store_free(s);
        return -1;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* REQUIRED: the MPI-IO driver lets every rank write rows of this one file */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, s->comm, MPI_INFO_NULL) < 0) {
        rc = h5_fail(err, path, "cannot set up parallel access");
    } else {
        /* REQUIRED collective */
        s->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
        if (s->file < 0)
            rc = h5_fail(err, path, "cannot open for writing");
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (agree_or_abort(s->comm, rc, err) != 0) {
        store_release(s);
        store_free(s);
        return -1;
    }
    /* optional collective: every rank reads the format and shape attributes itself
     * (reads change nothing, so HDF5 does not require it; every rank needs the shape) */
    rc = check_format(s->file, path, &s->shape, &s->layout.version, err);
    s->layout.shape = s->shape;
    if (rc == 0)
        rc = open_row_datasets(s, err);
    if (rc == 0)
        rc = make_row_spaces(s, err);
    if (rc == 0 && grid_size(s->spec) != s->shape.n_points)
        rc = bps_fail(err, "%s: damaged results file: n_points is not the size of its spec's "
                      "grid", path);
    if (agree_or_abort(s->comm, rc, err) != 0) {
        store_release(s);
        store_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* The coordinates of a point, as store_create writes them to /points. */
typedef struct {
    char key[GRID_KEY_MAX];
    int32_t idx[5];           /* arch cond nb wd seed_index: F_ARCH .. F_SEED_INDEX */
    double weight_decay, norm_bias;
    int64_t seed;
} RowCoords;

static void row_coords(const Spec *spec, int64_t index, RowCoords *c)
{
    memset(c, 0, sizeof *c);
    GridPoint p = grid_point(spec, index);
    grid_key(spec, p, c->key, sizeof c->key);
    int32_t v[5] = {p.arch, p.cond, p.nb, p.wd, p.seed};
    memcpy(c->idx, v, sizeof v);
    c->weight_decay = spec->weight_decay[p.wd];
    c->norm_bias = spec->norm_bias[p.nb];
    c->seed = (int64_t)spec->seed[p.seed];
}

/* The bytes of coordinate field f in c. */
static const void *coord_bytes(const RowCoords *c, Field f)
{
    switch (f) {
    case F_KEY:
        return c->key;
    case F_WEIGHT_DECAY:
        return &c->weight_decay;
    case F_NORM_BIAS:
        return &c->norm_bias;
    case F_SEED:
        return &c->seed;
    default:
        assert(f >= F_ARCH && f <= F_SEED_INDEX);
        return &c->idx[f - F_ARCH];
    }
}

/* Writes row `row` of s: the coordinates (from s->spec), s->rowbuf[d] of every other
 * per-point dataset, then the row checksum (format 2): FNV-1a 64 over the row's bytes of
 * every per-point dataset of the file in layout order (status and checksum left out),
 * followed by the status byte; then the status byte itself. Independent. */
static int write_row_bytes(Store *s, int64_t row, uint8_t status, BpsErr *err)
{
    hsize_t start[2] = {(hsize_t)row, 0};
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] < 0)
            continue;
        hsize_t count[2] = {1, (hsize_t)row_width(&s->shape, (Dim)(ROW_DIM0 + k))};
        if (H5Sselect_hyperslab(s->fspace[k], H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            return h5_fail(err, s->path, "cannot select a row");
    }
    RowCoords c;
    row_coords(s->spec, row, &c);
    uint64_t sum = BPS_HASH_INIT;
    int status_def = -1, checksum_def = -1;
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (s->dset[d] < 0)
            continue;
        if (def->field == F_STATUS || def->field == F_CHECKSUM) {
            *(def->field == F_STATUS ? &status_def : &checksum_def) = d;
            continue; /* written last, below */
        }
        const void *buf = is_coord_field(def->field) ? coord_bytes(&c, def->field) : s->rowbuf[d];
        sum = bps_hash_bytes(sum, buf, s->row_bytes[d]);
        int k = (int)def->dim - ROW_DIM0;
        hid_t mtype = def->type == T_STR ? s->str_type[d] : native_type(def->type);
        /* independent transfer (default dxpl): one row, no other rank involved */
        if (H5Dwrite(s->dset[d], mtype, s->mspace[k], s->fspace[k], H5P_DEFAULT, buf) < 0) {
            char what[128];
            snprintf(what, sizeof what, "point %lld: cannot write %s", (long long)row, def->path);
            return h5_fail(err, s->path, what);
        }
    }
    sum = bps_hash_bytes(sum, &status, 1);
    if (checksum_def >= 0 &&
        H5Dwrite(s->dset[checksum_def], H5T_NATIVE_UINT64, s->mspace[0], s->fspace[0],
                 H5P_DEFAULT, &sum) < 0) {
        char what[128];
        snprintf(what, sizeof what, "point %lld: cannot write /run/checksum", (long long)row);
        return h5_fail(err, s->path, what);
    }
    bps_fault_point("row");
    /* The status byte last, alone: a row whose status is not pending is complete. */
    assert(status_def >= 0);
    if (H5Dwrite(s->dset[status_def], H5T_NATIVE_UINT8, s->mspace[0], s->fspace[0], H5P_DEFAULT,
                 &status) < 0) {
        char what[128];
        snprintf(what, sizeof what, "point %lld: cannot write /status", (long long)row);
        return h5_fail(err, s->path, what);
    }
    return 0;
}

/* dst (width values) holding len values of src (NULL: none), NaN-padded. */
static void double_row(double *dst, const double *src, int len, int64_t width)
{
    for (int64_t i = 0; i < width; i++)
        dst[i] = src && i < len ? src[i] : (double)NAN;
}

/* dst (width values) holding n values of src, NaN-padded. */
static void float_row(float *dst, const float *src, size_t n, int64_t width)
{
    if (n)
        memcpy(dst, src, n * sizeof *dst);
    for (int64_t i = (int64_t)n; i < width; i++)
        dst[i] = NAN;
}

static int check_row(const Store *s, const PointResult *res, BpsErr *err)
{
    long long i = (long long)res->index;
    if (res->index < 0 || res->index >= s->shape.n_points)
        return bps_fail(err, "%s: point %lld: out of range (the file has %lld points)", s->path,
                        i, (long long)s->shape.n_points);
    if (res->status != POINT_DONE && res->status != POINT_DIVERGED &&
        res->status != POINT_FAILED)
        return bps_fail(err, "%s: point %lld: status %s is not a result (rows are written "
                        "only for done, diverged or failed points)",
                        s->path, i, point_status_name(res->status));
    for (int m = 0; m < N_METRICS; m++) {
        int64_t w = row_width(&s->shape, KIND_DIM[POINT_METRIC_DEFS[m].kind]);
        if (res->metric[m] && res->metric_len[m] > w)
            return bps_fail(err, "%s: point %lld: %s has %d values, the file has room for %lld "
                            "(was it created for another spec?)",
                            s->path, i, POINT_METRIC_DEFS[m].name, res->metric_len[m],
                            (long long)w);
    }
    bool has_weights = s->shape.max_params > 0;
    if (res->weights && has_weights && (int64_t)res->n_params > s->shape.max_params)
        return bps_fail(err, "%s: point %lld: %zu parameters, the file has room for %lld", s->path,
                        i, res->n_params, (long long)s->shape.max_params);
    return 0;
}

int store_write_row(Store *s, const PointResult *res, const RowInfo *info, BpsErr *err)
{
    assert(s && res && info);
    if (check_row(s, res, err) != 0)
        return -1;
    int32_t epochs_run = res->epochs_run, diverged_epoch = res->diverged_epoch;
    int32_t rank = info->rank, attempts = info->attempts;
    int64_t n_params = (int64_t)res->n_params;
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (s->dset[d] < 0 || is_coord_field(def->field))
            continue;
        void *buf = s->rowbuf[d];
        int64_t w = row_width(&s->shape, def->dim);
        const void *value = NULL; /* a scalar to copy */
        switch (def->field) {
        case F_STATUS:
        case F_CHECKSUM:
            continue; /* write_row_bytes */
        case F_METRIC:
            double_row(buf, res->metric[def->metric], res->metric_len[def->metric], w);
            break;
        case F_PARAM_HASH:
            value = &res->param_hash;
            break;
        case F_EPOCHS_RUN:
            value = &epochs_run;
            break;
        case F_DIVERGED_EPOCH:
            value = &diverged_epoch;
            break;
        case F_N_PARAMS:
            value = &n_params;
            break;
        case F_WALL_SECONDS:
            value = &res->wall_seconds;
            break;
        case F_RANK:
            value = &rank;
            break;
        case F_HOST:
            copy_fixed(buf, s->row_bytes[d], info->host);
            break;
        case F_ATTEMPTS:
            value = &attempts;
            break;
        case F_FINISHED:
            value = &info->finished;
            break;
        case F_MESSAGE:
            copy_fixed(buf, s->row_bytes[d], res->message);
            break;
        case F_WEIGHTS:
            float_row(buf, res->weights, res->weights ? res->n_params : 0, w);
            break;
        case F_NTK0:
        case F_NTK1: {
            const float *k = def->field == F_NTK0 ? res->ntk0 : res->ntk1;
            bool fits = k && res->ntk_m == s->shape.ntk_m;
            float_row(buf, k, fits ? (size_t)w : 0, w);
            break;
        }
        case F_ROBUST_TEST:
        case F_ROBUST_TRAIN:
            double_row(buf, def->field == F_ROBUST_TEST ? res->robust_test : res->robust_train,
                       res->n_eps, w);
            break;
        case F_SPECTRA: /* the point's (L, R) block into the file's (max_layers, max_rank) */
            float_row(buf, NULL, 0, w);
            for (int l = 0; res->spectra && l < res->n_layers; l++)
                memcpy((float *)buf + (size_t)l * (size_t)s->shape.max_rank,
                       res->spectra + (size_t)l * (size_t)res->spectra_rank,
                       (size_t)res->spectra_rank * sizeof(float));
            break;
        default:
            assert(!"not a row dataset");
            continue;
        }
        if (value)
            memcpy(buf, value, s->row_bytes[d]);
    }
    return write_row_bytes(s, res->index, (uint8_t)res->status, err);
}

int store_close(Store *s, BpsErr *err)
{
    if (!s)
        return 0;
    int rc = store_release(s) == 0 ? 0 : h5_fail(err, s->path, "cannot close");
    rc = agree(s->comm, rc, err, NULL);
    store_free(s);
    return rc;
}

/* ---- reading ---------------------------------------------------------------------------- */

#define READ_CHUNK_BYTES (32u << 20) /* file bytes read per chunk of rows */
#define READ_CHUNK_ROWS 65536

struct StoreReader {
    char *path;
    hid_t file;
    FileLayout layout;
    char *spec_json, *created, *bpsweep_version, *data_files;
    char spec_hash[17];
    Spec *spec;
    char (*arch_names)[SPEC_NAME_MAX];  /* /axes/architectures, n_arch */
    char (*cond_names)[SPEC_NAME_MAX];  /* /axes/conditions, n_cond */
    int n_arch, n_cond;
    int n_defs;
    DatasetDef defs[MAX_DEFS];
    hid_t dset[MAX_DEFS];           /* per-point datasets in the file */
    hid_t mtype[MAX_DEFS];          /* their memory types */
    size_t row_bytes[MAX_DEFS];     /* bytes of one row */
    unsigned char *chunk[MAX_DEFS]; /* chunk_rows rows of each */
    int64_t chunk_rows, next;       /* rows per chunk; the next row to read */
};

/* Reads /spec_json into a new string. */
static char *read_spec_json(hid_t file)
{
    char *out = NULL;
    hid_t dset = H5Dopen2(file, "/spec_json", H5P_DEFAULT), ftype = H5I_INVALID_HID,
          mtype = H5I_INVALID_HID;
    if (dset < 0)
        goto done;
    ftype = H5Dget_type(dset);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0)
        goto done;
    size_t n = H5Tget_size(ftype);
    if ((mtype = string_type(n + 1)) < 0)
        goto done;
    out = xcalloc(n + 1, 1);
    if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) {
        free(out);
        out = NULL;
    }
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (dset >= 0)
        H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    return out;
}

/* Which metrics the file has. Format 2 lists them in the `metrics` attribute: a listed
 * metric must be there (a missing one is damage, found by check_datasets). A format-1
 * file has no list: a missing metric is taken for one added to bpsweep later. */
static int read_metric_list(hid_t file, const char *path, FileLayout *fl, BpsErr *err)
{
    if (fl->version < 2) {
        for (int m = 0; m < N_METRICS; m++) {
            char name[PATH_MAX_DSET];
            snprintf(name, sizeof name, "/%s/%s", KIND_GROUP[POINT_METRIC_DEFS[m].kind],
                     POINT_METRIC_DEFS[m].name);
            fl->has_metric[m] = H5Lexists(file, KIND_GROUP[POINT_METRIC_DEFS[m].kind],
                                          H5P_DEFAULT) > 0 &&
                                H5Lexists(file, name, H5P_DEFAULT) > 0;
            H5Eclear2(H5E_DEFAULT);
        }
        return 0;
    }
    char *list = attr_read_string(file, "metrics");
    if (!list)
        return bps_fail(err, "%s: damaged results file: the attribute `metrics` is missing",
                        path);
    for (int m = 0; m < N_METRICS; m++) {
        const char *name = POINT_METRIC_DEFS[m].name;
        size_t len = strlen(name);
        fl->has_metric[m] = false;
        for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
            if (strcspn(p, ",") == len && strncmp(p, name, len) == 0)
                fl->has_metric[m] = true;
            if (!p[strcspn(p, ",")])
                break;
        }
    }
    free(list);
    return 0;
}

/* Opens every per-point dataset the file should have and checks its shape. */
static int check_datasets(StoreReader *r, BpsErr *err)
{
    const StoreShape *sh = &r->layout.shape;
    for (int d = 0; d < r->n_defs; d++) {
        const DatasetDef *def = &r->defs[d];
        if (def->dim < DIM_POINT || !file_has(&r->layout, def))
            continue;
        r->dset[d] = H5Dopen2(r->file, def->path, H5P_DEFAULT);
        if (r->dset[d] < 0) {
            H5Eclear2(H5E_DEFAULT);
            return bps_fail(err, "%s: damaged results file: dataset %s is missing%s", r->path,
                            def->path,
                            def->field == F_METRIC ? " (the file's `metrics` attribute lists it)"
                                                   : "");
        }
        hsize_t want[2] = {(hsize_t)sh->n_points, (hsize_t)row_width(sh, def->dim)};
        hsize_t got[2] = {0, 0};
        int want_rank = def->dim == DIM_POINT ? 1 : 2;
        hid_t space = H5Dget_space(r->dset[d]);
        int got_rank = space >= 0 && H5Sget_simple_extent_ndims(space) == want_rank
                           ? H5Sget_simple_extent_dims(space, got, NULL)
                           : -1;
        hid_t ftype = H5Dget_type(r->dset[d]);
        size_t fsize = ftype >= 0 ? H5Tget_size(ftype) : 0;
        if (ftype >= 0)
            H5Tclose(ftype);
        if (space >= 0)
            H5Sclose(space);
        H5Eclear2(H5E_DEFAULT);
        size_t es = elem_size(def->type, def->str_size);
        if (got_rank != want_rank || got[0] != want[0] || (want_rank == 2 && got[1] != want[1]) ||
            fsize != es)
            return bps_fail(err, "%s: damaged results file: %s does not have the shape and type "
                            "the attributes say", r->path, def->path);
        r->mtype[d] = def->type == T_STR ? string_type(def->str_size)
                                         : H5Tcopy(native_type(def->type));
        if (r->mtype[d] < 0)
            return h5_fail(err, r->path, "cannot make a memory type");
        r->row_bytes[d] = (size_t)row_width(sh, def->dim) * es;
    }
    return 0;
}

/* Reads an axis of names (n of them, as the spec says). */
static int read_names(StoreReader *r, Field f, int n, char (**out)[SPEC_NAME_MAX], BpsErr *err)
{
    const DatasetDef *def = NULL;
    for (int d = 0; d < r->n_defs; d++)
        if (r->defs[d].field == f)
            def = &r->defs[d];
    assert(def);
    *out = xcalloc((size_t)n, sizeof **out);
    hid_t dset = H5Dopen2(r->file, def->path, H5P_DEFAULT), space = H5I_INVALID_HID;
    hid_t mtype = string_type(def->str_size);
    hsize_t dims[1] = {0};
    int rc = -1;
    if (dset >= 0 && (space = H5Dget_space(dset)) >= 0 &&
        H5Sget_simple_extent_ndims(space) == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1 &&
        dims[0] == (hsize_t)n && mtype >= 0 &&
        H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0)
        rc = 0;
    if (mtype >= 0)
        H5Tclose(mtype);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    if (rc != 0)
        return bps_fail(err, "%s: damaged results file: %s is missing or does not match the "
                        "stored spec", r->path, def->path);
    for (int i = 0; i < n; i++)
        (*out)[i][SPEC_NAME_MAX - 1] = '\0';
    return 0;
}

int store_reader_open(const char *path, StoreReader **out, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *out = NULL;
    StoreReader *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    r->n_defs = layout_defs(r->defs);
    for (int d = 0; d < r->n_defs; d++)
        r->dset[d] = r->mtype[d] = H5I_INVALID_HID;
    r->file = open_readonly(path, &r->layout.shape, &r->layout.version, err);
    if (r->file < 0)
        goto fail;
    r->spec_json = read_spec_json(r->file);
    char *hash = attr_read_string(r->file, "spec_hash");
    r->created = attr_read_string(r->file, "created");
    r->bpsweep_version = attr_read_string(r->file, "bpsweep_version");
    r->data_files = attr_read_string(r->file, "data_files");
    if (hash)
        snprintf(r->spec_hash, sizeof r->spec_hash, "%s", hash);
    free(hash);
    if (!r->spec_json || !r->spec_hash[0]) {
        bps_fail(err, "%s: damaged results file: no /spec_json or spec_hash", path);
        goto fail;
    }
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64,
             bps_hash_bytes(BPS_HASH_INIT, r->spec_json, strlen(r->spec_json)));
    if (strcmp(want, r->spec_hash) != 0) {
        bps_fail(err, "%s: damaged results file: the stored spec (/spec_json) does not match its "
                 "hash (spec_hash %s, computed %s)", path, r->spec_hash, want);
        goto fail;
    }
    if (spec_parse(r->spec_json, path, &r->spec, err) != 0) {
        bps_err_prefix(err, "%s: damaged results file: the stored spec does not parse", path);
        goto fail;
    }
    if (grid_size(r->spec) != r->layout.shape.n_points) {
        bps_fail(err, "%s: damaged results file: n_points is not the size of the stored spec's "
                 "grid", path);
        goto fail;
    }
    r->n_arch = r->spec->n_arch;
    r->n_cond = r->spec->n_cond;
    if (read_metric_list(r->file, path, &r->layout, err) != 0 || check_datasets(r, err) != 0 ||
        read_names(r, F_AXIS_ARCH, r->n_arch, &r->arch_names, err) != 0 ||
        read_names(r, F_AXIS_COND, r->n_cond, &r->cond_names, err) != 0)
        goto fail;
    size_t row = 0;
    for (int d = 0; d < r->n_defs; d++)
        row += r->row_bytes[d];
    r->chunk_rows = (int64_t)(READ_CHUNK_BYTES / (row ? row : 1));
    r->chunk_rows = r->chunk_rows < 1 ? 1 : r->chunk_rows;
    r->chunk_rows = r->chunk_rows > READ_CHUNK_ROWS ? READ_CHUNK_ROWS : r->chunk_rows;
    if (r->chunk_rows > r->layout.shape.n_points)
        r->chunk_rows = r->layout.shape.n_points;
    for (int d = 0; d < r->n_defs; d++)
        if (r->dset[d] >= 0)
            r->chunk[d] = xcalloc((size_t)r->chunk_rows, r->row_bytes[d]);
    *out = r;
    return 0;
fail:
    store_reader_close(r);
    return -1;
}

const Spec *store_reader_spec(const StoreReader *r)
{
    return r->spec;
}

void store_reader_close(StoreReader *r)
{
    if (!r)
        return;
    for (int d = 0; d < r->n_defs; d++) {
        if (r->dset[d] >= 0)
            H5Dclose(r->dset[d]);
        if (r->mtype[d] >= 0)
            H5Tclose(r->mtype[d]);
        free(r->chunk[d]);
    }
    if (r->file >= 0)
        H5Fclose(r->file);
    H5Eclear2(H5E_DEFAULT);
    spec_free(r->spec);
    free(r->arch_names);
    free(r->cond_names);
    free(r->spec_json);
    free(r->created);
    free(r->bpsweep_version);
    free(r->data_files);
    free(r->path);
    free(r);
}

/* Reads rows [first, first + n) of per-point dataset d into r->chunk[d]. */
static int read_rows(StoreReader *r, int d, int64_t first, int64_t n, BpsErr *err)
{
    const DatasetDef *def = &r->defs[d];
    int nd = def->dim == DIM_POINT ? 1 : 2;
    hsize_t start[2] = {(hsize_t)first, 0};
    hsize_t count[2] = {(hsize_t)n, (hsize_t)row_width(&r->layout.shape, def->dim)};
    hid_t fs = H5Dget_space(r->dset[d]), ms = H5Screate_simple(nd, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(r->dset[d], r->mtype[d], ms, fs, H5P_DEFAULT, r->chunk[d]) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (rc != 0) {
        char what[128];
        snprintf(what, sizeof what, "cannot read %s", def->path);
        return h5_fail(err, r->path, what);
    }
    return 0;
}

/* Reads rows [first, first + n) of every per-point dataset into r->chunk: /status first,
 * and when every row of the chunk is pending only the coordinates besides (the rest of
 * a pending row is never used: the file of a sweep that has just started reads fast). */
static int read_chunk(StoreReader *r, int64_t first, int64_t n, BpsErr *err)
{
    int status_def = -1;
    for (int d = 0; d < r->n_defs; d++)
        if (r->defs[d].field == F_STATUS)
            status_def = d;
    assert(status_def >= 0 && r->dset[status_def] >= 0);
    if (read_rows(r, status_def, first, n, err) != 0)
        return -1;
    bool any_finished = false;
    for (int64_t i = 0; i < n && !any_finished; i++)
        any_finished = r->chunk[status_def][i] != POINT_PENDING;
    for (int d = 0; d < r->n_defs; d++) {
        if (r->dset[d] < 0 || d == status_def ||
            (!any_finished && !is_coord_field(r->defs[d].field)))
            continue;
        if (read_rows(r, d, first, n, err) != 0)
            return -1;
    }
    return 0;
}

/* Whether row i of the chunk (point first + i) is damaged: a status byte out of range,
 * axis indices out of range, or (format 2, finished rows) a checksum that does not
 * match the row. */
static bool row_damaged(const StoreReader *r, int64_t i)
{
    uint8_t status = 0;
    uint64_t want = 0, sum = BPS_HASH_INIT;
    bool checksum = false;
    for (int d = 0; d < r->n_defs; d++) {
        if (r->dset[d] < 0)
            continue;
        const unsigned char *row = r->chunk[d] + (size_t)i * r->row_bytes[d];
        Field f = r->defs[d].field;
        if (f == F_STATUS) {
            status = row[0];
        } else if (f == F_CHECKSUM) {
            memcpy(&want, row, sizeof want);
            checksum = true;
        } else if (f >= F_ARCH && f <= F_SEED_INDEX) {
            int32_t v;
            memcpy(&v, row, sizeof v);
            int n = f == F_ARCH ? r->n_arch : f == F_COND ? r->n_cond : f == F_NB ? r->spec->n_nb
                                                            : f == F_WD ? r->spec->n_wd
                                                                        : r->spec->n_seed;
            if (v < 0 || v >= n)
                return true;
        }
    }
    if (status > POINT_FAILED)
        return true;
    if (!checksum || status == POINT_PENDING)
        return false;
    for (int d = 0; d < r->n_defs; d++) {
        Field f = r->defs[d].field;
        if (r->dset[d] < 0 || f == F_STATUS || f == F_CHECKSUM)
            continue;
        sum = bps_hash_bytes(sum, r->chunk[d] + (size_t)i * r->row_bytes[d], r->row_bytes[d]);
    }
    sum = bps_hash_bytes(sum, &status, 1);
    return sum != want;
}

/* The array of t that holds a per-point field, allocated for t->n_rows; NULL if t has
 * none. */
static void *table_column(StoreTable *t, const DatasetDef *def)
{
    size_t n = (size_t)t->n_rows;
    switch (def->field) {
#define COLUMN(field, member)                                                                \
    case field:                                                                              \
        return t->member = xcalloc(n, sizeof *t->member);
        COLUMN(F_KEY, key)
        COLUMN(F_ARCH, arch)
        COLUMN(F_COND, cond)
        COLUMN(F_NB, nb)
        COLUMN(F_WD, wd)
        COLUMN(F_SEED_INDEX, seed_index)
        COLUMN(F_WEIGHT_DECAY, weight_decay)
        COLUMN(F_NORM_BIAS, norm_bias)
        COLUMN(F_SEED, seed)
        COLUMN(F_STATUS, status)
        COLUMN(F_PARAM_HASH, param_hash)
        COLUMN(F_EPOCHS_RUN, epochs_run)
        COLUMN(F_DIVERGED_EPOCH, diverged_epoch)
        COLUMN(F_N_PARAMS, n_params)
        COLUMN(F_WALL_SECONDS, wall_seconds)
        COLUMN(F_RANK, rank)
        COLUMN(F_HOST, host)
        COLUMN(F_ATTEMPTS, attempts)
        COLUMN(F_FINISHED, finished)
        COLUMN(F_MESSAGE, message)
#undef COLUMN
    case F_METRIC:
        if (POINT_METRIC_DEFS[def->metric].kind != METRIC_SCALAR)
            return NULL;
        return t->scalar[def->metric] = xcalloc(n, sizeof(double));
    default:
        return NULL;
    }
}

/* Rows of pending points were never written (datasets are not filled), and damaged rows
 * cannot be trusted: give them defined values instead of whatever the disk held. */
static void clear_pending(StoreTable *t)
{
    for (int64_t i = 0; i < t->n_rows; i++) {
        if (t->damaged[i])
            t->status[i] = POINT_PENDING;
        if (t->status[i] != POINT_PENDING)
            continue;
        t->param_hash[i] = 0;
        t->epochs_run[i] = t->diverged_epoch[i] = t->attempts[i] = 0;
        t->rank[i] = -1;
        t->n_params[i] = 0;
        t->wall_seconds[i] = t->finished[i] = NAN;
        memset(t->host[i], 0, sizeof t->host[i]);
        memset(t->message[i], 0, sizeof t->message[i]);
        for (int m = 0; m < N_METRICS; m++)
            if (t->scalar[m])
                t->scalar[m][i] = NAN;
    }
}

/* Fills t (freed first) with rows [first, first + n) of r's current chunk. */
static void fill_table(const StoreReader *r, int64_t first, int64_t n, StoreTable *t)
{
    store_table_free(t);
    t->shape = r->layout.shape;
    t->format_version = r->layout.version;
    t->first = first;
    t->n_rows = n;
    t->spec_json = xstrdup(r->spec_json);
    snprintf(t->spec_hash, sizeof t->spec_hash, "%s", r->spec_hash);
    t->created = r->created ? xstrdup(r->created) : NULL;
    t->bpsweep_version = r->bpsweep_version ? xstrdup(r->bpsweep_version) : NULL;
    t->data_files = r->data_files ? xstrdup(r->data_files) : NULL;
    for (int d = 0; d < r->n_defs; d++) {
        const DatasetDef *def = &r->defs[d];
        if (def->dim != DIM_POINT)
            continue;
        void *col = table_column(t, def);
        if (!col)
            continue;
        if (r->dset[d] >= 0)
            memcpy(col, r->chunk[d], (size_t)n * r->row_bytes[d]);
        else /* a scalar metric the file predates: not measured */
            for (int64_t i = 0; i < n; i++)
                t->scalar[def->metric][i] = NAN;
    }
    t->damaged = xcalloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
        t->key[i][sizeof t->key[i] - 1] = '\0'; /* a damaged byte may have taken the NUL */
        t->host[i][sizeof t->host[i] - 1] = t->message[i][sizeof t->message[i] - 1] = '\0';
        if (!row_damaged(r, i))
            continue;
        t->damaged[i] = 1;
        t->n_damaged++;
        /* its coordinates as the spec says, not as the damaged row may say */
        RowCoords c;
        row_coords(r->spec, first + i, &c);
        memcpy(t->key[i], c.key, sizeof t->key[i]);
        t->arch[i] = c.idx[0], t->cond[i] = c.idx[1], t->nb[i] = c.idx[2];
        t->wd[i] = c.idx[3], t->seed_index[i] = c.idx[4];
        t->weight_decay[i] = c.weight_decay, t->norm_bias[i] = c.norm_bias, t->seed[i] = c.seed;
    }
    clear_pending(t);
    t->arch_name = xcalloc((size_t)n, sizeof *t->arch_name);
    t->cond_name = xcalloc((size_t)n, sizeof *t->cond_name);
    for (int64_t i = 0; i < n; i++) {
        memcpy(t->arch_name[i], r->arch_names[t->arch[i]], sizeof t->arch_name[i]);
        memcpy(t->cond_name[i], r->cond_names[t->cond[i]], sizeof t->cond_name[i]);
    }
}

int store_reader_next(StoreReader *r, StoreTable *t, BpsErr *err)
{
    int64_t n_points = r->layout.shape.n_points;
    if (r->next >= n_points)
        return 0;
    int64_t n = n_points - r->next < r->chunk_rows ? n_points - r->next : r->chunk_rows;
    if (read_chunk(r, r->next, n, err) != 0)
        return -1;
    fill_table(r, r->next, n, t);
    r->next += n;
    return 1;
}

/* Appends the rows of chunk c to the whole table t (allocated for every point). */
static void table_append(StoreTable *t, const StoreTable *c)
{
    size_t at = (size_t)c->first, n = (size_t)c->n_rows;
#define APPEND(member)                                                                      \
    memcpy(t->member + at, c->member, n * sizeof *t->member)
    APPEND(key);
    APPEND(arch);
    APPEND(cond);
    APPEND(nb);
    APPEND(wd);
    APPEND(seed_index);
    APPEND(arch_name);
    APPEND(cond_name);
    APPEND(weight_decay);
    APPEND(norm_bias);
    APPEND(seed);
    APPEND(status);
    APPEND(attempts);
    APPEND(rank);
    APPEND(epochs_run);
    APPEND(diverged_epoch);
    APPEND(host);
    APPEND(message);
    APPEND(param_hash);
    APPEND(n_params);
    APPEND(wall_seconds);
    APPEND(finished);
    APPEND(damaged);
#undef APPEND
    for (int m = 0; m < N_METRICS; m++)
        if (c->scalar[m])
            memcpy(t->scalar[m] + at, c->scalar[m], n * sizeof(double));
    t->n_damaged += c->n_damaged;
}

int store_read_table(const char *path, StoreTable *t, BpsErr *err)
{
    memset(t, 0, sizeof *t);
    StoreReader *r = NULL;
    if (store_reader_open(path, &r, err) != 0)
        return -1;
    StoreTable chunk = {0};
    int got;
    while ((got = store_reader_next(r, &chunk, err)) == 1) {
        if (chunk.first == 0) { /* the first chunk sets the table up for every point */
            int64_t n = chunk.shape.n_points;
            StoreTable whole = chunk;
            memset(&chunk, 0, sizeof chunk);
            *t = whole;
            t->n_rows = n;
#define GROW(member) t->member = xrealloc(t->member, (size_t)n * sizeof *t->member)
            GROW(key);
            GROW(arch);
            GROW(cond);
            GROW(nb);
            GROW(wd);
            GROW(seed_index);
            GROW(arch_name);
            GROW(cond_name);
            GROW(weight_decay);
            GROW(norm_bias);
            GROW(seed);
            GROW(status);
            GROW(attempts);
            GROW(rank);
            GROW(epochs_run);
            GROW(diverged_epoch);
            GROW(host);
            GROW(message);
            GROW(param_hash);
            GROW(n_params);
            GROW(wall_seconds);
            GROW(finished);
            GROW(damaged);
#undef GROW
            for (int m = 0; m < N_METRICS; m++)
                if (t->scalar[m])
                    t->scalar[m] = xrealloc(t->scalar[m], (size_t)n * sizeof(double));
            continue;
        }
        table_append(t, &chunk);
    }
    store_table_free(&chunk);
    store_reader_close(r);
    if (got != 0)
        store_table_free(t);
    return got == 0 ? 0 : -1;
}

/* One row of an old dataset (width w_old) widened to w_new into dst: extra columns NaN
 * for floating types, zero otherwise. */
static void widen_row(const DatasetDef *def, const unsigned char *src, int64_t w_old,
                      int64_t w_new, unsigned char *dst)
{
    size_t es = elem_size(def->type, def->str_size);
    int64_t w = w_old < w_new ? w_old : w_new;
    if (src)
        memcpy(dst, src, (size_t)w * es);
    else
        w = 0;
    for (int64_t c = w; c < w_new; c++) {
        if (def->type == T_F64)
            ((double *)(void *)dst)[c] = NAN;
        else if (def->type == T_F32)
            ((float *)(void *)dst)[c] = NAN;
        else
            memset(dst + (size_t)c * es, 0, es);
    }
}

int store_copy_rows(Store *s, const char *from, const int64_t *map, BpsErr *err)
{
    StoreReader *r = NULL;
    if (store_reader_open(from, &r, err) != 0)
        return -1;
    StoreTable chunk = {0};
    int got, rc = 0;
    while (rc == 0 && (got = store_reader_next(r, &chunk, err)) == 1) {
        for (int64_t i = 0; i < chunk.n_rows && rc == 0; i++) {
            int64_t p = chunk.first + i;
            /* damaged rows read as pending: not copied, computed again */
            if (chunk.status[i] == POINT_PENDING || map[p] < 0)
                continue;
            for (int d = 0; d < s->n_defs; d++) {
                const DatasetDef *def = &s->defs[d];
                if (s->dset[d] < 0 || is_coord_field(def->field) || def->field == F_STATUS ||
                    def->field == F_CHECKSUM)
                    continue;
                const unsigned char *src =
                    r->dset[d] >= 0 ? r->chunk[d] + (size_t)i * r->row_bytes[d] : NULL;
                widen_row(def, src, row_width(&r->layout.shape, def->dim),
                          row_width(&s->shape, def->dim), s->rowbuf[d]);
            }
            rc = write_row_bytes(s, map[p], chunk.status[i], err);
        }
    }
    if (rc == 0 && got < 0)
        rc = -1;
    store_table_free(&chunk);
    store_reader_close(r);
    return rc;
}

void store_table_free(StoreTable *t)
{
    if (!t)
        return;
    free(t->spec_json);
    free(t->created);
    free(t->bpsweep_version);
    free(t->data_files);
    free(t->key);
    free(t->arch);
    free(t->cond);
    free(t->nb);
    free(t->wd);
    free(t->seed_index);
    free(t->arch_name);
    free(t->cond_name);
    free(t->weight_decay);
    free(t->norm_bias);
    free(t->seed);
    free(t->status);
    free(t->attempts);
    free(t->rank);
    free(t->epochs_run);
    free(t->diverged_epoch);
    free(t->host);
    free(t->message);
    free(t->param_hash);
    free(t->n_params);
    free(t->wall_seconds);
    free(t->finished);
    for (int m = 0; m < N_METRICS; m++)
        free(t->scalar[m]);
    free(t->damaged);
    memset(t, 0, sizeof *t);
}

/* ---- the layout reference ------------------------------------------------------------------ */

static const char *const DIM_TEXT[] = {
    [DIM_SCALAR] = "scalar",           [DIM_ARCH] = "[n_arch]",
    [DIM_COND] = "[n_cond]",           [DIM_WD] = "[n_wd]",
    [DIM_NB] = "[n_nb]",               [DIM_SEED] = "[n_seed]",
    [DIM_POINT] = "[N]",               [DIM_EPOCH] = "[N, E]",
    [DIM_LAYER] = "[N, L]",            [DIM_PARAM] = "[N, P]",
    [DIM_NTK] = "[N, M*M]",          [DIM_SPECTRA] = "[N, L*R]",
    [DIM_EPS] = "[N, n_eps]",
};

/* A Markdown table cell: '|' escaped (metric descriptions write norms as ||x||). */
static void describe_cell(FILE *out, const char *text)
{
    fputs(" ", out);
    for (; *text; text++) {
        if (*text == '|')
            fputc('\\', out);
        fputc(*text, out);
    }
    fputs(" |", out);
}

void store_describe(FILE *out)
{
    fprintf(out, "Root attributes, scalars unless a shape is given (strings fixed-length, sized "
                 "to the value).\nThe `data_` attributes record the data set the sweep was "
                 "created with; files of earlier\nversions lack them.\n\n");
    fprintf(out, "| attribute | type | description |\n|---|---|---|\n");
    for (int a = 0; a < N_ATTRS; a++) {
        fprintf(out, "| `%s` | %s%s |", ATTRS[a].name, elem_name(ATTRS[a].type),
                ATTRS[a].shape ? ATTRS[a].shape : "");
        describe_cell(out, ATTRS[a].desc);
        fputc('\n', out);
    }
    fprintf(out, "\nDatasets. N = `n_points`, E = `max_epochs`, L = `max_layers`, "
                 "P = `max_params`,\nM = `ntk_size`, R = `max_rank`, n_eps = `robust_eps`; `string[n]` is a fixed-length string of n bytes, "
                 "NUL-terminated. Rows of [N, E], [N, L]\nand [N, P] datasets are NaN-padded "
                 "beyond the point's epochs, layers or parameters.\n\n");
    fprintf(out, "| dataset | type | shape | description |\n|---|---|---|---|\n");
    DatasetDef defs[MAX_DEFS];
    int n = layout_defs(defs);
    for (int d = 0; d < n; d++) {
        char type[32];
        if (defs[d].type == T_STR && defs[d].str_size)
            snprintf(type, sizeof type, "string[%zu]", defs[d].str_size);
        else
            snprintf(type, sizeof type, "%s", elem_name(defs[d].type));
        fprintf(out, "| `%s` | %s | %s |", defs[d].path, type, DIM_TEXT[defs[d].dim]);
        describe_cell(out, defs[d].desc);
        fputc('\n', out);
    }
}
