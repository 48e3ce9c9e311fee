/* unit_store: the results file on one rank (MPI_COMM_SELF): shape, creation and its
 * refusals, the dataset properties (only /status filled), rows written by hand and read
 * back value by value (NaN padding, pending rows), a killed writer, the error messages
 * of bad files, the CSV export, the layout reference in docs/results-format.md, and the
 * speed of store_write_row. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/export.h"
#include "bpsweep/store.h"

#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_store.h"
#include "test_util.h"

#define N_IN 7
#define IN_SHAPE ((Shape){N_IN, 1, 1})
#define N_OUT 3

/* 2 architectures (2 and 4 dense layers) x 2 conditions (3 and 5 epochs) x 1 norm-bias
 * target x 2 weight decays x 2 seeds = 16 points. */
static const char *SPEC_BODY =
    "{\"name\": \"store-test\","
    " \"data\": {\"source\": \"synthetic\", \"n_train\": 64, \"n_test\": 32, \"features\": 7,"
    "          \"classes\": 3},"
    " \"architectures\": [{\"name\": \"small\", \"hidden\": [8]},"
    "                   {\"name\": \"deep\", \"hidden\": [6, 5, 4]}],"
    " \"grid\": {\"weight_decay\": [0, 0.001], \"seed\": [11, 12],"
    "          \"conditions\": [{\"name\": \"short\", \"train\": {\"epochs\": 3}},"
    "                          {\"name\": \"long\", \"train\": {\"epochs\": 5}}]},"
    " \"train\": {\"epochs\": 4, \"batch_size\": 16, \"lr\": 0.05}";

static const char *dir;

/* full: also the optional datasets (/weights, /ntk) */
static Spec *make_spec(bool full)
{
    char text[4096];
    snprintf(text, sizeof text, "%s%s}", SPEC_BODY,
             full ? ", \"output\": {\"store_weights\": true}, "
                    "\"measure\": {\"ntk\": {\"samples\": 2, \"pool\": 4}, "
                    "\"robustness\": {\"eps\": [0.1, 0.2]}}"
                  : "");
    Spec *s = NULL;
    BpsErr err;
    int rc = spec_parse(text, "store.json", &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return s;
}

static void tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* A new results file of spec s at path, open for writing; NULL (a failed check) if not. */
static Store *new_store(const Spec *s, const char *path)
{
    BpsErr err;
    Store *st = NULL;
    if (store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0 ||
        store_open(MPI_COMM_SELF, path, &st, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return NULL;
    }
    return st;
}

/* The value written for metric m, column j of point i (exact in binary). */
static double value(int64_t i, int m, int j)
{
    return (double)i * 1000.0 + m * 10.0 + j + 0.25;
}

static float weight(int64_t i, size_t j)
{
    return (float)i + (float)j / 1024.0f;
}

/* What the test writes for point i: status by i (see write_rows), lengths from the spec. */
typedef struct {
    PointStatus status;
    int epochs, epochs_run, n_layers, diverged_epoch;
    size_t n_params;
} Expected;

static Expected expected(const Spec *s, int64_t i)
{
    GridPoint p = grid_point(s, i);
    NetConfig net;
    TrainConfig tc;
    uint64_t seed;
    grid_point_config(s, p, IN_SHAPE, N_OUT, &net, &tc, &seed);
    Expected e = {POINT_PENDING, tc.epochs, tc.epochs, net.n_hidden + 1, 0, nn_param_count(&net)};
    if (i == 0 || i == 9 || i == 15)
        e.status = POINT_DONE;
    else if (i == 13) {
        e.status = POINT_DIVERGED;
        e.epochs_run = e.diverged_epoch = 2;
    } else if (i == 6)
        e.status = POINT_FAILED;
    return e;
}

static const char *FAIL_MESSAGE = "out of memory building the net, \"really\"";
static const char *HOST = "node,01";

/* A PointResult as point_train or the scheduler would build it. */
static void make_result(const Spec *s, int64_t i, bool with_weights, PointResult *r)
{
    Expected e = expected(s, i);
    memset(r, 0, sizeof *r);
    r->index = i;
    grid_key(s, grid_point(s, i), r->key, sizeof r->key);
    r->status = e.status;
    if (e.status == POINT_FAILED) { /* as the scheduler's injected failure: no metrics */
        snprintf(r->message, sizeof r->message, "%s", FAIL_MESSAGE);
        return;
    }
    r->epochs = e.epochs;
    r->epochs_run = e.epochs_run;
    r->diverged_epoch = e.diverged_epoch;
    r->n_layers = e.n_layers;
    r->n_params = e.n_params;
    r->param_hash = UINT64_C(0xfedcba9876543210) ^ (uint64_t)i;
    r->wall_seconds = 1.5 + (double)i;
    for (int m = 0; m < N_METRICS; m++) {
        MetricKind k = POINT_METRIC_DEFS[m].kind;
        int n = k == METRIC_SCALAR ? 1 : k == METRIC_CURVE ? e.epochs : e.n_layers;
        r->metric_len[m] = n;
        r->metric[m] = malloc((size_t)n * sizeof(double));
        for (int j = 0; j < n; j++)
            r->metric[m][j] = k == METRIC_CURVE && j >= e.epochs_run ? (double)NAN : value(i, m, j);
    }
    if (with_weights) {
        r->weights = malloc(e.n_params * sizeof(float));
        for (size_t j = 0; j < e.n_params; j++)
            r->weights[j] = weight(i, j);
    }
}

static RowInfo row_info(int64_t i)
{
    RowInfo info = {(int)(i % 5), "", (int)(i % 3) + 1, 1.7e9 + (double)i};
    snprintf(info.host, sizeof info.host, "%s", HOST);
    return info;
}

/* Creates path for spec and writes the rows of the points expected() marks. */
static int create_and_write(const char *path, const Spec *s, bool weights)
{
    BpsErr err;
    int rc = store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return -1;
    Store *st = NULL;
    rc = store_open(MPI_COMM_SELF, path, &st, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc)
        return -1;
    for (int64_t i = 0; i < grid_size(s); i++) {
        if (expected(s, i).status == POINT_PENDING)
            continue;
        PointResult r;
        make_result(s, i, weights, &r);
        RowInfo info = row_info(i);
        rc = store_write_row(st, &r, &info, &err);
        CHECK_MSG(rc == 0, "row %lld: %s", (long long)i, err.msg);
        point_result_free(&r);
    }
    rc = store_close(st, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    return rc;
}

/* ---- shape -------------------------------------------------------------------------------- */

static void store_shape_should_follow_the_spec(void)
{
    Spec *s = make_spec(false), *w = make_spec(true);
    if (!s || !w)
        return;
    StoreShape sh = store_shape(s, IN_SHAPE, N_OUT);
    CHECK(sh.n_points == 16);
    CHECK(sh.max_epochs == 5);
    CHECK(sh.max_layers == 4);
    CHECK(sh.max_params == 0);
    StoreShape shw = store_shape(w, IN_SHAPE, N_OUT);
    /* small: 7*8+8 + 8*3+3 = 91; deep: 7*6+6 + 6*5+5 + 5*4+4 + 4*3+3 = 122 */
    CHECK(shw.max_params == 122);
    CHECK(store_file_bytes(&shw) > store_file_bytes(&sh));
    /* key 256 + 5 int32 + 3 float64/int64 + status + run columns (checksum included) +
     * metrics, per point */
    size_t per_point = 256 + 5 * 4 + 3 * 8 + 1 + (8 + 4 + 4 + 8 + 8 + 4 + 64 + 4 + 8 + 256 + 8);
    for (int m = 0; m < N_METRICS; m++) {
        MetricKind k = POINT_METRIC_DEFS[m].kind;
        per_point += 8 * (size_t)(k == METRIC_SCALAR ? 1 : k == METRIC_CURVE ? 5 : 4);
    }
    /* /spectra: L = 4 layers x R = 7 (the 7 inputs bound the first layer's rank) */
    CHECK(sh.max_rank == 7);
    per_point += 4 * (4 * 7);
    CHECK_MSG(store_file_bytes(&sh) == 16 * per_point, "%zu vs %zu", store_file_bytes(&sh),
              16 * per_point);
    /* /weights (P = 122), the two NTK matrices (M = 2 samples x N_OUT classes) and the two
     * robust accuracies at 2 radii */
    CHECK(shw.ntk_m == 2 * N_OUT);
    CHECK(store_file_bytes(&shw) ==
          16 * (per_point + 122 * 4 + 2 * 4 * (4 * N_OUT * N_OUT) + 2 * 8 * 2)); /* + /robust */
    spec_free(s);
    spec_free(w);

    Spec *z = NULL;
    BpsErr err;
    CHECK(spec_parse("{\"architectures\": [{\"name\": \"lin\", \"hidden\": []}],"
                     " \"grid\": {\"seed\": [1]}, \"train\": {\"epochs\": 0}}",
                     NULL, &z, &err) == 0);
    if (z) {
        StoreShape zs = store_shape(z, (Shape){4, 1, 1}, 2);
        CHECK(zs.max_epochs == 1 && zs.max_layers == 1 && zs.n_points == 1);
        spec_free(z);
    }
}

/* ---- creation and round trip -------------------------------------------------------------- */

static void store_create_should_refuse_an_existing_file(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "exists.h5");
    CHECK(test_write_bytes(path, "x", 1) == 0);
    BpsErr err = {""};
    CHECK(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "already exists"), "%s", err.msg);
    FILE *f = fopen(path, "rb");
    CHECK(f && fgetc(f) == 'x'); /* untouched */
    if (f)
        fclose(f);

    tmp_path(path, sizeof path, "twice.h5");
    CHECK(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) == 0);
    CHECK(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0);
    CHECK_MSG(strstr(err.msg, "already exists"), "%s", err.msg);

    tmp_path(path, sizeof path, "no/such/dir/x.h5");
    CHECK(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, "cannot create"), "%s", err.msg);
    spec_free(s);
}

static void read_table_should_round_trip_every_value(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "roundtrip.h5");
    if (create_and_write(path, s, false) != 0) {
        spec_free(s);
        return;
    }
    StoreTable t;
    BpsErr err;
    int rc = store_read_table(path, &t, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (rc) {
        spec_free(s);
        return;
    }
    CHECK(t.shape.n_points == 16 && t.shape.max_epochs == 5 && t.shape.max_layers == 4 &&
          t.shape.max_params == 0);
    CHECK(t.spec_json && strcmp(t.spec_json, s->canonical) == 0);
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, s->hash);
    CHECK_MSG(strcmp(t.spec_hash, hash) == 0, "%s vs %s", t.spec_hash, hash);
    CHECK(t.created && strlen(t.created) == 20 && t.created[10] == 'T' && t.created[19] == 'Z');
    CHECK(t.bpsweep_version && t.bpsweep_version[0]);
    for (int64_t i = 0; i < 16; i++) {
        GridPoint p = grid_point(s, i);
        char key[GRID_KEY_MAX];
        grid_key(s, p, key, sizeof key);
        CHECK_MSG(strcmp(t.key[i], key) == 0, "%lld: %s", (long long)i, t.key[i]);
        CHECK(t.arch[i] == p.arch && t.cond[i] == p.cond && t.nb[i] == p.nb && t.wd[i] == p.wd &&
              t.seed_index[i] == p.seed);
        CHECK(strcmp(t.arch_name[i], s->arch[p.arch].name) == 0);
        CHECK(strcmp(t.cond_name[i], s->cond[p.cond].name) == 0);
        CHECK(t.weight_decay[i] == s->weight_decay[p.wd] && t.norm_bias[i] == s->norm_bias[p.nb]);
        CHECK(t.seed[i] == (int64_t)s->seed[p.seed]);
        Expected e = expected(s, i);
        CHECK_MSG(t.status[i] == e.status, "%lld: status %d, want %d", (long long)i, t.status[i],
                  e.status);
        if (e.status == POINT_PENDING) {
            CHECK(t.attempts[i] == 0 && t.rank[i] == -1 && t.host[i][0] == '\0' &&
                  t.message[i][0] == '\0' && t.param_hash[i] == 0 && t.n_params[i] == 0);
            CHECK(isnan(t.wall_seconds[i]) && isnan(t.finished[i]));
            for (int m = 0; m < N_METRICS; m++)
                if (t.scalar[m])
                    CHECK(isnan(t.scalar[m][i]));
            continue;
        }
        RowInfo info = row_info(i);
        CHECK(t.attempts[i] == info.attempts && t.rank[i] == info.rank);
        CHECK(strcmp(t.host[i], HOST) == 0 && t.finished[i] == info.finished);
        if (e.status == POINT_FAILED) {
            CHECK(strcmp(t.message[i], FAIL_MESSAGE) == 0);
            CHECK(t.epochs_run[i] == 0 && t.n_params[i] == 0 && t.param_hash[i] == 0);
            for (int m = 0; m < N_METRICS; m++)
                if (t.scalar[m])
                    CHECK(isnan(t.scalar[m][i]));
            continue;
        }
        CHECK(t.message[i][0] == '\0');
        CHECK(t.epochs_run[i] == e.epochs_run && t.diverged_epoch[i] == e.diverged_epoch);
        CHECK(t.param_hash[i] == (UINT64_C(0xfedcba9876543210) ^ (uint64_t)i));
        CHECK(t.n_params[i] == (int64_t)e.n_params && t.wall_seconds[i] == 1.5 + (double)i);
        for (int m = 0; m < N_METRICS; m++) {
            CHECK((t.scalar[m] != NULL) == (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR));
            if (t.scalar[m])
                CHECK_MSG(t.scalar[m][i] == value(i, m, 0), "%lld %s", (long long)i,
                          POINT_METRIC_DEFS[m].name);
        }
    }
    store_table_free(&t);
    store_table_free(&t); /* a zeroed table */
    spec_free(s);
}

/* Reads a whole 2-D dataset as doubles (or floats) into a new buffer. */
static void *read_2d(hid_t file, const char *name, hid_t type, size_t size, hsize_t dims[2])
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return NULL;
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    void *buf = malloc(dims[0] * dims[1] * size);
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        buf = NULL;
    }
    H5Dclose(d);
    return buf;
}

static void curves_layers_and_weights_should_be_nan_padded(void)
{
    Spec *s = make_spec(true);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "padded.h5");
    if (create_and_write(path, s, true) != 0) {
        spec_free(s);
        return;
    }
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0);
    if (file < 0) {
        spec_free(s);
        return;
    }
    for (int m = 0; m < N_METRICS; m++) {
        MetricKind k = POINT_METRIC_DEFS[m].kind;
        if (k == METRIC_SCALAR)
            continue;
        char name[128];
        snprintf(name, sizeof name, "/%s/%s", k == METRIC_CURVE ? "curves" : "layers",
                 POINT_METRIC_DEFS[m].name);
        hsize_t dims[2];
        double *v = read_2d(file, name, H5T_NATIVE_DOUBLE, sizeof(double), dims);
        CHECK_MSG(v != NULL, "%s", name);
        if (!v)
            continue;
        CHECK(dims[0] == 16 && dims[1] == (k == METRIC_CURVE ? 5u : 4u));
        long bad = 0;
        for (int64_t i = 0; i < 16; i++) {
            Expected e = expected(s, i);
            if (e.status == POINT_PENDING)
                continue;
            int len = e.status == POINT_FAILED ? 0
                      : k == METRIC_CURVE     ? e.epochs_run
                                              : e.n_layers;
            for (hsize_t j = 0; j < dims[1]; j++) {
                double got = v[(hsize_t)i * dims[1] + j];
                bad += (int)j < len ? got != value(i, m, (int)j) : !isnan(got);
            }
        }
        CHECK_MSG(bad == 0, "%s: %ld values differ", name, bad);
        free(v);
    }
    hsize_t dims[2];
    float *w = read_2d(file, "/weights", H5T_NATIVE_FLOAT, sizeof(float), dims);
    CHECK(w && dims[0] == 16 && dims[1] == 122);
    if (w) {
        long bad = 0;
        for (int64_t i = 0; i < 16; i++) {
            Expected e = expected(s, i);
            if (e.status == POINT_PENDING)
                continue;
            size_t n = e.status == POINT_FAILED ? 0 : e.n_params;
            for (size_t j = 0; j < dims[1]; j++) {
                float got = w[(size_t)i * dims[1] + j];
                bad += j < n ? got != weight(i, j) : !isnan(got);
            }
        }
        CHECK_MSG(bad == 0, "/weights: %ld values differ", bad);
        free(w);
    }
    H5Fclose(file);
    spec_free(s);
}

/* ---- dataset properties, and the reference against the file ----------------------------- */

typedef struct {
    int n_datasets;
    int n_bad;
} Visit;

/* Checks every dataset under group g (recursively): contiguous, allocated, early
 * allocation, no filters; fill only for /status. */
static void visit_group(hid_t g, const char *prefix, Visit *v)
{
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) {
        v->n_bad++;
        return;
    }
    for (hsize_t k = 0; k < info.nlinks; k++) {
        char name[256], path[512];
        if (H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, k, name, sizeof name,
                               H5P_DEFAULT) < 0) {
            v->n_bad++;
            continue;
        }
        snprintf(path, sizeof path, "%s/%s", prefix, name);
        H5E_BEGIN_TRY
        {
            hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
            if (d >= 0) {
                v->n_datasets++;
                hid_t dcpl = H5Dget_create_plist(d);
                H5D_fill_time_t ft;
                H5D_alloc_time_t at;
                H5D_space_status_t ss;
                H5D_fill_value_t fv;
                bool status = strcmp(path, "/status") == 0;
                if (H5Pget_fill_time(dcpl, &ft) < 0 ||
                    ft != (status ? H5D_FILL_TIME_ALLOC : H5D_FILL_TIME_NEVER)) {
                    fprintf(stderr, "%s: fill time %d\n", path, (int)ft);
                    v->n_bad++;
                }
                if (H5Pfill_value_defined(dcpl, &fv) < 0 ||
                    (status != (fv == H5D_FILL_VALUE_USER_DEFINED))) {
                    fprintf(stderr, "%s: fill value %d\n", path, (int)fv);
                    v->n_bad++;
                }
                if (H5Pget_alloc_time(dcpl, &at) < 0 || at != H5D_ALLOC_TIME_EARLY ||
                    H5Dget_space_status(d, &ss) < 0 || ss != H5D_SPACE_STATUS_ALLOCATED ||
                    H5Pget_layout(dcpl) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl) != 0) {
                    fprintf(stderr, "%s: not contiguous, early, allocated, unfiltered\n", path);
                    v->n_bad++;
                }
                H5Pclose(dcpl);
                H5Dclose(d);
            } else {
                hid_t sub = H5Gopen2(g, name, H5P_DEFAULT);
                if (sub >= 0) {
                    visit_group(sub, path, v);
                    H5Gclose(sub);
                } else {
                    v->n_bad++;
                }
            }
        }
        H5E_END_TRY;
    }
}

/* store_describe's output as a string (caller frees). */
static char *describe_text(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    store_describe(f);
    fclose(f);
    return buf;
}

/* A data provenance as dataset_load_provenance makes it: 3 channels, 2 files. */
static void make_provenance(DataProvenance *p)
{
    static double mean[3] = {0.25, 0.5, 0.125}, std[3] = {0.5, 0.25, 1.0};
    memset(p, 0, sizeof *p);
    snprintf(p->source, sizeof p->source, "cifar100");
    snprintf(p->dir, sizeof p->dir, "/data/cifar-100-binary");
    p->shape = (Shape){3, 32, 32};
    p->n_train = 500;
    p->n_test = 100;
    p->norm = NORM_PER_CHANNEL;
    p->n_stats = 3;
    p->mean = mean; /* not owned: never passed to data_provenance_free */
    p->std = std;
    p->n_files = 2;
    p->files[0] = (DataFile){"train.bin", 153700000, UINT64_C(0x0123456789abcdef)};
    p->files[1] = (DataFile){"test.bin", 30740000, UINT64_C(0xfedcba9876543210)};
}

/* A numeric attribute of at most 8 values (a scalar or one-dimensional) as doubles; its
 * length (1 for a scalar), or -1. */
static int read_attr_doubles(hid_t file, const char *name, double *v)
{
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0)
        return -1;
    hid_t space = H5Aget_space(a);
    hsize_t n = 1;
    int rank = H5Sget_simple_extent_dims(space, &n, NULL);
    int rc = rank >= 0 && rank <= 1 && n <= 8 &&
                     (n == 0 || H5Aread(a, H5T_NATIVE_DOUBLE, v) >= 0)
                 ? (int)n
                 : -1;
    H5Sclose(space);
    H5Aclose(a);
    return rc;
}

static void data_attributes_should_record_the_provenance(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024], none[1024];
    tmp_path(path, sizeof path, "prov.h5");
    tmp_path(none, sizeof none, "prov-none.h5");
    DataProvenance p;
    make_provenance(&p);
    BpsErr err;
    CHECK_MSG(store_create(MPI_COMM_SELF, path, s, &p, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s",
              err.msg);
    StoreTable t = {0};
    CHECK_MSG(store_read_table(path, &t, &err) == 0, "%s", err.msg);
    CHECK_MSG(t.data_files && strcmp(t.data_files, "train.bin 153700000 0123456789abcdef; "
                                                   "test.bin 30740000 fedcba9876543210") == 0,
              "data_files %s", t.data_files ? t.data_files : "(absent)");
    store_table_free(&t);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0);
    double v[8];
    CHECK(read_attr_doubles(file, "data_shape", v) == 3 && v[0] == 3 && v[1] == 32 && v[2] == 32);
    CHECK(read_attr_doubles(file, "data_mean", v) == 3 && v[0] == 0.25 && v[2] == 0.125);
    CHECK(read_attr_doubles(file, "data_std", v) == 3 && v[0] == 0.5 && v[2] == 1.0);
    CHECK(read_attr_doubles(file, "data_train_samples", v) == 1 && v[0] == 500);
    CHECK(read_attr_doubles(file, "data_test_samples", v) == 1 && v[0] == 100);
    H5Fclose(file);

    /* no statistics: empty arrays; created without a provenance: no data_ attributes */
    p.norm = NORM_UNIT;
    p.n_stats = 0;
    p.mean = p.std = NULL;
    tmp_path(path, sizeof path, "prov-unit.h5");
    CHECK_MSG(store_create(MPI_COMM_SELF, path, s, &p, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s",
              err.msg);
    file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(read_attr_doubles(file, "data_mean", v) == 0 && read_attr_doubles(file, "data_std", v) == 0);
    H5Fclose(file);
    CHECK_MSG(store_create(MPI_COMM_SELF, none, s, NULL, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s",
              err.msg);
    CHECK_MSG(store_read_table(none, &t, &err) == 0 && t.data_files == NULL, "%s", err.msg);
    store_table_free(&t);
    spec_free(s);
}

static void only_status_should_have_a_fill_value(void)
{
    Spec *s = make_spec(true);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "props.h5");
    BpsErr err;
    DataProvenance prov;
    make_provenance(&prov);
    CHECK_MSG(store_create(MPI_COMM_SELF, path, s, &prov, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s",
              err.msg);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0);
    if (file < 0) {
        spec_free(s);
        return;
    }
    Visit v = {0, 0};
    visit_group(file, "", &v);
    CHECK_MSG(v.n_bad == 0, "%d datasets with wrong properties", v.n_bad);

    /* Every dataset of the reference exists, and there are no others; every attribute
     * of the reference exists. */
    char *text = describe_text();
    int listed = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        char name[256];
        if (sscanf(line, "| `/%255[^`]`", name) == 1) {
            listed++;
            CHECK_MSG(H5Lexists(file, name, H5P_DEFAULT) > 0, "/%s listed but not in the file",
                      name);
        } else if (sscanf(line, "| `%255[^`]`", name) == 1) {
            CHECK_MSG(H5Aexists(file, name) > 0, "attribute %s listed but not in the file", name);
        }
    }
    free(text);
    CHECK_MSG(listed == v.n_datasets && listed > 30, "%d listed, %d in the file", listed,
              v.n_datasets);
    H5Fclose(file);
    spec_free(s);
}

static void unwritten_rows_should_stay_pending(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "fresh.h5");
    BpsErr err;
    CHECK_MSG(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s", err.msg);
    StoreTable t;
    int rc = store_read_table(path, &t, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    for (int64_t i = 0; rc == 0 && i < t.shape.n_points; i++)
        CHECK(t.status[i] == POINT_PENDING);
    store_table_free(&t);
    spec_free(s);
}

static void read_table_should_work_while_a_writer_holds_the_file(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "live.h5");
    BpsErr err;
    Store *st = NULL;
    if (!(st = new_store(s, path))) {
        spec_free(s);
        return;
    }
    PointResult r;
    make_result(s, 9, false, &r);
    RowInfo info = row_info(9);
    CHECK_MSG(store_write_row(st, &r, &info, &err) == 0, "%s", err.msg);
    point_result_free(&r);
    StoreTable t;
    int rc = store_read_table(path, &t, &err);
    CHECK_MSG(rc == 0, "reading while open for writing: %s", err.msg);
    CHECK(rc != 0 || (t.status[9] == POINT_DONE && t.status[0] == POINT_PENDING &&
                      t.scalar[M_final_test_acc][9] == value(9, M_final_test_acc, 0)));
    store_table_free(&t);
    CHECK(store_close(st, &err) == 0);
    spec_free(s);
}

/* ---- damage ----------------------------------------------------------------------------- */

static void expect_read_error(const char *path, const char *want);

/* XORs byte `byte` of row `row` of the contiguous 1-D or 2-D dataset name with mask. */
static void flip_byte(const char *path, const char *name, int64_t row, size_t byte,
                      unsigned char mask)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = f >= 0 ? H5Dopen2(f, name, H5P_DEFAULT) : -1;
    hid_t space = d >= 0 ? H5Dget_space(d) : -1, type = d >= 0 ? H5Dget_type(d) : -1;
    hsize_t dims[2] = {0, 1};
    int nd = space >= 0 ? H5Sget_simple_extent_dims(space, dims, NULL) : -1;
    haddr_t offset = d >= 0 ? H5Dget_offset(d) : HADDR_UNDEF;
    size_t row_bytes = type >= 0 ? H5Tget_size(type) * (nd == 2 ? dims[1] : 1) : 0;
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (d >= 0)
        H5Dclose(d);
    if (f >= 0)
        H5Fclose(f);
    CHECK_MSG(offset != HADDR_UNDEF && byte < row_bytes, "%s: no offset", name);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp != NULL);
    if (!fp || offset == HADDR_UNDEF)
        return;
    long at = (long)(offset + (haddr_t)row * row_bytes + byte);
    unsigned char c = 0;
    CHECK(fseek(fp, at, SEEK_SET) == 0 && fread(&c, 1, 1, fp) == 1);
    c ^= mask;
    CHECK(fseek(fp, at, SEEK_SET) == 0 && fwrite(&c, 1, 1, fp) == 1);
    fclose(fp);
}

/* A file with the done rows 0 and 9 written. */
static int write_two_rows(const Spec *s, const char *path, bool with_weights)
{
    BpsErr err;
    Store *st = new_store(s, path);
    if (!st)
        return -1;
    int rc = 0;
    for (int64_t i = 0; i <= 9 && rc == 0; i += 9) {
        PointResult r;
        make_result(s, i, with_weights, &r);
        RowInfo info = row_info(i);
        rc = store_write_row(st, &r, &info, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        point_result_free(&r);
    }
    CHECK(store_close(st, &err) == 0);
    return rc;
}

static void read_table_should_flag_a_flipped_byte_of_a_finished_row(void)
{
    Spec *s = make_spec(true);
    if (!s)
        return;
    const char *names[] = {"/points/key", "/metrics/final_test_acc", "/curves/test_acc",
                           "/run/host", "/run/checksum", "/weights", "/ntk/K1", "/status"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/flip%zu.h5", dir, k);
        if (write_two_rows(s, path, true) != 0)
            break;
        flip_byte(path, names[k], 9, 0, 0x10); /* status 1 -> 17: out of range */
        StoreTable t;
        BpsErr err;
        int rc = store_read_table(path, &t, &err);
        CHECK_MSG(rc == 0, "%s", err.msg);
        CHECK_MSG(rc != 0 || (t.n_damaged == 1 && t.damaged[9] && !t.damaged[0]),
                  "%s: %lld damaged", names[k], (long long)t.n_damaged);
        /* the damaged row reads as pending, with its coordinates from the spec */
        CHECK(rc != 0 || (t.status[9] == POINT_PENDING && t.status[0] == POINT_DONE &&
                          isnan(t.scalar[M_final_test_acc][9]) &&
                          t.seed[9] == (int64_t)s->seed[9 % s->n_seed]));
        store_table_free(&t);
    }
    spec_free(s);
}

static void readers_should_refuse_a_listed_metric_that_is_missing(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "nometric.h5");
    if (write_two_rows(s, path, false) != 0) {
        spec_free(s);
        return;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0 && H5Lmove(f, "/metrics/final_test_acc", f, "/metrics/renamed", H5P_DEFAULT,
                            H5P_DEFAULT) >= 0);
    if (f >= 0)
        H5Fclose(f);
    expect_read_error(path, "/metrics/final_test_acc is missing (the file's `metrics` attribute "
                      "lists it)");
    spec_free(s);
}

static void store_create_should_stop_when_asked(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024], tmp[1100];
    tmp_path(path, sizeof path, "stopped.h5");
    snprintf(tmp, sizeof tmp, "%s.creating", path);
    volatile sig_atomic_t stop = 1;
    BpsErr err;
    CHECK(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, &stop, &err) == STORE_STOPPED);
    CHECK(access(path, F_OK) != 0 && access(tmp, F_OK) != 0);
    stop = 0;
    CHECK_MSG(store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, &stop, &err) == 0, "%s", err.msg);
    spec_free(s);
}

static void reader_chunks_should_cover_every_row_once(void)
{
    Spec *s = make_spec(true);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "chunks.h5");
    if (write_two_rows(s, path, true) != 0) {
        spec_free(s);
        return;
    }
    StoreReader *r = NULL;
    BpsErr err;
    CHECK_MSG(store_reader_open(path, &r, &err) == 0, "%s", err.msg);
    StoreTable t = {0};
    int64_t next = 0, done = 0;
    int got;
    while (r && (got = store_reader_next(r, &t, &err)) == 1) {
        CHECK(t.first == next && t.n_rows > 0);
        for (int64_t i = 0; i < t.n_rows; i++)
            done += t.status[i] == POINT_DONE;
        next += t.n_rows;
    }
    CHECK(next == t.shape.n_points && done == 2);
    store_table_free(&t);
    store_reader_close(r);
    spec_free(s);
}

/* ---- writing refusals --------------------------------------------------------------------- */

static void store_write_row_should_refuse_what_does_not_fit(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "refuse.h5");
    BpsErr err;
    Store *st = NULL;
    if (!(st = new_store(s, path))) {
        spec_free(s);
        return;
    }
    PointResult r;
    make_result(s, 0, false, &r);
    RowInfo info = row_info(0);
    r.index = 16;
    CHECK(store_write_row(st, &r, &info, &err) != 0 && strstr(err.msg, "out of range"));
    r.index = 0;
    r.status = POINT_PENDING;
    CHECK(store_write_row(st, &r, &info, &err) != 0 && strstr(err.msg, "not a result"));
    r.status = POINT_DONE;
    r.metric_len[M_train_loss] = 6;
    r.metric[M_train_loss] = realloc(r.metric[M_train_loss], 6 * sizeof(double));
    CHECK(store_write_row(st, &r, &info, &err) != 0 && strstr(err.msg, "train_loss"));
    CHECK_MSG(strstr(err.msg, path) != NULL, "%s", err.msg);
    point_result_free(&r);
    CHECK(store_close(st, &err) == 0);
    CHECK(store_close(NULL, &err) == 0);
    StoreTable t;
    CHECK(store_read_table(path, &t, &err) == 0 && t.status[0] == POINT_PENDING);
    store_table_free(&t);
    spec_free(s);
}

/* ---- bad files ------------------------------------------------------------------------------ */

static void copy_prefix(const char *from, const char *to, long n)
{
    char *buf = NULL;
    size_t len = 0;
    BpsErr err;
    if (bps_read_file(from, &buf, &len, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    CHECK(test_write_bytes(to, buf, n < 0 ? len : (size_t)n) == 0);
    free(buf);
}

static void expect_read_error(const char *path, const char *want)
{
    StoreTable t;
    BpsErr err = {""};
    CHECK_MSG(store_read_table(path, &t, &err) != 0, "%s: read without error", path);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, want), "got \"%s\", want \"%s\"", err.msg,
              want);
    CHECK(t.key == NULL && t.spec_json == NULL); /* zeroed */
    store_table_free(&t);
    static int sentinel;
    Store *st = (Store *)(void *)&sentinel;
    CHECK(store_open(MPI_COMM_SELF, path, &st, &err) != 0 && st == NULL);
    CHECK_MSG(strstr(err.msg, path) && strstr(err.msg, want), "open: got \"%s\", want \"%s\"",
              err.msg, want);
}

static void bad_files_should_be_named_and_explained(void)
{
    char path[1024], good[1024];
    tmp_path(path, sizeof path, "missing.h5");
    expect_read_error(path, "No such file");

    tmp_path(path, sizeof path, "text.h5");
    const char *text = "index,key\n0,a\n";
    CHECK(test_write_bytes(path, text, strlen(text)) == 0);
    expect_read_error(path, "not an HDF5 file");

    tmp_path(path, sizeof path, "empty.h5");
    CHECK(test_write_bytes(path, "", 0) == 0);
    expect_read_error(path, "not an HDF5 file");
    struct stat st;
    CHECK_MSG(stat(path, &st) == 0 && st.st_size == 0, "store_open wrote into an empty file");

    tmp_path(path, sizeof path, "other.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f >= 0 && H5Fclose(f) >= 0);
    expect_read_error(path, "not a bpsweep results file");

    Spec *s = make_spec(false);
    if (!s)
        return;
    tmp_path(good, sizeof good, "good.h5");
    BpsErr err;
    CHECK_MSG(store_create(MPI_COMM_SELF, good, s, NULL, IN_SHAPE, N_OUT, NULL, &err) == 0, "%s", err.msg);
    spec_free(s);

    tmp_path(path, sizeof path, "newer.h5");
    copy_prefix(good, path, -1);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = f >= 0 ? H5Aopen(f, "format_version", H5P_DEFAULT) : -1;
    int64_t v2 = STORE_FORMAT_VERSION + 1;
    CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &v2) >= 0);
    if (a >= 0)
        H5Aclose(a);
    if (f >= 0)
        H5Fclose(f);
    expect_read_error(path, "written by a newer bpsweep");

    tmp_path(path, sizeof path, "truncated.h5");
    FILE *g = fopen(good, "rb");
    long size = 0;
    if (g) {
        fseek(g, 0, SEEK_END);
        size = ftell(g);
        fclose(g);
    }
    CHECK(size > 4096);
    copy_prefix(good, path, size / 2);
    expect_read_error(path, "truncated file");

    tmp_path(path, sizeof path, "stub.h5");
    copy_prefix(good, path, 100);
    expect_read_error(path, "truncated");
}

/* ---- a killed writer -------------------------------------------------------------------- */

/* Runs in a child forked before MPI_Init: creates, opens, writes 3 rows, and is killed
 * without closing. */
static void killed_writer_child(const char *path)
{
    MPI_Init(NULL, NULL);
    Spec *s = make_spec(false);
    BpsErr err;
    Store *st = NULL;
    if (!s || store_create(MPI_COMM_SELF, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0 ||
        store_open(MPI_COMM_SELF, path, &st, &err) != 0)
        _exit(3);
    for (int64_t i = 0; i < 16; i++) {
        if (expected(s, i).status == POINT_PENDING || i > 9)
            continue;
        PointResult r;
        make_result(s, i, false, &r);
        RowInfo info = row_info(i);
        if (store_write_row(st, &r, &info, &err) != 0)
            _exit(4);
        point_result_free(&r);
    }
    raise(SIGKILL);
    _exit(5);
}

static char killed_path[1024];
static int killed_status = -1;

static void killed_writer_should_leave_a_readable_file(void)
{
    CHECK_MSG(WIFSIGNALED(killed_status) && WTERMSIG(killed_status) == SIGKILL,
              "child status %d", killed_status);
    StoreTable t;
    BpsErr err;
    int rc = store_read_table(killed_path, &t, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    Spec *s = make_spec(false);
    for (int64_t i = 0; rc == 0 && s && i < t.shape.n_points; i++) {
        PointStatus want = i > 9 ? POINT_PENDING : expected(s, i).status;
        CHECK_MSG(t.status[i] == want, "%lld: %d", (long long)i, t.status[i]);
        if (want == POINT_DONE)
            CHECK(t.scalar[M_final_test_acc][i] == value(i, M_final_test_acc, 0));
    }
    spec_free(s);
    store_table_free(&t);
}

/* ---- export ------------------------------------------------------------------------------ */

static void export_csv_should_write_a_tidy_table(void)
{
    Spec *s = make_spec(false);
    if (!s)
        return;
    char h5[1024], csv[1024];
    tmp_path(h5, sizeof h5, "export.h5");
    tmp_path(csv, sizeof csv, "export.csv");
    if (create_and_write(h5, s, false) != 0) {
        spec_free(s);
        return;
    }
    BpsErr err;
    CHECK_MSG(export_csv(h5, csv, &err) == 0, "%s", err.msg);
    char *text = NULL;
    size_t len;
    CHECK(bps_read_file(csv, &text, &len, &err) == 0);
    if (!text) {
        spec_free(s);
        return;
    }
    char want_header[1024] = "index,key,arch,cond,weight_decay,norm_bias,seed,status,attempts,"
                             "epochs_run,diverged_epoch,param_hash,wall_seconds,rank,host";
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR) {
            strcat(want_header, ",");
            strcat(want_header, POINT_METRIC_DEFS[m].name);
        }
    strcat(want_header, "\n");
    CHECK_MSG(strncmp(text, want_header, strlen(want_header)) == 0, "header: %.300s", text);

    /* point 13: deep/long/wd=0/seed=12, diverged, attempts 2, rank 3 */
    char want13[1024];
    int n = snprintf(want13, sizeof want13,
                     "\n13,arch=deep/cond=long/wd=0/nb=0/seed=12,deep,long,0,0,12,"
                     "diverged,2,2,2,%016" PRIx64 ",14.5,3,\"node,01\"",
                     UINT64_C(0xfedcba9876543210) ^ 13u);
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
            n += snprintf(want13 + n, sizeof want13 - (size_t)n, ",%.17g", value(13, m, 0));
    snprintf(want13 + n, sizeof want13 - (size_t)n, "\n");
    CHECK_MSG(strstr(text, want13) != NULL, "no line %s", want13);
    /* point 1: pending, result columns empty */
    char want1[256] = "\n1,arch=small/cond=short/wd=0/nb=0/seed=12,small,short,0,0,12,pending";
    for (int k = 0; k < 7; k++) /* attempts .. host */
        strcat(want1, ",");
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
            strcat(want1, ",");
    strcat(want1, "\n");
    CHECK_MSG(strstr(text, want1), "no line %s", want1);
    /* point 6: failed, metrics nan */
    char want6[256] = ",failed,1,0,0,0000000000000000,0,1,\"node,01\"";
    for (int m = 0; m < N_METRICS; m++)
        if (POINT_METRIC_DEFS[m].kind == METRIC_SCALAR)
            strcat(want6, ",nan");
    strcat(want6, "\n");
    CHECK_MSG(strstr(text, want6), "no line ending %s", want6);
    int lines = 0;
    for (const char *p = text; *p; p++)
        lines += *p == '\n';
    CHECK(lines == 17);
    free(text);

    CHECK(export_csv(h5, "/nonexistent-dir/x.csv", &err) != 0);
    CHECK_MSG(strstr(err.msg, "/nonexistent-dir/x.csv"), "%s", err.msg);
    tmp_path(h5, sizeof h5, "nothing.h5");
    CHECK(export_csv(h5, csv, &err) != 0 && strstr(err.msg, h5));
    spec_free(s);
}

/* ---- the layout reference in docs/results-format.md ------------------------------------------ */

#define BEGIN_MARK "<!-- BEGIN GENERATED LAYOUT -->\n"
#define END_MARK "<!-- END GENERATED LAYOUT -->"

static void docs_path(char *buf, size_t n)
{
    const char *data = getenv("BPSWEEP_TEST_DATA"); /* <source>/tests/data */
    if (data && *data) {
        snprintf(buf, n, "%s/../../docs/results-format.md", data);
        return;
    }
    const char *slash = strrchr(__FILE__, '/'); /* <source>/tests/unit_store.c */
    snprintf(buf, n, "%.*s/../docs/results-format.md", slash ? (int)(slash - __FILE__) : 1,
             slash ? __FILE__ : ".");
}

static void docs_should_hold_the_current_layout(void)
{
    char path[1024];
    docs_path(path, sizeof path);
    char *doc = NULL, *want = describe_text();
    size_t len;
    BpsErr err;
    if (bps_read_file(path, &doc, &len, &err) != 0 || !want) {
        CHECK_MSG(0, "%s", err.msg);
        free(want);
        return;
    }
    char *begin = strstr(doc, BEGIN_MARK), *end = begin ? strstr(begin, END_MARK) : NULL;
    CHECK_MSG(begin && end, "%s: markers %s / %s not found", path, BEGIN_MARK, END_MARK);
    if (begin && end) {
        begin += strlen(BEGIN_MARK);
        bool same = (size_t)(end - begin) == strlen(want) && memcmp(begin, want, strlen(want)) == 0;
        const char *update = getenv("BPSWEEP_UPDATE_DOCS");
        if (!same && update && strcmp(update, "1") == 0) {
            size_t head = (size_t)(begin - doc), tail = strlen(end);
            char *out = malloc(head + strlen(want) + tail);
            memcpy(out, doc, head);
            memcpy(out + head, want, strlen(want));
            memcpy(out + head + strlen(want), end, tail);
            CHECK(bps_write_file_atomic(path, out, head + strlen(want) + tail, NULL, &err) == 0);
            printf("updated %s\n", path);
            free(out);
        } else {
            CHECK_MSG(same,
                      "%s is out of date with the layout table: rerun this test with "
                      "BPSWEEP_UPDATE_DOCS=1 to regenerate the text between the markers",
                      path);
        }
    }
    free(doc);
    free(want);
}

/* ---- speed --------------------------------------------------------------------------------- */

static void store_write_row_speed(void)
{
    enum { ROWS = 2000 };
    char *text = malloc(ROWS * 8 + 512);
    int n = sprintf(text, "{\"data\": {\"source\": \"synthetic\", \"n_train\": 64, \"n_test\": 32,"
                          " \"features\": 7, \"classes\": 3},"
                          " \"architectures\": [{\"name\": \"mlp\", \"hidden\": [16, 16]}],"
                          " \"train\": {\"epochs\": 10}, \"grid\": {\"seed\": [0");
    for (int i = 1; i < ROWS; i++)
        n += sprintf(text + n, ",%d", i);
    sprintf(text + n, "]}}");
    Spec *s = NULL;
    BpsErr err;
    CHECK_MSG(spec_parse(text, "speed.json", &s, &err) == 0, "%s", err.msg);
    free(text);
    if (!s)
        return;
    char path[1024];
    tmp_path(path, sizeof path, "speed.h5");
    Store *st = NULL;
    if (!(st = new_store(s, path))) {
        spec_free(s);
        return;
    }
    PointResult r;
    memset(&r, 0, sizeof r);
    r.status = POINT_DONE;
    r.epochs = r.epochs_run = 10;
    r.n_layers = 3;
    for (int m = 0; m < N_METRICS; m++) {
        MetricKind k = POINT_METRIC_DEFS[m].kind;
        r.metric_len[m] = k == METRIC_SCALAR ? 1 : k == METRIC_CURVE ? 10 : 3;
        r.metric[m] = malloc(10 * sizeof(double));
        for (int j = 0; j < 10; j++)
            r.metric[m][j] = m + j * 0.5;
    }
    RowInfo info = row_info(0);
    double t0 = bps_now();
    int failed = 0;
    for (int64_t i = 0; i < ROWS; i++) {
        r.index = i;
        failed += store_write_row(st, &r, &info, &err) != 0;
    }
    double dt = bps_now() - t0;
    CHECK_MSG(failed == 0, "%d rows failed: %s", failed, err.msg);
    CHECK(store_close(st, &err) == 0);
    printf("store_write_row: %d rows in %.3f s = %.0f rows/s (%d datasets per row)\n", ROWS, dt,
           ROWS / dt, N_METRICS + 11);
    point_result_free(&r);
    StoreTable t;
    CHECK(store_read_table(path, &t, &err) == 0);
    for (int64_t i = 0; t.status && i < ROWS; i++)
        if (t.status[i] != POINT_DONE) {
            CHECK_MSG(0, "row %lld not done", (long long)i);
            break;
        }
    store_table_free(&t);
    spec_free(s);
}

/* Under LeakSanitizer (the CI's sanitizer build): Open MPI keeps allocations until exit,
 * which are reported as leaks; suppress those by library, so that bpsweep's own code
 * stays leak-checked. Allocations of components Open MPI has unloaded are matched
 * through their callers in libmpi, hence full stacks. Unused without the sanitizer. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "fast_unwind_on_malloc=0";
}

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:mca_\n"
           "leak:libpmix.so\nleak:libhwloc.so\nleak:libevent\nleak:libubsan.so\n"
           "leak:vasprintf\n";
}

int main(void)
{
    /* Keep Open MPI's components loaded until exit, so that leak reports can name them. */
    setenv("OMPI_MCA_mca_base_component_disable_dlclose", "1", 0);
    dir = test_tmpdir();
    /* The killed writer runs before this process initialises MPI or HDF5. */
    snprintf(killed_path, sizeof killed_path, "%s/killed.h5", dir);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        killed_writer_child(killed_path);
    if (pid > 0)
        waitpid(pid, &killed_status, 0);

    MPI_Init(NULL, NULL);
    RUN(store_shape_should_follow_the_spec);
    RUN(store_create_should_refuse_an_existing_file);
    RUN(read_table_should_round_trip_every_value);
    RUN(curves_layers_and_weights_should_be_nan_padded);
    RUN(only_status_should_have_a_fill_value);
    RUN(data_attributes_should_record_the_provenance);
    RUN(unwritten_rows_should_stay_pending);
    RUN(read_table_should_work_while_a_writer_holds_the_file);
    RUN(store_write_row_should_refuse_what_does_not_fit);
    RUN(read_table_should_flag_a_flipped_byte_of_a_finished_row);
    RUN(readers_should_refuse_a_listed_metric_that_is_missing);
    RUN(store_create_should_stop_when_asked);
    RUN(reader_chunks_should_cover_every_row_once);
    RUN(bad_files_should_be_named_and_explained);
    RUN(killed_writer_should_leave_a_readable_file);
    RUN(export_csv_should_write_a_tidy_table);
    RUN(docs_should_hold_the_current_layout);
    RUN(store_write_row_speed);
    MPI_Finalize();
    return test_summary();
}
