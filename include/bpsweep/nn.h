/* nn: multilayer perceptrons with dense layers, optional batch norm, ReLU or
 * identity activations and residual skips; forward and backward through
 * cblas_sgemm. Numerics only: no MPI, HDF5 or JSON here.
 *
 * Dimension letters used in shape comments throughout:
 *   B  samples in a batch        I  inputs of a layer (in)
 *   O  outputs of a layer (out)  D  input features of the net (n_in)
 *   K  classes (n_out)           P  parameters of the net (n_params)
 *
 * A net with hidden widths [h_1 .. h_H] has L = H + 1 dense layers. Hidden layer l
 * computes, for its input x (B,I):
 *     z = x W^T + b                      W (O,I), b (O)
 *     u = batch_norm(z) if enabled, else z    (gamma, beta (O); PyTorch semantics)
 *     h = act(u) + x if skip and I == O, else act(u)
 * The output layer is dense only: logits = x W^T + b, (B,K).
 *
 * Memory: every parameter lives in one contiguous block `params` (P floats) in
 * layer order W, b[, gamma, beta]; `grads` mirrors it. Batch-norm running
 * statistics (mean, var per layer) live in the block `buffers`. */
#ifndef BPSWEEP_NN_H
#define BPSWEEP_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_HIDDEN 32
#define NN_BN_MOMENTUM 0.1f
#define NN_BN_EPS 1e-5f

typedef enum { ACT_RELU = 0, ACT_IDENTITY = 1 } Activation;

typedef enum {
    WINIT_TORCH = 0,   /* nn.Linear default: U(-1/sqrt(I), 1/sqrt(I)) */
    WINIT_HE_NORMAL,   /* N(0, 2/I) */
    WINIT_CONSTANT,    /* every weight = w_value (all-equal constants) */
} WeightInit;

typedef enum {
    BINIT_TORCH = 0,   /* nn.Linear default: U(-1/sqrt(I), 1/sqrt(I)) */
    BINIT_ZERO,
    BINIT_CONSTANT,    /* every bias = b_value (e.g. +20, -20) */
    BINIT_UNIFORM,     /* U(-b_value, b_value) */
} BiasInit;

typedef struct {
    int n_in, n_out;              /* D, K: set from the data set */
    int n_hidden;                 /* H */
    int hidden[NN_MAX_HIDDEN];    /* h_1 .. h_H */
    Activation act;
    bool skip, batch_norm;
    WeightInit w_init;
    double w_value;
    BiasInit b_init;
    double b_value;
} NetConfig;

typedef struct {
    int in, out;           /* I, O */
    bool bn, relu, skip;   /* skip only where I == O on hidden layers */
    size_t w, b;           /* offsets of W (O,I) and b (O) in params/grads */
    size_t gamma, beta;    /* offsets of gamma, beta (O) if bn */
    size_t rmean, rvar;    /* offsets of running mean, var (O) in buffers if bn */
    /* caches of the last forward pass, each (max_batch, O) */
    float *z;              /* dense output x W^T + b */
    float *xhat;           /* normalised z (bn, training mode) */
    float *u;              /* pre-activation (after bn) */
    float *h;              /* layer output */
    float *inv_std;        /* (O) 1/sqrt(var_batch + eps) of the last training pass */
} NnLayer;

typedef struct {
    NetConfig cfg;
    int n_layers;          /* L */
    NnLayer *layers;       /* (L) */
    size_t n_params;       /* P */
    float *params;         /* (P) */
    float *grads;          /* (P) */
    size_t n_buffers;
    float *buffers;        /* batch-norm running statistics */
    int max_batch;
    int max_width;
    float *dlogits;        /* (max_batch, K) gradient of the mean loss wrt logits */
    float *scratch[2];     /* (max_batch, max_width) backward ping-pong buffers */
    double *colsum;        /* (2, max_width) per-feature reductions */
    bool last_train;       /* the last forward was in training mode */
} Net;

/* Called by nn_backward when the gradient of params[off, off+n) is final and the
 * backward pass will not read those parameters again: an optimizer may update them
 * there, while the gradient is still in cache. */
typedef void (*NnRangeHook)(void *ctx, size_t off, size_t n);

/* Allocates a net for batches of at most max_batch samples. Parameters are zero until
 * nn_init_params. Returns NULL when its memory cannot be allocated (the width is the
 * user's choice: a too-large point must fail alone). Free with nn_free (accepts NULL). */
Net *nn_new(const NetConfig *cfg, int max_batch);
void nn_free(Net *net);

/* Number of parameters P of a configuration (weights, biases, batch-norm gamma/beta). */
size_t nn_param_count(const NetConfig *cfg);

/* The shape vector that keys random streams: (D, h_1..h_H, K); returns its length.
 * dims must hold NN_MAX_HIDDEN + 2 ints. */
int nn_shape_dims(const NetConfig *cfg, int *dims);

/* Initialises parameters per cfg from the random streams of `seed` (see rng.h);
 * batch norm: gamma 1, beta 0, running mean 0, running var 1. */
void nn_init_params(Net *net, uint64_t seed);

/* Forward pass. x (B,D) row-major, B <= max_batch. train selects batch statistics
 * (and updates the running ones) or running statistics for batch norm.
 * Returns the logits (B,K), valid until the next forward. */
const float *nn_forward(Net *net, const float *x, int B, bool train);

/* Softmax cross-entropy of the last forward's logits against labels y (B), mean
 * over the batch. Adds the number of correct argmax predictions to *correct if
 * non-NULL. With want_grad, fills net->dlogits = (softmax - onehot) / B. */
double nn_loss(Net *net, const uint8_t *y, int B, long *correct, bool want_grad);

/* Backward pass for the last forward (which must have been with train=true or
 * without batch norm) and the dlogits of the last nn_loss: overwrites
 * net->grads with d(mean loss)/d(params). x is the same input as forward.
 * hook (may be NULL) is called once per layer, last layer first. */
void nn_backward(Net *net, const float *x, int B, NnRangeHook hook, void *ctx);

/* d(mean loss)/d(input) (B,D) into dx for the last forward and the dlogits of the last
 * nn_loss, without parameter gradients (net->grads is untouched): what adversarial
 * attacks need. The forward must have been in evaluation mode, or the net has no batch
 * norm (a training-mode batch-norm input gradient would couple the samples). */
void nn_input_grad(Net *net, int B, float *dx);

/* Logits of the last forward pass. */
const float *nn_logits(const Net *net);

#endif
