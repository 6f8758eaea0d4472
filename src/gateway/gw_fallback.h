/* The gateway's Job fallback: a catalog with no pool, or whose pool has no ready pod
 * after the wait, is served by a one-off Job running `featherman worker serve --once` for that
 * catalog; the gateway waits for the Job's pod to be Ready and calls it like a pool pod (the
 * worker exits after that one query and the Job completes).
 *
 * The Job, built like k8s_jobs.c builds catalog Jobs: labels FM_LABEL_NAME, FM_LABEL_COMPONENT=
 * FM_COMPONENT_ONCE, FM_LABEL_CATALOG, FM_LABEL_MANAGED_BY=FM_MANAGED_BY_GATEWAY; an
 * ownerReference to the DuckLakeCatalog (deleting the catalog removes its Jobs); backoffLimit 0,
 * activeDeadlineSeconds, ttlSecondsAfterFinished; restricted security context, no service-account
 * token; the catalog CR in FEATHERMAN_CATALOG_SPEC, S3 / Postgres credentials and the internal
 * token (FEATHERMAN_TOKEN) only by secretKeyRef; POD_IP / POD_NAME from the downward API; port
 * FM_WORKER_PORT named "query", readiness GET /readyz; a file-backed catalog's claim
 * (<catalog>FM_CATALOG_PVC_SUFFIX) mounted at FM_JOB_STATE_DIR, a Postgres catalog's emptyDir there. */
#ifndef FM_GW_FALLBACK_H
#define FM_GW_FALLBACK_H
#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "kube/kube_http.h"
#include "model/spec.h"

typedef struct {
    const char *namespace_;
    const char *image;
    const char *job_name;     /* fm_once_job_name */
    json_t *catalog_cr;       /* the DuckLakeCatalog as read from the API */
    const fm_catalog_spec *catalog;
    long active_deadline_s;   /* default 300 when ≤ 0 */
    long ttl_s;               /* default 60 when ≤ 0 */
} fm_once_params;

/* "<catalog>-query-<nonce>", the catalog part cut so the whole fits a 63-character label value */
void fm_once_job_name(char *out, size_t n, const char *catalog, const char *nonce);
/* a new reference */
json_t *fm_once_job_manifest(const fm_once_params *p);

/* Creates the Job and waits (at most wait_ms; cancelled() polled) until its pod is Ready with an
 * IP; pod/ip receive its name and address. On failure the Job is deleted and err says why
 * (FM_E_UNAVAILABLE: the pod failed or never became ready; FM_E_TIMEOUT). */
int fm_once_start(kube_client *c, const fm_once_params *p, long wait_ms, int (*cancelled)(void *), void *ud,
                  char *pod, size_t podn, char *ip, size_t ipn, fm_err *err);
/* deletes the Job and its pods (background propagation); errors are logged, not returned */
void fm_once_delete(kube_client *c, const char *ns, const char *job);
#endif
