/* sched: runs a sweep over MPI. Rank 0 coordinates (owns every point's state, leases
 * points to idle workers, longest first, keeps the progress file); ranks 1..P-1
 * train and write their own rows of the results file. With one rank the same code
 * runs the sweep serially. The training set is loaded once per node into MPI shared
 * memory. See docs/architecture.md for the protocol. */
#ifndef BPSWEEP_SCHED_H
#define BPSWEEP_SCHED_H

#include <mpi.h>
#include <stdbool.h>
#include <stdio.h>

#include "bpsweep/spec.h"

typedef struct {
    const char *output;          /* results file: created, or resumed if it exists */
    int max_attempts;            /* attempts per point before it stays failed (>= 1) */
    bool retry_failed;           /* resume: failed points get max_attempts new attempts */
    double progress_interval;    /* seconds between plain progress lines when the log
                                    is not a terminal */
    double checkpoint_interval;  /* seconds between checkpoints of an in-flight point */
    double deadline;             /* Unix time the job ends (0: none) */
    double drain_seconds;        /* stop this long before the deadline */
    bool log_points;             /* a log line for every point that ends or stops */
    FILE *log;                   /* rank 0's progress and messages (stderr) */
} SweepOptions;

/* Collective over comm: runs every pending point of spec into opt->output - a new
 * file, or an existing one of the same spec, which is resumed (finished points are
 * kept, interrupted ones continue from their checkpoints in "<output>.ckpt/"). Holds
 * "<output>.lock" while it runs. SIGTERM, SIGINT and SIGUSR1, and the deadline, stop it
 * cleanly: no new leases, in-flight points checkpointed at their next step, the file
 * closed; a second signal ends the process at once. Returns the exit code, the same on
 * every rank: BPS_EXIT_OK, BPS_EXIT_INCOMPLETE (stopped: run again to resume),
 * BPS_EXIT_POINTS_FAILED, BPS_EXIT_BADINPUT (data, spec mismatch, lock, output file;
 * reported by rank 0) or BPS_EXIT_ERROR. A rank-local I/O failure while rows are
 * written aborts the job (MPI_Abort) after printing the reason.
 *
 * Test hooks, read from the environment:
 *   BPSWEEP_TRACE=file        append "<point> start <rank> <attempt>" when a point
 *                             starts or continues, "<point> <epoch> <rank>" at every
 *                             epoch start (also when an epoch continues from a
 *                             checkpoint), "<point> stop <rank> <epoch>" when it is
 *                             interrupted and "<point> done <rank>" once its row is
 *                             written (O_APPEND: lines of all ranks interleave whole);
 *   BPSWEEP_INJECT_FAIL=i,j   points i, j fail their first attempt (a transient fault). */
int sched_run(MPI_Comm comm, const Spec *spec, const SweepOptions *opt);

#endif
