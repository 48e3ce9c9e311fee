/* version: what this binary is and what it was built with - its version and commit, and
 * the versions of MPI, HDF5, OpenBLAS, FFTW, cJSON and zlib at build time and at run time.
 * `bpsweep --version` prints it; the results file records the same strings (store). */
#ifndef BPSWEEP_VERSION_H
#define BPSWEEP_VERSION_H

#include <stddef.h>
#include <stdio.h>

/* "0.1.0" and the git commit at build time ("-dirty" if tracked files differed). */
const char *version_bpsweep(void);
const char *version_commit(void);

/* One line each, into buf (n bytes, truncated): "built with X, running Y" where the two
 * can differ (shared libraries), else the one version. MPI: callable before MPI_Init. */
void version_mpi(char *buf, size_t n);
void version_hdf5(char *buf, size_t n);
void version_openblas(char *buf, size_t n);

/* Every line of `bpsweep --version`. */
void version_print(FILE *f);

#endif
