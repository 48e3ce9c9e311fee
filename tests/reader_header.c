/* reader_header: the results-file reader's header on its own. The ctest test
 * reader_without_mpi compiles this file, src/export.c, src/store_layout.c and
 * src/cli_results.c (status, verify, export, plan) with only the project's include/ and
 * the C library on the include path, behind stand-ins for mpi.h and hdf5.h that stop the
 * compiler (tests/no_mpi): so the reader's header, the layout and the read-only callers
 * need neither MPI nor HDF5. Only compiled, never run. */
#include "bpsweep/export.h"
#include "bpsweep/store_reader.h"

int reader_header_points(const char *path);

/* Points of a results file, or -1: the reader's whole cycle, as status uses it. */
int reader_header_points(const char *path)
{
    StoreReader *r = NULL;
    BpsErr err;
    if (store_reader_open(path, &r, &err) != 0)
        return -1;
    StoreTable t = {0};
    int64_t n = 0;
    int got;
    while ((got = store_reader_next(r, &t, &err)) == 1)
        n += t.n_rows;
    store_table_free(&t);
    store_reader_close(r);
    return got == 0 ? (int)n : -1;
}
