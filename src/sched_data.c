/* sched_data: the data set of a sweep once per node, in MPI shared memory (see
 * sched_internal.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "bpsweep/agree.h"
#include "sched_internal.h"

static size_t align64(size_t n)
{
    return (n + 63) / 64 * 64;
}

/* Collective over comm: rank 0's *p (the data set's provenance) on every rank. */
static void provenance_bcast(MPI_Comm comm, DataProvenance *p)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    MPI_Bcast(p, (int)sizeof *p, MPI_BYTE, 0, comm); /* the pointers are replaced below */
    if (rank != 0) {
        p->mean = p->n_stats > 0 ? xmalloc((size_t)p->n_stats * sizeof(double)) : NULL;
        p->std = p->n_stats > 0 ? xmalloc((size_t)p->n_stats * sizeof(double)) : NULL;
    }
    if (p->n_stats > 0) {
        MPI_Bcast(p->mean, p->n_stats, MPI_DOUBLE, 0, comm);
        MPI_Bcast(p->std, p->n_stats, MPI_DOUBLE, 0, comm);
    }
}

/* Collective over comm: the first rank of every node loads the data set and copies
 * it into a shared-memory window; every rank of the node gets views into it. Byte
 * sources (IDX, CIFAR, HDF5 uint8) are loaded in the compact form (data.h): the window
 * holds the raw bytes and the per-channel tables of their normalised floats, a quarter
 * of the float form's size (CIFAR-10: 184 MB instead of 737 MB per node), and the
 * trainer converts each batch (bit for bit the floats; docs/data.md); float sources
 * (synthetic, HDF5 float32) are held as floats. Rank 0 (a node leader) also records the
 * data set's provenance (file checksums) into *prov, which every rank gets on success
 * (free with data_provenance_free; zeroed on failure). Returns the same result on every
 * rank; on failure err holds the message (on the ranks whose node leader saw it; others
 * get a generic one). */
int sched_data_load(MPI_Comm comm, const DataConfig *cfg, SharedData *sd,
                    DataProvenance *prov, BpsErr *err)
{
    int rank;
    MPI_Comm_rank(comm, &rank);
    memset(prov, 0, sizeof *prov);
    memset(sd, 0, sizeof *sd);
    sd->win = MPI_WIN_NULL;
    MPI_Comm node;
    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int node_rank;
    MPI_Comm_rank(node, &node_rank);

    Dataset tr = {0}, te = {0};
    /* failed, train n/d/classes, test n/d/classes, C, H, W, norm, tables (0: floats) */
    int64_t meta[12] = {0};
    if (node_rank == 0) {
        meta[0] = dataset_load_compact(cfg, &tr, &te, rank == 0 ? prov : NULL, err) != 0;
        meta[1] = tr.n, meta[2] = tr.d, meta[3] = tr.classes;
        meta[4] = te.n, meta[5] = te.d, meta[6] = te.classes;
        meta[7] = tr.c, meta[8] = tr.h, meta[9] = tr.w, meta[10] = tr.norm;
        meta[11] = tr.x8 ? tr.lut_c : 0;
    }
    MPI_Bcast(meta, 12, MPI_INT64_T, 0, node);
    /* every node agrees; the message is the first failing node leader's */
    if (agree_all(comm, meta[0] ? -1 : 0, err, NULL) != 0) {
        MPI_Comm_free(&node);
        data_provenance_free(prov); /* rank 0 whose node loaded it: another node failed */
        return -1;
    }
    provenance_bcast(comm, prov);
    const int lut_c = (int)meta[11];
    const size_t value = lut_c > 0 ? 1 : sizeof(float); /* bytes per stored pixel */
    /* layout: train x, train y, test x, test y, tables (lut_c, 256) floats */
    size_t x_tr = align64((size_t)meta[1] * (size_t)meta[2] * value);
    size_t y_tr = align64((size_t)meta[1]);
    size_t x_te = align64((size_t)meta[4] * (size_t)meta[5] * value);
    size_t y_te = align64((size_t)meta[4]);
    size_t lut = (size_t)lut_c * 256 * sizeof(float);
    size_t total = x_tr + y_tr + x_te + y_te + lut;
    unsigned char *base = NULL;
    MPI_Win_allocate_shared(node_rank == 0 ? (MPI_Aint)total : 0, 1, MPI_INFO_NULL, node, &base,
                            &sd->win);
    if (node_rank != 0) {
        MPI_Aint size;
        int disp;
        MPI_Win_shared_query(sd->win, 0, &size, &disp, &base);
    }
    MPI_Win_fence(0, sd->win); /* REQUIRED: opens the epoch in which the leader fills it */
    unsigned char *xs_tr = base, *xs_te = base + x_tr + y_tr;
    float *luts = lut_c > 0 ? (float *)(void *)(base + x_tr + y_tr + x_te + y_te) : NULL;
    if (node_rank == 0) {
        memcpy(xs_tr, lut_c ? (void *)tr.x8 : (void *)tr.x, (size_t)tr.n * (size_t)tr.d * value);
        memcpy(base + x_tr, tr.y, (size_t)tr.n);
        memcpy(xs_te, lut_c ? (void *)te.x8 : (void *)te.x, (size_t)te.n * (size_t)te.d * value);
        memcpy(base + x_tr + y_tr + x_te, te.y, (size_t)te.n);
        if (lut_c)
            memcpy(luts, tr.lut, lut); /* test's tables are the same (train's statistics) */
        dataset_free(&tr);
        dataset_free(&te);
    }
    MPI_Win_fence(0, sd->win); /* REQUIRED: the copies are visible to the node after it */
    MPI_Comm_free(&node);
    sd->train = (Dataset){.n = (int)meta[1], .d = (int)meta[2], .classes = (int)meta[3],
                          .y = base + x_tr, .borrowed = true,
                          .c = (int)meta[7], .h = (int)meta[8], .w = (int)meta[9],
                          .norm = (Normalization)meta[10]};
    sd->test = (Dataset){.n = (int)meta[4], .d = (int)meta[5], .classes = (int)meta[6],
                         .y = base + x_tr + y_tr + x_te, .borrowed = true,
                         .c = (int)meta[7], .h = (int)meta[8], .w = (int)meta[9],
                         .norm = (Normalization)meta[10]};
    if (lut_c) {
        sd->train.x8 = xs_tr, sd->train.lut = luts, sd->train.lut_c = lut_c;
        sd->test.x8 = xs_te, sd->test.lut = luts, sd->test.lut_c = lut_c;
    } else {
        sd->train.x = (float *)(void *)xs_tr;
        sd->test.x = (float *)(void *)xs_te;
    }
    return 0;
}

void sched_data_free(SharedData *sd)
{
    if (sd->win != MPI_WIN_NULL)
        MPI_Win_free(&sd->win);
}