/* spec: a sweep specification, from JSON to validated plain structs.
 *
 * cJSON stays inside the spec files (src/spec*.c): spec_parse returns plain structs
 * and frees the JSON.
 * Every error names the JSON path and what was expected, e.g.
 *   architectures[2].hidden[0]: expected a positive integer
 * and malformed JSON names the line and column. The full format is docs/spec.md.
 *
 * The canonical form is the spec re-emitted with every default filled in, template
 * widths expanded, milestones resolved to epochs and a schema version; two specs that
 * mean the same sweep have the same canonical form and so the same hash. The canonical
 * form is itself a valid spec (an expanded template is written with "family" and
 * "width" keys, which the parser accepts) and re-parsing it gives the same text. Results
 * files store the canonical JSON, and spec_parse reads every older schema version. */
#ifndef BPSWEEP_SPEC_H
#define BPSWEEP_SPEC_H

#include <stdbool.h>
#include <stdint.h>

#include "bpsweep/data.h"
#include "bpsweep/nn.h"
#include "bpsweep/train.h"
#include "bpsweep/util.h"

#define SPEC_SCHEMA_VERSION 1
#define SPEC_NAME_MAX 64
/* Limits (docs/spec.md#limits): a grid has at most 2^31 points, so every point index fits
 * in a signed 32-bit integer, and at most 4096 architectures (after template expansion)
 * and 4096 conditions; spec_load reads spec files of at most 16 MiB. */
#define SPEC_MAX_POINTS (INT64_C(1) << 31)
#define SPEC_MAX_ARCHS 4096
#define SPEC_MAX_CONDS 4096
#define SPEC_MAX_BYTES (16 << 20)

typedef struct {
    char name[SPEC_NAME_MAX];  /* unique; a template expands to "<name>@w=<w>" per width */
    char family[SPEC_NAME_MAX];/* the name as written (the template's name) */
    int width;                 /* template width multiplier w; 0 for a fixed architecture */
    NetConfig net;             /* n_in, n_out are 0 here: they come from the data */
    int source;                /* its index in the spec's "architectures" array */
} ArchSpec;

typedef struct {
    char name[SPEC_NAME_MAX];
    TrainConfig train;         /* base training settings with this condition's overrides;
                                  weight_decay and norm_bias come from the grid point */
} CondSpec;

/* measure.ntk: the empirical NTK at initialisation and after training */
typedef struct {
    bool enabled;
    int samples;               /* inputs of the kernel (default 25): M = samples x classes */
    int pool;                  /* taken from the first `pool` training samples, sorted by
                                  label (default 128) */
    int n_epochs;              /* also after these epochs (kernel evolution), increasing */
    int epochs[64];
    int batch_norm;            /* NTK_BN_RUNNING: batch norm with the net's running
                                  statistics; NTK_BN_DATA: with those of the pool
                                  (nn_set_batch_statistics), for K0 and K1 alike */
} NtkSpec;
enum { NTK_BN_RUNNING, NTK_BN_DATA };

/* measure.robustness: accuracy under PGD at several radii */
#define SPEC_MAX_EPS 16
typedef struct {
    bool enabled;
    int n_eps;
    double eps[SPEC_MAX_EPS];  /* L-inf radii as fractions of the data range */
    int steps;                 /* PGD steps (default 20) */
    double step_ratio;         /* step = ratio x eps (default 0.25) */
    int test_samples;          /* first n test samples attacked (default 1000; 0 = all) */
    int train_samples;         /* first n training samples attacked (default 0: none) */
} RobustSpec;

/* measure.certificate: the local-minimum certificate (cert.h) after training */
typedef struct {
    bool enabled;
    int samples;               /* first n training samples (0 = all; default 0) */
    int iterations;            /* Lanczos iterations for the Hessian (default 100; 0 = none) */
    double tolerance;          /* of the verdict (cert_verdict; default 1e-4) */
    double lanczos_tolerance;  /* stop Lanczos at this relative residual (0 = never) */
} CertSpec;

typedef struct {
    int schema_version;        /* of the text as read */
    char name[SPEC_NAME_MAX];
    DataConfig data;
    int n_arch;
    ArchSpec *arch;            /* (n_arch), templates expanded */
    int n_cond;
    CondSpec *cond;            /* (n_cond); one condition "base" when the spec has none */
    int n_wd;
    double *weight_decay;      /* (n_wd) */
    int n_nb;
    double *norm_bias;         /* (n_nb) targets c; [0] when absent */
    bool norm_bias_relative;   /* targets are multiples of ||theta_0||^2 */
    int n_seed;
    uint64_t *seed;            /* (n_seed) */
    bool store_weights;        /* output.store_weights: keep every point's final weights */
    NtkSpec ntk;               /* measure.ntk */
    RobustSpec robust;         /* measure.robustness */
    CertSpec cert;             /* measure.certificate */
    char *canonical;           /* canonical JSON, NUL-terminated */
    uint64_t hash;             /* bps_hash_bytes of canonical */
} Spec;

/* Parses and validates spec text (NUL-terminated). On success returns 0 and *out is a
 * new Spec that owns all its arrays and `canonical`; free it with spec_free. On failure
 * returns -1, *out is NULL, nothing is left allocated and err holds one message, which
 * starts with `origin` (a file name naming the text; NULL gives "<spec>"). */
int spec_parse(const char *text, const char *origin, Spec **out, BpsErr *err);

/* Reads and parses a spec file of at most SPEC_MAX_BYTES (reading stops there, so
 * /dev/zero is an error, not a hang); messages start with the path. Same ownership as
 * spec_parse. */
int spec_load(const char *path, Spec **out, BpsErr *err);

/* Checks every architecture given as an op list ("layers") or a preset against data of
 * samples of shape `in` and n_out classes (shapes, slots, the last output; nn_check).
 * spec_parse does this for synthetic data; for files, the commands do it once the data
 * are loaded. Returns 0, or -1 with a message starting with origin and naming the JSON
 * path (architectures[i].layers[k], or architectures[i] and the preset's op). */
int spec_check_nets(const Spec *spec, Shape in, int n_out, const char *origin, BpsErr *err);

/* Checks that conditions with augmentation (train.augment: crop or flip) have image data,
 * samples of (C, H, W) with H > 1 or W > 1. spec_parse does this for synthetic data; for
 * files, the commands do it once the data are loaded. Returns 0, or -1 with a message
 * starting with origin and naming the JSON path. */
int spec_check_augment(const Spec *spec, Shape in, const char *origin, BpsErr *err);

/* Frees a Spec and everything it owns; accepts NULL. */
void spec_free(Spec *spec);

/* The differences between the canonical forms of a and b, one line per differing
 * value ("  train.lr: 0.01 -> 0.02"), at most 20, each side quoted up to 200
 * characters; numbers compare and print exactly. "" when they are the same sweep (the
 * same canonical text). The caller frees the string. */
char *spec_diff(const Spec *a, const Spec *b);

/* Why new_ is not a strict extension of old ("" if it is): a strict extension keeps
 * every architecture and condition (identically defined, by name) and every axis
 * value, may add more, and changes nothing else (data, training settings, output;
 * the sweep's name may change). The caller frees the string. */
char *spec_extension_problems(const Spec *old, const Spec *new_);

#endif
