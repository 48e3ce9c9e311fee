/* data: IDX files (gzip-compressed or plain) and the CIFAR-10/100 binary files into
 * float arrays, deterministic synthetic sets, normalisation. The formats and messages
 * are described in docs/data.md. */
#define _POSIX_C_SOURCE 200809L
#define _XOPEN_SOURCE 700 /* realpath */
#include "bpsweep/data.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bpsweep/rng.h"

#define IDX_MAGIC_IMAGES 0x00000803u    /* unsigned byte, 3 dimensions (n, rows, cols) */
#define IDX_MAGIC_LABELS 0x00000801u    /* unsigned byte, 1 dimension (n) */
#define IDX_TYPE_U8 0x08
#define IDX_MAX_SAMPLES 100000000u      /* more than this in a header means corruption */
#define IDX_MAX_FEATURES 1000000u       /* rows * cols */
#define IDX_GZ_BUFFER (1u << 17)        /* zlib's input buffer, bytes */
#define IDX_READ_MAX (1u << 30)         /* bytes per gzread call (its length is an int) */
#define IDX_SKIP_CHUNK (1u << 22)       /* bytes per read when discarding unkept data */
#define IDX_FIRST_ALLOC (1u << 24)      /* first size of a growing data buffer */

#define DATA_DEBIAN_DIR "/usr/share/datasets/fashion-mnist"
#define DATA_DEBIAN_PACKAGE "dataset-fashion-mnist"
#define DATA_CLASSES 10

/* Keys of the RNG_DATA streams of a synthetic set (the `index` of rng_key). */
enum { SYNTH_CENTRES = 0, SYNTH_TRAIN = 1, SYNTH_TEST = 2 };

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
    if (f->n > IDX_MAX_SAMPLES) {
        bps_fail(err, "%s: header says %u %ss, more than the limit of %u (corrupt header?)",
                 path, (unsigned)f->n, f->kind, IDX_MAX_SAMPLES);
        goto fail;
    }
    if (f->rows == 0 || f->cols == 0) {
        bps_fail(err, "%s: header says images are %ux%u; expected positive rows and columns",
                 path, (unsigned)f->rows, (unsigned)f->cols);
        goto fail;
    }
    if ((uint64_t)f->rows * f->cols > IDX_MAX_FEATURES) {
        bps_fail(err,
                 "%s: header says images are %ux%u, more than the limit of %u pixels "
                 "(corrupt header?)",
                 path, (unsigned)f->rows, (unsigned)f->cols, IDX_MAX_FEATURES);
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

#define IDX_PATH_MAX (DATA_PATH_MAX + 64)

/* dataset_load_dir, with the paths of the four files it read in paths. */
static int idx_load_dir(const char *dir, int keep_train, int keep_test, bool bytes,
                        Dataset *train, Dataset *test, char (*paths)[IDX_PATH_MAX], BpsErr *err)
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
    char paths[4][IDX_PATH_MAX];
    return idx_load_dir(dir, keep_train, keep_test, false, train, test, paths, err);
}

/* ---- CIFAR-10 and CIFAR-100 binary files ----------------------------------------------- */

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
        if (sp->n > IDX_MAX_SAMPLES) {
            bps_fail(err, "%s: more than %u %s records in the split", path, IDX_MAX_SAMPLES,
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
static int cifar10_read(const char *dir, int keep_train, int keep_test, bool bytes,
                        Dataset *train, Dataset *test, BpsErr *err)
{
    static const CifarFormat fmt = {
        "CIFAR-10", 1, 0, {10, 0}, {"label", NULL},
        "the CIFAR-10 binary version (cifar-10-binary.tar.gz, folder cifar-10-batches-bin): "
        "data_batch_1.bin .. data_batch_5.bin and test_batch.bin"};
    return cifar_read(dir, &fmt, CIFAR10_FILES, 5, CIFAR10_FILES[5], keep_train, keep_test,
                      bytes, train, test, err);
}

static int cifar100_read(const char *dir, bool fine, int keep_train, int keep_test, bool bytes,
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
    return cifar10_read(dir, keep_train, keep_test, false, train, test, err);
}

int dataset_read_cifar100(const char *dir, bool fine, int keep_train, int keep_test,
                          Dataset *train, Dataset *test, BpsErr *err)
{
    return cifar100_read(dir, fine, keep_train, keep_test, false, train, test, err);
}

/* ---- synthetic sets ---------------------------------------------------------------- */

/* Fills ds with n samples: sample i has label c = i % classes and features
 * centre[c + classes * ((i / classes) % clusters)] + noise * N(0, 1), drawn in order
 * from the stream with `key`. */
static void synthetic_fill(Dataset *ds, int n, int d, int classes, int clusters, double noise,
                           const double *centres, uint64_t key)
{
    memset(ds, 0, sizeof *ds);
    ds->n = n;
    ds->d = d;
    ds->classes = classes;
    ds->x = xalloc_aligned((size_t)n * (size_t)d * sizeof(float));
    ds->y = xmalloc((size_t)n);
    ds->borrowed = false;
    ds->c = d;
    ds->h = 1;
    ds->w = 1;
    RngStream s = rng_stream(key);
    for (int i = 0; i < n; i++) {
        int c = i % classes, k = c + classes * ((i / classes) % clusters);
        const double *centre = centres + (size_t)k * (size_t)d; /* (d) */
        float *xi = ds->x + (size_t)i * (size_t)d;              /* (d) */
        ds->y[i] = (uint8_t)c;
        for (int j = 0; j < d; j++)
            xi[j] = (float)(centre[j] + noise * rng_normal(&s));
    }
}

void dataset_synthetic_clusters(int n_train, int n_test, int d, int classes, int clusters,
                                double noise, uint64_t seed, Dataset *train, Dataset *test)
{
    assert(n_train >= 1 && n_test >= 0 && d >= 1);
    assert(classes >= 1 && classes <= 256 && clusters >= 1);
    const int dims[2] = {d, classes};
    size_t nc = (size_t)classes * (size_t)clusters;
    double *centres = xmalloc(nc * (size_t)d * sizeof(double)); /* (classes * clusters, d) */
    RngStream s = rng_stream(rng_key(seed, dims, 2, RNG_DATA, SYNTH_CENTRES));
    for (size_t i = 0; i < nc * (size_t)d; i++)
        centres[i] = rng_normal(&s);
    synthetic_fill(train, n_train, d, classes, clusters, noise, centres,
                   rng_key(seed, dims, 2, RNG_DATA, SYNTH_TRAIN));
    synthetic_fill(test, n_test, d, classes, clusters, noise, centres,
                   rng_key(seed, dims, 2, RNG_DATA, SYNTH_TEST));
    free(centres);
}

void dataset_synthetic(int n_train, int n_test, int d, int classes, double noise,
                       uint64_t seed, Dataset *train, Dataset *test)
{
    dataset_synthetic_clusters(n_train, n_test, d, classes, 1, noise, seed, train, test);
}

/* ---- normalisation --------------------------------------------------------------- */

/* x = ((x / scale) - mean) / std over n values, with x / scale rounded to float first
 * as torchvision's ToTensor does. */
static float standardize_value(float x, float scale, double mean, double std)
{
    return (float)(((double)(x / scale) - mean) / std);
}

static void standardize(float *x, size_t n, float scale, double mean, double std)
{
    for (size_t i = 0; i < n; i++)
        x[i] = standardize_value(x[i], scale, mean, std);
}

/* Mean and population std of the raw values of channel ch over every sample of ds (the
 * ds->h * ds->w pixels at ch of each; floats x or, in the compact form before its tables,
 * bytes x8, the same sums in the same order), two passes in double, divided by scale; a
 * std of 0 is taken as 1 (constant pixels: only centre them). */
static void channel_stats(const Dataset *ds, int ch, int channels, float scale, double *mean,
                          double *std)
{
    const size_t plane = (size_t)ds->d / (size_t)channels; /* pixels of one channel */
    const size_t count = (size_t)ds->n * plane;
    double sum = 0.0, ss = 0.0;
    for (int i = 0; i < ds->n; i++) {
        const size_t o = (size_t)i * (size_t)ds->d + (size_t)ch * plane; /* (plane) at o */
        if (ds->x8)
            for (size_t j = 0; j < plane; j++)
                sum += (double)ds->x8[o + j];
        else
            for (size_t j = 0; j < plane; j++)
                sum += (double)ds->x[o + j];
    }
    const double mean_raw = sum / (double)count;
    for (int i = 0; i < ds->n; i++) {
        const size_t o = (size_t)i * (size_t)ds->d + (size_t)ch * plane;
        for (size_t j = 0; j < plane; j++) {
            double dx = (ds->x8 ? (double)ds->x8[o + j] : (double)ds->x[o + j]) - mean_raw;
            ss += dx * dx;
        }
    }
    *mean = mean_raw / (double)scale;
    *std = sqrt(ss / (double)count) / (double)scale;
    if (!(*std > 0.0))
        *std = 1.0;
}

/* standardize channel ch of every sample of ds with its mean and std. */
static void standardize_channel(Dataset *ds, int ch, int channels, float scale, double mean,
                                double std)
{
    const size_t plane = (size_t)ds->d / (size_t)channels;
    for (int i = 0; i < ds->n; i++)
        standardize(ds->x + (size_t)i * (size_t)ds->d + (size_t)ch * plane, plane, scale, mean,
                    std);
}

void dataset_normalize_scaled(Dataset *train, Dataset *test, Normalization norm, float scale,
                              float *lo, float *hi, double *mean_out, double *std_out)
{
    assert(train && train->n > 0 && train->d > 0 && scale > 0.0f);
    const size_t n_train = (size_t)train->n * (size_t)train->d;
    const size_t n_test = test ? (size_t)test->n * (size_t)test->d : 0;
    float l = 0.0f, h = scale;

    switch (norm) {
    case NORM_NONE:
        break;
    case NORM_UNIT:
        for (size_t i = 0; i < n_train; i++)
            train->x[i] /= scale;
        for (size_t i = 0; i < n_test; i++)
            test->x[i] /= scale;
        l = 0.0f;
        h = 1.0f;
        break;
    case NORM_STANDARDIZE: {
        /* global mean and population std of x/scale over every train pixel: the whole
         * sample as one channel */
        double mean = 0.0, std = 1.0;
        channel_stats(train, 0, 1, scale, &mean, &std);
        standardize(train->x, n_train, scale, mean, std);
        if (test)
            standardize(test->x, n_test, scale, mean, std);
        l = (float)((0.0 - mean) / std);
        h = (float)((1.0 - mean) / std);
        if (mean_out)
            mean_out[0] = mean;
        if (std_out)
            std_out[0] = std;
        break;
    }
    case NORM_PER_CHANNEL: {
        const int C = train->c > 0 ? train->c : train->d;
        assert(train->d % C == 0 && (!test || test->d == train->d));
        for (int ch = 0; ch < C; ch++) {
            double mean = 0.0, std = 1.0;
            channel_stats(train, ch, C, scale, &mean, &std);
            standardize_channel(train, ch, C, scale, mean, std);
            if (test)
                standardize_channel(test, ch, C, scale, mean, std);
            float lc = (float)((0.0 - mean) / std), hc = (float)((1.0 - mean) / std);
            l = ch == 0 || lc < l ? lc : l;
            h = ch == 0 || hc > h ? hc : h;
            if (mean_out)
                mean_out[ch] = mean;
            if (std_out)
                std_out[ch] = std;
        }
        break;
    }
    }
    train->norm = norm;
    if (test)
        test->norm = norm;
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
}

void dataset_normalize(Dataset *train, Dataset *test, Normalization norm, float *lo, float *hi)
{
    dataset_normalize_scaled(train, test, norm, 255.0f, lo, hi, NULL, NULL);
}

/* The compact form of train and test, whose raw bytes are in x8: their tables (lut_c
 * of 256 floats each, one copy per set), the float of byte v computed by the very
 * expressions dataset_normalize_scaled applies to the float (v), so that both forms
 * agree bit for bit. mean, std as for dataset_normalize_scaled. */
static void normalize_compact(Dataset *train, Dataset *test, Normalization norm, float scale,
                              double *mean_out, double *std_out)
{
    assert(train->x8 && !train->x && (!test->n || (test->x8 && !test->x)));
    const int C = norm == NORM_PER_CHANNEL ? (train->c > 0 ? train->c : train->d) : 1;
    assert(train->d % C == 0 && test->d == train->d);
    float *lut = xmalloc((size_t)C * 256 * sizeof *lut); /* (C, 256) */
    for (int ch = 0; ch < C; ch++) {
        double mean = 0.0, std = 1.0;
        if (norm == NORM_STANDARDIZE || norm == NORM_PER_CHANNEL)
            channel_stats(train, ch, C, scale, &mean, &std);
        for (int v = 0; v < 256; v++) {
            float x = (float)v, *t = lut + (size_t)ch * 256 + v;
            switch (norm) {
            case NORM_NONE: *t = x; break;
            case NORM_UNIT: *t = x / scale; break;
            case NORM_STANDARDIZE:
            case NORM_PER_CHANNEL: *t = standardize_value(x, scale, mean, std); break;
            }
        }
        if (norm == NORM_STANDARDIZE || norm == NORM_PER_CHANNEL) {
            if (mean_out)
                mean_out[ch] = mean;
            if (std_out)
                std_out[ch] = std;
        }
    }
    train->lut = lut;
    test->lut = xmalloc((size_t)C * 256 * sizeof *lut);
    memcpy(test->lut, lut, (size_t)C * 256 * sizeof *lut);
    train->lut_c = test->lut_c = C;
    train->norm = test->norm = norm;
}

/* ---- reading samples of either form ------------------------------------------------ */

/* out (d) = sample src (d bytes) through the tables of ds. */
static void row_from_bytes(const Dataset *ds, const uint8_t *src, float *out)
{
    const int plane = ds->d / ds->lut_c;
    for (int ch = 0; ch < ds->lut_c; ch++) {
        const float *restrict t = ds->lut + (size_t)ch * 256;         /* (256) */
        const uint8_t *restrict s = src + (size_t)ch * (size_t)plane; /* (plane) */
        float *restrict o = out + (size_t)ch * (size_t)plane;
        int j = 0;
        for (; j + 8 <= plane; j += 8) { /* 8 independent lookups per iteration */
            float v0 = t[s[j]], v1 = t[s[j + 1]], v2 = t[s[j + 2]], v3 = t[s[j + 3]];
            float v4 = t[s[j + 4]], v5 = t[s[j + 5]], v6 = t[s[j + 6]], v7 = t[s[j + 7]];
            o[j] = v0, o[j + 1] = v1, o[j + 2] = v2, o[j + 3] = v3;
            o[j + 4] = v4, o[j + 5] = v5, o[j + 6] = v6, o[j + 7] = v7;
        }
        for (; j < plane; j++)
            o[j] = t[s[j]];
    }
}

const float *dataset_rows(const Dataset *ds, int start, int n, float *buf)
{
    assert(start >= 0 && n >= 0 && start + n <= ds->n);
    if (ds->x)
        return ds->x + (size_t)start * (size_t)ds->d;
    dataset_copy_rows(ds, start, n, buf);
    return buf;
}

void dataset_copy_rows(const Dataset *ds, int start, int n, float *out)
{
    assert(start >= 0 && n >= 0 && start + n <= ds->n);
    const size_t D = (size_t)ds->d;
    if (ds->x) {
        memcpy(out, ds->x + (size_t)start * D, (size_t)n * D * sizeof *out);
        return;
    }
    assert(ds->x8 && ds->lut);
    for (int i = 0; i < n; i++)
        row_from_bytes(ds, ds->x8 + (size_t)(start + i) * D, out + (size_t)i * D);
}

void dataset_prefetch(const Dataset *ds, int i)
{
    /* the rows of a batch are scattered and short (784 bytes for MNIST), too short for
     * the hardware prefetcher: without this the compact gather waits on memory */
    if (!ds->x8)
        return;
    const uint8_t *row = ds->x8 + (size_t)i * (size_t)ds->d;
    for (size_t k = 0; k < (size_t)ds->d; k += 64)
        __builtin_prefetch(row + k);
}

void dataset_gather(const Dataset *ds, const uint32_t *idx, int n, float *out)
{
    const size_t D = (size_t)ds->d;
    if (ds->x) {
        for (int i = 0; i < n; i++) {
            assert(idx[i] < (uint32_t)ds->n);
            memcpy(out + (size_t)i * D, ds->x + (size_t)idx[i] * D, D * sizeof *out);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        assert(idx[i] < (uint32_t)ds->n);
        if (i + 1 < n)
            dataset_prefetch(ds, (int)idx[i + 1]);
        row_from_bytes(ds, ds->x8 + (size_t)idx[i] * D, out + (size_t)i * D);
    }
}

void dataset_min_max(const Dataset *ds, int j0, int len, float *lo, float *hi)
{
    assert(len >= 1 && j0 >= 0 && j0 + len <= ds->d);
    const size_t D = (size_t)ds->d;
    float a, b;
    if (ds->n == 0) {
        a = b = 0.0f;
    } else if (ds->x) {
        a = b = ds->x[j0];
        for (size_t k = 0; k < (size_t)ds->n; k++)
            for (size_t j = (size_t)j0; j < (size_t)(j0 + len); j++) {
                float v = ds->x[k * D + j];
                a = v < a ? v : a;
                b = v > b ? v : b;
            }
    } else {
        /* the byte values present in each table's pixels, then their floats: the same
         * set of values as the float form holds */
        const int plane = ds->d / ds->lut_c;
        bool *seen = xcalloc((size_t)ds->lut_c * 256, sizeof *seen); /* (lut_c, 256) */
        for (size_t k = 0; k < (size_t)ds->n; k++)
            for (int j = j0; j < j0 + len; j++)
                seen[(size_t)(j / plane) * 256 + ds->x8[k * D + (size_t)j]] = true;
        a = b = ds->lut[(size_t)(j0 / plane) * 256 + ds->x8[j0]];
        for (size_t q = 0; q < (size_t)ds->lut_c * 256; q++) {
            if (!seen[q])
                continue;
            a = ds->lut[q] < a ? ds->lut[q] : a;
            b = ds->lut[q] > b ? ds->lut[q] : b;
        }
        free(seen);
    }
    *lo = a;
    *hi = b;
}

/* ---- from a DataConfig ----------------------------------------------------------- */

/* A subset setting for a synthetic set: 0 = all n, else at most n. */
static int synthetic_count(const char *name, int subset, const char *total_name, int n, int *out,
                           BpsErr *err)
{
    if (subset < 0)
        return bps_fail(err, "%s %d is negative; use 0 for all samples", name, subset);
    if (subset > n)
        return bps_fail(err, "%s %d exceeds the %d samples of the synthetic data set (%s)", name,
                        subset, n, total_name);
    *out = subset > 0 ? subset : n;
    return 0;
}

static int load_synthetic(const DataConfig *cfg, Dataset *train, Dataset *test, BpsErr *err)
{
    if (cfg->n_train < 1 || cfg->n_test < 1 || (unsigned)cfg->n_train > IDX_MAX_SAMPLES ||
        (unsigned)cfg->n_test > IDX_MAX_SAMPLES)
        return bps_fail(err, "synthetic data: n_train and n_test must be in [1, %u], got %d and %d",
                        IDX_MAX_SAMPLES, cfg->n_train, cfg->n_test);
    if (cfg->features < 1 || (unsigned)cfg->features > IDX_MAX_FEATURES)
        return bps_fail(err, "synthetic data: features must be in [1, %u], got %d",
                        IDX_MAX_FEATURES, cfg->features);
    if (cfg->classes < 2 || cfg->classes > 256)
        return bps_fail(err, "synthetic data: classes must be in [2, 256], got %d", cfg->classes);
    if (!(cfg->noise >= 0.0) || !isfinite(cfg->noise))
        return bps_fail(err, "synthetic data: noise must be a finite number >= 0, got %g",
                        cfg->noise);
    int n_train = 0, n_test = 0;
    if (synthetic_count("train_subset", cfg->train_subset, "n_train", cfg->n_train, &n_train,
                        err) != 0 ||
        synthetic_count("test_subset", cfg->test_subset, "n_test", cfg->n_test, &n_test, err) != 0)
        return -1;
    /* Samples are drawn in order, so making only the first n_train samples gives
     * exactly the first n_train samples of the full set. */
    const int *im = cfg->image;
    if (im[0] || im[1] || im[2]) {
        if (im[0] < 1 || im[1] < 1 || im[2] < 1 ||
            (int64_t)im[0] * im[1] * im[2] != (int64_t)cfg->features)
            return bps_fail(err,
                            "synthetic data: image_shape [%d, %d, %d] must be positive with "
                            "C*H*W = features (%d)",
                            im[0], im[1], im[2], cfg->features);
    }
    dataset_synthetic_clusters(n_train, n_test, cfg->features, cfg->classes,
                               cfg->clusters > 0 ? cfg->clusters : 1, cfg->noise, cfg->seed, train,
                               test);
    if (im[0]) {
        train->c = test->c = im[0];
        train->h = test->h = im[1];
        train->w = test->w = im[2];
    }
    return 0;
}

/* ---- provenance ------------------------------------------------------------------ */

#define PROV_BLOCK (1u << 20) /* bytes per read when checksumming a file */

int data_file_checksum(const char *path, DataFile *out, BpsErr *err)
{
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    snprintf(out->name, sizeof out->name, "%s", base ? base + 1 : path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return bps_fail(err, "%s: cannot open it to checksum it: %s", path, strerror(errno));
    unsigned char *buf = xmalloc(PROV_BLOCK);
    uint64_t h = BPS_HASH_INIT, bytes = 0;
    size_t got;
    while ((got = fread(buf, 1, PROV_BLOCK, f)) > 0) {
        h = bps_hash_bytes(h, buf, got);
        bytes += got;
    }
    int rc = 0;
    if (ferror(f))
        rc = bps_fail(err, "%s: read error while checksumming it", path);
    free(buf);
    fclose(f);
    out->bytes = bytes;
    out->checksum = h;
    return rc;
}

const char *data_norm_name(Normalization norm)
{
    switch (norm) {
    case NORM_NONE:
        return "none";
    case NORM_UNIT:
        return "unit";
    case NORM_STANDARDIZE:
        return "standardize";
    case NORM_PER_CHANNEL:
        return "per_channel";
    }
    return "unknown";
}

char *data_provenance_files(const DataProvenance *p)
{
    size_t cap = 1 + (size_t)p->n_files * (DATA_PROV_NAME_MAX + 64), len = 0;
    char *s = xmalloc(cap);
    s[0] = '\0';
    for (int i = 0; i < p->n_files; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%s %" PRIu64 " %016" PRIx64,
                                i ? "; " : "", p->files[i].name, p->files[i].bytes,
                                p->files[i].checksum);
    return s;
}

/* A list of n statistics, "[a, b, c]", rounded to 4 significant digits. */
static void print_stats(FILE *out, const char *name, const double *v, int n)
{
    fprintf(out, " %s [", name);
    for (int i = 0; i < n && i < 8; i++)
        fprintf(out, "%s%.4g", i ? ", " : "", v[i]);
    if (n > 8)
        fprintf(out, ", ... (%d values)", n);
    fputc(']', out);
}

void data_provenance_print(FILE *out, const DataProvenance *p)
{
    fprintf(out, "data: %s%s%s, samples (%d, %d, %d), train %d, test %d, normalization %s",
            p->source, p->dir[0] ? " " : "", p->dir, p->shape.c, p->shape.h, p->shape.w,
            p->n_train, p->n_test, data_norm_name(p->norm));
    if (p->n_stats > 0) {
        fputs(":", out);
        print_stats(out, "mean", p->mean, p->n_stats);
        print_stats(out, "std", p->std, p->n_stats);
    }
    if (strcmp(p->source, "synthetic") == 0)
        fputs(" (generated: no files; its parameters and seed are in the spec)", out);
    fputc('\n', out);
    for (int i = 0; i < p->n_files; i++)
        fprintf(out, "  %-28s %12" PRIu64 " bytes  %s %016" PRIx64 "\n", p->files[i].name,
                p->files[i].bytes, DATA_CHECKSUM_ALGORITHM, p->files[i].checksum);
}

/* Whether the "; "-joined list holds the entry of n bytes. */
static bool list_has(const char *list, const char *entry, size_t n)
{
    for (const char *q = list; *q;) {
        const char *end = strstr(q, "; ");
        size_t m = end ? (size_t)(end - q) : strlen(q);
        if (m == n && memcmp(q, entry, n) == 0)
            return true;
        q += m + (end ? 2 : 0);
    }
    return false;
}

/* The entries of the "; "-joined list a that list b lacks, "; "-joined into out (at least
 * strlen(a) + 1 bytes). */
static void entries_missing(const char *a, const char *b, char *out)
{
    size_t len = 0;
    out[0] = '\0';
    while (*a) {
        const char *end = strstr(a, "; ");
        size_t n = end ? (size_t)(end - a) : strlen(a);
        if (!list_has(b, a, n))
            len += (size_t)sprintf(out + len, "%s%.*s", len ? "; " : "", (int)n, a);
        a += n + (end ? 2 : 0);
    }
}

int data_provenance_compare(const DataProvenance *p, const char *recorded, const char *what,
                            FILE *log)
{
    if (!recorded)
        return 0;
    char *now = data_provenance_files(p);
    int differ = strcmp(now, recorded) != 0;
    if (differ) {
        char *was_only = xmalloc(strlen(recorded) + 1), *now_only = xmalloc(strlen(now) + 1);
        entries_missing(recorded, now, was_only);
        entries_missing(now, recorded, now_only);
        fprintf(log,
                "bpsweep: warning: %s was created with other data files than those read now "
                "(another copy of the data set?): the file records [%s], read now [%s] (name, "
                "bytes, %s checksum); its rows so far come from the former\n",
                what, was_only, now_only, DATA_CHECKSUM_ALGORITHM);
        free(was_only);
        free(now_only);
    }
    free(now);
    return differ;
}

void data_provenance_free(DataProvenance *p)
{
    if (!p)
        return;
    free(p->mean);
    free(p->std);
    memset(p, 0, sizeof *p);
}

/* The statistics arrays of prov for norm on train (NULL, NULL for none), before
 * normalising. */
static void prov_stats_alloc(DataProvenance *prov, const Dataset *train, Normalization norm)
{
    if (!prov)
        return;
    prov->n_stats = norm == NORM_STANDARDIZE  ? 1
                    : norm == NORM_PER_CHANNEL ? (train->c > 0 ? train->c : train->d)
                                               : 0;
    if (prov->n_stats > 0) {
        prov->mean = xcalloc((size_t)prov->n_stats, sizeof(double));
        prov->std = xcalloc((size_t)prov->n_stats, sizeof(double));
    }
}

/* prov->dir (the real path of dir if it resolves) and the checksums of the n files
 * paths[i]. */
static int prov_files(DataProvenance *prov, const char *dir, const char *const *paths, int n,
                      BpsErr *err)
{
    assert(n <= DATA_PROV_MAX_FILES);
    char *real = realpath(dir, NULL);
    const char *d = real ? real : dir;
    size_t len = strlen(d);
    if (len >= sizeof prov->dir) {
        free(real);
        return bps_fail(err, "%s: data directory path too long", dir);
    }
    memcpy(prov->dir, d, len + 1);
    free(real);
    for (int i = 0; i < n; i++)
        if (data_file_checksum(paths[i], &prov->files[i], err) != 0)
            return -1;
    prov->n_files = n;
    return 0;
}

/* The file paths of a CIFAR source into paths (n_files of them). */
static void cifar_paths(const DataConfig *cfg, char (*paths)[IDX_PATH_MAX], int *n_files)
{
    const char *const *names = cfg->kind == DATA_CIFAR10 ? CIFAR10_FILES : CIFAR100_FILES;
    *n_files = cfg->kind == DATA_CIFAR10 ? 6 : 2;
    for (int i = 0; i < *n_files; i++)
        snprintf(paths[i], IDX_PATH_MAX, "%s/%s", cfg->path, names[i]);
}

/* dataset_load_provenance; compact: byte sources in the compact form. */
static int load_sets(const DataConfig *cfg, bool compact, Dataset *train, Dataset *test,
                     DataProvenance *prov, BpsErr *err)
{
    char paths[DATA_PROV_MAX_FILES][IDX_PATH_MAX];
    const char *file[DATA_PROV_MAX_FILES];
    int n_files = 0;
    float scale = 255.0f;
    for (int i = 0; i < DATA_PROV_MAX_FILES; i++)
        file[i] = paths[i];
    switch (cfg->kind) {
    case DATA_IDX:
        if (cfg->path[0] == '\0')
            return bps_fail(err, "IDX data: the data directory path is empty");
        if (idx_load_dir(cfg->path, cfg->train_subset, cfg->test_subset, compact, train, test,
                         paths, err) != 0)
            return -1;
        n_files = 4;
        break;
    case DATA_SYNTHETIC:
        return load_synthetic(cfg, train, test, err);
    case DATA_CIFAR10:
    case DATA_CIFAR100: {
        if (cfg->path[0] == '\0')
            return bps_fail(err, "CIFAR data: the data directory path is empty");
        int rc = cfg->kind == DATA_CIFAR10
                     ? cifar10_read(cfg->path, cfg->train_subset, cfg->test_subset, compact,
                                    train, test, err)
                     : cifar100_read(cfg->path, cfg->labels == CIFAR_FINE, cfg->train_subset,
                                     cfg->test_subset, compact, train, test, err);
        if (rc != 0)
            return -1;
        cifar_paths(cfg, paths, &n_files);
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
        snprintf(paths[0], IDX_PATH_MAX, "%s", cfg->path);
        n_files = 1;
        break;
    default:
        return bps_fail(err, "unknown data kind %d", (int)cfg->kind);
    }
    prov_stats_alloc(prov, train, cfg->norm);
    if (train->x8)
        normalize_compact(train, test, cfg->norm, scale, prov ? prov->mean : NULL,
                          prov ? prov->std : NULL);
    else
        dataset_normalize_scaled(train, test, cfg->norm, scale, NULL, NULL,
                                 prov ? prov->mean : NULL, prov ? prov->std : NULL);
    if (prov) {
        char dir[IDX_PATH_MAX];
        snprintf(dir, sizeof dir, "%s", cfg->path);
        if (cfg->kind == DATA_HDF5) { /* the file's directory */
            char *slash = strrchr(dir, '/');
            if (slash)
                *(slash == dir ? slash + 1 : slash) = '\0';
            else
                snprintf(dir, sizeof dir, ".");
        }
        if (prov_files(prov, dir, file, n_files, err) != 0) {
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
