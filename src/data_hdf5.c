/* data_hdf5: the "hdf5" data source - a train and a test split as datasets x (uint8 or
 * float32, (N, C, H, W) or (N, D)) and y (integers in [0, classes)) of one HDF5 file,
 * read serially with the default file access (no MPI-IO, no collective call: only the
 * node leader reads). The layout and messages are described in docs/data.md. */
#define _POSIX_C_SOURCE 200809L
#include <assert.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpsweep/data.h"

#define H5D_MAX_SAMPLES 100000000ull /* as for IDX: more means a corrupt or wrong file */
#define H5D_MAX_FEATURES 1000000ull  /* C*H*W */

/* One split while it is read: its x and y datasets and what they hold. */
typedef struct {
    const char *x_name, *y_name;
    hid_t x, y;                 /* H5I_INVALID_HID until opened */
    int rank;                   /* of x: 2 or 4 */
    hsize_t dims[4];            /* of x */
    bool bytes;                 /* x is uint8 (else float32) */
} H5Split;

static void split_close(H5Split *s)
{
    if (s->x >= 0)
        H5Dclose(s->x);
    if (s->y >= 0)
        H5Dclose(s->y);
    s->x = s->y = H5I_INVALID_HID;
}

/* Opens dataset `name` of file, or fails naming the file, the dataset and the four names
 * expected. */
static hid_t open_dataset(hid_t file, const char *path, const char *name, const char *key,
                          BpsErr *err)
{
    /* H5Lexists on each component: a missing group is "no", not an error */
    char part[DATA_H5_NAME_MAX + 1];
    size_t len = strlen(name);
    for (size_t i = 1; i <= len; i++) {
        if (i < len && name[i] != '/')
            continue;
        memcpy(part, name, i);
        part[i] = '\0';
        if (H5Lexists(file, part, H5P_DEFAULT) <= 0) {
            bps_fail(err,
                     "%s: no dataset \"%s\" (no \"%s\" in the file); expected datasets for the "
                     "train and test x and y (their names are set by data.%s)",
                     path, name, part, key);
            return H5I_INVALID_HID;
        }
    }
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        bps_fail(err, "%s: \"%s\" is not a dataset (a group?); expected an array (data.%s)", path,
                 name, key);
    return d;
}

/* Opens and checks the split's x and y: x uint8 or float32 of rank 2 or 4 with at least
 * one sample, y integers of rank 1 with x's sample count. */
static int split_open(hid_t file, const char *path, H5Split *s, const char *x_key,
                      const char *y_key, BpsErr *err)
{
    hid_t type = H5I_INVALID_HID, space = H5I_INVALID_HID;
    s->x = open_dataset(file, path, s->x_name, x_key, err);
    if (s->x < 0)
        return -1;
    s->y = open_dataset(file, path, s->y_name, y_key, err);
    if (s->y < 0)
        return -1;

    type = H5Dget_type(s->x);
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    if (cls == H5T_INTEGER && size == 1 && H5Tget_sign(type) == H5T_SGN_NONE) {
        s->bytes = true;
    } else if (cls == H5T_FLOAT && size == 4) {
        s->bytes = false;
    } else {
        bps_fail(err,
                 "%s: dataset \"%s\" holds %s of %zu bytes; expected uint8 (pixels 0..255) or "
                 "float32 values", path, s->x_name,
                 cls == H5T_INTEGER ? "integers" : cls == H5T_FLOAT ? "floats" : "values", size);
        goto fail;
    }
    H5Tclose(type);
    type = H5I_INVALID_HID;
    space = H5Dget_space(s->x);
    s->rank = H5Sget_simple_extent_ndims(space);
    if (s->rank != 2 && s->rank != 4) {
        bps_fail(err, "%s: dataset \"%s\" has %d dimensions; expected (N, D) or (N, C, H, W)",
                 path, s->x_name, s->rank);
        goto fail;
    }
    H5Sget_simple_extent_dims(space, s->dims, NULL);
    H5Sclose(space);
    space = H5I_INVALID_HID;
    unsigned long long feat = 1;
    for (int i = 1; i < s->rank; i++) {
        feat *= (unsigned long long)s->dims[i];
        if (s->dims[i] == 0 || feat > H5D_MAX_FEATURES) {
            bps_fail(err, "%s: dataset \"%s\": %llu values per sample; expected 1 to %llu", path,
                     s->x_name, s->dims[i] == 0 ? 0ull : feat, H5D_MAX_FEATURES);
            goto fail;
        }
    }
    if (s->dims[0] == 0) {
        bps_fail(err, "%s: dataset \"%s\" holds 0 samples; expected at least one", path,
                 s->x_name);
        goto fail;
    }
    if (s->dims[0] > H5D_MAX_SAMPLES) {
        bps_fail(err, "%s: dataset \"%s\" holds %llu samples, more than the limit of %llu", path,
                 s->x_name, (unsigned long long)s->dims[0], H5D_MAX_SAMPLES);
        goto fail;
    }

    type = H5Dget_type(s->y);
    if (H5Tget_class(type) != H5T_INTEGER) {
        bps_fail(err, "%s: dataset \"%s\" holds %s; expected integer class labels", path,
                 s->y_name, H5Tget_class(type) == H5T_FLOAT ? "floating-point values" :
                 "values that are not integers");
        goto fail;
    }
    H5Tclose(type);
    type = H5I_INVALID_HID;
    space = H5Dget_space(s->y);
    int yrank = H5Sget_simple_extent_ndims(space);
    hsize_t ydims[H5S_MAX_RANK];
    if (yrank != 1) {
        bps_fail(err, "%s: dataset \"%s\" has %d dimensions; expected one label per sample, (N)",
                 path, s->y_name, yrank);
        goto fail;
    }
    H5Sget_simple_extent_dims(space, ydims, NULL);
    H5Sclose(space);
    space = H5I_INVALID_HID;
    if (ydims[0] != s->dims[0]) {
        bps_fail(err, "%s: dataset \"%s\" holds %llu samples but \"%s\" holds %llu labels; they "
                 "must describe the same samples", path, s->x_name,
                 (unsigned long long)s->dims[0], s->y_name, (unsigned long long)ydims[0]);
        goto fail;
    }
    return 0;
fail:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    return -1;
}

/* Reads all labels (checked against classes) and the first `keep` samples of x (0 = all)
 * into out, as floats with their raw values, or with as_bytes (uint8 x only) as the raw
 * bytes in out->x8. */
static int split_read(const char *path, H5Split *s, int classes, int keep, const char *keep_name,
                      bool as_bytes, Dataset *out, BpsErr *err)
{
    const hsize_t n = s->dims[0];
    size_t d = 1;
    int64_t *lab = NULL;
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    memset(out, 0, sizeof *out);
    if (keep < 0) {
        bps_fail(err, "%s %d is negative; use 0 for all samples", keep_name, keep);
        goto fail;
    }
    if ((hsize_t)keep > n) {
        bps_fail(err, "%s %d exceeds the %llu samples of %s (dataset \"%s\")", keep_name, keep,
                 (unsigned long long)n, path, s->x_name);
        goto fail;
    }
    for (int i = 1; i < s->rank; i++)
        d *= (size_t)s->dims[i];
    const hsize_t n_keep = keep > 0 ? (hsize_t)keep : n;

    /* every label is read and checked, kept or not */
    lab = xmalloc((size_t)n * sizeof *lab);
    if (H5Dread(s->y, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) < 0) {
        bps_fail(err, "%s: cannot read dataset \"%s\" as 64-bit integers", path, s->y_name);
        goto fail;
    }
    for (hsize_t i = 0; i < n; i++) {
        if (lab[i] < 0 || lab[i] >= classes) {
            bps_fail(err, "%s: dataset \"%s\": label %lld at index %llu is out of range [0, %d)",
                     path, s->y_name, (long long)lab[i], (unsigned long long)i, classes);
            goto fail;
        }
    }

    /* the first n_keep samples of x, converted by HDF5 to float (uint8 exactly) */
    hsize_t start[4] = {0, 0, 0, 0}, count[4];
    for (int i = 0; i < s->rank; i++)
        count[i] = s->dims[i];
    count[0] = n_keep;
    fspace = H5Dget_space(s->x);
    mspace = H5Screate_simple(s->rank, count, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) {
        bps_fail(err, "%s: cannot select the first %llu samples of \"%s\"", path,
                 (unsigned long long)n_keep, s->x_name);
        goto fail;
    }
    assert(!as_bytes || s->bytes);
    if (as_bytes)
        out->x8 = xalloc_aligned((size_t)n_keep * d);
    else
        out->x = xalloc_aligned((size_t)n_keep * d * sizeof(float));
    if (H5Dread(s->x, as_bytes ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, mspace, fspace, H5P_DEFAULT,
                as_bytes ? (void *)out->x8 : (void *)out->x) < 0) {
        bps_fail(err, "%s: cannot read dataset \"%s\" (damaged file?)", path, s->x_name);
        goto fail;
    }
    out->y = xmalloc((size_t)n_keep);
    for (hsize_t i = 0; i < n_keep; i++)
        out->y[i] = (uint8_t)lab[i];
    free(lab);
    H5Sclose(fspace);
    H5Sclose(mspace);
    out->n = (int)n_keep;
    out->d = (int)d;
    out->classes = classes;
    out->c = s->rank == 4 ? (int)s->dims[1] : (int)d;
    out->h = s->rank == 4 ? (int)s->dims[2] : 1;
    out->w = s->rank == 4 ? (int)s->dims[3] : 1;
    return 0;
fail:
    free(lab);
    if (fspace >= 0)
        H5Sclose(fspace);
    if (mspace >= 0)
        H5Sclose(mspace);
    free(out->x);
    free(out->x8);
    free(out->y);
    memset(out, 0, sizeof *out);
    return -1;
}

int dataset_read_hdf5(const char *path, const DataH5Names *names, int classes, int keep_train,
                      int keep_test, bool bytes, Dataset *train, Dataset *test, float *scale,
                      BpsErr *err)
{
    H5Split tr = {names->train_x, names->train_y, H5I_INVALID_HID, H5I_INVALID_HID, 0, {0}, false};
    H5Split te = {names->test_x, names->test_y, H5I_INVALID_HID, H5I_INVALID_HID, 0, {0}, false};
    hid_t file = H5I_INVALID_HID;
    int rc = -1;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);

    /* the file first with open(2), for the system's reason when it cannot be read */
    struct stat st;
    FILE *probe = fopen(path, "rb");
    if (!probe)
        return bps_fail(err, "%s: cannot open HDF5 data file: %s", path, strerror(errno));
    int is_dir = fstat(fileno(probe), &st) == 0 && S_ISDIR(st.st_mode);
    fclose(probe);
    if (is_dir)
        return bps_fail(err, "%s: is a directory, expected an HDF5 file", path);

    /* errors become one BpsErr message instead of HDF5's printed stack */
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); /* serial: the default file access */
    if (file < 0) {
        bps_fail(err, "%s: not an HDF5 file (or a damaged one); expected a file written by "
                 "HDF5 or h5py", path);
        goto done;
    }
    if (split_open(file, path, &tr, "train_x", "train_y", err) != 0 ||
        split_open(file, path, &te, "test_x", "test_y", err) != 0)
        goto done;
    if (tr.bytes != te.bytes) {
        bps_fail(err, "%s: \"%s\" holds %s but \"%s\" holds %s; train and test must have the "
                 "same type", path, tr.x_name, tr.bytes ? "uint8" : "float32", te.x_name,
                 te.bytes ? "uint8" : "float32");
        goto done;
    }
    bool same = tr.rank == te.rank;
    for (int i = 1; same && i < tr.rank; i++)
        same = tr.dims[i] == te.dims[i];
    if (!same) {
        bps_fail(err, "%s: the samples of \"%s\" and \"%s\" differ in shape; train and test "
                 "must have the same sample shape", path, tr.x_name, te.x_name);
        goto done;
    }
    if (split_read(path, &tr, classes, keep_train, "train_subset", bytes && tr.bytes, train,
                   err) != 0)
        goto done;
    if (split_read(path, &te, classes, keep_test, "test_subset", bytes && te.bytes, test,
                   err) != 0) {
        dataset_free(train);
        goto done;
    }
    if (scale)
        *scale = tr.bytes ? 255.0f : 1.0f;
    rc = 0;
done:
    split_close(&tr);
    split_close(&te);
    if (file >= 0)
        H5Fclose(file);
    H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    return rc;
}
