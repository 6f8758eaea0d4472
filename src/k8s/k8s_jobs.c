/* Job manifests for catalog operations (contract in k8s_jobs.h). */
#include "k8s/k8s_jobs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a: a stable short suffix, not a security boundary */
static uint32_t fnv(const char *s) {
    uint32_t h = 2166136261u;
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void fm_job_name(char *out, size_t n, const char *base, const char *op, const char *key) {
    char suffix[32];
    snprintf(suffix, sizeof suffix, "-%s-%08x", op, fnv(key));
    size_t room = n - 1 < 63 ? n - 1 : 63;
    size_t sl = strlen(suffix), bl = strlen(base);
    if (bl + sl > room) bl = room > sl ? room - sl : 0;
    while (bl > 0 && base[bl - 1] == '-') bl--; /* a DNS label may not have "--" from a cut */
    snprintf(out, n, "%.*s%s", (int)bl, base, suffix);
}

char *fm_job_cr_env(json_t *cr) {
    json_t *md = json_object_get(cr, "metadata");
    json_t *o = json_pack("{s:O?, s:O?, s:{s:O?, s:O?}, s:O?}", "apiVersion", json_object_get(cr, "apiVersion"), "kind",
                          json_object_get(cr, "kind"), "metadata", "name", json_object_get(md, "name"), "namespace",
                          json_object_get(md, "namespace"), "spec", json_object_get(cr, "spec"));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

json_t *fm_k8s_secret_env(const char *var, const char *secret, const char *key) {
    return json_pack("{s:s, s:{s:{s:s, s:s}}}", "name", var, "valueFrom", "secretKeyRef", "name", secret, "key", key);
}

json_t *fm_k8s_env(const char *var, const char *value) { return json_pack("{s:s, s:s}", "name", var, "value", value); }

void fm_k8s_catalog_env(json_t *env, json_t *catalog_cr) {
    char *cat = fm_job_cr_env(catalog_cr);
    json_array_append_new(env, fm_k8s_env("FEATHERMAN_CATALOG_SPEC", cat ? cat : "{}"));
    free(cat);
    json_array_append_new(env, fm_k8s_env("FEATHERMAN_STATE", FM_JOB_STATE_DIR));
    json_array_append_new(env, fm_k8s_env("FEATHERMAN_TEMP_DIR", FM_JOB_TEMP_DIR));
    json_array_append_new(env, fm_k8s_env("HOME", FM_JOB_TEMP_DIR));
}

void fm_k8s_credentials_env(json_t *env, const fm_catalog_spec *c, const fm_secret_ref *s3) {
    if (c->has_object_store && s3 && s3->name) {
        json_array_append_new(env, fm_k8s_secret_env("FEATHERMAN_S3_ACCESS_KEY_ID", s3->name,
                                                     s3->key_a ? s3->key_a : "AWS_ACCESS_KEY_ID"));
        json_array_append_new(env, fm_k8s_secret_env("FEATHERMAN_S3_SECRET_ACCESS_KEY", s3->name,
                                                     s3->key_b ? s3->key_b : "AWS_SECRET_ACCESS_KEY"));
    }
    if (!strcmp(c->metadata_type, "postgres") && c->pg.password.name)
        json_array_append_new(env, fm_k8s_secret_env("FEATHERMAN_PG_PASSWORD", c->pg.password.name,
                                                     c->pg.password.key_a ? c->pg.password.key_a : "password"));
}

static json_t *labels(const fm_job_params *p) {
    json_t *l = json_object();
    json_object_set_new(l, "app.kubernetes.io/name", json_string("featherman"));
    json_object_set_new(l, "app.kubernetes.io/component", json_string("catalog-job"));
    json_object_set_new(l, "app.kubernetes.io/managed-by", json_string("featherman-operator"));
    json_object_set_new(l, "featherman.dev/catalog", json_string(p->catalog->name));
    json_object_set_new(l, "featherman.dev/operation", json_string(p->op));
    if (p->table_cr) {
        const char *t = json_string_value(json_object_get(json_object_get(p->table_cr, "metadata"), "name"));
        if (t) json_object_set_new(l, "featherman.dev/table", json_string(t));
    }
    return l;
}

json_t *fm_k8s_owner_refs(json_t *owner) {
    json_t *md = json_object_get(owner, "metadata");
    return json_pack("[{s:O?, s:O?, s:O?, s:O?, s:b, s:b}]", "apiVersion", json_object_get(owner, "apiVersion"), "kind",
                     json_object_get(owner, "kind"), "name", json_object_get(md, "name"), "uid",
                     json_object_get(md, "uid"), "controller", 1, "blockOwnerDeletion", 1);
}

json_t *fm_job_manifest(const fm_job_params *p) {
    const fm_catalog_spec *c = p->catalog;
    json_t *env = json_array();
    fm_k8s_catalog_env(env, p->catalog_cr);
    if (p->table_cr) {
        char *tab = fm_job_cr_env(p->table_cr);
        json_array_append_new(env, fm_k8s_env("FEATHERMAN_TABLE_SPEC", tab ? tab : "{}"));
        free(tab);
    }
    json_array_append_new(env, fm_k8s_env("FEATHERMAN_TERMINATION_LOG", "/dev/termination-log"));
    fm_k8s_credentials_env(env, c, &c->store.credentials);

    json_t *mounts = json_pack("[{s:s, s:s}]", "name", "tmp", "mountPath", "/tmp");
    json_t *volumes = json_pack("[{s:s, s:{s:s}}]", "name", "tmp", "emptyDir", "sizeLimit", "10Gi");
    /* FEATHERMAN_STATE must be writable under the read-only root: the claim, else an emptyDir */
    json_array_append_new(mounts, json_pack("{s:s, s:s}", "name", "catalog", "mountPath", FM_JOB_STATE_DIR));
    if (p->pvc)
        json_array_append_new(volumes,
                              json_pack("{s:s, s:{s:s}}", "name", "catalog", "persistentVolumeClaim", "claimName", p->pvc));
    else
        json_array_append_new(volumes, json_pack("{s:s, s:{}}", "name", "catalog", "emptyDir"));
    json_t *container = json_pack(
        "{s:s, s:s, s:s, s:[s, s, s], s:o, s:o, s:{s:{s:s, s:s}, s:{s:s}}, s:s, s:{s:b, s:b, s:b, s:{s:[s]}}}", "name",
        "featherman", "image", p->image, "imagePullPolicy", "IfNotPresent", "args", "worker", "job", p->op, "env", env,
        "volumeMounts", mounts, "resources", "requests", "cpu", "100m", "memory", "256Mi", "limits", "memory", "2Gi",
        "terminationMessagePolicy", "FallbackToLogsOnError", "securityContext", "allowPrivilegeEscalation", 0,
        "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "capabilities", "drop", "ALL");
    json_t *pod = json_pack("{s:{s:o}, s:{s:s, s:b, s:{s:b, s:i, s:i, s:i, s:{s:s}}, s:[o], s:o}}", "metadata", "labels",
                            labels(p), "spec", "restartPolicy", "Never", "automountServiceAccountToken", 0,
                            "securityContext", "runAsNonRoot", 1, "runAsUser", 65532, "runAsGroup", 65532, "fsGroup",
                            65532, "seccompProfile", "type", "RuntimeDefault", "containers", container, "volumes",
                            volumes);
    json_t *job = json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:o}, s:{s:i, s:I, s:I, s:o}}", "apiVersion", "batch/v1",
                            "kind", "Job", "metadata", "name", p->name, "namespace", p->namespace_, "labels", labels(p),
                            "ownerReferences", fm_k8s_owner_refs(p->owner), "spec", "backoffLimit",
                            p->backoff_limit >= 0 ? p->backoff_limit : 2, "activeDeadlineSeconds",
                            (json_int_t)(p->active_deadline_s > 0 ? p->active_deadline_s : 900),
                            "ttlSecondsAfterFinished", (json_int_t)(p->ttl_s > 0 ? p->ttl_s : 3600), "template", pod);
    return job;
}
