/* The HDF5 side that the results file's writer (store_create.c, store_writer.c) and
 * reader (store_reader.c) share: the HDF5 type of a dataset, error messages, attribute
 * reads and the format check. Not a public header: only the store's sources include
 * hdf5.h (parallel HDF5's hdf5.h pulls in mpi.h). */
#ifndef BPSWEEP_STORE_HDF5_H
#define BPSWEEP_STORE_HDF5_H

#include <hdf5.h>

#include "store_internal.h"

/* The memory type of dataset d's values, new (close with H5Tclose): its native type, or
 * a fixed-length NUL-terminated string of str_size bytes (0: d->str_size). The one place
 * that maps an ElemType to HDF5. H5I_INVALID_HID on failure. */
hid_t store_h5_type(const DatasetDef *d, size_t str_size);

/* A fixed-length, NUL-terminated string type of size bytes (1 if 0); close with H5Tclose. */
hid_t store_h5_string_type(size_t size);

/* The innermost message of HDF5's error stack (what went wrong at the bottom), then
 * clears the stack. buf holds BPS_ERR_MAX / 2 bytes. */
const char *store_h5_detail(char *buf);

/* Formats "<path>: <what>: <HDF5 detail>" into err and returns -1. */
int store_h5_fail(BpsErr *err, const char *path, const char *what);

/* A fixed-length string - attribute `name` of obj, or the scalar dataset `name` - as a
 * new NUL-terminated string (caller frees); NULL if absent or of another type. Serial,
 * or the same on every rank. */
char *store_h5_read_string(hid_t obj, const char *name, bool attribute);

/* store_h5_read_string of an attribute. */
char *store_h5_attr_string(hid_t obj, const char *name);

/* An integer attribute into *v; -1 if absent or not an integer. */
int store_h5_attr_int(hid_t obj, const char *name, int64_t *v);

/* Checks that file is a results file this bpsweep reads (format, version) and reads its
 * shape into fl->shape and its version into fl->version (fl->has_metric untouched).
 * Returns 0, or -1 with err naming path. */
int store_h5_check_format(hid_t file, const char *path, FileLayout *fl, BpsErr *err);

#endif
