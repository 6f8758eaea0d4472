/* `featherman gateway` (featherman-query): the cluster's query endpoint.
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
 *   GET /metrics  featherman_queries_total{format,code} etc. (metrics.h), per-pool (gw_metrics.h), per
 *                 endpoint (http/http.h)
 *
 * Pods and pools are found through the API only: informers (list + watch) on pods labelled
 * app.kubernetes.io/component=pool-worker, on ducklakepools and on ducklakecatalogs, all in the
 * gateway's namespace. Secrets are read on demand (GET by name), never watched or cached long.
 *
 * HTTP is the layer of http/http.h (the prologue checks, error bodies, X-Featherman-Pod — the
 * gateway's own pod on its own answers —, draining); options are gw_cmd.h's. The role runs in
 * three steps: open (Kubernetes client, Secrets, informers), serve (HTTP until SIGTERM/SIGINT,
 * then quiesce and drain), close. */
#include <jansson.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/signals.h"
#include "base/xalloc.h"
#include "gateway/gw_cmd.h"
#include "gateway/gw_fallback.h"
#include "gateway/gw_metrics.h"
#include "gateway/gw_proxy.h"
#include "gateway/gw_route.h"
#include "gateway/gw_tokens.h"
#include "http/http.h"
#include "http/request.h"
#include "k8s/k8s_names.h"
#include "kube/informer.h"
#include "kube/kube_config.h"
#include "kube/kube_http.h"
#include "model/format.h"
#include "model/spec.h"
#include "roles.h"

static const kube_resource RES_POOLS = {FM_GROUP, FM_VERSION, "ducklakepools", "DuckLakePool", 1};
static const kube_resource RES_CATALOGS = {FM_GROUP, FM_VERSION, "ducklakecatalogs", "DuckLakeCatalog", 1};

#define MAX_ATTEMPTS 8
#define ERROR_BODY_MAX (64 * 1024)
#define UPSTREAM_GRACE_MS 1000
#define LOOP_MS 200          /* the main loop's period */
#define QUEUE_REPORT_MS 1000 /* how often queue lengths are looked at */
#define QUEUE_REPORT_MAX 256
#define QUEUE_REFRESH_MS 5000 /* a non-empty queue is re-reported so the operator sees it is fresh */

typedef struct {
    char pool[254];
    int queued;
    int64_t at_ms;
} queue_report;

typedef struct {
    char pool[254];
    int queued;
} queue_seen;

typedef struct {
    fm_gw_config o;
    char ns[256];
    kube_client *kc;
    kube_informer *pods, *pools, *catalogs;
    fm_router *router;
    fm_tokset *tokens;
    fm_gw_secrets *secrets;
    fm_http *http;
    atomic_ullong nonce;
    /* queue lengths last written to each pool (main loop only) */
    queue_report reports[QUEUE_REPORT_MAX];
    size_t nreports;
    queue_seen seen[QUEUE_REPORT_MAX];
    size_t nseen;
} gateway;

/* one POST /query on its way to a pod, owned by its HTTP request (freed with it) */
typedef struct {
    gateway *g;
    fm_http_req *r;
    const char *id;
    int format;
    fm_gw_ticket t;
    int leased;
    fm_upstream *up;
    int64_t fwd_t0;
    char pod[254];
    char pool[254];
    int failed; /* the upstream broke off mid-stream */
} fwd;

static int client_gone(void *ud) {
    fwd *f = ud;
    return fm_http_req_client_gone(f->r);
}

/* the pod named in X-Featherman-Pod from now on; "" for the gateway's own */
static void set_pod(fwd *f, const char *pod) {
    snprintf(f->pod, sizeof f->pod, "%s", pod);
    fm_http_req_set_pod(f->r, f->pod[0] ? f->pod : NULL);
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

static void pod_add(void *ud, json_t *o) { (void)o, resync_pods(ud); }
static void pod_upd(void *ud, json_t *a, json_t *b) { (void)a, (void)b, resync_pods(ud); }
static void pool_add(void *ud, json_t *o) { (void)o, resync_pools(ud); }
static void pool_upd(void *ud, json_t *a, json_t *b) { (void)a, (void)b, resync_pools(ud); }

/* ---- queue length for the operator's autoscaler (k8s_names.h: FM_ANNOT_QUEUE_LENGTH) ---------- */

static void collect_queue(void *ud, const char *pool, const char *catalog, int queued, int routable, int inflight) {
    (void)catalog, (void)routable, (void)inflight;
    gateway *g = ud;
    if (g->nseen == QUEUE_REPORT_MAX) return;
    snprintf(g->seen[g->nseen].pool, sizeof g->seen[g->nseen].pool, "%s", pool);
    g->seen[g->nseen++].queued = queued;
}

static queue_report *report_of(gateway *g, const char *pool, int64_t now) {
    for (size_t k = 0; k < g->nreports; k++)
        if (!strcmp(g->reports[k].pool, pool)) return &g->reports[k];
    if (g->nreports == QUEUE_REPORT_MAX) return NULL;
    queue_report *r = &g->reports[g->nreports++];
    snprintf(r->pool, sizeof r->pool, "%s", pool);
    r->queued = 0; /* nothing to say about a pool that never had a queue */
    r->at_ms = now;
    return r;
}

static void annotate_queue(gateway *g, queue_report *r, int queued, int64_t now) {
    char n[16], at[32];
    snprintf(n, sizeof n, "%d", queued);
    snprintf(at, sizeof at, "%lld", (long long)now);
    json_t *patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", FM_ANNOT_QUEUE_LENGTH, n,
                              FM_ANNOT_QUEUE_AT, at);
    fm_err err;
    kube_status st = {0};
    if (kube_patch_ex(g->kc, &RES_POOLS, g->ns, r->pool, NULL, KUBE_PATCH_MERGE, patch, "featherman-gateway", 0, NULL,
                      &st, &err) == 0 || st.http == 404) {
        r->queued = queued;
    } else {
        fm_debug("queue length of pool %s: %s", r->pool, err.msg);
    } /* a failure is retried after QUEUE_REFRESH_MS at most when non-empty, or on the next change */
    r->at_ms = now;
    json_decref(patch);
}

/* annotates each pool whose queue changed (or is non-empty and last reported long ago); the
 * operator reads it when fresh */
static void report_queues(gateway *g) {
    g->nseen = 0;
    fm_router_each_pool(g->router, collect_queue, g);
    int64_t now = fm_wall_ms();
    for (size_t i = 0; i < g->nseen; i++) {
        queue_report *r = report_of(g, g->seen[i].pool, now);
        int q = g->seen[i].queued;
        if (!r || (r->queued == q && (q == 0 || now - r->at_ms < QUEUE_REFRESH_MS))) continue;
        annotate_queue(g, r, q, now);
    }
}

/* ---- forwarding ----------------------------------------------------------------------------- */

static ssize_t read_upstream(void *ud, char *buf, size_t max) {
    fwd *f = ud;
    fm_up_result res;
    char msg[256] = "";
    ssize_t n = fm_upstream_read(f->up, buf, max, &res, msg, sizeof msg);
    if (n > 0) {
        fm_metrics_streamed(0, (unsigned long long)n);
        return n;
    }
    if (n == 0) return 0;
    f->failed = 1;
    fm_warn("query %s on pod %s broke off after streaming began (%s): %s", f->id, f->pod,
            res == FM_UP_TIMEOUT ? "maxQueryDuration reached" : res == FM_UP_CLIENT_GONE ? "client went away" : "upstream failed",
            msg);
    return -1;
}

/* the end of a query request, however it ended: the upstream transfer, the lease, the metrics */
static void fwd_done(void *ud, fm_http_req *r, int completed) {
    fwd *f = ud;
    if (f->up) {
        if (!f->failed && !completed) {
            fm_metrics_error(FM_STAGE_CANCELLED);
            fm_info("query %s: the client went away: aborting it on pod %s", f->id, f->pod);
        }
        if (f->failed) fm_metrics_error(FM_STAGE_MID_STREAM);
        fm_upstream_close(f->up); /* aborts an unfinished transfer */
    }
    if (f->fwd_t0 && f->pool[0]) fm_gw_metrics_query(f->pool, (double)(fm_now_ms() - f->fwd_t0) / 1000.0);
    if (f->leased) fm_router_release(f->g->router, &f->t, FM_LEASE_DONE);
    int status = fm_http_req_status(r);
    if (status >= 500 && status != 504) fm_debug("query %s: status %d", f->id, status);
}

/* the body the pod gets: the client's request with the format resolved and timeoutMs capped */
static char *forward_body(const fm_query_request *q, fm_format f, long max_query_ms, size_t *len) {
    long t = q->timeout_ms && q->timeout_ms < max_query_ms ? q->timeout_ms : max_query_ms;
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "sql", q->sql, "catalog", q->catalog, "format", fm_format_name(f),
                          "timeoutMs", (json_int_t)t);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) fm_oom(0);
    *len = strlen(s);
    return s;
}

typedef enum { FWD_DONE, FWD_RETRY, FWD_BUSY, FWD_CONNECT, FWD_AUTH } fwd_next;

/* the pod failed before its answer began */
static void answer_open_failure(fwd *f, fm_up_result res, const char *msg, long max_query_ms) {
    fm_upstream_close(f->up); /* aborts the transfer: the worker interrupts the query */
    f->up = NULL;
    if (res == FM_UP_CLIENT_GONE)
        fm_http_abandon(f->r, 499);
    else if (res == FM_UP_TIMEOUT)
        fm_http_errorf(f->r, 504, "timeout",
                       "the query ran longer than the pool's maxQueryDuration of %ld ms and was cancelled", max_query_ms);
    else
        fm_http_errorf(f->r, 502, "upstream_failed", "pod %.200s failed before answering: %.500s", f->pod, msg);
}

/* the pod answered with an error status: it passes through whole */
static void answer_pod_error(fwd *f, long status) {
    fm_buf b;
    fm_buf_init(&b);
    char msg[512] = "", qid[128], type[128];
    fm_up_result rr = fm_upstream_read_all(f->up, &b, ERROR_BODY_MAX, msg, sizeof msg);
    snprintf(qid, sizeof qid, "%s", fm_upstream_query_id(f->up));
    const char *ct = fm_upstream_content_type(f->up);
    snprintf(type, sizeof type, "%s", *ct ? ct : "application/json");
    fm_upstream_close(f->up);
    f->up = NULL;
    if (rr == FM_UP_CLIENT_GONE) {
        fm_http_abandon(f->r, 499);
    } else if (rr != FM_UP_OK) {
        fm_http_errorf(f->r, 502, "upstream_failed", "pod %.200s failed while answering: %.500s", f->pod, msg);
    } else {
        fm_http_req_set_query_id(f->r, qid);
        fm_http_respond(f->r, (unsigned)status, type, b.data ? b.data : "", b.len);
    }
    fm_buf_free(&b);
}

/* Sends the query to ip and answers the client from what comes back, unless the outcome asks the
 * caller to try again (FWD_BUSY/CONNECT/AUTH; nothing was sent to the client then). */
static fwd_next forward(fwd *f, const char *ip, const char *body, size_t len, long max_query_ms, const char *token) {
    char url[128];
    snprintf(url, sizeof url, "http://%s:%d/query", ip, f->g->o.worker_port);
    f->fwd_t0 = fm_now_ms();
    fm_upstream_req ur = {.url = url, .token = token, .body = body, .body_len = len, .client_fd = fm_http_req_fd(f->r),
                          .deadline_ms = f->fwd_t0 + max_query_ms + UPSTREAM_GRACE_MS};
    fm_up_result res;
    char msg[512] = "";
    f->up = fm_upstream_open(&ur, &res, msg, sizeof msg);
    if (res == FM_UP_CONNECT) {
        fm_warn("pod %s (%s) refused the connection: %s", f->pod, ip, msg);
        fm_upstream_close(f->up);
        f->up = NULL;
        return FWD_CONNECT;
    }
    if (res != FM_UP_OK) {
        answer_open_failure(f, res, msg, max_query_ms);
        return FWD_DONE;
    }
    long st = fm_upstream_status(f->up);
    if (st == 409 || st == 401) {
        fm_buf junk;
        fm_buf_init(&junk);
        fm_upstream_read_all(f->up, &junk, 0, NULL, 0);
        fm_buf_free(&junk);
        fm_upstream_close(f->up);
        f->up = NULL;
        return st == 409 ? FWD_BUSY : FWD_AUTH;
    }
    if (st != 200) {
        answer_pod_error(f, st);
        return FWD_DONE;
    }
    const char *ct = fm_upstream_content_type(f->up);
    fm_http_req_set_query_id(f->r, fm_upstream_query_id(f->up));
    fm_http_stream(f->r, 200, *ct ? ct : fm_format_content_type((fm_format)f->format), read_upstream, f);
    return FWD_DONE;
}

/* starts the catalog's one-off Job and waits for its pod; 0 with the pod's IP in ip, else answered */
static int start_fallback_job(fwd *f, const char *catalog, long max_query_ms, char *job, size_t jobn, char *ip, size_t ipn) {
    gateway *g = f->g;
    json_t *cr = kube_informer_get(g->catalogs, g->ns, catalog);
    if (!cr) {
        fm_http_error(f->r, 404, "not_found", "the catalog does not exist");
        return -1;
    }
    fm_catalog_spec cs;
    fm_err err;
    fm_err_clear(&err);
    if (fm_catalog_spec_parse(cr, &cs, &err)) {
        json_decref(cr);
        fm_http_errorf(f->r, 503, "unavailable", "catalog %s cannot be served: %s", catalog, err.msg);
        return -1;
    }
    char nonce[24];
    snprintf(nonce, sizeof nonce, "%08llx", (((unsigned long long)fm_wall_ms() * 2654435761u) ^
                                             atomic_fetch_add(&g->nonce, 1)) & 0xffffffffull);
    fm_once_job_name(job, jobn, catalog, nonce);
    fm_once_params p = {.namespace_ = g->ns, .image = g->o.image, .job_name = job, .catalog_cr = cr, .catalog = &cs,
                        .active_deadline_s = (g->o.fallback_wait_ms + max_query_ms) / 1000 + 60, .ttl_s = 60};
    char pod[254] = "";
    int failed = fm_once_start(g->kc, &p, g->o.fallback_wait_ms, client_gone, f, pod, sizeof pod, ip, ipn, &err);
    json_decref(cr);
    fm_catalog_spec_free(&cs);
    set_pod(f, pod);
    if (!failed) return 0;
    if (client_gone(f)) fm_http_abandon(f->r, 499);
    else fm_http_error(f->r, 503, "unavailable", err.msg);
    return -1;
}

static void fallback(fwd *f, const char *catalog, const char *body, size_t len, long max_query_ms, const char *why) {
    gateway *g = f->g;
    if (!g->o.fallback) {
        fm_http_errorf(f->r, 503, "unavailable",
                       "no pool pod can serve catalog \"%.200s\" (%s) and the Job fallback is off", catalog, why);
        return;
    }
    char job[64], ip[64] = "";
    if (start_fallback_job(f, catalog, max_query_ms, job, sizeof job, ip, sizeof ip)) return;
    snprintf(f->pool, sizeof f->pool, "%s", "job-fallback");
    fm_err err;
    fm_err_clear(&err);
    for (int attempt = 0; attempt < 2; attempt++) {
        char *token = fm_gw_internal_token(g->secrets, attempt > 0, &err);
        if (!token) {
            fm_once_delete(g->kc, g->ns, job);
            fm_http_error(f->r, 503, "unavailable", err.msg);
            return;
        }
        fwd_next n = forward(f, ip, body, len, max_query_ms, token);
        free(token);
        if (n == FWD_DONE) return;
        if (n != FWD_AUTH) break;
    }
    fm_once_delete(g->kc, g->ns, job);
    fm_http_error(f->r, 502, "upstream_failed", "the fallback Job's pod did not accept the query");
}

/* one go at the leased pool pod: 1 when the request was answered, 0 to go back to the head of the
 * queue (the pod was busy after all, unreachable, or refused the internal token once) */
static int forward_leased(fwd *f, const char *body, size_t len, int attempt, int *auth_refreshed) {
    gateway *g = f->g;
    fm_err err;
    fm_err_clear(&err);
    f->leased = 1;
    set_pod(f, f->t.pod);
    snprintf(f->pool, sizeof f->pool, "%s", f->t.pool);
    if (!f->t.retry) fm_gw_metrics_wait(f->t.pool, (double)f->t.waited_ms / 1000.0);
    char *token = fm_gw_internal_token(g->secrets, 0, &err);
    if (!token) {
        fm_router_release(g->router, &f->t, FM_LEASE_DONE);
        f->leased = 0;
        fm_http_error(f->r, 503, "unavailable", err.msg);
        return 1;
    }
    fwd_next n = forward(f, f->t.ip, body, len, f->t.max_query_ms, token);
    free(token);
    if (n == FWD_DONE) return 1; /* the lease is released when the request ends */
    fm_router_release(g->router, &f->t, n == FWD_BUSY ? FM_LEASE_BUSY : n == FWD_CONNECT ? FM_LEASE_FAILED : FM_LEASE_DONE);
    f->leased = 0;
    set_pod(f, "");
    if (n == FWD_AUTH) {
        if (*auth_refreshed) {
            fm_http_error(f->r, 502, "upstream_failed",
                          "the pool pod refused the gateway's internal token (Secret " FM_INTERNAL_TOKEN_SECRET ")");
            return 1;
        }
        *auth_refreshed = 1;
        free(fm_gw_internal_token(g->secrets, 1, &err));
    }
    if (n == FWD_CONNECT && attempt >= MAX_ATTEMPTS) {
        fm_http_error(f->r, 503, "unavailable", "no pool pod could be reached");
        return 1;
    }
    f->t.retry = 1; /* back to the head of the queue, same deadline */
    return 0;
}

static void route_query(fwd *f, const char *catalog, const char *body, size_t len, long max_query_ms) {
    int auth_refreshed = 0;
    for (int attempt = 0;; attempt++) {
        fm_route_result rr = fm_router_acquire(f->g->router, catalog, &f->t, client_gone, f);
        if (rr == FM_ROUTE_OK) {
            if (forward_leased(f, body, len, attempt, &auth_refreshed)) return;
            continue;
        }
        if (rr == FM_ROUTE_NO_POOL || rr == FM_ROUTE_NO_PODS)
            fallback(f, catalog, body, len, max_query_ms,
                     rr == FM_ROUTE_NO_POOL ? "no pool serves it" : "its pool has no ready pod");
        else if (rr == FM_ROUTE_QUEUE_FULL)
            fm_http_errorf(f->r, 429, "queue_full", "the queue of catalog \"%.200s\" is full: try again later", catalog);
        else if (rr == FM_ROUTE_TIMEOUT)
            fm_http_errorf(f->r, 503, "unavailable",
                           "no pod of catalog \"%.200s\" became free within the queue's maxWaitTime (%lld ms waited)",
                           catalog, (long long)f->t.waited_ms);
        else
            fm_http_abandon(f->r, 499); /* the client left while queued */
        return;
    }
}

static void on_query(fm_http_req *r, void *ud) {
    gateway *g = ud;
    fwd *f = fm_http_req_alloc(r, sizeof *f);
    f->g = g;
    f->r = r;
    f->id = fm_http_req_id(r);
    fm_http_req_on_done(r, fwd_done, f);
    fm_query_request q;
    fm_format fmt;
    if (fm_query_request_read(r, &q, &fmt)) return;
    f->format = (int)fmt;
    json_t *cr = q.catalog ? kube_informer_get(g->catalogs, g->ns, q.catalog) : NULL;
    if (!q.catalog) {
        fm_http_error(r, 400, "invalid", "\"catalog\" is required");
    } else if (!cr) {
        fm_http_errorf(r, 404, "not_found", "unknown catalog \"%.200s\"", q.catalog);
    } else {
        long max_query_ms = FM_GW_DEFAULT_MAX_QUERY_MS;
        fm_router_serves(g->router, q.catalog, &max_query_ms);
        size_t len;
        char *fbody = forward_body(&q, fmt, max_query_ms, &len);
        route_query(f, q.catalog, fbody, len, max_query_ms);
        free(fbody);
    }
    json_decref(cr);
    fm_query_request_free(&q);
}

/* ---- the other endpoints -------------------------------------------------------------------- */

static int token_ok(void *ud, const char *token, size_t len) {
    gateway *g = ud;
    return fm_tokset_check(g->tokens, token, len);
}

static void on_readyz(fm_http_req *r, void *ud) {
    gateway *g = ud;
    int ready = kube_informer_synced(g->pods) && kube_informer_synced(g->pools) && kube_informer_synced(g->catalogs) &&
                fm_gw_secrets_loaded(g->secrets) && !fm_http_draining(g->http);
    if (ready) fm_http_respond(r, 200, "text/plain", "ready\n", 6);
    else fm_http_respond(r, 503, "text/plain", "not ready\n", 10);
}

static void on_metrics(fm_http_req *r, void *ud) {
    gateway *g = ud;
    fm_buf b;
    fm_buf_init(&b);
    fm_metrics_render(&b);
    fm_gw_metrics_render(&b, g->router);
    fm_http_metrics_render(g->http, &b);
    fm_http_respond(r, 200, "text/plain; version=0.0.4", b.data, b.len);
    fm_buf_free(&b);
}

static const fm_http_route ROUTES[] = {
    {"POST", "/query", FM_HTTP_AUTH | FM_HTTP_NOT_DRAINING | FM_HTTP_BODY | FM_HTTP_QUERY, on_query},
    {"GET", "/healthz", 0, fm_http_healthz},
    {"GET", "/readyz", 0, on_readyz},
    {"GET", "/metrics", 0, on_metrics},
};

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

/* the Kubernetes client, the Secret reader and the informers */
static int gw_open(gateway *g, fm_err *err) {
    kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char *kcpath = fm_host_path(g->o.kubeconfig);
    int lrc = kcpath ? kube_config_load_kubeconfig(kcpath, g->o.context, &cfg, err) : kube_config_load(&cfg, err);
    free(kcpath);
    if (lrc) return -1;
    g->kc = kube_client_new(&cfg, err);
    kube_config_free(&cfg);
    if (!g->kc) return -1;
    const char *ns = g->o.ns ? g->o.ns : getenv("POD_NAMESPACE");
    snprintf(g->ns, sizeof g->ns, "%s", ns && *ns ? ns : kube_client_namespace(g->kc));
    g->router = fm_router_new();
    g->tokens = fm_tokset_new();
    g->secrets = fm_gw_secrets_start(g->kc, g->ns, g->o.tokens_secret, g->o.internal_secret, g->o.token_refresh_ms,
                                     g->tokens, err);
    if (!g->secrets) return -1;
    if (!(g->pools = informer(g, &RES_POOLS, NULL, pool_add, pool_upd, err))) return -1;
    if (!(g->pods = informer(g, &KUBE_RES_PODS, FM_LABEL_COMPONENT "=" FM_COMPONENT_POOL, pod_add, pod_upd, err)))
        return -1;
    if (!(g->catalogs = informer(g, &RES_CATALOGS, NULL, NULL, NULL, err))) return -1;
    return 0;
}

/* HTTP until SIGTERM/SIGINT, then quiesce and drain */
static int gw_serve(gateway *g, fm_err *err) {
    fm_http_config hc = {.name = "gateway", .addr = g->o.listen_addr, .port = g->o.listen_port, .routes = ROUTES,
                         .nroutes = sizeof ROUTES / sizeof ROUTES[0], .ud = g, .auth = token_ok,
                         .max_body = g->o.max_body, .pod = getenv("POD_NAME"), .id_prefix = "gw", .conn_limit = 2000,
                         .conn_timeout_s = 300};
    g->http = fm_http_start(&hc, err);
    if (!g->http) return -1;
    fm_info("gateway listening on http://%s:%d, namespace %s (tokens from Secret %s)", g->o.listen_addr,
            fm_http_port(g->http), g->ns, g->o.tokens_secret);
    int64_t next_report = 0;
    for (;;) {
        if (fm_now_ms() >= next_report) {
            report_queues(g);
            next_report = fm_now_ms() + QUEUE_REPORT_MS;
        }
        int sig = fm_signals_wait(LOOP_MS);
        if (sig) {
            fm_info("received %s: draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
    }
    fm_http_quiesce(g->http);
    int left = fm_http_drain(g->http, g->o.drain_ms, 20, NULL, NULL);
    if (left) fm_warn("%d request%s still running after %ld ms: closing them", left, left == 1 ? "" : "s", g->o.drain_ms);
    return 0;
}

static void gw_close(gateway *g) {
    fm_http_stop(g->http); /* first: requests still in flight release their leases into the router */
    kube_informer_free(g->pods);
    kube_informer_free(g->pools);
    kube_informer_free(g->catalogs);
    fm_gw_secrets_stop(g->secrets);
    fm_router_free(g->router);
    fm_tokset_free(g->tokens);
    kube_client_free(g->kc);
    fm_gw_metrics_reset();
}

static int gw_run(const fm_gw_config *cfg) {
    fm_signals_block(); /* before any thread starts, so every thread inherits the mask */
    fm_upstream_global_init();
    gateway *g = fm_xcalloc(1, sizeof *g);
    g->o = *cfg;
    fm_err err;
    fm_err_clear(&err);
    int rc = gw_open(g, &err) || gw_serve(g, &err) ? 1 : 0;
    if (rc) fm_error("%s", err.msg);
    gw_close(g);
    free(g);
    fm_upstream_global_cleanup();
    fm_info("gateway stopped");
    return rc;
}

int fm_role_gateway(int argc, char **argv) {
    fm_gw_config cfg;
    fm_err err;
    fm_err_clear(&err);
    switch (fm_gw_cmd(argc, argv, &cfg, &err)) {
    case FM_GW_HELP: fm_gw_usage(stdout); return 0;
    case FM_GW_USAGE:
        fprintf(stderr, "featherman gateway: %s\n", err.msg);
        fm_gw_usage(stderr);
        return 2;
    case FM_GW_RUN: break;
    }
    return gw_run(&cfg);
}
