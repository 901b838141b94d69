/* Pillow's ImageEnhance.Sharpness of contiguous uint8 (B, C, H, W) images, H and W >= 3.
 *
 * Compiled by augbench.native with the machine's C compiler (no torch headers) and called
 * through ctypes. The float32 operations of augbench.functional.filters.adjust_sharpness, in
 * its order: the 3x3 box sum plus 4 x the centre (a whole number, exact in float32, so summed
 * here in integers), divided by 13 and rounded half to even (a sum / 13 is never a tie); then smooth + factor * (x - smooth)
 * as (x - smooth) * factor + smooth, clamped to [0, 255] and truncated; the one-pixel border is
 * copied. Build with -ffp-contract=off so that no multiply-add is fused. Samples are shared out
 * over `threads` threads.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "parallel.h"

typedef struct {
    const uint8_t *images;
    int64_t channels, height, width;
    const float *factor;
    uint8_t *out;
} sharpness_t;

/* One channel plane. The interior is computed as one long run over the rows 1 .. H-2 (the
 * first and last pixel of each row included, to keep the loop long, branch-free and vectorised),
 * then the border is copied from the input over it. */
static void sharpen_plane(const uint8_t *restrict in, int64_t height, int64_t width, float factor,
                          uint8_t *restrict out) {
    const int64_t w = width;
    for (int64_t i = w + 1; i < (height - 1) * w - 1; ++i) {
        /* The 3x3 sum plus 4 x the centre in integers: the whole number the float32 sums hold
         * exactly, whatever their order, so converting once gives the same float. */
        const int32_t sum = (int32_t)in[i - w - 1] + in[i - w] + in[i - w + 1] + in[i - 1] + 5 * in[i] + in[i + 1] +
                            in[i + w - 1] + in[i + w] + in[i + w + 1];
        const float centre = (float)in[i];
        const float smooth = rintf((float)sum / 13.0f);
        float value = (centre - smooth) * factor;
        value = value + smooth;
        value = value > 0.0f ? value : 0.0f;  /* clamp_(0, 255): max first, then min */
        value = value < 255.0f ? value : 255.0f;
        out[i] = (uint8_t)(int32_t)value;      /* truncation, as .to(int16).to(uint8) */
    }
    memcpy(out, in, (size_t)(w + 1));  /* the top row and the first pixel of row 1 */
    memcpy(out + (height - 1) * w - 1, in + (height - 1) * w - 1, (size_t)(w + 1));  /* ... and the bottom */
    for (int64_t y = 1; y < height - 1; ++y) {
        out[y * w] = in[y * w];
        out[y * w + w - 1] = in[y * w + w - 1];
    }
}

static void sharpen_samples(void *argument, int64_t first, int64_t last) {
    const sharpness_t *job = (const sharpness_t *)argument;
    const int64_t plane = job->height * job->width;
    for (int64_t n = first; n < last; ++n)
        for (int64_t c = 0; c < job->channels; ++c) {
            const int64_t offset = (n * job->channels + c) * plane;
            sharpen_plane(job->images + offset, job->height, job->width, job->factor[n], job->out + offset);
        }
}

void sharpness_uint8(const uint8_t *images, int64_t batch, int64_t channels, int64_t height, int64_t width,
                     const float *factor, uint8_t *out, int threads) {
    sharpness_t job = {images, channels, height, width, factor, out};
    parallel_samples(sharpen_samples, &job, batch, threads);
}
