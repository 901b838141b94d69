/* Fused colour jitter: brightness, contrast, saturation and hue of contiguous (B, C, H*W) images.
 *
 * Compiled by augbench.native with the machine's C compiler (no torch headers) and called
 * through ctypes. Every value is computed with the same float32 operations, in the same order,
 * as the torch chain in augbench.functional.color (adjust_brightness, adjust_contrast,
 * adjust_saturation, adjust_hue, then ColorJitter's rounding), so the results are bit-identical
 * to it; build with -ffp-contract=off so that no multiply-add is fused. The contrast means are a
 * torch reduction whose summation order C cannot reproduce: the caller computes them with torch
 * from the luma that cj_luma writes, then calls cj_apply.
 *
 * Layout: images are (B, C, HW) with C = 1 (grey: brightness and contrast only) or C = 3 (RGB),
 * uint8 (0-255, divided by 255) or float32 (0-1). Factors are (B,) float32.
 */
#include <math.h>
#include <stdint.h>

static const float LUMA_R = 0.299f, LUMA_G = 0.587f, LUMA_B = 0.114f;

static inline float clamp01(float v) {
    v = v > 0.0f ? v : 0.0f;  /* torch.clamp_(0, 1): max first, then min */
    return v < 1.0f ? v : 1.0f;
}

static inline float luma(float r, float g, float b) {
    return (r * LUMA_R + g * LUMA_G) + b * LUMA_B;
}

static inline float remainder6(float v) {
    /* torch.remainder(v, 6) for v in [-6, 12): fmod is exact there, as are these differences. */
    return v >= 6.0f ? v - 6.0f : (v < 0.0f ? v + 6.0f : v);
}

static inline float from_uint8(uint8_t v) { return (float)v / 255.0f; }
static inline float from_float(float v) { return v; }

static inline uint8_t to_uint8(float v) {
    float level = rintf(v * 255.0f);  /* round half to even, as torch.round_ */
    level = level > 0.0f ? level : 0.0f;
    level = level < 255.0f ? level : 255.0f;
    return (uint8_t)level;
}
static inline float to_float(float v) { return v; }

static inline float hue_channel(float value, float chroma, float hue, float offset) {
    const float k = remainder6(offset + hue);
    float t = k < 4.0f - k ? k : 4.0f - k;
    return value - chroma * clamp01(t);
}

/* Loops without branches (one copy per element type), so that the compiler vectorises them. */
#define COLOR_KERNELS(SUFFIX, TYPE, LOAD, STORE)                                                   \
static void luma_##SUFFIX(const TYPE *restrict images, int64_t batch, int64_t channels,           \
                          int64_t pixels, const float *restrict brightness,                       \
                          float *restrict luma_out) {                                             \
    for (int64_t n = 0; n < batch; ++n) {                                                         \
        const TYPE *restrict red = images + n * channels * pixels;                                \
        const TYPE *restrict green = red + pixels, *restrict blue = green + pixels;               \
        const float factor = brightness[n];                                                       \
        float *restrict out = luma_out + n * pixels;                                              \
        if (channels == 1) {                                                                      \
            for (int64_t p = 0; p < pixels; ++p) out[p] = clamp01(0.0f + factor * (LOAD(red[p]) - 0.0f)); \
            continue;                                                                             \
        }                                                                                         \
        for (int64_t p = 0; p < pixels; ++p) {                                                    \
            const float r = clamp01(0.0f + factor * (LOAD(red[p]) - 0.0f));                       \
            const float g = clamp01(0.0f + factor * (LOAD(green[p]) - 0.0f));                     \
            const float b = clamp01(0.0f + factor * (LOAD(blue[p]) - 0.0f));                      \
            out[p] = luma(r, g, b);                                                               \
        }                                                                                         \
    }                                                                                             \
}                                                                                                 \
                                                                                                  \
static void apply_##SUFFIX(const TYPE *restrict images, int64_t batch, int64_t channels,          \
                           int64_t pixels, const float *restrict brightness,                      \
                           const float *restrict mean, const float *restrict contrast,            \
                           const float *restrict saturation, const float *restrict hue_shift,     \
                           TYPE *restrict result) {                                               \
    for (int64_t n = 0; n < batch; ++n) {                                                         \
        const int64_t base = n * channels * pixels;                                               \
        const TYPE *restrict red = images + base;                                                 \
        const TYPE *restrict green = red + pixels, *restrict blue = green + pixels;               \
        TYPE *restrict out_red = result + base;                                                   \
        TYPE *restrict out_green = out_red + pixels, *restrict out_blue = out_green + pixels;      \
        const float bf = brightness[n], m = mean[n], cf = contrast[n];                            \
        if (channels == 1) {                                                                      \
            for (int64_t p = 0; p < pixels; ++p) {                                                \
                const float y = clamp01(0.0f + bf * (LOAD(red[p]) - 0.0f));                       \
                out_red[p] = STORE(clamp01(m + cf * (y - m)));                                    \
            }                                                                                     \
            continue;                                                                             \
        }                                                                                         \
        const float sf = saturation[n], shift = 6.0f * hue_shift[n];                              \
        for (int64_t p = 0; p < pixels; ++p) {                                                    \
            float r = clamp01(0.0f + bf * (LOAD(red[p]) - 0.0f));                                 \
            float g = clamp01(0.0f + bf * (LOAD(green[p]) - 0.0f));                               \
            float b = clamp01(0.0f + bf * (LOAD(blue[p]) - 0.0f));                                \
            r = clamp01(m + cf * (r - m));                                                        \
            g = clamp01(m + cf * (g - m));                                                        \
            b = clamp01(m + cf * (b - m));                                                        \
            const float grey = luma(r, g, b);                                                     \
            r = clamp01(grey + sf * (r - grey));                                                  \
            g = clamp01(grey + sf * (g - grey));                                                  \
            b = clamp01(grey + sf * (b - grey));                                                  \
            float value = r > g ? r : g;                                                          \
            value = value > b ? value : b;                                                        \
            float low = r < g ? r : g;                                                            \
            low = low < b ? low : b;                                                              \
            const float chroma = value - low;                                                     \
            const float safe = chroma > 0.0f ? chroma : 1.0f;                                     \
            const float from_red = remainder6((g - b) / safe);                                    \
            const float from_green = (b - r) / safe + 2.0f;                                       \
            const float from_blue = (r - g) / safe + 4.0f;                                        \
            float hue = value == r ? from_red : (value == g ? from_green : from_blue);            \
            hue = chroma > 0.0f ? hue : 0.0f;                                                     \
            hue = remainder6(hue + shift);                                                        \
            out_red[p] = STORE(hue_channel(value, chroma, hue, 5.0f));                            \
            out_green[p] = STORE(hue_channel(value, chroma, hue, 3.0f));                          \
            out_blue[p] = STORE(hue_channel(value, chroma, hue, 1.0f));                           \
        }                                                                                         \
    }                                                                                             \
}

COLOR_KERNELS(uint8, uint8_t, from_uint8, to_uint8)
COLOR_KERNELS(float, float, from_float, to_float)

/* Luma of the brightened images, (B, HW) float32 (the brightened channel itself when C = 1). */
void cj_luma(const void *images, int is_uint8, int64_t batch, int64_t channels, int64_t pixels,
             const float *brightness, float *luma_out) {
    if (is_uint8) luma_uint8(images, batch, channels, pixels, brightness, luma_out);
    else luma_float(images, batch, channels, pixels, brightness, luma_out);
}

/* The whole jitter, hue(saturation(contrast(brightness(x)))), into a result of the images' type
 * (uint8 results rounded half to even). */
void cj_apply(const void *images, int is_uint8, int64_t batch, int64_t channels, int64_t pixels,
              const float *brightness, const float *mean, const float *contrast,
              const float *saturation, const float *hue_shift, void *out) {
    if (is_uint8) apply_uint8(images, batch, channels, pixels, brightness, mean, contrast, saturation, hue_shift, out);
    else apply_float(images, batch, channels, pixels, brightness, mean, contrast, saturation, hue_shift, out);
}

/* ---- Pillow's uint8 grey and saturation (adjust_contrast's mean, adjust_saturation) ---- */

#include <stdlib.h>

#include "parallel.h"

/* Pillow's convert("L"): (19595 R + 38470 G + 7471 B + 32768) >> 16, in int32 as the torch kernel. */
static inline int32_t pillow_luma(uint8_t r, uint8_t g, uint8_t b) {
    return ((int32_t)r * 19595 + (int32_t)g * 38470 + (int32_t)b * 7471 + 32768) >> 16;
}

typedef struct {
    const uint8_t *images;
    int64_t channels, pixels;
    const float *base, *factor;
    int64_t *sums;
    uint8_t *out;
} grey_job;

static void grey_sum_samples(void *argument, int64_t first, int64_t last) {
    const grey_job *job = (const grey_job *)argument;
    for (int64_t n = first; n < last; ++n) {
        const uint8_t *restrict red = job->images + n * job->channels * job->pixels;
        const uint8_t *restrict green = red + job->pixels, *restrict blue = green + job->pixels;
        int64_t sum = 0;
        if (job->channels == 1)
            for (int64_t p = 0; p < job->pixels; ++p) sum += red[p];
        else
            for (int64_t p = 0; p < job->pixels; ++p) sum += pillow_luma(red[p], green[p], blue[p]);
        job->sums[n] = sum;
    }
}

static void saturation_samples(void *argument, int64_t first, int64_t last) {
    const grey_job *job = (const grey_job *)argument;
    const int64_t pixels = job->pixels;
    float *grey = malloc((size_t)pixels * sizeof(float));
    if (grey == NULL) {
        job->sums[0] = -1;  /* the caller's out-of-memory flag */
        return;
    }
    for (int64_t n = first; n < last; ++n) {
        const uint8_t *restrict red = job->images + n * 3 * pixels;
        const uint8_t *restrict green = red + pixels, *restrict blue = green + pixels;
        for (int64_t p = 0; p < pixels; ++p) grey[p] = (float)pillow_luma(red[p], green[p], blue[p]);
        const float factor = job->factor[n];
        for (int64_t c = 0; c < 3; ++c) {
            const uint8_t *restrict in = red + c * pixels;
            uint8_t *restrict out = job->out + (n * 3 + c) * pixels;
            for (int64_t p = 0; p < pixels; ++p) {
                /* blend(): (x - grey) * factor + grey in float32, clamped, truncated */
                float value = ((float)in[p] - grey[p]) * factor;
                value = value + grey[p];
                value = value > 0.0f ? value : 0.0f;
                value = value < 255.0f ? value : 255.0f;
                out[p] = (uint8_t)(int32_t)value;
            }
        }
    }
    free(grey);
}

static void blend_samples(void *argument, int64_t first, int64_t last) {
    const grey_job *job = (const grey_job *)argument;
    const int64_t size = job->channels * job->pixels;
    for (int64_t n = first; n < last; ++n) {
        const uint8_t *restrict in = job->images + n * size;
        uint8_t *restrict out = job->out + n * size;
        const float base = job->base[n], factor = job->factor[n];
        for (int64_t p = 0; p < size; ++p) {
            float value = ((float)in[p] - base) * factor;  /* blend(), as blend_lut's table entries */
            value = value + base;
            value = value > 0.0f ? value : 0.0f;
            value = value < 255.0f ? value : 255.0f;
            out[p] = (uint8_t)(int32_t)value;
        }
    }
}

/* Per-sample sums (int64) of the grey image: the Pillow luma of RGB (C = 3), the channel itself (C = 1). */
void grey_sums_uint8(const uint8_t *images, int64_t batch, int64_t channels, int64_t pixels, int64_t *sums,
                     int threads) {
    grey_job job = {images, channels, pixels, NULL, NULL, sums, NULL};
    parallel_samples(grey_sum_samples, &job, batch, threads);
}

/* adjust_saturation of uint8 RGB (B, 3, pixels): each channel blended with the Pillow luma.
 * Returns 0, or -1 when a thread's grey buffer could not be allocated. */
int saturation_uint8(const uint8_t *images, int64_t batch, int64_t pixels, const float *factor, uint8_t *out,
                     int threads) {
    int64_t failed = 0;
    grey_job job = {images, 3, pixels, NULL, factor, &failed, out};
    parallel_samples(saturation_samples, &job, batch, threads);
    return failed == 0 ? 0 : -1;
}

/* blend() of uint8 (B, C, pixels) images with one grey level per sample: (x - base[n]) * factor[n]
 * + base[n] in float32, clamped and truncated (adjust_brightness: base 0; adjust_contrast: the
 * rounded mean grey), the same float32 operations as blend_lut's 256-entry tables. */
void blend_uint8(const uint8_t *images, int64_t batch, int64_t channels, int64_t pixels, const float *base,
                 const float *factor, uint8_t *out, int threads) {
    grey_job job = {images, channels, pixels, base, factor, NULL, out};
    parallel_samples(blend_samples, &job, batch, threads);
}
