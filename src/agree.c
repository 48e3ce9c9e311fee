/* agree: one verdict for all ranks (see agree.h). */
#include "bpsweep/agree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The message of rank `from` into err on every rank. */
static void bcast_message(MPI_Comm comm, int from, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    char msg[BPS_ERR_MAX];
    if (rank == from)
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "error");
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, from, comm);
    if (err)
        snprintf(err->msg, sizeof err->msg, "%s", msg);
}

int agree_all(MPI_Comm comm, int rc, BpsErr *err, int *n_failed)
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
    bcast_message(comm, lowest, err);
    if (err && count < size)
        bps_err_prefix(err, "rank %d", lowest);
    return -1;
}

int agree_root(MPI_Comm comm, int rc, BpsErr *err)
{
    MPI_Bcast(&rc, 1, MPI_INT, 0, comm);
    if (rc == 0)
        return 0;
    bcast_message(comm, 0, err);
    return -1;
}

int agree_or_abort(MPI_Comm comm, int rc, BpsErr *err)
{
    int size, n_failed;
    MPI_Comm_size(comm, &size);
    if (agree_all(comm, rc, err, &n_failed) == 0)
        return 0;
    if (n_failed < size) {
        fprintf(stderr, "bpsweep: %s (inside a collective HDF5 operation; aborting)\n",
                err ? err->msg : "error");
        MPI_Abort(comm, BPS_EXIT_ERROR);
    }
    return -1;
}

char *agree_root_string(MPI_Comm comm, const char *s)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    long long len = rank == 0 ? (long long)strlen(s) : 0;
    MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, comm);
    char *out = rank == 0 ? xstrdup(s) : xmalloc((size_t)len + 1);
    MPI_Bcast(out, (int)len + 1, MPI_CHAR, 0, comm);
    return out;
}
