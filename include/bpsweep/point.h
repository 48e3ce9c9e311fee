/* point: trains one grid point from start (or from a saved trainer state) to its
 * result. Glue between the sweep description (spec, grid) and the numerics (train,
 * metrics); knows nothing of MPI or HDF5, so `bpsweep train` and the sweep workers
 * share it. */
#ifndef BPSWEEP_POINT_H
#define BPSWEEP_POINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/metrics.h"
#include "bpsweep/spec.h"
#include "bpsweep/train.h"

typedef enum {
    POINT_PENDING = 0,
    POINT_DONE = 1,
    POINT_DIVERGED = 2,
    POINT_FAILED = 3,
} PointStatus;

typedef struct {
    int64_t index;
    char key[GRID_KEY_MAX];
    PointStatus status;
    int epochs;                      /* epochs of the training settings */
    int epochs_run;                  /* epochs completed (< epochs if stopped or diverged) */
    int diverged_epoch;              /* 1-based; 0 if the run did not diverge */
    EpochMetrics *history;           /* (epochs) per-epoch curves; owned */
    double final_train_loss;         /* evaluation mode on the whole training set */
    double final_train_acc;
    double final_test_loss;
    double final_test_acc;
    double param_norm;               /* ||theta||_2 */
    int n_layers;
    LayerStats *layers;              /* (n_layers); owned */
    uint64_t param_hash;
    size_t n_params;
    double wall_seconds;             /* training and measurement time of this process */
} PointResult;

typedef struct {
    const char *load_state;          /* continue from this trainer-state file, or NULL */
    const char *save_state;          /* write the trainer state here when stopping early */
    int stop_after;                  /* stop after this many epochs (0 = run to the end) */
    FILE *log;                       /* one line per epoch, or NULL */
    TrainStepHook hook;              /* optional per-step hook (tests) */
    void *hook_ctx;
} PointOptions;

/* Trains point `index` of spec on train/test. Returns 0 with *res filled (status
 * done, diverged, or pending when stopped early by stop_after), or non-zero with err
 * set for failures (bad state file, I/O). Free the result with point_result_free. */
int point_train(const Spec *spec, int64_t index, const Dataset *train, const Dataset *test,
                const PointOptions *opt, PointResult *res, BpsErr *err);

void point_result_free(PointResult *res);

const char *point_status_name(PointStatus s);

#endif
