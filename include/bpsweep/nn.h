/* nn: a network as an ordered list of operations over numbered activation slots (op.h),
 * run forward and backward in float with BLAS, and in double with the R-operator for
 * exact Hessian-vector products. Numerics only: no MPI, HDF5 or JSON here.
 *
 * Dimension letters used in shape comments throughout:
 *   B  samples in a batch        I  inputs of a layer (in)
 *   O  outputs of a layer (out)  D  input features of the net (n_in)
 *   K  classes (n_out)           P  parameters of the net (n_params)
 *
 * A NetConfig describes a net either as an explicit op list (ops, n_ops > 0) or, for
 * n_ops == 0, as the MLP shorthand: hidden widths [h_1 .. h_H], each hidden layer
 *     dense -> batch_norm (if enabled) -> relu (unless identity) -> add of the layer's
 *     input (if skip and I == O)
 * and a final dense layer to the K logits. nn_expand writes the MLP as that op list.
 *
 * Memory: every parameter lives in one contiguous block `params` (P floats) in op
 * order (dense: W (O,I) then b (O); batch norm: gamma then beta), so an MLP keeps the
 * layout W, b[, gamma, beta] per layer; `grads` mirrors it. Batch-norm running
 * statistics (mean, var per batch-norm op) live in the block `buffers`. Activations,
 * their gradients and the ops' caches live in an NnWork sized for a batch. */
#ifndef BPSWEEP_NN_H
#define BPSWEEP_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpsweep/op.h"

#define NN_MAX_HIDDEN 32
#define NN_MAX_OPS 512
#define NN_MAX_DIMS (NN_MAX_OPS + 1) /* length of a shape vector (nn_shape_dims) */

typedef enum { ACT_RELU = 0, ACT_IDENTITY = 1 } Activation;

typedef enum {
    WINIT_TORCH = 0,   /* nn.Linear default: U(-1/sqrt(I), 1/sqrt(I)) */
    WINIT_HE_NORMAL,   /* N(0, 2/I) */
    WINIT_CONSTANT,    /* every weight = w_value (all-equal constants) */
    WINIT_IDENTITY,    /* dense layers with O >= I: W = [I; 0] (W[i][i] = 1); other weight
                          layers (the output layer, convolutions): WINIT_TORCH */
} WeightInit;

typedef enum {
    BINIT_TORCH = 0,   /* nn.Linear default: U(-1/sqrt(I), 1/sqrt(I)) */
    BINIT_ZERO,
    BINIT_CONSTANT,    /* every bias = b_value (e.g. +20, -20) */
    BINIT_UNIFORM,     /* U(-b_value, b_value) */
} BiasInit;

/* Every parameter set alike, weights, biases and batch-norm gamma and beta (the authors'
 * `zero` and `equal` controls); replaces w_init and b_init. */
typedef enum { PINIT_NONE = 0, PINIT_ZERO, PINIT_EQUAL /* = p_value */ } ParamInit;

/* The constructed linear minimum (claim 1): the net's parameters are built from a linear
 * classifier fitted to the training data (train.c, trainer_construct), not drawn. */
typedef enum { FIT_AUTO = 0, FIT_NEWTON, FIT_LBFGS } FitMethod; /* construct.h */

typedef struct {
    bool on;
    FitMethod method;      /* of the linear fit; auto: Newton where its Hessian is small */
    double tolerance;      /* stop the linear fit at this full-batch gradient norm */
    int max_iterations;    /* ... or after this many L-BFGS iterations */
    double offset;         /* the first hidden bias; NaN: 1 - min(0, smallest input) */
} ConstructConfig;

/* The paper's convolutional architectures, expanded into op lists by nn_expand (layer
 * tables: docs/spec.md). */
typedef enum { PRESET_NONE = 0, PRESET_CONVNET, PRESET_RESNET18 } Preset;
extern const char *const PRESET_NAMES[]; /* "none", "convnet", "resnet18", NULL */

typedef struct {
    int n_in, n_out;              /* D, K: set from the data set */
    Shape in_shape;               /* a sample's (C, H, W), C*H*W = D; zeros: (D, 1, 1) */
    int n_hidden;                 /* H (MLP shorthand) */
    int hidden[NN_MAX_HIDDEN];    /* h_1 .. h_H */
    Activation act;
    bool skip, batch_norm;
    WeightInit w_init;
    double w_value;
    BiasInit b_init;
    double b_value;
    double b_offset;              /* added to every bias and batch-norm beta after b_init */
    ParamInit p_init;             /* != PINIT_NONE: every parameter = 0 or p_value */
    double p_value;
    ConstructConfig construct;    /* on: parameters from trainer_construct */
    int n_ops;                    /* > 0: the explicit op list below; 0: the MLP above */
    OpDesc ops[NN_MAX_OPS];
    Preset preset;                /* with n_ops 0, a preset instead of the MLP: */
    int base_width, width_mult;   /*   base width b (ResNet) and widening factor w (>= 1);
                                       act, skip and batch_norm as above */
} NetConfig;

/* A layer with a weight matrix (a dense op), and the batch norm that follows it. */
typedef struct {
    int op;                /* its index in Net.ops */
    int in, out;           /* I, O */
    size_t w, b;           /* offsets of W (O,I) and b (O) in params/grads */
    bool bn;               /* a batch norm op reads the layer's output */
    size_t gamma, beta;    /* offsets of gamma, beta (O) if bn */
    size_t rmean, rvar;    /* offsets of running mean, var (O) in buffers if bn */
} NnLayer;

typedef struct NnWork NnWork;

typedef struct {
    NetConfig cfg;
    int n_ops;
    Op *ops;               /* (n_ops) */
    int n_slots;           /* slot 0 is the input; the last op writes out_slot */
    Shape *slot_shape;     /* (n_slots) */
    int out_slot;
    int n_layers;          /* L: ops with a weight matrix */
    NnLayer *layers;       /* (L) */
    size_t n_params;       /* P */
    float *params;         /* (P) */
    float *grads;          /* (P) */
    size_t n_buffers;
    float *buffers;        /* batch-norm running statistics */
    int max_batch;
    NnWork *work;          /* activations for batches of up to max_batch */
    float *dlogits;        /* (max_batch, K) gradient of the mean loss wrt logits */
} Net;

/* Activations of a net for batches of up to max_batch: per slot its values and their
 * gradient, per op its cache; owned by whoever made it (nn_work_new). */
struct NnWork {
    int max_batch;
    float **act;           /* per slot (max_batch, size); act[0] is the last input */
    float **grad;          /* per slot (max_batch, size) */
    bool *grad_set;        /* per slot: reached by the running backward pass */
    float **cache, **aux;  /* per op, OpKindDef.cache_floats / aux_floats */
    double *red;           /* (2, widest feature count) reductions */
    float *scratch;        /* the ops' shared scratch (OpPass.scratch), or NULL */
    bool last_train;       /* the last forward was in training mode */
};

/* The op list of cfg: the explicit one, the preset or the MLP shorthand expanded.
 * Returns n_ops (<= NN_MAX_OPS). */
int nn_expand(const NetConfig *cfg, OpDesc *ops);

/* The op list of cfg's preset (nn_preset.c); returns n_ops. */
int nn_preset_expand(const NetConfig *cfg, OpDesc *ops);

/* Checks cfg's op list for inputs of cfg->n_in features and cfg->n_out classes: every
 * input slot written before it is read (no dangling slot, no cycle), every slot written
 * once, shapes that fit, the last op's output the class count. Returns 0, or -1 with a
 * message in msg and the index of the offending op in *bad_op (-1: the list as a whole). */
int nn_check(const NetConfig *cfg, char *msg, size_t len, int *bad_op);

/* Multiply-adds of one sample's forward pass. */
double nn_flops(const NetConfig *cfg);

/* The weight matrices of cfg's ops (the layers of metrics and rank projections), in op
 * order, into views (NN_MAX_OPS entries, or NULL); returns their number L. */
int nn_weight_views(const NetConfig *cfg, WeightView *views);

/* The ops of cfg (which must pass nn_check) resolved - shapes, parameter offsets - into
 * ops (NN_MAX_OPS entries); returns their number. */
int nn_resolve(const NetConfig *cfg, Op *ops);

/* Bytes of an NnWork that passes touch: activations, caches and scratch of
 * forward_batch samples, gradients of backward_batch samples (the trainer evaluates in
 * larger batches than it trains in; untouched pages cost no memory). */
size_t nn_work_bytes(const NetConfig *cfg, int forward_batch, int backward_batch);

/* Called by nn_backward when the gradient of params[off, off+n) is final and the
 * backward pass will not read those parameters again: an optimizer may update them
 * there, while the gradient is still in cache. */
typedef void (*NnRangeHook)(void *ctx, size_t off, size_t n);

/* Allocates a net for batches of at most max_batch samples (cfg must pass nn_check).
 * Parameters are zero until nn_init_params. Returns NULL when its memory cannot be
 * allocated (the width is the user's choice: a too-large point must fail alone). Free
 * with nn_free (accepts NULL). */
Net *nn_new(const NetConfig *cfg, int max_batch);
void nn_free(Net *net);

/* Work space for batches of up to max_batch, for passes beside the net's own (NULL
 * when out of memory); nn_work_free accepts NULL. */
NnWork *nn_work_new(const Net *net, int max_batch);
void nn_work_free(const Net *net, NnWork *w);

/* Number of parameters P of a configuration. */
size_t nn_param_count(const NetConfig *cfg);

/* The shape vector that keys random streams: (D, the output size of every op with a
 * weight matrix) - for an MLP (D, h_1..h_H, K); returns its length. dims must hold
 * NN_MAX_DIMS ints. */
int nn_shape_dims(const NetConfig *cfg, int *dims);

/* Initialises parameters per cfg from the random streams of `seed` (see rng.h): the
 * l-th op with a weight matrix (dense, conv; its fan-in is the view's columns) from
 * streams (RNG_INIT_WEIGHT, l) and (RNG_INIT_BIAS, l); batch norm: gamma 1, beta 0,
 * running mean 0, running var 1. Then b_offset is added to every bias and beta; with
 * p_init every parameter is 0 or p_value instead (running statistics as above). */
void nn_init_params(Net *net, uint64_t seed);

/* Forward pass through w (the net's own: nn_forward). x (B,D) row-major, B <= the
 * work's max_batch. train selects batch statistics (and updates the running ones in
 * net->buffers: the only write to the net) or
 * running statistics for batch norm. Returns the logits (B,K), valid until the next
 * forward through w. */
const float *nn_forward_work(const Net *net, NnWork *w, const float *x, int B, bool train);
const float *nn_forward(Net *net, const float *x, int B, bool train);

/* Replaces the running statistics of every batch-norm op by those of x (n,D): the mean
 * and the unbiased variance of the op's input in one training-mode forward pass of the
 * n samples (PyTorch: reset_running_stats, momentum 1, one batch), to float rounding.
 * The evaluation-mode net then normalises as the data do, not as the running averages
 * (at initialisation 0 and 1) say. Nothing else changes. 0, or -1 when the work space
 * for n samples cannot be allocated (the statistics are then unchanged). */
int nn_set_batch_statistics(Net *net, const float *x, int n);

/* dst ready for the evaluation-mode backward pass, without parameter gradients, of src's
 * inputs [first, first + n), each repeated k times (row r of dst is row first + r / k of
 * src): the rows of a backward pass per sample and logit, at the cost of one forward
 * pass of n rows. Copies the values that pass reads (the inputs of kinds with
 * backward_reads_x) and aux; other values of dst are stale, and dst->act[0] is left to
 * the caller. */
void nn_work_repeat(const Net *net, const NnWork *src, int first, int n, int k, NnWork *dst);

/* Softmax cross-entropy of the last forward's logits against labels y (B), mean
 * over the batch. Adds the number of correct argmax predictions to *correct if
 * non-NULL. With want_grad, fills net->dlogits = (softmax - onehot) / B. */
double nn_loss(Net *net, const uint8_t *y, int B, long *correct, bool want_grad);


/* Called after op `op`'s backward pass (the NTK reads activations and gradients). */
typedef void (*NnOpObserver)(void *ctx, const Net *net, const NnWork *w, int op, int B);

/* Backward pass through w for its last forward, from dL/dlogits in w->grad[out_slot]:
 * parameter gradients into dparams (P, overwritten) unless NULL, dL/dx (B,D) into dx
 * unless NULL. hook (with dparams) and observe may be NULL. */
void nn_backward_work(const Net *net, NnWork *w, int B, float *dparams, float *dx,
                      NnRangeHook hook, void *ctx, NnOpObserver observe, void *obs_ctx);

/* The net's own backward pass for the last nn_forward and the dlogits of the last
 * nn_loss: overwrites net->grads with d(mean loss)/d(params). x is the same input as
 * forward. hook (may be NULL) is called once per op with parameters, last op first. */
void nn_backward(Net *net, const float *x, int B, NnRangeHook hook, void *ctx);

/* d(mean loss)/d(input) (B,D) into dx for the last forward and the dlogits of the last
 * nn_loss, without parameter gradients (net->grads is untouched): what adversarial
 * attacks need. The forward must have been in evaluation mode, or the net has no batch
 * norm (a training-mode batch-norm input gradient would couple the samples). */
void nn_input_grad(Net *net, int B, float *dx);

/* Logits of the last forward pass. */
const float *nn_logits(const Net *net);

/* ---- double precision with the R-operator (the certificate) ------------------------ */

/* Activations, their R{}, gradients and their R{} per slot, in double. */
typedef struct {
    int max_batch;
    double **act, **ract, **grad, **rgrad;
    bool *grad_set;
} NnRWork;

NnRWork *nn_rwork_new(const Net *net, int max_batch);
void nn_rwork_free(const Net *net, NnRWork *w);

/* Forward pass of x (B,D) at parameters theta (P), batch norm in evaluation mode, and
 * with v (P, or NULL) R{activations} along v. The logits are in w->act[out_slot]. */
void nn_r_forward(const Net *net, NnRWork *w, const double *theta, const double *v,
                  const double *x, int B);

/* Backward pass from dL/dlogits in w->grad[out_slot] (and, with v, its R{} in
 * w->rgrad[out_slot]): g += dL/dtheta, hv += R{dL/dtheta} (either may be NULL). */
void nn_r_backward(const Net *net, NnRWork *w, const double *theta, const double *v, int B,
                   double *g, double *hv);

#endif
