/* DuckLakeTable reconciler. A table waits for its catalog to be Ready, then a DDL Job creates it
 * or ALTERs it to the spec (ddl.h); a change DuckLake cannot make leaves the table as it was and
 * is reported in the Applied and Ready conditions with the reason, and not retried until the spec
 * changes. Status: applied columns, partitioning, snapshot, rows, files, bytes — refreshed by a
 * read-only report Job every REFRESH_S. materializeTo runs as a materialize Job, once per
 * generation or on its cron schedule (only the latest due slot: no catch-up storm), at most one at
 * a time; its result (rows, files, location, time) or DuckDB's error lands in status.
 * Deletion (finalizer): `delete` drops the table through a Job; `retain` keeps it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cron.h"
#include "base/json_get.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "model/spec.h"
#include "operator/op_jobs.h"
#include "operator/reconcile.h"

#define RETRY_MS 30000
#define REFRESH_S 600
#define CONTINUE LONG_MIN /* a step is done and the pass goes on */

/* a pass over a table, with its catalog */
typedef struct {
    fm_rec *r;
    const fm_table_spec *s; /* NULL when the spec is invalid */
    json_t *catalog;        /* the DuckLakeCatalog as cached, or NULL */
    fm_catalog_spec cs;     /* its spec, when cs_ok */
    bool cs_ok;
    char pvc[300];
} tab_ctx;

static void tab_init(tab_ctx *c, fm_rec *r) {
    memset(c, 0, sizeof *c);
    c->r = r;
    c->s = r->spec_ok ? r->spec : NULL;
}

/* the catalog the table names, from the cache; cs_ok when it parses */
static void load_catalog(tab_ctx *c) {
    c->catalog = fm_op_get(c->r->op->catalogs, c->r->ns, c->s->catalog_ref);
    fm_err err;
    c->cs_ok = c->catalog && fm_catalog_spec_parse(c->catalog, &c->cs, &err) == 0;
}

static void tab_free(tab_ctx *c) {
    if (c->cs_ok) fm_catalog_spec_free(&c->cs);
    json_decref(c->catalog);
}

static bool file_backed(tab_ctx *c) { return strcmp(c->cs.metadata_type, "postgres") != 0; }

static void params(tab_ctx *c, const char *op_name, const char *key, char *jobname, size_t n, fm_job_params *p) {
    char k[300];
    snprintf(k, sizeof k, "%s/%s", fm_jstr(c->r->obj, "metadata.uid"), key);
    fm_job_name(jobname, n, c->r->name, op_name, k);
    memset(p, 0, sizeof *p);
    p->op = op_name;
    p->name = jobname;
    p->namespace_ = c->r->ns;
    p->image = c->r->op->image;
    p->owner = c->r->obj;
    p->catalog_cr = c->catalog;
    p->table_cr = c->r->obj;
    p->catalog = &c->cs;
    p->backoff_limit = 0;
    if (file_backed(c)) {
        snprintf(c->pvc, sizeof c->pvc, "%s-metadata", c->cs.name);
        p->pvc = c->pvc;
    }
}

/* is a materialize Job of this table still running? */
static bool materialize_running(tab_ctx *c) {
    json_t *jobs = kube_informer_list(c->r->op->jobs, c->r->ns);
    size_t i;
    json_t *j;
    bool running = false;
    json_array_foreach(jobs, i, j) {
        json_t *l = fm_jget(j, "metadata.labels");
        const char *t = json_string_value(json_object_get(l, FM_LABEL_TABLE));
        const char *o = json_string_value(json_object_get(l, FM_LABEL_OPERATION));
        if (!t || !o || strcmp(t, c->r->name) || strcmp(o, "materialize")) continue;
        if (!fm_jint(j, "status.succeeded", 0) && !fm_jint(j, "status.failed", 0)) running = true;
    }
    json_decref(jobs);
    return running;
}

static void copy_report(tab_ctx *c, json_t *report) {
    const char *keys[] = {"columns", "partitioning", "snapshotId", "rowCount", "fileCount", "bytes"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(report, keys[i]);
        if (v) json_object_set(c->r->status, keys[i], v);
    }
    char now[32];
    fm_k8s_now(now);
    json_object_set_new(c->r->status, "lastRefresh", json_string(now));
}

/* ---- materializeTo ---- */

/* the materialization due now as key ("slot-<t>" on a schedule, else "gen-<n>"), or false when
 * the latest one already ran; *next: when the schedule's next slot comes (0: none) */
static bool materialize_due(tab_ctx *c, char key[64], long *next) {
    const fm_table_spec *s = c->s;
    const char *last = fm_jstr(c->r->status, "lastMaterialization.slot");
    *next = 0;
    if (!s->materialize.schedule) {
        snprintf(key, 64, "gen-%lld", c->r->gen);
        return !last || strcmp(last, key);
    }
    fm_cron cron;
    if (fm_cron_parse(s->materialize.schedule, &cron)) return false; /* the spec parser refused it already */
    time_t now = time(NULL);
    time_t slot = fm_cron_prev(&cron, now, 400L * 86400);
    time_t nxt = fm_cron_next(&cron, now);
    *next = nxt ? (long)(nxt - now) * 1000 + 1000 : 0;
    snprintf(key, 64, "slot-%lld", (long long)slot);
    return slot && (!last || strcmp(last, key));
}

/* the finished materialization's result into status.lastMaterialization and its condition */
static void materialize_result(tab_ctx *c, const char *key, fm_job_state st, json_t *report) {
    char now_s[32];
    fm_k8s_now(now_s);
    json_t *lm = json_object();
    json_object_set_new(lm, "time", json_string(now_s));
    json_object_set_new(lm, "slot", json_string(key));
    if (st == FM_JOB_FAILED) {
        const char *msg = fm_op_report_error(report, NULL);
        json_object_set_new(lm, "error", json_string(msg));
        if (fm_cond_set(c->r->conds, "Materialized", false, "MaterializationFailed", msg, c->r->gen))
            fm_rec_event(c->r, "Warning", "MaterializationFailed", msg);
    } else {
        json_object_set(lm, "rows", json_object_get(report, "rows"));
        json_object_set(lm, "files", json_object_get(report, "files"));
        json_object_set(lm, "location", json_object_get(report, "location"));
        char msg[1200];
        snprintf(msg, sizeof msg, "%lld rows in %lld file(s) at %s", fm_jint(report, "rows", 0),
                 fm_jint(report, "files", 0), fm_jstr(report, "location") ? fm_jstr(report, "location") : "?");
        fm_cond_set(c->r->conds, "Materialized", true, "Materialized", msg, c->r->gen);
        fm_rec_event(c->r, "Normal", "Materialized", msg);
    }
    json_object_set_new(c->r->status, "lastMaterialization", lm);
}

/* one materialization step (only the latest due slot: no catch-up storm; at most one at a
 * time); returns a requeue delay (0 = none) */
static long materialize(tab_ctx *c) {
    if (!c->s->materialize.enabled) return 0;
    char key[64];
    long next = 0;
    if (!materialize_due(c, key, &next)) return next;
    char jobname[64];
    fm_job_params p;
    params(c, "materialize", key, jobname, sizeof jobname, &p);
    json_t *existing = kube_informer_get(c->r->op->jobs, c->r->ns, jobname);
    json_decref(existing);
    if (!existing && materialize_running(c)) {
        fm_cond_set_unknown(c->r->conds, "Materialized", "Waiting", "the previous materialization is still running",
                            c->r->gen);
        return RETRY_MS;
    }
    json_t *report = NULL;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(c->r->op, &p, file_backed(c), &report, NULL, why, sizeof why);
    if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
        fm_cond_set_unknown(c->r->conds, "Materialized", "Running", why, c->r->gen);
        json_decref(report);
        return RETRY_MS;
    }
    materialize_result(c, key, st, report);
    json_decref(report);
    return next;
}

/* ---- deletion ---- */

/* deletionPolicy delete: the drop Job; > 0 while it runs, 0 when done (an Event says how) */
static long drop_table(tab_ctx *c) {
    char jobname[64];
    fm_job_params p;
    params(c, "drop", "drop", jobname, sizeof jobname, &p);
    json_t *report = NULL;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(c->r->op, &p, file_backed(c), &report, NULL, why, sizeof why);
    long next = 0;
    if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
        fm_cond_set(c->r->conds, "Ready", false, "Deleting", why, c->r->gen);
        next = fm_rec_finish(c->r, "Deleting", 5000);
    } else if (st == FM_JOB_FAILED) {
        fm_rec_event(c->r, "Warning", "DataLeftBehind", fm_op_report_error(report, NULL));
    } else {
        fm_rec_event(c->r, "Normal", "Dropped", "the table was dropped (deletionPolicy delete)");
    }
    json_decref(report);
    return next;
}

/* The DROP needs the catalog. Workers run only with synced caches, so a catalog missing from
 * the cache is gone — which a catalog's own finalizer prevents while it has tables, so only a
 * finalizer removed by hand gets here; the Event says what was left. A cache not (yet) listed
 * proves nothing: the table waits rather than skip its cleanup. */
static long finalize(fm_rec *r) {
    if (!fm_has_finalizer(r->obj, FM_FINALIZER)) return 0;
    tab_ctx c;
    tab_init(&c, r);
    bool drop = c.s && c.s->deletion_policy && !strcmp(c.s->deletion_policy, "delete");
    long next = 0;
    if (drop && (!r->op->catalogs || !kube_informer_synced(r->op->catalogs))) {
        fm_cond_set(r->conds, "Ready", false, "Deleting", "waiting for the catalogs to be listed before the DROP",
                    r->gen);
        return fm_rec_finish(r, "Deleting", 2000);
    }
    if (drop) {
        load_catalog(&c);
        if (!c.cs_ok) {
            char msg[600];
            snprintf(msg, sizeof msg, "DuckLakeCatalog %s %s: the table could not be dropped", c.s->catalog_ref,
                     c.catalog ? "is invalid" : "is gone");
            fm_rec_event(r, "Warning", "DataLeftBehind", msg);
            drop = false;
        }
    }
    if (drop) next = drop_table(&c);
    if (!next) next = fm_op_remove_finalizer(r->op, &FM_RES_TABLES, r->obj) ? -1 : 0;
    tab_free(&c);
    return next;
}

/* ---- the table ---- */

/* the DDL Job of this generation, once (a refused change is not retried until the spec
 * changes): CONTINUE when the table matches the spec, else the pass's result */
static long apply_ddl(tab_ctx *c) {
    fm_rec *r = c->r;
    json_t *applied = fm_cond_get(r->conds, "Applied");
    if (applied && fm_jint(applied, "observedGeneration", -1) == r->gen &&
        (fm_cond_true(r->conds, "Applied") || !strcmp(fm_jstr(applied, "reason"), "ChangeRefused")))
        return CONTINUE;
    char jobname[64], key[64];
    snprintf(key, sizeof key, "gen-%lld", r->gen);
    fm_job_params p;
    params(c, "ddl", key, jobname, sizeof jobname, &p);
    json_t *report = NULL;
    long long finished_at = 0;
    char why[600] = "";
    fm_job_state st = fm_op_run_job(r->op, &p, file_backed(c), &report, &finished_at, why, sizeof why);
    long next = CONTINUE;
    if (st == FM_JOB_WAITING || st == FM_JOB_RUNNING) {
        fm_cond_set_unknown(r->conds, "Applied", st == FM_JOB_WAITING ? "WaitingForLock" : "Applying", why, r->gen);
        next = fm_rec_finish(r, "Applying", st == FM_JOB_WAITING ? 5000 : RETRY_MS);
    } else if (st == FM_JOB_FAILED) {
        const char *code = NULL, *msg = fm_op_report_error(report, &code);
        bool refused = code && !strcmp(code, "refused");
        const char *reason = refused ? "ChangeRefused" : "ApplyFailed";
        fm_cond_set(r->conds, "Applied", false, reason, msg, r->gen);
        if (fm_cond_set(r->conds, "Ready", false, reason, msg, r->gen)) fm_rec_event(r, "Warning", reason, msg);
        next = fm_rec_finish(r, "Failed", refused ? 0 : fm_op_retry_failed_job(r->op, r->ns, jobname, finished_at, RETRY_MS));
    } else {
        copy_report(c, report);
        const char *action = fm_jstr(report, "action");
        char msg[300];
        snprintf(msg, sizeof msg, "table %s %s", c->s->table, action ? action : "applied");
        fm_cond_set(r->conds, "Applied", true, "Applied", msg, r->gen);
        fm_rec_event(r, "Normal", "Applied", msg);
    }
    json_decref(report);
    return next;
}

/* cheap periodic refresh of rows/files/bytes: a read-only report Job per REFRESH_S window;
 * returns the delay until the next one */
static long refresh(tab_ctx *c) {
    long long last_ms = fm_rfc3339_ms(fm_jstr(c->r->status, "lastRefresh"));
    time_t last_t = last_ms > 0 ? (time_t)(last_ms / 1000) : 0;
    time_t now = time(NULL);
    if (now - last_t < REFRESH_S) return (long)(REFRESH_S - (now - last_t)) * 1000L;
    char jobname[64], key[64];
    snprintf(key, sizeof key, "report-%lld", (long long)(now / REFRESH_S));
    fm_job_params p;
    params(c, "report", key, jobname, sizeof jobname, &p);
    json_t *report = NULL;
    /* a DuckDB file has one writer or many readers: the report takes the lock there */
    fm_job_state st = fm_op_run_job(c->r->op, &p, !strcmp(c->cs.metadata_type, "duckdb"), &report, NULL, NULL, 0);
    if (st == FM_JOB_SUCCEEDED) copy_report(c, report);
    json_decref(report);
    return st == FM_JOB_RUNNING || st == FM_JOB_WAITING ? RETRY_MS : REFRESH_S * 1000L;
}

/* the catalog exists, parses and is Ready: CONTINUE; else the table waits for it */
static long wait_for_catalog(tab_ctx *c) {
    if (c->cs_ok && fm_cond_true(fm_jget(c->catalog, "status.conditions"), "Ready")) return CONTINUE;
    char msg[600];
    snprintf(msg, sizeof msg, c->catalog ? "waiting for DuckLakeCatalog %s to be Ready"
                                         : "DuckLakeCatalog %s does not exist in this namespace",
             c->s->catalog_ref);
    if (fm_cond_set(c->r->conds, "Ready", false, c->catalog ? "CatalogNotReady" : "CatalogNotFound", msg, c->r->gen))
        fm_rec_event(c->r, "Normal", "WaitingForCatalog", msg);
    return fm_rec_finish(c->r, "Pending", c->catalog ? 0 : RETRY_MS);
}

static long reconcile_with_catalog(tab_ctx *c) {
    fm_rec *r = c->r;
    long next = wait_for_catalog(c);
    if (next != CONTINUE) return next;
    next = apply_ddl(c);
    if (next != CONTINUE) return next;
    json_object_set_new(r->status, "observedGeneration", json_integer(r->gen));
    if (!fm_cond_true(r->conds, "Applied")) { /* refused for this generation: stays as it was until the spec changes */
        json_t *a = fm_cond_get(r->conds, "Applied");
        fm_cond_set(r->conds, "Ready", false, "ChangeRefused", a ? fm_jstr(a, "message") : "the change was refused", r->gen);
        return fm_rec_finish(r, "Failed", 0);
    }
    fm_cond_set(r->conds, "Ready", true, "Ready", "the table matches its spec", r->gen);
    long mat = materialize(c);
    long ref = refresh(c);
    return fm_rec_finish(r, "Ready", mat > 0 && mat < ref ? mat : ref);
}

static long reconcile(fm_rec *r) {
    tab_ctx c;
    tab_init(&c, r);
    load_catalog(&c);
    long next = reconcile_with_catalog(&c);
    tab_free(&c);
    return next;
}

static kube_informer *cache(fm_operator *op) { return op->tables; }
static int parse(json_t *obj, void *spec, fm_err *err) { return fm_table_spec_parse(obj, spec, err); }
static void free_spec(void *spec) { fm_table_spec_free(spec); }

static const fm_rec_kind KIND = {.res = &FM_RES_TABLES, .cache = cache, .finalizer = true,
                                 .spec_size = sizeof(fm_table_spec), .parse = parse, .free_spec = free_spec,
                                 .finalize = finalize, .reconcile = reconcile};

long fm_reconcile_table(fm_operator *op, const char *ns, const char *name) { return fm_rec_run(op, &KIND, ns, name); }
