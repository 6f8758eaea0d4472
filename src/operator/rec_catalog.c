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

#include "base/json_get.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "model/spec.h"
#include "operator/op_jobs.h"
#include "operator/reconcile.h"

#define RETRY_MS 30000

static void pvc_name(char *out, size_t n, const char *catalog) { snprintf(out, n, "%s-metadata", catalog); }

static bool file_backed(const fm_catalog_spec *s) { return strcmp(s->metadata_type, "postgres") != 0; }

/* another catalog (in any watched namespace) on the same bucket+prefix, older than this one:
 * its "namespace/name" in owner */
static bool prefix_owner(fm_rec *r, const fm_catalog_spec *s, char *owner, size_t n) {
    if (!s->has_object_store) return false;
    json_t *all = kube_informer_list(r->op->catalogs, NULL);
    size_t i;
    json_t *o;
    bool found = false;
    const char *mine = fm_jstr(r->obj, "metadata.creationTimestamp");
    json_array_foreach(all, i, o) {
        const char *ons = fm_jstr(o, "metadata.namespace"), *oname = fm_jstr(o, "metadata.name");
        if (!strcmp(ons, r->ns) && !strcmp(oname, r->name)) continue;
        if (fm_jget(o, "metadata.deletionTimestamp")) continue;
        const char *b = fm_jstr(o, "spec.objectStore.bucket"), *p = fm_jstr(o, "spec.objectStore.prefix");
        if (!b || strcmp(b, s->store.bucket)) continue;
        /* the parsed prefix ends in '/' when non-empty; compare without it */
        size_t pl = p ? strlen(p) : 0, sl = strlen(s->store.prefix ? s->store.prefix : "");
        while (pl && p[pl - 1] == '/') pl--;
        while (sl && s->store.prefix[sl - 1] == '/') sl--;
        if (pl != sl || (pl && strncmp(p, s->store.prefix, pl))) continue;
        const char *theirs = fm_jstr(o, "metadata.creationTimestamp");
        if (theirs && mine && (strcmp(theirs, mine) < 0 || (!strcmp(theirs, mine) && strcmp(oname, r->name) < 0))) {
            snprintf(owner, n, "%s/%s", ons, oname);
            found = true;
            break;
        }
    }
    json_decref(all);
    return found;
}

/* 0 when key exists in Secret name; else a not-ready status (cond, field named) was written */
static int check_secret(fm_rec *r, const char *cond, const char *field, const char *name, const char *key,
                        long *next) {
    fm_err err;
    fm_err_clear(&err);
    char *v = fm_op_secret_value(r->op, r->ns, name, key, &err);
    if (v) {
        memset(v, 0, strlen(v));
        free(v);
        return 0;
    }
    char msg[1200];
    snprintf(msg, sizeof msg, "%s: %s", field, err.msg);
    *next = fm_rec_not_ready(r, cond, strstr(err.msg, "has no key") ? "SecretKeyMissing" : "SecretNotFound", msg,
                             "Pending", RETRY_MS);
    return -1;
}

/* 0 when every referenced Secret and key exists; else a not-ready status was written */
static int check_secrets(fm_rec *r, const fm_catalog_spec *s, long *next) {
    if (s->has_object_store && s->store.credentials.name) {
        const fm_secret_ref *c = &s->store.credentials;
        if (check_secret(r, "ObjectStoreReady", "spec.objectStore.credentialsSecret", c->name,
                         c->key_a ? c->key_a : "AWS_ACCESS_KEY_ID", next) ||
            check_secret(r, "ObjectStoreReady", "spec.objectStore.credentialsSecret", c->name,
                         c->key_b ? c->key_b : "AWS_SECRET_ACCESS_KEY", next))
            return -1;
    }
    if (!strcmp(s->metadata_type, "postgres") && s->pg.password.name)
        return check_secret(r, "MetadataReady", "spec.metadata.passwordSecret", s->pg.password.name,
                            s->pg.password.key_a ? s->pg.password.key_a : "password", next);
    return 0;
}

static int apply_pvc(fm_rec *r, const fm_catalog_spec *s, fm_err *err) {
    char name[300];
    pvc_name(name, sizeof name, r->name);
    json_t *pvc = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:b, s:b}]},"
                            " s:{s:[s], s:{s:{s:s}}}}",
                            "apiVersion", "v1", "kind", "PersistentVolumeClaim", "metadata", "name", name, "namespace",
                            r->ns, "labels", FM_LABEL_NAME, "featherman", FM_LABEL_CATALOG, r->name, FM_LABEL_MANAGED_BY,
                            FM_MANAGED_BY, "ownerReferences", "apiVersion", FM_API_VERSION, "kind", "DuckLakeCatalog",
                            "name", r->name, "uid", fm_jstr(r->obj, "metadata.uid"), "controller", 1,
                            "blockOwnerDeletion", 1, "spec", "accessModes", "ReadWriteOnce", "resources", "requests",
                            "storage", s->size ? s->size : "1Gi");
    if (s->storage_class) json_object_set_new(json_object_get(pvc, "spec"), "storageClassName", json_string(s->storage_class));
    json_t *out = NULL;
    int rc = kube_apply(r->op->kube, &KUBE_RES_PVCS, pvc, FM_FIELD_MANAGER, 1, &out, err);
    json_decref(out);
    json_decref(pvc);
    return rc;
}

/* the Job of operation op_name for this generation; jobname and pvc are the caller's buffers */
static void job_params(fm_rec *r, const fm_catalog_spec *s, const char *op_name, char *jobname, size_t n,
                       char pvc[300], fm_job_params *p) {
    char key[200];
    snprintf(key, sizeof key, "%s/%lld", fm_jstr(r->obj, "metadata.uid"), r->gen);
    fm_job_name(jobname, n, r->name, op_name, key);
    memset(p, 0, sizeof *p);
    p->op = op_name;
    p->name = jobname;
    p->namespace_ = r->ns;
    p->image = r->op->image;
    p->owner = r->obj;
    p->catalog_cr = r->obj;
    p->catalog = s;
    p->backoff_limit = 0; /* the operator retries with its own backoff, after reading the failure */
    if (file_backed(s)) {
        pvc_name(pvc, 300, r->name);
        p->pvc = pvc;
    }
}

/* ---- deletion ---- */

/* tables of this catalog that still exist: their count, and the first few names in names */
static size_t tables_left(fm_rec *r, char *names, size_t n) {
    json_t *tables = kube_informer_list(r->op->tables, r->ns);
    size_t i, left = 0;
    json_t *t;
    *names = 0;
    json_array_foreach(tables, i, t) {
        const char *ref = fm_op_table_catalog(t);
        if (!ref || strcmp(ref, r->name)) continue;
        if (left++ < 5) {
            strncat(names, left > 1 ? ", " : "", n - strlen(names) - 1);
            strncat(names, fm_jstr(t, "metadata.name"), n - strlen(names) - 1);
        }
    }
    json_decref(tables);
    return left;
}

/* deletionPolicy delete: the destroy Job; > 0 while it runs, 0 when done (an Event says how) */
static long destroy_data(fm_rec *r, const fm_catalog_spec *s) {
    long next = 0;
    if (check_secrets(r, s, &next)) {
        fm_rec_event(r, "Warning", "DataLeftBehind",
                     "the catalog's credentials are gone, so its data could not be deleted: the objects under "
                     "spec.objectStore.prefix were kept");
        return 0;
    }
    char jobname[64], pvc[300];
    fm_job_params p;
    job_params(r, s, "destroy", jobname, sizeof jobname, pvc, &p);
    json_t *report = NULL;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(r->op, &p, file_backed(s), &report, NULL, why, sizeof why);
    if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
        fm_cond_set(r->conds, "Ready", false, "Deleting", why, r->gen);
        json_decref(report);
        return fm_rec_finish(r, "Deleting", st == FM_JOB_WAITING ? 5000 : RETRY_MS);
    }
    char msg[1400];
    if (st == FM_JOB_FAILED) {
        snprintf(msg, sizeof msg, "deleting the catalog's data failed, the data was kept: %s",
                 fm_op_report_error(report, NULL));
        fm_rec_event(r, "Warning", "DataLeftBehind", msg);
    } else {
        snprintf(msg, sizeof msg, "deleted %lld data files", fm_jint(report, "filesRemoved", 0));
        fm_rec_event(r, "Normal", "DataDeleted", msg);
    }
    json_decref(report);
    return 0;
}

/* retain: the PVC outlives the catalog (the garbage collector follows ownerReferences) */
static void release_pvc(fm_rec *r) {
    char name[300];
    pvc_name(name, sizeof name, r->name);
    json_t *patch = json_pack("{s:{s:n}}", "metadata", "ownerReferences");
    fm_err err;
    kube_status stt = {0};
    if (kube_patch_ex(r->op->kube, &KUBE_RES_PVCS, r->ns, name, NULL, KUBE_PATCH_MERGE, patch, FM_FIELD_MANAGER, 0,
                      NULL, &stt, &err) == 0)
        fm_rec_event(r, "Normal", "Retained", "deletionPolicy retain: the metadata volume and the data were kept");
    else if (stt.http != 404)
        fm_warn("catalog %s/%s: releasing PVC %s: %s", r->ns, r->name, name, err.msg);
    json_decref(patch);
}

static long finalize(fm_rec *r) {
    if (!fm_has_finalizer(r->obj, FM_FINALIZER)) return 0;
    const fm_catalog_spec *s = r->spec_ok ? r->spec : NULL;
    /* tables first: a table's Jobs need the catalog */
    char names[512];
    size_t left = tables_left(r, names, sizeof names);
    if (left) {
        char msg[700];
        snprintf(msg, sizeof msg, "deleting: waiting for %zu DuckLakeTable(s) of this catalog to be deleted first (%s)",
                 left, names);
        fm_cond_set(r->conds, "Ready", false, "WaitingForTables", msg, r->gen);
        return fm_rec_finish(r, "Deleting", RETRY_MS);
    }
    bool destroy = s && s->deletion_policy && !strcmp(s->deletion_policy, "delete");
    if (destroy && (!s->has_object_store || !s->store.prefix || !*s->store.prefix)) {
        fm_rec_event(r, "Warning", "DeletionRefused",
                     "deletionPolicy delete with an empty prefix would delete the whole bucket: the data was kept");
        destroy = false;
    }
    if (destroy) {
        long next = destroy_data(r, s);
        if (next) return next;
    } else if (!s || file_backed(s)) {
        release_pvc(r);
    }
    return fm_op_remove_finalizer(r->op, &FM_RES_CATALOGS, r->obj) ? -1 : 0;
}

/* ---- the init Job ---- */

static long init_failed(fm_rec *r, json_t *report, const char *jobname, long long finished_at) {
    const char *msg = fm_op_report_error(report, NULL);
    if (!strncmp(msg, "objectStore: ", 13)) {
        fm_cond_set(r->conds, "ObjectStoreReady", false, "ObjectStoreUnreachable", msg + 13, r->gen);
        fm_cond_set_unknown(r->conds, "MetadataReady", "ObjectStoreUnreachable", "waiting for the object store",
                            r->gen);
    } else {
        fm_cond_set(r->conds, "MetadataReady", false, "InitFailed", msg, r->gen);
    }
    if (fm_cond_set(r->conds, "Ready", false, "InitFailed", msg, r->gen)) fm_rec_event(r, "Warning", "InitFailed", msg);
    return fm_rec_finish(r, "Failed", fm_op_retry_failed_job(r->op, r->ns, jobname, finished_at, RETRY_MS));
}

static long init_succeeded(fm_rec *r, const fm_catalog_spec *s, json_t *report) {
    const char *fv = fm_jstr(report, "formatVersion"), *ev = fm_jstr(report, "engineVersion");
    if (ev) json_object_set_new(r->status, "engineVersion", json_string(ev));
    if (fv) json_object_set_new(r->status, "formatVersion", json_string(fv));
    json_object_set(r->status, "snapshotId", json_object_get(report, "snapshotId"));
    json_object_set(r->status, "tableCount", json_object_get(report, "tableCount"));
    if (fm_jstr(report, "dataPath")) json_object_set(r->status, "dataPath", json_object_get(report, "dataPath"));
    json_object_set_new(r->status, "catalogPath", json_string(file_backed(s) ? fm_jstr(report, "metadata") : "postgres"));
    json_object_set_new(r->status, "observedGeneration", json_integer(r->gen));
    fm_cond_set(r->conds, "ObjectStoreReady", true, "Reachable",
                s->has_object_store ? "the data prefix was listed with the catalog's credentials"
                                    : "data on the catalog's volume",
                r->gen);
    char msg[300];
    snprintf(msg, sizeof msg, "DuckLake format %s on DuckDB %s", fv ? fv : "?", ev ? ev : "?");
    fm_cond_set(r->conds, "MetadataReady", true, "Initialized", msg, r->gen);
    if (fm_cond_set(r->conds, "Ready", true, "Ready", msg, r->gen)) fm_rec_event(r, "Normal", "Ready", msg);
    return fm_rec_finish(r, "Ready", 0);
}

static long run_init(fm_rec *r, const fm_catalog_spec *s) {
    char jobname[64], pvc[300];
    fm_job_params p;
    job_params(r, s, "init", jobname, sizeof jobname, pvc, &p);
    json_t *report = NULL;
    long long finished_at = 0;
    char why[600] = "";
    long next;
    switch (fm_op_run_job(r->op, &p, file_backed(s), &report, &finished_at, why, sizeof why)) {
    case FM_JOB_WAITING:
        fm_cond_set_unknown(r->conds, "MetadataReady", "WaitingForLock", why, r->gen);
        next = fm_rec_finish(r, "Pending", 5000);
        break;
    case FM_JOB_RUNNING:
        if (fm_cond_set_unknown(r->conds, "MetadataReady", "Initializing", why, r->gen))
            fm_rec_event(r, "Normal", "Initializing", why);
        fm_cond_set_unknown(r->conds, "Ready", "Initializing", why, r->gen);
        next = fm_rec_finish(r, "Initializing", RETRY_MS);
        break;
    case FM_JOB_FAILED: next = init_failed(r, report, jobname, finished_at); break;
    default: next = init_succeeded(r, s, report); break;
    }
    json_decref(report);
    return next;
}

static long reconcile(fm_rec *r) {
    const fm_catalog_spec *s = r->spec;
    char owner[600];
    if (prefix_owner(r, s, owner, sizeof owner)) {
        char msg[1400];
        snprintf(msg, sizeof msg,
                 "bucket %s prefix \"%s\" already belongs to DuckLakeCatalog %s: one prefix holds one catalog "
                 "(a neighbour's file cleanup would delete this one's files); choose another prefix",
                 s->store.bucket, s->store.prefix ? s->store.prefix : "", owner);
        return fm_rec_not_ready(r, "ObjectStoreReady", "PrefixInUse", msg, "Failed", RETRY_MS);
    }
    long next = 0;
    if (check_secrets(r, s, &next)) return next;
    fm_err err;
    fm_err_clear(&err);
    if (file_backed(s) && apply_pvc(r, s, &err)) {
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot create the metadata PersistentVolumeClaim: %s", err.msg);
        return fm_rec_not_ready(r, "MetadataReady", "VolumeFailed", msg, "Pending", RETRY_MS);
    }
    /* initialized for this generation: nothing to do (Jobs are garbage-collected after their TTL) */
    if (fm_jint(r->obj, "status.observedGeneration", -1) == r->gen && fm_cond_true(r->conds, "Ready"))
        return fm_rec_finish(r, "Ready", 0);
    return run_init(r, s);
}

static kube_informer *cache(fm_operator *op) { return op->catalogs; }
static int parse(json_t *obj, void *spec, fm_err *err) { return fm_catalog_spec_parse(obj, spec, err); }
static void free_spec(void *spec) { fm_catalog_spec_free(spec); }

static const fm_rec_kind KIND = {.res = &FM_RES_CATALOGS, .cache = cache, .finalizer = true,
                                 .spec_size = sizeof(fm_catalog_spec), .parse = parse, .free_spec = free_spec,
                                 .finalize = finalize, .reconcile = reconcile};

long fm_reconcile_catalog(fm_operator *op, const char *ns, const char *name) { return fm_rec_run(op, &KIND, ns, name); }
