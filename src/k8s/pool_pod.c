/* A pool pod as the API shows it (pool_pod.h). */
#include "k8s/pool_pod.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "k8s/k8s_names.h"

static char *dup_str(json_t *v) { return json_is_string(v) ? fm_xstrdup(json_string_value(v)) : NULL; }

static int slots_from_args(json_t *spec) {
    json_t *cs = json_object_get(spec, "containers"), *c;
    size_t i;
    json_array_foreach(cs, i, c) {
        json_t *args = json_object_get(c, "args");
        size_t n = json_array_size(args);
        for (size_t j = 0; j < n; j++) {
            const char *a = json_string_value(json_array_get(args, j));
            if (!a) continue;
            const char *v = NULL;
            if (!strcmp(a, "--slots") && j + 1 < n) v = json_string_value(json_array_get(args, j + 1));
            else if (!strncmp(a, "--slots=", 8)) v = a + 8;
            if (v) {
                int k = atoi(v);
                return k >= 1 && k <= 1024 ? k : 1;
            }
        }
    }
    return 1;
}

int fm_pool_pod_parse(json_t *obj, fm_pool_pod *out) {
    memset(out, 0, sizeof *out);
    json_t *md = json_object_get(obj, "metadata"), *labels = json_object_get(md, "labels");
    json_t *st = json_object_get(obj, "status");
    out->name = dup_str(json_object_get(md, "name"));
    if (!out->name) return -1;
    out->pool = dup_str(json_object_get(labels, FM_LABEL_POOL));
    out->catalog = dup_str(json_object_get(labels, FM_LABEL_CATALOG));
    out->ip = dup_str(json_object_get(st, "podIP"));
    if (out->ip && !*out->ip) {
        free(out->ip);
        out->ip = NULL;
    }
    out->slots = slots_from_args(json_object_get(obj, "spec"));
    const char *dr = json_string_value(json_object_get(json_object_get(md, "annotations"), FM_ANNOT_DRAINING));
    out->draining = dr && !strcmp(dr, "true");
    json_t *dt = json_object_get(md, "deletionTimestamp");
    out->deleting = dt && !json_is_null(dt);
    const char *phase = json_string_value(json_object_get(st, "phase"));
    json_t *conds = json_object_get(st, "conditions"), *c;
    size_t i;
    json_array_foreach(conds, i, c) {
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *status = json_string_value(json_object_get(c, "status"));
        if (type && status && !strcmp(type, "Ready")) out->ready = !strcmp(status, "True");
    }
    if (phase && strcmp(phase, "Running")) out->ready = false;
    return 0;
}

void fm_pool_pod_free(fm_pool_pod *p) {
    free(p->name), free(p->ip), free(p->pool), free(p->catalog);
    memset(p, 0, sizeof *p);
}

bool fm_pool_pod_routable(const fm_pool_pod *p) { return p->ready && p->ip && !p->draining && !p->deleting; }
