#include "kube/workqueue.h"
#include "base/xalloc.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char *key;
    double due; /* monotonic ms */
} delayed_item;

struct kube_wq {
    kube_wq_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **ring; /* FIFO of ready keys */
    size_t head, n, cap;
    /* sets and counters keyed by the key; jansson objects are hash tables */
    json_t *dirty;      /* queued or to be queued after done */
    json_t *processing; /* handed to a worker, not yet done */
    json_t *failures;   /* key → failure count */
    delayed_item *delayed;
    size_t ndelayed, capdelayed;
    int shutting_down;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double kube_wq_backoff_ms(const kube_wq_opts *o, int failures) {
    double base = o && o->base_delay_ms > 0 ? o->base_delay_ms : 5;
    double max = o && o->max_delay_ms > 0 ? o->max_delay_ms : 1000000;
    if (failures > 62) return max;
    double d = base * ldexp(1.0, failures);
    return d > max ? max : d;
}

kube_wq *kube_wq_new(const kube_wq_opts *o) {
    kube_wq *q = fm_xcalloc(1, sizeof *q);
    if (o) q->o = *o;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    q->dirty = json_object();
    q->processing = json_object();
    q->failures = json_object();
    return q;
}

void kube_wq_free(kube_wq *q) {
    if (!q) return;
    for (size_t i = 0; i < q->n; i++) free(q->ring[(q->head + i) % q->cap]);
    free(q->ring);
    for (size_t i = 0; i < q->ndelayed; i++) free(q->delayed[i].key);
    free(q->delayed);
    json_decref(q->dirty);
    json_decref(q->processing);
    json_decref(q->failures);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

static void push(kube_wq *q, const char *key) {
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 16;
        char **r = fm_xmalloc(nc * sizeof *r);
        for (size_t i = 0; i < q->n; i++) r[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = r;
        q->cap = nc;
        q->head = 0;
    }
    q->ring[(q->head + q->n) % q->cap] = fm_xstrdup(key);
    q->n++;
    pthread_cond_signal(&q->cv);
}

static void add_locked(kube_wq *q, const char *key) {
    if (q->shutting_down || json_object_get(q->dirty, key)) return;
    json_object_set_new_nocheck(q->dirty, key, json_true());
    if (json_object_get(q->processing, key)) return; /* done() queues it */
    push(q, key);
}

void kube_wq_add(kube_wq *q, const char *key) {
    pthread_mutex_lock(&q->mu);
    add_locked(q, key);
    pthread_mutex_unlock(&q->mu);
}

static void delay_locked(kube_wq *q, const char *key, double delay_ms) {
    if (q->shutting_down) return;
    if (delay_ms <= 0) {
        add_locked(q, key);
        return;
    }
    double due = now_ms() + delay_ms;
    for (size_t i = 0; i < q->ndelayed; i++)
        if (!strcmp(q->delayed[i].key, key)) {
            if (due < q->delayed[i].due) q->delayed[i].due = due;
            pthread_cond_broadcast(&q->cv);
            return;
        }
    if (q->ndelayed == q->capdelayed) {
        q->capdelayed = q->capdelayed ? q->capdelayed * 2 : 16;
        q->delayed = fm_xrealloc(q->delayed, q->capdelayed * sizeof *q->delayed);
    }
    q->delayed[q->ndelayed++] = (delayed_item){fm_xstrdup(key), due};
    /* a sleeping worker may need to wake earlier than it planned */
    pthread_cond_broadcast(&q->cv);
}

void kube_wq_add_after(kube_wq *q, const char *key, long delay_ms) {
    pthread_mutex_lock(&q->mu);
    delay_locked(q, key, (double)delay_ms);
    pthread_mutex_unlock(&q->mu);
}

void kube_wq_add_rate_limited(kube_wq *q, const char *key) {
    pthread_mutex_lock(&q->mu);
    int f = (int)json_integer_value(json_object_get(q->failures, key));
    json_object_set_new_nocheck(q->failures, key, json_integer(f + 1));
    delay_locked(q, key, kube_wq_backoff_ms(&q->o, f));
    pthread_mutex_unlock(&q->mu);
}

void kube_wq_forget(kube_wq *q, const char *key) {
    pthread_mutex_lock(&q->mu);
    json_object_del(q->failures, key);
    pthread_mutex_unlock(&q->mu);
}

int kube_wq_requeues(kube_wq *q, const char *key) {
    pthread_mutex_lock(&q->mu);
    int f = (int)json_integer_value(json_object_get(q->failures, key));
    pthread_mutex_unlock(&q->mu);
    return f;
}

/* moves due delayed keys to the queue; returns the earliest remaining due time or -1 */
static double promote_locked(kube_wq *q) {
    double now = now_ms(), next = -1;
    size_t j = 0;
    for (size_t i = 0; i < q->ndelayed; i++) {
        if (q->delayed[i].due <= now) {
            add_locked(q, q->delayed[i].key);
            free(q->delayed[i].key);
        } else {
            if (next < 0 || q->delayed[i].due < next) next = q->delayed[i].due;
            q->delayed[j++] = q->delayed[i];
        }
    }
    q->ndelayed = j;
    return next;
}

char *kube_wq_get(kube_wq *q) {
    pthread_mutex_lock(&q->mu);
    for (;;) {
        double next = q->shutting_down ? -1 : promote_locked(q);
        if (q->n) {
            char *key = q->ring[q->head];
            q->head = (q->head + 1) % q->cap;
            q->n--;
            json_object_set_new_nocheck(q->processing, key, json_true());
            json_object_del(q->dirty, key);
            pthread_mutex_unlock(&q->mu);
            return key;
        }
        if (q->shutting_down) break;
        if (next < 0) {
            pthread_cond_wait(&q->cv, &q->mu);
        } else {
            double wait = next - now_ms();
            if (wait < 0) wait = 0;
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            long long ns = (long long)ts.tv_nsec + (long long)(wait * 1e6) + 1;
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

void kube_wq_done(kube_wq *q, const char *key) {
    pthread_mutex_lock(&q->mu);
    json_object_del(q->processing, key);
    if (json_object_get(q->dirty, key)) push(q, key);
    pthread_mutex_unlock(&q->mu);
}

void kube_wq_shutdown(kube_wq *q) {
    pthread_mutex_lock(&q->mu);
    q->shutting_down = 1;
    for (size_t i = 0; i < q->ndelayed; i++) free(q->delayed[i].key);
    q->ndelayed = 0;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

int kube_wq_shutting_down(kube_wq *q) {
    pthread_mutex_lock(&q->mu);
    int s = q->shutting_down;
    pthread_mutex_unlock(&q->mu);
    return s;
}

size_t kube_wq_len(kube_wq *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->n;
    pthread_mutex_unlock(&q->mu);
    return n;
}

size_t kube_wq_delayed(kube_wq *q) {
    pthread_mutex_lock(&q->mu);
    size_t n = q->ndelayed;
    pthread_mutex_unlock(&q->mu);
    return n;
}
