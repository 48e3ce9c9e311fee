#!/usr/bin/env bash
# Runs a program under Open MPI as the tests need it: as root, oversubscribed (more
# ranks than cores), unbound. These settings belong to the test harness, not to bpsweep.
# usage: mpirun.sh NP program [args...]
np=$1
shift
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun --oversubscribe --bind-to none -np "$np" "$@"
