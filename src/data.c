/* data: a DataConfig's train and test sets, loaded by the reader of its source
 * (data_internal.h says which file holds what), normalised, with their provenance;
 * dataset_free. The formats and messages are described in docs/data.md. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dataset_load_provenance; compact: byte sources in the compact form. */
static int load_sets(const DataConfig *cfg, bool compact, Dataset *train, Dataset *test,
                     DataProvenance *prov, BpsErr *err)
{
    char paths[DATA_PROV_MAX_FILES][DATA_FILE_PATH_MAX];
    const char *file[DATA_PROV_MAX_FILES];
    int n_files = 0;
    float scale = 255.0f;
    for (int i = 0; i < DATA_PROV_MAX_FILES; i++)
        file[i] = paths[i];
    switch (cfg->kind) {
    case DATA_IDX:
        if (cfg->path[0] == '\0')
            return bps_fail(err, "IDX data: the data directory path is empty");
        if (data_idx_load_dir(cfg->path, cfg->train_subset, cfg->test_subset, compact, train,
                              test, paths, err) != 0)
            return -1;
        n_files = 4;
        break;
    case DATA_SYNTHETIC:
        return data_load_synthetic(cfg, train, test, err);
    case DATA_CIFAR10:
    case DATA_CIFAR100: {
        if (cfg->path[0] == '\0')
            return bps_fail(err, "CIFAR data: the data directory path is empty");
        int rc = cfg->kind == DATA_CIFAR10
                     ? data_cifar10_read(cfg->path, cfg->train_subset, cfg->test_subset,
                                         compact, train, test, err)
                     : data_cifar100_read(cfg->path, cfg->labels == CIFAR_FINE,
                                          cfg->train_subset, cfg->test_subset, compact, train,
                                          test, err);
        if (rc != 0)
            return -1;
        data_cifar_paths(cfg, paths, &n_files);
        break;
    }
    case DATA_HDF5:
        scale = 1.0f;
        if (cfg->path[0] == '\0')
            return bps_fail(err, "HDF5 data: the file path is empty");
        if (cfg->classes < 2 || cfg->classes > 256)
            return bps_fail(err, "HDF5 data: classes must be in [2, 256], got %d", cfg->classes);
        if (dataset_read_hdf5(cfg->path, &cfg->h5, cfg->classes, cfg->train_subset,
                              cfg->test_subset, compact, train, test, &scale, err) != 0)
            return -1;
        snprintf(paths[0], DATA_FILE_PATH_MAX, "%s", cfg->path);
        n_files = 1;
        break;
    default:
        return bps_fail(err, "unknown data kind %d", (int)cfg->kind);
    }
    /* the statistics leave out the validation samples at the end of the training set */
    if (cfg->validation >= train->n) {
        int n = train->n;
        dataset_free(train);
        dataset_free(test);
        return bps_fail(err, "data.validation: %d samples held out of %d training samples; at "
                        "least one must be left to train on", cfg->validation, n);
    }
    const int n_stats = train->n - cfg->validation;
    data_prov_stats_alloc(prov, train, cfg->norm);
    if (train->x8)
        data_normalize_compact(train, n_stats, test, cfg->norm, scale,
                               prov ? prov->mean : NULL, prov ? prov->std : NULL);
    else
        data_normalize_float(train, n_stats, test, cfg->norm, scale, NULL, NULL,
                             prov ? prov->mean : NULL, prov ? prov->std : NULL);
    if (prov) {
        char dir[DATA_FILE_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", cfg->path);
        if (cfg->kind == DATA_HDF5) { /* the file's directory */
            char *slash = strrchr(dir, '/');
            if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
            else
                snprintf(dir, sizeof dir, ".");
        }
        if (data_prov_files(prov, dir, file, n_files, err) != 0) {
            dataset_free(train);
            dataset_free(test);
            return -1;
        }
    }
    return 0;
}

/* dataset_load_provenance and dataset_load_compact. */
static int load(const DataConfig *cfg, bool compact, Dataset *train, Dataset *test,
                DataProvenance *prov, BpsErr *err)
{
    static const char *const SOURCE[] = {[DATA_IDX] = "idx", [DATA_SYNTHETIC] = "synthetic",
                                         [DATA_CIFAR10] = "cifar10", [DATA_CIFAR100] = "cifar100",
                                         [DATA_HDF5] = "hdf5"};
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (prov)
        memset(prov, 0, sizeof *prov);
    if (load_sets(cfg, compact, train, test, prov, err) != 0) {
        data_provenance_free(prov);
        return -1;
    }
    if (prov) {
        snprintf(prov->source, sizeof prov->source, "%s", SOURCE[cfg->kind]);
        prov->shape = dataset_shape(train);
        prov->n_train = train->n;
        prov->n_test = test->n;
        prov->norm = train->norm;
    }
    return 0;
}

int dataset_load_provenance(const DataConfig *cfg, Dataset *train, Dataset *test,
                            DataProvenance *prov, BpsErr *err)
{
    return load(cfg, false, train, test, prov, err);
}

int dataset_load_compact(const DataConfig *cfg, Dataset *train, Dataset *test,
                         DataProvenance *prov, BpsErr *err)
{
    return load(cfg, true, train, test, prov, err);
}

int dataset_load(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err)
{
    return dataset_load_provenance(cfg, train, test, NULL, err);
}

void dataset_free(Dataset *ds)
{
    if (!ds)
        return;
    if (!ds->borrowed) {
        free(ds->x);
        free(ds->x8);
        free(ds->lut);
        free(ds->y);
    }
    memset(ds, 0, sizeof *ds);
}
