/* The HDF5 helpers of the results file (see store_hdf5.h). */
#define _POSIX_C_SOURCE 200809L
#include "store_hdf5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

hid_t store_h5_string_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return H5I_INVALID_HID;
    if (H5Tset_size(t, size ? size : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

hid_t store_h5_type(const DatasetDef *d, size_t str_size)
{
    if (d->type == T_STR)
        return store_h5_string_type(str_size ? str_size : d->str_size);
    const hid_t native[N_ELEM_TYPES] = {
        [T_U8] = H5T_NATIVE_UINT8, [T_I32] = H5T_NATIVE_INT32, [T_I64] = H5T_NATIVE_INT64,
        [T_U64] = H5T_NATIVE_UINT64, [T_F32] = H5T_NATIVE_FLOAT, [T_F64] = H5T_NATIVE_DOUBLE,
    };
    if (NEVER(d->type < 0 || d->type >= N_ELEM_TYPES))
        return H5I_INVALID_HID;
    return H5Tcopy(native[d->type]);
}

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *ctx)
{
    char *buf = ctx;
    if (n == 0 && e->desc)
        snprintf(buf, BPS_ERR_MAX / 2, "%s", e->desc);
    return 0;
}

const char *store_h5_detail(char *buf)
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
    H5Eclear2(H5E_DEFAULT);
    if (!buf[0])
        snprintf(buf, BPS_ERR_MAX / 2, "HDF5 error");
    return buf;
}

int store_h5_fail(BpsErr *err, const char *path, const char *what)
{
    char detail[BPS_ERR_MAX / 2];
    return bps_fail(err, "%s: %s: %s", path, what, store_h5_detail(detail));
}

char *store_h5_read_string(hid_t obj, const char *name, bool attribute)
{
    char *out = NULL;
    hid_t h = H5I_INVALID_HID, ftype = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    if (attribute && H5Aexists(obj, name) <= 0)
        goto done;
    h = attribute ? H5Aopen(obj, name, H5P_DEFAULT) : H5Dopen2(obj, name, H5P_DEFAULT);
    if (h < 0)
        goto done;
    ftype = attribute ? H5Aget_type(h) : H5Dget_type(h);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0)
        goto done;
    size_t n = H5Tget_size(ftype);
    mtype = store_h5_string_type(n + 1);
    if (n == 0 || mtype < 0)
        goto done;
    out = xcalloc(n + 1, 1);
    if ((attribute ? H5Aread(h, mtype, out)
                   : H5Dread(h, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out)) < 0) {
        free(out);
        out = NULL;
    }
done:
    if (mtype >= 0)
        H5Tclose(mtype);
    if (ftype >= 0)
        H5Tclose(ftype);
    if (h >= 0)
        (void)(attribute ? H5Aclose(h) : H5Dclose(h));
    H5Eclear2(H5E_DEFAULT);
    return out;
}

char *store_h5_attr_string(hid_t obj, const char *name)
{
    return store_h5_read_string(obj, name, true);
}

int store_h5_attr_int(hid_t obj, const char *name, int64_t *v)
{
    int rc = -1;
    hid_t attr = H5I_INVALID_HID, ftype = H5I_INVALID_HID;
    if (H5Aexists(obj, name) <= 0)
        goto done;
    attr = H5Aopen(obj, name, H5P_DEFAULT);
    if (attr < 0)
        goto done;
    ftype = H5Aget_type(attr);
    if (ftype < 0 || H5Tget_class(ftype) != H5T_INTEGER)
        goto done;
    if (H5Aread(attr, H5T_NATIVE_INT64, v) >= 0)
        rc = 0;
done:
    if (ftype >= 0)
        H5Tclose(ftype);
    if (attr >= 0)
        H5Aclose(attr);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* A shape attribute that older files lack: *out = its value in [0, max], or 0 if absent. */
static int optional_shape_attr(hid_t file, const char *path, const char *name, int64_t max,
                               int64_t *out, BpsErr *err)
{
    *out = 0;
    if (H5Aexists(file, name) > 0 && (store_h5_attr_int(file, name, out) != 0 || *out < 0 ||
                                      *out > max))
        return bps_fail(err, "%s: damaged results file: attribute %s is invalid", path, name);
    return 0;
}

int store_h5_check_format(hid_t file, const char *path, FileLayout *fl, BpsErr *err)
{
    char *format = store_h5_attr_string(file, "format");
    bool ours = format && strcmp(format, STORE_FORMAT) == 0;
    free(format);
    int64_t version = 0;
    if (!ours || store_h5_attr_int(file, "format_version", &version) != 0 || version < 1)
        return bps_fail(err, "%s: not a bpsweep results file (no format = \"%s\" attribute)",
                        path, STORE_FORMAT);
    if (version > STORE_FORMAT_VERSION)
        return bps_fail(err,
                        "%s: written by a newer bpsweep (format version %lld; this one reads "
                        "up to %d): upgrade bpsweep to read it",
                        path, (long long)version, STORE_FORMAT_VERSION);
    int64_t v[4];
    const char *names[4] = {"n_points", "max_epochs", "max_layers", "max_params"};
    for (int i = 0; i < 4; i++)
        if (store_h5_attr_int(file, names[i], &v[i]) != 0 || v[i] < 0)
            return bps_fail(err, "%s: damaged results file: attribute %s is missing or invalid",
                            path, names[i]);
    if (v[0] < 1 || v[1] < 1 || v[1] > INT32_MAX || v[2] < 1 || v[2] > INT32_MAX)
        return bps_fail(err, "%s: damaged results file: invalid shape attributes", path);
    StoreShape *sh = &fl->shape;
    fl->version = (int)version;
    sh->n_points = v[0];
    sh->max_epochs = (int)v[1];
    sh->max_layers = (int)v[2];
    sh->max_params = v[3];
    /* absent in format-1 files written before the instruments: 0, no such datasets */
    if (optional_shape_attr(file, path, "ntk_size", 65536, &sh->ntk_m, err) != 0 ||
        optional_shape_attr(file, path, "max_rank", 1 << 20, &sh->max_rank, err) != 0 ||
        optional_shape_attr(file, path, "robust_eps", SPEC_MAX_EPS, &sh->n_eps, err) != 0)
        return -1;
    return 0;
}
