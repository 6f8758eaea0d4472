/* Status conditions (contract in k8s_status.h). */
#include "k8s/k8s_status.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/json_get.h"

void fm_k8s_now(char out[32]) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *fm_cond_get(json_t *conds, const char *type) { return fm_jfind(conds, "type", type); }

bool fm_cond_true(json_t *conds, const char *type) {
    json_t *c = fm_cond_get(conds, type);
    const char *s = c ? json_string_value(json_object_get(c, "status")) : NULL;
    return s && !strcmp(s, "True");
}

static int set(json_t *conds, const char *type, const char *status, const char *reason, const char *message,
               long long generation) {
    json_t *c = fm_cond_get(conds, type);
    /* the API server refuses an empty message/reason in some versions: keep both non-empty */
    if (!message || !*message) message = reason;
    if (c) {
        const char *os = json_string_value(json_object_get(c, "status"));
        const char *orr = json_string_value(json_object_get(c, "reason"));
        const char *om = json_string_value(json_object_get(c, "message"));
        long long og = json_integer_value(json_object_get(c, "observedGeneration"));
        bool same_status = os && !strcmp(os, status);
        if (same_status && orr && !strcmp(orr, reason) && om && !strcmp(om, message) && og == generation) return 0;
        if (!same_status) {
            char now[32];
            fm_k8s_now(now);
            json_object_set_new(c, "lastTransitionTime", json_string(now));
        }
        json_object_set_new(c, "status", json_string(status));
        json_object_set_new(c, "reason", json_string(reason));
        json_object_set_new(c, "message", json_string(message));
        json_object_set_new(c, "observedGeneration", json_integer(generation));
        return 1;
    }
    char now[32];
    fm_k8s_now(now);
    json_array_append_new(conds, json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "type", type, "status", status, "reason",
                                           reason, "message", message, "observedGeneration", (json_int_t)generation,
                                           "lastTransitionTime", now));
    return 1;
}

int fm_cond_set(json_t *conds, const char *type, bool status, const char *reason, const char *message,
                long long generation) {
    return set(conds, type, status ? "True" : "False", reason, message, generation);
}

int fm_cond_set_unknown(json_t *conds, const char *type, const char *reason, const char *message,
                        long long generation) {
    return set(conds, type, "Unknown", reason, message, generation);
}

bool fm_has_finalizer(const json_t *obj, const char *name) {
    size_t i;
    json_t *f;
    json_array_foreach(fm_jget(obj, "metadata.finalizers"), i, f) {
        if (json_is_string(f) && !strcmp(json_string_value(f), name)) return true;
    }
    return false;
}

json_t *fm_status_copy(const json_t *obj, json_t **conds) {
    json_t *st = json_deep_copy(json_object_get(obj, "status"));
    if (!json_is_object(st)) {
        json_decref(st);
        st = json_object();
    }
    *conds = json_object_get(st, "conditions");
    if (!json_is_array(*conds)) {
        *conds = json_array();
        json_object_set_new(st, "conditions", *conds);
    }
    return st;
}

int fm_reconcile_paused(const json_t *obj, json_t *conds, long long generation, int *changed) {
    const char *v = json_string_value(json_object_get(fm_jget(obj, "metadata.annotations"), "featherman.dev/reconcile"));
    *changed = 0;
    if (v && !strcmp(v, "paused")) {
        *changed = fm_cond_set(conds, "ReconciliationPaused", true, "Paused",
                               "annotation featherman.dev/reconcile: paused — nothing is changed until it is removed",
                               generation);
        return 1;
    }
    if (fm_cond_get(conds, "ReconciliationPaused"))
        fm_cond_set(conds, "ReconciliationPaused", false, "Resumed", "reconciliation resumed", generation);
    return 0;
}
