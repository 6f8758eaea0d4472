#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/workqueue.h"
#include "unit.h"

static double ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

FM_TEST(kube_wq_dedup_and_fifo) {
    kube_wq *q = kube_wq_new(NULL);
    kube_wq_add(q, "a");
    kube_wq_add(q, "b");
    kube_wq_add(q, "a");
    CHECK(kube_wq_len(q) == 2);
    char *k = kube_wq_get(q);
    CHECK_STR(k, "a");
    /* a key added while processing is not handed out twice: it comes back after done */
    kube_wq_add(q, "a");
    kube_wq_add(q, "a");
    CHECK(kube_wq_len(q) == 1);
    char *k2 = kube_wq_get(q);
    CHECK_STR(k2, "b");
    kube_wq_done(q, k);
    CHECK(kube_wq_len(q) == 1);
    kube_wq_done(q, k2);
    free(k);
    free(k2);
    k = kube_wq_get(q);
    CHECK_STR(k, "a");
    kube_wq_done(q, k);
    free(k);
    CHECK(kube_wq_len(q) == 0);
    kube_wq_free(q);
}

FM_TEST(kube_wq_backoff_values) {
    CHECK(kube_wq_backoff_ms(NULL, 0) == 5);
    CHECK(kube_wq_backoff_ms(NULL, 1) == 10);
    CHECK(kube_wq_backoff_ms(NULL, 10) == 5120);
    CHECK(kube_wq_backoff_ms(NULL, 30) == 1000000);
    CHECK(kube_wq_backoff_ms(NULL, 5000) == 1000000);
    kube_wq_opts o = {1, 100};
    CHECK(kube_wq_backoff_ms(&o, 3) == 8 && kube_wq_backoff_ms(&o, 7) == 100);
}

FM_TEST(kube_wq_rate_limit_forget_after) {
    kube_wq_opts o = {20, 1000};
    kube_wq *q = kube_wq_new(&o);
    double t0 = ms_now();
    kube_wq_add_rate_limited(q, "k"); /* 20 ms */
    CHECK(kube_wq_len(q) == 0 && kube_wq_delayed(q) == 1 && kube_wq_requeues(q, "k") == 1);
    char *k = kube_wq_get(q);
    double dt = ms_now() - t0;
    CHECK_STR(k, "k");
    CHECK(dt >= 19 && dt < 500);
    kube_wq_done(q, k);
    free(k);
    kube_wq_add_rate_limited(q, "k"); /* 40 ms */
    t0 = ms_now();
    k = kube_wq_get(q);
    dt = ms_now() - t0;
    CHECK(dt >= 39 && dt < 600);
    CHECK(kube_wq_requeues(q, "k") == 2);
    kube_wq_done(q, k);
    free(k);
    kube_wq_forget(q, "k");
    CHECK(kube_wq_requeues(q, "k") == 0);

    /* add_after: a second, earlier time wins; an immediate add overtakes the delayed one */
    kube_wq_add_after(q, "d", 10000);
    kube_wq_add_after(q, "d", 30);
    CHECK(kube_wq_delayed(q) == 1);
    t0 = ms_now();
    k = kube_wq_get(q);
    dt = ms_now() - t0;
    CHECK_STR(k, "d");
    CHECK(dt >= 29 && dt < 2000);
    kube_wq_done(q, k);
    free(k);
    kube_wq_add_after(q, "e", 60000);
    kube_wq_add(q, "e");
    k = kube_wq_get(q);
    CHECK_STR(k, "e");
    kube_wq_done(q, k);
    free(k);
    kube_wq_shutdown(q); /* drops the delayed "e" */
    CHECK(kube_wq_delayed(q) == 0);
    CHECK(kube_wq_get(q) == NULL);
    kube_wq_free(q);
}

/* several workers: each key is processed by one worker at a time, every add is eventually
 * seen after it was made, and shutdown releases all workers */
#define NKEYS 20
typedef struct {
    kube_wq *q;
    pthread_mutex_t mu;
    int active[NKEYS];
    int overlap;
    int processed[NKEYS];
    int gen_seen[NKEYS];
    int gen[NKEYS];
} shared;

static void *worker(void *arg) {
    shared *s = arg;
    char *k;
    while ((k = kube_wq_get(s->q))) {
        int i = atoi(k + 1);
        pthread_mutex_lock(&s->mu);
        if (s->active[i]++) s->overlap = 1;
        int g = s->gen[i];
        pthread_mutex_unlock(&s->mu);
        usleep(200);
        pthread_mutex_lock(&s->mu);
        s->active[i]--;
        s->processed[i]++;
        if (g > s->gen_seen[i]) s->gen_seen[i] = g;
        pthread_mutex_unlock(&s->mu);
        kube_wq_done(s->q, k);
        free(k);
    }
    return NULL;
}

FM_TEST(kube_wq_threads) {
    shared s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.mu, NULL);
    s.q = kube_wq_new(NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, worker, &s);
    for (int round = 1; round <= 200; round++) {
        int i = round % NKEYS;
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        pthread_mutex_lock(&s.mu);
        s.gen[i] = round;
        pthread_mutex_unlock(&s.mu);
        kube_wq_add(s.q, key);
        if (round % 7 == 0) usleep(100);
    }
    /* wait until the queue is idle */
    for (int tries = 0; tries < 2000; tries++) {
        int busy = kube_wq_len(s.q) > 0;
        pthread_mutex_lock(&s.mu);
        for (int i = 0; i < NKEYS; i++) busy |= s.active[i];
        pthread_mutex_unlock(&s.mu);
        if (!busy) break;
        usleep(1000);
    }
    usleep(5000);
    kube_wq_shutdown(s.q);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    CHECK(!s.overlap);
    for (int i = 0; i < NKEYS; i++) {
        CHECK(s.processed[i] >= 1);
        CHECK(s.gen_seen[i] == s.gen[i]); /* the last change of every key was processed */
    }
    kube_wq_add(s.q, "late"); /* ignored after shutdown */
    CHECK(kube_wq_len(s.q) == 0);
    kube_wq_free(s.q);
    pthread_mutex_destroy(&s.mu);
}

static void *blocked_get(void *arg) { return kube_wq_get(arg); }

FM_TEST(kube_wq_shutdown_wakes_and_drains) {
    kube_wq *q = kube_wq_new(NULL);
    pthread_t t1, t2;
    pthread_create(&t1, NULL, blocked_get, q);
    pthread_create(&t2, NULL, blocked_get, q);
    usleep(20000);
    kube_wq_shutdown(q);
    void *r1, *r2;
    pthread_join(t1, &r1);
    pthread_join(t2, &r2);
    CHECK(r1 == NULL && r2 == NULL);
    kube_wq_free(q);
    /* what was queued before shutdown is still handed out */
    q = kube_wq_new(NULL);
    kube_wq_add(q, "x");
    kube_wq_shutdown(q);
    CHECK(kube_wq_shutting_down(q));
    char *k = kube_wq_get(q);
    CHECK_STR(k, "x");
    kube_wq_done(q, k);
    free(k);
    CHECK(kube_wq_get(q) == NULL);
    kube_wq_free(q);
}
