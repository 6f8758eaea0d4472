/* What a pool pod says about itself: GET http://<podIP>:8080/status of `worker serve`
 * (server.c: slots, busy, idleSince, queriesServed, startedAt, draining), read by the operator
 * with the internal token and a short timeout on every pool reconcile. The parser is pure and
 * unit-tested; the fetch is libcurl. */
#ifndef FM_POOL_STATUS_H
#define FM_POOL_STATUS_H
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
    int slots, busy;
    long long queries;
    long long started_ms;    /* Unix ms; 0 when absent */
    long long idle_since_ms; /* Unix ms; 0 while busy */
    bool draining;           /* the worker is shutting down */
} fm_worker_status;

/* the /status body → out; -1 with err when it is not a worker status */
int fm_worker_status_parse(const char *body, size_t len, fm_worker_status *out, fm_err *err);
/* GET /status of ip:port with "Authorization: Bearer token" (token may be NULL), timeout_ms in all */
int fm_worker_status_fetch(const char *ip, int port, const char *token, long timeout_ms, fm_worker_status *out,
                           fm_err *err);
#endif
