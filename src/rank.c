/* rank: RankMin / RankMax projections of weight matrices (see rank.h). */
#include "bpsweep/rank.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>

#include "bpsweep/util.h"

/* One layer: W (O,I) row-major is A = W^T (I,O) column-major, A = U S VT. */
static int project_layer(float *W, int fan_out, int fan_in, RankMode mode, double threshold,
                         bool relative)
{
    const int k = fan_out < fan_in ? fan_out : fan_in;
    size_t n = (size_t)fan_out * (size_t)fan_in;
    double *a = xmalloc(n * sizeof *a), *s = xmalloc((size_t)k * sizeof *s);
    double *u = xmalloc((size_t)fan_in * (size_t)k * sizeof *u);
    double *vt = xmalloc((size_t)k * (size_t)fan_out * sizeof *vt);
    for (size_t i = 0; i < n; i++)
        a[i] = (double)W[i];
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', fan_in, fan_out, a, fan_in, s, u,
                                     fan_in, vt, k);
    if (info == 0) {
        double t = relative ? threshold * s[0] : threshold;
        for (int j = 0; j < k; j++) { /* U diag(sigma'): scale U's column j */
            double sj = mode == RANK_MIN ? (s[j] < t ? 0.0 : s[j]) : (s[j] > t ? t : s[j]);
            for (int i = 0; i < fan_in; i++)
                u[(size_t)j * (size_t)fan_in + (size_t)i] *= sj;
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, fan_in, fan_out, k, 1.0, u,
                    fan_in, vt, k, 0.0, a, fan_in);
        for (size_t i = 0; i < n; i++)
            W[i] = (float)a[i];
    }
    free(a);
    free(s);
    free(u);
    free(vt);
    return info == 0 ? 0 : -1;
}

int rank_project(Net *net, RankMode mode, double threshold, bool relative)
{
    int rc = 0;
    for (int l = 1; l < net->n_layers && mode != RANK_OFF; l++) {
        const NnLayer *ly = &net->layers[l];
        if (project_layer(net->params + ly->w, ly->out, ly->in, mode, threshold, relative) != 0)
            rc = -1;
    }
    return rc;
}
