/* Pillow's two 8-bit resampling passes over a uint8 (B, C, H, W) batch with per-sample
 * fixed-point separable filters (augbench.functional._resample.resample_fixed).
 *
 * Each pass sums pixel * coefficient in int32 from 2**21, shifts right by 22 and clips to
 * 0-255, as Pillow's ImagingResampleHorizontal_8bpc / ImagingResampleVertical_8bpc do, so the
 * second pass reads the first pass's rounded uint8 values. Integer arithmetic: the results are
 * those of the torch passes exactly. The first pass only covers the rows (or columns) that the
 * second pass reads, as Pillow's does.
 *
 * Filters: taps int64 (F, out, K) with F = B (one filter per sample) or 1 (shared), each tap
 * an index into the input axis; coefficients int32 (F, out, K), zero beyond a pixel's last tap.
 */
#include <stdint.h>
#include <stdlib.h>

#include "parallel.h"

#define FIXED_BITS 22

typedef struct {
    const uint8_t *images;
    int64_t channels, height, width;
    const int64_t *row_taps;
    const int32_t *row_coefficients;
    int64_t row_filters, out_height, row_k;
    const int64_t *col_taps;
    const int32_t *col_coefficients;
    int64_t col_filters, out_width, col_k;
    int vertical_first, channels_last;
    uint8_t *out;
    int failed;
} resample_job;

static inline uint8_t clip8(int32_t sum) {
    sum >>= FIXED_BITS;
    return (uint8_t)(sum < 0 ? 0 : (sum > 255 ? 255 : sum));
}

static void tap_range(const int64_t *taps, const int32_t *coefficients, int64_t count, int64_t *low, int64_t *high) {
    *low = INT64_MAX;
    *high = -1;
    for (int64_t i = 0; i < count; ++i) {
        if (coefficients[i] == 0) continue;
        if (taps[i] < *low) *low = taps[i];
        if (taps[i] > *high) *high = taps[i];
    }
    if (*high < 0) *low = *high = 0;  /* no weight at all: any row gives zeros */
}

/* Horizontal pass of rows [row0, row1) of one plane: (H, W) -> (H, out_w) into dst rows. A plane's
 * pixel (y, x) is at y * row + x * step (step 1 for a channel plane of NCHW, C for NHWC).
 * Small tap counts get their own copy of the loop (K known to the compiler: unrolled). */
#define HORIZONTAL_ROWS(K)                                                                        \
    for (int64_t y = row0; y < row1; ++y) {                                                       \
        const uint8_t *line = src + y * in_row;                                                   \
        uint8_t *target = dst + y * out_row;                                                      \
        for (int64_t x = 0; x < out_width; ++x) {                                                 \
            const int64_t *tap = taps + x * (K);                                                  \
            const int32_t *coefficient = coefficients + x * (K);                                  \
            int32_t sum = 1 << (FIXED_BITS - 1);                                                  \
            for (int64_t j = 0; j < (K); ++j) sum += (int32_t)line[tap[j] * in_step] * coefficient[j]; \
            target[x * out_step] = clip8(sum);                                                    \
        }                                                                                         \
    }

static void horizontal(const uint8_t *src, int64_t in_row, int64_t in_step, int64_t row0, int64_t row1,
                       const int64_t *taps, const int32_t *coefficients, int64_t out_width, int64_t k, uint8_t *dst,
                       int64_t out_row, int64_t out_step) {
    switch (k) {
        case 2: HORIZONTAL_ROWS(2) break;
        case 3: HORIZONTAL_ROWS(3) break;
        case 4: HORIZONTAL_ROWS(4) break;
        case 5: HORIZONTAL_ROWS(5) break;
        default: HORIZONTAL_ROWS(k) break;
    }
}

/* Vertical pass of columns [col0, col1) of one plane: (H, W) -> (out_h, W) into dst, strided as
 * horizontal(); contiguous rows (step 1) take the vectorised loops. */
static void vertical(const uint8_t *src, int64_t in_row, int64_t in_step, int64_t col0, int64_t col1,
                     const int64_t *taps, const int32_t *coefficients, int64_t out_height, int64_t k, int32_t *sums,
                     uint8_t *dst, int64_t out_row, int64_t out_step) {
    const int64_t span = col1 - col0;
    for (int64_t y = 0; y < out_height; ++y) {
        const int64_t *tap = taps + y * k;
        const int32_t *coefficient = coefficients + y * k;
        for (int64_t x = 0; x < span; ++x) sums[x] = 1 << (FIXED_BITS - 1);
        for (int64_t j = 0; j < k; ++j) {
            const int32_t weight = coefficient[j];
            if (weight == 0) continue;  /* adds nothing: the sum is the same */
            const uint8_t *line = src + tap[j] * in_row + col0 * in_step;
            if (in_step == 1) {
                for (int64_t x = 0; x < span; ++x) sums[x] += (int32_t)line[x] * weight;
            } else {
                for (int64_t x = 0; x < span; ++x) sums[x] += (int32_t)line[x * in_step] * weight;
            }
        }
        uint8_t *target = dst + y * out_row + col0 * out_step;
        if (out_step == 1) {
            for (int64_t x = 0; x < span; ++x) target[x] = clip8(sums[x]);
        } else {
            for (int64_t x = 0; x < span; ++x) target[x * out_step] = clip8(sums[x]);
        }
    }
}

static void resample_samples(void *context, int64_t first, int64_t last) {
    resample_job *job = (resample_job *)context;
    const int64_t h = job->height, w = job->width, oh = job->out_height, ow = job->out_width;
    /* The plane between the passes: (H, out_w) after the horizontal pass, (out_h, W) after the vertical one. */
    const int64_t between_size = job->vertical_first ? oh * w : h * ow;
    const int64_t widest = w > ow ? w : ow;
    uint8_t *between = calloc((size_t)between_size, 1);  /* zero-coefficient taps may read unwritten rows */
    int32_t *sums = malloc((size_t)widest * sizeof(int32_t));
    if (between == NULL || sums == NULL) {
        free(between);
        free(sums);
        job->failed = 1;
        return;
    }
    for (int64_t n = first; n < last; ++n) {
        const int64_t rf = job->row_filters == 1 ? 0 : n, cf = job->col_filters == 1 ? 0 : n;
        const int64_t *row_taps = job->row_taps + rf * oh * job->row_k;
        const int32_t *row_coefficients = job->row_coefficients + rf * oh * job->row_k;
        const int64_t *col_taps = job->col_taps + cf * ow * job->col_k;
        const int32_t *col_coefficients = job->col_coefficients + cf * ow * job->col_k;
        int64_t low, high;
        const int64_t channels = job->channels;
        /* Where channel c of sample n starts, and its row and pixel strides, in and out. */
        const int64_t in_row = job->channels_last ? w * channels : w, out_row = job->channels_last ? ow * channels : ow;
        const int64_t step = job->channels_last ? channels : 1;
        for (int64_t c = 0; c < channels; ++c) {
            const uint8_t *plane = job->images + n * channels * h * w + (job->channels_last ? c : c * h * w);
            uint8_t *out = job->out + n * channels * oh * ow + (job->channels_last ? c : c * oh * ow);
            if (job->vertical_first) {
                tap_range(col_taps, col_coefficients, ow * job->col_k, &low, &high);
                vertical(plane, in_row, step, low, high + 1, row_taps, row_coefficients, oh, job->row_k, sums, between, w, 1);
                horizontal(between, w, 1, 0, oh, col_taps, col_coefficients, ow, job->col_k, out, out_row, step);
            } else {
                tap_range(row_taps, row_coefficients, oh * job->row_k, &low, &high);
                horizontal(plane, in_row, step, low, high + 1, col_taps, col_coefficients, ow, job->col_k, between, ow, 1);
                vertical(between, ow, 1, 0, ow, row_taps, row_coefficients, oh, job->row_k, sums, out, out_row, step);
            }
        }
    }
    free(between);
    free(sums);
}

/* images and out are both NCHW-contiguous, or both channels-last (NHWC memory) with channels_last = 1.
 * Returns 0, or -1 when a thread could not allocate its buffers (the caller then falls back). */
int resample_fixed_uint8(const uint8_t *images, int64_t batch, int64_t channels, int64_t height, int64_t width,
                         const int64_t *row_taps, const int32_t *row_coefficients, int64_t row_filters,
                         int64_t out_height, int64_t row_k, const int64_t *col_taps, const int32_t *col_coefficients,
                         int64_t col_filters, int64_t out_width, int64_t col_k, int vertical_first, int channels_last,
                         uint8_t *out, int threads) {
    resample_job job = {images, channels, height, width, row_taps, row_coefficients, row_filters, out_height, row_k,
                        col_taps, col_coefficients, col_filters, out_width, col_k, vertical_first, channels_last, out, 0};
    parallel_samples(resample_samples, &job, batch, threads);
    return job.failed ? -1 : 0;
}
