/* spec_layers: an architecture's "layers", the explicit op list: one entry per op,
 * its kind by the name of its OpKindDef, its settings by the variant of its kind
 * (LAYER_FIELDS), its inputs by the names of earlier layers. Shapes are checked against
 * the data later (spec_check_nets). */
#define _POSIX_C_SOURCE 200809L
#include "spec_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_MAX_KERNEL 1024         /* largest kernel, stride, padding */

/* The slot a reference names: "input" is slot 0, the name of layers[j] is slot j + 1.
 * names (n of them, "" for an unnamed layer) are every layer's, so a reference to a
 * later layer is told from one to no layer. Returns the slot or -1 (message in c). */
static int layer_ref(const Ctx *c, const cJSON *v, const char *path, char (*names)[SPEC_NAME_MAX],
                     int n, int self)
{
    char g[80];
    if (!cJSON_IsString(v))
        return spec_fail_at(c, path, "expected the name of an earlier layer or \"input\", got %s",
                            spec_got(v, g, sizeof g));
    if (strcmp(v->valuestring, "input") == 0)
        return 0;
    for (int j = 0; j < n; j++)
        if (strcmp(names[j], v->valuestring) == 0) {
            if (j >= self)
                return spec_fail_at(c, path, "names layers[%d], which is not before this layer: a "
                                    "layer reads only the net's input and earlier layers", j);
            return j + 1;
        }
    return spec_fail_at(c, path, "no layer is named %s", spec_got(v, g, sizeof g));
}

/* One entry of "layers" while it is read or written. */
typedef struct {
    OpDesc op;                    /* first: the table's members are OpDesc's */
    int k;                        /* its index: it writes slot k + 1 */
    char (*names)[SPEC_NAME_MAX]; /* reading: every layer's name ("" for none), n of them */
    int n;
    const char *list_path;        /* reading: the path of "layers" */
    bool named;                   /* writing: a later layer reads it by name */
} LayerSlot;

/* The variants of an entry of "layers", by the number of inputs of its kind. */
#define LAYER_V_ONE 1u   /* one input, no settings */
#define LAYER_V_DENSE 2u
#define LAYER_V_TWO 4u
#define LAYER_V_CONV 8u
#define LAYER_V_POOL 16u  /* max_pool, avg_pool */

static unsigned layer_variant(OpKind kind)
{
    switch (kind) {
    case OP_DENSE:
        return LAYER_V_DENSE;
    case OP_CONV:
        return LAYER_V_CONV;
    case OP_MAX_POOL:
    case OP_AVG_POOL:
        return LAYER_V_POOL;
    default:
        return OP_KINDS[kind]->n_inputs > 1 ? LAYER_V_TWO : LAYER_V_ONE;
    }
}

/* "bias" of a convolution (default true) */
static int read_layer_bias(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    char g[80];
    if (!cJSON_IsBool(v))
        return spec_fail_at(c, path, "expected true or false, got %s", spec_got(v, g, sizeof g));
    ((LayerSlot *)obj)->op.no_bias = cJSON_IsFalse(v);
    return 0;
}

static void write_layer_bias(SpecBuf *b, const void *obj)
{
    spec_sb_puts(b, ((const LayerSlot *)obj)->op.no_bias ? "false" : "true");
}

static int read_layer_type(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    const char *kinds[OP_N_KINDS + 1];
    for (int k = 0; k < OP_N_KINDS; k++)
        kinds[k] = OP_KINDS[k]->name;
    kinds[OP_N_KINDS] = NULL;
    int kind;
    if (spec_read_enum(c, v, path, kinds, &kind))
        return -1;
    l->op = (OpDesc){.kind = (OpKind)kind, .in = {l->k, -1}, .out = l->k + 1};
    return 0;
}

static void write_layer_type(SpecBuf *b, const void *obj)
{
    spec_sb_str(b, OP_KINDS[((const LayerSlot *)obj)->op.kind]->name);
}

/* A layer's own name (read for every layer before anything else): not "input", not
 * another layer's. */
static int read_layer_name(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    char(*names)[SPEC_NAME_MAX] = l->names;
    if (spec_read_name(c, v, path, SPEC_NAME_MAX - 1, names[l->k]))
        return -1;
    if (strcmp(names[l->k], "input") == 0)
        return spec_fail_at(c, path, "\"input\" names the net's input; choose another name");
    for (int j = 0; j < l->k; j++)
        if (strcmp(names[j], names[l->k]) == 0)
            return spec_fail_at(c, path, "duplicate layer name \"%s\" (also %s[%d])",
                                names[l->k], l->list_path, j);
    return 0;
}

/* Canonical names are generated ("l<k>"), and only for a layer a later one reads by
 * name, so the names a spec chose do not change its hash. */
static bool layer_named(const void *obj)
{
    return ((const LayerSlot *)obj)->named;
}

static void write_layer_name(SpecBuf *b, const void *obj)
{
    spec_sb_printf(b, "\"l%d\"", ((const LayerSlot *)obj)->k);
}

/* A reference to slot `slot`: "input", or the generated name of the layer writing it. */
static void write_layer_ref(SpecBuf *b, int slot)
{
    if (slot == 0)
        spec_sb_puts(b, "\"input\"");
    else
        spec_sb_printf(b, "\"l%d\"", slot - 1);
}

static int read_layer_input(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    l->op.in[0] = layer_ref(c, v, path, l->names, l->n, l->k);
    return l->op.in[0] < 0 ? -1 : 0;
}

/* written only where it is not the previous layer's output */
static bool layer_input_given(const void *obj)
{
    const LayerSlot *l = obj;
    return l->op.in[0] != l->k;
}

static void write_layer_input(SpecBuf *b, const void *obj)
{
    write_layer_ref(b, ((const LayerSlot *)obj)->op.in[0]);
}

static int read_layer_inputs(const Ctx *c, const cJSON *v, const char *path, void *obj)
{
    LayerSlot *l = obj;
    const OpKindDef *def = OP_KINDS[l->op.kind];
    char g[80];
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != def->n_inputs)
        return spec_fail_at(c, path, "expected an array of %d layer names, got %s",
                            def->n_inputs, spec_got(v, g, sizeof g));
    int j = 0;
    for (const cJSON *r = v->child; r; r = r->next, j++) {
        char rpath[SPEC_PATH_LEN];
        spec_path_index(rpath, path, j);
        if ((l->op.in[j] = layer_ref(c, r, rpath, l->names, l->n, l->k)) < 0)
            return -1;
    }
    return 0;
}

static void write_layer_inputs(SpecBuf *b, const void *obj)
{
    const LayerSlot *l = obj;
    spec_sb_puts(b, "[");
    for (int j = 0; j < OP_KINDS[l->op.kind]->n_inputs; j++) {
        if (j)
            spec_sb_puts(b, ",");
        write_layer_ref(b, l->op.in[j]);
    }
    spec_sb_puts(b, "]");
}

/* An entry of "layers" (a LayerSlot): the type first, since it says which keys the entry
 * may have. A layer reads the previous layer's output (the net's input for the first)
 * unless "input" or, for two inputs, "inputs" says otherwise. */
static const SpecField LAYER_FIELDS[] = {
    {SPEC_CUSTOM("type", read_layer_type, write_layer_type), .pass = SPEC_PASS_FIRST,
     .needed = spec_needed_always},
    {SPEC_CUSTOM("name", read_layer_name, write_layer_name), .pass = SPEC_PASS_FIRST,
     .when = layer_named},
    {SPEC_CUSTOM("input", read_layer_input, write_layer_input),
     .variants = LAYER_V_ONE | LAYER_V_DENSE | LAYER_V_CONV | LAYER_V_POOL,
     .when = layer_input_given},
    {SPEC_CUSTOM("inputs", read_layer_inputs, write_layer_inputs), .variants = LAYER_V_TWO,
     .required = true},
    {SPEC_INT("out", OpDesc, units, 1, SPEC_MAX_WIDTH), .variants = LAYER_V_DENSE | LAYER_V_CONV,
     .needed = spec_needed_always},
    {SPEC_INT("kernel", OpDesc, kernel, 1, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL, .needed = spec_needed_always},
    /* default: 1 for a convolution, the kernel for a pool (set after reading) */
    {SPEC_INT("stride", OpDesc, stride, 1, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL},
    {SPEC_INT("padding", OpDesc, pad, 0, SPEC_MAX_KERNEL),
     .variants = LAYER_V_CONV | LAYER_V_POOL},
    {SPEC_CUSTOM("bias", read_layer_bias, write_layer_bias), .variants = LAYER_V_CONV},
    {.key = NULL}};
static const SpecField *const LAYER_TYPE = &LAYER_FIELDS[0];
static const SpecField *const LAYER_NAME = &LAYER_FIELDS[1];

/* "layers": the op list of net; layer k writes slot k + 1. The names of all layers are
 * read first, so that a reference to a later layer is told from one to no layer. Shapes
 * are checked once the data's size is known (spec_check_nets). */
int spec_read_layers(const Ctx *c, const cJSON *v, const char *path, NetConfig *net)
{
    char ipath[SPEC_PATH_LEN], qual[64];
    int n;
    if (spec_read_array(c, v, path, "layer objects", &n))
        return -1;
    if (n > NN_MAX_OPS)
        return spec_fail_at(c, path, "expected at most %d layers, got %d", NN_MAX_OPS, n);
    LayerSlot l = {.names = xcalloc((size_t)n, sizeof *l.names), .n = n, .list_path = path};
    int rc = 0;
    l.k = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, l.k++) {
        spec_path_index(ipath, path, l.k);
        if (cJSON_IsObject(e))
            rc = spec_read_member(c, e, ipath, LAYER_NAME, &l);
    }
    l.k = 0;
    for (const cJSON *e = v->child; e && rc == 0; e = e->next, l.k++) {
        spec_path_index(ipath, path, l.k);
        if ((rc = spec_expect_object(c, e, ipath)) != 0 ||
            (rc = spec_read_member(c, e, ipath, LAYER_TYPE, &l)) != 0)
            break;
        snprintf(qual, sizeof qual, " for a %s layer", OP_KINDS[l.op.kind]->name);
        rc = spec_read_object(c, e, ipath, LAYER_FIELDS, layer_variant(l.op.kind), qual, false,
                              &l);
        if (l.op.stride == 0) /* not given */
            l.op.stride = l.op.kind == OP_CONV ? 1 : l.op.kernel;
        net->ops[l.k] = l.op;
    }
    free(l.names);
    net->n_ops = n;
    return rc;
}

/* The canonical "layers" of net. */
void spec_write_layers(SpecBuf *b, const NetConfig *net)
{
    /* named[s]: slot s is read by name (not as the previous layer's output) */
    bool *named = xcalloc((size_t)net->n_ops + 1, sizeof *named);
    for (int k = 0; k < net->n_ops; k++)
        for (int j = 0; j < OP_KINDS[net->ops[k].kind]->n_inputs; j++)
            if (OP_KINDS[net->ops[k].kind]->n_inputs > 1 || net->ops[k].in[j] != k)
                named[net->ops[k].in[j]] = true;
    spec_sb_puts(b, "[");
    for (int k = 0; k < net->n_ops; k++) {
        LayerSlot l = {.op = net->ops[k], .k = k, .named = named[k + 1]};
        if (k)
            spec_sb_puts(b, ",");
        spec_write_object(b, LAYER_FIELDS, layer_variant(l.op.kind), &l);
    }
    spec_sb_puts(b, "]");
    free(named);
}
