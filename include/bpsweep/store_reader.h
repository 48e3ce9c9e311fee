/* store_reader: reads a results file serially, without MPI (status, export, verify,
 * resume, extend and the tests). Every command that opens a results file goes through
 * store_reader_open, so they agree on what is damaged; the layout is in
 * docs/results-format.md.
 *
 * This header includes neither mpi.h nor hdf5.h (the reader is an opaque handle), so
 * read-only callers such as export.c compile with the project's include/ and the C
 * library alone (the ctest test reader_without_mpi checks it). Only src/store_reader.c
 * and the other store sources include hdf5.h. */
#ifndef BPSWEEP_STORE_READER_H
#define BPSWEEP_STORE_READER_H

#include <stdbool.h>
#include <stdint.h>

#include "bpsweep/grid.h"
#include "bpsweep/point.h"
#include "bpsweep/spec.h"
#include "bpsweep/store_layout.h"
#include "bpsweep/util.h"

/* Everything a summary or a tidy table needs: the whole file (store_read_table) or one
 * chunk of rows (store_reader_next). */
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

#endif
