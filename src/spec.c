/* spec: sweep specifications, from JSON text to validated plain structs. cJSON is used
 * in the spec files only (spec_internal.h says which file holds what): every cJSON
 * tree is freed before spec_parse returns. The format is documented in docs/spec.md.
 *
 * Structure: one field table (SpecField, spec_internal.h) per JSON object declares each
 * key once, with where its value goes and when the canonical form writes it; the
 * generic spec_read_object checks the keys and reads the members, spec_write_object
 * writes the canonical form. Members with rules of their own have a reader and a writer
 * side by side here, referenced from the table. Members are read in the order that
 * decides which error is reported first (SpecField.pass). Every reader takes the JSON
 * path for its messages; a failure writes one message into the BpsErr and returns -1 up
 * the stack to spec_parse's single `fail:` label, which frees the cJSON tree and the
 * partly built Spec. Arrays are attached to the Spec as soon as they are allocated, so
 * spec_free releases everything on every path. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include "bpsweep/cert.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define SPEC_MAX_WIDTH (1 << 20)     /* largest hidden width */
#define SPEC_MAX_KERNEL 1024         /* largest kernel, stride, padding */
#define SPEC_MAX_EPOCHS 1000000
#define SPEC_MAX_BATCH (1 << 24)
#define SPEC_MAX_CROP_PADDING 1024
#define SPEC_MAX_SAMPLES (1 << 28)   /* synthetic n_train, n_test */
#define SPEC_SEED_LIMIT 9007199254740992.0 /* 2^53: seeds and data seeds are below it */
#define SPEC_ARCH_NAME_MAX (SPEC_NAME_MAX - 17) /* leaves room for "@w=<width>" */

/* Enum names, indexed by the enum value of the struct member they set. */
static const char *const SOURCE_NAMES[] = {"idx", "synthetic", "cifar10", "cifar100", "hdf5",
                                           NULL};
static const char *const NORM_NAMES[] = {"none", "unit", "standardize", "per_channel", NULL};
static const char *const CIFAR_LABEL_NAMES[] = {"fine", "coarse", NULL};
static const char *const ACT_NAMES[] = {"relu", "identity", NULL};
static const char *const WINIT_NAMES[] = {"torch_default", "he_normal", "constant", "identity",
                                           NULL};
static const char *const PINIT_NAMES[] = {"none", "zero", "equal", NULL};
static const char *const BINIT_NAMES[] = {"torch_default", "zero", "constant", "uniform", NULL};
static const char *const SCHED_NAMES[] = {"constant", "multistep", "cosine", NULL};
static const char *const RANK_NAMES[] = {"off", "min", "max", NULL};

/* Training settings while they are being merged: milestones stay as written (epochs
 * or fractions) until the final number of epochs is known. */
typedef struct {
    TrainConfig t;
    int n_ms;
    double ms[TRAIN_MAX_MILESTONES];
    bool ms_fraction;   /* milestones are fractions of training */
    bool ms_inherited;  /* a condition's milestones come from the base train object */
    int n_rp;           /* rank projection epochs, as written */
    double rp[TRAIN_MAX_MILESTONES];
    bool rp_fraction;
    bool epochs_given;  /* "epochs" written here or in the base (a limit for "stop") */
} TrainDraft;

/* The whole spec while it is read, and what its canonical form is written from. */
typedef struct {
    Spec *spec;
    TrainDraft base;        /* "train" as read: the base of every condition */
    TrainConfig base_train; /* "train" resolved */
} SpecDraft;

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
    return spec_read_object(c, v, path, DATA_FIELDS, 1u << d->kind, qual, false, d);
}

/* ---- training settings ------------------------------------------------------------- */

static void train_defaults(TrainDraft *d)
{
    memset(d, 0, sizeof *d);
    d->t.epochs = 10;
    d->t.batch_size = 128;
    d->t.lr = 0.01;
    d->t.momentum = 0.9;
    d->t.nesterov = false;
    d->t.schedule = SCHED_CONSTANT;
    d->t.gamma = 0.1;
    d->t.shuffle = true;
    d->t.drop_last = false;
    d->t.clip_value = 0;
}

/* An array of epochs (integers >= 1) or fractions of training in (0, 1), not mixed:
 * milestones and rank-projection epochs. */
static int read_epoch_list(const Ctx *c, const cJSON *arr, const char *path, const char *what,
                           double *out, int *n_out, bool *fraction)
{
    char ipath[SPEC_PATH_LEN], g[80];
    int n;
    if (spec_read_array(c, arr, path, "epochs or fractions of training", &n))
        return -1;
    if (n > TRAIN_MAX_MILESTONES)
        return spec_fail_at(c, path, "expected at most %d %s, got %d", TRAIN_MAX_MILESTONES, what,
                            n);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        double x = cJSON_IsNumber(e) ? e->valuedouble : (double)NAN;
        bool is_epoch = isfinite(x) && x == floor(x) && x >= 1 && x <= SPEC_MAX_EPOCHS;
        bool is_fraction = isfinite(x) && x > 0 && x < 1;
        if (!is_epoch && !is_fraction)
            return spec_fail_at(c, ipath,
                                "expected an epoch (integer >= 1) or a fraction of training in "
                                "(0, 1), got %s", spec_got(e, g, sizeof g));
        if (i > 0 && is_fraction != *fraction)
            return spec_fail_at(c, ipath,
                                "mixes epochs and fractions: %s must be all integers (epochs) or "
                                "all numbers in (0, 1) (fractions of training)", what);
        *fraction = is_fraction;
        out[i] = x;
    }
    *n_out = n;
    return 0;
}

static void write_ints(SpecBuf *b, const int *x, int n)
{
    spec_sb_puts(b, "[");
    for (int i = 0; i < n; i++)
        spec_sb_printf(b, "%s%d", i ? "," : "", x[i]);
    spec_sb_puts(b, "]");
}

/* "schedule" (members of TrainConfig, read into a TrainDraft): milestones stay as written
 * until finish_train and are written as epochs. */
static bool sched_multistep(const void *obj)
{
    return ((const TrainConfig *)obj)->schedule == SCHED_MULTISTEP;
}

static int read_milestones(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    return read_epoch_list(c, v, path, "milestones", d->ms, &d->n_ms, &d->ms_fraction);
}

static void write_milestones(SpecBuf *b, const void *obj)
{
    const TrainConfig *t = obj;
    write_ints(b, t->milestones, t->n_milestones);
}

#define SCHED_REFUSE "only allowed with type \"multistep\""
static const SpecField SCHED_FIELDS[] = {
    {SPEC_ENUM("type", TrainConfig, schedule, SCHED_NAMES), .required = true,
     .pass = SPEC_PASS_FIRST},
    {SPEC_CUSTOM("milestones", read_milestones, write_milestones), .pass = 1,
     .needed = sched_multistep, .allowed = sched_multistep, .refuse = SCHED_REFUSE,
     .when = sched_multistep},
    {SPEC_NUM("gamma", TrainConfig, gamma, 0, 1, true, false), .allowed = sched_multistep,
     .refuse = SCHED_REFUSE, .when = sched_multistep},
    {.key = NULL}};
static const SpecField *const SCHED_TYPE = &SCHED_FIELDS[0];

/* A schedule object replaces the whole schedule: the type first, then what it allows. */
static int read_schedule(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    d->t.gamma = 0.1;
    d->n_ms = 0;
    d->ms_fraction = false;
    d->ms_inherited = false;
    return spec_read_selected(c, v, path, SCHED_FIELDS, SCHED_TYPE, d);
}

static void write_schedule(SpecBuf *b, const void *obj)
{
    spec_write_object(b, SCHED_FIELDS, 0, obj);
}

/* "rank_projection" (members of TrainConfig, read into a TrainDraft), like a schedule */
static bool rank_on(const void *obj)
{
    return ((const TrainConfig *)obj)->rank_mode != RANK_OFF; /* only when on: older hashes hold */
}

/* Written when on, and where a condition turns off what its base turns on: omitted, the
 * condition would inherit the base's setting when its canonical form is read again. */
static bool rank_written(const void *obj)
{
    return rank_on(obj) || ((const TrainConfig *)obj)->rank_off_override;
}

static int read_rank_epochs(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    return read_epoch_list(c, v, path, "epochs", d->rp, &d->n_rp, &d->rp_fraction);
}

static void write_rank_epochs(SpecBuf *b, const void *obj)
{
    const TrainConfig *t = obj;
    write_ints(b, t->rank_epochs, t->n_rank_epochs);
}

#define RANK_REFUSE "not allowed with mode \"off\""
static const SpecField RANK_FIELDS[] = {
    {SPEC_ENUM("mode", TrainConfig, rank_mode, RANK_NAMES), .required = true,
     .pass = SPEC_PASS_FIRST},
    {SPEC_NUM("threshold", TrainConfig, rank_threshold, SPEC_POSITIVE), .needed = rank_on,
     .allowed = rank_on, .refuse = RANK_REFUSE, .when = rank_on},
    {SPEC_BOOL("relative", TrainConfig, rank_relative), .allowed = rank_on,
     .refuse = RANK_REFUSE, .when = rank_on},
    {SPEC_CUSTOM("epochs", read_rank_epochs, write_rank_epochs), .needed = rank_on,
     .allowed = rank_on, .refuse = RANK_REFUSE, .when = rank_on},
    {.key = NULL}};
static const SpecField *const RANK_MODE = &RANK_FIELDS[0];

/* "rank_projection": replaces the whole projection, like a schedule. */
static int read_rank(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    bool inherited_on = rank_on(&d->t);
    d->t.rank_relative = true;
    d->t.rank_threshold = 0;
    d->n_rp = 0;
    int rc = spec_read_selected(c, v, path, RANK_FIELDS, RANK_MODE, d);
    d->t.rank_off_override = inherited_on && !rank_on(&d->t);
    return rc;
}

static void write_rank(SpecBuf *b, const void *obj)
{
    spec_write_object(b, RANK_FIELDS, 0, obj);
}

/* "adversarial" (members of TrainConfig): replaces the whole setting; {"eps": 0} turns
 * it off. */
static const SpecField ADV_FIELDS[] = {
    {SPEC_NUM("eps", TrainConfig, adv_eps, 0, 1, false, false), .required = true},
    {SPEC_NUM("step_ratio", TrainConfig, adv_step_ratio, SPEC_POSITIVE)},
    {SPEC_INT("steps", TrainConfig, adv_steps, 1, 10000)},
    {.key = NULL}};

static int read_adversarial(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    bool inherited_on = d->t.adv_eps > 0;
    d->t.adv_step_ratio = 0.25;
    d->t.adv_steps = 7;
    int rc = spec_read_object(c, v, path, ADV_FIELDS, 0, NULL, false, &d->t);
    d->t.adv_off_override = inherited_on && !(d->t.adv_eps > 0);
    return rc;
}

/* Written when on (older hashes hold), and where a condition turns off what its base
 * turns on (see rank_written). */
static bool adversarial_written(const void *obj)
{
    const TrainConfig *t = obj;
    return t->adv_eps > 0 || t->adv_off_override;
}

static void write_adversarial(SpecBuf *b, const void *obj)
{
    spec_write_object(b, ADV_FIELDS, 0, obj);
}

/* "augment" (members of TrainConfig): replaces the whole setting; {} turns it off.
 * Written only where given or inherited (so the hashes of specs without it hold), also
 * when off: a condition's {} under a base that augments reads back as off. */
static const SpecField AUG_FIELDS[] = {
    {SPEC_INT("crop_padding", TrainConfig, aug_crop_padding, 0, SPEC_MAX_CROP_PADDING)},
    {SPEC_BOOL("flip", TrainConfig, aug_flip)},
    {.key = NULL}};

static int read_augment(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    d->t.aug_crop_padding = 0;
    d->t.aug_flip = false;
    d->t.aug_given = true; /* inherited by the conditions: each writes its own setting */
    return spec_read_object(c, v, path, AUG_FIELDS, 0, NULL, false, &d->t);
}

static bool augment_given(const void *obj)
{
    return ((const TrainConfig *)obj)->aug_given;
}

static void write_augment(SpecBuf *b, const void *obj)
{
    spec_write_object(b, AUG_FIELDS, 0, obj);
}

/* "train" and a condition's "train": members of TrainConfig, read into a TrainDraft
 * (whose first member is the TrainConfig), so schedule and rank_projection keep their
 * epochs as written until the number of epochs is known (finish_train). */
/* "batch_size": a number of samples, or "full" (full-batch gradient descent) */
static int read_batch_size(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainConfig *t = obj;
    if (cJSON_IsString(v) && strcmp(v->valuestring, "full") == 0) {
        t->full_batch = true;
        t->batch_size = TRAIN_FULL_CHUNK;
        return 0;
    }
    int64_t x;
    if (!cJSON_IsNumber(v)) {
        char g[80];
        return spec_fail_at(c, path, "expected an integer in [1, %d] or \"full\", got %s",
                            SPEC_MAX_BATCH, spec_got(v, g, sizeof g));
    }
    if (spec_read_int(c, v, path, 1, SPEC_MAX_BATCH, NULL, &x))
        return -1;
    t->full_batch = false;
    t->batch_size = (int)x;
    return 0;
}

static void write_batch_size(SpecBuf *b, const void *obj)
{
    const TrainConfig *t = obj;
    if (t->full_batch)
        spec_sb_str(b, "full");
    else
        spec_sb_num(b, t->batch_size);
}

/* "stop" (members of TrainConfig): the gradient-norm rule; replaces the base's */
static const SpecField STOP_FIELDS[] = {
    {SPEC_NUM("grad_norm", TrainConfig, stop_grad_norm, SPEC_POSITIVE), .required = true},
    {SPEC_INT("every", TrainConfig, stop_every, 1, SPEC_MAX_EPOCHS)},
    {.key = NULL}};

static int read_stop(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainConfig *t = obj;
    t->stop_every = 1;
    return spec_read_object(c, v, path, STOP_FIELDS, 0, NULL, false, t);
}

static bool stop_on(const void *obj)
{
    return ((const TrainConfig *)obj)->stop_grad_norm > 0;
}

static void write_stop(SpecBuf *b, const void *obj)
{
    spec_write_object(b, STOP_FIELDS, 0, obj);
}

static bool freeze_bn_on(const void *obj)
{
    return ((const TrainConfig *)obj)->freeze_bn_epoch > 0;
}

_Static_assert(offsetof(TrainDraft, t) == 0, "TrainDraft starts with its TrainConfig");
static const SpecField TRAIN_FIELDS[] = {
    {SPEC_INT("epochs", TrainConfig, epochs, 0, SPEC_MAX_EPOCHS)},
    {SPEC_CUSTOM("batch_size", read_batch_size, write_batch_size)},
    {SPEC_NUM("lr", TrainConfig, lr, SPEC_POSITIVE)},
    {SPEC_NUM("momentum", TrainConfig, momentum, 0, 1, false, true)},
    {SPEC_BOOL("nesterov", TrainConfig, nesterov)},
    {SPEC_CUSTOM("schedule", read_schedule, write_schedule), .pass = 1},
    {SPEC_BOOL("shuffle", TrainConfig, shuffle)},
    {SPEC_BOOL("drop_last", TrainConfig, drop_last)},
    {SPEC_NUM("clip_value", TrainConfig, clip_value, SPEC_NONNEG)},
    {SPEC_CUSTOM("rank_projection", read_rank, write_rank), .pass = 1, .when = rank_written},
    {SPEC_CUSTOM("adversarial", read_adversarial, write_adversarial), .pass = 1,
     .when = adversarial_written},
    {SPEC_CUSTOM("augment", read_augment, write_augment), .pass = 1, .when = augment_given},
    {SPEC_CUSTOM("stop", read_stop, write_stop), .pass = 1, .when = stop_on},
    {SPEC_INT("freeze_batch_norm", TrainConfig, freeze_bn_epoch, 0, SPEC_MAX_EPOCHS),
     .when = freeze_bn_on},
    {.key = NULL}};

/* Applies the members of a train object to d (the base settings, or a condition's
 * overrides on a copy of them). */
static int parse_train(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d)
{
    d->epochs_given |= spec_field(v, "epochs") != NULL;
    return spec_read_object(c, v, path, TRAIN_FIELDS, 0, NULL, true, d);
}

/* Resolves an epoch list (epochs, or fractions f -> floor(f * epochs + 0.5)) to strictly
 * increasing epochs in [1, epochs). */
static int resolve_epochs(const Ctx *c, const char *path, const double *v, int n, bool fraction,
                          int epochs, const char *what, const char *note, int *out)
{
    char ipath[SPEC_PATH_LEN];
    for (int i = 0; i < n; i++) {
        spec_path_index(ipath, path, i);
        char g[32];
        spec_fmt_double(v[i], g, sizeof g);
        int e = fraction ? (int)floor(v[i] * epochs + 0.5) : (int)v[i];
        if (e < 1 || e >= epochs) {
            if (fraction)
                return spec_fail_at(c, ipath,
                                    "fraction %s of %d epochs resolves to epoch %d, expected an "
                                    "epoch in [1, %d)%s", g, epochs, e, epochs, note);
            return spec_fail_at(c, ipath, "epoch %d is outside [1, %d) for %d epochs%s", e, epochs,
                                epochs, note);
        }
        if (i > 0 && e <= out[i - 1]) {
            char from[96] = "";
            if (fraction)
                snprintf(from, sizeof from, " (fraction %s of %d epochs)", g, epochs);
            return spec_fail_at(c, ipath,
                                "%s must be strictly increasing, but epoch %d%s follows epoch %d%s",
                                what, e, from, out[i - 1], note);
        }
        out[i] = e;
    }
    return 0;
}

/* Checks what involves several members and resolves milestones and rank-projection
 * epochs to epochs. */
static int finish_train(const Ctx *c, const TrainDraft *d, const char *path, TrainConfig *out)
{
    char kpath[SPEC_PATH_LEN];
    *out = d->t;
    if (d->t.nesterov && !(d->t.momentum > 0)) {
        spec_path_key(kpath, path, "nesterov");
        return spec_fail_at(c, kpath,
                            "nesterov requires momentum > 0 (as in PyTorch), got momentum 0");
    }
    if (d->t.full_batch && d->t.adv_eps > 0) {
        spec_path_key(kpath, path, "batch_size");
        return spec_fail_at(c, kpath, "\"full\" (full-batch gradient descent) cannot be "
                            "combined with adversarial training, whose examples are drawn per "
                            "mini-batch");
    }
    if (d->t.stop_grad_norm > 0 && !d->epochs_given) {
        spec_path_key(kpath, path, "stop");
        return spec_fail_at(c, kpath, "a stopping rule needs a limit: give \"epochs\", the "
                            "most epochs to train if the gradient norm never falls below %g",
                            d->t.stop_grad_norm);
    }
    if (d->t.freeze_bn_epoch >= d->t.epochs && d->t.freeze_bn_epoch > 0) {
        spec_path_key(kpath, path, "freeze_batch_norm");
        return spec_fail_at(c, kpath, "epoch %d is not before the last epoch (%d epochs)",
                            d->t.freeze_bn_epoch, d->t.epochs);
    }
    out->n_milestones = 0;
    if (d->t.schedule == SCHED_MULTISTEP) {
        spec_path_key(kpath, path, "schedule.milestones");
        const char *note = d->ms_inherited ? " (milestones inherited from train.schedule)" : "";
        if (resolve_epochs(c, kpath, d->ms, d->n_ms, d->ms_fraction, d->t.epochs, "milestones",
                           note, out->milestones))
            return -1;
        out->n_milestones = d->n_ms;
    }
    out->n_rank_epochs = 0;
    if (d->t.rank_mode != RANK_OFF) {
        spec_path_key(kpath, path, "rank_projection.epochs");
        if (resolve_epochs(c, kpath, d->rp, d->n_rp, d->rp_fraction, d->t.epochs,
                           "rank projection epochs", "", out->rank_epochs))
            return -1;
        out->n_rank_epochs = d->n_rp;
    }
    return 0;
}

/* ---- architectures ------------------------------------------------------------------ */

static bool weights_constant(const void *obj)
{
    return ((const NetConfig *)obj)->w_init == WINIT_CONSTANT;
}

static bool bias_has_value(const void *obj)
{
    BiasInit b = ((const NetConfig *)obj)->b_init;
    return b == BINIT_CONSTANT || b == BINIT_UNIFORM;
}

/* bias_value: the constant, or the half-width (> 0) of the uniform distribution */
static int read_bias_value(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    NetConfig *net = obj;
    return spec_read_num(c, v, path,
                         net->b_init == BINIT_UNIFORM ? &SPEC_RANGE_POSITIVE : &SPEC_RANGE_ANY,
                         &net->b_value);
}

static void write_bias_value(SpecBuf *b, const void *obj)
{
    spec_sb_num(b, ((const NetConfig *)obj)->b_value);
}

/* weights and bias are drawn (not replaced by "parameters" or "construct") */
static bool init_drawn(const void *obj)
{
    const NetConfig *net = obj;
    return net->p_init == PINIT_NONE && !net->construct.on;
}

static bool params_equal(const void *obj)
{
    return ((const NetConfig *)obj)->p_init == PINIT_EQUAL;
}

static bool params_set(const void *obj)
{
    return ((const NetConfig *)obj)->p_init != PINIT_NONE;
}

static bool not_constructed(const void *obj)
{
    return !((const NetConfig *)obj)->construct.on;
}

static bool constructed(const void *obj)
{
    return ((const NetConfig *)obj)->construct.on;
}

static bool bias_offset_set(const void *obj)
{
    return ((const NetConfig *)obj)->b_offset != 0;
}

static bool construct_offset_given(const void *obj)
{
    return !isnan(((const ConstructConfig *)obj)->offset);
}

/* "construct" (members of ConstructConfig) */
static const char *const FIT_NAMES[] = {"auto", "newton", "lbfgs", NULL};
static const SpecField CONSTRUCT_FIELDS[] = {
    {SPEC_ENUM("method", ConstructConfig, method, FIT_NAMES)},
    {SPEC_NUM("tolerance", ConstructConfig, tolerance, SPEC_POSITIVE)},
    {SPEC_INT("max_iterations", ConstructConfig, max_iterations, 1, 1000000)},
    {SPEC_NUM("offset", ConstructConfig, offset, SPEC_POSITIVE), .when = construct_offset_given},
    {.key = NULL}};

static int read_construct(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ConstructConfig *cc = &((NetConfig *)obj)->construct;
    *cc = (ConstructConfig){.on = true, .tolerance = 1e-6, .max_iterations = 10000,
                            .offset = (double)NAN};
    return spec_read_object(c, v, path, CONSTRUCT_FIELDS, 0, NULL, false, cc);
}

static void write_construct(SpecBuf *b, const void *obj)
{
    spec_write_object(b, CONSTRUCT_FIELDS, 0, &((const NetConfig *)obj)->construct);
}

/* "init" (members of NetConfig). "parameters" and "construct" are read first (they
 * refuse weights and bias), the values after their kinds. New keys are written only
 * when set, so the hashes of older specs hold. */
static const SpecField INIT_FIELDS[] = {
    {SPEC_ENUM("weights", NetConfig, w_init, WINIT_NAMES), .allowed = init_drawn,
     .refuse = "not allowed with \"parameters\" or \"construct\", which set every weight",
     .when = init_drawn},
    {SPEC_NUM("weights_value", NetConfig, w_value, SPEC_ANY), .pass = 1,
     .needed = weights_constant, .allowed = weights_constant,
     .refuse = "only allowed with weights \"constant\"",
     .when = weights_constant},
    {SPEC_ENUM("bias", NetConfig, b_init, BINIT_NAMES), .allowed = init_drawn,
     .refuse = "not allowed with \"parameters\" or \"construct\", which set every bias",
     .when = init_drawn},
    {SPEC_CUSTOM("bias_value", read_bias_value, write_bias_value), .pass = 1,
     .needed = bias_has_value, .allowed = bias_has_value,
     .refuse = "only allowed with bias \"constant\" or \"uniform\"",
     .when = bias_has_value},
    {SPEC_NUM("bias_offset", NetConfig, b_offset, SPEC_ANY), .allowed = not_constructed,
     .refuse = "not allowed with \"construct\", which sets every bias",
     .when = bias_offset_set},
    {SPEC_ENUM("parameters", NetConfig, p_init, PINIT_NAMES), .pass = SPEC_PASS_FIRST,
     .when = params_set},
    {SPEC_NUM("parameters_value", NetConfig, p_value, SPEC_ANY), .pass = 1,
     .needed = params_equal, .allowed = params_equal,
     .refuse = "only allowed with parameters \"equal\"", .when = params_equal},
    {SPEC_CUSTOM("construct", read_construct, write_construct), .pass = SPEC_PASS_FIRST,
     .when = constructed},
    {.key = NULL}};
static const SpecField *const INIT_PARAMS = &INIT_FIELDS[5];
static const SpecField *const INIT_CONSTRUCT = &INIT_FIELDS[7];

/* net's initialisation: its w_init and b_init are the defaults (torch_default). */
static int parse_init(const Ctx *c, const cJSON *v, const char *path, NetConfig *net)
{
    if (spec_check_object(c, v, path, INIT_FIELDS, 0, NULL, false) ||
        spec_read_member(c, v, path, INIT_PARAMS, net) ||
        spec_read_member(c, v, path, INIT_CONSTRUCT, net))
        return -1;
    if (net->p_init != PINIT_NONE && net->construct.on) {
        char kpath[SPEC_PATH_LEN];
        spec_path_key(kpath, path, "construct");
        return spec_fail_at(c, kpath, "not allowed with \"parameters\": both set every "
                            "parameter");
    }
    return spec_read_members(c, v, path, INIT_FIELDS, 0, net);
}

/* A width template "w" or "<k>w" (k a positive integer); *k gets k. */
static bool parse_template(const char *s, int *k)
{
    size_t n = strlen(s);
    if (n == 0 || s[n - 1] != 'w')
        return false;
    if (n == 1) {
        *k = 1;
        return true;
    }
    if (n > 8 || s[0] == '0')
        return false;
    long x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (x < 1 || x > SPEC_MAX_WIDTH)
        return false;
    *k = (int)x;
    return true;
}

/* The name of width w of template `family`: "<family>@w=<w>" (fits: family has at most
 * SPEC_ARCH_NAME_MAX characters and w at most 7 digits). */
static void arch_name(char *dst, const char *family, int w)
{
    int n = snprintf(dst, SPEC_NAME_MAX, "%s@w=%d", family, w);
    if (n < 0 || n >= SPEC_NAME_MAX) { /* can't happen: lengths are checked when parsing */
        fprintf(stderr, "bpsweep: internal error: architecture name %s@w=%d too long\n",
                family, w);
        abort();
    }
}

/* The expanded architectures while they are parsed: which entry of "architectures"
 * made each (for duplicate-name messages) and the room allocated in s->arch. */
typedef struct {
    int *srcs; /* (cap) */
    int cap;
} ArchList;

/* Appends a zeroed ArchSpec made by entry src_index of "architectures" (the arrays grow
 * geometrically: a template may expand to a million widths). */
static ArchSpec *arch_push(Spec *s, int src_index, ArchList *list)
{
    if (s->n_arch == list->cap) {
        list->cap = list->cap ? 2 * list->cap : 8;
        s->arch = xrealloc(s->arch, (size_t)list->cap * sizeof *s->arch);
        list->srcs = xrealloc(list->srcs, (size_t)list->cap * sizeof *list->srcs);
    }
    list->srcs[s->n_arch] = src_index;
    ArchSpec *a = &s->arch[s->n_arch++];
    memset(a, 0, sizeof *a);
    a->source = src_index;
    return a;
}

/* ---- explicit op lists ("layers") ---------------------------------------------------- */

/* The slot a reference names: "input" is slot 0, the name of layers[j] is slot j + 1.
 * names (n of them, "" for an unnamed layer) are every layer's, so a reference to a
 * later layer is told from one to no layer. Returns the slot or -1 (message in c). */
static int layer_ref(const Ctx *c, const cJSON *v, const char *path, char (*names)[SPEC_NAME_MAX],
                     int n, int self)
{
    char g[80];
    if (!cJSON_IsString(v))
        return spec_fail_at(c, path, "expected the name of an earlier layer or \"input\", got %s",
                            spec_got(v, g, sizeof g));
    if (strcmp(v->valuestring, "input") == 0)
        return 0;
    for (int j = 0; j < n; j++)
        if (strcmp(names[j], v->valuestring) == 0) {
            if (j >= self)
                return spec_fail_at(c, path, "names layers[%d], which is not before this layer: a "
                                    "layer reads only the net's input and earlier layers", j);
            return j + 1;
        }
    return spec_fail_at(c, path, "no layer is named %s", spec_got(v, g, sizeof g));
}

/* One entry of "layers" while it is read or written. */
typedef struct {
    OpDesc op;                    /* first: the table's members are OpDesc's */
    int k;                        /* its index: it writes slot k + 1 */
    char (*names)[SPEC_NAME_MAX]; /* reading: every layer's name ("" for none), n of them */
    int n;
    const char *list_path;        /* reading: the path of "layers" */
    bool named;                   /* writing: a later layer reads it by name */
} LayerSlot;

/* The variants of an entry of "layers", by the number of inputs of its kind. */
#define LAYER_V_ONE 1u   /* one input, no settings */
#define LAYER_V_DENSE 2u
#define LAYER_V_TWO 4u
#define LAYER_V_CONV 8u
#define LAYER_V_POOL 16u  /* max_pool, avg_pool */

static unsigned layer_variant(OpKind kind)
{
    switch (kind) {
    case OP_DENSE:
        return LAYER_V_DENSE;
    case OP_CONV:
        return LAYER_V_CONV;
    case OP_MAX_POOL:
    case OP_AVG_POOL:
        return LAYER_V_POOL;
    default:
        return OP_KINDS[kind]->n_inputs > 1 ? LAYER_V_TWO : LAYER_V_ONE;
    }
}

/* "bias" of a convolution (default true) */
static int read_layer_bias(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    char g[80];
    if (!cJSON_IsBool(v))
        return spec_fail_at(c, path, "expected true or false, got %s", spec_got(v, g, sizeof g));
    ((LayerSlot *)obj)->op.no_bias = cJSON_IsFalse(v);
    return 0;
}

static void write_layer_bias(SpecBuf *b, const void *obj)
{
    spec_sb_puts(b, ((const LayerSlot *)obj)->op.no_bias ? "false" : "true");
}

static int read_layer_type(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    const char *kinds[OP_N_KINDS + 1];
    for (int k = 0; k < OP_N_KINDS; k++)
        kinds[k] = OP_KINDS[k]->name;
    kinds[OP_N_KINDS] = NULL;
    int kind;
    if (spec_read_enum(c, v, path, kinds, &kind))
        return -1;
    l->op = (OpDesc){.kind = (OpKind)kind, .in = {l->k, -1}, .out = l->k + 1};
    return 0;
}

static void write_layer_type(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, OP_KINDS[((const LayerSlot *)obj)->op.kind]->name);
}

/* A layer's own name (read for every layer before anything else): not "input", not
 * another layer's. */
static int read_layer_name(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    char(*names)[SPEC_NAME_MAX] = l->names;
    if (spec_read_name(c, v, path, SPEC_NAME_MAX - 1, names[l->k]))
        return -1;
    if (strcmp(names[l->k], "input") == 0)
        return spec_fail_at(c, path, "\"input\" names the net's input; choose another name");
    for (int j = 0; j < l->k; j++)
        if (strcmp(names[j], names[l->k]) == 0)
            return spec_fail_at(c, path, "duplicate layer name \"%s\" (also %s[%d])",
                                names[l->k], l->list_path, j);
    return 0;
}

/* Canonical names are generated ("l<k>"), and only for a layer a later one reads by
 * name, so the names a spec chose do not change its hash. */
static bool layer_named(const void *obj)
{
    return ((const LayerSlot *)obj)->named;
}

static void write_layer_name(SpecBuf *b, const void *obj)
{
    spec_sb_printf(b, "\"l%d\"", ((const LayerSlot *)obj)->k);
}

/* A reference to slot `slot`: "input", or the generated name of the layer writing it. */
static void write_layer_ref(SpecBuf *b, int slot)
{
    if (slot == 0)
        spec_sb_puts(b, "\"input\"");
    else
        spec_sb_printf(b, "\"l%d\"", slot - 1);
}

static int read_layer_input(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    l->op.in[0] = layer_ref(c, v, path, l->names, l->n, l->k);
    return l->op.in[0] < 0 ? -1 : 0;
}

/* written only where it is not the previous layer's output */
static bool layer_input_given(const void *obj)
{
    const LayerSlot *l = obj;
    return l->op.in[0] != l->k;
}

static void write_layer_input(SpecBuf *b, const void *obj)
{
    write_layer_ref(b, ((const LayerSlot *)obj)->op.in[0]);
}

static int read_layer_inputs(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    const OpKindDef *def = OP_KINDS[l->op.kind];
    char g[80];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != def->n_inputs)
        return spec_fail_at(c, path, "expected an array of %d layer names, got %s",
                            def->n_inputs, spec_got(v, g, sizeof g));
    int j = 0;
    for (const cJSON *r = v->child; r; r = r->next, j++) {
        char rpath[SPEC_PATH_LEN];
        spec_path_index(rpath, path, j);
        if ((l->op.in[j] = layer_ref(c, r, rpath, l->names, l->n, l->k)) < 0)
            return -1;
    }
    return 0;
}

static void write_layer_inputs(SpecBuf *b, const void *obj)
{
    const LayerSlot *l = obj;
    spec_sb_puts(b, "[");
    for (int j = 0; j < OP_KINDS[l->op.kind]->n_inputs; j++) {
        if (j)
            spec_sb_puts(b, ",");
        write_layer_ref(b, l->op.in[j]);
    }
    spec_sb_puts(b, "]");
}

/* An entry of "layers" (a LayerSlot): the type first, since it says which keys the entry
 * may have. A layer reads the previous layer's output (the net's input for the first)
 * unless "input" or, for two inputs, "inputs" says otherwise. */
static const SpecField LAYER_FIELDS[] = {
    {SPEC_CUSTOM("type", read_layer_type, write_layer_type), .pass = SPEC_PASS_FIRST,
     .needed = spec_needed_always},
    {SPEC_CUSTOM("name", read_layer_name, write_layer_name), .pass = SPEC_PASS_FIRST,
     .when = layer_named},
    {SPEC_CUSTOM("input", read_layer_input, write_layer_input),
     .variants = LAYER_V_ONE | LAYER_V_DENSE | LAYER_V_CONV | LAYER_V_POOL,
     .when = layer_input_given},
    {SPEC_CUSTOM("inputs", read_layer_inputs, write_layer_inputs), .variants = LAYER_V_TWO,
     .required = true},
    {SPEC_INT("out", OpDesc, units, 1, SPEC_MAX_WIDTH), .variants = LAYER_V_DENSE | LAYER_V_CONV,
     .needed = spec_needed_always},
    {SPEC_INT("kernel", OpDesc, kernel, 1, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL, .needed = spec_needed_always},
    /* default: 1 for a convolution, the kernel for a pool (set after reading) */
    {SPEC_INT("stride", OpDesc, stride, 1, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL},
    {SPEC_INT("padding", OpDesc, pad, 0, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL},
    {SPEC_CUSTOM("bias", read_layer_bias, write_layer_bias), .variants = LAYER_V_CONV},
    {.key = NULL}};
static const SpecField *const LAYER_TYPE = &LAYER_FIELDS[0];
static const SpecField *const LAYER_NAME = &LAYER_FIELDS[1];

/* "layers": the op list of net; layer k writes slot k + 1. The names of all layers are
 * read first, so that a reference to a later layer is told from one to no layer. Shapes
 * are checked once the data's size is known (spec_check_nets). */
static int parse_layers(const Ctx *c, const cJSON *v, const char *path, NetConfig *net)
{
    char ipath[SPEC_PATH_LEN], qual[64];
    int n;
    if (spec_read_array(c, v, path, "layer objects", &n))
        return -1;
    if (n > NN_MAX_OPS)
        return spec_fail_at(c, path, "expected at most %d layers, got %d", NN_MAX_OPS, n);
    LayerSlot l = {.names = xcalloc((size_t)n, sizeof *l.names), .n = n, .list_path = path};
    int rc = 0;
    l.k = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, l.k++) {
        spec_path_index(ipath, path, l.k);
        if (cJSON_IsObject(e))
            rc = spec_read_member(c, e, ipath, LAYER_NAME, &l);
    }
    l.k = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, l.k++) {
        spec_path_index(ipath, path, l.k);
        if ((rc = spec_expect_object(c, e, ipath)) != 0 ||
            (rc = spec_read_member(c, e, ipath, LAYER_TYPE, &l)) != 0)
            break;
        snprintf(qual, sizeof qual, " for a %s layer", OP_KINDS[l.op.kind]->name);
        rc = spec_read_object(c, e, ipath, LAYER_FIELDS, layer_variant(l.op.kind), qual, false,
                              &l);
        if (l.op.stride == 0) /* not given */
            l.op.stride = l.op.kind == OP_CONV ? 1 : l.op.kernel;
        net->ops[l.k] = l.op;
    }
    free(l.names);
    net->n_ops = n;
    return rc;
}

/* The canonical "layers" of net. */
static void write_layers(SpecBuf *b, const NetConfig *net)
{
    /* named[s]: slot s is read by name (not as the previous layer's output) */
    bool *named = xcalloc((size_t)net->n_ops + 1, sizeof *named);
    for (int k = 0; k < net->n_ops; k++)
        for (int j = 0; j < OP_KINDS[net->ops[k].kind]->n_inputs; j++)
            if (OP_KINDS[net->ops[k].kind]->n_inputs > 1 || net->ops[k].in[j] != k)
                named[net->ops[k].in[j]] = true;
    spec_sb_puts(b, "[");
    for (int k = 0; k < net->n_ops; k++) {
        LayerSlot l = {.op = net->ops[k], .k = k, .named = named[k + 1]};
        if (k)
            spec_sb_puts(b, ",");
        spec_write_object(b, LAYER_FIELDS, layer_variant(l.op.kind), &l);
    }
    spec_sb_puts(b, "]");
    free(named);
}

/* One entry of "architectures" while it is read: the ArchSpec it describes (for a
 * template, the one each width copies) and what the template needs. */
typedef struct {
    ArchSpec a;              /* first: the tables' members are ArchSpec's */
    int mult[NN_MAX_HIDDEN]; /* template: hidden[l] = mult[l] * w (0: a fixed width) */
    bool any_template;
    const cJSON *json;       /* the entry as written */
    const char *path;        /* and its JSON path */
    Spec *s;                 /* where the ArchSpecs go */
    ArchList *list;
} ArchDraft;

static int read_arch_init(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return parse_init(c, v, path, &((ArchDraft *)obj)->a.net);
}

static void write_arch_init(SpecBuf *b, const void *obj)
{
    spec_write_object(b, INIT_FIELDS, 0, &((const ArchSpec *)obj)->net);
}

static int read_oplist(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return parse_layers(c, v, path, &((ArchDraft *)obj)->a.net);
}

static void write_oplist(SpecBuf *b, const void *obj)
{
    write_layers(b, &((const ArchSpec *)obj)->net);
}

/* An architecture given as an op list (an ArchSpec): the name first, then init, then
 * the layers. */
static const SpecField OPLIST_FIELDS[] = {
    {SPEC_NAME("name", ArchSpec, name, SPEC_ARCH_NAME_MAX), .required = true},
    {SPEC_CUSTOM("layers", read_oplist, write_oplist), .pass = 1},
    {SPEC_CUSTOM("init", read_arch_init, write_arch_init)},
    {.key = NULL}};
static const SpecField *const OPLIST_LAYERS = &OPLIST_FIELDS[1];

/* hidden: fixed widths, or templates k*w (mult[l] = k) */
static int read_hidden(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ArchDraft *d = obj;
    NetConfig *net = &d->a.net;
    char ipath[SPEC_PATH_LEN], g[80];
    if (!cJSON_IsArray(v))
        return spec_fail_at(c, path, "expected an array of widths (may be empty), got %s",
                            spec_got(v, g, sizeof g));
    net->n_hidden = cJSON_GetArraySize(v);
    if (net->n_hidden > NN_MAX_HIDDEN)
        return spec_fail_at(c, path, "expected at most %d hidden layers, got %d", NN_MAX_HIDDEN,
                            net->n_hidden);
    int i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        if (cJSON_IsString(e)) {
            if (!parse_template(e->valuestring, &d->mult[i]))
                return spec_fail_at(c, ipath,
                                    "expected a width template \"w\" or \"<k>w\" (like \"2w\"), "
                                    "got %s", spec_got(e, g, sizeof g));
            d->any_template = true;
        } else {
            int64_t h;
            if (spec_read_int(c, e, ipath, 1, SPEC_MAX_WIDTH,
                              "a positive integer <= 1048576 or a width template like \"2w\"", &h))
                return -1;
            net->hidden[i] = (int)h;
        }
    }
    return 0;
}

static void write_hidden(SpecBuf *b, const void *obj)
{
    const NetConfig *net = &((const ArchSpec *)obj)->net;
    write_ints(b, net->hidden, net->n_hidden);
}

static const SpecField *const MLP_WIDTH; /* MLP_FIELDS' "width" */

/* family and width: the marks of an architecture already expanded from a template; they
 * go together, and the hidden widths are then final. Reads both. */
static int read_family(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ArchDraft *d = obj;
    char kpath[SPEC_PATH_LEN];
    const cJSON *width = spec_field(d->json, MLP_WIDTH->key);
    spec_path_key(kpath, d->path, MLP_WIDTH->key);
    if (!v != !width)
        return spec_fail_at(c, v ? kpath : path,
                            "required key is missing: \"family\" and \"width\" go together "
                            "(they mark an architecture expanded from a width template)");
    if (!v)
        return 0;
    if (spec_read_name(c, v, path, SPEC_ARCH_NAME_MAX, d->a.family) ||
        spec_read_member(c, d->json, d->path, MLP_WIDTH, d))
        return -1;
    if (d->any_template)
        return spec_fail_at(c, d->path,
                            "an expanded architecture (with \"family\" and \"width\") must "
                            "list final hidden widths, not templates");
    return 0;
}

static bool arch_expanded(const void *obj)
{
    return ((const ArchSpec *)obj)->width > 0;
}

static void write_family(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, ((const ArchSpec *)obj)->family);
}

/* The name, once family and width are known: for an expanded architecture it must be
 * the one they give. */
static int read_mlp_name(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ArchDraft *d = obj;
    char g[80];
    if (!arch_expanded(&d->a)) {
        if (spec_read_name(c, v, path, SPEC_ARCH_NAME_MAX, d->a.name))
            return -1;
        snprintf(d->a.family, sizeof d->a.family, "%s", d->a.name);
        return 0;
    }
    arch_name(d->a.name, d->a.family, d->a.width);
    if (!cJSON_IsString(v) || strcmp(v->valuestring, d->a.name) != 0)
        return spec_fail_at(c, path, "expected \"%s\" for family \"%s\" and width %d, got %s",
                            d->a.name, d->a.family, d->a.width, spec_got(v, g, sizeof g));
    return 0;
}

static void write_arch_name(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, ((const ArchSpec *)obj)->name);
}

static bool arch_template(const void *obj)
{
    return ((const ArchDraft *)obj)->any_template;
}

/* widths: the values of w of a template, each appended as an ArchSpec "<name>@w=<w>" */
static int read_widths(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ArchDraft *d = obj;
    Spec *s = d->s;
    char ipath[SPEC_PATH_LEN];
    int n_widths;
    if (spec_read_array(c, v, path, "positive integers", &n_widths))
        return -1;
    const int first_arch = s->n_arch;
    DupKey *keys = xcalloc((size_t)n_widths, sizeof *keys);
    int j = 0, n_good = n_widths, rc = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, j++) {
        spec_path_index(ipath, path, j);
        int64_t w;
        if ((rc = spec_read_int(c, e, ipath, 1, SPEC_MAX_WIDTH, NULL, &w)) != 0) {
            n_good = j;
            break;
        }
        keys[j] = (DupKey){.u = (uint64_t)w, .pos = j};
        ArchSpec *a = arch_push(s, d->a.source, d->list);
        *a = d->a;
        arch_name(a->name, d->a.name, (int)w);
        a->width = (int)w;
        for (int l = 0; l < a->net.n_hidden && rc == 0; l++) {
            int64_t h = (int64_t)d->mult[l] * w;
            if (h > SPEC_MAX_WIDTH) {
                rc = spec_fail_at(c, ipath,
                                  "width %d makes %s.hidden[%d] (\"%dw\") %" PRId64
                                  ", expected at most %d", (int)w, d->path, l, d->mult[l], h,
                                  SPEC_MAX_WIDTH);
                n_good = j + 1; /* a repeat of width j is reported before its size */
            } else if (d->mult[l]) {
                a->net.hidden[l] = (int)h;
            }
        }
    }
    int dup, orig;
    if (spec_first_duplicate(keys, n_good, &dup, &orig)) {
        spec_path_index(ipath, path, dup);
        rc = spec_fail_at(c, ipath, "duplicate value %d (also %s[%d])",
                          s->arch[first_arch + dup].width, path, orig);
    }
    free(keys);
    return rc;
}

/* An MLP architecture (an ArchSpec, read into an ArchDraft): activation, skip,
 * batch_norm and init, then hidden, then family and width, then the name, then the
 * widths of a template. "layers" makes it an op list (OPLIST_FIELDS). */
static const SpecField MLP_FIELDS[] = {
    {SPEC_CUSTOM("name", read_mlp_name, write_arch_name), .required = true, .pass = 3},
    {SPEC_CUSTOM("family", read_family, write_family), .pass = 2, .always = true,
     .when = arch_expanded},
    {SPEC_INT("width", ArchSpec, width, 1, SPEC_MAX_WIDTH), .pass = SPEC_PASS_FIRST,
     .when = arch_expanded}, /* read by read_family */
    {SPEC_CUSTOM("hidden", read_hidden, write_hidden), .required = true, .pass = 1},
    {SPEC_CUSTOM("widths", read_widths, NULL), .pass = 4, .needed = arch_template,
     .allowed = arch_template,
     .refuse = "only allowed when hidden uses width templates (\"w\", \"2w\", ...)",
     .missing = "required key is missing: hidden uses width templates, so \"widths\" must "
                "list the values of w"},
    {SPEC_ENUM("activation", ArchSpec, net.act, ACT_NAMES)},
    {SPEC_BOOL("skip", ArchSpec, net.skip)},
    {SPEC_BOOL("batch_norm", ArchSpec, net.batch_norm)},
    {SPEC_CUSTOM("init", read_arch_init, write_arch_init)},
    {SPEC_CUSTOM("layers", NULL, NULL), .pass = SPEC_PASS_FIRST}, /* an op list instead */
    {SPEC_CUSTOM("preset", NULL, NULL), .pass = SPEC_PASS_FIRST}, /* a preset instead */
    {.key = NULL}};
static const SpecField *const MLP_WIDTH = &MLP_FIELDS[2];
static const SpecField *const MLP_HIDDEN = &MLP_FIELDS[3];

/* ---- presets ------------------------------------------------------------------------ */

static const char *const PRESET_KEYS[] = {"convnet", "resnet18", NULL}; /* PRESET_CONVNET.. */

/* "preset", read first: it sets the defaults of the others */
static int read_preset(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    NetConfig *net = &((ArchDraft *)obj)->a.net;
    int k;
    if (spec_read_enum(c, v, path, PRESET_KEYS, &k))
        return -1;
    net->preset = (Preset)(k + 1);
    net->act = ACT_RELU;
    net->batch_norm = net->skip = net->preset == PRESET_RESNET18;
    net->base_width = net->preset == PRESET_RESNET18 ? 64 : 0;
    return 0;
}

static void write_preset(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, PRESET_KEYS[((const ArchSpec *)obj)->net.preset - 1]);
}

static bool preset_resnet(const void *obj)
{
    return ((const ArchSpec *)obj)->net.preset == PRESET_RESNET18;
}

static bool arch_not_expanded(const void *obj)
{
    return !arch_expanded(obj);
}

/* widths of a preset: the values of its widening factor w, each an ArchSpec
 * "<name>@w=<w>" (as a template's) */
static int read_preset_widths(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    ((ArchDraft *)obj)->any_template = true;
    return read_widths(c, v, path, obj);
}

/* An architecture from a preset (an ArchSpec, read into an ArchDraft): the preset first,
 * then the switches, family and width, the name, then the widths. */
static const SpecField PRESET_FIELDS[] = {
    {SPEC_CUSTOM("name", read_mlp_name, write_arch_name), .required = true, .pass = 3},
    {SPEC_CUSTOM("family", read_family, write_family), .pass = 2, .always = true,
     .when = arch_expanded},
    {SPEC_INT("width", ArchSpec, width, 1, SPEC_MAX_WIDTH), .pass = SPEC_PASS_FIRST,
     .when = arch_expanded}, /* read by read_family */
    {SPEC_CUSTOM("preset", read_preset, write_preset), .pass = SPEC_PASS_FIRST},
    {SPEC_INT("base_width", ArchSpec, net.base_width, 1, SPEC_MAX_WIDTH), .when = preset_resnet,
     .allowed = preset_resnet, .refuse = "only the resnet18 preset has a base width"},
    {SPEC_CUSTOM("widths", read_preset_widths, NULL), .pass = 4, .allowed = arch_not_expanded,
     .refuse = "an expanded architecture (with \"family\" and \"width\") has one width"},
    {SPEC_ENUM("activation", ArchSpec, net.act, ACT_NAMES)},
    {SPEC_BOOL("skip", ArchSpec, net.skip), .when = preset_resnet, .allowed = preset_resnet,
     .refuse = "only the resnet18 preset has shortcuts to switch off"},
    {SPEC_BOOL("batch_norm", ArchSpec, net.batch_norm)},
    {SPEC_CUSTOM("init", read_arch_init, write_arch_init)},
    {.key = NULL}};
static const SpecField *const PRESET_KEY = &PRESET_FIELDS[3];

/* An entry with "preset": no hidden widths or layers of its own. */
static int parse_preset_arch(const Ctx *c, const cJSON *v, const char *path, ArchDraft *d)
{
    char kpath[SPEC_PATH_LEN];
    const char *own[] = {MLP_HIDDEN->key, OPLIST_LAYERS->key};
    for (int i = 0; i < 2; i++)
        if (spec_field(v, own[i])) {
            spec_path_key(kpath, path, own[i]);
            return spec_fail_at(c, kpath, "a preset has no \"%s\": its layers are the preset's "
                                "(docs/spec.md), its width multiplier comes from \"widths\"",
                                own[i]);
        }
    const int first = d->s->n_arch;
    if (spec_read_member(c, v, path, PRESET_KEY, d) ||
        spec_read_object(c, v, path, PRESET_FIELDS, 0, " with \"preset\"", false, d))
        return -1;
    if (!d->any_template)
        *arch_push(d->s, d->a.source, d->list) = d->a;
    for (int k = first; k < d->s->n_arch; k++)
        d->s->arch[k].net.width_mult = d->s->arch[k].width > 0 ? d->s->arch[k].width : 1;
    return 0;
}

/* One entry of "architectures": appends one ArchSpec, or one per width for a template. */
static int parse_arch(const Ctx *c, const cJSON *v, int index, Spec *s, ArchList *list)
{
    char path[SPEC_PATH_LEN], kpath[SPEC_PATH_LEN];
    spec_path_index(path, "architectures", index);
    if (spec_expect_object(c, v, path))
        return -1;
    ArchDraft d;
    memset(&d, 0, sizeof d);
    d.a.source = index;
    d.json = v;
    d.path = path;
    d.s = s;
    d.list = list;
    if (spec_field(v, PRESET_KEY->key))
        return parse_preset_arch(c, v, path, &d);
    bool oplist = spec_field(v, OPLIST_LAYERS->key) != NULL;
    if (oplist && spec_field(v, MLP_HIDDEN->key)) {
        spec_path_key(kpath, path, OPLIST_LAYERS->key);
        return spec_fail_at(c, kpath, "give either \"hidden\" (an MLP) or \"layers\" (an op list), "
                            "not both");
    }
    if (oplist) {
        if (spec_read_object(c, v, path, OPLIST_FIELDS, 0, " with \"layers\"", false, &d))
            return -1;
        snprintf(d.a.family, sizeof d.a.family, "%s", d.a.name);
    } else if (spec_read_object(c, v, path, MLP_FIELDS, 0, NULL, false, &d)) {
        return -1;
    }
    if (!d.any_template) /* a template appended its widths */
        *arch_push(s, index, list) = d.a;
    return 0;
}

/* The canonical form of an architecture, with the table it was read with. */
static void write_arch(SpecBuf *b, const ArchSpec *a)
{
    spec_write_object(b, a->net.preset != PRESET_NONE ? PRESET_FIELDS
                         : a->net.n_ops > 0            ? OPLIST_FIELDS
                                                       : MLP_FIELDS,
                      0, a);
}

static int parse_architectures(const Ctx *c, const cJSON *v, Spec *s)
{
    int n, rc = -1, i = 0;
    ArchList list = {NULL, 0};
    DupKey *keys = NULL;
    if (spec_read_array(c, v, "architectures", "architecture objects", &n))
        goto fail;
    for (const cJSON *e = v->child; e; e = e->next, i++)
        if (parse_arch(c, e, i, s, &list))
            goto fail;
    keys = xcalloc((size_t)s->n_arch, sizeof *keys);
    for (int k = 0; k < s->n_arch; k++)
        keys[k] = (DupKey){.str = s->arch[k].name, .pos = k};
    int b, a;
    if (spec_first_duplicate(keys, s->n_arch, &b, &a)) {
        char path[SPEC_PATH_LEN];
        spec_path_index(path, "architectures", list.srcs[b]);
        spec_fail_at(c, path, "duplicate architecture name \"%s\" (also architectures[%d])",
                     s->arch[b].name, list.srcs[a]);
        goto fail;
    }
    rc = 0;
fail:
    free(keys);
    free(list.srcs);
    return rc;
}

/* ---- grid -------------------------------------------------------------------------- */

/* Refuses a grid of more than SPEC_MAX_POINTS points; dims are the lengths of the axes in
 * grid order (architectures, conditions, norm_bias, weight_decay, seed), each >= 1. The
 * product is formed only while it stays within the limit, so it cannot overflow. */
static int check_points(const Ctx *c, const int64_t dims[5])
{
    int64_t points = 1;
    double approx = 1;
    bool over = false;
    for (int k = 0; k < 5; k++) {
        assert(dims[k] >= 1);
        approx *= (double)dims[k];
        if (over || dims[k] > SPEC_MAX_POINTS / points)
            over = true;
        else
            points *= dims[k];
    }
    if (!over)
        return 0;
    return spec_fail_at(c, "grid",
                        "the sweep has %.4g points (%" PRId64 " architectures x %" PRId64
                        " conditions x %" PRId64 " norm_bias targets x %" PRId64
                        " weight_decay values x %" PRId64 " seeds), more than the limit of 2^31 "
                        "(%" PRId64 "); split it into smaller sweeps",
                        approx, dims[0], dims[1], dims[2], dims[3], dims[4], SPEC_MAX_POINTS);
}

/* The length of an axis array as written, 1 when it is absent, empty or not an array
 * (those are reported with their paths later). */
static int64_t axis_length(const cJSON *v)
{
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    return n > 0 ? n : 1;
}

/* Counts the grid from the lengths of the JSON arrays alone (a template entry counts its
 * widths) and refuses a grid beyond the limits before any value is read or expanded:
 * each architecture and condition is a struct of its own (an ArchSpec is some 10 kB), so
 * a 16 MiB spec of template widths would otherwise ask for tens of gigabytes. */
static int check_grid_size(const Ctx *c, const cJSON *root)
{
    const cJSON *archs = spec_field(root, "architectures"), *grid = spec_field(root, "grid");
    int64_t dims[5] = {0, 1, 1, 1, 1};
    for (const cJSON *e = cJSON_IsArray(archs) ? archs->child : NULL; e; e = e->next) {
        const cJSON *hidden = cJSON_IsObject(e) ? spec_field(e, "hidden") : NULL;
        bool template_ = false;
        for (const cJSON *h = cJSON_IsArray(hidden) ? hidden->child : NULL; h; h = h->next)
            template_ = template_ || cJSON_IsString(h);
        dims[0] += template_ ? axis_length(spec_field(e, "widths")) : 1; /* < 2^31 nodes */
    }
    if (dims[0] == 0)
        dims[0] = 1;
    if (cJSON_IsObject(grid)) {
        const cJSON *nb = spec_field(grid, "norm_bias");
        dims[1] = axis_length(spec_field(grid, "conditions"));
        dims[2] = axis_length(cJSON_IsObject(nb) ? spec_field(nb, "targets") : nb);
        dims[3] = axis_length(spec_field(grid, "weight_decay"));
        dims[4] = axis_length(spec_field(grid, "seed"));
    }
    if (dims[0] > SPEC_MAX_ARCHS)
        return spec_fail_at(c, "architectures",
                            "%" PRId64 " architectures after template expansion, more than the "
                            "limit of %d", dims[0], SPEC_MAX_ARCHS);
    if (dims[1] > SPEC_MAX_CONDS)
        return spec_fail_at(c, "grid.conditions",
                            "%" PRId64 " conditions, more than the limit of %d", dims[1],
                            SPEC_MAX_CONDS);
    return check_points(c, dims);
}

/* One entry of grid.conditions while it is read: the plain members go to cond, the
 * train object to a copy of the base settings, resolved into cond.train once read. */
typedef struct {
    CondSpec cond; /* first: the table's members are CondSpec's */
    TrainDraft train;
} CondDraft;
_Static_assert(offsetof(CondDraft, cond) == 0, "CondDraft starts with its CondSpec");

/* "train" of a condition: overrides of the base settings; resolved (milestones, rank
 * projection epochs) whether or not it is given. */
static int read_cond_train(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    CondDraft *d = obj;
    if (v && parse_train(c, v, path, &d->train))
        return -1;
    return finish_train(c, &d->train, path, &d->cond.train);
}

static void write_cond_train(SpecBuf *b, const void *obj)
{
    spec_write_object(b, TRAIN_FIELDS, 0, &((const CondSpec *)obj)->train);
}

static const SpecField COND_FIELDS[] = {
    {SPEC_NAME("name", CondSpec, name, SPEC_NAME_MAX - 1), .required = true},
    {SPEC_CUSTOM("train", read_cond_train, write_cond_train), .pass = 1, .always = true},
    {.key = NULL}};
static const SpecField *const COND_NAME = &COND_FIELDS[0];

static int parse_conditions(const Ctx *c, const cJSON *v, const TrainDraft *base, Spec *s)
{
    const char *path = "grid.conditions";
    char cpath[SPEC_PATH_LEN], kpath[SPEC_PATH_LEN];
    int n;
    if (!v) {
        s->cond = xcalloc(1, sizeof *s->cond);
        s->n_cond = 1;
        snprintf(s->cond[0].name, sizeof s->cond[0].name, "base");
        return finish_train(c, base, "train", &s->cond[0].train);
    }
    if (spec_read_array(c, v, path, "condition objects", &n))
        return -1;
    s->cond = xcalloc((size_t)n, sizeof *s->cond);
    /* names are checked for repeats after the loop; a condition's own errors come after
     * the repeat of its name, as in a pairwise scan */
    DupKey *keys = xcalloc((size_t)n, sizeof *keys);
    int i = 0, named = 0, rc = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, i++) {
        CondDraft d;
        memset(&d.cond, 0, sizeof d.cond);
        d.train = *base;
        d.train.ms_inherited = d.train.t.schedule == SCHED_MULTISTEP;
        spec_path_index(cpath, path, i);
        rc = spec_read_object(c, e, cpath, COND_FIELDS, 0, NULL, false, &d);
        if (!d.cond.name[0]) /* the name is read first: a failure before it names nothing */
            break;
        s->cond[i] = d.cond;
        s->n_cond = named = i + 1;
        keys[i] = (DupKey){.str = s->cond[i].name, .pos = i};
    }
    int dup, first;
    if (spec_first_duplicate(keys, named, &dup, &first)) {
        spec_path_index(cpath, path, dup);
        spec_path_key(kpath, cpath, COND_NAME->key);
        rc = spec_fail_at(c, kpath, "duplicate condition name \"%s\" (also %s[%d])",
                          s->cond[dup].name, path, first);
    }
    free(keys);
    return rc;
}

/* grid.norm_bias given as an object (members of the Spec): the targets are read after
 * "relative". The canonical form always writes this object. */
static int read_norm_bias_targets(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    Spec *s = obj;
    return spec_read_num_axis(c, v, path, &SPEC_RANGE_NONNEG, "numbers >= 0", &s->norm_bias,
                              &s->n_nb);
}

static void write_norm_bias_targets(SpecBuf *b, const void *obj)
{
    const Spec *s = obj;
    spec_write_num_array(b, s->norm_bias, s->n_nb);
}

static const SpecField NORM_BIAS_FIELDS[] = {
    {SPEC_CUSTOM("targets", read_norm_bias_targets, write_norm_bias_targets), .required = true,
     .pass = 1},
    {SPEC_BOOL("relative", Spec, norm_bias_relative)},
    {.key = NULL}};

/* grid.conditions: absent, one condition "base" with the base settings */
static int read_conditions(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    (void)path;
    SpecDraft *d = obj;
    return parse_conditions(c, v, &d->base, d->spec);
}

static void write_conditions(SpecBuf *b, const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    spec_sb_puts(b, "[");
    for (int i = 0; i < s->n_cond; i++) {
        if (i)
            spec_sb_puts(b, ",");
        spec_write_object(b, COND_FIELDS, 0, &s->cond[i]);
    }
    spec_sb_puts(b, "]");
}

/* grid.weight_decay: absent, [0] */
static int read_weight_decay(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    Spec *s = ((SpecDraft *)obj)->spec;
    if (v)
        return spec_read_num_axis(c, v, path, &SPEC_RANGE_NONNEG, "numbers >= 0",
                                  &s->weight_decay, &s->n_wd);
    s->weight_decay = xcalloc(1, sizeof *s->weight_decay);
    s->n_wd = 1;
    return 0;
}

static void write_weight_decay(SpecBuf *b, const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    spec_write_num_array(b, s->weight_decay, s->n_wd);
}

/* grid.norm_bias: an array of targets or an object; absent, [0]. The canonical form is
 * always the object. */
static int read_norm_bias(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    Spec *s = ((SpecDraft *)obj)->spec;
    char g[80];
    s->norm_bias_relative = false;
    if (cJSON_IsObject(v))
        return spec_read_object(c, v, path, NORM_BIAS_FIELDS, 0, NULL, false, s);
    if (v && !cJSON_IsArray(v))
        return spec_fail_at(c, path,
                            "expected an array of targets or an object {\"targets\": [...], "
                            "\"relative\": true|false}, got %s", spec_got(v, g, sizeof g));
    if (v)
        return spec_read_num_axis(c, v, path, &SPEC_RANGE_NONNEG, "numbers >= 0", &s->norm_bias,
                                  &s->n_nb);
    s->norm_bias = xcalloc(1, sizeof *s->norm_bias);
    s->n_nb = 1;
    return 0;
}

static void write_norm_bias(SpecBuf *b, const void *obj)
{
    spec_write_object(b, NORM_BIAS_FIELDS, 0, ((const SpecDraft *)obj)->spec);
}

/* grid.seed: distinct integers in [0, 2^53) */
static int read_seeds(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    Spec *s = ((SpecDraft *)obj)->spec;
    char ipath[SPEC_PATH_LEN];
    int n;
    if (spec_read_array(c, v, path, "non-negative integers", &n))
        return -1;
    s->seed = xmalloc((size_t)n * sizeof *s->seed);
    s->n_seed = n;
    DupKey *keys = xcalloc((size_t)n, sizeof *keys);
    int i = 0, rc = 0, dup, first;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        int64_t x;
        spec_path_index(ipath, path, i);
        if ((rc = spec_read_int(c, e, ipath, 0, (int64_t)SPEC_SEED_LIMIT - 1,
                                "a non-negative integer < 2^53", &x)) != 0)
            break;
        s->seed[i] = (uint64_t)x;
        keys[i] = (DupKey){.u = s->seed[i], .pos = i};
    }
    if (spec_first_duplicate(keys, i, &dup, &first)) { /* seeds 0..i-1 are good */
        spec_path_index(ipath, path, dup);
        rc = spec_fail_at(c, ipath, "duplicate value %" PRIu64 " (also %s[%d])", s->seed[dup],
                          path, first);
    }
    free(keys);
    return rc;
}

static void write_seeds(SpecBuf *b, const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    spec_sb_puts(b, "[");
    for (int i = 0; i < s->n_seed; i++)
        spec_sb_printf(b, "%s%" PRIu64, i ? "," : "", s->seed[i]);
    spec_sb_puts(b, "]");
}

/* "grid" (a SpecDraft): the conditions first, the seeds, required, last. */
static const SpecField GRID_FIELDS[] = {
    {SPEC_CUSTOM("weight_decay", read_weight_decay, write_weight_decay), .pass = 1,
     .always = true},
    {SPEC_CUSTOM("seed", read_seeds, write_seeds), .pass = 2, .needed = spec_needed_always},
    {SPEC_CUSTOM("norm_bias", read_norm_bias, write_norm_bias), .pass = 1, .always = true},
    {SPEC_CUSTOM("conditions", read_conditions, write_conditions), .always = true},
    {.key = NULL}};

static int parse_grid(const Ctx *c, const cJSON *v, const char *path, SpecDraft *d)
{
    Spec *s = d->spec;
    if (spec_read_object(c, v, path, GRID_FIELDS, 0, NULL, false, d))
        return -1;
    /* can't fail here: check_grid_size counted the same axes from the JSON */
    const int64_t dims[5] = {s->n_arch, s->n_cond, s->n_nb, s->n_wd, s->n_seed};
    return check_points(c, dims);
}

/* ---- measure ------------------------------------------------------------------------ */

/* Up to SPEC_MAX_EPS distinct radii in (0, 1]. */
static int read_eps_list(const Ctx *c, const cJSON *arr, const char *path, void *obj)
{
    RobustSpec *r = obj;
    char ipath[SPEC_PATH_LEN];
    if (spec_read_array(c, arr, path, "radii in (0, 1] (fractions of the data range)", &r->n_eps))
        return -1;
    if (r->n_eps > SPEC_MAX_EPS)
        return spec_fail_at(c, path, "expected at most %d radii, got %d", SPEC_MAX_EPS, r->n_eps);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        if (spec_read_num(c, e, ipath, &(Range){0, 1, true, false}, &r->eps[i]))
            return -1;
        for (int j = 0; j < i; j++)
            if (r->eps[j] == r->eps[i])
                return spec_fail_at(c, ipath, "duplicate value (also %s[%d])", path, j);
    }
    return 0;
}

static void write_eps_list(SpecBuf *b, const void *obj)
{
    const RobustSpec *r = obj;
    spec_write_num_array(b, r->eps, r->n_eps);
}

/* measure.robustness (a RobustSpec) */
static const SpecField ROBUST_FIELDS[] = {
    {SPEC_CUSTOM("eps", read_eps_list, write_eps_list), .required = true},
    {SPEC_INT("steps", RobustSpec, steps, 1, 10000)},
    {SPEC_NUM("step_ratio", RobustSpec, step_ratio, SPEC_POSITIVE)},
    {SPEC_INT("test_samples", RobustSpec, test_samples, 0, INT_MAX)},
    {SPEC_INT("train_samples", RobustSpec, train_samples, 0, INT_MAX)},
    {.key = NULL}};

/* measure.certificate (a CertSpec); the tolerance is written when not the default (so
 * older hashes hold) */
static bool cert_tol_set(const void *obj)
{
    return ((const CertSpec *)obj)->tolerance != CERT_DEFAULT_TOLERANCE;
}

static bool lanczos_tol_set(const void *obj)
{
    return ((const CertSpec *)obj)->lanczos_tolerance != 0;
}

static const SpecField CERT_FIELDS[] = {
    {SPEC_INT("samples", CertSpec, samples, 0, INT_MAX)},
    {SPEC_INT("iterations", CertSpec, iterations, 0, 100000)},
    {SPEC_NUM("tolerance", CertSpec, tolerance, 0, 1, true, true), .when = cert_tol_set},
    {SPEC_NUM("lanczos_tolerance", CertSpec, lanczos_tolerance, 0, 1, false, true),
     .when = lanczos_tol_set},
    {.key = NULL}};

/* measure.ntk.epochs: at most 64, strictly increasing. */
static int read_ntk_epochs(const Ctx *c, const cJSON *ep, const char *path, void *obj)
{
    NtkSpec *ntk = obj;
    char ipath[SPEC_PATH_LEN];
    int n;
    if (spec_read_array(c, ep, path, "epochs (integers >= 1), increasing", &n))
        return -1;
    if (n > 64)
        return spec_fail_at(c, path, "expected at most 64 epochs, got %d", n);
    int i = 0;
    for (const cJSON *e = ep->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        int64_t ev;
        if (spec_read_int(c, e, ipath, 1, SPEC_MAX_EPOCHS, NULL, &ev))
            return -1;
        if (i > 0 && ev <= ntk->epochs[i - 1])
            return spec_fail_at(c, ipath, "epochs must be strictly increasing, but %lld follows %d",
                                (long long)ev, ntk->epochs[i - 1]);
        ntk->epochs[i] = (int)ev;
    }
    ntk->n_epochs = n;
    return 0;
}

static bool ntk_has_epochs(const void *obj)
{
    return ((const NtkSpec *)obj)->n_epochs > 0; /* only when given */
}

static void write_ntk_epochs(SpecBuf *b, const void *obj)
{
    const NtkSpec *ntk = obj;
    write_ints(b, ntk->epochs, ntk->n_epochs);
}

/* measure.ntk (an NtkSpec) */
static const SpecField NTK_FIELDS[] = {
    {SPEC_INT("samples", NtkSpec, samples, 1, 256)},
    {SPEC_INT("pool", NtkSpec, pool, 1, 1 << 28)},
    {SPEC_CUSTOM("epochs", read_ntk_epochs, write_ntk_epochs), .when = ntk_has_epochs},
    {.key = NULL}};

/* The members of "measure" are members of the Spec; each instrument given is enabled
 * with its defaults, then its members are read. */
static int read_robustness(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    RobustSpec *r = &((Spec *)obj)->robust;
    *r = (RobustSpec){.enabled = true, .steps = 20, .step_ratio = 0.25, .test_samples = 1000};
    return spec_read_object(c, v, path, ROBUST_FIELDS, 0, NULL, false, r);
}

static int read_certificate(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    CertSpec *cert = &((Spec *)obj)->cert;
    *cert = (CertSpec){true, 0, 100, CERT_DEFAULT_TOLERANCE, 0};
    return spec_read_object(c, v, path, CERT_FIELDS, 0, NULL, false, cert);
}

static int read_ntk(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    NtkSpec *ntk = &((Spec *)obj)->ntk;
    *ntk = (NtkSpec){.enabled = true, .samples = 25, .pool = 128};
    if (spec_read_object(c, v, path, NTK_FIELDS, 0, NULL, false, ntk))
        return -1;
    if (ntk->samples > ntk->pool) {
        char kpath[SPEC_PATH_LEN];
        spec_path_key(kpath, path, NTK_FIELDS[0].key); /* samples */
        return spec_fail_at(c, kpath, "expected at most pool = %d samples, got %d", ntk->pool,
                            ntk->samples);
    }
    return 0;
}

static bool ntk_on(const void *obj)
{
    return ((const Spec *)obj)->ntk.enabled;
}

static bool robustness_on(const void *obj)
{
    return ((const Spec *)obj)->robust.enabled;
}

static bool certificate_on(const void *obj)
{
    return ((const Spec *)obj)->cert.enabled;
}

static void write_ntk(SpecBuf *b, const void *obj)
{
    spec_write_object(b, NTK_FIELDS, 0, &((const Spec *)obj)->ntk);
}

static void write_robustness(SpecBuf *b, const void *obj)
{
    spec_write_object(b, ROBUST_FIELDS, 0, &((const Spec *)obj)->robust);
}

static void write_certificate(SpecBuf *b, const void *obj)
{
    spec_write_object(b, CERT_FIELDS, 0, &((const Spec *)obj)->cert);
}

/* "measure": the instruments run on every point (docs/spec.md#measure); written only
 * when one is on, so older hashes hold. ntk is read last. */
static const SpecField MEASURE_FIELDS[] = {
    {SPEC_CUSTOM("ntk", read_ntk, write_ntk), .pass = 1, .when = ntk_on},
    {SPEC_CUSTOM("robustness", read_robustness, write_robustness), .when = robustness_on},
    {SPEC_CUSTOM("certificate", read_certificate, write_certificate), .when = certificate_on},
    {.key = NULL}};

/* "output" */
static const SpecField OUTPUT_FIELDS[] = {
    {SPEC_BOOL("store_weights", Spec, store_weights)},
    {.key = NULL}};

/* ---- entry points ------------------------------------------------------------------ */

/* The constructed linear minimum (init.construct) copies every input through every hidden
 * layer of a plain ReLU (or linear) MLP. */
static int check_construct(const ArchSpec *a, int D, const char *origin, BpsErr *err)
{
    const NetConfig *net = &a->net;
    if (!net->construct.on)
        return 0;
    if (net->n_ops > 0 || net->preset != PRESET_NONE || net->skip || net->batch_norm)
        return bps_fail(err, "%s: architectures[%d].init.construct: needs an MLP given by "
                        "\"hidden\", without skip or batch_norm (architecture \"%s\")", origin,
                        a->source, a->name);
    for (int l = 0; l < net->n_hidden; l++)
        if (net->hidden[l] < D)
            return bps_fail(err, "%s: architectures[%d].init.construct: hidden layer %d of "
                            "\"%s\" has %d units, fewer than the %d input features; the "
                            "construction copies every input through every hidden layer", origin,
                            a->source, l + 1, a->name, net->hidden[l], D);
    return 0;
}

int spec_check_nets(const Spec *spec, Shape in, int n_out, const char *origin, BpsErr *err)
{
    for (int a = 0; a < spec->n_arch; a++) {
        if (check_construct(&spec->arch[a], (int)shape_size(in), origin, err))
            return -1;
        NetConfig net = spec->arch[a].net;
        if (net.n_ops == 0 && net.preset == PRESET_NONE)
            continue; /* the MLP shorthand fits any data */
        net.n_in = (int)shape_size(in);
        net.in_shape = in;
        net.n_out = n_out;
        char msg[256], data[96];
        int op;
        if (nn_check(&net, msg, sizeof msg, &op) == 0)
            continue;
        if (in.h * in.w == 1)
            snprintf(data, sizeof data, "for %d input features and %d classes", in.c, n_out);
        else
            snprintf(data, sizeof data, "for inputs (%d, %d, %d) and %d classes", in.c, in.h,
                     in.w, n_out);
        const int src = spec->arch[a].source;
        if (net.preset != PRESET_NONE) {
            OpDesc *ops = xmalloc(NN_MAX_OPS * sizeof *ops);
            nn_expand(&net, ops);
            const char *kind = op >= 0 ? OP_KINDS[ops[op].kind]->name : "";
            free(ops);
            if (op >= 0)
                return bps_fail(err,
                                "%s: architectures[%d] (preset \"%s\", %s): its op %d (%s): %s",
                                origin, src, PRESET_NAMES[net.preset], spec->arch[a].name, op,
                                kind, msg);
            return bps_fail(err, "%s: architectures[%d].preset: %s", origin, src, msg);
        }
        if (op >= 0)
            return bps_fail(err, "%s: architectures[%d].layers[%d]: %s (%s)", origin, src, op,
                            msg, data);
        return bps_fail(err, "%s: architectures[%d].layers: %s", origin, src, msg);
    }
    return 0;
}

int spec_check_augment(const Spec *spec, Shape in, const char *origin, BpsErr *err)
{
    for (int i = 0; i < spec->n_cond; i++) {
        const TrainConfig *t = &spec->cond[i].train;
        if (!(t->aug_crop_padding > 0 || t->aug_flip) || in.h > 1 || in.w > 1)
            continue;
        char where[SPEC_PATH_LEN + 64];
        if (spec->n_cond == 1 && strcmp(spec->cond[0].name, "base") == 0)
            snprintf(where, sizeof where, "train.augment");
        else
            snprintf(where, sizeof where, "grid.conditions[%d].train.augment (condition \"%s\", "
                     "or train.augment that it inherits)", i, spec->cond[i].name);
        return bps_fail(err, "%s: %s: crop and flip need image data, but the samples are "
                        "(C, H, W) = (%d, %d, %d), not images; give the data an image shape "
                        "(synthetic: \"image_shape\"; hdf5: x of shape (N, C, H, W)) or drop "
                        "\"augment\"", origin, where, in.c, in.h, in.w);
    }
    return 0;
}

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
    return parse_architectures(c, v, ((SpecDraft *)obj)->spec);
}

static void write_architectures(SpecBuf *b, const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    spec_sb_puts(b, "[");
    for (int i = 0; i < s->n_arch; i++) {
        if (i)
            spec_sb_puts(b, ",");
        write_arch(b, &s->arch[i]);
    }
    spec_sb_puts(b, "]");
}

static int read_grid(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return parse_grid(c, v, path, obj);
}

static void write_grid(SpecBuf *b, const void *obj)
{
    spec_write_object(b, GRID_FIELDS, 0, obj);
}

/* "train": the base settings, resolved whether or not they are given */
static int read_base_train(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    SpecDraft *d = obj;
    if (v && parse_train(c, v, path, &d->base))
        return -1;
    return finish_train(c, &d->base, path, &d->base_train);
}

static void write_base_train(SpecBuf *b, const void *obj)
{
    spec_write_object(b, TRAIN_FIELDS, 0, &((const SpecDraft *)obj)->base_train);
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
    return spec_read_object(c, v, path, MEASURE_FIELDS, 0, NULL, false, ((SpecDraft *)obj)->spec);
}

static bool measure_on(const void *obj)
{
    const Spec *s = ((const SpecDraft *)obj)->spec;
    return s->ntk.enabled || s->robust.enabled || s->cert.enabled; /* older hashes hold */
}

static void write_measure(SpecBuf *b, const void *obj)
{
    spec_write_object(b, MEASURE_FIELDS, 0, ((const SpecDraft *)obj)->spec);
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
    train_defaults(&d.base);
    if (spec_read_member(c, root, "", TOP_VERSION, &d) ||
        spec_check_object(c, root, "", TOP_FIELDS, 0, NULL, true) || check_grid_size(c, root) ||
        spec_read_members(c, root, "", TOP_FIELDS, 0, &d))
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
