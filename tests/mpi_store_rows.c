/* mpi_store_rows: the results file written by several ranks at once.
 *
 *     tests/mpirun.sh NP mpi_store_rows [DIR]
 *
 * Every rank takes part in creating and opening the file, then writes the rows of the
 * points i with i % NP == rank (interleaved, so neighbouring rows come from different
 * ranks), leaving every seventh point pending; after the collective close rank 0 reads
 * the table and every curve, layer and weight row back and checks each value. The grid
 * has 28 points, which 3 or 5 ranks do not divide (the /points block of each rank at
 * creation is uneven too). Also checks that every rank gets the same error from creating
 * an existing file and from opening a file that is not a results file. Exits non-zero on
 * any failure, with the same code on every rank. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/store.h"

#include <hdf5.h>
#include <inttypes.h>
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_store.h"
#include "test_util.h"

#define N_IN 5
#define IN_SHAPE ((Shape){N_IN, 1, 1})
#define N_OUT 4

/* 2 architectures (2 and 3 dense layers) x 2 conditions (2 and 4 epochs) x 7 seeds */
static const char *SPEC_TEXT =
    "{\"name\": \"mpi-rows\","
    " \"data\": {\"source\": \"synthetic\", \"n_train\": 64, \"n_test\": 32, \"features\": 5,"
    "          \"classes\": 4},"
    " \"architectures\": [{\"name\": \"one\", \"hidden\": [6]},"
    "                   {\"name\": \"two\", \"hidden\": [3, 7]}],"
    " \"grid\": {\"seed\": [1, 2, 3, 4, 5, 6, 7],"
    "          \"conditions\": [{\"name\": \"a\", \"train\": {\"epochs\": 2}},"
    "                          {\"name\": \"b\", \"train\": {\"epochs\": 4}}]},"
    " \"output\": {\"store_weights\": true}}";

static double value(int64_t i, int m, int j)
{
    return (double)i * 1000.0 + m * 10.0 + j + 0.5;
}

static PointStatus status_of(int64_t i)
{
    if (i % 7 == 3)
        return POINT_PENDING;
    if (i % 5 == 4)
        return POINT_DIVERGED;
    if (i % 11 == 10)
        return POINT_FAILED;
    return POINT_DONE;
}

/* Epochs run, dense layers and parameters of point i. */
static void point_sizes(const Spec *s, int64_t i, int *epochs, int *layers, size_t *params)
{
    NetConfig net;
    TrainConfig tc;
    uint64_t seed;
    grid_point_config(s, grid_point(s, i), IN_SHAPE, N_OUT, &net, &tc, &seed);
    *epochs = status_of(i) == POINT_DIVERGED ? 1 : tc.epochs;
    *layers = net.n_hidden + 1;
    *params = nn_param_count(&net);
}

static int write_my_rows(Store *st, const Spec *s, int rank, int size, const char *host)
{
    int failures = 0;
    for (int64_t i = rank; i < grid_size(s); i += size) {
        PointStatus status = status_of(i);
        if (status == POINT_PENDING)
            continue;
        PointResult r;
        memset(&r, 0, sizeof r);
        r.index = i;
        r.status = status;
        if (status == POINT_FAILED) {
            snprintf(r.message, sizeof r.message, "point %lld failed on rank %d", (long long)i,
                     rank);
        } else {
            int epochs, layers;
            size_t params;
            point_sizes(s, i, &epochs, &layers, &params);
            r.epochs_run = epochs;
            r.diverged_epoch = status == POINT_DIVERGED ? 1 : 0;
            r.n_layers = layers;
            r.n_params = params;
            r.param_hash = UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1);
            r.wall_seconds = 0.5 * (double)i;
            for (int m = 0; m < N_METRICS; m++) {
                MetricKind k = POINT_METRIC_DEFS[m].kind;
                int n = k == METRIC_SCALAR ? 1 : k == METRIC_CURVE ? epochs : layers;
                r.metric_len[m] = n;
                r.metric[m] = malloc((size_t)n * sizeof(double));
                for (int j = 0; j < n; j++)
                    r.metric[m][j] = value(i, m, j);
            }
            r.weights = malloc(params * sizeof(float));
            for (size_t j = 0; j < params; j++)
                r.weights[j] = (float)i + (float)j / 256.0f;
        }
        RowInfo info = {rank, "", 1 + (int)(i % 2), 1.7e9 + (double)i};
        snprintf(info.host, sizeof info.host, "%s", host);
        BpsErr err;
        if (store_write_row(st, &r, &info, &err) != 0) {
            fprintf(stderr, "rank %d: row %lld: %s\n", rank, (long long)i, err.msg);
            failures++;
        }
        point_result_free(&r);
    }
    return failures;
}

/* Rank 0, after the close: every value of every row, read serially. */
static void check_file(const char *path, const Spec *s, int size)
{
    StoreTable t;
    BpsErr err;
    if (store_read_table(path, &t, &err) != 0) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    CHECK(t.shape.n_points == 28 && t.shape.max_epochs == 4 && t.shape.max_layers == 3);
    for (int64_t i = 0; i < t.shape.n_points; i++) {
        char key[GRID_KEY_MAX];
        grid_key(s, grid_point(s, i), key, sizeof key);
        CHECK_MSG(strcmp(t.key[i], key) == 0, "row %lld: key %s", (long long)i, t.key[i]);
        PointStatus want = status_of(i);
        CHECK_MSG(t.status[i] == want, "row %lld: status %d, want %d", (long long)i, t.status[i],
                  want);
        if (want == POINT_PENDING)
            continue;
        CHECK_MSG(t.rank[i] == i % size, "row %lld: rank %d", (long long)i, t.rank[i]);
        CHECK(t.attempts[i] == 1 + (int)(i % 2) && t.finished[i] == 1.7e9 + (double)i);
        if (want == POINT_FAILED) {
            char msg[POINT_MESSAGE_MAX];
            snprintf(msg, sizeof msg, "point %lld failed on rank %d", (long long)i,
                     (int)(i % size));
            CHECK_MSG(strcmp(t.message[i], msg) == 0, "row %lld: %s", (long long)i, t.message[i]);
            continue;
        }
        int epochs, layers;
        size_t params;
        point_sizes(s, i, &epochs, &layers, &params);
        CHECK(t.epochs_run[i] == epochs && t.n_params[i] == (int64_t)params);
        CHECK(t.param_hash[i] == UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(i + 1));
        for (int m = 0; m < N_METRICS; m++)
            if (t.scalar[m])
                CHECK_MSG(t.scalar[m][i] == value(i, m, 0), "row %lld %s", (long long)i,
                          POINT_METRIC_DEFS[m].name);
    }
    store_table_free(&t);

    /* curves, layers and weights, with their NaN padding */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(file >= 0);
    if (file < 0)
        return;
    long bad = 0;
    for (int m = 0; m < N_METRICS + 1; m++) {
        MetricKind k = m < N_METRICS ? POINT_METRIC_DEFS[m].kind : METRIC_SCALAR;
        if (m < N_METRICS && k == METRIC_SCALAR)
            continue;
        char name[128];
        if (m == N_METRICS)
            snprintf(name, sizeof name, "/weights");
        else
            snprintf(name, sizeof name, "/%s/%s", k == METRIC_CURVE ? "curves" : "layers",
                     POINT_METRIC_DEFS[m].name);
        hid_t d = H5Dopen2(file, name, H5P_DEFAULT), sp = d >= 0 ? H5Dget_space(d) : -1;
        hsize_t dims[2] = {0, 0};
        if (sp < 0 || H5Sget_simple_extent_dims(sp, dims, NULL) != 2) {
            CHECK_MSG(0, "%s missing or not 2-D", name);
            continue;
        }
        double *v = malloc(dims[0] * dims[1] * sizeof *v);
        CHECK(H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        for (hsize_t i = 0; i < dims[0]; i++) {
            PointStatus st = status_of((int64_t)i);
            if (st == POINT_PENDING)
                continue;
            int epochs, layers;
            size_t params;
            point_sizes(s, (int64_t)i, &epochs, &layers, &params);
            size_t len = st == POINT_FAILED ? 0
                         : m == N_METRICS  ? params
                         : k == METRIC_CURVE ? (size_t)epochs
                                             : (size_t)layers;
            for (hsize_t j = 0; j < dims[1]; j++) {
                double got = v[i * dims[1] + j];
                double want = m == N_METRICS ? (double)((float)i + (float)j / 256.0f)
                                             : value((int64_t)i, m, (int)j);
                bad += j < len ? got != want : !isnan(got);
            }
        }
        free(v);
        H5Sclose(sp);
        H5Dclose(d);
    }
    CHECK_MSG(bad == 0, "%ld curve, layer or weight values differ", bad);
    H5Fclose(file);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    char dir[512] = "";
    if (argc > 1)
        snprintf(dir, sizeof dir, "%s", argv[1]);
    else if (rank == 0)
        snprintf(dir, sizeof dir, "%s", test_tmpdir());
    MPI_Bcast(dir, (int)sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    char path[1024], other[1024], host[STORE_HOST_MAX] = "";
    snprintf(path, sizeof path, "%s/rows-%d.h5", dir, size);
    snprintf(other, sizeof other, "%s/not-results-%d.h5", dir, size);
    gethostname(host, sizeof host - 1);

    Spec *s = NULL;
    BpsErr err;
    if (spec_parse(SPEC_TEXT, "mpi.json", &s, &err) != 0) {
        fprintf(stderr, "rank %d: %s\n", rank, err.msg);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    int rc = store_create(MPI_COMM_WORLD, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err);
    CHECK_MSG(rc == 0, "rank %d: create: %s", rank, err.msg);
    /* errors every rank sees alike: every rank returns the same message */
    CHECK(store_create(MPI_COMM_WORLD, path, s, NULL, IN_SHAPE, N_OUT, NULL, &err) != 0);
    CHECK_MSG(strstr(err.msg, "already exists") && strncmp(err.msg, "rank", 4) != 0,
              "rank %d: %s", rank, err.msg);
    if (rank == 0)
        CHECK(test_write_bytes(other, "not hdf5\n", 9) == 0);
    MPI_Barrier(MPI_COMM_WORLD);
    Store *st = NULL;
    CHECK(store_open(MPI_COMM_WORLD, other, &st, &err) != 0 && st == NULL);
    CHECK_MSG(strstr(err.msg, "not an HDF5 file"), "rank %d: %s", rank, err.msg);

    double t0 = MPI_Wtime();
    if (rc == 0 && (rc = store_open(MPI_COMM_WORLD, path, &st, &err)) != 0)
        CHECK_MSG(0, "rank %d: open: %s", rank, err.msg);
    if (rc == 0) {
        int failures = write_my_rows(st, s, rank, size, host);
        CHECK_MSG(failures == 0, "rank %d: %d rows failed", rank, failures);
        rc = store_close(st, &err);
        CHECK_MSG(rc == 0, "rank %d: close: %s", rank, err.msg);
    }
    double dt = MPI_Wtime() - t0;
    if (rank == 0 && rc == 0) {
        check_file(path, s, size);
        printf("mpi_store_rows: %d ranks, %lld points, open + rows + close in %.3f s\n", size,
               (long long)grid_size(s), dt);
    }
    spec_free(s);
    int mine = test_failures, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    if (rank == 0)
        printf("%s\n", all ? "FAILED" : "all checks passed");
    return all ? 1 : 0;
}
