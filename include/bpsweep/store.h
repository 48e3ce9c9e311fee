/* store: writes the parallel HDF5 results file of a sweep (MPI + HDF5).
 *
 * Life cycle (see docs/results-format.md for the layout):
 *  1. store_create_shaped (collective): every dataset is pre-allocated for the whole
 *     grid (contiguous, native types, no filters, early allocation, no fill values
 *     except /status, which is filled with 0 = pending), the point coordinates and the
 *     provenance attributes are written, the file is flushed collectively and closed.
 *     A job killed after this leaves a file that opens, with every point pending.
 *  2. store_open (collective) reopens it for writing rows; no metadata changes after
 *     this point, so a killed job leaves a readable file.
 *  3. store_write_row (independent, any rank, any order): one point's row in every
 *     per-point dataset (its coordinates included), then the row's checksum, then the
 *     status byte.
 *  4. store_close (collective).
 * Readers (status, export, verify, resume) go through store_reader.h, serially and
 * without MPI; the file's shape and reference are in store_layout.h. This header
 * includes both, so a writer needs only it.
 *
 * Parallel HDF5 cannot write variable-length data: every string is fixed-length.
 * Only /status is filled at creation: the other datasets of a row hold whatever the
 * disk held until the row is written, so a row means something only when its status
 * is not pending (store_read_table clears pending rows for its callers).
 *
 * Errors: every function returns 0 or -1 with err naming the file. The collective
 * functions return the same result on every rank (the message of the lowest failing
 * rank, prefixed "rank R: " when not every rank failed; agree.h); a failure on only
 * some ranks inside a collective HDF5 call (create, open) ends the job with MPI_Abort,
 * as the ranks' HDF5 states can no longer be brought together. HDF5's own error
 * printing is turned off (H5Eset_auto2) by every function here. */
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
#include "bpsweep/store_layout.h"
#include "bpsweep/store_reader.h"
#include "bpsweep/util.h"

#define STORE_STOPPED 1          /* store_create_shaped: stopped by its stop flag */

/* Per-row facts that are not measurements of the point. */
typedef struct {
    int rank;                  /* MPI rank that trained the point */
    char host[STORE_HOST_MAX]; /* its host name */
    int attempts;              /* 1 on the first try */
    double finished;           /* Unix time the row was written */
} RowInfo;

typedef struct Store Store;

/* Collective over comm: creates the results file at path for spec with the datasets
 * sized by *shape (point_store_shape: the same on every rank), refusing to overwrite an
 * existing file, and refusing when its file system has less free space than
 * store_file_bytes needs; pre-allocates every dataset, writes coordinates and
 * provenance (canonical spec JSON and hash, bpsweep version and commit, OpenBLAS
 * configuration and core type, CPU model of every rank, creation time; with data, the
 * data set's provenance as the data_ attributes), flushes and closes. The coordinates
 * are written in slabs; between slabs the ranks agree on whether *stop (a signal
 * handler's flag; NULL: never) is set, and if it is they remove the unfinished file and
 * return STORE_STOPPED. Rank 0 prints a warning to stderr when ranks report different
 * CPU models. Every rank returns the same result (0, -1 with err, or STORE_STOPPED).
 * spec must be the same on every rank. A file this call created but could not finish
 * is removed. data (NULL: no data_ attributes, as in files of earlier versions) must be
 * the same on every rank. */
int store_create_shaped(MPI_Comm comm, const char *path, const Spec *spec,
                        const StoreShape *shape, const DataProvenance *data,
                        const volatile sig_atomic_t *stop, BpsErr *err);

/* Collective over comm: rank 0 validates the results file at path as every reader does
 * (store_reader_open) and every rank gets the spec stored in it, parsed, in *spec (free
 * with spec_free; NULL on failure). Returns the same on every rank: 0, or -1 with rank
 * 0's message. */
int store_read_spec(MPI_Comm comm, const char *path, Spec **spec, BpsErr *err);

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

#endif
