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

/* What a dataset holds; fields from F_STATUS on are written by store_write_row. */
typedef enum {
    F_SPEC_JSON,
    F_AXIS_ARCH, F_AXIS_COND, F_AXIS_WD, F_AXIS_NB, F_AXIS_SEED,
    F_KEY, F_ARCH, F_COND, F_NB, F_WD, F_SEED_INDEX, F_WEIGHT_DECAY, F_NORM_BIAS, F_SEED,
    F_STATUS,
    F_METRIC,
    F_PARAM_HASH, F_EPOCHS_RUN, F_DIVERGED_EPOCH, F_N_PARAMS, F_WALL_SECONDS, F_RANK,
    F_HOST, F_ATTEMPTS, F_FINISHED, F_MESSAGE,
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
    {F_WEIGHTS, "/weights", T_F32, 0, DIM_PARAM,
     "final parameters (layer by layer: W, b[, gamma, beta]), NaN-padded; only with "
     "`output.store_weights`", 0},
    {F_NTK0, "/ntk/K0", T_F32, 0, DIM_NTK,
     "empirical NTK at initialisation, M x M row-major (row i*K + l: sample i, logit l; "
     "reshape to (M, M)); only with `measure.ntk`; NaN where not measured", 0},
    {F_NTK1, "/ntk/K1", T_F32, 0, DIM_NTK,
     "empirical NTK after training, as `/ntk/K0`", 0},
    {F_SPECTRA, "/spectra", T_F32, 0, DIM_SPECTRA,
     "singular values of each dense layer's weight matrix after training, descending: layer "
     "l in columns [l*R, (l+1)*R) (reshape to (L, R)), NaN-padded", 0},
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
    return f >= F_STATUS;
}

/* Per-point datasets of width 0 (no weights kept, no NTK measured) are not created. */
static bool dataset_absent(const StoreShape *sh, const DatasetDef *d);

/* Root attributes. */
typedef enum {
    A_FORMAT, A_FORMAT_VERSION, A_SPEC_HASH, A_VERSION, A_COMMIT, A_BLAS_CONFIG, A_BLAS_CORE,
    A_CPU_MODELS, A_CREATED, A_N_POINTS, A_MAX_EPOCHS, A_MAX_LAYERS, A_MAX_PARAMS, A_NTK_SIZE,
    A_MAX_RANK, A_ROBUST_EPS, N_ATTRS
} AttrId;

static const struct {
    const char *name;
    ElemType type;
    const char *desc;
} ATTRS[N_ATTRS] = {
    [A_FORMAT] = {"format", T_STR, "always `" STORE_FORMAT "`"},
    [A_FORMAT_VERSION] = {"format_version", T_I64,
                          "layout version (this page describes 1); readers refuse newer files"},
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
                    "R: most singular values of any layer, min(O, I) (absent in files of "
                    "earlier versions, which have no `/spectra`)"},
    [A_ROBUST_EPS] = {"robust_eps", T_I64,
                      "n_eps: radii of `measure.robustness`, else 0 (absent in earlier files)"},
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

StoreShape store_shape(const Spec *spec, int n_in, int n_out)
{
    StoreShape sh = {grid_size(spec), 1, 1, 0, 0, 0, 0};
    for (int c = 0; c < spec->n_cond; c++)
        if (spec->cond[c].train.epochs > sh.max_epochs)
            sh.max_epochs = spec->cond[c].train.epochs;
    for (int a = 0; a < spec->n_arch; a++) {
        NetConfig net = spec->arch[a].net;
        net.n_in = n_in;
        net.n_out = n_out;
        if (net.n_hidden + 1 > sh.max_layers)
            sh.max_layers = net.n_hidden + 1;
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

static int attr_write_string(hid_t file, const char *name, const char *value)
{
    hid_t type = string_type(strlen(value) + 1);
    if (type < 0)
        return -1;
    int rc = attr_write(file, name, type, value);
    H5Tclose(type);
    return rc;
}

/* Collective: writes every attribute of ATTRS. */
static int write_attributes(hid_t file, const char *path, const Spec *spec,
                            const StoreShape *sh, const Provenance *prov, BpsErr *err)
{
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, spec->hash);
    for (int a = 0; a < N_ATTRS; a++) {
        const char *s = NULL;
        int64_t v = 0;
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
        case N_ATTRS:
            break;
        }
        assert((ATTRS[a].type == T_STR) == (s != NULL));
        int rc = s ? attr_write_string(file, ATTRS[a].name, s)
                   : attr_write(file, ATTRS[a].name, H5T_NATIVE_INT64, &v);
        if (rc != 0) {
            char what[128];
            snprintf(what, sizeof what, "cannot write attribute %s", ATTRS[a].name);
            return h5_fail(err, path, what);
        }
    }
    return 0;
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

static int check_format(hid_t file, const char *path, StoreShape *sh, BpsErr *err)
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
static hid_t open_readonly(const char *path, StoreShape *sh, BpsErr *err)
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
    if (check_format(file, path, sh, err) != 0) {
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

/* Independent: this rank's share of /points (a contiguous block of the grid). */
static int write_points(MPI_Comm comm, const Spec *spec, const StoreShape *sh,
                        const DatasetDef *defs, const hid_t *dset, const hid_t *mtype,
                        int n_defs)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t lo = sh->n_points * rank / size, hi = sh->n_points * (rank + 1) / size;
    char(*key)[GRID_KEY_MAX] = xcalloc(POINTS_BATCH, sizeof *key);
    int32_t(*idx)[5] = xmalloc(POINTS_BATCH * sizeof *idx); /* arch cond nb wd seed */
    int32_t *col = xmalloc(POINTS_BATCH * sizeof *col);
    double *wd = xmalloc(POINTS_BATCH * sizeof *wd), *nb = xmalloc(POINTS_BATCH * sizeof *nb);
    int64_t *seed = xmalloc(POINTS_BATCH * sizeof *seed);
    int rc = 0;
    for (int64_t b = lo; b < hi && rc == 0; b += POINTS_BATCH) {
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

int store_create(MPI_Comm comm, const char *path, const Spec *spec, int n_in, int n_out,
                 BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors become BpsErr messages */
    int rank;
    MPI_Comm_rank(comm, &rank);

    /* Refuse an existing file: rank 0 looks, every rank follows its answer. */
    int rc = 0;
    struct stat st;
    if (rank == 0 && stat(path, &st) == 0)
        rc = bps_fail(err,
                      "%s: already exists; bpsweep never overwrites results (remove it, or "
                      "choose another output file)",
                      path);
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

    StoreShape sh = store_shape(spec, n_in, n_out);
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
        rc = write_attributes(file, path, spec, &sh, &prov, err);
    provenance_free(&prov);
    int created_ok = agree_or_abort(comm, rc, err) == 0;

    /* Raw data, independent: each rank a block of /points, rank 0 the axes and spec. */
    if (created_ok) {
        rc = write_points(comm, spec, &sh, defs, dset, mtype, n_defs);
        if (rc == 0 && rank == 0)
            rc = write_axes(spec, defs, dset, mtype, n_defs);
        if (rc != 0)
            rc = h5_fail(err, path, "cannot write the point coordinates");
        created_ok = agree(comm, rc, err, NULL) == 0;
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
    if (agree(comm, created_ok ? close_rc : -1, err, NULL) != 0) {
        /* We created it and it is unusable: remove it, so a rerun is not refused. */
        if (rank == 0)
            unlink(tmp);
        return -1;
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
    int n_defs;
    DatasetDef defs[MAX_DEFS];
    hid_t dset[MAX_DEFS];        /* per-row datasets; H5I_INVALID_HID for the others */
    hid_t str_type[MAX_DEFS];    /* memory type of string datasets */
    hid_t fspace[N_ROW_DIMS];    /* file space per row shape; write_row selects one row */
    hid_t mspace[N_ROW_DIMS];    /* one row in memory */
    double *row;                 /* (max(E, L)) NaN-padded metric row */
    float *frow;                 /* (max(P, M*M, L*R)) NaN-padded float row of /weights,
                                    /ntk or /spectra; NULL without them */
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
    }
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] >= 0)
            H5Sclose(s->fspace[k]);
        if (s->mspace[k] >= 0)
            H5Sclose(s->mspace[k]);
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
    free(s->row);
    free(s->frow);
    free(s->path);
    free(s);
}

/* Opens the per-row datasets and checks their shapes against s->shape. */
static int open_row_datasets(Store *s, BpsErr *err)
{
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (!is_row_field(def->field))
            continue;
        if (dataset_absent(&s->shape, def))
            continue;
        /* REQUIRED on every rank alike (store_open is collective): HDF5 asks for
         * collective opens of objects that will be written */
        s->dset[d] = H5Dopen2(s->file, def->path, H5P_DEFAULT);
        if (s->dset[d] < 0)
            return bps_fail(err, "%s: missing dataset %s (damaged file, or written by another "
                            "bpsweep version)", s->path, def->path);
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
    int64_t w = s->shape.max_epochs > s->shape.max_layers ? s->shape.max_epochs
                                                          : s->shape.max_layers;
    w = s->shape.n_eps > w ? s->shape.n_eps : w;
    s->row = xmalloc((size_t)w * sizeof *s->row);
    int64_t fw = 0;
    for (Dim d = DIM_PARAM; d <= DIM_SPECTRA; d++)
        fw = row_width(&s->shape, d) > fw ? row_width(&s->shape, d) : fw;
    if (fw > 0)
        s->frow = xmalloc((size_t)fw * sizeof *s->frow);
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

    /* Rank 0 first looks at the file read-only: opened for writing, HDF5 would turn an
     * empty file into an HDF5 file, and the serial open explains failures best. */
    int rc = 0;
    if (rank == 0) {
        StoreShape sh;
        hid_t probe = open_readonly(path, &sh, err);
        rc = probe < 0 ? -1 : 0;
        if (probe >= 0 && H5Fclose(probe) < 0)
            rc = h5_fail(err, path, "cannot close");
    }
    if (from_root(s->comm, rc, err) != 0) {
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
    rc = check_format(s->file, path, &s->shape, err);
    if (rc == 0)
        rc = open_row_datasets(s, err);
    if (rc == 0)
        rc = make_row_spaces(s, err);
    if (agree_or_abort(s->comm, rc, err) != 0) {
        store_release(s);
        store_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

/* s->row holding len values of src (NULL: none), NaN-padded to width. */
static const double *double_row(Store *s, const double *src, int len, int64_t width)
{
    for (int64_t i = 0; i < width; i++)
        s->row[i] = src && i < len ? src[i] : (double)NAN;
    return s->row;
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
    if (res->weights && s->frow && (int64_t)res->n_params > s->shape.max_params)
        return bps_fail(err, "%s: point %lld: %zu parameters, the file has room for %lld", s->path,
                        i, res->n_params, (long long)s->shape.max_params);
    return 0;
}

/* s->frow holding n values of src, NaN-padded to the row width of dim. */
static const float *float_row(Store *s, Dim dim, const float *src, size_t n)
{
    if (n)
        memcpy(s->frow, src, n * sizeof *s->frow);
    for (int64_t i = (int64_t)n; i < row_width(&s->shape, dim); i++)
        s->frow[i] = NAN;
    return s->frow;
}

int store_write_row(Store *s, const PointResult *res, const RowInfo *info, BpsErr *err)
{
    assert(s && res && info);
    if (check_row(s, res, err) != 0)
        return -1;
    /* select the row in each row shape's file space, once for all its datasets */
    hsize_t start[2] = {(hsize_t)res->index, 0};
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] < 0)
            continue;
        hsize_t count[2] = {1, (hsize_t)row_width(&s->shape, (Dim)(ROW_DIM0 + k))};
        if (H5Sselect_hyperslab(s->fspace[k], H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            return h5_fail(err, s->path, "cannot select a row");
    }
    int32_t epochs_run = res->epochs_run, diverged_epoch = res->diverged_epoch;
    int32_t rank = info->rank, attempts = info->attempts;
    int64_t n_params = (int64_t)res->n_params;
    uint8_t status = (uint8_t)res->status;
    char host[STORE_HOST_MAX], message[POINT_MESSAGE_MAX];
    copy_fixed(host, sizeof host, info->host);
    copy_fixed(message, sizeof message, res->message);

    int status_def = -1;
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (s->dset[d] < 0)
            continue;
        const void *buf = NULL;
        switch (def->field) {
        case F_STATUS:
            status_def = d; /* written last, below */
            continue;
        case F_METRIC:
            buf = double_row(s, res->metric[def->metric], res->metric_len[def->metric],
                             row_width(&s->shape, def->dim));
            break;
        case F_PARAM_HASH:
            buf = &res->param_hash;
            break;
        case F_EPOCHS_RUN:
            buf = &epochs_run;
            break;
        case F_DIVERGED_EPOCH:
            buf = &diverged_epoch;
            break;
        case F_N_PARAMS:
            buf = &n_params;
            break;
        case F_WALL_SECONDS:
            buf = &res->wall_seconds;
            break;
        case F_RANK:
            buf = &rank;
            break;
        case F_HOST:
            buf = host;
            break;
        case F_ATTEMPTS:
            buf = &attempts;
            break;
        case F_FINISHED:
            buf = &info->finished;
            break;
        case F_MESSAGE:
            buf = message;
            break;
        case F_WEIGHTS:
            buf = float_row(s, DIM_PARAM, res->weights, res->weights ? res->n_params : 0);
            break;
        case F_NTK0:
        case F_NTK1: {
            const float *k = def->field == F_NTK0 ? res->ntk0 : res->ntk1;
            bool fits = k && res->ntk_m == s->shape.ntk_m;
            buf = float_row(s, DIM_NTK, k, fits ? (size_t)row_width(&s->shape, DIM_NTK) : 0);
            break;
        }
        case F_ROBUST_TEST:
        case F_ROBUST_TRAIN:
            buf = double_row(s, def->field == F_ROBUST_TEST ? res->robust_test : res->robust_train,
                             res->n_eps, row_width(&s->shape, def->dim));
            break;
        case F_SPECTRA: /* the point's (L, R) block into the file's (max_layers, max_rank) */
            buf = float_row(s, DIM_SPECTRA, NULL, 0);
            for (int l = 0; res->spectra && l < res->n_layers; l++)
                memcpy(s->frow + (size_t)l * (size_t)s->shape.max_rank,
                       res->spectra + (size_t)l * (size_t)res->spectra_rank,
                       (size_t)res->spectra_rank * sizeof *s->frow);
            break;
        default:
            assert(!"not a row dataset");
            continue;
        }
        int k = (int)def->dim - ROW_DIM0;
        hid_t mtype = def->type == T_STR ? s->str_type[d] : native_type(def->type);
        /* independent transfer (default dxpl): one row, no other rank involved */
        if (H5Dwrite(s->dset[d], mtype, s->mspace[k], s->fspace[k], H5P_DEFAULT, buf) < 0) {
            char what[128];
            snprintf(what, sizeof what, "point %lld: cannot write %s", (long long)res->index,
                     def->path);
            return h5_fail(err, s->path, what);
        }
    }
    bps_fault_point("row");
    /* The status byte last, alone: a row whose status is not pending is complete. */
    assert(status_def >= 0);
    if (H5Dwrite(s->dset[status_def], H5T_NATIVE_UINT8, s->mspace[0], s->fspace[0], H5P_DEFAULT,
                 &status) < 0) {
        char what[128];
        snprintf(what, sizeof what, "point %lld: cannot write /status", (long long)res->index);
        return h5_fail(err, s->path, what);
    }
    return 0;
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

/* ---- reading the table ----------------------------------------------------------------------- */

/* Reads a whole dataset of the layout into buf after checking that it is 1-D of n. */
static int read_column(hid_t file, const char *path, const DatasetDef *def, int64_t n,
                       void *buf, BpsErr *err)
{
    int rc = -1;
    hid_t dset = H5I_INVALID_HID, space = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    dset = H5Dopen2(file, def->path, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        bps_fail(err, "%s: missing dataset %s (damaged file, or written by another bpsweep "
                 "version)", path, def->path);
        goto done;
    }
    space = H5Dget_space(dset);
    hsize_t dims[2] = {0, 0};
    if (space < 0 || H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1 || dims[0] != (hsize_t)n) {
        H5Eclear2(H5E_DEFAULT);
        bps_fail(err, "%s: damaged results file: %s should have %lld rows", path, def->path,
                 (long long)n);
        goto done;
    }
    mtype = def->type == T_STR ? string_type(def->str_size) : H5Tcopy(native_type(def->type));
    if (mtype < 0 || H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        char what[128];
        snprintf(what, sizeof what, "cannot read %s", def->path);
        h5_fail(err, path, what);
        goto done;
    }
    rc = 0;
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return rc;
}

/* Length of a 1-D dataset, or -1. */
static int64_t column_length(hid_t file, const char *name)
{
    int64_t n = -1;
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT), space = H5I_INVALID_HID;
    hsize_t dims[1];
    if (dset >= 0 && (space = H5Dget_space(dset)) >= 0 &&
        H5Sget_simple_extent_ndims(space) == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1)
        n = (int64_t)dims[0];
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    return n;
}

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

/* The array of t that holds a per-point field, allocating it; NULL if t has none. */
static void *table_column(StoreTable *t, const DatasetDef *def)
{
    size_t n = (size_t)t->shape.n_points;
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

/* Reads an axis of names and gives every point its name through idx. */
static int name_points(hid_t file, const char *path, const DatasetDef *def, const int32_t *idx,
                       int64_t n_points, char (*name)[SPEC_NAME_MAX], BpsErr *err)
{
    int64_t n = column_length(file, def->path);
    if (n < 1)
        return bps_fail(err, "%s: missing dataset %s (damaged file)", path, def->path);
    char(*axis)[SPEC_NAME_MAX] = xcalloc((size_t)n, sizeof *axis);
    int rc = read_column(file, path, def, n, axis, err);
    for (int64_t i = 0; rc == 0 && i < n_points; i++) {
        if (idx[i] < 0 || idx[i] >= n) {
            rc = bps_fail(err, "%s: damaged results file: point %lld has index %d into %s", path,
                          (long long)i, (int)idx[i], def->path);
            break;
        }
        memcpy(name[i], axis[idx[i]], sizeof name[i]);
    }
    free(axis);
    return rc;
}

/* Rows of pending points were never written (datasets are not filled): give them
 * defined values instead of whatever the disk held. */
static void clear_pending(StoreTable *t)
{
    for (int64_t i = 0; i < t->shape.n_points; i++) {
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

/* One row of an old dataset (width w_old) widened to w_new and written into row `row`
 * of dset: extra columns NaN for floating types, zero otherwise. */
static int copy_row(hid_t dset, hid_t mtype, const DatasetDef *def, const unsigned char *src,
                    int64_t w_old, int64_t w_new, int64_t row, unsigned char *buf)
{
    size_t es = elem_size(def->type, def->str_size);
    int64_t w = w_old < w_new ? w_old : w_new;
    memcpy(buf, src, (size_t)w * es);
    for (int64_t c = w; c < w_new; c++) {
        if (def->type == T_F64)
            ((double *)(void *)buf)[c] = NAN;
        else if (def->type == T_F32)
            ((float *)(void *)buf)[c] = NAN;
        else
            memset(buf + (size_t)c * es, 0, es);
    }
    hsize_t start[2] = {(hsize_t)row, 0}, count[2] = {1, (hsize_t)w_new};
    int nd = def->dim == DIM_POINT ? 1 : 2;
    hid_t ms = H5Screate_simple(nd, count, NULL), fs = H5Dget_space(dset);
    int rc = -1;
    if (ms >= 0 && fs >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dwrite(dset, mtype, ms, fs, H5P_DEFAULT, buf) >= 0) /* independent */
        rc = 0;
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    return rc;
}

int store_copy_rows(Store *s, const char *from, const int64_t *map, BpsErr *err)
{
    StoreShape old;
    hid_t file = open_readonly(from, &old, err);
    if (file < 0)
        return -1;
    int rc = 0, status_def = -1;
    uint8_t *status = xmalloc((size_t)old.n_points);
    for (int d = 0; d < s->n_defs; d++)
        if (s->defs[d].field == F_STATUS)
            status_def = d;
    assert(status_def >= 0);
    if (read_column(file, from, &s->defs[status_def], old.n_points, status, err) != 0)
        rc = -1;
    /* every row dataset, then the status column last, as store_write_row does */
    for (int pass = 0; pass < 2 && rc == 0; pass++)
        for (int d = 0; d < s->n_defs && rc == 0; d++) {
            const DatasetDef *def = &s->defs[d];
            if (!is_row_field(def->field) || s->dset[d] < 0 || (d == status_def) != (pass == 1))
                continue;
            if (dataset_absent(&old, def))
                continue; /* the old file kept no weights / kernels: NaN rows stay unwritten */
            int64_t w_old = row_width(&old, def->dim), w_new = row_width(&s->shape, def->dim);
            size_t es = elem_size(def->type, def->str_size);
            unsigned char *all = xmalloc((size_t)old.n_points * (size_t)w_old * es);
            unsigned char *buf = xmalloc((size_t)(w_new > w_old ? w_new : w_old) * es);
            hid_t src = H5Dopen2(file, def->path, H5P_DEFAULT);
            hid_t mtype = def->type == T_STR ? string_type(def->str_size)
                                             : H5Tcopy(native_type(def->type));
            if (src < 0 || mtype < 0 || H5Dread(src, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) < 0)
                rc = h5_fail(err, from, "cannot read a dataset to copy");
            for (int64_t i = 0; i < old.n_points && rc == 0; i++)
                if (status[i] != POINT_PENDING && map[i] >= 0 &&
                    copy_row(s->dset[d], mtype, def, all + (size_t)i * (size_t)w_old * es, w_old,
                             w_new, map[i], buf) != 0)
                    rc = h5_fail(err, s->path, "cannot write a copied row");
            if (mtype >= 0)
                H5Tclose(mtype);
            if (src >= 0)
                H5Dclose(src);
            free(all);
            free(buf);
        }
    free(status);
    H5Fclose(file);
    return rc;
}

int store_read_table(const char *path, StoreTable *t, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    memset(t, 0, sizeof *t);
    int rc = -1;
    hid_t file = open_readonly(path, &t->shape, err);
    if (file < 0)
        goto done;
    t->spec_json = read_spec_json(file);
    char *hash = attr_read_string(file, "spec_hash");
    t->created = attr_read_string(file, "created");
    t->bpsweep_version = attr_read_string(file, "bpsweep_version");
    if (hash)
        snprintf(t->spec_hash, sizeof t->spec_hash, "%s", hash);
    free(hash);
    if (!t->spec_json || !t->spec_hash[0]) {
        bps_fail(err, "%s: damaged results file: no /spec_json or spec_hash", path);
        goto done;
    }

    DatasetDef defs[MAX_DEFS];
    int n_defs = layout_defs(defs);
    for (int d = 0; d < n_defs; d++) {
        if (defs[d].dim != DIM_POINT)
            continue;
        void *buf = table_column(t, &defs[d]);
        if (!buf)
            continue;
        if (defs[d].field == F_METRIC && H5Lexists(file, defs[d].path, H5P_DEFAULT) <= 0) {
            /* a metric added after the file was written: not measured */
            H5Eclear2(H5E_DEFAULT);
            for (int64_t i = 0; i < t->shape.n_points; i++)
                t->scalar[defs[d].metric][i] = NAN;
            continue;
        }
        if (read_column(file, path, &defs[d], t->shape.n_points, buf, err) != 0)
            goto done;
    }
    t->arch_name = xcalloc((size_t)t->shape.n_points, sizeof *t->arch_name);
    t->cond_name = xcalloc((size_t)t->shape.n_points, sizeof *t->cond_name);
    for (int d = 0; d < n_defs; d++) {
        if (defs[d].field == F_AXIS_ARCH &&
            name_points(file, path, &defs[d], t->arch, t->shape.n_points, t->arch_name, err))
            goto done;
        if (defs[d].field == F_AXIS_COND &&
            name_points(file, path, &defs[d], t->cond, t->shape.n_points, t->cond_name, err))
            goto done;
    }
    for (int64_t i = 0; i < t->shape.n_points; i++)
        if (t->status[i] > POINT_FAILED) {
            bps_fail(err, "%s: damaged results file: point %lld has status %d", path,
                     (long long)i, t->status[i]);
            goto done;
        }
    clear_pending(t);
    rc = 0;
done:
    if (file >= 0 && H5Fclose(file) < 0 && rc == 0)
        rc = h5_fail(err, path, "cannot close");
    H5Eclear2(H5E_DEFAULT);
    if (rc != 0)
        store_table_free(t);
    return rc;
}

void store_table_free(StoreTable *t)
{
    if (!t)
        return;
    free(t->spec_json);
    free(t->created);
    free(t->bpsweep_version);
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
    fprintf(out, "Root attributes, all scalars (strings fixed-length, sized to the value):\n\n");
    fprintf(out, "| attribute | type | description |\n|---|---|---|\n");
    for (int a = 0; a < N_ATTRS; a++) {
        fprintf(out, "| `%s` | %s |", ATTRS[a].name, elem_name(ATTRS[a].type));
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
