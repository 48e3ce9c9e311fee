/* data_cifar: the binary distributions of CIFAR-10 and CIFAR-100 (records of label
 * bytes and 3x32x32 pixel bytes) into a Dataset. The format and messages are described
 * in docs/data.md. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_C 3
#define CIFAR_HW 32
#define CIFAR_PIXELS (CIFAR_C * CIFAR_HW * CIFAR_HW) /* 3072: 1024 R, 1024 G, 1024 B */
#define CIFAR_CHUNK 1024                             /* records per read */
#define CIFAR_MAX_FILES 6

/* The files of the binary distributions, train files first. */
static const char *const CIFAR10_FILES[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                             "data_batch_3.bin", "data_batch_4.bin",
                                             "data_batch_5.bin", "test_batch.bin"};
static const char *const CIFAR100_FILES[2] = {"train.bin", "test.bin"};

/* A record layout: label_bytes label bytes (each checked against its classes), then
 * CIFAR_PIXELS pixel bytes; label byte `keep_label` is the sample's label. */
typedef struct {
    const char *name;                    /* "CIFAR-10", "CIFAR-100" */
    int label_bytes;                     /* 1 or 2 */
    int keep_label;
    int classes[2];
    const char *label_names[2];
    const char *layout;                  /* the files expected, for messages */
} CifarFormat;

/* One split (train or test): its files, opened and sized. */
typedef struct {
    int n_files;
    char paths[CIFAR_MAX_FILES][DATA_PATH_MAX + 32];
    FILE *f[CIFAR_MAX_FILES];
    uint64_t records[CIFAR_MAX_FILES];
    uint64_t n;                          /* records of all files */
} CifarSplit;

static void cifar_close(CifarSplit *sp)
{
    for (int i = 0; i < sp->n_files; i++) {
        if (sp->f[i])
            fclose(sp->f[i]);
        sp->f[i] = NULL;
    }
}

/* Opens the split's files dir/names[i] and checks each size: a positive whole number
 * of records. On failure every file is closed and err names the file. */
static int cifar_open(CifarSplit *sp, const char *dir, const char *const *names, int n_files,
                      const CifarFormat *fmt, BpsErr *err)
{
    const uint64_t rec = (uint64_t)fmt->label_bytes + CIFAR_PIXELS;
    memset(sp, 0, sizeof *sp);
    sp->n_files = n_files;
    for (int i = 0; i < n_files; i++) {
        const char *path = sp->paths[i];
        int len = snprintf(sp->paths[i], sizeof sp->paths[i], "%s/%s", dir, names[i]);
        if (len < 0 || (size_t)len >= sizeof sp->paths[i]) {
            bps_fail(err, "%s: data directory path too long", dir);
            goto fail;
        }
        sp->f[i] = fopen(path, "rb");
        struct stat st;
        if (!sp->f[i] || fstat(fileno(sp->f[i]), &st) != 0) {
            bps_fail(err, "%s: cannot open %s file: %s; expected %s", path, fmt->name,
                     strerror(errno), fmt->layout);
            goto fail;
        }
        if (S_ISDIR(st.st_mode)) {
            bps_fail(err, "%s: is a directory, expected a %s file of %llu-byte records", path,
                     fmt->name, (unsigned long long)rec);
            goto fail;
        }
        const uint64_t size = (uint64_t)st.st_size;
        if (size == 0) {
            bps_fail(err, "%s: empty file; expected %s records of %llu bytes (%d label byte%s + "
                     "%d pixel bytes)", path, fmt->name, (unsigned long long)rec,
                     fmt->label_bytes, fmt->label_bytes > 1 ? "s" : "", CIFAR_PIXELS);
            goto fail;
        }
        if (size % rec != 0) {
            bps_fail(err, "%s: %llu bytes is not a whole number of %llu-byte %s records (%d "
                     "label byte%s + %d pixel bytes): %llu records and %llu bytes left over; "
                     "truncated or not a %s file?", path, (unsigned long long)size,
                     (unsigned long long)rec, fmt->name, fmt->label_bytes,
                     fmt->label_bytes > 1 ? "s" : "", CIFAR_PIXELS,
                     (unsigned long long)(size / rec), (unsigned long long)(size % rec),
                     fmt->name);
            goto fail;
        }
        sp->records[i] = size / rec;
        sp->n += sp->records[i];
        if (sp->n > DATA_MAX_SAMPLES) {
            bps_fail(err, "%s: more than %u %s records in the split", path, DATA_MAX_SAMPLES,
                     fmt->name);
            goto fail;
        }
    }
    return 0;
fail:
    cifar_close(sp);
    return -1;
}

/* Reads every record of the split's files in order, checks every label, and keeps the
 * first `keep` samples (0 = all) as a (keep, 3, 32, 32) set, of raw floats or (bytes)
 * raw bytes in x8. Closes the files. */
static int cifar_read_split(CifarSplit *sp, const CifarFormat *fmt, int keep,
                            const char *keep_name, bool bytes, Dataset *out, BpsErr *err)
{
    const size_t rec = (size_t)fmt->label_bytes + CIFAR_PIXELS;
    unsigned char *buf = NULL;
    memset(out, 0, sizeof *out);
    if (keep < 0) {
        bps_fail(err, "%s %d is negative; use 0 for all samples", keep_name, keep);
        goto fail;
    }
    if ((uint64_t)keep > sp->n) {
        if (sp->n_files > 1)
            bps_fail(err, "%s %d exceeds the %llu samples of %s .. %s", keep_name, keep,
                     (unsigned long long)sp->n, sp->paths[0], sp->paths[sp->n_files - 1]);
        else
            bps_fail(err, "%s %d exceeds the %llu samples of %s", keep_name, keep,
                     (unsigned long long)sp->n, sp->paths[0]);
        goto fail;
    }
    const uint64_t n_keep = keep > 0 ? (uint64_t)keep : sp->n;
    if (bytes)
        out->x8 = xalloc_aligned((size_t)n_keep * CIFAR_PIXELS);
    else
        out->x = xalloc_aligned((size_t)n_keep * CIFAR_PIXELS * sizeof(float));
    out->y = xmalloc((size_t)n_keep);
    buf = xmalloc(CIFAR_CHUNK * rec);
    uint64_t i = 0; /* sample index over the split */
    for (int k = 0; k < sp->n_files; k++) {
        for (uint64_t r = 0; r < sp->records[k];) {
            uint64_t m = sp->records[k] - r < CIFAR_CHUNK ? sp->records[k] - r : CIFAR_CHUNK;
            size_t got = fread(buf, rec, (size_t)m, sp->f[k]);
            if (got != m) {
                bps_fail(err, "%s: %s after %llu of the %llu records its size announced",
                         sp->paths[k], ferror(sp->f[k]) ? strerror(errno) : "file ended",
                         (unsigned long long)(r + got), (unsigned long long)sp->records[k]);
                goto fail;
            }
            for (uint64_t j = 0; j < m; j++, i++) {
                const unsigned char *p = buf + j * rec; /* labels, then (3, 32, 32) */
                for (int b = 0; b < fmt->label_bytes; b++) {
                    if (p[b] >= fmt->classes[b]) {
                        bps_fail(err, "%s: %s %d of record %llu is out of range [0, %d); not a "
                                 "%s file?", sp->paths[k], fmt->label_names[b], p[b],
                                 (unsigned long long)(r + j), fmt->classes[b], fmt->name);
                        goto fail;
                    }
                }
                if (i < n_keep) {
                    const unsigned char *px = p + fmt->label_bytes; /* (3, 32, 32) */
                    if (bytes) {
                        memcpy(out->x8 + (size_t)i * CIFAR_PIXELS, px, CIFAR_PIXELS);
                    } else {
                        float *xi = out->x + (size_t)i * CIFAR_PIXELS;
                        for (int q = 0; q < CIFAR_PIXELS; q++)
                            xi[q] = (float)px[q];
                    }
                    out->y[i] = p[fmt->keep_label];
                }
            }
            r += m;
        }
    }
    free(buf);
    cifar_close(sp);
    out->n = (int)n_keep;
    out->d = CIFAR_PIXELS;
    out->classes = fmt->classes[fmt->keep_label];
    out->c = CIFAR_C;
    out->h = out->w = CIFAR_HW;
    return 0;
fail:
    free(buf);
    cifar_close(sp);
    free(out->x);
    free(out->x8);
    free(out->y);
    memset(out, 0, sizeof *out);
    return -1;
}

/* Opens both splits (so that a missing file is reported before anything is read), then
 * reads train and test. */
static int cifar_read(const char *dir, const CifarFormat *fmt, const char *const *train_names,
                      int n_train_files, const char *test_name, int keep_train, int keep_test,
                      bool bytes, Dataset *train, Dataset *test, BpsErr *err)
{
    CifarSplit tr, te;
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    if (cifar_open(&tr, dir, train_names, n_train_files, fmt, err) != 0)
        return -1;
    if (cifar_open(&te, dir, &test_name, 1, fmt, err) != 0) {
        cifar_close(&tr);
        return -1;
    }
    if (cifar_read_split(&tr, fmt, keep_train, "train_subset", bytes, train, err) != 0) {
        cifar_close(&te);
        return -1;
    }
    if (cifar_read_split(&te, fmt, keep_test, "test_subset", bytes, test, err) != 0) {
        dataset_free(train);
        return -1;
    }
    return 0;
}

/* dataset_read_cifar10 / _cifar100 that keep raw bytes in x8 when `bytes` is set. */
int data_cifar10_read(const char *dir, int keep_train, int keep_test, bool bytes,
                      Dataset *train, Dataset *test, BpsErr *err)
{
    static const CifarFormat fmt = {
        "CIFAR-10", 1, 0, {10, 0}, {"label", NULL},
        "the CIFAR-10 binary version (cifar-10-binary.tar.gz, folder cifar-10-batches-bin): "
        "data_batch_1.bin .. data_batch_5.bin and test_batch.bin"};
    return cifar_read(dir, &fmt, CIFAR10_FILES, 5, CIFAR10_FILES[5], keep_train, keep_test,
                      bytes, train, test, err);
}

int data_cifar100_read(const char *dir, bool fine, int keep_train, int keep_test, bool bytes,
                       Dataset *train, Dataset *test, BpsErr *err)
{
    CifarFormat fmt = {
        "CIFAR-100", 2, fine ? 1 : 0, {20, 100}, {"coarse label", "fine label"},
        "the CIFAR-100 binary version (cifar-100-binary.tar.gz, folder cifar-100-binary): "
        "train.bin and test.bin"};
    return cifar_read(dir, &fmt, CIFAR100_FILES, 1, CIFAR100_FILES[1], keep_train, keep_test,
                      bytes, train, test, err);
}

int dataset_read_cifar10(const char *dir, int keep_train, int keep_test, Dataset *train,
                         Dataset *test, BpsErr *err)
{
    return data_cifar10_read(dir, keep_train, keep_test, false, train, test, err);
}

int dataset_read_cifar100(const char *dir, bool fine, int keep_train, int keep_test,
                          Dataset *train, Dataset *test, BpsErr *err)
{
    return data_cifar100_read(dir, fine, keep_train, keep_test, false, train, test, err);
}

/* The file paths of a CIFAR source into paths (n_files of them). */
void data_cifar_paths(const DataConfig *cfg, char (*paths)[DATA_FILE_PATH_MAX], int *n_files)
{
    const char *const *names = cfg->kind == DATA_CIFAR10 ? CIFAR10_FILES : CIFAR100_FILES;
    *n_files = cfg->kind == DATA_CIFAR10 ? 6 : 2;
    for (int i = 0; i < *n_files; i++)
        snprintf(paths[i], DATA_FILE_PATH_MAX, "%s/%s", cfg->path, names[i]);
}
