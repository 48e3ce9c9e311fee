/* lease: every point leased once, longest group first, retries on another worker,
 * estimates refined by measurements, release of interrupted points. */
#include <math.h>
#include <string.h>

#include "bpsweep/lease.h"
#include "test_util.h"

static void every_point_should_be_leased_exactly_once(void)
{
    double cost[3] = {1, 5, 2};
    Leases *l = lease_new(12, 3, cost, 3, 2);
    int seen[12] = {0};
    int64_t p, order[12];
    int n = 0;
    while ((p = lease_next(l, n % 2, INFINITY)) >= 0) {
        CHECK(p < 12);
        seen[p]++;
        order[n++] = p;
    }
    CHECK(n == 12);
    for (int i = 0; i < 12; i++)
        CHECK(seen[i] == 1);
    /* group 1 (points 4..7) is the most expensive, then group 2, then group 0 */
    CHECK(order[0] == 4 && order[3] == 7 && order[4] == 8 && order[8] == 0);
    LeaseCounts c = lease_counts(l);
    CHECK(c.running == 12 && c.pending == 0);
    CHECK(!lease_all_finished(l));
    for (int i = 0; i < 12; i++)
        lease_finish(l, i, POINT_DONE, 1.0, 0);
    CHECK(lease_all_finished(l));
    CHECK(lease_counts(l).done == 12);
    lease_free(l);
}

static void measured_times_should_reorder_groups(void)
{
    double cost[2] = {1, 2};
    Leases *l = lease_new(8, 2, cost, 3, 1);
    int64_t a = lease_next(l, 0, INFINITY);
    CHECK(a == 4); /* model says group 1 */
    lease_finish(l, a, POINT_DONE, 0.1, 0);
    /* group 1 measured at 0.1 s; group 0 estimated 1 unit x (0.1 s / 2 units) = 0.05 s */
    CHECK(lease_next(l, 0, INFINITY) == 5);
    lease_finish(l, 5, POINT_DONE, 0.1, 0);
    int64_t b = lease_next(l, 0, INFINITY);
    CHECK(b == 6);
    lease_finish(l, b, POINT_DONE, 10.0, 0); /* group 1 now 3.4 s mean */
    CHECK(lease_estimate(l, 0) > 0 && lease_estimate(l, 7) > 3.0);
    lease_free(l);
}

static void failed_point_should_retry_on_another_worker(void)
{
    double cost[1] = {1};
    Leases *l = lease_new(4, 1, cost, 2, 2);
    int64_t p = lease_next(l, 0, INFINITY);
    CHECK(p == 0);
    CHECK(lease_finish(l, p, POINT_FAILED, 0.1, 0) == LEASE_PENDING);
    /* worker 0 asks again: it gets fresh work, not its own failure */
    CHECK(lease_next(l, 0, INFINITY) == 1);
    /* worker 1 gets the retry */
    CHECK(lease_next(l, 1, INFINITY) == 0);
    CHECK(lease_attempts(l, 0) == 2);
    CHECK(lease_finish(l, 0, POINT_FAILED, 0.1, 1) == LEASE_FAILED); /* out of attempts */
    CHECK(lease_counts(l).failed == 1);
    CHECK(lease_next(l, 1, INFINITY) == 2);
    CHECK(lease_next(l, 1, INFINITY) == 3);
    CHECK(lease_next(l, 1, INFINITY) == -1);
    lease_free(l);
}

static void retry_should_fall_back_to_same_worker_when_nothing_else(void)
{
    double cost[1] = {1};
    Leases *l = lease_new(1, 1, cost, 3, 2);
    CHECK(lease_next(l, 0, INFINITY) == 0);
    lease_finish(l, 0, POINT_FAILED, 0.1, 0);
    CHECK(lease_next(l, 0, INFINITY) == 0);
    CHECK(lease_attempts(l, 0) == 2);
    lease_free(l);
}

static void deadline_should_limit_leases_to_points_that_fit(void)
{
    double cost[2] = {1, 4};
    Leases *l = lease_new(4, 2, cost, 3, 1);
    int64_t p = lease_next(l, 0, INFINITY);
    CHECK(p == 2);
    lease_finish(l, p, POINT_DONE, 4.0, 0); /* group 1: 4 s, so group 0 about 1 s */
    CHECK(lease_next(l, 0, 2.0) == 0);       /* group 1 does not fit in 2 s */
    CHECK(lease_next(l, 0, 0.5) == -1);
    CHECK(lease_next(l, 0, 5.0) == 3);
    lease_free(l);
}

static void released_and_marked_points_should_be_handled(void)
{
    double cost[2] = {1, 1};
    Leases *l = lease_new(6, 2, cost, 3, 1);
    lease_restore(l, 0, LEASE_DONE, 1);
    lease_restore(l, 1, LEASE_FAILED, 3);
    int64_t p = lease_next(l, 0, INFINITY);
    CHECK(p == 2);
    lease_release(l, p);
    CHECK(lease_attempts(l, p) == 0);
    CHECK(lease_next(l, 0, INFINITY) == 2); /* released points come back */
    int n = 1;
    while (lease_next(l, 0, INFINITY) >= 0)
        n++;
    CHECK(n == 4); /* 2, 3, 4, 5 */
    /* a pending point restored with attempts used keeps counting */
    Leases *m = lease_new(2, 1, cost, 3, 1);
    lease_restore(m, 1, LEASE_PENDING, 2);
    CHECK(lease_next(m, 0, INFINITY) == 0 && lease_next(m, 0, INFINITY) == 1 && lease_attempts(m, 1) == 3);
    lease_free(m);
    lease_free(l);
}

int main(void)
{
    RUN(every_point_should_be_leased_exactly_once);
    RUN(measured_times_should_reorder_groups);
    RUN(failed_point_should_retry_on_another_worker);
    RUN(retry_should_fall_back_to_same_worker_when_nothing_else);
    RUN(deadline_should_limit_leases_to_points_that_fit);
    RUN(released_and_marked_points_should_be_handled);
    return test_summary();
}
