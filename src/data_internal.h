/* data_internal.h: what the files of the data module share, and nothing outside it
 * includes (the public interface is include/bpsweep/data.h).
 *
 *   data.c        dataset_load, _provenance, _compact: a DataConfig's sets from the reader
 *                 of its source, normalised, with their provenance; dataset_free
 *   data_idx.c    IDX files (zlib) and the standard directory of the four IDX files
 *   data_cifar.c  the CIFAR-10 and CIFAR-100 binary files
 *   data_hdf5.c   the "hdf5" source
 *   data_synth.c  synthetic sets (Gaussian clusters) and their checks
 *   data_norm.c   normalisation of the float form, the tables of the compact form
 *   data_rows.c   the accessors of samples in either form (dataset_rows, dataset_gather ...)
 *   data_prov.c   the provenance record: checksums, statistics, printing, comparison */
#ifndef BPSWEEP_DATA_INTERNAL_H
#define BPSWEEP_DATA_INTERNAL_H

#include <stdbool.h>

#include "bpsweep/data.h"

#define DATA_MAX_SAMPLES 100000000u /* more samples than this in a header means corruption */
#define DATA_MAX_FEATURES 1000000u  /* values per sample (IDX: rows * cols) */
#define DATA_FILE_PATH_MAX (DATA_PATH_MAX + 64) /* the path of a file in a data directory */

/* The readers fail with -1 and a message in err that names the file; `bytes`: the pixels
 * stay raw bytes in x8 (x NULL) for the compact form. */

/* data_idx.c: dataset_load_dir, with the paths of the four files it read in paths. */
int data_idx_load_dir(const char *dir, int keep_train, int keep_test, bool bytes, Dataset *train,
                      Dataset *test, char (*paths)[DATA_FILE_PATH_MAX], BpsErr *err);

/* data_cifar.c: dataset_read_cifar10 / _cifar100 with `bytes`, and the paths of the files
 * of cfg's CIFAR source (n_files of them, train files first). */
int data_cifar10_read(const char *dir, int keep_train, int keep_test, bool bytes,
                      Dataset *train, Dataset *test, BpsErr *err);
int data_cifar100_read(const char *dir, bool fine, int keep_train, int keep_test, bool bytes,
                       Dataset *train, Dataset *test, BpsErr *err);
void data_cifar_paths(const DataConfig *cfg, char (*paths)[DATA_FILE_PATH_MAX], int *n_files);

/* data_synth.c: cfg's synthetic train and test sets, after checking its settings. */
int data_load_synthetic(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err);

/* data_norm.c: dataset_normalize_scaled with the statistics of the first n_stats
 * training samples (data.validation holds out the others), applied to all of train and
 * to test. */
void data_normalize_float(Dataset *train, int n_stats, Dataset *test, Normalization norm,
                          float scale, float *lo, float *hi, double *mean_out, double *std_out);
/* data_norm.c: the compact form of train and test (raw bytes in x8): their tables, bit
 * for bit what data_normalize_float gives the float form; n_stats, mean_out, std_out as
 * there. */
void data_normalize_compact(Dataset *train, int n_stats, Dataset *test, Normalization norm,
                            float scale, double *mean_out, double *std_out);

/* data_prov.c: the statistics arrays of prov for norm on train (none for NULL prov or a
 * norm without statistics); prov->dir (dir's real path if it resolves) and the checksums
 * of the n files paths[i]. */
void data_prov_stats_alloc(DataProvenance *prov, const Dataset *train, Normalization norm);
int data_prov_files(DataProvenance *prov, const char *dir, const char *const *paths, int n,
                    BpsErr *err);

#endif
