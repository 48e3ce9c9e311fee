/* data_norm: normalisation (none, unit, global or per-channel standardisation), of the
 * float form in place and of the compact form of byte sources as a table of 256 floats
 * per channel that gives the float form's values bit for bit (docs/data.md). */
#define _POSIX_C_SOURCE 200809L
#include "data_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* x = ((x / scale) - mean) / std over n values, with x / scale rounded to float first
 * as torchvision's ToTensor does. */
static float standardize_value(float x, float scale, double mean, double std)
{
    return (float)(((double)(x / scale) - mean) / std);
}

static void standardize(float *x, size_t n, float scale, double mean, double std)
{
    for (size_t i = 0; i < n; i++)
        x[i] = standardize_value(x[i], scale, mean, std);
}

/* Mean and population std of the raw values of channel ch over the first n samples of ds
 * (the ds->h * ds->w pixels at ch of each; floats x or, in the compact form before its
 * tables, bytes x8, the same sums in the same order), two passes in double, divided by
 * scale; a std of 0 is taken as 1 (constant pixels: only centre them). */
static void channel_stats(const Dataset *ds, int n, int ch, int channels, float scale,
                          double *mean, double *std)
{
    const size_t plane = (size_t)ds->d / (size_t)channels; /* pixels of one channel */
    const size_t count = (size_t)n * plane;
    double sum = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * (size_t)ds->d + (size_t)ch * plane; /* (plane) at o */
        if (ds->x8)
            for (size_t j = 0; j < plane; j++)
                sum += (double)ds->x8[o + j];
        else
            for (size_t j = 0; j < plane; j++)
                sum += (double)ds->x[o + j];
    }
    const double mean_raw = sum / (double)count;
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * (size_t)ds->d + (size_t)ch * plane;
        for (size_t j = 0; j < plane; j++) {
            double dx = (ds->x8 ? (double)ds->x8[o + j] : (double)ds->x[o + j]) - mean_raw;
            ss += dx * dx;
        }
    }
    *mean = mean_raw / (double)scale;
    *std = sqrt(ss / (double)count) / (double)scale;
    if (!(*std > 0.0))
        *std = 1.0;
}

/* standardize channel ch of every sample of ds with its mean and std. */
static void standardize_channel(Dataset *ds, int ch, int channels, float scale, double mean,
                                double std)
{
    const size_t plane = (size_t)ds->d / (size_t)channels;
    for (int i = 0; i < ds->n; i++)
        standardize(ds->x + (size_t)i * (size_t)ds->d + (size_t)ch * plane, plane, scale, mean,
                    std);
}

void dataset_normalize_scaled(Dataset *train, Dataset *test, Normalization norm, float scale,
                              float *lo, float *hi, double *mean_out, double *std_out)
{
    data_normalize_float(train, train ? train->n : 0, test, norm, scale, lo, hi, mean_out,
                         std_out);
}

void data_normalize_float(Dataset *train, int n_stats, Dataset *test, Normalization norm,
                          float scale, float *lo, float *hi, double *mean_out, double *std_out)
{
    assert(train && n_stats > 0 && n_stats <= train->n && train->d > 0 && scale > 0.0f);
    const size_t n_train = (size_t)train->n * (size_t)train->d;
    const size_t n_test = test ? (size_t)test->n * (size_t)test->d : 0;
    float l = 0.0f, h = scale;

    switch (norm) {
    case NORM_NONE:
        break;
    case NORM_UNIT:
        for (size_t i = 0; i < n_train; i++)
            train->x[i] /= scale;
        for (size_t i = 0; i < n_test; i++)
            test->x[i] /= scale;
        l = 0.0f;
        h = 1.0f;
        break;
    case NORM_STANDARDIZE: {
        /* global mean and population std of x/scale over every train pixel: the whole
         * sample as one channel */
        double mean = 0.0, std = 1.0;
        channel_stats(train, n_stats, 0, 1, scale, &mean, &std);
        standardize(train->x, n_train, scale, mean, std);
        if (test)
            standardize(test->x, n_test, scale, mean, std);
        l = (float)((0.0 - mean) / std);
        h = (float)((1.0 - mean) / std);
        if (mean_out)
            mean_out[0] = mean;
        if (std_out)
            std_out[0] = std;
        break;
    }
    case NORM_PER_CHANNEL: {
        const int C = train->c > 0 ? train->c : train->d;
        assert(train->d % C == 0 && (!test || test->d == train->d));
        for (int ch = 0; ch < C; ch++) {
            double mean = 0.0, std = 1.0;
            channel_stats(train, n_stats, ch, C, scale, &mean, &std);
            standardize_channel(train, ch, C, scale, mean, std);
            if (test)
                standardize_channel(test, ch, C, scale, mean, std);
            float lc = (float)((0.0 - mean) / std), hc = (float)((1.0 - mean) / std);
            l = ch == 0 || lc < l ? lc : l;
            h = ch == 0 || hc > h ? hc : h;
            if (mean_out)
                mean_out[ch] = mean;
            if (std_out)
                std_out[ch] = std;
        }
        break;
    }
    }
    train->norm = norm;
    if (test)
        test->norm = norm;
    if (lo)
        *lo = l;
    if (hi)
        *hi = h;
}

void dataset_normalize(Dataset *train, Dataset *test, Normalization norm, float *lo, float *hi)
{
    dataset_normalize_scaled(train, test, norm, 255.0f, lo, hi, NULL, NULL);
}

/* The compact form of train and test, whose raw bytes are in x8: their tables (lut_c
 * of 256 floats each, one copy per set), the float of byte v computed by the very
 * expressions dataset_normalize_scaled applies to the float (v), so that both forms
 * agree bit for bit. mean, std as for dataset_normalize_scaled. */
void data_normalize_compact(Dataset *train, int n_stats, Dataset *test, Normalization norm,
                            float scale, double *mean_out, double *std_out)
{
    assert(train->x8 && !train->x && (!test->n || (test->x8 && !test->x)));
    const int C = norm == NORM_PER_CHANNEL ? (train->c > 0 ? train->c : train->d) : 1;
    assert(train->d % C == 0 && test->d == train->d);
    float *lut = xmalloc((size_t)C * 256 * sizeof *lut); /* (C, 256) */
    for (int ch = 0; ch < C; ch++) {
        double mean = 0.0, std = 1.0;
        if (norm == NORM_STANDARDIZE || norm == NORM_PER_CHANNEL)
            channel_stats(train, n_stats, ch, C, scale, &mean, &std);
        for (int v = 0; v < 256; v++) {
            float x = (float)v, *t = lut + (size_t)ch * 256 + v;
            switch (norm) {
            case NORM_NONE: *t = x; break;
            case NORM_UNIT: *t = x / scale; break;
            case NORM_STANDARDIZE:
            case NORM_PER_CHANNEL: *t = standardize_value(x, scale, mean, std); break;
            }
        }
        if (norm == NORM_STANDARDIZE || norm == NORM_PER_CHANNEL) {
            if (mean_out)
                mean_out[ch] = mean;
            if (std_out)
                std_out[ch] = std;
        }
    }
    train->lut = lut;
    test->lut = xmalloc((size_t)C * 256 * sizeof *lut);
    memcpy(test->lut, lut, (size_t)C * 256 * sizeof *lut);
    train->lut_c = test->lut_c = C;
    train->norm = test->norm = norm;
}

const char *data_norm_name(Normalization norm)
{
    switch (norm) {
    case NORM_NONE:
        return "none";
    case NORM_UNIT:
        return "unit";
    case NORM_STANDARDIZE:
        return "standardize";
    case NORM_PER_CHANNEL:
        return "per_channel";
    }
    return "unknown";
}

