/* store_create: creating a results file (see store.h): every dataset of the layout
 * pre-allocated, the coordinates, the axes and the spec, the root attributes, then a
 * collective flush and the rename into place.
 *
 * Parallel HDF5 rules followed here (every HDF5 call in a collective function is marked
 * REQUIRED or optional, with the reason):
 *  - file create/flush/close, dataset create/close and attribute writes are collective
 *    and get identical arguments on every rank, so provenance that differs per rank
 *    (CPU model) is gathered and broadcast before it is written;
 *  - raw data is written independently: every dataset is contiguous and allocated when
 *    it is created, so writing a row later changes no metadata and needs no other rank. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bpsweep/agree.h"
#include "bpsweep/provenance.h"
#include "store_hdf5.h"

#define POINTS_BATCH 4096 /* rows of /points written per H5Dwrite at creation */

/* ---- attributes ------------------------------------------------------------------------ */

/* Collective (H5Acreate and H5Awrite with the same value on every rank): an attribute of
 * type `type`, a scalar (n < 0) or n values (n may be 0). */
static int attr_write(hid_t file, const char *name, hid_t type, int64_t n, const void *value)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    hsize_t dims = n < 0 ? 0 : (hsize_t)n;
    space = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, NULL);
    if (space < 0)
        goto done;
    /* REQUIRED collective: attribute creation changes metadata */
    attr = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    /* REQUIRED collective, same value on every rank: attribute data is cached per rank */
    if (n != 0 && H5Awrite(attr, type, value) < 0)
        goto done;
    rc = 0;
done:
    if (attr >= 0 && H5Aclose(attr) < 0) /* REQUIRED collective */
        rc = -1;
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

static int attr_write_string(hid_t file, const char *name, const char *value)
{
    hid_t type = store_h5_string_type(strlen(value) + 1);
    if (type < 0)
        return -1;
    int rc = attr_write(file, name, type, -1, value);
    H5Tclose(type);
    return rc;
}

/* Collective: writes every attribute of STORE_ATTRS (those of the data set only with
 * data). */
static int write_attributes(hid_t file, const char *path, const Spec *spec,
                            const StoreShape *sh, const Provenance *prov,
                            const DataProvenance *data, BpsErr *err)
{
    char *files = data ? data_provenance_files(data) : NULL;
    char *metrics = store_metric_list();
    const int64_t shape[3] = {data ? data->shape.c : 0, data ? data->shape.h : 0,
                              data ? data->shape.w : 0};
    const int64_t n_stats = data && data->n_stats <= STORE_MAX_STATS ? data->n_stats : 0;
    int rc = 0;
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, spec->hash);
    for (int a = 0; a < N_ATTRS && rc == 0; a++) {
        const char *s = NULL;
        int64_t v = 0;
        const void *array = NULL; /* a one-dimensional attribute of `count` values */
        int64_t count = 0;
        if (a >= A_DATA_FIRST && !data)
            continue;
        switch ((AttrId)a) {
        case A_FORMAT:
            s = STORE_FORMAT;
            break;
        case A_FORMAT_VERSION:
            v = STORE_FORMAT_VERSION;
            break;
        case A_SPEC_HASH:
            s = hash;
            break;
        case A_VERSION:
            s = prov->version;
            break;
        case A_COMMIT:
            s = prov->commit;
            break;
        case A_BLAS_CONFIG:
            s = prov->blas_config;
            break;
        case A_BLAS_CORE:
            s = prov->blas_core;
            break;
        case A_MPI_LIBRARY:
            s = prov->mpi_library;
            break;
        case A_HDF5_VERSION:
            s = prov->hdf5_version;
            break;
        case A_CPU_MODELS:
            s = prov->cpu_models;
            break;
        case A_CREATED:
            s = prov->created;
            break;
        case A_N_POINTS:
            v = sh->n_points;
            break;
        case A_MAX_EPOCHS:
            v = sh->max_epochs;
            break;
        case A_MAX_LAYERS:
            v = sh->max_layers;
            break;
        case A_MAX_PARAMS:
            v = sh->max_params;
            break;
        case A_NTK_SIZE:
            v = sh->ntk_m;
            break;
        case A_MAX_RANK:
            v = sh->max_rank;
            break;
        case A_ROBUST_EPS:
            v = sh->n_eps;
            break;
        case A_METRICS:
            s = metrics;
            break;
        case A_DATA_SOURCE:
            s = data->source;
            break;
        case A_DATA_DIR:
            s = data->dir;
            break;
        case A_DATA_SHAPE:
            array = shape;
            count = 3;
            break;
        case A_DATA_TRAIN:
            v = data->n_train;
            break;
        case A_DATA_TEST:
            v = data->n_test;
            break;
        case A_DATA_NORM:
            s = data_norm_name(data->norm);
            break;
        case A_DATA_MEAN:
            array = data->mean;
            count = n_stats;
            break;
        case A_DATA_STD:
            array = data->std;
            count = n_stats;
            break;
        case A_DATA_CHECKSUM:
            s = DATA_CHECKSUM_ALGORITHM;
            break;
        case A_DATA_FILES:
            s = files;
            break;
        case N_ATTRS:
            break;
        }
        const AttrDef *def = &STORE_ATTRS[a];
        if (NEVER((def->type == T_STR) != (s != NULL)) ||
            NEVER(def->shape ? s != NULL : array != NULL)) {
            rc = bps_fail(err, "%s: attribute %s has no value", path, def->name);
            break;
        }
        DatasetDef as = {.type = def->type};
        hid_t type = def->shape ? store_h5_type(&as, 0) : H5I_INVALID_HID;
        if (s)
            rc = attr_write_string(file, def->name, s);
        else if (def->shape)
            rc = type < 0 ? -1 : attr_write(file, def->name, type, count, array);
        else
            rc = attr_write(file, def->name, H5T_NATIVE_INT64, -1, &v);
        if (type >= 0)
            H5Tclose(type);
        if (rc != 0) {
            char what[128];
            snprintf(what, sizeof what, "cannot write attribute %s", def->name);
            store_h5_fail(err, path, what);
        }
    }
    free(files);
    free(metrics);
    return rc;
}

/* ---- datasets -------------------------------------------------------------------------- */

/* Collective (H5Dcreate): one dataset of the layout, contiguous, allocated now; only
 * /status gets a fill value, written now; nothing else is ever filled. */
static hid_t create_dataset(hid_t file, const DatasetDef *d, const Spec *spec,
                            const StoreShape *sh, hid_t type)
{
    hid_t id = H5I_INVALID_HID, space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID,
          lcpl = H5I_INVALID_HID;
    hsize_t dims[2] = {(hsize_t)sh->n_points, (hsize_t)store_row_width(sh, d->dim)};
    if (d->dim < DIM_POINT)
        dims[0] = (hsize_t)store_axis_length(spec, d->dim);
    space = d->dim == DIM_SCALAR ? H5Screate(H5S_SCALAR)
                                 : H5Screate_simple(d->dim <= DIM_POINT ? 1 : 2, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (space < 0 || dcpl < 0 || lcpl < 0)
        goto done;
    /* REQUIRED: parents (/axes, /points, ...) are created with their first dataset */
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0)
        goto done;
    /* REQUIRED: contiguous and allocated at creation, so that independent row writes
     * never allocate space or touch metadata (parallel HDF5 needs metadata changes to
     * be collective) */
    if (H5Pset_layout(dcpl, H5D_CONTIGUOUS) < 0 ||
        H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)
        goto done;
    if (d->role == ROLE_STATUS) {
        /* REQUIRED: the status byte of every row starts as 0 = pending; the fill is
         * written (collectively) during this create */
        uint8_t pending = POINT_PENDING;
        if (H5Pset_fill_value(dcpl, H5T_NATIVE_UINT8, &pending) < 0 ||
            H5Pset_fill_time(dcpl, H5D_FILL_TIME_ALLOC) < 0)
            goto done;
    } else if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) {
        /* REQUIRED: no fill for the rest, or creating a big file writes gigabytes */
        goto done;
    }
    /* optional: no modification times in object headers (nothing to update; files of
     * the same sweep differ less) */
    if (H5Pset_obj_track_times(dcpl, 0) < 0)
        goto done;
    /* REQUIRED collective: same name, type, space and properties on every rank */
    id = H5Dcreate2(file, d->path, type, space, lcpl, dcpl, H5P_DEFAULT);
done:
    if (lcpl >= 0)
        H5Pclose(lcpl);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return id;
}

/* Independent: writes count rows [start, start + count) of a per-point dataset of
 * one value a row. */
static int write_slab(hid_t dset, hid_t mtype, hsize_t start, hsize_t count, const void *buf)
{
    int rc = -1;
    hid_t mspace = H5I_INVALID_HID, fspace = H5I_INVALID_HID;
    mspace = H5Screate_simple(1, &count, NULL);
    fspace = H5Dget_space(dset);
    if (mspace < 0 || fspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0)
        goto done;
    /* independent transfer (the default dxpl): this rank's slab only */
    if (H5Dwrite(dset, mtype, mspace, fspace, H5P_DEFAULT, buf) >= 0)
        rc = 0;
done:
    if (fspace >= 0)
        H5Sclose(fspace);
    if (mspace >= 0)
        H5Sclose(mspace);
    return rc;
}

/* Collective: every rank writes its share of /points (a contiguous block of the grid)
 * independently, in slabs of POINTS_BATCH rows; after each slab the ranks agree on
 * whether *stop is set (every rank runs the same number of rounds). Returns 0, -1 if
 * a write failed on this rank, STORE_STOPPED on every rank when stopped. */
static int write_points(MPI_Comm comm, const Spec *spec, const StoreShape *sh,
                        const DatasetDef *defs, const hid_t *dset, const hid_t *mtype,
                        int n_defs, const volatile sig_atomic_t *stop)
{
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t lo = sh->n_points * rank / size, hi = sh->n_points * (rank + 1) / size;
    int64_t most = (sh->n_points + size - 1) / size; /* the largest block of any rank */
    int64_t rounds = (most + POINTS_BATCH - 1) / POINTS_BATCH;
    unsigned char *col[STORE_MAX_DEFS] = {0}; /* POINTS_BATCH rows of each coordinate */
    size_t es[STORE_MAX_DEFS] = {0};
    for (int d = 0; d < n_defs; d++)
        if (defs[d].role == ROLE_COORD) {
            es[d] = store_row_bytes(&defs[d], sh);
            col[d] = xcalloc(POINTS_BATCH, es[d]);
        }
    int rc = 0;
    for (int64_t r = 0; r < rounds; r++) {
        /* every round: the ranks agree on a stop (signals reach ranks at different
         * moments) and on a failed write, which ends the writing of every rank */
        int flags[2] = {stop && *stop, rc != 0}, any[2];
        MPI_Allreduce(flags, any, 2, MPI_INT, MPI_MAX, comm);
        if (any[0] && !any[1]) {
            rc = STORE_STOPPED;
            break;
        }
        if (any[1])
            break; /* a rank failed: the caller's agree_all says which */
        int64_t b = lo + r * POINTS_BATCH;
        if (b >= hi)
            continue;
        int n = (int)(hi - b < POINTS_BATCH ? hi - b : POINTS_BATCH);
        for (int i = 0; i < n; i++) {
            StoreRow row;
            store_row_coords(spec, b + i, &row);
            for (int d = 0; d < n_defs; d++)
                if (col[d])
                    store_row_put(&defs[d], sh, &row, col[d] + (size_t)i * es[d]);
        }
        for (int d = 0; d < n_defs && rc == 0; d++)
            if (col[d])
                rc = write_slab(dset[d], mtype[d], (hsize_t)b, (hsize_t)n, col[d]);
    }
    for (int d = 0; d < n_defs; d++)
        free(col[d]);
    return rc;
}

/* Independent, rank 0 only: the axes and the spec JSON (the datasets that are not per
 * point), from the spec. */
static int write_axes(const Spec *spec, const DatasetDef *defs, const hid_t *dset,
                      const hid_t *mtype, int n_defs)
{
    int rc = 0;
    for (int d = 0; d < n_defs && rc == 0; d++) {
        if (defs[d].role != ROLE_META)
            continue;
        int n = (int)store_axis_length(spec, defs[d].dim);
        void *owned = NULL;
        const void *buf = NULL;
        switch (defs[d].dim) {
        case DIM_SCALAR:
            buf = spec->canonical;
            break;
        case DIM_ARCH:
        case DIM_COND: {
            char(*names)[SPEC_NAME_MAX] = xcalloc((size_t)n, sizeof *names);
            for (int i = 0; i < n; i++)
                store_copy_fixed(names[i], sizeof names[i], defs[d].dim == DIM_ARCH
                                                                ? spec->arch[i].name
                                                                : spec->cond[i].name);
            buf = owned = names;
            break;
        }
        case DIM_WD:
            buf = spec->weight_decay;
            break;
        case DIM_NB:
            buf = spec->norm_bias;
            break;
        case DIM_SEED: {
            int64_t *seeds = xmalloc((size_t)n * sizeof *seeds);
            for (int i = 0; i < n; i++)
                seeds[i] = (int64_t)spec->seed[i];
            buf = owned = seeds;
            break;
        }
        default:
            NEVER(1); /* a META dataset of a per-point shape */
            return -1;
        }
        /* independent transfer by rank 0 alone (default dxpl) */
        if (H5Dwrite(dset[d], mtype[d], H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            rc = -1;
        free(owned);
    }
    return rc;
}

/* Rank 0: refuses a file larger than the free space of the file system it goes to
 * (the datasets are allocated, not written, at creation: a full disk would show only
 * when rows are written, or leave a file that does not read back). */
static int check_free_space(const char *path, const StoreShape *sh, BpsErr *err)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    struct statvfs vfs;
    if (statvfs(dir, &vfs) != 0)
        return 0; /* cannot tell: creating it will say what is wrong */
    double need = (double)store_file_bytes(sh) + 1048576.0; /* metadata, spec, axes */
    double avail = (double)vfs.f_bavail * (double)vfs.f_frsize;
    if (need <= avail)
        return 0;
    const double gib = 1073741824.0;
    return bps_fail(err,
                    "%s: the results file needs %.1f GiB and its file system (%s) has %.1f GiB "
                    "free: free space, "
                    "choose another -o, or make the sweep smaller (bpsweep plan SPEC shows the "
                    "size)",
                    path, need / gib, dir, avail / gib);
}

/* ---- the file -------------------------------------------------------------------------- */

int store_create_shaped(MPI_Comm comm, const char *path, const Spec *spec,
                        const StoreShape *shape, const DataProvenance *data,
                        const volatile sig_atomic_t *stop, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* errors become BpsErr messages */
    int rank;
    MPI_Comm_rank(comm, &rank);
    const StoreShape sh = *shape;

    /* Refuse an existing file: rank 0 looks, every rank follows its answer. */
    int rc = 0;
    struct stat st;
    if (rank == 0 && stat(path, &st) == 0)
        rc = bps_fail(err,
                      "%s: already exists; bpsweep never overwrites results (remove it, or "
                      "choose another output file)",
                      path);
    if (rank == 0 && rc == 0)
        rc = check_free_space(path, &sh, err);
    if (agree_root(comm, rc, err) != 0)
        return -1;
    /* The file is built under a temporary name and renamed into place once complete
     * and flushed: a job killed while creating it leaves no half-made results file
     * (only this temporary one, which the next attempt replaces). */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.creating", path);
    if (rank == 0)
        unlink(tmp);
    MPI_Barrier(comm);

    Provenance prov;
    provenance_gather(comm, &prov);
    if (rank == 0 && prov.n_cpu_models > 1)
        fprintf(stderr,
                "bpsweep: warning: ranks run on different CPU models (%s): results are "
                "bit-identical only per machine type\n",
                prov.cpu_models);

    DatasetDef defs[STORE_MAX_DEFS];
    int n_defs = store_layout_defs(defs);
    hid_t dset[STORE_MAX_DEFS], mtype[STORE_MAX_DEFS];
    for (int d = 0; d < n_defs; d++)
        dset[d] = mtype[d] = H5I_INVALID_HID;
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;

    fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* REQUIRED: the MPI-IO driver lets every rank of comm write this one file */
    if (fapl < 0 || H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0)
        rc = store_h5_fail(err, path, "cannot set up parallel access");
    /* REQUIRED collective; H5F_ACC_EXCL: a file created meanwhile is still refused */
    if (rc == 0 && (file = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, fapl)) < 0)
        rc = store_h5_fail(err, path, "cannot create");
    if (fapl >= 0)
        H5Pclose(fapl);
    if (agree_or_abort(comm, rc, err) != 0) {
        provenance_free(&prov);
        return -1;
    }

    /* Every dataset and attribute: collective metadata, identical on every rank. */
    FileLayout all = {.shape = sh, .version = STORE_FORMAT_VERSION};
    for (int m = 0; m < N_METRICS; m++)
        all.has_metric[m] = true;
    for (int d = 0; d < n_defs && rc == 0; d++) {
        if (defs[d].dim >= DIM_POINT && !store_file_has(&all, &defs[d]))
            continue;
        size_t str_size = defs[d].dim == DIM_SCALAR ? strlen(spec->canonical) + 1 : 0;
        mtype[d] = store_h5_type(&defs[d], str_size);
        if (mtype[d] < 0 || (dset[d] = create_dataset(file, &defs[d], spec, &sh, mtype[d])) < 0) {
            char what[128];
            snprintf(what, sizeof what, "cannot create dataset %.64s", defs[d].path);
            rc = store_h5_fail(err, path, what);
        }
    }
    if (rc == 0)
        rc = write_attributes(file, path, spec, &sh, &prov, data, err);
    provenance_free(&prov);
    int created_ok = agree_or_abort(comm, rc, err) == 0;

    /* Raw data, independent: each rank a block of /points, rank 0 the axes and spec;
     * a stop between slabs is seen by every rank alike. */
    bool stopped = false;
    if (created_ok) {
        rc = write_points(comm, spec, &sh, defs, dset, mtype, n_defs, stop);
        stopped = rc == STORE_STOPPED;
        if (rc == 0 && rank == 0)
            rc = write_axes(spec, defs, dset, mtype, n_defs);
        if (rc != 0 && !stopped)
            rc = store_h5_fail(err, path, "cannot write the point coordinates");
        created_ok = !stopped && agree_all(comm, rc, err, NULL) == 0;
    }

    bps_fault_point("create");
    int close_rc = 0;
    for (int d = 0; d < n_defs; d++) {
        /* REQUIRED collective: every rank closes the handles it created alike */
        if (dset[d] >= 0 && H5Dclose(dset[d]) < 0)
            close_rc = -1;
        if (mtype[d] >= 0)
            H5Tclose(mtype[d]);
    }
    /* REQUIRED collective flush: measured in this project, a job killed before it leaves
     * a file that no longer opens; after it, a kill loses only rows not yet written */
    if (created_ok && close_rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        close_rc = -1;
    /* REQUIRED collective */
    if (H5Fclose(file) < 0)
        close_rc = -1;
    if (created_ok && close_rc != 0)
        store_h5_fail(err, path, "cannot finish creating the file");
    if (stopped)
        bps_fail(err, "%s: stopped while creating the file", path);
    if (agree_all(comm, created_ok ? close_rc : -1, err, NULL) != 0) {
        /* We created it and it is unusable (or stopped): remove it, so a rerun is not
         * refused and creates it again. */
        if (rank == 0)
            unlink(tmp);
        return stopped ? STORE_STOPPED : -1;
    }
    /* rank 0 publishes the complete file; everyone learns whether that worked */
    rc = 0;
    if (rank == 0 && rename(tmp, path) != 0)
        rc = bps_fail(err, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    return agree_root(comm, rc, err);
}

