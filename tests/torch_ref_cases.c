/* Writes training cases for tests/torch_reference.py: for each configuration, the
 * synthetic data, the initial parameters, every step's batch indices and loss, the
 * per-epoch learning rates and test losses, and the final parameters and batch-norm
 * statistics, all produced by bpsweep's trainer. PyTorch then retrains from the same
 * start on the same batches and compares.  usage: torch_ref_cases OUTDIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/train.h"

#include "test_util.h"

typedef struct {
    const char *name;
    NetConfig net;
    TrainConfig train;
} Case;

typedef struct {
    FILE *json;
    bool first;
} StepLog;

static void log_step(void *ctx, uint64_t step, const uint32_t *idx, int B, double loss)
{
    StepLog *s = ctx;
    fprintf(s->json, "%s\n  {\"step\": %llu, \"loss\": %.17g, \"idx\": [", s->first ? "" : ",",
            (unsigned long long)step, loss);
    for (int i = 0; i < B; i++)
        fprintf(s->json, "%s%u", i ? "," : "", idx[i]);
    fprintf(s->json, "]}");
    s->first = false;
}

static int run_case(const char *dir, const Case *c, const Dataset *train, const Dataset *test)
{
    NetConfig net = c->net;
    net.n_in = train->d;
    net.n_out = train->classes;
    Trainer *t = trainer_new(&net, &c->train, 1234);
    if (test_write_floats(dir, c->name, "init", t->net->params, t->net->n_params) != 0)
        return -1;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir, c->name);
    FILE *js = fopen(path, "w");
    if (!js) {
        perror(path);
        return -1;
    }
    const TrainConfig *tc = &c->train;
    fprintf(js, "{\"name\": \"%s\", \"hidden\": [", c->name);
    for (int l = 0; l < net.n_hidden; l++)
        fprintf(js, "%s%d", l ? "," : "", net.hidden[l]);
    fprintf(js,
            "], \"n_in\": %d, \"n_out\": %d, \"relu\": %s, \"skip\": %s, \"batch_norm\": %s,\n"
            " \"epochs\": %d, \"lr\": %.17g, \"momentum\": %.17g, \"nesterov\": %s,"
            " \"weight_decay\": %.17g, \"norm_bias_c\": %.17g, \"clip_value\": %.17g,"
            " \"schedule\": \"%s\", \"milestones\": [",
            net.n_in, net.n_out, net.act == ACT_RELU ? "true" : "false",
            net.skip ? "true" : "false", net.batch_norm ? "true" : "false", tc->epochs, tc->lr,
            tc->momentum, tc->nesterov ? "true" : "false", tc->weight_decay, t->norm_bias_c,
            tc->clip_value,
            tc->schedule == SCHED_COSINE      ? "cosine"
            : tc->schedule == SCHED_MULTISTEP ? "multistep"
                                              : "constant");
    for (int i = 0; i < tc->n_milestones; i++)
        fprintf(js, "%s%d", i ? "," : "", tc->milestones[i]);
    fprintf(js, "], \"gamma\": %.17g, \"n_params\": %zu, \"n_buffers\": %zu,\n \"steps\": [",
            tc->gamma, t->net->n_params, t->net->n_buffers);
    StepLog sl = {js, true};
    t->hook = log_step;
    t->hook_ctx = &sl;
    while (!trainer_finished(t))
        trainer_epoch(t, train, test);
    fprintf(js, "],\n \"epoch_lr\": [");
    for (int e = 0; e < tc->epochs; e++)
        fprintf(js, "%s%.17g", e ? "," : "", t->history[e].lr);
    fprintf(js, "],\n \"epoch_test_loss\": [");
    for (int e = 0; e < tc->epochs; e++)
        fprintf(js, "%s%.17g", e ? "," : "", t->history[e].test_loss);
    fprintf(js, "]}\n");
    int rc = fclose(js) == 0 ? 0 : -1;
    if (t->diverged_epoch) {
        fprintf(stderr, "%s: diverged\n", c->name);
        rc = -1;
    }
    if (rc == 0)
        rc = test_write_floats(dir, c->name, "final", t->net->params, t->net->n_params);
    if (rc == 0 && t->net->n_buffers)
        rc = test_write_floats(dir, c->name, "buffers", t->net->buffers, t->net->n_buffers);
    trainer_free(t);
    return rc;
}

static TrainConfig base_train(void)
{
    TrainConfig t = {0};
    t.epochs = 5;
    t.batch_size = 32;
    t.lr = 0.05;
    t.momentum = 0.9;
    t.shuffle = true;
    t.gamma = 0.1;
    t.weight_decay = 5e-4;
    return t;
}

static NetConfig base_net(int n_hidden, int width)
{
    NetConfig n = {0};
    n.n_hidden = n_hidden;
    for (int l = 0; l < n_hidden; l++)
        n.hidden[l] = width;
    n.act = ACT_RELU;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    /* 330 samples in batches of 32: ten full batches and a partial one per epoch */
    Dataset train, test;
    dataset_synthetic(330, 100, 20, 4, 4.0, 99, &train, &test);
    if (test_write_floats(argv[1], "data", "train_x", train.x, (size_t)train.n * 20) != 0 ||
        test_write_floats(argv[1], "data", "test_x", test.x, (size_t)test.n * 20) != 0)
        return 1;
    float ylab[430];
    for (int i = 0; i < train.n; i++)
        ylab[i] = (float)train.y[i];
    for (int i = 0; i < test.n; i++)
        ylab[train.n + i] = (float)test.y[i];
    if (test_write_floats(argv[1], "data", "labels", ylab, (size_t)(train.n + test.n)) != 0)
        return 1;

    Case cases[8];
    int n = 0;
    cases[n] = (Case){"plain", base_net(2, 32), base_train()};
    n++;
    cases[n] = (Case){"skip_nesterov_cosine", base_net(3, 32), base_train()};
    cases[n].net.skip = true;
    cases[n].train.nesterov = true;
    cases[n].train.schedule = SCHED_COSINE;
    n++;
    cases[n] = (Case){"batchnorm_multistep", base_net(2, 32), base_train()};
    cases[n].net.batch_norm = true;
    cases[n].train.schedule = SCHED_MULTISTEP;
    cases[n].train.n_milestones = 2;
    cases[n].train.milestones[0] = 2;
    cases[n].train.milestones[1] = 4;
    cases[n].train.weight_decay = 1e-3;
    n++;
    cases[n] = (Case){"batchnorm_skip_nesterov", base_net(3, 24), base_train()};
    cases[n].net.batch_norm = true;
    cases[n].net.skip = true;
    cases[n].train.nesterov = true;
    cases[n].train.lr = 0.02;
    n++;
    cases[n] = (Case){"norm_bias_below", base_net(2, 32), base_train()};
    cases[n].train.weight_decay = 0.05;
    cases[n].train.norm_bias = 0.9;
    cases[n].train.norm_bias_relative = true;
    n++;
    cases[n] = (Case){"norm_bias_above", base_net(2, 32), base_train()};
    cases[n].train.weight_decay = 0.05;
    cases[n].train.norm_bias = 1.5;
    cases[n].train.norm_bias_relative = true;
    n++;
    cases[n] = (Case){"linear_clip_no_momentum", base_net(2, 32), base_train()};
    cases[n].net.act = ACT_IDENTITY;
    cases[n].train.momentum = 0.0;
    cases[n].train.lr = 0.1;
    cases[n].train.clip_value = 0.02;
    n++;
    cases[n] = (Case){"unshuffled_wide", base_net(1, 64), base_train()};
    cases[n].train.shuffle = false;
    n++;

    FILE *list = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/cases.txt", argv[1]);
    list = fopen(path, "w");
    if (!list) {
        perror(path);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = run_case(argv[1], &cases[i], &train, &test);
        fprintf(list, "%s\n", cases[i].name);
    }
    fclose(list);
    dataset_free(&train);
    dataset_free(&test);
    return rc ? 1 : 0;
}
