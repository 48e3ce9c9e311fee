#!/usr/bin/env bash
# Full-batch gradient descent (train.batch_size "full") and the gradient-norm stopping rule
# (train.stop) against PyTorch in float64 (tests/full_batch_reference.py):
#   - two MLPs, 20 full-batch epochs with momentum and weight decay from the stored
#     initial weights: train_loss and test_loss of every epoch within 1e-4 relative, the
#     final parameters within 1e-4 + 1e-3 |ref|;
#   - train.stop with a threshold T the reference norm crosses mid-run: stop_epoch is the
#     reference's first epoch below T, stop_grad_norm the independent norm of the stopped
#     parameters (1e-6 relative), the curves NaN after it; one epoch short it does not stop;
#   - train.lr_sharpness f: the lr of every epoch is f / |lambda|max of the full float64
#     Hessian at the initialisation (1e-6 relative), and the descent at it matches;
#   - train.optimizer "newton" against scipy.optimize trust-ncg on torch float64
#     gradients and Hessian products: the loss of every iteration (1e-4 relative), the
#     final parameters, and the same number of iterations to the gradient rule.
# FULL_BATCH_REF_LR=0.1001 perturbs the reference's learning rate (and the sharpness lr
# by the same factor): the test must fail.
#   usage: full_batch_reference.sh BPSWEEP
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
# one BLAS / OpenMP thread per process (a busy 2-core machine)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
ref=$here/full_batch_reference.py
run() { # name: bpsweep run DIR/name.json -o DIR/name.h5
    "$bin" run "$tmp/$1.json" -o "$tmp/$1.h5" >"$tmp/$1.log" 2>&1 && ok ||
        bad "run $1: $(tail -3 "$tmp/$1.log")"
}
$py "$ref" prepare "$tmp" && ok || bad "prepare"
run init
$py "$ref" plan "$tmp" && ok || bad "plan: no stopping threshold"
for s in train sharp newton newton_stop stop before; do run $s; done
$py "$ref" check "$tmp" && ok || bad "bpsweep differs from the float64 reference"
summary
