/* The reconciler skeleton's order (operator/reconcile.h), driven through the real reconcilers
 * against a local HTTP server that records every request the operator makes and accepts them:
 * deletion before pause, no finalizer added while paused, an invalid spec reported, and a table
 * under deletion that waits — never skips its DROP — while the catalogs are not listed yet. The
 * caches are informers filled as their watch would fill them (kube_informer_apply_list). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "kube/informer.h"
#include "operator/operator.h"
#include "unit.h"

typedef struct {
    pthread_mutex_t mu;
    fm_buf log; /* "METHOD path body\n" per request */
} recorder;

typedef struct {
    fm_buf body;
} upload;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned code, const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *data, size_t *size, void **state) {
    (void)version;
    recorder *rec = cls;
    upload *u = *state;
    if (!u) {
        u = fm_xcalloc(1, sizeof *u);
        fm_buf_init(&u->body);
        *state = u;
        return MHD_YES;
    }
    if (*size) {
        fm_buf_append(&u->body, data, *size);
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&rec->mu);
    fm_buf_printf(&rec->log, "%s %s %.*s\n", method, url, (int)u->body.len, u->body.data ? u->body.data : "");
    pthread_mutex_unlock(&rec->mu);
    fm_buf_free(&u->body);
    free(u);
    *state = NULL;
    if (!strcmp(method, "GET")) return answer(c, 404, "{\"kind\":\"Status\",\"code\":404}");
    return answer(c, 200, "{}");
}

typedef struct {
    recorder rec;
    struct MHD_Daemon *d;
    fm_operator op;
} env;

static kube_informer *cache(env *e, const kube_resource *res) {
    kube_watch_opts o = {.res = res, .ns = "n"};
    fm_err err;
    return kube_informer_new(e->op.kube, &o, &err);
}

/* objects (a JSON array) as the informer's first list: the cache is synced */
static void fill(kube_informer *inf, const char *items) {
    json_t *a = json_loads(items, 0, NULL);
    if (!a) abort();
    kube_informer_apply_list(inf, a);
    json_decref(a);
}

static int env_start(env *e) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->rec.mu, NULL);
    fm_buf_init(&e->rec.log);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    e->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, &e->rec, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!e->d) return -1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(e->d, MHD_DAEMON_INFO_BIND_PORT);
    kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)di->port);
    cfg.server = fm_xstrdup(url);
    fm_err err;
    e->op.kube = kube_client_new(&cfg, &err);
    if (!e->op.kube) return -1;
    e->op.rec = kube_recorder_new(e->op.kube, "featherman-operator", "test");
    e->op.image = "featherman:test";
    e->op.catalogs = cache(e, &FM_RES_CATALOGS);
    e->op.tables = cache(e, &FM_RES_TABLES);
    e->op.pools = cache(e, &FM_RES_POOLS);
    e->op.jobs = cache(e, &KUBE_RES_JOBS);
    e->op.pods = cache(e, &KUBE_RES_PODS);
    return 0;
}

static void env_stop(env *e) {
    kube_informer *all[] = {e->op.catalogs, e->op.tables, e->op.pools, e->op.jobs, e->op.pods};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (all[i]) kube_informer_free(all[i]);
    kube_recorder_free(e->op.rec);
    kube_client_free(e->op.kube);
    MHD_stop_daemon(e->d);
    fm_buf_free(&e->rec.log);
    pthread_mutex_destroy(&e->rec.mu);
}

static const char *requests(env *e) { return e->rec.log.data ? e->rec.log.data : ""; }

/* the number of recorded requests whose line contains every one of the (NULL-ended) words */
static int count(env *e, ...) {
    int n = 0;
    const char *log = requests(e);
    while (*log) {
        const char *nl = strchr(log, '\n');
        size_t len = nl ? (size_t)(nl - log) : strlen(log);
        char *line = fm_xstrndup(log, len);
        va_list ap;
        va_start(ap, e);
        bool all = true;
        for (const char *w; (w = va_arg(ap, const char *));)
            if (!strstr(line, w)) all = false;
        va_end(ap);
        n += all;
        free(line);
        log += len + (nl ? 1 : 0);
    }
    return n;
}

#define TABLE_BEING_DELETED                                                                                   \
    "[{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeTable\",\"metadata\":{"      \
    "\"name\":\"t\",\"namespace\":\"n\",\"uid\":\"u-t\",\"generation\":1,\"resourceVersion\":\"7\","            \
    "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"featherman.dev/finalizer\"],"   \
    "\"annotations\":{\"featherman.dev/reconcile\":\"paused\"}},"                                             \
    "\"spec\":{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"x\",\"type\":\"INT\"}],"           \
    "\"deletionPolicy\":\"delete\"}}]"

FM_TEST(reconcile_table_deletion_waits_for_the_catalogs_to_be_listed) {
    env e;
    CHECK(env_start(&e) == 0);
    fill(e.op.tables, TABLE_BEING_DELETED);
    /* the catalogs' cache has not listed yet: the DROP cannot be judged, so the table waits */
    long next = fm_reconcile_table(&e.op, "n", "t");
    CHECK(next > 0);
    CHECK(count(&e, "PATCH /apis/ducklake.featherman.dev/v1alpha1/namespaces/n/ducklaketables/t/status",
                "waiting for the catalogs to be listed", NULL) == 1);
    CHECK(count(&e, "/finalizers", NULL) == 0); /* the finalizer stays */
    CHECK(count(&e, "DataLeftBehind", NULL) == 0);
    CHECK(count(&e, "ReconciliationPaused", NULL) == 0); /* deletion comes before the pause */
    /* listed, and the catalog is not there (its finalizer was removed by hand): said, then gone */
    fill(e.op.catalogs, "[]");
    next = fm_reconcile_table(&e.op, "n", "t");
    CHECK(next == 0);
    CHECK(count(&e, "POST /api/v1/namespaces/n/events", "DataLeftBehind", "DuckLakeCatalog c is gone", NULL) == 1);
    CHECK(count(&e, "PATCH /apis/ducklake.featherman.dev/v1alpha1/namespaces/n/ducklaketables/t ", "/finalizers",
                NULL) == 1);
    /* a catalog that does not parse cannot run the DROP either: said, then gone */
    fill(e.op.catalogs,
         "[{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\",\"metadata\":{"
         "\"name\":\"c\",\"namespace\":\"n\",\"uid\":\"u-c\",\"generation\":1,\"resourceVersion\":\"3\"},"
         "\"spec\":{\"metadata\":{\"type\":\"no-such-backend\"}}}]");
    CHECK(fm_reconcile_table(&e.op, "n", "t") == 0);
    CHECK(count(&e, "POST /api/v1/namespaces/n/events", "DataLeftBehind", "DuckLakeCatalog c is invalid", NULL) == 1);
    CHECK(count(&e, "PATCH /apis/ducklake.featherman.dev/v1alpha1/namespaces/n/ducklaketables/t ", "/finalizers",
                NULL) == 2);
    CHECK(count(&e, "jobs", NULL) == 0);
    if (*fm_failed) fprintf(stderr, "requests:\n%s", requests(&e));
    env_stop(&e);
}

FM_TEST(reconcile_paused_catalog_is_still_finalized) {
    env e;
    CHECK(env_start(&e) == 0);
    fill(e.op.tables, "[]");
    fill(e.op.catalogs,
         "[{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\",\"metadata\":{"
         "\"name\":\"c\",\"namespace\":\"n\",\"uid\":\"u-c\",\"generation\":2,\"resourceVersion\":\"9\","
         "\"deletionTimestamp\":\"2026-01-01T00:00:00Z\",\"finalizers\":[\"featherman.dev/finalizer\"],"
         "\"annotations\":{\"featherman.dev/reconcile\":\"paused\"}},\"spec\":{\"metadata\":{\"type\":\"sqlite\"}}}]");
    CHECK(fm_reconcile_catalog(&e.op, "n", "c") == 0);
    /* retain: the volume is released from garbage collection, then the finalizer goes */
    CHECK(count(&e, "PATCH /api/v1/namespaces/n/persistentvolumeclaims/c-metadata", "ownerReferences", NULL) == 1);
    CHECK(count(&e, "POST /api/v1/namespaces/n/events", "Retained", NULL) == 1);
    CHECK(count(&e, "PATCH /apis/ducklake.featherman.dev/v1alpha1/namespaces/n/ducklakecatalogs/c ", "/finalizers",
                NULL) == 1);
    CHECK(count(&e, "ReconciliationPaused", NULL) == 0);
    if (*fm_failed) fprintf(stderr, "requests:\n%s", requests(&e));
    env_stop(&e);
}

FM_TEST(reconcile_paused_object_is_left_alone_without_a_finalizer) {
    env e;
    CHECK(env_start(&e) == 0);
    fill(e.op.catalogs,
         "[{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\",\"metadata\":{"
         "\"name\":\"c\",\"namespace\":\"n\",\"uid\":\"u-c\",\"generation\":1,\"resourceVersion\":\"3\","
         "\"annotations\":{\"featherman.dev/reconcile\":\"paused\"}},\"spec\":{\"metadata\":{\"type\":\"sqlite\"}}}]");
    CHECK(fm_reconcile_catalog(&e.op, "n", "c") == 0);
    CHECK(count(&e, "PATCH", "ducklakecatalogs/c/status", "ReconciliationPaused", "\"phase\":\"Paused\"", NULL) == 1);
    CHECK(count(&e, "POST /api/v1/namespaces/n/events", "ReconciliationPaused", NULL) == 1);
    CHECK(count(&e, "/finalizers", NULL) == 0);
    CHECK(count(&e, "jobs", NULL) == 0 && count(&e, "persistentvolumeclaims", NULL) == 0);
    if (*fm_failed) fprintf(stderr, "requests:\n%s", requests(&e));
    env_stop(&e);
}

FM_TEST(reconcile_invalid_spec_is_a_condition) {
    env e;
    CHECK(env_start(&e) == 0);
    fill(e.op.pools,
         "[{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakePool\",\"metadata\":{"
         "\"name\":\"p\",\"namespace\":\"n\",\"uid\":\"u-p\",\"generation\":4,\"resourceVersion\":\"5\"},"
         "\"spec\":{\"catalogRef\":{\"name\":\"c\"},\"minSize\":3,\"maxSize\":2}}]");
    CHECK(fm_reconcile_pool(&e.op, "n", "p") == 0);
    CHECK(count(&e, "PATCH", "ducklakepools/p/status", "InvalidSpec", "spec.minSize", "\"phase\":\"Failed\"",
                "\"observedGeneration\":4", NULL) == 1);
    CHECK(count(&e, "POST /api/v1/namespaces/n/events", "Warning", "InvalidSpec", NULL) == 1);
    /* gone from the cache: nothing is asked of the API server */
    fill(e.op.pools, "[]");
    size_t before = e.rec.log.len;
    CHECK(fm_reconcile_pool(&e.op, "n", "p") == 0);
    CHECK(e.rec.log.len == before);
    if (*fm_failed) fprintf(stderr, "requests:\n%s", requests(&e));
    env_stop(&e);
}
