/* CutMix's box paste of a contiguous (B, C, H, W) batch of any element type
 * (augbench.mix.cutmix._paste_box_into with partners images[index]).
 *
 * Sample n of the output is sample n of the input with the box rows [top, top + height) x
 * columns [left, left + width) copied from sample index[n]: element bytes are copied, never
 * converted, so the result is exact for every dtype. Boxes must lie inside the image (the
 * caller's clipped boxes do). Samples are shared out over `threads` threads.
 */
#include <stdint.h>
#include <string.h>

#include "parallel.h"

typedef struct {
    const uint8_t *images;
    int64_t element, channels, height, width;
    const int64_t *index, *top, *left, *box_height, *box_width;
    uint8_t *out;
} paste_job;

static void paste_samples(void *argument, int64_t first, int64_t last) {
    const paste_job *job = (const paste_job *)argument;
    const int64_t row_bytes = job->width * job->element, plane = job->height * row_bytes;
    const int64_t sample = job->channels * plane;
    for (int64_t n = first; n < last; ++n) {
        uint8_t *out = job->out + n * sample;
        memcpy(out, job->images + n * sample, (size_t)sample);
        const int64_t rows = job->box_height[n], columns = job->box_width[n];
        if (rows <= 0 || columns <= 0) continue;
        const uint8_t *partner = job->images + job->index[n] * sample;
        const int64_t offset = job->top[n] * row_bytes + job->left[n] * job->element;
        for (int64_t c = 0; c < job->channels; ++c)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t at = c * plane + offset + r * row_bytes;
                memcpy(out + at, partner + at, (size_t)(columns * job->element));
            }
    }
}

void paste_boxes(const uint8_t *images, int64_t element, int64_t batch, int64_t channels, int64_t height,
                 int64_t width, const int64_t *index, const int64_t *top, const int64_t *left,
                 const int64_t *box_height, const int64_t *box_width, uint8_t *out, int threads) {
    paste_job job = {images, element, channels, height, width, index, top, left, box_height, box_width, out};
    parallel_samples(paste_samples, &job, batch, threads);
}
