/* Kubernetes Job manifests for catalog operations (`featherman worker job init|ddl|materialize`),
 * built as JSON for server-side apply. Hygiene the operator owes its users:
 * owned by the CR (controller ownerReference, so deleting the CR removes its Jobs), labelled with
 * the catalog, table and operation, backoffLimit, activeDeadlineSeconds, ttlSecondsAfterFinished,
 * resource requests and limits, a restricted security context (non-root, read-only root
 * filesystem, no privilege escalation, all capabilities dropped, RuntimeDefault seccomp),
 * DuckDB's temp and HOME on an emptyDir, terminationMessagePolicy FallbackToLogsOnError, no
 * service-account token (a Job never talks to the API server).
 * Credentials only as secretKeyRef env (never literals); the CR is passed as JSON in
 * FEATHERMAN_CATALOG_SPEC / FEATHERMAN_TABLE_SPEC, reduced to apiVersion, kind, metadata
 * {name, namespace} and spec. File-backed catalogs mount their PVC at FM_JOB_STATE_DIR, Postgres ones an emptyDir (the root
 * filesystem is read-only). */
#ifndef FM_K8S_JOBS_H
#define FM_K8S_JOBS_H
#include <jansson.h>

#include "model/spec.h"

#define FM_JOB_STATE_DIR "/var/lib/featherman"
#define FM_JOB_TEMP_DIR "/tmp/featherman"

typedef struct {
    const char *op;          /* "init" | "ddl" | "materialize" */
    const char *name;        /* the Job's name (fm_job_name) */
    const char *namespace_;
    const char *image;
    json_t *owner;           /* the owning CR as read from the API (apiVersion, kind, metadata.name/uid) */
    json_t *catalog_cr;      /* the DuckLakeCatalog object */
    json_t *table_cr;        /* the DuckLakeTable object, NULL for init */
    const fm_catalog_spec *catalog;
    const char *pvc;         /* claim of a file-backed catalog, NULL for postgres */
    int backoff_limit;       /* default 2 when < 0 */
    long active_deadline_s;  /* default 900 when ≤ 0 */
    long ttl_s;              /* default 3600 when ≤ 0 */
} fm_job_params;

/* "<base>-<op>-<8 hex of a hash of key>", cut to the 63 characters a label value allows */
void fm_job_name(char *out, size_t n, const char *base, const char *op, const char *key);
/* a new reference; NULL only on allocation failure */
json_t *fm_job_manifest(const fm_job_params *p);
/* Pieces every featherman pod the control plane builds shares (catalog Jobs, pool pods, the
 * gateway's query-once Jobs). */
json_t *fm_k8s_env(const char *var, const char *value);
json_t *fm_k8s_secret_env(const char *var, const char *secret, const char *key);
/* [a controller ownerReference to owner] (apiVersion, kind, metadata.name/uid of owner) */
json_t *fm_k8s_owner_refs(json_t *owner);
/* appends FEATHERMAN_CATALOG_SPEC (the CR, fm_job_cr_env), FEATHERMAN_STATE, FEATHERMAN_TEMP_DIR, HOME */
void fm_k8s_catalog_env(json_t *env, json_t *catalog_cr);
/* appends the S3 keys from s3 (the catalog's credentials or its read-only ones; skipped when it
 * names no Secret) and the Postgres password, all by secretKeyRef */
void fm_k8s_credentials_env(json_t *env, const fm_catalog_spec *c, const fm_secret_ref *s3);
/* the CR reduced to what a worker needs (apiVersion, kind, metadata.name/namespace, spec), compact JSON, malloc'd */
char *fm_job_cr_env(json_t *cr);
#endif
