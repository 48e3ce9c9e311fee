/* What the scheduler's sources share (sched.c: the protocol and the run;
 * sched_data.c: the data set once per node; sched_resume.c: an existing results file
 * and the checkpoint folder). Not a public header. */
#ifndef BPSWEEP_SCHED_INTERNAL_H
#define BPSWEEP_SCHED_INTERNAL_H

#include <mpi.h>
#include <stdio.h>

#include "bpsweep/data.h"
#include "bpsweep/spec.h"
#include "bpsweep/store.h"
#include "bpsweep/util.h"

/* The data set of a sweep in MPI shared memory, one copy per node; train and test are
 * views into the window (borrowed). */
typedef struct {
    MPI_Win win;
    Dataset train, test;
} SharedData;

/* Collective over comm: loads the data set once per node into *sd and rank 0's data
 * provenance into *prov on every rank (free with data_provenance_free; zeroed on
 * failure). Returns the same result on every rank, 0 or -1 with err (the first failing
 * node leader's message). Free sd with sched_data_free, also after a failure. */
int sched_data_load(MPI_Comm comm, const DataConfig *cfg, SharedData *sd,
                    DataProvenance *prov, BpsErr *err);
void sched_data_free(SharedData *sd);

/* Rank 0: *exists says whether path exists; if it does, it must hold the same sweep,
 * and *table gets what the coordinator needs of it (status, attempts, final test
 * accuracy; free with store_table_free, also after an error). Returns 0 or -1 with err. */
int sched_check_existing(const char *path, const Spec *spec, StoreTable *table, int *exists,
                         FILE *log, BpsErr *err);

/* Rank 0: "<output>.ckpt" is absent or a real directory. Returns 0 or -1 with err. */
int sched_check_checkpoint_dir(const char *output, BpsErr *err);

/* Rank 0: makes the checkpoint folder dir and removes the checkpoints of points that
 * table (NULL: a new file) has finished. */
void sched_prepare_checkpoints(const char *dir, const StoreTable *table, FILE *log);

#endif
