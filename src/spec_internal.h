/* spec_internal.h: what the files of the spec module share, and nothing outside it
 * includes (the public interface is include/bpsweep/spec.h).
 *
 *   spec.c          spec_parse, spec_load, spec_free; the top level, "data" and "output"
 *   spec_train.c    "train" and a condition's "train" (TrainDraft); spec_check_augment
 *   spec_arch.c     "architectures": MLPs, width templates, presets, "init";
 *                   spec_check_nets
 *   spec_layers.c   an architecture's "layers" (the explicit op list)
 *   spec_grid.c     "grid": conditions, norm_bias, weight_decay, seeds; the grid's size
 *   spec_measure.c  "measure": robustness, certificate, NTK
 *   spec_json.c     generic JSON-path readers: values checked one at a time, each failure
 *                   one message naming the JSON path; malformed JSON; NUL escapes; the
 *                   table reader (spec_read_object)
 *   spec_canon.c    the canonical JSON: the table writer (spec_write_object), numbers, the
 *                   growing string buffer
 *   spec_diff.c     spec_diff and spec_extension_problems, on the canonical forms
 *
 * Each object's file holds its field table with the readers and writers of the members
 * that have rules of their own; the tables stay static, and an object read by another
 * file's table is reached through the pair spec_read_X / spec_write_X below.
 * cJSON stays inside these files. */
#ifndef BPSWEEP_SPEC_INTERNAL_H
#define BPSWEEP_SPEC_INTERNAL_H

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpsweep/spec.h"

#define SPEC_PATH_LEN 256 /* JSON paths in messages */

/* Limits of values that the objects of several files read */
#define SPEC_MAX_WIDTH (1 << 20)     /* largest hidden width */
#define SPEC_MAX_EPOCHS 1000000
#define SPEC_SEED_LIMIT 9007199254740992.0 /* 2^53: seeds and data seeds are below it */

/* A growing NUL-terminated string; buf is NULL until something is written (the owner
 * frees buf). */
typedef struct {
    char *buf;
    size_t len, cap;
} SpecBuf;

/* ---- spec_json.c: reading JSON values -------------------------------------------- */

typedef struct {
    const char *origin; /* names the text in messages */
    BpsErr *err;
} Ctx;

/* A closed or open interval of doubles for range checks and their messages. */
typedef struct {
    double lo, hi;
    bool lo_open, hi_open;
} Range;

/* The members of a Range (lo, hi, lo_open, hi_open), for initialisers */
#define SPEC_ANY -HUGE_VAL, HUGE_VAL, true, true
#define SPEC_POSITIVE 0, HUGE_VAL, true, true
#define SPEC_NONNEG 0, HUGE_VAL, false, true

extern const Range SPEC_RANGE_ANY;      /* any finite number */
extern const Range SPEC_RANGE_POSITIVE; /* > 0 */
extern const Range SPEC_RANGE_NONNEG;   /* >= 0 */

/* Every reader below returns 0, or -1 with one message in c->err that starts with the
 * origin and names the JSON path ("origin: path: what"). */
int spec_fail_at(const Ctx *c, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Malformed JSON: line, column and an excerpt around `end` (cJSON's error position). */
int spec_fail_malformed(const Ctx *c, const char *text, const char *end);
/* Refuses a \u0000 escape inside a string or key of text (which cJSON accepted). */
int spec_refuse_nul_escapes(const Ctx *c, const char *text);

/* What a value is, for "got ...": numbers and strings by value, the rest by type. */
const char *spec_got(const cJSON *v, char *buf, size_t len);
/* path.key and path[i] into out (SPEC_PATH_LEN bytes; "..." when cut). */
void spec_path_key(char *out, const char *path, const char *key);
void spec_path_index(char *out, const char *path, int i);

const cJSON *spec_field(const cJSON *obj, const char *key);
int spec_expect_object(const Ctx *c, const cJSON *v, const char *path);
int spec_read_num(const Ctx *c, const cJSON *v, const char *path, const Range *r, double *out);
/* desc overrides the generated description of the range (NULL: generated). */
int spec_read_int(const Ctx *c, const cJSON *v, const char *path, int64_t lo, int64_t hi,
                  const char *desc, int64_t *out);
int spec_read_enum(const Ctx *c, const cJSON *v, const char *path, const char *const *names,
                   int *out);
/* A name of 1..max_len characters from [A-Za-z0-9_.-] into out (max_len + 1 bytes). */
int spec_read_name(const Ctx *c, const cJSON *v, const char *path, size_t max_len, char *out);
/* A non-empty array; *n gets its length. what describes the elements for messages. */
int spec_read_array(const Ctx *c, const cJSON *v, const char *path, const char *what, int *n);

/* One value of an axis (a number, an integer or a name) and its position in the array.
 * Only the member that the axis uses is set; the others stay zero. */
typedef struct {
    double num;
    uint64_t u;
    const char *str;
    int pos;
} DupKey;

/* The first repeat of keys[0..n) in array order: the smallest position *i whose value
 * also occurs earlier, and the first position *j of that value; false if the values are
 * distinct. Sorts keys (O(n log n)). Numbers must not be NaN. */
bool spec_first_duplicate(DupKey *keys, int n, int *i, int *j);
/* A non-empty array of distinct numbers in r, into a new array *out (owned by the caller
 * from the moment it is allocated, so that it is freed on errors too). */
int spec_read_num_axis(const Ctx *c, const cJSON *v, const char *path, const Range *r,
                       const char *what, double **out, int *n);

/* ---- field tables: one declarative table per JSON object --------------------------- */

/* How a member of a JSON object is read and written. */
typedef enum {
    SPEC_FIELD_INT,    /* an int in [lo, hi] */
    SPEC_FIELD_U64,    /* a uint64_t in [lo, hi] */
    SPEC_FIELD_NUM,    /* a double in range */
    SPEC_FIELD_BOOL,   /* a bool: true or false */
    SPEC_FIELD_ENUM,   /* an enum (int-sized): the index of its name in names */
    SPEC_FIELD_STRING, /* a char[size]: a non-empty string of fewer than size bytes */
    SPEC_FIELD_NAME,   /* a char[size]: a name of 1 to hi characters from [A-Za-z0-9_.-] */
    SPEC_FIELD_CUSTOM, /* read and written by the field's own functions */
} SpecFieldKind;

/* One member of a JSON object, declared once: its key (for the check of known keys,
 * for reading and for the canonical form), where its value goes (off bytes into the
 * object's struct), what it may be and when the canonical form writes it. A table is
 * an array of them in canonical order (which is also the order of the known keys in
 * messages), ended by {.key = NULL}. Members are read in passes: pass 0 in table order
 * after the required members are checked, then pass 1, 2, ... so that which error is
 * reported first stays as it was; SPEC_PASS_FIRST members are read by the object's own
 * code (spec_read_member) before anything else. */
#define SPEC_PASS_FIRST (-1)
#define SPEC_MAX_PASS 4
typedef struct SpecField {
    const char *key;
    SpecFieldKind kind;
    size_t off;                 /* offsetof the member in the object's struct */
    size_t size;                /* its size, checked against the kind */
    unsigned variants;          /* the variants of the object with this key (0: all) */
    int64_t lo, hi;             /* INT, U64; NAME: hi is the longest name */
    const char *desc;           /* INT, U64: what is expected (NULL: from lo and hi) */
    Range range;                /* NUM */
    const char *const *names;   /* ENUM, NULL-terminated */
    bool required;              /* "required key is missing" without it */
    int pass;                   /* read in this pass (0 to SPEC_MAX_PASS, or SPEC_PASS_FIRST) */
    bool always;                /* CUSTOM: read also when absent (v is NULL), at its pass */
    /* CUSTOM: reads the value v at path into obj (the object's struct) */
    int (*read)(const Ctx *c, const cJSON *v, const char *path, void *obj);
    /* CUSTOM: writes the value of obj's member (NULL: never written) */
    void (*write)(SpecBuf *b, const void *obj);
    /* the canonical form writes the member only when this holds (NULL: always) */
    bool (*when)(const void *obj);
    /* members that depend on members read before them: `needed` says whether the member
     * is required when its pass comes (NULL: no), `allowed` whether it may be given (NULL:
     * always), else it is refused with the message `refuse` */
    bool (*needed)(const void *obj);
    bool (*allowed)(const void *obj);
    const char *refuse;
    const char *missing; /* the message for a required or needed member that is absent
                            (NULL: "required key is missing") */
} SpecField;

/* Initialisers of a SpecField for member m of struct type, e.g.
 *   {SPEC_INT("epochs", TrainConfig, epochs, 0, 1000000)},
 *   {SPEC_NUM("lr", TrainConfig, lr, SPEC_POSITIVE)},
 *   {SPEC_CUSTOM("schedule", read_schedule, write_schedule), .pass = 1},
 * to which .required, .variants, .when etc. may be added. */
#define SPEC_AT(type, m) .off = offsetof(type, m), .size = sizeof(((type *)0)->m)
#define SPEC_INT(k, type, m, lo_, hi_) \
    .key = k, .kind = SPEC_FIELD_INT, SPEC_AT(type, m), .lo = lo_, .hi = hi_
#define SPEC_U64(k, type, m, lo_, hi_, desc_) \
    .key = k, .kind = SPEC_FIELD_U64, SPEC_AT(type, m), .lo = lo_, .hi = hi_, .desc = desc_
#define SPEC_NUM(k, type, m, ...) \
    .key = k, .kind = SPEC_FIELD_NUM, SPEC_AT(type, m), .range = {__VA_ARGS__}
#define SPEC_BOOL(k, type, m) .key = k, .kind = SPEC_FIELD_BOOL, SPEC_AT(type, m)
#define SPEC_ENUM(k, type, m, names_) \
    .key = k, .kind = SPEC_FIELD_ENUM, SPEC_AT(type, m), .names = names_
#define SPEC_STRING(k, type, m) .key = k, .kind = SPEC_FIELD_STRING, SPEC_AT(type, m)
#define SPEC_NAME(k, type, m, max_len) \
    .key = k, .kind = SPEC_FIELD_NAME, SPEC_AT(type, m), .hi = max_len
#define SPEC_CUSTOM(k, read_, write_) \
    .key = k, .kind = SPEC_FIELD_CUSTOM, .read = read_, .write = write_

/* Checks that v at path is an object with only the keys of table t (members of the
 * variant bits `variant` only) and no key twice, and with every required member. qual
 * qualifies the list of known keys in the message (e.g. ` for source "idx"`);
 * axis_hint adds that weight_decay, norm_bias and seed belong under "grid". */
int spec_check_object(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                      unsigned variant, const char *qual, bool axis_hint);
/* Reads the members of object v (checked) into obj, pass by pass: each member present
 * is read; a `needed` member is required and an `allowed` one refused when its pass
 * comes; absent members keep the value in obj (the default). */
int spec_read_members(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                      unsigned variant, void *obj);
/* Reads member f of object v into obj, if present (after `needed` and `allowed`). */
int spec_read_member(const Ctx *c, const cJSON *v, const char *path, const SpecField *f,
                     void *obj);
/* spec_check_object, then spec_read_members. */
int spec_read_object(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                     unsigned variant, const char *qual, bool axis_hint, void *obj);
/* An object whose member `selector` (SPEC_PASS_FIRST) says which others it allows, like
 * a schedule's type: the keys are checked, the selector read, the first member given but
 * not `allowed` refused (in table order), then the others read. */
int spec_read_selected(const Ctx *c, const cJSON *v, const char *path, const SpecField *t,
                       const SpecField *selector, void *obj);
/* For `needed`: a member required when its pass comes, not before. */
bool spec_needed_always(const void *obj);

/* ---- spec_canon.c: writing JSON ---------------------------------------------------- */

/* Shortest of %.15g, %.16g, %.17g that reads back as x; -0 prints as 0. buf >= 32. */
void spec_fmt_double(double x, char *buf, size_t len);
void spec_sb_puts(SpecBuf *b, const char *s);
void spec_sb_printf(SpecBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void spec_sb_num(SpecBuf *b, double x); /* as spec_fmt_double; x finite */
void spec_sb_bool(SpecBuf *b, bool x);
void spec_sb_str(SpecBuf *b, const char *s); /* a JSON string, escaped */

/* The canonical form of obj with table t, members of the variant bits `variant`:
 * {"key":value,...} in table order, each member whose `when` holds. */
void spec_write_object(SpecBuf *b, const SpecField *t, unsigned variant, const void *obj);
/* [x0,x1,...] */
void spec_write_num_array(SpecBuf *b, const double *x, int n);
void spec_write_int_array(SpecBuf *b, const int *x, int n);

/* ---- the objects, one file each ------------------------------------------------------ */

/* Training settings while they are being merged: milestones stay as written (epochs
 * or fractions) until the final number of epochs is known. */
typedef struct {
    TrainConfig t;
    int n_ms;
    double ms[TRAIN_MAX_MILESTONES];
    bool ms_fraction;   /* milestones are fractions of training */
    bool ms_inherited;  /* a condition's milestones come from the base train object */
    int n_rp;           /* rank projection epochs, as written */
    double rp[TRAIN_MAX_MILESTONES];
    bool rp_fraction;
    bool epochs_given;  /* "epochs" written here or in the base (a limit for "stop") */
    bool trust_given;   /* "trust_region" written here or in the base */
} TrainDraft;

/* The whole spec while it is read, and what its canonical form is written from. */
typedef struct {
    Spec *spec;
    TrainDraft base;        /* "train" as read: the base of every condition */
    TrainConfig base_train; /* "train" resolved */
} SpecDraft;

/* The readers return 0, or -1 with one message in c->err (as the readers above). */

/* spec_train.c: the defaults of "train"; a train object's members applied to d (the base
 * settings, or a condition's overrides on a copy of them); d checked as a whole and
 * resolved into out (milestones and rank-projection epochs as epochs); the canonical
 * form of t. */
void spec_default_train(TrainDraft *d);
int spec_read_train(const Ctx *c, const cJSON *v, const char *path, TrainDraft *d);
int spec_finish_train(const Ctx *c, const TrainDraft *d, const char *path, TrainConfig *out);
void spec_write_train(SpecBuf *b, const TrainConfig *t);

/* spec_arch.c: "architectures" into s->arch (a template appends one ArchSpec per width;
 * s->arch is attached as it grows, so spec_free releases it on errors too). */
int spec_read_architectures(const Ctx *c, const cJSON *v, Spec *s);
void spec_write_architectures(SpecBuf *b, const Spec *s);

/* spec_layers.c: an architecture's "layers" into net->ops (shapes are checked later, by
 * spec_check_nets). */
int spec_read_layers(const Ctx *c, const cJSON *v, const char *path, NetConfig *net);
void spec_write_layers(SpecBuf *b, const NetConfig *net);

/* spec_grid.c: the grid's size from the lengths of root's JSON arrays alone, refused
 * beyond the limits before anything is read; "grid" into d->spec, each condition on a
 * copy of d->base. */
int spec_check_grid_size(const Ctx *c, const cJSON *root);
int spec_read_grid(const Ctx *c, const cJSON *v, const char *path, SpecDraft *d);
void spec_write_grid(SpecBuf *b, const SpecDraft *d);

/* spec_measure.c: "measure" into s->ntk, s->robust, s->cert. */
int spec_read_measure(const Ctx *c, const cJSON *v, const char *path, Spec *s);
void spec_write_measure(SpecBuf *b, const Spec *s);

#endif
