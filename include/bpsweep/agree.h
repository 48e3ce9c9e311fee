/* agree: how the ranks of a communicator reach one verdict before they take a
 * collective path (STYLE rule 13). Each function is collective over comm: every rank
 * calls it, and every rank gets the same result and the same message in err.
 *
 *   agree_all       each rank tried something; the job goes on only if all succeeded
 *   agree_root      rank 0 checked something for all (one look at the file system)
 *   agree_or_abort  as agree_all, after a step that leaves the ranks' library states
 *                   (HDF5) apart when only some failed: that ends the job
 *   agree_root_string  rank 0's string on every rank
 *
 * Used by the results-file writer and the scheduler. */
#ifndef BPSWEEP_AGREE_H
#define BPSWEEP_AGREE_H

#include <mpi.h>

#include "bpsweep/util.h"

/* Combines every rank's rc (0: success). Returns 0 when all succeeded; otherwise -1 on
 * every rank, with err (may be NULL) holding the message of the lowest failing rank,
 * prefixed "rank R: " when not every rank failed. *n_failed (may be NULL) gets the
 * number of failing ranks. */
int agree_all(MPI_Comm comm, int rc, BpsErr *err, int *n_failed);

/* Rank 0's rc, and its message when rc != 0, on every rank (the other ranks' rc and err
 * are ignored). Returns 0 or -1. */
int agree_root(MPI_Comm comm, int rc, BpsErr *err);

/* agree_all for a step after which every rank must hold the same library state (a
 * collective HDF5 create or open): a failure on some ranks only cannot be undone
 * collectively, so it prints the message to stderr and ends the job with MPI_Abort.
 * Returns 0, or -1 on every rank when every rank failed. */
int agree_or_abort(MPI_Comm comm, int rc, BpsErr *err);

/* Rank 0's NUL-terminated string s (read on rank 0 only; may be NULL elsewhere) as a
 * new string on every rank (caller frees, rank 0 included). */
char *agree_root_string(MPI_Comm comm, const char *s);

#endif
