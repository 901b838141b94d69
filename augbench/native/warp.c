/* Pillow's NEAREST affine warp of a (B, C, H, W) batch of any element type
 * (augbench.functional.affine._warp_nearest).
 *
 * Output pixel (x, y) of sample n reads column (column_by_row[n, y] + column_by_column[n, x]) >> 16
 * and row (row_by_row[n, y] + row_by_column[n, x]) >> 16 (16.16 fixed point, arithmetic shift,
 * in int64), or the fill value of its channel where that lies outside the image. Element values
 * are copied, never converted: exact for every dtype.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parallel.h"

typedef struct {
    const uint8_t *images;
    int64_t element, channels, height, width;
    const int64_t *column_by_row, *column_by_column, *row_by_row, *row_by_column;
    int64_t out_height, out_width;
    const uint8_t *fill;
    uint8_t *out;
    int failed;
} warp_job;

/* Per sample: the source offset of every output pixel (-1 outside) once, then one gather per channel. */
#define WARP_SAMPLES(TYPE)                                                                        \
    for (int64_t n = first; n < last; ++n) {                                                      \
        const int64_t *cr = job->column_by_row + n * oh, *cc = job->column_by_column + n * ow;    \
        const int64_t *rr = job->row_by_row + n * oh, *rc = job->row_by_column + n * ow;          \
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

static void warp_samples(void *context, int64_t first, int64_t last) {
    warp_job *job = (warp_job *)context;
    const int64_t channels = job->channels, h = job->height, w = job->width;
    const int64_t oh = job->out_height, ow = job->out_width;
    int32_t *offsets = malloc((size_t)(oh * ow) * sizeof(int32_t));
    if (offsets == NULL) {
        job->failed = 1;
        return;
    }
    switch (job->element) {
        case 1: WARP_SAMPLES(uint8_t) break;
        case 2: WARP_SAMPLES(uint16_t) break;
        case 4: WARP_SAMPLES(uint32_t) break;
        default: WARP_SAMPLES(uint64_t) break;
    }
    free(offsets);
}

/* element: bytes per value (1, 2, 4 or 8); fill: one value per channel, of the images' type.
 * Images must have fewer than 2**31 pixels per plane. Returns 0, or -1 when out of memory. */
int warp_nearest(const uint8_t *images, int64_t element, int64_t batch, int64_t channels, int64_t height,
                  int64_t width, const int64_t *column_by_row, const int64_t *column_by_column,
                  const int64_t *row_by_row, const int64_t *row_by_column, int64_t out_height, int64_t out_width,
                  const uint8_t *fill, uint8_t *out, int threads) {
    warp_job job = {images, element, channels, height, width, column_by_row, column_by_column, row_by_row,
                    row_by_column, out_height, out_width, fill, out, 0};
    parallel_samples(warp_samples, &job, batch, threads);
    return job.failed ? -1 : 0;
}
