/* spec: sweep specifications, from JSON text to validated plain structs and back to
 * the canonical JSON. cJSON is used in this file only: every cJSON tree is freed
 * before spec_parse returns. The format is documented in docs/spec.md.
 *
 * Structure: one `parse_*` function per JSON object, each taking the object's JSON
 * path for its messages; a validation failure writes one message into the BpsErr and
 * returns -1 up the stack to spec_parse's single `fail:` label, which frees the
 * cJSON tree and the partly built Spec. Arrays are attached to the Spec as soon as
 * they are allocated, so spec_free releases everything on every path. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/spec.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_PATH_LEN 256            /* JSON paths in messages */
#define SPEC_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define SPEC_MAX_WIDTH (1 << 20)     /* largest hidden width */
#define SPEC_MAX_EPOCHS 1000000
#define SPEC_MAX_BATCH (1 << 24)
#define SPEC_MAX_SAMPLES (1 << 28)   /* synthetic n_train, n_test */
#define SPEC_SEED_LIMIT 9007199254740992.0 /* 2^53: seeds and data seeds are below it */
#define SPEC_ARCH_NAME_MAX (SPEC_NAME_MAX - 17) /* leaves room for "@w=<width>" */

/* Enum names, indexed by the enum value of the struct field they set. */
static const char *const SOURCE_NAMES[] = {"idx", "synthetic", NULL};
static const char *const NORM_NAMES[] = {"none", "unit", "standardize", NULL};
static const char *const ACT_NAMES[] = {"relu", "identity", NULL};
static const char *const WINIT_NAMES[] = {"torch_default", "he_normal", "constant", NULL};
static const char *const BINIT_NAMES[] = {"torch_default", "zero", "constant", "uniform", NULL};
static const char *const SCHED_NAMES[] = {"constant", "multistep", "cosine", NULL};
static const char *const RANK_NAMES[] = {"off", "min", "max", NULL};

/* Known keys of every object, in canonical order. */
static const char *const TOP_KEYS[] = {"schema_version", "name", "data", "architectures",
                                       "grid", "train", "output", "measure", NULL};
static const char *const OUTPUT_KEYS[] = {"store_weights", NULL};
static const char *const MEASURE_KEYS[] = {"ntk", "robustness", "certificate", NULL};
static const char *const CERT_KEYS[] = {"samples", "iterations", NULL};
static const char *const ROBUST_KEYS[] = {"eps", "steps", "step_ratio", "test_samples",
                                          "train_samples", NULL};
static const char *const ADV_KEYS[] = {"eps", "step_ratio", "steps", NULL};
static const char *const NTK_KEYS[] = {"samples", "pool", "epochs", NULL};
static const char *const IDX_KEYS[] = {"source", "path", "train_subset", "test_subset",
                                       "normalization", NULL};
static const char *const SYN_KEYS[] = {"source", "n_train", "n_test", "features",
                                       "classes", "clusters_per_class", "noise", "seed",
                                       NULL};
static const char *const ARCH_KEYS[] = {"name", "family", "width", "hidden", "widths",
                                        "activation", "skip", "batch_norm", "init", "layers",
                                        NULL};
/* with "layers": the op list says everything the MLP keys would */
static const char *const LAYERS_ARCH_KEYS[] = {"name", "layers", "init", NULL};
/* keys of one entry of "layers", by the number of inputs of its kind */
static const char *const LAYER_KEYS[] = {"type", "name", "input", NULL};
static const char *const LAYER_DENSE_KEYS[] = {"type", "name", "input", "out", NULL};
static const char *const LAYER_ADD_KEYS[] = {"type", "name", "inputs", NULL};
static const char *const INIT_KEYS[] = {"weights", "weights_value", "bias", "bias_value", NULL};
static const char *const GRID_KEYS[] = {"weight_decay", "seed", "norm_bias", "conditions", NULL};
static const char *const NB_KEYS[] = {"targets", "relative", NULL};
static const char *const COND_KEYS[] = {"name", "train", NULL};
static const char *const TRAIN_KEYS[] = {"epochs", "batch_size", "lr", "momentum", "nesterov",
                                         "schedule", "shuffle", "drop_last", "clip_value",
                                         "rank_projection", "adversarial", NULL};
static const char *const RANK_KEYS[] = {"mode", "threshold", "relative", "epochs", NULL};
static const char *const SCHED_KEYS[] = {"type", "milestones", "gamma", NULL};

typedef struct {
    const char *origin; /* names the text in messages */
    BpsErr *err;
} Ctx;

/* A closed or open interval of doubles for range checks and their messages. */
typedef struct {
    double lo, hi;
    bool lo_open, hi_open;
} Range;

static const Range RANGE_ANY = {-HUGE_VAL, HUGE_VAL, true, true};
static const Range RANGE_POSITIVE = {0, HUGE_VAL, true, true};
static const Range RANGE_NONNEG = {0, HUGE_VAL, false, true};

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
} TrainDraft;

/* ---- messages ---------------------------------------------------------------------- */

static int fail_at(const Ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const Ctx *c, const char *path, const char *fmt, ...)
{
    char what[BPS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bps_fail(c->err, "%s: %s: %s", c->origin, path, what);
}

/* Shortest of %.15g, %.16g, %.17g that reads back as x; -0 prints as 0. buf >= 32. */
static void fmt_double(double x, char *buf, size_t len)
{
    if (x == 0)
        x = 0; /* -0 -> +0 */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
}

/* Copies s for a message: at most 40 characters, non-printable bytes as '?'. */
static const char *clean(const char *s, char *buf, size_t len)
{
    size_t n = 0;
    for (; s[n] && n + 4 < len && n < 40; n++)
        buf[n] = isprint((unsigned char)s[n]) ? s[n] : '?';
    if (s[n] && n + 4 <= len) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNumber(v))
        return "a number";
    if (cJSON_IsString(v))
        return "a string";
    if (cJSON_IsBool(v))
        return "a boolean";
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsArray(v))
        return "an array";
    if (cJSON_IsObject(v))
        return "an object";
    return "an invalid value";
}

/* What a value is, for "got ...": numbers and strings by value, the rest by type. */
static const char *got(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsNumber(v)) {
        fmt_double(v->valuedouble, buf, len);
    } else if (cJSON_IsString(v)) {
        char tmp[64];
        snprintf(buf, len, "\"%s\"", clean(v->valuestring, tmp, sizeof tmp));
    } else {
        snprintf(buf, len, "%s", type_name(v));
    }
    return buf;
}

static void path_key(char *out, const char *path, const char *key)
{
    int n = snprintf(out, SPEC_PATH_LEN, "%s%s%s", path, *path ? "." : "", key);
    if (n < 0 || n >= SPEC_PATH_LEN)
        memcpy(out + SPEC_PATH_LEN - 4, "...", 4);
}

static void path_index(char *out, const char *path, int i)
{
    int n = snprintf(out, SPEC_PATH_LEN, "%s[%d]", path, i);
    if (n < 0 || n >= SPEC_PATH_LEN)
        memcpy(out + SPEC_PATH_LEN - 4, "...", 4);
}

/* The line and column (both 1-based, columns in bytes) of offset in text, and a
 * printable excerpt of that line around the offset. */
static int fail_malformed(const Ctx *c, const char *text, const char *end)
{
    size_t len = strlen(text);
    size_t off = end && end >= text ? (size_t)(end - text) : len;
    if (off > len)
        off = len;
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    size_t line_end = off;
    while (line_end < len && text[line_end] != '\n' && text[line_end] != '\r')
        line_end++;
    size_t from = off > line_start + 20 ? off - 20 : line_start;
    size_t to = line_end < off + 20 ? line_end : off + 20;
    char near[64];
    size_t n = 0;
    for (size_t i = from; i < to && n + 1 < sizeof near; i++)
        near[n++] = isprint((unsigned char)text[i]) ? text[i] : ' ';
    near[n] = '\0';
    size_t col = off - line_start + 1;
    if (n == 0)
        return bps_fail(c->err, "%s:%d:%zu: malformed JSON: unexpected end of input", c->origin,
                        line, col);
    return bps_fail(c->err, "%s:%d:%zu: malformed JSON near '%s'", c->origin, line, col, near);
}

/* ---- NUL characters inside strings ---------------------------------------------------- */

/* One open array or object while scanning the JSON text. */
typedef struct {
    bool object;
    bool want_key;   /* object: the next string is a key */
    int index;       /* array: the current element */
    const char *key; /* object: the current member's key as written (not decoded) */
    size_t key_len;
} ScanFrame;

/* The path of the value the scan is at: every frame's member, outermost first. */
static void scan_path(const ScanFrame *f, int depth, char *out)
{
    char prev[SPEC_PATH_LEN], key[64], tmp[64];
    out[0] = '\0';
    for (int d = 0; d < depth; d++) {
        memcpy(prev, out, SPEC_PATH_LEN);
        if (f[d].object) {
            size_t n = f[d].key_len < sizeof key - 1 ? f[d].key_len : sizeof key - 1;
            memcpy(key, f[d].key ? f[d].key : "", n);
            key[n] = '\0';
            path_key(out, prev, clean(key, tmp, sizeof tmp));
        } else {
            path_index(out, prev, f[d].index);
        }
    }
}

/* cJSON decodes the escape \u0000 to a NUL byte inside its NUL-terminated strings, so
 * "relu\u0000tanh" would read as "relu" and a bad name would pass its check. Walks the
 * text, which cJSON has accepted as JSON, for a \u0000 escape inside a string or key;
 * returns 0, or -1 with a message naming its JSON path. (\\u0000 is an escaped
 * backslash followed by "u0000", not a NUL.) */
static int refuse_nul_escapes(const Ctx *c, const char *text)
{
    if (!strstr(text, "\\u0000"))
        return 0; /* the common case: nothing to walk */
    ScanFrame *f = NULL;
    int depth = 0, cap = 0, rc = 0;
    for (const char *p = text; *p && rc == 0; p++) {
        ScanFrame *top = depth ? &f[depth - 1] : NULL;
        if (*p == '{' || *p == '[') {
            if (depth == cap) {
                cap = cap ? 2 * cap : 16;
                f = xrealloc(f, (size_t)cap * sizeof *f);
            }
            f[depth++] = (ScanFrame){.object = *p == '{', .want_key = *p == '{'};
        } else if ((*p == '}' || *p == ']') && depth) {
            depth--;
        } else if (*p == ',' && top) {
            top->index++;
            top->want_key = top->object;
        } else if (*p == ':' && top) {
            top->want_key = false;
        } else if (*p == '"') {
            const char *start = ++p;
            bool nul = false;
            for (; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                    nul = nul || strncmp(p + 1, "u0000", 5) == 0;
                    p++; /* the escaped character, never the end of the string */
                }
            }
            bool is_key = top && top->want_key;
            if (is_key) {
                top->key = start;
                top->key_len = (size_t)(p - start);
            }
            if (nul) {
                char path[SPEC_PATH_LEN];
                scan_path(f, depth, path);
                rc = fail_at(c, *path ? path : "(top level)",
                             "%s contains a NUL character (\\u0000), which is not allowed",
                             is_key ? "the key" : "the string");
            }
            if (!*p)
                break;
        }
    }
    free(f);
    return rc;
}

/* ---- generic readers: each checks one value and names its path on failure ----------- */

static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int expect_object(const Ctx *c, const cJSON *v, const char *path)
{
    char g[80];
    if (!cJSON_IsObject(v))
        return fail_at(c, path, "expected an object, got %s", got(v, g, sizeof g));
    return 0;
}

static void join_names(const char *const *names, bool quoted, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; names[i]; i++) {
        int w = snprintf(buf + n, len - n, quoted ? "%s\"%s\"" : "%s%s", i ? ", " : "",
                         names[i]);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
}

/* Rejects keys outside `known` and keys that appear twice. qual qualifies the list of
 * known keys in the message (e.g. ` for source "idx"`). */
static int check_keys(const Ctx *c, const cJSON *obj, const char *path,
                      const char *const *known, const char *qual)
{
    char kpath[SPEC_PATH_LEN], tmp[64];
    for (const cJSON *k = obj->child; k; k = k->next) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(k->string, known[i]) == 0;
        path_key(kpath, path, clean(k->string, tmp, sizeof tmp));
        if (!ok) {
            char list[512];
            join_names(known, false, list, sizeof list);
            const char *hint = "";
            if ((known == TRAIN_KEYS || known == TOP_KEYS) &&
                (strcmp(k->string, "weight_decay") == 0 || strcmp(k->string, "norm_bias") == 0 ||
                 strcmp(k->string, "seed") == 0))
                hint = "; it is a grid axis, set it under \"grid\"";
            return fail_at(c, kpath, "unknown key%s (known: %s)%s", qual ? qual : "", list,
                           hint);
        }
        for (const cJSON *e = obj->child; e != k; e = e->next)
            if (strcmp(e->string, k->string) == 0)
                return fail_at(c, kpath, "duplicate key");
    }
    return 0;
}

static int require(const Ctx *c, const cJSON *obj, const char *path, const char *key,
                   const cJSON **out)
{
    *out = field(obj, key);
    if (!*out) {
        char kpath[SPEC_PATH_LEN];
        path_key(kpath, path, key);
        return fail_at(c, kpath, "required key is missing");
    }
    return 0;
}

static void describe_range(const Range *r, char *buf, size_t len)
{
    char lo[32], hi[32];
    fmt_double(r->lo, lo, sizeof lo);
    fmt_double(r->hi, hi, sizeof hi);
    if (isinf(r->lo) && isinf(r->hi))
        snprintf(buf, len, "a finite number");
    else if (isinf(r->hi))
        snprintf(buf, len, "a number %s %s", r->lo_open ? ">" : ">=", lo);
    else if (isinf(r->lo))
        snprintf(buf, len, "a number %s %s", r->hi_open ? "<" : "<=", hi);
    else
        snprintf(buf, len, "a number in %c%s, %s%c", r->lo_open ? '(' : '[', lo, hi,
                 r->hi_open ? ')' : ']');
}

static int read_num(const Ctx *c, const cJSON *v, const char *path, const Range *r,
                    double *out)
{
    char desc[96], g[80];
    double x = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
    bool ok = isfinite(x) && (r->lo_open ? x > r->lo : x >= r->lo) &&
              (r->hi_open ? x < r->hi : x <= r->hi);
    if (!ok) {
        describe_range(r, desc, sizeof desc);
        return fail_at(c, path, "expected %s, got %s", desc, got(v, g, sizeof g));
    }
    *out = x == 0 ? 0 : x; /* -0 -> +0 */
    return 0;
}

/* desc overrides the generated description of the range (NULL: generated). */
static int read_int(const Ctx *c, const cJSON *v, const char *path, int64_t lo, int64_t hi,
                    const char *desc, int64_t *out)
{
    *out = 0; /* defined on every path (and for the compiler) */
    double x = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
    if (!(isfinite(x) && x == floor(x) && x >= (double)lo && x <= (double)hi)) {
        char buf[96], g[80];
        if (!desc) {
            if (hi >= INT_MAX && lo == 1)
                snprintf(buf, sizeof buf, "a positive integer");
            else if (hi >= INT_MAX && lo == 0)
                snprintf(buf, sizeof buf, "a non-negative integer");
            else if (lo == 1)
                snprintf(buf, sizeof buf, "a positive integer <= %" PRId64, hi);
            else
                snprintf(buf, sizeof buf, "an integer in [%" PRId64 ", %" PRId64 "]", lo, hi);
            desc = buf;
        }
        return fail_at(c, path, "expected %s, got %s", desc, got(v, g, sizeof g));
    }
    *out = (int64_t)x;
    return 0;
}

static int read_enum(const Ctx *c, const cJSON *v, const char *path, const char *const *names,
                     int *out)
{
    *out = 0; /* defined on every path (and for the compiler) */
    if (cJSON_IsString(v)) {
        for (int i = 0; names[i]; i++) {
            if (strcmp(v->valuestring, names[i]) == 0) {
                *out = i;
                return 0;
            }
        }
    }
    char list[256], g[80];
    join_names(names, true, list, sizeof list);
    return fail_at(c, path, "expected one of %s, got %s", list, got(v, g, sizeof g));
}

/* A name of 1..max_len characters from [A-Za-z0-9_.-]. */
static int read_name(const Ctx *c, const cJSON *v, const char *path, size_t max_len, char *out)
{
    bool ok = cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= max_len;
    for (const char *p = ok ? v->valuestring : ""; *p && ok; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-';
    if (!ok) {
        char g[80];
        return fail_at(c, path,
                       "expected a name of 1 to %zu characters from [A-Za-z0-9_.-], got %s",
                       max_len, got(v, g, sizeof g));
    }
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

/* Optional members: absent keeps *out (the default). */
static int opt_num(const Ctx *c, const cJSON *obj, const char *path, const char *key,
                   const Range *r, double *out)
{
    const cJSON *v = field(obj, key);
    char kpath[SPEC_PATH_LEN];
    path_key(kpath, path, key);
    return v ? read_num(c, v, kpath, r, out) : 0;
}

static int opt_int(const Ctx *c, const cJSON *obj, const char *path, const char *key,
                   int64_t lo, int64_t hi, int *out)
{
    const cJSON *v = field(obj, key);
    char kpath[SPEC_PATH_LEN];
    int64_t x;
    path_key(kpath, path, key);
    if (!v)
        return 0;
    if (read_int(c, v, kpath, lo, hi, NULL, &x))
        return -1;
    *out = (int)x;
    return 0;
}

static int opt_bool(const Ctx *c, const cJSON *obj, const char *path, const char *key,
                    bool *out)
{
    const cJSON *v = field(obj, key);
    char kpath[SPEC_PATH_LEN], g[80];
    path_key(kpath, path, key);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return fail_at(c, kpath, "expected true or false, got %s", got(v, g, sizeof g));
    *out = cJSON_IsTrue(v);
    return 0;
}

static int opt_enum(const Ctx *c, const cJSON *obj, const char *path, const char *key,
                    const char *const *names, int *out)
{
    const cJSON *v = field(obj, key);
    char kpath[SPEC_PATH_LEN];
    path_key(kpath, path, key);
    return v ? read_enum(c, v, kpath, names, out) : 0;
}

/* A non-empty array; *n gets its length. what describes the elements for messages. */
static int read_array(const Ctx *c, const cJSON *v, const char *path, const char *what, int *n)
{
    *n = 0; /* defined on every path (and for the compiler) */
    char g[80];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return fail_at(c, path, "expected a non-empty array of %s, got %s", what,
                       cJSON_IsArray(v) ? "[]" : got(v, g, sizeof g));
    *n = cJSON_GetArraySize(v);
    return 0;
}

/* ---- duplicates: sorted, not compared pairwise ----------------------------------------- */

/* One value of an axis (a number, an integer or a name) and its position in the array.
 * Only the member that the axis uses is set; the others stay zero. */
typedef struct {
    double num;
    uint64_t u;
    const char *str;
    int pos;
} DupKey;

static bool dupkey_same(const DupKey *a, const DupKey *b)
{
    return a->num == b->num && a->u == b->u &&
           (a->str == b->str || (a->str && b->str && strcmp(a->str, b->str) == 0));
}

/* By value, then by position. */
static int dupkey_cmp(const void *pa, const void *pb)
{
    const DupKey *a = pa, *b = pb;
    if (!dupkey_same(a, b)) {
        if (a->num != b->num)
            return a->num < b->num ? -1 : 1;
        if (a->u != b->u)
            return a->u < b->u ? -1 : 1;
        return strcmp(a->str ? a->str : "", b->str ? b->str : "");
    }
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* The first repeat of keys[0..n) in array order, as a pairwise scan would report it: the
 * smallest position *i whose value also occurs earlier, and the first position *j of that
 * value. Returns false if the values are distinct. Sorts keys: O(n log n) instead of the
 * O(n^2) of comparing every pair (200000 seeds took 12 s). Numbers must not be NaN. */
static bool first_duplicate(DupKey *keys, int n, int *i, int *j)
{
    bool found = false;
    if (n < 2)
        return false;
    qsort(keys, (size_t)n, sizeof *keys, dupkey_cmp);
    for (int k = 0, end; k < n; k = end) {
        for (end = k + 1; end < n && dupkey_same(&keys[k], &keys[end]); end++)
            ;
        /* a run of equal values, by position: the first occurrence, then the first repeat */
        if (end - k >= 2 && (!found || keys[k + 1].pos < *i)) {
            *i = keys[k + 1].pos;
            *j = keys[k].pos;
            found = true;
        }
    }
    return found;
}

/* A non-empty array of distinct numbers in r, into a new array *out (owned by the caller
 * from the moment it is allocated, so that it is freed on errors too). */
static int read_num_axis(const Ctx *c, const cJSON *v, const char *path, const Range *r,
                         const char *what, double **out, int *n)
{
    char ipath[SPEC_PATH_LEN];
    if (read_array(c, v, path, what, n))
        return -1;
    *out = xmalloc((size_t)*n * sizeof **out);
    DupKey *keys = xcalloc((size_t)*n, sizeof *keys);
    int i = 0, rc = 0, dup, first;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        path_index(ipath, path, i);
        if ((rc = read_num(c, e, ipath, r, &(*out)[i])) != 0)
            break;
        keys[i] = (DupKey){.num = (*out)[i], .pos = i};
    }
    /* values 0..i-1 are good; a repeat among them comes before a bad value i */
    if (first_duplicate(keys, i, &dup, &first)) {
        char g[32];
        path_index(ipath, path, dup);
        fmt_double((*out)[dup], g, sizeof g);
        rc = fail_at(c, ipath, "duplicate value %s (also %s[%d])", g, path, first);
    }
    free(keys);
    return rc;
}

/* ---- data ---------------------------------------------------------------------------- */

static int parse_data(const Ctx *c, const cJSON *v, DataConfig *d)
{
    const char *path = "data";
    memset(d, 0, sizeof *d);
    d->kind = DATA_IDX;
    snprintf(d->path, sizeof d->path, "%s", SPEC_DEFAULT_DATA);
    d->norm = NORM_STANDARDIZE;
    if (!v)
        return 0;
    if (expect_object(c, v, path))
        return -1;
    int kind = DATA_IDX;
    if (opt_enum(c, v, path, "source", SOURCE_NAMES, &kind))
        return -1;
    d->kind = (DataKind)kind;
    if (d->kind == DATA_IDX) {
        if (check_keys(c, v, path, IDX_KEYS, " for source \"idx\""))
            return -1;
        const cJSON *p = field(v, "path");
        if (p) {
            char g[80];
            if (!cJSON_IsString(p) || !p->valuestring[0])
                return fail_at(c, "data.path", "expected a non-empty string, got %s",
                               got(p, g, sizeof g));
            if (strlen(p->valuestring) >= DATA_PATH_MAX)
                return fail_at(c, "data.path", "path is %zu bytes long, expected fewer than %d",
                               strlen(p->valuestring), DATA_PATH_MAX);
            memcpy(d->path, p->valuestring, strlen(p->valuestring) + 1);
        }
        int norm = NORM_STANDARDIZE;
        if (opt_int(c, v, path, "train_subset", 0, INT_MAX, &d->train_subset) ||
            opt_int(c, v, path, "test_subset", 0, INT_MAX, &d->test_subset) ||
            opt_enum(c, v, path, "normalization", NORM_NAMES, &norm))
            return -1;
        d->norm = (Normalization)norm;
        return 0;
    }
    /* synthetic: the values are already roughly standardised, no normalization */
    d->path[0] = '\0';
    d->norm = NORM_NONE;
    d->noise = 1.0;
    d->clusters = 1;
    if (check_keys(c, v, path, SYN_KEYS, " for source \"synthetic\""))
        return -1;
    const cJSON *tmp;
    if (require(c, v, path, "n_train", &tmp) || require(c, v, path, "n_test", &tmp) ||
        require(c, v, path, "features", &tmp) || require(c, v, path, "classes", &tmp))
        return -1;
    if (opt_int(c, v, path, "n_train", 1, SPEC_MAX_SAMPLES, &d->n_train) ||
        opt_int(c, v, path, "n_test", 1, SPEC_MAX_SAMPLES, &d->n_test) ||
        opt_int(c, v, path, "features", 1, SPEC_MAX_WIDTH, &d->features) ||
        opt_int(c, v, path, "classes", 2, 255, &d->classes) ||
        opt_int(c, v, path, "clusters_per_class", 1, 1024, &d->clusters) ||
        opt_num(c, v, path, "noise", &RANGE_POSITIVE, &d->noise))
        return -1;
    const cJSON *s = field(v, "seed");
    if (s) {
        int64_t seed;
        if (read_int(c, s, "data.seed", 0, (int64_t)SPEC_SEED_LIMIT - 1,
                     "a non-negative integer < 2^53", &seed))
            return -1;
        d->seed = (uint64_t)seed;
    }
    return 0;
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
    if (read_array(c, arr, path, "epochs or fractions of training", &n))
        return -1;
    if (n > TRAIN_MAX_MILESTONES)
        return fail_at(c, path, "expected at most %d %s, got %d", TRAIN_MAX_MILESTONES, what, n);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        path_index(ipath, path, i);
        double x = cJSON_IsNumber(e) ? e->valuedouble : (double)NAN;
        bool is_epoch = isfinite(x) && x == floor(x) && x >= 1 && x <= SPEC_MAX_EPOCHS;
        bool is_fraction = isfinite(x) && x > 0 && x < 1;
        if (!is_epoch && !is_fraction)
            return fail_at(c, ipath,
                           "expected an epoch (integer >= 1) or a fraction of training in "
                           "(0, 1), got %s", got(e, g, sizeof g));
        if (i > 0 && is_fraction != *fraction)
            return fail_at(c, ipath,
                           "mixes epochs and fractions: %s must be all integers (epochs) or "
                           "all numbers in (0, 1) (fractions of training)", what);
        *fraction = is_fraction;
        out[i] = x;
    }
    *n_out = n;
    return 0;
}

/* A schedule object replaces the whole schedule (type, milestones, gamma). */
static int parse_schedule(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d)
{
    char kpath[SPEC_PATH_LEN];
    const cJSON *type, *ms;
    int kind;
    if (expect_object(c, v, path) || check_keys(c, v, path, SCHED_KEYS, NULL) ||
        require(c, v, path, "type", &type))
        return -1;
    path_key(kpath, path, "type");
    if (read_enum(c, type, kpath, SCHED_NAMES, &kind))
        return -1;
    d->t.schedule = (ScheduleKind)kind;
    d->t.gamma = 0.1;
    d->n_ms = 0;
    d->ms_fraction = false;
    d->ms_inherited = false;
    if (d->t.schedule != SCHED_MULTISTEP) {
        const char *extra = field(v, "milestones") ? "milestones"
                            : field(v, "gamma")    ? "gamma"
                                                   : NULL;
        if (extra) {
            path_key(kpath, path, extra);
            return fail_at(c, kpath, "only allowed with type \"multistep\"");
        }
        return 0;
    }
    if (opt_num(c, v, path, "gamma", &(Range){0, 1, true, false}, &d->t.gamma) ||
        require(c, v, path, "milestones", &ms))
        return -1;
    path_key(kpath, path, "milestones");
    return read_epoch_list(c, ms, kpath, "milestones", d->ms, &d->n_ms, &d->ms_fraction);
}

/* "rank_projection": replaces the whole projection, like a schedule. */
static int parse_rank(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d)
{
    char kpath[SPEC_PATH_LEN];
    const cJSON *mode, *ep;
    int m;
    if (expect_object(c, v, path) || check_keys(c, v, path, RANK_KEYS, NULL) ||
        require(c, v, path, "mode", &mode))
        return -1;
    path_key(kpath, path, "mode");
    if (read_enum(c, mode, kpath, RANK_NAMES, &m))
        return -1;
    d->t.rank_mode = (RankMode)m;
    d->t.rank_relative = true;
    d->t.rank_threshold = 0;
    d->n_rp = 0;
    if (m == RANK_OFF) {
        const char *extra = field(v, "threshold") ? "threshold"
                            : field(v, "relative") ? "relative"
                            : field(v, "epochs")   ? "epochs"
                                                   : NULL;
        if (extra) {
            path_key(kpath, path, extra);
            return fail_at(c, kpath, "not allowed with mode \"off\"");
        }
        return 0;
    }
    const cJSON *thr;
    if (require(c, v, path, "threshold", &thr))
        return -1;
    path_key(kpath, path, "threshold");
    if (read_num(c, thr, kpath, &RANGE_POSITIVE, &d->t.rank_threshold) ||
        opt_bool(c, v, path, "relative", &d->t.rank_relative) ||
        require(c, v, path, "epochs", &ep))
        return -1;
    path_key(kpath, path, "epochs");
    return read_epoch_list(c, ep, kpath, "epochs", d->rp, &d->n_rp, &d->rp_fraction);
}

/* Applies the members of a train object to d (the base settings, or a condition's
 * overrides on a copy of them). */
static int parse_train(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d)
{
    if (expect_object(c, v, path) || check_keys(c, v, path, TRAIN_KEYS, NULL))
        return -1;
    if (opt_int(c, v, path, "epochs", 0, SPEC_MAX_EPOCHS, &d->t.epochs) ||
        opt_int(c, v, path, "batch_size", 1, SPEC_MAX_BATCH, &d->t.batch_size) ||
        opt_num(c, v, path, "lr", &RANGE_POSITIVE, &d->t.lr) ||
        opt_num(c, v, path, "momentum", &(Range){0, 1, false, true}, &d->t.momentum) ||
        opt_bool(c, v, path, "nesterov", &d->t.nesterov) ||
        opt_bool(c, v, path, "shuffle", &d->t.shuffle) ||
        opt_bool(c, v, path, "drop_last", &d->t.drop_last) ||
        opt_num(c, v, path, "clip_value", &RANGE_NONNEG, &d->t.clip_value))
        return -1;
    char kpath[SPEC_PATH_LEN];
    const cJSON *s = field(v, "schedule"), *r = field(v, "rank_projection");
    path_key(kpath, path, "schedule");
    if (s && parse_schedule(c, s, kpath, d))
        return -1;
    path_key(kpath, path, "rank_projection");
    if (r && parse_rank(c, r, kpath, d))
        return -1;
    const cJSON *a = field(v, "adversarial");
    if (!a)
        return 0;
    /* replaces the whole setting; {"eps": 0} turns it off */
    path_key(kpath, path, "adversarial");
    const cJSON *eps;
    d->t.adv_step_ratio = 0.25;
    d->t.adv_steps = 7;
    if (expect_object(c, a, kpath) || check_keys(c, a, kpath, ADV_KEYS, NULL) ||
        require(c, a, kpath, "eps", &eps))
        return -1;
    char epath[SPEC_PATH_LEN];
    path_key(epath, kpath, "eps");
    return read_num(c, eps, epath, &(Range){0, 1, false, false}, &d->t.adv_eps) ||
           opt_num(c, a, kpath, "step_ratio", &RANGE_POSITIVE, &d->t.adv_step_ratio) ||
           opt_int(c, a, kpath, "steps", 1, 10000, &d->t.adv_steps)
               ? -1
               : 0;
}

/* Resolves an epoch list (epochs, or fractions f -> floor(f * epochs + 0.5)) to strictly
 * increasing epochs in [1, epochs). */
static int resolve_epochs(const Ctx *c, const char *path, const double *v, int n, bool fraction,
                          int epochs, const char *what, const char *note, int *out)
{
    char ipath[SPEC_PATH_LEN];
    for (int i = 0; i < n; i++) {
        path_index(ipath, path, i);
        char g[32];
        fmt_double(v[i], g, sizeof g);
        int e = fraction ? (int)floor(v[i] * epochs + 0.5) : (int)v[i];
        if (e < 1 || e >= epochs) {
            if (fraction)
                return fail_at(c, ipath,
                               "fraction %s of %d epochs resolves to epoch %d, expected an epoch "
                               "in [1, %d)%s", g, epochs, e, epochs, note);
            return fail_at(c, ipath, "epoch %d is outside [1, %d) for %d epochs%s", e, epochs,
                           epochs, note);
        }
        if (i > 0 && e <= out[i - 1]) {
            char from[96] = "";
            if (fraction)
                snprintf(from, sizeof from, " (fraction %s of %d epochs)", g, epochs);
            return fail_at(c, ipath,
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
        path_key(kpath, path, "nesterov");
        return fail_at(c, kpath, "nesterov requires momentum > 0 (as in PyTorch), got momentum 0");
    }
    out->n_milestones = 0;
    if (d->t.schedule == SCHED_MULTISTEP) {
        path_key(kpath, path, "schedule.milestones");
        const char *note = d->ms_inherited ? " (milestones inherited from train.schedule)" : "";
        if (resolve_epochs(c, kpath, d->ms, d->n_ms, d->ms_fraction, d->t.epochs, "milestones",
                           note, out->milestones))
            return -1;
        out->n_milestones = d->n_ms;
    }
    out->n_rank_epochs = 0;
    if (d->t.rank_mode != RANK_OFF) {
        path_key(kpath, path, "rank_projection.epochs");
        if (resolve_epochs(c, kpath, d->rp, d->n_rp, d->rp_fraction, d->t.epochs,
                           "rank projection epochs", "", out->rank_epochs))
            return -1;
        out->n_rank_epochs = d->n_rp;
    }
    return 0;
}

/* ---- architectures ------------------------------------------------------------------ */

static int parse_init(const Ctx *c, const cJSON *v, const char *path, NetConfig *net)
{
    char kpath[SPEC_PATH_LEN];
    int w = WINIT_TORCH, b = BINIT_TORCH;
    if (expect_object(c, v, path) || check_keys(c, v, path, INIT_KEYS, NULL) ||
        opt_enum(c, v, path, "weights", WINIT_NAMES, &w) ||
        opt_enum(c, v, path, "bias", BINIT_NAMES, &b))
        return -1;
    net->w_init = (WeightInit)w;
    net->b_init = (BiasInit)b;
    const cJSON *wv = field(v, "weights_value"), *bv = field(v, "bias_value");
    if (w == WINIT_CONSTANT) {
        if (require(c, v, path, "weights_value", &wv))
            return -1;
        path_key(kpath, path, "weights_value");
        if (read_num(c, wv, kpath, &RANGE_ANY, &net->w_value))
            return -1;
    } else if (wv) {
        path_key(kpath, path, "weights_value");
        return fail_at(c, kpath, "only allowed with weights \"constant\"");
    }
    if (b == BINIT_CONSTANT || b == BINIT_UNIFORM) {
        if (require(c, v, path, "bias_value", &bv))
            return -1;
        path_key(kpath, path, "bias_value");
        if (read_num(c, bv, kpath, b == BINIT_UNIFORM ? &RANGE_POSITIVE : &RANGE_ANY,
                     &net->b_value))
            return -1;
    } else if (bv) {
        path_key(kpath, path, "bias_value");
        return fail_at(c, kpath, "only allowed with bias \"constant\" or \"uniform\"");
    }
    return 0;
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
        return fail_at(c, path, "expected the name of an earlier layer or \"input\", got %s",
                       got(v, g, sizeof g));
    if (strcmp(v->valuestring, "input") == 0)
        return 0;
    for (int j = 0; j < n; j++)
        if (strcmp(names[j], v->valuestring) == 0) {
            if (j >= self)
                return fail_at(c, path, "names layers[%d], which is not before this layer: a "
                               "layer reads only the net's input and earlier layers", j);
            return j + 1;
        }
    return fail_at(c, path, "no layer is named %s", got(v, g, sizeof g));
}

/* "layers": the op list of net. Layer k writes slot k + 1 and reads, unless it says
 * otherwise ("input" for one input, "inputs" for add), the previous layer's output (the
 * net's input for the first). Shapes are checked once the data's size is known
 * (spec_check_nets). */
static int parse_layers(const Ctx *c, const cJSON *v, const char *path, NetConfig *net)
{
    char ipath[SPEC_PATH_LEN], kpath[SPEC_PATH_LEN], g[80];
    int n;
    if (read_array(c, v, path, "layer objects", &n))
        return -1;
    if (n > NN_MAX_OPS)
        return fail_at(c, path, "expected at most %d layers, got %d", NN_MAX_OPS, n);
    const char *kinds[OP_N_KINDS + 1];
    for (int k = 0; k < OP_N_KINDS; k++)
        kinds[k] = OP_KINDS[k]->name;
    kinds[OP_N_KINDS] = NULL;
    char(*names)[SPEC_NAME_MAX] = xcalloc((size_t)n, sizeof *names);
    int k = 0, rc = 0;
    /* the names first, so that a reference to a later layer is told apart */
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, k++) {
        path_index(ipath, path, k);
        const cJSON *jn = cJSON_IsObject(e) ? field(e, "name") : NULL;
        path_key(kpath, ipath, "name");
        if (!jn)
            continue;
        if ((rc = read_name(c, jn, kpath, SPEC_NAME_MAX - 1, names[k])) != 0)
            break;
        if (strcmp(names[k], "input") == 0)
            rc = fail_at(c, kpath, "\"input\" names the net's input; choose another name");
        for (int j = 0; j < k && rc == 0; j++)
            if (strcmp(names[j], names[k]) == 0)
                rc = fail_at(c, kpath, "duplicate layer name \"%s\" (also %s[%d])", names[k],
                             path, j);
    }
    k = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, k++) {
        path_index(ipath, path, k);
        const cJSON *jt;
        int kind;
        if ((rc = expect_object(c, e, ipath)) != 0 || (rc = require(c, e, ipath, "type", &jt)) != 0)
            break;
        path_key(kpath, ipath, "type");
        if ((rc = read_enum(c, jt, kpath, kinds, &kind)) != 0)
            break;
        const OpKindDef *def = OP_KINDS[kind];
        const char *const *keys = def->n_inputs > 1 ? LAYER_ADD_KEYS
                                  : kind == OP_DENSE ? LAYER_DENSE_KEYS
                                                     : LAYER_KEYS;
        char qual[64];
        snprintf(qual, sizeof qual, " for a %s layer", def->name);
        if ((rc = check_keys(c, e, ipath, keys, qual)) != 0)
            break;
        OpDesc *op = &net->ops[k];
        *op = (OpDesc){(OpKind)kind, {k, -1}, k + 1, 0};
        if (def->n_inputs > 1) {
            const cJSON *ji;
            if ((rc = require(c, e, ipath, "inputs", &ji)) != 0)
                break;
            path_key(kpath, ipath, "inputs");
            if (!cJSON_IsArray(ji) || cJSON_GetArraySize(ji) != def->n_inputs) {
                rc = fail_at(c, kpath, "expected an array of %d layer names, got %s",
                             def->n_inputs, got(ji, g, sizeof g));
                break;
            }
            int j = 0;
            for (const cJSON *r = ji->child; r && rc == 0; r = r->next, j++) {
                char rpath[SPEC_PATH_LEN];
                path_index(rpath, kpath, j);
                int slot = layer_ref(c, r, rpath, names, n, k);
                rc = slot < 0 ? -1 : 0;
                op->in[j] = slot;
            }
        } else if (field(e, "input")) {
            path_key(kpath, ipath, "input");
            op->in[0] = layer_ref(c, field(e, "input"), kpath, names, n, k);
            rc = op->in[0] < 0 ? -1 : 0;
        }
        if (rc == 0 && kind == OP_DENSE) {
            const cJSON *jo;
            int64_t out;
            path_key(kpath, ipath, "out");
            if ((rc = require(c, e, ipath, "out", &jo)) == 0 &&
                (rc = read_int(c, jo, kpath, 1, SPEC_MAX_WIDTH, NULL, &out)) == 0)
                op->units = (int)out;
        }
    }
    free(names);
    net->n_ops = n;
    return rc;
}

/* One entry of "architectures": appends one ArchSpec, or one per width for a template. */
static int parse_arch(const Ctx *c, const cJSON *v, int index, Spec *s, ArchList *list)
{
    char path[SPEC_PATH_LEN], kpath[SPEC_PATH_LEN], ipath[SPEC_PATH_LEN], g[80];
    char name[SPEC_NAME_MAX], family[SPEC_NAME_MAX];
    const cJSON *jname, *jhidden;
    path_index(path, "architectures", index);
    if (expect_object(c, v, path))
        return -1;
    const cJSON *jlayers = field(v, "layers");
    if (jlayers && field(v, "hidden")) {
        path_key(kpath, path, "layers");
        return fail_at(c, kpath, "give either \"hidden\" (an MLP) or \"layers\" (an op list), "
                       "not both");
    }
    if (jlayers) { /* an explicit op list */
        ArchSpec a;
        memset(&a, 0, sizeof a);
        if (check_keys(c, v, path, LAYERS_ARCH_KEYS, " with \"layers\"") ||
            require(c, v, path, "name", &jname))
            return -1;
        path_key(kpath, path, "name");
        if (read_name(c, jname, kpath, SPEC_ARCH_NAME_MAX, a.name))
            return -1;
        const cJSON *init = field(v, "init");
        path_key(kpath, path, "init");
        if (init && parse_init(c, init, kpath, &a.net))
            return -1;
        path_key(kpath, path, "layers");
        if (parse_layers(c, jlayers, kpath, &a.net))
            return -1;
        snprintf(a.family, sizeof a.family, "%s", a.name);
        a.source = index;
        *arch_push(s, index, list) = a;
        return 0;
    }
    if (check_keys(c, v, path, ARCH_KEYS, NULL) || require(c, v, path, "name", &jname) ||
        require(c, v, path, "hidden", &jhidden))
        return -1;

    NetConfig net;
    memset(&net, 0, sizeof net);
    int act = ACT_RELU;
    if (opt_enum(c, v, path, "activation", ACT_NAMES, &act) ||
        opt_bool(c, v, path, "skip", &net.skip) ||
        opt_bool(c, v, path, "batch_norm", &net.batch_norm))
        return -1;
    net.act = (Activation)act;
    const cJSON *init = field(v, "init");
    if (init) {
        path_key(kpath, path, "init");
        if (parse_init(c, init, kpath, &net))
            return -1;
    }

    /* hidden: fixed widths, or templates k*w (mult[i] = k; 0 for a fixed width) */
    int mult[NN_MAX_HIDDEN] = {0};
    bool any_template = false;
    path_key(kpath, path, "hidden");
    if (!cJSON_IsArray(jhidden))
        return fail_at(c, kpath, "expected an array of widths (may be empty), got %s",
                       got(jhidden, g, sizeof g));
    net.n_hidden = cJSON_GetArraySize(jhidden);
    if (net.n_hidden > NN_MAX_HIDDEN)
        return fail_at(c, kpath, "expected at most %d hidden layers, got %d", NN_MAX_HIDDEN,
                       net.n_hidden);
    int i = 0;
    for (const cJSON *e = jhidden->child; e; e = e->next, i++) {
        path_index(ipath, kpath, i);
        if (cJSON_IsString(e)) {
            if (!parse_template(e->valuestring, &mult[i]))
                return fail_at(c, ipath,
                               "expected a width template \"w\" or \"<k>w\" (like \"2w\"), "
                               "got %s", got(e, g, sizeof g));
            any_template = true;
        } else {
            int64_t h;
            if (read_int(c, e, ipath, 1, SPEC_MAX_WIDTH,
                         "a positive integer <= 1048576 or a width template like \"2w\"", &h))
                return -1;
            net.hidden[i] = (int)h;
        }
    }

    /* family and width: the marks of an architecture already expanded from a template */
    const cJSON *jfamily = field(v, "family"), *jwidth = field(v, "width");
    int64_t width = 0;
    if (!jfamily != !jwidth) {
        path_key(kpath, path, jfamily ? "width" : "family");
        return fail_at(c, kpath,
                       "required key is missing: \"family\" and \"width\" go together "
                       "(they mark an architecture expanded from a width template)");
    }
    if (jfamily) {
        path_key(kpath, path, "family");
        if (read_name(c, jfamily, kpath, SPEC_ARCH_NAME_MAX, family))
            return -1;
        path_key(kpath, path, "width");
        if (read_int(c, jwidth, kpath, 1, SPEC_MAX_WIDTH, NULL, &width))
            return -1;
        if (any_template)
            return fail_at(c, path,
                           "an expanded architecture (with \"family\" and \"width\") must "
                           "list final hidden widths, not templates");
        arch_name(name, family, (int)width);
        path_key(kpath, path, "name");
        if (!cJSON_IsString(jname) || strcmp(jname->valuestring, name) != 0)
            return fail_at(c, kpath, "expected \"%s\" for family \"%s\" and width %d, got %s",
                           name, family, (int)width, got(jname, g, sizeof g));
    } else {
        path_key(kpath, path, "name");
        if (read_name(c, jname, kpath, SPEC_ARCH_NAME_MAX, name))
            return -1;
        snprintf(family, sizeof family, "%s", name);
    }

    const cJSON *jwidths = field(v, "widths");
    path_key(kpath, path, "widths");
    if (!any_template) {
        if (jwidths)
            return fail_at(c, kpath,
                           "only allowed when hidden uses width templates (\"w\", \"2w\", ...)");
        ArchSpec *a = arch_push(s, index, list);
        memcpy(a->name, name, sizeof a->name);
        memcpy(a->family, family, sizeof a->family);
        a->width = (int)width;
        a->net = net;
        return 0;
    }
    if (!jwidths)
        return fail_at(c, kpath,
                       "required key is missing: hidden uses width templates, so \"widths\" "
                       "must list the values of w");
    int n_widths;
    if (read_array(c, jwidths, kpath, "positive integers", &n_widths))
        return -1;
    const int first_arch = s->n_arch;
    DupKey *keys = xcalloc((size_t)n_widths, sizeof *keys);
    int j = 0, n_good = n_widths, rc = 0;
    for (const cJSON *e = jwidths->child; e && rc == 0; e = e->next, j++) {
        path_index(ipath, kpath, j);
        int64_t w;
        if ((rc = read_int(c, e, ipath, 1, SPEC_MAX_WIDTH, NULL, &w)) != 0) {
            n_good = j;
            break;
        }
        keys[j] = (DupKey){.u = (uint64_t)w, .pos = j};
        ArchSpec *a = arch_push(s, index, list);
        arch_name(a->name, name, (int)w);
        memcpy(a->family, name, sizeof a->family);
        a->width = (int)w;
        a->net = net;
        for (int l = 0; l < net.n_hidden && rc == 0; l++) {
            int64_t h = (int64_t)mult[l] * w;
            if (h > SPEC_MAX_WIDTH) {
                rc = fail_at(c, ipath,
                             "width %d makes %s.hidden[%d] (\"%dw\") %" PRId64
                             ", expected at most %d", (int)w, path, l, mult[l], h,
                             SPEC_MAX_WIDTH);
                n_good = j + 1; /* a repeat of width j is reported before its size */
            } else if (mult[l]) {
                a->net.hidden[l] = (int)h;
            }
        }
    }
    int dup, orig;
    if (first_duplicate(keys, n_good, &dup, &orig)) {
        path_index(ipath, kpath, dup);
        rc = fail_at(c, ipath, "duplicate value %d (also %s[%d])", s->arch[first_arch + dup].width,
                     kpath, orig);
    }
    free(keys);
    return rc;
}

static int parse_architectures(const Ctx *c, const cJSON *v, Spec *s)
{
    int n, rc = -1, i = 0;
    ArchList list = {NULL, 0};
    DupKey *keys = NULL;
    if (read_array(c, v, "architectures", "architecture objects", &n))
        goto fail;
    for (const cJSON *e = v->child; e; e = e->next, i++)
        if (parse_arch(c, e, i, s, &list))
            goto fail;
    keys = xcalloc((size_t)s->n_arch, sizeof *keys);
    for (int k = 0; k < s->n_arch; k++)
        keys[k] = (DupKey){.str = s->arch[k].name, .pos = k};
    int b, a;
    if (first_duplicate(keys, s->n_arch, &b, &a)) {
        char path[SPEC_PATH_LEN];
        path_index(path, "architectures", list.srcs[b]);
        fail_at(c, path, "duplicate architecture name \"%s\" (also architectures[%d])",
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
    return fail_at(c, "grid",
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
    const cJSON *archs = field(root, "architectures"), *grid = field(root, "grid");
    int64_t dims[5] = {0, 1, 1, 1, 1};
    for (const cJSON *e = cJSON_IsArray(archs) ? archs->child : NULL; e; e = e->next) {
        const cJSON *hidden = cJSON_IsObject(e) ? field(e, "hidden") : NULL;
        bool template_ = false;
        for (const cJSON *h = cJSON_IsArray(hidden) ? hidden->child : NULL; h; h = h->next)
            template_ = template_ || cJSON_IsString(h);
        dims[0] += template_ ? axis_length(field(e, "widths")) : 1; /* < 2^31 nodes */
    }
    if (dims[0] == 0)
        dims[0] = 1;
    if (cJSON_IsObject(grid)) {
        const cJSON *nb = field(grid, "norm_bias");
        dims[1] = axis_length(field(grid, "conditions"));
        dims[2] = axis_length(cJSON_IsObject(nb) ? field(nb, "targets") : nb);
        dims[3] = axis_length(field(grid, "weight_decay"));
        dims[4] = axis_length(field(grid, "seed"));
    }
    if (dims[0] > SPEC_MAX_ARCHS)
        return fail_at(c, "architectures",
                       "%" PRId64 " architectures after template expansion, more than the "
                       "limit of %d", dims[0], SPEC_MAX_ARCHS);
    if (dims[1] > SPEC_MAX_CONDS)
        return fail_at(c, "grid.conditions", "%" PRId64 " conditions, more than the limit of %d",
                       dims[1], SPEC_MAX_CONDS);
    return check_points(c, dims);
}

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
    if (read_array(c, v, path, "condition objects", &n))
        return -1;
    s->cond = xcalloc((size_t)n, sizeof *s->cond);
    /* names are checked for repeats after the loop; a condition's own errors come after
     * the repeat of its name, as in a pairwise scan */
    DupKey *keys = xcalloc((size_t)n, sizeof *keys);
    int i = 0, named = 0, rc = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, i++) {
        CondSpec *cs = &s->cond[i];
        const cJSON *jname;
        path_index(cpath, path, i);
        path_key(kpath, cpath, "name");
        if (expect_object(c, e, cpath) || check_keys(c, e, cpath, COND_KEYS, NULL) ||
            require(c, e, cpath, "name", &jname) ||
            read_name(c, jname, kpath, SPEC_NAME_MAX - 1, cs->name)) {
            rc = -1;
            break;
        }
        s->n_cond = named = i + 1;
        keys[i] = (DupKey){.str = cs->name, .pos = i};
        TrainDraft d = *base;
        d.ms_inherited = d.t.schedule == SCHED_MULTISTEP;
        const cJSON *jt = field(e, "train");
        path_key(kpath, cpath, "train");
        rc = (jt && parse_train(c, jt, kpath, &d)) || finish_train(c, &d, kpath, &cs->train)
                 ? -1
                 : 0;
    }
    int dup, first;
    if (first_duplicate(keys, named, &dup, &first)) {
        path_index(cpath, path, dup);
        path_key(kpath, cpath, "name");
        rc = fail_at(c, kpath, "duplicate condition name \"%s\" (also %s[%d])",
                     s->cond[dup].name, path, first);
    }
    free(keys);
    return rc;
}

static int parse_grid(const Ctx *c, const cJSON *v, const TrainDraft *base, Spec *s)
{
    const char *path = "grid";
    const cJSON *seeds, *nb = NULL, *wd;
    char kpath[SPEC_PATH_LEN], ipath[SPEC_PATH_LEN];
    if (expect_object(c, v, path) || check_keys(c, v, path, GRID_KEYS, NULL))
        return -1;
    if (parse_conditions(c, field(v, "conditions"), base, s))
        return -1;

    wd = field(v, "weight_decay");
    if (wd) {
        if (read_num_axis(c, wd, "grid.weight_decay", &RANGE_NONNEG, "numbers >= 0",
                          &s->weight_decay, &s->n_wd))
            return -1;
    } else {
        s->weight_decay = xcalloc(1, sizeof *s->weight_decay);
        s->n_wd = 1;
    }

    nb = field(v, "norm_bias");
    s->norm_bias_relative = false;
    if (nb && cJSON_IsObject(nb)) {
        const cJSON *targets;
        if (check_keys(c, nb, "grid.norm_bias", NB_KEYS, NULL) ||
            require(c, nb, "grid.norm_bias", "targets", &targets) ||
            opt_bool(c, nb, "grid.norm_bias", "relative", &s->norm_bias_relative) ||
            read_num_axis(c, targets, "grid.norm_bias.targets", &RANGE_NONNEG,
                          "numbers >= 0", &s->norm_bias, &s->n_nb))
            return -1;
    } else if (nb) {
        char g[80];
        if (!cJSON_IsArray(nb))
            return fail_at(c, "grid.norm_bias",
                           "expected an array of targets or an object {\"targets\": [...], "
                           "\"relative\": true|false}, got %s", got(nb, g, sizeof g));
        if (read_num_axis(c, nb, "grid.norm_bias", &RANGE_NONNEG, "numbers >= 0", &s->norm_bias,
                          &s->n_nb))
            return -1;
    } else {
        s->norm_bias = xcalloc(1, sizeof *s->norm_bias);
        s->n_nb = 1;
    }

    if (require(c, v, path, "seed", &seeds))
        return -1;
    path_key(kpath, path, "seed");
    int n;
    if (read_array(c, seeds, kpath, "non-negative integers", &n))
        return -1;
    s->seed = xmalloc((size_t)n * sizeof *s->seed);
    s->n_seed = n;
    DupKey *keys = xcalloc((size_t)n, sizeof *keys);
    int i = 0, rc = 0, dup, first;
    for (const cJSON *e = seeds->child; e; e = e->next, i++) {
        int64_t x;
        path_index(ipath, kpath, i);
        if ((rc = read_int(c, e, ipath, 0, (int64_t)SPEC_SEED_LIMIT - 1,
                           "a non-negative integer < 2^53", &x)) != 0)
            break;
        s->seed[i] = (uint64_t)x;
        keys[i] = (DupKey){.u = s->seed[i], .pos = i};
    }
    if (first_duplicate(keys, i, &dup, &first)) { /* seeds 0..i-1 are good */
        path_index(ipath, kpath, dup);
        rc = fail_at(c, ipath, "duplicate value %" PRIu64 " (also %s[%d])", s->seed[dup], kpath,
                     first);
    }
    free(keys);
    if (rc)
        return -1;

    /* can't fail here: check_grid_size counted the same axes from the JSON */
    const int64_t dims[5] = {s->n_arch, s->n_cond, s->n_nb, s->n_wd, s->n_seed};
    return check_points(c, dims);
}

/* ---- canonical JSON ------------------------------------------------------------------ */

typedef struct {
    char *buf;
    size_t len, cap;
} StrBuf;

/* Makes room for n more bytes and the terminating NUL. */
static void sb_reserve(StrBuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 1024;
        b->buf = xrealloc(b->buf, b->cap);
    }
}

static void sb_put(StrBuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(StrBuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_printf(StrBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats straight into the growing buffer: measures first, then writes, so a message
 * of any length fits (differences quote whole JSON values). */
static void sb_printf(StrBuf *b, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) { /* can't happen: the formats here have no wide characters */
        va_end(again);
        fprintf(stderr, "bpsweep: internal error: cannot format \"%s\"\n", fmt);
        abort();
    }
    sb_reserve(b, (size_t)n);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, again);
    va_end(again);
    b->len += (size_t)n;
}

static void sb_num(StrBuf *b, double x)
{
    char tmp[32];
    assert(isfinite(x));
    fmt_double(x, tmp, sizeof tmp);
    sb_puts(b, tmp);
}

static void sb_bool(StrBuf *b, bool x)
{
    sb_puts(b, x ? "true" : "false");
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes
 * (UTF-8 included) as they are. */
static void sb_str(StrBuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            sb_printf(b, "\\u%04x", ch);
        else
            sb_put(b, s, 1);
    }
    sb_puts(b, "\"");
}

static void emit_train(StrBuf *b, const TrainConfig *t)
{
    sb_printf(b, "{\"epochs\":%d,\"batch_size\":%d,\"lr\":", t->epochs, t->batch_size);
    sb_num(b, t->lr);
    sb_puts(b, ",\"momentum\":");
    sb_num(b, t->momentum);
    sb_puts(b, ",\"nesterov\":");
    sb_bool(b, t->nesterov);
    sb_puts(b, ",\"schedule\":{\"type\":");
    sb_str(b, SCHED_NAMES[t->schedule]);
    if (t->schedule == SCHED_MULTISTEP) {
        sb_puts(b, ",\"milestones\":[");
        for (int i = 0; i < t->n_milestones; i++)
            sb_printf(b, "%s%d", i ? "," : "", t->milestones[i]);
        sb_puts(b, "],\"gamma\":");
        sb_num(b, t->gamma);
    }
    sb_puts(b, "},\"shuffle\":");
    sb_bool(b, t->shuffle);
    sb_puts(b, ",\"drop_last\":");
    sb_bool(b, t->drop_last);
    sb_puts(b, ",\"clip_value\":");
    sb_num(b, t->clip_value);
    if (t->rank_mode != RANK_OFF) { /* only when on: older hashes hold */
        sb_puts(b, ",\"rank_projection\":{\"mode\":");
        sb_str(b, RANK_NAMES[t->rank_mode]);
        sb_puts(b, ",\"threshold\":");
        sb_num(b, t->rank_threshold);
        sb_puts(b, ",\"relative\":");
        sb_bool(b, t->rank_relative);
        sb_puts(b, ",\"epochs\":[");
        for (int i = 0; i < t->n_rank_epochs; i++)
            sb_printf(b, "%s%d", i ? "," : "", t->rank_epochs[i]);
        sb_puts(b, "]}");
    }
    if (t->adv_eps > 0) {
        sb_puts(b, ",\"adversarial\":{\"eps\":");
        sb_num(b, t->adv_eps);
        sb_puts(b, ",\"step_ratio\":");
        sb_num(b, t->adv_step_ratio);
        sb_printf(b, ",\"steps\":%d}", t->adv_steps);
    }
    sb_puts(b, "}");
}

static void emit_num_array(StrBuf *b, const double *x, int n)
{
    sb_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            sb_puts(b, ",");
        sb_num(b, x[i]);
    }
    sb_puts(b, "]");
}

/* A reference to slot `slot` after `before`: "input", or the generated name of the
 * layer that writes it. */
static void emit_layer_ref(StrBuf *b, const char *before, int slot)
{
    sb_puts(b, before);
    if (slot == 0)
        sb_puts(b, "\"input\"");
    else
        sb_printf(b, "\"l%d\"", slot - 1);
}

/* The canonical "layers": types, outputs and inputs; an input is written only where it
 * is not the previous layer's output, and a layer is named ("l<k>") only where a later
 * one reads it that way - so the names a spec chose do not change its hash. */
static void emit_layers(StrBuf *b, const NetConfig *n)
{
    bool *named = xcalloc((size_t)n->n_ops + 1, sizeof *named);
    for (int k = 0; k < n->n_ops; k++)
        for (int j = 0; j < OP_KINDS[n->ops[k].kind]->n_inputs; j++)
            if (OP_KINDS[n->ops[k].kind]->n_inputs > 1 || n->ops[k].in[j] != k)
                named[n->ops[k].in[j]] = true;
    sb_puts(b, ",\"layers\":[");
    for (int k = 0; k < n->n_ops; k++) {
        const OpDesc *op = &n->ops[k];
        const OpKindDef *def = OP_KINDS[op->kind];
        sb_puts(b, k ? ",{\"type\":" : "{\"type\":");
        sb_str(b, def->name);
        if (named[k + 1])
            sb_printf(b, ",\"name\":\"l%d\"", k);
        if (def->n_inputs > 1) {
            sb_puts(b, ",\"inputs\":[");
            for (int j = 0; j < def->n_inputs; j++)
                emit_layer_ref(b, j ? "," : "", op->in[j]);
            sb_puts(b, "]");
        } else if (op->in[0] != k) {
            emit_layer_ref(b, ",\"input\":", op->in[0]);
        }
        if (op->kind == OP_DENSE)
            sb_printf(b, ",\"out\":%d", op->units);
        sb_puts(b, "}");
    }
    sb_puts(b, "]");
    free(named);
}

static char *emit_canonical(const Spec *s, const TrainConfig *base)
{
    StrBuf b = {0};
    const DataConfig *d = &s->data;
    sb_printf(&b, "{\"schema_version\":%d,\"name\":", SPEC_SCHEMA_VERSION);
    sb_str(&b, s->name);
    sb_puts(&b, ",\"data\":{\"source\":");
    sb_str(&b, SOURCE_NAMES[d->kind]);
    if (d->kind == DATA_IDX) {
        sb_puts(&b, ",\"path\":");
        sb_str(&b, d->path);
        sb_printf(&b, ",\"train_subset\":%d,\"test_subset\":%d,\"normalization\":",
                  d->train_subset, d->test_subset);
        sb_str(&b, NORM_NAMES[d->norm]);
    } else {
        sb_printf(&b, ",\"n_train\":%d,\"n_test\":%d,\"features\":%d,\"classes\":%d,",
                  d->n_train, d->n_test, d->features, d->classes);
        if (d->clusters > 1) /* written only when used: older hashes hold */
            sb_printf(&b, "\"clusters_per_class\":%d,", d->clusters);
        sb_puts(&b, "\"noise\":");
        sb_num(&b, d->noise);
        sb_printf(&b, ",\"seed\":%" PRIu64, d->seed);
    }
    sb_puts(&b, "},\"architectures\":[");
    for (int i = 0; i < s->n_arch; i++) {
        const ArchSpec *a = &s->arch[i];
        const NetConfig *n = &a->net;
        sb_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        sb_str(&b, a->name);
        if (a->width > 0) {
            sb_puts(&b, ",\"family\":");
            sb_str(&b, a->family);
            sb_printf(&b, ",\"width\":%d", a->width);
        }
        if (n->n_ops > 0) {
            emit_layers(&b, n);
        } else {
            sb_puts(&b, ",\"hidden\":[");
            for (int l = 0; l < n->n_hidden; l++)
                sb_printf(&b, "%s%d", l ? "," : "", n->hidden[l]);
            sb_puts(&b, "],\"activation\":");
            sb_str(&b, ACT_NAMES[n->act]);
            sb_puts(&b, ",\"skip\":");
            sb_bool(&b, n->skip);
            sb_puts(&b, ",\"batch_norm\":");
            sb_bool(&b, n->batch_norm);
        }
        sb_puts(&b, ",\"init\":{\"weights\":");
        sb_str(&b, WINIT_NAMES[n->w_init]);
        if (n->w_init == WINIT_CONSTANT) {
            sb_puts(&b, ",\"weights_value\":");
            sb_num(&b, n->w_value);
        }
        sb_puts(&b, ",\"bias\":");
        sb_str(&b, BINIT_NAMES[n->b_init]);
        if (n->b_init == BINIT_CONSTANT || n->b_init == BINIT_UNIFORM) {
            sb_puts(&b, ",\"bias_value\":");
            sb_num(&b, n->b_value);
        }
        sb_puts(&b, "}}");
    }
    sb_puts(&b, "],\"grid\":{\"weight_decay\":");
    emit_num_array(&b, s->weight_decay, s->n_wd);
    sb_puts(&b, ",\"seed\":[");
    for (int i = 0; i < s->n_seed; i++)
        sb_printf(&b, "%s%" PRIu64, i ? "," : "", s->seed[i]);
    sb_puts(&b, "],\"norm_bias\":{\"targets\":");
    emit_num_array(&b, s->norm_bias, s->n_nb);
    sb_puts(&b, ",\"relative\":");
    sb_bool(&b, s->norm_bias_relative);
    sb_puts(&b, "},\"conditions\":[");
    for (int i = 0; i < s->n_cond; i++) {
        sb_puts(&b, i ? ",{\"name\":" : "{\"name\":");
        sb_str(&b, s->cond[i].name);
        sb_puts(&b, ",\"train\":");
        emit_train(&b, &s->cond[i].train);
        sb_puts(&b, "}");
    }
    sb_puts(&b, "]},\"train\":");
    emit_train(&b, base);
    sb_puts(&b, ",\"output\":{\"store_weights\":");
    sb_bool(&b, s->store_weights);
    sb_puts(&b, "}");
    if (s->ntk.enabled || s->robust.enabled || s->cert.enabled) { /* older hashes hold */
        sb_puts(&b, ",\"measure\":{");
        const char *sep = "";
        if (s->ntk.enabled) {
            sb_printf(&b, "\"ntk\":{\"samples\":%d,\"pool\":%d", s->ntk.samples, s->ntk.pool);
            if (s->ntk.n_epochs > 0) { /* only when given */
                sb_puts(&b, ",\"epochs\":[");
                for (int i = 0; i < s->ntk.n_epochs; i++)
                    sb_printf(&b, "%s%d", i ? "," : "", s->ntk.epochs[i]);
                sb_puts(&b, "]");
            }
            sb_puts(&b, "}");
            sep = ",";
        }
        if (s->robust.enabled) {
            const RobustSpec *r = &s->robust;
            sb_printf(&b, "%s\"robustness\":{\"eps\":", sep);
            sep = ",";
            emit_num_array(&b, r->eps, r->n_eps);
            sb_printf(&b, ",\"steps\":%d,\"step_ratio\":", r->steps);
            sb_num(&b, r->step_ratio);
            sb_printf(&b, ",\"test_samples\":%d,\"train_samples\":%d}", r->test_samples,
                      r->train_samples);
        }
        if (s->cert.enabled)
            sb_printf(&b, "%s\"certificate\":{\"samples\":%d,\"iterations\":%d}", sep,
                      s->cert.samples, s->cert.iterations);
        sb_puts(&b, "}");
    }
    sb_puts(&b, "}");
    return b.buf;
}

/* Up to SPEC_MAX_EPS distinct radii in (0, 1]. */
static int read_eps_list(const Ctx *c, const cJSON *arr, const char *path, double *eps, int *n)
{
    char ipath[SPEC_PATH_LEN];
    if (read_array(c, arr, path, "radii in (0, 1] (fractions of the data range)", n))
        return -1;
    if (*n > SPEC_MAX_EPS)
        return fail_at(c, path, "expected at most %d radii, got %d", SPEC_MAX_EPS, *n);
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        path_index(ipath, path, i);
        if (read_num(c, e, ipath, &(Range){0, 1, true, false}, &eps[i]))
            return -1;
        for (int j = 0; j < i; j++)
            if (eps[j] == eps[i])
                return fail_at(c, ipath, "duplicate value (also %s[%d])", path, j);
    }
    return 0;
}

static int parse_robustness(const Ctx *c, const cJSON *v, RobustSpec *r)
{
    const char *path = "measure.robustness";
    const cJSON *eps;
    *r = (RobustSpec){.enabled = true, .steps = 20, .step_ratio = 0.25, .test_samples = 1000};
    char kpath[SPEC_PATH_LEN];
    if (expect_object(c, v, path) || check_keys(c, v, path, ROBUST_KEYS, NULL) ||
        require(c, v, path, "eps", &eps))
        return -1;
    path_key(kpath, path, "eps");
    return read_eps_list(c, eps, kpath, r->eps, &r->n_eps) ||
           opt_int(c, v, path, "steps", 1, 10000, &r->steps) ||
           opt_num(c, v, path, "step_ratio", &RANGE_POSITIVE, &r->step_ratio) ||
           opt_int(c, v, path, "test_samples", 0, INT_MAX, &r->test_samples) ||
           opt_int(c, v, path, "train_samples", 0, INT_MAX, &r->train_samples)
               ? -1
               : 0;
}

/* "measure": the instruments run on every point (docs/spec.md#measure). */
static int parse_measure(const Ctx *c, const cJSON *v, Spec *s)
{
    if (expect_object(c, v, "measure") || check_keys(c, v, "measure", MEASURE_KEYS, NULL))
        return -1;
    const cJSON *rob = field(v, "robustness"), *cert = field(v, "certificate");
    if (rob && parse_robustness(c, rob, &s->robust))
        return -1;
    if (cert) {
        s->cert = (CertSpec){true, 0, 100};
        if (expect_object(c, cert, "measure.certificate") ||
            check_keys(c, cert, "measure.certificate", CERT_KEYS, NULL) ||
            opt_int(c, cert, "measure.certificate", "samples", 0, INT_MAX, &s->cert.samples) ||
            opt_int(c, cert, "measure.certificate", "iterations", 0, 100000,
                    &s->cert.iterations))
            return -1;
    }
    const cJSON *ntk = field(v, "ntk");
    if (!ntk)
        return 0;
    s->ntk = (NtkSpec){.enabled = true, .samples = 25, .pool = 128};
    if (expect_object(c, ntk, "measure.ntk") ||
        check_keys(c, ntk, "measure.ntk", NTK_KEYS, NULL) ||
        opt_int(c, ntk, "measure.ntk", "samples", 1, 256, &s->ntk.samples) ||
        opt_int(c, ntk, "measure.ntk", "pool", 1, 1 << 28, &s->ntk.pool))
        return -1;
    const cJSON *ep = field(ntk, "epochs");
    if (ep) {
        char ipath[SPEC_PATH_LEN];
        int n;
        if (read_array(c, ep, "measure.ntk.epochs", "epochs (integers >= 1), increasing", &n))
            return -1;
        if (n > 64)
            return fail_at(c, "measure.ntk.epochs", "expected at most 64 epochs, got %d", n);
        int i = 0;
        for (const cJSON *e = ep->child; e; e = e->next, i++) {
            path_index(ipath, "measure.ntk.epochs", i);
            int64_t ev;
            if (read_int(c, e, ipath, 1, SPEC_MAX_EPOCHS, NULL, &ev))
                return -1;
            if (i > 0 && ev <= s->ntk.epochs[i - 1])
                return fail_at(c, ipath, "epochs must be strictly increasing, but %lld follows %d",
                               (long long)ev, s->ntk.epochs[i - 1]);
            s->ntk.epochs[i] = (int)ev;
        }
        s->ntk.n_epochs = n;
    }
    if (s->ntk.samples > s->ntk.pool)
        return fail_at(c, "measure.ntk.samples", "expected at most pool = %d samples, got %d",
                       s->ntk.pool, s->ntk.samples);
    return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

int spec_check_nets(const Spec *spec, int n_in, int n_out, const char *origin, BpsErr *err)
{
    for (int a = 0; a < spec->n_arch; a++) {
        NetConfig net = spec->arch[a].net;
        if (net.n_ops == 0)
            continue; /* the MLP shorthand fits any data */
        net.n_in = n_in;
        net.n_out = n_out;
        char msg[256];
        int op;
        if (nn_check(&net, msg, sizeof msg, &op) != 0) {
            if (op >= 0)
                return bps_fail(err, "%s: architectures[%d].layers[%d]: %s (for %d input "
                                "features and %d classes)", origin, spec->arch[a].source, op,
                                msg, n_in, n_out);
            return bps_fail(err, "%s: architectures[%d].layers: %s", origin,
                            spec->arch[a].source, msg);
        }
    }
    return 0;
}

int spec_parse(const char *text, const char *origin, Spec **out, BpsErr *err)
{
    Ctx ctx = {origin ? origin : "<spec>", err};
    const Ctx *c = &ctx;
    const char *end = NULL;
    const cJSON *v;
    Spec *s = NULL;
    TrainDraft base;
    TrainConfig base_train;
    int rc = -1;
    assert(text && out);
    *out = NULL;

    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!root) {
        fail_malformed(c, text, end);
        goto fail;
    }
    if (refuse_nul_escapes(c, text))
        goto fail;
    if (!cJSON_IsObject(root)) {
        char g[80];
        bps_fail(err, "%s: expected a JSON object at the top level, got %s", c->origin,
                 got(root, g, sizeof g));
        goto fail;
    }
    s = xcalloc(1, sizeof *s);

    /* the version first: a newer file may well have keys this version does not know */
    s->schema_version = 1;
    if (opt_int(c, root, "", "schema_version", 1, INT_MAX, &s->schema_version))
        goto fail;
    if (s->schema_version > SPEC_SCHEMA_VERSION) {
        fail_at(c, "schema_version", "version %d was written by a newer bpsweep (this one reads "
                "versions up to %d); upgrade bpsweep", s->schema_version, SPEC_SCHEMA_VERSION);
        goto fail;
    }
    if (check_keys(c, root, "", TOP_KEYS, NULL) || check_grid_size(c, root))
        goto fail;

    snprintf(s->name, sizeof s->name, "sweep");
    if ((v = field(root, "name")) && read_name(c, v, "name", SPEC_NAME_MAX - 1, s->name))
        goto fail;
    if (parse_data(c, field(root, "data"), &s->data))
        goto fail;
    train_defaults(&base);
    if ((v = field(root, "train")) && parse_train(c, v, "train", &base))
        goto fail;
    if (finish_train(c, &base, "train", &base_train))
        goto fail;
    if (require(c, root, "", "architectures", &v) || parse_architectures(c, v, s))
        goto fail;
    if ((v = field(root, "grid")) == NULL) {
        bps_fail(err, "%s: grid: required key is missing (it must at least list the seeds, "
                 "e.g. \"grid\": {\"seed\": [0]})", c->origin);
        goto fail;
    }
    if (parse_grid(c, v, &base, s))
        goto fail;
    if ((v = field(root, "output")) &&
        (expect_object(c, v, "output") || check_keys(c, v, "output", OUTPUT_KEYS, NULL) ||
         opt_bool(c, v, "output", "store_weights", &s->store_weights)))
        goto fail;
    if ((v = field(root, "measure")) && parse_measure(c, v, s))
        goto fail;
    /* synthetic data: its size is known, and so is whether every op list fits it */
    if (s->data.kind == DATA_SYNTHETIC &&
        spec_check_nets(s, s->data.features, s->data.classes, c->origin, err) != 0)
        goto fail;

    s->canonical = emit_canonical(s, &base_train);
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
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return bps_fail(err, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
        size_t want = cap - n - 1;
        if (want > (size_t)SPEC_MAX_BYTES + 1 - n)
            want = (size_t)SPEC_MAX_BYTES + 1 - n;
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        if (got == 0 || n > SPEC_MAX_BYTES)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || n > SPEC_MAX_BYTES) {
        free(buf);
        if (bad)
            return bps_fail(err, "%s: read error", path);
        return bps_fail(err, "%s: larger than %d MiB, the limit for a spec file (stopped "
                        "reading there); is it a sweep spec?", path, SPEC_MAX_BYTES >> 20);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
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

/* ---- differences between two specs ----------------------------------------------- */

/* Exact equality of two JSON values. cJSON_Compare takes numbers within a relative
 * DBL_EPSILON as equal, which would call a learning rate changed by one ulp the same
 * sweep. Object members compare in order: canonical forms have a fixed key order. */
static bool json_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b)
        return a == b;
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return false;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((cJSON_IsObject(a) && strcmp(x->string, y->string) != 0) || !json_equal(x, y))
                return false;
        return !x && !y;
    }
    return true; /* true, false, null: the type says it all */
}

/* Writes a JSON value compactly, numbers as in the canonical form (cJSON's printer
 * takes a number that reads back within DBL_EPSILON as exact, so 0.10000000000000002
 * would print as 0.1). */
static void sb_json(StrBuf *b, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        sb_num(b, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        sb_str(b, v->valuestring);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        sb_puts(b, cJSON_IsArray(v) ? "[" : "{");
        for (const cJSON *e = v->child; e; e = e->next) {
            if (e != v->child)
                sb_puts(b, ",");
            if (cJSON_IsObject(v)) {
                sb_str(b, e->string);
                sb_puts(b, ":");
            }
            sb_json(b, e);
        }
        sb_puts(b, cJSON_IsArray(v) ? "]" : "}");
    } else {
        sb_puts(b, cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
    }
}

/* A JSON value as text for a message (caller frees); "(absent)" for NULL. */
static char *json_text(const cJSON *v)
{
    StrBuf b = {0};
    if (v)
        sb_json(&b, v);
    else
        sb_puts(&b, "(absent)");
    return b.buf;
}

/* Appends "path: a -> b" lines for every leaf where two canonical JSON trees differ;
 * stops after `max` lines. Arrays compare element by element (their order is part of
 * the grid). */
static void diff_json(const cJSON *a, const cJSON *b, const char *path, StrBuf *out, int *n,
                      int max)
{
    if (*n >= max)
        return;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (const cJSON *x = a->child; x; x = x->next) {
            char sub[SPEC_PATH_LEN];
            path_key(sub, path, x->string);
            diff_json(x, cJSON_GetObjectItemCaseSensitive(b, x->string), sub, out, n, max);
        }
        for (const cJSON *y = b->child; y; y = y->next)
            if (!cJSON_GetObjectItemCaseSensitive(a, y->string)) {
                char sub[SPEC_PATH_LEN];
                path_key(sub, path, y->string);
                diff_json(NULL, y, sub, out, n, max);
            }
        return;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next, i++) {
            char sub[SPEC_PATH_LEN];
            path_index(sub, path, i);
            diff_json(x, y, sub, out, n, max);
        }
        return;
    }
    if (json_equal(a, b))
        return;
    char *ta = json_text(a), *tb = json_text(b);
    sb_printf(out, "  %s: %.200s -> %.200s\n", *path ? path : "(top level)", ta, tb);
    free(ta);
    free(tb);
    (*n)++;
}

char *spec_diff(const Spec *a, const Spec *b)
{
    cJSON *ja = cJSON_Parse(a->canonical), *jb = cJSON_Parse(b->canonical);
    StrBuf out = {0};
    int n = 0;
    diff_json(ja, jb, "", &out, &n, 20);
    if (n >= 20)
        sb_puts(&out, "  (more differences not shown)\n");
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    if (!out.buf)
        sb_puts(&out, "");
    return out.buf;
}

/* ---- strict extensions -------------------------------------------------------------- */

/* An element of an axis array, found by its name (architectures, conditions) or by its
 * number (axis values). */
typedef struct {
    const char *name; /* NULL for a number */
    double num;
    const cJSON *node;
} Member;

static int member_cmp(const void *pa, const void *pb)
{
    const Member *a = pa, *b = pb;
    if (a->name && b->name)
        return strcmp(a->name, b->name);
    if (!a->name != !b->name)
        return a->name ? 1 : -1;
    return (a->num > b->num) - (a->num < b->num);
}

static Member member_of(const cJSON *e)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
    Member m = {NULL, 0, e};
    if (cJSON_IsString(name))
        m.name = name->valuestring;
    else if (cJSON_IsNumber(e))
        m.num = e->valuedouble;
    return m;
}

/* Every element of old's array at path is in new's: by name for named objects
 * (and then identical), by value otherwise. new's elements are sorted once and looked up
 * by binary search: an axis of 200000 seeds is checked in milliseconds. */
static void check_superset(const cJSON *old, const cJSON *new_, const char *path, StrBuf *out,
                           int *n)
{
    int n_new = cJSON_IsArray(new_) ? cJSON_GetArraySize(new_) : 0, k = 0;
    Member *index = xcalloc((size_t)n_new + 1, sizeof *index);
    for (const cJSON *e = n_new ? new_->child : NULL; e; e = e->next)
        index[k++] = member_of(e);
    qsort(index, (size_t)n_new, sizeof *index, member_cmp);
    int i = 0;
    for (const cJSON *e = old ? old->child : NULL; e; e = e->next, i++) {
        Member key = member_of(e);
        const Member *match = bsearch(&key, index, (size_t)n_new, sizeof *index, member_cmp);
        char sub[SPEC_PATH_LEN];
        path_index(sub, path, i);
        if (key.name && !match) {
            sb_printf(out, "  %s: \"%s\" is missing from the new spec\n", sub, key.name);
            (*n)++;
        } else if (key.name && !json_equal(e, match->node)) {
            sb_printf(out, "  %s: \"%s\" is defined differently\n", sub, key.name);
            (*n)++;
        } else if (!key.name && !(match && json_equal(e, match->node))) {
            char *t = json_text(e);
            sb_printf(out, "  %s: value %s is missing from the new spec\n", sub, t);
            free(t);
            (*n)++;
        }
    }
    free(index);
}

char *spec_extension_problems(const Spec *old, const Spec *new_)
{
    cJSON *a = cJSON_Parse(old->canonical), *b = cJSON_Parse(new_->canonical);
    StrBuf out = {0};
    int n = 0;
    /* everything but the axes must be identical */
    for (const cJSON *x = a ? a->child : NULL; x; x = x->next) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        if (strcmp(x->string, "architectures") == 0) {
            check_superset(x, y, "architectures", &out, &n);
        } else if (strcmp(x->string, "grid") == 0) {
            const char *axes[] = {"weight_decay", "seed", "conditions", NULL};
            for (int i = 0; axes[i]; i++) {
                char sub[SPEC_PATH_LEN];
                path_key(sub, "grid", axes[i]);
                check_superset(cJSON_GetObjectItemCaseSensitive(x, axes[i]),
                               cJSON_GetObjectItemCaseSensitive(y, axes[i]), sub, &out, &n);
            }
            const cJSON *nba = cJSON_GetObjectItemCaseSensitive(x, "norm_bias");
            const cJSON *nbb = cJSON_GetObjectItemCaseSensitive(y, "norm_bias");
            check_superset(cJSON_GetObjectItemCaseSensitive(nba, "targets"),
                           cJSON_GetObjectItemCaseSensitive(nbb, "targets"),
                           "grid.norm_bias.targets", &out, &n);
            if (!json_equal(cJSON_GetObjectItemCaseSensitive(nba, "relative"),
                            cJSON_GetObjectItemCaseSensitive(nbb, "relative"))) {
                sb_puts(&out, "  grid.norm_bias.relative: differs\n");
                n++;
            }
        } else if (strcmp(x->string, "name") != 0 && !json_equal(x, y)) {
            sb_printf(&out, "  %s: differs (only values may be added to the axes)\n", x->string);
            n++;
        }
    }
    for (const cJSON *y = b ? b->child : NULL; y; y = y->next)
        if (!cJSON_GetObjectItemCaseSensitive(a, y->string)) {
            sb_printf(&out, "  %s: only in the new spec\n", y->string);
            n++;
        }
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (!out.buf)
        sb_puts(&out, "");
    return out.buf;
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
