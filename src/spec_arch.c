/* spec_arch: "architectures" - each entry an MLP (hidden widths, possibly width
 * templates "k*w" expanded into one ArchSpec per width), a preset (ConvNet, ResNet-18,
 * widened by "widths"), or an op list ("layers", spec_layers.c); its "init" (drawn,
 * set, or the constructed linear minimum); and spec_check_nets, which checks every net
 * against the data's shape. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_ARCH_NAME_MAX (SPEC_NAME_MAX - 17) /* leaves room for "@w=<width>" */

/* Enum names, indexed by the enum value of the struct member they set. */
static const char *const ACT_NAMES[] = {"relu", "identity", NULL};
static const char *const WINIT_NAMES[] = {"torch_default", "he_normal", "constant", "identity",
                                           NULL};
static const char *const PINIT_NAMES[] = {"none", "zero", "equal", NULL};
static const char *const BINIT_NAMES[] = {"torch_default", "zero", "constant", "uniform", NULL};

/* ---- initialisation ------------------------------------------------------------------ */

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

/* ---- widths and names --------------------------------------------------------------- */

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

/* ---- MLPs and op lists -------------------------------------------------------------- */

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
    return spec_read_layers(c, v, path, &((ArchDraft *)obj)->a.net);
}

static void write_oplist(SpecBuf *b, const void *obj)
{
    spec_write_layers(b, &((const ArchSpec *)obj)->net);
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
    spec_write_int_array(b, net->hidden, net->n_hidden);
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

/* ---- the list ---------------------------------------------------------------------- */

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

int spec_read_architectures(const Ctx *c, const cJSON *v, Spec *s)
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

void spec_write_architectures(SpecBuf *b, const Spec *s)
{
    spec_sb_puts(b, "[");
    for (int i = 0; i < s->n_arch; i++) {
        if (i)
            spec_sb_puts(b, ",");
        write_arch(b, &s->arch[i]);
    }
    spec_sb_puts(b, "]");
}

/* ---- the nets against the data ----------------------------------------------------- */

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

/* skip on the MLP shorthand adds h = act(u) + x where a hidden layer's width equals its
 * input's (nn_expand); a net where that never happens would silently be a plain MLP. */
static int check_skip(const ArchSpec *a, int D, const char *origin, BpsErr *err)
{
    const NetConfig *net = &a->net;
    if (!net->skip || net->n_ops > 0 || net->preset != PRESET_NONE)
        return 0;
    for (int l = 0, width = D; l < net->n_hidden; width = net->hidden[l++])
        if (net->hidden[l] == width)
            return 0;
    char widths[128];
    int len = 0;
    for (int l = 0; l < net->n_hidden && len < (int)sizeof widths; l++)
        len += snprintf(widths + len, sizeof widths - (size_t)len, "%s%d", l ? ", " : "",
                        net->hidden[l]);
    return bps_fail(err, "%s: architectures[%d].skip: true, but no hidden layer of \"%s\" "
                    "(hidden [%s] on %d inputs) has as many units as its input, so no "
                    "residual connection would be added; remove skip, or give two consecutive "
                    "layers the same width", origin, a->source, a->name, widths, D);
}

int spec_check_nets(const Spec *spec, Shape in, int n_out, const char *origin, BpsErr *err)
{
    for (int a = 0; a < spec->n_arch; a++) {
        if (check_construct(&spec->arch[a], (int)shape_size(in), origin, err) ||
            check_skip(&spec->arch[a], (int)shape_size(in), origin, err))
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
