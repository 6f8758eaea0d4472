/* DuckLakeCatalog reconciler. Level-based: every pass reads the catalog, its Secrets (on demand),
 * its PVC and its Jobs, and moves one step towards Ready:
 *   spec valid → bucket+prefix not another catalog's → Secrets and keys present → metadata PVC
 *   (file backends) → init Job (object store probed, catalog created, options set) → Ready,
 * with status conditions MetadataReady, ObjectStoreReady, Ready (reasons a user can act on),
 * observedGeneration, and Events for each step. A failure is a condition and a retry after a
 * delay, never a crash loop. Deletion (finalizer): wait for the catalog's tables to go; `retain`
 * releases the PVC from garbage collection (drops its ownerReference); `delete` runs a destroy
 * Job (every data file removed), refused for an empty prefix (the whole bucket) and never
 * blocking forever: when the Secret is gone or the Job fails, an Event says what was left. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "base/log.h"
#include "operator/op_jobs.h"
#include "operator/operator.h"
#include "model/spec.h"

#define RETRY_MS 30000

typedef struct {
    fm_operator *op;
    json_t *obj, *status, *conds;
    long long gen;
    const char *ns, *name;
    char pvc[300];
} cat_ctx;

static void event(cat_ctx *c, const char *type, const char *reason, const char *msg) {
    kube_eventf(c->op->rec, c->obj, type, reason, "%s", msg);
}

static long finish(cat_ctx *c, const char *phase, long next) {
    json_object_set_new(c->status, "phase", json_string(phase));
    fm_op_write_status(c->op, &FM_RES_CATALOGS, c->obj, c->status);
    return next;
}

/* Ready=False with this reason everywhere it applies */
static long not_ready(cat_ctx *c, const char *cond, const char *reason, const char *msg, const char *phase, long next) {
    int changed = 0;
    if (cond) changed |= fm_cond_set(c->conds, cond, false, reason, msg, c->gen);
    changed |= fm_cond_set(c->conds, "Ready", false, reason, msg, c->gen);
    if (changed) event(c, "Warning", reason, msg);
    return finish(c, phase, next);
}

static const char *table_catalog(json_t *t) {
    const char *ref = json_string_value(fm_jget(t, "spec.catalogRef"));
    return ref ? ref : fm_jstr(t, "spec.catalogRef.name");
}

static void pvc_name(char *out, size_t n, const char *catalog) { snprintf(out, n, "%s-metadata", catalog); }

/* another catalog (in any watched namespace) on the same bucket+prefix, older than this one */
static char *prefix_owner(cat_ctx *c, const fm_catalog_spec *s) {
    if (!s->has_object_store) return NULL;
    json_t *all = kube_informer_list(c->op->catalogs, NULL);
    size_t i;
    json_t *o;
    char *owner = NULL;
    const char *mine = fm_jstr(c->obj, "metadata.creationTimestamp");
    json_array_foreach(all, i, o) {
        const char *ons = fm_jstr(o, "metadata.namespace"), *oname = fm_jstr(o, "metadata.name");
        if (!strcmp(ons, c->ns) && !strcmp(oname, c->name)) continue;
        if (fm_jget(o, "metadata.deletionTimestamp")) continue;
        const char *b = fm_jstr(o, "spec.objectStore.bucket"), *p = fm_jstr(o, "spec.objectStore.prefix");
        if (!b || strcmp(b, s->store.bucket)) continue;
        /* the parsed prefix ends in '/' when non-empty; compare without it */
        size_t pl = p ? strlen(p) : 0, sl = strlen(s->store.prefix ? s->store.prefix : "");
        while (pl && p[pl - 1] == '/') pl--;
        while (sl && s->store.prefix[sl - 1] == '/') sl--;
        if (pl != sl || (pl && strncmp(p, s->store.prefix, pl))) continue;
        const char *theirs = fm_jstr(o, "metadata.creationTimestamp");
        int older = theirs && mine ? strcmp(theirs, mine) < 0 || (!strcmp(theirs, mine) && strcmp(oname, c->name) < 0) : 0;
        if (older && asprintf(&owner, "%s/%s", ons, oname) < 0) owner = NULL;
        if (owner) break;
    }
    json_decref(all);
    return owner;
}

/* 0 when every referenced Secret and key exists; else a not-ready status was written */
static int check_secrets(cat_ctx *c, const fm_catalog_spec *s, long *next) {
    fm_err err;
    if (s->has_object_store && s->store.credentials.name) {
        const char *keys[2] = {s->store.credentials.key_a ? s->store.credentials.key_a : "AWS_ACCESS_KEY_ID",
                               s->store.credentials.key_b ? s->store.credentials.key_b : "AWS_SECRET_ACCESS_KEY"};
        for (int i = 0; i < 2; i++) {
            fm_err_clear(&err);
            char *v = fm_op_secret_value(c->op, c->ns, s->store.credentials.name, keys[i], &err);
            if (!v) {
                char msg[1200];
                snprintf(msg, sizeof msg, "spec.objectStore.credentialsSecret: %s", err.msg);
                *next = not_ready(c, "ObjectStoreReady", strstr(err.msg, "has no key") ? "SecretKeyMissing" : "SecretNotFound",
                                  msg, "Pending", RETRY_MS);
                return -1;
            }
            memset(v, 0, strlen(v));
            free(v);
        }
    }
    if (!strcmp(s->metadata_type, "postgres") && s->pg.password.name) {
        fm_err_clear(&err);
        char *v = fm_op_secret_value(c->op, c->ns, s->pg.password.name,
                                     s->pg.password.key_a ? s->pg.password.key_a : "password", &err);
        if (!v) {
            char msg[1200];
            snprintf(msg, sizeof msg, "spec.metadata.passwordSecret: %s", err.msg);
            *next = not_ready(c, "MetadataReady", strstr(err.msg, "has no key") ? "SecretKeyMissing" : "SecretNotFound", msg,
                              "Pending", RETRY_MS);
            return -1;
        }
        memset(v, 0, strlen(v));
        free(v);
    }
    return 0;
}

static int apply_pvc(cat_ctx *c, const fm_catalog_spec *s, fm_err *err) {
    char name[300];
    pvc_name(name, sizeof name, c->name);
    json_t *pvc = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]},"
                            " s:{s:[s], s:{s:{s:s}}}}",
                            "apiVersion", "v1", "kind", "PersistentVolumeClaim", "metadata", "name", name, "namespace",
                            c->ns, "labels", FM_LABEL_NAME, "featherman", FM_LABEL_CATALOG, c->name, FM_LABEL_MANAGED_BY,
                            FM_MANAGED_BY, "ownerReferences", "apiVersion", FM_API_VERSION, "kind", "DuckLakeCatalog",
                            "name", c->name, "uid", fm_jstr(c->obj, "metadata.uid"), "controller", 1,
                            "blockOwnerDeletion", 1, "spec", "accessModes", "ReadWriteOnce", "resources", "requests",
                            "storage", s->size ? s->size : "1Gi");
    if (s->storage_class) json_object_set_new(json_object_get(pvc, "spec"), "storageClassName", json_string(s->storage_class));
    json_t *out = NULL;
    int rc = kube_apply(c->op->kube, &KUBE_RES_PVCS, pvc, FM_FIELD_MANAGER, 1, &out, err);
    json_decref(out);
    json_decref(pvc);
    return rc;
}

static void job_params(cat_ctx *c, const fm_catalog_spec *s, const char *op_name, char *jobname, size_t n,
                       fm_job_params *p) {
    char key[200];
    snprintf(key, sizeof key, "%s/%lld", fm_jstr(c->obj, "metadata.uid"), c->gen);
    fm_job_name(jobname, n, c->name, op_name, key);
    memset(p, 0, sizeof *p);
    p->op = op_name;
    p->name = jobname;
    p->namespace_ = c->ns;
    p->image = c->op->image;
    p->owner = c->obj;
    p->catalog_cr = c->obj;
    p->catalog = s;
    p->backoff_limit = 0; /* the operator retries with its own backoff, after reading the failure */
    if (strcmp(s->metadata_type, "postgres")) {
        pvc_name(c->pvc, sizeof c->pvc, c->name);
        p->pvc = c->pvc;
    }
}

static long finalize(cat_ctx *c, const fm_catalog_spec *s, bool spec_ok) {
    if (!fm_has_finalizer(c->obj, FM_FINALIZER)) return 0;
    /* tables first: a table's Jobs need the catalog */
    json_t *tables = kube_informer_list(c->op->tables, c->ns);
    size_t i, left = 0;
    json_t *t;
    char names[512] = "";
    json_array_foreach(tables, i, t) {
        const char *ref = table_catalog(t);
        if (!ref || strcmp(ref, c->name)) continue;
        if (left++ < 5) {
            strncat(names, left > 1 ? ", " : "", sizeof names - strlen(names) - 1);
            strncat(names, fm_jstr(t, "metadata.name"), sizeof names - strlen(names) - 1);
        }
    }
    json_decref(tables);
    if (left) {
        char msg[700];
        snprintf(msg, sizeof msg, "deleting: waiting for %zu DuckLakeTable(s) of this catalog to be deleted first (%s)",
                 left, names);
        fm_cond_set(c->conds, "Ready", false, "WaitingForTables", msg, c->gen);
        return finish(c, "Deleting", RETRY_MS);
    }
    bool destroy = spec_ok && s->deletion_policy && !strcmp(s->deletion_policy, "delete");
    if (destroy && (!s->has_object_store || !s->store.prefix || !*s->store.prefix)) {
        event(c, "Warning", "DeletionRefused",
              "deletionPolicy delete with an empty prefix would delete the whole bucket: the data was kept");
        destroy = false;
    }
    if (destroy) {
        long next = 0;
        if (check_secrets(c, s, &next)) {
            event(c, "Warning", "DataLeftBehind",
                  "the catalog's credentials are gone, so its data could not be deleted: the objects under "
                  "spec.objectStore.prefix were kept");
        } else {
            char jobname[64];
            fm_job_params p;
            job_params(c, s, "destroy", jobname, sizeof jobname, &p);
            json_t *report = NULL;
            char why[600] = "";
            fm_job_state st = fm_op_run_job(c->op, &p, strcmp(s->metadata_type, "postgres") != 0, &report, NULL, why,
                                            sizeof why);
            if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
                fm_cond_set(c->conds, "Ready", false, "Deleting", why, c->gen);
                return finish(c, "Deleting", st == FM_JOB_WAITING ? 5000 : RETRY_MS);
            }
            if (st == FM_JOB_FAILED) {
                char msg[1400];
                snprintf(msg, sizeof msg, "deleting the catalog's data failed, the data was kept: %s",
                         fm_op_report_error(report, NULL));
                event(c, "Warning", "DataLeftBehind", msg);
            } else {
                char msg[300];
                snprintf(msg, sizeof msg, "deleted %lld data files", fm_jint(report, "filesRemoved", 0));
                event(c, "Normal", "DataDeleted", msg);
            }
            json_decref(report);
        }
    } else if (!spec_ok || strcmp(s->metadata_type, "postgres")) {
        /* retain: the PVC outlives the catalog (the garbage collector follows ownerReferences) */
        char name[300];
        pvc_name(name, sizeof name, c->name);
        json_t *patch = json_pack("{s:{s:n}}", "metadata", "ownerReferences");
        fm_err err;
        kube_status stt = {0};
        if (kube_patch_ex(c->op->kube, &KUBE_RES_PVCS, c->ns, name, NULL, KUBE_PATCH_MERGE, patch, FM_FIELD_MANAGER, 0,
                          NULL, &stt, &err) == 0)
            event(c, "Normal", "Retained", "deletionPolicy retain: the metadata volume and the data were kept");
        else if (stt.http != 404)
            fm_warn("catalog %s/%s: releasing PVC %s: %s", c->ns, c->name, name, err.msg);
        json_decref(patch);
    }
    return fm_op_remove_finalizer(c->op, &FM_RES_CATALOGS, c->obj) ? -1 : 0;
}

long fm_reconcile_catalog(fm_operator *op, const char *ns, const char *name) {
    json_t *obj = fm_op_get(op->catalogs, ns, name);
    if (!obj) return 0;
    cat_ctx c = {.op = op, .obj = obj, .ns = ns, .name = name, .gen = fm_jint(obj, "metadata.generation", 0)};
    c.status = fm_status_copy(obj, &c.conds);
    long next = 0;
    fm_catalog_spec s;
    memset(&s, 0, sizeof s);
    fm_err err;
    fm_err_clear(&err);
    bool spec_ok = fm_catalog_spec_parse(obj, &s, &err) == 0;

    int pause_changed = 0;
    if (fm_reconcile_paused(obj, c.conds, c.gen, &pause_changed)) {
        if (pause_changed)
            event(&c, "Normal", "ReconciliationPaused", "reconciliation paused by annotation");
        next = finish(&c, fm_jstr(obj, "status.phase") ? fm_jstr(obj, "status.phase") : "Paused", 0);
        goto out;
    }

    if (fm_jget(obj, "metadata.deletionTimestamp")) {
        next = finalize(&c, &s, spec_ok);
        goto out;
    }
    if (fm_op_add_finalizer(op, &FM_RES_CATALOGS, obj)) {
        next = -1;
        goto out;
    }
    if (!spec_ok) {
        next = not_ready(&c, NULL, "InvalidSpec", err.msg, "Failed", 0);
        goto out;
    }
    char *owner = prefix_owner(&c, &s);
    if (owner) {
        char msg[700];
        snprintf(msg, sizeof msg,
                 "bucket %s prefix \"%s\" already belongs to DuckLakeCatalog %s: one prefix holds one catalog "
                 "(a neighbour's file cleanup would delete this one's files); choose another prefix",
                 s.store.bucket, s.store.prefix ? s.store.prefix : "", owner);
        free(owner);
        next = not_ready(&c, "ObjectStoreReady", "PrefixInUse", msg, "Failed", RETRY_MS);
        goto out;
    }
    if (check_secrets(&c, &s, &next)) goto out;

    bool file_backed = strcmp(s.metadata_type, "postgres") != 0;
    if (file_backed && apply_pvc(&c, &s, &err)) {
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot create the metadata PersistentVolumeClaim: %s", err.msg);
        next = not_ready(&c, "MetadataReady", "VolumeFailed", msg, "Pending", RETRY_MS);
        goto out;
    }
    /* initialized for this generation: nothing to do (Jobs are garbage-collected after their TTL) */
    if (fm_jint(obj, "status.observedGeneration", -1) == c.gen && fm_cond_true(c.conds, "Ready")) {
        next = finish(&c, "Ready", 0);
        goto out;
    }
    char jobname[64];
    fm_job_params p;
    job_params(&c, &s, "init", jobname, sizeof jobname, &p);
    json_t *report = NULL;
    long long finished_at = 0;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(op, &p, file_backed, &report, &finished_at, why, sizeof why);
    switch (st) {
    case FM_JOB_WAITING:
        fm_cond_set_unknown(c.conds, "MetadataReady", "WaitingForLock", why, c.gen);
        next = finish(&c, "Pending", 5000);
        break;
    case FM_JOB_RUNNING:
        if (fm_cond_set_unknown(c.conds, "MetadataReady", "Initializing", why, c.gen))
            event(&c, "Normal", "Initializing", why);
        fm_cond_set_unknown(c.conds, "Ready", "Initializing", why, c.gen);
        next = finish(&c, "Initializing", RETRY_MS);
        break;
    case FM_JOB_FAILED: {
        const char *code = NULL, *msg = fm_op_report_error(report, &code);
        if (!strncmp(msg, "objectStore: ", 13)) {
            fm_cond_set(c.conds, "ObjectStoreReady", false, "ObjectStoreUnreachable", msg + 13, c.gen);
            fm_cond_set_unknown(c.conds, "MetadataReady", "ObjectStoreUnreachable", "waiting for the object store",
                                c.gen);
        } else {
            fm_cond_set(c.conds, "MetadataReady", false, "InitFailed", msg, c.gen);
        }
        if (fm_cond_set(c.conds, "Ready", false, "InitFailed", msg, c.gen)) event(&c, "Warning", "InitFailed", msg);
        next = finish(&c, "Failed", fm_op_retry_failed_job(op, ns, jobname, finished_at, RETRY_MS));
        break;
    }
    case FM_JOB_SUCCEEDED: {
        const char *fv = fm_jstr(report, "formatVersion"), *ev = fm_jstr(report, "engineVersion");
        if (ev) json_object_set_new(c.status, "engineVersion", json_string(ev));
        if (fv) json_object_set_new(c.status, "formatVersion", json_string(fv));
        json_object_set(c.status, "snapshotId", json_object_get(report, "snapshotId"));
        json_object_set(c.status, "tableCount", json_object_get(report, "tableCount"));
        if (fm_jstr(report, "dataPath")) json_object_set(c.status, "dataPath", json_object_get(report, "dataPath"));
        json_object_set_new(c.status, "catalogPath",
                            json_string(file_backed ? fm_jstr(report, "metadata") : "postgres"));
        json_object_set_new(c.status, "observedGeneration", json_integer(c.gen));
        fm_cond_set(c.conds, "ObjectStoreReady", true, "Reachable",
                    s.has_object_store ? "the data prefix was listed with the catalog's credentials"
                                       : "data on the catalog's volume",
                    c.gen);
        char msg[300];
        snprintf(msg, sizeof msg, "DuckLake format %s on DuckDB %s", fv ? fv : "?", ev ? ev : "?");
        fm_cond_set(c.conds, "MetadataReady", true, "Initialized", msg, c.gen);
        if (fm_cond_set(c.conds, "Ready", true, "Ready", msg, c.gen)) event(&c, "Normal", "Ready", msg);
        next = finish(&c, "Ready", 0);
        break;
    }
    }
    json_decref(report);
out:
    if (spec_ok) fm_catalog_spec_free(&s);
    json_decref(c.status);
    json_decref(obj);
    return next;
}
