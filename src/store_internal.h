/* What the results file's sources share: the layout table and the row record
 * (store_layout.c), and the reader's rows for the writer's copy (store_reader.c).
 * Not a public header; no HDF5 here (the HDF5 side is store_hdf5.h).
 *
 * One table drives the file: every dataset is a DatasetDef - its path, element type,
 * shape, role, and where its values are: `row`, the offset of its value (or its
 * StoreVector) in the StoreRow a writer fills, and `column`, the offset of its column
 * in a StoreTable. Creating the file, writing and copying rows, reading and checking
 * them, store_file_bytes and store_describe all walk the table; none of them names a
 * dataset, so the file, its readers and its documentation cannot disagree.
 *
 * Dimension letters: N points (n_points), E max_epochs, L max_layers, P max_params,
 * M ntk_size, R max_rank, n_eps robust_eps. */
#ifndef BPSWEEP_STORE_INTERNAL_H
#define BPSWEEP_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/store_layout.h"
#include "bpsweep/store_reader.h"

#define STORE_PATH_MAX 64  /* longest dataset path, e.g. "/metrics/<name>" */
#define STORE_NO_COLUMN ((size_t)-1)

/* The kinds of value a dataset holds. STORE_TYPES says how big one is, how it is
 * named and what pads a row; store_h5_type (store_hdf5.c) is its HDF5 type. */
typedef enum { T_U8, T_I32, T_I64, T_U64, T_F32, T_F64, T_STR, N_ELEM_TYPES } ElemType;

typedef struct {
    const char *name;   /* in the layout reference */
    size_t size;        /* bytes of one value (T_STR: the dataset's str_size) */
    bool nan_fill;      /* rows are padded with NaN (floating types), else with zeros */
} ElemTypeDef;

extern const ElemTypeDef STORE_TYPES[N_ELEM_TYPES];

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

/* What a dataset is to the code that writes and reads it. */
typedef enum {
    ROLE_META,     /* not per point: /spec_json and the axes (written once at creation) */
    ROLE_COORD,    /* the datasets of /points: a point's coordinates, written at
                      creation and with every row; a damaged row's come from the spec */
    ROLE_STATUS,   /* /status: filled with pending, written last in a row */
    ROLE_CHECKSUM, /* /run/checksum: written just before the status (format 2) */
    ROLE_VALUE,    /* one value per point, at `row` in the StoreRow */
    ROLE_VECTOR,   /* a row of values, from the StoreVector at `row`, padded */
} DatasetRole;

typedef struct {
    char path[STORE_PATH_MAX];
    ElemType type;
    size_t str_size;   /* T_STR: bytes of the fixed-length string; 0 = sized to the value */
    Dim dim;
    DatasetRole role;
    Dim axis;          /* ROLE_COORD indices: the axis they index (DIM_ARCH ..), else
                          DIM_SCALAR */
    size_t row;        /* per-point datasets: offset of the value, or of the StoreVector
                          (ROLE_VECTOR), in StoreRow */
    size_t column;     /* offset of its column (a pointer) in StoreTable, or
                          STORE_NO_COLUMN */
    int metric;        /* the MetricId of a metric's dataset, else -1 */
    const char *desc;
} DatasetDef;

#define STORE_MAX_DEFS (33 + N_METRICS) /* the layout's datasets and the metrics' */

/* Fills defs (STORE_MAX_DEFS entries) with the whole layout in file order - the
 * metrics of POINT_METRICS follow /status - and returns the count. */
int store_layout_defs(DatasetDef *defs);

/* The values of one dataset's row: `blocks` blocks of `len` values of the dataset's
 * type, block b from values + b * len into columns [b * stride, b * stride + len); the
 * rest of the row is padding. values NULL: padding alone. */
typedef struct {
    const void *values;
    int64_t len, blocks, stride;
} StoreVector;

/* One row of every per-point dataset, as a writer assembles it (zero it first: the
 * string fields are written with their NUL padding). Member names are those of
 * StoreTable's columns. */
typedef struct {
    char key[GRID_KEY_MAX];
    int32_t arch, cond, nb, wd, seed_index;
    double weight_decay, norm_bias;
    int64_t seed;
    uint8_t status;
    uint64_t param_hash;
    int32_t epochs_run, diverged_epoch;
    int64_t n_params;
    double wall_seconds;
    int32_t rank;
    char host[STORE_HOST_MAX];
    int32_t attempts;
    double finished;
    char message[POINT_MESSAGE_MAX];
    uint64_t checksum;
    StoreVector metric[N_METRICS];
    StoreVector weights, ntk0, ntk1, spectra, robust_test, robust_train;
} StoreRow;

/* A StoreVector of len values in one block. */
StoreVector store_vector(const void *values, int64_t len);

/* Zeroes row and sets the coordinates of point `index` of spec. */
void store_row_coords(const Spec *spec, int64_t index, StoreRow *row);

/* Bytes of one row of per-point dataset d (store_row_width values). */
size_t store_row_bytes(const DatasetDef *d, const StoreShape *sh);

/* Dataset d's row of row into dst (store_row_bytes): its value, or its vector padded. */
void store_row_put(const DatasetDef *d, const StoreShape *sh, const StoreRow *row,
                   unsigned char *dst);

/* Pads columns [from, to) of a row of d at dst (NaN for floating types, else zeros). */
void store_row_pad(const DatasetDef *d, unsigned char *dst, int64_t from, int64_t to);

/* Columns of one row of a per-point shape (1 for [N]). */
int64_t store_row_width(const StoreShape *sh, Dim d);

/* Values of an axis of spec (DIM_ARCH .. DIM_SEED). */
int64_t store_axis_length(const Spec *spec, Dim d);

/* The dimension of a metric kind's datasets. */
Dim store_metric_dim(MetricKind kind);

/* What one file holds beyond its shape: the format version, and which metrics it has
 * (a file keeps the metrics of the bpsweep that created it). */
typedef struct {
    StoreShape shape;
    int version;
    bool has_metric[N_METRICS];
} FileLayout;

/* Whether per-point dataset d is in a file of this layout: not of width 0 (no weights
 * kept, no NTK measured), the checksum from format 2 on, a metric the file has. */
bool store_file_has(const FileLayout *fl, const DatasetDef *d);

/* The `metrics` attribute: every metric's name, comma-separated (caller frees). */
char *store_metric_list(void);

/* Whether the comma-separated list names metric `name`. */
bool store_metric_listed(const char *list, const char *name);

/* Copies src into a zeroed fixed-length field of n bytes, always NUL-terminated. */
void store_copy_fixed(char *dst, size_t n, const char *src);

/* Root attributes. */
typedef enum {
    A_FORMAT, A_FORMAT_VERSION, A_SPEC_HASH, A_VERSION, A_COMMIT, A_BLAS_CONFIG, A_BLAS_CORE,
    A_MPI_LIBRARY, A_HDF5_VERSION, A_CPU_MODELS, A_CREATED, A_N_POINTS, A_MAX_EPOCHS, A_MAX_LAYERS, A_MAX_PARAMS, A_NTK_SIZE,
    A_MAX_RANK, A_ROBUST_EPS, A_METRICS,
    /* the data set's provenance (A_DATA_FIRST on): absent when created without it */
    A_DATA_SOURCE, A_DATA_DIR, A_DATA_SHAPE, A_DATA_TRAIN, A_DATA_TEST, A_DATA_NORM,
    A_DATA_MEAN, A_DATA_STD, A_DATA_CHECKSUM, A_DATA_FILES, N_ATTRS
} AttrId;
#define A_DATA_FIRST A_DATA_SOURCE
#define STORE_MAX_STATS 4096 /* most values of data_mean / data_std (8 bytes each: an
                                attribute stays well under HDF5's 64 KiB header message) */

typedef struct {
    const char *name;
    ElemType type;
    const char *desc;
    const char *shape; /* NULL: a scalar */
} AttrDef;

extern const AttrDef STORE_ATTRS[N_ATTRS];

/* The reader's current chunk, for the writer's copy of rows (store_copy_rows): row i
 * of the chunk of dataset d (an index of store_layout_defs), or NULL if the file has no
 * such dataset. */
const unsigned char *store_reader_row(const StoreReader *r, int d, int64_t i);
const StoreShape *store_reader_shape(const StoreReader *r);

#endif
