/* data_rows: the accessors every consumer reads samples through, for either form of a
 * Dataset: floats (x), or the compact form (bytes x8 through the tables lut). */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

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

Dataset dataset_view(const Dataset *ds, int start, int n)
{
    assert(start >= 0 && n >= 0 && start + n <= ds->n);
    Dataset v = *ds;
    const size_t first = (size_t)start * (size_t)ds->d;
    v.n = n;
    v.borrowed = true;
    v.x = ds->x ? ds->x + first : NULL;
    v.x8 = ds->x8 ? ds->x8 + first : NULL;
    v.y = ds->y ? ds->y + start : NULL;
    return v;
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
