/* train: mini-batch SGD with PyTorch's torch.optim.SGD semantics (coupled weight
 * decay, dampening 0, optional Nesterov), the norm-bias regulariser, learning-rate
 * schedules, gradient clipping by value, full-batch descent, the full-batch
 * trust-region Newton method (OptimizerKind), the per-epoch loop, and a serialisable
 * trainer state. Numerics only: no MPI, HDF5 or JSON.
 *
 * One optimizer step, for every parameter p with gradient g (all in one flat loop):
 *     g = clamp(g, -clip, clip)                 if clip > 0
 *     g = g + lambda * s * p                    s = sign(||theta||^2 - c); c = 0 gives
 *                                               s = 1: plain weight decay
 *     buf = momentum * buf + g                  (buf starts at 0, as PyTorch's first step)
 *     d = g + momentum * buf if nesterov, else buf   (d = g when momentum = 0)
 *     p = p - lr * d
 * lr follows the schedule, stepped once per epoch like PyTorch's LR schedulers. */
#ifndef BPSWEEP_TRAIN_H
#define BPSWEEP_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpsweep/construct.h"
#include "bpsweep/data.h"
#include "bpsweep/nn.h"
#include "bpsweep/pgd.h"
#include "bpsweep/rank.h"
#include "bpsweep/rng.h"
#include "bpsweep/util.h"

#define TRAIN_MAX_MILESTONES 16
#define TRAIN_FULL_CHUNK 256 /* full-batch descent accumulates chunks of this many samples */

typedef enum { SCHED_CONSTANT = 0, SCHED_MULTISTEP, SCHED_COSINE } ScheduleKind;

/* OPT_NEWTON: full-batch trust-region Newton-CG (newton.h) in double precision on the
 * certificate's objective (cert.h: loss + regulariser over the whole training set, exact
 * Hessian-vector products, batch norm in evaluation mode), one iteration per epoch; the
 * parameters stay floats between iterations. lr, momentum and the schedule are not used. */
typedef enum { OPT_SGD = 0, OPT_NEWTON } OptimizerKind;

typedef struct {
    int epochs;
    int batch_size;
    double lr;
    double momentum;
    bool nesterov;
    ScheduleKind schedule;
    int n_milestones;                      /* multistep: lr *= gamma at each milestone */
    int milestones[TRAIN_MAX_MILESTONES];  /* epochs, increasing, in [1, epochs) */
    double gamma;
    bool shuffle;                          /* reshuffle every epoch; else data order */
    bool drop_last;                        /* drop a final partial batch */
    double clip_value;                     /* clip gradients by value; 0 = off */
    double weight_decay;                   /* lambda of weight decay / norm-bias */
    double norm_bias;                      /* c: target squared norm (0 = weight decay) */
    bool norm_bias_relative;               /* c = norm_bias * ||theta_0||^2 */
    RankEdit rank;                         /* rank projection (rank.h); mode RANK_OFF:
                                              none */
    int n_rank_epochs;                     /* projected after these epochs (1-based */
    int rank_epochs[TRAIN_MAX_MILESTONES]; /* counts), increasing, in [1, epochs) */
    double adv_eps;                        /* adversarial training (pgd.h): L-inf radius as
                                              a fraction of the data range; 0 = off */
    double adv_step_ratio;                 /* PGD step = ratio x eps */
    int adv_steps;                         /* PGD steps per batch */
    int aug_crop_padding;                  /* augmentation (image data): random crop with
                                              this zero padding p; 0 = off */
    bool aug_flip;                         /* random horizontal flip with probability 1/2 */
    bool aug_given;                        /* spec: "augment" was given (canonical form) */
    bool full_batch;                       /* full-batch gradient descent: one step per
                                              epoch on the mean gradient over the whole
                                              training set, in data order, accumulated
                                              over chunks of batch_size (TRAIN_FULL_CHUNK) */
    double stop_grad_norm;                 /* stop when the full-batch gradient norm of
                                              loss + regulariser (cert_grad_norm) is below
                                              this, checked after every stop_every-th
                                              epoch; 0 = off */
    int stop_every;
    double lr_sharpness;                   /* f > 0: lr = f / lambda_max, the Hessian's
                                              largest-magnitude eigenvalue at the start of
                                              training (trainer_resolve_lr); 0 = lr as given */
    OptimizerKind optimizer;
    double newton_radius;                  /* OPT_NEWTON: the initial trust radius, */
    double newton_max_radius;              /* its upper bound, */
    int newton_cg;                         /* Hessian-vector products per iteration */
    int freeze_bn_epoch;                   /* after this many epochs batch norm trains in
                                              evaluation mode (running statistics, no
                                              longer updated); 0 = never */
    bool rank_off_override, adv_off_override; /* spec: a condition turned off the base's
                                              rank projection / adversarial training (so
                                              the canonical form says so) */
} TrainConfig;

/* ---- augmentation ------------------------------------------------------------------
 * Per sample and per epoch, as torchvision's RandomCrop(W, padding=p) followed by
 * RandomHorizontalFlip() on a (C, H, W) sample: the image is zero-padded by p on every
 * side to (C, H+2p, W+2p), an H x W window at offset (oy, ox) in [0, 2p]^2 is cut out,
 * then mirrored left-right if flip:
 *     out[c][i][j] = x[c][i + oy - p][j' + ox - p]   (0 outside x),
 *     j' = W-1-j if flip, else j.
 * The draws of sample s (its index in the data set) in epoch e come from the stream
 * rng_key(seed, dims, n_dims, RNG_AUGMENT, e) at counters 4s, 4s+1, 4s+2 (one 64-bit draw
 * each, u = (draw >> 11) * 2^-53 as rng_uniform):
 *     oy = floor(u0 * (2p+1)), ox = floor(u1 * (2p+1)), flip = u2 < 0.5
 * (p = 0: oy = ox = p = 0; flip off: never mirrored). They depend only on (seed, network
 * shape, epoch, sample), never on the batch, rank or a resume. */
typedef struct {
    int oy, ox;  /* window offset in the padded image, in [0, 2p] */
    bool flip;
} AugmentDraw;

/* The key of epoch e's augmentation stream for a trainer of seed and net shape dims. */
uint64_t train_augment_key(uint64_t seed, const int *dims, int n_dims, int epoch);
/* The draws of sample `sample` under key (pad p >= 0; flip: whether flips are on). */
AugmentDraw train_augment_draw(uint64_t key, uint32_t sample, int pad, bool flip);
/* out (C, H, W) = the augmented x (C, H, W) (see above); out and x must not overlap. */
void train_augment_sample(const float *x, int C, int H, int W, int pad, AugmentDraw a,
                          float *out);

/* Learning rate for (0-based) epoch e. Cosine follows CosineAnnealingLR with
 * T_max = epochs and eta_min = 0 in closed form. */
double train_lr(const TrainConfig *cfg, int epoch);

typedef struct {
    double train_loss;  /* the epoch's batch losses weighted by batch size (training mode) */
    double train_acc;   /* fraction correct over the epoch's mini-batches */
    double test_loss;   /* evaluation mode, whole test set */
    double test_acc;
    double lr;
    double seconds;
    double probe[2];    /* measurements the caller makes after the epoch and keeps in the
                           trainer state (point.c: the NTK against K0), NaN if none */
} EpochMetrics;

/* Called after every optimizer step: step counter (from 0 over the whole run),
 * indices (B) of the batch's samples, the batch loss before the step. */
typedef void (*TrainStepHook)(void *ctx, uint64_t step, const uint32_t *idx, int B, double loss);

typedef struct Trainer {
    TrainConfig cfg;
    uint64_t seed;
    Net *net;
    float *momentum;        /* (P) momentum buffers */
    double norm_bias_c;     /* resolved absolute target c */
    double init_sq_norm;    /* ||theta_0||^2 */
    int epoch;              /* epochs completed */
    uint64_t step;          /* optimizer steps taken */
    RngStream shuffle_rng;
    uint64_t adv_key;             /* key of adversarial training's random starts */
    int diverged_epoch;     /* epoch (1-based) whose loss was not finite; 0 if none */
    int stopped_epoch;      /* epoch after which the stopping rule stopped training; 0 if
                               none (cfg.stop_grad_norm) */
    double stop_grad_norm;  /* the gradient norm the rule measured last, NaN before */
    double sharpness;       /* cfg.lr_sharpness: |lambda_max| it measured, NaN before */
    double trust_radius;    /* OPT_NEWTON: the trust radius of the next iteration */
    ConstructResult construct; /* init.construct: what trainer_construct did (NaN before) */
    ConstructFit *cfit;     /* init.construct: its linear fit (kept in the state), or NULL */
    bool constructed;       /* init.construct: the net has been built from the fit */
    EpochMetrics *history;  /* (epochs) */
    RankEffect *rank_effect; /* (n_layers) what the last rank projection did to each
                               layer (rank.h), NaN before any; kept in the state */
    TrainStepHook hook;     /* optional */
    void *hook_ctx;
    /* optional: called between the steps of an epoch; returning true stops the epoch
     * there (trainer_epoch returns 2 and the state can be saved and continued) */
    bool (*should_stop)(void *ctx, struct Trainer *t);
    void *stop_ctx;
    /* the epoch in progress (all zero between epochs) */
    int batch_pos;          /* samples of the epoch already trained */
    uint64_t epoch_rng;     /* shuffle counter at the epoch's start */
    double epoch_loss_sum;  /* sum of batch loss x batch size */
    long epoch_correct, epoch_seen;
    double epoch_seconds;   /* time spent on the epoch before this process */
    /* workspace */
    uint32_t *order;        /* (n_train) sample order of the current epoch */
    int order_n;
    float *xbatch;          /* (batch, D) */
    uint8_t *ybatch;        /* (batch) */
    float *xadv, *adv_grad; /* (batch, D) adversarial training, allocated on first use */
    /* compact data sets (data.h), allocated on first use: */
    float *xrow;            /* (D) a sample as floats, the source of its augmentation */
    float *xeval;           /* (max_batch, D) an evaluation batch as floats */
    struct PgdConfig *adv_cfg; /* the attack on the training set's ranges, with xadv */
    double *gacc;           /* (P) full-batch descent's gradient, allocated on first use */
} Trainer;

/* New trainer with freshly initialised parameters (nn_init_params with seed).
 * Returns NULL when the net's memory cannot be allocated. Free with trainer_free. */
/* The batch a trainer's net is built for: its batch size, and at least 256 so that
 * evaluation runs in large batches. */
int trainer_max_batch(const TrainConfig *cfg);

Trainer *trainer_new(const NetConfig *net_cfg, const TrainConfig *cfg, uint64_t seed);
void trainer_free(Trainer *t);

/* init.construct: fits the linear model to train and builds the net's parameters from
 * it (construct.h) in place of the drawn ones; call before the first epoch, until
 * t->constructed. Returns 0 when built, 2 when should_stop stopped the fit between two
 * iterations (the state can be saved and continued). */
int trainer_construct(Trainer *t, const Dataset *train, const Dataset *test);

/* cfg.lr_sharpness = f: measures lambda_max, the largest-magnitude eigenvalue of the
 * Hessian of loss + regulariser over all of train at the current parameters (the
 * certificate's Lanczos, cert.h, TRAIN_SHARPNESS_ITERATIONS iterations at most, relative
 * tolerance TRAIN_SHARPNESS_TOLERANCE, start vector from the seed) and sets cfg.lr =
 * f / |lambda_max|; full-batch descent is stable below 2 / lambda_max without momentum
 * and below 2 (1 + momentum) / lambda_max with it. Call once before the first epoch
 * (after trainer_construct); the value is kept in the state. Returns 0, or -1 when the
 * measurement fails (LAPACK, or no memory for the Lanczos basis). */
#define TRAIN_SHARPNESS_ITERATIONS 20
#define TRAIN_SHARPNESS_TOLERANCE 1e-3
int trainer_resolve_lr(Trainer *t, const Dataset *train);

/* Runs (the rest of) one epoch on train, then evaluates on test (may be NULL).
 * Returns 0; 1 if the loss or parameters became non-finite (t->diverged_epoch is set;
 * training should stop: divergence is a result, not an error); 2 if should_stop
 * stopped it between two steps (call again, or save the state, to continue). */
int trainer_epoch(Trainer *t, const Dataset *train, const Dataset *test);

/* order (n) = the sample order of (0-based) epoch `epoch` of a trainer of this net,
 * settings and seed on n training samples, without training: the shuffle stream
 * replayed from its start (identity without shuffle or with full-batch descent).
 * Batches are consecutive runs of batch_size; with drop_last a final partial run is
 * not trained. */
void train_epoch_order(const NetConfig *net_cfg, const TrainConfig *cfg, uint64_t seed, int n,
                       int epoch, uint32_t *order);

/* True when all epochs are done (after the construction, with init.construct), the
 * stopping rule stopped training or the run diverged. */
bool trainer_finished(const Trainer *t);

/* One optimizer step on a batch x (B,D), y (B) at learning rate lr; returns the loss
 * before the step; *correct gets the batch's correct predictions. */
double trainer_step(Trainer *t, const float *x, const uint8_t *y, int B, double lr, long *correct);

/* Mean loss and accuracy of the net on ds in evaluation mode. */
void trainer_evaluate(Trainer *t, const Dataset *ds, double *loss, double *acc);

/* Serialised state: parameters, momentum, batch-norm statistics, epoch, step, random
 * counters, regulariser target and history. A restored trainer continues bit-identically.
 * trainer_state_save returns a malloc'd buffer (caller frees) and its size.
 * trainer_state_load checks the state against t's shapes and settings; on failure t
 * is left as it was. */
void *trainer_state_save(const Trainer *t, size_t *size);
/* The size in bytes of t's serialised state (what trainer_state_save returns). */
size_t trainer_state_size(const Trainer *t);
int trainer_state_load(Trainer *t, const void *buf, size_t size, BpsErr *err);

#endif
