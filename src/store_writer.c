/* store_writer: writing rows into a results file that store_create made (see store.h):
 * store_open, store_write_row, store_copy_rows, store_close.
 *
 * A row is assembled as a StoreRow (store_internal.h) - the point's values, its
 * coordinates from the spec stored in the file - and each per-point dataset's part of
 * it is laid out by the layout table (store_row_put); this file names no dataset. Rows
 * are written independently (no other rank takes part): every dataset is contiguous and
 * allocated at creation, so a row write changes no metadata. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/agree.h"
#include "store_hdf5.h"

struct Store {
    char *path;
    MPI_Comm comm;               /* our duplicate of the caller's communicator */
    hid_t file;
    FileLayout layout;           /* the file's shape, version and metrics */
    Spec *spec;                  /* the spec stored in the file: the rows' coordinates */
    int n_defs;
    DatasetDef defs[STORE_MAX_DEFS];
    hid_t dset[STORE_MAX_DEFS];  /* per-point datasets; H5I_INVALID_HID for the others */
    hid_t mtype[STORE_MAX_DEFS]; /* their memory types */
    size_t row_bytes[STORE_MAX_DEFS];      /* bytes of one row of a per-point dataset */
    unsigned char *rowbuf[STORE_MAX_DEFS]; /* one row of each per-point dataset */
    int status_def, checksum_def;          /* their indices in defs (-1: none) */
    hid_t fspace[N_ROW_DIMS];    /* file space per row shape; a row write selects one row */
    hid_t mspace[N_ROW_DIMS];    /* one row in memory */
};

/* ---- open and close ------------------------------------------------------------------------ */

/* Collective: closes every handle of s and the file (s stays allocated). */
static int store_release(Store *s)
{
    int rc = 0;
    for (int d = 0; d < s->n_defs; d++) {
        /* REQUIRED collective: every rank opened the same datasets */
        if (s->dset[d] >= 0 && H5Dclose(s->dset[d]) < 0)
            rc = -1;
        if (s->mtype[d] >= 0)
            H5Tclose(s->mtype[d]);
        s->dset[d] = s->mtype[d] = H5I_INVALID_HID;
    }
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] >= 0)
            H5Sclose(s->fspace[k]);
        if (s->mspace[k] >= 0)
            H5Sclose(s->mspace[k]);
        s->fspace[k] = s->mspace[k] = H5I_INVALID_HID;
    }
    /* REQUIRED collective */
    if (s->file >= 0 && H5Fclose(s->file) < 0)
        rc = -1;
    s->file = H5I_INVALID_HID;
    return rc;
}

/* Frees s and its communicator (after store_release). */
static void store_free(Store *s)
{
    MPI_Comm_free(&s->comm);
    for (int d = 0; d < s->n_defs; d++)
        free(s->rowbuf[d]);
    spec_free(s->spec);
    free(s->path);
    free(s);
}

/* Opens the per-point datasets of the file (coordinates included), checks their shapes
 * against the file's shape and makes a row buffer for each. Every dataset this bpsweep
 * writes must be there: a file that predates a metric is resumed by the bpsweep that
 * made it. */
static int open_row_datasets(Store *s, BpsErr *err)
{
    FileLayout all = s->layout; /* every metric of this bpsweep */
    for (int m = 0; m < N_METRICS; m++)
        all.has_metric[m] = true;
    const StoreShape *sh = &s->layout.shape;
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (def->dim < DIM_POINT || !store_file_has(&all, def))
            continue;
        /* REQUIRED on every rank alike (store_open is collective): HDF5 asks for
         * collective opens of objects that will be written */
        s->dset[d] = H5Dopen2(s->file, def->path, H5P_DEFAULT);
        if (s->dset[d] < 0)
            return bps_fail(err, "%s: missing dataset %s (damaged file, or written by another "
                            "bpsweep version: resume it with the bpsweep that started it)",
                            s->path, def->path);
        hsize_t want[2] = {(hsize_t)sh->n_points, (hsize_t)store_row_width(sh, def->dim)};
        hsize_t got[2] = {0, 0};
        int want_rank = def->dim == DIM_POINT ? 1 : 2;
        hid_t space = H5Dget_space(s->dset[d]);
        int got_rank = space >= 0 ? H5Sget_simple_extent_dims(space, got, NULL) : -1;
        if (space >= 0)
            H5Sclose(space);
        if (got_rank != want_rank || got[0] != want[0] || (want_rank == 2 && got[1] != want[1]))
            return bps_fail(err, "%s: damaged results file: %s does not have the shape the "
                            "attributes say", s->path, def->path);
        if ((s->mtype[d] = store_h5_type(def, 0)) < 0)
            return store_h5_fail(err, s->path, "cannot make a memory type");
        s->row_bytes[d] = store_row_bytes(def, sh);
        s->rowbuf[d] = xcalloc(s->row_bytes[d], 1);
    }
    return 0;
}

/* The dataspaces a row write reuses: per row shape, the file space and one row in memory. */
static int make_row_spaces(Store *s, BpsErr *err)
{
    for (int k = 0; k < N_ROW_DIMS; k++) {
        Dim dim = (Dim)(ROW_DIM0 + k);
        hsize_t w = (hsize_t)store_row_width(&s->layout.shape, dim);
        if (w == 0)
            continue;
        hsize_t dims[2] = {(hsize_t)s->layout.shape.n_points, w};
        s->fspace[k] = H5Screate_simple(dim == DIM_POINT ? 1 : 2, dims, NULL);
        s->mspace[k] = H5Screate_simple(1, &w, NULL);
        if (s->fspace[k] < 0 || s->mspace[k] < 0)
            return store_h5_fail(err, s->path, "cannot make dataspaces");
    }
    return 0;
}

int store_read_spec(MPI_Comm comm, const char *path, Spec **spec, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    *spec = NULL;
    StoreReader *r = NULL;
    int rc = rank == 0 ? store_reader_open(path, &r, err) : 0;
    if (agree_root(comm, rc, err) != 0)
        return -1;
    char *json = agree_root_string(comm, rank == 0 ? store_reader_spec(r)->canonical : NULL);
    store_reader_close(r);
    rc = spec_parse(json, path, spec, err); /* parsed on rank 0 already: alike */
    free(json);
    return rc;
}

int store_open(MPI_Comm comm, const char *path, Store **out, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *out = NULL;
    Store *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->file = H5I_INVALID_HID;
    s->n_defs = store_layout_defs(s->defs);
    s->status_def = s->checksum_def = -1;
    for (int d = 0; d < s->n_defs; d++) {
        s->dset[d] = s->mtype[d] = H5I_INVALID_HID;
        if (s->defs[d].role == ROLE_STATUS)
            s->status_def = d;
        if (s->defs[d].role == ROLE_CHECKSUM)
            s->checksum_def = d;
    }
    for (int k = 0; k < N_ROW_DIMS; k++)
        s->fspace[k] = s->mspace[k] = H5I_INVALID_HID;
    MPI_Comm_dup(comm, &s->comm);

    /* Rank 0 first validates the file read-only (so a file that is not a results file
     * is never opened for writing, and a damaged one is refused alike by every command) */
    int rc = store_read_spec(s->comm, path, &s->spec, err);
    if (rc != 0) {
        store_free(s);
        return -1;
    }
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* REQUIRED: the MPI-IO driver lets every rank write rows of this one file */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, s->comm, MPI_INFO_NULL) < 0) {
        rc = store_h5_fail(err, path, "cannot set up parallel access");
    } else {
        /* REQUIRED collective */
        s->file = H5Fopen(path, H5F_ACC_RDWR, fapl);
        if (s->file < 0)
            rc = store_h5_fail(err, path, "cannot open for writing");
    }
    if (fapl >= 0)
        H5Pclose(fapl);
    if (agree_or_abort(s->comm, rc, err) != 0) {
        store_release(s);
        store_free(s);
        return -1;
    }
    /* optional collective: every rank reads the format and shape attributes itself
     * (reads change nothing, so HDF5 does not require it; every rank needs the shape) */
    rc = store_h5_check_format(s->file, path, &s->layout, err);
    if (rc == 0)
        rc = open_row_datasets(s, err);
    if (rc == 0)
        rc = make_row_spaces(s, err);
    if (rc == 0 && grid_size(s->spec) != s->layout.shape.n_points)
        rc = bps_fail(err, "%s: damaged results file: n_points is not the size of its spec's "
                      "grid", path);
    if (rc == 0 && NEVER(s->dset[s->status_def] < 0))
        rc = bps_fail(err, "%s: no /status", path);
    if (agree_or_abort(s->comm, rc, err) != 0) {
        store_release(s);
        store_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

int store_close(Store *s, BpsErr *err)
{
    if (!s)
        return 0;
    int rc = store_release(s) == 0 ? 0 : store_h5_fail(err, s->path, "cannot close");
    rc = agree_all(s->comm, rc, err, NULL);
    store_free(s);
    return rc;
}

/* ---- rows ------------------------------------------------------------------------------------ */

/* Writes one row of dataset d from buf. Independent. */
static int write_dataset_row(Store *s, int d, int64_t row, const void *buf, BpsErr *err)
{
    int k = (int)s->defs[d].dim - ROW_DIM0;
    /* independent transfer (default dxpl): one row, no other rank involved */
    if (H5Dwrite(s->dset[d], s->mtype[d], s->mspace[k], s->fspace[k], H5P_DEFAULT, buf) >= 0)
        return 0;
    char what[128];
    snprintf(what, sizeof what, "point %lld: cannot write %s", (long long)row, s->defs[d].path);
    return store_h5_fail(err, s->path, what);
}

/* Writes row `row` of s: the coordinates (from s->spec), s->rowbuf[d] of every other
 * per-point dataset, then the row checksum (format 2): FNV-1a 64 over the row's bytes of
 * every per-point dataset of the file in layout order (status and checksum left out),
 * followed by the status byte; then the status byte itself. Independent. */
static int write_row_bytes(Store *s, int64_t row, uint8_t status, BpsErr *err)
{
    hsize_t start[2] = {(hsize_t)row, 0};
    for (int k = 0; k < N_ROW_DIMS; k++) {
        if (s->fspace[k] < 0)
            continue;
        hsize_t count[2] = {1, (hsize_t)store_row_width(&s->layout.shape, (Dim)(ROW_DIM0 + k))};
        if (H5Sselect_hyperslab(s->fspace[k], H5S_SELECT_SET, start, NULL, count, NULL) < 0)
            return store_h5_fail(err, s->path, "cannot select a row");
    }
    StoreRow c;
    store_row_coords(s->spec, row, &c);
    c.status = status;
    uint64_t sum = BPS_HASH_INIT;
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (s->dset[d] < 0 || def->role == ROLE_STATUS || def->role == ROLE_CHECKSUM)
            continue; /* status and checksum: written last, below */
        if (def->role == ROLE_COORD)
            store_row_put(def, &s->layout.shape, &c, s->rowbuf[d]);
        sum = bps_hash_bytes(sum, s->rowbuf[d], s->row_bytes[d]);
        if (write_dataset_row(s, d, row, s->rowbuf[d], err) != 0)
            return -1;
    }
    c.checksum = bps_hash_bytes(sum, &status, 1);
    if (s->checksum_def >= 0 && s->dset[s->checksum_def] >= 0 &&
        write_dataset_row(s, s->checksum_def, row, &c.checksum, err) != 0)
        return -1;
    bps_fault_point("row");
    /* The status byte last, alone: a row whose status is not pending is complete. */
    return write_dataset_row(s, s->status_def, row, &c.status, err);
}

static int check_row(const Store *s, const PointResult *res, BpsErr *err)
{
    const StoreShape *sh = &s->layout.shape;
    long long i = (long long)res->index;
    if (res->index < 0 || res->index >= sh->n_points)
        return bps_fail(err, "%s: point %lld: out of range (the file has %lld points)", s->path,
                        i, (long long)sh->n_points);
    if (res->status != POINT_DONE && res->status != POINT_DIVERGED &&
        res->status != POINT_FAILED)
        return bps_fail(err, "%s: point %lld: status %s is not a result (rows are written "
                        "only for done, diverged or failed points)",
                        s->path, i, point_status_name(res->status));
    for (int m = 0; m < N_METRICS; m++) {
        int64_t w = store_row_width(sh, store_metric_dim(POINT_METRIC_DEFS[m].kind));
        if (res->metric[m] && res->metric_len[m] > w)
            return bps_fail(err, "%s: point %lld: %s has %d values, the file has room for %lld "
                            "(was it created for another spec?)",
                            s->path, i, POINT_METRIC_DEFS[m].name, res->metric_len[m],
                            (long long)w);
    }
    if (res->weights && sh->max_params > 0 && (int64_t)res->n_params > sh->max_params)
        return bps_fail(err, "%s: point %lld: %zu parameters, the file has room for %lld", s->path,
                        i, res->n_params, (long long)sh->max_params);
    return 0;
}

/* The row of a point's result: every value of res and info where the layout puts it. */
static void row_from_result(const Store *s, const PointResult *res, const RowInfo *info,
                            StoreRow *row)
{
    const StoreShape *sh = &s->layout.shape;
    memset(row, 0, sizeof *row);
    row->status = (uint8_t)res->status;
    row->param_hash = res->param_hash;
    row->epochs_run = res->epochs_run;
    row->diverged_epoch = res->diverged_epoch;
    row->n_params = (int64_t)res->n_params;
    row->wall_seconds = res->wall_seconds;
    row->rank = info->rank;
    store_copy_fixed(row->host, sizeof row->host, info->host);
    row->attempts = info->attempts;
    row->finished = info->finished;
    store_copy_fixed(row->message, sizeof row->message, res->message);
    for (int m = 0; m < N_METRICS; m++)
        row->metric[m] = store_vector(res->metric[m], res->metric_len[m]);
    row->weights = store_vector(res->weights, res->weights ? (int64_t)res->n_params : 0);
    bool ntk_fits = res->ntk_m == sh->ntk_m; /* an NTK of another size: not stored */
    int64_t ntk_len = sh->ntk_m * sh->ntk_m;
    row->ntk0 = store_vector(ntk_fits ? res->ntk0 : NULL, ntk_len);
    row->ntk1 = store_vector(ntk_fits ? res->ntk1 : NULL, ntk_len);
    row->robust_test = store_vector(res->robust_test, res->n_eps);
    row->robust_train = store_vector(res->robust_train, res->n_eps);
    /* the point's (L, R) block into the file's (max_layers, max_rank) */
    row->spectra = (StoreVector){res->spectra, res->spectra_rank, res->n_layers, sh->max_rank};
}

int store_write_row(Store *s, const PointResult *res, const RowInfo *info, BpsErr *err)
{
    assert(s && res && info);
    if (check_row(s, res, err) != 0)
        return -1;
    StoreRow row;
    row_from_result(s, res, info, &row);
    for (int d = 0; d < s->n_defs; d++) {
        const DatasetDef *def = &s->defs[d];
        if (s->dset[d] >= 0 && (def->role == ROLE_VALUE || def->role == ROLE_VECTOR))
            store_row_put(def, &s->layout.shape, &row, s->rowbuf[d]);
    }
    return write_row_bytes(s, res->index, row.status, err);
}

int store_copy_rows(Store *s, const char *from, const int64_t *map, BpsErr *err)
{
    StoreReader *r = NULL;
    if (store_reader_open(from, &r, err) != 0)
        return -1;
    const StoreShape *old = store_reader_shape(r);
    StoreTable chunk = {0};
    int got, rc = 0;
    while (rc == 0 && (got = store_reader_next(r, &chunk, err)) == 1) {
        for (int64_t i = 0; i < chunk.n_rows && rc == 0; i++) {
            int64_t p = chunk.first + i;
            /* damaged rows read as pending: not copied, computed again */
            if (chunk.status[i] == POINT_PENDING || map[p] < 0)
                continue;
            for (int d = 0; d < s->n_defs; d++) {
                const DatasetDef *def = &s->defs[d];
                if (s->dset[d] < 0 || (def->role != ROLE_VALUE && def->role != ROLE_VECTOR))
                    continue;
                /* the old row, widened with padding (NaN for floating types) */
                const unsigned char *src = store_reader_row(r, d, i);
                int64_t w_new = store_row_width(&s->layout.shape, def->dim);
                int64_t w = src ? store_row_width(old, def->dim) : 0;
                w = w < w_new ? w : w_new;
                if (w > 0)
                    memcpy(s->rowbuf[d], src, (size_t)w * (s->row_bytes[d] / (size_t)w_new));
                store_row_pad(def, s->rowbuf[d], w, w_new);
            }
            rc = write_row_bytes(s, map[p], chunk.status[i], err);
        }
    }
    if (rc == 0 && got < 0)
        rc = -1;
    store_table_free(&chunk);
    store_reader_close(r);
    return rc;
}
