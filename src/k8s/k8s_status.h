/* Status conditions the Kubernetes way (API conventions, metav1.Condition): a list keyed by
 * type, each {type, status True|False|Unknown, reason (CamelCase), message, observedGeneration,
 * lastTransitionTime}. lastTransitionTime changes only when status changes, so a reconcile that
 * finds nothing new writes an identical status (and the patch is skipped).
 * Also the pause annotation and finalizer test every reconciler reads. Pure functions over jansson. */
#ifndef FM_K8S_STATUS_H
#define FM_K8S_STATUS_H
#include <jansson.h>
#include <stdbool.h>

/* RFC 3339 UTC "2026-11-25T17:00:00Z" of now (out: 32 bytes) */
void fm_k8s_now(char out[32]);

/* sets (or adds) the condition in conds (a JSON array); returns 1 when anything changed */
int fm_cond_set(json_t *conds, const char *type, bool status, const char *reason, const char *message,
                long long generation);
/* Unknown status */
int fm_cond_set_unknown(json_t *conds, const char *type, const char *reason, const char *message,
                        long long generation);
/* the condition of that type, borrowed, or NULL */
json_t *fm_cond_get(json_t *conds, const char *type);
/* 1 if the condition is present with status "True" */
bool fm_cond_true(json_t *conds, const char *type);

/* a reconcile's working copy of obj's status, with a conditions array (*conds, borrowed) */
json_t *fm_status_copy(const json_t *obj, json_t **conds);
/* the annotation featherman.dev/reconcile: paused (Strimzi's pattern): returns 1 while paused,
 * setting ReconciliationPaused=True (*changed = 1 the first time, for an Event); otherwise
 * marks a previous pause as resumed and returns 0 */
int fm_reconcile_paused(const json_t *obj, json_t *conds, long long generation, int *changed);

/* does metadata.finalizers contain name? */
bool fm_has_finalizer(const json_t *obj, const char *name);
#endif
