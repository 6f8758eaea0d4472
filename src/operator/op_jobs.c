/* Catalog-operation Jobs and the catalog write lock (contract in op_jobs.h). */
#include "operator/op_jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json_get.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "kube/leader.h"

static void say(char *why, size_t n, const char *fmt, const char *a, const char *b) {
    if (why && n) snprintf(why, n, fmt, a, b);
}

/* a Job's conditions: FAILED or SUCCEEDED once finished, else RUNNING */
static fm_job_state job_outcome(json_t *job) {
    json_t *conds = fm_jget(job, "status.conditions");
    if (fm_cond_true(conds, "Failed")) return FM_JOB_FAILED;
    return fm_cond_true(conds, "Complete") ? FM_JOB_SUCCEEDED : FM_JOB_RUNNING;
}

/* is the named Job present and not finished? Asked of the API server, not the cache: a Job
 * created a moment ago may not be in the informer yet, and taking its lock would let two
 * writers run at once. A holder that does not exist yet but took the lock less than
 * LOCK_GRACE_S ago counts as active (the lock is taken just before its Job is created). */
#define LOCK_GRACE_S 30
static bool job_active(fm_operator *op, const char *ns, const char *name, const json_t *lease) {
    json_t *j = NULL;
    fm_err err;
    kube_status st = {0};
    if (kube_get_ex(op->kube, &KUBE_RES_JOBS, ns, name, &j, &st, &err)) {
        if (st.http != 404) return true; /* unknown: stay on the safe side */
        const char *at = fm_jstr(lease, "spec.acquireTime");
        double t = at ? kube_parse_time(at) : 0;
        return t > 0 && (double)time(NULL) - t < LOCK_GRACE_S;
    }
    bool running = job_outcome(j) == FM_JOB_RUNNING;
    json_decref(j);
    return running;
}

/* 1 acquired (or already ours), 0 held by a running Job, -1 error */
static int lock_acquire(fm_operator *op, const char *ns, const char *catalog, const char *holder, char *why,
                        size_t nwhy) {
    char lname[300];
    snprintf(lname, sizeof lname, "%s-write-lock", catalog);
    char now[32];
    kube_micro_time((double)time(NULL), now);
    json_t *lease = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:{s:s, s:i, s:s}}", "apiVersion",
                              "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", lname, "namespace", ns,
                              "labels", FM_LABEL_CATALOG, catalog, FM_LABEL_MANAGED_BY, FM_MANAGED_BY, "spec",
                              "holderIdentity", holder, "leaseDurationSeconds", 3600, "acquireTime", now);
    fm_err err;
    kube_status st = {0};
    json_t *out = NULL;
    int rc = kube_create_ex(op->kube, &KUBE_RES_LEASES, ns, lease, &out, &st, &err);
    json_decref(out);
    out = NULL;
    if (rc == 0) {
        json_decref(lease);
        return 1;
    }
    if (st.http != 409) {
        say(why, nwhy, "cannot take the write lock of catalog %s: %s", catalog, err.msg);
        json_decref(lease);
        return -1;
    }
    json_t *cur = NULL;
    if (kube_get(op->kube, &KUBE_RES_LEASES, ns, lname, &cur, &err)) {
        say(why, nwhy, "cannot read the write lock of catalog %s: %s", catalog, err.msg);
        json_decref(lease);
        return -1;
    }
    const char *h = fm_jstr(cur, "spec.holderIdentity");
    int result;
    if (h && !strcmp(h, holder)) {
        result = 1;
    } else if (h && *h && job_active(op, ns, h, cur)) {
        say(why, nwhy, "waiting for Job %s, which holds the write lock of catalog %s", h, catalog);
        result = 0;
    } else {
        /* the holder finished or vanished without releasing: take over with a compare-and-swap */
        json_object_set(json_object_get(lease, "metadata"), "resourceVersion", fm_jget(cur, "metadata.resourceVersion"));
        if (kube_update(op->kube, &KUBE_RES_LEASES, ns, lease, &out, &err) == 0) {
            result = 1;
        } else {
            say(why, nwhy, "the write lock of catalog %s changed hands: %s", catalog, err.msg);
            result = 0;
        }
        json_decref(out);
    }
    json_decref(cur);
    json_decref(lease);
    return result;
}

static void lock_release(fm_operator *op, const char *ns, const char *catalog, const char *holder) {
    char lname[300];
    snprintf(lname, sizeof lname, "%s-write-lock", catalog);
    json_t *cur = NULL;
    fm_err err;
    if (kube_get(op->kube, &KUBE_RES_LEASES, ns, lname, &cur, &err)) return;
    const char *h = fm_jstr(cur, "spec.holderIdentity");
    if (h && !strcmp(h, holder)) {
        kube_delete_opts o = {.grace_period_seconds = -1, .precondition_resource_version = fm_jstr(cur, "metadata.resourceVersion")};
        if (kube_delete(op->kube, &KUBE_RES_LEASES, ns, lname, &o, NULL, &err))
            fm_warn("releasing the write lock of catalog %s: %s", catalog, err.msg);
    }
    json_decref(cur);
}

/* the newest termination message of the Job's pods, parsed; never NULL for a finished Job */
static json_t *job_report(fm_operator *op, const char *ns, const char *job, long long *finished_at) {
    char sel[300];
    snprintf(sel, sizeof sel, "job-name=%s", job);
    kube_list_opts lo = {.label_selector = sel};
    json_t *list = NULL;
    fm_err err;
    const char *best = NULL, *best_at = "";
    int exit_code = 0;
    if (kube_list(op->kube, &KUBE_RES_PODS, ns, &lo, &list, &err) == 0) {
        size_t i, j;
        json_t *pod, *cs;
        json_array_foreach(json_object_get(list, "items"), i, pod) {
            json_array_foreach(fm_jget(pod, "status.containerStatuses"), j, cs) {
                json_t *t = fm_jget(cs, "state.terminated");
                if (!t) t = fm_jget(cs, "lastState.terminated");
                const char *at = fm_jstr(t, "finishedAt");
                if (!t || (at && strcmp(at, best_at) <= 0)) continue;
                best_at = at ? at : "";
                best = fm_jstr(t, "message");
                exit_code = (int)fm_jint(t, "exitCode", 0);
            }
        }
    }
    json_t *r = NULL;
    if (best) {
        json_error_t je;
        r = json_loads(best, 0, &je);
        if (r && !json_is_object(r)) {
            json_decref(r);
            r = NULL;
        }
        if (!r) /* FallbackToLogsOnError: the last log lines of a crash */
            r = json_pack("{s:{s:s, s:s++}}", "error", "code", "internal", "message", "the worker failed: ", best);
    } else {
        char m[200];
        snprintf(m, sizeof m, "the Job's pod left no termination message (exit code %d)", exit_code);
        r = json_pack("{s:{s:s, s:s}}", "error", "code", "internal", "message", m);
    }
    if (finished_at) {
        long long ms = fm_rfc3339_ms(best_at);
        *finished_at = ms > 0 ? ms / 1000 : 0;
    }
    json_decref(list);
    return r;
}

fm_job_state fm_op_run_job(fm_operator *op, const fm_job_params *p, bool write_lock, json_t **report,
                           long long *finished_at, char *why, size_t nwhy) {
    *report = NULL;
    if (finished_at) *finished_at = 0;
    const char *catalog = p->catalog->name;
    json_t *job = kube_informer_get(op->jobs, p->namespace_, p->name);
    if (!job) {
        if (write_lock) {
            int l = lock_acquire(op, p->namespace_, catalog, p->name, why, nwhy);
            if (l <= 0) return FM_JOB_WAITING;
        }
        json_t *m = fm_job_manifest(p);
        json_t *out = NULL;
        fm_err err;
        kube_status st = {0};
        int rc = kube_create_ex(op->kube, &KUBE_RES_JOBS, p->namespace_, m, &out, &st, &err);
        json_decref(m);
        json_decref(out);
        if (rc && st.http != 409) {
            say(why, nwhy, "cannot create Job %s: %s", p->name, err.msg);
            if (write_lock) lock_release(op, p->namespace_, catalog, p->name);
            return FM_JOB_WAITING;
        }
        fm_info("created Job %s/%s (%s of catalog %s)", p->namespace_, p->name, p->op, catalog);
        say(why, nwhy, "Job %s is running (%s)", p->name, p->op);
        return FM_JOB_RUNNING;
    }
    fm_job_state state = job_outcome(job);
    json_decref(job);
    if (state == FM_JOB_RUNNING) {
        say(why, nwhy, "Job %s is running (%s)", p->name, p->op);
        return state;
    }
    if (write_lock) lock_release(op, p->namespace_, catalog, p->name);
    *report = job_report(op, p->namespace_, p->name, finished_at);
    if (state == FM_JOB_SUCCEEDED && json_object_get(*report, "error")) state = FM_JOB_FAILED;
    return state;
}

int fm_op_delete_job(fm_operator *op, const char *ns, const char *name) {
    kube_delete_opts o = {.propagation_policy = "Background", .grace_period_seconds = -1};
    fm_err err;
    kube_status st = {0};
    if (kube_delete_ex(op->kube, &KUBE_RES_JOBS, ns, name, &o, NULL, &st, &err) && st.http != 404) {
        fm_warn("deleting Job %s/%s: %s", ns, name, err.msg);
        return -1;
    }
    return 0;
}

const char *fm_op_report_error(json_t *report, const char **code) {
    json_t *e = json_object_get(report, "error");
    if (code) *code = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    return m ? m : "the Job failed without a message";
}

long fm_op_retry_failed_job(fm_operator *op, const char *ns, const char *name, long long finished_at, long retry_ms) {
    long long age_ms = finished_at ? ((long long)time(NULL) - finished_at) * 1000 : retry_ms;
    if (age_ms < retry_ms) return (long)(retry_ms - age_ms);
    fm_op_delete_job(op, ns, name);
    return 2000;
}
