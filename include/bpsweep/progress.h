/* progress: what a person (or `bpsweep status`) sees of a sweep - counts per status
 * and architecture, best test accuracy, elapsed time and ETA; the progress JSON file
 * beside the results (replaced atomically, readable while the sweep runs); the
 * terminal bar and the plain log line. cJSON stays inside progress.c. */
#ifndef BPSWEEP_PROGRESS_H
#define BPSWEEP_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "bpsweep/spec.h"
#include "bpsweep/util.h"

typedef struct {
    int64_t pending, running, done, diverged, failed;
} ProgressCounts;

typedef struct {
    char name[SPEC_NAME_MAX];
    ProgressCounts n;
    double best_test_acc;      /* NaN until a point of the architecture is done */
} ProgressArch;

typedef struct {
    char state[16];            /* "running", "finished", "stopped" */
    char host[64];
    long pid;
    double started, updated;   /* Unix times */
    double eta_seconds;        /* NaN when unknown */
    ProgressCounts n;          /* over all points */
    int n_arch;
    ProgressArch *arch;        /* (n_arch); owned */
} Progress;

/* A zeroed progress of spec's architectures in `state`; ETA and best accuracies unknown.
 * Free with progress_free. */
void progress_init(Progress *p, const Spec *spec, const char *state);

/* The progress file of a results file: "<results>.progress.json". */
void progress_path(const char *results, char *buf, size_t len);

/* Writes p as JSON, atomically (temporary file, fsync, rename). */
int progress_write(const char *path, const Progress *p, BpsErr *err);

/* Reads a progress file; *p is zeroed first; free with progress_free. */
int progress_read(const char *path, Progress *p, BpsErr *err);

void progress_free(Progress *p);

/* "12/40 done  2 running  0 failed  1 diverged  elapsed 0:01:02  ETA 0:04:00" */
void progress_line(const Progress *p, double now, char *buf, size_t len);

/* A terminal bar of the given width followed by progress_line. */
void progress_bar(const Progress *p, double now, int width, char *buf, size_t len);

/* A table per architecture: done, running, pending, failed, diverged, best test acc. */
void progress_print_table(FILE *out, const Progress *p);

/* Unix time now. */
double progress_clock(void);

#endif
