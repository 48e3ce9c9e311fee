/* grid: the points of a sweep and their order.
 *
 * A point is one value on every axis. Its index is, in this stable order
 * (architecture outermost, seed innermost):
 *     index = (((arch * n_cond + cond) * n_nb + nb) * n_wd + wd) * n_seed + seed
 * Its key names its coordinates by value, independent of the order of the axes'
 * values in the spec:  arch=<name>/cond=<name>/wd=<%.17g>/nb=<%.17g>/seed=<n>
 * so results can be matched across specs that extend one another. */
#ifndef BPSWEEP_GRID_H
#define BPSWEEP_GRID_H

#include <stddef.h>
#include <stdint.h>

#include "bpsweep/nn.h"
#include "bpsweep/spec.h"
#include "bpsweep/train.h"

#define GRID_KEY_MAX 256

typedef struct {
    int arch, cond, nb, wd, seed;  /* indices into the spec's axes */
} GridPoint;

int64_t grid_size(const Spec *spec);
GridPoint grid_point(const Spec *spec, int64_t index);
int64_t grid_index(const Spec *spec, GridPoint p);

/* Writes the point's key into buf (GRID_KEY_MAX bytes suffice). */
void grid_key(const Spec *spec, GridPoint p, char *buf, size_t len);

/* The network, training settings and seed of a point; n_in and n_out come from the
 * data set. */
void grid_point_config(const Spec *spec, GridPoint p, Shape in, int n_out, NetConfig *net,
                       TrainConfig *train, uint64_t *seed);

/* Relative cost of training a point: parameters x training samples x epochs (no
 * unit; the coordinator refines it with measured times). */
double grid_cost(const Spec *spec, GridPoint p, Shape in, int n_out, int n_train);

#endif
