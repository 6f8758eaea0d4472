/* The query API server shared by `featherman local` and `featherman worker serve`, on the HTTP
 * layer of http/http.h (which owns listening, the prologue checks, error bodies, the standard
 * headers and draining):
 *   POST /query   Bearer token required (constant-time compare); JSON body (request.h), at most
 *                 max_body bytes (413); result streamed chunked as CSV / NDJSON / Arrow IPC
 *                 (format from the body, else the Accept header, else CSV). Errors before the
 *                 first byte: {"error":{"code","message"}} with 400/401/403/404/405/409/413/429/
 *                 500/503/504. An error after streaming began aborts the chunked stream (no
 *                 terminating chunk), so no client can take a short result for a whole one.
 *                 A client that disconnects, or a query past timeoutMs, is interrupted.
 *                 Headers (on every answer, errors too): X-Featherman-Query-Id, X-Featherman-Pod.
 *   GET /healthz  process alive;  GET /readyz  catalogs attached and not draining (else 503);
 *                 a catalog that could not be opened at start is named there with its cause, and
 *                 every query to it answers 503 with the same, while the others serve
 *   GET /metrics  Prometheus text;  GET /status  slots, busy, idle since, queries served, start
 * One thread per connection, one DuckDB connection per slot. fm_server_start fails when the
 * address is already in use (no port sharing). fm_server_run takes SIGTERM/SIGINT
 * (fm_signals_wait; the caller blocked them with fm_signals_block) and returns once the requests
 * in flight have drained (at most drain_ms; new connections are refused meanwhile), or after the
 * first query when `once` is set. */
#ifndef FM_SERVER_H
#define FM_SERVER_H
#include <stddef.h>

#include "engine/engine.h"
#include "base/err.h"

typedef struct {
    const char *listen_addr; /* IPv4 address, default 127.0.0.1 */
    int port;                /* default 8080 */
    const char *token;       /* required, never logged */
    size_t max_body;         /* default 1 MiB */
    int queue_max;           /* 0: answer 409 when all slots are busy (worker); >0 queue (local) */
    long queue_wait_ms;
    long default_timeout_ms; /* default 60 s */
    long max_timeout_ms;     /* requests may not ask for more; default = default_timeout_ms */
    long drain_ms;           /* default 30 s */
    int once;
    const char *pod_name;    /* X-Featherman-Pod; default the host name */
    const char *role;        /* "local" | "worker" (shown in /status) */
    int sandboxed;           /* whether the OS sandbox was applied (shown in /status) */
    /* catalogs that could not be opened (copied): name and cause of each */
    const char *const *failed_catalogs;
    const char *const *failed_causes;
    size_t nfailed;
} fm_server_config;

typedef struct fm_server fm_server;

/* engines must already be locked down; the server does not own them */
fm_server *fm_server_start(const fm_server_config *cfg, fm_engine **engines, size_t n, fm_err *err);
int fm_server_port(const fm_server *s);
int fm_server_run(fm_server *s); /* blocks; 0 on a clean stop */
void fm_server_free(fm_server *s);
#endif
