/* The query API of `local` and `worker serve` on the HTTP layer (protocol in server.h): the
 * endpoints, a query's life from its slot to its last streamed byte, the watchdog, the main loop
 * that drains on SIGTERM. */
#include "engine/server.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/json_out.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/signals.h"
#include "base/xalloc.h"
#include "engine/query_run.h"
#include "engine/slots.h"
#include "http/http.h"
#include "http/request.h"

#define WATCH_MS 10 /* the watchdog's period: how late a timeout or a hang-up is noticed at most */

typedef struct {
    fm_engine *engine;
    fm_slots slots;
    pthread_mutex_t write_mu; /* one writer per catalog at a time (query_run.h) */
} served_catalog;

struct fm_server {
    fm_server_config cfg;
    fm_http *http;
    served_catalog *cats;
    size_t ncats;
    fm_http_token token;
    char **failed_names, **failed_causes; /* catalogs that could not be opened */
    size_t nfailed;
    int64_t started_ms;
    atomic_int once_done;
};

/* one POST /query, owned by its HTTP request (freed with it) */
typedef struct {
    fm_server *srv;
    const char *id;
    served_catalog *cat;
    int slot; /* -1: none held */
    int64_t deadline_ms;
    fm_run *run;
    fm_buf out;
    size_t off;
    int finished; /* end of stream produced */
    int failed;   /* aborted mid-stream */
} query;

static unsigned status_for(const served_catalog *cat, fm_errcode code) {
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

/* An engine error can quote the object store's URL (DuckDB's HTTP errors do): the client gets
 * the message with every http:// or https:// URL replaced, the log keeps it whole. */
static void error_answer(fm_http_req *r, unsigned status, fm_errcode code, const char *msg) {
    fm_buf b;
    fm_buf_init(&b);
    int scrubbed = 0;
    for (const char *p = msg; *p;) {
        if (!strncasecmp(p, "http://", 7) || !strncasecmp(p, "https://", 8)) {
            fm_buf_puts(&b, "<object store URL>");
            while (*p && *p != ' ' && *p != '"' && *p != '\'' && *p != '\n' && *p != ')') p++;
            scrubbed = 1;
        } else {
            fm_buf_append(&b, p++, 1);
        }
    }
    if (scrubbed) fm_warn("request %s: %s", fm_http_req_id(r), msg);
    fm_http_error(r, status, fm_errcode_name(code), b.data ? b.data : "");
    fm_buf_free(&b);
}

static int token_ok(void *ud, const char *token, size_t len) {
    fm_server *s = ud;
    return fm_http_token_equal(&s->token, token, len);
}

/* ---- GET endpoints -------------------------------------------------------------------------- */

static void iso_time(int64_t ms, char *out, size_t n) {
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", (int)(ms % 1000));
}

/* The handlers read the HTTP server through their request, never through s->http: a request can
 * arrive between fm_http_start binding the port and its result being stored in s->http. */
static void render_status(fm_server *s, fm_http *h, fm_buf *b) {
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
    const char *pod = fm_http_pod(h);
    fm_json_string(b, pod, strlen(pod));
    fm_buf_printf(b, ",\"version\":\"%s\",\"startedAt\":\"%s\",\"slots\":%d,\"busy\":%d,\"queued\":%d,\"queriesServed\":%llu",
                  FEATHERMAN_VERSION, started, slots, busy, queued, served);
    if (busy == 0) {
        iso_time(idle_since, idle, sizeof idle);
        fm_buf_printf(b, ",\"idleSince\":\"%s\"", idle);
    } else {
        fm_buf_puts(b, ",\"idleSince\":null");
    }
    fm_buf_printf(b, ",\"draining\":%s,\"sandboxed\":%s,\"catalogs\":[%s]}\n", fm_http_draining(h) ? "true" : "false",
                  s->cfg.sandboxed ? "true" : "false", cats.data ? cats.data : "");
    fm_buf_free(&cats);
}

static void on_readyz(fm_http_req *r, void *ud) {
    fm_server *s = ud;
    if (fm_http_draining(fm_http_req_server(r))) {
        fm_http_respond(r, 503, "text/plain", "draining\n", 9);
        return;
    }
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "ready\n");
    for (size_t i = 0; i < s->nfailed; i++)
        fm_buf_printf(&b, "catalog %s unavailable: %s\n", s->failed_names[i], s->failed_causes[i]);
    fm_http_respond(r, 200, "text/plain", b.data, b.len);
    fm_buf_free(&b);
}

static void on_metrics(fm_http_req *r, void *ud) {
    fm_server *s = ud;
    fm_buf b;
    fm_buf_init(&b);
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
    fm_http_metrics_render(fm_http_req_server(r), &b);
    fm_http_respond(r, 200, "text/plain; version=0.0.4", b.data, b.len);
    fm_buf_free(&b);
}

static void on_status(fm_http_req *r, void *ud) {
    fm_buf b;
    fm_buf_init(&b);
    render_status(ud, fm_http_req_server(r), &b);
    fm_http_respond(r, 200, "application/json", b.data, b.len);
    fm_buf_free(&b);
}

/* ---- POST /query ---------------------------------------------------------------------------- */

static ssize_t read_result(void *ud, char *buf, size_t max) {
    query *q = ud;
    while (q->off >= q->out.len) {
        if (q->finished) return 0;
        fm_buf_reset(&q->out);
        q->off = 0;
        fm_err err;
        fm_err_clear(&err);
        int rc = fm_run_next(q->run, &q->out, &err);
        if (rc < 0) {
            int st = atomic_load(&q->cat->slots.slot[q->slot].state);
            fm_warn("query %s failed after streaming began%s: %s", q->id,
                    st == FM_SLOT_TIMED_OUT ? " (time limit reached)" : st == FM_SLOT_CANCELLED ? " (client went away)" : "",
                    err.msg);
            q->failed = 1;
            return -1;
        }
        if (rc == 0) q->finished = 1;
    }
    size_t n = q->out.len - q->off;
    if (n > max) n = max;
    memcpy(buf, q->out.data + q->off, n);
    q->off += n;
    fm_metrics_streamed(0, n);
    return (ssize_t)n;
}

/* the end of a query request, however it ended: the run, the slot, the metrics */
static void query_done(void *ud, fm_http_req *r, int completed) {
    query *q = ud;
    /* the connection is kept only after a plain read that ended cleanly (slots.h) */
    int renew = !(completed && !q->failed && fm_run_clean_read(q->run) && q->slot >= 0 &&
                  atomic_load(&q->cat->slots.slot[q->slot].state) == FM_SLOT_RUNNING);
    if (q->run) {
        fm_metrics_streamed(fm_run_rows(q->run), 0);
        if (q->failed) fm_metrics_error(FM_STAGE_MID_STREAM);
        else if (!completed) fm_metrics_error(FM_STAGE_CANCELLED);
        fm_run_free(q->run);
    }
    if (q->slot >= 0) fm_slots_release(&q->cat->slots, q->slot, renew);
    int status = fm_http_req_status(r);
    if (status)
        fm_debug("query %s: status %d in %.3f s", q->id, status, (double)(fm_now_ms() - fm_http_req_start_ms(r)) / 1000.0);
    /* --once ends after one query that got a slot, not after a stray unauthenticated call */
    if (q->slot >= 0 && q->srv->cfg.once) atomic_store(&q->srv->once_done, 1);
    fm_buf_free(&q->out);
}

static served_catalog *find_catalog(fm_server *s, const char *name) {
    if (!name) return s->ncats == 1 && !s->nfailed ? &s->cats[0] : NULL;
    for (size_t i = 0; i < s->ncats; i++)
        if (!strcmp(fm_engine_catalog(s->cats[i].engine), name)) return &s->cats[i];
    return NULL;
}

/* takes a slot and starts the run; answers the request itself when that fails */
static int start_run(fm_http_req *r, query *q, served_catalog *cat, const fm_query_request *req, fm_format f) {
    fm_server *s = q->srv;
    long timeout = req->timeout_ms ? req->timeout_ms : s->cfg.default_timeout_ms;
    if (timeout > s->cfg.max_timeout_ms) timeout = s->cfg.max_timeout_ms;
    fm_err err;
    fm_err_clear(&err);
    q->deadline_ms = fm_now_ms() + timeout;
    int slot = fm_slots_acquire(&cat->slots, q->deadline_ms, fm_http_client_gone_cb, r, &err);
    if (slot < 0) {
        error_answer(r, status_for(cat, err.code), err.code, err.msg);
        return -1;
    }
    q->cat = cat;
    q->slot = slot;
    fm_run_ctx ctx = {.state = &cat->slots.slot[slot].state, .write_lock = &cat->write_mu};
    const fm_sqlguard *guard = fm_engine_guard(cat->engine);
    q->run = fm_run_start_ctx(cat->slots.slot[slot].con, &ctx, guard, fm_sqlguard_scope(guard), req->sql, f, &q->out,
                              &err);
    if (q->run) return 0;
    if (atomic_load(&cat->slots.slot[slot].state) == FM_SLOT_TIMED_OUT) {
        fm_http_errorf(r, 504, "timeout", "the query ran longer than its time limit of %ld ms and was cancelled", timeout);
        return -1;
    }
    fm_metrics_error(FM_STAGE_BEFORE_STREAM);
    error_answer(r, status_for(cat, err.code), err.code, err.msg);
    return -1;
}

static void on_query(fm_http_req *r, void *ud) {
    fm_server *s = ud;
    query *q = fm_http_req_alloc(r, sizeof *q);
    q->srv = s;
    q->id = fm_http_req_id(r);
    q->slot = -1;
    fm_buf_init(&q->out);
    fm_http_req_on_done(r, query_done, q);
    fm_query_request req;
    fm_format f;
    if (fm_query_request_read(r, &req, &f)) return;
    served_catalog *cat = find_catalog(s, req.catalog);
    const char *cause = NULL;
    for (size_t i = 0; !cat && req.catalog && i < s->nfailed; i++)
        if (!strcmp(s->failed_names[i], req.catalog)) cause = s->failed_causes[i];
    if (cause)
        fm_http_errorf(r, 503, "unavailable", "catalog \"%.200s\" is unavailable: it could not be opened at start: %.700s",
                       req.catalog, cause);
    else if (!cat && req.catalog)
        fm_http_errorf(r, 404, "not_found", "unknown catalog \"%.200s\"", req.catalog);
    else if (!cat)
        fm_http_errorf(r, 400, "invalid", "\"catalog\" is required: this server serves %zu catalogs", s->ncats + s->nfailed);
    else if (!start_run(r, q, cat, &req, f)) {
        /* a client that stops reading is cut off at the query's deadline and its slot freed */
        fm_http_req_set_deadline(r, q->deadline_ms);
        fm_http_stream(r, 200, fm_format_content_type(f), read_result, q);
    }
    fm_query_request_free(&req);
}

static const fm_http_route ROUTES[] = {
    {"POST", "/query", FM_HTTP_AUTH | FM_HTTP_NOT_DRAINING | FM_HTTP_BODY | FM_HTTP_QUERY, on_query},
    {"GET", "/healthz", 0, fm_http_healthz},
    {"GET", "/readyz", 0, on_readyz},
    {"GET", "/metrics", 0, on_metrics},
    {"GET", "/status", FM_HTTP_ADMIN, on_status}, /* names pods and catalogs: the server's own token only */
};

/* ---- life cycle ----------------------------------------------------------------------------- */

/* every request gets a fresh connection (slots.h): connecting plus USE is cheap next to the
 * risk of one request's session state reaching another client */
static int slot_connect(void *ud, duckdb_connection *out) {
    fm_err err;
    fm_err_clear(&err);
    if (!fm_engine_connect(ud, out, &err)) return 0;
    fm_warn("cannot open a query connection for catalog %s: %s", fm_engine_catalog(ud), err.msg);
    return -1;
}

fm_server *fm_server_start(const fm_server_config *cfg, fm_engine **engines, size_t n, fm_err *err) {
    if (!cfg->token || !*cfg->token) {
        fm_fail(err, FM_E_INVALID, "a query token is required");
        return NULL;
    }
    fm_server *s = fm_xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.listen_addr) s->cfg.listen_addr = "127.0.0.1";
    if (!s->cfg.port) s->cfg.port = 8080;
    if (!s->cfg.max_body) s->cfg.max_body = 1 << 20;
    if (!s->cfg.default_timeout_ms) s->cfg.default_timeout_ms = 60000;
    if (!s->cfg.max_timeout_ms) s->cfg.max_timeout_ms = s->cfg.default_timeout_ms;
    if (!s->cfg.drain_ms) s->cfg.drain_ms = 30000;
    if (s->cfg.queue_max > 0 && !s->cfg.queue_wait_ms) s->cfg.queue_wait_ms = 30000;
    size_t tlen = strlen(cfg->token);
    const char *tok = fm_http_token_trim(cfg->token, &tlen); /* the rule of http.h: stored tokens are trimmed */
    if (!tlen) {
        fm_fail(err, FM_E_INVALID, "the query token is only whitespace");
        free(s->cats);
        free(s);
        return NULL;
    }
    fm_http_token_set(&s->token, tok, tlen);
    s->cfg.token = NULL; /* not kept: only its hash is needed */
    s->started_ms = fm_wall_ms();
    s->nfailed = cfg->nfailed;
    s->failed_names = fm_xcalloc(cfg->nfailed + 1, sizeof *s->failed_names);
    s->failed_causes = fm_xcalloc(cfg->nfailed + 1, sizeof *s->failed_causes);
    for (size_t i = 0; i < cfg->nfailed; i++) {
        s->failed_names[i] = fm_xstrdup(cfg->failed_catalogs[i]);
        s->failed_causes[i] = fm_xstrdup(cfg->failed_causes[i]);
    }
    s->cfg.failed_catalogs = s->cfg.failed_causes = NULL;
    s->cats = fm_xcalloc(n, sizeof *s->cats);
    s->ncats = n;
    for (size_t i = 0; i < n; i++) {
        s->cats[i].engine = engines[i];
        pthread_mutex_init(&s->cats[i].write_mu, NULL);
        int k = fm_engine_slots(engines[i]);
        duckdb_connection *cons = fm_xcalloc((size_t)k, sizeof *cons);
        int rc = 0;
        for (int j = 0; j < k && !rc; j++) rc = fm_engine_connect(engines[i], &cons[j], err);
        fm_slots_init(&s->cats[i].slots, cons, k, s->cfg.queue_max, s->cfg.queue_wait_ms);
        fm_slots_set_connect(&s->cats[i].slots, slot_connect, engines[i]);
        free(cons);
        if (rc) {
            fm_server_free(s);
            return NULL;
        }
    }
    fm_http_config hc = {.name = "server", .addr = s->cfg.listen_addr, .port = s->cfg.port, .routes = ROUTES,
                         .nroutes = sizeof ROUTES / sizeof ROUTES[0], .ud = s, .auth = token_ok,
                         .max_body = s->cfg.max_body, .pod = cfg->pod_name, .id_prefix = "q", .conn_limit = 1000,
                         .conn_timeout_s = 300};
    s->http = fm_http_start(&hc, err);
    if (!s->http) {
        fm_server_free(s);
        return NULL;
    }
    fm_info("query API listening on http://%s:%d (%zu catalog%s)", s->cfg.listen_addr, fm_http_port(s->http), n,
            n == 1 ? "" : "s");
    return s;
}

int fm_server_port(const fm_server *s) { return fm_http_port(s->http); }

static void watch(void *ud) {
    fm_server *s = ud;
    for (size_t i = 0; i < s->ncats; i++) fm_slots_watch(&s->cats[i].slots, fm_now_ms());
}

int fm_server_run(fm_server *s) {
    for (;;) {
        int sig = fm_signals_wait(WATCH_MS);
        watch(s);
        if (sig) {
            fm_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (atomic_load(&s->once_done)) break;
    }
    fm_http_quiesce(s->http);
    int left = fm_http_drain(s->http, s->cfg.drain_ms, WATCH_MS, watch, s);
    if (left) fm_warn("%d request%s still running after %ld ms: closing them", left, left == 1 ? "" : "s", s->cfg.drain_ms);
    fm_http_stop(s->http);
    s->http = NULL;
    fm_info("query API stopped");
    return 0;
}

void fm_server_free(fm_server *s) {
    if (!s) return;
    fm_http_stop(s->http);
    for (size_t i = 0; i < s->ncats; i++) {
        if (!s->cats[i].engine) continue; /* start failed before this catalog was set up */
        fm_slots_destroy(&s->cats[i].slots);
        pthread_mutex_destroy(&s->cats[i].write_mu);
    }
    free(s->cats);
    for (size_t i = 0; i < s->nfailed; i++) free(s->failed_names[i]), free(s->failed_causes[i]);
    free(s->failed_names);
    free(s->failed_causes);
    free(s);
}
