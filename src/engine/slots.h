/* The fixed number of query slots of one engine, and what each busy slot is doing.
 * fm_slots_acquire returns a free slot's index. When none is free it fails at once with
 * FM_E_BUSY (queue_max = 0: a worker answers 409 so a gateway tries another pod and never
 * double-books one), or waits in FIFO order for at most queue_wait_ms (local mode): FM_E_BUSY
 * "queue is full" (429) when queue_max are already waiting, FM_E_UNAVAILABLE when the wait runs
 * out (503). A released slot goes straight to the longest waiter.
 * While busy, a slot carries its query's deadline and a check of its client so the server's watchdog
 * (fm_slots_watch) can interrupt a query that is past its time or whose client went away. */
#ifndef FM_SLOTS_H
#define FM_SLOTS_H
#include <duckdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/err.h"

enum { FM_SLOT_RUNNING = 0, FM_SLOT_TIMED_OUT = 1, FM_SLOT_CANCELLED = 2 };

typedef struct {
    duckdb_connection con;
    int busy;
    int64_t deadline_ms; /* monotonic; 0 = none */
    int (*client_gone)(void *ud); /* NULL = not watched; called under the slots' lock */
    void *client_ud;
    atomic_int state;    /* FM_SLOT_* */
} fm_slot;

typedef struct fm_waiter fm_waiter;

typedef struct {
    pthread_mutex_t mu;
    fm_slot *slot;
    int n;
    int nbusy;
    int queue_max;
    long queue_wait_ms;
    fm_waiter *head, *tail;
    int nwaiting;
    int64_t idle_since_ms; /* realtime ms when nbusy last became 0 (or start) */
    unsigned long long served;
} fm_slots;

void fm_slots_init(fm_slots *s, duckdb_connection *cons, int n, int queue_max, long queue_wait_ms);
int fm_slots_acquire(fm_slots *s, int64_t deadline_ms, int (*client_gone)(void *), void *client_ud, fm_err *err);
void fm_slots_release(fm_slots *s, int i);
/* one watchdog pass: interrupts queries past their deadline or whose client hung up */
void fm_slots_watch(fm_slots *s, int64_t now_ms);
void fm_slots_destroy(fm_slots *s);
#endif
