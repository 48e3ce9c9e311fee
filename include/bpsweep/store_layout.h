/* store_layout: the shape of a results file and its reference, without HDF5 or MPI.
 *
 * The layout itself - every dataset with its type, shape, description and where its
 * values come from and go to, every root attribute - is a table in src/store_layout.c,
 * shared by the writer (store.h), the reader (store_reader.h) and the description
 * below (docs/results-format.md embeds it). See docs/architecture.md, "The results
 * file". This header is what the rest of bpsweep needs of it: the file's shape and
 * size. The shape comes from the sweep side (point_store_shape: the networks decide how
 * wide the per-layer, weight and spectra rows are); the store only sizes datasets by it. */
#ifndef BPSWEEP_STORE_LAYOUT_H
#define BPSWEEP_STORE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STORE_FORMAT "bpsweep-results"
#define STORE_FORMAT_VERSION 2   /* 2: row checksums and the metrics attribute; 1 is read */
#define STORE_HOST_MAX 64

/* Sizes of the file's datasets (the attributes n_points .. robust_eps). */
typedef struct {
    int64_t n_points;
    int max_epochs;       /* columns of /curves/<name>: max epochs over conditions (>= 1) */
    int max_layers;       /* columns of /layers/<name>: max dense layers over architectures */
    int64_t max_params;   /* columns of /weights if the spec stores weights, else 0 */
    int64_t ntk_m;        /* M: the NTK is M x M with measure.ntk, else 0 */
    int64_t max_rank;     /* R: most singular values of any layer (0: no /spectra) */
    int64_t n_eps;        /* radii of measure.robustness, else 0 (no /robust) */
} StoreShape;

/* Size in bytes of a results file of this shape: the per-point datasets (the axes,
 * the spec JSON and metadata add a few kilobytes). */
size_t store_file_bytes(const StoreShape *shape);

/* Prints the layout reference as Markdown (root attributes, then every dataset with
 * type, shape and description, metrics from POINT_METRIC_DEFS). docs/results-format.md
 * holds this output verbatim; tests/unit_store.c checks that it does. */
void store_describe(FILE *out);

#endif
