/* `featherman operator`: the control plane. One leader (a coordination Lease, 15 s / 10 s / 2 s)
 * runs informers for the featherman CRs and the objects it owns (Jobs, pool Pods), a work queue
 * per kind (keys "namespace/name", deduplicated, per-key exponential backoff), and a few worker
 * threads that call the reconcile functions. Reconcilers are level-based and idempotent: read the
 * world from the informers (Secrets on demand), compute the desired state, apply it, write status.
 *
 * Order of a leadership term: every informer is created, then all are started, then the workers
 * are let in only once every cache has synced — a reconcile never reads a half-listed world (a
 * table whose catalog is not listed yet would otherwise look orphaned). When the term ends
 * (Lease lost, SIGTERM) the workers are shut out again, the reconciles in flight finish, and the
 * caches are dropped; keys taken meanwhile go back to their queue for the next term.
 *
 * A reconcile function returns the delay before the object should be looked at again: 0 = only
 * when something changes, > 0 = requeue after that many ms, < 0 = it failed (retried with the
 * queue's per-key backoff; the failure is already in the object's conditions and Events).
 *
 * Files: op_cmd.c (options → fm_op_config), operator.c (the run: client, leadership, informers),
 * op_controllers.c (what each change enqueues; the workers and their gate), op_api.c (API
 * helpers every reconciler uses), reconcile.c (the one reconciler skeleton), rec_*.c (one
 * reconciler per kind), op_jobs.c, pool_*.c, op_http.c (health and metrics).
 *
 * Process-wide state, all of it (everything else lives in fm_operator, one per process):
 *   - the pool registry (pool_registry.c): per-DuckLakePool autoscaler history and gauges, one
 *     mutex; it outlives leadership terms so a re-elected leader keeps its scaling history;
 *   - the signal mask (base/signals.h), set once before any thread starts;
 *   - libcurl's global initialisation (kube/kube_http.c, once);
 *   - the log level and each thread's log context (base/log.c).
 * Constant tables: FM_RES_* (the CR kinds), FM_CTRL_NAMES, FM_RECONCILE_BUCKETS. */
#ifndef FM_OPERATOR_H
#define FM_OPERATOR_H
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "base/err.h"
#include "kube/informer.h"
#include "kube/kube_events.h"
#include "kube/kube_http.h"
#include "kube/workqueue.h"

extern const kube_resource FM_RES_CATALOGS, FM_RES_TABLES, FM_RES_POOLS;

enum { FM_CTRL_CATALOG, FM_CTRL_TABLE, FM_CTRL_POOL, FM_NCTRL };
extern const char *const FM_CTRL_NAMES[FM_NCTRL];
extern const double FM_RECONCILE_BUCKETS[8];

/* What the command line and the environment asked for, validated (op_cmd.c). */
typedef struct {
    const char *ns;       /* watched namespace, NULL = all */
    const char *image;    /* the featherman image Jobs and pool pods run */
    const char *listen;   /* health/metrics ADDR:PORT, NULL = default */
    const char *lease_ns; /* namespace of the leader Lease */
    int workers;          /* worker threads per controller, ≥ 1 */
    bool elect;           /* leader election (off: this replica always leads) */
} fm_op_config;

/* leadership state, read by the health endpoint: /readyz is 503 only once a term was lost */
enum { FM_LEAD_CAMPAIGNING = 0, FM_LEAD_LEADING = 1, FM_LEAD_LOST = 2 };

typedef struct fm_operator {
    kube_client *kube;
    kube_recorder *rec;
    const char *ns;    /* watched namespace, NULL = all */
    const char *image; /* the featherman image Jobs and pool pods run */
    char identity[256];
    /* one leadership term's caches; NULL between terms */
    kube_informer *catalogs, *tables, *pools, *jobs, *pods;
    /* the queues live for the whole process (the health endpoint reads their depth) */
    kube_wq *q_catalog, *q_table, *q_pool;
    atomic_int leading; /* FM_LEAD_* */
    /* the workers' gate: open only while leading with synced caches (op_controllers.c) */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    bool gate_open, workers_stopping;
    int in_flight; /* reconciles running, under gate_mu */
    struct fm_op_worker *workers;
    int nworkers;
    atomic_long reconciles, reconcile_errors;
    /* controller-runtime style metrics, per controller (FM_CTRL_*) */
    struct {
        atomic_long total, errors, requeues, adds, retries;
        atomic_long duration_bucket[8]; /* ≤ FM_RECONCILE_BUCKETS[i] seconds */
        atomic_long duration_count;
        _Atomic double duration_sum;
    } ctrl[FM_NCTRL];
} fm_operator;

typedef long (*fm_reconcile_fn)(fm_operator *op, const char *ns, const char *name);

long fm_reconcile_catalog(fm_operator *op, const char *ns, const char *name);
long fm_reconcile_table(fm_operator *op, const char *ns, const char *name);
long fm_reconcile_pool(fm_operator *op, const char *ns, const char *name);

/* the run part of the role: returns the exit code (0 after SIGTERM/SIGINT, 1 on failure) */
int fm_operator_run(const fm_op_config *cfg);

/* ---- controllers (op_controllers.c) ---- */
/* the informer handlers for resource res (FM_RES_* or KUBE_RES_JOBS/PODS): what a change enqueues */
kube_informer_handlers fm_op_handlers(fm_operator *op, const kube_resource *res);
/* starts per_controller threads per controller; they wait at the gate, which starts closed.
 * -1 with err when a thread cannot be created (the ones started are stopped again). */
int fm_op_workers_start(fm_operator *op, int per_controller, fm_err *err);
/* lets the workers reconcile (every cache synced, leading) */
void fm_op_gate_open(fm_operator *op);
/* shuts the workers out; with wait, returns only once no reconcile runs any more */
void fm_op_gate_close(fm_operator *op, bool wait);
/* ends the workers (queues shut down, threads joined) */
void fm_op_workers_stop(fm_operator *op);

/* ---- API helpers (op_api.c) ---- */
/* the object as cached (new reference) or NULL */
json_t *fm_op_get(kube_informer *inf, const char *ns, const char *name);
/* merge-patches status of obj (only when it differs from the cached one); 0 on success */
int fm_op_write_status(fm_operator *op, const kube_resource *res, json_t *obj, json_t *status);
/* adds / removes FM_FINALIZER with a JSON patch guarded by resourceVersion */
int fm_op_add_finalizer(fm_operator *op, const kube_resource *res, json_t *obj);
int fm_op_remove_finalizer(fm_operator *op, const kube_resource *res, json_t *obj);
/* the value of key in Secret ns/name, read on demand (never cached, never logged); malloc'd.
 * NULL with err: FM_E_NOT_FOUND "Secret x not found" / "Secret x has no key y". */
char *fm_op_secret_value(fm_operator *op, const char *ns, const char *name, const char *key, fm_err *err);
/* the catalog a DuckLakeTable names: spec.catalogRef as a string, or spec.catalogRef.name */
const char *fm_op_table_catalog(const json_t *table);
#endif
