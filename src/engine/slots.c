#include "engine/slots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/xalloc.h"

struct fm_waiter {
    pthread_cond_t cv;
    int granted; /* slot index handed over, or -1 */
    fm_waiter *next;
};

void fm_slots_init(fm_slots *s, duckdb_connection *cons, int n, int queue_max, long queue_wait_ms) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    s->slot = fm_xcalloc((size_t)n, sizeof *s->slot);
    s->n = n;
    for (int i = 0; i < n; i++) s->slot[i].con = cons[i];
    s->queue_max = queue_max;
    s->queue_wait_ms = queue_wait_ms;
    s->idle_since_ms = fm_wall_ms();
}

void fm_slots_set_connect(fm_slots *s, fm_slots_connect_fn connect, void *ud) {
    s->connect = connect;
    s->connect_ud = ud;
}

int fm_slot_begin_commit(atomic_int *state) {
    int expected = FM_SLOT_RUNNING;
    return atomic_compare_exchange_strong(state, &expected, FM_SLOT_COMMITTING) ? 0 : -1;
}

static void take(fm_slots *s, int i, int64_t deadline_ms, int (*gone)(void *), void *ud) {
    fm_slot *sl = &s->slot[i];
    sl->busy = 1;
    sl->deadline_ms = deadline_ms;
    sl->client_gone = gone;
    sl->client_ud = ud;
    atomic_store(&sl->state, FM_SLOT_RUNNING);
    s->nbusy++;
}

static int acquire_slot(fm_slots *s, int64_t deadline_ms, int (*gone)(void *), void *ud, fm_err *err) {
    pthread_mutex_lock(&s->mu);
    if (!s->head)
        for (int i = 0; i < s->n; i++)
            if (!s->slot[i].busy) {
                take(s, i, deadline_ms, gone, ud);
                pthread_mutex_unlock(&s->mu);
                return i;
            }
    if (s->queue_max <= 0) {
        pthread_mutex_unlock(&s->mu);
        return fm_fail(err, FM_E_BUSY, "all %d query slots are busy", s->n);
    }
    if (s->nwaiting >= s->queue_max) {
        pthread_mutex_unlock(&s->mu);
        return fm_fail(err, FM_E_BUSY, "the query queue is full (%d waiting)", s->nwaiting);
    }
    fm_waiter w = {.granted = -1};
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w.cv, &ca);
    pthread_condattr_destroy(&ca);
    if (s->tail) s->tail->next = &w;
    else s->head = &w;
    s->tail = &w;
    s->nwaiting++;
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += s->queue_wait_ms / 1000;
    until.tv_nsec += (s->queue_wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (w.granted < 0)
        if (pthread_cond_timedwait(&w.cv, &s->mu, &until) == ETIMEDOUT) break;
    int got = w.granted;
    if (got < 0) { /* timed out: unlink ourselves */
        fm_waiter **pp = &s->head, *prev = NULL;
        while (*pp != &w) prev = *pp, pp = &(*pp)->next;
        *pp = w.next;
        if (s->tail == &w) s->tail = prev;
        s->nwaiting--;
    }
    pthread_cond_destroy(&w.cv);
    if (got >= 0) {
        s->slot[got].deadline_ms = deadline_ms;
        s->slot[got].client_gone = gone;
        s->slot[got].client_ud = ud;
    }
    pthread_mutex_unlock(&s->mu);
    if (got < 0) return fm_fail(err, FM_E_UNAVAILABLE, "no query slot became free within %ld ms", s->queue_wait_ms);
    return got;
}

/* A stale slot's connection goes and a fresh one comes before the slot serves: done by the
 * request that takes the slot, so a release never keeps a slot busy (a worker without a queue
 * would answer 409 meanwhile). The watchdog never touches a slot in FM_SLOT_RELEASED, so the old
 * connection can be closed outside the lock. */
int fm_slots_acquire(fm_slots *s, int64_t deadline_ms, int (*gone)(void *), void *ud, fm_err *err) {
    int i = acquire_slot(s, deadline_ms, gone, ud, err);
    if (i < 0) return i;
    fm_slot *sl = &s->slot[i];
    pthread_mutex_lock(&s->mu);
    if (!sl->stale) {
        pthread_mutex_unlock(&s->mu);
        return i;
    }
    atomic_store(&sl->state, FM_SLOT_RELEASED);
    duckdb_connection old = sl->con;
    sl->con = NULL;
    pthread_mutex_unlock(&s->mu);
    if (old) duckdb_disconnect(&old);
    duckdb_connection fresh = NULL;
    int rc = s->connect(s->connect_ud, &fresh);
    pthread_mutex_lock(&s->mu);
    if (!rc) {
        sl->con = fresh;
        sl->stale = 0;
        atomic_store(&sl->state, FM_SLOT_RUNNING);
        pthread_mutex_unlock(&s->mu);
        return i;
    }
    /* this slot stays busy, out of service */
    s->nbroken++;
    sl->client_gone = NULL;
    sl->client_ud = NULL;
    sl->deadline_ms = 0;
    int left = s->n - s->nbroken;
    pthread_mutex_unlock(&s->mu);
    fm_error("query slot %d is out of service: no fresh connection could be opened (%d of %d slots left)", i, left,
             s->n);
    return fm_fail(err, FM_E_UNAVAILABLE, "no fresh query connection could be opened");
}

void fm_slots_release(fm_slots *s, int i, int renew_con) {
    fm_slot *sl = &s->slot[i];
    pthread_mutex_lock(&s->mu);
    if (s->connect && renew_con) sl->stale = 1;
    s->served++;
    sl->client_gone = NULL;
    sl->client_ud = NULL;
    sl->deadline_ms = 0;
    if (s->head) { /* hand the slot over, still busy */
        fm_waiter *w = s->head;
        s->head = w->next;
        if (!s->head) s->tail = NULL;
        s->nwaiting--;
        w->granted = i;
        atomic_store(&sl->state, FM_SLOT_RUNNING);
        pthread_cond_signal(&w->cv);
    } else {
        sl->busy = 0;
        if (--s->nbusy == 0) s->idle_since_ms = fm_wall_ms();
    }
    pthread_mutex_unlock(&s->mu);
}

void fm_slots_watch(fm_slots *s, int64_t now_ms) {
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n; i++) {
        fm_slot *sl = &s->slot[i];
        if (!sl->busy || !sl->con || atomic_load(&sl->state) != FM_SLOT_RUNNING) continue;
        int expected = FM_SLOT_RUNNING;
        if (sl->deadline_ms && now_ms > sl->deadline_ms) {
            if (atomic_compare_exchange_strong(&sl->state, &expected, FM_SLOT_TIMED_OUT)) duckdb_interrupt(sl->con);
            continue;
        }
        if (sl->client_gone && sl->client_gone(sl->client_ud) &&
            atomic_compare_exchange_strong(&sl->state, &expected, FM_SLOT_CANCELLED))
            duckdb_interrupt(sl->con);
    }
    pthread_mutex_unlock(&s->mu);
}

void fm_slots_destroy(fm_slots *s) {
    if (s->connect)
        for (int i = 0; i < s->n; i++)
            if (s->slot[i].con) duckdb_disconnect(&s->slot[i].con);
    free(s->slot);
    pthread_mutex_destroy(&s->mu);
    memset(s, 0, sizeof *s);
}
