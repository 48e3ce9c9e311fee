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
 *     per-point dataset (its coordinates included), then the row's checksum, then the
 *     status byte.
 *  4. store_close (collective).
 * Readers (status, export, verify, resume) go through one validation path, serially and
 * without MPI: store_reader_open checks the whole file (format, shape, the stored spec
 * parses and matches its hash, every dataset present and shaped) and
 * store_reader_next streams it in chunks of rows, checking every finished row's
 * checksum; store_read_table reads it whole (small files, tests).
 *
 * Parallel HDF5 cannot write variable-length data: every string is fixed-length.
 * Only /status is filled at creation: the other datasets of a row hold whatever the
 * disk held until the row is written, so a row means something only when its status
 * is not pending (store_read_table clears pending rows for its callers).
 *
 * Errors: every function returns 0 or -1 with err naming the file. The collective
 * functions return the same result on every rank (the message of the lowest failing
 * rank, prefixed "rank R: " when not every rank failed); a failure on only some ranks
 * inside a collective HDF5 call (create, open) ends the job with MPI_Abort, as the
 * ranks' HDF5 states can no longer be brought together. HDF5's own error printing is
 * turned off (H5Eset_auto2) by every function here. */
#ifndef BPSWEEP_STORE_H
#define BPSWEEP_STORE_H

#include <mpi.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpsweep/data.h"
#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/util.h"

#define STORE_FORMAT "bpsweep-results"
#define STORE_FORMAT_VERSION 2   /* 2: row checksums and the metrics attribute; 1 is read */
#define STORE_STOPPED 1          /* store_create: stopped by its stop flag */
#define STORE_HOST_MAX 64

/* Sizes of the file's datasets, from the spec and the data set's shape. */
typedef struct {
    int64_t n_points;
    int max_epochs;       /* columns of /curves/<name>: max epochs over conditions (>= 1) */
    int max_layers;       /* columns of /layers/<name>: max dense layers over architectures */
    int64_t max_params;   /* columns of /weights if the spec stores weights, else 0 */
    int64_t ntk_m;        /* M: the NTK is M x M with measure.ntk, else 0 */
    int64_t max_rank;     /* R: most singular values of any layer (0: no /spectra) */
    int64_t n_eps;        /* radii of measure.robustness, else 0 (no /robust) */
} StoreShape;

StoreShape store_shape(const Spec *spec, Shape in, int n_out);

/* Size in bytes of a results file of this shape: the per-point datasets (the axes,
 * the spec JSON and metadata add a few kilobytes). */
size_t store_file_bytes(const StoreShape *shape);

/* Per-row facts that are not measurements of the point. */
typedef struct {
    int rank;                  /* MPI rank that trained the point */
    char host[STORE_HOST_MAX]; /* its host name */
    int attempts;              /* 1 on the first try */
    double finished;           /* Unix time the row was written */
} RowInfo;

typedef struct Store Store;

/* Collective over comm: creates the results file at path (refusing to overwrite an
 * existing file, and refusing when its file system has less free space than
 * store_file_bytes needs), pre-allocates every dataset for shape, writes coordinates
 * and provenance (canonical spec JSON and hash, bpsweep version and commit, OpenBLAS
 * configuration and core type, CPU model of every rank, creation time; with data, the
 * data set's provenance as the data_ attributes), flushes and closes. The coordinates are written in slabs; between slabs the ranks agree on
 * whether *stop (a signal handler's flag; NULL: never) is set, and if it is they
 * remove the unfinished file and return STORE_STOPPED. Rank 0 prints a warning to
 * stderr when ranks report different CPU models. Every rank returns the same result
 * (0, -1 with err, or STORE_STOPPED). spec must be the same on every rank. A file
 * this call created but could not finish is removed. data (NULL: no data_ attributes, as
 * in files of earlier versions) must be the same on every rank. */
int store_create(MPI_Comm comm, const char *path, const Spec *spec, const DataProvenance *data,
                 Shape in, int n_out, const volatile sig_atomic_t *stop, BpsErr *err);

/* Collective over comm: opens an existing results file for writing rows. Rank 0 first
 * checks it read-only (so a file that is not a results file is never opened for
 * writing), then every rank opens it and every per-row dataset once. On success *out
 * is a new Store, freed by store_close; on failure *out is NULL. */
int store_open(MPI_Comm comm, const char *path, Store **out, BpsErr *err);

/* Independent: writes the row of point res->index: its coordinates (again, from the
 * spec stored in the file), every metric of POINT_METRICS (NaN-padded; a NULL metric
 * is all NaN), param hash, epochs run, diverged epoch, n_params, message, the RowInfo,
 * the final weights if the file stores them (an all-NaN row when res->weights is NULL),
 * then the row's checksum (format 2) and last the status byte. Safe to call from
 * any rank for distinct points concurrently; no other rank takes part. Refuses (-1)
 * an index out of range, a status other than done, diverged or failed (a pending point
 * has no row), and a metric or weight vector longer than the file's row. */
int store_write_row(Store *s, const PointResult *res, const RowInfo *info, BpsErr *err);

/* Independent: copies every finished row (status not pending) of the results file
 * `from` into s - row i of `from` to row map[i] of s, none where map[i] < 0 - widening
 * curves, layers and weights with NaN where s has more columns. Each copied row gets
 * the coordinates of its new place and a new checksum, and its status last, as
 * store_write_row writes it. Damaged rows of `from` are not copied (they stay pending).
 * Reads `from` in chunks (bounded memory). (bpsweep extend.) */
int store_copy_rows(Store *s, const char *from, const int64_t *map, BpsErr *err);

/* Collective: closes the file and frees s (accepts NULL; s is invalid afterwards,
 * also when -1 is returned). */
int store_close(Store *s, BpsErr *err);

/* Everything a summary or a tidy table needs, read serially (no MPI needed): the
 * whole file (store_read_table) or one chunk of rows (store_reader_next). */
typedef struct {
    StoreShape shape;
    int format_version;
    int64_t first;              /* point index of the first row held */
    int64_t n_rows;             /* rows held; the per-point arrays have n_rows entries,
                                   entry i - first for point i */
    char *spec_json;            /* canonical spec JSON stored in the file */
    char spec_hash[17];         /* hex */
    char *created;              /* attributes, as stored */
    char *bpsweep_version;
    char *data_files;           /* attribute data_files (NULL: the file predates it) */
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
    int64_t *n_params;
    double *wall_seconds, *finished;
    double *scalar[N_METRICS];  /* the SCALAR metrics; NULL for other kinds */
    uint8_t *damaged;           /* 1: the row is damaged (checksum or status byte does
                                   not match; coordinates out of range): it reads as
                                   pending, status included */
    int64_t n_damaged;          /* damaged rows among those held */
} StoreTable;

typedef struct StoreReader StoreReader;

/* Opens path read-only (sec2 driver, file locking off so that a file a running sweep
 * holds open can be read; no MPI calls) and validates it as a whole: the format and
 * its version, the shape attributes, /spec_json against `spec_hash` and spec_parse,
 * every dataset of the layout present and of its shape, except a metric the file
 * predates (format 1: any missing metric; format 2: a metric not in the file's
 * `metrics` attribute). Every command that opens a results file goes through here,
 * so they agree on what is damaged. On success *out is a new reader (free with
 * store_reader_close); on failure *out is NULL and err names the file and what is
 * wrong. */
int store_reader_open(const char *path, StoreReader **out, BpsErr *err);

/* The stored spec, parsed (owned by r; valid until store_reader_close). */
const Spec *store_reader_spec(const StoreReader *r);

/* Reads the next chunk of rows (at most a few tens of megabytes of the file, at most
 * 65536 rows) into *t, which it frees and refills (zero it before the first call,
 * free it with store_table_free). Returns 1 when rows were read, 0 after the last
 * chunk, -1 with err on a read error. Damaged rows are flagged and read as pending. */
int store_reader_next(StoreReader *r, StoreTable *t, BpsErr *err);

/* Closes the file and frees r; accepts NULL. */
void store_reader_close(StoreReader *r);

/* store_reader_open, then every row into *t, which owns every array (about 1 KB per
 * point: for small files and tests; the commands stream with store_reader_next).
 * Free it with store_table_free, also after an error (then *t is zeroed). Rows of
 * pending points were never written: their run fields read as 0 (rank -1), empty
 * strings and NaN (wall_seconds, finished, metrics); so do damaged rows. A scalar
 * metric the file predates (added to POINT_METRICS later) reads as NaN. Errors name
 * the file: missing, not HDF5, truncated, not a bpsweep results file, a newer format
 * version, a stored spec that does not parse or match its hash, missing or mis-shaped
 * datasets. */
int store_read_table(const char *path, StoreTable *t, BpsErr *err);

/* Frees every array of t and zeroes it; accepts NULL and a zeroed table. */
void store_table_free(StoreTable *t);

/* Prints the layout reference as Markdown (root attributes, then every dataset with
 * type, shape and description, metrics from POINT_METRIC_DEFS). docs/results-format.md
 * holds this output verbatim; tests/unit_store.c checks that it does. */
void store_describe(FILE *out);

#endif
