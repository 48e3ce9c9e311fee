/* spec_json.c: generic readers of JSON values for the spec parser. Each checks one
 * value and, on failure, writes one message naming its JSON path ("origin: path:
 * what was expected, got what"); also the messages for malformed JSON, the refusal
 * of NUL characters (\u0000) that cJSON would decode into its C strings, and the
 * reader of a JSON object from its field table (spec_read_object). */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/util.h"

const Range SPEC_RANGE_ANY = {SPEC_ANY};
const Range SPEC_RANGE_POSITIVE = {SPEC_POSITIVE};
const Range SPEC_RANGE_NONNEG = {SPEC_NONNEG};

/* ---- messages ---------------------------------------------------------------------- */

int spec_fail_at(const Ctx *c, const char *path, const char *fmt, ...)
{
    char what[BPS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return bps_fail(c->err, "%s: %s: %s", c->origin, path, what);
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
const char *spec_got(const cJSON *v, char *buf, size_t len)
{
    if (cJSON_IsNumber(v)) {
        spec_fmt_double(v->valuedouble, buf, len);
    } else if (cJSON_IsString(v)) {
        char tmp[64];
        snprintf(buf, len, "\"%s\"", clean(v->valuestring, tmp, sizeof tmp));
    } else {
        snprintf(buf, len, "%s", type_name(v));
    }
    return buf;
}

void spec_path_key(char *out, const char *path, const char *key)
{
    int n = snprintf(out, SPEC_PATH_LEN, "%s%s%s", path, *path ? "." : "", key);
    if (n < 0 || n >= SPEC_PATH_LEN)
        memcpy(out + SPEC_PATH_LEN - 4, "...", 4);
}

void spec_path_index(char *out, const char *path, int i)
{
    int n = snprintf(out, SPEC_PATH_LEN, "%s[%d]", path, i);
    if (n < 0 || n >= SPEC_PATH_LEN)
        memcpy(out + SPEC_PATH_LEN - 4, "...", 4);
}

/* The line and column (both 1-based, columns in bytes) of offset in text, and a
 * printable excerpt of that line around the offset. */
int spec_fail_malformed(const Ctx *c, const char *text, const char *end)
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
            spec_path_key(out, prev, clean(key, tmp, sizeof tmp));
        } else {
            spec_path_index(out, prev, f[d].index);
        }
    }
}

/* cJSON decodes the escape \u0000 to a NUL byte inside its NUL-terminated strings, so
 * "relu\u0000tanh" would read as "relu" and a bad name would pass its check. Walks the
 * text, which cJSON has accepted as JSON, for a \u0000 escape inside a string or key;
 * returns 0, or -1 with a message naming its JSON path. (\\u0000 is an escaped
 * backslash followed by "u0000", not a NUL.) */
int spec_refuse_nul_escapes(const Ctx *c, const char *text)
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
                rc = spec_fail_at(c, *path ? path : "(top level)",
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

const cJSON *spec_field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

int spec_expect_object(const Ctx *c, const cJSON *v, const char *path)
{
    char g[80];
    if (!cJSON_IsObject(v))
        return spec_fail_at(c, path, "expected an object, got %s", spec_got(v, g, sizeof g));
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

/* Rejects keys outside `known` (NULL-terminated) and keys that appear twice. */
static int check_keys(const Ctx *c, const cJSON *obj, const char *path, const char *const *known,
                      const char *qual, bool axis_hint)
{
    char kpath[SPEC_PATH_LEN], tmp[64];
    for (const cJSON *k = obj->child; k; k = k->next) {
        bool ok = false;
        for (int i = 0; known[i] && !ok; i++)
            ok = strcmp(k->string, known[i]) == 0;
        spec_path_key(kpath, path, clean(k->string, tmp, sizeof tmp));
        if (!ok) {
            char list[512];
            join_names(known, false, list, sizeof list);
            const char *hint = "";
            if (axis_hint &&
                (strcmp(k->string, "weight_decay") == 0 || strcmp(k->string, "norm_bias") == 0 ||
                 strcmp(k->string, "seed") == 0))
                hint = "; it is a grid axis, set it under \"grid\"";
            return spec_fail_at(c, kpath, "unknown key%s (known: %s)%s", qual ? qual : "", list,
                                hint);
        }
        for (const cJSON *e = obj->child; e != k; e = e->next)
            if (strcmp(e->string, k->string) == 0)
                return spec_fail_at(c, kpath, "duplicate key");
    }
    return 0;
}

static void describe_range(const Range *r, char *buf, size_t len)
{
    char lo[32], hi[32];
    spec_fmt_double(r->lo, lo, sizeof lo);
    spec_fmt_double(r->hi, hi, sizeof hi);
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

int spec_read_num(const Ctx *c, const cJSON *v, const char *path, const Range *r,
                    double *out)
{
    char desc[96], g[80];
    double x = cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
    bool ok = isfinite(x) && (r->lo_open ? x > r->lo : x >= r->lo) &&
              (r->hi_open ? x < r->hi : x <= r->hi);
    if (!ok) {
        describe_range(r, desc, sizeof desc);
        return spec_fail_at(c, path, "expected %s, got %s", desc, spec_got(v, g, sizeof g));
    }
    *out = x == 0 ? 0 : x; /* -0 -> +0 */
    return 0;
}

/* desc overrides the generated description of the range (NULL: generated). */
int spec_read_int(const Ctx *c, const cJSON *v, const char *path, int64_t lo, int64_t hi,
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
        return spec_fail_at(c, path, "expected %s, got %s", desc, spec_got(v, g, sizeof g));
    }
    *out = (int64_t)x;
    return 0;
}

int spec_read_enum(const Ctx *c, const cJSON *v, const char *path, const char *const *names,
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
    return spec_fail_at(c, path, "expected one of %s, got %s", list, spec_got(v, g, sizeof g));
}

/* A name of 1..max_len characters from [A-Za-z0-9_.-]. */
int spec_read_name(const Ctx *c, const cJSON *v, const char *path, size_t max_len, char *out)
{
    bool ok = cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= max_len;
    for (const char *p = ok ? v->valuestring : ""; *p && ok; p++)
        ok = isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-';
    if (!ok) {
        char g[80];
        return spec_fail_at(c, path,
                            "expected a name of 1 to %zu characters from [A-Za-z0-9_.-], got %s",
                            max_len, spec_got(v, g, sizeof g));
    }
    memcpy(out, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int read_bool(const Ctx *c, const cJSON *v, const char *path, bool *out)
{
    char g[80];
    if (!cJSON_IsBool(v))
        return spec_fail_at(c, path, "expected true or false, got %s", spec_got(v, g, sizeof g));
    *out = cJSON_IsTrue(v);
    return 0;
}

/* A non-empty array; *n gets its length. what describes the elements for messages. */
int spec_read_array(const Ctx *c, const cJSON *v, const char *path, const char *what, int *n)
{
    *n = 0; /* defined on every path (and for the compiler) */
    char g[80];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0)
        return spec_fail_at(c, path, "expected a non-empty array of %s, got %s", what,
                            cJSON_IsArray(v) ? "[]" : spec_got(v, g, sizeof g));
    *n = cJSON_GetArraySize(v);
    return 0;
}

/* ---- duplicates: sorted, not compared pairwise ----------------------------------------- */

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
bool spec_first_duplicate(DupKey *keys, int n, int *i, int *j)
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
int spec_read_num_axis(const Ctx *c, const cJSON *v, const char *path, const Range *r,
                         const char *what, double **out, int *n)
{
    char ipath[SPEC_PATH_LEN];
    if (spec_read_array(c, v, path, what, n))
        return -1;
    *out = xmalloc((size_t)*n * sizeof **out);
    DupKey *keys = xcalloc((size_t)*n, sizeof *keys);
    int i = 0, rc = 0, dup, first;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        spec_path_index(ipath, path, i);
        if ((rc = spec_read_num(c, e, ipath, r, &(*out)[i])) != 0)
            break;
        keys[i] = (DupKey){.num = (*out)[i], .pos = i};
    }
    /* values 0..i-1 are good; a repeat among them comes before a bad value i */
    if (spec_first_duplicate(keys, i, &dup, &first)) {
        char g[32];
        spec_path_index(ipath, path, dup);
        spec_fmt_double((*out)[dup], g, sizeof g);
        rc = spec_fail_at(c, ipath, "duplicate value %s (also %s[%d])", g, path, first);
    }
    free(keys);
    return rc;
}

/* ---- field tables ---------------------------------------------------------------------- */

static bool field_in(const SpecField *f, unsigned variant)
{
    return f->variants == 0 || (f->variants & variant) != 0;
}

/* One member f of obj, present as v at path (v is NULL for an absent `always` member). */
static int read_field(const Ctx *c, const cJSON *v, const char *path, const SpecField *f,
                      void *obj)
{
    char *dst = (char *)obj + f->off, g[80];
    int64_t x;
    switch (f->kind) {
    case SPEC_FIELD_INT:
        assert(f->size == sizeof(int));
        if (spec_read_int(c, v, path, f->lo, f->hi, f->desc, &x))
            return -1;
        *(int *)dst = (int)x;
        return 0;
    case SPEC_FIELD_U64:
        assert(f->size == sizeof(uint64_t));
        if (spec_read_int(c, v, path, f->lo, f->hi, f->desc, &x))
            return -1;
        *(uint64_t *)dst = (uint64_t)x;
        return 0;
    case SPEC_FIELD_NUM:
        assert(f->size == sizeof(double));
        return spec_read_num(c, v, path, &f->range, (double *)dst);
    case SPEC_FIELD_BOOL:
        assert(f->size == sizeof(bool));
        return read_bool(c, v, path, (bool *)dst);
    case SPEC_FIELD_ENUM:
        assert(f->size == sizeof(int));
        return spec_read_enum(c, v, path, f->names, (int *)dst);
    case SPEC_FIELD_STRING:
        if (!cJSON_IsString(v) || !v->valuestring[0])
            return spec_fail_at(c, path, "expected a non-empty string, got %s",
                                spec_got(v, g, sizeof g));
        if (strlen(v->valuestring) >= f->size)
            return spec_fail_at(c, path, "%s is %zu bytes long, expected fewer than %zu", f->key,
                                strlen(v->valuestring), f->size);
        memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
        return 0;
    case SPEC_FIELD_NAME:
        assert(f->size > (size_t)f->hi);
        return spec_read_name(c, v, path, (size_t)f->hi, dst);
    case SPEC_FIELD_CUSTOM:
        assert(f->read);
        return f->read(c, v, path, obj);
    }
    fprintf(stderr, "bpsweep: internal error: spec field kind %d\n", (int)f->kind);
    abort(); /* can't happen: every kind is handled above */
}

int spec_check_object(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                      unsigned variant, const char *qual, bool axis_hint)
{
    const char *known[32];
    int n = 0;
    for (const SpecField *f = t; f->key; f++)
        if (field_in(f, variant)) {
            assert(n + 1 < (int)(sizeof known / sizeof *known));
            known[n++] = f->key;
        }
    known[n] = NULL;
    if (spec_expect_object(c, v, path) || check_keys(c, v, path, known, qual, axis_hint))
        return -1;
    for (const SpecField *f = t; f->key; f++) {
        char kpath[SPEC_PATH_LEN];
        if (!f->required || !field_in(f, variant) || spec_field(v, f->key))
            continue;
        spec_path_key(kpath, path, f->key);
        return spec_fail_at(c, kpath, "%s", f->missing ? f->missing : "required key is missing");
    }
    return 0;
}

int spec_read_member(const Ctx *c, const cJSON *v, const char *path, const SpecField *f,
                     void *obj)
{
    char kpath[SPEC_PATH_LEN];
    const cJSON *m = spec_field(v, f->key);
    spec_path_key(kpath, path, f->key);
    if (!m && f->needed && f->needed(obj))
        return spec_fail_at(c, kpath, "%s", f->missing ? f->missing : "required key is missing");
    if (m && f->allowed && !f->allowed(obj))
        return spec_fail_at(c, kpath, "%s", f->refuse);
    return m || f->always ? read_field(c, m, kpath, f, obj) : 0;
}

int spec_read_members(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                      unsigned variant, void *obj)
{
    for (int pass = 0; pass <= SPEC_MAX_PASS; pass++)
        for (const SpecField *f = t; f->key; f++)
            if (f->pass == pass && field_in(f, variant) &&
                spec_read_member(c, v, path, f, obj))
                return -1;
    return 0;
}

int spec_read_object(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                     unsigned variant, const char *qual, bool axis_hint, void *obj)
{
    return spec_check_object(c, v, path, t, variant, qual, axis_hint) ||
                   spec_read_members(c, v, path, t, variant, obj)
               ? -1
               : 0;
}

/* Refuses the first member of object v (in table order) that is given but not
 * `allowed` for obj as read so far. */
static int refuse_members(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                          const void *obj)
{
    for (const SpecField *f = t; f->key; f++)
        if (f->allowed && !f->allowed(obj) && spec_field(v, f->key)) {
            char kpath[SPEC_PATH_LEN];
            spec_path_key(kpath, path, f->key);
            return spec_fail_at(c, kpath, "%s", f->refuse);
        }
    return 0;
}

int spec_read_selected(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                       const SpecField *selector, void *obj)
{
    return spec_check_object(c, v, path, t, 0, NULL, false) ||
                   spec_read_member(c, v, path, selector, obj) ||
                   refuse_members(c, v, path, t, obj) || spec_read_members(c, v, path, t, 0, obj)
               ? -1
               : 0;
}

bool spec_needed_always(const void *obj)
{
    (void)obj;
    return true;
}
