/* spec_train: "train" and a condition's "train" - the training settings (TrainConfig),
 * read into a TrainDraft so that milestones and rank-projection epochs stay as written
 * (epochs or fractions of training) until the number of epochs is known
 * (spec_finish_train); the nested objects schedule, rank_projection, adversarial,
 * augment and stop; and spec_check_augment, which needs the data's shape. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SPEC_MAX_BATCH (1 << 24)
#define SPEC_MAX_CROP_PADDING 1024

/* Enum names, indexed by the enum value of the struct member they set. */
static const char *const SCHED_NAMES[] = {"constant", "multistep", "cosine", NULL};
static const char *const RANK_NAMES[] = {"off", "min", "max", NULL};

void spec_default_train(TrainDraft *d)
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
    d->t.optimizer = OPT_SGD;
    d->t.newton_radius = 1.0;
    d->t.newton_max_radius = 1000.0;
    d->t.newton_cg = 250;
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

/* "schedule" (members of TrainConfig, read into a TrainDraft): milestones stay as written
 * until spec_finish_train and are written as epochs. */
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
    spec_write_int_array(b, t->milestones, t->n_milestones);
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
    return ((const TrainConfig *)obj)->rank.mode != RANK_OFF; /* only when on: older hashes hold */
}

/* Written when on, and where a condition turns off what its base turns on: omitted, the
 * condition would inherit the base's setting when its canonical form is read again. */
static bool rank_written(const void *obj)
{
    return rank_on(obj) || ((const TrainConfig *)obj)->rank_off_override;
}

/* first_layer and output_layer are written only where they differ from the defaults
 * (false, true), so the hashes of specs from before them hold. */
static bool rank_first_written(const void *obj)
{
    return rank_on(obj) && ((const TrainConfig *)obj)->rank.first;
}

static bool rank_output_written(const void *obj)
{
    return rank_on(obj) && !((const TrainConfig *)obj)->rank.output;
}

static int read_rank_epochs(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    return read_epoch_list(c, v, path, "epochs", d->rp, &d->n_rp, &d->rp_fraction);
}

static void write_rank_epochs(SpecBuf *b, const void *obj)
{
    const TrainConfig *t = obj;
    spec_write_int_array(b, t->rank_epochs, t->n_rank_epochs);
}

#define RANK_REFUSE "not allowed with mode \"off\""
static const SpecField RANK_FIELDS[] = {
    {SPEC_ENUM("mode", TrainConfig, rank.mode, RANK_NAMES), .required = true,
     .pass = SPEC_PASS_FIRST},
    {SPEC_NUM("threshold", TrainConfig, rank.threshold, SPEC_POSITIVE), .needed = rank_on,
     .allowed = rank_on, .refuse = RANK_REFUSE, .when = rank_on},
    {SPEC_BOOL("relative", TrainConfig, rank.relative), .allowed = rank_on,
     .refuse = RANK_REFUSE, .when = rank_on},
    {SPEC_BOOL("first_layer", TrainConfig, rank.first), .allowed = rank_on,
     .refuse = RANK_REFUSE, .when = rank_first_written},
    {SPEC_BOOL("output_layer", TrainConfig, rank.output), .allowed = rank_on,
     .refuse = RANK_REFUSE, .when = rank_output_written},
    {SPEC_CUSTOM("epochs", read_rank_epochs, write_rank_epochs), .needed = rank_on,
     .allowed = rank_on, .refuse = RANK_REFUSE, .when = rank_on},
    {.key = NULL}};
static const SpecField *const RANK_MODE = &RANK_FIELDS[0];

/* "rank_projection": replaces the whole projection, like a schedule. */
static int read_rank(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    TrainDraft *d = obj;
    bool inherited_on = rank_on(&d->t);
    d->t.rank = (RankEdit){.relative = true, .output = true};
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
 * epochs as written until the number of epochs is known (spec_finish_train). */
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

static bool lr_sharpness_on(const void *obj)
{
    return ((const TrainConfig *)obj)->lr_sharpness > 0;
}

/* "optimizer" and "trust_region" (members of TrainConfig): written only for Newton, so
 * that the canonical form of every spec before them is unchanged */
static const char *const OPTIMIZER_NAMES[] = {"sgd", "newton", NULL};

static bool newton_on(const void *obj)
{
    return ((const TrainConfig *)obj)->optimizer == OPT_NEWTON;
}

static const SpecField TRUST_FIELDS[] = {
    {SPEC_NUM("radius", TrainConfig, newton_radius, SPEC_POSITIVE)},
    {SPEC_NUM("max_radius", TrainConfig, newton_max_radius, SPEC_POSITIVE)},
    {SPEC_INT("cg_iterations", TrainConfig, newton_cg, 1, 1000000)},
    {.key = NULL}};

static int read_trust(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    return spec_read_object(c, v, path, TRUST_FIELDS, 0, NULL, false, obj);
}

static void write_trust(SpecBuf *b, const void *obj)
{
    spec_write_object(b, TRUST_FIELDS, 0, obj);
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
    {SPEC_NUM("lr_sharpness", TrainConfig, lr_sharpness, 0, 4, true, true),
     .when = lr_sharpness_on},
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
    {SPEC_ENUM("optimizer", TrainConfig, optimizer, OPTIMIZER_NAMES), .when = newton_on},
    {SPEC_CUSTOM("trust_region", read_trust, write_trust), .when = newton_on},
    {.key = NULL}};

/* Applies the members of a train object to d (the base settings, or a condition's
 * overrides on a copy of them). */
int spec_read_train(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d)
{
    d->epochs_given |= spec_field(v, "epochs") != NULL;
    d->trust_given |= spec_field(v, "trust_region") != NULL;
    return spec_read_object(c, v, path, TRAIN_FIELDS, 0, NULL, true, d);
}

void spec_write_train(SpecBuf *b, const TrainConfig *t)
{
    spec_write_object(b, TRAIN_FIELDS, 0, t);
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

/* "optimizer": "newton" with a setting that only SGD has (momentum and lr are unused and
 * have defaults, so they are not refused). Returns -1 with the message, or 0. */
static int newton_conflict(const Ctx *c, const TrainDraft *d, const char *path)
{
    const TrainConfig *t = &d->t;
    const char *key = !t->full_batch ? "batch_size"
                      : t->lr_sharpness > 0 ? "lr_sharpness"
                      : t->nesterov ? "nesterov"
                      : t->schedule != SCHED_CONSTANT ? "schedule"
                      : t->clip_value > 0 ? "clip_value"
                      : t->rank.mode != RANK_OFF ? "rank_projection"
                      : t->aug_crop_padding > 0 || t->aug_flip ? "augment"
                      : t->freeze_bn_epoch > 0 ? "freeze_batch_norm" : NULL;
    if (!key)
        return 0;
    char kpath[SPEC_PATH_LEN];
    spec_path_key(kpath, path, key);
    if (!t->full_batch)
        return spec_fail_at(c, kpath, "\"optimizer\": \"newton\" is full-batch: it needs "
                            "\"batch_size\": \"full\"");
    return spec_fail_at(c, kpath, "not used by \"optimizer\": \"newton\" (a trust-region "
                        "Newton method on the whole training set, batch norm in evaluation "
                        "mode); drop it or train with SGD");
}

/* Checks what involves several members and resolves milestones and rank-projection
 * epochs to epochs. */
int spec_finish_train(const Ctx *c, const TrainDraft *d, const char *path, TrainConfig *out)
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
    if (d->t.lr_sharpness > 0 && !d->t.full_batch) {
        spec_path_key(kpath, path, "lr_sharpness");
        return spec_fail_at(c, kpath, "a learning rate from the sharpness needs full-batch "
                            "descent (\"batch_size\": \"full\"), whose stability it bounds");
    }
    if (d->t.optimizer == OPT_NEWTON && newton_conflict(c, d, path))
        return -1;
    if (d->trust_given && d->t.optimizer != OPT_NEWTON) {
        spec_path_key(kpath, path, "trust_region");
        return spec_fail_at(c, kpath, "trust-region settings are for \"optimizer\": "
                            "\"newton\", but the optimizer is SGD");
    }
    if (d->t.newton_radius > d->t.newton_max_radius) {
        spec_path_key(kpath, path, "trust_region.radius");
        return spec_fail_at(c, kpath, "the initial radius %g exceeds max_radius %g",
                            d->t.newton_radius, d->t.newton_max_radius);
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
    if (d->t.rank.mode != RANK_OFF) {
        spec_path_key(kpath, path, "rank_projection.epochs");
        if (resolve_epochs(c, kpath, d->rp, d->n_rp, d->rp_fraction, d->t.epochs,
                           "rank projection epochs", "", out->rank_epochs))
            return -1;
        out->n_rank_epochs = d->n_rp;
    }
    return 0;
}

/* ---- augmentation against the data ------------------------------------------------ */

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
