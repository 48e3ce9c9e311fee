/* ntk: the empirical neural tangent kernel of a net over a few inputs and all its
 * logits, and the measures that compare two kernels. Numerics only.
 *
 * For inputs x_1..x_n and logits f_1..f_K, with M = n K and rows r = i K + l,
 *     K[r, s] = < d f_l(x_i) / d theta , d f_m(x_j) / d theta >     (r = (i,l), s = (j,m))
 * with the net in evaluation mode (batch norm uses its running statistics). On the
 * factorised path no M x P gradient matrix is formed: a dense layer z = a W^T + b
 * contributes (a_i . a_j + 1) (dz_r . dz_s), where a_i is the layer's input for sample i
 * and dz_r = d f_l(x_i) / dz, a row of a backward pass of M rows through the op list;
 * batch norm's gamma and beta add (dy_r * xhat_i).(dy_s * xhat_j) and dy_r . dy_s. Other
 * nets (convolutions) take the per-op Jacobian path: the same one backward pass of M rows,
 * each op forming its own block of the Jacobian from it. The generic path forms the
 * Jacobian in chunks of parameters, one batch-1 backward pass per row and chunk (the
 * reference). Derivation: docs/metrics.md. */
#ifndef BPSWEEP_NTK_H
#define BPSWEEP_NTK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpsweep/nn.h"

/* The inputs of the kernel: among the first `pool` training samples (in data-set order),
 * sorted stably by label, the first `n`. Writes n indices into idx; returns n, or the
 * number available if fewer. */
int ntk_select(const uint8_t *labels, int n_samples, int pool, int n, int *idx);

/* K (M x M, row-major, M = n * net->cfg.n_out) of net at the inputs x (n, D), batch norm
 * in evaluation mode. Does not touch the net's own work space, so it can run between
 * training steps. Takes the factorised path where it applies, else the per-op Jacobian one.
 * Returns 0, or -1 if its work space cannot be allocated. */
int ntk_kernel(const Net *net, const float *x, int n, double *K);

/* The factorised path: every op with parameters is dense or batch norm. One evaluation
 * forward of the M rows (sample i repeated K times) and one backward of their one-hot
 * logit gradients; each op adds its share from Gram matrices (ssyrk), so memory is
 * O(M x widest layer) whatever P is. */
bool ntk_factorised_applies(const Net *net);
int ntk_kernel_factorised(const Net *net, const float *x, int n, double *K);

/* The per-op Jacobian path, for any op list (what ntk_kernel takes where the factorised
 * path does not apply): the factorised path's forward pass of the n samples and backward
 * pass of their M rows; after each op with parameters its block J_op (M x n_p(op)) in
 * float from the rows' output signals and inputs (conv: dW_r = dY_r col(X_i)^T, one
 * sgemm for a sample's K rows, db_r = sum_q dY_r; dense: dz_r x_i^T, dz_r; batch norm:
 * sum_q dy_r xhat_i, sum_q dy_r), over blocks of the op's output units of at most
 * chunk_bytes, then K += J_op J_op^T by float ssyrk over blocks of at most 4096 columns,
 * each added into K in double (1.4e-7 of the largest entry from the dsyrk of the same J
 * on the bench nets). A conv with few positions S against its weights per unit (a
 * ResNet's last stage) skips J_op where that costs fewer flops and its scratch fits
 * chunk_bytes: K_rs += sum_{p,q} (dY_r^T dY_s)[p,q] (col(X_i)^T col(X_j))[p,q] in double.
 * The M rows go backward in passes of as many samples as a work space of pass_bytes
 * holds (0: one pass), in multiples of every conv's GEMM group (op_conv_group), each
 * pass's rows of every J_op (or, for such a conv, its signals) stored until the last
 * pass, where the stores fit chunk_bytes in all (else one pass): the kernel is the
 * one-pass kernel to the last bit, its work space a few samples' instead of M rows'
 * (the ConvNet w16's 250 rows: 0.85 GB, whose first touch cost a third of the time).
 * Costs one backward of M rows, M/K GEMMs per conv op and the ssyrk (M^2 P flops): a
 * ResNet-18 b16 needs no more passes than a ConvNet. Derivations
 * and error bound: docs/metrics.md. */
int ntk_kernel_jacobian(const Net *net, const float *x, int n, double *K, size_t chunk_bytes,
                        size_t pass_bytes);

/* Samples per backward pass of ntk_kernel_jacobian for n samples on cfg (n: one pass). */
int ntk_jacobian_pass_samples(const NetConfig *cfg, int n, size_t chunk_bytes,
                              size_t pass_bytes);

/* The generic path, for any op list: the Jacobian's rows (one backward pass per sample
 * and logit, batch 1) over chunks of parameters of at most chunk_bytes of doubles,
 * K += J_c J_c^T with dsyrk. Costs (chunks x M) backward passes: a ConvNet w16 (75k
 * parameters, M = 250) is one chunk of 151 MB, a ResNet-18 b16 (701k) three. */
#define NTK_CHUNK_BYTES ((size_t)512 << 20)
/* ntk_kernel's pass_bytes for ntk_kernel_jacobian */
#define NTK_PASS_BYTES ((size_t)64 << 20)

/* Bytes an NTK of M rows allocates beyond the net for cfg (which must pass nn_check): the
 * per-op Jacobian path's work spaces (the samples' forward pass, one pass's rows), its
 * J_op stores or largest block (M x the most parameters of an op in float, at most
 * NTK_CHUNK_BYTES, or a conv's Gram scratch) and an M x M float Gram, or 0 where the
 * factorised path applies (what `plan` adds to the memory of a point that measures the
 * NTK). */
size_t ntk_bytes(const NetConfig *cfg, int M);
int ntk_kernel_generic(const Net *net, const float *x, int n, double *K, size_t chunk_bytes);

typedef struct {
    double norm0, norm1;   /* ||K0||_F, ||K1||_F */
    double distance;       /* ||K1 - K0||_F */
    double similarity;     /* <K0, K1>_F / (||K0||_F ||K1||_F) */
    double pearson;        /* Pearson correlation of the M^2 entries */
} NtkCompare;

/* Compares two kernels of m x m entries. */
NtkCompare ntk_compare(const double *K0, const double *K1, size_t m);

#endif
