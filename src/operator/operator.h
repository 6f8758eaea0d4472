/* `featherman operator`: the control plane. One leader (a coordination Lease, 15 s / 10 s / 2 s)
 * runs informers for the featherman CRs and the objects it owns (Jobs, pool Pods), a work queue
 * per kind (keys "namespace/name", deduplicated, per-key exponential backoff), and a few worker
 * threads that call the reconcile functions. Reconcilers are level-based and idempotent: read the
 * world from the informers (Secrets on demand), compute the desired state, apply it, write status.
 *
 * A reconcile function returns the delay before the object should be looked at again: 0 = only
 * when something changes, > 0 = requeue after that many ms, < 0 = it failed (retried with the
 * queue's per-key backoff; the failure is already in the object's conditions and Events). */
#ifndef FM_OPERATOR_H
#define FM_OPERATOR_H
#include <jansson.h>
#include <stdatomic.h>

#include "kube/informer.h"
#include "kube/kube_events.h"
#include "kube/kube_http.h"
#include "kube/workqueue.h"

extern const kube_resource FM_RES_CATALOGS, FM_RES_TABLES, FM_RES_POOLS;

typedef struct fm_operator {
    kube_client *kube;
    kube_recorder *rec;
    const char *ns;    /* watched namespace, NULL = all */
    const char *image; /* the featherman image Jobs and pool pods run */
    const char *identity;
    kube_informer *catalogs, *tables, *pools, *jobs, *pods;
    kube_wq *q_catalog, *q_table, *q_pool;
    atomic_long reconciles, reconcile_errors;
    /* controller-runtime style metrics, per controller (FM_CTRL_*) */
    struct {
        atomic_long total, errors, requeues, adds, retries;
        atomic_long duration_bucket[8]; /* ≤ FM_RECONCILE_BUCKETS[i] seconds */
        atomic_long duration_count;
        _Atomic double duration_sum;
    } ctrl[3];
} fm_operator;

enum { FM_CTRL_CATALOG, FM_CTRL_TABLE, FM_CTRL_POOL };
extern const char *const FM_CTRL_NAMES[3];
extern const double FM_RECONCILE_BUCKETS[8];

typedef long (*fm_reconcile_fn)(fm_operator *op, const char *ns, const char *name);

long fm_reconcile_catalog(fm_operator *op, const char *ns, const char *name);
long fm_reconcile_table(fm_operator *op, const char *ns, const char *name);
long fm_reconcile_pool(fm_operator *op, const char *ns, const char *name);

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
#endif
