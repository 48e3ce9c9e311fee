/* sched: runs a sweep over MPI. Rank 0 coordinates (owns every point's state, leases
 * points to idle workers, longest first, keeps the progress file); ranks 1..P-1
 * train and write their own rows of the results file. With one rank the same code
 * runs the sweep serially. The training set is loaded once per node into MPI shared
 * memory. See docs/architecture.md for the protocol. */
#ifndef BPSWEEP_SCHED_H
#define BPSWEEP_SCHED_H

#include <mpi.h>
#include <stdio.h>

#include "bpsweep/spec.h"

typedef struct {
    const char *output;          /* results file (must not exist yet) */
    int max_attempts;            /* attempts per point before it stays failed (>= 1) */
    double progress_interval;    /* seconds between plain progress lines when the log
                                    is not a terminal */
    FILE *log;                   /* rank 0's progress and messages (stderr) */
} SweepOptions;

/* Collective over comm: runs every point of spec into opt->output. Returns the
 * process exit code, the same on every rank: BPS_EXIT_OK, BPS_EXIT_POINTS_FAILED,
 * BPS_EXIT_BADINPUT (data or output file problems, reported by rank 0) or
 * BPS_EXIT_ERROR. A rank-local I/O failure while rows are written aborts the job
 * (MPI_Abort) after printing the reason.
 *
 * Test hooks, read from the environment:
 *   BPSWEEP_TRACE=file        append "<point> <epoch> <rank>" at every epoch start and
 *                             "<point> start <rank> <attempt>" at every point start
 *                             (O_APPEND, so lines of all ranks interleave whole);
 *   BPSWEEP_INJECT_FAIL=i,j   points i, j fail their first attempt (a transient fault). */
int sched_run(MPI_Comm comm, const Spec *spec, const SweepOptions *opt);

#endif
