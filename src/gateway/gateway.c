/* `featherman gateway` (featherman-query): the cluster's query endpoint (brief §4).
 *
 *   POST /query   the same protocol as `local` and `worker serve` (server.h): a client token from
 *                 the tokens Secret (gw_tokens.h) or 401 before any pod is touched; the body is
 *                 checked (400/413), the catalog must exist (404); the query goes to a free Ready
 *                 pod of a pool serving the catalog (gw_route.h: FIFO queue per pool, 429 when
 *                 full, 503 after queue.maxWaitTime), or to a one-off `worker serve --once` Job
 *                 when the catalog has no pool or its pool has no ready pod (gw_fallback.h). The
 *                 pod's answer passes through byte for byte (status, Content-Type,
 *                 X-Featherman-Query-Id, plus X-Featherman-Pod: the pod's name); an upstream
 *                 that breaks mid-stream breaks the client's chunked stream (no terminating chunk).
 *                 A 409 from the pod (busy after all) sends the query back to the head of the
 *                 queue; a pod that refuses the connection is skipped. maxQueryDuration: the
 *                 forwarded timeoutMs is capped to it, and the gateway aborts the upstream
 *                 transfer a second after it (504 before the first byte, a broken stream after).
 *                 A client that disconnects (while queued, waiting or streaming) aborts the
 *                 upstream transfer, so the worker interrupts the query.
 *   GET /healthz  alive;  GET /readyz  informers synced and client tokens read (else 503)
 *   GET /metrics  featherman_queries_total{format,code} etc. (metrics.h) + per-pool (gw_metrics.h)
 *
 * Pods and pools are found through the API only: informers (list + watch) on pods labelled
 * app.kubernetes.io/component=pool-worker, on ducklakepools and on ducklakecatalogs, all in the
 * gateway's namespace. Secrets are read on demand (GET by name), never watched or cached long. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "model/format.h"
#include "base/fsutil.h"
#include "gateway/gw_fallback.h"
#include "gateway/gw_metrics.h"
#include "gateway/gw_proxy.h"
#include "gateway/gw_route.h"
#include "gateway/gw_tokens.h"
#include "base/json_out.h"
#include "k8s/k8s_names.h"
#include "kube/informer.h"
#include "kube/kube_config.h"
#include "kube/kube_http.h"
#include "base/listen.h"
#include "base/log.h"
#include "base/metrics.h"
#include "http/request.h"
#include "roles.h"
#include "base/signals.h"
#include "base/clock.h"
#include "model/spec.h"

static const kube_resource RES_POOLS = {FM_GROUP, FM_VERSION, "ducklakepools", "DuckLakePool", 1};
static const kube_resource RES_CATALOGS = {FM_GROUP, FM_VERSION, "ducklakecatalogs", "DuckLakeCatalog", 1};

#define MAX_ATTEMPTS 8
#define ERROR_BODY_MAX (64 * 1024)
#define UPSTREAM_GRACE_MS 1000

typedef struct {
    const char *listen, *kubeconfig, *context, *ns, *tokens_secret, *internal_secret, *image;
    int worker_port, fallback;
    long token_refresh_ms, fallback_wait_ms, drain_ms;
    size_t max_body;
} gw_opts;

typedef struct {
    gw_opts o;
    char ns[256];
    kube_client *kc;
    kube_informer *pods, *pools, *catalogs;
    fm_router *router;
    fm_tokset *tokens;
    fm_gw_secrets *secrets;
    struct MHD_Daemon *mhd;
    int64_t started_ms;
    atomic_ullong next_id;
    atomic_int inflight;
    atomic_int draining;
} gateway;

typedef struct {
    gateway *g;
    int is_query, done;
    fm_buf body;
    int too_large;
    int64_t t0, fwd_t0;
    int format;
    int status;
    int client_fd;
    char id[64];
    /* a forwarded query */
    fm_gw_ticket t;
    int leased;
    fm_upstream *up;
    char pod[254];
    char pool[254];
    int failed;
} gwreq;

/* ---- small responses ------------------------------------------------------------------------ */

static enum MHD_Result send_body(struct MHD_Connection *c, gwreq *r, unsigned code, const char *type, const char *body,
                                 size_t len, const char *query_id) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (r && r->pod[0]) MHD_add_response_header(resp, "X-Featherman-Pod", r->pod);
    const char *qid = query_id && *query_id ? query_id : r ? r->id : NULL;
    if (qid && *qid) MHD_add_response_header(resp, "X-Featherman-Query-Id", qid);
    if (code == 401) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"featherman\"");
    if (r) r->status = (int)code;
    enum MHD_Result rc = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result send_error(struct MHD_Connection *c, gwreq *r, unsigned code, const char *ecode,
                                  const char *msg) {
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "{\"error\":{\"code\":");
    fm_json_string(&b, ecode, strlen(ecode));
    fm_buf_puts(&b, ",\"message\":");
    fm_json_string(&b, msg, strlen(msg));
    fm_buf_puts(&b, "}}\n");
    enum MHD_Result rc = send_body(c, r, code, "application/json", b.data, b.len, NULL);
    fm_buf_free(&b);
    return rc;
}

static int token_ok(gateway *g, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
    const char *t = h + 7;
    while (*t == ' ') t++;
    return fm_tokset_check(g->tokens, t, strlen(t));
}

static int client_gone(void *ud) {
    gwreq *r = ud;
    if (r->client_fd < 0) return 0;
    struct pollfd p = {.fd = r->client_fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/* ---- informers → router --------------------------------------------------------------------- */

static void resync_pods(gateway *g) {
    json_t *all = kube_informer_list(g->pods, NULL);
    fm_router_sync_pods(g->router, all);
    json_decref(all);
}

static void resync_pools(gateway *g) {
    json_t *all = kube_informer_list(g->pools, NULL);
    fm_router_sync_pools(g->router, all);
    json_decref(all);
}

/* ---- queue length for the operator's autoscaler (k8s_names.h: FM_ANNOT_QUEUE_LENGTH) ---------- */

#define QUEUE_REPORT_MAX 256
#define QUEUE_REFRESH_MS 5000 /* a non-empty queue is re-reported so the operator sees it is fresh */
typedef struct {
    char pool[254];
    int queued;
    int64_t at_ms;
} queue_report;
static queue_report reports[QUEUE_REPORT_MAX];
static size_t nreports;
typedef struct {
    char pool[254];
    int queued;
} queue_seen;
typedef struct {
    queue_seen v[QUEUE_REPORT_MAX];
    size_t n;
} queue_seen_list;

static void collect_queue(void *ud, const char *pool, const char *catalog, int queued, int routable, int inflight) {
    (void)catalog, (void)routable, (void)inflight;
    queue_seen_list *l = ud;
    if (l->n == QUEUE_REPORT_MAX) return;
    snprintf(l->v[l->n].pool, sizeof l->v[l->n].pool, "%s", pool);
    l->v[l->n++].queued = queued;
}

/* annotates each pool whose queue changed (or is non-empty and last reported long ago); the
 * operator reads it when fresh. Called from the main loop (one thread). */
static void report_queues(gateway *g) {
    static queue_seen_list seen;
    seen.n = 0;
    fm_router_each_pool(g->router, collect_queue, &seen);
    int64_t now = fm_wall_ms();
    for (size_t i = 0; i < seen.n; i++) {
        queue_report *r = NULL;
        for (size_t k = 0; k < nreports; k++)
            if (!strcmp(reports[k].pool, seen.v[i].pool)) r = &reports[k];
        if (!r) {
            if (nreports == QUEUE_REPORT_MAX) continue;
            r = &reports[nreports++];
            snprintf(r->pool, sizeof r->pool, "%s", seen.v[i].pool);
            r->queued = 0; /* nothing to say about a pool that never had a queue */
            r->at_ms = now;
        }
        if (r->queued == seen.v[i].queued && (seen.v[i].queued == 0 || now - r->at_ms < QUEUE_REFRESH_MS)) continue;
        char n[16], at[32];
        snprintf(n, sizeof n, "%d", seen.v[i].queued);
        snprintf(at, sizeof at, "%lld", (long long)now);
        json_t *patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", FM_ANNOT_QUEUE_LENGTH, n,
                                  FM_ANNOT_QUEUE_AT, at);
        fm_err err;
        kube_status st = {0};
        if (kube_patch_ex(g->kc, &RES_POOLS, g->ns, r->pool, NULL, KUBE_PATCH_MERGE, patch, "featherman-gateway", 0, NULL,
                          &st, &err) == 0 || st.http == 404) {
            r->queued = seen.v[i].queued;
            r->at_ms = now;
        } else {
            fm_debug("queue length of pool %s: %s", r->pool, err.msg);
            r->at_ms = now; /* retried after QUEUE_REFRESH_MS at most when non-empty, or on the next change */
        }
        json_decref(patch);
    }
}

static void pod_add(void *ud, json_t *o) { (void)o, resync_pods(ud); }
static void pod_upd(void *ud, json_t *a, json_t *b) { (void)a, (void)b, resync_pods(ud); }
static void pool_add(void *ud, json_t *o) { (void)o, resync_pools(ud); }
static void pool_upd(void *ud, json_t *a, json_t *b) { (void)a, (void)b, resync_pools(ud); }

/* ---- forwarding ----------------------------------------------------------------------------- */

static ssize_t read_upstream(void *cls, uint64_t pos, char *buf, size_t max) {
    gwreq *r = cls;
    (void)pos;
    fm_up_result res;
    char msg[256] = "";
    ssize_t n = fm_upstream_read(r->up, buf, max, &res, msg, sizeof msg);
    if (n > 0) {
        fm_metrics_streamed(0, (unsigned long long)n);
        return n;
    }
    if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
    r->failed = 1;
    fm_warn("query %s on pod %s broke off after streaming began (%s): %s", r->id, r->pod,
            res == FM_UP_TIMEOUT ? "maxQueryDuration reached" : res == FM_UP_CLIENT_GONE ? "client went away" : "upstream failed",
            msg);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* the body the pod gets: the client's request with the format resolved and timeoutMs capped */
static char *forward_body(const fm_query_request *q, fm_format f, long max_query_ms, size_t *len) {
    long t = q->timeout_ms && q->timeout_ms < max_query_ms ? q->timeout_ms : max_query_ms;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "sql", q->sql, "catalog", q->catalog, "format", fm_format_name(f),
                          "timeoutMs", (json_int_t)t);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    *len = strlen(s);
    return s;
}

typedef enum { FWD_DONE, FWD_RETRY, FWD_BUSY, FWD_CONNECT, FWD_AUTH } fwd_next;

/* Sends the query to ip and answers the client from what comes back, unless the outcome asks the
 * caller to try again (FWD_RETRY/BUSY/CONNECT/AUTH; nothing was sent to the client then). */
static fwd_next forward(gateway *g, struct MHD_Connection *c, gwreq *r, const char *ip, const char *body, size_t len,
                        long max_query_ms, const char *token, enum MHD_Result *rc) {
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/query", ip, g->o.worker_port);
    r->fwd_t0 = fm_now_ms();
    fm_upstream_req ur = {.url = url, .token = token, .body = body, .body_len = len, .client_fd = r->client_fd,
                          .deadline_ms = r->fwd_t0 + max_query_ms + UPSTREAM_GRACE_MS};
    fm_up_result res;
    char msg[512] = "";
    r->up = fm_upstream_open(&ur, &res, msg, sizeof msg);
    if (res == FM_UP_CONNECT) {
        fm_warn("pod %s (%s) refused the connection: %s", r->pod, ip, msg);
        fm_upstream_close(r->up);
        r->up = NULL;
        return FWD_CONNECT;
    }
    if (res != FM_UP_OK) {
        fm_upstream_close(r->up); /* aborts the transfer: the worker interrupts the query */
        r->up = NULL;
        if (res == FM_UP_CLIENT_GONE) {
            *rc = MHD_NO;
            r->status = 499;
            return FWD_DONE;
        }
        char m[1024];
        if (res == FM_UP_TIMEOUT) {
            snprintf(m, sizeof m, "the query ran longer than the pool's maxQueryDuration of %ld ms and was cancelled",
                     max_query_ms);
            *rc = send_error(c, r, 504, "timeout", m);
        } else {
            snprintf(m, sizeof m, "pod %.200s failed before answering: %.500s", r->pod, msg);
            *rc = send_error(c, r, 502, "upstream_failed", m);
        }
        return FWD_DONE;
    }
    long st = fm_upstream_status(r->up);
    if (st == 409 || st == 401) {
        fm_buf junk;
        fm_buf_init(&junk);
        fm_upstream_read_all(r->up, &junk, 0, NULL, 0);
        fm_buf_free(&junk);
        fm_upstream_close(r->up);
        r->up = NULL;
        return st == 409 ? FWD_BUSY : FWD_AUTH;
    }
    if (st != 200) { /* an error answer: pass it through whole */
        fm_buf b;
        fm_buf_init(&b);
        fm_up_result rr = fm_upstream_read_all(r->up, &b, ERROR_BODY_MAX, msg, sizeof msg);
        char qid[128];
        snprintf(qid, sizeof qid, "%s", fm_upstream_query_id(r->up));
        const char *ct = fm_upstream_content_type(r->up);
        char type[128];
        snprintf(type, sizeof type, "%s", *ct ? ct : "application/json");
        fm_upstream_close(r->up);
        r->up = NULL;
        if (rr == FM_UP_CLIENT_GONE) {
            *rc = MHD_NO;
            r->status = 499;
        } else if (rr != FM_UP_OK) {
            char m[1024];
            snprintf(m, sizeof m, "pod %.200s failed while answering: %.500s", r->pod, msg);
            *rc = send_error(c, r, 502, "upstream_failed", m);
        } else {
            *rc = send_body(c, r, (unsigned)st, type, b.data ? b.data : "", b.len, qid);
        }
        fm_buf_free(&b);
        return FWD_DONE;
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 256 * 1024, read_upstream, r, NULL);
    const char *ct = fm_upstream_content_type(r->up);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, *ct ? ct : fm_format_content_type((fm_format)r->format));
    const char *qid = fm_upstream_query_id(r->up);
    MHD_add_response_header(resp, "X-Featherman-Query-Id", *qid ? qid : r->id);
    MHD_add_response_header(resp, "X-Featherman-Pod", r->pod);
    r->status = 200;
    *rc = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return FWD_DONE;
}

static enum MHD_Result fallback(gateway *g, struct MHD_Connection *c, gwreq *r, const char *catalog, const char *body,
                                size_t len, long max_query_ms, const char *why) {
    if (!g->o.fallback) {
        char m[400];
        snprintf(m, sizeof m, "no pool pod can serve catalog \"%.200s\" (%s) and the Job fallback is off", catalog, why);
        return send_error(c, r, 503, "unavailable", m);
    }
    json_t *cr = kube_informer_get(g->catalogs, g->ns, catalog);
    if (!cr) return send_error(c, r, 404, "not_found", "the catalog does not exist");
    fm_catalog_spec cs;
    fm_err err;
    fm_err_clear(&err);
    if (fm_catalog_spec_parse(cr, &cs, &err)) {
        json_decref(cr);
        char m[1200];
        snprintf(m, sizeof m, "catalog %s cannot be served: %s", catalog, err.msg);
        return send_error(c, r, 503, "unavailable", m);
    }
    char nonce[24], job[64];
    snprintf(nonce, sizeof nonce, "%08llx", (unsigned long long)(((unsigned long long)fm_wall_ms() * 2654435761u) ^
                                                                 atomic_fetch_add(&g->next_id, 1)) & 0xffffffffull);
    fm_once_job_name(job, sizeof job, catalog, nonce);
    fm_once_params p = {.namespace_ = g->ns, .image = g->o.image, .job_name = job, .catalog_cr = cr, .catalog = &cs,
                        .active_deadline_s = (g->o.fallback_wait_ms + max_query_ms) / 1000 + 60, .ttl_s = 60};
    char ip[64] = "";
    enum MHD_Result rc = MHD_YES;
    int started = fm_once_start(g->kc, &p, g->o.fallback_wait_ms, client_gone, r, r->pod, sizeof r->pod, ip, sizeof ip, &err);
    json_decref(cr);
    fm_catalog_spec_free(&cs);
    if (started) {
        if (client_gone(r)) return MHD_NO;
        return send_error(c, r, 503, "unavailable", err.msg);
    }
    snprintf(r->pool, sizeof r->pool, "%s", "job-fallback");
    for (int attempt = 0; attempt < 2; attempt++) {
        char *token = fm_gw_internal_token(g->secrets, attempt > 0, &err);
        if (!token) {
            fm_once_delete(g->kc, g->ns, job);
            return send_error(c, r, 503, "unavailable", err.msg);
        }
        fwd_next n = forward(g, c, r, ip, body, len, max_query_ms, token, &rc);
        free(token);
        if (n == FWD_DONE) return rc;
        if (n != FWD_AUTH) break;
    }
    fm_once_delete(g->kc, g->ns, job);
    return send_error(c, r, 502, "upstream_failed", "the fallback Job's pod did not accept the query");
}

static enum MHD_Result start_query(gateway *g, struct MHD_Connection *c, gwreq *r) {
    if (r->too_large) {
        char m[96];
        snprintf(m, sizeof m, "request body is larger than %zu bytes", g->o.max_body);
        return send_error(c, r, 413, "too_large", m);
    }
    fm_query_request q;
    fm_err err;
    fm_err_clear(&err);
    if (fm_query_request_parse(r->body.data ? r->body.data : "", r->body.len, &q, &err))
        return send_error(c, r, 400, "invalid", err.msg);
    fm_format f = fm_query_request_format(&q, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
    r->format = (int)f;
    enum MHD_Result rc;
    if (!q.catalog) {
        rc = send_error(c, r, 400, "invalid", "\"catalog\" is required");
        fm_query_request_free(&q);
        return rc;
    }
    json_t *cr = kube_informer_get(g->catalogs, g->ns, q.catalog);
    if (!cr) {
        char m[300];
        snprintf(m, sizeof m, "unknown catalog \"%.200s\"", q.catalog);
        rc = send_error(c, r, 404, "not_found", m);
        fm_query_request_free(&q);
        return rc;
    }
    json_decref(cr);
    long max_query_ms = FM_GW_DEFAULT_MAX_QUERY_MS;
    fm_router_serves(g->router, q.catalog, &max_query_ms);
    size_t len;
    char *body = forward_body(&q, f, max_query_ms, &len);
    int auth_refreshed = 0;
    rc = MHD_YES;
    for (int attempt = 0;; attempt++) {
        fm_route_result rr = fm_router_acquire(g->router, q.catalog, &r->t, client_gone, r);
        if (rr == FM_ROUTE_OK) {
            r->leased = 1;
            snprintf(r->pod, sizeof r->pod, "%s", r->t.pod);
            snprintf(r->pool, sizeof r->pool, "%s", r->t.pool);
            if (!r->t.retry) fm_gw_metrics_wait(r->t.pool, (double)r->t.waited_ms / 1000.0);
            char *token = fm_gw_internal_token(g->secrets, 0, &err);
            if (!token) {
                fm_router_release(g->router, &r->t, FM_LEASE_DONE);
                r->leased = 0;
                rc = send_error(c, r, 503, "unavailable", err.msg);
                break;
            }
            fwd_next n = forward(g, c, r, r->t.ip, body, len, r->t.max_query_ms, token, &rc);
            free(token);
            if (n == FWD_DONE) break; /* the lease is released when the response completes */
            fm_router_release(g->router, &r->t, n == FWD_BUSY ? FM_LEASE_BUSY
                                                  : n == FWD_CONNECT ? FM_LEASE_FAILED
                                                                     : FM_LEASE_DONE);
            r->leased = 0;
            r->pod[0] = 0;
            if (n == FWD_AUTH) {
                if (auth_refreshed) {
                    rc = send_error(c, r, 502, "upstream_failed",
                                    "the pool pod refused the gateway's internal token (Secret " FM_INTERNAL_TOKEN_SECRET ")");
                    break;
                }
                auth_refreshed = 1;
                char *t = fm_gw_internal_token(g->secrets, 1, &err);
                free(t);
            }
            if (n == FWD_CONNECT && attempt >= MAX_ATTEMPTS) {
                rc = send_error(c, r, 503, "unavailable", "no pool pod could be reached");
                break;
            }
            r->t.retry = 1; /* back to the head of the queue, same deadline */
            continue;
        }
        if (rr == FM_ROUTE_NO_POOL || rr == FM_ROUTE_NO_PODS) {
            rc = fallback(g, c, r, q.catalog, body, len, max_query_ms,
                          rr == FM_ROUTE_NO_POOL ? "no pool serves it" : "its pool has no ready pod");
            break;
        }
        char m[300];
        if (rr == FM_ROUTE_QUEUE_FULL) {
            snprintf(m, sizeof m, "the queue of catalog \"%.200s\" is full: try again later", q.catalog);
            rc = send_error(c, r, 429, "queue_full", m);
        } else if (rr == FM_ROUTE_TIMEOUT) {
            snprintf(m, sizeof m, "no pod of catalog \"%.200s\" became free within the queue's maxWaitTime (%lld ms waited)",
                     q.catalog, (long long)r->t.waited_ms);
            rc = send_error(c, r, 503, "unavailable", m);
        } else {
            r->status = 499;
            rc = MHD_NO; /* the client left while queued */
        }
        break;
    }
    free(body);
    fm_query_request_free(&q);
    return rc;
}

/* ---- MHD glue ------------------------------------------------------------------------------- */

static int ready(gateway *g) {
    return kube_informer_synced(g->pods) && kube_informer_synced(g->pools) && kube_informer_synced(g->catalogs) &&
           fm_gw_secrets_loaded(g->secrets) && !atomic_load(&g->draining);
}

static enum MHD_Result handle_get(gateway *g, struct MHD_Connection *c, const char *url, gwreq *r) {
    if (!strcmp(url, "/healthz")) return send_body(c, r, 200, "text/plain", "ok\n", 3, NULL);
    if (!strcmp(url, "/readyz")) {
        if (!ready(g)) return send_body(c, r, 503, "text/plain", "not ready\n", 10, NULL);
        return send_body(c, r, 200, "text/plain", "ready\n", 6, NULL);
    }
    if (!strcmp(url, "/metrics")) {
        fm_buf b;
        fm_buf_init(&b);
        fm_metrics_render(&b);
        fm_gw_metrics_render(&b, g->router);
        enum MHD_Result rc = send_body(c, r, 200, "text/plain; version=0.0.4", b.data, b.len, NULL);
        fm_buf_free(&b);
        return rc;
    }
    return send_error(c, r, 404, "not_found", "no such endpoint (POST /query, GET /healthz /readyz /metrics)");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    gateway *g = cls;
    (void)version;
    gwreq *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        r->g = g;
        r->t0 = fm_now_ms();
        r->format = -1;
        r->client_fd = -1;
        fm_buf_init(&r->body);
        *con_cls = r;
        atomic_fetch_add(&g->inflight, 1);
        if (strcmp(url, "/query")) {
            r->done = 1;
            if (strcmp(method, "GET") && strcmp(method, "HEAD"))
                return send_error(c, r, 405, "method_not_allowed", "use GET");
            return handle_get(g, c, url, r);
        }
        r->is_query = 1;
        snprintf(r->id, sizeof r->id, "gw-%llx-%llu", (unsigned long long)g->started_ms,
                 (unsigned long long)atomic_fetch_add(&g->next_id, 1));
        fm_metrics_inflight(1);
        r->done = 1;
        if (strcmp(method, "POST")) return send_error(c, r, 405, "method_not_allowed", "use POST /query");
        if (!token_ok(g, c))
            return send_error(c, r, 401, "unauthorized", "a valid bearer token is required (Authorization: Bearer <token>)");
        if (atomic_load(&g->draining)) return send_error(c, r, 503, "unavailable", "the gateway is shutting down");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > g->o.max_body) {
            char m[96];
            snprintf(m, sizeof m, "request body is larger than %zu bytes", g->o.max_body);
            return send_error(c, r, 413, "too_large", m);
        }
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        r->client_fd = ci ? ci->connect_fd : -1;
        r->done = 0;
        return MHD_YES;
    }
    if (r->done) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->body.len + *upload_size > g->o.max_body) r->too_large = 1;
        else fm_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    r->done = 1;
    return start_query(g, c, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    gateway *g = cls;
    (void)c;
    gwreq *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    if (r->is_query) {
        if (r->up) {
            if (!r->failed && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
                fm_metrics_error(FM_STAGE_CANCELLED);
                fm_info("query %s: the client went away: aborting it on pod %s", r->id, r->pod);
            }
            if (r->failed) fm_metrics_error(FM_STAGE_MID_STREAM);
            fm_upstream_close(r->up); /* aborts an unfinished transfer */
        }
        if (r->fwd_t0 && r->pool[0]) fm_gw_metrics_query(r->pool, (double)(fm_now_ms() - r->fwd_t0) / 1000.0);
        if (r->leased) fm_router_release(g->router, &r->t, FM_LEASE_DONE);
        if (r->status) {
            fm_metrics_request(r->format, r->status);
            fm_metrics_duration((double)(fm_now_ms() - r->t0) / 1000.0);
        }
        if (r->status >= 500 && r->status != 504) fm_debug("query %s: status %d", r->id, r->status);
        fm_metrics_inflight(-1);
    }
    fm_buf_free(&r->body);
    atomic_fetch_sub(&g->inflight, 1);
    free(r);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_vprintf(&b, fmt, ap);
    while (b.len && b.data[b.len - 1] == '\n') b.data[--b.len] = 0;
    fm_warn("http: %s", b.data ? b.data : "");
    fm_buf_free(&b);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static kube_informer *informer(gateway *g, const kube_resource *res, const char *selector,
                               void (*add)(void *, json_t *), void (*upd)(void *, json_t *, json_t *), fm_err *err) {
    kube_watch_opts wo = {.res = res, .ns = g->ns, .label_selector = selector};
    kube_informer *inf = kube_informer_new(g->kc, &wo, err);
    if (!inf) return NULL;
    if (add) {
        kube_informer_handlers h = {.on_add = add, .on_update = upd, .on_delete = add, .ud = g};
        if (kube_informer_add_handlers(inf, &h, err)) {
            kube_informer_free(inf);
            return NULL;
        }
    }
    if (kube_informer_start(inf, err)) {
        kube_informer_free(inf);
        return NULL;
    }
    return inf;
}

static void usage(FILE *to) {
    fprintf(to,
            "usage: featherman gateway [--listen ADDR:PORT] [--namespace NS] [--kubeconfig FILE] [--context NAME]\n"
            "                          [--tokens-secret NAME] [--internal-token-secret NAME] [--image IMAGE]\n"
            "                          [--worker-port N] [--token-refresh-ms N] [--fallback-wait-ms N] [--no-fallback]\n"
            "                          [--max-body BYTES] [--drain-ms N]\n"
            "  Routes POST /query to warm pool pods of the requested catalog (found through the API),\n"
            "  queues per pool, falls back to a one-off Job, streams results through.\n");
}

int fm_role_gateway(int argc, char **argv) {
    gateway g;
    memset(&g, 0, sizeof g);
    gw_opts *o = &g.o;
    o->tokens_secret = FM_QUERY_TOKENS_SECRET;
    o->internal_secret = FM_INTERNAL_TOKEN_SECRET;
    o->image = getenv("FEATHERMAN_IMAGE") ? getenv("FEATHERMAN_IMAGE") : FM_DEFAULT_IMAGE;
    o->worker_port = FM_WORKER_PORT;
    o->fallback = 1;
    o->token_refresh_ms = 2000;
    o->fallback_wait_ms = 60000;
    o->drain_ms = 30000;
    o->max_body = 1 << 20;
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},         {"namespace", required_argument, 0, 'n'},
        {"kubeconfig", required_argument, 0, 'k'},     {"context", required_argument, 0, 'x'},
        {"tokens-secret", required_argument, 0, 's'},  {"internal-token-secret", required_argument, 0, 'i'},
        {"image", required_argument, 0, 'I'},          {"worker-port", required_argument, 0, 'p'},
        {"token-refresh-ms", required_argument, 0, 'r'}, {"fallback-wait-ms", required_argument, 0, 'w'},
        {"no-fallback", no_argument, 0, 'F'},          {"max-body", required_argument, 0, 'b'},
        {"drain-ms", required_argument, 0, 'd'},       {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "l:n:k:x:s:i:I:p:r:w:Fb:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': o->listen = optarg; break;
        case 'n': o->ns = optarg; break;
        case 'k': o->kubeconfig = optarg; break;
        case 'x': o->context = optarg; break;
        case 's': o->tokens_secret = optarg; break;
        case 'i': o->internal_secret = optarg; break;
        case 'I': o->image = optarg; break;
        case 'p': o->worker_port = atoi(optarg); break;
        case 'r': o->token_refresh_ms = atol(optarg); break;
        case 'w': o->fallback_wait_ms = atol(optarg); break;
        case 'F': o->fallback = 0; break;
        case 'b': o->max_body = (size_t)strtoull(optarg, NULL, 10); break;
        case 'd': o->drain_ms = atol(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || o->worker_port <= 0 || o->worker_port > 65535 || !o->max_body) {
        usage(stderr);
        return 2;
    }
    char addr[64];
    int port;
    if (fm_listen_or_pod_ip(o->listen, 8080, addr, sizeof addr, &port)) {
        fprintf(stderr, "featherman gateway: --listen wants ADDR:PORT\n");
        return 2;
    }

    fm_signals_block();
    fm_upstream_global_init();
    fm_err err;
    fm_err_clear(&err);
    int rc = 1;
    kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *kcpath = fm_host_path(o->kubeconfig);
    int lrc = kcpath ? kube_config_load_kubeconfig(kcpath, o->context, &cfg, &err) : kube_config_load(&cfg, &err);
    free(kcpath);
    if (lrc) goto fail;
    g.kc = kube_client_new(&cfg, &err);
    kube_config_free(&cfg);
    if (!g.kc) goto fail;
    const char *ns = o->ns ? o->ns : getenv("POD_NAMESPACE");
    snprintf(g.ns, sizeof g.ns, "%s", ns && *ns ? ns : kube_client_namespace(g.kc));
    g.started_ms = fm_wall_ms();
    g.router = fm_router_new();
    g.tokens = fm_tokset_new();
    g.secrets = fm_gw_secrets_start(g.kc, g.ns, o->tokens_secret, o->internal_secret, o->token_refresh_ms, g.tokens, &err);
    if (!g.secrets) goto fail;
    if (!(g.pools = informer(&g, &RES_POOLS, NULL, pool_add, pool_upd, &err))) goto fail;
    if (!(g.pods = informer(&g, &KUBE_RES_PODS, FM_LABEL_COMPONENT "=" FM_COMPONENT_POOL, pod_add, pod_upd, &err)))
        goto fail;
    if (!(g.catalogs = informer(&g, &RES_CATALOGS, NULL, NULL, NULL, &err))) goto fail;

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fm_fail(&err, FM_E_INVALID, "listen address %s is not an IPv4 address", addr);
        goto fail;
    }
    g.mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0,
                             NULL, NULL, on_request, &g, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, &g, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &g,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300, MHD_OPTION_CONNECTION_LIMIT,
                             (unsigned int)2000, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1, MHD_OPTION_END);
    if (!g.mhd) {
        fm_fail(&err, FM_E_UNAVAILABLE, "cannot listen on %s:%d: %s", addr, port, strerror(errno));
        goto fail;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(g.mhd, MHD_DAEMON_INFO_BIND_PORT);
    fm_info("gateway listening on http://%s:%d, namespace %s (tokens from Secret %s)", addr, di ? di->port : port, g.ns,
            o->tokens_secret);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    struct timespec tick = {0, 200 * 1000000L};
    int64_t next_report = 0;
    for (;;) {
        if (fm_now_ms() >= next_report) {
            report_queues(&g);
            next_report = fm_now_ms() + 1000;
        }
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            fm_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
    atomic_store(&g.draining, 1);
    MHD_socket ls = MHD_quiesce_daemon(g.mhd);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    int64_t until = fm_now_ms() + o->drain_ms;
    struct timespec pause = {0, 20 * 1000000L};
    while (atomic_load(&g.inflight) > 0 && fm_now_ms() < until) nanosleep(&pause, NULL);
    rc = 0;
    goto out;
fail:
    fm_error("%s", err.msg);
out:
    if (g.mhd) MHD_stop_daemon(g.mhd);
    kube_informer_free(g.pods);
    kube_informer_free(g.pools);
    kube_informer_free(g.catalogs);
    fm_gw_secrets_stop(g.secrets);
    fm_router_free(g.router);
    fm_tokset_free(g.tokens);
    kube_client_free(g.kc);
    fm_gw_metrics_reset();
    fm_upstream_global_cleanup();
    fm_info("gateway stopped");
    return rc;
}
