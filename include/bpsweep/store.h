/* store: the parallel HDF5 results file of a sweep.
 *
 * Life cycle (see docs/results-format.md for the layout):
 *  1. store_create (collective): every dataset is pre-allocated for the whole grid
 *     (contiguous, native types, no filters, early allocation, no fill values except
 *     /status, which is filled with 0 = pending), the point coordinates and the
 *     provenance attributes are written, the file is flushed collectively and closed.
 *     A job killed after this leaves a file that opens, with every point pending.
 *  2. store_open (collective) reopens it for writing rows; no metadata changes after
 *     this point, so a killed job leaves a readable file.
 *  3. store_write_row (independent, any rank, any order): one point's row in every
 *     dataset, the status byte last.
 *  4. store_close (collective).
 * Readers (status, export, resume) use store_read_table, serially, without MPI.
 *
 * Parallel HDF5 cannot write variable-length data: every string is fixed-length. */
#ifndef BPSWEEP_STORE_H
#define BPSWEEP_STORE_H

#include <mpi.h>
#include <stdbool.h>
#include <stdint.h>

#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/util.h"

#define STORE_FORMAT "bpsweep-results"
#define STORE_FORMAT_VERSION 1
#define STORE_HOST_MAX 64

/* Sizes of the file's datasets, from the spec and the data set's shape. */
typedef struct {
    int64_t n_points;
    int max_epochs;       /* columns of /curves/*: max epochs over conditions (>= 1) */
    int max_layers;       /* columns of /layers/*: max dense layers over architectures */
    int64_t max_params;   /* columns of /weights if the spec stores weights, else 0 */
} StoreShape;

StoreShape store_shape(const Spec *spec, int n_in, int n_out);

/* Per-row facts that are not measurements of the point. */
typedef struct {
    int rank;                  /* MPI rank that trained the point */
    char host[STORE_HOST_MAX]; /* its host name */
    int attempts;              /* 1 on the first try */
    double finished;           /* Unix time the row was written */
} RowInfo;

typedef struct Store Store;

/* Collective over comm: creates the results file at path (refusing to overwrite an
 * existing file), pre-allocates every dataset for shape, writes coordinates and
 * provenance (canonical spec JSON and hash, bpsweep version and commit, OpenBLAS
 * configuration and core type, CPU model of every rank, creation time), flushes and
 * closes. Rank 0 prints a warning to stderr when ranks report different CPU models.
 * Every rank returns the same result. */
int store_create(MPI_Comm comm, const char *path, const Spec *spec, int n_in, int n_out,
                 BpsErr *err);

/* Collective over comm: opens an existing results file for writing rows. *out is
 * freed by store_close. */
int store_open(MPI_Comm comm, const char *path, Store **out, BpsErr *err);

/* Independent: writes the row of point res->index: every metric of POINT_METRICS
 * (NaN-padded), param hash, epochs run, diverged epoch, message, the RowInfo, the
 * final weights if the file stores them and res->weights is set, and last the
 * status byte. Safe to call from any rank for distinct points concurrently. */
int store_write_row(Store *s, const PointResult *res, const RowInfo *info, BpsErr *err);

/* Collective: closes the file and frees s (accepts NULL). */
int store_close(Store *s, BpsErr *err);

/* Everything a summary or a tidy table needs, read serially (no MPI needed). */
typedef struct {
    StoreShape shape;
    char *spec_json;            /* canonical spec JSON stored in the file */
    char spec_hash[17];         /* hex */
    char *created;              /* attributes, as stored */
    char *bpsweep_version;
    /* per point (n_points each) */
    char (*key)[GRID_KEY_MAX];
    int32_t *arch, *cond, *nb, *wd, *seed_index;   /* axis indices */
    char (*arch_name)[SPEC_NAME_MAX];
    char (*cond_name)[SPEC_NAME_MAX];
    double *weight_decay, *norm_bias;
    int64_t *seed;
    uint8_t *status;            /* PointStatus */
    int32_t *attempts, *rank, *epochs_run, *diverged_epoch;
    char (*host)[STORE_HOST_MAX];
    char (*message)[POINT_MESSAGE_MAX];
    uint64_t *param_hash;
    double *wall_seconds, *finished;
    double *scalar[N_METRICS];  /* the SCALAR metrics; NULL for other kinds */
} StoreTable;

/* Opens path read-only and reads the table. Errors name the file: not HDF5, not a
 * bpsweep results file, a newer format version, missing datasets. */
int store_read_table(const char *path, StoreTable *t, BpsErr *err);
void store_table_free(StoreTable *t);

#endif
