/* Pillow's autocontrast and equalize of contiguous uint8 (rows, pixels) images, one row per
 * (sample, channel) pair.
 *
 * Compiled by augbench.native with the machine's C compiler (no torch headers) and called
 * through ctypes. Each row gets its own 256-entry lookup table, built with the arithmetic of the
 * torch kernels in augbench.functional.histogram (float64 for both tables), so the results are bit-identical
 * to them. Rows are shared out over `threads` threads.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "parallel.h"

#define LEVELS 256

typedef struct {
    const uint8_t *images;
    int64_t pixels;
    uint8_t *out;
} rows_t;

/* Scalar on purpose: vectorised, this loop becomes byte gathers, several times slower. */
__attribute__((optimize("no-tree-vectorize")))
static void apply_lut(const uint8_t *restrict row, int64_t pixels, const uint8_t *restrict lut,
                      uint8_t *restrict out) {
    for (int64_t i = 0; i < pixels; ++i) out[i] = lut[row[i]];
}

static void autocontrast_rows(void *argument, int64_t first, int64_t last) {
    const rows_t *job = (const rows_t *)argument;
    uint8_t lut[LEVELS];
    for (int64_t r = first; r < last; ++r) {
        const uint8_t *row = job->images + r * job->pixels;
        uint8_t *out = job->out + r * job->pixels;
        uint8_t low = 255, high = 0;
        for (int64_t i = 0; i < job->pixels; ++i) {
            low = row[i] < low ? row[i] : low;
            high = row[i] > high ? row[i] : high;
        }
        if (high <= low) {  /* a constant channel is left unchanged */
            memcpy(out, row, (size_t)job->pixels);
            continue;
        }
        const double scale = 255.0 / (double)(high - low);  /* a true division, as the torch kernel */
        const double offset = (double)low * scale;
        for (int v = 0; v < LEVELS; ++v) {
            double level = floor((double)v * scale - offset);
            level = level > 0.0 ? level : 0.0;
            level = level < 255.0 ? level : 255.0;
            lut[v] = (uint8_t)level;
        }
        apply_lut(row, job->pixels, lut, out);
    }
}

static void equalize_rows(void *argument, int64_t first, int64_t last) {
    const rows_t *job = (const rows_t *)argument;
    int64_t counts[LEVELS];
    double below[LEVELS];
    uint8_t lut[LEVELS];
    for (int64_t r = first; r < last; ++r) {
        const uint8_t *row = job->images + r * job->pixels;
        uint8_t *out = job->out + r * job->pixels;
        memset(counts, 0, sizeof counts);
        for (int64_t i = 0; i < job->pixels; ++i) ++counts[row[i]];
        int highest = 0;
        for (int v = 0; v < LEVELS; ++v) highest = counts[v] > 0 ? v : highest;
        const int64_t step = (job->pixels - counts[highest]) / 255;
        if (step <= 0) {  /* one or two distinct values, or a tiny image: unchanged */
            memcpy(out, row, (size_t)job->pixels);
            continue;
        }
        int64_t seen = step / 2;
        for (int v = 0; v < LEVELS; ++v) {
            below[v] = (double)seen;
            seen += counts[v];
        }
        /* floor((step // 2 + below) / step) in float64 as the torch kernel: exact below 2**52,
         * and a vectorised division where 256 integer divisions would dominate the row. */
        const double divisor = (double)step;
        for (int v = 0; v < LEVELS; ++v) {
            const double level = floor(below[v] / divisor);
            lut[v] = (uint8_t)(level < 255.0 ? level : 255.0);
        }
        apply_lut(row, job->pixels, lut, out);
    }
}

void autocontrast_uint8(const uint8_t *images, int64_t rows, int64_t pixels, uint8_t *out, int threads) {
    rows_t job = {images, pixels, out};
    parallel_samples(autocontrast_rows, &job, rows, threads);
}

void equalize_uint8(const uint8_t *images, int64_t rows, int64_t pixels, uint8_t *out, int threads) {
    rows_t job = {images, pixels, out};
    parallel_samples(equalize_rows, &job, rows, threads);
}
