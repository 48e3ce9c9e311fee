/* lock: one writer per results file. "<results>.lock" holds the writer's host, process
 * id, Slurm job id (if any) and start time. A lock is stale - and taken over with a
 * warning - when its process is gone (same host), when it was left by an earlier run
 * of the same Slurm job (a requeued job keeps its id), or when its Slurm job is no
 * longer running (squeue). Otherwise the second writer is refused. */
#ifndef BPSWEEP_LOCK_H
#define BPSWEEP_LOCK_H

#include <stdbool.h>
#include <stdio.h>

#include "bpsweep/util.h"

#define LOCK_PATH_MAX 4096

/* Creates the lock of `results` (path written to lock_path). Warnings go to log.
 * Returns 0, or -1 with err naming the current holder. */
int lock_acquire(const char *results, char *lock_path, FILE *log, BpsErr *err);

/* Whether the lock of `results` exists and names host and pid, and - when host is this
 * machine - that process is alive. (bpsweep status: is a progress file's sweep live?) */
bool lock_held_by(const char *results, const char *host, long pid);

/* Removes a lock this process created. */
void lock_release(const char *lock_path);

#endif
