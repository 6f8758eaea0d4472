/* workqueue: the controller work queue (client-go's rate-limited queue): string keys such as
 * "kind/namespace/name" wait here until a worker takes them.
 *
 *  - A key is queued at most once: adding a queued key is a no-op. A key added while a worker
 *    is processing it is queued again when that worker calls done, so two workers never
 *    reconcile the same object at once and no change is lost.
 *  - add_rate_limited delays a key by base·2^failures (5 ms doubling up to 1000 s by default,
 *    as client-go), counting failures per key until forget — the retry of a failing reconcile.
 *  - add_after delays a key (a requeue-after); a key delayed twice keeps the earlier time.
 *  - shutdown: adds are ignored, delayed keys are dropped, get hands out what is still queued
 *    and then returns NULL to every worker.
 * All functions are thread-safe. Keys are copied. */
#ifndef FM_KUBE_WORKQUEUE_H
#define FM_KUBE_WORKQUEUE_H
#include <stddef.h>

typedef struct {
    double base_delay_ms; /* 0 → 5 */
    double max_delay_ms;  /* 0 → 1000000 (1000 s) */
} kube_wq_opts;

typedef struct kube_wq kube_wq;

kube_wq *kube_wq_new(const kube_wq_opts *o); /* o may be NULL */
void kube_wq_free(kube_wq *q);               /* after every worker has returned */

void kube_wq_add(kube_wq *q, const char *key);
void kube_wq_add_after(kube_wq *q, const char *key, long delay_ms);
void kube_wq_add_rate_limited(kube_wq *q, const char *key);
void kube_wq_forget(kube_wq *q, const char *key); /* reset the key's failure count */
int kube_wq_requeues(kube_wq *q, const char *key); /* its failure count */

/* Blocks until a key is ready; the malloc'd key, which the caller hands back with kube_wq_done
 * (and then frees). NULL once shut down and drained. */
char *kube_wq_get(kube_wq *q);
void kube_wq_done(kube_wq *q, const char *key);

void kube_wq_shutdown(kube_wq *q);
int kube_wq_shutting_down(kube_wq *q);
size_t kube_wq_len(kube_wq *q);     /* keys ready now (the queue depth metric) */
size_t kube_wq_delayed(kube_wq *q); /* keys waiting for their time */

/* the delay add_rate_limited uses after `failures` earlier failures, in ms */
double kube_wq_backoff_ms(const kube_wq_opts *o, int failures);
#endif
