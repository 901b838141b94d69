/* Waveform time shift, alone or after adding scaled noise, of contiguous (B, C, T) batches
 * (augbench.functional.audio.time_shift and add_noise_and_shift).
 *
 * Row (n, c) of the output is out[t] = v[t - steps[n]] where 0 <= t - steps[n] < T and 0 elsewhere
 * ("zero"), or out[t] = v[(t - steps[n]) mod T] ("roll"), with v the input row (audio_shift,
 * any element type: values are copied, never converted) or v = x + noise * scale[n] (float32,
 * audio_noise_shift). That sum is torch.addcmul's: rounded once (fmaf, correctly rounded, as the
 * fused multiply-add torch's CPU kernel uses where the CPU has one) when `fused`, else the
 * product and the sum rounded separately; the caller asks torch which it does. The steps arrive
 * clamped by the caller: |steps[n]| <= T.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "parallel.h"

typedef struct {
    const uint8_t *source;
    const float *noise, *scale;
    int fused;
    int64_t element, channels, length;
    const int64_t *steps;
    int roll;
    uint8_t *out;
} shift_job;

/* dst[0, count) = src[0, count) + noise[0, count) * scale, rounded as torch.addcmul rounds. */
static void noisy_span(float *restrict dst, const float *restrict src, const float *restrict noise,
                       float scale, int fused, int64_t count) {
    if (fused) {
        for (int64_t i = 0; i < count; ++i) dst[i] = fmaf(noise[i], scale, src[i]);
    } else {
        for (int64_t i = 0; i < count; ++i) dst[i] = src[i] + noise[i] * scale;
    }
}

/* dst[0, count) = the row's values from `from` on (copied, or with the noise added). */
static void span(const shift_job *job, uint8_t *dst, int64_t row, int64_t from, int64_t count) {
    if (count <= 0) return;
    const int64_t offset = row * job->length + from;
    if (job->noise == NULL) {
        memcpy(dst, job->source + offset * job->element, (size_t)(count * job->element));
        return;
    }
    const float scale = job->scale[row / job->channels];
    noisy_span((float *)dst, (const float *)job->source + offset, job->noise + offset, scale, job->fused, count);
}

static void shift_rows(void *context, int64_t first, int64_t last) {
    const shift_job *job = (const shift_job *)context;
    const int64_t length = job->length, element = job->element;
    for (int64_t row = first; row < last; ++row) {
        uint8_t *dst = job->out + row * length * element;
        int64_t step = job->steps[row / job->channels];
        if (job->roll) {
            step %= length;
            if (step < 0) step += length;
            span(job, dst + step * element, row, 0, length - step);  /* out[step, T) = v[0, T - step) */
            span(job, dst, row, length - step, step);                /* out[0, step) = v[T - step, T) */
        } else if (step >= 0) {
            memset(dst, 0, (size_t)(step * element));
            span(job, dst + step * element, row, 0, length - step);
        } else {
            span(job, dst, row, -step, length + step);
            memset(dst + (length + step) * element, 0, (size_t)(-step * element));
        }
    }
}

void audio_shift(const void *source, int64_t element, int64_t batch, int64_t channels, int64_t length,
                 const int64_t *steps, int roll, void *out, int threads) {
    shift_job job = {source, NULL, NULL, 0, element, channels, length, steps, roll, out};
    parallel_samples(shift_rows, &job, batch * channels, threads);
}

void audio_noise_shift(const float *source, const float *noise, const float *scale, int fused, int64_t batch,
                       int64_t channels, int64_t length, const int64_t *steps, int roll, float *out, int threads) {
    shift_job job = {(const uint8_t *)source, noise, scale, fused, 4, channels, length, steps, roll, (uint8_t *)out};
    parallel_samples(shift_rows, &job, batch * channels, threads);
}
