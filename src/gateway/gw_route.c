/* Pod selection and per-pool FIFO queues (contract in gw_route.h). */
#include "gateway/gw_route.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "k8s/k8s_names.h"
#include "base/clock.h"
#include "model/spec.h"

#define BUSY_COOLDOWN_MS 100
#define FAILED_COOLDOWN_MS 2000
#define TICK_MS 50

typedef struct waiter {
    struct waiter *next, *prev;
    int64_t seq;
} waiter;

typedef struct {
    char *name, *catalog;
    int queue_max;
    long wait_ms, max_query_ms;
    waiter *head, *tail;
    int nwaiting;
    int present; /* seen in the last sync (or set directly) */
} pool;

typedef struct {
    fm_pool_pod p;
    int inflight;          /* this gateway's queries on it */
    int64_t cool_until_ms; /* after a 409 or a connection failure */
    int64_t last_used_ms;
    int present;
} pod;

struct fm_router {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pool *pools;
    size_t npools, cap_pools;
    pod *pods;
    size_t npods, cap_pods;
};

/* ---- table ------------------------------------------------------------------------------------ */

fm_router *fm_router_new(void) {
    fm_router *r = fm_xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    return r;
}

void fm_router_free(fm_router *r) {
    if (!r) return;
    for (size_t i = 0; i < r->npools; i++) free(r->pools[i].name), free(r->pools[i].catalog);
    for (size_t i = 0; i < r->npods; i++) fm_pool_pod_free(&r->pods[i].p);
    free(r->pools);
    free(r->pods);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static pool *find_pool(fm_router *r, const char *name) {
    for (size_t i = 0; i < r->npools; i++)
        if (!strcmp(r->pools[i].name, name)) return &r->pools[i];
    return NULL;
}

static pod *find_pod(fm_router *r, const char *name) {
    for (size_t i = 0; i < r->npods; i++)
        if (!strcmp(r->pods[i].p.name, name)) return &r->pods[i];
    return NULL;
}

static void set_pool_locked(fm_router *r, const char *name, const char *catalog, int queue_max, long wait_ms,
                            long max_query_ms) {
    pool *p = find_pool(r, name);
    if (!p) {
        if (r->npools == r->cap_pools) {
            r->cap_pools = r->cap_pools ? 2 * r->cap_pools : 8;
            r->pools = fm_xreallocarray(r->pools, r->cap_pools, sizeof *r->pools);
        }
        p = &r->pools[r->npools++];
        memset(p, 0, sizeof *p);
        p->name = fm_xstrdup(name);
    }
    if (!p->catalog || strcmp(p->catalog, catalog)) {
        free(p->catalog);
        p->catalog = fm_xstrdup(catalog);
    }
    p->queue_max = queue_max;
    p->wait_ms = wait_ms;
    p->max_query_ms = max_query_ms;
    p->present = 1;
}

void fm_router_set_pool(fm_router *r, const char *name, const char *catalog, int queue_max, long wait_ms,
                        long max_query_ms) {
    pthread_mutex_lock(&r->mu);
    set_pool_locked(r, name, catalog, queue_max, wait_ms, max_query_ms);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* takes ownership of p's strings */
static void set_pod_locked(fm_router *r, fm_pool_pod *p) {
    pod *d = find_pod(r, p->name);
    if (!d) {
        if (r->npods == r->cap_pods) {
            r->cap_pods = r->cap_pods ? 2 * r->cap_pods : 8;
            r->pods = fm_xreallocarray(r->pods, r->cap_pods, sizeof *r->pods);
        }
        d = &r->pods[r->npods++];
        memset(d, 0, sizeof *d);
    } else {
        fm_pool_pod_free(&d->p);
    }
    d->p = *p;
    d->present = 1;
    memset(p, 0, sizeof *p);
}

static fm_pool_pod copy_pod(const fm_pool_pod *p) {
    fm_pool_pod c = *p;
    c.name = p->name ? fm_xstrdup(p->name) : NULL;
    c.ip = p->ip ? fm_xstrdup(p->ip) : NULL;
    c.pool = p->pool ? fm_xstrdup(p->pool) : NULL;
    c.catalog = p->catalog ? fm_xstrdup(p->catalog) : NULL;
    return c;
}

void fm_router_set_pod(fm_router *r, const fm_pool_pod *p) {
    fm_pool_pod c = copy_pod(p);
    pthread_mutex_lock(&r->mu);
    set_pod_locked(r, &c);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void remove_pod_at(fm_router *r, size_t i) {
    fm_pool_pod_free(&r->pods[i].p);
    r->pods[i] = r->pods[--r->npods];
}

void fm_router_remove_pod(fm_router *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npods; i++)
        if (!strcmp(r->pods[i].p.name, name)) {
            remove_pod_at(r, i);
            break;
        }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void fm_router_sync_pools(fm_router *r, json_t *pools) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npools; i++) r->pools[i].present = 0;
    size_t i;
    json_t *o;
    json_array_foreach(pools, i, o) {
        const char *name = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
        json_t *spec = json_object_get(o, "spec");
        const char *cat = json_string_value(json_object_get(json_object_get(spec, "catalogRef"), "name"));
        if (!name || !cat) continue;
        json_t *q = json_object_get(spec, "queue");
        json_t *ml = json_object_get(q, "maxLength");
        int qmax = json_is_integer(ml) && json_integer_value(ml) >= 0 && json_integer_value(ml) <= 1000000
                       ? (int)json_integer_value(ml)
                       : FM_GW_DEFAULT_QUEUE_MAX;
        const char *w = json_string_value(json_object_get(q, "maxWaitTime"));
        long wait = w ? fm_duration_ms(w) : -1;
        if (wait < 0) wait = FM_GW_DEFAULT_WAIT_MS;
        const char *d = json_string_value(json_object_get(spec, "maxQueryDuration"));
        long mq = d ? fm_duration_ms(d) : -1;
        if (mq <= 0) mq = FM_GW_DEFAULT_MAX_QUERY_MS;
        set_pool_locked(r, name, cat, qmax, wait, mq);
    }
    /* a pool that is gone stays while someone waits in it (they time out); else it goes */
    for (size_t k = 0; k < r->npools;) {
        if (!r->pools[k].present && !r->pools[k].nwaiting) {
            free(r->pools[k].name), free(r->pools[k].catalog);
            r->pools[k] = r->pools[--r->npools];
            /* waiters point at their pool by name, not by address: see acquire */
        } else {
            k++;
        }
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void fm_router_sync_pods(fm_router *r, json_t *pods) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npods; i++) r->pods[i].present = 0;
    size_t i;
    json_t *o;
    json_array_foreach(pods, i, o) {
        fm_pool_pod p;
        if (fm_pool_pod_parse(o, &p)) continue;
        set_pod_locked(r, &p);
    }
    for (size_t k = 0; k < r->npods;) {
        if (!r->pods[k].present) remove_pod_at(r, k);
        else k++;
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* ---- choosing --------------------------------------------------------------------------------- */

static bool in_pool(const pod *d, const pool *p) {
    return d->p.pool && d->p.catalog && !strcmp(d->p.pool, p->name) && !strcmp(d->p.catalog, p->catalog);
}

static int routable_count(fm_router *r, const pool *p) {
    int n = 0;
    for (size_t i = 0; i < r->npods; i++)
        if (in_pool(&r->pods[i], p) && fm_pool_pod_routable(&r->pods[i].p)) n++;
    return n;
}

/* the free pod with the fewest of our queries, then the least recently used; NULL when none */
static pod *free_pod(fm_router *r, const pool *p, int64_t now) {
    pod *best = NULL;
    for (size_t i = 0; i < r->npods; i++) {
        pod *d = &r->pods[i];
        if (!in_pool(d, p) || !fm_pool_pod_routable(&d->p) || d->inflight >= d->p.slots || d->cool_until_ms > now)
            continue;
        if (!best || d->inflight < best->inflight ||
            (d->inflight == best->inflight && d->last_used_ms < best->last_used_ms))
            best = d;
    }
    return best;
}

static void take(pod *d, const pool *p, fm_gw_ticket *t, int64_t now) {
    d->inflight++;
    d->last_used_ms = now;
    snprintf(t->pod, sizeof t->pod, "%s", d->p.name);
    snprintf(t->ip, sizeof t->ip, "%s", d->p.ip);
    snprintf(t->pool, sizeof t->pool, "%s", p->name);
    t->max_query_ms = p->max_query_ms;
}

static void unlink_waiter(pool *p, waiter *w) {
    if (w->prev) w->prev->next = w->next;
    else p->head = w->next;
    if (w->next) w->next->prev = w->prev;
    else p->tail = w->prev;
    p->nwaiting--;
    w->next = w->prev = NULL;
}

static void cond_wait_ms(fm_router *r, int64_t until_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t d = until_ms - now;
    if (d <= 0) return;
    if (d > TICK_MS) d = TICK_MS;
    ts.tv_sec += d / 1000;
    ts.tv_nsec += (d % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

fm_route_result fm_router_acquire(fm_router *r, const char *catalog, fm_gw_ticket *t, int (*cancelled)(void *ud),
                                  void *ud) {
    int64_t now = fm_now_ms();
    pthread_mutex_lock(&r->mu);
    if (!t->enqueued_ms) t->enqueued_ms = now;
    /* a free pod in a pool of the catalog that nobody waits in is taken at once */
    pool *target = NULL;
    int best_routable = -1;
    for (size_t i = 0; i < r->npools; i++) {
        pool *p = &r->pools[i];
        if (!p->present || strcmp(p->catalog, catalog)) continue;
        if (!p->nwaiting) {
            pod *d = free_pod(r, p, now);
            if (d) {
                take(d, p, t, now);
                t->waited_ms = now - t->enqueued_ms;
                pthread_mutex_unlock(&r->mu);
                return FM_ROUTE_OK;
            }
        }
        int n = routable_count(r, p);
        if (!target || n > best_routable || (n == best_routable && strcmp(p->name, target->name) < 0))
            target = p, best_routable = n;
    }
    if (!target) {
        pthread_mutex_unlock(&r->mu);
        return FM_ROUTE_NO_POOL;
    }
    if (!t->deadline_ms) t->deadline_ms = t->enqueued_ms + target->wait_ms;
    if (!t->retry && target->nwaiting >= target->queue_max) {
        fm_route_result res = routable_count(r, target) == 0 && target->queue_max == 0 ? FM_ROUTE_NO_PODS
                                                                                      : FM_ROUTE_QUEUE_FULL;
        pthread_mutex_unlock(&r->mu);
        return res;
    }
    /* wait in target's queue: at the tail, or at the head for a retry after a 409 */
    t->queued = 1;
    char *pname = fm_xstrdup(target->name);
    waiter w = {0};
    if (t->retry && target->head) {
        w.next = target->head;
        target->head->prev = &w;
        target->head = &w;
    } else {
        w.prev = target->tail;
        if (target->tail) target->tail->next = &w;
        else target->head = &w;
        target->tail = &w;
    }
    target->nwaiting++;
    fm_route_result res;
    for (;;) {
        pool *p = find_pool(r, pname); /* the array may have moved */
        now = fm_now_ms();
        if (p && p->present && p->head == &w) {
            pod *d = free_pod(r, p, now);
            if (d) {
                unlink_waiter(p, &w);
                take(d, p, t, now);
                res = FM_ROUTE_OK;
                break;
            }
        }
        if (now >= t->deadline_ms) {
            res = p && routable_count(r, p) ? FM_ROUTE_TIMEOUT : FM_ROUTE_NO_PODS;
            if (p) unlink_waiter(p, &w);
            break;
        }
        if (cancelled && cancelled(ud)) {
            res = FM_ROUTE_CANCELLED;
            if (p) unlink_waiter(p, &w);
            break;
        }
        cond_wait_ms(r, t->deadline_ms);
    }
    t->waited_ms = now - t->enqueued_ms;
    t->retry = 0;
    free(pname);
    pthread_cond_broadcast(&r->cv); /* the next in line may try now */
    pthread_mutex_unlock(&r->mu);
    return res;
}

void fm_router_release(fm_router *r, fm_gw_ticket *t, fm_lease_outcome outcome) {
    pthread_mutex_lock(&r->mu);
    pod *d = find_pod(r, t->pod);
    if (d) {
        if (d->inflight > 0) d->inflight--;
        int64_t now = fm_now_ms();
        if (outcome == FM_LEASE_BUSY) d->cool_until_ms = now + BUSY_COOLDOWN_MS;
        else if (outcome == FM_LEASE_FAILED) d->cool_until_ms = now + FAILED_COOLDOWN_MS;
    }
    t->pod[0] = 0;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

int fm_router_queue_length(fm_router *r, const char *name) {
    pthread_mutex_lock(&r->mu);
    pool *p = find_pool(r, name);
    int n = p ? p->nwaiting : -1;
    pthread_mutex_unlock(&r->mu);
    return n;
}

void fm_router_each_pool(fm_router *r, void (*fn)(void *ud, const char *pool, const char *catalog, int queued,
                                                   int routable, int inflight),
                         void *ud) {
    pthread_mutex_lock(&r->mu);
    for (size_t i = 0; i < r->npools; i++) {
        pool *p = &r->pools[i];
        int inflight = 0;
        for (size_t k = 0; k < r->npods; k++)
            if (in_pool(&r->pods[k], p)) inflight += r->pods[k].inflight;
        fn(ud, p->name, p->catalog, p->nwaiting, routable_count(r, p), inflight);
    }
    pthread_mutex_unlock(&r->mu);
}

bool fm_router_serves(fm_router *r, const char *catalog, long *max_query_ms) {
    pthread_mutex_lock(&r->mu);
    const pool *best = NULL;
    for (size_t i = 0; i < r->npools; i++)
        if (r->pools[i].present && !strcmp(r->pools[i].catalog, catalog) &&
            (!best || strcmp(r->pools[i].name, best->name) < 0))
            best = &r->pools[i];
    if (best && max_query_ms) *max_query_ms = best->max_query_ms;
    pthread_mutex_unlock(&r->mu);
    return best != NULL;
}
