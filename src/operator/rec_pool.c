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
#include <sys/random.h>

#include "base/clock.h"
#include "base/json_get.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "base/xalloc.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "k8s/pool_pod.h"
#include "k8s/pool_pods.h"
#include "model/spec.h"
#include "operator/pool_registry.h"
#include "operator/pool_scale.h"
#include "operator/pool_status.h"
#include "operator/reconcile.h"

#define RETRY_MS 30000
#define FAST_MS 1000
#define STATUS_TIMEOUT_MS 1500
#define DRAIN_SETTLE_MS 2000     /* the gateway's informer sees the draining annotation within this */
#define EXPECT_MAX_AGE_MS 60000  /* a created pod the informer never showed is forgotten after this */
#define QUEUE_FRESH_MS 15000

/* a pass over a pool whose catalog is usable */
typedef struct {
    fm_rec *r;
    const fm_pool_spec *ps;
    json_t *cat;           /* the DuckLakeCatalog as cached */
    fm_catalog_spec cs;    /* its spec, when cs_ok */
    bool cs_ok;
    fm_pool_entry *e;      /* the pool's registry entry */
    char *token;           /* the internal token, wiped and freed at the end */
} pool_ctx;

static const char *annotation(json_t *obj, const char *k) {
    return json_string_value(json_object_get(fm_jget(obj, "metadata.annotations"), k));
}

/* ---- the internal token ---- */

/* a new token Secret with 32 random bytes (hex); the token (malloc'd) or NULL with err.
 * When another replica or a person was faster, theirs. */
static char *create_token(pool_ctx *c, fm_err *err) {
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        fm_fail(err, FM_E_INTERNAL, "no randomness for the internal token");
        return NULL;
    }
    char hex[65];
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    memset(rnd, 0, sizeof rnd);
    json_t *s = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
                          "metadata", "name", FM_INTERNAL_TOKEN_SECRET, "namespace", c->r->ns, "labels", FM_LABEL_NAME,
                          "featherman", FM_LABEL_MANAGED_BY, FM_MANAGED_BY, "type", "Opaque", "stringData", "token",
                          hex);
    kube_status st = {0};
    int rc = kube_create_ex(c->r->op->kube, &KUBE_RES_SECRETS, c->r->ns, s, NULL, &st, err);
    json_decref(s);
    char *out = NULL;
    if (rc && st.http == 409) {
        fm_err_clear(err);
        out = fm_op_secret_value(c->r->op, c->r->ns, FM_INTERNAL_TOKEN_SECRET, "token", err);
    } else if (!rc) {
        fm_info("pool %s/%s: created Secret %s (the gateway's token for pool pods)", c->r->ns, c->r->name,
                FM_INTERNAL_TOKEN_SECRET);
        fm_rec_event(c->r, "Normal", "InternalTokenCreated",
                     "created Secret " FM_INTERNAL_TOKEN_SECRET " for gateway → pod calls");
        out = fm_xstrdup(hex);
    }
    memset(hex, 0, sizeof hex);
    return out;
}

/* the internal token (malloc'd): read, or created when the Secret is missing */
static char *internal_token(pool_ctx *c, fm_err *err) {
    fm_err e2;
    fm_err_clear(&e2);
    char *tok = fm_op_secret_value(c->r->op, c->r->ns, FM_INTERNAL_TOKEN_SECRET, "token", &e2);
    if (tok) return tok;
    if (e2.code != FM_E_NOT_FOUND || strstr(e2.msg, "has no key")) {
        *err = e2;
        return NULL;
    }
    return create_token(c, err);
}

static void apply_pdb(pool_ctx *c) {
    if (c->e->pdb_gen == c->r->gen) return;
    json_t *pdb = fm_pool_pdb_manifest(c->r->obj, c->ps), *out = NULL;
    fm_err err;
    int rc = kube_apply(c->r->op->kube, &KUBE_RES_PDBS, pdb, FM_FIELD_MANAGER, 1, &out, &err);
    json_decref(pdb);
    json_decref(out);
    if (rc) fm_warn("pool %s/%s: PodDisruptionBudget: %s", c->r->ns, c->r->name, err.msg);
    else c->e->pdb_gen = c->r->gen;
}

/* ---- pods ---- */

static bool owned_by(json_t *pod, const char *uid) {
    size_t i;
    json_t *ref;
    json_array_foreach(fm_jget(pod, "metadata.ownerReferences"), i, ref) {
        const char *u = json_string_value(json_object_get(ref, "uid"));
        if (json_is_true(json_object_get(ref, "controller")) && uid && u && !strcmp(u, uid)) return true;
    }
    return false;
}

static int delete_pod(pool_ctx *c, const char *pod, const char *uid, long grace) {
    kube_delete_opts o = {.grace_period_seconds = grace, .precondition_uid = uid};
    fm_err err;
    kube_status st = {0};
    int rc = kube_delete_ex(c->r->op->kube, &KUBE_RES_PODS, c->r->ns, pod, &o, NULL, &st, &err);
    if (rc && st.http != 404) {
        fm_warn("pool %s/%s: deleting pod %s: %s", c->r->ns, c->r->name, pod, err.msg);
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
    int rc = kube_patch(c->r->op->kube, &KUBE_RES_PODS, c->r->ns, pod, NULL, KUBE_PATCH_MERGE, patch,
                        FM_FIELD_MANAGER, 0, NULL, &err);
    json_decref(patch);
    if (rc) fm_warn("pool %s/%s: draining pod %s: %s", c->r->ns, c->r->name, pod, err.msg);
    return rc;
}

static fm_pool_pod_params pod_params(pool_ctx *c, const char *name) {
    return (fm_pool_pod_params){.name = name, .namespace_ = c->r->ns, .image = c->r->op->image, .pool_cr = c->r->obj,
                                .catalog_cr = c->cat, .pool = c->ps, .catalog = &c->cs, .slots = 1};
}

static int create_pod(pool_ctx *c, long long now) {
    char name[64];
    fm_pool_pod_name(name, sizeof name, c->r->name);
    fm_pool_pod_params p = pod_params(c, name);
    json_t *pod = fm_pool_pod_manifest(&p), *out = NULL;
    fm_err err;
    int rc = kube_create(c->r->op->kube, &KUBE_RES_PODS, c->r->ns, pod, &out, &err);
    json_decref(pod);
    json_decref(out);
    if (rc) {
        fm_warn("pool %s/%s: creating pod %s: %s", c->r->ns, c->r->name, name, err.msg);
        char msg[1200];
        snprintf(msg, sizeof msg, "cannot create a pool pod: %s", err.msg);
        fm_rec_event(c->r, "Warning", "PodCreateFailed", msg);
        return -1;
    }
    fm_pool_expect(c->e, name, now);
    return 0;
}

/* the spec hash a pod built now would carry (FM_ANNOT_SPEC_HASH); malloc'd */
static char *current_spec_hash(pool_ctx *c) {
    fm_pool_pod_params p = pod_params(c, "x");
    json_t *pod = fm_pool_pod_manifest(&p);
    const char *h = annotation(pod, FM_ANNOT_SPEC_HASH);
    char *out = h ? fm_xstrdup(h) : NULL;
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

/* the pods of one pass, with what was counted while looking at them */
typedef struct {
    fm_pod_state *st;
    char **names, **uids;
    size_t n, cap;
    int starting, draining_left, failed, drained;
    long outdated; /* index of a Ready pod built from an older spec, -1 none */
} pod_list;

static void pods_add(pod_list *l, const fm_pod_state *s, const char *name, const char *uid) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->st = fm_xreallocarray(l->st, l->cap, sizeof *l->st);
        l->names = fm_xreallocarray(l->names, l->cap, sizeof *l->names);
        l->uids = fm_xreallocarray(l->uids, l->cap, sizeof *l->uids);
    }
    l->names[l->n] = fm_xstrdup(name);
    l->uids[l->n] = uid ? fm_xstrdup(uid) : NULL;
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
    long long born = fm_rfc3339_ms(fm_jstr(pod, "metadata.creationTimestamp"));
    if (born <= 0 || now_ms - born < STUCK_MS) return NULL;
    json_array_foreach(fm_jget(pod, "status.containerStatuses"), i, cs) {
        const char *why = fm_jstr(cs, "state.waiting.reason");
        if (why && (!strcmp(why, "CreateContainerConfigError") || !strcmp(why, "ErrImagePull") ||
                    !strcmp(why, "ImagePullBackOff") || !strcmp(why, "CrashLoopBackOff") ||
                    !strcmp(why, "RunContainerError") || !strcmp(why, "InvalidImageName")))
            return why;
    }
    return NULL;
}

/* a pod that exited or cannot start: deleted (and replaced by the scaler) */
static void replace_failed(pool_ctx *c, pod_list *pl, json_t *pod, const fm_pool_pod *gp, long long now) {
    const char *phase = fm_jstr(pod, "status.phase");
    const char *why = fm_jstr(pod, "status.reason");
    if (!why) why = stuck(pod, now);
    bool exited = phase && !strcmp(phase, "Succeeded");
    char msg[600];
    snprintf(msg, sizeof msg, "pool pod %s %s%s%s: replacing it", gp->name, exited ? "exited" : "failed",
             why ? ": " : "", why ? why : "");
    fm_rec_event(c->r, "Warning", "PodFailed", msg);
    delete_pod(c, gp->name, fm_jstr(pod, "metadata.uid"), 0);
    pl->failed++;
}

/* a draining pod: deleted once idle (after a settle time) or once maxQueryDuration has passed */
static void drain_step(pool_ctx *c, pod_list *pl, json_t *pod, const fm_pool_pod *gp, long long now) {
    const char *since = annotation(pod, FM_ANNOT_DRAINING_SINCE);
    long long t0 = since ? atoll(since) : 0;
    long long age = t0 > 0 ? now - t0 : 0;
    fm_worker_status ws;
    fm_err err;
    bool reachable = gp->ip && fm_worker_status_fetch(gp->ip, FM_WORKER_PORT, c->token, STATUS_TIMEOUT_MS, &ws, &err) == 0;
    bool idle = reachable ? ws.busy == 0 : !gp->ready;
    if (!since) {
        mark_draining(c, gp->name, now); /* drained by someone else: start the clock */
        pl->draining_left++;
    } else if ((idle && age >= DRAIN_SETTLE_MS) || age >= c->ps->max_query_duration_ms + DRAIN_SETTLE_MS) {
        if (delete_pod(c, gp->name, fm_jstr(pod, "metadata.uid"), -1) == 0) pl->drained++;
    } else {
        pl->draining_left++;
    }
    fm_pod_state s = {.draining = true, .ready = false, .slots = gp->slots};
    pods_add(pl, &s, gp->name, fm_jstr(pod, "metadata.uid"));
}

/* a serving or starting pod: asked for its /status when Ready */
static void serving_pod(pool_ctx *c, pod_list *pl, json_t *pod, const fm_pool_pod *gp, const char *want_hash,
                        long long now) {
    fm_pod_state s = {.slots = gp->slots > 0 ? gp->slots : 1};
    if (gp->ready && gp->ip) {
        fm_worker_status ws;
        fm_err err;
        if (fm_worker_status_fetch(gp->ip, FM_WORKER_PORT, c->token, STATUS_TIMEOUT_MS, &ws, &err) == 0 && !ws.draining) {
            s.ready = true;
            s.slots = ws.slots;
            s.busy = ws.busy;
            s.queries = ws.queries;
            s.started_ms = ws.started_ms ? ws.started_ms : now;
            s.idle_since_ms = ws.idle_since_ms;
        } else {
            fm_debug("pool %s/%s: pod %s: %s", c->r->ns, c->r->name, gp->name, err.msg);
        }
    }
    if (!s.ready) pl->starting++;
    const char *h = annotation(pod, FM_ANNOT_SPEC_HASH);
    if (s.ready && pl->outdated < 0 && want_hash && h && strcmp(h, want_hash)) pl->outdated = (long)pl->n;
    pods_add(pl, &s, gp->name, fm_jstr(pod, "metadata.uid"));
}

/* every pod of this pool, looked at and counted */
static void observe_pods(pool_ctx *c, pod_list *pl, long long now) {
    const char *uid = fm_jstr(c->r->obj, "metadata.uid");
    char *want_hash = current_spec_hash(c);
    json_t *all = kube_informer_list(c->r->op->pods, c->r->ns);
    size_t i;
    json_t *pod;
    json_array_foreach(all, i, pod) {
        fm_pool_pod gp;
        if (fm_pool_pod_parse(pod, &gp)) continue;
        if (gp.pool && !strcmp(gp.pool, c->r->name) && owned_by(pod, uid)) {
            fm_pool_expect_seen(c->e, gp.name);
            const char *phase = fm_jstr(pod, "status.phase");
            if (gp.deleting) pl->draining_left++; /* terminating: finishing its query, counts for nothing */
            else if ((phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"))) || stuck(pod, now))
                replace_failed(c, pl, pod, &gp, now);
            else if (gp.draining) drain_step(c, pl, pod, &gp, now);
            else serving_pod(c, pl, pod, &gp, want_hash, now);
        }
        fm_pool_pod_free(&gp);
    }
    json_decref(all);
    free(want_hash);
    /* created but not shown by the informer yet: starting pods */
    fm_pool_expect_prune(c->e, now, EXPECT_MAX_AGE_MS);
    for (int k = 0; k < c->e->nexpect; k++) {
        fm_pod_state s = {.slots = 1};
        pods_add(pl, &s, c->e->expect[k].name, NULL);
        pl->starting++;
    }
}

/* roll a changed template (or catalog) out one pod at a time: drain one outdated pod only while
 * nothing else is starting or draining; the scaler replaces it */
static void roll_one(pool_ctx *c, pod_list *pl, long long now) {
    long k = pl->outdated;
    if (k < 0 || pl->starting || pl->draining_left || mark_draining(c, pl->names[k], now)) return;
    pl->st[k].draining = true;
    pl->st[k].ready = false;
    char msg[300];
    snprintf(msg, sizeof msg, "pod %s was built from an older spec: draining it for a new one", pl->names[k]);
    fm_rec_event(c->r, "Normal", "RollingUpdate", msg);
}

/* what the scaler decided, carried out */
typedef struct {
    fm_scale_decision d;
    int queue, created, ready;
    int drains[4]; /* by fm_pod_action */
    char drained_names[300];
} scale_result;

static void carry_out(pool_ctx *c, pod_list *pl, const fm_pod_action *act, scale_result *res, long long now) {
    for (size_t k = 0; k < pl->n; k++) {
        if (act[k] == FM_POD_KEEP || mark_draining(c, pl->names[k], now)) continue;
        res->drains[act[k]]++;
        pl->draining_left++;
        if (strlen(res->drained_names) + strlen(pl->names[k]) + 3 < sizeof res->drained_names) {
            if (*res->drained_names) strcat(res->drained_names, ", ");
            strcat(res->drained_names, pl->names[k]);
        }
    }
    for (int k = 0; k < res->d.create; k++)
        if (create_pod(c, now) == 0) res->created++;
    for (size_t k = 0; k < pl->n; k++) /* ready pods that keep serving after this pass */
        if (pl->st[k].ready && !pl->st[k].draining && act[k] == FM_POD_KEEP) res->ready++;
}

static void scale_events(pool_ctx *c, const pod_list *pl, const scale_result *res) {
    const fm_scale_decision *d = &res->d;
    char msg[600];
    if (res->created) {
        snprintf(msg, sizeof msg, "created %d pod(s): %d → %d (busy %d of %d ready, queue %d)", res->created,
                 d->current, d->current + res->created, d->busy, d->busy + d->idle, res->queue);
        /* ScaleUp is growth above minSize; filling the floor or replacing a pod is not */
        fm_rec_event(c->r, "Normal", !strcmp(d->reason, "ScaleUp") && d->current >= c->ps->min_size ? "ScaleUp" : "PodsCreated",
                     msg);
    }
    int down = res->drains[FM_POD_DRAIN_SCALE_DOWN], idle = res->drains[FM_POD_DRAIN_IDLE];
    if (down || idle) {
        snprintf(msg, sizeof msg, "draining %d pod(s) (%s): %d idle, %d busy; deleted once idle", down + idle,
                 idle && !down ? "idle longer than maxIdleTime" : "scale down", d->idle, d->busy);
        fm_rec_event(c->r, "Normal", "ScaleDown", msg);
    }
    if (res->drains[FM_POD_DRAIN_RECYCLE]) {
        snprintf(msg, sizeof msg, "recycling %d pod(s) past maxQueries/maxLifetime (%s): replacements created",
                 res->drains[FM_POD_DRAIN_RECYCLE], res->drained_names);
        fm_rec_event(c->r, "Normal", "Recycle", msg);
    }
    if (pl->drained) fm_info("pool %s/%s: deleted %d drained pod(s)", c->r->ns, c->r->name, pl->drained);
}

/* status, conditions and gauges after the pass; returns the phase */
static const char *scale_status(pool_ctx *c, const pod_list *pl, const scale_result *res) {
    const fm_scale_decision *d = &res->d;
    json_t *st = c->r->status;
    json_object_set_new(st, "current", json_integer(d->current));
    json_object_set_new(st, "desired", json_integer(d->desired));
    json_object_set_new(st, "idle", json_integer(d->idle));
    json_object_set_new(st, "busy", json_integer(d->busy));
    json_object_set_new(st, "queueLength", json_integer(res->queue));
    fm_pool_gauges(c->e, d->current, d->desired, d->idle, d->busy, res->queue);
    fm_cond_set(c->r->conds, "CatalogReady", true, "CatalogReady", "the catalog is Ready", c->r->gen);
    int ready = res->ready, min = c->ps->min_size;
    char msg[300];
    if (ready >= min && (ready > 0 || min == 0)) {
        snprintf(msg, sizeof msg, "%d of %d pod(s) ready (minSize %d, maxSize %d)", ready, d->desired, min,
                 c->ps->max_size);
        if (fm_cond_set(c->r->conds, "Ready", true, "PodsReady", msg, c->r->gen)) fm_rec_event(c->r, "Normal", "Ready", msg);
        return ready == d->desired && d->current == d->desired && !pl->starting && !res->created ? "Ready" : "Scaling";
    }
    snprintf(msg, sizeof msg, "%d of %d pod(s) ready, minSize %d: waiting for pods to start", ready, d->desired, min);
    fm_cond_set(c->r->conds, "Ready", false, ready ? "Scaling" : "PodsStarting", msg, c->r->gen);
    return ready ? "Scaling" : "Pending";
}

static long scale(pool_ctx *c) {
    long long now = fm_wall_ms();
    pod_list pl = {.outdated = -1};
    observe_pods(c, &pl, now);
    roll_one(c, &pl, now);
    fm_scale_policy pol;
    policy_of(c->ps, &pol);
    scale_result res = {.queue = queue_length(c->r->obj, now)};
    fm_pod_action *act = fm_xcalloc(pl.n ? pl.n : 1, sizeof *act);
    res.d = fm_scale_decide(&pol, pl.st, pl.n, res.queue, now, &c->e->hist, act);
    carry_out(c, &pl, act, &res, now);
    free(act);
    scale_events(c, &pl, &res);
    const char *phase = scale_status(c, &pl, &res);
    bool busy = pl.starting || res.created || pl.draining_left || pl.failed || pl.drained;
    pods_free(&pl);
    return fm_rec_finish(c->r, phase, busy ? FAST_MS : c->ps->scale_interval_ms);
}

/* ---- the pool ---- */

/* the catalog exists, parses, is not duckdb-metadata and is Ready: 0; else a not-ready status
 * was written and *next is the pass's result */
static int check_catalog(pool_ctx *c, long *next) {
    fm_rec *r = c->r;
    const char *ref = c->ps->catalog_ref;
    char msg[1200];
    fm_err err;
    const char *cond_reason = "CatalogNotReady", *reason = "CatalogNotReady", *phase = "Pending";
    c->cat = fm_op_get(r->op->catalogs, r->ns, ref);
    if (!c->cat) {
        snprintf(msg, sizeof msg, "DuckLakeCatalog %s not found in namespace %s", ref, r->ns);
        cond_reason = "CatalogNotFound"; /* the catalog's arrival enqueues the pool */
    } else if (!(c->cs_ok = fm_catalog_spec_parse(c->cat, &c->cs, &err) == 0)) {
        snprintf(msg, sizeof msg, "DuckLakeCatalog %s is invalid: %s", ref, err.msg);
    } else if (!strcmp(c->cs.metadata_type, "duckdb")) {
        snprintf(msg, sizeof msg,
                 "DuckLakeCatalog %s keeps its metadata in a DuckDB file, which one process may open for writing or "
                 "many for reading, never both: pool pods would lock out every DDL, maintenance and backup Job. "
                 "Use metadata.type sqlite (one node) or postgres (many writers, many nodes) for a catalog with a pool",
                 ref);
        cond_reason = reason = "UnsupportedMetadataBackend";
        phase = "Failed";
    } else if (!fm_cond_true(fm_jget(c->cat, "status.conditions"), "Ready") ||
               fm_jget(c->cat, "metadata.deletionTimestamp")) {
        snprintf(msg, sizeof msg, "waiting for DuckLakeCatalog %s to be Ready", ref);
    } else {
        return 0;
    }
    fm_cond_set(r->conds, "CatalogReady", false, cond_reason, msg, r->gen);
    *next = fm_rec_not_ready(r, NULL, reason, msg, phase, 0);
    return -1;
}

static void read_only_condition(pool_ctx *c) {
    if (!c->ps->read_only) return;
    const fm_catalog_spec *cs = &c->cs;
    if (cs->has_object_store && cs->store.credentials.name && !cs->store.read_only_credentials.name)
        fm_cond_set(c->r->conds, "ReadOnlyCredentials", false, "CatalogCredentialsUsed",
                    "the catalog has no readOnlyCredentialsSecret: the pods attach READ_ONLY with its read-write "
                    "credentials",
                    c->r->gen);
    else
        fm_cond_set(c->r->conds, "ReadOnlyCredentials", true, "ReadOnlyCredentialsUsed",
                    "the pods attach READ_ONLY with the catalog's readOnlyCredentialsSecret", c->r->gen);
}

static long reconcile_pool(pool_ctx *c) {
    long next = 0;
    if (check_catalog(c, &next)) return next;
    read_only_condition(c);
    fm_err err;
    fm_err_clear(&err);
    c->token = internal_token(c, &err);
    if (!c->token) {
        char msg[1200];
        snprintf(msg, sizeof msg, "Secret %s: %s", FM_INTERNAL_TOKEN_SECRET, err.msg);
        return fm_rec_not_ready(c->r, NULL, "InternalTokenMissing", msg, "Pending", RETRY_MS);
    }
    apply_pdb(c);
    return scale(c);
}

static void registry_key(char *key, size_t n, const char *ns, const char *name) { snprintf(key, n, "%s/%s", ns, name); }

static long reconcile(fm_rec *r) {
    char key[512];
    registry_key(key, sizeof key, r->ns, r->name);
    pool_ctx c = {.r = r, .ps = r->spec, .e = fm_pool_entry_get(key, fm_jstr(r->obj, "metadata.uid"))};
    long next = reconcile_pool(&c);
    if (c.token) {
        memset(c.token, 0, strlen(c.token));
        free(c.token);
    }
    if (c.cs_ok) fm_catalog_spec_free(&c.cs);
    json_decref(c.cat);
    return next;
}

/* the pool is gone: its Pods and PDB go with their ownerReferences, its state here with it */
static long gone(fm_operator *op, const char *ns, const char *name) {
    (void)op;
    char key[512];
    registry_key(key, sizeof key, ns, name);
    fm_pool_forget(key);
    return 0;
}

static kube_informer *cache(fm_operator *op) { return op->pools; }
static int parse(json_t *obj, void *spec, fm_err *err) { return fm_pool_spec_parse(obj, spec, err); }
static void free_spec(void *spec) { fm_pool_spec_free(spec); }

/* no finalizer and nothing to finalize: the garbage collector removes the pods */
static const fm_rec_kind KIND = {.res = &FM_RES_POOLS, .cache = cache, .stamp_generation = true,
                                 .spec_size = sizeof(fm_pool_spec), .parse = parse, .free_spec = free_spec,
                                 .gone = gone, .reconcile = reconcile};

long fm_reconcile_pool(fm_operator *op, const char *ns, const char *name) { return fm_rec_run(op, &KIND, ns, name); }
