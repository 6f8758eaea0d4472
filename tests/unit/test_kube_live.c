/* The Kubernetes client against a real API server. These tests do nothing unless
 * FM_KUBE_LIVE_NS names a namespace to work in (tests/integration/test_kube_client.py sets it,
 * with KUBECONFIG pointing at the test cluster); run alone with `unit_tests kube_live_`.
 * kube_live_leader_proc is not a test but a process role for the two-process election test. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/informer.h"
#include "kube/kube_events.h"
#include "kube/kube_http.h"
#include "kube/kube_watch.h"
#include "kube/leader.h"
#include "unit.h"

static const kube_resource WIDGETS = {"kubetest.featherman.dev", "v1", "widgets", "Widget", 1};

static const char *live_ns(void) {
    const char *ns = getenv("FM_KUBE_LIVE_NS");
    return ns && *ns ? ns : NULL;
}

static kube_client *live_client(int *fm_failed) {
    kube_config cfg;
    fm_err e;
    if (kube_config_load(&cfg, &e)) {
        fprintf(stderr, "  kube config: %s\n", e.msg);
        *fm_failed = 1;
        return NULL;
    }
    kube_client *c = kube_client_new(&cfg, &e);
    if (!c) {
        fprintf(stderr, "  kube client: %s\n", e.msg);
        *fm_failed = 1;
        return NULL;
    }
    fprintf(stderr, "  live: %s\n", kube_client_server(c)); /* proof for the pytest that it ran */
    return c;
}

static json_t *configmap(const char *ns, const char *name, const char *label, const char *v) {
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata",
                     "name", name, "namespace", ns, "labels", "suite", label, "data", "v", v);
}

static const char *md(const json_t *o, const char *f) {
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define REQUIRE_OK(call)                                                                      \
    do {                                                                                      \
        fm_err_clear(&e);                                                                     \
        if ((call) != 0) {                                                                    \
            fprintf(stderr, "  %s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, e.msg);    \
            *fm_failed = 1;                                                                   \
        }                                                                                     \
    } while (0)

FM_TEST(kube_live_crud) {
    const char *ns = live_ns();
    if (!ns) return;
    kube_client *c = live_client(fm_failed);
    if (!c) return;
    fm_err e;
    kube_status st;
    json_t *out = NULL, *cm = configmap(ns, "crud-a", "crud", "1");

    REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, &out, &e));
    CHECK(out && md(out, "uid") && md(out, "resourceVersion"));
    char *uid = strdup(md(out, "uid") ? md(out, "uid") : "");
    char *rv1 = strdup(md(out, "resourceVersion") ? md(out, "resourceVersion") : "");
    json_decref(out);

    /* AlreadyExists */
    CHECK(kube_create_ex(c, &KUBE_RES_CONFIGMAPS, ns, cm, &out, &st, &e) == -1);
    CHECK(e.code == FM_E_BUSY && st.http == 409);
    CHECK_STR(st.reason, "AlreadyExists");
    CHECK(strstr(e.msg, "already exists") != NULL);

    REQUIRE_OK(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "data"), "v")), "1");

    /* update with the current resourceVersion, then again with the stale one → 409 Conflict */
    json_object_set_new(json_object_get(out, "data"), "v", json_string("2"));
    json_t *updated = NULL;
    REQUIRE_OK(kube_update(c, &KUBE_RES_CONFIGMAPS, ns, out, &updated, &e));
    CHECK(updated && strcmp(md(updated, "resourceVersion"), rv1));
    json_decref(updated);
    json_object_set_new(json_object_get(out, "data"), "v", json_string("3"));
    CHECK(kube_update_ex(c, &KUBE_RES_CONFIGMAPS, ns, NULL, out, NULL, &st, &e) == -1);
    CHECK(e.code == FM_E_BUSY && st.http == 409);
    CHECK_STR(st.reason, "Conflict");
    CHECK(strstr(e.msg, "the object has been modified") != NULL);
    json_decref(out);

    /* merge patch and JSON patch */
    json_t *mp = json_pack("{s:{s:s}}", "data", "m", "merged");
    REQUIRE_OK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", NULL, KUBE_PATCH_MERGE, mp, NULL, 0, &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "data"), "m")), "merged");
    json_decref(out);
    json_decref(mp);
    json_t *jp = json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "/data/v", "value", "jp");
    REQUIRE_OK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", NULL, KUBE_PATCH_JSON, jp, NULL, 0, &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "data"), "v")), "jp");
    json_decref(out);
    json_decref(jp);
    /* a JSON patch test op that fails → 422 → invalid */
    jp = json_pack("[{s:s,s:s,s:s}]", "op", "test", "path", "/data/v", "value", "nope");
    CHECK(kube_patch_ex(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", NULL, KUBE_PATCH_JSON, jp, NULL, 0, NULL, &st, &e) == -1);
    CHECK(e.code == FM_E_INVALID && st.http == 422);
    json_decref(jp);

    /* list: label selector and pagination (limit 2 over 5 objects) */
    for (int i = 0; i < 4; i++) {
        char name[32];
        snprintf(name, sizeof name, "crud-p%d", i);
        json_t *o = configmap(ns, name, "crud", "p");
        REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, o, NULL, &e));
        json_decref(o);
    }
    json_t *other = configmap(ns, "crud-other", "other", "x");
    REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, other, NULL, &e));
    json_decref(other);
    kube_list_opts lo = {.label_selector = "suite=crud", .limit = 2};
    json_t *page = NULL;
    char *cont = NULL;
    REQUIRE_OK(kube_list_page(c, &KUBE_RES_CONFIGMAPS, ns, &lo, NULL, &page, &cont, NULL, &e));
    CHECK(json_array_size(json_object_get(page, "items")) == 2 && cont != NULL);
    json_decref(page);
    free(cont);
    json_t *all = NULL;
    REQUIRE_OK(kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &lo, &all, &e));
    CHECK(json_array_size(json_object_get(all, "items")) == 5);
    CHECK(md(all, "resourceVersion") != NULL && md(all, "continue") == NULL);
    json_decref(all);
    kube_list_opts fo = {.field_selector = "metadata.name=crud-other"};
    REQUIRE_OK(kube_list(c, &KUBE_RES_CONFIGMAPS, ns, &fo, &all, &e));
    CHECK(json_array_size(json_object_get(all, "items")) == 1);
    json_decref(all);

    /* server-side apply: create, conflict with another manager, force */
    json_t *ap = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                           "crud-ssa", "namespace", ns, "data", "owned", "by-a");
    REQUIRE_OK(kube_apply(c, &KUBE_RES_CONFIGMAPS, ap, "fm-test-a", 0, &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "data"), "owned")), "by-a");
    json_decref(out);
    json_object_set_new(json_object_get(ap, "data"), "owned", json_string("by-b"));
    CHECK(kube_apply(c, &KUBE_RES_CONFIGMAPS, ap, "fm-test-b", 0, NULL, &e) == -1);
    CHECK(e.code == FM_E_BUSY && strstr(e.msg, "conflict"));
    REQUIRE_OK(kube_apply(c, &KUBE_RES_CONFIGMAPS, ap, "fm-test-b", 1, &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "data"), "owned")), "by-b");
    json_decref(out);
    json_decref(ap);

    /* delete: a wrong uid precondition is a conflict; then background delete; then 404 */
    kube_delete_opts dopt = {.precondition_uid = "00000000-0000-0000-0000-000000000000", .grace_period_seconds = -1};
    CHECK(kube_delete_ex(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", &dopt, NULL, &st, &e) == -1);
    CHECK(e.code == FM_E_BUSY && st.http == 409);
    kube_delete_opts dok = {.propagation_policy = "Background", .grace_period_seconds = 0, .precondition_uid = uid};
    REQUIRE_OK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", &dok, NULL, &e));
    CHECK(kube_get_ex(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", &out, &st, &e) == -1);
    CHECK(e.code == FM_E_NOT_FOUND && st.http == 404 && out == NULL);
    CHECK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "crud-a", NULL, NULL, &e) == -1 && e.code == FM_E_NOT_FOUND);
    /* names that need escaping reach the server as one segment (and are refused as invalid names) */
    CHECK(kube_get_ex(c, &KUBE_RES_CONFIGMAPS, ns, "../secrets/x", &out, &st, &e) == -1);
    CHECK(st.http == 404 || st.http == 400);

    free(uid);
    free(rv1);
    json_decref(cm);
    kube_client_free(c);
}

/* A namespaced CRD with the status subresource, created once per cluster. */
static int ensure_widget_crd(kube_client *c, int *fm_failed) {
    fm_err e;
    const char *crd_json =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
        "\"metadata\":{\"name\":\"widgets.kubetest.featherman.dev\"},"
        "\"spec\":{\"group\":\"kubetest.featherman.dev\",\"scope\":\"Namespaced\","
        "\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\"},"
        "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},"
        "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"properties\":{"
        "\"spec\":{\"type\":\"object\",\"properties\":{\"size\":{\"type\":\"integer\"}}},"
        "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":\"string\"},"
        "\"conditions\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\",\"x-kubernetes-list-map-keys\":[\"type\"],"
        "\"items\":{\"type\":\"object\",\"required\":[\"type\"],\"properties\":{\"type\":{\"type\":\"string\"},"
        "\"status\":{\"type\":\"string\"}}}}}}}}}}]}}";
    json_t *crd = json_loads(crd_json, 0, NULL);
    kube_status st;
    if (kube_create_ex(c, &KUBE_RES_CRDS, NULL, crd, NULL, &st, &e) && st.http != 409) {
        fprintf(stderr, "  create CRD: %s\n", e.msg);
        *fm_failed = 1;
        json_decref(crd);
        return -1;
    }
    json_decref(crd);
    for (int i = 0; i < 300; i++) {
        json_t *got = NULL;
        if (kube_get(c, &KUBE_RES_CRDS, NULL, "widgets.kubetest.featherman.dev", &got, &e) == 0) {
            json_t *conds = json_object_get(json_object_get(got, "status"), "conditions");
            size_t k;
            json_t *cd;
            int established = 0;
            json_array_foreach(conds, k, cd) {
                const char *t = json_string_value(json_object_get(cd, "type"));
                const char *s = json_string_value(json_object_get(cd, "status"));
                if (t && s && !strcmp(t, "Established") && !strcmp(s, "True")) established = 1;
            }
            json_decref(got);
            /* discovery lags Established by a moment: also wait until a list answers */
            json_t *l = NULL;
            if (established && kube_list(c, &WIDGETS, live_ns(), NULL, &l, &e) == 0) {
                json_decref(l);
                return 0;
            }
        }
        sleep_ms(100);
    }
    fprintf(stderr, "  the Widget CRD did not become established\n");
    *fm_failed = 1;
    return -1;
}

FM_TEST(kube_live_status_subresource) {
    const char *ns = live_ns();
    if (!ns) return;
    kube_client *c = live_client(fm_failed);
    if (!c) return;
    fm_err e;
    if (ensure_widget_crd(c, fm_failed)) {
        kube_client_free(c);
        return;
    }
    json_t *w = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:i}}", "apiVersion", "kubetest.featherman.dev/v1", "kind", "Widget",
                          "metadata", "name", "w1", "namespace", ns, "spec", "size", 1);
    json_t *out = NULL;
    REQUIRE_OK(kube_apply(c, &WIDGETS, w, "fm-test", 1, &out, &e));
    CHECK(json_integer_value(json_object_get(json_object_get(out, "metadata"), "generation")) == 1);
    json_decref(out);
    /* status through the main resource is ignored; through /status it sticks and the
     * generation does not move */
    json_t *mp = json_pack("{s:{s:s}}", "status", "phase", "Main");
    REQUIRE_OK(kube_patch(c, &WIDGETS, ns, "w1", NULL, KUBE_PATCH_MERGE, mp, NULL, 0, &out, &e));
    CHECK(json_object_get(out, "status") == NULL ||
          json_object_get(json_object_get(out, "status"), "phase") == NULL);
    json_decref(out);
    json_decref(mp);
    mp = json_pack("{s:{s:s}}", "status", "phase", "Ready");
    REQUIRE_OK(kube_patch(c, &WIDGETS, ns, "w1", "status", KUBE_PATCH_MERGE, mp, "fm-test", 0, &out, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "status"), "phase")), "Ready");
    CHECK(json_integer_value(json_object_get(json_object_get(out, "metadata"), "generation")) == 1);
    json_decref(out);
    json_decref(mp);
    /* server-side apply of status: conditions merge as a list-map keyed by type */
    json_t *sa = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:[{s:s,s:s}]}}", "apiVersion", "kubetest.featherman.dev/v1", "kind",
                           "Widget", "metadata", "name", "w1", "namespace", ns, "status", "conditions", "type", "Ready",
                           "status", "True");
    REQUIRE_OK(kube_apply_status(c, &WIDGETS, sa, "fm-test-status", 1, &out, &e));
    json_t *conds = json_object_get(json_object_get(out, "status"), "conditions");
    CHECK(json_array_size(conds) == 1);
    CHECK_STR(json_string_value(json_object_get(json_object_get(out, "status"), "phase")), "Ready");
    json_decref(out);
    json_decref(sa);
    /* update_status with a PUT */
    REQUIRE_OK(kube_get(c, &WIDGETS, ns, "w1", &out, &e));
    json_object_set_new(json_object_get(out, "status"), "phase", json_string("Put"));
    json_t *put = NULL;
    REQUIRE_OK(kube_update_status(c, &WIDGETS, ns, out, &put, &e));
    CHECK_STR(json_string_value(json_object_get(json_object_get(put, "status"), "phase")), "Put");
    json_decref(put);
    json_decref(out);
    json_decref(w);
    kube_client_free(c);
}

typedef struct {
    pthread_mutex_t mu;
    int added, modified, deleted, bookmarks, lists;
} live_seen;

static void w_list(void *ud, json_t *items) {
    live_seen *s = ud;
    pthread_mutex_lock(&s->mu);
    s->lists++;
    pthread_mutex_unlock(&s->mu);
}

static void w_event(void *ud, kube_watch_type t, json_t *obj) {
    live_seen *s = ud;
    pthread_mutex_lock(&s->mu);
    if (t == KUBE_WATCH_ADDED) s->added++;
    if (t == KUBE_WATCH_MODIFIED) s->modified++;
    if (t == KUBE_WATCH_DELETED) s->deleted++;
    if (t == KUBE_WATCH_BOOKMARK) s->bookmarks++;
    pthread_mutex_unlock(&s->mu);
}

static int wait_for(live_seen *s, int *field, int want, long ms) {
    for (long t = 0; t < ms; t += 50) {
        pthread_mutex_lock(&s->mu);
        int v = *field;
        pthread_mutex_unlock(&s->mu);
        if (v >= want) return 1;
        sleep_ms(50);
    }
    return 0;
}

FM_TEST(kube_live_watch) {
    const char *ns = live_ns();
    if (!ns) return;
    kube_client *c = live_client(fm_failed);
    if (!c) return;
    fm_err e;
    live_seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
    kube_watch_handlers h = {w_list, w_event, &s};
    /* short server-side timeouts: the watch must resume from its resourceVersion each time */
    kube_watch_opts o = {.res = &KUBE_RES_CONFIGMAPS, .ns = ns, .label_selector = "suite=watch", .timeout_s = 2};
    kube_watch *w = kube_watch_start(c, &o, &h, &e);
    CHECK(w != NULL);
    CHECK(wait_for(&s, &s.lists, 1, 10000));
    json_t *cm = configmap(ns, "watch-a", "watch", "1");
    REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e));
    CHECK(wait_for(&s, &s.added, 1, 10000));
    json_t *mp = json_pack("{s:{s:s}}", "data", "v", "2");
    REQUIRE_OK(kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "watch-a", NULL, KUBE_PATCH_MERGE, mp, NULL, 0, NULL, &e));
    CHECK(wait_for(&s, &s.modified, 1, 10000));
    sleep_ms(4500); /* across at least one server timeout */
    REQUIRE_OK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "watch-a", NULL, NULL, &e));
    CHECK(wait_for(&s, &s.deleted, 1, 10000));
    kube_watch_stats ws;
    kube_watch_get_stats(w, &ws);
    CHECK(ws.watches >= 2);
    CHECK(ws.lists == 1 && s.added == 1 && s.modified == 1 && s.deleted == 1); /* no duplicates across re-watches */
    fprintf(stderr, "  watch: %ld watches, %ld bookmarks, %ld events\n", ws.watches, ws.bookmarks, ws.events);
    kube_watch_stop(w);
    json_decref(mp);
    json_decref(cm);

    /* resuming from a very old version: the server either answers 410 (the watch relists) or,
     * as a watch cache that keeps snapshots does, replays the current state as ADDED events;
     * either way what follows is delivered (410 itself is exercised in test_kube_watch_mock.c) */
    live_seen s2 = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
    kube_watch_handlers h2 = {w_list, w_event, &s2};
    kube_watch_opts o2 = {.res = &KUBE_RES_CONFIGMAPS, .ns = ns, .label_selector = "suite=watch", .timeout_s = 30,
                          .resource_version = "1"};
    w = kube_watch_start(c, &o2, &h2, &e);
    sleep_ms(1000);
    cm = configmap(ns, "watch-b", "watch", "1");
    REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, cm, NULL, &e));
    CHECK(wait_for(&s2, &s2.added, 1, 10000));
    json_decref(cm);
    kube_watch_get_stats(w, &ws);
    fprintf(stderr, "  resume from rv 1: %ld lists, %ld gone, %ld events\n", ws.lists, ws.gone, ws.events);
    CHECK(ws.gone == 0 || ws.lists >= 1);
    kube_watch_stop(w);

    /* bookmarks: a watch that asked (allowWatchBookmarks) and sees no matching change still
     * learns newer versions — here from a change outside its label selector */
    live_seen s3 = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
    kube_watch_handlers h3 = {w_list, w_event, &s3};
    kube_watch_opts o3 = {.res = &KUBE_RES_CONFIGMAPS, .ns = ns, .label_selector = "suite=nothing", .timeout_s = 6};
    w = kube_watch_start(c, &o3, &h3, &e);
    CHECK(wait_for(&s3, &s3.lists, 1, 10000));
    int got_bm = 0;
    for (int i = 0; i < 10 && !got_bm; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        json_t *p = json_pack("{s:{s:s}}", "data", "n", v);
        kube_patch(c, &KUBE_RES_CONFIGMAPS, ns, "watch-b", NULL, KUBE_PATCH_MERGE, p, NULL, 0, NULL, &e);
        json_decref(p);
        got_bm = wait_for(&s3, &s3.bookmarks, 1, 2000);
    }
    CHECK(got_bm);
    CHECK(s3.added == 0 && s3.modified == 0);
    kube_watch_get_stats(w, &ws);
    fprintf(stderr, "  bookmark watch: %ld watches, %ld bookmarks\n", ws.watches, ws.bookmarks);
    kube_watch_stop(w); /* interrupts the stream */
    kube_client_free(c);
}

static void i_add(void *ud, json_t *o) {
    live_seen *s = ud;
    pthread_mutex_lock(&s->mu);
    s->added++;
    pthread_mutex_unlock(&s->mu);
}
static void i_del(void *ud, json_t *o) {
    live_seen *s = ud;
    pthread_mutex_lock(&s->mu);
    s->deleted++;
    pthread_mutex_unlock(&s->mu);
}

FM_TEST(kube_live_informer_and_events) {
    const char *ns = live_ns();
    if (!ns) return;
    kube_client *c = live_client(fm_failed);
    if (!c) return;
    fm_err e;
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "inf-%d", i);
        json_t *o = configmap(ns, name, "inf", "x");
        REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, o, NULL, &e));
        json_decref(o);
    }
    kube_watch_opts o = {.res = &KUBE_RES_CONFIGMAPS, .ns = ns, .label_selector = "suite=inf", .page_size = 2};
    kube_informer *inf = kube_informer_new(c, &o, &e);
    live_seen s = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0};
    kube_informer_handlers h = {i_add, NULL, i_del, &s};
    REQUIRE_OK(kube_informer_add_handlers(inf, &h, &e));
    REQUIRE_OK(kube_informer_start(inf, &e));
    REQUIRE_OK(kube_informer_wait_synced(inf, 15000, &e));
    CHECK(kube_informer_len(inf) == 3 && s.added == 3);
    json_t *got = kube_informer_get(inf, ns, "inf-1");
    CHECK(got != NULL);
    json_t *nw = configmap(ns, "inf-new", "inf", "x");
    REQUIRE_OK(kube_create(c, &KUBE_RES_CONFIGMAPS, ns, nw, NULL, &e));
    json_decref(nw);
    CHECK(wait_for(&s, &s.added, 4, 10000));
    json_t *cached = kube_informer_get(inf, ns, "inf-new");
    CHECK(cached != NULL);
    json_decref(cached);
    REQUIRE_OK(kube_delete(c, &KUBE_RES_CONFIGMAPS, ns, "inf-1", NULL, NULL, &e));
    CHECK(wait_for(&s, &s.deleted, 1, 10000));
    cached = kube_informer_get(inf, ns, "inf-1");
    CHECK(cached == NULL);
    /* the reference taken before the delete is still valid */
    CHECK_STR(md(got, "name"), "inf-1");
    json_decref(got);

    /* Events about an object: a repeat bumps count instead of creating another */
    kube_recorder *r = kube_recorder_new(c, "featherman-test", "unit");
    json_t *obj = NULL;
    REQUIRE_OK(kube_get(c, &KUBE_RES_CONFIGMAPS, ns, "inf-0", &obj, &e));
    CHECK(kube_eventf(r, obj, "Warning", "TestReason", "something %s happened", "odd") == 0);
    CHECK(kube_eventf(r, obj, "Warning", "TestReason", "something %s happened", "odd") == 0);
    CHECK(kube_eventf(r, obj, "Normal", "Other", "fine") == 0);
    kube_list_opts lo = {.field_selector = "involvedObject.name=inf-0,reason=TestReason"};
    json_t *evs = NULL;
    REQUIRE_OK(kube_list(c, &KUBE_RES_EVENTS, ns, &lo, &evs, &e));
    json_t *items = json_object_get(evs, "items");
    CHECK(json_array_size(items) == 1);
    json_t *ev = json_array_get(items, 0);
    CHECK(json_integer_value(json_object_get(ev, "count")) == 2);
    CHECK_STR(json_string_value(json_object_get(ev, "message")), "something odd happened");
    CHECK_STR(json_string_value(json_object_get(json_object_get(ev, "involvedObject"), "uid")), md(obj, "uid"));
    json_decref(evs);
    json_decref(obj);
    kube_recorder_free(r);
    kube_informer_free(inf);
    kube_client_free(c);
}

/* In-cluster config against the live server: the pytest sets KUBERNETES_SERVICE_HOST/PORT and
 * FEATHERMAN_SA_DIR (a token for a ServiceAccount with edit rights in the namespace). */
FM_TEST(kube_live_in_cluster) {
    const char *ns = live_ns();
    if (!ns || !getenv("FEATHERMAN_SA_DIR")) return;
    kube_config cfg;
    fm_err e;
    REQUIRE_OK(kube_config_in_cluster(&cfg, &e));
    if (*fm_failed) return;
    CHECK_STR(cfg.namespace_, ns);
    kube_client *c = kube_client_new(&cfg, &e);
    fprintf(stderr, "  live: %s\n", kube_client_server(c));
    json_t *l = NULL;
    REQUIRE_OK(kube_list(c, &KUBE_RES_CONFIGMAPS, kube_client_namespace(c), NULL, &l, &e));
    json_decref(l);
    /* the service account may not read other namespaces: 403 → refused */
    CHECK(kube_list(c, &KUBE_RES_CONFIGMAPS, "kube-system", NULL, &l, &e) == -1 && e.code == FM_E_REFUSED);
    kube_client_free(c);
}

/* Not a test: one candidate of the two-process election test. Env: FM_KUBE_LEADER_ID, and
 * FM_KUBE_LEADER_STOP (a file whose appearance makes it stop and release). Prints "leading" /
 * "stopped" / "released" lines on stdout; exits when stopped or when leadership is lost. */
static volatile int leader_flag;
static void on_started(void *ud) { leader_flag = 1; }
static void on_stopped(void *ud) { leader_flag = 0; }

FM_TEST(kube_live_leader_proc) {
    const char *ns = live_ns();
    const char *id = getenv("FM_KUBE_LEADER_ID");
    const char *stop = getenv("FM_KUBE_LEADER_STOP");
    if (!ns || !id || !stop) return;
    kube_client *c = live_client(fm_failed);
    if (!c) return;
    fm_err e;
    kube_leader_config lc = {.ns = ns, .name = "fm-test-leader", .identity = id, .lease_duration_s = 4,
                             .renew_deadline_s = 3, .retry_period_s = 0.5, .on_started = on_started,
                             .on_stopped = on_stopped};
    kube_leader *l = kube_leader_start(c, &lc, &e);
    CHECK(l != NULL);
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("candidate %s\n", id);
    int was = 0;
    while (l && access(stop, F_OK) != 0) {
        int now = kube_leader_is_leader(l);
        if (now != was) printf("%s %s\n", now ? "leading" : "stopped", id);
        was = now;
        if (kube_leader_lost(l)) break;
        sleep_ms(50);
    }
    kube_leader_stop(l);
    printf("released %s\n", id);
    kube_client_free(c);
}
