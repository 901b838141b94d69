/* Item-sequence ops on (B, L) int64 ids, left-padded with 0 (augbench.transforms.sequence).
 *
 * Each function does in one pass per row what the torch path of ItemCrop, ItemMask, ItemReorder
 * and _smallest does with a chain of batched ops, from the same drawn uniforms (it never draws):
 * the same double arithmetic for counts and window starts (ceil(f * n - 1e-9), floor(...),
 * truncation of offset * span), the same float32 products for the reorder keys, the same
 * order statistic for "the count smallest scores" (torch's sort order: NaN above everything,
 * -0.0 equal to 0.0; a tie at the threshold keeps every tied position, as `ranked <= threshold`
 * does) and a stable sort of the same int64 keys for the reorder. So the results are identical.
 *
 * Status: 0 done; 1 a row breaks the layout (a negative id, padding only, padding after an
 * item): the caller runs the torch path, which raises the one-line error; 2 a parameter is
 * outside the range where C's float-to-integer conversion is defined: the caller runs the torch
 * path, which gives its (meaningless but defined) values; 3 out of memory (the torch path).
 */
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parallel.h"

static const double EPS = 1e-9;         /* _EPS of augbench.transforms.sequence */
static const double LIMIT = 2147483648.0; /* |offset * span| below this: start fits any row */
static const float KEY_SCALE = 16777216.0f; /* 1 << 24, the fraction bits of a reorder key */
static const float KEY_LIMIT = 4611686018427387904.0f; /* 2**62 */

/* smallest_value counts ranks for at most this many values (O(m^2) comparisons without
 * branches); more are selected (O(m), with unpredictable branches). */
#define RANKED_MAX 96
#define RANKED_LANES 16 /* the widest float vector (AVX-512) */

/* The number of items of a left-padded row, or -1 when the row breaks the layout (a negative id,
 * padding only, padding after an item: with n ids not 0, the last n columns must all hold one).
 * Two passes without branches, which the compiler vectorises. */
static int64_t row_length(const int64_t *row, int64_t width) {
    int64_t n = 0;
    int bad = 0;
    for (int64_t j = 0; j < width; ++j) {
        n += row[j] != 0;
        bad |= row[j] < 0;
    }
    for (int64_t j = width - n; j < width; ++j) bad |= row[j] == 0;
    return bad || n == 0 ? -1 : n;
}

/* A float's position in torch's sort order as an unsigned key, NaN last. -0.0 sorts just below
 * 0.0 here (torch keeps them equal), which moves no zero out of the zeros' places in the sorted
 * row: the k-th value is a zero in both orders or the same number, and compares the same. */
static inline uint32_t order_key(float value) {
    if (isnan(value)) return UINT32_MAX;
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
}

/* The k-th smallest (0-based) of a[0..n-1] (Hoare's selection; reorders a). */
static uint32_t select_kth(uint32_t *a, int64_t n, int64_t k) {
    int64_t low = 0, high = n - 1;
    while (low < high) {
        const uint32_t pivot = a[k];
        int64_t i = low, j = high;
        do {
            while (a[i] < pivot) ++i;
            while (pivot < a[j]) --j;
            if (i <= j) {
                const uint32_t swap = a[i];
                a[i] = a[j];
                a[j] = swap;
                ++i;
                --j;
            }
        } while (i <= j);
        if (j < k) low = i;
        if (k < i) high = j;
    }
    return a[k];
}

/* The float of an order key; UINT32_MAX (any NaN) comes back as a NaN, below which nothing is. */
static inline float key_value(uint32_t key) {
    const uint32_t bits = (key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

typedef struct {
    float *values, *members, *padded;
    uint32_t *keys;
    int64_t *positions;
    int32_t *counts, *buckets;
    uint8_t *flags, *allowed;
} scratch_t;

static void scratch_free(scratch_t *scratch) {
    free(scratch->values);
    free(scratch->members);
    free(scratch->padded);
    free(scratch->keys);
    free(scratch->positions);
    free(scratch->counts);
    free(scratch->buckets);
    free(scratch->flags);
    free(scratch->allowed);
}

/* Scratch rows of `width` entries each; 0 when out of memory (then nothing is held). */
static int scratch_new(scratch_t *scratch, int64_t width) {
    const size_t entries = (size_t)width;
    scratch->values = malloc(entries * sizeof(float));
    scratch->members = malloc(entries * sizeof(float));
    scratch->padded = malloc((entries + RANKED_LANES) * sizeof(float));
    scratch->keys = malloc(entries * sizeof(uint32_t));
    scratch->positions = malloc(entries * sizeof(int64_t));
    scratch->counts = malloc(entries * sizeof(int32_t));
    scratch->buckets = malloc(entries * sizeof(int32_t));
    scratch->flags = malloc(entries);
    scratch->allowed = malloc(entries);
    if (scratch->values && scratch->members && scratch->padded && scratch->keys && scratch->positions && scratch->counts && scratch->buckets && scratch->flags && scratch->allowed)
        return 1;
    scratch_free(scratch);
    return 0;
}


/* The r-th smallest (0-based) of m floats, none NaN: for short rows, the largest value with at
 * most r values below it, counted without branches; longer ones by selection. `values` is kept. */
static float smallest_value(const float *values, int64_t m, int64_t r, scratch_t *scratch) {
    if (m > RANKED_MAX) {
        for (int64_t a = 0; a < m; ++a) scratch->keys[a] = order_key(values[a]);
        return key_value(select_kth(scratch->keys, m, r));
    }
    /* The copy is padded with +inf (below no value) to whole vectors: no scalar tail. */
    float *padded = scratch->padded;
    const int64_t vectors = (m + RANKED_LANES - 1) / RANKED_LANES * RANKED_LANES;
    memcpy(padded, values, (size_t)m * sizeof(float));
    for (int64_t a = m; a < vectors; ++a) padded[a] = INFINITY;
    float result = -INFINITY;
    for (int64_t block = 0; block < vectors; block += RANKED_LANES) {
        int32_t below[RANKED_LANES] = {0};  /* below[lane]: values under padded[block + lane] */
        const float *mine = padded + block;
        for (int64_t b = 0; b < m; ++b)
            for (int lane = 0; lane < RANKED_LANES; ++lane) below[lane] += values[b] < mine[lane];
        for (int lane = 0; lane < RANKED_LANES && block + lane < m; ++lane) {
            const float candidate = below[lane] <= r ? mine[lane] : -INFINITY;
            result = candidate > result ? candidate : result;
        }
    }
    return result;
}

/* _smallest (ItemMask, ItemInsert, ItemSubstitute): of a row, the positions j where allowed[j]
 * and ranked[j] <= threshold, with ranked = where(allowed, scores, 2.0) and threshold its sorted
 * value at k = clamp(count - 1, 0, L - 1) (count > 0; none when count <= 0).
 *
 * smallest_allowed decides from the n allowed scores alone when all of them are below 2.0 (so
 * never NaN): the padding entries' 2.0 then sorts after every one of them, so the threshold is
 * the k-th allowed score (k < n) or 2.0 (k >= n: every allowed position). Uniform draws, in
 * [0, 1), are first split into n buckets by floor(v * n), which keeps their order: only the
 * bucket holding the k-th is searched (about one value). flags[a]: whether allowed score a is
 * chosen. Returns 0 (flags unset) when a score is 2.0 or more, or NaN: smallest_ranked then
 * handles the whole row. */
static int smallest_allowed(const float *values, int64_t n, int64_t k, scratch_t *scratch, uint8_t *flags) {
    int below = 1, unit = 1;
    for (int64_t a = 0; a < n; ++a) {
        below &= values[a] < 2.0f;
        unit &= values[a] >= 0.0f && values[a] < 1.0f;
    }
    if (!below) return 0;
    if (k >= n) {
        memset(flags, 1, (size_t)n);
        return 1;
    }
    float limit;
    if (unit) {
        int32_t *bucket = scratch->buckets, *size = scratch->counts;
        const float buckets = (float)n;
        memset(size, 0, (size_t)n * sizeof(int32_t));
        for (int64_t a = 0; a < n; ++a) {
            const int32_t b = (int32_t)(values[a] * buckets);  /* monotone in the value */
            bucket[a] = b < n - 1 ? b : (int32_t)(n - 1);
        }
        for (int64_t a = 0; a < n; ++a) ++size[bucket[a]];
        int64_t before = 0, found = 0;  /* values in the buckets below `found` */
        while (before + size[found] <= k) before += size[found++];
        float *members = scratch->members;
        int64_t m = 0;
        for (int64_t a = 0; a < n; ++a) {
            members[m] = values[a];
            m += bucket[a] == found;
        }
        limit = smallest_value(members, m, k - before, scratch);
    } else {
        limit = smallest_value(values, n, k, scratch);
    }
    for (int64_t a = 0; a < n; ++a) flags[a] = values[a] <= limit;
    return 1;
}

/* The general case over the whole ranked row (any scores, NaN sorted last as torch does). */
static void smallest_ranked(const float *scores, const uint8_t *allowed, int64_t width, int64_t k,
                            scratch_t *scratch, uint8_t *chosen) {
    for (int64_t j = 0; j < width; ++j) scratch->keys[j] = order_key(allowed[j] ? scores[j] : 2.0f);
    const float limit = key_value(select_kth(scratch->keys, width, k));  /* NaN: nothing chosen */
    for (int64_t j = 0; j < width; ++j) chosen[j] = allowed[j] && scores[j] <= limit;
}

/* ceil(fraction * n - 1e-9) and the window start (offset * (n - size + 1)), clamped to n - size,
 * as ItemCrop and ItemReorder compute them; 0 when offset * span is out of range. */
static int window_start(float offset, int64_t n, int64_t size, int64_t *start) {
    const double value = (double)offset * (double)(n - size + 1);
    if (!(value > -LIMIT && value < LIMIT)) return 0;
    *start = (int64_t)value;
    if (*start > n - size) *start = n - size;
    return 1;
}

typedef struct {
    const int64_t *items;
    int64_t width;
    const float *offset, *scores, *keys;
    const uint8_t *allowed;
    const int64_t *count;
    double fraction;
    int64_t mask_id;
    void *out;
    atomic_int status;
} sequence_job;

static void fail(sequence_job *job, int status) {
    int expected = 0;
    atomic_compare_exchange_strong(&job->status, &expected, status);
}

static void crop_rows(void *context, int64_t first, int64_t last) {
    sequence_job *job = (sequence_job *)context;
    const int64_t width = job->width;
    for (int64_t b = first; b < last; ++b) {
        const int64_t *row = job->items + b * width;
        int64_t *out = (int64_t *)job->out + b * width;
        const int64_t n = row_length(row, width);
        if (n < 0) {
            fail(job, 1);
            return;
        }
        int64_t kept = (int64_t)ceil(job->fraction * (double)n - EPS), start;
        if (kept < 1) kept = 1;
        if (!window_start(job->offset[b], n, kept, &start)) {
            fail(job, 2);
            return;
        }
        const int64_t shift = start + kept - n;  /* output column t reads column t + shift */
        if (start >= 0) {  /* the usual case: one block of padding, one block of items */
            memset(out, 0, (size_t)(width - kept) * sizeof(int64_t));
            memcpy(out + width - kept, row + width - n + start, (size_t)kept * sizeof(int64_t));
            continue;
        }
        for (int64_t t = 0; t < width; ++t) {
            int64_t source = t + shift;
            source = source < 0 ? 0 : (source > width - 1 ? width - 1 : source);
            out[t] = t >= width - kept ? row[source] : 0;
        }
    }
}

static void mask_rows(void *context, int64_t first, int64_t last) {
    sequence_job *job = (sequence_job *)context;
    const int64_t width = job->width;
    scratch_t scratch;
    if (!scratch_new(&scratch, width)) {
        fail(job, 3);
        return;
    }
    for (int64_t b = first; b < last; ++b) {
        const int64_t *row = job->items + b * width;
        const float *scores = job->scores + b * width;
        int64_t *out = (int64_t *)job->out + b * width;
        const int64_t n = row_length(row, width);
        if (n < 0) {
            fail(job, 1);
            break;
        }
        memcpy(out, row, (size_t)width * sizeof(int64_t));
        const int64_t count = (int64_t)floor(job->fraction * (double)n + EPS);
        if (count <= 0) continue;
        const int64_t k = count - 1 < width - 1 ? count - 1 : width - 1, pad = width - n;
        uint8_t *flags = scratch.flags;
        if (smallest_allowed(scores + pad, n, k, &scratch, flags)) {  /* the items: the last n columns */
            for (int64_t a = 0; a < n; ++a) {  /* a blend, not a branch: the flags are random */
                const int64_t chosen = -(int64_t)flags[a];
                out[pad + a] = (row[pad + a] & ~chosen) | (job->mask_id & chosen);
            }
            continue;
        }
        for (int64_t j = 0; j < width; ++j) scratch.allowed[j] = j >= pad;
        smallest_ranked(scores, scratch.allowed, width, k, &scratch, flags);
        for (int64_t j = 0; j < width; ++j) out[j] = flags[j] ? job->mask_id : row[j];
    }
    scratch_free(&scratch);
}

static void reorder_rows(void *context, int64_t first, int64_t last) {
    sequence_job *job = (sequence_job *)context;
    const int64_t width = job->width;
    int64_t *sort_keys = malloc((size_t)width * sizeof(int64_t));
    int64_t *order = malloc((size_t)width * sizeof(int64_t));
    if (sort_keys == NULL || order == NULL) {
        free(sort_keys);
        free(order);
        fail(job, 3);
        return;
    }
    const int64_t scale = (int64_t)1 << 24;
    for (int64_t b = first; b < last; ++b) {
        const int64_t *row = job->items + b * width;
        const float *keys = job->keys + b * width;
        int64_t *out = (int64_t *)job->out + b * width;
        const int64_t n = row_length(row, width);
        if (n < 0) {
            fail(job, 1);
            break;
        }
        const int64_t size = (int64_t)ceil(job->fraction * (double)n - EPS);
        int64_t start;
        if (!window_start(job->offset[b], n, size, &start)) {
            fail(job, 2);
            break;
        }
        const int64_t begin = width - n + start, end = begin + size;  /* the window's columns */
        int in_unit = begin >= 0 && end <= width, ok = 1;
        for (int64_t c = begin > 0 ? begin : 0; c < end && c < width; ++c) {
            const float fraction = keys[c] * KEY_SCALE;
            ok &= fraction > -KEY_LIMIT && fraction < KEY_LIMIT;
            in_unit &= fraction >= 0.0f && fraction < KEY_SCALE;
        }
        if (!ok) {
            fail(job, 2);
            break;
        }
        if (in_unit) {
            /* Every window key lies in [begin, begin + 1) << 24, between the keys of the columns
             * around the window: only the window moves, ordered by (fraction, column). */
            memcpy(out, row, (size_t)width * sizeof(int64_t));
            for (int64_t c = begin; c < end; ++c) {
                const int64_t key = (int64_t)(keys[c] * KEY_SCALE), item = row[c];
                int64_t j = c - begin;
                while (j > 0 && sort_keys[j - 1] > key) {
                    sort_keys[j] = sort_keys[j - 1];
                    out[begin + j] = out[begin + j - 1];
                    --j;
                }
                sort_keys[j] = key;
                out[begin + j] = item;
            }
            continue;
        }
        for (int64_t c = 0; c < width; ++c)
            sort_keys[c] = c >= begin && c < end ? begin * scale + (int64_t)(keys[c] * KEY_SCALE) : c * scale;
        /* Stable insertion sort of (key, column) over the row (keys outside the window are in
         * order already). */
        for (int64_t c = 0; c < width; ++c) {
            const int64_t key = sort_keys[c];
            int64_t j = c;
            while (j > 0 && sort_keys[j - 1] > key) {
                sort_keys[j] = sort_keys[j - 1];
                order[j] = order[j - 1];
                --j;
            }
            sort_keys[j] = key;
            order[j] = c;
        }
        for (int64_t c = 0; c < width; ++c) out[c] = row[order[c]];
    }
    free(sort_keys);
    free(order);
}

static void smallest_rows(void *context, int64_t first, int64_t last) {
    sequence_job *job = (sequence_job *)context;
    const int64_t width = job->width;
    scratch_t scratch;
    if (!scratch_new(&scratch, width)) {
        fail(job, 3);
        return;
    }
    for (int64_t b = first; b < last; ++b) {
        const float *scores = job->scores + b * width;
        const uint8_t *allowed = job->allowed + b * width;
        uint8_t *chosen = (uint8_t *)job->out + b * width;
        memset(chosen, 0, (size_t)width);
        const int64_t count = job->count[b];
        if (count <= 0) continue;
        const int64_t k = count - 1 < width - 1 ? count - 1 : width - 1;
        int64_t n = 0;
        for (int64_t j = 0; j < width; ++j) {
            scratch.values[n] = scores[j];
            scratch.positions[n] = j;
            n += allowed[j] != 0;
        }
        if (smallest_allowed(scratch.values, n, k, &scratch, scratch.flags)) {
            for (int64_t a = 0; a < n; ++a) chosen[scratch.positions[a]] = scratch.flags[a];
            continue;
        }
        smallest_ranked(scores, allowed, width, k, &scratch, chosen);
    }
    scratch_free(&scratch);
}

static int run(sample_range_fn rows, sequence_job *job, int64_t batch, int threads) {
    parallel_samples(rows, job, batch, threads);
    return atomic_load(&job->status);
}

/* ItemCrop: keep ceil(eta * n) items (at least 1) from start = offset * (n - kept + 1). */
int seq_crop(const int64_t *items, int64_t batch, int64_t width, const float *offset, double eta, int64_t *out,
             int threads) {
    sequence_job job = {.items = items, .width = width, .offset = offset, .fraction = eta, .out = out};
    atomic_init(&job.status, 0);
    return run(crop_rows, &job, batch, threads);
}

/* ItemMask: floor(gamma * n) items with the smallest scores become mask_id. */
int seq_mask(const int64_t *items, int64_t batch, int64_t width, const float *scores, double gamma,
             int64_t mask_id, int64_t *out, int threads) {
    sequence_job job = {.items = items, .width = width, .scores = scores, .fraction = gamma, .mask_id = mask_id,
                        .out = out};
    atomic_init(&job.status, 0);
    return run(mask_rows, &job, batch, threads);
}

/* ItemReorder: the window of ceil(beta * n) items from offset * (n - size + 1), by its keys. */
int seq_reorder(const int64_t *items, int64_t batch, int64_t width, const float *offset, const float *keys,
                double beta, int64_t *out, int threads) {
    sequence_job job = {.items = items, .width = width, .offset = offset, .keys = keys, .fraction = beta,
                        .out = out};
    atomic_init(&job.status, 0);
    return run(reorder_rows, &job, batch, threads);
}

/* _smallest: (B, L) bool, the count[b] allowed positions with the smallest scores (ties kept). */
int seq_smallest(const float *scores, const uint8_t *allowed, const int64_t *count, int64_t batch, int64_t width,
                 uint8_t *out, int threads) {
    sequence_job job = {.width = width, .scores = scores, .allowed = allowed, .count = count, .out = out};
    atomic_init(&job.status, 0);
    return run(smallest_rows, &job, batch, threads);
}
