/* The gateway's routing table: which pool serves a catalog, which of its pods may take a query
 * now, and a FIFO queue per pool for queries that find every pod busy.
 *
 * The table is fed from the informers' caches (fm_router_sync_pools / fm_router_sync_pods replace
 * what the router knew, keeping its own per-pod bookkeeping by pod name), or through the direct
 * setters in the unit tests. A pod is routable when it is Ready, has a podIP, is not annotated
 * featherman.dev/draining=true and has no deletionTimestamp; it is free when this gateway has
 * fewer queries on it than its slots (from its `--slots N` argument, default 1) and no recent
 * 409/connection failure put it in a short cool-down. The worker stays the truth: a 409 means
 * "busy after all" and the caller releases with FM_LEASE_BUSY and asks again (at the head of the
 * queue, keeping its original wait deadline).
 *
 * fm_router_acquire, for a catalog:
 *   no pool serves it                                  → FM_ROUTE_NO_POOL   (Job fallback)
 *   a pool has a free pod and nobody queued before us   → FM_ROUTE_OK        (the lease names the pod)
 *   else it queues FIFO in one pool (the one with the most routable pods): queue.maxLength already
 *   waiting → FM_ROUTE_QUEUE_FULL (429); wait past queue.maxWaitTime → FM_ROUTE_TIMEOUT (503), or
 *   FM_ROUTE_NO_PODS when the pool then has no routable pod at all (Job fallback); the caller's
 *   cancelled() (polled about every 50 ms; the client went away) → FM_ROUTE_CANCELLED.
 * Every lease must be released exactly once. Thread-safe: one mutex, one condition variable. */
#ifndef FM_GW_ROUTE_H
#define FM_GW_ROUTE_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "k8s/pool_pod.h"

#define FM_GW_DEFAULT_QUEUE_MAX 100
#define FM_GW_DEFAULT_WAIT_MS 30000L
#define FM_GW_DEFAULT_MAX_QUERY_MS 60000L

typedef struct fm_router fm_router;
fm_router *fm_router_new(void);
void fm_router_free(fm_router *r);

/* DuckLakePool objects (an array): name, spec.catalogRef.name, queue.maxLength, queue.maxWaitTime,
 * maxQueryDuration (defaults above when absent or malformed). Pools that vanish keep their waiters
 * until they time out. */
void fm_router_sync_pools(fm_router *r, json_t *pools);
/* Pod objects (an array), labelled with featherman.dev/pool and featherman.dev/catalog */
void fm_router_sync_pods(fm_router *r, json_t *pods);
/* direct setters (tests): upsert */
void fm_router_set_pool(fm_router *r, const char *name, const char *catalog, int queue_max, long wait_ms,
                        long max_query_ms);
void fm_router_set_pod(fm_router *r, const fm_pool_pod *p);
void fm_router_remove_pod(fm_router *r, const char *name);

typedef enum {
    FM_ROUTE_OK,
    FM_ROUTE_NO_POOL,
    FM_ROUTE_NO_PODS,
    FM_ROUTE_QUEUE_FULL,
    FM_ROUTE_TIMEOUT,
    FM_ROUTE_CANCELLED,
} fm_route_result;

/* One query's routing state across attempts (zero-initialise before the first acquire). */
typedef struct {
    int64_t enqueued_ms;   /* monotonic ms of the first attempt (set by the router) */
    int64_t deadline_ms;   /* when the wait runs out (set by the router at the first wait) */
    int retry;             /* set by the caller after a 409: the next wait starts at the queue head */
    int queued;            /* whether it ever waited */
    /* the lease, valid after FM_ROUTE_OK */
    char pod[254];
    char ip[64];
    char pool[254];
    long max_query_ms;
    int64_t waited_ms;     /* total time spent waiting in a queue */
} fm_gw_ticket;

fm_route_result fm_router_acquire(fm_router *r, const char *catalog, fm_gw_ticket *t, int (*cancelled)(void *ud),
                                  void *ud);

typedef enum {
    FM_LEASE_DONE,   /* the query ran (whatever its outcome) */
    FM_LEASE_BUSY,   /* the pod answered 409: cool-down of 100 ms */
    FM_LEASE_FAILED, /* the pod could not be reached: cool-down of 2 s */
} fm_lease_outcome;
void fm_router_release(fm_router *r, fm_gw_ticket *t, fm_lease_outcome outcome);

/* queue length of one pool (-1 unknown) and a visit of every pool known (for metrics) */
int fm_router_queue_length(fm_router *r, const char *pool);
void fm_router_each_pool(fm_router *r, void (*fn)(void *ud, const char *pool, const char *catalog, int queued,
                                                   int routable, int inflight),
                         void *ud);
/* whether some pool serves catalog, and that pool's max query duration (first pool by name) */
bool fm_router_serves(fm_router *r, const char *catalog, long *max_query_ms);
#endif
