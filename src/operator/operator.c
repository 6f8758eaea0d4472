/* `featherman operator` (contract in operator.h): wiring of informers, queues, workers and leader
 * election; the reconcilers live in rec_*.c. */
#include "operator/operator.h"

#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "kube/kube_config.h"
#include "kube/leader.h"
#include "base/base64.h"
#include "base/log.h"
#include "operator/op_http.h"
#include "roles.h"

const kube_resource FM_RES_CATALOGS = {FM_GROUP, FM_VERSION, "ducklakecatalogs", "DuckLakeCatalog", 1};
const kube_resource FM_RES_TABLES = {FM_GROUP, FM_VERSION, "ducklaketables", "DuckLakeTable", 1};
const kube_resource FM_RES_POOLS = {FM_GROUP, FM_VERSION, "ducklakepools", "DuckLakePool", 1};

const char *const FM_CTRL_NAMES[3] = {"ducklakecatalog", "ducklaketable", "ducklakepool"};
const double FM_RECONCILE_BUCKETS[8] = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};

json_t *fm_op_get(kube_informer *inf, const char *ns, const char *name) { return kube_informer_get(inf, ns, name); }

int fm_op_write_status(fm_operator *op, const kube_resource *res, json_t *obj, json_t *status) {
    if (json_equal(json_object_get(obj, "status"), status)) return 0;
    json_t *patch = json_pack("{s:O}", "status", status);
    fm_err err;
    json_t *out = NULL;
    int rc = kube_patch(op->kube, res, fm_jstr(obj, "metadata.namespace"), fm_jstr(obj, "metadata.name"), "status",
                        KUBE_PATCH_MERGE, patch, FM_FIELD_MANAGER, 0, &out, &err);
    if (rc) fm_warn("status of %s %s: %s", res->kind, fm_jstr(obj, "metadata.name"), err.msg);
    json_decref(out);
    json_decref(patch);
    return rc;
}

static int patch_finalizers(fm_operator *op, const kube_resource *res, json_t *obj, json_t *finalizers) {
    json_t *patch = json_pack("[{s:s, s:s, s:O?}, {s:s, s:s, s:O}]", "op", "test", "path", "/metadata/resourceVersion",
                              "value", fm_jget(obj, "metadata.resourceVersion"), "op", "add", "path",
                              "/metadata/finalizers", "value", finalizers);
    fm_err err;
    json_t *out = NULL;
    int rc = kube_patch(op->kube, res, fm_jstr(obj, "metadata.namespace"), fm_jstr(obj, "metadata.name"), NULL,
                        KUBE_PATCH_JSON, patch, FM_FIELD_MANAGER, 0, &out, &err);
    if (rc) fm_warn("finalizers of %s %s: %s", res->kind, fm_jstr(obj, "metadata.name"), err.msg);
    json_decref(out);
    json_decref(patch);
    return rc;
}

int fm_op_add_finalizer(fm_operator *op, const kube_resource *res, json_t *obj) {
    if (fm_has_finalizer(obj, FM_FINALIZER)) return 0;
    json_t *f = json_deep_copy(fm_jget(obj, "metadata.finalizers"));
    if (!f) f = json_array();
    json_array_append_new(f, json_string(FM_FINALIZER));
    int rc = patch_finalizers(op, res, obj, f);
    json_decref(f);
    return rc;
}

int fm_op_remove_finalizer(fm_operator *op, const kube_resource *res, json_t *obj) {
    if (!fm_has_finalizer(obj, FM_FINALIZER)) return 0;
    json_t *f = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(fm_jget(obj, "metadata.finalizers"), i, v) {
        if (strcmp(json_string_value(v), FM_FINALIZER)) json_array_append(f, v);
    }
    int rc = patch_finalizers(op, res, obj, f);
    json_decref(f);
    return rc;
}

char *fm_op_secret_value(fm_operator *op, const char *ns, const char *name, const char *key, fm_err *err) {
    json_t *s = NULL;
    kube_status st = {0};
    if (kube_get_ex(op->kube, &KUBE_RES_SECRETS, ns, name, &s, &st, err)) {
        if (st.http == 404) fm_fail(err, FM_E_NOT_FOUND, "Secret %s not found in namespace %s", name, ns);
        return NULL;
    }
    /* keys may contain dots, so no dotted path here */
    const char *b64 = json_string_value(json_object_get(json_object_get(s, "data"), key));
    char *val = NULL;
    if (!b64) {
        fm_fail(err, FM_E_NOT_FOUND, "Secret %s has no key %s", name, key);
    } else {
        size_t n = 0;
        val = fm_b64decode(b64, &n);
        if (!val) fm_fail(err, FM_E_INVALID, "Secret %s key %s is not valid base64", name, key);
    }
    json_decref(s);
    return val;
}

/* ---- informer handlers: every change enqueues the keys it may affect ---- */

static fm_operator *the_op; /* for the add counters; one operator per process */

static void count_add(kube_wq *q) {
    if (!the_op) return;
    int c = q == the_op->q_catalog ? FM_CTRL_CATALOG : q == the_op->q_table ? FM_CTRL_TABLE : FM_CTRL_POOL;
    atomic_fetch_add(&the_op->ctrl[c].adds, 1);
}

static void enqueue(kube_wq *q, const json_t *obj) {
    char *k = kube_object_key(obj);
    if (k) {
        kube_wq_add(q, k);
        count_add(q);
    }
    free(k);
}

static void enqueue_ns_name(kube_wq *q, const char *ns, const char *name) {
    if (!ns || !name) return;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    kube_wq_add(q, key);
    count_add(q);
}

static const char *label(const json_t *obj, const char *l) {
    return json_string_value(json_object_get(fm_jget(obj, "metadata.labels"), l));
}

static void catalog_changed(fm_operator *op, json_t *obj) {
    enqueue(op->q_catalog, obj);
    /* tables and pools wait for their catalog: let them see the change */
    const char *ns = fm_jstr(obj, "metadata.namespace"), *name = fm_jstr(obj, "metadata.name");
    json_t *all = kube_informer_list(op->tables, ns);
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t) {
        const char *ref = json_string_value(fm_jget(t, "spec.catalogRef"));
        if (!ref) ref = fm_jstr(t, "spec.catalogRef.name");
        if (ref && name && !strcmp(ref, name)) enqueue(op->q_table, t);
    }
    json_decref(all);
    all = kube_informer_list(op->pools, ns);
    json_array_foreach(all, i, t) {
        const char *ref = fm_jstr(t, "spec.catalogRef.name");
        if (ref && name && !strcmp(ref, name)) enqueue(op->q_pool, t);
    }
    json_decref(all);
}

static void table_changed(fm_operator *op, json_t *obj) {
    enqueue(op->q_table, obj);
    const char *ref = json_string_value(fm_jget(obj, "spec.catalogRef"));
    if (!ref) ref = fm_jstr(obj, "spec.catalogRef.name");
    enqueue_ns_name(op->q_catalog, fm_jstr(obj, "metadata.namespace"), ref); /* a deleting catalog waits for tables */
}

static void job_changed(fm_operator *op, json_t *obj) {
    const char *ns = fm_jstr(obj, "metadata.namespace");
    const char *table = label(obj, FM_LABEL_TABLE), *catalog = label(obj, FM_LABEL_CATALOG);
    if (table) enqueue_ns_name(op->q_table, ns, table);
    if (catalog) enqueue_ns_name(op->q_catalog, ns, catalog);
    /* another Job may be waiting for this one's write lock */
    if (catalog) {
        json_t *all = kube_informer_list(op->tables, ns);
        size_t i;
        json_t *t;
        json_array_foreach(all, i, t) {
            const char *ref = json_string_value(fm_jget(t, "spec.catalogRef"));
            if (!ref) ref = fm_jstr(t, "spec.catalogRef.name");
            if (ref && !strcmp(ref, catalog)) enqueue(op->q_table, t);
        }
        json_decref(all);
    }
}

static void pod_changed(fm_operator *op, json_t *obj) {
    enqueue_ns_name(op->q_pool, fm_jstr(obj, "metadata.namespace"), label(obj, FM_LABEL_POOL));
}

#define HANDLERS(kind)                                                                                   \
    static void kind##_add(void *ud, json_t *o) { kind##_changed(ud, o); }                             \
    static void kind##_upd(void *ud, json_t *old, json_t *o) {                                          \
        (void)old;                                                                                       \
        kind##_changed(ud, o);                                                                           \
    }                                                                                                    \
    static void kind##_del(void *ud, json_t *o) { kind##_changed(ud, o); }
HANDLERS(catalog)
HANDLERS(table)
HANDLERS(job)
HANDLERS(pod)

static void pool_add(void *ud, json_t *o) { enqueue(((fm_operator *)ud)->q_pool, o); }
static void pool_upd(void *ud, json_t *old, json_t *o) {
    (void)old;
    enqueue(((fm_operator *)ud)->q_pool, o);
}

/* ---- workers ---- */

/* 0 campaigning, 1 leading, 2 lost. Workers only reconcile while leading; keys taken otherwise
 * are dropped (the next leadership's informers list everything again). */
static atomic_int leading;
static atomic_int active_reconciles;

typedef struct {
    fm_operator *op;
    kube_wq *q;
    fm_reconcile_fn fn;
    int ctrl;
} worker_arg;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker_main(void *p) {
    worker_arg *w = p;
    char *key;
    while ((key = kube_wq_get(w->q)) != NULL) {
        char ns[256] = "", *name = strchr(key, '/');
        atomic_fetch_add(&active_reconciles, 1);
        if (atomic_load(&leading) != 1) name = NULL; /* not leading: drop, never act */
        if (name && (size_t)(name - key) < sizeof ns) {
            memcpy(ns, key, (size_t)(name - key));
            ns[name - key] = 0;
            name++;
            atomic_fetch_add(&w->op->reconciles, 1);
            __typeof__(w->op->ctrl[0]) *m = &w->op->ctrl[w->ctrl];
            fm_log_context(FM_CTRL_NAMES[w->ctrl], key);
            double t0 = now_s();
            long next = w->fn(w->op, ns, name);
            double took = now_s() - t0;
            fm_log_context(NULL, NULL);
            atomic_fetch_add(&m->total, 1);
            atomic_fetch_add(&m->duration_count, 1);
            double sum = atomic_load(&m->duration_sum);
            while (!atomic_compare_exchange_weak(&m->duration_sum, &sum, sum + took)) {
            }
            for (int b = 0; b < 8; b++)
                if (took <= FM_RECONCILE_BUCKETS[b]) atomic_fetch_add(&m->duration_bucket[b], 1);
            if (next < 0) {
                atomic_fetch_add(&w->op->reconcile_errors, 1);
                atomic_fetch_add(&m->errors, 1);
                atomic_fetch_add(&m->retries, 1);
                kube_wq_add_rate_limited(w->q, key);
            } else {
                kube_wq_forget(w->q, key);
                if (next > 0) {
                    atomic_fetch_add(&m->requeues, 1);
                    kube_wq_add_after(w->q, key, next);
                }
            }
        }
        atomic_fetch_sub(&active_reconciles, 1);
        kube_wq_done(w->q, key);
        free(key);
    }
    return NULL;
}

static kube_informer *informer(fm_operator *op, const kube_resource *res, const char *selector,
                               const kube_informer_handlers *h, fm_err *err) {
    kube_watch_opts o = {.res = res, .ns = op->ns, .label_selector = selector};
    kube_informer *inf = kube_informer_new(op->kube, &o, err);
    if (inf && h && kube_informer_add_handlers(inf, h, err)) {
        kube_informer_free(inf);
        return NULL;
    }
    return inf;
}

static volatile sig_atomic_t stopping;
static void on_signal(int s) {
    (void)s;
    stopping = 1;
}

static void on_started(void *ud) {
    (void)ud;
    atomic_store(&leading, 1);
}
static void on_stopped(void *ud) {
    (void)ud;
    atomic_store(&leading, 2);
}

static void usage(FILE *to) {
    fprintf(to, "usage: featherman operator [--namespace NS] [--image IMAGE] [--listen ADDR:PORT] [--workers N]\n"
                "                           [--no-leader-elect] [--lease-namespace NS]\n"
                "  kubeconfig: $KUBECONFIG, else in-cluster (service account), else ~/.kube/config\n");
}

int fm_role_operator(int argc, char **argv) {
    const char *ns = getenv("FEATHERMAN_WATCH_NAMESPACE"), *image = getenv("FEATHERMAN_IMAGE"), *listen = NULL;
    const char *lease_ns = getenv("POD_NAMESPACE");
    int workers = 2, elect = 1;
    static const struct option opts[] = {{"namespace", required_argument, 0, 'n'},
                                         {"image", required_argument, 0, 'i'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"no-leader-elect", no_argument, 0, 'L'},
                                         {"lease-namespace", required_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:i:l:w:LN:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': ns = optarg; break;
        case 'i': image = optarg; break;
        case 'l': listen = optarg; break;
        case 'w': workers = atoi(optarg); break;
        case 'L': elect = 0; break;
        case 'N': lease_ns = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (workers < 1) workers = 1;
    /* a few threads, little allocation: glibc's default of one arena per thread only adds RSS */
    mallopt(M_ARENA_MAX, 2);
    if (ns && !*ns) ns = NULL;
    fm_err err;
    fm_err_clear(&err);
    kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    if (kube_config_load(&cfg, &err)) {
        fm_error("operator: %s", err.msg);
        return 1;
    }
    fm_operator op;
    memset(&op, 0, sizeof op);
    op.kube = kube_client_new(&cfg, &err);
    if (!op.kube) {
        fm_error("operator: %s", err.msg);
        kube_config_free(&cfg);
        return 1;
    }
    char ident[256];
    const char *pod = getenv("POD_NAME");
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    snprintf(ident, sizeof ident, "%s-%d", pod ? pod : host, (int)getpid());
    op.identity = ident;
    op.ns = ns;
    op.image = image ? image : FM_DEFAULT_IMAGE;
    op.rec = kube_recorder_new(op.kube, FM_FIELD_MANAGER, pod ? pod : host);
    the_op = &op;
    op.q_catalog = kube_wq_new(NULL);
    op.q_table = kube_wq_new(NULL);
    op.q_pool = kube_wq_new(NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    kube_informer *all[5] = {0};
    fm_op_http *http = fm_op_http_start(&op, listen, &leading, &err);
    if (!http) fm_warn("operator: no health endpoint: %s", err.msg);

    /* workers live for the whole process; they act only while this replica leads */
    int nthreads = workers * 3;
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    worker_arg args[3] = {{&op, op.q_catalog, fm_reconcile_catalog, FM_CTRL_CATALOG},
                          {&op, op.q_table, fm_reconcile_table, FM_CTRL_TABLE},
                          {&op, op.q_pool, fm_reconcile_pool, FM_CTRL_POOL}};
    for (int i = 0; i < nthreads; i++) pthread_create(&th[i], NULL, worker_main, &args[i % 3]);

    kube_leader *leader = NULL;
    int failed = 0;
    kube_informer_handlers hc = {catalog_add, catalog_upd, catalog_del, &op};
    kube_informer_handlers ht = {table_add, table_upd, table_del, &op};
    kube_informer_handlers hp = {pool_add, pool_upd, NULL, &op};
    kube_informer_handlers hj = {job_add, job_upd, job_del, &op};
    kube_informer_handlers hpod = {pod_add, pod_upd, pod_del, &op};
    /* Lost leadership (an API server restart longer than the renew deadline, a partition) is not
     * the end: stop acting, drop the caches, and campaign again. */
    while (!stopping && !failed) {
        atomic_store(&leading, 0);
        if (elect) {
            kube_leader_config lc = {.ns = lease_ns ? lease_ns : (ns ? ns : "default"), .name = "featherman-operator",
                                     .identity = ident, .on_started = on_started, .on_stopped = on_stopped};
            leader = kube_leader_start(op.kube, &lc, &err);
            if (!leader) {
                fm_error("operator: leader election: %s", err.msg);
                failed = 1;
                break;
            }
            fm_info("operator %s: waiting to lead (Lease %s/featherman-operator)", ident, lc.ns);
            while (!stopping && atomic_load(&leading) == 0) usleep(100000);
            if (stopping) break;
        } else {
            atomic_store(&leading, 1);
        }
        fm_info("operator %s: leading; watching %s", ident, ns ? ns : "all namespaces");
        /* the owned-object informers first, so a CR's first reconcile already sees its Jobs and Pods */
        op.jobs = informer(&op, &KUBE_RES_JOBS, FM_LABEL_MANAGED_BY "=" FM_MANAGED_BY, &hj, &err);
        op.pods = op.jobs ? informer(&op, &KUBE_RES_PODS, FM_LABEL_COMPONENT "=" FM_COMPONENT_POOL, &hpod, &err) : NULL;
        op.tables = op.pods ? informer(&op, &FM_RES_TABLES, NULL, &ht, &err) : NULL;
        op.pools = op.tables ? informer(&op, &FM_RES_POOLS, NULL, &hp, &err) : NULL;
        op.catalogs = op.pools ? informer(&op, &FM_RES_CATALOGS, NULL, &hc, &err) : NULL;
        all[0] = op.jobs;
        all[1] = op.pods;
        all[2] = op.tables;
        all[3] = op.pools;
        all[4] = op.catalogs;
        for (size_t i = 0; i < 5 && !failed; i++) {
            if (!all[i]) {
                fm_error("operator: %s", err.msg);
                failed = 1;
            } else if (kube_informer_start(all[i], &err) || kube_informer_wait_synced(all[i], 60000, &err)) {
                fm_error("operator: informer: %s", err.msg);
                failed = 1;
            }
        }
        if (!failed) {
            fm_info("operator: caches synced (%zu catalogs, %zu tables, %zu pools)", kube_informer_len(op.catalogs),
                    kube_informer_len(op.tables), kube_informer_len(op.pools));
            while (!stopping && atomic_load(&leading) == 1) usleep(100000);
        }
        if (atomic_load(&leading) == 2)
            fm_warn("operator: lost the leader lease: stopping the controllers and campaigning again");
        atomic_store(&leading, 0); /* workers stop acting; wait for the reconciles in flight */
        while (atomic_load(&active_reconciles) > 0) usleep(10000);
        for (size_t i = 0; i < 5; i++) {
            if (all[i]) kube_informer_free(all[i]);
            all[i] = NULL;
        }
        op.jobs = op.pods = op.tables = op.pools = op.catalogs = NULL;
        if (leader) kube_leader_stop(leader); /* releases the Lease when still held (SIGTERM) */
        leader = NULL;
    }
    fm_info("operator: stopping");
    kube_wq_shutdown(op.q_catalog);
    kube_wq_shutdown(op.q_table);
    kube_wq_shutdown(op.q_pool);
    for (int i = 0; i < nthreads; i++) pthread_join(th[i], NULL);
    free(th);
    if (http) fm_op_http_stop(http);
    for (size_t i = 0; i < 5; i++)
        if (all[i]) kube_informer_free(all[i]);
    the_op = NULL;
    kube_wq_free(op.q_catalog);
    kube_wq_free(op.q_table);
    kube_wq_free(op.q_pool);
    kube_recorder_free(op.rec);
    kube_client_free(op.kube);
    return failed ? 1 : 0;
}
