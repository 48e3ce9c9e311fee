/* grid: the points of a sweep, their stable order and their keys (see grid.h). */
#include "bpsweep/grid.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

int64_t grid_size(const Spec *spec)
{
    return (int64_t)spec->n_arch * spec->n_cond * spec->n_nb * spec->n_wd * spec->n_seed;
}

/* index = (((arch * n_cond + cond) * n_nb + nb) * n_wd + wd) * n_seed + seed */
GridPoint grid_point(const Spec *spec, int64_t index)
{
    GridPoint p;
    assert(index >= 0 && index < grid_size(spec));
    p.seed = (int)(index % spec->n_seed);
    index /= spec->n_seed;
    p.wd = (int)(index % spec->n_wd);
    index /= spec->n_wd;
    p.nb = (int)(index % spec->n_nb);
    index /= spec->n_nb;
    p.cond = (int)(index % spec->n_cond);
    p.arch = (int)(index / spec->n_cond);
    return p;
}

int64_t grid_index(const Spec *spec, GridPoint p)
{
    assert(p.arch >= 0 && p.arch < spec->n_arch && p.cond >= 0 && p.cond < spec->n_cond);
    assert(p.nb >= 0 && p.nb < spec->n_nb && p.wd >= 0 && p.wd < spec->n_wd);
    assert(p.seed >= 0 && p.seed < spec->n_seed);
    return ((((int64_t)p.arch * spec->n_cond + p.cond) * spec->n_nb + p.nb) * spec->n_wd + p.wd) *
               spec->n_seed +
           p.seed;
}

/* Values are printed with %.17g (exact); -0 cannot occur (spec parsing stores +0). */
void grid_key(const Spec *spec, GridPoint p, char *buf, size_t len)
{
    assert(grid_index(spec, p) >= 0);
    snprintf(buf, len, "arch=%s/cond=%s/wd=%.17g/nb=%.17g/seed=%" PRIu64, spec->arch[p.arch].name,
             spec->cond[p.cond].name, spec->weight_decay[p.wd], spec->norm_bias[p.nb],
             spec->seed[p.seed]);
}

void grid_point_config(const Spec *spec, GridPoint p, Shape in, int n_out, NetConfig *net,
                       TrainConfig *train, uint64_t *seed)
{
    assert(grid_index(spec, p) >= 0);
    *net = spec->arch[p.arch].net;
    net->n_in = (int)shape_size(in);
    net->in_shape = in;
    net->n_out = n_out;
    *train = spec->cond[p.cond].train;
    train->weight_decay = spec->weight_decay[p.wd];
    train->norm_bias = spec->norm_bias[p.nb];
    train->norm_bias_relative = spec->norm_bias_relative;
    *seed = spec->seed[p.seed];
}

double grid_cost(const Spec *spec, GridPoint p, Shape in, int n_out, int n_train)
{
    NetConfig net;
    TrainConfig train;
    uint64_t seed;
    grid_point_config(spec, p, in, n_out, &net, &train, &seed);
    int epochs = train.epochs > 1 ? train.epochs : 1;
    /* per sample: the forward multiply-adds (convolutions), or the parameters where more
     * (an MLP's biases) */
    double per = fmax(nn_flops(&net), (double)nn_param_count(&net));
    return per * (double)n_train * (double)epochs;
}
