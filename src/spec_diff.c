/* spec_diff.c: differences between two specs and strict extensions, both computed on
 * the canonical forms. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
static void sb_json(SpecBuf *b, const cJSON *v)
{
    if (cJSON_IsNumber(v)) {
        spec_sb_num(b, v->valuedouble);
    } else if (cJSON_IsString(v)) {
        spec_sb_str(b, v->valuestring);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        spec_sb_puts(b, cJSON_IsArray(v) ? "[" : "{");
        for (const cJSON *e = v->child; e; e = e->next) {
            if (e != v->child)
                spec_sb_puts(b, ",");
            if (cJSON_IsObject(v)) {
                spec_sb_str(b, e->string);
                spec_sb_puts(b, ":");
            }
            sb_json(b, e);
        }
        spec_sb_puts(b, cJSON_IsArray(v) ? "]" : "}");
    } else {
        spec_sb_puts(b, cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : "null");
    }
}

/* A JSON value as text for a message (caller frees); "(absent)" for NULL. */
static char *json_text(const cJSON *v)
{
    SpecBuf b = {0};
    if (v)
        sb_json(&b, v);
    else
        spec_sb_puts(&b, "(absent)");
    return b.buf;
}

/* Appends "path: a -> b" lines for every leaf where two canonical JSON trees differ;
 * stops after `max` lines. Arrays compare element by element (their order is part of
 * the grid). */
static void diff_json(const cJSON *a, const cJSON *b, const char *path, SpecBuf *out, int *n,
                      int max)
{
    if (*n >= max)
        return;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (const cJSON *x = a->child; x; x = x->next) {
            char sub[SPEC_PATH_LEN];
            spec_path_key(sub, path, x->string);
            diff_json(x, cJSON_GetObjectItemCaseSensitive(b, x->string), sub, out, n, max);
        }
        for (const cJSON *y = b->child; y; y = y->next)
            if (!cJSON_GetObjectItemCaseSensitive(a, y->string)) {
                char sub[SPEC_PATH_LEN];
                spec_path_key(sub, path, y->string);
                diff_json(NULL, y, sub, out, n, max);
            }
        return;
    }
    if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        int i = 0;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next, i++) {
            char sub[SPEC_PATH_LEN];
            spec_path_index(sub, path, i);
            diff_json(x, y, sub, out, n, max);
        }
        return;
    }
    if (json_equal(a, b))
        return;
    char *ta = json_text(a), *tb = json_text(b);
    spec_sb_printf(out, "  %s: %.200s -> %.200s\n", *path ? path : "(top level)", ta, tb);
    free(ta);
    free(tb);
    (*n)++;
}

char *spec_diff(const Spec *a, const Spec *b)
{
    cJSON *ja = cJSON_Parse(a->canonical), *jb = cJSON_Parse(b->canonical);
    SpecBuf out = {0};
    int n = 0;
    diff_json(ja, jb, "", &out, &n, 20);
    if (n >= 20)
        spec_sb_puts(&out, "  (more differences not shown)\n");
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    if (!out.buf)
        spec_sb_puts(&out, "");
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
static void check_superset(const cJSON *old, const cJSON *new_, const char *path, SpecBuf *out,
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
        spec_path_index(sub, path, i);
        if (key.name && !match) {
            spec_sb_printf(out, "  %s: \"%s\" is missing from the new spec\n", sub, key.name);
            (*n)++;
        } else if (key.name && !json_equal(e, match->node)) {
            spec_sb_printf(out, "  %s: \"%s\" is defined differently\n", sub, key.name);
            (*n)++;
        } else if (!key.name && !(match && json_equal(e, match->node))) {
            char *t = json_text(e);
            spec_sb_printf(out, "  %s: value %s is missing from the new spec\n", sub, t);
            free(t);
            (*n)++;
        }
    }
    free(index);
}

char *spec_extension_problems(const Spec *old, const Spec *new_)
{
    cJSON *a = cJSON_Parse(old->canonical), *b = cJSON_Parse(new_->canonical);
    SpecBuf out = {0};
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
                spec_path_key(sub, "grid", axes[i]);
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
                spec_sb_puts(&out, "  grid.norm_bias.relative: differs\n");
                n++;
            }
        } else if (strcmp(x->string, "name") != 0 && !json_equal(x, y)) {
            spec_sb_printf(&out, "  %s: differs (only values may be added to the axes)\n",
                           x->string);
            n++;
        }
    }
    for (const cJSON *y = b ? b->child : NULL; y; y = y->next)
        if (!cJSON_GetObjectItemCaseSensitive(a, y->string)) {
            spec_sb_printf(&out, "  %s: only in the new spec\n", y->string);
            n++;
        }
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (!out.buf)
        spec_sb_puts(&out, "");
    return out.buf;
}
