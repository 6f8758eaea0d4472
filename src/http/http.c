/* The HTTP server layer on libmicrohttpd (contract in http.h): listening socket, routing and the
 * route prologue, request ownership, answers with the standard headers, quiesce and drain. */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/json_out.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/xalloc.h"
#include "http/http_metrics.h"

#define DEFAULT_MAX_BODY ((size_t)1 << 20)
#define STREAM_BLOCK (256 * 1024)
#define DEFAULT_UNAUTH_LIMIT 256
#define DEFAULT_UNAUTH_TIMEOUT_S 10

/* one open connection that has not shown a valid token yet; oldest first in the server's list */
typedef struct conn {
    struct conn *prev, *next;
    int fd;
    int listed; /* in the list: neither authenticated nor evicted */
} conn;

struct fm_http {
    fm_http_config cfg;
    char name[64], pod[128], prefix[16], addr[64];
    int port;
    struct MHD_Daemon *mhd;
    int listen_fd; /* ours from quiesce on: shut down then, closed after MHD has stopped */
    int quiesced;
    int64_t started_ms;
    atomic_int draining;
    atomic_int inflight;
    atomic_ullong next_id;
    fm_http_metrics *metrics;
    char *endpoints; /* "POST /query, GET /healthz ..." for the 404 message */
    pthread_mutex_t conn_mu;
    conn *unauth_head, *unauth_tail; /* connections without a valid token yet, oldest first */
    unsigned nunauth;
    atomic_ullong evicted;
};

typedef struct mem_block {
    struct mem_block *next;
    alignas(max_align_t) unsigned char data[];
} mem_block;

typedef struct done_action {
    struct done_action *next;
    void (*fn)(void *ud, fm_http_req *r, int completed);
    void *ud;
} done_action;

struct fm_http_req {
    fm_http *h;
    struct MHD_Connection *c;
    const fm_http_route *route; /* NULL: no route matched */
    size_t endpoint;            /* metrics index: the route's, or nroutes ("other") */
    int query;                  /* the path is a FM_HTTP_QUERY route's (whatever the method) */
    const char *method, *path;
    int fd;
    int64_t t0;
    fm_buf body;
    int too_large;
    pthread_mutex_t mu; /* answered and probed, between the request's thread and a watchdog's */
    int answered;     /* an answer was queued (or the request abandoned) */
    int http11;       /* an HTTP/1.1 request: a 1xx interim answer may be sent */
    int probed;       /* the client half-closed and was sent "100 Continue" to tell if it is still there */
    int abandon;      /* close without an answer */
    int queue_failed; /* libmicrohttpd refused the answer: close */
    int stream_broken;
    int status, format;
    char id[48];
    const char *pod, *query_id; /* overrides of the standard headers (request-owned copies) */
    fm_http_reader reader;
    void *reader_ud;
    int64_t deadline; /* monotonic ms; 0: none */
    mem_block *mem;
    done_action *done;
};

/* ---- request ownership ------------------------------------------------------------------------ */

void *fm_http_req_alloc(fm_http_req *r, size_t n) {
    mem_block *b = fm_xcalloc(1, sizeof *b + n);
    b->next = r->mem;
    r->mem = b;
    return b->data;
}

static char *req_strdup(fm_http_req *r, const char *s) {
    size_t n = strlen(s) + 1;
    char *d = fm_http_req_alloc(r, n);
    memcpy(d, s, n);
    return d;
}

void fm_http_req_on_done(fm_http_req *r, void (*fn)(void *, fm_http_req *, int), void *ud) {
    done_action *a = fm_http_req_alloc(r, sizeof *a);
    a->fn = fn;
    a->ud = ud;
    a->next = r->done;
    r->done = a;
}

static void req_free(fm_http_req *r) {
    fm_buf_free(&r->body);
    pthread_mutex_destroy(&r->mu);
    for (mem_block *b = r->mem, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(r);
}

/* The one place a request ends: its clean-up actions, its metrics, its memory. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    fm_http *h = cls;
    (void)c;
    fm_http_req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    int completed = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !r->stream_broken;
    for (done_action *a = r->done; a; a = a->next) a->fn(a->ud, r, completed);
    double secs = (double)(fm_now_ms() - r->t0) / 1000.0;
    if (r->query) {
        if (r->status) {
            fm_metrics_request(r->format, r->status);
            fm_metrics_duration(secs);
        }
        fm_metrics_inflight(-1);
    }
    if (r->status) fm_http_metrics_observe(h->metrics, r->endpoint, r->status, secs);
    req_free(r);
    atomic_fetch_sub(&h->inflight, 1);
}

/* ---- answers ---------------------------------------------------------------------------------- */

static void queue_ex(fm_http_req *r, unsigned status, const char *type, struct MHD_Response *resp, int close_after) {
    if (!resp) {
        fm_warn("%s: no memory for the answer to request %s", r->h->name, r->id);
        r->answered = r->queue_failed = 1;
        return;
    }
    if (type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, "X-Featherman-Pod", r->pod ? r->pod : r->h->pod);
    MHD_add_response_header(resp, "X-Featherman-Query-Id", r->query_id ? r->query_id : r->id);
    if (status == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"featherman\"");
    if (close_after) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    pthread_mutex_lock(&r->mu);
    r->answered = 1;
    pthread_mutex_unlock(&r->mu);
    r->status = (int)status;
    if (MHD_queue_response(r->c, status, resp) != MHD_YES) r->queue_failed = 1;
    MHD_destroy_response(resp);
}

static void queue(fm_http_req *r, unsigned status, const char *type, struct MHD_Response *resp) {
    queue_ex(r, status, type, resp, 0);
}

static int second_answer(fm_http_req *r) {
    if (!r->answered) return 0;
    fm_warn("%s: request %s was answered twice; the second answer is dropped", r->h->name, r->id);
    return 1;
}

void fm_http_respond(fm_http_req *r, unsigned status, const char *type, const void *body, size_t len) {
    if (second_answer(r)) return;
    queue(r, status, type, MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY));
}

void fm_http_error(fm_http_req *r, unsigned status, const char *code, const char *message) {
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "{\"error\":{\"code\":");
    fm_json_string(&b, code, strlen(code));
    fm_buf_puts(&b, ",\"message\":");
    fm_json_string(&b, message, strlen(message));
    fm_buf_puts(&b, "}}\n");
    fm_http_respond(r, status, "application/json", b.data, b.len);
    fm_buf_free(&b);
}

void fm_http_errorf(fm_http_req *r, unsigned status, const char *code, const char *fmt, ...) {
    fm_buf m;
    fm_buf_init(&m);
    va_list ap;
    va_start(ap, fmt);
    fm_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    fm_http_error(r, status, code, m.data ? m.data : "");
    fm_buf_free(&m);
}

static void set_timeout(fm_http_req *r, unsigned secs) {
    MHD_set_connection_option(r->c, MHD_CONNECTION_OPTION_TIMEOUT, secs);
}

/* With a deadline, the connection's idle timeout is what is left of it, renewed on every block:
 * a client that stops reading leaves libmicrohttpd waiting to send, and that wait ends at the
 * deadline (rounded up to a second) with the connection closed and the request completed as
 * failed, so whatever the request holds is released then, not after the long idle timeout. Past
 * the deadline a client that still reads is given what the reader still has (a reader bound by a
 * deadline of its own stops itself; a committed write's answer is owed whole), and one that stops
 * reading then is cut off within a second. */
static void renew_deadline_timeout(fm_http_req *r) {
    if (!r->deadline) return;
    int64_t left = r->deadline - fm_now_ms();
    set_timeout(r, left > 0 ? (unsigned)((left + 999) / 1000) : 1);
}

static ssize_t stream_block(void *cls, uint64_t pos, char *buf, size_t max) {
    fm_http_req *r = cls;
    (void)pos;
    renew_deadline_timeout(r);
    ssize_t n = r->reader(r->reader_ud, buf, max);
    if (n > 0) return n;
    if (n == 0) {
        if (r->deadline) set_timeout(r, r->h->cfg.conn_timeout_s);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    r->stream_broken = 1;
    return MHD_CONTENT_READER_END_WITH_ERROR; /* no terminating chunk: the client sees a broken stream */
}

void fm_http_stream(fm_http_req *r, unsigned status, const char *type, fm_http_reader read, void *ud) {
    if (second_answer(r)) return;
    r->reader = read;
    r->reader_ud = ud;
    queue(r, status, type, MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_block, r, NULL));
}

void fm_http_req_set_deadline(fm_http_req *r, int64_t deadline_ms) { r->deadline = deadline_ms; }

void fm_http_abandon(fm_http_req *r, int status) {
    if (second_answer(r)) return;
    pthread_mutex_lock(&r->mu);
    r->answered = r->abandon = 1;
    pthread_mutex_unlock(&r->mu);
    r->status = status;
}

/* ---- request accessors ------------------------------------------------------------------------ */

const char *fm_http_req_method(const fm_http_req *r) { return r->method; }
const char *fm_http_req_path(const fm_http_req *r) { return r->path; }
const char *fm_http_req_header(const fm_http_req *r, const char *name) {
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}
const char *fm_http_req_body(const fm_http_req *r, size_t *len) {
    *len = r->body.len;
    return r->body.data ? r->body.data : "";
}
const char *fm_http_req_id(const fm_http_req *r) { return r->id; }
int fm_http_req_fd(const fm_http_req *r) { return r->fd; }
/* A FIN alone cannot tell a client that closed its socket from one that only shut down its
 * sending side after a whole request and still reads the answer. Before the answer starts (the
 * request's thread is then in its handler, so nothing else writes to the socket), an HTTP/1.1
 * client that sent a FIN is sent "100 Continue", which an HTTP/1.1 client skips: a socket that
 * was closed answers it with a reset, seen as POLLHUP/POLLERR on a later call, while a
 * half-closed client stays. Once the answer streams, libmicrohttpd's own writes find a closed
 * client the same way. An HTTP/1.0 client's FIN counts as gone. */
int fm_http_req_client_gone(fm_http_req *r) {
    if (r->fd < 0) return 0;
    struct pollfd p = {.fd = r->fd, .events = POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 0;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) return 1;
    if (!(p.revents & POLLRDHUP)) return 0;
    int gone = 0;
    pthread_mutex_lock(&r->mu);
    if (!r->answered && !r->http11) {
        gone = 1;
    } else if (!r->answered && !r->probed) {
        static const char probe[] = "HTTP/1.1 100 Continue\r\n\r\n";
        r->probed = 1;
        if (send(r->fd, probe, sizeof probe - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) gone = 1;
    }
    pthread_mutex_unlock(&r->mu);
    return gone;
}

int fm_http_client_gone_cb(void *r) { return fm_http_req_client_gone(r); }
int64_t fm_http_req_start_ms(const fm_http_req *r) { return r->t0; }
int fm_http_req_status(const fm_http_req *r) { return r->status; }
fm_http *fm_http_req_server(const fm_http_req *r) { return r->h; }
void fm_http_req_set_format(fm_http_req *r, int format) { r->format = format; }
void fm_http_req_set_pod(fm_http_req *r, const char *pod) { r->pod = pod && *pod ? req_strdup(r, pod) : NULL; }
void fm_http_req_set_query_id(fm_http_req *r, const char *id) { r->query_id = id && *id ? req_strdup(r, id) : NULL; }

/* ---- routing and the prologue ----------------------------------------------------------------- */

static int is_get(const char *m) { return !strcmp(m, "GET") || !strcmp(m, "HEAD"); }

static void route(fm_http_req *r) {
    const fm_http_config *cfg = &r->h->cfg;
    const fm_http_route *same_path = NULL;
    r->endpoint = cfg->nroutes;
    for (size_t i = 0; i < cfg->nroutes; i++) {
        const fm_http_route *rt = &cfg->routes[i];
        if (strcmp(rt->path, r->path)) continue;
        if (!same_path) {
            same_path = rt;
            r->endpoint = i;
        }
        r->query |= (rt->flags & FM_HTTP_QUERY) != 0;
        if (!strcmp(rt->method, r->method) || (!strcmp(rt->method, "GET") && is_get(r->method))) {
            r->route = rt;
            r->endpoint = i;
            return;
        }
    }
    if (!same_path)
        fm_http_errorf(r, 404, "not_found", "no such endpoint (%s)", r->h->endpoints);
    else
        fm_http_errorf(r, 405, "method_not_allowed", "use %s %s", same_path->method, same_path->path);
}

/* ---- connections ------------------------------------------------------------------------------ */

static void unlist(fm_http *h, conn *k) {
    if (!k->listed) return;
    if (k->prev) k->prev->next = k->next;
    else h->unauth_head = k->next;
    if (k->next) k->next->prev = k->prev;
    else h->unauth_tail = k->prev;
    k->prev = k->next = NULL;
    k->listed = 0;
    h->nunauth--;
}

/* A new connection counts as unauthenticated until one of its requests shows a valid token. When
 * there are already unauth_limit of those, the oldest is shut down (its thread sees the hang-up
 * and closes it): idle or half-open sockets can then never fill the connection limit, and a
 * probe or a client with a token always gets in. The record stays linked until libmicrohttpd
 * reports the connection closed, which it does before closing the socket, so the shutdown never
 * reaches a descriptor that was reused. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    fm_http *h = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        conn *k = fm_xcalloc(1, sizeof *k);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        k->fd = ci ? ci->connect_fd : -1;
        pthread_mutex_lock(&h->conn_mu);
        if (h->nunauth >= h->cfg.unauth_limit && h->unauth_head) {
            conn *old = h->unauth_head;
            unlist(h, old);
            if (old->fd >= 0) shutdown(old->fd, SHUT_RDWR);
            atomic_fetch_add(&h->evicted, 1);
        }
        k->prev = h->unauth_tail;
        if (h->unauth_tail) h->unauth_tail->next = k;
        else h->unauth_head = k;
        h->unauth_tail = k;
        k->listed = 1;
        h->nunauth++;
        pthread_mutex_unlock(&h->conn_mu);
        *socket_context = k;
        return;
    }
    conn *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&h->conn_mu);
    unlist(h, k);
    pthread_mutex_unlock(&h->conn_mu);
    free(k);
    *socket_context = NULL;
}

/* the request showed a valid token: its connection is neither evicted nor held to the short
 * timeout from now on */
static void authenticated(fm_http_req *r) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn *k = ci ? ci->socket_context : NULL;
    if (k) {
        pthread_mutex_lock(&r->h->conn_mu);
        unlist(r->h, k);
        pthread_mutex_unlock(&r->h->conn_mu);
    }
    set_timeout(r, r->h->cfg.conn_timeout_s);
}

/* ---- strict framing --------------------------------------------------------------------------- */

typedef struct {
    int ncl, nte, bad_name;
    const char *te;
    char name[64];
} framing;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    framing *f = cls;
    (void)kind;
    if (strpbrk(key, " \t") && !f->bad_name) {
        f->bad_name = 1;
        snprintf(f->name, sizeof f->name, "%s", key);
    }
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) f->ncl++;
    if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->nte++;
        f->te = value;
    }
    return MHD_YES;
}

/* A request whose length two parsers could read differently is refused before anything else
 * looks at it: behind a proxy that frames it the other way, the rest of its body would be taken
 * for another request. NULL when the framing is unambiguous, else what was wrong. */
static const char *ambiguous(fm_http_req *r, const char *version, char *msg, size_t n) {
    framing f = {0};
    MHD_get_connection_values(r->c, MHD_HEADER_KIND, scan_header, &f);
    if (f.bad_name) snprintf(msg, n, "header name \"%.40s\" contains whitespace (nothing may stand before the colon)", f.name);
    else if (f.ncl > 1) snprintf(msg, n, "more than one Content-Length header");
    else if (f.nte > 1) snprintf(msg, n, "more than one Transfer-Encoding header");
    else if (f.nte && f.ncl) snprintf(msg, n, "both Content-Length and Transfer-Encoding are present");
    else if (f.nte && strcasecmp(f.te ? f.te : "", "chunked"))
        snprintf(msg, n, "Transfer-Encoding \"%.40s\" is not supported (only \"chunked\" is)", f.te ? f.te : "");
    else if (f.nte && version && !strcmp(version, MHD_HTTP_VERSION_1_0))
        snprintf(msg, n, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    else return NULL;
    return msg;
}

/* 400 and the connection closed after it */
static void refuse_framing(fm_http_req *r, const char *why) {
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "{\"error\":{\"code\":\"bad_request\",\"message\":");
    fm_json_string(&b, why, strlen(why));
    fm_buf_puts(&b, "}}\n");
    queue_ex(r, 400, "application/json", MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_COPY), 1);
    fm_buf_free(&b);
}

/* 1: accepted, 0: refused, -1: cannot be checked now */
static int check_token(fm_http_req *r, int (*fn)(void *, const char *, size_t)) {
    const char *t = fm_http_bearer(fm_http_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION));
    if (!t || !fn) return 0;
    int rc = fn(r->h->cfg.ud, t, strlen(t));
    return rc < 0 ? -1 : rc > 0;
}

/* the checks every route asks for, before its body is read; answers when one fails */
static void prologue(fm_http_req *r) {
    fm_http *h = r->h;
    unsigned f = r->route->flags;
    if (f & (FM_HTTP_AUTH | FM_HTTP_ADMIN)) {
        int ok = check_token(r, h->cfg.auth);
        if (ok < 0) {
            fm_http_errorf(r, 503, "unavailable", "the %s cannot check tokens right now: try again later", h->name);
            return;
        }
        if (!ok) {
            fm_http_error(r, 401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
            return;
        }
        authenticated(r);
        if ((f & FM_HTTP_ADMIN) && h->cfg.admin && check_token(r, h->cfg.admin) != 1) {
            fm_http_error(r, 403, "forbidden", "this endpoint needs an admin token");
            return;
        }
    }
    if ((f & FM_HTTP_NOT_DRAINING) && atomic_load(&h->draining)) {
        fm_http_errorf(r, 503, "unavailable", "the %s is shutting down", h->name);
        return;
    }
    if (f & FM_HTTP_BODY) {
        const char *cl = fm_http_req_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->cfg.max_body)
            fm_http_errorf(r, 413, "too_large", "request body is larger than %zu bytes", h->cfg.max_body);
    }
}

static fm_http_req *req_new(fm_http *h, struct MHD_Connection *c, const char *url, const char *method) {
    fm_http_req *r = fm_xcalloc(1, sizeof *r);
    r->h = h;
    r->c = c;
    r->method = method;
    r->path = url;
    r->t0 = fm_now_ms();
    r->format = -1;
    pthread_mutex_init(&r->mu, NULL);
    fm_buf_init(&r->body);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    r->fd = ci ? ci->connect_fd : -1;
    snprintf(r->id, sizeof r->id, "%s-%llx-%llu", h->prefix, (unsigned long long)h->started_ms,
             (unsigned long long)atomic_fetch_add(&h->next_id, 1));
    atomic_fetch_add(&h->inflight, 1);
    return r;
}

static enum MHD_Result finish(fm_http_req *r) {
    if (!r->answered) {
        fm_warn("%s: the handler of %s %s gave no answer", r->h->name, r->method, r->path);
        fm_http_error(r, 500, "internal", "the server gave no answer");
    }
    return r->abandon || r->queue_failed ? MHD_NO : MHD_YES;
}

static void run_handler(fm_http_req *r) {
    if (r->too_large) {
        fm_http_errorf(r, 413, "too_large", "request body is larger than %zu bytes", r->h->cfg.max_body);
        return;
    }
    r->route->fn(r, r->h->cfg.ud);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    fm_http *h = cls;
    fm_http_req *r = *con_cls;
    if (!r) { /* the headers are in */
        r = req_new(h, c, url, method);
        r->http11 = version && !strcmp(version, MHD_HTTP_VERSION_1_1);
        *con_cls = r;
        char msg[160];
        const char *why = ambiguous(r, version, msg, sizeof msg);
        if (why) {
            r->endpoint = h->cfg.nroutes;
            refuse_framing(r, why);
            return finish(r);
        }
        route(r);
        if (r->query) fm_metrics_inflight(1);
        if (!r->answered) prologue(r);
        if (r->answered) return finish(r);
        if (r->route->flags & FM_HTTP_BODY) return MHD_YES; /* the body comes in the next calls */
        run_handler(r);
        return finish(r);
    }
    if (r->answered) { /* answered before the body: what follows is read and dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > h->cfg.max_body) r->too_large = 1;
        else if (!r->too_large) fm_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    run_handler(r); /* the whole body is in */
    return finish(r);
}

/* ---- pieces the roles share ------------------------------------------------------------------- */

void fm_http_healthz(fm_http_req *r, void *ud) {
    (void)ud;
    fm_http_respond(r, 200, "text/plain", "ok\n", 3);
}

int fm_http_fd_hung_up(int fd) {
    if (fd < 0) return 0;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* ---- the server ------------------------------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    fm_http *h = cls;
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_vprintf(&b, fmt, ap);
    while (b.len && b.data[b.len - 1] == '\n') b.data[--b.len] = 0;
    fm_warn("%s: http: %s", h->name, b.data ? b.data : "");
    fm_buf_free(&b);
}

/* SO_REUSEADDR only lets a restarted server bind while old connections linger in TIME_WAIT; on
 * Linux it never lets two sockets listen on one address. SO_REUSEPORT, which would, is not set. */
static int bind_listen(fm_http *h, fm_err *err) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port)};
    if (inet_pton(AF_INET, h->addr, &sa.sin_addr) != 1)
        return fm_fail(err, FM_E_INVALID, "listen address %s is not an IPv4 address", h->addr);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return fm_fail(err, FM_E_UNAVAILABLE, "cannot create a socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, SOMAXCONN)) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return fm_fail(err, FM_E_UNAVAILABLE, "cannot listen on %s:%d: address already in use (another process is "
                           "listening there)", h->addr, h->port);
        return fm_fail(err, FM_E_UNAVAILABLE, "cannot listen on %s:%d: %s", h->addr, h->port, strerror(e));
    }
    socklen_t len = sizeof sa;
    if (!getsockname(fd, (struct sockaddr *)&sa, &len)) h->port = ntohs(sa.sin_port);
    h->listen_fd = fd;
    return 0;
}

/* Each connection is a descriptor (and a thread): a soft limit below what the server may hold
 * would make accept() fail before the connection limit and the eviction of idle connections
 * could act, so the soft limit is raised towards the hard one. */
static void raise_fd_limit(unsigned conns) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl)) return;
    rlim_t want = (rlim_t)conns + 256;
    if (rl.rlim_cur >= want) return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

static void describe_endpoints(fm_http *h) {
    fm_buf b;
    fm_buf_init(&b);
    const char *last = NULL;
    for (size_t i = 0; i < h->cfg.nroutes; i++) {
        const fm_http_route *rt = &h->cfg.routes[i];
        if (last && !strcmp(last, rt->method)) fm_buf_printf(&b, " %s", rt->path);
        else fm_buf_printf(&b, "%s%s %s", last ? ", " : "", rt->method, rt->path);
        last = rt->method;
    }
    h->endpoints = fm_buf_steal(&b);
    if (!h->endpoints) h->endpoints = fm_xstrdup("none");
}

fm_http *fm_http_start(const fm_http_config *cfg, fm_err *err) {
    if (cfg->port < 0 || cfg->port > 65535) {
        fm_fail(err, FM_E_INVALID, "listen port %d is out of range (0-65535)", cfg->port);
        return NULL;
    }
    fm_http *h = fm_xcalloc(1, sizeof *h);
    h->cfg = *cfg;
    h->listen_fd = -1;
    if (!h->cfg.max_body) h->cfg.max_body = DEFAULT_MAX_BODY;
    if (!h->cfg.conn_limit) h->cfg.conn_limit = 1000;
    if (!h->cfg.conn_timeout_s) h->cfg.conn_timeout_s = 300;
    if (!h->cfg.unauth_limit) h->cfg.unauth_limit = DEFAULT_UNAUTH_LIMIT;
    if (h->cfg.unauth_limit >= h->cfg.conn_limit) h->cfg.unauth_limit = h->cfg.conn_limit / 2 ? h->cfg.conn_limit / 2 : 1;
    if (!h->cfg.unauth_timeout_s) h->cfg.unauth_timeout_s = DEFAULT_UNAUTH_TIMEOUT_S;
    if (h->cfg.unauth_timeout_s > h->cfg.conn_timeout_s) h->cfg.unauth_timeout_s = h->cfg.conn_timeout_s;
    pthread_mutex_init(&h->conn_mu, NULL);
    snprintf(h->name, sizeof h->name, "%s", cfg->name ? cfg->name : "server");
    snprintf(h->prefix, sizeof h->prefix, "%s", cfg->id_prefix ? cfg->id_prefix : "r");
    snprintf(h->addr, sizeof h->addr, "%s", cfg->addr ? cfg->addr : "127.0.0.1");
    if (cfg->pod && *cfg->pod) snprintf(h->pod, sizeof h->pod, "%s", cfg->pod);
    else if (gethostname(h->pod, sizeof h->pod)) snprintf(h->pod, sizeof h->pod, "featherman");
    h->cfg.name = h->name;
    h->cfg.pod = h->pod;
    h->cfg.id_prefix = h->prefix;
    h->cfg.addr = h->addr;
    h->port = cfg->port;
    h->started_ms = fm_wall_ms();
    describe_endpoints(h);
    const char **names = fm_xcalloc(cfg->nroutes + 1, sizeof *names);
    for (size_t i = 0; i < cfg->nroutes; i++) names[i] = cfg->routes[i].path;
    h->metrics = fm_http_metrics_new(names, cfg->nroutes);
    free(names);
    if (bind_listen(h, err)) {
        fm_http_stop(h);
        return NULL;
    }
    /* poll(), not select(): descriptors above FD_SETSIZE would otherwise be refused */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (!cfg->single_thread) flags |= MHD_USE_THREAD_PER_CONNECTION;
    raise_fd_limit(h->cfg.conn_limit);
    /* the daemon-wide timeout is the short one; a connection gets the long one once it has shown
     * a valid token (authenticated) */
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)h->listen_fd, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                              MHD_OPTION_CONNECTION_TIMEOUT, h->cfg.unauth_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
                              h->cfg.conn_limit, MHD_OPTION_END);
    if (!h->mhd) {
        fm_fail(err, FM_E_UNAVAILABLE, "cannot serve HTTP on %s:%d (libmicrohttpd did not start)", h->addr, h->port);
        close(h->listen_fd);
        h->listen_fd = -1;
        fm_http_stop(h);
        return NULL;
    }
    return h;
}

int fm_http_port(const fm_http *h) { return h->port; }
const char *fm_http_pod(const fm_http *h) { return h->pod; }
int fm_http_draining(const fm_http *h) { return atomic_load(&((fm_http *)h)->draining); }
int fm_http_inflight(const fm_http *h) { return atomic_load(&((fm_http *)h)->inflight); }

void fm_http_quiesce(fm_http *h) {
    atomic_store(&h->draining, 1);
    if (!h->mhd || h->quiesced) return;
    h->quiesced = 1;
    MHD_socket ls = MHD_quiesce_daemon(h->mhd);
    if (ls == MHD_INVALID_SOCKET) return;
    /* libmicrohttpd's threads may still hold the socket until they stop: shut it down now (the
     * kernel refuses new connections from here on) and close it after MHD_stop_daemon */
    shutdown(ls, SHUT_RDWR);
    h->listen_fd = ls;
}

int fm_http_drain(fm_http *h, long drain_ms, long tick_ms, void (*tick)(void *), void *ud) {
    int64_t until = fm_now_ms() + drain_ms;
    if (tick_ms <= 0) tick_ms = 10;
    for (;;) {
        if (tick) tick(ud);
        int n = atomic_load(&h->inflight);
        if (!n || fm_now_ms() >= until) return n;
        struct timespec ts = {tick_ms / 1000, (tick_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void fm_http_stop(fm_http *h) {
    if (!h) return;
    if (h->mhd) MHD_stop_daemon(h->mhd); /* closes the listening socket unless it was quiesced */
    if (h->quiesced && h->listen_fd >= 0) close(h->listen_fd);
    fm_http_metrics_free(h->metrics);
    free(h->endpoints);
    pthread_mutex_destroy(&h->conn_mu);
    free(h);
}

void fm_http_metrics_render(const fm_http *h, fm_buf *out) {
    fm_http_metrics_write(h->metrics, out);
    fm_http *m = (fm_http *)h;
    pthread_mutex_lock(&m->conn_mu);
    unsigned n = m->nunauth;
    pthread_mutex_unlock(&m->conn_mu);
    fm_buf_printf(out,
                  "# HELP featherman_http_unauthenticated_connections Open connections without a valid token yet.\n"
                  "# TYPE featherman_http_unauthenticated_connections gauge\n"
                  "featherman_http_unauthenticated_connections %u\n"
                  "# HELP featherman_http_connections_evicted_total Unauthenticated connections closed to make room.\n"
                  "# TYPE featherman_http_connections_evicted_total counter\n"
                  "featherman_http_connections_evicted_total %llu\n",
                  n, (unsigned long long)atomic_load(&m->evicted));
}
