/* DuckLakePool reconciler: warm `worker serve` Pods for one catalog, scaled on what the pods
 * report. Level-based; every pass:
 *   spec valid → catalog exists, is not duckdb-metadata (DuckDB's file lock: one writer or many
 *   readers, never both — a pool would lock out every DDL Job; sqlite or postgres instead) and is
 *   Ready → the internal-token Secret exists (created with 32 random bytes when missing) → the
 *   PodDisruptionBudget (minAvailable = minSize, server-side apply) → the pool's Pods:
 *     failed/succeeded pods are deleted (and replaced below);
 *     draining pods (annotation featherman.dev/draining) are deleted once their /status shows
 *     busy == 0 (after a short settle, so a query the gateway sent before it saw the annotation is
 *     not lost) or once maxQueryDuration has passed since the drain began;
 *     Ready pods are asked GET /status (slots, busy, idleSince, queriesServed, startedAt);
 *   → fm_scale_decide (pool_scale.h) with the pool's policy, the per-pool history
 *   (pool_registry.h) and the gateway's queue length (pool annotation, when fresh) → pods to
 *   create, pods to drain → status (current, desired, idle, busy, queueLength, phase,
 *   observedGeneration, conditions Ready / CatalogReady), Events, gauges.
 * Requeued every scaleInterval, every second while pods start or drain. Deleting the pool
 * deletes its Pods and PDB through their ownerReferences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "k8s/pool_pod.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "base/log.h"
#include "operator/operator.h"
#include "k8s/pool_pods.h"
#include "operator/pool_registry.h"
#include "operator/pool_scale.h"
#include "operator/pool_status.h"
#include "base/clock.h"
#include "model/spec.h"

#define RETRY_MS 30000
#define FAST_MS 1000
#define STATUS_TIMEOUT_MS 1500
#define DRAIN_SETTLE_MS 2000     /* the gateway's informer sees the draining annotation within this */
#define EXPECT_MAX_AGE_MS 60000  /* a created pod the informer never showed is forgotten after this */
#define QUEUE_FRESH_MS 15000

typedef struct {
    fm_operator *op;
    json_t *obj, *status, *conds;
    long long gen;
    const char *ns, *name;
} pool_ctx;

static void event(pool_ctx *c, const char *type, const char *reason, const char *msg) {
    kube_eventf(c->op->rec, c->obj, type, reason, "%s", msg);
}

static long finish(pool_ctx *c, const char *phase, long next) {
    json_object_set_new(c->status, "phase", json_string(phase));
    json_object_set_new(c->status, "observedGeneration", json_integer(c->gen));
    fm_op_write_status(c->op, &FM_RES_POOLS, c->obj, c->status);
    return next;
}

static long not_ready(pool_ctx *c, const char *reason, const char *msg, const char *phase, long next) {
    if (fm_cond_set(c->conds, "Ready", false, reason, msg, c->gen))
        event(c, "Warning", reason, msg);
    return finish(c, phase, next);
}

static const char *annotation(json_t *obj, const char *k) {
    return json_string_value(json_object_get(fm_jget(obj, "metadata.annotations"), k));
}

/* the internal token (malloc'd): read, or created when the Secret is missing */
static char *internal_token(pool_ctx *c, fm_err *err) {
    fm_err e2;
    fm_err_clear(&e2);
    char *tok = fm_op_secret_value(c->op, c->ns, FM_INTERNAL_TOKEN_SECRET, "token", &e2);
    if (tok) return tok;
    if (e2.code != FM_E_NOT_FOUND || strstr(e2.msg, "has no key")) {
        *err = e2;
        return NULL;
    }
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        fm_fail(err, FM_E_INTERNAL, "no randomness for the internal token");
        return NULL;
    }
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    memset(rnd, 0, sizeof rnd);
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", FM_INTERNAL_TOKEN_SECRET, "namespace", c->ns, "labels", FM_LABEL_NAME,
                          "featherman", FM_LABEL_MANAGED_BY, FM_MANAGED_BY, "type", "Opaque", "stringData", "token",
                          hex);
    kube_status st = {0};
    int rc = kube_create_ex(c->op->kube, &KUBE_RES_SECRETS, c->ns, s, NULL, &st, err);
    json_decref(s);
    if (rc && st.http != 409) {
        memset(hex, 0, sizeof hex);
        return NULL;
    }
    if (rc) { /* another replica or a person was faster: read theirs */
        memset(hex, 0, sizeof hex);
        fm_err_clear(err);
        return fm_op_secret_value(c->op, c->ns, FM_INTERNAL_TOKEN_SECRET, "token", err);
    }
    fm_info("pool %s/%s: created Secret %s (the gateway's token for pool pods)", c->ns, c->name,
            FM_INTERNAL_TOKEN_SECRET);
    event(c, "Normal", "InternalTokenCreated", "created Secret " FM_INTERNAL_TOKEN_SECRET " for gateway → pod calls");
    char *out = strdup(hex);
    memset(hex, 0, sizeof hex);
    return out;
}

static int apply_pdb(pool_ctx *c, const fm_pool_spec *ps, fm_pool_entry *e) {
    if (e->pdb_gen == c->gen) return 0;
    json_t *pdb = fm_pool_pdb_manifest(c->obj, ps), *out = NULL;
    fm_err err;
    int rc = kube_apply(c->op->kube, &KUBE_RES_PDBS, pdb, FM_FIELD_MANAGER, 1, &out, &err);
    json_decref(pdb);
    json_decref(out);
    if (rc) {
        fm_warn("pool %s/%s: PodDisruptionBudget: %s", c->ns, c->name, err.msg);
        return -1;
    }
    e->pdb_gen = c->gen;
    return 0;
}

static bool owned_by(json_t *pod, const char *uid) {
    size_t i;
    json_t *r;
    json_array_foreach(fm_jget(pod, "metadata.ownerReferences"), i, r) {
        if (json_is_true(json_object_get(r, "controller")) && uid &&
            json_string_value(json_object_get(r, "uid")) &&
            !strcmp(json_string_value(json_object_get(r, "uid")), uid))
            return true;
    }
    return false;
}

static int delete_pod(pool_ctx *c, const char *pod, const char *uid, long grace) {
    kube_delete_opts o = {.grace_period_seconds = grace, .precondition_uid = uid};
    fm_err err;
    kube_status st = {0};
    int rc = kube_delete_ex(c->op->kube, &KUBE_RES_PODS, c->ns, pod, &o, NULL, &st, &err);
    if (rc && st.http != 404) {
        fm_warn("pool %s/%s: deleting pod %s: %s", c->ns, c->name, pod, err.msg);
        return -1;
    }
    return 0;
}

static int mark_draining(pool_ctx *c, const char *pod, long long now) {
    char since[32];
    snprintf(since, sizeof since, "%lld", now);
    json_t *patch = json_pack("{s:{s:{s:s, s:s}}}", "metadata", "annotations", FM_ANNOT_DRAINING, "true",
                              FM_ANNOT_DRAINING_SINCE, since);
    fm_err err;
    int rc = kube_patch(c->op->kube, &KUBE_RES_PODS, c->ns, pod, NULL, KUBE_PATCH_MERGE, patch, FM_FIELD_MANAGER, 0,
                        NULL, &err);
    json_decref(patch);
    if (rc) fm_warn("pool %s/%s: draining pod %s: %s", c->ns, c->name, pod, err.msg);
    return rc;
}

static int create_pod(pool_ctx *c, const fm_pool_spec *ps, json_t *cat_obj, const fm_catalog_spec *cs,
                      fm_pool_entry *e, long long now) {
    char name[64];
    fm_pool_pod_name(name, sizeof name, c->name);
    fm_pool_pod_params p = {.name = name, .namespace_ = c->ns, .image = c->op->image, .pool_cr = c->obj,
                            .catalog_cr = cat_obj, .pool = ps, .catalog = cs, .slots = 1};
    json_t *pod = fm_pool_pod_manifest(&p), *out = NULL;
    fm_err err;
    int rc = kube_create(c->op->kube, &KUBE_RES_PODS, c->ns, pod, &out, &err);
    json_decref(pod);
    json_decref(out);
    if (rc) {
        fm_warn("pool %s/%s: creating pod %s: %s", c->ns, c->name, name, err.msg);
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot create a pool pod: %s", err.msg);
        event(c, "Warning", "PodCreateFailed", msg);
        return -1;
    }
    fm_pool_expect(e, name, now);
    return 0;
}

/* the spec hash a pod built now would carry (FM_ANNOT_SPEC_HASH); malloc'd */
static char *current_spec_hash(pool_ctx *c, const fm_pool_spec *ps, json_t *cat_obj, const fm_catalog_spec *cs) {
    fm_pool_pod_params p = {.name = "x", .namespace_ = c->ns, .image = c->op->image, .pool_cr = c->obj,
                            .catalog_cr = cat_obj, .pool = ps, .catalog = cs, .slots = 1};
    json_t *pod = fm_pool_pod_manifest(&p);
    const char *h = json_string_value(json_object_get(fm_jget(pod, "metadata.annotations"), FM_ANNOT_SPEC_HASH));
    char *out = h ? strdup(h) : NULL;
    json_decref(pod);
    return out;
}

/* the gateway's queue length when it reported recently, else 0 */
static int queue_length(json_t *obj, long long now) {
    const char *q = annotation(obj, FM_ANNOT_QUEUE_LENGTH), *at = annotation(obj, FM_ANNOT_QUEUE_AT);
    if (!q || !at) return 0;
    long long t = atoll(at);
    int n = atoi(q);
    return n > 0 && now - t <= QUEUE_FRESH_MS ? n : 0;
}

typedef struct {
    fm_pod_state *st;
    char **names, **uids;
    size_t n, cap;
} pod_list;

static void pods_add(pod_list *l, const fm_pod_state *s, const char *name, const char *uid) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->st = realloc(l->st, l->cap * sizeof *l->st);
        l->names = realloc(l->names, l->cap * sizeof *l->names);
        l->uids = realloc(l->uids, l->cap * sizeof *l->uids);
    }
    l->names[l->n] = strdup(name);
    l->uids[l->n] = uid ? strdup(uid) : NULL;
    l->st[l->n] = *s;
    l->st[l->n].name = l->names[l->n];
    l->n++;
}

static void pods_free(pod_list *l) {
    for (size_t i = 0; i < l->n; i++) free(l->names[i]), free(l->uids[i]);
    free(l->st), free(l->names), free(l->uids);
}

static void policy_of(const fm_pool_spec *ps, fm_scale_policy *p) {
    memset(p, 0, sizeof *p);
    p->min_size = ps->min_size;
    p->max_size = ps->max_size;
    p->target_utilization = ps->target_utilization;
    p->scale_up_rate = ps->scale_up_rate;
    p->scale_down_rate = ps->scale_down_rate;
    p->scale_interval_ms = ps->scale_interval_ms;
    p->stabilization_window_ms = ps->stabilization_window_ms;
    p->max_idle_ms = ps->max_idle_ms;
    p->max_lifetime_ms = ps->max_lifetime_ms;
    p->max_queries = ps->max_queries;
}


/* A pod that cannot start — a missing Secret key (CreateContainerConfigError), an image that
 * cannot be pulled, a crash loop — would count as "starting" forever: after STUCK_MS in such a
 * waiting state it is replaced (and the Event names the reason). NULL when not stuck. */
#define STUCK_MS 120000
static const char *stuck(json_t *pod, long long now_ms) {
    size_t i;
    json_t *cs;
    const char *created = fm_jstr(pod, "metadata.creationTimestamp");
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    long long born = created && strptime(created, "%Y-%m-%dT%H:%M:%SZ", &tm) ? (long long)timegm(&tm) * 1000 : 0;
    if (!born || now_ms - born < STUCK_MS) return NULL;
    json_array_foreach(fm_jget(pod, "status.containerStatuses"), i, cs) {
        const char *r = fm_jstr(cs, "state.waiting.reason");
        if (r && (!strcmp(r, "CreateContainerConfigError") || !strcmp(r, "ErrImagePull") ||
                  !strcmp(r, "ImagePullBackOff") || !strcmp(r, "CrashLoopBackOff") ||
                  !strcmp(r, "RunContainerError") || !strcmp(r, "InvalidImageName")))
            return r;
    }
    return NULL;
}

static long scale(pool_ctx *c, const fm_pool_spec *ps, json_t *cat_obj, const fm_catalog_spec *cs, fm_pool_entry *e,
                  const char *token) {
    long long now = fm_wall_ms();
    const char *uid = fm_jstr(c->obj, "metadata.uid");
    json_t *all = kube_informer_list(c->op->pods, c->ns);
    char *want_hash = current_spec_hash(c, ps, cat_obj, cs);
    long outdated = -1; /* index in pl of a Ready pod built from an older spec */
    pod_list pl = {0};
    int starting = 0, draining_left = 0, failed = 0, drained = 0;
    size_t i;
    json_t *pod;
    json_array_foreach(all, i, pod) {
        fm_pool_pod gp;
        if (fm_pool_pod_parse(pod, &gp)) continue;
        if (!gp.pool || strcmp(gp.pool, c->name) || !owned_by(pod, uid)) {
            fm_pool_pod_free(&gp);
            continue;
        }
        fm_pool_expect_seen(e, gp.name);
        const char *puid = fm_jstr(pod, "metadata.uid");
        const char *phase = fm_jstr(pod, "status.phase");
        if (gp.deleting) {
            draining_left++; /* terminating: finishing its query, counts for nothing */
        } else if ((phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"))) || stuck(pod, now)) {
            char msg[600];
            const char *why = fm_jstr(pod, "status.reason");
            if (!why) why = stuck(pod, now);
            if (!phase || (strcmp(phase, "Failed") && strcmp(phase, "Succeeded"))) phase = "Failed";
            snprintf(msg, sizeof msg, "pool pod %s %s%s%s: replacing it", gp.name,
                     !strcmp(phase, "Failed") ? "failed" : "exited", why ? ": " : "", why ? why : "");
            event(c, "Warning", "PodFailed", msg);
            delete_pod(c, gp.name, puid, 0);
            failed++;
        } else if (gp.draining) {
            const char *since = annotation(pod, FM_ANNOT_DRAINING_SINCE);
            long long t0 = since ? atoll(since) : 0;
            long long age = t0 > 0 ? now - t0 : 0;
            fm_worker_status ws;
            fm_err err;
            bool reachable = gp.ip && fm_worker_status_fetch(gp.ip, FM_WORKER_PORT, token, STATUS_TIMEOUT_MS, &ws, &err) == 0;
            bool idle = reachable ? ws.busy == 0 : !gp.ready;
            if (!since) {
                mark_draining(c, gp.name, now); /* drained by someone else: start the clock */
                draining_left++;
            } else if ((idle && age >= DRAIN_SETTLE_MS) || age >= ps->max_query_duration_ms + DRAIN_SETTLE_MS) {
                if (delete_pod(c, gp.name, puid, -1) == 0) drained++;
            } else {
                draining_left++;
            }
            fm_pod_state s = {.draining = true, .ready = false, .slots = gp.slots};
            pods_add(&pl, &s, gp.name, puid);
        } else {
            fm_pod_state s = {.slots = gp.slots > 0 ? gp.slots : 1};
            if (gp.ready && gp.ip) {
                fm_worker_status ws;
                fm_err err;
                if (fm_worker_status_fetch(gp.ip, FM_WORKER_PORT, token, STATUS_TIMEOUT_MS, &ws, &err) == 0 &&
                    !ws.draining) {
                    s.ready = true;
                    s.slots = ws.slots;
                    s.busy = ws.busy;
                    s.queries = ws.queries;
                    s.started_ms = ws.started_ms ? ws.started_ms : now;
                    s.idle_since_ms = ws.idle_since_ms;
                } else {
                    fm_debug("pool %s/%s: pod %s: %s", c->ns, c->name, gp.name, err.msg);
                }
            }
            if (!s.ready) starting++;
            const char *h = annotation(pod, FM_ANNOT_SPEC_HASH);
            if (s.ready && outdated < 0 && want_hash && h && strcmp(h, want_hash)) outdated = (long)pl.n;
            pods_add(&pl, &s, gp.name, puid);
        }
        fm_pool_pod_free(&gp);
    }
    json_decref(all);
    /* created but not shown by the informer yet: starting pods */
    fm_pool_expect_prune(e, now, EXPECT_MAX_AGE_MS);
    for (int k = 0; k < e->nexpect; k++) {
        fm_pod_state s = {.slots = 1};
        pods_add(&pl, &s, e->expect[k].name, NULL);
        starting++;
    }

    free(want_hash);
    /* roll a changed template (or catalog) out one pod at a time: drain one outdated pod only while
     * nothing else is starting or draining; the scaler below replaces it */
    if (outdated >= 0 && starting == 0 && draining_left == 0 && mark_draining(c, pl.names[outdated], now) == 0) {
        pl.st[outdated].draining = true;
        pl.st[outdated].ready = false;
        char msg[300];
        snprintf(msg, sizeof msg, "pod %s was built from an older spec: draining it for a new one", pl.names[outdated]);
        event(c, "Normal", "RollingUpdate", msg);
    }

    fm_scale_policy pol;
    policy_of(ps, &pol);
    int queue = queue_length(c->obj, now);
    fm_pod_action *act = calloc(pl.n ? pl.n : 1, sizeof *act);
    fm_scale_decision d = fm_scale_decide(&pol, pl.st, pl.n, queue, now, &e->hist, act);

    int drains[4] = {0};
    char drained_names[300] = "";
    for (size_t k = 0; k < pl.n; k++) {
        if (act[k] == FM_POD_KEEP) continue;
        if (mark_draining(c, pl.names[k], now) == 0) {
            drains[act[k]]++;
            draining_left++;
            if (strlen(drained_names) + strlen(pl.names[k]) + 3 < sizeof drained_names) {
                if (*drained_names) strcat(drained_names, ", ");
                strcat(drained_names, pl.names[k]);
            }
        }
    }
    int created = 0;
    for (int k = 0; k < d.create; k++)
        if (create_pod(c, ps, cat_obj, cs, e, now) == 0) created++;
    int ready = 0; /* ready pods that keep serving after this pass */
    for (size_t k = 0; k < pl.n; k++)
        if (pl.st[k].ready && !pl.st[k].draining && act[k] == FM_POD_KEEP) ready++;
    free(act);

    char msg[600];
    if (created) {
        snprintf(msg, sizeof msg, "created %d pod(s): %d → %d (busy %d of %d ready, queue %d)", created, d.current,
                 d.current + created, d.busy, d.busy + d.idle, queue);
        /* ScaleUp is growth above minSize; filling the floor or replacing a pod is not */
        event(c, "Normal", !strcmp(d.reason, "ScaleUp") && d.current >= ps->min_size ? "ScaleUp" : "PodsCreated", msg);
    }
    if (drains[FM_POD_DRAIN_SCALE_DOWN] || drains[FM_POD_DRAIN_IDLE]) {
        snprintf(msg, sizeof msg, "draining %d pod(s) (%s): %d idle, %d busy; deleted once idle",
                 drains[FM_POD_DRAIN_SCALE_DOWN] + drains[FM_POD_DRAIN_IDLE],
                 drains[FM_POD_DRAIN_IDLE] && !drains[FM_POD_DRAIN_SCALE_DOWN] ? "idle longer than maxIdleTime"
                                                                               : "scale down",
                 d.idle, d.busy);
        event(c, "Normal", "ScaleDown", msg);
    }
    if (drains[FM_POD_DRAIN_RECYCLE]) {
        snprintf(msg, sizeof msg, "recycling %d pod(s) past maxQueries/maxLifetime (%s): replacements created",
                 drains[FM_POD_DRAIN_RECYCLE], drained_names);
        event(c, "Normal", "Recycle", msg);
    }
    if (drained) fm_info("pool %s/%s: deleted %d drained pod(s)", c->ns, c->name, drained);

    /* status */
    int current = d.current, desired = d.desired;
    json_object_set_new(c->status, "current", json_integer(current));
    json_object_set_new(c->status, "desired", json_integer(desired));
    json_object_set_new(c->status, "idle", json_integer(d.idle));
    json_object_set_new(c->status, "busy", json_integer(d.busy));
    json_object_set_new(c->status, "queueLength", json_integer(queue));
    fm_pool_gauges(e, current, desired, d.idle, d.busy, queue);
    fm_cond_set(c->conds, "CatalogReady", true, "CatalogReady", "the catalog is Ready", c->gen);
    const char *phase;
    if (ready >= ps->min_size && (ready > 0 || ps->min_size == 0)) {
        snprintf(msg, sizeof msg, "%d of %d pod(s) ready (minSize %d, maxSize %d)", ready, desired, ps->min_size,
                 ps->max_size);
        if (fm_cond_set(c->conds, "Ready", true, "PodsReady", msg, c->gen)) event(c, "Normal", "Ready", msg);
        phase = ready == desired && current == desired && !starting && !created ? "Ready" : "Scaling";
    } else {
        snprintf(msg, sizeof msg, "%d of %d pod(s) ready, minSize %d: waiting for pods to start", ready, desired,
                 ps->min_size);
        fm_cond_set(c->conds, "Ready", false, ready ? "Scaling" : "PodsStarting", msg, c->gen);
        phase = ready ? "Scaling" : "Pending";
    }
    pods_free(&pl);
    long next = starting || created || draining_left || failed || drained ? FAST_MS : ps->scale_interval_ms;
    return finish(c, phase, next);
}

long fm_reconcile_pool(fm_operator *op, const char *ns, const char *name) {
    char key[512];
    snprintf(key, sizeof key, "%s/%s", ns, name);
    json_t *obj = fm_op_get(op->pools, ns, name);
    if (!obj) {
        fm_pool_forget(key);
        return 0;
    }
    pool_ctx c = {.op = op, .obj = obj, .ns = ns, .name = name, .gen = fm_jint(obj, "metadata.generation", 0)};
    c.status = fm_status_copy(obj, &c.conds);
    long next = 0;
    fm_pool_spec ps;
    fm_catalog_spec cs;
    memset(&ps, 0, sizeof ps);
    memset(&cs, 0, sizeof cs);
    bool ps_ok = false, cs_ok = false;
    json_t *cat = NULL;
    char *token = NULL;
    fm_err err;
    fm_err_clear(&err);

    int pause_changed = 0;
    if (fm_reconcile_paused(obj, c.conds, c.gen, &pause_changed)) {
        if (pause_changed)
            event(&c, "Normal", "ReconciliationPaused", "reconciliation paused by annotation");
        json_object_set_new(c.status, "phase", json_string(fm_jstr(obj, "status.phase") ? fm_jstr(obj, "status.phase") : "Paused"));
        fm_op_write_status(op, &FM_RES_POOLS, obj, c.status);
        goto out;
    }
    if (fm_jget(obj, "metadata.deletionTimestamp")) goto out; /* the garbage collector removes the pods */

    if (fm_pool_spec_parse(obj, &ps, &err)) {
        next = not_ready(&c, "InvalidSpec", err.msg, "Failed", 0);
        goto out;
    }
    ps_ok = true;
    fm_pool_entry *e = fm_pool_entry_get(key, fm_jstr(obj, "metadata.uid"));
    cat = fm_op_get(op->catalogs, ns, ps.catalog_ref);
    char msg[1200];
    if (!cat) {
        snprintf(msg, sizeof msg, "DuckLakeCatalog %s not found in namespace %s", ps.catalog_ref, ns);
        fm_cond_set(c.conds, "CatalogReady", false, "CatalogNotFound", msg, c.gen);
        next = not_ready(&c, "CatalogNotReady", msg, "Pending", 0); /* the catalog's arrival enqueues us */
        goto out;
    }
    if (fm_catalog_spec_parse(cat, &cs, &err)) {
        snprintf(msg, sizeof msg, "DuckLakeCatalog %s is invalid: %s", ps.catalog_ref, err.msg);
        fm_cond_set(c.conds, "CatalogReady", false, "CatalogNotReady", msg, c.gen);
        next = not_ready(&c, "CatalogNotReady", msg, "Pending", 0);
        goto out;
    }
    cs_ok = true;
    if (!strcmp(cs.metadata_type, "duckdb")) {
        snprintf(msg, sizeof msg,
                 "DuckLakeCatalog %s keeps its metadata in a DuckDB file, which one process may open for writing or "
                 "many for reading, never both: pool pods would lock out every DDL, maintenance and backup Job. "
                 "Use metadata.type sqlite (one node) or postgres (many writers, many nodes) for a catalog with a pool",
                 ps.catalog_ref);
        fm_cond_set(c.conds, "CatalogReady", false, "UnsupportedMetadataBackend", msg, c.gen);
        next = not_ready(&c, "UnsupportedMetadataBackend", msg, "Failed", 0);
        goto out;
    }
    if (!fm_cond_true(json_object_get(json_object_get(cat, "status"), "conditions"), "Ready") ||
        fm_jget(cat, "metadata.deletionTimestamp")) {
        snprintf(msg, sizeof msg, "waiting for DuckLakeCatalog %s to be Ready", ps.catalog_ref);
        fm_cond_set(c.conds, "CatalogReady", false, "CatalogNotReady", msg, c.gen);
        next = not_ready(&c, "CatalogNotReady", msg, "Pending", 0);
        goto out;
    }
    if (ps.read_only && cs.has_object_store && cs.store.credentials.name && !cs.store.read_only_credentials.name)
        fm_cond_set(c.conds, "ReadOnlyCredentials", false, "CatalogCredentialsUsed",
                    "the catalog has no readOnlyCredentialsSecret: the pods attach READ_ONLY with its read-write "
                    "credentials",
                    c.gen);
    else if (ps.read_only)
        fm_cond_set(c.conds, "ReadOnlyCredentials", true, "ReadOnlyCredentialsUsed",
                    "the pods attach READ_ONLY with the catalog's readOnlyCredentialsSecret", c.gen);
    token = internal_token(&c, &err);
    if (!token) {
        snprintf(msg, sizeof msg, "Secret %s: %s", FM_INTERNAL_TOKEN_SECRET, err.msg);
        next = not_ready(&c, "InternalTokenMissing", msg, "Pending", RETRY_MS);
        goto out;
    }
    apply_pdb(&c, &ps, e);
    next = scale(&c, &ps, cat, &cs, e, token);
out:
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    if (ps_ok) fm_pool_spec_free(&ps);
    if (cs_ok) fm_catalog_spec_free(&cs);
    json_decref(cat);
    json_decref(c.status);
    json_decref(obj);
    return next;
}
