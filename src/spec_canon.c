/* spec_canon.c: writing the canonical JSON of a parsed spec (docs/spec.md#canonical-form):
 * every default filled in, keys in the order of the field tables, numbers in their
 * shortest exact form; the growing string buffer it is written into. Keys written only
 * when used (SpecField.when) keep the hashes of older specs. */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void spec_fmt_double(double x, char *buf, size_t len)
{
    if (x == 0)
        x = 0; /* -0 -> +0 */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
}

/* Makes room for n more bytes and the terminating NUL. */
static void sb_reserve(SpecBuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 1024;
        b->buf = xrealloc(b->buf, b->cap);
    }
}

static void sb_put(SpecBuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void spec_sb_puts(SpecBuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* Formats straight into the growing buffer: measures first, then writes, so a message
 * of any length fits (differences quote whole JSON values). */
void spec_sb_printf(SpecBuf *b, const char *fmt, ...)
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

void spec_sb_num(SpecBuf *b, double x)
{
    char tmp[32];
    assert(isfinite(x));
    spec_fmt_double(x, tmp, sizeof tmp);
    spec_sb_puts(b, tmp);
}

void spec_sb_bool(SpecBuf *b, bool x)
{
    spec_sb_puts(b, x ? "true" : "false");
}

/* A JSON string: quotes, backslashes and control characters escaped; other bytes
 * (UTF-8 included) as they are. */
void spec_sb_str(SpecBuf *b, const char *s)
{
    spec_sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            spec_sb_printf(b, "\\%c", ch);
        else if (ch < 0x20)
            spec_sb_printf(b, "\\u%04x", ch);
        else
            sb_put(b, s, 1);
    }
    spec_sb_puts(b, "\"");
}

void spec_write_num_array(SpecBuf *b, const double *x, int n)
{
    spec_sb_puts(b, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            spec_sb_puts(b, ",");
        spec_sb_num(b, x[i]);
    }
    spec_sb_puts(b, "]");
}

void spec_write_int_array(SpecBuf *b, const int *x, int n)
{
    spec_sb_puts(b, "[");
    for (int i = 0; i < n; i++)
        spec_sb_printf(b, "%s%d", i ? "," : "", x[i]);
    spec_sb_puts(b, "]");
}

void spec_write_object(SpecBuf *b, const SpecField *t, unsigned variant, const void *obj)
{
    const char *sep = "{";
    for (const SpecField *f = t; f->key; f++) {
        const char *src = (const char *)obj + f->off;
        if ((f->variants && !(f->variants & variant)) || (f->when && !f->when(obj)) ||
            (f->kind == SPEC_FIELD_CUSTOM && !f->write))
            continue;
        spec_sb_printf(b, "%s\"%s\":", sep, f->key);
        sep = ",";
        switch (f->kind) {
        case SPEC_FIELD_INT:
            spec_sb_printf(b, "%d", *(const int *)src);
            break;
        case SPEC_FIELD_U64:
            spec_sb_printf(b, "%" PRIu64, *(const uint64_t *)src);
            break;
        case SPEC_FIELD_NUM:
            spec_sb_num(b, *(const double *)src);
            break;
        case SPEC_FIELD_BOOL:
            spec_sb_bool(b, *(const bool *)src);
            break;
        case SPEC_FIELD_ENUM:
            spec_sb_str(b, f->names[*(const int *)src]);
            break;
        case SPEC_FIELD_STRING:
        case SPEC_FIELD_NAME:
            spec_sb_str(b, src);
            break;
        case SPEC_FIELD_CUSTOM:
            f->write(b, obj);
            break;
        }
    }
    spec_sb_puts(b, *sep == '{' ? "{}" : "}");
}
