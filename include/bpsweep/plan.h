/* plan: what a sweep will cost before it runs - points, core-hours and wall time from
 * a short calibration of the trainer on this machine, memory per rank, results-file
 * size - so a researcher can size a job before submitting it. No MPI. */
#ifndef BPSWEEP_PLAN_H
#define BPSWEEP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bpsweep/data.h"
#include "bpsweep/spec.h"
#include "bpsweep/util.h"

typedef struct {
    int arch, cond;            /* the (architecture, condition) group */
    size_t n_params;
    double step_seconds;       /* one optimizer step at the batch size: measured, or */
    bool scaled;               /* too large to time as is: timed at a smaller batch, or
                                  scaled by multiply-adds from a small net */
    double point_seconds;      /* estimated: one point of the group */
    size_t trainer_bytes;      /* memory of one trainer of the group (from its shape) */
} PlanGroup;

typedef struct {
    int64_t n_points;
    int ranks, workers;
    double core_seconds;       /* sum of point estimates */
    double wall_seconds;       /* longest-first over `workers` workers */
    size_t data_bytes;         /* training and test set: once per node */
    size_t rank_bytes;         /* largest trainer of any group */
    size_t file_bytes;         /* results file */
    int n_groups;
    PlanGroup *groups;         /* owned */
    const DataProvenance *data; /* not owned; set by the caller after plan_make (NULL: no
                                   data lines) */
} Plan;

/* Calibrates every (architecture, batch size) on train (a few steps each, about
 * 0.2 s; a net whose trainer would exceed 256 MiB at its batch size is timed at a
 * smaller batch, or, if not even a batch of 8 fits, scaled by multiply-adds from the MLP
 * D-256-256-K) and estimates the sweep on `ranks` MPI ranks (1 = serial; otherwise 1
 * coordinator and ranks - 1 workers). Free with plan_free. */
int plan_make(const Spec *spec, int ranks, const Dataset *train, const Dataset *test, Plan *plan,
              BpsErr *err);
void plan_free(Plan *plan);
void plan_print(FILE *out, const Spec *spec, const Plan *plan);

#endif
