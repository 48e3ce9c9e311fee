/* store_layout: the results file's datasets and attributes as tables, their sizes, and
 * the layout reference (see store_layout.h and store_internal.h). No HDF5 calls: the
 * writer (store_create.c, store_writer.c) and the reader (store_reader.c) walk these
 * tables with HDF5; docs/results-format.md embeds store_describe's output. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store_layout.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "store_internal.h"

const ElemTypeDef STORE_TYPES[N_ELEM_TYPES] = {
    [T_U8] = {"uint8", 1, false},     [T_I32] = {"int32", 4, false},
    [T_I64] = {"int64", 8, false},    [T_U64] = {"uint64", 8, false},
    [T_F32] = {"float32", 4, true},   [T_F64] = {"float64", 8, true},
    [T_STR] = {"string", 0, false},
};

/* Bytes of one value of d. */
static size_t elem_size(const DatasetDef *d)
{
    return d->type == T_STR ? d->str_size : STORE_TYPES[d->type].size;
}

/* ---- the datasets ----------------------------------------------------------------------- */

#define META(path, type, size, dim, desc)                                                    \
    {path, type, size, dim, ROLE_META, DIM_SCALAR, 0, STORE_NO_COLUMN, -1, desc}
#define COORD(path, type, size, member, axis, desc)                                          \
    {path, type, size, DIM_POINT, ROLE_COORD, axis, offsetof(StoreRow, member),              \
     offsetof(StoreTable, member), -1, desc}
#define VALUE(path, type, size, member, desc)                                                \
    {path, type, size, DIM_POINT, ROLE_VALUE, DIM_SCALAR, offsetof(StoreRow, member),        \
     offsetof(StoreTable, member), -1, desc}
#define VECTOR(path, type, dim, member, desc)                                                \
    {path, type, 0, dim, ROLE_VECTOR, DIM_SCALAR, offsetof(StoreRow, member),                \
     STORE_NO_COLUMN, -1, desc}

/* Every dataset in file order; the metrics of POINT_METRICS follow /status. */
static const DatasetDef LAYOUT[] = {
    META("/spec_json", T_STR, 0, DIM_SCALAR,
         "canonical spec JSON of the sweep (`spec_hash` is its hash); parse it with any JSON "
         "reader or `spec_parse`"),
    META("/axes/architectures", T_STR, SPEC_NAME_MAX, DIM_ARCH,
         "architecture names in spec order (templates expanded to `<name>@w=<w>`)"),
    META("/axes/conditions", T_STR, SPEC_NAME_MAX, DIM_COND,
         "condition names in spec order (`base` when the spec has none)"),
    META("/axes/weight_decay", T_F64, 0, DIM_WD, "weight-decay values in spec order"),
    META("/axes/norm_bias", T_F64, 0, DIM_NB,
         "norm-bias targets in spec order (multiples of the initial squared norm if the spec "
         "says `relative`)"),
    META("/axes/seed", T_I64, 0, DIM_SEED, "seeds in spec order"),
    COORD("/points/key", T_STR, GRID_KEY_MAX, key, DIM_SCALAR,
          "point key `arch=../cond=../wd=../nb=../seed=..`: its identity across specs"),
    COORD("/points/arch", T_I32, 0, arch, DIM_ARCH, "index into `/axes/architectures`"),
    COORD("/points/cond", T_I32, 0, cond, DIM_COND, "index into `/axes/conditions`"),
    COORD("/points/nb", T_I32, 0, nb, DIM_NB, "index into `/axes/norm_bias`"),
    COORD("/points/wd", T_I32, 0, wd, DIM_WD, "index into `/axes/weight_decay`"),
    COORD("/points/seed_index", T_I32, 0, seed_index, DIM_SEED, "index into `/axes/seed`"),
    COORD("/points/weight_decay", T_F64, 0, weight_decay, DIM_SCALAR,
          "the point's weight decay"),
    COORD("/points/norm_bias", T_F64, 0, norm_bias, DIM_SCALAR, "the point's norm-bias target"),
    COORD("/points/seed", T_I64, 0, seed, DIM_SCALAR, "the point's seed"),
    {"/status", T_U8, 0, DIM_POINT, ROLE_STATUS, DIM_SCALAR, offsetof(StoreRow, status),
     offsetof(StoreTable, status), -1,
     "0 pending, 1 done, 2 diverged, 3 failed; fill value 0; written last in a row"},
    VALUE("/run/param_hash", T_U64, 0, param_hash,
          "FNV-1a hash of the final parameter and batch-norm buffer bytes (bit-identity "
          "check)"),
    VALUE("/run/epochs_run", T_I32, 0, epochs_run, "epochs completed"),
    VALUE("/run/diverged_epoch", T_I32, 0, diverged_epoch,
          "1-based epoch in which the run diverged; 0 if it did not"),
    VALUE("/run/n_params", T_I64, 0, n_params, "parameters of the net"),
    VALUE("/run/wall_seconds", T_F64, 0, wall_seconds,
          "training and measurement time of the last attempt"),
    VALUE("/run/rank", T_I32, 0, rank, "MPI rank that trained the point"),
    VALUE("/run/host", T_STR, STORE_HOST_MAX, host, "host name of that rank"),
    VALUE("/run/attempts", T_I32, 0, attempts, "attempts made (1 on the first try)"),
    VALUE("/run/finished", T_F64, 0, finished, "Unix time the row was written"),
    VALUE("/run/message", T_STR, POINT_MESSAGE_MAX, message,
          "why a point failed; empty otherwise"),
    {"/run/checksum", T_U64, 0, DIM_POINT, ROLE_CHECKSUM, DIM_SCALAR, offsetof(StoreRow, checksum),
     STORE_NO_COLUMN, -1,
     "FNV-1a 64-bit hash of the row (see [row checksums](#row-checksums)); written just "
     "before `/status`; format 2"},
    VECTOR("/weights", T_F32, DIM_PARAM, weights,
           "final parameters in the net's parameter order (op by op: dense W (O, I) then b; "
           "conv W (O, C, k, k) then b; batch norm gamma, beta), NaN-padded; only with "
           "`output.store_weights`. Batch-norm running statistics are not stored: they are "
           "in the trainer state (docs/trainer-state.md), and evaluation-mode outputs of a "
           "batch-norm net need them"),
    VECTOR("/ntk/K0", T_F32, DIM_NTK, ntk0,
           "empirical NTK at initialisation, M x M row-major (row i*K + l: sample i, logit l; "
           "reshape to (M, M)); only with `measure.ntk`; NaN where not measured"),
    VECTOR("/ntk/K1", T_F32, DIM_NTK, ntk1, "empirical NTK after training, as `/ntk/K0`"),
    VECTOR("/spectra", T_F32, DIM_SPECTRA, spectra,
           "singular values of each layer after training, descending: of a dense layer's "
           "weight matrix, of a convolution's operator on its input (the largest 1024; "
           "docs/metrics.md); layer l in columns [l*R, (l+1)*R) (reshape to (L, R)), "
           "NaN-padded"),
    VECTOR("/robust/test_acc", T_F64, DIM_EPS, robust_test,
           "accuracy under PGD on the first `test_samples` test samples, one column per "
           "radius of `measure.robustness.eps` (spec order); only with `measure.robustness`"),
    VECTOR("/robust/train_acc", T_F64, DIM_EPS, robust_train,
           "the same on the first `train_samples` training samples (NaN if 0)"),
};
#define N_LAYOUT ((int)(sizeof LAYOUT / sizeof LAYOUT[0]))
_Static_assert(sizeof LAYOUT / sizeof LAYOUT[0] + N_METRICS == STORE_MAX_DEFS,
               "STORE_MAX_DEFS counts the layout's datasets and the metrics'");

static const char *const KIND_GROUP[] = {"metrics", "curves", "layers"};
static const Dim KIND_DIM[] = {DIM_POINT, DIM_EPOCH, DIM_LAYER};

int store_layout_defs(DatasetDef *defs)
{
    int n = 0;
    for (int i = 0; i < N_LAYOUT; i++) {
        defs[n++] = LAYOUT[i];
        if (LAYOUT[i].role != ROLE_STATUS)
            continue;
        for (int kind = METRIC_SCALAR; kind <= METRIC_LAYER; kind++)
            for (int m = 0; m < N_METRICS; m++) {
                if ((int)POINT_METRIC_DEFS[m].kind != kind)
                    continue;
                DatasetDef *d = &defs[n++];
                memset(d, 0, sizeof *d);
                int len = snprintf(d->path, sizeof d->path, "/%s/%s", KIND_GROUP[kind],
                                   POINT_METRIC_DEFS[m].name);
                assert(len > 0 && (size_t)len < sizeof d->path);
                (void)len;
                d->type = T_F64;
                d->dim = KIND_DIM[kind];
                d->role = ROLE_VECTOR;
                d->axis = DIM_SCALAR;
                d->row = offsetof(StoreRow, metric) + (size_t)m * sizeof(StoreVector);
                d->column = kind == METRIC_SCALAR
                                ? offsetof(StoreTable, scalar) + (size_t)m * sizeof(double *)
                                : STORE_NO_COLUMN;
                d->metric = m;
                d->desc = POINT_METRIC_DEFS[m].description;
            }
    }
    assert(n == STORE_MAX_DEFS);
    return n;
}

Dim store_metric_dim(MetricKind kind)
{
    return KIND_DIM[kind];
}

/* ---- rows ------------------------------------------------------------------------------- */

StoreVector store_vector(const void *values, int64_t len)
{
    return (StoreVector){values, len, 1, 0};
}

void store_copy_fixed(char *dst, size_t n, const char *src)
{
    memset(dst, 0, n);
    if (src) {
        size_t len = strnlen(src, n - 1);
        memcpy(dst, src, len);
    }
}

void store_row_coords(const Spec *spec, int64_t index, StoreRow *row)
{
    memset(row, 0, sizeof *row);
    GridPoint p = grid_point(spec, index);
    grid_key(spec, p, row->key, sizeof row->key);
    row->arch = p.arch, row->cond = p.cond, row->nb = p.nb, row->wd = p.wd;
    row->seed_index = p.seed;
    row->weight_decay = spec->weight_decay[p.wd];
    row->norm_bias = spec->norm_bias[p.nb];
    row->seed = (int64_t)spec->seed[p.seed];
}

int64_t store_row_width(const StoreShape *sh, Dim d)
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

int64_t store_axis_length(const Spec *spec, Dim d)
{
    switch (d) {
    case DIM_ARCH:
        return spec->n_arch;
    case DIM_COND:
        return spec->n_cond;
    case DIM_WD:
        return spec->n_wd;
    case DIM_NB:
        return spec->n_nb;
    case DIM_SEED:
        return spec->n_seed;
    default:
        return 1;
    }
}

size_t store_row_bytes(const DatasetDef *d, const StoreShape *sh)
{
    return (size_t)store_row_width(sh, d->dim) * elem_size(d);
}

void store_row_pad(const DatasetDef *d, unsigned char *dst, int64_t from, int64_t to)
{
    size_t es = elem_size(d);
    for (int64_t c = from; c < to; c++) {
        if (d->type == T_F64)
            ((double *)(void *)dst)[c] = NAN;
        else if (d->type == T_F32)
            ((float *)(void *)dst)[c] = NAN;
        else
            memset(dst + (size_t)c * es, 0, es);
    }
}

void store_row_put(const DatasetDef *d, const StoreShape *sh, const StoreRow *row,
                   unsigned char *dst)
{
    const unsigned char *src = (const unsigned char *)row + d->row;
    size_t es = elem_size(d);
    if (d->role != ROLE_VECTOR) {
        memcpy(dst, src, es);
        return;
    }
    StoreVector v;
    memcpy(&v, src, sizeof v);
    int64_t width = store_row_width(sh, d->dim);
    if (!v.values || v.blocks <= 1) { /* one block: the values, then the padding */
        int64_t n = !v.values || v.len < 0 ? 0 : v.len < width ? v.len : width;
        if (n > 0)
            memcpy(dst, v.values, (size_t)n * es);
        store_row_pad(d, dst, n, width);
        return;
    }
    store_row_pad(d, dst, 0, width);
    for (int64_t b = 0; b < v.blocks; b++) {
        int64_t at = b * v.stride;
        int64_t n = v.len < width - at ? v.len : width - at;
        if (n > 0)
            memcpy(dst + (size_t)at * es, (const unsigned char *)v.values + (size_t)(b * v.len) * es,
                   (size_t)n * es);
    }
}

/* ---- what a file holds -------------------------------------------------------------------- */

bool store_file_has(const FileLayout *fl, const DatasetDef *d)
{
    if (d->dim > DIM_POINT && store_row_width(&fl->shape, d->dim) == 0)
        return false;
    if (d->role == ROLE_CHECKSUM)
        return fl->version >= 2;
    if (d->metric >= 0)
        return fl->has_metric[d->metric];
    return true;
}

size_t store_file_bytes(const StoreShape *shape)
{
    DatasetDef defs[STORE_MAX_DEFS];
    int n = store_layout_defs(defs);
    size_t bytes = 0;
    for (int i = 0; i < n; i++)
        if (defs[i].dim >= DIM_POINT)
            bytes += (size_t)shape->n_points * store_row_bytes(&defs[i], shape);
    return bytes;
}

char *store_metric_list(void)
{
    size_t cap = 1;
    for (int m = 0; m < N_METRICS; m++)
        cap += strlen(POINT_METRIC_DEFS[m].name) + 1;
    char *list = xmalloc(cap);
    size_t len = 0;
    list[0] = '\0';
    for (int m = 0; m < N_METRICS; m++)
        len += (size_t)snprintf(list + len, cap - len, "%s%s", m ? "," : "",
                                POINT_METRIC_DEFS[m].name);
    return list;
}

bool store_metric_listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return true;
        if (!p[n])
            break;
        p += n + 1;
    }
    return false;
}

/* ---- the root attributes ------------------------------------------------------------------ */

const AttrDef STORE_ATTRS[N_ATTRS] = {
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
    [A_MPI_LIBRARY] = {"mpi_library", T_STR,
                       "the MPI it was built with and the library every rank runs "
                       "(`bpsweep --version`'s MPI line), distinct values joined by `; `"},
    [A_HDF5_VERSION] = {"hdf5_version", T_STR,
                        "the HDF5 it was built with and runs (`bpsweep --version`'s HDF5 "
                        "line), distinct values over the ranks joined by `; `"},
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
    [A_DATA_TRAIN] = {"data_train_samples", T_I64,
                      "training samples (after `train_subset`), the `data.validation` samples "
                      "held out of training included"},
    [A_DATA_TEST] = {"data_test_samples", T_I64, "test samples (after `test_subset`)"},
    [A_DATA_NORM] = {"data_normalization", T_STR,
                     "normalisation applied: `none`, `unit`, `standardize` or `per_channel` "
                     "(synthetic data: `none`)"},
    [A_DATA_MEAN] = {"data_mean", T_F64,
                     "training-set mean of x/255 (x/1 for float HDF5 data; validation samples "
                     "left out) subtracted by the normalisation: one value for `standardize`, one per channel for "
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
        fprintf(out, "| `%s` | %s%s |", STORE_ATTRS[a].name, STORE_TYPES[STORE_ATTRS[a].type].name,
                STORE_ATTRS[a].shape ? STORE_ATTRS[a].shape : "");
        describe_cell(out, STORE_ATTRS[a].desc);
        fputc('\n', out);
    }
    fprintf(out, "\nDatasets. N = `n_points`, E = `max_epochs`, L = `max_layers`, "
                 "P = `max_params`,\nM = `ntk_size`, R = `max_rank`, n_eps = `robust_eps`; `string[n]` is a fixed-length string of n bytes, "
                 "NUL-terminated. Rows of [N, E], [N, L]\nand [N, P] datasets are NaN-padded "
                 "beyond the point's epochs, layers or parameters.\n\n");
    fprintf(out, "| dataset | type | shape | description |\n|---|---|---|---|\n");
    DatasetDef defs[STORE_MAX_DEFS];
    int n = store_layout_defs(defs);
    for (int d = 0; d < n; d++) {
        char type[32];
        if (defs[d].type == T_STR && defs[d].str_size)
            snprintf(type, sizeof type, "string[%zu]", defs[d].str_size);
        else
            snprintf(type, sizeof type, "%s", STORE_TYPES[defs[d].type].name);
        fprintf(out, "| `%s` | %s | %s |", defs[d].path, type, DIM_TEXT[defs[d].dim]);
        describe_cell(out, defs[d].desc);
        fputc('\n', out);
    }
}
