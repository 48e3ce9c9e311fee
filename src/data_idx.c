/* data_idx: IDX files (gzip-compressed or plain, read through zlib) into a Dataset, and
 * the standard directory layout of the four Fashion-MNIST / MNIST files. The format and
 * messages are described in docs/data.md. */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 0x00000803u    /* unsigned byte, 3 dimensions (n, rows, cols) */
#define IDX_MAGIC_LABELS 0x00000801u    /* unsigned byte, 1 dimension (n) */
#define IDX_TYPE_U8 0x08
#define IDX_GZ_BUFFER (1u << 17)        /* zlib's input buffer, bytes */
#define IDX_READ_MAX (1u << 30)         /* bytes per gzread call (its length is an int) */
#define IDX_SKIP_CHUNK (1u << 22)       /* bytes per read when discarding unkept data */
#define IDX_FIRST_ALLOC (1u << 24)      /* first size of a growing data buffer */

#define DATA_DEBIAN_DIR "/usr/share/datasets/fashion-mnist"
#define DATA_DEBIAN_PACKAGE "dataset-fashion-mnist"
#define DATA_CLASSES 10

/* ---- IDX reading ---------------------------------------------------------------- */

/* An open IDX file: the gzip handle (zlib reads plain files transparently) and its
 * header. Labels have rows = cols = 1. */
typedef struct {
    const char *path;
    const char *kind; /* "image" or "label", for messages */
    gzFile gz;
    uint32_t n, rows, cols;
} IdxFile;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static const char *idx_type_name(int type)
{
    switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "float";
    case 0x0E: return "double";
    default: return "not an IDX type";
    }
}

static void idx_close(IdxFile *f)
{
    if (f->gz)
        gzclose_r(f->gz);
    f->gz = NULL;
}

/* The message for a failed gzread: an I/O error, a gzip stream that ends early, or
 * corrupt compressed data. `what` names the part of the file being read. */
static int idx_gz_fail(IdxFile *f, const char *what, BpsErr *err)
{
    int code = Z_OK;
    const char *zmsg = gzerror(f->gz, &code); /* "<fd:N>: what went wrong" */
    if (strncmp(zmsg, "<fd:", 4) == 0 && strstr(zmsg, ": "))
        zmsg = strstr(zmsg, ": ") + 2;
    switch (code) {
    case Z_ERRNO:
        return bps_fail(err, "%s: read error in the %s: %s", f->path, what, zmsg);
    case Z_BUF_ERROR:
        return bps_fail(err,
                        "%s: truncated gzip stream: the compressed data ends in the middle of "
                        "the %s; the file is incomplete (download it again)",
                        f->path, what);
    case Z_MEM_ERROR:
        return bps_fail(err, "%s: out of memory in zlib while reading the %s", f->path, what);
    default:
        return bps_fail(err,
                        "%s: corrupt gzip stream in the %s (zlib: %s); the file is damaged "
                        "(download it again)",
                        f->path, what, zmsg);
    }
}

/* One gzread of up to n bytes. Returns the number of bytes read, 0 at a clean end of
 * file, or -1 with the message in err (a gzip stream cut short is an error here, not
 * an end of file). */
static long idx_gzread(IdxFile *f, void *buf, size_t n, const char *what, BpsErr *err)
{
    if (n > IDX_READ_MAX)
        n = IDX_READ_MAX;
    int r = gzread(f->gz, buf, (unsigned)n);
    if (r < 0)
        return idx_gz_fail(f, what, err);
    if (r == 0) {
        int code = Z_OK;
        gzerror(f->gz, &code);
        if (code != Z_OK)
            return idx_gz_fail(f, what, err);
    }
    return r;
}

/* Reads exactly n bytes. Returns 0, 1 if the file ends first (*got bytes came), or -1
 * with the message in err. */
static int idx_read_exact(IdxFile *f, void *buf, size_t n, size_t *got, const char *what,
                          BpsErr *err)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < n) {
        long r = idx_gzread(f, p + *got, n - *got, what, err);
        if (r < 0)
            return -1;
        if (r == 0)
            return 1;
        *got += (size_t)r;
    }
    return 0;
}

/* Opens path and reads and validates its IDX header: magic, data type, dimensions.
 * On failure the file is closed and err names it and what was expected. */
static int idx_open(IdxFile *f, const char *path, bool images, BpsErr *err)
{
    memset(f, 0, sizeof *f);
    f->path = path;
    f->kind = images ? "image" : "label";
    const uint32_t want = images ? IDX_MAGIC_IMAGES : IDX_MAGIC_LABELS;
    const uint32_t other = images ? IDX_MAGIC_LABELS : IDX_MAGIC_IMAGES;
    const int n_dims = images ? 3 : 1;
    const size_t header = 4 + 4 * (size_t)n_dims;

    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return bps_fail(err, "%s: cannot open IDX %s file: %s", path, f->kind, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return bps_fail(err, "%s: is a directory, expected an IDX %s file", path, f->kind);
    }
    f->gz = gzdopen(fd, "rb");
    if (!f->gz) {
        close(fd);
        return bps_fail(err, "%s: cannot open: out of memory in zlib", path);
    }
    gzbuffer(f->gz, IDX_GZ_BUFFER);

    unsigned char h[16];
    size_t got = 0;
    int rc = idx_read_exact(f, h, header, &got, "IDX header", err);
    if (rc < 0)
        goto fail;
    if (got >= 4) {
        uint32_t magic = be32(h);
        if (h[0] != 0 || h[1] != 0) {
            bps_fail(err, "%s: not an IDX %s file: wrong magic 0x%08x, expected 0x%08x", path,
                     f->kind, (unsigned)magic, (unsigned)want);
            goto fail;
        }
        if (h[2] != IDX_TYPE_U8) {
            bps_fail(err,
                     "%s: unsupported IDX data type 0x%02x (%s) in magic 0x%08x; expected "
                     "0x08 (unsigned byte), magic 0x%08x",
                     path, (unsigned)h[2], idx_type_name(h[2]), (unsigned)magic, (unsigned)want);
            goto fail;
        }
        if (magic == other) {
            bps_fail(err,
                     "%s: wrong magic 0x%08x (an IDX %s file), expected 0x%08x (an IDX %s "
                     "file); are the images and labels files swapped?",
                     path, (unsigned)magic, images ? "label" : "image", (unsigned)want,
                     f->kind);
            goto fail;
        }
        if (magic != want) {
            bps_fail(err,
                     "%s: wrong magic 0x%08x (%d dimensions), expected 0x%08x (an IDX %s file "
                     "with %d dimension%s)",
                     path, (unsigned)magic, h[3], (unsigned)want, f->kind, n_dims,
                     n_dims == 1 ? "" : "s");
            goto fail;
        }
    }
    if (rc > 0) {
        bps_fail(err, "%s: file ends after %zu bytes, inside the %zu-byte header of an IDX %s file",
                 path, got, header, f->kind);
        goto fail;
    }

    f->n = be32(h + 4);
    f->rows = images ? be32(h + 8) : 1;
    f->cols = images ? be32(h + 12) : 1;
    if (f->n == 0) {
        bps_fail(err, "%s: header says the file holds 0 %ss; expected at least one", path,
                 f->kind);
        goto fail;
    }
    if (f->n > DATA_MAX_SAMPLES) {
        bps_fail(err, "%s: header says %u %ss, more than the limit of %u (corrupt header?)",
                 path, (unsigned)f->n, f->kind, DATA_MAX_SAMPLES);
        goto fail;
    }
    if (f->rows == 0 || f->cols == 0) {
        bps_fail(err, "%s: header says images are %ux%u; expected positive rows and columns",
                 path, (unsigned)f->rows, (unsigned)f->cols);
        goto fail;
    }
    if ((uint64_t)f->rows * f->cols > DATA_MAX_FEATURES) {
        bps_fail(err,
                 "%s: header says images are %ux%u, more than the limit of %u pixels "
                 "(corrupt header?)",
                 path, (unsigned)f->rows, (unsigned)f->cols, DATA_MAX_FEATURES);
        goto fail;
    }
    return 0;

fail:
    idx_close(f);
    return -1;
}

/* Reads the data block after the header: `total` bytes, of which the first `keep` are
 * returned in a new buffer (*out, caller frees) and the rest are read and discarded;
 * then checks that the file ends there. The buffer grows with what actually arrives,
 * so a header that promises more than the file holds never causes a huge allocation.
 * On failure *out is NULL and err names the file. */
static int idx_read_body(IdxFile *f, const char *what, uint64_t total, uint64_t keep,
                         unsigned char **out, BpsErr *err)
{
    assert(keep <= total);
    unsigned char *buf = NULL, *scratch = NULL;
    uint64_t found = 0, cap = 0;
    long r = 0;
    *out = NULL;

    if (keep > SIZE_MAX) {
        bps_fail(err, "%s: %llu bytes of %s do not fit in memory", f->path,
                 (unsigned long long)keep, what);
        goto fail;
    }
    while (found < keep) {
        if (found == cap) {
            cap = cap ? 2 * cap : IDX_FIRST_ALLOC;
            if (cap > keep)
                cap = keep;
            buf = xrealloc(buf, (size_t)cap);
        }
        r = idx_gzread(f, buf + found, (size_t)(cap - found), what, err);
        if (r < 0)
            goto fail;
        if (r == 0)
            goto truncated;
        found += (uint64_t)r;
    }
    if (found < total)
        scratch = xmalloc(IDX_SKIP_CHUNK);
    while (found < total) {
        uint64_t left = total - found;
        r = idx_gzread(f, scratch, left < IDX_SKIP_CHUNK ? (size_t)left : IDX_SKIP_CHUNK, what,
                       err);
        if (r < 0)
            goto fail;
        if (r == 0)
            goto truncated;
        found += (uint64_t)r;
    }

    /* Must be at the end now. Count any extra bytes to the end: that also runs the
     * gzip trailer's CRC check, which reports corruption before "trailing data". */
    unsigned char extra[4096];
    uint64_t n_extra = 0;
    while ((r = idx_gzread(f, extra, sizeof extra, what, err)) > 0)
        n_extra += (uint64_t)r;
    if (r < 0)
        goto fail;
    if (n_extra > 0) {
        bps_fail(err,
                 "%s: %llu bytes of trailing data after the %llu bytes of %s that the header "
                 "announces (%u %ss); wrong file or corrupt header?",
                 f->path, (unsigned long long)n_extra, (unsigned long long)total, what,
                 (unsigned)f->n, f->kind);
        goto fail;
    }
    free(scratch);
    *out = buf;
    return 0;

truncated:
    bps_fail(err,
             "%s: truncated: the header announces %u %ss, so expected %llu bytes of %s, "
             "found %llu",
             f->path, (unsigned)f->n, f->kind, (unsigned long long)total, what,
             (unsigned long long)found);
fail:
    free(buf);
    free(scratch);
    return -1;
}

/* dataset_read_idx with the name of the `keep` setting for messages ("keep",
 * "train_subset", "test_subset"); bytes: the pixels stay raw bytes in out->x8 (x NULL). */
static int idx_read_pair(const char *images_path, const char *labels_path, int classes, int keep,
                         const char *keep_name, bool bytes, Dataset *out, BpsErr *err)
{
    assert(classes >= 1 && classes <= 256);
    memset(out, 0, sizeof *out);
    IdxFile im = {0}, lb = {0};
    unsigned char *pix = NULL, *lab = NULL;

    if (keep < 0)
        return bps_fail(err, "%s %d is negative; use 0 for all samples", keep_name, keep);
    if (idx_open(&im, images_path, true, err) != 0)
        return -1;
    if (idx_open(&lb, labels_path, false, err) != 0)
        goto fail;
    if (im.n != lb.n) {
        bps_fail(err, "%s has %u images but %s has %u labels; they must describe the same samples",
                 images_path, (unsigned)im.n, labels_path, (unsigned)lb.n);
        goto fail;
    }
    if ((uint32_t)keep > im.n) {
        bps_fail(err, "%s %d exceeds the %u samples of %s", keep_name, keep, (unsigned)im.n,
                 images_path);
        goto fail;
    }
    const uint64_t n = im.n, d = (uint64_t)im.rows * im.cols;
    const uint64_t n_keep = keep > 0 ? (uint64_t)keep : n;
    if (n_keep * d > SIZE_MAX / sizeof(float)) {
        bps_fail(err, "%s: %llu images of %llu pixels do not fit in memory", images_path,
                 (unsigned long long)n_keep, (unsigned long long)d);
        goto fail;
    }

    if (idx_read_body(&im, "pixel data", n * d, n_keep * d, &pix, err) != 0)
        goto fail;
    /* every label is read and checked, kept or not: a bad file is bad as a whole */
    if (idx_read_body(&lb, "label data", n, n, &lab, err) != 0)
        goto fail;
    for (uint64_t i = 0; i < n; i++) {
        if (lab[i] >= classes) {
            bps_fail(err, "%s: label %d at index %llu is out of range [0, %d); wrong file?",
                     labels_path, lab[i], (unsigned long long)i, classes);
            goto fail;
        }
    }
    idx_close(&im);
    idx_close(&lb);

    if (bytes) {
        out->x8 = pix;
    } else {
        const size_t count = (size_t)(n_keep * d);
        float *x = xalloc_aligned(count * sizeof(float));
        for (size_t i = 0; i < count; i++)
            x[i] = (float)pix[i];
        free(pix);
        out->x = x;
    }
    out->n = (int)n_keep;
    out->d = (int)d;
    out->classes = classes;
    out->y = n_keep < n ? xrealloc(lab, (size_t)n_keep) : lab;
    out->borrowed = false;
    out->c = 1;
    out->h = (int)im.rows;
    out->w = (int)im.cols;
    return 0;

fail:
    idx_close(&im);
    idx_close(&lb);
    free(pix);
    free(lab);
    return -1;
}

int dataset_read_idx(const char *images_path, const char *labels_path, int classes, int keep,
                     Dataset *out, BpsErr *err)
{
    return idx_read_pair(images_path, labels_path, classes, keep, "keep", false, out, err);
}

/* ---- the standard directory layout --------------------------------------------------- */

static bool is_debian_dir(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    return len == strlen(DATA_DEBIAN_DIR) && strncmp(dir, DATA_DEBIAN_DIR, len) == 0;
}

/* Finds dir/name.gz or else dir/name into path (cap bytes). A path that exists but
 * cannot be examined is taken, so that opening it reports the real reason. */
static int find_idx_file(const char *dir, const char *name, char *path, size_t cap, BpsErr *err)
{
    struct stat st;
    int len = snprintf(path, cap, "%s/%s.gz", dir, name);
    if (len < 0 || (size_t)len >= cap)
        return bps_fail(err, "%s: data directory path too long", dir);
    if (stat(path, &st) == 0 || errno != ENOENT)
        return 0;
    snprintf(path, cap, "%s/%s", dir, name);
    if (stat(path, &st) == 0 || errno != ENOENT)
        return 0;

    const char *why = "";
    if (stat(dir, &st) != 0)
        why = " (the directory does not exist)";
    else if (!S_ISDIR(st.st_mode))
        why = " (it is not a directory)";
    if (is_debian_dir(dir))
        return bps_fail(err,
                        "%s/%s.gz: not found, nor %s without .gz, in %s%s; Fashion-MNIST is "
                        "packaged for Debian: apt-get install %s",
                        dir, name, name, dir, why, DATA_DEBIAN_PACKAGE);
    return bps_fail(err,
                    "%s/%s.gz: not found, nor %s without .gz, in %s%s; the data directory must "
                    "hold the four standard IDX files (train-images-idx3-ubyte.gz, "
                    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                    "t10k-labels-idx1-ubyte.gz, each also accepted without .gz)",
                    dir, name, name, dir, why);
}

/* dataset_load_dir, with the paths of the four files it read in paths. */
int data_idx_load_dir(const char *dir, int keep_train, int keep_test, bool bytes, Dataset *train,
                      Dataset *test, char (*paths)[DATA_FILE_PATH_MAX], BpsErr *err)
{
    static const char *const names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    for (int i = 0; i < 4; i++)
        if (find_idx_file(dir, names[i], paths[i], sizeof paths[i], err) != 0)
            return -1;
    if (idx_read_pair(paths[0], paths[1], DATA_CLASSES, keep_train, "train_subset", bytes,
                      train, err) != 0)
        return -1;
    if (idx_read_pair(paths[2], paths[3], DATA_CLASSES, keep_test, "test_subset", bytes, test,
                      err) != 0) {
        dataset_free(train);
        return -1;
    }
    if (train->d != test->d) {
        bps_fail(err,
                 "%s has %d pixels per image but %s has %d; train and test sets must have the "
                 "same image size",
                 paths[0], train->d, paths[2], test->d);
        dataset_free(train);
        dataset_free(test);
        return -1;
    }
    return 0;
}

int dataset_load_dir(const char *dir, int keep_train, int keep_test, Dataset *train,
                     Dataset *test, BpsErr *err)
{
    char paths[4][DATA_FILE_PATH_MAX];
    return data_idx_load_dir(dir, keep_train, keep_test, false, train, test, paths, err);
}
