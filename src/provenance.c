/* provenance: the build and the machines of a sweep (see provenance.h). */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/provenance.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bpsweep/util.h"
#include "bpsweep/version.h"

#define PROV_MAX 256 /* bytes of one rank's CPU model / OpenBLAS string */

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
    char local[PROV_MAX] = "";
    snprintf(local, sizeof local, "%s", mine ? mine : "");
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

void provenance_gather(MPI_Comm comm, Provenance *p)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(p, 0, sizeof *p);
    p->version = version_bpsweep();
    p->commit = version_commit();
    char buf[PROV_MAX];
    cpu_model(buf, sizeof buf);
    p->cpu_models = gather_distinct(comm, buf, &p->n_cpu_models);
    p->blas_core = gather_distinct(comm, openblas_get_corename(), NULL);
    p->blas_config = gather_distinct(comm, openblas_get_config(), NULL);
    version_mpi(buf, sizeof buf);
    p->mpi_library = gather_distinct(comm, buf, NULL);
    version_hdf5(buf, sizeof buf);
    p->hdf5_version = gather_distinct(comm, buf, NULL);
    if (rank == 0) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(p->created, sizeof p->created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    MPI_Bcast(p->created, (int)sizeof p->created, MPI_CHAR, 0, comm);
}

void provenance_free(Provenance *p)
{
    if (!p)
        return;
    free(p->blas_config);
    free(p->blas_core);
    free(p->cpu_models);
    free(p->mpi_library);
    free(p->hdf5_version);
    memset(p, 0, sizeof *p);
}
