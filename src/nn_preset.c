/* The presets: the paper's convolutional architectures written as op lists (nn.h). The
 * layer tables are in docs/spec.md; the shapes follow from the input, so one list serves
 * 1x28x28 and 3x32x32 images alike. */
#include "bpsweep/nn.h"

/* Appends ops to a list, each reading the last written slot unless told otherwise. */
typedef struct {
    OpDesc *ops;
    int n;    /* ops written */
    int last; /* the slot the next op reads */
} Builder;

static int put(Builder *b, OpDesc d)
{
    d.out = b->n + 1;
    if (d.in[0] < 0)
        d.in[0] = b->last;
    if (OP_KINDS[d.kind]->n_inputs < 2)
        d.in[1] = -1;
    b->ops[b->n++] = d;
    b->last = d.out;
    return d.out;
}

/* conv k x k (stride, pad) with O channels reading slot `from` (-1: the last), followed
 * by batch norm if bn; a convolution followed by batch norm has no bias (it would cancel). */
static int conv_bn(Builder *b, int from, int O, int k, int stride, int pad, bool bn)
{
    put(b, (OpDesc){.kind = OP_CONV, .in = {from, -1}, .units = O, .kernel = k, .stride = stride,
                    .pad = pad, .no_bias = bn});
    if (bn)
        put(b, (OpDesc){.kind = OP_BATCH_NORM, .in = {-1, -1}});
    return b->last;
}

static void act(Builder *b, const NetConfig *cfg)
{
    if (cfg->act == ACT_RELU)
        put(b, (OpDesc){.kind = OP_RELU, .in = {-1, -1}});
}

/* five 3x3 convolutions (pad 1) with w, 2w, 2w, 4w, 4w channels, the activation after
 * each, 3x3 max pools (stride 3) after the 4th and 5th, a dense layer to the classes */
static void convnet(Builder *b, const NetConfig *cfg)
{
    const int w = cfg->width_mult, ch[5] = {w, 2 * w, 2 * w, 4 * w, 4 * w};
    for (int l = 0; l < 5; l++) {
        conv_bn(b, -1, ch[l], 3, 1, 1, cfg->batch_norm);
        act(b, cfg);
        if (l >= 3)
            put(b, (OpDesc){.kind = OP_MAX_POOL, .in = {-1, -1}, .kernel = 3, .stride = 3});
    }
    put(b, (OpDesc){.kind = OP_DENSE, .in = {-1, -1}, .units = cfg->n_out});
}

/* A BasicBlock: conv3x3(stride) [bn] act conv3x3 [bn], plus the shortcut (identity, or a
 * 1x1 strided convolution [bn] where the shape changes), then the activation. */
static void basic_block(Builder *b, const NetConfig *cfg, int in_ch, int out_ch, int stride)
{
    const int x = b->last;
    conv_bn(b, x, out_ch, 3, stride, 1, cfg->batch_norm);
    act(b, cfg);
    const int main_out = conv_bn(b, -1, out_ch, 3, 1, 1, cfg->batch_norm);
    if (cfg->skip) {
        int shortcut = x;
        if (stride != 1 || in_ch != out_ch)
            shortcut = conv_bn(b, x, out_ch, 1, stride, 0, cfg->batch_norm);
        put(b, (OpDesc){.kind = OP_ADD, .in = {main_out, shortcut}});
    }
    act(b, cfg);
}

/* The CIFAR ResNet-18: 3x3 stem (no max pool), BasicBlocks [2, 2, 2, 2] with stage
 * strides 1, 2, 2, 2 and widths b, 2bw, 4bw, 8bw, global average pooling, dense. */
static void resnet18(Builder *b, const NetConfig *cfg)
{
    const int bw = cfg->base_width, w = cfg->width_mult;
    const int width[4] = {bw, 2 * bw * w, 4 * bw * w, 8 * bw * w}, stride[4] = {1, 2, 2, 2};
    conv_bn(b, -1, bw, 3, 1, 1, cfg->batch_norm);
    act(b, cfg);
    int in_ch = bw;
    for (int s = 0; s < 4; s++)
        for (int k = 0; k < 2; k++) {
            basic_block(b, cfg, in_ch, width[s], k == 0 ? stride[s] : 1);
            in_ch = width[s];
        }
    put(b, (OpDesc){.kind = OP_GLOBAL_AVG_POOL, .in = {-1, -1}});
    put(b, (OpDesc){.kind = OP_DENSE, .in = {-1, -1}, .units = cfg->n_out});
}

int nn_preset_expand(const NetConfig *cfg, OpDesc *ops)
{
    Builder b = {ops, 0, 0};
    switch (cfg->preset) {
    case PRESET_CONVNET:
        convnet(&b, cfg);
        break;
    case PRESET_RESNET18:
        resnet18(&b, cfg);
        break;
    case PRESET_NONE:
        break;
    }
    return b.n;
}

const char *const PRESET_NAMES[] = {"none", "convnet", "resnet18", NULL};
