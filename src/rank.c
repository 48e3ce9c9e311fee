/* rank: RankMin / RankMax projections of weight matrices and of convolution operators
 * (see rank.h). */
#include <complex.h> /* before fftw3.h: fftw_complex is then double _Complex */
#include <fftw3.h>

#include "bpsweep/rank.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bpsweep/conv_spectrum.h"
#include "bpsweep/util.h"

/* sigma' of one singular value (rank.h) */
static double edit_value(RankMode mode, double s, double t)
{
    return mode == RANK_MIN ? (s < t ? 0.0 : s) : (s > t ? t : s);
}

/* One layer: W (O,I) row-major is A = W^T (I,O) column-major, A = U S VT. */
static int project_layer(float *W, int fan_out, int fan_in, RankMode mode, double threshold,
                         bool relative, RankEffect *eff)
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
        int changed = 0;
        for (int j = 0; j < k; j++) { /* U diag(sigma'): scale U's column j */
            double sj = edit_value(mode, s[j], t);
            changed += sj != s[j];
            for (int i = 0; i < fan_in; i++)
                u[(size_t)j * (size_t)fan_in + (size_t)i] *= sj;
        }
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, fan_in, fan_out, k, 1.0, u,
                    fan_in, vt, k, 0.0, a, fan_in);
        for (size_t i = 0; i < n; i++)
            W[i] = (float)a[i];
        *eff = (RankEffect){(double)changed / (double)k, NAN};
    }
    free(a);
    free(s);
    free(u);
    free(vt);
    return info == 0 ? 0 : -1;
}

/* The operator's projection. The r2c DFT keeps the frequencies v <= m/2; a real kernel
 * makes P(-u, -v) = conj P(u, v), and the edit is a matrix function (U f(S) V^H with
 * f(0) = 0, independent of the SVD chosen), so the edited blocks keep that symmetry and
 * the c2r inverse gives the real intended kernel. A frequency with 0 < v < m/2 (2 v != m)
 * stands for two, so its values count twice (conv_spectrum.c). Two passes over the
 * frequencies: values only (the largest of the operator, for a relative threshold, and
 * what changes), then vectors where something changes. */
int rank_project_conv(float *W, int O, int C, int k, int n, int m, RankMode mode,
                      double threshold, bool relative, RankEffect *eff)
{
    if (O < 1 || C < 1 || k < 1 || k > n || k > m)
        return 1;
    const int mh = m / 2 + 1, r = O < C ? O : C;
    const size_t nm = (size_t)n * (size_t)m, nmh = (size_t)n * (size_t)mh;
    const size_t oc = (size_t)O * (size_t)C;
    double complex *P = conv_kernel_dft(W, O, C, k, n, m);
    double *real = fftw_malloc((size_t)C * nm * sizeof *real);
    double complex *spec = fftw_malloc((size_t)C * nmh * sizeof *spec);
    /* zeroed slack: OpenBLAS's zgemv kernel reads past the matrix (conv_spectrum.c) */
    double complex *A = calloc(oc + 8, sizeof *A);
    double complex *U = calloc((size_t)O * (size_t)r + 8, sizeof *U);
    double complex *VT = calloc((size_t)r * (size_t)C + 8, sizeof *VT);
    double *S = malloc(nmh * (size_t)r * sizeof *S), *sv = malloc((size_t)r * sizeof *sv);
    fftw_plan inv = NULL;
    int rc = -1;
    if (!P || !real || !spec || !A || !U || !VT || !S || !sv)
        goto done;
    const int dims[2] = {n, m};
    inv = fftw_plan_many_dft_c2r(2, dims, C, spec, NULL, 1, (int)nmh, real, NULL, 1, (int)nm,
                                 FFTW_ESTIMATE);
    if (!inv)
        goto done;
    /* pass 1: the values of every stored frequency f = u mh + v */
    double smax = 0.0;
    for (size_t f = 0; f < nmh; f++) {
        for (int c = 0; c < C; c++)
            for (int o = 0; o < O; o++)
                A[(size_t)c * (size_t)O + (size_t)o] = P[((size_t)o * (size_t)C + (size_t)c) * nmh + f];
        if (LAPACKE_zgesdd(LAPACK_COL_MAJOR, 'N', O, C, A, O, S + f * (size_t)r, NULL, 1, NULL,
                           1) != 0)
            goto done;
        if (S[f * (size_t)r] > smax)
            smax = S[f * (size_t)r];
    }
    const double t = relative ? threshold * smax : threshold;
    size_t changed = 0;
    for (size_t f = 0; f < nmh; f++) {
        const int v = (int)(f % (size_t)mh), mult = (v == 0 || 2 * v == m) ? 1 : 2;
        for (int j = 0; j < r; j++)
            changed += (size_t)mult * (edit_value(mode, S[f * (size_t)r + (size_t)j], t) !=
                                       S[f * (size_t)r + (size_t)j]);
    }
    if (changed == 0) { /* nothing to do: W stays bit-identical */
        *eff = (RankEffect){0.0, 0.0};
        rc = 0;
        goto done;
    }
    /* pass 2: P(f) <- U diag(sigma') V^H where some value changes */
    for (size_t f = 0; f < nmh; f++) {
        const double *s = S + f * (size_t)r;
        bool any = false;
        for (int j = 0; j < r; j++)
            any |= edit_value(mode, s[j], t) != s[j];
        if (!any)
            continue;
        for (int c = 0; c < C; c++)
            for (int o = 0; o < O; o++)
                A[(size_t)c * (size_t)O + (size_t)o] = P[((size_t)o * (size_t)C + (size_t)c) * nmh + f];
        if (LAPACKE_zgesdd(LAPACK_COL_MAJOR, 'S', O, C, A, O, sv, U, O, VT, r) != 0)
            goto done;
        for (int j = 0; j < r; j++) { /* scale U's column j by sigma'_j */
            const double sj = edit_value(mode, sv[j], t);
            for (int o = 0; o < O; o++)
                U[(size_t)j * (size_t)O + (size_t)o] *= sj;
        }
        const double complex one = 1.0, zero = 0.0;
        cblas_zgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, O, C, r, &one, U, O, VT, r,
                    &zero, A, O);
        for (int c = 0; c < C; c++)
            for (int o = 0; o < O; o++)
                P[((size_t)o * (size_t)C + (size_t)c) * nmh + f] = A[(size_t)c * (size_t)O + (size_t)o];
    }
    /* the intended n x m kernels, and their k x k support */
    double full_sq = 0.0, out_sq = 0.0;
    float *Wn = malloc(oc * (size_t)k * (size_t)k * sizeof *Wn);
    if (!Wn)
        goto done;
    for (int o = 0; o < O; o++) {
        memcpy(spec, P + (size_t)o * (size_t)C * nmh, (size_t)C * nmh * sizeof *spec);
        fftw_execute(inv); /* unnormalised: n m times the inverse DFT */
        for (int c = 0; c < C; c++)
            for (int i = 0; i < n; i++)
                for (int j = 0; j < m; j++) {
                    const double x =
                        real[(size_t)c * nm + (size_t)i * (size_t)m + (size_t)j] / (double)nm;
                    full_sq += x * x;
                    if (i < k && j < k)
                        Wn[(((size_t)o * (size_t)C + (size_t)c) * (size_t)k + (size_t)i) *
                               (size_t)k + (size_t)j] = (float)x;
                    else
                        out_sq += x * x;
                }
    }
    memcpy(W, Wn, oc * (size_t)k * (size_t)k * sizeof *W);
    free(Wn);
    *eff = (RankEffect){(double)changed / ((double)r * (double)nm),
                        full_sq > 0.0 ? sqrt(out_sq / full_sq) : 0.0};
    rc = 0;
done:
    if (inv)
        fftw_destroy_plan(inv);
    conv_kernel_dft_free(P);
    fftw_free(real);
    fftw_free(spec);
    free(A);
    free(U);
    free(VT);
    free(S);
    free(sv);
    return rc;
}

int rank_project(Net *net, const RankEdit *edit, RankEffect *effect)
{
    int rc = 0;
    for (int l = 0; l < net->n_layers && effect; l++)
        effect[l] = (RankEffect){NAN, NAN};
    if (edit->mode == RANK_OFF)
        return 0;
    const int from = edit->first ? 0 : 1;
    const int to = edit->output ? net->n_layers : net->n_layers - 1;
    for (int l = from; l < to; l++) {
        const NnLayer *ly = &net->layers[l];
        const Op *op = &net->ops[ly->op];
        RankEffect e = {NAN, NAN};
        int r = 1;
        if (op->d.kind == OP_CONV && op->d.stride == 1)
            r = rank_project_conv(net->params + ly->w, op->out_shape.c, op->in_shape.c,
                                  op->d.kernel, op->in_shape.h, op->in_shape.w, edit->mode,
                                  edit->threshold, edit->relative, &e);
        if (r == 1) /* dense, strided conv, kernel larger than the input: the matrix */
            r = project_layer(net->params + ly->w, ly->out, ly->in, edit->mode,
                              edit->threshold, edit->relative, &e);
        if (r != 0)
            rc = -1;
        if (effect)
            effect[l] = e;
    }
    return rc;
}
