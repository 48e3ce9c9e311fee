/* test_store: a results file for a spec and a data shape, as a sweep creates it (the
 * shape from point_store_shape: the store itself knows nothing of networks); for the
 * tests of the store (unit_store, mpi_store_rows). */
#ifndef BPSWEEP_TEST_STORE_H
#define BPSWEEP_TEST_STORE_H

#include "bpsweep/point.h"
#include "bpsweep/store.h"

static inline StoreShape store_shape(const Spec *spec, Shape in, int n_out)
{
    return point_store_shape(spec, in, n_out);
}

static inline int store_create(MPI_Comm comm, const char *path, const Spec *spec,
                               const DataProvenance *data, Shape in, int n_out,
                               const volatile sig_atomic_t *stop, BpsErr *err)
{
    StoreShape shape = store_shape(spec, in, n_out);
    return store_create_shaped(comm, path, spec, &shape, data, stop, err);
}

#endif
