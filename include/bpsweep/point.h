/* point: trains one grid point from start (or from a saved trainer state) to its
 * result, and declares every measurement a point produces - once, in POINT_METRICS.
 * The results file layout, the CSV export, `bpsweep train` output and the metric
 * reference (`bpsweep metrics`, docs/results-format.md) all follow from that table,
 * so a new metric is one line there plus the code that computes it in point.c.
 *
 * Glue between the sweep description (spec, grid) and the numerics (train,
 * metrics); knows nothing of MPI or HDF5, so `bpsweep train` and sweep workers share
 * it. */
#ifndef BPSWEEP_POINT_H
#define BPSWEEP_POINT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bpsweep/data.h"
#include "bpsweep/grid.h"
#include "bpsweep/cert.h"
#include "bpsweep/metrics.h"
#include "bpsweep/ntk.h"
#include "bpsweep/spec.h"
#include "bpsweep/store_layout.h"
#include "bpsweep/train.h"

typedef enum {
    POINT_PENDING = 0,   /* not finished (never run, or stopped early) */
    POINT_DONE = 1,
    POINT_DIVERGED = 2,  /* loss or parameters became NaN/Inf: a result */
    POINT_FAILED = 3,    /* an error (e.g. out of memory); message says which */
} PointStatus;

typedef enum {
    METRIC_SCALAR, /* one value per point */
    METRIC_CURVE,  /* one value per epoch (NaN-padded to the longest training) */
    METRIC_LAYER,  /* one value per dense layer (NaN-padded to the deepest net) */
} MetricKind;

/* X(kind, name, description). Values are doubles; NaN where not measured (e.g. a
 * diverged point's final losses). */
#define POINT_METRICS(X)                                                                  \
    X(SCALAR, final_train_loss, "cross-entropy on the whole training set, evaluation mode") \
    X(SCALAR, final_train_acc, "accuracy on the whole training set, evaluation mode")    \
    X(SCALAR, final_test_loss, "cross-entropy on the test set, evaluation mode")         \
    X(SCALAR, final_test_acc, "accuracy on the test set, evaluation mode")               \
    X(SCALAR, final_val_loss,                                                             \
      "cross-entropy on the held-out validation samples (data.validation), evaluation mode") \
    X(SCALAR, final_val_acc,                                                              \
      "accuracy on the held-out validation samples (data.validation), evaluation mode")   \
    X(SCALAR, param_norm, "||theta||_2 over all parameters (biases, batch-norm included)") \
    X(SCALAR, init_param_norm, "||theta_0||_2 at initialisation")                         \
    X(SCALAR, param_distance, "||theta_1 - theta_0||_2: how far training moved the parameters") \
    X(SCALAR, ntk_norm0, "||K0||_F, the empirical NTK at initialisation (measure.ntk)")   \
    X(SCALAR, ntk_norm1, "||K1||_F, the empirical NTK after training (measure.ntk)")       \
    X(SCALAR, ntk_distance, "||K1 - K0||_F (measure.ntk)")                                \
    X(SCALAR, ntk_similarity, "<K0, K1>_F / (||K0||_F ||K1||_F) (measure.ntk)")           \
    X(SCALAR, ntk_pearson, "Pearson correlation of the entries of K0 and K1 (measure.ntk)") \
    X(SCALAR, cert_loss, "training loss + regulariser, evaluation mode (measure.certificate)") \
    X(SCALAR, cert_loss_data, "training loss without the regulariser (measure.certificate)") \
    X(SCALAR, cert_grad_norm, "||gradient of loss + regulariser|| (measure.certificate)")  \
    X(SCALAR, hessian_max_abs, "Hessian eigenvalue of largest magnitude (measure.certificate)") \
    X(SCALAR, hessian_min, "smallest Hessian eigenvalue (measure.certificate)")           \
    X(SCALAR, hessian_iterations, "Lanczos iterations run (measure.certificate)")         \
    X(SCALAR, cert_verdict,                                                               \
      "1 certified minimum (gradient norm < tolerance, lambda_min >= -tolerance "         \
      "|lambda_max|), 2 saddle (gradient below, curvature not), 0 not converged "         \
      "(gradient norm >= tolerance); NaN without a Hessian (measure.certificate)")        \
    X(SCALAR, stop_epoch, "epoch after which train.stop's gradient rule stopped training "  \
      "(NaN: it did not)")                                                                \
    X(SCALAR, stop_grad_norm, "the full-batch gradient norm train.stop measured last")    \
    X(SCALAR, construct_grad_norm, "init.construct: the linear fit's final gradient norm") \
    X(SCALAR, construct_iterations, "init.construct: L-BFGS iterations of the linear fit") \
    X(SCALAR, construct_offset, "init.construct: the first hidden bias (offset) used")    \
    X(SCALAR, construct_logit_diff,                                                       \
      "init.construct: max |logits of the built net - the linear model's| on train and test") \
    X(CURVE, train_loss,                                                                  \
      "the epoch's mini-batch losses, averaged weighted by batch size (a mean over its "  \
      "samples), training mode")                                                          \
    X(CURVE, train_acc, "accuracy over the epoch's mini-batches, training mode")         \
    X(CURVE, test_loss, "test-set loss after the epoch, evaluation mode")                \
    X(CURVE, test_acc, "test-set accuracy after the epoch, evaluation mode")             \
    X(CURVE, lr, "learning rate of the epoch")                                           \
    X(CURVE, epoch_seconds, "wall time of the epoch (training and test evaluation)")     \
    X(CURVE, ntk_similarity_epoch,                                                        \
      "<K0, K_e>_F / (||K0||_F ||K_e||_F) after epoch e, at measure.ntk.epochs (NaN elsewhere)") \
    X(CURVE, ntk_change_epoch, "||K_e - K0||_F / ||K0||_F after epoch e, at measure.ntk.epochs") \
    X(LAYER, frobenius, "||W||_F of the layer's weight matrix (conv: of its operator)")  \
    X(LAYER, spectral, "largest singular value of W (conv: its operator norm)")          \
    X(LAYER, effective_rank,                                                              \
      "||sigma||_1 / ||sigma||_2 of W's singular values (conv: of its operator's)")       \
    X(LAYER, relu_negative_fraction,                                                      \
      "fraction of negative pre-activations of a ReLU layer (measure.certificate)") \
    X(LAYER, relu_negative_fraction_test,                                                 \
      "the same on the test set (measure.certificate)")                                   \
    X(LAYER, rank_changed_fraction,                                                       \
      "fraction of the singular values the last rank projection changed (conv, stride 1: " \
      "of its operator's; NaN if never projected)")                                      \
    X(LAYER, rank_restrict_distance,                                                      \
      "||K_intended - K_restricted||_F / ||K_intended||_F of the last rank projection of " \
      "a stride-1 conv (kernel cut back to k x k; NaN for dense and other layers)")

#define POINT_METRIC_ENUM(kind, name, desc) M_##name,
typedef enum { POINT_METRICS(POINT_METRIC_ENUM) N_METRICS } MetricId;
#undef POINT_METRIC_ENUM

typedef struct {
    const char *name;
    MetricKind kind;
    const char *description;
} MetricDef;

extern const MetricDef POINT_METRIC_DEFS[N_METRICS];

#define POINT_MESSAGE_MAX 256

typedef struct {
    int64_t index;
    char key[GRID_KEY_MAX];
    PointStatus status;
    int epochs;                      /* epochs of the training settings */
    int epochs_run;                  /* epochs completed (< epochs if stopped or diverged) */
    int diverged_epoch;              /* 1-based; 0 if the run did not diverge */
    int n_layers;
    size_t n_params;
    uint64_t param_hash;             /* hash of the final parameter (and BN buffer) bytes */
    double wall_seconds;             /* training and measurement time in this process */
    char message[POINT_MESSAGE_MAX]; /* why a point failed; empty otherwise */
    double *metric[N_METRICS];       /* owned; metric_len[m] values each */
    int metric_len[N_METRICS];       /* 1, epochs or n_layers by kind */
    float *weights;                  /* (n_params) final parameters if asked for; owned */
    int spectra_rank;                /* R: the net's largest min(O, I) */
    float *spectra;                  /* (n_layers, R) singular values of each layer's W,
                                        descending, NaN-padded; NULL if not measured */
    int n_eps;                       /* radii of measure.robustness, else 0 */
    double *robust_test, *robust_train; /* (n_eps) accuracy under PGD; NULL if not measured */
    int ntk_m;                       /* M = samples x classes with measure.ntk, else 0 */
    float *ntk0, *ntk1;              /* (M, M) kernels at initialisation and after
                                        training (measure.ntk; NULL if not measured) */
} PointResult;

typedef struct {
    const char *load_state;          /* continue from this trainer-state file, or NULL */
    const char *save_state;          /* write the trainer state here where training stops
                                        (after stop_after's epoch, or at the end) */
    int stop_after;                  /* stop after this many epochs (0 = run to the end) */
    bool keep_weights;               /* fill PointResult.weights */
    FILE *log;                       /* one line per epoch, or NULL */
    TrainStepHook hook;              /* optional per-step hook (tests) */
    void *hook_ctx;
    /* optional: called before every epoch (0-based) of the point, also when an epoch
     * continues from a checkpoint */
    void (*epoch_start)(void *ctx, int64_t point, int epoch);
    void *epoch_ctx;
    /* in-flight checkpoints (sweeps): continue from this file if it exists (a corrupt
     * one is removed with a warning and the point starts over); rewrite it atomically
     * every checkpoint_interval seconds between steps; write it and stop, status
     * pending, as soon as should_stop returns true. The caller removes it once the
     * point's row is written. */
    const char *checkpoint;
    double checkpoint_interval;
    bool (*should_stop)(void *ctx);
    void *stop_ctx;
    FILE *warn;                      /* warnings (stderr) */
} PointOptions;

/* Trains point `index` of spec on train/test. Returns 0 with *res filled: status done,
 * diverged, pending (stopped early by stop_after or should_stop; res->epochs_run says
 * how far) or failed (the trainer could not be built, e.g. out of memory;
 * res->message says why). Returns non-zero with err set
 * only for bad input (unreadable or mismatched state file, I/O errors). Free the
 * result with point_result_free (also after a non-zero return). */
int point_train(const Spec *spec, int64_t index, const Dataset *train, const Dataset *test,
                const PointOptions *opt, PointResult *res, BpsErr *err);

void point_result_free(PointResult *res);

const char *point_status_name(PointStatus s);

/* The shape of the results file of spec's sweep on data of sample shape `in` with n_out
 * classes: rows as wide as the longest training (epochs), the deepest network (layers of
 * the per-layer metrics), the largest network (weights, if the spec keeps them), the
 * most singular values of any layer (spectra), and the NTK and robustness settings. The
 * store sizes its datasets by it and knows nothing of networks. */
StoreShape point_store_shape(const Spec *spec, Shape in, int n_out);

#endif
