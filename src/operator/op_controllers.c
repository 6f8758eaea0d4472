/* The controllers (contract in operator.h): what each informer change enqueues, and the worker
 * threads that take keys from the queues and call the reconcilers — only through the gate, which
 * is open while this replica leads with every cache synced. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/json_get.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "k8s/k8s_names.h"
#include "operator/operator.h"

const char *const FM_CTRL_NAMES[FM_NCTRL] = {"ducklakecatalog", "ducklaketable", "ducklakepool"};
const double FM_RECONCILE_BUCKETS[8] = {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};

/* ---- informer handlers: every change enqueues the keys it may affect ---- */

static kube_wq *queue_of(fm_operator *op, int ctrl) {
    return ctrl == FM_CTRL_CATALOG ? op->q_catalog : ctrl == FM_CTRL_TABLE ? op->q_table : op->q_pool;
}

static void enqueue_ns_name(fm_operator *op, int ctrl, const char *ns, const char *name) {
    if (!ns || !name) return;
    char key[512];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    kube_wq_add(queue_of(op, ctrl), key);
    atomic_fetch_add(&op->ctrl[ctrl].adds, 1);
}

static void enqueue(fm_operator *op, int ctrl, const json_t *obj) {
    enqueue_ns_name(op, ctrl, fm_jstr(obj, "metadata.namespace"), fm_jstr(obj, "metadata.name"));
}

static const char *label(const json_t *obj, const char *l) {
    return json_string_value(json_object_get(fm_jget(obj, "metadata.labels"), l));
}

/* enqueues every table of namespace ns that names catalog */
static void enqueue_tables_of(fm_operator *op, const char *ns, const char *catalog) {
    json_t *all = kube_informer_list(op->tables, ns);
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t) {
        const char *ref = fm_op_table_catalog(t);
        if (ref && catalog && !strcmp(ref, catalog)) enqueue(op, FM_CTRL_TABLE, t);
    }
    json_decref(all);
}

static void catalog_changed(void *ud, json_t *obj) {
    fm_operator *op = ud;
    enqueue(op, FM_CTRL_CATALOG, obj);
    /* tables and pools wait for their catalog: let them see the change */
    const char *ns = fm_jstr(obj, "metadata.namespace"), *name = fm_jstr(obj, "metadata.name");
    enqueue_tables_of(op, ns, name);
    json_t *all = kube_informer_list(op->pools, ns);
    size_t i;
    json_t *p;
    json_array_foreach(all, i, p) {
        const char *ref = fm_jstr(p, "spec.catalogRef.name");
        if (ref && name && !strcmp(ref, name)) enqueue(op, FM_CTRL_POOL, p);
    }
    json_decref(all);
}

static void table_changed(void *ud, json_t *obj) {
    fm_operator *op = ud;
    enqueue(op, FM_CTRL_TABLE, obj);
    /* a deleting catalog waits for its tables */
    enqueue_ns_name(op, FM_CTRL_CATALOG, fm_jstr(obj, "metadata.namespace"), fm_op_table_catalog(obj));
}

static void pool_changed(void *ud, json_t *obj) { enqueue(ud, FM_CTRL_POOL, obj); }

static void job_changed(void *ud, json_t *obj) {
    fm_operator *op = ud;
    const char *ns = fm_jstr(obj, "metadata.namespace");
    const char *table = label(obj, FM_LABEL_TABLE), *catalog = label(obj, FM_LABEL_CATALOG);
    if (table) enqueue_ns_name(op, FM_CTRL_TABLE, ns, table);
    if (catalog) enqueue_ns_name(op, FM_CTRL_CATALOG, ns, catalog);
    /* another Job may be waiting for this one's write lock */
    if (catalog) enqueue_tables_of(op, ns, catalog);
}

static void pod_changed(void *ud, json_t *obj) {
    enqueue_ns_name(ud, FM_CTRL_POOL, fm_jstr(obj, "metadata.namespace"), label(obj, FM_LABEL_POOL));
}

#define HANDLERS(kind)                                                                                   \
    static void kind##_upd(void *ud, json_t *old, json_t *o) {                                          \
        (void)old;                                                                                       \
        kind##_changed(ud, o);                                                                           \
    }
HANDLERS(catalog)
HANDLERS(table)
HANDLERS(pool)
HANDLERS(job)
HANDLERS(pod)

kube_informer_handlers fm_op_handlers(fm_operator *op, const kube_resource *res) {
    kube_informer_handlers h = {NULL, NULL, NULL, op};
    if (res == &FM_RES_CATALOGS) h = (kube_informer_handlers){catalog_changed, catalog_upd, catalog_changed, op};
    else if (res == &FM_RES_TABLES) h = (kube_informer_handlers){table_changed, table_upd, table_changed, op};
    /* a deleted pool's Pods and PDB go with their ownerReferences; its registry entry with the
     * next look at its key, which the delete enqueues */
    else if (res == &FM_RES_POOLS) h = (kube_informer_handlers){pool_changed, pool_upd, pool_changed, op};
    else if (res == &KUBE_RES_JOBS) h = (kube_informer_handlers){job_changed, job_upd, job_changed, op};
    else if (res == &KUBE_RES_PODS) h = (kube_informer_handlers){pod_changed, pod_upd, pod_changed, op};
    return h;
}

/* ---- the gate ---- */

/* blocks while the gate is closed; false once the workers are to end */
static bool gate_wait(fm_operator *op) {
    pthread_mutex_lock(&op->gate_mu);
    while (!op->gate_open && !op->workers_stopping) pthread_cond_wait(&op->gate_cv, &op->gate_mu);
    bool go = !op->workers_stopping;
    pthread_mutex_unlock(&op->gate_mu);
    return go;
}

/* one reconcile may start: true (counted in flight) while the gate is open */
static bool gate_enter(fm_operator *op) {
    pthread_mutex_lock(&op->gate_mu);
    bool open = op->gate_open;
    if (open) op->in_flight++;
    pthread_mutex_unlock(&op->gate_mu);
    return open;
}

static void gate_leave(fm_operator *op) {
    pthread_mutex_lock(&op->gate_mu);
    if (--op->in_flight == 0) pthread_cond_broadcast(&op->gate_cv);
    pthread_mutex_unlock(&op->gate_mu);
}

void fm_op_gate_open(fm_operator *op) {
    pthread_mutex_lock(&op->gate_mu);
    op->gate_open = true;
    pthread_cond_broadcast(&op->gate_cv);
    pthread_mutex_unlock(&op->gate_mu);
}

void fm_op_gate_close(fm_operator *op, bool wait) {
    pthread_mutex_lock(&op->gate_mu);
    op->gate_open = false;
    while (wait && op->in_flight > 0) pthread_cond_wait(&op->gate_cv, &op->gate_mu);
    pthread_mutex_unlock(&op->gate_mu);
}

/* ---- workers ---- */

struct fm_op_worker {
    pthread_t thread;
    fm_operator *op;
    int ctrl;
    fm_reconcile_fn fn;
};
typedef struct fm_op_worker worker_arg;

static const fm_reconcile_fn RECONCILERS[FM_NCTRL] = {fm_reconcile_catalog, fm_reconcile_table, fm_reconcile_pool};

static void observe(fm_operator *op, int ctrl, double took) {
    __typeof__(op->ctrl[0]) *m = &op->ctrl[ctrl];
    atomic_fetch_add(&m->total, 1);
    atomic_fetch_add(&m->duration_count, 1);
    double sum = atomic_load(&m->duration_sum);
    while (!atomic_compare_exchange_weak(&m->duration_sum, &sum, sum + took)) {
    }
    for (int b = 0; b < 8; b++)
        if (took <= FM_RECONCILE_BUCKETS[b]) atomic_fetch_add(&m->duration_bucket[b], 1);
}

/* reconciles key "namespace/name" and files it for its next look */
static void reconcile_key(const worker_arg *w, kube_wq *q, const char *key) {
    fm_operator *op = w->op;
    const char *slash = strchr(key, '/');
    char ns[256];
    if (!slash || (size_t)(slash - key) >= sizeof ns) return; /* not a key this operator made */
    memcpy(ns, key, (size_t)(slash - key));
    ns[slash - key] = 0;
    atomic_fetch_add(&op->reconciles, 1);
    fm_log_context(FM_CTRL_NAMES[w->ctrl], key);
    int64_t t0 = fm_now_ms();
    long next = w->fn(op, ns, slash + 1);
    observe(op, w->ctrl, (double)(fm_now_ms() - t0) / 1000.0);
    fm_log_context(NULL, NULL);
    if (next < 0) {
        atomic_fetch_add(&op->reconcile_errors, 1);
        atomic_fetch_add(&op->ctrl[w->ctrl].errors, 1);
        atomic_fetch_add(&op->ctrl[w->ctrl].retries, 1);
        kube_wq_add_rate_limited(q, key);
        return;
    }
    kube_wq_forget(q, key);
    if (next > 0) {
        atomic_fetch_add(&op->ctrl[w->ctrl].requeues, 1);
        kube_wq_add_after(q, key, next);
    }
}

static void *worker_main(void *p) {
    const worker_arg *w = p;
    kube_wq *q = queue_of(w->op, w->ctrl);
    while (gate_wait(w->op)) {
        char *key = kube_wq_get(q);
        if (!key) break;
        if (gate_enter(w->op)) {
            reconcile_key(w, q, key);
            gate_leave(w->op);
        } else {
            kube_wq_add(q, key); /* the term ended while this worker waited: the next term takes it */
        }
        kube_wq_done(q, key);
        free(key);
    }
    return NULL;
}

static void workers_join(fm_operator *op, int n) {
    pthread_mutex_lock(&op->gate_mu);
    op->gate_open = false;
    op->workers_stopping = true;
    pthread_cond_broadcast(&op->gate_cv);
    pthread_mutex_unlock(&op->gate_mu);
    kube_wq_shutdown(op->q_catalog);
    kube_wq_shutdown(op->q_table);
    kube_wq_shutdown(op->q_pool);
    for (int i = 0; i < n; i++) pthread_join(op->workers[i].thread, NULL);
    free(op->workers);
    op->workers = NULL;
    op->nworkers = 0;
}

int fm_op_workers_start(fm_operator *op, int per_controller, fm_err *err) {
    op->nworkers = per_controller * FM_NCTRL;
    op->workers = fm_xcalloc((size_t)op->nworkers, sizeof *op->workers);
    for (int i = 0; i < op->nworkers; i++) {
        worker_arg *w = &op->workers[i];
        w->op = op;
        w->ctrl = i % FM_NCTRL;
        w->fn = RECONCILERS[w->ctrl];
        int rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc) {
            workers_join(op, i);
            return fm_fail(err, FM_E_INTERNAL, "cannot start worker thread %d: %s", i + 1, strerror(rc));
        }
    }
    return 0;
}

void fm_op_workers_stop(fm_operator *op) {
    fm_op_gate_close(op, true);
    workers_join(op, op->nworkers);
}
