/* export: a results file as a tidy CSV table, one row per grid point.
 *
 * Columns, in this order:
 *   index, key, arch, cond, weight_decay, norm_bias, seed, status, attempts,
 *   epochs_run, diverged_epoch, param_hash, wall_seconds, rank, host,
 *   then every SCALAR metric of POINT_METRICS under its table name.
 * status is its name (pending, done, diverged, failed); param_hash is 16 hex digits;
 * numbers are printed with %.17g (exact round trip), NaN as "nan", infinities as
 * "inf" / "-inf" (pandas and numpy read all three). The result columns of a pending
 * point (attempts .. host and the metrics) are empty: its row was never written.
 * Fields with a comma, quote or line break are quoted per RFC 4180. */
#ifndef BPSWEEP_EXPORT_H
#define BPSWEEP_EXPORT_H

#include "bpsweep/util.h"

/* Reads h5_path in chunks with store_reader_next (serial, no MPI: export needs neither
 * mpi.h nor hdf5.h, see store_reader.h) and writes the CSV to csv_path
 * atomically (temporary file beside it, fsync, rename), or to stdout if csv_path is
 * "-". Returns 0, or -1 with err naming the file that failed. */
int export_csv(const char *h5_path, const char *csv_path, BpsErr *err);

#endif
