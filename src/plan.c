/* plan: calibration of the trainer and the estimates of a sweep's cost. */
#include "bpsweep/plan.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpsweep/construct.h"
#include "bpsweep/grid.h"
#include "bpsweep/ntk.h"
#include "bpsweep/point.h"
#include "bpsweep/store_layout.h"
#include "bpsweep/train.h"

/* Seconds per optimizer step of a trainer on real batches of train, measured over at
 * least 3 steps and about 0.2 s after one warm-up step. */
static double time_steps(Trainer *t, const Dataset *train)
{
    int B = t->cfg.batch_size < train->n ? t->cfg.batch_size : train->n;
    float *buf = train->x ? NULL : xmalloc((size_t)B * (size_t)train->d * sizeof *buf);
    const float *x = dataset_rows(train, 0, B, buf);
    trainer_step(t, x, train->y, B, 1e-4, NULL);
    int steps = 0;
    double t0 = bps_now(), dt;
    do {
        trainer_step(t, x, train->y, B, 1e-4, NULL);
        steps++;
    } while ((dt = bps_now() - t0) < 0.2 || steps < 3);
    free(buf);
    return dt / steps * ((double)t->cfg.batch_size / B);
}

/* Memory of a trainer of net at batch size B, from the configuration alone (nothing
 * is allocated): parameters, gradients, momentum, the batch, and the work space its
 * passes touch (forward passes of forward_batch samples, training in B). A point
 * evaluates in batches of trainer_max_batch; timing steps touches only B. */
static size_t trainer_bytes(const NetConfig *net, int forward_batch, int B)
{
    double bytes = 3.0 * (double)nn_param_count(net) * sizeof(float) +
                   (double)B * net->n_in * sizeof(float) +
                   (double)nn_work_bytes(net, forward_batch, B);
    return bytes < (double)SIZE_MAX ? (size_t)bytes : SIZE_MAX;
}

/* What timing training steps at batch size B touches (the evaluation batch's work space
 * is allocated but never touched, so it costs no memory). */
static size_t step_bytes(const NetConfig *net, int B)
{
    return trainer_bytes(net, B, B);
}

/* Seconds per step of net, measured on a trainer built for it. A net whose steps would
 * touch more than PLAN_CALIBRATE_MAX_BYTES at its batch size is timed at the largest
 * batch that fits (convolutional nets, whose activations grow with the batch: the time
 * per sample hardly changes, within 6% from batch 16 to 128 for a ResNet-18 and a
 * ConvNet measured here) and scaled to its batch size; if not even a batch of 8 fits,
 * its step is scaled by multiply-adds from the MLP D-256-256-K at the same batch size
 * (which runs its GEMMs faster than a conv net: an estimate about 2x low for conv
 * nets). *scaled is set in both cases. */
#define PLAN_CALIBRATE_MAX_BYTES ((size_t)256 << 20)
#define PLAN_REFERENCE_WIDTH 256
#define PLAN_MIN_TIMED_BATCH 8
static int step_seconds(const NetConfig *net, const TrainConfig *cfg, uint64_t seed,
                        const Dataset *train, double *seconds, bool *scaled)
{
    NetConfig timed = *net;
    TrainConfig tcfg = *cfg;
    *scaled = step_bytes(net, cfg->batch_size) > PLAN_CALIBRATE_MAX_BYTES;
    while (*scaled && tcfg.batch_size > PLAN_MIN_TIMED_BATCH &&
           step_bytes(net, tcfg.batch_size) > PLAN_CALIBRATE_MAX_BYTES)
        tcfg.batch_size /= 2;
    bool by_flops = step_bytes(net, tcfg.batch_size) > PLAN_CALIBRATE_MAX_BYTES;
    if (by_flops) {
        tcfg.batch_size = cfg->batch_size;
        timed.n_ops = 0;
        timed.preset = PRESET_NONE;
        timed.n_hidden = 2;
        timed.hidden[0] = timed.hidden[1] = PLAN_REFERENCE_WIDTH;
        timed.batch_norm = timed.skip = false;
    }
    Trainer *t = trainer_new(&timed, &tcfg, seed);
    if (!t)
        return -1;
    *seconds = time_steps(t, train) * ((double)cfg->batch_size / tcfg.batch_size) *
               (by_flops ? nn_flops(net) / nn_flops(&timed) : 1.0);
    trainer_free(t);
    return 0;
}

static int cmp_group_desc(const void *a, const void *b)
{
    double x = ((const PlanGroup *)a)->point_seconds, y = ((const PlanGroup *)b)->point_seconds;
    return (x < y) - (x > y);
}

/* Restores the min-heap order of load[0..w) below slot i. */
static void sift_down(double *load, int w, int i)
{
    for (;;) {
        int m = i, l = 2 * i + 1, r = l + 1;
        if (l < w && load[l] < load[m])
            m = l;
        if (r < w && load[r] < load[m])
            m = r;
        if (m == i)
            return;
        double t = load[i];
        load[i] = load[m];
        load[m] = t;
        i = m;
    }
}

/* Wall time of longest-first list scheduling on w workers of per_group points of each
 * group (each point goes to a least-loaded worker; a min-heap of the loads keeps this
 * O(points log w) in O(w) memory). */
static double makespan(const PlanGroup *groups, int n_groups, int64_t per_group, int w)
{
    PlanGroup *order = xmalloc((size_t)n_groups * sizeof *order);
    memcpy(order, groups, (size_t)n_groups * sizeof *order);
    qsort(order, (size_t)n_groups, sizeof *order, cmp_group_desc);
    double *load = xcalloc((size_t)w, sizeof *load), span = 0;
    for (int g = 0; g < n_groups; g++)
        for (int64_t i = 0; i < per_group; i++) {
            load[0] += order[g].point_seconds;
            if (load[0] > span)
                span = load[0];
            sift_down(load, w, 0);
        }
    free(load);
    free(order);
    return span;
}

/* The instruments of measure, per point, from the seconds of one training step per
 * sample: a PGD step is about one step per sample; the certificate works in double
 * precision, where its gradient costs about two and an exact Hessian-vector product
 * about four (measured: 0.11 s per 1000 samples for 784-256-256-10, whose step costs
 * 27 us per sample). The NTK is small beside training and not counted. */
/* A cert_measure run over n samples in double: one gradient (about two steps per sample)
 * and up to `iterations` Hessian-vector products (about four each). */
static double cert_seconds(double per_sample, int64_t n, int iterations)
{
    return per_sample * (double)n * (2 + 4.0 * iterations);
}

static double instrument_seconds(const Spec *spec, double per_sample, const Dataset *train,
                                 const Dataset *test)
{
    double s = 0;
    if (spec->robust.enabled) {
        const RobustSpec *r = &spec->robust;
        int64_t n_test = r->test_samples == 0 || r->test_samples > test->n ? test->n
                                                                            : r->test_samples;
        int64_t n_train = r->train_samples > train->n ? train->n : r->train_samples;
        s += per_sample * (double)r->n_eps * r->steps * (double)(n_test + n_train);
    }
    if (spec->cert.enabled) {
        int64_t n = spec->cert.samples == 0 || spec->cert.samples > train->n ? train->n
                                                                            : spec->cert.samples;
        s += cert_seconds(per_sample, n, spec->cert.iterations);
    }
    return s;
}

/* train.optimizer "newton": an iteration evaluates the training set (a third of a step per
 * sample), makes a gradient and a loss pass in double (about 2 and 1 steps per sample,
 * as the certificate's) and NEWTON_PLAN_PRODUCTS Hessian-vector products (4 each, as
 * Lanczos's in cert_seconds). 5 fits claim1-newton.json's default nets, which ran all
 * 200 iterations in 231-297 s each on 2 busy cores (10 had planned twice that). */
#define NEWTON_PLAN_PRODUCTS 5
static double newton_epoch_seconds(double per_sample, int64_t n)
{
    return per_sample * (double)n * (1.0 / 3 + 3 + 4.0 * NEWTON_PLAN_PRODUCTS);
}

/* train.stop: a double-precision gradient pass over the training set (about two steps
 * per sample, as the certificate's) every stop_every epochs; train.lr_sharpness: one
 * Lanczos run like the certificate's. init.construct with
 * Newton: about 15 iterations (13 measured on Fashion-MNIST's principal components),
 * each forming a Hessian of K(K-1)/2 blocks of (D+1)^2 multiply-adds per sample by dgemm
 * (5e9 multiply-adds per second: 13 iterations of 7e9 took 14 s on a loaded core here);
 * L-BFGS's gradients are small beside training and not counted. */
static double claim1_seconds(const NetConfig *net, const TrainConfig *cfg, double per_sample,
                             const Dataset *train)
{
    double s = 0;
    if (cfg->stop_grad_norm > 0)
        s += (double)(cfg->epochs / cfg->stop_every) * per_sample * 2 * train->n;
    if (cfg->lr_sharpness > 0 && cfg->epochs > 0)
        s += cert_seconds(per_sample, train->n, TRAIN_SHARPNESS_ITERATIONS);
    const double K = net->n_out, D1 = net->n_in + 1.0;
    if (net->construct.on && construct_uses_newton(net))
        s += 15 * train->n * K * (K - 1) / 2 * D1 * D1 / 5e9;
    return s;
}

int plan_make(const Spec *spec, int ranks, const Dataset *train, const Dataset *test, Plan *plan,
              BpsErr *err)
{
    memset(plan, 0, sizeof *plan);
    if (ranks < 1)
        return bps_fail(err, "--ranks must be at least 1");
    plan->n_points = grid_size(spec);
    plan->ranks = ranks;
    plan->workers = ranks > 1 ? ranks - 1 : 1;
    plan->n_groups = spec->n_arch * spec->n_cond;
    plan->groups = xcalloc((size_t)plan->n_groups, sizeof *plan->groups);
    /* as the node's window holds them: bytes and their tables for byte sources */
    const size_t value = train->x8 ? 1 : sizeof(float);
    plan->data_bytes = (size_t)train->n * ((size_t)train->d * value + 1) +
                       (size_t)test->n * ((size_t)test->d * value + 1) +
                       (size_t)train->lut_c * 256 * sizeof(float);
    /* data.validation: the points train on the rest, and evaluate the held-out samples once */
    const int n_val = spec->data.validation;
    const Dataset fit = dataset_view(train, 0, train->n - n_val);
    train = &fit;
    for (int g = 0; g < plan->n_groups; g++) {
        PlanGroup *pg = &plan->groups[g];
        pg->arch = g / spec->n_cond;
        pg->cond = g % spec->n_cond;
        GridPoint gp = {pg->arch, pg->cond, 0, 0, 0};
        NetConfig net;
        TrainConfig cfg;
        uint64_t seed;
        grid_point_config(spec, gp, dataset_shape(train), train->classes, &net, &cfg, &seed);
        pg->n_params = nn_param_count(&net);
        /* the same architecture at the same batch size costs the same */
        for (int h = 0; h < g; h++) {
            const PlanGroup *prev = &plan->groups[h];
            if (prev->arch == pg->arch &&
                spec->cond[prev->cond].train.batch_size == cfg.batch_size) {
                pg->step_seconds = prev->step_seconds;
                pg->scaled = prev->scaled;
            }
        }
        pg->trainer_bytes = trainer_bytes(&net, trainer_max_batch(&cfg), cfg.batch_size);
        /* optimizer "newton": the iterate in double and newton_iterate's six vectors */
        if (cfg.optimizer == OPT_NEWTON)
            pg->trainer_bytes += 7 * nn_param_count(&net) * sizeof(double);
        if (spec->ntk.enabled)
            pg->trainer_bytes += ntk_bytes(&net, spec->ntk.samples * train->classes);
        if (spec->ntk.enabled && spec->ntk.batch_norm == NTK_BN_DATA) {
            /* a copy of the net and a training-mode pass of the pool (nets without batch
             * norm skip both: an upper bound for them) */
            const int pool = spec->ntk.pool < train->n ? spec->ntk.pool : train->n;
            pg->trainer_bytes += 2 * nn_param_count(&net) * sizeof(float) +
                                 (size_t)pool * (size_t)net.n_in * sizeof(float) +
                                 nn_work_bytes(&net, pool, 0);
        }
        if (pg->step_seconds == 0 &&
            step_seconds(&net, &cfg, seed, train, &pg->step_seconds, &pg->scaled) != 0) {
            int arch = pg->arch;
            plan_free(plan);
            return bps_fail(err, "architecture %s: out of memory building the net "
                            "(%zu parameters)", spec->arch[arch].name, nn_param_count(&net));
        }
        /* an epoch: its steps, plus the test-set evaluation (a forward pass costs about
         * a third of a step); at the end both sets are evaluated once more */
        double per_sample = pg->step_seconds / cfg.batch_size;
        int steps = cfg.drop_last ? train->n / cfg.batch_size
                                  : (train->n + cfg.batch_size - 1) / cfg.batch_size;
        /* adversarial training: each PGD step is a forward and backward pass of the
         * batch, about one optimizer step (measured: 7 steps cost 6.8x, docs/performance.md) */
        double step = pg->step_seconds * (cfg.adv_eps > 0 ? 1 + cfg.adv_steps : 1);
        double epoch = (cfg.optimizer == OPT_NEWTON ? newton_epoch_seconds(per_sample, train->n)
                                                    : steps * step) +
                       per_sample / 3 * test->n;
        pg->point_seconds = cfg.epochs * epoch + per_sample / 3 * (train->n + test->n + n_val) +
                            instrument_seconds(spec, per_sample, train, test) +
                            claim1_seconds(&net, &cfg, per_sample, train);
        if (pg->trainer_bytes > plan->rank_bytes)
            plan->rank_bytes = pg->trainer_bytes;
    }
    int64_t per_group = plan->n_points / plan->n_groups;
    for (int g = 0; g < plan->n_groups; g++)
        plan->core_seconds += (double)per_group * plan->groups[g].point_seconds;
    plan->wall_seconds = makespan(plan->groups, plan->n_groups, per_group, plan->workers);
    StoreShape shape = point_store_shape(spec, dataset_shape(train), train->classes);
    plan->file_bytes = store_file_bytes(&shape);
    return 0;
}

void plan_free(Plan *plan)
{
    if (!plan)
        return;
    free(plan->groups);
    plan->groups = NULL;
}

static void human_bytes(size_t b, char *buf, size_t len)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, len, "%.1f %s", v, unit[u]);
}

static void human_time(double s, char *buf, size_t len)
{
    if (s < 120)
        snprintf(buf, len, "%.1f s", s);
    else if (s < 7200)
        snprintf(buf, len, "%.1f min", s / 60);
    else
        snprintf(buf, len, "%.1f h", s / 3600);
}

/* Whether /proc/cpuinfo's first "flags" line lists flag (a whole word). */
static bool cpu_has(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192], word[64];
    bool found = false;
    snprintf(word, sizeof word, " %s ", flag);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "flags", 5) == 0) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = ' '; /* the last flag ends with a space too */
            found = strstr(line, word) != NULL;
            break;
        }
    if (f)
        fclose(f);
    return found;
}

/* OpenBLAS's kernel set, and a hint where a generic one runs on a CPU with wide vector
 * units: OpenBLAS 0.3.21 does not know recent CPUs and falls back to its SSE3 kernels
 * ("Prescott"), about 3x slower on the GEMMs of a training step (docs/performance.md). */
static void print_blas(FILE *out)
{
    const char *core = openblas_get_corename();
    const char *generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Katmai",
                             "Coppermine", "Northwood", "Banias", "Atom", NULL};
    const char *better = cpu_has("avx512f") ? "SkylakeX" : cpu_has("avx2") ? "Haswell" : NULL;
    bool is_generic = false;
    for (int i = 0; generic[i]; i++)
        is_generic |= strcmp(core, generic[i]) == 0;
    fprintf(out, "BLAS:         OpenBLAS with its %s kernels\n", core);
    if (is_generic && better)
        fprintf(out, "note:         this CPU has %s, which these kernels do not use; "
                "OPENBLAS_CORETYPE=%s in the job's environment uses them (the step times "
                "above are with %s)\n", better[0] == 'S' ? "AVX-512" : "AVX2", better, core);
}

void plan_print(FILE *out, const Spec *spec, const Plan *plan)
{
    char a[32], b[32], c[32];
    bool any_scaled = false;
    fprintf(out, "sweep %s: %lld points (%d architectures x %d conditions x %d norm-bias x "
            "%d weight decays x %d seeds)\n", spec->name, (long long)plan->n_points, spec->n_arch,
            spec->n_cond, spec->n_nb, spec->n_wd, spec->n_seed);
    if (plan->data)
        data_provenance_print(out, plan->data);
    fprintf(out, "\n%-28s %-14s %12s %12s %12s\n", "architecture", "condition", "parameters",
            "step", "per point");
    for (int g = 0; g < plan->n_groups; g++) {
        const PlanGroup *pg = &plan->groups[g];
        human_time(pg->point_seconds, a, sizeof a);
        fprintf(out, "%-28s %-14s %12zu %9.2f ms%c %11s\n", spec->arch[pg->arch].name,
                spec->cond[pg->cond].name, pg->n_params, pg->step_seconds * 1e3,
                pg->scaled ? '~' : ' ', a);
        any_scaled |= pg->scaled;
    }
    if (any_scaled)
        fprintf(out, "~ too large to time at its batch size: timed at a smaller batch and "
                "scaled to it (or, if not even a batch of %d fits in %zu MiB, scaled by "
                "multiply-adds from the MLP D-%d-%d-K)\n", PLAN_MIN_TIMED_BATCH,
                PLAN_CALIBRATE_MAX_BYTES >> 20, PLAN_REFERENCE_WIDTH, PLAN_REFERENCE_WIDTH);
    human_time(plan->wall_seconds, a, sizeof a);
    fprintf(out, "\ncompute:      %.2f core-hours (%.0f core-seconds)\n",
            plan->core_seconds / 3600, plan->core_seconds);
    fprintf(out, "wall time:    %s on %d rank%s (%d worker%s; longest points first)\n", a,
            plan->ranks, plan->ranks == 1 ? "" : "s", plan->workers,
            plan->workers == 1 ? "" : "s");
    human_bytes(plan->data_bytes, a, sizeof a);
    human_bytes(plan->rank_bytes, b, sizeof b);
    human_bytes(plan->file_bytes, c, sizeof c);
    fprintf(out, "memory:       %s of data once per node (shared), plus %s per rank for the "
            "largest net, plus the MPI and BLAS runtime (~30 MiB per rank)\n", a, b);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0 && (double)plan->rank_bytes > (double)pages * (double)page) {
        human_bytes((size_t)pages * (size_t)page, a, sizeof a);
        fprintf(out, "warning:      the largest net needs more memory per rank than this "
                "machine has (%s): its points will fail here\n", a);
    }
    fprintf(out, "results file: %s\n", c);
    print_blas(out);
    fprintf(out, "(estimates from a short calibration on this machine; cluster nodes differ)\n");
}
