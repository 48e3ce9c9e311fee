/* Prints the augmentation of a small generated image set for tests/augment_numpy.py:
 * usage: augment_cases C H W pad flip seed epoch n D0 [D1 ...]
 * (D0.. the net shape of the key). Sample s has x[s][k] = (s*131 + k*7) mod 251 + 1 for
 * k < C*H*W. One line per sample: "s oy ox flip v0 v1 ..." with the augmented values
 * (exact integers). */
#include <stdio.h>
#include <stdlib.h>

#include "bpsweep/train.h"
#include "bpsweep/util.h"

int main(int argc, char **argv)
{
    if (argc < 10) {
        fprintf(stderr, "usage: augment_cases C H W pad flip seed epoch n D0 [D1 ...]\n");
        return 2;
    }
    int C = atoi(argv[1]), H = atoi(argv[2]), W = atoi(argv[3]), pad = atoi(argv[4]);
    int flip = atoi(argv[5]), epoch = atoi(argv[7]), n = atoi(argv[8]);
    uint64_t seed = strtoull(argv[6], NULL, 10);
    int dims[16], nd = 0;
    for (int i = 9; i < argc && nd < 16; i++)
        dims[nd++] = atoi(argv[i]);
    int D = C * H * W;
    float *x = xmalloc((size_t)D * sizeof *x), *out = xmalloc((size_t)D * sizeof *out);
    uint64_t key = train_augment_key(seed, dims, nd, epoch);
    for (int s = 0; s < n; s++) {
        for (int k = 0; k < D; k++)
            x[k] = (float)((s * 131 + k * 7) % 251 + 1);
        AugmentDraw a = train_augment_draw(key, (uint32_t)s, pad, flip != 0);
        train_augment_sample(x, C, H, W, pad, a, out);
        printf("%d %d %d %d", s, a.oy, a.ox, a.flip ? 1 : 0);
        for (int k = 0; k < D; k++)
            printf(" %.0f", (double)out[k]);
        printf("\n");
    }
    free(x);
    free(out);
    return 0;
}
