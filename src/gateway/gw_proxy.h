/* One gateway → worker call: POST http://<podIP>:<port>/query with the internal token, driven
 * with libcurl's multi interface from the calling thread (pull model: no extra thread; the
 * caller asks for the next bytes when its client can take them, so a slow client slows the pod
 * down instead of filling the gateway's memory).
 *
 * fm_upstream_open sends the request and drives the transfer until the response headers are in
 * (status, Content-Type, X-Featherman-Query-Id). fm_upstream_read hands out body bytes exactly as
 * the pod sent them (no re-encoding). While waiting it also watches:
 *   the deadline (monotonic ms; 0 = none)   → FM_UP_TIMEOUT
 *   the client socket (POLLRDHUP/HUP)        → FM_UP_CLIENT_GONE
 * and a transfer that ends badly (connection reset, a chunked stream the pod broke off) is
 * FM_UP_FAILED — never a clean end. fm_upstream_close aborts an unfinished transfer: the pod sees
 * its client disconnect and interrupts the query. The token is sent in a header and never
 * logged or put in a message. */
#ifndef FM_GW_PROXY_H
#define FM_GW_PROXY_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

typedef enum {
    FM_UP_OK = 0,
    FM_UP_CONNECT,     /* could not connect: the request never reached the pod (safe to retry) */
    FM_UP_FAILED,      /* the transfer broke after the request was sent */
    FM_UP_TIMEOUT,     /* deadline passed */
    FM_UP_CLIENT_GONE, /* our own client hung up */
} fm_up_result;

typedef struct {
    const char *url;
    const char *token;      /* internal token */
    const char *body;
    size_t body_len;
    const char *accept;     /* forwarded Accept header, may be NULL */
    int client_fd;          /* -1: not watched */
    int64_t deadline_ms;    /* 0: none */
} fm_upstream_req;

typedef struct fm_upstream fm_upstream;

/* never NULL; check *res (FM_UP_OK once the headers are in) and msg */
fm_upstream *fm_upstream_open(const fm_upstream_req *r, fm_up_result *res, char *msg, size_t msgn);
long fm_upstream_status(const fm_upstream *u);
const char *fm_upstream_content_type(const fm_upstream *u); /* "" when absent */
const char *fm_upstream_query_id(const fm_upstream *u);     /* "" when absent */
/* the whole body of a (small, error) answer, at most max bytes */
fm_up_result fm_upstream_read_all(fm_upstream *u, fm_buf *out, size_t max, char *msg, size_t msgn);
/* > 0: bytes copied; 0: the body ended cleanly; -1: *res says why */
ssize_t fm_upstream_read(fm_upstream *u, char *buf, size_t max, fm_up_result *res, char *msg, size_t msgn);
/* bytes received from the pod so far (body) */
unsigned long long fm_upstream_bytes(const fm_upstream *u);
void fm_upstream_close(fm_upstream *u);

/* curl_global_init; call once from the main thread before any thread starts */
void fm_upstream_global_init(void);
void fm_upstream_global_cleanup(void);
#endif
