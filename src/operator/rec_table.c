/* DuckLakeTable reconciler. A table waits for its catalog to be Ready, then a DDL Job creates it
 * or ALTERs it to the spec (ddl.h); a change DuckLake cannot make leaves the table as it was and
 * is reported in the Applied and Ready conditions with the reason, and not retried until the spec
 * changes. Status: applied columns, partitioning, snapshot, rows, files, bytes — refreshed by a
 * read-only report Job every REFRESH_S. materializeTo runs as a materialize Job, once per
 * generation or on its cron schedule (only the latest due slot: no catch-up storm), at most one at
 * a time; its result (rows, files, location, time) or DuckDB's error lands in status.
 * Deletion (finalizer): `delete` drops the table through a Job; `retain` keeps it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cron.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "base/log.h"
#include "operator/op_jobs.h"
#include "operator/operator.h"
#include "model/spec.h"

#define RETRY_MS 30000
#define REFRESH_S 600

typedef struct {
    fm_operator *op;
    json_t *obj, *status, *conds, *catalog;
    fm_catalog_spec cs;
    long long gen;
    const char *ns, *name;
    char pvc[300];
} tab_ctx;

static void event(tab_ctx *c, const char *type, const char *reason, const char *msg) {
    kube_eventf(c->op->rec, c->obj, type, reason, "%s", msg);
}

static long finish(tab_ctx *c, const char *phase, long next) {
    json_object_set_new(c->status, "phase", json_string(phase));
    fm_op_write_status(c->op, &FM_RES_TABLES, c->obj, c->status);
    return next;
}

static bool file_backed(tab_ctx *c) { return strcmp(c->cs.metadata_type, "postgres") != 0; }

static void params(tab_ctx *c, const char *op_name, const char *key, char *jobname, size_t n, fm_job_params *p) {
    char k[300];
    snprintf(k, sizeof k, "%s/%s", fm_jstr(c->obj, "metadata.uid"), key);
    fm_job_name(jobname, n, c->name, op_name, k);
    memset(p, 0, sizeof *p);
    p->op = op_name;
    p->name = jobname;
    p->namespace_ = c->ns;
    p->image = c->op->image;
    p->owner = c->obj;
    p->catalog_cr = c->catalog;
    p->table_cr = c->obj;
    p->catalog = &c->cs;
    p->backoff_limit = 0;
    if (file_backed(c)) {
        snprintf(c->pvc, sizeof c->pvc, "%s-metadata", c->cs.name);
        p->pvc = c->pvc;
    }
}

/* is a materialize Job of this table still running? */
static bool materialize_running(tab_ctx *c) {
    json_t *jobs = kube_informer_list(c->op->jobs, c->ns);
    size_t i;
    json_t *j;
    bool running = false;
    json_array_foreach(jobs, i, j) {
        json_t *l = fm_jget(j, "metadata.labels");
        const char *t = json_string_value(json_object_get(l, FM_LABEL_TABLE));
        const char *o = json_string_value(json_object_get(l, FM_LABEL_OPERATION));
        if (!t || !o || strcmp(t, c->name) || strcmp(o, "materialize")) continue;
        if (!fm_jint(j, "status.succeeded", 0) && !fm_jint(j, "status.failed", 0)) running = true;
    }
    json_decref(jobs);
    return running;
}

static void copy_report(tab_ctx *c, json_t *r) {
    const char *keys[] = {"columns", "partitioning", "snapshotId", "rowCount", "fileCount", "bytes"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(r, keys[i]);
        if (v) json_object_set(c->status, keys[i], v);
    }
    char now[32];
    fm_k8s_now(now);
    json_object_set_new(c->status, "lastRefresh", json_string(now));
}

/* one materialization step; returns a requeue delay (0 = none) */
static long materialize(tab_ctx *c, const fm_table_spec *s) {
    if (!s->materialize.enabled) return 0;
    time_t now = time(NULL);
    char key[64];
    long next = 0;
    if (s->materialize.schedule) {
        fm_cron cron;
        if (fm_cron_parse(s->materialize.schedule, &cron)) return 0; /* the spec parser refused it already */
        time_t slot = fm_cron_prev(&cron, now, 400L * 86400);
        time_t nxt = fm_cron_next(&cron, now);
        next = nxt ? (long)(nxt - now) * 1000 + 1000 : 0;
        const char *last = fm_jstr(c->status, "lastMaterialization.slot");
        snprintf(key, sizeof key, "slot-%lld", (long long)slot);
        if (!slot || (last && !strcmp(last, key))) return next;
    } else {
        snprintf(key, sizeof key, "gen-%lld", c->gen);
        const char *last = fm_jstr(c->status, "lastMaterialization.slot");
        if (last && !strcmp(last, key)) return 0;
    }
    char jobname[64];
    fm_job_params p;
    params(c, "materialize", key, jobname, sizeof jobname, &p);
    json_t *existing = kube_informer_get(c->op->jobs, c->ns, jobname);
    json_decref(existing);
    if (!existing && materialize_running(c)) {
        fm_cond_set_unknown(c->conds, "Materialized", "Waiting", "the previous materialization is still running", c->gen);
        return RETRY_MS;
    }
    json_t *report = NULL;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(c->op, &p, file_backed(c), &report, NULL, why, sizeof why);
    if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
        fm_cond_set_unknown(c->conds, "Materialized", "Running", why, c->gen);
        json_decref(report);
        return RETRY_MS;
    }
    char now_s[32];
    fm_k8s_now(now_s);
    json_t *lm = json_object();
    json_object_set_new(lm, "time", json_string(now_s));
    json_object_set_new(lm, "slot", json_string(key));
    if (st == FM_JOB_FAILED) {
        const char *msg = fm_op_report_error(report, NULL);
        json_object_set_new(lm, "error", json_string(msg));
        if (fm_cond_set(c->conds, "Materialized", false, "MaterializationFailed", msg, c->gen))
            event(c, "Warning", "MaterializationFailed", msg);
    } else {
        json_object_set(lm, "rows", json_object_get(report, "rows"));
        json_object_set(lm, "files", json_object_get(report, "files"));
        json_object_set(lm, "location", json_object_get(report, "location"));
        char msg[1200];
        snprintf(msg, sizeof msg, "%lld rows in %lld file(s) at %s", fm_jint(report, "rows", 0),
                 fm_jint(report, "files", 0), fm_jstr(report, "location") ? fm_jstr(report, "location") : "?");
        fm_cond_set(c->conds, "Materialized", true, "Materialized", msg, c->gen);
        event(c, "Normal", "Materialized", msg);
    }
    json_object_set_new(c->status, "lastMaterialization", lm);
    json_decref(report);
    return next;
}

static long finalize(tab_ctx *c, const fm_table_spec *s, bool spec_ok) {
    if (!fm_has_finalizer(c->obj, FM_FINALIZER)) return 0;
    bool drop = spec_ok && s->deletion_policy && !strcmp(s->deletion_policy, "delete");
    if (drop && !c->catalog) {
        event(c, "Warning", "DataLeftBehind", "the table's catalog is gone: nothing could be dropped");
        drop = false;
    }
    if (drop) {
        char jobname[64];
        fm_job_params p;
        params(c, "drop", "drop", jobname, sizeof jobname, &p);
        json_t *report = NULL;
        char why[600] = "";
        fm_job_state st = fm_op_run_job(c->op, &p, file_backed(c), &report, NULL, why, sizeof why);
        if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
            fm_cond_set(c->conds, "Ready", false, "Deleting", why, c->gen);
            json_decref(report);
            return finish(c, "Deleting", 5000);
        }
        if (st == FM_JOB_FAILED)
            event(c, "Warning", "DataLeftBehind", fm_op_report_error(report, NULL));
        else
            event(c, "Normal", "Dropped", "the table was dropped (deletionPolicy delete)");
        json_decref(report);
    }
    return fm_op_remove_finalizer(c->op, &FM_RES_TABLES, c->obj) ? -1 : 0;
}

long fm_reconcile_table(fm_operator *op, const char *ns, const char *name) {
    json_t *obj = fm_op_get(op->tables, ns, name);
    if (!obj) return 0;
    tab_ctx c = {.op = op, .obj = obj, .ns = ns, .name = name, .gen = fm_jint(obj, "metadata.generation", 0)};
    c.status = fm_status_copy(obj, &c.conds);
    long next = 0;
    fm_table_spec s;
    memset(&s, 0, sizeof s);
    fm_err err;
    fm_err_clear(&err);
    bool spec_ok = fm_table_spec_parse(obj, &s, &err) == 0;
    bool cat_ok = false;
    if (spec_ok) {
        c.catalog = fm_op_get(op->catalogs, ns, s.catalog_ref);
        fm_err cerr;
        cat_ok = c.catalog && fm_catalog_spec_parse(c.catalog, &c.cs, &cerr) == 0;
    }

    int pause_changed = 0;
    if (fm_reconcile_paused(obj, c.conds, c.gen, &pause_changed)) {
        if (pause_changed)
            event(&c, "Normal", "ReconciliationPaused", "reconciliation paused by annotation");
        next = finish(&c, fm_jstr(obj, "status.phase") ? fm_jstr(obj, "status.phase") : "Paused", 0);
        goto out;
    }
    if (fm_jget(obj, "metadata.deletionTimestamp")) {
        if (!cat_ok) {
            json_decref(c.catalog);
            c.catalog = NULL;
        }
        next = finalize(&c, &s, spec_ok && cat_ok);
        goto out;
    }
    if (fm_op_add_finalizer(op, &FM_RES_TABLES, obj)) {
        next = -1;
        goto out;
    }
    if (!spec_ok) {
        if (fm_cond_set(c.conds, "Ready", false, "InvalidSpec", err.msg, c.gen)) event(&c, "Warning", "InvalidSpec", err.msg);
        next = finish(&c, "Failed", 0);
        goto out;
    }
    if (!c.catalog || !cat_ok || !fm_cond_true(fm_jget(c.catalog, "status.conditions"), "Ready")) {
        char msg[600];
        snprintf(msg, sizeof msg, c.catalog ? "waiting for DuckLakeCatalog %s to be Ready"
                                            : "DuckLakeCatalog %s does not exist in this namespace",
                 s.catalog_ref);
        if (fm_cond_set(c.conds, "Ready", false, c.catalog ? "CatalogNotReady" : "CatalogNotFound", msg, c.gen))
            event(&c, "Normal", "WaitingForCatalog", msg);
        next = finish(&c, "Pending", c.catalog ? 0 : RETRY_MS);
        goto out;
    }

    /* DDL, once per generation; a refused change is not retried until the spec changes */
    json_t *applied = fm_cond_get(c.conds, "Applied");
    bool done = applied && fm_jint(applied, "observedGeneration", -1) == c.gen &&
                (fm_cond_true(c.conds, "Applied") || !strcmp(fm_jstr(applied, "reason"), "ChangeRefused"));
    if (!done) {
        char jobname[64], key[64];
        snprintf(key, sizeof key, "gen-%lld", c.gen);
        fm_job_params p;
        params(&c, "ddl", key, jobname, sizeof jobname, &p);
        json_t *report = NULL;
        long long finished_at = 0;
        char why[600] = "";
        fm_job_state st = fm_op_run_job(op, &p, file_backed(&c), &report, &finished_at, why, sizeof why);
        if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
            fm_cond_set_unknown(c.conds, "Applied", st == FM_JOB_WAITING ? "WaitingForLock" : "Applying", why, c.gen);
            next = finish(&c, "Applying", st == FM_JOB_WAITING ? 5000 : RETRY_MS);
            json_decref(report);
            goto out;
        }
        if (st == FM_JOB_FAILED) {
            const char *code = NULL, *msg = fm_op_report_error(report, &code);
            bool refused = code && !strcmp(code, "refused");
            const char *reason = refused ? "ChangeRefused" : "ApplyFailed";
            fm_cond_set(c.conds, "Applied", false, reason, msg, c.gen);
            if (fm_cond_set(c.conds, "Ready", false, reason, msg, c.gen)) event(&c, "Warning", reason, msg);
            if (refused) {
                next = finish(&c, "Failed", 0);
            } else {
                next = finish(&c, "Failed", fm_op_retry_failed_job(op, ns, jobname, finished_at, RETRY_MS));
            }
            json_decref(report);
            goto out;
        }
        copy_report(&c, report);
        const char *action = fm_jstr(report, "action");
        char msg[300];
        snprintf(msg, sizeof msg, "table %s %s", s.table, action ? action : "applied");
        fm_cond_set(c.conds, "Applied", true, "Applied", msg, c.gen);
        event(&c, "Normal", "Applied", msg);
        json_decref(report);
    }
    json_object_set_new(c.status, "observedGeneration", json_integer(c.gen));
    if (!fm_cond_true(c.conds, "Applied")) { /* refused for this generation: stays as it was until the spec changes */
        json_t *a = fm_cond_get(c.conds, "Applied");
        fm_cond_set(c.conds, "Ready", false, "ChangeRefused", a ? fm_jstr(a, "message") : "the change was refused", c.gen);
        next = finish(&c, "Failed", 0);
        goto out;
    }
    fm_cond_set(c.conds, "Ready", true, "Ready", "the table matches its spec", c.gen);

    long mat = materialize(&c, &s);

    /* cheap periodic refresh of rows/files/bytes: a read-only report Job per REFRESH_S window */
    long refresh = REFRESH_S * 1000L;
    const char *last = fm_jstr(c.status, "lastRefresh");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    time_t last_t = last && strptime(last, "%Y-%m-%dT%H:%M:%SZ", &tm) ? timegm(&tm) : 0;
    time_t now = time(NULL);
    if (now - last_t >= REFRESH_S) {
        char jobname[64], key[64];
        snprintf(key, sizeof key, "report-%lld", (long long)(now / REFRESH_S));
        fm_job_params p;
        params(&c, "report", key, jobname, sizeof jobname, &p);
        json_t *report = NULL;
        /* a DuckDB file has one writer or many readers: the report takes the lock there */
        fm_job_state st = fm_op_run_job(op, &p, !strcmp(c.cs.metadata_type, "duckdb"), &report, NULL, NULL, 0);
        if (st == FM_JOB_SUCCEEDED) copy_report(&c, report);
        if (st == FM_JOB_RUNNING || st == FM_JOB_WAITING) refresh = RETRY_MS;
        json_decref(report);
    } else {
        refresh = (long)(REFRESH_S - (now - last_t)) * 1000L;
    }
    next = finish(&c, "Ready", mat > 0 && mat < refresh ? mat : refresh);
out:
    if (spec_ok) fm_table_spec_free(&s);
    if (cat_ok) fm_catalog_spec_free(&c.cs);
    json_decref(c.catalog);
    json_decref(c.status);
    json_decref(obj);
    return next;
}
