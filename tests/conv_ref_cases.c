/* Writes convolutional training cases for tests/conv_reference.py: two synthetic image
 * sets (3x16x16, 3x8x8), and per case the architecture settings, the initial parameters and
 * batch-norm statistics, every step's batch indices and loss, the per-epoch learning rates
 * and test losses, the final parameters and batch-norm statistics, and bpsweep's whole
 * state after every optimizer step (NAME.states.f32: per step the parameters, the momentum
 * buffers and the batch-norm running statistics, steps appended), all produced by
 * bpsweep's trainer. PyTorch rebuilds each architecture from its description (not from
 * the op list) and checks two ways:
 *   forced: every step k from bpsweep's own state before it (teacher forcing), one torch
 *     step on the same batch, against bpsweep's loss and state after step k. This tests
 *     every step at every rate, whatever the trajectory does later;
 *   free-running: 30 steps from the same start on the same batches. Through ReLU kinks,
 *     and steeply with batch norm, a float32 trajectory amplifies rounding (a
 *     pre-activation within rounding of 0 flips its gradient), so two correct float32
 *     trainers can drift apart; the free run is decided only where PyTorch's own float32
 *     run stays within the tolerances of its float64 run.
 * usage: conv_ref_cases OUTDIR */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/data.h"
#include "bpsweep/train.h"

#include "test_util.h"

/* Two synthetic image sets, 3x16x16 (the ConvNet needs at least 9x9) and 3x8x8 (the
 * ResNets: 8, 4, 2, 1 pixels in the four stages): 150 training samples in batches of 32
 * (four full batches and one of 22 per epoch), six epochs: 30 optimizer steps. */
enum { N_TRAIN = 150, N_TEST = 64, CLASSES = 4, N_DATA = 2 };
static const int IMAGE[N_DATA][3] = {{3, 16, 16}, {3, 8, 8}};

typedef struct {
    const char *name;
    const char *arch; /* "convnet", "resnet18" or "block": what PyTorch builds */
    int data;         /* the image set: index into IMAGE */
    NetConfig net;
    TrainConfig train;
    int block_width, block_stride; /* arch "block": the BasicBlock's output channels, stride */
} Case;

typedef struct {
    FILE *json;
    bool first;
    FILE *states;     /* the state after every step */
    const Trainer *t;
    bool write_error;
} StepLog;

/* The trainer's hook, called after the step's update: the loss and batch into the json,
 * and the state the step left (parameters, momentum buffers, running statistics). */
static void log_step(void *ctx, uint64_t step, const uint32_t *idx, int B, double loss)
{
    StepLog *s = ctx;
    const Net *net = s->t->net;
    size_t P = net->n_params, nb = net->n_buffers;
    if (fwrite(net->params, sizeof(float), P, s->states) != P ||
        fwrite(s->t->momentum, sizeof(float), P, s->states) != P ||
        fwrite(net->buffers, sizeof(float), nb, s->states) != nb)
        s->write_error = true;
    fprintf(s->json, "%s\n  {\"step\": %llu, \"loss\": %.17g, \"idx\": [", s->first ? "" : ",",
            (unsigned long long)step, loss);
    for (int i = 0; i < B; i++)
        fprintf(s->json, "%s%u", i ? "," : "", idx[i]);
    fprintf(s->json, "]}");
    s->first = false;
}

/* The expanded op list, for messages only: PyTorch builds the net from "arch". */
static void write_ops(FILE *js, const NetConfig *net)
{
    OpDesc *ops = malloc(NN_MAX_OPS * sizeof *ops);
    if (!ops)
        return;
    int n = nn_expand(net, ops);
    fprintf(js, " \"ops\": [");
    for (int i = 0; i < n; i++) {
        const OpDesc *d = &ops[i];
        fprintf(js, "%s\n  {\"kind\": \"%s\", \"in\": [%d, %d], \"out\": %d, \"units\": %d,"
                " \"kernel\": %d, \"stride\": %d, \"pad\": %d, \"no_bias\": %s}",
                i ? "," : "", OP_KINDS[d->kind]->name, d->in[0], d->in[1], d->out, d->units,
                d->kernel, d->stride, d->pad, d->no_bias ? "true" : "false");
    }
    fprintf(js, "],\n");
    free(ops);
}

static int run_case(const char *dir, const Case *c, const Dataset *train, const Dataset *test)
{
    NetConfig net = c->net;
    net.n_in = train->d;
    net.n_out = train->classes;
    net.in_shape = dataset_shape(train);
    char msg[256];
    int bad_op;
    if (nn_check(&net, msg, sizeof msg, &bad_op) != 0) {
        fprintf(stderr, "%s: op %d: %s\n", c->name, bad_op, msg);
        return -1;
    }
    Trainer *t = trainer_new(&net, &c->train, 1234);
    if (!t) {
        fprintf(stderr, "%s: out of memory\n", c->name);
        return -1;
    }
    if (test_write_floats(dir, c->name, "init", t->net->params, t->net->n_params) != 0 ||
        (t->net->n_buffers &&
         test_write_floats(dir, c->name, "init_buffers", t->net->buffers, t->net->n_buffers) != 0)) {
        trainer_free(t);
        return -1;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.json", dir, c->name);
    FILE *js = fopen(path, "w");
    if (!js) {
        perror(path);
        trainer_free(t);
        return -1;
    }
    const TrainConfig *tc = &c->train;
    fprintf(js,
            "{\"name\": \"%s\", \"arch\": \"%s\", \"data\": \"img%d\","
            " \"in_shape\": [%d, %d, %d], \"n_out\": %d,\n"
            " \"width_mult\": %d, \"base_width\": %d, \"block_width\": %d, \"block_stride\": %d,"
            " \"relu\": %s, \"skip\": %s, \"batch_norm\": %s,\n"
            " \"epochs\": %d, \"lr\": %.17g, \"momentum\": %.17g, \"nesterov\": %s,"
            " \"weight_decay\": %.17g, \"n_params\": %zu, \"n_buffers\": %zu, \"n_ops\": %d,\n",
            c->name, c->arch, c->data, net.in_shape.c, net.in_shape.h, net.in_shape.w, net.n_out,
            net.width_mult, net.base_width, c->block_width, c->block_stride,
            net.act == ACT_RELU ? "true" : "false", net.skip ? "true" : "false",
            net.batch_norm ? "true" : "false", tc->epochs, tc->lr, tc->momentum,
            tc->nesterov ? "true" : "false", tc->weight_decay, t->net->n_params,
            t->net->n_buffers, t->net->n_ops);
    write_ops(js, &net);
    fprintf(js, " \"steps\": [");
    snprintf(path, sizeof path, "%s/%s.states.f32", dir, c->name);
    StepLog sl = {js, true, fopen(path, "wb"), t, false};
    if (!sl.states) {
        perror(path);
        fclose(js);
        trainer_free(t);
        return -1;
    }
    t->hook = log_step;
    t->hook_ctx = &sl;
    while (!trainer_finished(t))
        trainer_epoch(t, train, test);
    if (fclose(sl.states) != 0 || sl.write_error) {
        fprintf(stderr, "%s: cannot write %s\n", c->name, path);
        fclose(js);
        trainer_free(t);
        return -1;
    }
    fprintf(js, "],\n \"epoch_lr\": [");
    for (int e = 0; e < tc->epochs; e++)
        fprintf(js, "%s%.17g", e ? "," : "", t->history[e].lr);
    fprintf(js, "],\n \"epoch_test_loss\": [");
    for (int e = 0; e < tc->epochs; e++)
        fprintf(js, "%s%.17g", e ? "," : "", t->history[e].test_loss);
    fprintf(js, "]}\n");
    int rc = fclose(js) == 0 ? 0 : -1;
    if (t->diverged_epoch) {
        fprintf(stderr, "%s: diverged in epoch %d\n", c->name, t->diverged_epoch);
        rc = -1;
    }
    if (rc == 0)
        rc = test_write_floats(dir, c->name, "final", t->net->params, t->net->n_params);
    if (rc == 0 && t->net->n_buffers)
        rc = test_write_floats(dir, c->name, "buffers", t->net->buffers, t->net->n_buffers);
    trainer_free(t);
    return rc;
}

static TrainConfig base_train(double lr)
{
    TrainConfig t = {0};
    t.epochs = 6;
    t.batch_size = 32;
    t.lr = lr;
    t.momentum = 0.9;
    t.shuffle = true;
    t.gamma = 0.1;
    t.weight_decay = 5e-4;
    return t;
}

static NetConfig preset_net(Preset preset, int width_mult, int base_width, bool batch_norm)
{
    NetConfig n = {0};
    n.preset = preset;
    n.width_mult = width_mult;
    n.base_width = base_width;
    n.act = ACT_RELU;
    n.skip = true;
    n.batch_norm = batch_norm;
    return n;
}

static OpDesc op1(OpKind kind, int in)
{
    return (OpDesc){.kind = kind, .in = {in, -1}};
}

static OpDesc conv(int in, int O, int k, int stride, int pad)
{
    return (OpDesc){.kind = OP_CONV, .in = {in, -1}, .units = O, .kernel = k, .stride = stride,
                    .pad = pad, .no_bias = true};
}

/* One BasicBlock with a strided projection shortcut on the input, written out as an op
 * list (op i writes slot i + 1):
 *   1 conv3x3/s(x)  2 bn  3 relu  4 conv3x3  5 bn  6 conv1x1/s(x)  7 bn  8 add(5, 7)
 *   9 relu  10 global average pool  11 dense */
static NetConfig block_net(int width, int stride)
{
    NetConfig n = {0};
    n.act = ACT_RELU;
    n.skip = true;
    n.batch_norm = true;
    OpDesc *o = n.ops;
    o[0] = conv(0, width, 3, stride, 1);
    o[1] = op1(OP_BATCH_NORM, 1);
    o[2] = op1(OP_RELU, 2);
    o[3] = conv(3, width, 3, 1, 1);
    o[4] = op1(OP_BATCH_NORM, 4);
    o[5] = conv(0, width, 1, stride, 0);
    o[6] = op1(OP_BATCH_NORM, 6);
    o[7] = (OpDesc){.kind = OP_ADD, .in = {5, 7}};
    o[8] = op1(OP_RELU, 8);
    o[9] = op1(OP_GLOBAL_AVG_POOL, 9);
    o[10] = (OpDesc){.kind = OP_DENSE, .in = {10, -1}, .units = CLASSES};
    n.n_ops = 11;
    for (int i = 0; i < n.n_ops; i++)
        o[i].out = i + 1;
    return n;
}

int main(int argc, char **argv)
{
    openblas_set_num_threads(1); /* as bpsweep's workers; and no spinning threads on a busy CI */
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    Dataset train[N_DATA], test[N_DATA];
    for (int k = 0; k < N_DATA; k++) {
        const int *im = IMAGE[k], D = im[0] * im[1] * im[2];
        DataConfig dc = {.kind = DATA_SYNTHETIC, .n_train = N_TRAIN, .n_test = N_TEST,
                         .features = D, .classes = CLASSES, .noise = 3.0, .clusters = 1,
                         .seed = 77, .image = {im[0], im[1], im[2]}};
        BpsErr err;
        if (dataset_load(&dc, &train[k], &test[k], &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        char name[32];
        snprintf(name, sizeof name, "img%d", k);
        float ylab[N_TRAIN + N_TEST];
        for (int i = 0; i < N_TRAIN; i++)
            ylab[i] = (float)train[k].y[i];
        for (int i = 0; i < N_TEST; i++)
            ylab[N_TRAIN + i] = (float)test[k].y[i];
        if (test_write_floats(argv[1], name, "train_x", train[k].x, (size_t)N_TRAIN * D) != 0 ||
            test_write_floats(argv[1], name, "test_x", test[k].x, (size_t)N_TEST * D) != 0 ||
            test_write_floats(argv[1], name, "labels", ylab, N_TRAIN + N_TEST) != 0)
            return 1;
    }

    /* Learning rates that train visibly (the weights move 7% to 55%). With batch norm
     * the free-running float32 trajectories are chaotic at these rates (PyTorch's own
     * float32 and float64 runs part within a few steps); conv_reference.py then decides
     * those cases by the forced per-step check, and still prints the free run. */
    static Case cases[8];
    int n = 0;
    cases[n] = (Case){"convnet_w4", "convnet", 0, preset_net(PRESET_CONVNET, 4, 0, false),
                      base_train(0.02), 0, 0};
    n++;
    cases[n] = (Case){"convnet_w4_bn", "convnet", 0, preset_net(PRESET_CONVNET, 4, 0, true),
                      base_train(0.02), 0, 0};
    n++;
    cases[n] = (Case){"convnet_w4_linear", "convnet", 0, preset_net(PRESET_CONVNET, 4, 0, false),
                      base_train(0.005), 0, 0};
    cases[n].net.act = ACT_IDENTITY;
    n++;
    cases[n] = (Case){"block_stride2", "block", 0, block_net(16, 2), base_train(0.05), 16, 2};
    n++;
    cases[n] = (Case){"resnet18_b8", "resnet18", 1, preset_net(PRESET_RESNET18, 1, 8, true),
                      base_train(0.03), 0, 0};
    n++;
    cases[n] = (Case){"resnet18_b8_noskip", "resnet18", 1,
                      preset_net(PRESET_RESNET18, 1, 8, true), base_train(0.03), 0, 0};
    cases[n].net.skip = false;
    n++;
    cases[n] = (Case){"resnet18_b8_nobn", "resnet18", 1, preset_net(PRESET_RESNET18, 1, 8, false),
                      base_train(0.05), 0, 0};
    n++;

    char path[1024];
    snprintf(path, sizeof path, "%s/cases.txt", argv[1]);
    FILE *list = fopen(path, "w");
    if (!list) {
        perror(path);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = run_case(argv[1], &cases[i], &train[cases[i].data], &test[cases[i].data]);
        fprintf(list, "%s\n", cases[i].name);
    }
    if (fclose(list) != 0)
        rc = -1;
    for (int k = 0; k < N_DATA; k++) {
        dataset_free(&train[k]);
        dataset_free(&test[k]);
    }
    return rc ? 1 : 0;
}
