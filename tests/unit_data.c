/* unit_data: IDX reading (plain and gzip) with every error it reports, the standard
 * directory layout, synthetic sets, CIFAR-10/100 binary files generated in their exact
 * formats with every error they report, normalisation (global and per channel), the
 * provenance record (file checksums, statistics), the compact form of byte sources
 * against the float form, and the real Fashion-MNIST files when they are installed. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bpsweep/data.h"
#include "test_util.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define MAX_FILES 256

static char tmp_dir[512];
static char *made[MAX_FILES]; /* files and directories to remove at the end, in order */
static int n_made;

/* A path in the temporary directory; the file or directory is removed at exit.
 * Returns a string owned by the list. */
static const char *tmp_path(const char *name)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmp_dir, name);
    for (int i = 0; i < n_made; i++)
        if (strcmp(made[i], buf) == 0)
            return made[i];
    if (n_made == MAX_FILES) {
        fprintf(stderr, "unit_data: too many temporary files\n");
        exit(2);
    }
    made[n_made] = malloc(strlen(buf) + 1);
    strcpy(made[n_made], buf);
    return made[n_made++];
}

static void remove_tmp(void)
{
    for (int i = n_made - 1; i >= 0; i--) {
        if (unlink(made[i]) != 0)
            rmdir(made[i]);
        free(made[i]);
    }
    rmdir(tmp_dir);
}

/* ---- building IDX files ----------------------------------------------------------- */

typedef struct {
    unsigned char *b;
    size_t n;
} Bytes;

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Pixel j of image i in the test files. */
static unsigned char pixel(uint32_t i, uint32_t j)
{
    return (unsigned char)((37 * i + 11 * j + (i * j) % 7) % 256);
}

/* An IDX image file with `magic`, n images of rows x cols (pixel(i, j)) and `extra`
 * pixel bytes more (negative: fewer) than the header says. */
static Bytes idx_images(uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols, long extra)
{
    size_t body = (size_t)n * rows * cols;
    Bytes f = {NULL, 16 + (size_t)((long)body + extra)};
    f.b = calloc(f.n + 1, 1);
    put_be32(f.b, magic);
    put_be32(f.b + 4, n);
    put_be32(f.b + 8, rows);
    put_be32(f.b + 12, cols);
    const size_t d = (size_t)rows * cols;
    for (size_t k = 0; 16 + k < f.n; k++)
        f.b[16 + k] = pixel((uint32_t)(k / d), (uint32_t)(k % d));
    return f;
}

/* An IDX label file with n labels i % classes. */
static Bytes idx_labels(uint32_t magic, uint32_t n, int classes)
{
    Bytes f = {NULL, 8 + (size_t)n};
    f.b = calloc(f.n, 1);
    put_be32(f.b, magic);
    put_be32(f.b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        f.b[8 + i] = (unsigned char)(i % (uint32_t)classes);
    return f;
}

/* Writes bytes to the temporary file `name`, gzip-compressed if gz; frees the bytes.
 * Returns the path. */
static const char *write_tmp(const char *name, Bytes f, bool gz)
{
    const char *path = tmp_path(name);
    int rc = 0;
    if (gz) {
        gzFile g = gzopen(path, "wb");
        rc = !g || gzwrite(g, f.b, (unsigned)f.n) != (int)f.n;
        if (g && gzclose(g) != Z_OK)
            rc = 1;
    } else {
        rc = test_write_bytes(path, f.b, f.n);
    }
    free(f.b);
    if (rc) {
        fprintf(stderr, "unit_data: cannot write %s\n", path);
        exit(2);
    }
    return path;
}

/* Reads a whole temporary file (for corrupting it). */
static Bytes read_tmp(const char *path)
{
    Bytes f = {NULL, 0};
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "unit_data: cannot read %s\n", path);
        exit(2);
    }
    fseek(fp, 0, SEEK_END);
    f.n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f.b = malloc(f.n ? f.n : 1);
    if (fread(f.b, 1, f.n, fp) != f.n)
        exit(2);
    fclose(fp);
    return f;
}

static bool is_zero(const Dataset *ds)
{
    return ds->n == 0 && ds->d == 0 && ds->classes == 0 && !ds->x && !ds->y && !ds->borrowed;
}

/* Expects reading to fail with a message naming `names` (the file) and containing
 * `what`, and *out to stay zeroed. */
static void expect_read_error(const char *images, const char *labels, int keep,
                              const char *names, const char *what)
{
    Dataset ds;
    BpsErr err = {{0}};
    int rc = dataset_read_idx(images, labels, 10, keep, &ds, &err);
    CHECK_MSG(rc != 0, "reading %s / %s should fail with \"%s\"", images, labels, what);
    CHECK_MSG(strstr(err.msg, names) != NULL, "message should name %s: %s", names, err.msg);
    CHECK_MSG(strstr(err.msg, what) != NULL, "message should contain \"%s\": %s", what, err.msg);
    CHECK(is_zero(&ds));
    if (rc == 0)
        dataset_free(&ds);
    else
        printf("    expected error: %s\n", err.msg);
}

/* ---- valid files --------------------------------------------------------------------- */

static void check_small_set(const Dataset *ds, int n)
{
    CHECK(ds->n == n);
    CHECK(ds->d == 12);
    CHECK(ds->classes == 10);
    CHECK(ds->c == 1 && ds->h == 3 && ds->w == 4); /* IDX: (1, rows, cols) */
    CHECK(!ds->borrowed);
    CHECK(((uintptr_t)ds->x & 63) == 0);
    int bad = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->y[i] != i % 3)
            bad++;
        for (int j = 0; j < 12; j++)
            if (ds->x[i * 12 + j] != (float)pixel((uint32_t)i, (uint32_t)j))
                bad++;
    }
    CHECK_MSG(bad == 0, "%d wrong values", bad);
}

static void read_idx_should_parse_plain_files(void)
{
    const char *im = write_tmp("plain-images", idx_images(0x803, 5, 3, 4, 0), false);
    const char *lb = write_tmp("plain-labels", idx_labels(0x801, 5, 3), false);
    Dataset ds;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_read_idx(im, lb, 10, 0, &ds, &err) == 0, "%s", err.msg);
    check_small_set(&ds, 5);
    dataset_free(&ds);
    CHECK(is_zero(&ds));
}

static void read_idx_should_parse_gzip_files(void)
{
    const char *im = write_tmp("gz-images.gz", idx_images(0x803, 5, 3, 4, 0), true);
    const char *lb = write_tmp("gz-labels.gz", idx_labels(0x801, 5, 3), true);
    const char *lb_plain = write_tmp("gz-labels-plain", idx_labels(0x801, 5, 3), false);
    Dataset ds;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_read_idx(im, lb, 10, 0, &ds, &err) == 0, "%s", err.msg);
    check_small_set(&ds, 5);
    dataset_free(&ds);
    /* compressed images with plain labels */
    CHECK_MSG(dataset_read_idx(im, lb_plain, 10, 0, &ds, &err) == 0, "%s", err.msg);
    check_small_set(&ds, 5);
    dataset_free(&ds);
}

static void read_idx_should_keep_first_samples(void)
{
    const char *im = write_tmp("keep-images.gz", idx_images(0x803, 5, 3, 4, 0), true);
    const char *lb = write_tmp("keep-labels", idx_labels(0x801, 5, 3), false);
    Dataset ds;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_read_idx(im, lb, 10, 2, &ds, &err) == 0, "%s", err.msg);
    check_small_set(&ds, 2);
    dataset_free(&ds);
    CHECK_MSG(dataset_read_idx(im, lb, 10, 5, &ds, &err) == 0, "%s", err.msg);
    check_small_set(&ds, 5);
    dataset_free(&ds);
}

/* ---- errors ------------------------------------------------------------------------ */

static void read_idx_should_reject_missing_file(void)
{
    const char *lb = write_tmp("missing-labels", idx_labels(0x801, 5, 3), false);
    const char *im = tmp_path("no-such-images.gz");
    expect_read_error(im, lb, 0, "no-such-images.gz", "No such file");
    const char *im2 = write_tmp("missing-images", idx_images(0x803, 5, 3, 4, 0), false);
    expect_read_error(im2, tmp_path("no-such-labels"), 0, "no-such-labels", "No such file");
    expect_read_error(tmp_dir, lb, 0, tmp_dir, "is a directory");
}

static void read_idx_should_reject_wrong_magic(void)
{
    const char *lb = write_tmp("magic-labels", idx_labels(0x801, 5, 3), false);
    const char *im = write_tmp("magic-images", idx_images(0x89504e47, 5, 3, 4, 0), false);
    expect_read_error(im, lb, 0, "magic-images", "wrong magic 0x89504e47, expected 0x00000803");
    /* right type, wrong number of dimensions */
    const char *im2 = write_tmp("magic-images2", idx_images(0x802, 5, 3, 4, 0), false);
    expect_read_error(im2, lb, 0, "magic-images2", "wrong magic 0x00000802");
    const char *lb2 = write_tmp("magic-labels2", idx_labels(0x12345678, 5, 3), false);
    const char *im3 = write_tmp("magic-images3", idx_images(0x803, 5, 3, 4, 0), false);
    expect_read_error(im3, lb2, 0, "magic-labels2", "expected 0x00000801");
}

static void read_idx_should_hint_swapped_files(void)
{
    const char *im = write_tmp("swap-images.gz", idx_images(0x803, 5, 3, 4, 0), true);
    const char *lb = write_tmp("swap-labels.gz", idx_labels(0x801, 5, 3), true);
    expect_read_error(lb, im, 0, "swap-labels.gz", "swapped");
}

static void read_idx_should_reject_unsupported_type(void)
{
    const char *lb = write_tmp("type-labels", idx_labels(0x801, 5, 3), false);
    const char *im = write_tmp("type-images", idx_images(0xD03, 5, 3, 4, 0), false);
    expect_read_error(im, lb, 0, "type-images", "unsupported IDX data type 0x0d (float)");
}

static void read_idx_should_reject_bad_dims(void)
{
    const char *lb = write_tmp("dims-labels", idx_labels(0x801, 5, 3), false);
    const char *zero_n = write_tmp("dims-zero-n", idx_images(0x803, 0, 3, 4, 0), false);
    expect_read_error(zero_n, lb, 0, "dims-zero-n", "0 images");
    const char *zero_r = write_tmp("dims-zero-rows", idx_images(0x803, 5, 0, 4, 0), false);
    expect_read_error(zero_r, lb, 0, "dims-zero-rows", "0x4");
    /* absurd sizes: only the header is written */
    Bytes big = idx_images(0x803, 1, 1, 1, -1);
    put_be32(big.b + 4, 200000000u);
    const char *huge_n = write_tmp("dims-huge-n", big, false);
    expect_read_error(huge_n, lb, 0, "dims-huge-n", "200000000 images, more than the limit");
    Bytes wide = idx_images(0x803, 1, 1, 1, -1);
    put_be32(wide.b + 8, 2000);
    put_be32(wide.b + 12, 2000);
    const char *huge_d = write_tmp("dims-huge-d", wide, false);
    expect_read_error(huge_d, lb, 0, "dims-huge-d", "2000x2000, more than the limit");
    /* a header cut short */
    Bytes cut = idx_images(0x803, 5, 3, 4, 0);
    cut.n = 10;
    const char *short_h = write_tmp("dims-short-header", cut, false);
    expect_read_error(short_h, lb, 0, "dims-short-header", "inside the 16-byte header");
    Bytes empty = {calloc(1, 1), 0};
    const char *empty_f = write_tmp("dims-empty", empty, false);
    expect_read_error(empty_f, lb, 0, "dims-empty", "ends after 0 bytes");
}

static void read_idx_should_reject_truncated_pixels(void)
{
    const char *lb = write_tmp("trunc-labels", idx_labels(0x801, 5, 3), false);
    const char *im = write_tmp("trunc-images", idx_images(0x803, 5, 3, 4, -10), false);
    expect_read_error(im, lb, 0, "trunc-images", "expected 60 bytes of pixel data, found 50");
    /* a complete gzip stream holding too few bytes */
    const char *im_gz = write_tmp("trunc-images.gz", idx_images(0x803, 5, 3, 4, -10), true);
    expect_read_error(im_gz, lb, 0, "trunc-images.gz", "expected 60 bytes of pixel data, found 50");
    /* keep does not skip the check */
    expect_read_error(im_gz, lb, 1, "trunc-images.gz", "found 50");
    const char *lb_short = write_tmp("trunc-labels-short", idx_labels(0x801, 5, 3), false);
    CHECK(truncate(lb_short, 8 + 3) == 0);
    const char *im_ok = write_tmp("trunc-images-ok", idx_images(0x803, 5, 3, 4, 0), false);
    expect_read_error(im_ok, lb_short, 0, "trunc-labels-short",
                      "expected 5 bytes of label data, found 3");
}

static void read_idx_should_reject_trailing_data(void)
{
    const char *lb = write_tmp("trail-labels", idx_labels(0x801, 5, 3), false);
    const char *im = write_tmp("trail-images", idx_images(0x803, 5, 3, 4, 7), false);
    expect_read_error(im, lb, 0, "trail-images", "7 bytes of trailing data");
    const char *im_gz = write_tmp("trail-images.gz", idx_images(0x803, 5, 3, 4, 7), true);
    expect_read_error(im_gz, lb, 2, "trail-images.gz", "7 bytes of trailing data");
    Bytes l = idx_labels(0x801, 6, 3);
    put_be32(l.b + 4, 5);
    const char *lb_long = write_tmp("trail-labels-long", l, false);
    const char *im_ok = write_tmp("trail-images-ok", idx_images(0x803, 5, 3, 4, 0), false);
    expect_read_error(im_ok, lb_long, 0, "trail-labels-long", "1 bytes of trailing data");
}

static void read_idx_should_reject_corrupt_gzip(void)
{
    /* 2000 28x28 images compress to a stream of Huffman-coded blocks */
    const char *lb = write_tmp("gzbad-labels", idx_labels(0x801, 2000, 3), false);
    const char *good = write_tmp("gzbad-good.gz", idx_images(0x803, 2000, 28, 28, 0), true);
    Dataset ds;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_read_idx(good, lb, 10, 0, &ds, &err) == 0, "%s", err.msg);
    CHECK(ds.n == 2000 && ds.d == 784);
    dataset_free(&ds);

    Bytes f = read_tmp(good);
    CHECK(f.n > 4000);
    Bytes flipped = {malloc(f.n), f.n};
    memcpy(flipped.b, f.b, f.n);
    for (size_t k = f.n / 2; k < f.n / 2 + 16; k++)
        flipped.b[k] ^= 0xA5;
    const char *bad = write_tmp("gzbad-flipped.gz", flipped, false);
    expect_read_error(bad, lb, 0, "gzbad-flipped.gz", "corrupt gzip stream");
    expect_read_error(bad, lb, 10, "gzbad-flipped.gz", "corrupt gzip stream");

    Bytes half = {f.b, f.n / 2};
    const char *cut = write_tmp("gzbad-half.gz", half, false);
    expect_read_error(cut, lb, 0, "gzbad-half.gz", "truncated gzip stream");

    /* the trailer and the last few bytes of compressed data cut off */
    Bytes tail = read_tmp(good);
    tail.n -= 16;
    const char *cut_tail = write_tmp("gzbad-tail.gz", tail, false);
    expect_read_error(cut_tail, lb, 0, "gzbad-tail.gz", "truncated gzip stream");
}

static void read_idx_should_reject_labels_out_of_range(void)
{
    const char *im = write_tmp("range-images", idx_images(0x803, 5, 3, 4, 0), false);
    Bytes l = idx_labels(0x801, 5, 3);
    l.b[8 + 3] = 10;
    const char *lb = write_tmp("range-labels", l, false);
    expect_read_error(im, lb, 0, "range-labels", "label 10 at index 3 is out of range [0, 10)");
    /* a bad label beyond `keep` still fails: the file is bad */
    expect_read_error(im, lb, 2, "range-labels", "index 3");
}

static void read_idx_should_reject_count_mismatch(void)
{
    const char *im = write_tmp("count-images", idx_images(0x803, 5, 3, 4, 0), false);
    const char *lb = write_tmp("count-labels.gz", idx_labels(0x801, 4, 3), true);
    expect_read_error(im, lb, 0, "count-labels.gz", "has 5 images but");
    expect_read_error(im, lb, 0, "count-images", "has 4 labels");
}

static void read_idx_should_reject_keep_beyond_n(void)
{
    const char *im = write_tmp("keepn-images", idx_images(0x803, 5, 3, 4, 0), false);
    const char *lb = write_tmp("keepn-labels", idx_labels(0x801, 5, 3), false);
    expect_read_error(im, lb, 6, "keepn-images", "keep 6 exceeds the 5 samples of");
    expect_read_error(im, lb, -1, "keep", "negative");
}

/* ---- the directory layout ------------------------------------------------------------ */

/* Writes the four standard files into tmp_dir/sub, train images gz and the others
 * in the given forms. */
static const char *make_dir(const char *sub, bool gz, uint32_t test_rows)
{
    const char *dir = tmp_path(sub);
    mkdir(dir, 0755);
    char name[256];
    snprintf(name, sizeof name, "%s/train-images-idx3-ubyte%s", sub, gz ? ".gz" : "");
    write_tmp(name, idx_images(0x803, 7, 3, 4, 0), gz);
    snprintf(name, sizeof name, "%s/train-labels-idx1-ubyte%s", sub, gz ? ".gz" : "");
    write_tmp(name, idx_labels(0x801, 7, 10), gz);
    snprintf(name, sizeof name, "%s/t10k-images-idx3-ubyte.gz", sub);
    write_tmp(name, idx_images(0x803, 4, test_rows, 4, 0), true);
    snprintf(name, sizeof name, "%s/t10k-labels-idx1-ubyte", sub);
    write_tmp(name, idx_labels(0x801, 4, 10), false);
    return dir;
}

static void load_dir_should_accept_plain_and_gzip_names(void)
{
    const char *dirs[2] = {make_dir("dir-gz", true, 3), make_dir("dir-plain", false, 3)};
    for (int k = 0; k < 2; k++) {
        Dataset tr, te;
        BpsErr err = {{0}};
        CHECK_MSG(dataset_load_dir(dirs[k], 0, 0, &tr, &te, &err) == 0, "%s", err.msg);
        CHECK(tr.n == 7 && te.n == 4 && tr.d == 12 && te.d == 12);
        CHECK(tr.classes == 10 && te.classes == 10);
        CHECK(tr.n == 7 && tr.y[6] == 6 && tr.x[13] == (float)pixel(1, 1));
        dataset_free(&tr);
        dataset_free(&te);
        CHECK_MSG(dataset_load_dir(dirs[k], 3, 2, &tr, &te, &err) == 0, "%s", err.msg);
        CHECK(tr.n == 3 && te.n == 2);
        dataset_free(&tr);
        dataset_free(&te);
    }
}

static void load_dir_should_name_missing_files(void)
{
    const char *dir = tmp_path("dir-empty");
    mkdir(dir, 0755);
    Dataset tr, te;
    BpsErr err = {{0}};
    CHECK(dataset_load_dir(dir, 0, 0, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "dir-empty/train-images-idx3-ubyte.gz: not found") != NULL, "%s",
              err.msg);
    CHECK_MSG(strstr(err.msg, "apt-get") == NULL, "no Debian hint here: %s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
    printf("    expected error: %s\n", err.msg);

    CHECK(dataset_load_dir(tmp_path("dir-nonexistent"), 0, 0, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "does not exist") != NULL, "%s", err.msg);

    /* the Debian default directory gets the package hint when it lacks the files */
    if (access(FASHION_DIR "/train-images-idx3-ubyte.gz", F_OK) != 0) {
        CHECK(dataset_load_dir(FASHION_DIR "/", 0, 0, &tr, &te, &err) != 0);
        CHECK_MSG(strstr(err.msg, "apt-get install dataset-fashion-mnist") != NULL, "%s",
                  err.msg);
    }
}

static void load_dir_should_reject_subset_and_size_mismatch(void)
{
    const char *dir = make_dir("dir-subset", true, 3);
    Dataset tr, te;
    BpsErr err = {{0}};
    CHECK(dataset_load_dir(dir, 8, 0, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "train_subset 8 exceeds the 7 samples of") != NULL, "%s", err.msg);
    CHECK(dataset_load_dir(dir, 0, 5, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "test_subset 5 exceeds the 4 samples of") != NULL, "%s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));

    const char *dir2 = make_dir("dir-sizes", true, 5);
    CHECK(dataset_load_dir(dir2, 0, 0, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "has 12 pixels per image but") != NULL, "%s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
}

static void load_should_subset_and_normalize_idx(void)
{
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_IDX;
    snprintf(cfg.path, sizeof cfg.path, "%s", make_dir("dir-load", true, 3));
    cfg.train_subset = 5;
    cfg.norm = NORM_UNIT;
    Dataset tr, te;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_load(&cfg, &tr, &te, &err) == 0, "%s", err.msg);
    CHECK(tr.n == 5 && te.n == 4);
    CHECK(tr.x[13] == (float)pixel(1, 1) / 255.0f);
    dataset_free(&tr);
    dataset_free(&te);

    cfg.test_subset = 9;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "test_subset 9 exceeds") != NULL, "%s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
}

/* Size and FNV-1a 64 of a whole file, read at once (the reference for the streamed one). */
static bool whole_file_hash(const char *path, uint64_t *bytes, uint64_t *hash)
{
    char *buf = NULL;
    size_t len = 0;
    BpsErr err;
    if (bps_read_file(path, &buf, &len, &err) != 0)
        return false;
    *bytes = len;
    *hash = bps_hash_bytes(BPS_HASH_INIT, buf, len);
    free(buf);
    return true;
}

static void load_should_record_provenance(void)
{
    const char *dir = make_dir("dir-prov", true, 3);
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_IDX;
    snprintf(cfg.path, sizeof cfg.path, "%s", dir);
    cfg.train_subset = 5;
    cfg.norm = NORM_STANDARDIZE;
    Dataset tr, te, raw_tr, raw_te;
    DataProvenance p;
    BpsErr err = {{0}};
    int rc = dataset_load_provenance(&cfg, &tr, &te, &p, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc != 0)
        return;
    CHECK(strcmp(p.source, "idx") == 0 && p.shape.c == 1 && p.shape.h == 3 && p.shape.w == 4);
    CHECK(p.n_train == 5 && p.n_test == 4 && p.norm == NORM_STANDARDIZE && p.n_stats == 1);
    char *real = realpath(dir, NULL);
    CHECK_MSG(real && strcmp(p.dir, real) == 0, "dir %s", p.dir);
    free(real);

    /* the statistics: those of x/255 over the 5 kept training samples, in double */
    CHECK(dataset_load_dir(dir, 5, 0, &raw_tr, &raw_te, &err) == 0);
    double sum = 0, ss = 0, count = (double)raw_tr.n * raw_tr.d;
    for (int i = 0; i < raw_tr.n * raw_tr.d; i++)
        sum += (double)raw_tr.x[i] / 255.0;
    for (int i = 0; i < raw_tr.n * raw_tr.d; i++) {
        double dx = (double)raw_tr.x[i] / 255.0 - sum / count;
        ss += dx * dx;
    }
    CHECK_MSG(fabs(p.mean[0] - sum / count) < 1e-12 && fabs(p.std[0] - sqrt(ss / count)) < 1e-12,
              "mean %g std %g, expected %g %g", p.mean[0], p.std[0], sum / count,
              sqrt(ss / count));
    dataset_free(&raw_tr);
    dataset_free(&raw_te);

    /* every file as found (gzip-compressed or plain), sized and hashed as stored */
    static const char *const names[4] = {"train-images-idx3-ubyte.gz",
                                         "train-labels-idx1-ubyte.gz",
                                         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte"};
    CHECK(p.n_files == 4);
    for (int i = 0; i < 4 && i < p.n_files; i++) {
        char path[1024];
        uint64_t bytes = 0, hash = 0;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        CHECK(whole_file_hash(path, &bytes, &hash));
        CHECK_MSG(strcmp(p.files[i].name, names[i]) == 0 && p.files[i].bytes == bytes &&
                      p.files[i].checksum == hash,
                  "file %d: %s %llu %016llx", i, p.files[i].name,
                  (unsigned long long)p.files[i].bytes, (unsigned long long)p.files[i].checksum);
    }
    char *files = data_provenance_files(&p), want[128];
    snprintf(want, sizeof want, "train-images-idx3-ubyte.gz %llu %016llx; ",
             (unsigned long long)p.files[0].bytes, (unsigned long long)p.files[0].checksum);
    CHECK_MSG(strncmp(files, want, strlen(want)) == 0 && strstr(files, "; t10k-labels-idx1-ubyte "),
              "%s", files);

    /* the same files compare equal; another copy is reported with both lists */
    FILE *log = tmpfile();
    CHECK(data_provenance_compare(&p, files, "r.h5", log) == 0);
    CHECK(data_provenance_compare(&p, NULL, "r.h5", log) == 0);
    files[strlen(files) - 1] ^= 1; /* another checksum */
    CHECK(data_provenance_compare(&p, files, "r.h5", log) == 1);
    char text[4096] = "";
    rewind(log);
    size_t got = fread(text, 1, sizeof text - 1, log);
    text[got] = '\0';
    char *last = strrchr(files, ';') + 2; /* the changed entry: t10k-labels-idx1-ubyte */
    CHECK_MSG(strstr(text, "warning: r.h5 was created with other data files") &&
                  strstr(text, last) && !strstr(text, "train-images"),
              "%s", text);
    fclose(log);
    free(files);
    data_provenance_free(&p);
    dataset_free(&tr);
    dataset_free(&te);

    /* synthetic: no files, no statistics whatever norm says */
    DataConfig syn;
    memset(&syn, 0, sizeof syn);
    syn.kind = DATA_SYNTHETIC;
    syn.n_train = 12, syn.n_test = 6, syn.features = 12, syn.classes = 3, syn.noise = 0.5;
    syn.image[0] = 3, syn.image[1] = 2, syn.image[2] = 2;
    syn.norm = NORM_PER_CHANNEL;
    CHECK_MSG(dataset_load_provenance(&syn, &tr, &te, &p, &err) == 0, "%s", err.msg);
    CHECK(strcmp(p.source, "synthetic") == 0 && p.n_files == 0 && p.dir[0] == '\0');
    CHECK(p.n_stats == 0 && !p.mean && p.norm == NORM_NONE && p.shape.c == 3 && p.n_test == 6);
    data_provenance_free(&p);
    dataset_free(&tr);
    dataset_free(&te);

    /* on error nothing is recorded */
    snprintf(cfg.path, sizeof cfg.path, "%s/none", dir);
    CHECK(dataset_load_provenance(&cfg, &tr, &te, &p, &err) != 0);
    CHECK(p.n_files == 0 && !p.mean && p.source[0] == '\0');
}

/* ---- synthetic ----------------------------------------------------------------------- */

static bool same_set(const Dataset *a, const Dataset *b)
{
    return a->n == b->n && a->d == b->d && a->classes == b->classes &&
           memcmp(a->x, b->x, (size_t)a->n * (size_t)a->d * sizeof(float)) == 0 &&
           memcmp(a->y, b->y, (size_t)a->n) == 0;
}

static void synthetic_should_be_deterministic(void)
{
    Dataset a_tr, a_te, b_tr, b_te, c_tr, c_te;
    dataset_synthetic(300, 100, 20, 4, 0.5, 42, &a_tr, &a_te);
    dataset_synthetic(300, 100, 20, 4, 0.5, 42, &b_tr, &b_te);
    dataset_synthetic(300, 100, 20, 4, 0.5, 43, &c_tr, &c_te);
    CHECK(same_set(&a_tr, &b_tr) && same_set(&a_te, &b_te));
    CHECK(!same_set(&a_tr, &c_tr) && !same_set(&a_te, &c_te));
    /* train and test are different draws */
    CHECK(memcmp(a_tr.x, a_te.x, 100 * 20 * sizeof(float)) != 0);
    int bad = 0;
    for (int i = 0; i < a_tr.n; i++)
        bad += a_tr.y[i] != i % 4;
    for (int i = 0; i < a_te.n; i++)
        bad += a_te.y[i] != i % 4;
    CHECK(bad == 0);
    CHECK(a_tr.classes == 4 && a_tr.d == 20 && !a_tr.borrowed);
    dataset_free(&a_tr);
    dataset_free(&a_te);
    dataset_free(&b_tr);
    dataset_free(&b_te);
    dataset_free(&c_tr);
    dataset_free(&c_te);
}

static void synthetic_should_cluster_around_centres(void)
{
    /* with small noise, samples of one class sit near each other and far from others */
    Dataset tr, te;
    dataset_synthetic(200, 50, 16, 3, 0.05, 7, &tr, &te);
    double within = 0, between = 0;
    for (int j = 0; j < 16; j++) {
        within += fabs((double)tr.x[0 * 16 + j] - (double)tr.x[3 * 16 + j]);
        between += fabs((double)tr.x[0 * 16 + j] - (double)tr.x[1 * 16 + j]);
    }
    CHECK_MSG(within < 0.1 * between, "within %g between %g", within, between);
    /* test samples share the train centres */
    double cross = 0;
    for (int j = 0; j < 16; j++)
        cross += fabs((double)tr.x[j] - (double)te.x[j]);
    CHECK_MSG(cross < 0.1 * between, "train/test same class %g, between %g", cross, between);
    dataset_free(&tr);
    dataset_free(&te);
}

static void load_should_truncate_synthetic_as_a_prefix(void)
{
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_SYNTHETIC;
    cfg.n_train = 120;
    cfg.n_test = 40;
    cfg.features = 8;
    cfg.classes = 5;
    cfg.noise = 1.0;
    cfg.seed = 3;
    cfg.norm = NORM_STANDARDIZE; /* ignored for synthetic data */
    Dataset full_tr, full_te, sub_tr, sub_te, raw_tr, raw_te;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_load(&cfg, &full_tr, &full_te, &err) == 0, "%s", err.msg);
    dataset_synthetic(120, 40, 8, 5, 1.0, 3, &raw_tr, &raw_te);
    CHECK(same_set(&full_tr, &raw_tr) && same_set(&full_te, &raw_te));
    cfg.train_subset = 50;
    cfg.test_subset = 10;
    CHECK_MSG(dataset_load(&cfg, &sub_tr, &sub_te, &err) == 0, "%s", err.msg);
    CHECK(sub_tr.n == 50 && sub_te.n == 10);
    CHECK(memcmp(sub_tr.x, full_tr.x, 50 * 8 * sizeof(float)) == 0);
    CHECK(memcmp(sub_te.x, full_te.x, 10 * 8 * sizeof(float)) == 0);
    CHECK(memcmp(sub_tr.y, full_tr.y, 50) == 0);
    dataset_free(&full_tr);
    dataset_free(&full_te);
    dataset_free(&sub_tr);
    dataset_free(&sub_te);
    dataset_free(&raw_tr);
    dataset_free(&raw_te);

    /* shape: (features, 1, 1), or image_shape */
    cfg.train_subset = cfg.test_subset = 0;
    CHECK_MSG(dataset_load(&cfg, &full_tr, &full_te, &err) == 0, "%s", err.msg);
    CHECK(full_tr.c == 8 && full_tr.h == 1 && full_tr.w == 1);
    CHECK(full_te.c == 8 && full_te.h == 1 && full_te.w == 1);
    dataset_free(&full_tr);
    dataset_free(&full_te);
    cfg.image[0] = 2, cfg.image[1] = 2, cfg.image[2] = 2;
    CHECK_MSG(dataset_load(&cfg, &sub_tr, &sub_te, &err) == 0, "%s", err.msg);
    CHECK(sub_tr.c == 2 && sub_tr.h == 2 && sub_tr.w == 2 && sub_te.c == 2 && sub_te.w == 2);
    dataset_synthetic(120, 40, 8, 5, 1.0, 3, &raw_tr, &raw_te); /* the same values */
    CHECK(same_set(&sub_tr, &raw_tr) && same_set(&sub_te, &raw_te));
    dataset_free(&raw_tr);
    dataset_free(&raw_te);
    dataset_free(&sub_tr);
    dataset_free(&sub_te);
    cfg.image[2] = 3;
    Dataset tr, te;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "image_shape [2, 2, 3]") != NULL, "%s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
    memset(cfg.image, 0, sizeof cfg.image);

    cfg.train_subset = 121;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "train_subset 121 exceeds the 120 samples") != NULL, "%s",
              err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
    cfg.train_subset = 0;
    cfg.classes = 1;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "classes") != NULL, "%s", err.msg);
}

/* ---- normalisation ------------------------------------------------------------------- */

/* A small set with raw pixel values. */
static void raw_sets(Dataset *tr, Dataset *te)
{
    Dataset tmp_tr, tmp_te;
    dataset_synthetic(50, 20, 30, 2, 1.0, 9, &tmp_tr, &tmp_te);
    for (int i = 0; i < 50 * 30; i++)
        tmp_tr.x[i] = (float)pixel((uint32_t)i, 3);
    for (int i = 0; i < 20 * 30; i++)
        tmp_te.x[i] = (float)pixel((uint32_t)i, 5);
    *tr = tmp_tr;
    *te = tmp_te;
}

static void normalize_should_standardize_with_train_statistics(void)
{
    Dataset tr, te;
    raw_sets(&tr, &te);
    float raw_te0 = te.x[0];
    float lo = 0, hi = 0;
    dataset_normalize(&tr, &te, NORM_STANDARDIZE, &lo, &hi);
    double sum = 0, ss = 0;
    const int n = 50 * 30;
    for (int i = 0; i < n; i++)
        sum += (double)tr.x[i];
    double mean = sum / n;
    for (int i = 0; i < n; i++)
        ss += ((double)tr.x[i] - mean) * ((double)tr.x[i] - mean);
    double std = sqrt(ss / n);
    CHECK_MSG(fabs(mean) < 1e-6, "train mean %g", mean);
    CHECK_MSG(fabs(std - 1.0) < 1e-6, "train std %g", std);
    /* lo/hi are the images of raw 0 and 255; test uses the same affine map */
    double a = ((double)hi - (double)lo) / 255.0;
    double want = (double)lo + a * (double)raw_te0;
    CHECK_MSG(fabs((double)te.x[0] - want) < 1e-5, "test[0] %g want %g", (double)te.x[0], want);
    int below = 0;
    for (int i = 0; i < n; i++)
        below += tr.x[i] < lo - 1e-6f || tr.x[i] > hi + 1e-6f;
    CHECK(below == 0);
    CHECK(lo < 0 && hi > 0);
    dataset_free(&tr);
    dataset_free(&te);
}

static void normalize_should_report_unit_and_raw_ranges(void)
{
    Dataset tr, te;
    raw_sets(&tr, &te);
    float x0 = tr.x[1], t0 = te.x[2];
    float lo = -1, hi = -1;
    dataset_normalize(&tr, &te, NORM_NONE, &lo, &hi);
    CHECK(lo == 0.0f && hi == 255.0f);
    CHECK(tr.x[1] == x0);
    dataset_normalize(&tr, &te, NORM_UNIT, &lo, &hi);
    CHECK(lo == 0.0f && hi == 1.0f);
    CHECK(tr.x[1] == x0 / 255.0f && te.x[2] == t0 / 255.0f);
    dataset_normalize(&tr, NULL, NORM_UNIT, NULL, NULL); /* test and outputs optional */
    dataset_free(&tr);
    dataset_free(&te);
    dataset_free(NULL);
}

/* ---- the real data set --------------------------------------------------------------- */

static void load_dir_should_read_fashion_mnist(void)
{
    if (access(FASHION_DIR, F_OK) != 0) {
        printf("    note: %s is absent; skipped (apt-get install dataset-fashion-mnist)\n",
               FASHION_DIR);
        return;
    }
    Dataset tr, te;
    BpsErr err = {{0}};
    double t0 = bps_now();
    int rc = dataset_load_dir(FASHION_DIR, 0, 0, &tr, &te, &err);
    double seconds = bps_now() - t0;
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc != 0)
        return;
    printf("    loaded %s: %d + %d samples in %.3f s\n", FASHION_DIR, tr.n, te.n, seconds);
    CHECK(tr.n == 60000 && te.n == 10000);
    CHECK(tr.d == 784 && te.d == 784 && tr.classes == 10);
    int hist_tr[10] = {0}, hist_te[10] = {0};
    for (int i = 0; i < tr.n; i++)
        hist_tr[tr.y[i]]++;
    for (int i = 0; i < te.n; i++)
        hist_te[te.y[i]]++;
    for (int c = 0; c < 10; c++) {
        CHECK_MSG(hist_tr[c] == 6000, "train class %d: %d", c, hist_tr[c]);
        CHECK_MSG(hist_te[c] == 1000, "test class %d: %d", c, hist_te[c]);
    }
    float lo = 0, hi = 0;
    dataset_normalize(&tr, &te, NORM_STANDARDIZE, &lo, &hi);
    /* torchvision's commonly quoted Fashion-MNIST statistics: mean 0.2860, std 0.3530 */
    double mean = -(double)lo / ((double)hi - (double)lo), std = 1.0 / ((double)hi - (double)lo);
    printf("    train mean %.4f std %.4f (of x/255)\n", mean, std);
    CHECK_MSG(fabs(mean - 0.2860) < 1e-3 && fabs(std - 0.3530) < 1e-3, "mean %g std %g", mean,
              std);
    dataset_free(&tr);
    dataset_free(&te);
}

/* ---- CIFAR binary files ---------------------------------------------------------- */

#define CIFAR_PIX 3072

/* The byte written for pixel k (channel k / 1024) of record i of a split; differs per
 * channel, row and column, so a read in the wrong order or layout shows. The channels
 * take different ranges (0..99, 120..219, 55..254), so their statistics differ. */
static unsigned char cifar_pixel(int i, int k)
{
    static const int range[3] = {100, 100, 200}, offset[3] = {0, 120, 55};
    int c = k / 1024;
    return (unsigned char)((i * 131 + k * 7 + (k / 32) * 3) % range[c] + offset[c]);
}

/* Writes `n` records starting at split index first: label_bytes labels from label(i)
 * and the pixels. */
static const char *write_cifar(const char *name, int first, int n, int label_bytes,
                               void (*label)(int i, unsigned char *l))
{
    size_t rec = (size_t)label_bytes + CIFAR_PIX;
    Bytes f = {malloc((size_t)n * rec + 1), (size_t)n * rec};
    for (int r = 0; r < n; r++) {
        unsigned char *p = f.b + (size_t)r * rec;
        label(first + r, p);
        for (int k = 0; k < CIFAR_PIX; k++)
            p[label_bytes + k] = cifar_pixel(first + r, k);
    }
    return write_tmp(name, f, false);
}

static void label10(int i, unsigned char *l)
{
    l[0] = (unsigned char)(i % 10);
}

static void label100(int i, unsigned char *l)
{
    l[0] = (unsigned char)(i % 20);        /* coarse */
    l[1] = (unsigned char)((i * 7) % 100); /* fine */
}

/* data_batch_1..5 with 3, 2, 4, 1, 2 records (12 train samples), test_batch with 5;
 * test records count from 1000. Returns the directory. */
static const char *make_cifar10(const char *sub)
{
    static const int counts[5] = {3, 2, 4, 1, 2};
    char name[256];
    const char *dir = tmp_path(sub);
    mkdir(dir, 0700);
    int first = 0;
    for (int b = 0; b < 5; b++) {
        snprintf(name, sizeof name, "%s/data_batch_%d.bin", sub, b + 1);
        write_cifar(name, first, counts[b], 1, label10);
        first += counts[b];
    }
    snprintf(name, sizeof name, "%s/test_batch.bin", sub);
    write_cifar(name, 1000, 5, 1, label10);
    return dir;
}

static const char *make_cifar100(const char *sub)
{
    char name[256];
    const char *dir = tmp_path(sub);
    mkdir(dir, 0700);
    snprintf(name, sizeof name, "%s/train.bin", sub);
    write_cifar(name, 0, 23, 2, label100);
    snprintf(name, sizeof name, "%s/test.bin", sub);
    write_cifar(name, 1000, 6, 2, label100);
    return dir;
}

/* Every pixel of ds equals the byte written, channel by channel, for split indices
 * first.., and the labels are label_of(i). */
static void check_cifar_set(const Dataset *ds, int n, int first, int classes,
                            int (*label_of)(int i))
{
    CHECK(ds->n == n && ds->d == CIFAR_PIX && ds->classes == classes);
    CHECK(ds->c == 3 && ds->h == 32 && ds->w == 32);
    CHECK(((uintptr_t)ds->x & 63) == 0);
    int bad = 0, bad_y = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->y[i] != label_of(first + i))
            bad_y++;
        for (int c = 0; c < 3; c++)
            for (int r = 0; r < 32; r++)
                for (int col = 0; col < 32; col++) {
                    int k = c * 1024 + r * 32 + col; /* (C, H, W) */
                    if (ds->x[(size_t)i * CIFAR_PIX + (size_t)k] !=
                        (float)cifar_pixel(first + i, k))
                        bad++;
                }
    }
    CHECK_MSG(bad == 0 && bad_y == 0, "%d wrong pixels, %d wrong labels", bad, bad_y);
}

static void label_bad_fine(int i, unsigned char *l)
{
    label100(i, l);
    if (i == 4)
        l[1] = 100;
}

static void label_bad_coarse(int i, unsigned char *l)
{
    label100(i, l);
    if (i == 3)
        l[0] = 20;
}

static int label10_of(int i) { return i % 10; }
static int fine_of(int i) { return (i * 7) % 100; }
static int coarse_of(int i) { return i % 20; }

static void cifar10_should_read_batches_in_order(void)
{
    const char *dir = make_cifar10("c10");
    Dataset tr, te;
    BpsErr err = {{0}};
    int rc = dataset_read_cifar10(dir, 0, 0, &tr, &te, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc != 0)
        return;
    check_cifar_set(&tr, 12, 0, 10, label10_of);
    check_cifar_set(&te, 5, 1000, 10, label10_of);
    dataset_free(&tr);
    dataset_free(&te);
    /* subsets across batch files: the first n in file order */
    rc = dataset_read_cifar10(dir, 6, 2, &tr, &te, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        check_cifar_set(&tr, 6, 0, 10, label10_of);
        check_cifar_set(&te, 2, 1000, 10, label10_of);
    }
    dataset_free(&tr);
    dataset_free(&te);
}

static void cifar100_should_read_fine_and_coarse_labels(void)
{
    const char *dir = make_cifar100("c100");
    Dataset tr, te;
    BpsErr err = {{0}};
    int rc = dataset_read_cifar100(dir, true, 0, 0, &tr, &te, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        check_cifar_set(&tr, 23, 0, 100, fine_of);
        check_cifar_set(&te, 6, 1000, 100, fine_of);
    }
    dataset_free(&tr);
    dataset_free(&te);
    rc = dataset_read_cifar100(dir, false, 4, 0, &tr, &te, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc == 0) {
        check_cifar_set(&tr, 4, 0, 20, coarse_of);
        check_cifar_set(&te, 6, 1000, 20, coarse_of);
    }
    dataset_free(&tr);
    dataset_free(&te);
}

/* A CIFAR-10 or -100 read fails with a message containing file and what; both sets
 * stay zeroed. */
static void expect_cifar_error(const char *dir, bool c100, int keep_train, int keep_test,
                               const char *file, const char *what)
{
    Dataset tr, te;
    BpsErr err = {{0}};
    int rc = c100 ? dataset_read_cifar100(dir, true, keep_train, keep_test, &tr, &te, &err)
                  : dataset_read_cifar10(dir, keep_train, keep_test, &tr, &te, &err);
    CHECK_MSG(rc != 0, "%s: accepted", what);
    if (rc == 0) {
        dataset_free(&tr);
        dataset_free(&te);
        return;
    }
    CHECK_MSG(strstr(err.msg, file) != NULL, "message lacks %s: %s", file, err.msg);
    CHECK_MSG(strstr(err.msg, what) != NULL, "message lacks \"%s\": %s", what, err.msg);
    CHECK_MSG(strchr(err.msg, '\n') == NULL, "several lines: %s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
    printf("    expected error: %s\n", err.msg);
}

static void cifar_should_reject_bad_files(void)
{
    /* a missing batch file (the test file too: all are opened before reading) */
    const char *dir = make_cifar10("c10-missing");
    unlink(tmp_path("c10-missing/data_batch_3.bin"));
    expect_cifar_error(dir, false, 0, 0, "c10-missing/data_batch_3.bin",
                       "cannot open CIFAR-10 file: No such file or directory; expected the "
                       "CIFAR-10 binary version");
    dir = make_cifar10("c10-notest");
    unlink(tmp_path("c10-notest/test_batch.bin"));
    expect_cifar_error(dir, false, 0, 0, "c10-notest/test_batch.bin", "cannot open");

    /* a size that is not a whole number of records */
    dir = make_cifar10("c10-size");
    CHECK(truncate(tmp_path("c10-size/data_batch_2.bin"), 2 * 3073 - 5) == 0);
    expect_cifar_error(dir, false, 0, 0, "c10-size/data_batch_2.bin",
                       "6141 bytes is not a whole number of 3073-byte CIFAR-10 records");
    dir = make_cifar100("c100-size");
    CHECK(truncate(tmp_path("c100-size/test.bin"), 6 * 3074 + 3073) == 0);
    expect_cifar_error(dir, true, 0, 0, "c100-size/test.bin",
                       "is not a whole number of 3074-byte CIFAR-100 records");

    /* labels out of range: in a file beyond the subset too */
    dir = make_cifar10("c10-label");
    write_cifar("c10-label/data_batch_5.bin", 10, 2, 1, label100); /* label byte 10, 11 */
    expect_cifar_error(dir, false, 3, 0, "c10-label/data_batch_5.bin",
                       "label 10 of record 0 is out of range [0, 10)");
    dir = make_cifar100("c100-fine");
    write_cifar("c100-fine/test.bin", 0, 6, 2, label_bad_fine);
    expect_cifar_error(dir, true, 0, 0, "c100-fine/test.bin",
                       "fine label 100 of record 4 is out of range [0, 100)");
    dir = make_cifar100("c100-coarse");
    write_cifar("c100-coarse/train.bin", 0, 5, 2, label_bad_coarse);
    expect_cifar_error(dir, true, 0, 0, "c100-coarse/train.bin",
                       "coarse label 20 of record 3 is out of range [0, 20)");

    /* an empty set */
    dir = make_cifar10("c10-empty");
    CHECK(truncate(tmp_path("c10-empty/test_batch.bin"), 0) == 0);
    expect_cifar_error(dir, false, 0, 0, "c10-empty/test_batch.bin",
                       "empty file; expected CIFAR-10 records of 3073 bytes");

    /* a subset larger than the data */
    dir = make_cifar10("c10-subset");
    expect_cifar_error(dir, false, 13, 0, "c10-subset/data_batch_1.bin .. ",
                       "train_subset 13 exceeds the 12 samples of");
    dir = make_cifar100("c100-subset");
    expect_cifar_error(dir, true, 0, 7, "c100-subset/test.bin",
                       "test_subset 7 exceeds the 6 samples of");
}

/* Per-channel statistics of x/255 computed another way: sums in long double, the
 * variance as E[x^2] - E[x]^2 over the raw bytes. */
static void reference_channel_stats(const Dataset *ds, int ch, double *mean, double *std)
{
    const int plane = ds->h * ds->w;
    long double s = 0, ss = 0;
    for (int i = 0; i < ds->n; i++)
        for (int j = 0; j < plane; j++) {
            long double v = ds->x[(size_t)i * (size_t)ds->d + (size_t)(ch * plane + j)];
            s += v;
            ss += v * v;
        }
    long double cnt = (long double)ds->n * plane;
    long double m = s / cnt;
    *mean = (double)(m / 255);
    *std = (double)(sqrtl(ss / cnt - m * m) / 255);
}

static void normalize_should_standardize_per_channel(void)
{
    const char *dir = make_cifar10("c10-norm");
    Dataset tr, te, raw_tr, raw_te;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_read_cifar10(dir, 0, 0, &tr, &te, &err) == 0, "%s", err.msg);
    CHECK_MSG(dataset_read_cifar10(dir, 0, 0, &raw_tr, &raw_te, &err) == 0, "%s", err.msg);
    if (!tr.x || !raw_tr.x)
        return;
    double mean[3], std[3], ref_mean[3], ref_std[3];
    float lo = 0, hi = 0;
    dataset_normalize_scaled(&tr, &te, NORM_PER_CHANNEL, 255.0f, &lo, &hi, mean, std);
    float want_lo = HUGE_VALF, want_hi = -HUGE_VALF;
    for (int c = 0; c < 3; c++) {
        reference_channel_stats(&raw_tr, c, &ref_mean[c], &ref_std[c]);
        printf("    channel %d: mean %.6f std %.6f\n", c, mean[c], std[c]);
        CHECK_MSG(fabs(mean[c] - ref_mean[c]) <= 1e-12 && fabs(std[c] - ref_std[c]) <= 1e-12,
                  "channel %d: mean %.17g std %.17g, reference %.17g %.17g", c, mean[c], std[c],
                  ref_mean[c], ref_std[c]);
        float l = (float)(-mean[c] / std[c]), h = (float)((1.0 - mean[c]) / std[c]);
        want_lo = l < want_lo ? l : want_lo;
        want_hi = h > want_hi ? h : want_hi;
    }
    CHECK(lo == want_lo && hi == want_hi);
    /* every value, train and test, with the train statistics of its channel */
    int bad = 0;
    const Dataset *out[2] = {&tr, &te}, *raw[2] = {&raw_tr, &raw_te};
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < out[s]->n; i++)
            for (int k = 0; k < CIFAR_PIX; k++) {
                size_t q = (size_t)i * CIFAR_PIX + (size_t)k;
                int c = k / 1024;
                double want = ((double)(raw[s]->x[q] / 255.0f) - ref_mean[c]) / ref_std[c];
                if (fabs((double)out[s]->x[q] - want) > 1e-6 * (1 + fabs(want)))
                    bad++;
            }
    CHECK_MSG(bad == 0, "%d values differ", bad);
    /* one channel (IDX-like): per_channel is standardize, bit for bit */
    Dataset a, b, a_te, b_te;
    raw_sets(&a, &a_te);
    raw_sets(&b, &b_te);
    a.c = b.c = 1, a.h = b.h = 5, a.w = b.w = 6;
    dataset_normalize(&a, &a_te, NORM_STANDARDIZE, NULL, NULL);
    dataset_normalize(&b, &b_te, NORM_PER_CHANNEL, NULL, NULL);
    CHECK(same_set(&a, &b) && same_set(&a_te, &b_te));
    dataset_free(&a);
    dataset_free(&b);
    dataset_free(&a_te);
    dataset_free(&b_te);
    dataset_free(&tr);
    dataset_free(&te);
    dataset_free(&raw_tr);
    dataset_free(&raw_te);
}

static void load_should_read_cifar_from_a_config(void)
{
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_CIFAR100;
    snprintf(cfg.path, sizeof cfg.path, "%s", make_cifar100("c100-cfg"));
    cfg.labels = CIFAR_COARSE;
    cfg.train_subset = 10;
    cfg.norm = NORM_UNIT;
    Dataset tr, te;
    BpsErr err = {{0}};
    int rc = dataset_load(&cfg, &tr, &te, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc != 0)
        return;
    CHECK(tr.n == 10 && te.n == 6 && tr.classes == 20 && tr.c == 3 && te.h == 32);
    CHECK(tr.y[7] == coarse_of(7) && tr.x[5 * CIFAR_PIX + 2000] == cifar_pixel(5, 2000) / 255.0f);
    dataset_free(&tr);
    dataset_free(&te);
    cfg.kind = DATA_CIFAR10;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "c100-cfg/data_batch_1.bin: cannot open") != NULL, "%s", err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
}

/* The compact form of cfg's set against its float form, bit for bit: every sample (all
 * rows, a slice, a gather), the value ranges per channel and overall, the statistics. */
static void check_compact_matches_float(const DataConfig *cfg, int want_lut_c)
{
    Dataset f_tr, f_te, c_tr, c_te;
    DataProvenance f_prov, c_prov;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_load_provenance(cfg, &f_tr, &f_te, &f_prov, &err) == 0, "%s", err.msg);
    CHECK_MSG(dataset_load_compact(cfg, &c_tr, &c_te, &c_prov, &err) == 0, "%s", err.msg);
    if (!f_tr.x || !c_tr.x8)
        return;
    CHECK(!c_tr.x && !c_te.x && c_te.x8 && c_tr.lut_c == want_lut_c && c_te.lut_c == want_lut_c);
    CHECK(c_tr.n == f_tr.n && c_te.n == f_te.n && c_tr.d == f_tr.d && c_tr.norm == f_tr.norm);
    CHECK(c_prov.n_stats == f_prov.n_stats);
    for (int k = 0; k < f_prov.n_stats; k++)
        CHECK(c_prov.mean[k] == f_prov.mean[k] && c_prov.std[k] == f_prov.std[k]);
    const Dataset *f[2] = {&f_tr, &f_te}, *c[2] = {&c_tr, &c_te};
    for (int s = 0; s < 2; s++) {
        const int n = f[s]->n, D = f[s]->d;
        const size_t bytes = (size_t)n * (size_t)D * sizeof(float);
        float *all = malloc(bytes), *g = malloc(bytes);
        uint32_t *idx = malloc((size_t)n * sizeof *idx);
        CHECK(memcmp(f[s]->y, c[s]->y, (size_t)n) == 0);
        dataset_copy_rows(c[s], 0, n, all);
        CHECK_MSG(memcmp(all, f[s]->x, bytes) == 0, "set %d: the samples differ", s);
        const int start = n / 3, m = n - n / 3;
        const float *rows = dataset_rows(c[s], start, m, all);
        CHECK(rows == all && memcmp(rows, f[s]->x + (size_t)start * D,
                                    (size_t)m * (size_t)D * sizeof(float)) == 0);
        CHECK(dataset_rows(f[s], start, m, NULL) == f[s]->x + (size_t)start * D);
        for (int i = 0; i < n; i++)
            idx[i] = (uint32_t)((i * 5 + 3) % n);
        dataset_gather(c[s], idx, n, g);
        dataset_gather(f[s], idx, n, all);
        CHECK(memcmp(g, all, bytes) == 0);
        float lo_f, hi_f, lo_c, hi_c;
        const int C = f[s]->c, plane = D / C;
        for (int ch = 0; ch < C; ch++) {
            dataset_min_max(f[s], ch * plane, plane, &lo_f, &hi_f);
            dataset_min_max(c[s], ch * plane, plane, &lo_c, &hi_c);
            CHECK_MSG(lo_f == lo_c && hi_f == hi_c, "set %d channel %d: [%g, %g] vs [%g, %g]",
                      s, ch, (double)lo_f, (double)hi_f, (double)lo_c, (double)hi_c);
        }
        dataset_min_max(f[s], 0, D, &lo_f, &hi_f);
        dataset_min_max(c[s], 0, D, &lo_c, &hi_c);
        CHECK(lo_f == lo_c && hi_f == hi_c);
        free(all);
        free(g);
        free(idx);
    }
    dataset_free(&f_tr);
    dataset_free(&f_te);
    dataset_free(&c_tr);
    dataset_free(&c_te);
    data_provenance_free(&f_prov);
    data_provenance_free(&c_prov);
}

/* data.validation: the held-out tail of the training set is left out of the statistics
 * (equal to the reference over the first n - v samples) but normalised with them, in
 * both forms alike; a view of it reads the same rows; holding out everything is refused. */
static void validation_should_be_left_out_of_the_statistics(void)
{
    const char *dir = make_cifar10("c10-val");
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_CIFAR10;
    snprintf(cfg.path, sizeof cfg.path, "%s", dir);
    cfg.norm = NORM_PER_CHANNEL;
    cfg.validation = 4;
    Dataset tr, te, raw_tr, raw_te;
    DataProvenance prov;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_load_provenance(&cfg, &tr, &te, &prov, &err) == 0, "%s", err.msg);
    CHECK_MSG(dataset_read_cifar10(dir, 0, 0, &raw_tr, &raw_te, &err) == 0, "%s", err.msg);
    if (!tr.x || !raw_tr.x)
        return;
    const int n = tr.n, fit = n - cfg.validation;
    Dataset raw_fit = dataset_view(&raw_tr, 0, fit);
    int bad = 0;
    for (int c = 0; c < 3; c++) {
        double mean, std;
        reference_channel_stats(&raw_fit, c, &mean, &std);
        CHECK_MSG(fabs(prov.mean[c] - mean) <= 1e-12 && fabs(prov.std[c] - std) <= 1e-12,
                  "channel %d: %.17g %.17g, reference over %d samples %.17g %.17g", c,
                  prov.mean[c], prov.std[c], fit, mean, std);
        for (int i = fit; i < n; i++) /* the held-out rows, with the same statistics */
            for (int k = c * 1024; k < (c + 1) * 1024; k++) {
                size_t q = (size_t)i * CIFAR_PIX + (size_t)k;
                double want = ((double)(raw_tr.x[q] / 255.0f) - mean) / std;
                bad += fabs((double)tr.x[q] - want) > 1e-6 * (1 + fabs(want));
            }
    }
    CHECK_MSG(bad == 0, "%d held-out values differ", bad);
    /* a view: the same rows and labels, owning nothing */
    Dataset val = dataset_view(&tr, fit, cfg.validation);
    CHECK(val.n == 4 && val.borrowed && val.d == tr.d && val.y == tr.y + fit);
    CHECK(memcmp(dataset_rows(&val, 0, 4, NULL), tr.x + (size_t)fit * CIFAR_PIX,
                 4 * CIFAR_PIX * sizeof(float)) == 0);
    dataset_free(&val);
    CHECK(tr.x != NULL);
    check_compact_matches_float(&cfg, 3);
    dataset_free(&tr);
    dataset_free(&te);
    dataset_free(&raw_tr);
    dataset_free(&raw_te);
    data_provenance_free(&prov);
    cfg.validation = n;
    CHECK(dataset_load(&cfg, &tr, &te, &err) != 0);
    CHECK_MSG(strstr(err.msg, "data.validation: 12 samples held out of 12") != NULL, "%s",
              err.msg);
    CHECK(is_zero(&tr) && is_zero(&te));
}

static void load_compact_should_match_float_form(void)
{
    static const Normalization norms[4] = {NORM_NONE, NORM_UNIT, NORM_STANDARDIZE,
                                           NORM_PER_CHANNEL};
    DataConfig cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *c10 = make_cifar10("c10-compact"), *idx = make_dir("idx-compact", true, 3);
    for (int k = 0; k < 4; k++) {
        printf("    %s\n", data_norm_name(norms[k]));
        cfg.norm = norms[k];
        cfg.kind = DATA_CIFAR10;
        snprintf(cfg.path, sizeof cfg.path, "%s", c10);
        cfg.train_subset = k == 1 ? 9 : 0;
        check_compact_matches_float(&cfg, norms[k] == NORM_PER_CHANNEL ? 3 : 1);
        cfg.kind = DATA_IDX;
        snprintf(cfg.path, sizeof cfg.path, "%s", idx);
        cfg.train_subset = 0;
        check_compact_matches_float(&cfg, 1);
    }
    /* float sources stay floats */
    memset(&cfg, 0, sizeof cfg);
    cfg.kind = DATA_SYNTHETIC;
    cfg.n_train = 20, cfg.n_test = 5, cfg.features = 6, cfg.classes = 3, cfg.noise = 0.5;
    cfg.clusters = 1, cfg.seed = 4;
    Dataset tr, te, a, a_te;
    BpsErr err = {{0}};
    CHECK_MSG(dataset_load_compact(&cfg, &tr, &te, NULL, &err) == 0, "%s", err.msg);
    CHECK_MSG(dataset_load(&cfg, &a, &a_te, &err) == 0, "%s", err.msg);
    CHECK(tr.x && !tr.x8 && !tr.lut && same_set(&tr, &a) && same_set(&te, &a_te));
    dataset_free(&tr);
    dataset_free(&te);
    dataset_free(&a);
    dataset_free(&a_te);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s", test_tmpdir());
    RUN(read_idx_should_parse_plain_files);
    RUN(read_idx_should_parse_gzip_files);
    RUN(read_idx_should_keep_first_samples);
    RUN(read_idx_should_reject_missing_file);
    RUN(read_idx_should_reject_wrong_magic);
    RUN(read_idx_should_hint_swapped_files);
    RUN(read_idx_should_reject_unsupported_type);
    RUN(read_idx_should_reject_bad_dims);
    RUN(read_idx_should_reject_truncated_pixels);
    RUN(read_idx_should_reject_trailing_data);
    RUN(read_idx_should_reject_corrupt_gzip);
    RUN(read_idx_should_reject_labels_out_of_range);
    RUN(read_idx_should_reject_count_mismatch);
    RUN(read_idx_should_reject_keep_beyond_n);
    RUN(load_dir_should_accept_plain_and_gzip_names);
    RUN(load_dir_should_name_missing_files);
    RUN(load_dir_should_reject_subset_and_size_mismatch);
    RUN(load_should_subset_and_normalize_idx);
    RUN(load_should_record_provenance);
    RUN(synthetic_should_be_deterministic);
    RUN(synthetic_should_cluster_around_centres);
    RUN(load_should_truncate_synthetic_as_a_prefix);
    RUN(normalize_should_standardize_with_train_statistics);
    RUN(normalize_should_report_unit_and_raw_ranges);
    RUN(cifar10_should_read_batches_in_order);
    RUN(cifar100_should_read_fine_and_coarse_labels);
    RUN(cifar_should_reject_bad_files);
    RUN(normalize_should_standardize_per_channel);
    RUN(load_should_read_cifar_from_a_config);
    RUN(load_compact_should_match_float_form);
    RUN(validation_should_be_left_out_of_the_statistics);
    RUN(load_dir_should_read_fashion_mnist);
    remove_tmp();
    return test_summary();
}
