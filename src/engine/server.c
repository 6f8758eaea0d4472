/* libmicrohttpd glue for the query API: routing, authentication, request bodies, streaming
 * responses, the watchdog, draining on SIGTERM (see server.h for the protocol). */
#include "engine/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json_out.h"
#include "base/log.h"
#include "base/metrics.h"
#include "engine/query_run.h"
#include "http/request.h"
#include "engine/slots.h"

typedef struct {
    fm_engine *engine;
    fm_slots slots;
} served_catalog;

struct fm_server {
    fm_server_config cfg;
    struct MHD_Daemon *mhd;
    served_catalog *cats;
    size_t ncats;
    unsigned char token_hash[SHA256_DIGEST_LENGTH];
    char pod[128];
    int port;
    int64_t started_ms;
    atomic_int draining;
    atomic_int inflight;
    atomic_int once_done;
    atomic_ullong next_id;
};

enum route { R_QUERY, R_DONE };

typedef struct {
    fm_server *srv;
    enum route route;
    fm_buf body;
    int too_large;
    int64_t t0;
    /* a running query */
    served_catalog *cat;
    int slot;
    fm_run *run;
    fm_buf out;
    size_t off;
    int finished; /* end of stream produced */
    int failed;   /* aborted mid-stream */
    int format;
    int status;
    int counted; /* counted in featherman_queries_in_flight */
    char id[40];
} req;

/* ---- small responses ------------------------------------------------------------------------ */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned code, const char *type, const char *body,
                                 size_t len, const req *r) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (r && r->srv) MHD_add_response_header(resp, "X-Featherman-Pod", r->srv->pod);
    if (r && r->id[0]) MHD_add_response_header(resp, "X-Featherman-Query-Id", r->id);
    if (code == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"featherman\"");
    enum MHD_Result rc = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static unsigned status_for(const fm_server *s, const served_catalog *cat, fm_errcode code) {
    switch (code) {
    case FM_E_INVALID: return 400;
    case FM_E_NOT_FOUND: return 404;
    case FM_E_REFUSED: return 403;
    case FM_E_UNAVAILABLE: return 503;
    case FM_E_TIMEOUT: return 504;
    case FM_E_BUSY: return cat && cat->slots.queue_max > 0 ? 429 : 409;
    default: return 500;
    }
}

static enum MHD_Result send_error(struct MHD_Connection *c, req *r, unsigned code, const char *ecode, const char *msg) {
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "{\"error\":{\"code\":");
    fm_json_string(&b, ecode, strlen(ecode));
    fm_buf_puts(&b, ",\"message\":");
    fm_json_string(&b, msg, strlen(msg));
    fm_buf_puts(&b, "}}\n");
    r->status = (int)code;
    enum MHD_Result rc = send_text(c, code, "application/json", b.data, b.len, r);
    fm_buf_free(&b);
    return rc;
}

/* ---- authentication ------------------------------------------------------------------------- */

static int token_ok(const fm_server *s, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    const char *t = h + 7;
    while (*t == ' ') t++;
    /* hashing first makes the comparison independent of both lengths and contents */
    unsigned char got[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)t, strlen(t), got);
    return CRYPTO_memcmp(got, s->token_hash, sizeof got) == 0;
}

/* ---- GET endpoints -------------------------------------------------------------------------- */

static void iso_time(int64_t ms, char *out, size_t n) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ms % 1000));
}

static void render_status(fm_server *s, fm_buf *b) {
    char started[40], idle[40];
    iso_time(s->started_ms, started, sizeof started);
    int slots = 0, busy = 0, queued = 0;
    unsigned long long served = 0;
    int64_t idle_since = 0;
    fm_buf cats;
    fm_buf_init(&cats);
    for (size_t i = 0; i < s->ncats; i++) {
        fm_slots *sl = &s->cats[i].slots;
        pthread_mutex_lock(&sl->mu);
        int n = sl->n, nb = sl->nbusy, nq = sl->nwaiting;
        unsigned long long sv = sl->served;
        int64_t is = sl->idle_since_ms;
        pthread_mutex_unlock(&sl->mu);
        slots += n, busy += nb, queued += nq, served += sv;
        if (nb == 0 && is > idle_since) idle_since = is;
        iso_time(is, idle, sizeof idle);
        const char *name = fm_engine_catalog(s->cats[i].engine);
        fm_buf_puts(&cats, i ? ",{\"name\":" : "{\"name\":");
        fm_json_string(&cats, name, strlen(name));
        fm_buf_printf(&cats, ",\"slots\":%d,\"busy\":%d,\"queued\":%d,\"queriesServed\":%llu,\"readOnly\":%s", n, nb,
                      nq, sv, fm_engine_read_only(s->cats[i].engine) ? "true" : "false");
        if (nb == 0) fm_buf_printf(&cats, ",\"idleSince\":\"%s\"}", idle);
        else fm_buf_puts(&cats, ",\"idleSince\":null}");
    }
    fm_buf_printf(b, "{\"role\":\"%s\",\"pod\":", s->cfg.role ? s->cfg.role : "local");
    fm_json_string(b, s->pod, strlen(s->pod));
    fm_buf_printf(b, ",\"version\":\"%s\",\"startedAt\":\"%s\",\"slots\":%d,\"busy\":%d,\"queued\":%d,\"queriesServed\":%llu",
                  FEATHERMAN_VERSION, started, slots, busy, queued, served);
    if (busy == 0) {
        iso_time(idle_since, idle, sizeof idle);
        fm_buf_printf(b, ",\"idleSince\":\"%s\"", idle);
    } else {
        fm_buf_puts(b, ",\"idleSince\":null");
    }
    fm_buf_printf(b, ",\"draining\":%s,\"sandboxed\":%s,\"catalogs\":[%s]}\n", atomic_load(&s->draining) ? "true" : "false",
                  s->cfg.sandboxed ? "true" : "false", cats.data ? cats.data : "");
    fm_buf_free(&cats);
}

static enum MHD_Result handle_get(fm_server *s, struct MHD_Connection *c, const char *url, req *r) {
    if (!strcmp(url, "/healthz")) return send_text(c, 200, "text/plain", "ok\n", 3, r);
    if (!strcmp(url, "/readyz")) {
        if (atomic_load(&s->draining)) return send_text(c, 503, "text/plain", "draining\n", 9, r);
        return send_text(c, 200, "text/plain", "ready\n", 6, r);
    }
    fm_buf b;
    fm_buf_init(&b);
    enum MHD_Result rc;
    if (!strcmp(url, "/metrics")) {
        fm_metrics_render(&b);
        for (size_t i = 0; i < s->ncats; i++) {
            fm_slots *sl = &s->cats[i].slots;
            pthread_mutex_lock(&sl->mu);
            int n = sl->n, nb = sl->nbusy, nq = sl->nwaiting;
            pthread_mutex_unlock(&sl->mu);
            const char *name = fm_engine_catalog(s->cats[i].engine);
            if (i == 0)
                fm_buf_puts(&b, "# HELP featherman_slots Query slots per catalog by state.\n# TYPE featherman_slots gauge\n");
            fm_buf_puts(&b, "featherman_slots{catalog=");
            fm_json_string(&b, name, strlen(name)); /* a JSON string is a valid label value */
            fm_buf_printf(&b, ",state=\"busy\"} %d\nfeatherman_slots{catalog=", nb);
            fm_json_string(&b, name, strlen(name));
            fm_buf_printf(&b, ",state=\"free\"} %d\nfeatherman_queue_length{catalog=", n - nb);
            fm_json_string(&b, name, strlen(name));
            fm_buf_printf(&b, "} %d\n", nq);
        }
        rc = send_text(c, 200, "text/plain; version=0.0.4", b.data, b.len, r);
    } else if (!strcmp(url, "/status")) {
        render_status(s, &b);
        rc = send_text(c, 200, "application/json", b.data, b.len, r);
    } else {
        rc = send_error(c, r, 404, "not_found", "no such endpoint (POST /query, GET /healthz /readyz /metrics /status)");
    }
    fm_buf_free(&b);
    return rc;
}

/* ---- POST /query ---------------------------------------------------------------------------- */

static ssize_t read_result(void *cls, uint64_t pos, char *buf, size_t max) {
    req *r = cls;
    (void)pos;
    while (r->off >= r->out.len) {
        if (r->finished) return MHD_CONTENT_READER_END_OF_STREAM;
        fm_buf_reset(&r->out);
        r->off = 0;
        fm_err err;
        fm_err_clear(&err);
        int rc = fm_run_next(r->run, &r->out, &err);
        if (rc < 0) {
            int st = atomic_load(&r->cat->slots.slot[r->slot].state);
            fm_warn("query %s failed after streaming began%s: %s", r->id,
                    st == FM_SLOT_TIMED_OUT ? " (time limit reached)" : st == FM_SLOT_CANCELLED ? " (client went away)" : "",
                    err.msg);
            r->failed = 1;
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (rc == 0) r->finished = 1;
    }
    size_t n = r->out.len - r->off;
    if (n > max) n = max;
    memcpy(buf, r->out.data + r->off, n);
    r->off += n;
    fm_metrics_streamed(0, n);
    return (ssize_t)n;
}

static served_catalog *find_catalog(fm_server *s, const char *name) {
    if (!name) return s->ncats == 1 ? &s->cats[0] : NULL;
    for (size_t i = 0; i < s->ncats; i++)
        if (!strcmp(fm_engine_catalog(s->cats[i].engine), name)) return &s->cats[i];
    return NULL;
}

static enum MHD_Result start_query(fm_server *s, struct MHD_Connection *c, req *r) {
    if (r->too_large) {
        char m[96];
        snprintf(m, sizeof m, "request body is larger than %zu bytes", s->cfg.max_body);
        return send_error(c, r, 413, "too_large", m);
    }
    fm_query_request q;
    fm_err err;
    fm_err_clear(&err);
    if (fm_query_request_parse(r->body.data ? r->body.data : "", r->body.len, &q, &err))
        return send_error(c, r, 400, "invalid", err.msg);
    fm_format f = fm_query_request_format(&q, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    r->format = (int)f;
    served_catalog *cat = find_catalog(s, q.catalog);
    enum MHD_Result rc;
    if (!cat) {
        char m[300];
        if (q.catalog) snprintf(m, sizeof m, "unknown catalog \"%.200s\"", q.catalog);
        else snprintf(m, sizeof m, "\"catalog\" is required: this server serves %zu catalogs", s->ncats);
        rc = send_error(c, r, q.catalog ? 404 : 400, q.catalog ? "not_found" : "invalid", m);
        fm_query_request_free(&q);
        return rc;
    }
    long timeout = q.timeout_ms ? q.timeout_ms : s->cfg.default_timeout_ms;
    if (timeout > s->cfg.max_timeout_ms) timeout = s->cfg.max_timeout_ms;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = ci ? ci->connect_fd : -1;
    int slot = fm_slots_acquire(&cat->slots, fm_now_ms() + timeout, fd, &err);
    if (slot < 0) {
        rc = send_error(c, r, status_for(s, cat, err.code), fm_errcode_name(err.code), err.msg);
        fm_query_request_free(&q);
        return rc;
    }
    r->cat = cat;
    r->slot = slot;
    fm_buf_init(&r->out);
    r->run = fm_run_start(cat->slots.slot[slot].con, fm_engine_guard(cat->engine), q.sql, f, &r->out, &err);
    fm_query_request_free(&q);
    if (!r->run) {
        int st = atomic_load(&cat->slots.slot[slot].state);
        if (st == FM_SLOT_TIMED_OUT) {
            char m[96];
            snprintf(m, sizeof m, "the query ran longer than its time limit of %ld ms and was cancelled", timeout);
            return send_error(c, r, 504, "timeout", m);
        }
        fm_metrics_error(FM_STAGE_BEFORE_STREAM);
        return send_error(c, r, status_for(s, cat, err.code), fm_errcode_name(err.code), err.msg);
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256 * 1024, read_result, r, NULL);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, fm_format_content_type(f));
    MHD_add_response_header(resp, "X-Featherman-Query-Id", r->id);
    MHD_add_response_header(resp, "X-Featherman-Pod", s->pod);
    r->status = 200;
    rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    fm_server *s = cls;
    (void)version;
    req *r = *con_cls;
    if (!r) { /* first call: headers only */
        r = calloc(1, sizeof *r);
        r->srv = s;
        r->t0 = fm_now_ms();
        r->format = -1;
        r->slot = -1;
        fm_buf_init(&r->body);
        *con_cls = r;
        atomic_fetch_add(&s->inflight, 1);
        if (!strcmp(url, "/query")) {
            snprintf(r->id, sizeof r->id, "q-%llx-%llu", (unsigned long long)s->started_ms,
                     (unsigned long long)atomic_fetch_add(&s->next_id, 1));
            if (strcmp(method, "POST")) {
                r->route = R_DONE;
                return send_error(c, r, 405, "method_not_allowed", "use POST /query");
            }
            if (!token_ok(s, c)) {
                r->route = R_DONE;
                return send_error(c, r, 401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
            }
            if (atomic_load(&s->draining)) {
                r->route = R_DONE;
                return send_error(c, r, 503, "unavailable", "the server is shutting down");
            }
            const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
            if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
                r->route = R_DONE;
                char m[96];
                snprintf(m, sizeof m, "request body is larger than %zu bytes", s->cfg.max_body);
                return send_error(c, r, 413, "too_large", m);
            }
            r->route = R_QUERY;
            r->counted = 1;
            fm_metrics_inflight(1);
            return MHD_YES;
        }
        r->route = R_DONE;
        if (strcmp(method, "GET") && strcmp(method, "HEAD"))
            return send_error(c, r, strcmp(url, "/healthz") && strcmp(url, "/readyz") && strcmp(url, "/metrics") &&
                                            strcmp(url, "/status")
                                        ? 404
                                        : 405,
                              "method_not_allowed", "use GET");
        return handle_get(s, c, url, r);
    }
    if (r->route != R_QUERY) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > s->cfg.max_body) r->too_large = 1;
        else fm_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    r->route = R_DONE;
    return start_query(s, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    fm_server *s = cls;
    (void)c;
    req *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (r->id[0]) { /* a /query request */
        int status = r->status;
        if (r->run) {
            unsigned long long rows = fm_run_rows(r->run);
            fm_metrics_streamed(rows, 0);
            if (r->failed) fm_metrics_error(FM_STAGE_MID_STREAM);
            else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) fm_metrics_error(FM_STAGE_CANCELLED);
            fm_run_free(r->run);
        }
        if (r->slot >= 0) fm_slots_release(&r->cat->slots, r->slot);
        if (status) fm_metrics_request(r->format, status);
        double secs = (double)(fm_now_ms() - r->t0) / 1000.0;
        if (status) fm_metrics_duration(secs);
        if (r->route == R_DONE && status) fm_debug("query %s: status %d in %.3f s", r->id, status, secs);
        /* --once ends after one query that got a slot, not after a stray unauthenticated call */
        if (r->slot >= 0 && s->cfg.once) atomic_store(&s->once_done, 1);
        if (r->counted) fm_metrics_inflight(-1);
        fm_buf_free(&r->out);
    }
    fm_buf_free(&r->body);
    atomic_fetch_sub(&s->inflight, 1);
    free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_vprintf(&b, fmt, ap);
    while (b.len && (b.data[b.len - 1] == '\n')) b.data[--b.len] = 0;
    fm_warn("http: %s", b.data ? b.data : "");
    fm_buf_free(&b);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

fm_server *fm_server_start(const fm_server_config *cfg, fm_engine **engines, size_t n, fm_err *err) {
    if (!cfg->token || !*cfg->token) {
        fm_fail(err, FM_E_INVALID, "a query token is required");
        return NULL;
    }
    fm_server *s = calloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.listen_addr) s->cfg.listen_addr = "127.0.0.1";
    if (!s->cfg.port) s->cfg.port = 8080;
    if (!s->cfg.max_body) s->cfg.max_body = 1 << 20;
    if (!s->cfg.default_timeout_ms) s->cfg.default_timeout_ms = 60000;
    if (!s->cfg.max_timeout_ms) s->cfg.max_timeout_ms = s->cfg.default_timeout_ms;
    if (!s->cfg.drain_ms) s->cfg.drain_ms = 30000;
    if (s->cfg.queue_max > 0 && !s->cfg.queue_wait_ms) s->cfg.queue_wait_ms = 30000;
    SHA256((const unsigned char *)cfg->token, strlen(cfg->token), s->token_hash);
    s->cfg.token = NULL; /* not kept: only its hash is needed */
    if (cfg->pod_name) snprintf(s->pod, sizeof s->pod, "%s", cfg->pod_name);
    else if (gethostname(s->pod, sizeof s->pod)) snprintf(s->pod, sizeof s->pod, "featherman");
    s->started_ms = fm_wall_ms();
    s->cats = calloc(n, sizeof *s->cats);
    s->ncats = n;
    for (size_t i = 0; i < n; i++) {
        s->cats[i].engine = engines[i];
        int k = fm_engine_slots(engines[i]);
        duckdb_connection *cons = calloc((size_t)k, sizeof *cons);
        for (int j = 0; j < k; j++) cons[j] = fm_engine_slot(engines[i], j);
        fm_slots_init(&s->cats[i].slots, cons, k, s->cfg.queue_max, s->cfg.queue_wait_ms);
        free(cons);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->cfg.port)};
    if (inet_pton(AF_INET, s->cfg.listen_addr, &addr.sin_addr) != 1) {
        fm_fail(err, FM_E_INVALID, "listen address %s is not an IPv4 address", s->cfg.listen_addr);
        fm_server_free(s);
        return NULL;
    }
    s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                              0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned int)1000, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (!s->mhd) {
        fm_fail(err, FM_E_UNAVAILABLE, "cannot listen on %s:%d: %s", s->cfg.listen_addr, s->cfg.port, strerror(errno));
        fm_server_free(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg.port;
    fm_info("query API listening on http://%s:%d (%zu catalog%s)", s->cfg.listen_addr, s->port, n, n == 1 ? "" : "s");
    return s;
}

int fm_server_port(const fm_server *s) { return s->port; }

int fm_server_run(fm_server *s) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 10 * 1000000L}; /* the watchdog's period */
    for (;;) {
        int sig = sigtimedwait(&set, NULL, &tick);
        for (size_t i = 0; i < s->ncats; i++) fm_slots_watch(&s->cats[i].slots, fm_now_ms());
        if (sig == SIGTERM || sig == SIGINT) {
            fm_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (atomic_load(&s->once_done)) break;
    }
    atomic_store(&s->draining, 1);
    MHD_socket ls = MHD_quiesce_daemon(s->mhd);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    int64_t until = fm_now_ms() + s->cfg.drain_ms;
    while (fm_now_ms() < until) {
        int busy = 0;
        for (size_t i = 0; i < s->ncats; i++) {
            pthread_mutex_lock(&s->cats[i].slots.mu);
            busy += s->cats[i].slots.nbusy + s->cats[i].slots.nwaiting;
            pthread_mutex_unlock(&s->cats[i].slots.mu);
            fm_slots_watch(&s->cats[i].slots, fm_now_ms());
        }
        if (!busy) break;
        nanosleep(&tick, NULL);
    }
    MHD_stop_daemon(s->mhd);
    s->mhd = NULL;
    fm_info("query API stopped");
    return 0;
}

void fm_server_free(fm_server *s) {
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd);
    for (size_t i = 0; i < s->ncats; i++) fm_slots_destroy(&s->cats[i].slots);
    free(s->cats);
    free(s);
}
