/* The fixed number of query slots of one engine, and what each busy slot is doing.
 * fm_slots_acquire returns a free slot's index. When none is free it fails at once with
 * FM_E_BUSY (queue_max = 0: a worker answers 409 so a gateway tries another pod and never
 * double-books one), or waits in FIFO order for at most queue_wait_ms (local mode): FM_E_BUSY
 * "queue is full" (429) when queue_max are already waiting, FM_E_UNAVAILABLE when the wait runs
 * out (503). A released slot goes straight to the longest waiter.
 * While busy, a slot carries its query's deadline and a check of its client so the server's watchdog
 * (fm_slots_watch) can interrupt a query that is past its time or whose client went away.
 * The watchdog interrupts only a slot in FM_SLOT_RUNNING, and moves it out of that state with a
 * compare-and-swap; a run that is about to COMMIT does the same swap to FM_SLOT_COMMITTING, so
 * exactly one of the two wins: a COMMIT or ROLLBACK is never interrupted, and a run that lost
 * the race does not commit.
 * A clean connection per request: with a connect function, after fm_slots_release(..., renew =
 * 1) the next fm_slots_acquire of that slot disconnects the old connection (DuckDB rolls back
 * whatever it left open and drops its temp objects, macros, variables, prepared statements,
 * settings and search path) and opens a fresh one before the slot serves again (the taker pays
 * for it, so a release never holds a slot busy); a connection whose state after a failure is unknown
 * (an aborted transaction, an interrupted COMMIT) is therefore never reused. The server renews
 * after every request except one that only ran plain reads (SELECT) to a clean end: the
 * authorizer admits no statement that changes session state, and a fresh connection is not
 * free — measured on this machine (2 shared cores, under load) `SELECT 1` went from 1.2-2 ms p50
 * to 9-13 ms p50 with a fresh connection per request (the first transaction of a new connection
 * reloads DuckLake's catalog; USE alone costs about 2 ms), while a small lake aggregate moved
 * from 24 to 27 ms. A slot whose fresh connection cannot be opened stays out of service
 * (counted in nbroken) and is logged; the acquire that found it so fails with FM_E_UNAVAILABLE. */
#ifndef FM_SLOTS_H
#define FM_SLOTS_H
#include <duckdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/err.h"

enum {
    FM_SLOT_RUNNING = 0,
    FM_SLOT_TIMED_OUT = 1,  /* the watchdog interrupted it at its deadline */
    FM_SLOT_CANCELLED = 2,  /* the watchdog interrupted it: the client went away */
    FM_SLOT_COMMITTING = 3, /* COMMIT under way or done: not to be interrupted */
    FM_SLOT_RELEASED = 4    /* its request ended: the connection is being replaced */
};

/* opens a fresh query connection; 0 on success */
typedef int (*fm_slots_connect_fn)(void *ud, duckdb_connection *out);

typedef struct {
    duckdb_connection con;
    int busy;
    int64_t deadline_ms; /* monotonic; 0 = none */
    int (*client_gone)(void *ud); /* NULL = not watched; called under the slots' lock */
    void *client_ud;
    atomic_int state;    /* FM_SLOT_* */
    int stale;           /* its connection is replaced before it serves again */
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
    int nbroken;           /* slots out of service: no fresh connection could be opened */
    fm_slots_connect_fn connect; /* NULL: connections are reused as they are */
    void *connect_ud;
    int64_t idle_since_ms; /* realtime ms when nbusy last became 0 (or start) */
    unsigned long long served;
} fm_slots;

void fm_slots_init(fm_slots *s, duckdb_connection *cons, int n, int queue_max, long queue_wait_ms);
/* from now on the slots own their connections: each release replaces the request's connection
 * with one from connect, and fm_slots_destroy disconnects them */
void fm_slots_set_connect(fm_slots *s, fm_slots_connect_fn connect, void *ud);
int fm_slots_acquire(fm_slots *s, int64_t deadline_ms, int (*client_gone)(void *), void *client_ud, fm_err *err);
void fm_slots_release(fm_slots *s, int i, int renew);
/* the run on a slot is about to COMMIT: 0 and the watchdog leaves it alone from now on, or -1
 * when the watchdog already interrupted it (the caller must not commit) */
int fm_slot_begin_commit(atomic_int *state);
/* one watchdog pass: interrupts queries past their deadline or whose client hung up */
void fm_slots_watch(fm_slots *s, int64_t now_ms);
void fm_slots_destroy(fm_slots *s);
#endif
