/* lease: the coordinator's book-keeping, without MPI - which points are pending,
 * running, finished; how long each kind of point takes; which point to hand out next.
 *
 * Points are grouped by (architecture, condition): group = arch * n_cond + cond. A
 * group's estimated seconds per point start from a model cost (parameters x samples x
 * epochs) scaled by the seconds per cost unit measured so far over all groups, and
 * become the group's own measured mean once one of its points has finished. The next
 * lease goes to the pending point of the most expensive group (longest first, so the
 * slowest points do not end the sweep alone), in index order within the group.
 *
 * A failed point is retried up to max_attempts, preferably on another worker; after
 * that it stays failed. */
#ifndef BPSWEEP_LEASE_H
#define BPSWEEP_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "bpsweep/point.h"

typedef enum {
    LEASE_PENDING = 0,
    LEASE_RUNNING,
    LEASE_DONE,
    LEASE_DIVERGED,
    LEASE_FAILED,     /* failed for the last time */
} LeaseState;

typedef struct {
    int64_t pending, running, done, diverged, failed;
} LeaseCounts;

typedef struct Leases Leases;

/* n_points points in n_groups groups; group_of(point) = point / points_per_group
 * (the grid order puts architecture and condition outermost). model_cost (n_groups):
 * relative cost per point of each group. */
Leases *lease_new(int64_t n_points, int n_groups, const double *model_cost, int max_attempts,
                  int n_workers);
void lease_free(Leases *l);

/* Restores a point's state from a results file (resume): finished points are never
 * leased; a pending point keeps the attempts it already used. */
void lease_restore(Leases *l, int64_t point, LeaseState state, int attempts);

/* The next point for `worker` whose estimate is at most max_seconds (INFINITY: any),
 * marked running with its attempt counted, or -1 when no pending point fits. A retried
 * point is not given to the worker it failed on while other work is pending. */
int64_t lease_next(Leases *l, int worker, double max_seconds);

/* A worker finished `point` with status after `seconds` of training. Returns the new
 * state: FAILED points with attempts left go back to PENDING. */
LeaseState lease_finish(Leases *l, int64_t point, PointStatus status, double seconds, int worker);

/* Puts a running point back to pending without counting an attempt (an interrupted
 * point, resumed later). */
void lease_release(Leases *l, int64_t point);

LeaseState lease_state(const Leases *l, int64_t point);
int lease_attempts(const Leases *l, int64_t point);
LeaseCounts lease_counts(const Leases *l);
/* Counts over the points [first, end) (e.g. one architecture's). */
LeaseCounts lease_counts_in(const Leases *l, int64_t first, int64_t end);
bool lease_all_finished(const Leases *l);

/* Estimated seconds for one point of the point's group. Before any point has finished
 * the model cost stands in (relative, not seconds: see lease_calibrated). */
double lease_estimate(const Leases *l, int64_t point);

/* True once a point has finished, so that estimates are in seconds. */
bool lease_calibrated(const Leases *l);

/* Estimated seconds of work left: pending plus half of running, summed; NaN until a
 * point has finished (model costs have no time unit before that). */
double lease_remaining_seconds(const Leases *l);

#endif
