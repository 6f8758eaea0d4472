/* The one HTTP server layer of every serving role (the query server of `local` and `worker
 * serve`, the gateway, the operator's health endpoint), on libmicrohttpd. A role describes its
 * endpoints in a route table and writes handlers; everything else is done here, once:
 *
 *   listening    fm_http_start binds ADDR:PORT itself, without SO_REUSEPORT, so a second
 *                process on a port already in use fails with "address already in use" instead
 *                of silently sharing the port and half the requests.
 *   routing      unknown path → 404, known path with another method → 405 (HEAD is accepted
 *                where GET is); both as JSON error bodies naming the endpoints.
 *   the prologue of a route, in this order: FM_HTTP_AUTH → 401 without a valid Bearer token
 *                (checked by cfg.auth; WWW-Authenticate sent); FM_HTTP_NOT_DRAINING → 503 once
 *                the server is quiescing; FM_HTTP_BODY → 413 when Content-Length announces more
 *                than max_body, else the body is accumulated and a body that turns out larger
 *                is 413 too (read to its end and dropped, so the answer reaches the client).
 *                The handler then runs once with the whole body. Routes without FM_HTTP_BODY
 *                run as soon as the headers are in and any body is ignored.
 *   responses    fm_http_respond / fm_http_error ({"error":{"code":"...","message":"..."}}) /
 *                fm_http_stream (chunked, pulled from a reader callback; a reader error ends
 *                the stream without its terminating chunk so no client mistakes a broken
 *                result for a whole one). Every response carries X-Featherman-Pod (the
 *                server's pod, or the one the handler set) and X-Featherman-Query-Id (the
 *                request's id, or the one the handler set), errors included.
 *   ownership    a request owns what is allocated for it (fm_http_req_alloc) and the clean-up
 *                actions registered on it (fm_http_req_on_done); all of it is released in one
 *                place, libmicrohttpd's completion notification — however the request ended
 *                (answered, failed, client gone, server stopped).
 *   metrics      per endpoint: requests by status code and a duration histogram
 *                (fm_http_metrics_render); routes flagged FM_HTTP_QUERY also feed the
 *                process-wide query metrics of base/metrics.h (in flight, by format and code,
 *                duration).
 *   stopping     fm_http_quiesce closes the listening socket (new connections are refused) and
 *                marks the server draining; fm_http_drain waits for the requests in flight up
 *                to a deadline; fm_http_stop closes what is left. The roles take SIGTERM with
 *                fm_signals_wait (base/signals.h) and then call these three.
 *
 * Threads: one thread per connection (the default; a handler may block, e.g. waiting for a query
 * slot), or a single thread for small endpoints (cfg.single_thread). Handlers, readers and
 * on_done actions of one request run on one thread at a time. */
#ifndef FM_HTTP_H
#define FM_HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"

typedef struct fm_http fm_http;
typedef struct fm_http_req fm_http_req;

/* runs once per request on a matched route; must answer with one fm_http_respond/_error/_stream
 * or give up with fm_http_abandon (else the layer answers 500) */
typedef void (*fm_http_handler)(fm_http_req *r, void *ud);

enum {
    FM_HTTP_BODY = 1 << 0,         /* the handler runs once the whole body (≤ max_body) is in */
    FM_HTTP_AUTH = 1 << 1,         /* a Bearer token cfg.auth accepts, else 401 */
    FM_HTTP_NOT_DRAINING = 1 << 2, /* 503 while the server is quiescing */
    FM_HTTP_QUERY = 1 << 3,        /* counted in the query metrics of base/metrics.h (405s too) */
};

typedef struct {
    const char *method; /* "GET" (HEAD accepted too) or "POST" */
    const char *path;   /* exact match */
    unsigned flags;     /* FM_HTTP_* */
    fm_http_handler fn;
} fm_http_route;

typedef struct {
    const char *name;    /* for log lines and "the NAME is shutting down", e.g. "server", "gateway" */
    const char *addr;    /* IPv4 address to listen on */
    int port;            /* 0: any free port (see fm_http_port) */
    const fm_http_route *routes; /* must outlive the server (a static table) */
    size_t nroutes;
    void *ud;            /* handed to handlers and auth */
    /* FM_HTTP_AUTH routes: 1 when the token (the text after "Bearer ") is accepted */
    int (*auth)(void *ud, const char *token, size_t len);
    size_t max_body;         /* default 1 MiB */
    const char *pod;         /* X-Featherman-Pod; default the host name */
    const char *id_prefix;   /* request ids are "<prefix>-<start ms, hex>-<n>"; default "r" */
    int single_thread;       /* 1: one thread for every connection; handlers must not block */
    unsigned conn_limit;     /* concurrent connections; default 1000 */
    unsigned conn_timeout_s; /* an idle connection is closed after this; default 300 */
} fm_http_config;

fm_http *fm_http_start(const fm_http_config *cfg, fm_err *err);
int fm_http_port(const fm_http *h);
const char *fm_http_pod(const fm_http *h);
int fm_http_draining(const fm_http *h);
int fm_http_inflight(const fm_http *h); /* requests between their first byte and their completion */
/* stop accepting: the listening socket is closed and FM_HTTP_NOT_DRAINING routes answer 503 */
void fm_http_quiesce(fm_http *h);
/* waits until no request is in flight or drain_ms have passed, calling tick (may be NULL) about
 * every tick_ms meanwhile; returns the requests still in flight */
int fm_http_drain(fm_http *h, long drain_ms, long tick_ms, void (*tick)(void *ud), void *ud);
/* closes every connection (requests still in flight complete as failed) and frees h */
void fm_http_stop(fm_http *h);
/* Prometheus text: featherman_http_requests_total{endpoint,code} and
 * featherman_http_request_duration_seconds{endpoint} */
void fm_http_metrics_render(const fm_http *h, fm_buf *out);

/* ---- the request ------------------------------------------------------------------------------ */

const char *fm_http_req_method(const fm_http_req *r);
const char *fm_http_req_path(const fm_http_req *r);
const char *fm_http_req_header(const fm_http_req *r, const char *name); /* NULL when absent */
const char *fm_http_req_body(const fm_http_req *r, size_t *len);        /* "" when there is none */
const char *fm_http_req_id(const fm_http_req *r);
int fm_http_req_fd(const fm_http_req *r);   /* the client's socket, for watching it hang up; -1 unknown */
int fm_http_req_client_gone(const fm_http_req *r);
int64_t fm_http_req_start_ms(const fm_http_req *r); /* monotonic */
int fm_http_req_status(const fm_http_req *r);       /* the status answered so far, 0 if none */
fm_http *fm_http_req_server(const fm_http_req *r);
/* zeroed memory owned by the request: freed after its on_done actions ran */
void *fm_http_req_alloc(fm_http_req *r, size_t n);
/* fn(ud, r, completed) runs once when the request ends, newest first; completed is 1 when the
 * whole response was sent, 0 when the client went away, the stream broke or the server stopped */
void fm_http_req_on_done(fm_http_req *r, void (*fn)(void *ud, fm_http_req *r, int completed), void *ud);
void fm_http_req_set_format(fm_http_req *r, int format); /* for the query metrics; -1 unknown */
void fm_http_req_set_pod(fm_http_req *r, const char *pod);   /* X-Featherman-Pod of this answer */
void fm_http_req_set_query_id(fm_http_req *r, const char *id); /* X-Featherman-Query-Id of this answer */

/* ---- answers (one per request) ---------------------------------------------------------------- */

void fm_http_respond(fm_http_req *r, unsigned status, const char *content_type, const void *body, size_t len);
void fm_http_error(fm_http_req *r, unsigned status, const char *code, const char *message);
void fm_http_errorf(fm_http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* >0: bytes written to buf (at most max); 0: the end of the stream; <0: the stream is broken */
typedef ssize_t (*fm_http_reader)(void *ud, char *buf, size_t max);
void fm_http_stream(fm_http_req *r, unsigned status, const char *content_type, fm_http_reader read, void *ud);
/* closes the connection without an answer (the client is gone); status is what the metrics
 * record, e.g. 499 */
void fm_http_abandon(fm_http_req *r, int status);

/* ---- pieces the roles share ------------------------------------------------------------------- */

/* the token of an "Authorization: Bearer <token>" header value (scheme case-insensitive,
 * spaces after it skipped), or NULL when the header is absent, of another scheme, or empty */
const char *fm_http_bearer(const char *authorization);
/* a token kept only as its SHA-256; comparing hashes takes the same time whatever the token's
 * length and content */
typedef struct {
    unsigned char sha256[32];
} fm_http_token;
void fm_http_token_set(fm_http_token *t, const char *token, size_t len);
int fm_http_token_equal(const fm_http_token *t, const char *token, size_t len);
/* 1 when the token equals any of the n; every one is compared (no early exit) */
int fm_http_token_in(const fm_http_token *set, size_t n, const char *token, size_t len);
/* the GET /healthz handler of every role: the process is alive and serving ("ok") */
void fm_http_healthz(fm_http_req *r, void *ud);
/* 1 when the peer of the socket hung up (checked without blocking) */
int fm_http_fd_hung_up(int fd);
#endif
