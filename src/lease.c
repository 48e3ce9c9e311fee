/* lease: point states, cost estimates and the choice of the next point. */
#include "bpsweep/lease.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "bpsweep/util.h"

typedef struct {
    int64_t first, end;   /* the group's points are [first, end) */
    int64_t next;         /* first index not yet examined by the queue scan */
    double model_cost;    /* relative cost per point */
    double measured_sum;  /* seconds over finished points */
    int64_t measured_n;
} Group;

struct Leases {
    int64_t n_points;
    int n_groups;
    int max_attempts;
    int n_workers;
    uint8_t *state;       /* (n_points) LeaseState */
    uint8_t *attempts;    /* (n_points) */
    int32_t *avoid;       /* (n_points) worker a retry should avoid, -1 none */
    Group *group;         /* (n_groups) */
    int64_t *retry;       /* pending retries, in order of failure */
    int64_t n_retry, cap_retry;
    double cost_seconds_sum, cost_units_sum; /* over all finished points */
    LeaseCounts counts;
};

Leases *lease_new(int64_t n_points, int n_groups, const double *model_cost, int max_attempts,
                  int n_workers)
{
    assert(n_groups > 0 && n_points % n_groups == 0 && max_attempts >= 1);
    Leases *l = xcalloc(1, sizeof *l);
    l->n_points = n_points;
    l->n_groups = n_groups;
    l->max_attempts = max_attempts > 255 ? 255 : max_attempts;
    l->n_workers = n_workers;
    l->state = xcalloc((size_t)n_points, 1);
    l->attempts = xcalloc((size_t)n_points, 1);
    l->avoid = xmalloc((size_t)n_points * sizeof *l->avoid);
    for (int64_t i = 0; i < n_points; i++)
        l->avoid[i] = -1;
    l->group = xcalloc((size_t)n_groups, sizeof *l->group);
    int64_t per = n_points / n_groups;
    for (int g = 0; g < n_groups; g++) {
        l->group[g].first = l->group[g].next = g * per;
        l->group[g].end = (g + 1) * per;
        l->group[g].model_cost = model_cost[g] > 0 ? model_cost[g] : 1.0;
    }
    l->counts.pending = n_points;
    return l;
}

void lease_free(Leases *l)
{
    if (!l)
        return;
    free(l->state);
    free(l->attempts);
    free(l->avoid);
    free(l->group);
    free(l->retry);
    free(l);
}

static int group_of(const Leases *l, int64_t point)
{
    return (int)(point / (l->n_points / l->n_groups));
}

static int64_t *count_of(LeaseCounts *c, LeaseState s)
{
    switch (s) {
    case LEASE_PENDING:
        return &c->pending;
    case LEASE_RUNNING:
        return &c->running;
    case LEASE_DONE:
        return &c->done;
    case LEASE_DIVERGED:
        return &c->diverged;
    case LEASE_FAILED:
        return &c->failed;
    }
    return &c->pending;
}

static void set_state(Leases *l, int64_t point, LeaseState s)
{
    (*count_of(&l->counts, (LeaseState)l->state[point]))--;
    (*count_of(&l->counts, s))++;
    l->state[point] = (uint8_t)s;
}

void lease_restore(Leases *l, int64_t point, LeaseState state, int attempts)
{
    assert(state != LEASE_RUNNING && l->state[point] == LEASE_PENDING);
    set_state(l, point, state);
    l->attempts[point] = (uint8_t)(attempts > 255 ? 255 : attempts);
}

double lease_estimate(const Leases *l, int64_t point)
{
    const Group *g = &l->group[group_of(l, point)];
    if (g->measured_n > 0)
        return g->measured_sum / (double)g->measured_n;
    double per_unit = l->cost_units_sum > 0 ? l->cost_seconds_sum / l->cost_units_sum : 1.0;
    return g->model_cost * per_unit;
}

bool lease_calibrated(const Leases *l)
{
    return l->cost_units_sum > 0;
}

/* First pending point of group g at or after its scan position, or -1. Points before
 * `next` are never pending again except through the retry list. */
static int64_t group_peek(Leases *l, Group *g)
{
    while (g->next < g->end && l->state[g->next] != LEASE_PENDING)
        g->next++;
    return g->next < g->end ? g->next : -1;
}

static int64_t take(Leases *l, int64_t point)
{
    set_state(l, point, LEASE_RUNNING);
    if (l->attempts[point] < 255)
        l->attempts[point]++;
    return point;
}

int64_t lease_next(Leases *l, int worker, double max_seconds)
{
    /* retries first, on a worker they did not fail on */
    for (int64_t i = 0; i < l->n_retry; i++) {
        int64_t p = l->retry[i];
        if ((l->avoid[p] != worker || l->n_workers == 1) && lease_estimate(l, p) <= max_seconds) {
            l->retry[i] = l->retry[--l->n_retry];
            return take(l, p);
        }
    }
    /* then the most expensive group with pending points */
    int best = -1;
    double best_cost = -1.0;
    for (int g = 0; g < l->n_groups; g++) {
        if (group_peek(l, &l->group[g]) < 0)
            continue;
        double c = lease_estimate(l, l->group[g].first);
        if (c > max_seconds)
            continue;
        if (c > best_cost) {
            best_cost = c;
            best = g;
        }
    }
    if (best >= 0) {
        Group *g = &l->group[best];
        int64_t p = group_peek(l, g);
        g->next = p + 1; /* a failure re-queues p through the retry list only */
        return take(l, p);
    }
    /* only retries this worker should avoid are left: better here than never */
    for (int64_t i = 0; i < l->n_retry; i++) {
        int64_t p = l->retry[i];
        if (lease_estimate(l, p) <= max_seconds) {
            l->retry[i] = l->retry[--l->n_retry];
            return take(l, p);
        }
    }
    return -1;
}

LeaseState lease_finish(Leases *l, int64_t point, PointStatus status, double seconds, int worker)
{
    assert(l->state[point] == LEASE_RUNNING);
    if (status == POINT_DONE || status == POINT_DIVERGED) {
        Group *g = &l->group[group_of(l, point)];
        g->measured_sum += seconds;
        g->measured_n++;
        l->cost_seconds_sum += seconds;
        l->cost_units_sum += g->model_cost;
        set_state(l, point, status == POINT_DONE ? LEASE_DONE : LEASE_DIVERGED);
    } else if (status == POINT_FAILED && l->attempts[point] < l->max_attempts) {
        set_state(l, point, LEASE_PENDING);
        l->avoid[point] = worker;
        if (l->n_retry == l->cap_retry) {
            l->cap_retry = l->cap_retry ? 2 * l->cap_retry : 16;
            l->retry = xrealloc(l->retry, (size_t)l->cap_retry * sizeof *l->retry);
        }
        l->retry[l->n_retry++] = point;
    } else if (status == POINT_FAILED) {
        set_state(l, point, LEASE_FAILED);
    } else {
        lease_release(l, point);
        return LEASE_PENDING;
    }
    return (LeaseState)l->state[point];
}

void lease_release(Leases *l, int64_t point)
{
    assert(l->state[point] == LEASE_RUNNING);
    set_state(l, point, LEASE_PENDING);
    if (l->attempts[point] > 0)
        l->attempts[point]--;
    Group *g = &l->group[group_of(l, point)];
    if (point < g->next)
        g->next = point; /* the scan must see it again */
}

LeaseState lease_state(const Leases *l, int64_t point)
{
    return (LeaseState)l->state[point];
}

int lease_attempts(const Leases *l, int64_t point)
{
    return l->attempts[point];
}

LeaseCounts lease_counts(const Leases *l)
{
    return l->counts;
}

LeaseCounts lease_counts_in(const Leases *l, int64_t first, int64_t end)
{
    LeaseCounts c = {0, 0, 0, 0, 0};
    for (int64_t p = first; p < end; p++)
        (*count_of(&c, (LeaseState)l->state[p]))++;
    return c;
}

bool lease_all_finished(const Leases *l)
{
    return l->counts.pending == 0 && l->counts.running == 0;
}

double lease_remaining_seconds(const Leases *l)
{
    if (l->cost_units_sum == 0)
        return NAN; /* nothing measured yet: model costs have no unit */
    double s = 0.0;
    for (int g = 0; g < l->n_groups; g++) {
        const Group *gr = &l->group[g];
        double est = lease_estimate(l, gr->first);
        for (int64_t p = gr->first; p < gr->end; p++) {
            if (l->state[p] == LEASE_PENDING)
                s += est;
            else if (l->state[p] == LEASE_RUNNING)
                s += 0.5 * est;
        }
    }
    return s;
}
