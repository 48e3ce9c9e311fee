/* cert: the local-minimum certificate of claim 1 - is a trained net at a minimum of its
 * regularised training loss, and is it linear on the data? Numerics only.
 *
 * Over the first n training samples, in double precision, with the net in evaluation
 * mode and the regulariser of training R(theta) = (lambda/2) | ||theta||^2 - c |
 * (c = 0: weight decay), whose gradient is lambda * sign(||theta||^2 - c) * theta:
 *   - the mean cross-entropy with and without R;
 *   - ||grad (loss + R)||_2 over every parameter;
 *   - per ReLU layer, the fraction of negative pre-activations (0: linear on the data);
 *   - the largest-magnitude and the smallest eigenvalue of the Hessian of loss + R, by
 *     Lanczos with full reorthogonalisation on exact Hessian-vector products (the
 *     R-operator through the forward and backward passes, with the ReLU pattern held
 *     fixed, as autograd's Hessian does).
 * Any op list: the passes are the ops' own (nn_r_forward, nn_r_backward); batch norm
 * is in evaluation mode (an affine map per feature with its running statistics). */
#ifndef BPSWEEP_CERT_H
#define BPSWEEP_CERT_H

#include <stdint.h>

#include "bpsweep/data.h"
#include "bpsweep/nn.h"

#define CERT_DEFAULT_TOLERANCE 1e-4

typedef struct {
    double loss;          /* mean cross-entropy + R */
    double loss_data;     /* mean cross-entropy */
    double grad_norm;     /* ||grad (loss + R)|| */
    double hess_max_abs;  /* the eigenvalue of largest magnitude (signed) */
    double hess_min;      /* the smallest eigenvalue */
    int hess_iterations;  /* Lanczos iterations run */
} Certificate;

/* Measures net on the first n samples of d (n <= 0 or > d->n: all) with regulariser
 * strength lambda and target c (absolute). neg_frac (L values, or NULL) gets each layer's
 * fraction of negative pre-activations, NaN for layers without ReLU. iterations bounds the
 * Lanczos iterations (at most P); with tol > 0 Lanczos stops earlier, once the residuals
 * of the smallest and the largest-magnitude Ritz pairs are below tol |lambda_max|; seed
 * picks its start vector. Returns 0, or -1 if LAPACK fails or the Lanczos basis cannot
 * be allocated. */
int cert_measure(const Net *net, const Dataset *d, int n, double lambda, double c,
                 int iterations, double tol, uint64_t seed, Certificate *out, double *neg_frac);

/* The verdict on a certificate with tolerance tol: CERT_MINIMUM when ||grad|| < tol and
 * lambda_min >= -tol |lambda_max|; CERT_SADDLE when ||grad|| < tol but the Hessian has
 * a more negative eigenvalue; CERT_NOT_CONVERGED when ||grad|| >= tol (not a critical
 * point: no claim either way). */
typedef enum { CERT_NOT_CONVERGED = 0, CERT_MINIMUM = 1, CERT_SADDLE = 2 } CertVerdict;
CertVerdict cert_verdict(const Certificate *c, double tol);

/* neg_frac (L values) as cert_measure gives it, over all of d, from the forward pass
 * alone (the test set's ReLU activity). */
void cert_negative_fraction(const Net *net, const Dataset *d, double *neg_frac);

/* ||grad (loss + R)|| of net over all of d, as cert_measure computes it (the stopping
 * rule of training, train.stop). */
double cert_grad_norm(const Net *net, const Dataset *d, double lambda, double c);

/* The certificate's objective for a second-order optimizer (train.optimizer "newton",
 * newton.h): loss + R over all of d in double precision, net's shapes, op list and
 * running statistics with the parameters theta given to each call; batch norm in
 * evaluation mode. cert_objective has newton.h's NewtonFn signature (ctx: the
 * CertObjective): returns loss + R at theta; with g, g = its gradient; with v, hv = its
 * Hessian times v (exactly, with the ReLU pattern at theta). */
typedef struct CertObjective CertObjective;
CertObjective *cert_objective_new(const Net *net, const Dataset *d, double lambda, double c);
void cert_objective_free(CertObjective *o); /* accepts NULL */
double cert_objective(void *o, const double *theta, double *g, const double *v, double *hv);

#endif
