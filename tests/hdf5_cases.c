/* hdf5_cases: loads an "hdf5" data source as bpsweep would (dataset_load) and writes what
 * it read for tests/data_hdf5.py to compare with numpy:
 *   hdf5_cases FILE CLASSES KEEP_TRAIN KEEP_TEST NORM OUT [TRAIN_X TRAIN_Y TEST_X TEST_Y]
 * NORM is none, unit, standardize or per_channel. On success prints
 *   n_train n_test d classes C H W
 * and writes OUT.train.x, OUT.test.x (float32, (n, d)) and OUT.train.y, OUT.test.y (uint8);
 * on error prints the message on stderr and exits 2. The set is also loaded in the
 * compact form (dataset_load_compact: bytes for uint8 x): its samples, as floats, must
 * equal dataset_load's bit for bit (else exit 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"

static int write_raw(const char *out, const char *suffix, const void *p, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s.%s", out, suffix);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(p, 1, n, f) != n;
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, "hdf5_cases: cannot write %s\n", path);
    return bad;
}

int main(int argc, char **argv)
{
    static const char *const norms[] = {"none", "unit", "standardize", "per_channel"};
    if (argc != 7 && argc != 11) {
        fprintf(stderr, "usage: hdf5_cases FILE CLASSES KEEP_TRAIN KEEP_TEST NORM OUT "
                        "[TRAIN_X TRAIN_Y TEST_X TEST_Y]\n");
        return 1;
    }
    static DataConfig cfg;
    cfg.kind = DATA_HDF5;
    snprintf(cfg.path, sizeof cfg.path, "%s", argv[1]);
    cfg.classes = atoi(argv[2]);
    cfg.train_subset = atoi(argv[3]);
    cfg.test_subset = atoi(argv[4]);
    cfg.norm = (Normalization)-1;
    for (int i = 0; i < 4; i++)
        if (strcmp(argv[5], norms[i]) == 0)
            cfg.norm = (Normalization)i;
    if ((int)cfg.norm < 0) {
        fprintf(stderr, "hdf5_cases: unknown normalisation %s\n", argv[5]);
        return 1;
    }
    const char *names[4] = {"train/x", "train/y", "test/x", "test/y"};
    if (argc == 11)
        for (int i = 0; i < 4; i++)
            names[i] = argv[7 + i];
    snprintf(cfg.h5.train_x, sizeof cfg.h5.train_x, "%s", names[0]);
    snprintf(cfg.h5.train_y, sizeof cfg.h5.train_y, "%s", names[1]);
    snprintf(cfg.h5.test_x, sizeof cfg.h5.test_x, "%s", names[2]);
    snprintf(cfg.h5.test_y, sizeof cfg.h5.test_y, "%s", names[3]);

    Dataset tr, te;
    BpsErr err = {{0}};
    if (dataset_load(&cfg, &tr, &te, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    Dataset c_tr, c_te;
    if (dataset_load_compact(&cfg, &c_tr, &c_te, NULL, &err) != 0) {
        fprintf(stderr, "hdf5_cases: the compact load failed where dataset_load did not: %s\n",
                err.msg);
        return 1;
    }
    const Dataset *f[2] = {&tr, &te}, *c[2] = {&c_tr, &c_te};
    for (int s = 0; s < 2; s++) {
        size_t bytes = (size_t)f[s]->n * (size_t)f[s]->d * sizeof(float);
        float *x = malloc(bytes ? bytes : 1);
        dataset_copy_rows(c[s], 0, c[s]->n, x);
        int same = c[s]->n == f[s]->n && memcmp(x, f[s]->x, bytes) == 0 &&
                   memcmp(c[s]->y, f[s]->y, (size_t)f[s]->n) == 0 && !c[s]->x == !!c[s]->x8;
        free(x);
        if (!same) {
            fprintf(stderr, "hdf5_cases: the compact form of %s differs from the float form\n",
                    s ? "test" : "train");
            return 1;
        }
    }
    dataset_free(&c_tr);
    dataset_free(&c_te);
    printf("%d %d %d %d %d %d %d\n", tr.n, te.n, tr.d, tr.classes, tr.c, tr.h, tr.w);
    int bad = write_raw(argv[6], "train.x", tr.x, (size_t)tr.n * (size_t)tr.d * sizeof(float)) |
              write_raw(argv[6], "train.y", tr.y, (size_t)tr.n) |
              write_raw(argv[6], "test.x", te.x, (size_t)te.n * (size_t)te.d * sizeof(float)) |
              write_raw(argv[6], "test.y", te.y, (size_t)te.n);
    dataset_free(&tr);
    dataset_free(&te);
    return bad ? 1 : 0;
}
