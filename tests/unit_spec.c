/* unit_spec: parsing, defaults, template expansion, milestone resolution, canonical
 * form and hash of sweep specs, and one case per kind of bad input (each checks that
 * parsing fails and that the message names the JSON path and what was expected).
 *
 * Specs are written with single quotes for readability; q() turns them into JSON. */
#define _POSIX_C_SOURCE 200809L
#include "bpsweep/spec.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Turns ' into " (no spec text here needs an apostrophe). Caller frees. */
static char *q(const char *s)
{
    char *t = xstrdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

/* Parses single-quoted spec text; returns the Spec or NULL (err->msg set). */
static Spec *parse_q(const char *s, BpsErr *err)
{
    char *text = q(s);
    Spec *spec = NULL;
    err->msg[0] = '\0';
    int rc = spec_parse(text, "t.json", &spec, err);
    CHECK_MSG((rc == 0) == (spec != NULL), "rc %d but spec %p", rc, (void *)spec);
    free(text);
    return spec;
}

static Spec *must_parse(const char *s)
{
    BpsErr err;
    Spec *spec = parse_q(s, &err);
    CHECK_MSG(spec != NULL, "parse failed: %s", err.msg);
    return spec;
}

/* Canonical text of a spec given in single quotes (caller frees), or NULL. */
static char *canonical_of(const char *s, uint64_t *hash)
{
    Spec *spec = must_parse(s);
    if (!spec)
        return NULL;
    char *c = xstrdup(spec->canonical);
    if (hash)
        *hash = spec->hash;
    spec_free(spec);
    return c;
}

/* Synthetic data of 3 features and 2 classes: op lists are checked against them. */
#define SYN "'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 4, 'features': 3, 'classes': 2}"

/* Synthetic images of (1, 3, 3) and 2 classes. */
#define SYNIMG "'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 4, 'features': 9, " \
               "'classes': 2, 'image_shape': [1, 3, 3]}"

/* The smallest valid spec's two required members, for building cases. */
#define MIN_ARCH "'architectures': [{'name': 'a', 'hidden': [4]}]"
#define MIN_GRID "'grid': {'seed': [0]}"
#define MIN MIN_ARCH ", " MIN_GRID

static const char *FULL_EXAMPLE =
    "{\n"
    "  'schema_version': 1,\n"
    "  'name': 'demo',\n"
    "  'data': {'source': 'idx', 'path': '/usr/share/datasets/fashion-mnist',\n"
    "           'train_subset': 0, 'test_subset': 0, 'normalization': 'standardize'},\n"
    "  'architectures': [\n"
    "    {'name': 'mlp', 'hidden': [256, 256], 'activation': 'relu', 'skip': false,\n"
    "     'batch_norm': false, 'init': {'weights': 'torch_default', 'bias': 'torch_default'}},\n"
    "    {'name': 'plus20', 'hidden': [256, 256],\n"
    "     'init': {'weights': 'torch_default', 'bias': 'constant', 'bias_value': 20}},\n"
    "    {'name': 'wide', 'hidden': ['w', '2w'], 'widths': [64, 128]}\n"
    "  ],\n"
    "  'grid': {'weight_decay': [0, 5e-4], 'seed': [0, 1, 2],\n"
    "           'norm_bias': {'targets': [0, 0.5, 1], 'relative': true},\n"
    "           'conditions': [{'name': 'plain'},\n"
    "                          {'name': 'nesterov', 'train': {'nesterov': true, 'lr': 0.02}}]},\n"
    "  'train': {'epochs': 10, 'batch_size': 128, 'lr': 0.05, 'momentum': 0.9,\n"
    "            'nesterov': false, 'schedule': {'type': 'cosine'}, 'shuffle': true,\n"
    "            'drop_last': false, 'clip_value': 0}\n"
    "}\n";

/* ---- valid specs ---------------------------------------------------------------------- */

static void parse_should_accept_full_example(void)
{
    Spec *s = must_parse(FULL_EXAMPLE);
    if (!s)
        return;
    CHECK(s->schema_version == 1);
    CHECK(strcmp(s->name, "demo") == 0);
    CHECK(s->data.kind == DATA_IDX);
    CHECK(strcmp(s->data.path, "/usr/share/datasets/fashion-mnist") == 0);
    CHECK(s->data.train_subset == 0 && s->data.test_subset == 0);
    CHECK(s->data.norm == NORM_STANDARDIZE);

    CHECK(s->n_arch == 4);
    const ArchSpec *a = s->arch;
    CHECK(strcmp(a[0].name, "mlp") == 0 && strcmp(a[0].family, "mlp") == 0 && a[0].width == 0);
    CHECK(a[0].net.n_hidden == 2 && a[0].net.hidden[0] == 256 && a[0].net.hidden[1] == 256);
    CHECK(a[0].net.act == ACT_RELU && !a[0].net.skip && !a[0].net.batch_norm);
    CHECK(a[0].net.w_init == WINIT_TORCH && a[0].net.b_init == BINIT_TORCH);
    CHECK(a[0].net.n_in == 0 && a[0].net.n_out == 0);
    CHECK(strcmp(a[1].name, "plus20") == 0);
    CHECK(a[1].net.b_init == BINIT_CONSTANT && a[1].net.b_value == 20);
    CHECK(strcmp(a[2].name, "wide@w=64") == 0 && strcmp(a[2].family, "wide") == 0);
    CHECK(a[2].width == 64 && a[2].net.n_hidden == 2);
    CHECK(a[2].net.hidden[0] == 64 && a[2].net.hidden[1] == 128);
    CHECK(strcmp(a[3].name, "wide@w=128") == 0 && a[3].width == 128);
    CHECK(a[3].net.hidden[0] == 128 && a[3].net.hidden[1] == 256);

    CHECK(s->n_wd == 2 && s->weight_decay[0] == 0 && s->weight_decay[1] == 5e-4);
    CHECK(s->n_seed == 3 && s->seed[0] == 0 && s->seed[2] == 2);
    CHECK(s->n_nb == 3 && s->norm_bias[1] == 0.5 && s->norm_bias_relative);

    CHECK(s->n_cond == 2);
    const TrainConfig *plain = &s->cond[0].train, *nest = &s->cond[1].train;
    CHECK(strcmp(s->cond[0].name, "plain") == 0 && strcmp(s->cond[1].name, "nesterov") == 0);
    CHECK(plain->epochs == 10 && plain->batch_size == 128 && plain->lr == 0.05);
    CHECK(plain->momentum == 0.9 && !plain->nesterov && plain->schedule == SCHED_COSINE);
    CHECK(plain->shuffle && !plain->drop_last && plain->clip_value == 0);
    CHECK(plain->weight_decay == 0 && plain->norm_bias == 0 && !plain->norm_bias_relative);
    CHECK(nest->nesterov && nest->lr == 0.02 && nest->momentum == 0.9 && nest->epochs == 10);
    CHECK(nest->schedule == SCHED_COSINE);
    CHECK(s->canonical && s->hash == bps_hash_bytes(BPS_HASH_INIT, s->canonical,
                                                    strlen(s->canonical)));
    spec_free(s);
}

static void parse_should_fill_defaults(void)
{
    Spec *s = must_parse("{" MIN "}");
    if (!s)
        return;
    CHECK(s->schema_version == 1);
    CHECK(strcmp(s->name, "sweep") == 0);
    CHECK(s->data.kind == DATA_IDX && s->data.norm == NORM_STANDARDIZE);
    CHECK(strcmp(s->data.path, "/usr/share/datasets/fashion-mnist") == 0);
    CHECK(s->data.train_subset == 0 && s->data.test_subset == 0);
    CHECK(s->n_arch == 1 && s->arch[0].net.act == ACT_RELU && s->arch[0].width == 0);
    CHECK(strcmp(s->arch[0].family, "a") == 0);
    CHECK(s->arch[0].net.w_init == WINIT_TORCH && s->arch[0].net.b_init == BINIT_TORCH);
    CHECK(s->n_wd == 1 && s->weight_decay[0] == 0);
    CHECK(s->n_nb == 1 && s->norm_bias[0] == 0 && !s->norm_bias_relative);
    CHECK(s->n_seed == 1 && s->seed[0] == 0);
    CHECK(s->n_cond == 1 && strcmp(s->cond[0].name, "base") == 0);
    const TrainConfig *t = &s->cond[0].train;
    CHECK(t->epochs == 10 && t->batch_size == 128 && t->lr == 0.01 && t->momentum == 0.9);
    CHECK(!t->nesterov && t->schedule == SCHED_CONSTANT && t->n_milestones == 0);
    CHECK(t->shuffle && !t->drop_last && t->clip_value == 0);
    CHECK(t->weight_decay == 0 && t->norm_bias == 0 && !t->norm_bias_relative);
    spec_free(s);
}

static void parse_should_accept_empty_hidden_list(void)
{
    Spec *s = must_parse("{'architectures': [{'name': 'softmax', 'hidden': []}], " MIN_GRID "}");
    if (s)
        CHECK(s->n_arch == 1 && s->arch[0].net.n_hidden == 0);
    spec_free(s);
}

static void parse_should_accept_synthetic_data(void)
{
    Spec *s = must_parse("{'data': {'source': 'synthetic', 'n_train': 512, 'n_test': 256, "
                         "'features': 20, 'classes': 4, 'noise': 0.5, 'seed': 7}, " MIN "}");
    if (!s)
        return;
    CHECK(s->data.kind == DATA_SYNTHETIC && s->data.n_train == 512 && s->data.n_test == 256);
    CHECK(s->data.features == 20 && s->data.classes == 4);
    CHECK(s->data.noise == 0.5 && s->data.seed == 7 && s->data.norm == NORM_NONE);
    spec_free(s);
    s = must_parse("{'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 8, "
                   "'features': 2, 'classes': 2}, " MIN "}");
    if (s) {
        CHECK(s->data.noise == 1.0 && s->data.seed == 0 && s->data.clusters == 1);
        /* the default is not written: specs from before clusters_per_class keep their hash */
        CHECK(strstr(s->canonical, "clusters_per_class") == NULL);
    }
    spec_free(s);
    s = must_parse("{'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 8, "
                   "'features': 2, 'classes': 2, 'clusters_per_class': 3}, " MIN "}");
    if (s) {
        CHECK(s->data.clusters == 3);
        CHECK(strstr(s->canonical, "\"classes\":2,\"clusters_per_class\":3,\"noise\"") != NULL);
    }
    spec_free(s);    s = must_parse("{'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 8, "
                   "'features': 12, 'classes': 2, 'image_shape': [3, 2, 2]}, " MIN "}");
    if (s) {
        CHECK(s->data.image[0] == 3 && s->data.image[1] == 2 && s->data.image[2] == 2);
        CHECK(strstr(s->canonical, "\"seed\":0,\"image_shape\":[3,2,2]}") != NULL);
    }
    spec_free(s);
    s = must_parse("{'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 8, "
                   "'features': 12, 'classes': 2}, " MIN "}");
    if (s) /* not given: not written, so specs from before the key keep their hash */
        CHECK(s->data.image[0] == 0 && strstr(s->canonical, "image_shape") == NULL);
    spec_free(s);
}

static void parse_should_accept_cifar_data(void)
{
    Spec *s = must_parse("{'data': {'source': 'cifar10', 'path': '/data/cifar-10-batches-bin', "
                         "'train_subset': 1000, 'normalization': 'per_channel'}, " MIN "}");
    if (s) {
        CHECK(s->data.kind == DATA_CIFAR10 && s->data.norm == NORM_PER_CHANNEL);
        CHECK(strcmp(s->data.path, "/data/cifar-10-batches-bin") == 0);
        CHECK(strstr(s->canonical, "\"data\":{\"source\":\"cifar10\",\"path\":"
                                   "\"/data/cifar-10-batches-bin\",\"train_subset\":1000,"
                                   "\"test_subset\":0,\"normalization\":\"per_channel\"}") != NULL);
    }
    spec_free(s);
    s = must_parse("{'data': {'source': 'cifar100', 'path': '/c100'}, " MIN "}");
    if (s) { /* fine labels and global standardisation by default, both written */
        CHECK(s->data.kind == DATA_CIFAR100 && s->data.labels == CIFAR_FINE);
        CHECK(strstr(s->canonical, "\"normalization\":\"standardize\",\"labels\":\"fine\"}") !=
              NULL);
    }
    spec_free(s);
    s = must_parse("{'data': {'source': 'cifar100', 'path': '/c100', 'labels': 'coarse'}, " MIN
                   "}");
    if (s)
        CHECK(s->data.labels == CIFAR_COARSE);
    spec_free(s);    s = must_parse("{'data': {'source': 'hdf5', 'path': '/d/set.h5', 'classes': 7, "
                   "'test_y': 'val/labels'}, " MIN "}");
    if (s) { /* default dataset names, all written */
        CHECK(s->data.kind == DATA_HDF5 && s->data.classes == 7);
        CHECK(strcmp(s->data.h5.train_x, "train/x") == 0 && strcmp(s->data.h5.test_x, "test/x") == 0);
        CHECK(strcmp(s->data.h5.test_y, "val/labels") == 0);
        CHECK(strstr(s->canonical, "\"normalization\":\"standardize\",\"classes\":7,"
                                   "\"train_x\":\"train/x\",\"train_y\":\"train/y\","
                                   "\"test_x\":\"test/x\",\"test_y\":\"val/labels\"}") != NULL);
    }
    spec_free(s);
}

static void parse_should_accept_init_variants(void)
{
    Spec *s = must_parse(
        "{'architectures': ["
        "{'name': 'c', 'hidden': [4], 'init': {'weights': 'constant', 'weights_value': 0.001,"
        " 'bias': 'constant', 'bias_value': -20}},"
        "{'name': 'u', 'hidden': [4], 'skip': true, 'batch_norm': true, 'activation': 'identity',"
        " 'init': {'weights': 'he_normal', 'bias': 'uniform', 'bias_value': 0.5}},"
        "{'name': 'z', 'hidden': [4], 'init': {'bias': 'zero'}}], " MIN_GRID "}");
    if (!s)
        return;
    CHECK(s->arch[0].net.w_init == WINIT_CONSTANT && s->arch[0].net.w_value == 0.001);
    CHECK(s->arch[0].net.b_init == BINIT_CONSTANT && s->arch[0].net.b_value == -20);
    CHECK(s->arch[1].net.w_init == WINIT_HE_NORMAL && s->arch[1].net.b_init == BINIT_UNIFORM);
    CHECK(s->arch[1].net.b_value == 0.5 && s->arch[1].net.skip && s->arch[1].net.batch_norm);
    CHECK(s->arch[1].net.act == ACT_IDENTITY);
    CHECK(s->arch[2].net.b_init == BINIT_ZERO && s->arch[2].net.w_init == WINIT_TORCH);
    spec_free(s);
}

static void parse_should_expand_templates(void)
{
    Spec *s = must_parse("{'architectures': ["
                         "{'name': 'fixed', 'hidden': [3]},"
                         "{'name': 'res', 'hidden': [10, 'w', '4w', 'w'], 'widths': [8, 2, 16],"
                         " 'skip': true}], " MIN_GRID "}");
    if (!s)
        return;
    CHECK(s->n_arch == 4);
    static const char *const names[] = {"fixed", "res@w=8", "res@w=2", "res@w=16"};
    static const int widths[] = {0, 8, 2, 16};
    for (int i = 0; i < 4 && i < s->n_arch; i++) {
        CHECK_MSG(strcmp(s->arch[i].name, names[i]) == 0, "arch %d is %s", i, s->arch[i].name);
        CHECK(s->arch[i].width == widths[i]);
    }
    for (int i = 1; i < 4 && i < s->n_arch; i++) {
        const NetConfig *n = &s->arch[i].net;
        int w = widths[i];
        CHECK(strcmp(s->arch[i].family, "res") == 0 && n->skip);
        CHECK(n->n_hidden == 4 && n->hidden[0] == 10 && n->hidden[1] == w);
        CHECK(n->hidden[2] == 4 * w && n->hidden[3] == w);
    }
    spec_free(s);
}

static void parse_should_accept_expanded_architecture(void)
{
    /* the canonical form of a template, written out by hand: same hash as the template */
    uint64_t h1 = 0, h2 = 1;
    char *c1 = canonical_of("{'architectures': [{'name': 'w2', 'hidden': ['2w'], "
                            "'widths': [5]}], " MIN_GRID "}", &h1);
    char *c2 = canonical_of("{'architectures': [{'name': 'w2@w=5', 'family': 'w2', "
                            "'width': 5, 'hidden': [10]}], " MIN_GRID "}", &h2);
    CHECK(c1 && c2 && strcmp(c1, c2) == 0 && h1 == h2);
    free(c1);
    free(c2);
}

static void parse_should_resolve_milestone_fractions(void)
{
    Spec *s = must_parse(
        "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'short'}, "
        "{'name': 'long', 'train': {'epochs': 18}}]}, "
        "'train': {'epochs': 9, 'schedule': {'type': 'multistep', "
        "'milestones': [0.3333333333, 0.5555555556, 0.7777777778], 'gamma': 0.5}}}");
    if (!s)
        return;
    const TrainConfig *a = &s->cond[0].train, *b = &s->cond[1].train;
    CHECK(a->schedule == SCHED_MULTISTEP && a->n_milestones == 3 && a->gamma == 0.5);
    CHECK(a->milestones[0] == 3 && a->milestones[1] == 5 && a->milestones[2] == 7);
    /* a condition that changes epochs resolves the inherited fractions against its own */
    CHECK(b->epochs == 18 && b->n_milestones == 3);
    CHECK(b->milestones[0] == 6 && b->milestones[1] == 10 && b->milestones[2] == 14);
    CHECK(strstr(s->canonical, "\"milestones\":[3,5,7],\"gamma\":0.5") != NULL);
    CHECK(strstr(s->canonical, "\"milestones\":[6,10,14]") != NULL);
    spec_free(s);
}

static void parse_should_accept_integer_milestones(void)
{
    Spec *s = must_parse("{" MIN ", 'train': {'epochs': 30, "
                         "'schedule': {'type': 'multistep', 'milestones': [10, 20]}}}");
    if (!s)
        return;
    const TrainConfig *t = &s->cond[0].train;
    CHECK(t->n_milestones == 2 && t->milestones[0] == 10 && t->milestones[1] == 20);
    CHECK(t->gamma == 0.1);
    spec_free(s);
}

static void parse_should_let_conditions_replace_the_schedule(void)
{
    Spec *s = must_parse("{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'step'},"
                         "{'name': 'cos', 'train': {'schedule': {'type': 'cosine'}}}]},"
                         "'train': {'schedule': {'type': 'multistep', 'milestones': [5]}}}");
    if (!s)
        return;
    CHECK(s->cond[0].train.schedule == SCHED_MULTISTEP && s->cond[0].train.n_milestones == 1);
    CHECK(s->cond[1].train.schedule == SCHED_COSINE && s->cond[1].train.n_milestones == 0);
    spec_free(s);
}

static void parse_should_accept_plain_norm_bias_array(void)
{
    Spec *s = must_parse("{" MIN_ARCH ", 'grid': {'seed': [0], 'norm_bias': [0, 2]}}");
    if (!s)
        return;
    CHECK(s->n_nb == 2 && s->norm_bias[1] == 2 && !s->norm_bias_relative);
    spec_free(s);
}

static void parse_should_accept_epochs_zero_and_large_seeds(void)
{
    Spec *s = must_parse("{" MIN_ARCH ", 'grid': {'seed': [9007199254740991, 4294967296]},"
                         "'train': {'epochs': 0}}");
    if (!s)
        return;
    CHECK(s->seed[0] == UINT64_C(9007199254740991) && s->seed[1] == UINT64_C(4294967296));
    CHECK(s->cond[0].train.epochs == 0);
    CHECK(strstr(s->canonical, "[9007199254740991,4294967296]") != NULL);
    spec_free(s);
}

/* ---- canonical form and hash --------------------------------------------------------- */

static void parse_should_read_output_section(void)
{
    Spec *s = must_parse("{" MIN ", 'output': {'store_weights': true}}");
    CHECK(s && s->store_weights);
    CHECK(s && strstr(s->canonical, "\"output\":{\"store_weights\":true}") != NULL);
    spec_free(s);
    s = must_parse("{" MIN "}");
    CHECK(s && !s->store_weights);
    spec_free(s);
}

static void canonical_should_be_frozen(void)
{
    /* The canonical text is stored in results files and hashed: changing it breaks the
     * matching of results. This pins it for a small spec. */
    char *c = canonical_of("{" MIN "}", NULL);
    const char *want =
        "{\"schema_version\":1,\"name\":\"sweep\",\"data\":{\"source\":\"idx\",\"path\":"
        "\"/usr/share/datasets/fashion-mnist\",\"train_subset\":0,\"test_subset\":0,"
        "\"normalization\":\"standardize\"},\"architectures\":[{\"name\":\"a\",\"hidden\":[4],"
        "\"activation\":\"relu\",\"skip\":false,\"batch_norm\":false,\"init\":{\"weights\":"
        "\"torch_default\",\"bias\":\"torch_default\"}}],\"grid\":{\"weight_decay\":[0],"
        "\"seed\":[0],\"norm_bias\":{\"targets\":[0],\"relative\":false},\"conditions\":[{"
        "\"name\":\"base\",\"train\":{\"epochs\":10,\"batch_size\":128,\"lr\":0.01,"
        "\"momentum\":0.9,\"nesterov\":false,\"schedule\":{\"type\":\"constant\"},"
        "\"shuffle\":true,\"drop_last\":false,\"clip_value\":0}}]},\"train\":{\"epochs\":10,"
        "\"batch_size\":128,\"lr\":0.01,\"momentum\":0.9,\"nesterov\":false,\"schedule\":{"
        "\"type\":\"constant\"},\"shuffle\":true,\"drop_last\":false,\"clip_value\":0},"
        "\"output\":{\"store_weights\":false}}";
    CHECK_MSG(c && strcmp(c, want) == 0, "canonical is\n%s", c ? c : "(null)");
    free(c);
}

static void canonical_should_write_augment_only_when_on(void)
{
    char *c = canonical_of("{" MIN_ARCH ", 'train': {'augment': {'crop_padding': 4, 'flip': true}}, "
                           "'grid': {'seed': [0], 'conditions': [{'name': 'a'}, {'name': 'b', "
                           "'train': {'augment': {}}}]}}", NULL);
    /* a inherits it; b turned it off and says so (else it would read back as on) */
    CHECK(c && strstr(c, "\"name\":\"a\",\"train\":{\"epochs\":10,\"batch_size\":128,"
                         "\"lr\":0.01,\"momentum\":0.9,\"nesterov\":false,\"schedule\":{"
                         "\"type\":\"constant\"},\"shuffle\":true,\"drop_last\":false,"
                         "\"clip_value\":0,\"augment\":{\"crop_padding\":4,\"flip\":true}}"));
    CHECK(c && strstr(c, "\"clip_value\":0,\"augment\":{\"crop_padding\":0,\"flip\":false}}"));
    free(c);
    char *plain = canonical_of("{" MIN "}", NULL);
    CHECK(plain && !strstr(plain, "augment"));
    free(plain);
}

static void canonical_should_be_idempotent(void)
{
    static const char *const specs[] = {
        NULL, /* FULL_EXAMPLE */
        "{" MIN "}",
        "{'data': {'source': 'synthetic', 'n_train': 5, 'n_test': 3, 'features': 2, "
        "'classes': 3, 'noise': 0.1, 'seed': 3}, " MIN "}",
        "{'name': 'x.y-z_1', 'architectures': [{'name': 'r', 'hidden': ['w', 7, '3w'], "
        "'widths': [1, 3], 'batch_norm': true, 'init': {'weights': 'constant', "
        "'weights_value': -0.0, 'bias': 'uniform', 'bias_value': 0.1}}], "
        "'grid': {'seed': [5, 1], 'weight_decay': [1e-5, 0.30000000000000004, 1e300], "
        "'norm_bias': {'targets': [4, 0.1], 'relative': true}, 'conditions': [{'name': 'a', "
        "'train': {'epochs': 20, 'clip_value': 0.1}}, {'name': 'b', 'train': {'schedule': "
        "{'type': 'multistep', 'milestones': [0.25, 0.75], 'gamma': 1}}}]}, "
        "'train': {'epochs': 12, 'momentum': 0, 'drop_last': true, 'shuffle': false, "
        "'schedule': {'type': 'multistep', 'milestones': [0.5]}}}",
        "{'data': {'source': 'synthetic', 'n_train': 5, 'n_test': 3, 'features': 12, "
        "'classes': 3, 'image_shape': [3, 2, 2]}, " MIN_ARCH ", 'grid': {'seed': [0], "
        "'conditions': [{'name': 'off', 'train': {'augment': {}}}, {'name': 'crop', 'train': "
        "{'augment': {'crop_padding': 2}}}, {'name': 'base'}]}, "
        "'train': {'augment': {'flip': true}}}",
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
        uint64_t h1 = 0, h2 = 1;
        char *c1 = canonical_of(specs[i] ? specs[i] : FULL_EXAMPLE, &h1);
        if (!c1)
            continue;
        Spec *s2 = NULL;
        BpsErr err;
        int rc = spec_parse(c1, "canonical", &s2, &err);
        CHECK_MSG(rc == 0, "spec %zu: canonical form rejected: %s", i, err.msg);
        if (s2) {
            h2 = s2->hash;
            CHECK_MSG(strcmp(c1, s2->canonical) == 0, "spec %zu:\n%s\n%s", i, c1, s2->canonical);
            CHECK(h1 == h2);
        }
        spec_free(s2);
        free(c1);
    }
}

static void canonical_should_round_trip_numbers(void)
{
    Spec *s = must_parse("{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': "
                         "[0.30000000000000004, 5e-4, 1e-300, -0.0, 123456789.125]}}");
    if (!s)
        return;
    CHECK(s->weight_decay[0] == 0.1 + 0.2);
    CHECK(s->weight_decay[3] == 0 && !signbit(s->weight_decay[3]));
    CHECK(strstr(s->canonical,
                 "[0.30000000000000004,0.0005,1e-300,0,123456789.125]") != NULL);
    spec_free(s);
}

static void hash_should_ignore_layout_key_order_and_defaults(void)
{
    uint64_t h[4] = {0};
    char *c[4];
    c[0] = canonical_of("{'architectures': [{'name': 'a', 'hidden': [4]}], "
                        "'grid': {'seed': [0, 1]}, 'train': {'lr': 0.05}}", &h[0]);
    c[1] = canonical_of("{\n\t'train' : { 'lr' : 5e-2 },\n  'grid':{'seed':[0,1]},\n"
                        "  'architectures':[{'hidden':[4],'name':'a'}]\n}\n", &h[1]);
    c[2] = canonical_of("{'schema_version': 1, 'name': 'sweep', 'architectures': [{'name': 'a',"
                        " 'hidden': [4], 'activation': 'relu', 'skip': false, 'init': {}}],"
                        " 'grid': {'seed': [0, 1], 'weight_decay': [0], 'norm_bias': [0]},"
                        " 'train': {'lr': 0.05, 'epochs': 10, 'schedule': {'type': 'constant'}},"
                        " 'data': {}}", &h[2]);
    c[3] = canonical_of("{'architectures': [{'name': 'a', 'hidden': [4]}], "
                        "'grid': {'seed': [0, 1]}, 'train': {'lr': 0.06}}", &h[3]);
    CHECK(c[0] && c[1] && strcmp(c[0], c[1]) == 0);
    CHECK(c[0] && c[2] && strcmp(c[0], c[2]) == 0);
    CHECK(h[0] == h[1] && h[0] == h[2]);
    CHECK(h[0] != h[3]);
    for (int i = 0; i < 4; i++)
        free(c[i]);
}

/* ---- files ---------------------------------------------------------------------------- */

static const char *data_dir(void)
{
    const char *d = getenv("BPSWEEP_TEST_DATA");
    return d && *d ? d : "tests/data";
}

static void load_should_read_tiny_spec(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/specs/tiny.json", data_dir());
    Spec *s = NULL;
    BpsErr err;
    int rc = spec_load(path, &s, &err);
    CHECK_MSG(rc == 0, "%s", err.msg);
    if (!s)
        return;
    CHECK(s->data.kind == DATA_SYNTHETIC && s->data.n_train == 512 && s->data.features == 20);
    CHECK(s->n_arch == 1 && s->n_wd == 2 && s->n_seed == 2 && s->n_cond == 1 && s->n_nb == 1);
    CHECK(s->cond[0].train.epochs == 3 && s->cond[0].train.batch_size == 32);
    spec_free(s);
}

static void load_should_report_missing_file(void)
{
    static Spec dummy;
    Spec *s = &dummy; /* must be reset to NULL */
    BpsErr err;
    int rc = spec_load("/nonexistent/spec.json", &s, &err);
    CHECK(rc != 0 && s == NULL);
    CHECK(strstr(err.msg, "/nonexistent/spec.json") != NULL);
}

static void load_should_reject_nul_bytes(void)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/nul.json", test_tmpdir());
    static const char text[] = "{\"grid\": {\"seed\": [0]}}\0 junk";
    CHECK(test_write_bytes(path, text, sizeof text - 1) == 0);
    Spec *s = NULL;
    BpsErr err;
    CHECK(spec_load(path, &s, &err) != 0 && s == NULL);
    CHECK_MSG(strstr(err.msg, "NUL byte") != NULL, "%s", err.msg);
    remove(path);
}

/* Every bad_*.json listed in tests/data/specs/README.md fails with its substring. */
static void load_should_reject_bad_spec_files(void)
{
    char path[1024], *readme = NULL;
    BpsErr err;
    snprintf(path, sizeof path, "%s/specs/README.md", data_dir());
    if (bps_read_file(path, &readme, NULL, &err)) {
        CHECK_MSG(0, "%s", err.msg);
        return;
    }
    int n = 0;
    for (char *line = strtok(readme, "\n"); line; line = strtok(NULL, "\n")) {
        char *sep = strstr(line, ".json: ");
        if (strncmp(line, "bad_", 4) != 0 || !sep)
            continue;
        sep[5] = '\0';
        const char *want = sep + 7;
        snprintf(path, sizeof path, "%s/specs/%s", data_dir(), line);
        Spec *s = NULL;
        int rc = spec_load(path, &s, &err);
        CHECK_MSG(rc != 0 && s == NULL, "%s was accepted", line);
        CHECK_MSG(strstr(err.msg, want) != NULL, "%s: message\n  %s\nlacks\n  %s", line, err.msg,
                  want);
        CHECK_MSG(strstr(err.msg, line) != NULL, "%s: message does not name the file: %s", line,
                  err.msg);
        spec_free(s);
        n++;
    }
    CHECK_MSG(n >= 10, "only %d bad spec files listed", n);
    free(readme);
}

/* ---- bad inputs ----------------------------------------------------------------------- */

typedef struct {
    const char *name;  /* what the case checks, cJSON-test style */
    const char *text;  /* single-quoted spec */
    const char *want;  /* substring of the message */
} BadCase;

static const BadCase BAD[] = {
    /* malformed JSON: line and column */
    {"parse_should_reject_malformed_json_with_line_and_column",
     "{\n  'name': 'x',\n  'grid': {'seed': [0] 'x'}\n}", "t.json:3:"},
    {"parse_should_reject_empty_text", "", "t.json:1:1: malformed JSON"},
    {"parse_should_reject_trailing_garbage", "{" MIN "} x", "malformed JSON near"},
    {"parse_should_reject_non_object_top_level", "[1, 2]", "expected a JSON object"},
    /* unknown and duplicate keys */
    {"parse_should_reject_unknown_key", "{" MIN ", 'nmae': 'x'}",
     "nmae: unknown key (known: schema_version, name, data, architectures, grid, train, output, measure)"},
    {"parse_should_reject_unknown_output_key", "{" MIN ", 'output': {'store_weight': true}}",
     "output.store_weight: unknown key (known: store_weights)"},
    {"parse_should_reject_non_boolean_store_weights", "{" MIN ", 'output': {'store_weights': 1}}",
     "output.store_weights: expected"},
    {"parse_should_reject_bad_rank_mode",
     "{" MIN ", 'train': {'rank_projection': {'mode': 'low', 'threshold': 1, 'epochs': [1]}}}",
     "train.rank_projection.mode: expected one of \"off\", \"min\", \"max\", got \"low\""},
    {"parse_should_require_a_rank_threshold",
     "{" MIN ", 'train': {'rank_projection': {'mode': 'max', 'epochs': [1]}}}",
     "train.rank_projection.threshold: required key is missing"},
    {"parse_should_resolve_rank_epochs_within_training",
     "{" MIN ", 'train': {'epochs': 4, 'rank_projection': {'mode': 'min', 'threshold': 0.5, "
     "'epochs': [0.5, 0.9]}}}",
     "train.rank_projection.epochs[1]: fraction 0.9 of 4 epochs resolves to epoch 4, expected an "
     "epoch in [1, 4)"},
    {"parse_should_reject_rank_options_when_off",
     "{" MIN ", 'train': {'rank_projection': {'mode': 'off', 'threshold': 1}}}",
     "train.rank_projection.threshold: not allowed with mode \"off\""},
    {"parse_should_reject_unknown_measure", "{" MIN ", 'measure': {'hessian': {}}}",
     "measure.hessian: unknown key (known: ntk, robustness, certificate)"},
    {"parse_should_require_robustness_radii", "{" MIN ", 'measure': {'robustness': {}}}",
     "measure.robustness.eps: required key is missing"},
    {"parse_should_keep_radii_within_the_data_range",
     "{" MIN ", 'measure': {'robustness': {'eps': [0.1, 1.5]}}}",
     "measure.robustness.eps[1]: expected a number in (0, 1], got 1.5"},
    {"parse_should_refuse_augmentation_of_flat_data",
     "{'data': {'source': 'synthetic', 'n_train': 5, 'n_test': 3, 'features': 4, "
     "'classes': 2}, " MIN ", 'train': {'augment': {'crop_padding': 1}}}",
     "train.augment: crop and flip need image data, but the samples are (C, H, W) = "
     "(4, 1, 1)"},
    {"parse_should_reject_a_negative_crop_padding",
     "{" MIN ", 'train': {'augment': {'crop_padding': -1}}}",
     "train.augment.crop_padding: expected an integer in [0, 1024], got -1"},
    {"parse_should_reject_unknown_augment_keys", "{" MIN ", 'train': {'augment': {'rotate': 1}}}",
     "train.augment.rotate: unknown key (known: crop_padding, flip)"},
    {"parse_should_require_an_adversarial_radius", "{" MIN ", 'train': {'adversarial': {}}}",
     "train.adversarial.eps: required key is missing"},
    {"parse_should_reject_more_ntk_samples_than_pool",
     "{" MIN ", 'measure': {'ntk': {'samples': 30, 'pool': 20}}}",
     "measure.ntk.samples: expected at most pool = 20 samples, got 30"},
    {"parse_should_reject_unordered_ntk_epochs",
     "{" MIN ", 'measure': {'ntk': {'epochs': [3, 2]}}}",
     "measure.ntk.epochs[1]: epochs must be strictly increasing, but 2 follows 3"},
    {"parse_should_reject_unknown_ntk_batch_norm",
     "{" MIN ", 'measure': {'ntk': {'batch_norm': 'train'}}}",
     "measure.ntk.batch_norm: expected one of"},
    {"parse_should_reject_bad_ntk_samples", "{" MIN ", 'measure': {'ntk': {'samples': 0}}}",
     "measure.ntk.samples: expected"},
    {"parse_should_reject_unknown_nested_key", "{" MIN ", 'train': {'lrr': 0.1}}",
     "train.lrr: unknown key (known: epochs, batch_size, lr,"},
    {"parse_should_reject_unknown_key_in_init",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'bais': 'zero'}}], " MIN_GRID "}",
     "architectures[0].init.bais: unknown key"},
    {"parse_should_reject_unknown_key_in_condition",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'c', 'lr': 1}]}}",
     "grid.conditions[0].lr: unknown key (known: name, train)"},
    {"parse_should_point_weight_decay_to_the_grid", "{" MIN ", 'train': {'weight_decay': 0.1}}",
     "train.weight_decay: unknown key"},
    {"parse_should_reject_synthetic_key_for_idx", "{" MIN ", 'data': {'n_train': 10}}",
     "data.n_train: unknown key for source \"idx\""},
    {"parse_should_reject_duplicate_key", "{" MIN ", 'train': {'lr': 0.1, 'lr': 0.2}}",
     "train.lr: duplicate key"},
    {"parse_should_reject_case_variant_key", "{" MIN ", 'train': {'LR': 0.1}}",
     "train.LR: unknown key"},
    /* wrong types */
    {"parse_should_reject_string_for_number", "{" MIN ", 'train': {'lr': '0.1'}}",
     "train.lr: expected a number > 0, got \"0.1\""},
    {"parse_should_reject_bool_for_integer", "{" MIN ", 'train': {'batch_size': true}}",
     "train.batch_size: expected an integer in [1, 16777216] or \"full\", got a boolean"},
    {"parse_should_reject_string_for_bool", "{" MIN ", 'train': {'shuffle': 'yes'}}",
     "train.shuffle: expected true or false, got \"yes\""},
    {"parse_should_reject_array_for_object", "{" MIN ", 'data': []}",
     "data: expected an object, got an array"},
    {"parse_should_reject_object_for_hidden",
     "{'architectures': [{'name': 'a', 'hidden': {}}], " MIN_GRID "}",
     "architectures[0].hidden: expected an array"},
    {"parse_should_reject_null_seed", "{" MIN_ARCH ", 'grid': {'seed': [null]}}",
     "grid.seed[0]: expected a non-negative integer < 2^53, got null"},
    {"parse_should_reject_number_for_name", "{" MIN ", 'name': 3}", "name: expected a name"},
    {"parse_should_reject_bad_norm_bias_type", "{" MIN_ARCH ", 'grid': {'seed': [0], "
     "'norm_bias': 1}}", "grid.norm_bias: expected an array of targets or an object"},
    /* out-of-range values */
    {"parse_should_reject_negative_lr", "{" MIN ", 'train': {'lr': -1}}",
     "train.lr: expected a number > 0, got -1"},
    {"parse_should_reject_infinite_lr", "{" MIN ", 'train': {'lr': 1e999}}",
     "train.lr: expected a number > 0, got inf"},
    {"parse_should_reject_fractional_epochs", "{" MIN ", 'train': {'epochs': 2.5}}",
     "train.epochs: expected an integer in [0, 1000000], got 2.5"},
    {"parse_should_reject_zero_batch_size", "{" MIN ", 'train': {'batch_size': 0}}",
     "train.batch_size: expected a positive integer <= 16777216, got 0"},
    {"parse_should_reject_momentum_one", "{" MIN ", 'train': {'momentum': 1}}",
     "train.momentum: expected a number in [0, 1), got 1"},
    {"parse_should_reject_negative_clip_value", "{" MIN ", 'train': {'clip_value': -0.1}}",
     "train.clip_value: expected a number >= 0, got -0.1"},
    {"parse_should_reject_zero_gamma",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep', 'milestones': [1], 'gamma': 0}}}",
     "train.schedule.gamma: expected a number in (0, 1], got 0"},
    {"parse_should_reject_zero_hidden_width",
     "{'architectures': [{'name': 'a', 'hidden': [16, 0]}], " MIN_GRID "}",
     "architectures[0].hidden[1]: expected a positive integer"},
    {"parse_should_reject_too_wide_hidden_layer",
     "{'architectures': [{'name': 'a', 'hidden': [2000000]}], " MIN_GRID "}",
     "architectures[0].hidden[0]: expected a positive integer <= 1048576"},
    {"parse_should_reject_too_many_hidden_layers",
     "{'architectures': [{'name': 'a', 'hidden': [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
     "1,1,1,1,1,1,1,1,1,1,1]}], " MIN_GRID "}",
     "architectures[0].hidden: expected at most 32 hidden layers, got 33"},
    {"parse_should_reject_negative_seed", "{" MIN_ARCH ", 'grid': {'seed': [-1]}}",
     "grid.seed[0]: expected a non-negative integer < 2^53, got -1"},
    {"parse_should_reject_seed_of_2_to_the_53", "{" MIN_ARCH ", 'grid': {'seed': "
     "[9007199254740992]}}", "grid.seed[0]: expected a non-negative integer < 2^53"},
    {"parse_should_reject_negative_weight_decay",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': [0, -1e-4]}}",
     "grid.weight_decay[1]: expected a number >= 0, got -0.0001"},
    {"parse_should_reject_negative_norm_bias_target",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'norm_bias': {'targets': [-1]}}}",
     "grid.norm_bias.targets[0]: expected a number >= 0, got -1"},
    {"parse_should_reject_one_class", "{" MIN ", 'data': {'source': 'synthetic', 'n_train': 4, "
     "'n_test': 4, 'features': 2, 'classes': 1}}",
     "data.classes: expected an integer in [2, 255], got 1"},
    {"parse_should_reject_zero_noise", "{" MIN ", 'data': {'source': 'synthetic', 'n_train': 4, "
     "'n_test': 4, 'features': 2, 'classes': 2, 'noise': 0}}",
     "data.noise: expected a number > 0, got 0"},
    {"parse_should_reject_negative_subset", "{" MIN ", 'data': {'train_subset': -5}}",
     "data.train_subset: expected a non-negative integer, got -5"},
    {"parse_should_reject_empty_data_path", "{" MIN ", 'data': {'path': ''}}",
     "data.path: expected a non-empty string"},
    {"parse_should_reject_nonpositive_uniform_bias",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'bias': 'uniform', "
     "'bias_value': 0}}], " MIN_GRID "}",
     "architectures[0].init.bias_value: expected a number > 0, got 0"},
    {"parse_should_reject_schema_version_zero", "{" MIN ", 'schema_version': 0}",
     "schema_version: expected a positive integer, got 0"},
    /* empty axes and missing members */
    {"parse_should_reject_empty_seed_axis", "{" MIN_ARCH ", 'grid': {'seed': []}}",
     "grid.seed: expected a non-empty array"},
    {"parse_should_reject_empty_weight_decay_axis",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': []}}",
     "grid.weight_decay: expected a non-empty array"},
    {"parse_should_reject_empty_norm_bias_targets",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'norm_bias': {'targets': []}}}",
     "grid.norm_bias.targets: expected a non-empty array"},
    {"parse_should_reject_empty_conditions",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': []}}",
     "grid.conditions: expected a non-empty array"},
    {"parse_should_reject_empty_architectures", "{'architectures': [], " MIN_GRID "}",
     "architectures: expected a non-empty array"},
    {"parse_should_reject_missing_architectures", "{" MIN_GRID "}",
     "architectures: required key is missing"},
    {"parse_should_reject_missing_grid", "{" MIN_ARCH "}", "grid: required key is missing"},
    {"parse_should_reject_missing_seed", "{" MIN_ARCH ", 'grid': {'weight_decay': [0]}}",
     "grid.seed: required key is missing"},
    {"parse_should_reject_missing_hidden", "{'architectures': [{'name': 'a'}], " MIN_GRID "}",
     "architectures[0].hidden: required key is missing"},
    {"parse_should_reject_missing_arch_name", "{'architectures': [{'hidden': [4]}], " MIN_GRID
     "}", "architectures[0].name: required key is missing"},
    {"parse_should_reject_missing_condition_name",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'train': {}}]}}",
     "grid.conditions[0].name: required key is missing"},
    {"parse_should_reject_image_shape_not_matching_features",
     "{" MIN ", 'data': {'source': 'synthetic', 'n_train': 4, 'n_test': 4, 'features': 12, "
     "'classes': 2, 'image_shape': [3, 2, 3]}}",
     "data.image_shape: [3, 2, 3] holds 18 values per sample, but features is 12"},
    {"parse_should_reject_image_shape_of_two_dims",
     "{" MIN ", 'data': {'source': 'synthetic', 'n_train': 4, 'n_test': 4, 'features': 12, "
     "'classes': 2, 'image_shape': [3, 4]}}",
     "data.image_shape: expected 3 positive integers [C, H, W], got 2"},
    {"parse_should_reject_zero_in_image_shape",
     "{" MIN ", 'data': {'source': 'synthetic', 'n_train': 4, 'n_test': 4, 'features': 12, "
     "'classes': 2, 'image_shape': [3, 0, 4]}}",
     "data.image_shape[1]:"},
    {"parse_should_reject_image_shape_for_idx",
     "{" MIN ", 'data': {'image_shape': [1, 28, 28]}}", "data.image_shape: unknown key"},
    {"parse_should_reject_cifar_without_path", "{" MIN ", 'data': {'source': 'cifar10'}}",
     "data.path: required key is missing: the directory that holds the data files"},
    {"parse_should_reject_labels_for_cifar10",
     "{" MIN ", 'data': {'source': 'cifar10', 'path': '/d', 'labels': 'fine'}}",
     "data.labels: unknown key"},
    {"parse_should_reject_unknown_cifar100_labels",
     "{" MIN ", 'data': {'source': 'cifar100', 'path': '/d', 'labels': 'medium'}}",
     "data.labels: expected one of \"fine\", \"coarse\""},
    {"parse_should_reject_hdf5_without_classes",
     "{" MIN ", 'data': {'source': 'hdf5', 'path': '/d/set.h5'}}",
     "data.classes: required key is missing"},
    {"parse_should_reject_empty_hdf5_dataset_name",
     "{" MIN ", 'data': {'source': 'hdf5', 'path': '/d/set.h5', 'classes': 3, 'train_x': ''}}",
     "data.train_x:"},
    {"parse_should_reject_missing_synthetic_size",
     "{" MIN ", 'data': {'source': 'synthetic', 'n_test': 4, 'features': 2, 'classes': 2}}",
     "data.n_train: required key is missing"},
    {"parse_should_reject_missing_norm_bias_targets",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'norm_bias': {'relative': true}}}",
     "grid.norm_bias.targets: required key is missing"},
    /* duplicates */
    {"parse_should_reject_duplicate_architecture_names",
     "{'architectures': [{'name': 'a', 'hidden': [4]}, {'name': 'a', 'hidden': [8]}], " MIN_GRID
     "}", "architectures[1]: duplicate architecture name \"a\" (also architectures[0])"},
    {"parse_should_reject_duplicate_expanded_names",
     "{'architectures': [{'name': 'a', 'hidden': ['w'], 'widths': [4]}, {'name': 'a@w=4', "
     "'family': 'a', 'width': 4, 'hidden': [4]}], " MIN_GRID "}",
     "architectures[1]: duplicate architecture name \"a@w=4\""},
    {"parse_should_reject_duplicate_condition_names",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'c'}, {'name': 'c'}]}}",
     "grid.conditions[1].name: duplicate condition name \"c\""},
    {"parse_should_reject_duplicate_seeds", "{" MIN_ARCH ", 'grid': {'seed': [0, 1, 0]}}",
     "grid.seed[2]: duplicate value 0 (also grid.seed[0])"},
    {"parse_should_reject_duplicate_weight_decay_values",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': [0, 5e-4, 0.0005]}}",
     "grid.weight_decay[2]: duplicate value 0.0005"},
    {"parse_should_treat_minus_zero_as_duplicate_of_zero",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': [0, -0.0]}}",
     "grid.weight_decay[1]: duplicate value 0"},
    {"parse_should_reject_duplicate_norm_bias_targets",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'norm_bias': [1, 1]}}",
     "grid.norm_bias[1]: duplicate value 1"},
    {"parse_should_reject_duplicate_widths",
     "{'architectures': [{'name': 'a', 'hidden': ['w'], 'widths': [4, 8, 4]}], " MIN_GRID "}",
     "architectures[0].widths[2]: duplicate value 4"},
    /* duplicates found by sorting report what a pairwise scan in array order reports:
     * the first repeat, the first occurrence, and errors before or after it in order */
    {"parse_should_report_the_first_repeat_in_array_order",
     "{" MIN_ARCH ", 'grid': {'seed': [5, 7, 7, 5]}}",
     "grid.seed[2]: duplicate value 7 (also grid.seed[1])"},
    {"parse_should_report_a_repeat_before_a_later_bad_value",
     "{" MIN_ARCH ", 'grid': {'seed': [3, 3, -1]}}", "grid.seed[1]: duplicate value 3"},
    {"parse_should_report_a_bad_value_before_a_later_repeat",
     "{" MIN_ARCH ", 'grid': {'seed': [3, -1, 3]}}", "grid.seed[1]: expected a non-negative"},
    {"parse_should_report_a_repeated_weight_decay_before_a_bad_one",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'weight_decay': [0.1, 0.2, 0.1, -1]}}",
     "grid.weight_decay[2]: duplicate value 0.1 (also grid.weight_decay[0])"},
    {"parse_should_report_a_repeated_width_before_its_size",
     "{'architectures': [{'name': 't', 'hidden': ['w', '3w'], 'widths': [5, 9, 5, 400000]}], "
     MIN_GRID "}", "architectures[0].widths[2]: duplicate value 5 (also architectures[0].widths[0])"},
    {"parse_should_report_a_too_wide_width_before_a_later_repeat",
     "{'architectures': [{'name': 't', 'hidden': ['w', '3w'], 'widths': [5, 400000, 5]}], "
     MIN_GRID "}", "architectures[0].widths[1]: width 400000 makes architectures[0].hidden[1]"},
    {"parse_should_report_a_repeated_condition_before_its_bad_train",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'x'}, {'name': 'y'}, "
     "{'name': 'x', 'train': {'lr': -1}}]}}",
     "grid.conditions[2].name: duplicate condition name \"x\" (also grid.conditions[0])"},
    {"parse_should_report_a_bad_train_before_a_later_repeated_condition",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'x', 'train': {'lr': -1}}, "
     "{'name': 'x'}]}}", "grid.conditions[0].train.lr: expected a number > 0"},
    {"parse_should_report_the_first_repeated_architecture_name",
     "{'architectures': [{'name': 'b', 'hidden': []}, {'name': 'a', 'hidden': []}, "
     "{'name': 'a', 'hidden': [1]}, {'name': 'b', 'hidden': [2]}], " MIN_GRID "}",
     "architectures[2]: duplicate architecture name \"a\" (also architectures[1])"},
    /* NUL characters: cJSON decodes \u0000 into its NUL-terminated strings, which would
     * cut "relu\u0000tanh" to "relu" and let a bad name pass */
    {"parse_should_reject_nul_in_an_enum_string",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'activation': 'relu\\u0000tanh'}], "
     MIN_GRID "}",
     "t.json: architectures[0].activation: the string contains a NUL character (\\u0000)"},
    {"parse_should_reject_nul_in_a_name",
     "{'name': 'ok\\u0000/../x y', " MIN "}", "t.json: name: the string contains a NUL"},
    {"parse_should_reject_nul_in_a_key",
     "{" MIN ", 'train': {'lr\\u0000junk': 0.1}}",
     "t.json: train.lr\\u0000junk: the key contains a NUL character"},
    {"parse_should_reject_nul_in_an_array_element",
     "{'architectures': [{'name': 'a', 'hidden': [4, 'w\\u0000']}], " MIN_GRID "}",
     "architectures[0].hidden[1]: the string contains a NUL"},
    {"parse_should_reject_nul_after_an_escaped_backslash",
     "{'data': {'path': '/d/\\\\\\u0000'}, " MIN "}", "data.path: the string contains a NUL"},
    {"parse_should_reject_nul_in_a_deep_path_after_escaped_quotes",
     "{'data': {'path': '\\'{[,'}, 'grid': {'seed': [0], 'conditions': [{'name': 'c'}, "
     "{'name': 'd', 'train': {'schedule': {'type': 'cosine\\u0000'}}}]}, " MIN_ARCH "}",
     "grid.conditions[1].train.schedule.type: the string contains a NUL"},
    {"parse_should_reject_nul_in_a_top_level_string", "'\\u0000'",
     "t.json: (top level): the string contains a NUL"},
    /* names */
    {"parse_should_reject_bad_architecture_name",
     "{'architectures': [{'name': 'a b', 'hidden': [4]}], " MIN_GRID "}",
     "architectures[0].name: expected a name of 1 to 47 characters from [A-Za-z0-9_.-]"},
    {"parse_should_reject_long_architecture_name",
     "{'architectures': [{'name': '012345678901234567890123456789012345678901234567', "
     "'hidden': [4]}], " MIN_GRID "}", "architectures[0].name: expected a name of 1 to 47"},
    {"parse_should_reject_at_sign_without_family",
     "{'architectures': [{'name': 'a@w=4', 'hidden': [4]}], " MIN_GRID "}",
     "architectures[0].name: expected a name"},
    {"parse_should_reject_bad_spec_name", "{" MIN ", 'name': 'my sweep'}",
     "name: expected a name of 1 to 63 characters"},
    {"parse_should_reject_bad_condition_name",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': ''}]}}",
     "grid.conditions[0].name: expected a name"},
    /* enums */
    {"parse_should_reject_unknown_activation",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'activation': 'tanh'}], " MIN_GRID "}",
     "architectures[0].activation: expected one of \"relu\", \"identity\", got \"tanh\""},
    {"parse_should_reject_unknown_schedule_type", "{" MIN ", 'train': {'schedule': "
     "{'type': 'cosin'}}}", "train.schedule.type: expected one of \"constant\", \"multistep\", "
     "\"cosine\", got \"cosin\""},
    {"parse_should_reject_unknown_normalization", "{" MIN ", 'data': {'normalization': 'z'}}",
     "data.normalization: expected one of \"none\", \"unit\", \"standardize\""},
    {"parse_should_reject_unknown_data_source", "{" MIN ", 'data': {'source': 'csv'}}",
     "data.source: expected one of \"idx\", \"synthetic\", \"cifar10\", \"cifar100\", \"hdf5\", "
     "got \"csv\""},
    {"parse_should_reject_unknown_weight_init",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'weights': 'xavier'}}], " MIN_GRID
     "}", "architectures[0].init.weights: expected one of \"torch_default\", \"he_normal\", "
     "\"constant\""},
    {"parse_should_reject_unknown_bias_init",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'bias': 'one'}}], " MIN_GRID "}",
     "architectures[0].init.bias: expected one of \"torch_default\", \"zero\", \"constant\", "
     "\"uniform\""},
    /* init values */
    {"parse_should_reject_constant_weights_without_value",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'weights': 'constant'}}], "
     MIN_GRID "}", "architectures[0].init.weights_value: required key is missing"},
    {"parse_should_reject_constant_bias_without_value",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'bias': 'constant'}}], " MIN_GRID
     "}", "architectures[0].init.bias_value: required key is missing"},
    {"parse_should_reject_bias_value_without_constant_bias",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'bias_value': 20}}], " MIN_GRID
     "}", "architectures[0].init.bias_value: only allowed with bias \"constant\" or \"uniform\""},
    {"parse_should_reject_weights_value_without_constant_weights",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'weights_value': 1}}], " MIN_GRID
     "}", "architectures[0].init.weights_value: only allowed with weights \"constant\""},
    /* templates */
    {"parse_should_reject_template_without_widths",
     "{'architectures': [{'name': 'a', 'hidden': ['w', '2w']}], " MIN_GRID "}",
     "architectures[0].widths: required key is missing"},
    {"parse_should_reject_widths_without_template",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'widths': [1, 2]}], " MIN_GRID "}",
     "architectures[0].widths: only allowed when hidden uses width templates"},
    {"parse_should_reject_bad_template_string",
     "{'architectures': [{'name': 'a', 'hidden': ['w2'], 'widths': [1]}], " MIN_GRID "}",
     "architectures[0].hidden[0]: expected a width template \"w\" or \"<k>w\""},
    {"parse_should_reject_zero_template_factor",
     "{'architectures': [{'name': 'a', 'hidden': ['0w'], 'widths': [1]}], " MIN_GRID "}",
     "architectures[0].hidden[0]: expected a width template"},
    {"parse_should_reject_empty_widths",
     "{'architectures': [{'name': 'a', 'hidden': ['w'], 'widths': []}], " MIN_GRID "}",
     "architectures[0].widths: expected a non-empty array"},
    {"parse_should_reject_zero_width",
     "{'architectures': [{'name': 'a', 'hidden': ['w'], 'widths': [0]}], " MIN_GRID "}",
     "architectures[0].widths[0]: expected a positive integer"},
    {"parse_should_reject_template_wider_than_limit",
     "{'architectures': [{'name': 'a', 'hidden': [3, '4w'], 'widths': [8, 600000]}], " MIN_GRID
     "}", "architectures[0].widths[1]: width 600000 makes architectures[0].hidden[1] (\"4w\") "
     "2400000, expected at most 1048576"},
    {"parse_should_reject_family_without_width",
     "{'architectures': [{'name': 'a@w=4', 'family': 'a', 'hidden': [4]}], " MIN_GRID "}",
     "architectures[0].width: required key is missing"},
    {"parse_should_reject_expanded_name_mismatch",
     "{'architectures': [{'name': 'b@w=4', 'family': 'a', 'width': 4, 'hidden': [4]}], "
     MIN_GRID "}", "architectures[0].name: expected \"a@w=4\" for family \"a\" and width 4"},
    {"parse_should_reject_templates_in_expanded_architecture",
     "{'architectures': [{'name': 'a@w=4', 'family': 'a', 'width': 4, 'hidden': ['w'], "
     "'widths': [4]}], " MIN_GRID "}", "must list final hidden widths, not templates"},
    /* schedules */
    {"parse_should_reject_milestones_not_increasing",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep', 'milestones': [5, 3]}}}",
     "train.schedule.milestones[1]: milestones must be strictly increasing, but epoch 3 "
     "follows epoch 5"},
    {"parse_should_reject_fractions_resolving_to_the_same_epoch",
     "{" MIN ", 'train': {'epochs': 4, 'schedule': {'type': 'multistep', "
     "'milestones': [0.5, 0.55]}}}",
     "train.schedule.milestones[1]: milestones must be strictly increasing, but epoch 2 "
     "(fraction 0.55 of 4 epochs) follows epoch 2"},
    {"parse_should_reject_milestone_at_the_last_epoch",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep', 'milestones': [10]}}}",
     "train.schedule.milestones[0]: epoch 10 is outside [1, 10)"},
    {"parse_should_reject_fraction_resolving_to_epoch_zero",
     "{" MIN ", 'train': {'epochs': 3, 'schedule': {'type': 'multistep', 'milestones': [0.1]}}}",
     "train.schedule.milestones[0]: fraction 0.1 of 3 epochs resolves to epoch 0"},
    {"parse_should_reject_mixed_milestones",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep', 'milestones': [0.5, 8]}}}",
     "train.schedule.milestones[1]: mixes epochs and fractions"},
    {"parse_should_reject_milestone_of_one_and_a_half",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep', 'milestones': [1.5]}}}",
     "train.schedule.milestones[0]: expected an epoch (integer >= 1) or a fraction"},
    {"parse_should_reject_too_many_milestones",
     "{" MIN ", 'train': {'epochs': 100, 'schedule': {'type': 'multistep', 'milestones': "
     "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}}}",
     "train.schedule.milestones: expected at most 16 milestones, got 17"},
    {"parse_should_reject_multistep_without_milestones",
     "{" MIN ", 'train': {'schedule': {'type': 'multistep'}}}",
     "train.schedule.milestones: required key is missing"},
    {"parse_should_reject_milestones_for_cosine",
     "{" MIN ", 'train': {'schedule': {'type': 'cosine', 'milestones': [2]}}}",
     "train.schedule.milestones: only allowed with type \"multistep\""},
    {"parse_should_reject_schedule_without_type", "{" MIN ", 'train': {'schedule': {}}}",
     "train.schedule.type: required key is missing"},
    {"parse_should_reject_inherited_milestones_past_a_conditions_end",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'short', 'train': "
     "{'epochs': 5}}]}, 'train': {'schedule': {'type': 'multistep', 'milestones': [8]}}}",
     "grid.conditions[0].train.schedule.milestones[0]: epoch 8 is outside [1, 5) for 5 epochs "
     "(milestones inherited from train.schedule)"},
    /* versions and cross-member rules */
    {"parse_should_reject_newer_schema_version", "{" MIN ", 'schema_version': 2}",
     "schema_version: version 2 was written by a newer bpsweep"},
    {"parse_should_report_newer_schema_version_before_unknown_keys",
     "{" MIN ", 'schema_version': 3, 'future': {}}", "written by a newer bpsweep"},
    {"parse_should_reject_nesterov_without_momentum",
     "{" MIN ", 'train': {'momentum': 0, 'nesterov': true}}",
     "train.nesterov: nesterov requires momentum > 0"},
    {"parse_should_reject_nesterov_without_momentum_in_a_condition",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'ok'}, {'name': 'bad', "
     "'train': {'momentum': 0}}]}, 'train': {'nesterov': true}}",
     "grid.conditions[1].train.nesterov: nesterov requires momentum > 0"},
    {"parse_should_name_the_condition_of_a_bad_override",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'a'}, {'name': 'b', "
     "'train': {'lr': -1}}]}}", "grid.conditions[1].train.lr: expected a number > 0, got -1"},
    {"parse_should_reject_non_object_condition_train",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'a', 'train': 1}]}}",
     "grid.conditions[0].train: expected an object, got 1"},
    /* explicit op lists ("layers") */
    {"parse_should_reject_layers_with_hidden",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'layers': []}], " MIN_GRID "}",
     "architectures[0].layers: give either \"hidden\" (an MLP) or \"layers\" (an op list), not both"},
    {"parse_should_reject_mlp_keys_with_layers",
     "{'architectures': [{'name': 'a', 'skip': true, 'layers': [{'type': 'dense', 'out': 2}]}], "
     MIN_GRID "}", "architectures[0].skip: unknown key with \"layers\" (known: name, layers, init)"},
    {"parse_should_reject_an_empty_layer_list",
     "{'architectures': [{'name': 'a', 'layers': []}], " MIN_GRID "}",
     "architectures[0].layers: expected a non-empty array"},
    {"parse_should_reject_an_unknown_layer_type",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'conv2d'}]}], " MIN_GRID "}",
     "architectures[0].layers[0].type: expected one of \"dense\", \"batch_norm\", \"relu\", "
     "\"identity\", \"add\", \"flatten\", \"conv\", \"max_pool\", \"avg_pool\", "
     "\"global_avg_pool\", got \"conv2d\""},
    {"parse_should_reject_a_key_of_another_layer_type",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'relu', 'out': 3}]}], " MIN_GRID "}",
     "architectures[0].layers[0].out: unknown key for a relu layer (known: type, name, input)"},
    {"parse_should_require_the_width_of_a_dense_layer",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'dense'}]}], " MIN_GRID "}",
     "architectures[0].layers[0].out: required key is missing"},
    {"parse_should_reject_a_dangling_layer_name",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'dense', 'out': 4}, "
     "{'type': 'add', 'inputs': ['input', 'h']}]}], " MIN_GRID "}",
     "architectures[0].layers[1].inputs[1]: no layer is named \"h\""},
    {"parse_should_reject_a_reference_to_a_later_layer",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'relu', 'input': 'h'}, "
     "{'type': 'dense', 'out': 4, 'name': 'h'}]}], " MIN_GRID "}",
     "architectures[0].layers[0].input: names layers[1], which is not before this layer"},
    {"parse_should_reject_a_layer_reading_itself",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'relu', 'name': 'r', 'input': 'r'}]}], "
     MIN_GRID "}", "architectures[0].layers[0].input: names layers[0], which is not before"},
    {"parse_should_reject_a_duplicate_layer_name",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'relu', 'name': 'r'}, "
     "{'type': 'relu', 'name': 'r'}]}], " MIN_GRID "}",
     "architectures[0].layers[1].name: duplicate layer name \"r\" (also architectures[0].layers[0])"},
    {"parse_should_reject_input_as_a_layer_name",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'relu', 'name': 'input'}]}], " MIN_GRID "}",
     "architectures[0].layers[0].name: \"input\" names the net's input"},
    {"parse_should_reject_an_add_of_one_input",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'add', 'inputs': ['input']}]}], "
     MIN_GRID "}", "architectures[0].layers[0].inputs: expected an array of 2 layer names"},
    /* shapes are checked at parse time when the data's size is known (synthetic) */
    {"parse_should_reject_an_add_of_different_shapes",
     "{" SYN ", 'architectures': [{'name': 'a', 'layers': [{'type': 'dense', 'out': 4}, "
     "{'type': 'add', 'inputs': ['input', 'l0']}]}], " MIN_GRID "}",
     "no layer is named \"l0\""},
    {"parse_should_reject_an_add_of_different_widths",
     "{" SYN ", 'architectures': [{'name': 'a', 'layers': [{'type': 'dense', 'out': 4, 'name': 'd'}, "
     "{'type': 'add', 'inputs': ['input', 'd']}, {'type': 'dense', 'out': 2}]}], " MIN_GRID "}",
     "architectures[0].layers[1]: add needs equal shapes, not (3, 1, 1) and (4, 1, 1) (for 3 input "
     "features and 2 classes)"},
    /* convolutions and presets */
    {"parse_should_reject_a_kernel_larger_than_the_padded_input",
     "{" SYNIMG ", 'architectures': [{'name': 'a', 'layers': [{'type': 'conv', 'out': 2, "
     "'kernel': 7, 'padding': 1}, {'type': 'dense', 'out': 2}]}], " MIN_GRID "}",
     "architectures[0].layers[0]: kernel 7 is larger than the padded input 5x5 (for inputs "
     "(1, 3, 3) and 2 classes)"},
    {"parse_should_reject_a_pool_kernel_larger_than_its_input",
     "{" SYNIMG ", 'architectures': [{'name': 'a', 'layers': [{'type': 'max_pool', 'kernel': 4}, "
     "{'type': 'dense', 'out': 2}]}], " MIN_GRID "}",
     "architectures[0].layers[0]: max_pool: kernel 4 is larger than the padded input 3 x 3"},
    {"parse_should_reject_a_stride_of_zero",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'conv', 'out': 2, 'kernel': 3, "
     "'stride': 0}]}], " MIN_GRID "}", "architectures[0].layers[0].stride: expected a positive integer <= 1024, got 0"},
    {"parse_should_require_the_kernel_of_a_pool",
     "{'architectures': [{'name': 'a', 'layers': [{'type': 'avg_pool'}]}], " MIN_GRID "}",
     "architectures[0].layers[0].kernel: required key is missing"},
    {"parse_should_reject_an_unknown_preset",
     "{'architectures': [{'name': 'a', 'preset': 'vgg16'}], " MIN_GRID "}",
     "architectures[0].preset: expected one of \"convnet\", \"resnet18\", got \"vgg16\""},
    {"parse_should_reject_a_width_template_in_a_preset",
     "{'architectures': [{'name': 'a', 'preset': 'convnet', 'hidden': ['2w'], 'widths': [2]}], "
     MIN_GRID "}", "architectures[0].hidden: a preset has no \"hidden\""},
    {"parse_should_reject_a_base_width_in_the_convnet",
     "{'architectures': [{'name': 'a', 'preset': 'convnet', 'base_width': 8}], " MIN_GRID "}",
     "architectures[0].base_width: only the resnet18 preset has a base width"},
    {"parse_should_reject_skip_in_the_convnet",
     "{'architectures': [{'name': 'a', 'preset': 'convnet', 'skip': true}], " MIN_GRID "}",
     "architectures[0].skip: only the resnet18 preset has shortcuts"},
    {"parse_should_reject_a_preset_on_flat_data",
     "{" SYN ", 'architectures': [{'name': 'a', 'preset': 'resnet18'}], " MIN_GRID "}",
     "architectures[0].preset: preset \"resnet18\" needs images, but the data set is flat (3 "
     "features without an image shape)"},
    {"parse_should_reject_a_preset_on_too_small_images",
     "{" SYNIMG ", 'architectures': [{'name': 'a', 'preset': 'convnet', 'widths': [2]}], "
     MIN_GRID "}",
     "architectures[0] (preset \"convnet\", a@w=2): its op 11 (max_pool): max_pool: kernel 3 is "
     "larger than the padded input 1 x 1"},
    {"parse_should_reject_a_last_output_that_is_not_the_class_count",
     "{" SYN ", 'architectures': [{'name': 'a', 'layers': [{'type': 'dense', 'out': 4}]}], "
     MIN_GRID "}", "architectures[0].layers[0]: the last op's output is (4, 1, 1), not the 2 classes"},
    /* claim 1 (issue 16) */
    {"parse_should_reject_a_construction_narrower_than_the_input",
     "{" SYN ", 'architectures': [{'name': 'a', 'hidden': [3, 2], 'init': {'construct': {}}}], "
     MIN_GRID "}",
     "architectures[0].init.construct: hidden layer 2 of \"a\" has 2 units, fewer than the 3 "
     "input features"},
    {"parse_should_reject_a_construction_with_batch_norm",
     "{" SYN ", 'architectures': [{'name': 'a', 'hidden': [4], 'batch_norm': true, "
     "'init': {'construct': {}}}], " MIN_GRID "}",
     "architectures[0].init.construct: needs an MLP given by \"hidden\", without skip or "
     "batch_norm"},
    {"parse_should_reject_full_batch_with_adversarial_training",
     "{" MIN ", 'train': {'batch_size': 'full', 'adversarial': {'eps': 0.1}}}",
     "train.batch_size: \"full\" (full-batch gradient descent) cannot be combined with "
     "adversarial training"},
    {"parse_should_reject_a_stopping_rule_without_a_limit",
     "{" MIN ", 'train': {'stop': {'grad_norm': 1e-4}}}",
     "train.stop: a stopping rule needs a limit: give \"epochs\""},
    {"parse_should_reject_a_stopping_rule_without_a_limit_in_a_condition",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'c', 'train': "
     "{'stop': {'grad_norm': 1e-4}}}]}}",
     "grid.conditions[0].train.stop: a stopping rule needs a limit"},
    {"parse_should_reject_a_sharpness_learning_rate_without_full_batch_descent",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'c', 'train': "
     "{'lr_sharpness': 1}}]}}",
     "grid.conditions[0].train.lr_sharpness: a learning rate from the sharpness needs "
     "full-batch descent"},
    {"parse_should_reject_newton_without_full_batch",
     "{" MIN ", 'train': {'optimizer': 'newton'}}",
     "train.batch_size: \"optimizer\": \"newton\" is full-batch"},
    {"parse_should_reject_newton_with_a_schedule_in_a_condition",
     "{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'c', 'train': "
     "{'batch_size': 'full', 'optimizer': 'newton', 'schedule': {'type': 'cosine'}}}]}}",
     "grid.conditions[0].train.schedule: not used by \"optimizer\": \"newton\""},
    {"parse_should_reject_trust_region_settings_for_sgd",
     "{" MIN ", 'train': {'trust_region': {'radius': 2}}}",
     "train.trust_region: trust-region settings are for \"optimizer\": \"newton\""},
    {"parse_should_reject_an_initial_radius_above_the_maximum",
     "{" MIN ", 'train': {'batch_size': 'full', 'optimizer': 'newton', 'trust_region': "
     "{'radius': 20, 'max_radius': 10}}}",
     "train.trust_region.radius: the initial radius 20 exceeds max_radius 10"},
    {"parse_should_reject_a_sharpness_factor_of_4_or_more",
     "{" MIN ", 'train': {'batch_size': 'full', 'lr_sharpness': 4}}",
     "train.lr_sharpness: "},
    {"parse_should_reject_weights_with_all_parameters_set",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'parameters': 'zero', "
     "'weights': 'he_normal'}}], " MIN_GRID "}",
     "architectures[0].init.weights: not allowed with \"parameters\" or \"construct\""},
    {"parse_should_require_the_value_of_equal_parameters",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'parameters': 'equal'}}], "
     MIN_GRID "}", "architectures[0].init.parameters_value: "},
    {"parse_should_reject_a_bias_offset_with_a_construction",
     "{'architectures': [{'name': 'a', 'hidden': [4], 'init': {'construct': {}, "
     "'bias_offset': 20}}], " MIN_GRID "}",
     "architectures[0].init.bias_offset: not allowed with \"construct\""},
    {"parse_should_reject_a_freeze_at_the_last_epoch",
     "{" MIN ", 'train': {'epochs': 5, 'freeze_batch_norm': 5}}",
     "train.freeze_batch_norm: epoch 5 is not before the last epoch (5 epochs)"},
};

static void parse_should_reject_bad_inputs(void)
{
    for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
        const BadCase *b = &BAD[i];
        int before = test_failures;
        BpsErr err;
        Spec *s = parse_q(b->text, &err);
        CHECK_MSG(s == NULL, "%s: accepted", b->name);
        CHECK_MSG(strstr(err.msg, b->want) != NULL, "%s: message\n  %s\nlacks\n  %s", b->name,
                  err.msg, b->want);
        CHECK_MSG(strncmp(err.msg, "t.json:", 7) == 0, "%s: message lacks the origin: %s",
                  b->name, err.msg);
        CHECK_MSG(strchr(err.msg, '\n') == NULL, "%s: message has several lines", b->name);
        spec_free(s);
        printf("  %-58s %s\n", b->name, test_failures == before ? "ok" : "FAILED");
    }
}

static void parse_should_reject_overlong_data_path(void)
{
    size_t n = DATA_PATH_MAX + 40;
    char *text = xmalloc(n + 200);
    char *path = xmalloc(DATA_PATH_MAX + 1);
    memset(path, 'x', DATA_PATH_MAX);
    path[0] = '/';
    path[DATA_PATH_MAX] = '\0';
    snprintf(text, n + 200, "{\"data\": {\"path\": \"%s\"}, \"architectures\": [{\"name\": \"a\", "
             "\"hidden\": []}], \"grid\": {\"seed\": [0]}}", path);
    Spec *s = NULL;
    BpsErr err;
    CHECK(spec_parse(text, "t.json", &s, &err) != 0 && s == NULL);
    CHECK_MSG(strstr(err.msg, "data.path: path is 1024 bytes long, expected fewer than 1024"),
              "%s", err.msg);
    path[DATA_PATH_MAX - 1] = '\0'; /* 1023 bytes: fits */
    snprintf(text, n + 200, "{\"data\": {\"path\": \"%s\"}, \"architectures\": [{\"name\": \"a\", "
             "\"hidden\": []}], \"grid\": {\"seed\": [0]}}", path);
    CHECK(spec_parse(text, "t.json", &s, &err) == 0 && s && strlen(s->data.path) == 1023);
    spec_free(s);
    free(path);
    free(text);
}

static void parse_should_escape_strings_in_canonical_form(void)
{
    /* a data path with a quote, a backslash, a tab and UTF-8 survives the round trip */
    char *c1 = canonical_of("{'data': {'path': '/d/\\'q\\\\b\\t\\u00e9'}, " MIN "}", NULL);
    if (!c1)
        return;
    CHECK(strstr(c1, "\"path\":\"/d/\\\"q\\\\b\\u0009\xc3\xa9\"") != NULL);
    Spec *s = NULL;
    BpsErr err;
    CHECK_MSG(spec_parse(c1, "c", &s, &err) == 0, "%s", err.msg);
    if (s) {
        CHECK(strcmp(s->data.path, "/d/\"q\\b\t\xc3\xa9") == 0);
        CHECK(strcmp(s->canonical, c1) == 0);
    }
    spec_free(s);
    free(c1);
}

/* ---- differences, limits and scale (issue 20) ------------------------------------------ */

/* Builds a spec text with printf-like pieces (open_memstream); caller frees. */
typedef struct {
    char *text;
    size_t len;
    FILE *f;
} TextBuf;

static void tb_open(TextBuf *t)
{
    t->text = NULL;
    t->len = 0;
    t->f = open_memstream(&t->text, &t->len);
}

static char *tb_close(TextBuf *t)
{
    fclose(t->f);
    return t->text;
}

/* "a, a+1, ..., a+n-1" */
static void tb_range(TextBuf *t, long a, long n)
{
    for (long i = 0; i < n; i++)
        fprintf(t->f, "%s%ld", i ? "," : "", a + i);
}

/* Timing checks allow 5 s (ASan on a loaded 2-core machine: 1.5 s at most; the quadratic
 * checks took 19 s for 200000 seeds, minutes for the extension check). Valgrind makes
 * everything some 50 times slower: they are skipped under it. */
static bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

static Spec *parse_text(const char *text, BpsErr *err)
{
    Spec *s = NULL;
    err->msg[0] = '\0';
    if (spec_parse(text, "t.json", &s, err) != 0)
        CHECK_MSG(s == NULL, "failed parse left a Spec");
    return s;
}

/* bpsweep run B.json -o A.h5, A.h5 holding another sweep, quotes the values that differ.
 * A difference longer than 127 characters went through a 128-byte stack buffer: an
 * assertion (SIGABRT) in debug builds, an over-read of the stack into the message
 * otherwise. */
static void diff_should_show_differences_longer_than_127_characters(void)
{
    char path_a[301], path_b[301];
    memset(path_a, 'a', 300);
    memset(path_b, 'b', 300);
    path_a[0] = path_b[0] = '/';
    path_a[300] = path_b[300] = '\0';
    char text[1024];
    BpsErr err;
    snprintf(text, sizeof text, "{\"data\": {\"path\": \"%s\"}, \"architectures\": "
             "[{\"name\": \"a\", \"hidden\": [4]}], \"grid\": {\"seed\": [0]}}", path_a);
    Spec *a = parse_text(text, &err);
    snprintf(text, sizeof text, "{\"data\": {\"path\": \"%s\"}, \"architectures\": "
             "[{\"name\": \"a\", \"hidden\": [1000,1001,1002,1003,1004,1005,1006,1007,1008,"
             "1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,"
             "1024,1025,1026,1027,1028,1029]}], \"grid\": {\"seed\": [0]}}", path_b);
    Spec *b = parse_text(text, &err);
    CHECK_MSG(a && b, "%s", err.msg);
    if (!a || !b) {
        spec_free(a);
        spec_free(b);
        return;
    }
    char *d = spec_diff(a, b);
    char want[1024];
    /* each side is quoted up to 200 characters: "/aaa...a (199 characters of the value) */
    snprintf(want, sizeof want, "  data.path: \"%.199s -> \"%.199s\n"
             "  architectures[0].hidden: [4] -> [1000,1001,1002,1003,1004,1005,1006,1007,1008,"
             "1009,1010,1011,1012,1013,1014,1015,1016,1017,1018,1019,1020,1021,1022,1023,"
             "1024,1025,1026,1027,1028,1029]\n", path_a, path_b);
    CHECK_MSG(strcmp(d, want) == 0, "differences\n%s\nwanted\n%s", d, want);
    free(d);
    spec_free(a);
    spec_free(b);
}

/* cJSON_Compare takes numbers within a relative DBL_EPSILON as equal: a learning rate
 * changed by one ulp must still be a different sweep (its hash differs). */
static void diff_should_see_a_change_of_one_ulp(void)
{
    BpsErr err;
    Spec *a = parse_text("{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], "
                         "\"grid\": {\"seed\": [0]}, \"train\": {\"lr\": 0.1}}", &err);
    Spec *b = parse_text("{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], "
                         "\"grid\": {\"seed\": [0]}, \"train\": {\"lr\": 0.10000000000000002}}",
                         &err);
    CHECK_MSG(a && b, "%s", err.msg);
    if (a && b) {
        CHECK(a->hash != b->hash);
        char *d = spec_diff(a, b);
        CHECK_MSG(strstr(d, "  train.lr: 0.1 -> 0.10000000000000002\n") != NULL, "%s", d);
        free(d);
        d = spec_extension_problems(a, b);
        CHECK_MSG(strstr(d, "train: differs") != NULL, "%s", d);
        free(d);
    }
    spec_free(a);
    spec_free(b);
}

/* A grid of at most 2^31 points is accepted; one point more per 1024 is refused with the
 * axes in the message. 2^31 is accepted exactly. */
static void parse_should_refuse_a_grid_above_2e31_points(void)
{
    for (int over = 0; over <= 1; over++) {
        TextBuf t;
        tb_open(&t);
        fprintf(t.f, "{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], \"grid\": "
                "{\"seed\": [");
        tb_range(&t, 0, 2048);
        fprintf(t.f, "], \"weight_decay\": [");
        tb_range(&t, 0, 1024);
        fprintf(t.f, "], \"norm_bias\": [");
        tb_range(&t, 0, 1024 + over);
        fprintf(t.f, "]}}");
        char *text = tb_close(&t);
        BpsErr err;
        Spec *s = parse_text(text, &err);
        if (!over) {
            CHECK_MSG(s && s->n_seed == 2048 && s->n_nb == 1024, "2^31 points: %s", err.msg);
        } else {
            CHECK(s == NULL);
            CHECK_MSG(strstr(err.msg, "t.json: grid: the sweep has 2.15e+09 points (1 "
                             "architectures x 1 conditions x 1025 norm_bias targets x 1024 "
                             "weight_decay values x 2048 seeds), more than the limit of 2^31 "
                             "(2147483648); split it into smaller sweeps"), "%s", err.msg);
        }
        spec_free(s);
        free(text);
    }
}

/* At most 4096 architectures after template expansion and 4096 conditions: a 14 MiB spec
 * of two templates with 2^20 widths each asked for 2 million ArchSpecs of 10 kB. Both
 * are refused from the array lengths, before anything is expanded. */
static void parse_should_refuse_more_than_4096_architectures_or_conditions(void)
{
    for (int over = 0; over <= 1; over++) {
        TextBuf t;
        tb_open(&t);
        fprintf(t.f, "{\"architectures\": [{\"name\": \"fixed\", \"hidden\": [4]}, "
                "{\"name\": \"t\", \"hidden\": [\"w\", 8], \"widths\": [");
        tb_range(&t, 1, 2047);
        fprintf(t.f, "]}, {\"name\": \"u\", \"hidden\": [\"2w\"], \"widths\": [");
        tb_range(&t, 1, 2048 + over);
        fprintf(t.f, "]}], \"grid\": {\"seed\": [0]}}");
        char *text = tb_close(&t);
        BpsErr err;
        Spec *s = parse_text(text, &err);
        if (!over)
            CHECK_MSG(s && s->n_arch == 4096, "4096 architectures: %s", err.msg);
        else
            CHECK_MSG(!s && strstr(err.msg, "t.json: architectures: 4097 architectures after "
                                            "template expansion, more than the limit of 4096"),
                      "%s", err.msg);
        spec_free(s);
        free(text);

        tb_open(&t);
        fprintf(t.f, "{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], \"grid\": "
                "{\"seed\": [0], \"conditions\": [");
        for (int i = 0; i < 4096 + over; i++)
            fprintf(t.f, "%s{\"name\": \"c%d\"}", i ? "," : "", i);
        fprintf(t.f, "]}}");
        text = tb_close(&t);
        s = parse_text(text, &err);
        if (!over)
            CHECK_MSG(s && s->n_cond == 4096, "4096 conditions: %s", err.msg);
        else
            CHECK_MSG(!s && strstr(err.msg, "t.json: grid.conditions: 4097 conditions, more "
                                            "than the limit of 4096"), "%s", err.msg);
        spec_free(s);
        free(text);
    }
}

/* A grid of 2^41 points is refused from the lengths of its arrays, before any value is
 * read or compared: the repeated and the bad seed in it are never reached. It used to
 * be refused only after the quadratic duplicate checks (still running after 600 s). */
static void parse_should_refuse_a_huge_grid_before_reading_values(void)
{
    TextBuf t;
    tb_open(&t);
    fprintf(t.f, "{\"architectures\": [{\"name\": \"t\", \"hidden\": [\"w\"], \"widths\": [");
    tb_range(&t, 1, 1024);
    fprintf(t.f, "]}], \"grid\": {\"seed\": [-1, 0, 0, ");
    tb_range(&t, 1, 300000 - 3);
    fprintf(t.f, "], \"weight_decay\": [");
    tb_range(&t, 0, 8192);
    fprintf(t.f, "]}}");
    char *text = tb_close(&t);
    BpsErr err;
    double t0 = bps_now();
    Spec *s = parse_text(text, &err);
    double dt = bps_now() - t0;
    CHECK(s == NULL);
    CHECK_MSG(strstr(err.msg, "t.json: grid: the sweep has 2.517e+12 points (1024 architectures "
                     "x 1 conditions x 1 norm_bias targets x 8192 weight_decay values x 300000 "
                     "seeds), more than the limit of 2^31"), "%s", err.msg);
    CHECK_MSG(dt < 5 || under_valgrind(), "refusing took %.2f s", dt);
    printf("  refusing a 2^41-point grid (%zu bytes of JSON) took %.3f s\n", strlen(text), dt);
    spec_free(s);
    free(text);
}

/* 200000 seeds: the duplicate check sorts (it compared every pair: 11.8 s), and a repeat
 * is still reported with both of its positions. */
static void parse_should_check_200000_seeds_quickly(void)
{
    for (int dup = 0; dup <= 1; dup++) {
        TextBuf t;
        tb_open(&t);
        fprintf(t.f, "{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], \"grid\": "
                "{\"seed\": [");
        tb_range(&t, 1000000, 199999);
        fprintf(t.f, ",%d]}}", dup ? 1150000 : 7); /* seed[199999] repeats seed[150000] */
        char *text = tb_close(&t);
        BpsErr err;
        double t0 = bps_now();
        Spec *s = parse_text(text, &err);
        double dt = bps_now() - t0;
        if (!dup) {
            CHECK_MSG(s && s->n_seed == 200000 && s->seed[199999] == 7, "%s", err.msg);
        } else {
            CHECK(s == NULL);
            CHECK_MSG(strstr(err.msg, "t.json: grid.seed[199999]: duplicate value 1150000 "
                             "(also grid.seed[150000])"), "%s", err.msg);
        }
        CHECK_MSG(dt < 5 || under_valgrind(), "200000 seeds took %.2f s", dt);
        printf("  200000 seeds%s: %.3f s\n", dup ? " with a repeat" : "", dt);
        spec_free(s);
        free(text);
    }
}

/* bpsweep extend checks that every old value is in the new spec: by sorting, not by a
 * scan of the new values per old value. */
static void extension_should_check_200000_seeds_quickly(void)
{
    Spec *sp[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        TextBuf t;
        tb_open(&t);
        fprintf(t.f, "{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], \"grid\": "
                "{\"seed\": [");
        tb_range(&t, 0, 200000 + k); /* the new spec has one seed more */
        fprintf(t.f, "]}}");
        char *text = tb_close(&t);
        BpsErr err;
        sp[k] = parse_text(text, &err);
        CHECK_MSG(sp[k] != NULL, "%s", err.msg);
        free(text);
    }
    if (sp[0] && sp[1]) {
        double t0 = bps_now();
        char *p = spec_extension_problems(sp[0], sp[1]);
        char *q2 = spec_extension_problems(sp[1], sp[0]);
        double dt = bps_now() - t0;
        CHECK_MSG(*p == '\0', "%s", p);
        CHECK_MSG(strcmp(q2, "  grid.seed[200000]: value 200000 is missing from the new spec\n") == 0,
                  "%s", q2);
        CHECK_MSG(dt < 5 || under_valgrind(), "extension check took %.2f s", dt);
        printf("  extension check of 200000 seeds, both ways: %.3f s\n", dt);
        free(p);
        free(q2);
    }
    spec_free(sp[0]);
    spec_free(sp[1]);
}

/* spec_load stops reading at 16 MiB: `bpsweep plan /dev/zero` grew without bound. */
static void load_should_stop_at_the_size_limit(void)
{
    Spec *s = NULL;
    BpsErr err;
    double t0 = bps_now();
    CHECK(spec_load("/dev/zero", &s, &err) != 0 && s == NULL);
    CHECK_MSG(strstr(err.msg, "/dev/zero: larger than 16 MiB, the limit for a spec file"),
              "%s", err.msg);
    printf("  /dev/zero refused after %.3f s\n", bps_now() - t0);

    /* a valid spec padded with spaces to exactly the limit is read; one byte more is not */
    static const char head[] = "{\"architectures\": [{\"name\": \"a\", \"hidden\": [4]}], "
                               "\"grid\": {\"seed\": [0]}}";
    char path[1100];
    snprintf(path, sizeof path, "%s/big.json", test_tmpdir());
    size_t n = SPEC_MAX_BYTES;
    char *text = xmalloc(n + 1);
    memset(text, ' ', n + 1);
    memcpy(text, head, sizeof head - 1);
    for (int extra = 0; extra <= 1; extra++) {
        CHECK(test_write_bytes(path, text, n + (size_t)extra) == 0);
        int rc = spec_load(path, &s, &err);
        if (!extra)
            CHECK_MSG(rc == 0 && s != NULL, "16 MiB: %s", err.msg);
        else
            CHECK_MSG(rc != 0 && s == NULL && strstr(err.msg, "larger than 16 MiB"),
                      "16 MiB + 1: %s", rc ? err.msg : "accepted");
        spec_free(s);
        s = NULL;
    }
    remove(path);
    free(text);
}

/* \\u0000 in a string is an escaped backslash followed by "u0000", not a NUL. */
static void parse_should_accept_an_escaped_backslash_before_u0000(void)
{
    BpsErr err;
    Spec *s = parse_text("{\"data\": {\"path\": \"/d/\\\\u0000x\"}, \"architectures\": "
                         "[{\"name\": \"a\", \"hidden\": [4]}], \"grid\": {\"seed\": [0]}}",
                         &err);
    CHECK_MSG(s != NULL, "%s", err.msg);
    if (s)
        CHECK_MSG(strcmp(s->data.path, "/d/\\u0000x") == 0, "%s", s->data.path);
    spec_free(s);
}

static void layers_should_parse_into_the_op_list(void)
{
    Spec *s = must_parse("{" SYN ", 'architectures': [{'name': 'res', 'layers': ["
                         "{'type': 'dense', 'out': 3, 'name': 'd'}, {'type': 'batch_norm'}, "
                         "{'type': 'relu', 'name': 'r'}, {'type': 'add', 'inputs': ['r', 'input']}, "
                         "{'type': 'identity'}, {'type': 'flatten'}, {'type': 'dense', 'out': 2, "
                         "'input': 'd'}], 'init': {'bias': 'zero'}}], " MIN_GRID "}");
    if (!s)
        return;
    const NetConfig *n = &s->arch[0].net;
    CHECK(n->n_ops == 7 && n->b_init == BINIT_ZERO);
    CHECK(n->ops[0].kind == OP_DENSE && n->ops[0].in[0] == 0 && n->ops[0].out == 1 &&
          n->ops[0].units == 3);
    CHECK(n->ops[3].kind == OP_ADD && n->ops[3].in[0] == 3 && n->ops[3].in[1] == 0 &&
          n->ops[3].out == 4);
    CHECK(n->ops[6].kind == OP_DENSE && n->ops[6].in[0] == 1 && n->ops[6].units == 2);
    /* canonical: generated names only where a layer is read other than by the next one */
    CHECK_MSG(strstr(s->canonical,
                     "\"layers\":[{\"type\":\"dense\",\"name\":\"l0\",\"out\":3},"
                     "{\"type\":\"batch_norm\"},{\"type\":\"relu\",\"name\":\"l2\"},"
                     "{\"type\":\"add\",\"inputs\":[\"l2\",\"input\"]},{\"type\":\"identity\"},"
                     "{\"type\":\"flatten\"},{\"type\":\"dense\",\"input\":\"l0\",\"out\":2}]") != NULL,
              "canonical: %s", s->canonical);
    /* the canonical form parses to itself */
    BpsErr err;
    Spec *again = NULL;
    CHECK_MSG(spec_parse(s->canonical, "c.json", &again, &err) == 0, "%s", err.msg);
    CHECK(again && strcmp(again->canonical, s->canonical) == 0 && again->hash == s->hash);
    spec_free(again);
    spec_free(s);
}

static void layer_names_should_not_change_the_hash(void)
{
    uint64_t h1, h2, h3;
    char *a = canonical_of("{" SYN ", 'architectures': [{'name': 'a', 'layers': ["
                           "{'type': 'dense', 'out': 3, 'name': 'first'}, {'type': 'relu', 'name': 'x'}, "
                           "{'type': 'add', 'inputs': ['x', 'first']}, {'type': 'dense', 'out': 2}]}], "
                           MIN_GRID "}", &h1);
    char *b = canonical_of("{" SYN ", 'architectures': [{'name': 'a', 'layers': ["
                           "{'type': 'dense', 'out': 3, 'name': 'z'}, {'type': 'relu', 'name': 'y', "
                           "'input': 'z'}, {'type': 'add', 'inputs': ['y', 'z']}, "
                           "{'type': 'dense', 'out': 2}]}], " MIN_GRID "}", &h2);
    char *c = canonical_of("{" SYN ", 'architectures': [{'name': 'a', 'layers': ["
                           "{'type': 'dense', 'out': 3, 'name': 'z'}, {'type': 'relu', 'name': 'y'}, "
                           "{'type': 'add', 'inputs': ['z', 'y']}, {'type': 'dense', 'out': 2}]}], "
                           MIN_GRID "}", &h3);
    CHECK(a && b && strcmp(a, b) == 0 && h1 == h2);
    CHECK(c && h3 != h1); /* the inputs in another order are another list */
    free(a), free(b), free(c);
}

static void layers_should_be_checked_against_loaded_data(void)
{
    /* IDX data: the size is known once the files are read; spec_check_nets then */
    Spec *s = must_parse("{'architectures': [{'name': 'a', 'hidden': [5]}, {'name': 'b', "
                         "'layers': [{'type': 'dense', 'out': 7}, {'type': 'relu'}, "
                         "{'type': 'dense', 'out': 10}]}], " MIN_GRID "}");
    if (!s)
        return;
    BpsErr err;
    CHECK(spec_check_nets(s, (Shape){784, 1, 1}, 10, "x.json", &err) == 0);
    CHECK(spec_check_nets(s, (Shape){784, 1, 1}, 3, "x.json", &err) == -1 &&
          strstr(err.msg, "x.json: architectures[1].layers[2]: the last op's output is (10, 1, 1), "
                          "not the 3 classes (for 784 input features and 3 classes)"));
    spec_free(s);
}

static void presets_should_expand_and_round_trip(void)
{
    Spec *s = must_parse("{'data': {'source': 'synthetic', 'n_train': 8, 'n_test': 4, "
                         "'features': 243, 'classes': 2, 'image_shape': [3, 9, 9]}, "
                         "'architectures': [{'name': 'c', 'preset': 'convnet', 'widths': [2, 4]}, "
                         "{'name': 'r', 'preset': 'resnet18', 'base_width': 4, 'skip': false, "
                         "'activation': 'identity'}], " MIN_GRID "}");
    if (!s)
        return;
    CHECK(s->n_arch == 3 && strcmp(s->arch[1].name, "c@w=4") == 0);
    const NetConfig *c = &s->arch[1].net, *r = &s->arch[2].net;
    CHECK(c->preset == PRESET_CONVNET && c->width_mult == 4 && !c->batch_norm && c->n_ops == 0);
    CHECK(r->preset == PRESET_RESNET18 && r->width_mult == 1 && r->base_width == 4 && !r->skip &&
          r->batch_norm && r->act == ACT_IDENTITY);
    CHECK_MSG(strstr(s->canonical, "{\"name\":\"c@w=4\",\"family\":\"c\",\"width\":4,"
                                   "\"preset\":\"convnet\",\"activation\":\"relu\","
                                   "\"batch_norm\":false,") != NULL, "%s", s->canonical);
    /* ConvNet: 5 x (conv, relu) + 2 pools + dense; channels w, 2w, 2w, 4w, 4w */
    NetConfig n = *c;
    n.in_shape = (Shape){3, 9, 9}, n.n_in = 243, n.n_out = 2;
    OpDesc ops[NN_MAX_OPS];
    CHECK(nn_expand(&n, ops) == 13);
    CHECK(ops[0].kind == OP_CONV && ops[0].units == 4 && ops[0].kernel == 3 && ops[0].pad == 1 &&
          !ops[0].no_bias && ops[8].kind == OP_MAX_POOL && ops[8].kernel == 3 &&
          ops[8].stride == 3 && ops[9].units == 16 && ops[12].kind == OP_DENSE);
    /* the resnet without skips or relus: stem conv + bn, 8 blocks of 2 x (conv, bn), pool,
     * dense; no bias before batch norm */
    n = *r;
    n.in_shape = (Shape){3, 9, 9}, n.n_in = 243, n.n_out = 2;
    CHECK(nn_expand(&n, ops) == 2 + 8 * 4 + 2);
    CHECK(ops[0].no_bias && ops[34].kind == OP_GLOBAL_AVG_POOL);
    BpsErr err;
    Spec *again = NULL;
    CHECK_MSG(spec_parse(s->canonical, "c.json", &again, &err) == 0, "%s", err.msg);
    CHECK(again && strcmp(again->canonical, s->canonical) == 0 && again->hash == s->hash);
    spec_free(again);
    spec_free(s);
}

/* A condition that turns off what its base turns on must say so in the canonical form:
 * read again, it would otherwise inherit the base's setting (resume reads the stored
 * canonical form, and trained the condition adversarially). */
static void canonical_should_keep_a_condition_turning_off_the_base(void)
{
    Spec *s = must_parse("{" MIN_ARCH ", 'train': {'epochs': 4, 'adversarial': {'eps': 0.1}, "
                         "'rank_projection': {'mode': 'min', 'threshold': 0.5, 'epochs': [1]}}, "
                         "'grid': {'seed': [0], 'conditions': [{'name': 'on'}, {'name': 'off', "
                         "'train': {'adversarial': {'eps': 0}, 'rank_projection': {'mode': 'off'}}}]}}");
    if (!s)
        return;
    CHECK(s->cond[0].train.adv_eps == 0.1 && s->cond[0].train.rank.mode == RANK_MIN);
    CHECK(s->cond[1].train.adv_eps == 0 && s->cond[1].train.rank.mode == RANK_OFF);
    BpsErr err;
    Spec *again = NULL;
    CHECK_MSG(spec_parse(s->canonical, "c.json", &again, &err) == 0, "%s", err.msg);
    if (again) {
        CHECK(again->cond[1].train.adv_eps == 0 && again->cond[1].train.rank.mode == RANK_OFF);
        CHECK(strcmp(again->canonical, s->canonical) == 0 && again->hash == s->hash);
    }
    spec_free(again);
    spec_free(s);
    /* a base without them writes neither, as before: hashes of such specs hold */
    char *c = canonical_of("{" MIN_ARCH ", 'grid': {'seed': [0], 'conditions': [{'name': 'a', "
                           "'train': {'adversarial': {'eps': 0}, 'rank_projection': {'mode': 'off'}}}]}}",
                           NULL);
    CHECK(c && !strstr(c, "adversarial") && !strstr(c, "rank_projection"));
    free(c);
}

/* Whether the specs plain and same (plain with a member at its default value) have the
 * same canonical form and hash, in which neither absent nor absent2 (may be NULL) occurs:
 * a default that is not written, so hashes from before the member hold. */
static bool default_not_written(const char *plain, const char *same, const char *absent,
                                const char *absent2)
{
    uint64_t h0, h1;
    char *a = canonical_of(plain, &h0), *b = canonical_of(same, &h1);
    bool ok = a && b && h0 == h1 && !strstr(a, absent) && !(absent2 && strstr(a, absent2));
    free(a);
    free(b);
    return ok;
}

/* rank_projection's layer choice: written only where it differs from the defaults (first
 * layer skipped, output layer edited), so older hashes hold; read back as given. */
static void canonical_should_write_rank_layers_only_when_not_default(void)
{
    CHECK(default_not_written("{" MIN ", 'train': {'epochs': 4, 'rank_projection': "
                              "{'mode': 'min', 'threshold': 0.5, 'epochs': [1]}}}",
                              "{" MIN ", 'train': {'epochs': 4, 'rank_projection': "
                              "{'mode': 'min', 'threshold': 0.5, 'epochs': [1], "
                              "'first_layer': false, 'output_layer': true}}}",
                              "first_layer", "output_layer"));
    Spec *s = must_parse("{" MIN ", 'train': {'epochs': 4, 'rank_projection': "
                         "{'mode': 'max', 'threshold': 0.5, 'epochs': [1], "
                         "'first_layer': true, 'output_layer': false}}}");
    if (!s)
        return;
    CHECK(s->cond[0].train.rank.first && !s->cond[0].train.rank.output);
    CHECK(strstr(s->canonical, "\"first_layer\":true") && strstr(s->canonical, "\"output_layer\":false"));
    spec_free(s);
}

/* train.optimizer: "sgd" (the default) is not written, so older hashes hold; "newton" is,
 * with its trust-region settings, and reads back (a condition inherits them). */
static void canonical_should_write_the_optimizer_only_when_newton(void)
{
    CHECK(default_not_written("{" MIN ", 'train': {'epochs': 4}}",
                              "{" MIN ", 'train': {'epochs': 4, 'optimizer': 'sgd'}}",
                              "optimizer", "trust_region"));
    Spec *s = must_parse("{" MIN_ARCH ", 'train': {'epochs': 4, 'batch_size': 'full', "
                         "'optimizer': 'newton', 'trust_region': {'cg_iterations': 7}}, "
                         "'grid': {'seed': [0], 'conditions': [{'name': 'c', 'train': "
                         "{'trust_region': {'radius': 0.5}}}]}}");
    if (!s)
        return;
    const TrainConfig *t = &s->cond[0].train;
    CHECK(t->optimizer == OPT_NEWTON && t->newton_cg == 7 && t->newton_radius == 0.5 &&
          t->newton_max_radius == 1000);
    CHECK(strstr(s->canonical, "\"optimizer\":\"newton\",\"trust_region\":{\"radius\":0.5,"
                                "\"max_radius\":1000,\"cg_iterations\":7}"));
    spec_free(s);
}

/* measure.ntk.batch_norm: "running" (the default) is not written, so older hashes hold;
 * "data" is, and reads back. */
static void canonical_should_write_ntk_batch_norm_only_when_data(void)
{
    CHECK(default_not_written("{" MIN ", 'measure': {'ntk': {}}}",
                              "{" MIN ", 'measure': {'ntk': {'batch_norm': 'running'}}}",
                              "batch_norm\":\"running", NULL));
    Spec *s = must_parse("{" MIN ", 'measure': {'ntk': {'batch_norm': 'data'}}}");
    if (!s)
        return;
    CHECK(s->ntk.batch_norm == NTK_BN_DATA);
    CHECK(strstr(s->canonical, "\"batch_norm\":\"data\"") != NULL);
    spec_free(s);
}

int main(void)
{
    RUN(parse_should_accept_full_example);
    RUN(canonical_should_write_ntk_batch_norm_only_when_data);
    RUN(canonical_should_write_rank_layers_only_when_not_default);
    RUN(canonical_should_write_the_optimizer_only_when_newton);
    RUN(layers_should_parse_into_the_op_list);
    RUN(canonical_should_keep_a_condition_turning_off_the_base);
    RUN(layer_names_should_not_change_the_hash);
    RUN(layers_should_be_checked_against_loaded_data);
    RUN(presets_should_expand_and_round_trip);
    RUN(parse_should_fill_defaults);
    RUN(parse_should_accept_empty_hidden_list);
    RUN(parse_should_accept_synthetic_data);
    RUN(parse_should_accept_cifar_data);
    RUN(parse_should_accept_init_variants);
    RUN(parse_should_expand_templates);
    RUN(parse_should_accept_expanded_architecture);
    RUN(parse_should_resolve_milestone_fractions);
    RUN(parse_should_accept_integer_milestones);
    RUN(parse_should_let_conditions_replace_the_schedule);
    RUN(parse_should_accept_plain_norm_bias_array);
    RUN(parse_should_accept_epochs_zero_and_large_seeds);
    RUN(parse_should_read_output_section);
    RUN(canonical_should_be_frozen);
    RUN(canonical_should_be_idempotent);
    RUN(canonical_should_write_augment_only_when_on);
    RUN(canonical_should_round_trip_numbers);
    RUN(hash_should_ignore_layout_key_order_and_defaults);
    RUN(parse_should_escape_strings_in_canonical_form);
    RUN(load_should_read_tiny_spec);
    RUN(load_should_report_missing_file);
    RUN(load_should_reject_nul_bytes);
    RUN(load_should_reject_bad_spec_files);
    RUN(parse_should_reject_bad_inputs);
    RUN(parse_should_reject_overlong_data_path);
    RUN(parse_should_accept_an_escaped_backslash_before_u0000);
    RUN(diff_should_show_differences_longer_than_127_characters);
    RUN(diff_should_see_a_change_of_one_ulp);
    RUN(parse_should_refuse_a_grid_above_2e31_points);
    RUN(parse_should_refuse_a_huge_grid_before_reading_values);
    RUN(parse_should_refuse_more_than_4096_architectures_or_conditions);
    RUN(parse_should_check_200000_seeds_quickly);
    RUN(extension_should_check_200000_seeds_quickly);
    RUN(load_should_stop_at_the_size_limit);
    return test_summary();
}
