/* DuckLakePool: sizing, lifecycle and scaling knobs of the warm query pods. Durations are Go
 * style strings ("300s"); the pod template is passed through as JSON for the
 * pod builder, checked only for shape here (its parts are Kubernetes' own types). Defaults:
 * maxIdleTime 300s, maxLifetime 0 (no limit), maxQueries 0 (no limit). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/spec.h"
#include "model/spec_util.h"

static int check_template(json_t *spec, fm_pool_spec *p, fm_err *err) {
    static const char *const known[] = {"resources", "nodeSelector", "tolerations", "env", NULL};
    static const char *const rk[] = {"requests", "limits", NULL};
    json_t *t, *r, *v;
    if (fm_sp_obj(spec, "spec", "template", false, &t, err)) return -1;
    if (!t) return 0;
    if (fm_sp_known(t, "spec.template", known, err)) return -1;
    if (fm_sp_obj(t, "spec.template", "resources", false, &r, err)) return -1;
    if (r && fm_sp_known(r, "spec.template.resources", rk, err)) return -1;
    for (int i = 0; r && rk[i]; i++) {
        json_t *m;
        char path[64];
        snprintf(path, sizeof path, "spec.template.resources.%s", rk[i]);
        if (fm_sp_obj(r, "spec.template.resources", rk[i], false, &m, err)) return -1;
        const char *k;
        json_object_foreach(m, k, v) {
            if (!json_is_string(v) && !json_is_integer(v) && !json_is_real(v))
                return fm_fail(err, FM_E_INVALID, "%s.%s: must be a quantity such as \"2Gi\" or \"500m\"", path, k);
        }
    }
    json_t *ns;
    if (fm_sp_obj(t, "spec.template", "nodeSelector", false, &ns, err)) return -1;
    const char *k;
    json_object_foreach(ns, k, v) {
        if (!json_is_string(v))
            return fm_fail(err, FM_E_INVALID, "spec.template.nodeSelector.%s: must be a string", k);
    }
    static const char *const lists[] = {"tolerations", "env", NULL};
    for (int i = 0; lists[i]; i++) {
        json_t *l = json_object_get(t, lists[i]);
        if (l && !json_is_null(l) && !json_is_array(l))
            return fm_fail(err, FM_E_INVALID, "spec.template.%s: must be a list", lists[i]);
        size_t j;
        json_array_foreach(l, j, v) {
            if (!json_is_object(v))
                return fm_fail(err, FM_E_INVALID, "spec.template.%s[%zu]: must be an object", lists[i], j);
        }
    }
    p->template_ = json_incref(t);
    return 0;
}

static int pool_body(json_t *spec, fm_pool_spec *p, fm_err *err) {
    static const char *const known[] = {"minSize", "maxSize", "targetUtilization", "template", "maxIdleTime",
                                        "maxLifetime", "maxQueries", "scaleUpRate", "scaleDownRate", "scaleInterval",
                                        "stabilizationWindow", "catalogRef", "queue", "maxQueryDuration", NULL};
    const char *S = "spec";
    if (fm_sp_known(spec, S, known, err)) return -1;
    json_t *ref, *q;
    if (fm_sp_obj(spec, S, "catalogRef", true, &ref, err)) return -1;
    static const char *const rk[] = {"name", "readOnly", NULL};
    if (fm_sp_known(ref, "spec.catalogRef", rk, err) ||
        fm_sp_str(ref, "spec.catalogRef", "name", true, NULL, 253, &p->catalog_ref, err) ||
        fm_sp_bool(ref, "spec.catalogRef", "readOnly", false, &p->read_only, err))
        return -1;
    if (!fm_sp_dns1123_subdomain(p->catalog_ref))
        return fm_fail(err, FM_E_INVALID, "spec.catalogRef.name: \"%s\" is not a DuckLakeCatalog name", p->catalog_ref);
    long v;
    if (fm_sp_int(spec, S, "minSize", 1, 0, 1000, &v, err)) return -1;
    p->min_size = (int)v;
    if (fm_sp_int(spec, S, "maxSize", 3, 1, 1000, &v, err)) return -1;
    p->max_size = (int)v;
    if (p->min_size > p->max_size)
        return fm_fail(err, FM_E_INVALID, "spec.minSize: %d is greater than spec.maxSize %d", p->min_size, p->max_size);
    if (fm_sp_num(spec, S, "targetUtilization", 0.8, &p->target_utilization, err)) return -1;
    if (!(p->target_utilization > 0 && p->target_utilization <= 1))
        return fm_fail(err, FM_E_INVALID, "spec.targetUtilization: %g is out of range (0, 1]", p->target_utilization);
    if (check_template(spec, p, err)) return -1;
    if (fm_sp_duration(spec, S, "maxIdleTime", 300000, 0, &p->max_idle_ms, err) ||
        fm_sp_duration(spec, S, "maxLifetime", 0, 0, &p->max_lifetime_ms, err) ||
        fm_sp_int(spec, S, "maxQueries", 0, 0, 1000000000L, &p->max_queries, err))
        return -1;
    if (fm_sp_int(spec, S, "scaleUpRate", 2, 1, 1000, &v, err)) return -1;
    p->scale_up_rate = (int)v;
    if (fm_sp_int(spec, S, "scaleDownRate", 1, 1, 1000, &v, err)) return -1;
    p->scale_down_rate = (int)v;
    if (fm_sp_duration(spec, S, "scaleInterval", 30000, 1000, &p->scale_interval_ms, err) ||
        fm_sp_duration(spec, S, "stabilizationWindow", 300000, 0, &p->stabilization_window_ms, err) ||
        fm_sp_duration(spec, S, "maxQueryDuration", 60000, 1, &p->max_query_duration_ms, err))
        return -1;
    if (fm_sp_obj(spec, S, "queue", false, &q, err)) return -1;
    static const char *const qk[] = {"maxLength", "maxWaitTime", NULL};
    if (q && fm_sp_known(q, "spec.queue", qk, err)) return -1;
    if (fm_sp_int(q, "spec.queue", "maxLength", 100, 0, 1000000, &v, err)) return -1;
    p->queue_max_length = (int)v;
    return fm_sp_duration(q, "spec.queue", "maxWaitTime", 30000, 0, &p->queue_max_wait_ms, err);
}

int fm_pool_spec_parse(json_t *doc, fm_pool_spec *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    json_t *spec;
    if (fm_sp_header(doc, "DuckLakePool", &out->name, &out->namespace_, &out->paused, &spec, err) ||
        pool_body(spec, out, err)) {
        fm_pool_spec_free(out);
        return -1;
    }
    return 0;
}

void fm_pool_spec_free(fm_pool_spec *p) {
    if (!p) return;
    free(p->name), free(p->namespace_), free(p->catalog_ref);
    json_decref(p->template_);
    memset(p, 0, sizeof *p);
}
