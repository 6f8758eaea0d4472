/* The gateway's pure parts: pod parsing, pod choice, per-pool FIFO queues with their limits and
 * timeouts (real threads, short waits), token set rotation, the fallback Job's manifest. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_cmd.h"
#include "gateway/gw_fallback.h"
#include "gateway/gw_route.h"
#include "gateway/gw_tokens.h"
#include "k8s/k8s_names.h"
#include "engine/slots.h"
#include "unit.h"

static fm_pool_pod mkpod(const char *name, const char *pool, const char *cat, const char *ip, int slots, bool ready) {
    fm_pool_pod p = {.name = (char *)name, .pool = (char *)pool, .catalog = (char *)cat, .ip = (char *)ip,
                   .slots = slots, .ready = ready};
    return p;
}

FM_TEST(gw_pod_parse) {
    json_error_t je;
    json_t *o = json_loads(
        "{\"metadata\":{\"name\":\"p1\",\"labels\":{\"featherman.dev/pool\":\"pl\",\"featherman.dev/catalog\":\"lake\"},"
        "\"annotations\":{\"featherman.dev/draining\":\"false\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"featherman\",\"args\":[\"worker\",\"serve\",\"--slots\",\"3\"]}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.5\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}",
        0, &je);
    fm_pool_pod p;
    CHECK(fm_pool_pod_parse(o, &p) == 0);
    CHECK_STR(p.name, "p1");
    CHECK_STR(p.pool, "pl");
    CHECK_STR(p.catalog, "lake");
    CHECK_STR(p.ip, "127.0.0.5");
    CHECK(p.slots == 3 && p.ready && !p.draining && !p.deleting && fm_pool_pod_routable(&p));
    fm_pool_pod_free(&p);
    /* draining, deleting, not ready, no IP: not routable */
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "annotations"), FM_ANNOT_DRAINING, json_string("true"));
    CHECK(fm_pool_pod_parse(o, &p) == 0 && p.draining && !fm_pool_pod_routable(&p));
    fm_pool_pod_free(&p);
    json_object_del(json_object_get(json_object_get(o, "metadata"), "annotations"), FM_ANNOT_DRAINING);
    json_object_set_new(json_object_get(o, "metadata"), "deletionTimestamp", json_string("2026-01-01T00:00:00Z"));
    CHECK(fm_pool_pod_parse(o, &p) == 0 && p.deleting && !fm_pool_pod_routable(&p));
    fm_pool_pod_free(&p);
    json_object_del(json_object_get(o, "metadata"), "deletionTimestamp");
    json_object_set_new(json_array_get(json_object_get(json_object_get(o, "status"), "conditions"), 0), "status",
                        json_string("False"));
    CHECK(fm_pool_pod_parse(o, &p) == 0 && !p.ready && !fm_pool_pod_routable(&p));
    fm_pool_pod_free(&p);
    json_decref(o);
    o = json_loads("{\"metadata\":{\"name\":\"p2\"},\"spec\":{\"containers\":[{\"args\":[\"--slots=0\"]}]},"
                   "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}", 0, &je);
    CHECK(fm_pool_pod_parse(o, &p) == 0 && p.slots == 1 && !p.ip && !fm_pool_pod_routable(&p));
    fm_pool_pod_free(&p);
    json_decref(o);
}

FM_TEST(gw_route_choice) {
    fm_router *r = fm_router_new();
    fm_gw_ticket t;
    memset(&t, 0, sizeof t);
    CHECK(fm_router_acquire(r, "lake", &t, NULL, NULL) == FM_ROUTE_NO_POOL);
    fm_router_set_pool(r, "pl", "lake", 2, 200, 5000);
    fm_pool_pod a = mkpod("a", "pl", "lake", "127.0.0.2", 1, true), b = mkpod("b", "pl", "lake", "127.0.0.3", 2, true);
    fm_pool_pod other = mkpod("x", "pl", "other-catalog", "127.0.0.9", 4, true), dr = mkpod("d", "pl", "lake", "127.0.0.4", 4, true);
    dr.draining = true;
    fm_router_set_pod(r, &a);
    fm_router_set_pod(r, &b);
    fm_router_set_pod(r, &other);
    fm_router_set_pod(r, &dr);
    long mq = 0;
    CHECK(fm_router_serves(r, "lake", &mq) && mq == 5000 && !fm_router_serves(r, "nope", NULL));
    /* capacity: a has 1 slot, b has 2; the least loaded, then least recently used, goes first */
    fm_gw_ticket t1 = {0}, t2 = {0}, t3 = {0}, t4 = {0};
    CHECK(fm_router_acquire(r, "lake", &t1, NULL, NULL) == FM_ROUTE_OK);
    CHECK(fm_router_acquire(r, "lake", &t2, NULL, NULL) == FM_ROUTE_OK);
    CHECK(strcmp(t1.pod, t2.pod) != 0);
    CHECK(fm_router_acquire(r, "lake", &t3, NULL, NULL) == FM_ROUTE_OK);
    CHECK_STR(t3.pod, "b");
    CHECK(t3.max_query_ms == 5000 && !strcmp(t3.pool, "pl"));
    /* all 3 slots in use: waits maxWaitTime (200 ms) then 503 */
    int64_t t0 = fm_now_ms();
    CHECK(fm_router_acquire(r, "lake", &t4, NULL, NULL) == FM_ROUTE_TIMEOUT);
    int64_t waited = fm_now_ms() - t0;
    CHECK(waited >= 190 && waited < 1000 && t4.waited_ms >= 190);
    /* a 409 puts the pod in a short cool-down: the next query goes elsewhere */
    fm_router_release(r, &t1, FM_LEASE_BUSY);
    fm_router_release(r, &t2, FM_LEASE_DONE);
    fm_gw_ticket t5 = {0};
    CHECK(fm_router_acquire(r, "lake", &t5, NULL, NULL) == FM_ROUTE_OK);
    CHECK(strcmp(t5.pod, t1.pod) || !strcmp(t1.pod, "b")); /* not the cooling pod unless b had room */
    fm_router_release(r, &t3, FM_LEASE_DONE);
    fm_router_release(r, &t5, FM_LEASE_DONE);
    /* a pod that vanished: its lease is released harmlessly */
    fm_gw_ticket t6 = {0};
    CHECK(fm_router_acquire(r, "lake", &t6, NULL, NULL) == FM_ROUTE_OK);
    fm_router_remove_pod(r, t6.pod);
    fm_router_release(r, &t6, FM_LEASE_DONE);
    fm_router_free(r);
}

typedef struct {
    fm_router *r;
    int order;
    int result;
    int64_t done_ms;
    int id;
    fm_gw_ticket t;
} waiter_arg;

static pthread_mutex_t order_mu = PTHREAD_MUTEX_INITIALIZER;
static int order_next;

static void *wait_thread(void *p) {
    waiter_arg *w = p;
    w->result = fm_router_acquire(w->r, "lake", &w->t, NULL, NULL);
    pthread_mutex_lock(&order_mu);
    w->order = order_next++;
    pthread_mutex_unlock(&order_mu);
    w->done_ms = fm_now_ms();
    return NULL;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

FM_TEST(gw_route_fifo_queue_full_and_no_pods) {
    fm_router *r = fm_router_new();
    fm_router_set_pool(r, "pl", "lake", 2, 3000, 60000);
    fm_pool_pod a = mkpod("a", "pl", "lake", "127.0.0.2", 1, true);
    fm_router_set_pod(r, &a);
    fm_gw_ticket hold = {0};
    CHECK(fm_router_acquire(r, "lake", &hold, NULL, NULL) == FM_ROUTE_OK);
    order_next = 0;
    waiter_arg w[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].r = r;
        w[i].id = i;
        pthread_create(&th[i], NULL, wait_thread, &w[i]);
        while (fm_router_queue_length(r, "pl") != i + 1) sleep_ms(1);
    }
    /* the queue holds 2: the third is refused at once */
    fm_gw_ticket full = {0};
    CHECK(fm_router_acquire(r, "lake", &full, NULL, NULL) == FM_ROUTE_QUEUE_FULL);
    /* releases go to the waiters in arrival order */
    fm_router_release(r, &hold, FM_LEASE_DONE);
    while (fm_router_queue_length(r, "pl") != 1) sleep_ms(1);
    CHECK(w[0].result == FM_ROUTE_OK && w[0].order == 0);
    /* a retry after a 409 goes back to the head, ahead of w[1] */
    fm_router_release(r, &w[0].t, FM_LEASE_BUSY);
    w[0].t.retry = 1;
    pthread_t again;
    w[0].result = -1;
    pthread_create(&again, NULL, wait_thread, &w[0]);
    pthread_join(again, NULL);
    CHECK(w[0].result == FM_ROUTE_OK && w[0].order == 1);
    fm_router_release(r, &w[0].t, FM_LEASE_DONE);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    CHECK(w[1].result == FM_ROUTE_OK && w[1].order == 2);
    fm_router_release(r, &w[1].t, FM_LEASE_DONE);
    /* the pod goes away: a waiter ends with NO_PODS after the wait (Job fallback) */
    fm_router_set_pool(r, "pl", "lake", 2, 150, 60000);
    json_t *none = json_array();
    fm_router_sync_pods(r, none);
    json_decref(none);
    fm_gw_ticket t = {0};
    CHECK(fm_router_acquire(r, "lake", &t, NULL, NULL) == FM_ROUTE_NO_PODS);
    /* a pod that turns ready while one waits is used */
    memset(&t, 0, sizeof t);
    fm_router_set_pool(r, "pl", "lake", 2, 3000, 60000);
    waiter_arg late = {.r = r};
    pthread_create(&th[0], NULL, wait_thread, &late);
    while (fm_router_queue_length(r, "pl") != 1) sleep_ms(1);
    json_error_t je;
    json_t *pods = json_loads("[{\"metadata\":{\"name\":\"n\",\"labels\":{\"featherman.dev/pool\":\"pl\",\"featherman.dev/catalog\":\"lake\"}},"
                              "\"status\":{\"phase\":\"Running\",\"podIP\":\"127.0.0.7\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}]",
                              0, &je);
    fm_router_sync_pods(r, pods);
    json_decref(pods);
    pthread_join(th[0], NULL);
    CHECK(late.result == FM_ROUTE_OK);
    CHECK_STR(late.t.ip, "127.0.0.7");
    fm_router_release(r, &late.t, FM_LEASE_DONE);
    fm_router_free(r);
}

static int cancel_after(void *ud) { return fm_now_ms() >= *(int64_t *)ud; }

FM_TEST(gw_route_cancel_and_pools_from_json) {
    fm_router *r = fm_router_new();
    json_error_t je;
    json_t *pools = json_loads(
        "[{\"metadata\":{\"name\":\"p\"},\"spec\":{\"catalogRef\":{\"name\":\"lake\"},\"queue\":{\"maxLength\":5,"
        "\"maxWaitTime\":\"10s\"},\"maxQueryDuration\":\"2s\"}},"
        "{\"metadata\":{\"name\":\"q\"},\"spec\":{\"catalogRef\":{\"name\":\"sea\"}}}]", 0, &je);
    fm_router_sync_pools(r, pools);
    json_decref(pools);
    long mq = 0;
    CHECK(fm_router_serves(r, "lake", &mq) && mq == 2000);
    CHECK(fm_router_serves(r, "sea", &mq) && mq == FM_GW_DEFAULT_MAX_QUERY_MS);
    fm_pool_pod a = mkpod("a", "p", "lake", "127.0.0.2", 1, true);
    fm_router_set_pod(r, &a);
    fm_gw_ticket hold = {0}, t = {0};
    CHECK(fm_router_acquire(r, "lake", &hold, NULL, NULL) == FM_ROUTE_OK);
    int64_t at = fm_now_ms() + 100;
    CHECK(fm_router_acquire(r, "lake", &t, cancel_after, &at) == FM_ROUTE_CANCELLED);
    CHECK(fm_router_queue_length(r, "p") == 0);
    fm_router_release(r, &hold, FM_LEASE_DONE);
    /* pool q is deleted: its catalog has no pool any more */
    pools = json_loads("[{\"metadata\":{\"name\":\"p\"},\"spec\":{\"catalogRef\":{\"name\":\"lake\"}}}]", 0, &je);
    fm_router_sync_pools(r, pools);
    json_decref(pools);
    CHECK(!fm_router_serves(r, "sea", NULL));
    memset(&t, 0, sizeof t);
    CHECK(fm_router_acquire(r, "sea", &t, NULL, NULL) == FM_ROUTE_NO_POOL);
    fm_router_free(r);
}

FM_TEST(gw_tokset_rotation) {
    fm_tokset *s = fm_tokset_new();
    CHECK(!fm_tokset_check(s, "a", 1)); /* empty: nothing passes, not even "" */
    CHECK(!fm_tokset_check(s, "", 0));
    json_error_t je;
    /* "old-token\n" and "new-token" base64, plus stringData with whitespace around it */
    json_t *sec = json_loads("{\"data\":{\"a\":\"b2xkLXRva2VuCg==\",\"b\":\"bmV3LXRva2Vu\",\"empty\":\"\"},"
                             "\"stringData\":{\"c\":\" \\tplain-token \"}}", 0, &je);
    size_t n = 0;
    CHECK(fm_tokset_load_secret(s, sec, &n) == 0 && n == 3 && fm_tokset_size(s) == 3);
    CHECK(fm_tokset_check(s, "old-token", 9));
    CHECK(fm_tokset_check(s, "new-token", 9));
    CHECK(fm_tokset_check(s, "plain-token", 11));
    CHECK(!fm_tokset_check(s, "old-token\n", 10));
    CHECK(!fm_tokset_check(s, " \tplain-token ", 14)); /* presented tokens are compared as sent */
    CHECK(!fm_tokset_check(s, "new-toke", 8));
    CHECK(!fm_tokset_check(s, "", 0));
    /* rotation: the old key removed */
    json_object_del(json_object_get(sec, "data"), "a");
    CHECK(fm_tokset_load_secret(s, sec, &n) == 0 && n == 2);
    CHECK(!fm_tokset_check(s, "old-token", 9));
    CHECK(fm_tokset_check(s, "new-token", 9));
    CHECK(fm_tokset_load_secret(s, NULL, &n) == -1 && fm_tokset_size(s) == 2); /* not a Secret: unchanged */
    const char *list[] = {" x\n", "  ", NULL};
    CHECK(fm_tokset_set(s, list, 3) == 1 && fm_tokset_check(s, "x", 1) && !fm_tokset_check(s, "new-token", 9));
    fm_tokset_set(s, NULL, 0);
    CHECK(!fm_tokset_check(s, "x", 1));
    json_decref(sec);
    fm_tokset_free(s);
}

FM_TEST(gw_fallback_job_manifest) {
    char name[64];
    fm_once_job_name(name, sizeof name, "lake", "0123abcd");
    CHECK_STR(name, "lake-query-0123abcd");
    fm_once_job_name(name, sizeof name, "a-very-long-catalog-name-that-goes-on-and-on-and-on-and-on-x", "0123abcd");
    CHECK(strlen(name) <= 63 && strstr(name, "-query-0123abcd") && !strstr(name, "--"));
    json_error_t je;
    json_t *cr = json_loads("{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\","
                            "\"metadata\":{\"name\":\"lake\",\"namespace\":\"ns\",\"uid\":\"u-1\"},"
                            "\"spec\":{\"metadata\":{\"type\":\"sqlite\"},\"objectStore\":{\"bucket\":\"lake-bucket\","
                            "\"credentialsSecret\":{\"name\":\"s3\"}}}}", 0, &je);
    fm_catalog_spec cs;
    fm_err err;
    int prc = fm_catalog_spec_parse(cr, &cs, &err);
    if (prc) fprintf(stderr, "  %s\n", err.msg);
    CHECK(prc == 0);
    if (prc) return;
    fm_once_params p = {.namespace_ = "ns", .image = "featherman:test", .job_name = name, .catalog_cr = cr,
                        .catalog = &cs, .active_deadline_s = 0, .ttl_s = 0};
    json_t *job = fm_once_job_manifest(&p);
    char *s = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(strstr(s, "\"app.kubernetes.io/component\":\"query-once\""));
    CHECK(strstr(s, "\"featherman.dev/catalog\":\"lake\""));
    CHECK(strstr(s, "\"args\":[\"worker\",\"serve\",\"--once\",\"--slots\",\"1\"]"));
    CHECK(strstr(s, "{\"name\":\"FEATHERMAN_TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"key\":\"token\",\"name\":\"featherman-internal-token\"}}}"));
    CHECK(strstr(s, "\"secretKeyRef\":{\"key\":\"AWS_ACCESS_KEY_ID\",\"name\":\"s3\"}"));
    CHECK(strstr(s, "\"fieldPath\":\"status.podIP\""));
    CHECK(strstr(s, "\"claimName\":\"lake-metadata\""));
    CHECK(strstr(s, "\"ttlSecondsAfterFinished\":60") && strstr(s, "\"activeDeadlineSeconds\":300"));
    CHECK(strstr(s, "\"backoffLimit\":0") && strstr(s, "\"automountServiceAccountToken\":false"));
    CHECK(strstr(s, "\"uid\":\"u-1\"") && strstr(s, "\"path\":\"/readyz\""));
    CHECK(strstr(s, "{\"mountPath\":\"/var/lib/featherman\",\"name\":\"catalog\"}"));
    free(s);
    json_decref(job);
    fm_catalog_spec_free(&cs);
    json_decref(cr);
    /* a Postgres catalog: no claim, an emptyDir where the worker keeps its state (read-only root) */
    cr = json_loads("{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\","
                    "\"metadata\":{\"name\":\"lake\",\"namespace\":\"ns\",\"uid\":\"u-1\"},"
                    "\"spec\":{\"metadata\":{\"type\":\"postgres\",\"host\":\"pg\",\"database\":\"d\",\"user\":\"u\","
                    "\"passwordSecret\":{\"name\":\"pgpw\"}},\"objectStore\":{\"bucket\":\"lake-bucket\","
                    "\"credentialsSecret\":{\"name\":\"s3\"}}}}", 0, &je);
    prc = fm_catalog_spec_parse(cr, &cs, &err);
    if (prc) fprintf(stderr, "  %s\n", err.msg);
    CHECK(prc == 0);
    if (prc) return;
    p.catalog_cr = cr;
    job = fm_once_job_manifest(&p);
    s = json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK(!strstr(s, "claimName"));
    CHECK(strstr(s, "{\"emptyDir\":{},\"name\":\"catalog\"}"));
    CHECK(strstr(s, "{\"mountPath\":\"/var/lib/featherman\",\"name\":\"catalog\"}"));
    free(s);
    json_decref(job);
    fm_catalog_spec_free(&cs);
    json_decref(cr);
}

FM_TEST(gw_cmd_options) {
    fm_gw_config c;
    fm_err e;
    char *ok[] = {"gateway", "--listen", "127.0.0.1:9090", "--worker-port", "8081", "--drain-ms", "85000",
                  "--token-refresh-ms", "2s", "--max-body", "2MiB", "--no-fallback", "--token-grace-ms", "5s", NULL};
    CHECK(fm_gw_cmd(14, ok, &c, &e) == FM_GW_RUN);
    CHECK(c.token_grace_ms == 5000);
    CHECK_STR(c.listen_addr, "127.0.0.1");
    CHECK(c.listen_port == 9090 && c.worker_port == 8081 && c.drain_ms == 85000 && c.token_refresh_ms == 2000);
    CHECK(c.max_body == 2u << 20 && c.fallback == 0 && c.fallback_wait_ms == 60000);
    char *help[] = {"gateway", "--help", NULL};
    CHECK(fm_gw_cmd(2, help, &c, &e) == FM_GW_HELP);
    static const struct {
        const char *flag, *value, *needle;
    } bad[] = {
        {"--worker-port", "0", "--worker-port: expected an integer from 1 to 65535, got \"0\""},
        {"--worker-port", "8o8o", "--worker-port: expected an integer"},
        {"--token-refresh-ms", "soon", "--token-refresh-ms: expected a duration"},
        {"--token-grace-ms", "never", "--token-grace-ms: expected a duration"},
        {"--fallback-wait-ms", "10", "--fallback-wait-ms: expected a duration"}, /* below 1 s */
        {"--drain-ms", "1y", "--drain-ms: expected a duration"},
        {"--max-body", "0", "--max-body: expected a size"},
        {"--listen", "8080", "--listen: expected ADDR:PORT, got \"8080\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"gateway", (char *)bad[i].flag, (char *)bad[i].value, NULL};
        fm_err_clear(&e);
        CHECK(fm_gw_cmd(3, argv, &c, &e) == FM_GW_USAGE);
        CHECK(strstr(e.msg, bad[i].needle) != NULL);
    }
    char *stray[] = {"gateway", "extra", NULL};
    CHECK(fm_gw_cmd(2, stray, &c, &e) == FM_GW_USAGE && strstr(e.msg, "unexpected argument \"extra\"") != NULL);
    char *unknown[] = {"gateway", "--colour", NULL};
    CHECK(fm_gw_cmd(2, unknown, &c, &e) == FM_GW_USAGE && strstr(e.msg, "--colour") != NULL);
}
