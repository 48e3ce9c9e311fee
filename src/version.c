/* version: the versions this binary was built with and runs with. */
#include "bpsweep/version.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <fftw3.h>
#include <hdf5.h>
#include <mpi.h>
#include <string.h>
#include <zlib.h>

#include "bpsweep_commit.h" /* BPSWEEP_COMMIT, generated at build time */

const char *version_bpsweep(void)
{
    return BPSWEEP_VERSION;
}

const char *version_commit(void)
{
    return BPSWEEP_COMMIT;
}

#define STR_(x) #x
#define STR(x) STR_(x)

void version_mpi(char *buf, size_t n)
{
    /* the library's own first line, e.g. "Open MPI v4.1.4, package: ..., ident: ..." */
    char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "";
    int len = 0;
    MPI_Get_library_version(lib, &len);
    lib[strcspn(lib, "\n")] = '\0';
#if defined(OMPI_MAJOR_VERSION)
    const char *built = "Open MPI " STR(OMPI_MAJOR_VERSION) "." STR(OMPI_MINOR_VERSION) "." STR(
        OMPI_RELEASE_VERSION);
#elif defined(MPICH_VERSION)
    const char *built = "MPICH " MPICH_VERSION;
#else
    const char *built = "an MPI";
#endif
    snprintf(buf, n, "built with %s (MPI %d.%d), running %s", built, MPI_VERSION, MPI_SUBVERSION,
             lib);
}

void version_hdf5(char *buf, size_t n)
{
    unsigned maj = 0, min = 0, rel = 0;
    H5get_libversion(&maj, &min, &rel);
#ifdef H5_HAVE_PARALLEL
    const char *kind = "parallel";
#else
    const char *kind = "serial";
#endif
    snprintf(buf, n, "built with %d.%d.%d (%s), running %u.%u.%u", H5_VERS_MAJOR, H5_VERS_MINOR,
             H5_VERS_RELEASE, kind, maj, min, rel);
}

void version_openblas(char *buf, size_t n)
{
    /* OPENBLAS_VERSION is " OpenBLAS 0.3.21 " */
    const char *v = OPENBLAS_VERSION;
    while (*v == ' ')
        v++;
    int len = (int)strlen(v);
    while (len > 0 && v[len - 1] == ' ')
        len--;
    snprintf(buf, n, "built with %.*s, running %s (kernels %s)", len, v, openblas_get_config(),
             openblas_get_corename());
}

void version_print(FILE *f)
{
    char line[1024];
    fprintf(f, "bpsweep %s (commit %s)\n", version_bpsweep(), version_commit());
    version_mpi(line, sizeof line);
    fprintf(f, "MPI:      %s\n", line);
    version_hdf5(line, sizeof line);
    fprintf(f, "HDF5:     %s\n", line);
    version_openblas(line, sizeof line);
    fprintf(f, "OpenBLAS: %s\n", line);
    fprintf(f, "FFTW:     %s\n", fftw_version);
    fprintf(f, "cJSON:    %d.%d.%d, running %s\n", CJSON_VERSION_MAJOR, CJSON_VERSION_MINOR,
            CJSON_VERSION_PATCH, cJSON_Version());
    fprintf(f, "zlib:     built with %s, running %s\n", ZLIB_VERSION, zlibVersion());
}
