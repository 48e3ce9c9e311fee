/* store_reader: the serial reader of results files (see store_reader.h). One
 * validation path for every command; rows are streamed in chunks, each finished row
 * checked against its checksum. No MPI calls: the file is opened with the sec2 driver. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store_reader.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store_hdf5.h"

/* H5Pset_file_locking exists from 1.10.7 on the 1.10 branch and from 1.12.1. */
#if H5_VERSION_GE(1, 12, 1) || (H5_VERS_MAJOR == 1 && H5_VERS_MINOR == 10 && H5_VERS_RELEASE >= 7)
#define STORE_HAVE_FILE_LOCKING 1
#else
#define STORE_HAVE_FILE_LOCKING 0
#endif

#define READ_CHUNK_BYTES (32u << 20) /* file bytes read per chunk of rows */
#define READ_CHUNK_ROWS 65536

struct StoreReader {
    char *path;
    hid_t file;
    FileLayout layout;
    char *spec_json, *created, *bpsweep_version, *data_files;
    char spec_hash[17];
    Spec *spec;
    char (*arch_names)[SPEC_NAME_MAX];  /* /axes/architectures, n_arch */
    char (*cond_names)[SPEC_NAME_MAX];  /* /axes/conditions, n_cond */
    int n_defs;
    DatasetDef defs[STORE_MAX_DEFS];
    hid_t dset[STORE_MAX_DEFS];         /* per-point datasets in the file */
    hid_t mtype[STORE_MAX_DEFS];        /* their memory types */
    size_t row_bytes[STORE_MAX_DEFS];   /* bytes of one row */
    unsigned char *chunk[STORE_MAX_DEFS]; /* chunk_rows rows of each */
    int status_def;                     /* the index of /status in defs */
    int64_t chunk_rows, next;           /* rows per chunk; the next row to read */
};

/* ---- opening ---------------------------------------------------------------------------- */

/* Why path does not open as HDF5: missing, not HDF5, truncated, or HDF5's own word.
 * detail is the HDF5 message of the failed open. Returns -1. */
static int diagnose_open(const char *path, const char *detail, BpsErr *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return bps_fail(err, "%s: cannot open: %s", path, strerror(errno));
    const char *trunc = strstr(detail, "truncated file");
    if (trunc) {
        long long eof = 0, base = 0, stored = 0;
        if (sscanf(trunc, "truncated file: eof = %lld, sblock->base_addr = %lld, stored_eof = %lld",
                   &eof, &base, &stored) == 3)
            return bps_fail(err,
                            "%s: truncated file (%lld of %lld bytes): was it copied while being "
                            "written, or did the disk fill up?",
                            path, eof, stored);
        return bps_fail(err, "%s: %s: was it copied while being written, or did the disk fill up?",
                        path, trunc);
    }
    htri_t is_h5 = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is_h5 == 0)
        return bps_fail(err, "%s: not an HDF5 file", path);
    return bps_fail(err, "%s: cannot open as HDF5: %s", path, detail);
}

/* Opens path read-only with the sec2 driver, without file locking (a running sweep
 * holds the file open, and reading it must not be refused), and checks that it is a
 * results file this bpsweep reads. Returns the file, or H5I_INVALID_HID with err set. */
static hid_t open_readonly(const char *path, FileLayout *fl, BpsErr *err)
{
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_sec2(fapl) < 0) {
        store_h5_fail(err, path, "cannot set up file access");
        goto done;
    }
#if STORE_HAVE_FILE_LOCKING
    if (H5Pset_file_locking(fapl, false, true) < 0) {
        store_h5_fail(err, path, "cannot disable file locking");
        goto done;
    }
#endif
    file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (file < 0) {
        char detail[BPS_ERR_MAX / 2];
        diagnose_open(path, store_h5_detail(detail), err);
        goto done;
    }
    if (store_h5_check_format(file, path, fl, err) != 0) {
        H5Fclose(file);
        file = H5I_INVALID_HID;
    }
done:
    if (fapl >= 0)
        H5Pclose(fapl);
    H5Eclear2(H5E_DEFAULT);
    return file;
}

/* Which metrics the file has. Format 2 lists them in the `metrics` attribute: a listed
 * metric must be there (a missing one is damage, found by check_datasets). A format-1
 * file has no list: a missing metric is taken for one added to bpsweep later. */
static int read_metric_list(StoreReader *r, BpsErr *err)
{
    FileLayout *fl = &r->layout;
    if (fl->version < 2) {
        for (int d = 0; d < r->n_defs; d++) {
            const DatasetDef *def = &r->defs[d];
            if (def->metric < 0)
                continue;
            char group[STORE_PATH_MAX];
            snprintf(group, sizeof group, "%.*s", (int)strcspn(def->path + 1, "/") + 1,
                     def->path);
            fl->has_metric[def->metric] = H5Lexists(r->file, group, H5P_DEFAULT) > 0 &&
                                          H5Lexists(r->file, def->path, H5P_DEFAULT) > 0;
            H5Eclear2(H5E_DEFAULT);
        }
        return 0;
    }
    char *list = store_h5_attr_string(r->file, "metrics");
    if (!list)
        return bps_fail(err, "%s: damaged results file: the attribute `metrics` is missing",
                        r->path);
    for (int m = 0; m < N_METRICS; m++)
        fl->has_metric[m] = store_metric_listed(list, POINT_METRIC_DEFS[m].name);
    free(list);
    return 0;
}

/* Opens every per-point dataset the file should have and checks its shape and type. */
static int check_datasets(StoreReader *r, BpsErr *err)
{
    const StoreShape *sh = &r->layout.shape;
    for (int d = 0; d < r->n_defs; d++) {
        const DatasetDef *def = &r->defs[d];
        if (def->dim < DIM_POINT || !store_file_has(&r->layout, def))
            continue;
        r->dset[d] = H5Dopen2(r->file, def->path, H5P_DEFAULT);
        if (r->dset[d] < 0) {
            H5Eclear2(H5E_DEFAULT);
            return bps_fail(err, "%s: damaged results file: dataset %s is missing%s", r->path,
                            def->path,
                            def->metric >= 0 ? " (the file's `metrics` attribute lists it)" : "");
        }
        hsize_t want[2] = {(hsize_t)sh->n_points, (hsize_t)store_row_width(sh, def->dim)};
        hsize_t got[2] = {0, 0};
        int want_rank = def->dim == DIM_POINT ? 1 : 2;
        hid_t space = H5Dget_space(r->dset[d]);
        int got_rank = space >= 0 && H5Sget_simple_extent_ndims(space) == want_rank
                           ? H5Sget_simple_extent_dims(space, got, NULL)
                           : -1;
        hid_t ftype = H5Dget_type(r->dset[d]);
        size_t fsize = ftype >= 0 ? H5Tget_size(ftype) : 0;
        if (ftype >= 0)
            H5Tclose(ftype);
        if (space >= 0)
            H5Sclose(space);
        H5Eclear2(H5E_DEFAULT);
        r->row_bytes[d] = store_row_bytes(def, sh);
        size_t es = r->row_bytes[d] / (size_t)want[1];
        if (got_rank != want_rank || got[0] != want[0] || (want_rank == 2 && got[1] != want[1]) ||
            fsize != es)
            return bps_fail(err, "%s: damaged results file: %s does not have the shape and type "
                            "the attributes say", r->path, def->path);
        if ((r->mtype[d] = store_h5_type(def, 0)) < 0)
            return store_h5_fail(err, r->path, "cannot make a memory type");
    }
    return 0;
}

/* Reads the axis of names of dimension dim (n of them, as the spec says). */
static int read_names(StoreReader *r, Dim dim, int n, char (**out)[SPEC_NAME_MAX], BpsErr *err)
{
    const DatasetDef *def = NULL;
    for (int d = 0; d < r->n_defs; d++)
        if (r->defs[d].role == ROLE_META && r->defs[d].dim == dim)
            def = &r->defs[d];
    assert(def && def->type == T_STR);
    *out = xcalloc((size_t)n, sizeof **out);
    hid_t dset = H5Dopen2(r->file, def->path, H5P_DEFAULT), space = H5I_INVALID_HID;
    hid_t mtype = store_h5_type(def, 0);
    hsize_t dims[1] = {0};
    int rc = -1;
    if (dset >= 0 && (space = H5Dget_space(dset)) >= 0 &&
        H5Sget_simple_extent_ndims(space) == 1 && H5Sget_simple_extent_dims(space, dims, NULL) == 1 &&
        dims[0] == (hsize_t)n && mtype >= 0 &&
        H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) >= 0)
        rc = 0;
    if (mtype >= 0)
        H5Tclose(mtype);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    H5Eclear2(H5E_DEFAULT);
    if (rc != 0)
        return bps_fail(err, "%s: damaged results file: %s is missing or does not match the "
                        "stored spec", r->path, def->path);
    for (int i = 0; i < n; i++)
        (*out)[i][SPEC_NAME_MAX - 1] = '\0';
    return 0;
}

/* The stored spec: present, matching its hash, parsing, of the file's size. */
static int read_spec(StoreReader *r, BpsErr *err)
{
    r->spec_json = store_h5_read_string(r->file, "/spec_json", false);
    char *hash = store_h5_attr_string(r->file, "spec_hash");
    if (hash)
        snprintf(r->spec_hash, sizeof r->spec_hash, "%s", hash);
    free(hash);
    if (!r->spec_json || !r->spec_hash[0])
        return bps_fail(err, "%s: damaged results file: no /spec_json or spec_hash", r->path);
    char want[17];
    snprintf(want, sizeof want, "%016" PRIx64,
             bps_hash_bytes(BPS_HASH_INIT, r->spec_json, strlen(r->spec_json)));
    if (strcmp(want, r->spec_hash) != 0)
        return bps_fail(err, "%s: damaged results file: the stored spec (/spec_json) does not "
                        "match its hash (spec_hash %s, computed %s)", r->path, r->spec_hash, want);
    if (spec_parse(r->spec_json, r->path, &r->spec, err) != 0) {
        bps_err_prefix(err, "%s: damaged results file: the stored spec does not parse", r->path);
        return -1;
    }
    if (grid_size(r->spec) != r->layout.shape.n_points)
        return bps_fail(err, "%s: damaged results file: n_points is not the size of the stored "
                        "spec's grid", r->path);
    return 0;
}

int store_reader_open(const char *path, StoreReader **out, BpsErr *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *out = NULL;
    StoreReader *r = xcalloc(1, sizeof *r);
    r->path = xstrdup(path);
    r->n_defs = store_layout_defs(r->defs);
    r->status_def = -1;
    for (int d = 0; d < r->n_defs; d++) {
        r->dset[d] = r->mtype[d] = H5I_INVALID_HID;
        if (r->defs[d].role == ROLE_STATUS)
            r->status_def = d;
    }
    r->file = open_readonly(path, &r->layout, err);
    if (r->file < 0)
        goto fail;
    r->created = store_h5_attr_string(r->file, "created");
    r->bpsweep_version = store_h5_attr_string(r->file, "bpsweep_version");
    r->data_files = store_h5_attr_string(r->file, "data_files");
    if (read_spec(r, err) != 0 || read_metric_list(r, err) != 0 || check_datasets(r, err) != 0 ||
        read_names(r, DIM_ARCH, r->spec->n_arch, &r->arch_names, err) != 0 ||
        read_names(r, DIM_COND, r->spec->n_cond, &r->cond_names, err) != 0)
        goto fail;
    size_t row = 0;
    for (int d = 0; d < r->n_defs; d++)
        row += r->row_bytes[d];
    r->chunk_rows = (int64_t)(READ_CHUNK_BYTES / (row ? row : 1));
    r->chunk_rows = r->chunk_rows < 1 ? 1 : r->chunk_rows;
    r->chunk_rows = r->chunk_rows > READ_CHUNK_ROWS ? READ_CHUNK_ROWS : r->chunk_rows;
    if (r->chunk_rows > r->layout.shape.n_points)
        r->chunk_rows = r->layout.shape.n_points;
    for (int d = 0; d < r->n_defs; d++)
        if (r->dset[d] >= 0)
            r->chunk[d] = xcalloc((size_t)r->chunk_rows, r->row_bytes[d]);
    *out = r;
    return 0;
fail:
    store_reader_close(r);
    return -1;
}

const Spec *store_reader_spec(const StoreReader *r)
{
    return r->spec;
}

const StoreShape *store_reader_shape(const StoreReader *r)
{
    return &r->layout.shape;
}

const unsigned char *store_reader_row(const StoreReader *r, int d, int64_t i)
{
    return r->dset[d] >= 0 ? r->chunk[d] + (size_t)i * r->row_bytes[d] : NULL;
}

void store_reader_close(StoreReader *r)
{
    if (!r)
        return;
    for (int d = 0; d < r->n_defs; d++) {
        if (r->dset[d] >= 0)
            H5Dclose(r->dset[d]);
        if (r->mtype[d] >= 0)
            H5Tclose(r->mtype[d]);
        free(r->chunk[d]);
    }
    if (r->file >= 0)
        H5Fclose(r->file);
    H5Eclear2(H5E_DEFAULT);
    spec_free(r->spec);
    free(r->arch_names);
    free(r->cond_names);
    free(r->spec_json);
    free(r->created);
    free(r->bpsweep_version);
    free(r->data_files);
    free(r->path);
    free(r);
}

/* ---- reading rows ------------------------------------------------------------------------- */

/* Reads rows [first, first + n) of per-point dataset d into r->chunk[d]. */
static int read_rows(StoreReader *r, int d, int64_t first, int64_t n, BpsErr *err)
{
    const DatasetDef *def = &r->defs[d];
    int nd = def->dim == DIM_POINT ? 1 : 2;
    hsize_t start[2] = {(hsize_t)first, 0};
    hsize_t count[2] = {(hsize_t)n, (hsize_t)store_row_width(&r->layout.shape, def->dim)};
    hid_t fs = H5Dget_space(r->dset[d]), ms = H5Screate_simple(nd, count, NULL);
    int rc = -1;
    if (fs >= 0 && ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(r->dset[d], r->mtype[d], ms, fs, H5P_DEFAULT, r->chunk[d]) >= 0)
        rc = 0;
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    if (rc != 0) {
        char what[128];
        snprintf(what, sizeof what, "cannot read %s", def->path);
        return store_h5_fail(err, r->path, what);
    }
    return 0;
}

/* Reads rows [first, first + n) of every per-point dataset into r->chunk: /status first,
 * and when every row of the chunk is pending only the coordinates besides (the rest of
 * a pending row is never used: the file of a sweep that has just started reads fast). */
static int read_chunk(StoreReader *r, int64_t first, int64_t n, BpsErr *err)
{
    int s = r->status_def;
    if (NEVER(s < 0 || r->dset[s] < 0))
        return bps_fail(err, "%s: no /status", r->path);
    if (read_rows(r, s, first, n, err) != 0)
        return -1;
    bool any_finished = false;
    for (int64_t i = 0; i < n && !any_finished; i++)
        any_finished = r->chunk[s][i] != POINT_PENDING;
    for (int d = 0; d < r->n_defs; d++) {
        if (r->dset[d] < 0 || d == s || (!any_finished && r->defs[d].role != ROLE_COORD))
            continue;
        if (read_rows(r, d, first, n, err) != 0)
            return -1;
    }
    return 0;
}

/* Whether row i of the chunk is damaged: a status byte out of range, axis indices out
 * of range, or (format 2, finished rows) a checksum that does not match the row: FNV-1a
 * over the row of every per-point dataset of the file in layout order, status and
 * checksum left out, then the status byte. */
static bool row_damaged(const StoreReader *r, int64_t i)
{
    uint8_t status = 0;
    uint64_t want = 0, sum = BPS_HASH_INIT;
    bool checksum = false;
    for (int d = 0; d < r->n_defs; d++) {
        const unsigned char *row = store_reader_row(r, d, i);
        const DatasetDef *def = &r->defs[d];
        if (!row)
            continue;
        if (def->role == ROLE_STATUS) {
            status = row[0];
        } else if (def->role == ROLE_CHECKSUM) {
            memcpy(&want, row, sizeof want);
            checksum = true;
        } else if (def->role == ROLE_COORD && def->axis != DIM_SCALAR) {
            int32_t v;
            memcpy(&v, row, sizeof v);
            if (v < 0 || v >= store_axis_length(r->spec, def->axis))
                return true;
        }
    }
    if (status > POINT_FAILED)
        return true;
    if (!checksum || status == POINT_PENDING)
        return false;
    for (int d = 0; d < r->n_defs; d++) {
        const unsigned char *row = store_reader_row(r, d, i);
        if (row && r->defs[d].role != ROLE_STATUS && r->defs[d].role != ROLE_CHECKSUM)
            sum = bps_hash_bytes(sum, row, r->row_bytes[d]);
    }
    sum = bps_hash_bytes(sum, &status, 1);
    return sum != want;
}

/* ---- the table ------------------------------------------------------------------------------ */

/* A StoreTable's per-point arrays, by offset: the layout's columns, the names and the
 * damage flags. A column is a pointer member of StoreTable, read and written through
 * memcpy (every object pointer has the same representation on the platforms bpsweep
 * runs on). */
typedef struct {
    size_t offset, size; /* of the pointer in StoreTable; of one entry */
} Column;

#define MAX_COLUMNS (STORE_MAX_DEFS + 3)

static int table_columns(Column *c)
{
    DatasetDef defs[STORE_MAX_DEFS];
    int n_defs = store_layout_defs(defs), n = 0;
    StoreShape one = {.n_points = 1};
    for (int d = 0; d < n_defs; d++)
        if (defs[d].column != STORE_NO_COLUMN)
            c[n++] = (Column){defs[d].column, store_row_bytes(&defs[d], &one)};
    c[n++] = (Column){offsetof(StoreTable, arch_name), SPEC_NAME_MAX};
    c[n++] = (Column){offsetof(StoreTable, cond_name), SPEC_NAME_MAX};
    c[n++] = (Column){offsetof(StoreTable, damaged), 1};
    return n;
}

static void *column_get(const StoreTable *t, size_t offset)
{
    void *p;
    memcpy(&p, (const unsigned char *)t + offset, sizeof p);
    return p;
}

static void column_set(StoreTable *t, size_t offset, void *p)
{
    memcpy((unsigned char *)t + offset, &p, sizeof p);
}

/* Rows of pending points were never written (datasets are not filled), and damaged rows
 * cannot be trusted: give them defined values instead of whatever the disk held. */
static void clear_pending(StoreTable *t)
{
    for (int64_t i = 0; i < t->n_rows; i++) {
        if (t->damaged[i])
            t->status[i] = POINT_PENDING;
        if (t->status[i] != POINT_PENDING)
            continue;
        t->param_hash[i] = 0;
        t->epochs_run[i] = t->diverged_epoch[i] = t->attempts[i] = 0;
        t->rank[i] = -1;
        t->n_params[i] = 0;
        t->wall_seconds[i] = t->finished[i] = NAN;
        memset(t->host[i], 0, sizeof t->host[i]);
        memset(t->message[i], 0, sizeof t->message[i]);
        for (int m = 0; m < N_METRICS; m++)
            if (t->scalar[m])
                t->scalar[m][i] = NAN;
    }
}

/* Fills t (freed first) with rows [first, first + n) of r's current chunk. */
static void fill_table(const StoreReader *r, int64_t first, int64_t n, StoreTable *t)
{
    store_table_free(t);
    t->shape = r->layout.shape;
    t->format_version = r->layout.version;
    t->first = first;
    t->n_rows = n;
    t->spec_json = xstrdup(r->spec_json);
    snprintf(t->spec_hash, sizeof t->spec_hash, "%s", r->spec_hash);
    t->created = r->created ? xstrdup(r->created) : NULL;
    t->bpsweep_version = r->bpsweep_version ? xstrdup(r->bpsweep_version) : NULL;
    t->data_files = r->data_files ? xstrdup(r->data_files) : NULL;
    t->damaged = xcalloc((size_t)n, 1);
    for (int d = 0; d < r->n_defs; d++) {
        const DatasetDef *def = &r->defs[d];
        if (def->column == STORE_NO_COLUMN)
            continue;
        size_t es = store_row_bytes(def, &r->layout.shape);
        unsigned char *col = xcalloc((size_t)n, es);
        column_set(t, def->column, col);
        if (r->dset[d] >= 0)
            memcpy(col, r->chunk[d], (size_t)n * es);
        else /* a scalar metric the file predates: not measured */
            store_row_pad(def, col, 0, n);
    }
    for (int64_t i = 0; i < n; i++) {
        t->key[i][sizeof t->key[i] - 1] = '\0'; /* a damaged byte may have taken the NUL */
        t->host[i][sizeof t->host[i] - 1] = t->message[i][sizeof t->message[i] - 1] = '\0';
        if (!row_damaged(r, i))
            continue;
        t->damaged[i] = 1;
        t->n_damaged++;
        /* its coordinates as the spec says, not as the damaged row may say */
        StoreRow c;
        store_row_coords(r->spec, first + i, &c);
        for (int d = 0; d < r->n_defs; d++) {
            const DatasetDef *def = &r->defs[d];
            if (def->role != ROLE_COORD)
                continue;
            size_t es = store_row_bytes(def, &r->layout.shape);
            memcpy((unsigned char *)column_get(t, def->column) + (size_t)i * es,
                   (const unsigned char *)&c + def->row, es);
        }
    }
    clear_pending(t);
    t->arch_name = xcalloc((size_t)n, sizeof *t->arch_name);
    t->cond_name = xcalloc((size_t)n, sizeof *t->cond_name);
    for (int64_t i = 0; i < n; i++) {
        memcpy(t->arch_name[i], r->arch_names[t->arch[i]], sizeof t->arch_name[i]);
        memcpy(t->cond_name[i], r->cond_names[t->cond[i]], sizeof t->cond_name[i]);
    }
}

int store_reader_next(StoreReader *r, StoreTable *t, BpsErr *err)
{
    int64_t n_points = r->layout.shape.n_points;
    if (r->next >= n_points)
        return 0;
    int64_t n = n_points - r->next < r->chunk_rows ? n_points - r->next : r->chunk_rows;
    if (read_chunk(r, r->next, n, err) != 0)
        return -1;
    fill_table(r, r->next, n, t);
    r->next += n;
    return 1;
}

int store_read_table(const char *path, StoreTable *t, BpsErr *err)
{
    memset(t, 0, sizeof *t);
    StoreReader *r = NULL;
    if (store_reader_open(path, &r, err) != 0)
        return -1;
    Column cols[MAX_COLUMNS];
    int n_cols = table_columns(cols);
    StoreTable chunk = {0};
    int got;
    while ((got = store_reader_next(r, &chunk, err)) == 1) {
        if (chunk.first == 0) { /* the first chunk sets the table up for every point */
            *t = chunk;
            memset(&chunk, 0, sizeof chunk);
            t->n_rows = t->shape.n_points;
            for (int c = 0; c < n_cols; c++)
                column_set(t, cols[c].offset, xrealloc(column_get(t, cols[c].offset),
                                                       (size_t)t->n_rows * cols[c].size));
            continue;
        }
        for (int c = 0; c < n_cols; c++) /* the chunk's rows in place */
            memcpy((unsigned char *)column_get(t, cols[c].offset) + (size_t)chunk.first * cols[c].size,
                   column_get(&chunk, cols[c].offset), (size_t)chunk.n_rows * cols[c].size);
        t->n_damaged += chunk.n_damaged;
    }
    store_table_free(&chunk);
    store_reader_close(r);
    if (got != 0)
        store_table_free(t);
    return got == 0 ? 0 : -1;
}

void store_table_free(StoreTable *t)
{
    if (!t)
        return;
    free(t->spec_json);
    free(t->created);
    free(t->bpsweep_version);
    free(t->data_files);
    Column cols[MAX_COLUMNS];
    int n_cols = table_columns(cols);
    for (int c = 0; c < n_cols; c++)
        free(column_get(t, cols[c].offset));
    memset(t, 0, sizeof *t);
}
