/* Pillow's NEAREST affine warp of a (B, C, H, W) batch of any element type
 * (augbench.functional.affine._warp_nearest).
 *
 * Output pixel (x, y) of sample n reads column (column_by_row[n, y] + column_by_column[n, x]) >> 16
 * and row (row_by_row[n, y] + row_by_column[n, x]) >> 16 (16.16 fixed point, arithmetic shift,
 * in int64), or the fill value of its channel where that lies outside the image. Element values
 * are copied, never converted: exact for every dtype.
 *
 * warp_nearest takes those four tables from the caller; warp_nearest_matrix builds them itself
 * from each sample's Pillow matrix (a, b, c, d, e, f) in float64, as _nearest_tables does:
 * FIX(v) = floor(65536 v + 0.5) of a, b, d, e and of the offsets (c + a/2) + b/2, (f + d/2) + e/2
 * (affine_fixed); a matrix with b = d = 0 follows ImagingScaleAffine instead, whose source
 * coordinates c + a/2, + a, + a, ... are accumulated one pixel at a time in float64 and floored.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "parallel.h"

typedef struct {
    const uint8_t *images;
    int64_t element, channels, height, width;
    const int64_t *column_by_row, *column_by_column, *row_by_row, *row_by_column;
    const double *matrix;
    int64_t out_height, out_width;
    const uint8_t *fill;
    uint8_t *out;
    int failed;
} warp_job;

/* Sample n: the source offset of every output pixel (-1 outside) once, then one gather per channel. */
#define WARP_SAMPLE(TYPE)                                                                         \
    {                                                                                             \
        for (int64_t y = 0; y < oh; ++y) {                                                        \
            int32_t *line = offsets + y * ow;                                                     \
            for (int64_t x = 0; x < ow; ++x) {                                                    \
                const int64_t col = (cr[y] + cc[x]) >> 16, row = (rr[y] + rc[x]) >> 16;           \
                const int inside = col >= 0 && col < w && row >= 0 && row < h;                    \
                line[x] = inside ? (int32_t)(row * w + col) : -1;                                 \
            }                                                                                     \
        }                                                                                         \
        for (int64_t c = 0; c < channels; ++c) {                                                  \
            const TYPE *src = (const TYPE *)job->images + (n * channels + c) * h * w;             \
            TYPE *dst = (TYPE *)job->out + (n * channels + c) * oh * ow;                          \
            const TYPE fill = ((const TYPE *)job->fill)[c];                                       \
            for (int64_t i = 0; i < oh * ow; ++i) dst[i] = offsets[i] >= 0 ? src[offsets[i]] : fill; \
        }                                                                                         \
    }

static void warp_sample(const warp_job *job, int64_t n, const int64_t *cr, const int64_t *cc, const int64_t *rr,
                        const int64_t *rc, int32_t *offsets) {
    const int64_t channels = job->channels, h = job->height, w = job->width;
    const int64_t oh = job->out_height, ow = job->out_width;
    switch (job->element) {
        case 1: WARP_SAMPLE(uint8_t) break;
        case 2: WARP_SAMPLE(uint16_t) break;
        case 4: WARP_SAMPLE(uint32_t) break;
        default: WARP_SAMPLE(uint64_t) break;
    }
}

static int64_t fix(double value) { return (int64_t)floor(value * 65536.0 + 0.5); }

/* floor of first, first + step, ... (a float64 running sum), clamped to [-1, size], times 65536. */
static void scaled_positions(double first, double step, int64_t count, int64_t size, int64_t *out) {
    double position = first;
    for (int64_t i = 0; i < count; ++i) {
        double whole = floor(position);
        whole = whole > -1.0 ? whole : -1.0;
        whole = whole < (double)size ? whole : (double)size;
        out[i] = (int64_t)whole * 65536;
        position += step;
    }
}

/* The four tables of sample n from its matrix, into tables (2 * (oh + ow) int64). */
static void matrix_tables(const warp_job *job, int64_t n, int64_t *tables) {
    const double *m = job->matrix + 6 * n;
    const double a = m[0], b = m[1], c = m[2], d = m[3], e = m[4], f = m[5];
    const int64_t oh = job->out_height, ow = job->out_width;
    int64_t *cr = tables, *cc = cr + oh, *rr = cc + ow, *rc = rr + oh;
    if (b == 0.0 && d == 0.0) {
        for (int64_t y = 0; y < oh; ++y) cr[y] = 0;
        for (int64_t x = 0; x < ow; ++x) rc[x] = 0;
        scaled_positions(c + a * 0.5, a, ow, job->width, cc);
        scaled_positions(f + e * 0.5, e, oh, job->height, rr);
        return;
    }
    const int64_t fa = fix(a), fb = fix(b), fd = fix(d), fe = fix(e);
    const int64_t fc = fix((c + a * 0.5) + b * 0.5), ff = fix((f + d * 0.5) + e * 0.5);
    for (int64_t y = 0; y < oh; ++y) {
        cr[y] = fc + y * fb;
        rr[y] = ff + y * fe;
    }
    for (int64_t x = 0; x < ow; ++x) {
        cc[x] = x * fa;
        rc[x] = x * fd;
    }
}

static void warp_samples(void *context, int64_t first, int64_t last) {
    warp_job *job = (warp_job *)context;
    const int64_t oh = job->out_height, ow = job->out_width;
    int32_t *offsets = malloc((size_t)(oh * ow) * sizeof(int32_t));
    int64_t *tables = job->matrix != NULL ? malloc((size_t)(2 * (oh + ow)) * sizeof(int64_t)) : NULL;
    if (offsets == NULL || (job->matrix != NULL && tables == NULL)) {
        job->failed = 1;
        free(offsets);
        free(tables);
        return;
    }
    for (int64_t n = first; n < last; ++n) {
        if (job->matrix != NULL) {
            matrix_tables(job, n, tables);
            warp_sample(job, n, tables, tables + oh, tables + oh + ow, tables + 2 * oh + ow, offsets);
        } else {
            warp_sample(job, n, job->column_by_row + n * oh, job->column_by_column + n * ow, job->row_by_row + n * oh,
                        job->row_by_column + n * ow, offsets);
        }
    }
    free(offsets);
    free(tables);
}

/* element: bytes per value (1, 2, 4 or 8); fill: one value per channel, of the images' type.
 * Images must have fewer than 2**31 pixels per plane. Returns 0, or -1 when out of memory. */
int warp_nearest(const uint8_t *images, int64_t element, int64_t batch, int64_t channels, int64_t height,
                  int64_t width, const int64_t *column_by_row, const int64_t *column_by_column,
                  const int64_t *row_by_row, const int64_t *row_by_column, int64_t out_height, int64_t out_width,
                  const uint8_t *fill, uint8_t *out, int threads) {
    warp_job job = {images, element, channels, height, width, column_by_row, column_by_column, row_by_row,
                    row_by_column, NULL, out_height, out_width, fill, out, 0};
    parallel_samples(warp_samples, &job, batch, threads);
    return job.failed ? -1 : 0;
}

/* warp_nearest with the tables built from matrix, (B, 6) float64 Pillow matrices. */
int warp_nearest_matrix(const uint8_t *images, int64_t element, int64_t batch, int64_t channels, int64_t height,
                        int64_t width, const double *matrix, int64_t out_height, int64_t out_width,
                        const uint8_t *fill, uint8_t *out, int threads) {
    warp_job job = {images, element, channels, height, width, NULL, NULL, NULL, NULL, matrix,
                    out_height, out_width, fill, out, 0};
    parallel_samples(warp_samples, &job, batch, threads);
    return job.failed ? -1 : 0;
}
