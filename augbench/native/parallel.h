/* Share out the samples of a batch over threads: run(context, first, last) on [first, last).
 *
 * Plain pthreads created and joined per call (no pool that would outlive a fork), the calling
 * thread doing one share itself. Threads take equal contiguous shares of the samples.
 */
#ifndef AUGBENCH_PARALLEL_H
#define AUGBENCH_PARALLEL_H

#include <pthread.h>
#include <stdint.h>

typedef void (*sample_range_fn)(void *context, int64_t first, int64_t last);

typedef struct {
    sample_range_fn run;
    void *context;
    int64_t first, last;
} share_t;

static void *run_share(void *argument) {
    share_t *share = (share_t *)argument;
    share->run(share->context, share->first, share->last);
    return NULL;
}

#define AUGBENCH_MAX_THREADS 64

static void parallel_samples(sample_range_fn run, void *context, int64_t count, int threads) {
    if (threads > AUGBENCH_MAX_THREADS) threads = AUGBENCH_MAX_THREADS;
    if (threads > count) threads = (int)count;
    if (threads <= 1) {
        if (count > 0) run(context, 0, count);
        return;
    }
    share_t shares[AUGBENCH_MAX_THREADS];
    pthread_t handles[AUGBENCH_MAX_THREADS];
    int started[AUGBENCH_MAX_THREADS] = {0};
    for (int t = 0; t < threads; ++t) {
        shares[t].run = run;
        shares[t].context = context;
        shares[t].first = count * t / threads;
        shares[t].last = count * (t + 1) / threads;
    }
    for (int t = 1; t < threads; ++t) started[t] = pthread_create(&handles[t], NULL, run_share, &shares[t]) == 0;
    run_share(&shares[0]);
    for (int t = 1; t < threads; ++t) {
        if (started[t]) pthread_join(handles[t], NULL);
        else run_share(&shares[t]);  /* no thread to be had: do that share here */
    }
}

#endif
