/* DuckLakePool objects as JSON for the API server (pure builders, unit-tested): the warm pool
 * Pod running `featherman worker serve` and the pool's PodDisruptionBudget.
 *
 * The Pod follows the conventions of the catalog Jobs (k8s_jobs.h) and the names the gateway
 * reads (k8s_names.h):
 *   labels     app.kubernetes.io/name=featherman, component=pool-worker, featherman.dev/pool,
 *              featherman.dev/catalog, managed-by=featherman-operator; controller ownerReference
 *              to the DuckLakePool (deleting the pool removes its Pods)
 *   container  "featherman": worker serve --slots N [--read-only] [--memory-limit XMiB]
 *              [--threads N]; memory is 80% of resources.limits.memory (DuckDB needs headroom
 *              above its buffer pool), threads = ceil(limits.cpu); port "query" 8080, readiness
 *              GET /readyz; the catalog CR in FEATHERMAN_CATALOG_SPEC; FEATHERMAN_TOKEN from the
 *              internal-token Secret; S3 keys (read-only pools: readOnlyCredentialsSecret when the
 *              catalog has one) and the Postgres password by secretKeyRef; the template's env
 *              after ours (names we set ourselves are not overridable)
 *   volumes    /tmp on an emptyDir (FEATHERMAN_TEMP_DIR, HOME); file-backed catalogs mount their
 *              PVC "<catalog>-metadata" at FM_JOB_STATE_DIR, Postgres catalogs get an emptyDir there
 *   security   non-root 65532, read-only root filesystem, no privilege escalation, all
 *              capabilities dropped, RuntimeDefault seccomp, no service-account token
 *   lifecycle  restartPolicy Never (a crashed worker is replaced by the operator, not restarted
 *              in place); terminationGracePeriodSeconds = maxQueryDuration + 5 s, so a deleted
 *              pod finishes its running query
 *   template   resources (default requests cpu 100m / memory 256Mi), nodeSelector, tolerations */
#ifndef FM_POOL_PODS_H
#define FM_POOL_PODS_H
#include <jansson.h>
#include <stdbool.h>

#include "model/spec.h"

typedef struct {
    const char *name;        /* the Pod's name (fm_pool_pod_name) */
    const char *namespace_;
    const char *image;
    json_t *pool_cr;         /* the DuckLakePool as read from the API (apiVersion, kind, metadata.name/uid) */
    json_t *catalog_cr;      /* the DuckLakeCatalog */
    const fm_pool_spec *pool;
    const fm_catalog_spec *catalog;
    int slots;               /* ≥ 1 */
} fm_pool_pod_params;

/* "<pool>-<5 random chars>" from the alphabet Kubernetes' generateName uses; the pool part is
 * cut so the whole is a valid label value (≤ 63) */
void fm_pool_pod_name(char *out, size_t n, const char *pool);
/* new reference */
json_t *fm_pool_pod_manifest(const fm_pool_pod_params *p);
/* minAvailable = minSize over the pool's pods (server-side apply body) */
json_t *fm_pool_pdb_manifest(json_t *pool_cr, const fm_pool_spec *pool);

/* from a resources object {limits: {memory, cpu}}: DuckDB's memory_limit (80% of the memory
 * limit, "NMiB") into out and 0, or -1 when there is no usable limit */
int fm_pool_memory_limit(json_t *resources, char *out, size_t n);
/* ceil(limits.cpu) ≥ 1, or 0 when there is no usable limit */
int fm_pool_threads(json_t *resources);
/* a CPU quantity ("2", "500m", "1.5") in cores, -1 when malformed */
double fm_pool_cpu_quantity(const char *s);
#endif
