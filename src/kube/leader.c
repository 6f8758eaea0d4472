#include "kube/leader.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/xalloc.h"

static json_t *spec_of(const json_t *lease) { return json_object_get(lease, "spec"); }

kube_leader_action kube_leader_decide(const json_t *lease, const char *identity, double now, double observed_at) {
    if (!lease) return KUBE_LEADER_ACQUIRE;
    json_t *spec = spec_of(lease);
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    if (holder && !strcmp(holder, identity)) return KUBE_LEADER_RENEW;
    if (!holder || !*holder) return KUBE_LEADER_ACQUIRE;
    json_int_t dur = json_integer_value(json_object_get(spec, "leaseDurationSeconds"));
    if (dur <= 0) dur = 15;
    /* our own clock since we first saw this record, not the holder's renewTime: immune to skew */
    return observed_at + (double)dur <= now ? KUBE_LEADER_ACQUIRE : KUBE_LEADER_WAIT;
}

void kube_micro_time(double t, char out[32]) {
    time_t s = (time_t)floor(t);
    long us = (long)((t - (double)s) * 1e6);
    if (us > 999999) us = 999999;
    if (us < 0) us = 0;
    struct tm tm;
    gmtime_r(&s, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%06ldZ", base, us);
}

double kube_parse_time(const char *s) {
    if (!s) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    double frac = 0;
    if (*p == '.') {
        double scale = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) frac += (*p - '0') * scale;
    }
    if (*p != 'Z' || p[1]) return -1; /* the API server always writes UTC */
    return (double)timegm(&tm) + frac;
}

json_t *kube_leader_record(const json_t *lease, kube_leader_action act, const char *ns, const char *name,
                           const char *identity, double now, int lease_duration_s) {
    json_t *obj;
    if (lease) {
        obj = json_deep_copy(lease);
    } else {
        obj = json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "coordination.k8s.io/v1", "kind", "Lease", "metadata",
                        "namespace", ns, "name", name);
    }
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    const char *holder = json_string_value(json_object_get(spec, "holderIdentity"));
    json_int_t transitions = json_integer_value(json_object_get(spec, "leaseTransitions"));
    char ts[32];
    kube_micro_time(now, ts);
    if (act == KUBE_LEADER_ACQUIRE) {
        /* a transition is a change of holder; taking over a released lease counts too */
        if (lease && !(holder && !strcmp(holder, identity))) transitions++;
        json_object_set_new(spec, "acquireTime", json_string(ts));
    }
    json_object_set_new(spec, "holderIdentity", json_string(identity));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(lease_duration_s));
    json_object_set_new(spec, "renewTime", json_string(ts));
    json_object_set_new(spec, "leaseTransitions", json_integer(transitions));
    return obj;
}

json_t *kube_leader_release_record(const json_t *lease, double now) {
    json_t *obj = json_deep_copy(lease);
    json_t *spec = json_object_get(obj, "spec");
    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    char ts[32];
    kube_micro_time(now, ts);
    json_object_set_new(spec, "holderIdentity", json_string(""));
    json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
    json_object_set_new(spec, "renewTime", json_string(ts));
    json_object_set_new(spec, "acquireTime", json_string(ts));
    return obj;
}

/* --- the election loop --- */

struct kube_leader {
    kube_client *c;
    kube_leader_config cfg;
    char *ns, *name, *identity;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, leading, lost;
    json_t *held;      /* the Lease as we last wrote it, while leading */
    char *observed_rv; /* the record we are timing */
    double observed_at;
    uint64_t rng;
};

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int nap(kube_leader *l, double s) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(s * 1e9);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_mutex_lock(&l->mu);
    while (!l->stopping)
        if (pthread_cond_timedwait(&l->cv, &l->mu, &ts) == ETIMEDOUT) break;
    int st = l->stopping;
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* 1 acquired/renewed, 0 someone else holds it, -1 error */
static int try_acquire_or_renew(kube_leader *l, int *other_holder) {
    fm_err err;
    kube_status st;
    json_t *cur = NULL;
    *other_holder = 0;
    if (kube_get_ex(l->c, &KUBE_RES_LEASES, l->ns, l->name, &cur, &st, &err)) {
        if (st.http != 404) {
            fm_warn("leader election %s/%s: %s", l->ns, l->name, err.msg);
            return -1;
        }
        cur = NULL;
    }
    const char *rv = cur ? json_string_value(json_object_get(json_object_get(cur, "metadata"), "resourceVersion")) : NULL;
    double now_m = mono();
    if (!rv || !l->observed_rv || strcmp(rv, l->observed_rv)) {
        free(l->observed_rv);
        l->observed_rv = rv ? fm_xstrdup(rv) : NULL;
        l->observed_at = now_m;
    }
    kube_leader_action act = kube_leader_decide(cur, l->identity, now_m, l->observed_at);
    if (act == KUBE_LEADER_WAIT) {
        *other_holder = 1;
        json_decref(cur);
        return 0;
    }
    json_t *rec = kube_leader_record(cur, act, l->ns, l->name, l->identity, wall(), l->cfg.lease_duration_s);
    json_t *out = NULL;
    int rc = cur ? kube_update_ex(l->c, &KUBE_RES_LEASES, l->ns, NULL, rec, &out, &st, &err)
                 : kube_create_ex(l->c, &KUBE_RES_LEASES, l->ns, rec, &out, &st, &err);
    json_decref(rec);
    json_decref(cur);
    if (rc) {
        /* 409: another candidate wrote first; we lost this round, not an error */
        if (st.http != 409) fm_warn("leader election %s/%s: %s", l->ns, l->name, err.msg);
        return st.http == 409 ? 0 : -1;
    }
    const char *nrv = json_string_value(json_object_get(json_object_get(out, "metadata"), "resourceVersion"));
    free(l->observed_rv);
    l->observed_rv = nrv ? fm_xstrdup(nrv) : NULL;
    l->observed_at = now_m;
    pthread_mutex_lock(&l->mu);
    json_decref(l->held);
    l->held = out;
    pthread_mutex_unlock(&l->mu);
    return 1;
}

static double jittered(kube_leader *l, double base, double factor) {
    l->rng ^= l->rng >> 12;
    l->rng ^= l->rng << 25;
    l->rng ^= l->rng >> 27;
    double r = (double)((l->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
    return base * (1.0 + r * factor);
}

static void set_leading(kube_leader *l, int leading, int lost) {
    pthread_mutex_lock(&l->mu);
    l->leading = leading;
    if (lost) l->lost = 1;
    pthread_mutex_unlock(&l->mu);
}

static void *leader_main(void *arg) {
    kube_leader *l = arg;
    int other;
    /* candidate: retry with jitter so replicas do not poll in step (client-go's factor 1.2) */
    for (;;) {
        if (try_acquire_or_renew(l, &other) == 1) break;
        if (nap(l, jittered(l, l->cfg.retry_period_s, 1.2))) return NULL;
    }
    fm_info("leader election %s/%s: %s is the leader", l->ns, l->name, l->identity);
    set_leading(l, 1, 0);
    if (l->cfg.on_started) l->cfg.on_started(l->cfg.ud);
    double last_renew = mono();
    while (!nap(l, l->cfg.retry_period_s)) {
        int rc = try_acquire_or_renew(l, &other);
        if (rc == 1) {
            last_renew = mono();
            continue;
        }
        if (other || mono() - last_renew > l->cfg.renew_deadline_s) {
            fm_warn("leader election %s/%s: %s lost the lease (%s)", l->ns, l->name, l->identity,
                    other ? "another holder" : "renew deadline passed");
            set_leading(l, 0, 1);
            pthread_mutex_lock(&l->mu);
            json_decref(l->held);
            l->held = NULL;
            pthread_mutex_unlock(&l->mu);
            if (l->cfg.on_stopped) l->cfg.on_stopped(l->cfg.ud);
            return NULL;
        }
    }
    return NULL;
}

kube_leader *kube_leader_start(kube_client *c, const kube_leader_config *cfg, fm_err *err) {
    if (!cfg->ns || !*cfg->ns || !cfg->name || !*cfg->name || !cfg->identity || !*cfg->identity) {
        fm_fail(err, FM_E_INVALID, "leader election: namespace, name and identity are required");
        return NULL;
    }
    kube_leader *l = fm_xcalloc(1, sizeof *l);
    l->c = c;
    l->cfg = *cfg;
    if (l->cfg.lease_duration_s <= 0) l->cfg.lease_duration_s = 15;
    if (l->cfg.renew_deadline_s <= 0) l->cfg.renew_deadline_s = 10;
    if (l->cfg.retry_period_s <= 0) l->cfg.retry_period_s = 2;
    if (l->cfg.renew_deadline_s >= l->cfg.lease_duration_s) {
        fm_fail(err, FM_E_INVALID, "leader election: the renew deadline must be shorter than the lease duration");
        free(l);
        return NULL;
    }
    l->ns = fm_xstrdup(cfg->ns);
    l->name = fm_xstrdup(cfg->name);
    l->identity = fm_xstrdup(cfg->identity);
    l->rng = (uint64_t)(wall() * 1e6) ^ (uint64_t)(uintptr_t)l;
    if (!l->rng) l->rng = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&l->thread, NULL, leader_main, l)) {
        fm_fail(err, FM_E_INTERNAL, "leader election: cannot start a thread");
        kube_leader_stop(l);
        return NULL;
    }
    l->started = 1;
    return l;
}

int kube_leader_is_leader(kube_leader *l) {
    pthread_mutex_lock(&l->mu);
    int v = l->leading;
    pthread_mutex_unlock(&l->mu);
    return v;
}

int kube_leader_lost(kube_leader *l) {
    pthread_mutex_lock(&l->mu);
    int v = l->lost;
    pthread_mutex_unlock(&l->mu);
    return v;
}

void kube_leader_stop(kube_leader *l) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    l->stopping = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->started) pthread_join(l->thread, NULL);
    if (l->leading && l->held) {
        /* hand over now rather than make the successor wait out the lease */
        json_t *rel = kube_leader_release_record(l->held, wall());
        fm_err err;
        if (kube_update(l->c, &KUBE_RES_LEASES, l->ns, rel, NULL, &err))
            fm_warn("leader election %s/%s: release failed: %s", l->ns, l->name, err.msg);
        else
            fm_info("leader election %s/%s: %s released the lease", l->ns, l->name, l->identity);
        json_decref(rel);
        l->leading = 0;
        if (l->cfg.on_stopped) l->cfg.on_stopped(l->cfg.ud);
    }
    json_decref(l->held);
    free(l->observed_rv);
    free(l->ns);
    free(l->name);
    free(l->identity);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
