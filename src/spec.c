/* spec: sweep specifications, from JSON text to validated plain structs. cJSON is used
 * in the spec files only (spec_internal.h says which file holds what): every cJSON
 * tree is freed before spec_parse returns. The format is documented in docs/spec.md.
 *
 * Structure: one field table (SpecField, spec_internal.h) per JSON object declares each
 * key once, with where its value goes and when the canonical form writes it; the
 * generic spec_read_object checks the keys and reads the members, spec_write_object
 * writes the canonical form. Members with rules of their own have a reader and a writer
 * side by side in the file of their object (spec_train.c, spec_arch.c, spec_layers.c,
 * spec_grid.c, spec_measure.c; this file: the top level, "data" and "output"), referenced
 * from the table. Members are read in the order that decides which error is reported
 * first (SpecField.pass). Every reader takes the JSON path for its messages; a failure
 * writes one message into the BpsErr and returns -1 up the stack to spec_parse's single
 * `fail:` label, which frees the cJSON tree and the partly built Spec. Arrays are attached
 * to the Spec as soon as they are allocated, so spec_free releases everything on every
 * path. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define SPEC_MAX_SAMPLES (1 << 28)   /* synthetic n_train, n_test */

/* Enum names, indexed by the enum value of the struct member they set. */
static const char *const SOURCE_NAMES[] = {"idx", "synthetic", "cifar10", "cifar100", "hdf5",
                                           NULL};
static const char *const NORM_NAMES[] = {"none", "unit", "standardize", "per_channel", NULL};
static const char *const CIFAR_LABEL_NAMES[] = {"fine", "coarse", NULL};

/* ---- data ---------------------------------------------------------------------------- */

/* The variants of "data": the members each source knows. */
#define DATA_V_IDX (1u << DATA_IDX)
#define DATA_V_SYN (1u << DATA_SYNTHETIC)
#define DATA_V_C100 (1u << DATA_CIFAR100)
#define DATA_V_H5 (1u << DATA_HDF5)
#define DATA_V_FILES (DATA_V_IDX | (1u << DATA_CIFAR10) | DATA_V_C100 | DATA_V_H5) /* from files */

/* Only IDX data has a default path (the Debian package's folder). */
static bool data_path_needed(const void *obj)
{
    return ((const DataConfig *)obj)->kind != DATA_IDX;
}

static bool data_clusters_used(const void *obj)
{
    return ((const DataConfig *)obj)->clusters > 1; /* written only when used: older hashes hold */
}

static bool data_validation_used(const void *obj)
{
    return ((const DataConfig *)obj)->validation > 0; /* written only when given */
}

static bool data_image_used(const void *obj)
{
    return ((const DataConfig *)obj)->image[0] > 0; /* written only when given */
}

/* "image_shape": [C, H, W] of a synthetic set, with C*H*W = features (read before). */
static int read_image_shape(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    DataConfig *d = obj;
    char ipath[SPEC_PATH_LEN];
    int n = 0;
    if (spec_read_array(c, v, path, "positive integers [C, H, W]", &n))
        return -1;
    if (n != 3)
        return spec_fail_at(c, path, "expected 3 positive integers [C, H, W], got %d", n);
    int i = 0;
    int64_t prod = 1;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        int64_t x = 0;
        spec_path_index(ipath, path, i);
        if (spec_read_int(c, e, ipath, 1, SPEC_MAX_WIDTH, NULL, &x))
            return -1;
        d->image[i] = (int)x;
        prod *= x;
    }
    if (prod != d->features)
        return spec_fail_at(c, path,
                            "[%d, %d, %d] holds %lld values per sample, but features is %d; "
                            "C*H*W must equal features",
                            d->image[0], d->image[1], d->image[2], (long long)prod, d->features);
    return 0;
}

static void write_image_shape(SpecBuf *b, const void *obj)
{
    const DataConfig *d = obj;
    spec_sb_printf(b, "[%d,%d,%d]", d->image[0], d->image[1], d->image[2]);
}

static const SpecField DATA_FIELDS[] = {
    {SPEC_ENUM("source", DataConfig, kind, SOURCE_NAMES), .pass = SPEC_PASS_FIRST},
    {SPEC_STRING("path", DataConfig, path), .variants = DATA_V_FILES, .needed = data_path_needed,
     .missing = "required key is missing: the directory that holds the data files"},
    {SPEC_INT("train_subset", DataConfig, train_subset, 0, INT_MAX), .variants = DATA_V_FILES},
    {SPEC_INT("test_subset", DataConfig, test_subset, 0, INT_MAX), .variants = DATA_V_FILES},
    {SPEC_ENUM("normalization", DataConfig, norm, NORM_NAMES), .variants = DATA_V_FILES},
    {SPEC_ENUM("labels", DataConfig, labels, CIFAR_LABEL_NAMES), .variants = DATA_V_C100},
    {SPEC_INT("n_train", DataConfig, n_train, 1, SPEC_MAX_SAMPLES), .variants = DATA_V_SYN,
     .required = true},
    {SPEC_INT("n_test", DataConfig, n_test, 1, SPEC_MAX_SAMPLES), .variants = DATA_V_SYN,
     .required = true},
    {SPEC_INT("features", DataConfig, features, 1, SPEC_MAX_WIDTH), .variants = DATA_V_SYN,
     .required = true},
    {SPEC_INT("classes", DataConfig, classes, 2, 255), .variants = DATA_V_SYN | DATA_V_H5,
     .required = true},
    {SPEC_INT("clusters_per_class", DataConfig, clusters, 1, 1024), .variants = DATA_V_SYN,
     .when = data_clusters_used},
    {SPEC_NUM("noise", DataConfig, noise, SPEC_POSITIVE), .variants = DATA_V_SYN},
    {SPEC_U64("seed", DataConfig, seed, 0, (int64_t)SPEC_SEED_LIMIT - 1,
              "a non-negative integer < 2^53"), .variants = DATA_V_SYN},
    {SPEC_CUSTOM("image_shape", read_image_shape, write_image_shape), .variants = DATA_V_SYN,
     .pass = 1, .when = data_image_used},
    {SPEC_STRING("train_x", DataConfig, h5.train_x), .variants = DATA_V_H5},
    {SPEC_STRING("train_y", DataConfig, h5.train_y), .variants = DATA_V_H5},
    {SPEC_STRING("test_x", DataConfig, h5.test_x), .variants = DATA_V_H5},
    {SPEC_STRING("test_y", DataConfig, h5.test_y), .variants = DATA_V_H5},
    {SPEC_INT("validation", DataConfig, validation, 0, SPEC_MAX_SAMPLES),
     .when = data_validation_used},
    {.key = NULL}};
static const SpecField *const DATA_SOURCE = &DATA_FIELDS[0];

static int parse_data(const Ctx *c, const cJSON *v, DataConfig *d)
{
    const char *path = "data";
    char qual[64];
    memset(d, 0, sizeof *d);
    d->kind = DATA_IDX;
    snprintf(d->path, sizeof d->path, "%s", SPEC_DEFAULT_DATA);
    d->norm = NORM_STANDARDIZE;
    if (!v)
        return 0;
    /* the source first: it says which members the object may have */
    if (spec_expect_object(c, v, path) || spec_read_member(c, v, path, DATA_SOURCE, d))
        return -1;
    if (d->kind == DATA_SYNTHETIC) {
        /* the values are already roughly standardised, no normalization */
        d->path[0] = '\0';
        d->norm = NORM_NONE;
        d->noise = 1.0;
        d->clusters = 1;
    } else if (d->kind != DATA_IDX) {
        d->path[0] = '\0'; /* required: no default folder */
    }
    if (d->kind == DATA_HDF5) {
        snprintf(d->h5.train_x, sizeof d->h5.train_x, "train/x");
        snprintf(d->h5.train_y, sizeof d->h5.train_y, "train/y");
        snprintf(d->h5.test_x, sizeof d->h5.test_x, "test/x");
        snprintf(d->h5.test_y, sizeof d->h5.test_y, "test/y");
    }
    snprintf(qual, sizeof qual, " for source \"%s\"", SOURCE_NAMES[d->kind]);
    if (spec_read_object(c, v, path, DATA_FIELDS, 1u << d->kind, qual, false, d))
        return -1;
    /* files: checked when loaded, once the training set's size is known */
    if (d->kind == DATA_SYNTHETIC && d->validation >= d->n_train)
        return spec_fail_at(c, "data.validation", "%d samples held out of %d training "
                            "samples; at least one must be left to train on", d->validation,
                            d->n_train);
    return 0;
}

/* "output" */
static const SpecField OUTPUT_FIELDS[] = {
    {SPEC_BOOL("store_weights", Spec, store_weights)},
    {.key = NULL}};

/* ---- the whole spec ------------------------------------------------------------------ */

/* schema_version: read before anything else, since a newer file may well have keys this
 * version does not know; the canonical form is written in the current version. */
static int read_version(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    Spec *s = ((SpecDraft *)obj)->spec;
    int64_t x;
    if (spec_read_int(c, v, path, 1, INT_MAX, NULL, &x))
        return -1;
    s->schema_version = (int)x;
    if (s->schema_version > SPEC_SCHEMA_VERSION)
        return spec_fail_at(c, path, "version %d was written by a newer bpsweep (this one reads "
                            "versions up to %d); upgrade bpsweep", s->schema_version,
                            SPEC_SCHEMA_VERSION);
    return 0;
}

static void write_version(SpecBuf *b, const void *obj)
{
    (void)obj;
    spec_sb_printf(b, "%d", SPEC_SCHEMA_VERSION);
}

static int read_sweep_name(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return spec_read_name(c, v, path, SPEC_NAME_MAX - 1, ((SpecDraft *)obj)->spec->name);
}

static void write_sweep_name(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, ((const SpecDraft *)obj)->spec->name);
}

static int read_data(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    (void)path;
    return parse_data(c, v, &((SpecDraft *)obj)->spec->data);
}

static void write_data(SpecBuf *b, const void *obj)
{
    const DataConfig *d = &((const SpecDraft *)obj)->spec->data;
    spec_write_object(b, DATA_FIELDS, 1u << d->kind, d);
}

static int read_architectures(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    (void)path;
    return spec_read_architectures(c, v, ((SpecDraft *)obj)->spec);
}

static void write_architectures(SpecBuf *b, const void *obj)
{
    spec_write_architectures(b, ((const SpecDraft *)obj)->spec);
}

static int read_grid(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return spec_read_grid(c, v, path, obj);
}

static void write_grid(SpecBuf *b, const void *obj)
{
    spec_write_grid(b, obj);
}

/* "train": the base settings, resolved whether or not they are given */
static int read_base_train(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    SpecDraft *d = obj;
    if (v && spec_read_train(c, v, path, &d->base))
        return -1;
    return spec_finish_train(c, &d->base, path, &d->base_train);
}

static void write_base_train(SpecBuf *b, const void *obj)
{
    spec_write_train(b, &((const SpecDraft *)obj)->base_train);
}

static int read_output(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return spec_read_object(c, v, path, OUTPUT_FIELDS, 0, NULL, false, ((SpecDraft *)obj)->spec);
}

static void write_output(SpecBuf *b, const void *obj)
{
    spec_write_object(b, OUTPUT_FIELDS, 0, ((const SpecDraft *)obj)->spec);
}

static int read_measure(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return spec_read_measure(c, v, path, ((SpecDraft *)obj)->spec);
}

static bool measure_on(const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    return s->ntk.enabled || s->robust.enabled || s->cert.enabled; /* older hashes hold */
}

static void write_measure(SpecBuf *b, const void *obj)
{
    spec_write_measure(b, ((const SpecDraft *)obj)->spec);
}

/* The top level (a SpecDraft), read in the order name, data, train, architectures,
 * grid, output and measure. */
static const SpecField TOP_FIELDS[] = {
    {SPEC_CUSTOM("schema_version", read_version, write_version), .pass = SPEC_PASS_FIRST},
    {SPEC_CUSTOM("name", read_sweep_name, write_sweep_name)},
    {SPEC_CUSTOM("data", read_data, write_data), .always = true},
    {SPEC_CUSTOM("architectures", read_architectures, write_architectures), .pass = 2,
     .needed = spec_needed_always},
    {SPEC_CUSTOM("grid", read_grid, write_grid), .pass = 3, .needed = spec_needed_always,
     .missing = "required key is missing (it must at least list the seeds, e.g. \"grid\": "
                "{\"seed\": [0]})"},
    {SPEC_CUSTOM("train", read_base_train, write_base_train), .pass = 1, .always = true},
    {SPEC_CUSTOM("output", read_output, write_output), .pass = 4},
    {SPEC_CUSTOM("measure", read_measure, write_measure), .pass = 4, .when = measure_on},
    {.key = NULL}};
static const SpecField *const TOP_VERSION = &TOP_FIELDS[0];

int spec_parse(const char *text, const char *origin, Spec **out, BpsErr *err)
{
    Ctx ctx = {origin ? origin : "<spec>", err};
    const Ctx *c = &ctx;
    const char *end = NULL;
    Spec *s = NULL;
    SpecDraft d;
    int rc = -1;
    assert(text && out);
    *out = NULL;

    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        spec_fail_malformed(c, text, end);
        goto fail;
    }
    if (spec_refuse_nul_escapes(c, text))
        goto fail;
    if (!cJSON_IsObject(root)) {
        char g[80];
        bps_fail(err, "%s: expected a JSON object at the top level, got %s", c->origin,
                 spec_got(root, g, sizeof g));
        goto fail;
    }
    s = xcalloc(1, sizeof *s);
    d.spec = s;
    s->schema_version = 1;
    snprintf(s->name, sizeof s->name, "sweep");
    spec_default_train(&d.base);
    if (spec_read_member(c, root, "", TOP_VERSION, &d) ||
        spec_check_object(c, root, "", TOP_FIELDS, 0, NULL, true) ||
        spec_check_grid_size(c, root) || spec_read_members(c, root, "", TOP_FIELDS, 0, &d))
        goto fail;
    /* synthetic data: its size is known, and so is whether every op list fits it */
    if (s->data.kind == DATA_SYNTHETIC &&
        spec_check_nets(s, data_synthetic_shape(&s->data), s->data.classes, c->origin, err) != 0)
        goto fail;
    /* and whether it is images (augmentation) */
    if (s->data.kind == DATA_SYNTHETIC &&
        spec_check_augment(s, data_synthetic_shape(&s->data), c->origin, err) != 0)
        goto fail;

    SpecBuf canonical = {0};
    spec_write_object(&canonical, TOP_FIELDS, 0, &d);
    s->canonical = canonical.buf;
    s->hash = bps_hash_bytes(BPS_HASH_INIT, s->canonical, strlen(s->canonical));
    *out = s;
    s = NULL;
    rc = 0;
fail:
    cJSON_Delete(root);
    spec_free(s);
    return rc;
}

/* Reads a spec file of at most SPEC_MAX_BYTES into a NUL-terminated buffer (caller
 * frees): stops reading one byte past the limit, so /dev/zero or a FIFO that never ends
 * cannot grow it without bound. */
static int read_spec_file(const char *path, char **out, size_t *len, BpsErr *err)
{
    int rc = bps_read_file_max(path, SPEC_MAX_BYTES, 0, out, len, err);
    if (rc == BPS_READ_TOO_LARGE)
        return bps_fail(err, "%s: larger than %d MiB, the limit for a spec file (stopped "
                        "reading there); is it a sweep spec?", path, SPEC_MAX_BYTES >> 20);
    return rc;
}

int spec_load(const char *path, Spec **out, BpsErr *err)
{
    char *text = NULL;
    size_t len = 0;
    *out = NULL;
    if (read_spec_file(path, &text, &len, err))
        return -1;
    int rc;
    if (strlen(text) != len)
        rc = bps_fail(err, "%s: contains a NUL byte at offset %zu; expected a JSON text", path,
                      strlen(text));
    else
        rc = spec_parse(text, path, out, err);
    free(text);
    return rc;
}

void spec_free(Spec *spec)
{
    if (!spec)
        return;
    free(spec->arch);
    free(spec->cond);
    free(spec->weight_decay);
    free(spec->norm_bias);
    free(spec->seed);
    free(spec->canonical);
    free(spec);
}
