/* spec_grid: "grid" - the axes of the sweep besides the architectures: conditions
 * (each a name and overrides of the base training settings), norm_bias targets,
 * weight_decay values and seeds; and the limits on the grid's size, checked from the
 * lengths of the JSON arrays before anything is read or expanded. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
int spec_check_grid_size(const Ctx *c, const cJSON *root)
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
    if (v && spec_read_train(c, v, path, &d->train))
        return -1;
    return spec_finish_train(c, &d->train, path, &d->cond.train);
}

static void write_cond_train(SpecBuf *b, const void *obj)
{
    spec_write_train(b, &((const CondSpec *)obj)->train);
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
        return spec_finish_train(c, base, "train", &s->cond[0].train);
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

int spec_read_grid(const Ctx *c, const cJSON *v, const char *path, SpecDraft *d)
{
    Spec *s = d->spec;
    if (spec_read_object(c, v, path, GRID_FIELDS, 0, NULL, false, d))
        return -1;
    /* can't fail here: spec_check_grid_size counted the same axes from the JSON */
    const int64_t dims[5] = {s->n_arch, s->n_cond, s->n_nb, s->n_wd, s->n_seed};
    return check_points(c, dims);
}

void spec_write_grid(SpecBuf *b, const SpecDraft *d)
{
    spec_write_object(b, GRID_FIELDS, 0, d);
}
