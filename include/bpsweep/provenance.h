/* provenance: what made a results file - the bpsweep build, the OpenBLAS build and
 * kernel set, the MPI and HDF5 libraries (the lines of `bpsweep --version`), and the CPU
 * model of every rank - gathered over the ranks of a sweep, so
 * that the file says on which machines its numbers were computed (bit-identity holds
 * per machine type). The results-file writer stores it as root attributes. */
#ifndef BPSWEEP_PROVENANCE_H
#define BPSWEEP_PROVENANCE_H

#include <mpi.h>

typedef struct {
    const char *version;        /* bpsweep version (static) */
    const char *commit;         /* its git commit at build time, "-dirty" if changed (static) */
    char *blas_config;          /* openblas_get_config() of every rank, distinct values in */
    char *blas_core;            /* rank order joined by "; "; so is openblas_get_corename() */
    char *cpu_models;           /* and the "model name" of /proc/cpuinfo ("unknown"), */
    char *mpi_library;          /* version_mpi() (built with, running), */
    char *hdf5_version;         /* version_hdf5() */
    int n_cpu_models;           /* distinct CPU models */
    char created[32];           /* rank 0's clock, ISO 8601 UTC */
} Provenance;

/* Collective over comm: fills *p alike on every rank. Free with provenance_free. */
void provenance_gather(MPI_Comm comm, Provenance *p);

/* Frees the strings of p (accepts NULL) and zeroes it. */
void provenance_free(Provenance *p);

#endif
