/* Pool Pod and PodDisruptionBudget manifests (contract in pool_pods.h). */
#include "k8s/pool_pods.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/json_get.h"
#include "k8s/k8s_jobs.h"
#include "k8s/k8s_names.h"
#include "model/spec_util.h"

void fm_pool_pod_name(char *out, size_t n, const char *pool) {
    static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789"; /* Kubernetes' generateName alphabet */
    unsigned char rnd[5];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static unsigned counter;
        for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(rand() ^ (int)(counter++ * 31u));
    }
    char suffix[7] = "-";
    for (int i = 0; i < 5; i++) suffix[1 + i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
    suffix[6] = 0;
    size_t room = (n - 1 < 63 ? n - 1 : 63) - 6, bl = strlen(pool);
    if (bl > room) bl = room;
    while (bl > 0 && (pool[bl - 1] == '-' || pool[bl - 1] == '.')) bl--;
    snprintf(out, n, "%.*s%s", (int)bl, pool, suffix);
}

double fm_pool_cpu_quantity(const char *s) {
    if (!s || !*s) return -1;
    size_t l = strlen(s);
    if (s[l - 1] == 'm') {
        char buf[64];
        if (l >= sizeof buf) return -1;
        memcpy(buf, s, l - 1);
        buf[l - 1] = 0;
        double v = fm_sp_quantity(buf);
        return v < 0 ? -1 : v / 1000.0;
    }
    return fm_sp_quantity(s);
}

static double quantity_of(json_t *v, bool cpu) {
    if (json_is_integer(v)) return (double)json_integer_value(v);
    if (json_is_real(v)) return json_real_value(v);
    if (!json_is_string(v)) return -1;
    return cpu ? fm_pool_cpu_quantity(json_string_value(v)) : fm_sp_quantity(json_string_value(v));
}

int fm_pool_memory_limit(json_t *resources, char *out, size_t n) {
    double b = quantity_of(json_object_get(json_object_get(resources, "limits"), "memory"), false);
    if (b <= 0) return -1;
    long long mib = (long long)(b * 0.8 / 1048576.0);
    if (mib < 64) mib = 64; /* below this DuckDB cannot do much; the limit is the kernel's problem then */
    snprintf(out, n, "%lldMiB", mib);
    return 0;
}

int fm_pool_threads(json_t *resources) {
    double c = quantity_of(json_object_get(json_object_get(resources, "limits"), "cpu"), true);
    if (c <= 0) return 0;
    double t = ceil(c - 1e-9);
    return t < 1 ? 1 : t > 1024 ? 1024 : (int)t;
}

static json_t *pool_labels(const char *pool, const char *catalog) {
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", FM_LABEL_NAME, "featherman", FM_LABEL_COMPONENT, FM_COMPONENT_POOL,
                     FM_LABEL_MANAGED_BY, FM_MANAGED_BY, FM_LABEL_POOL, pool, FM_LABEL_CATALOG, catalog);
}

static json_t *pod_env(const fm_pool_pod_params *p) {
    const fm_catalog_spec *c = p->catalog;
    json_t *env = json_array();
    /* the address `--listen $(POD_IP):port` names: a kubelet sets no POD_IP of its own */
    json_array_append_new(env, json_pack("{s:s, s:{s:{s:s}}}", "name", "POD_IP", "valueFrom", "fieldRef", "fieldPath",
                                         "status.podIP"));
    fm_k8s_catalog_env(env, p->catalog_cr);
    json_array_append_new(env, fm_k8s_secret_env("FEATHERMAN_TOKEN", FM_INTERNAL_TOKEN_SECRET, "token"));
    const fm_secret_ref *s = &c->store.credentials;
    if (p->pool->read_only && c->store.read_only_credentials.name) s = &c->store.read_only_credentials;
    fm_k8s_credentials_env(env, c, s);
    /* the template's env after ours; ours cannot be overridden (the token, the credentials) */
    json_t *user = json_object_get(p->pool->template_, "env"), *e;
    size_t i;
    json_array_foreach(user, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && !fm_jfind(env, "name", n)) json_array_append(env, e);
    }
    return env;
}

json_t *fm_pool_pod_manifest(const fm_pool_pod_params *p) {
    const fm_pool_spec *ps = p->pool;
    const fm_catalog_spec *c = p->catalog;
    json_t *tmpl = ps->template_;
    json_t *resources = json_object_get(tmpl, "resources");

    char slots[16], listen[32];
    snprintf(slots, sizeof slots, "%d", p->slots > 0 ? p->slots : 1);
    /* the Pod's own address, where the kubelet's probe, the gateway and the operator connect;
     * the default (127.0.0.1 without POD_IP) is reachable from inside the Pod only */
    snprintf(listen, sizeof listen, "$(POD_IP):%d", FM_WORKER_PORT);
    json_t *args = json_pack("[s, s, s, s, s, s]", "worker", "serve", "--slots", slots, "--listen", listen);
    if (ps->read_only) json_array_append_new(args, json_string("--read-only"));
    char mem[32];
    if (fm_pool_memory_limit(resources, mem, sizeof mem) == 0) {
        json_array_append_new(args, json_string("--memory-limit"));
        json_array_append_new(args, json_string(mem));
    }
    int threads = fm_pool_threads(resources);
    if (threads > 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        json_array_append_new(args, json_string("--threads"));
        json_array_append_new(args, json_string(t));
    }

    json_t *res = json_is_object(resources) && json_object_size(resources)
                      ? json_deep_copy(resources)
                      : json_pack("{s:{s:s, s:s}}", "requests", "cpu", "100m", "memory", "256Mi");

    bool file_backed = strcmp(c->metadata_type, "postgres") != 0;
    char pvc[300];
    snprintf(pvc, sizeof pvc, "%s" FM_CATALOG_PVC_SUFFIX, c->name);
    json_t *mounts = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "tmp", "mountPath", "/tmp", "name", "state",
                               "mountPath", FM_JOB_STATE_DIR);
    json_t *volumes = json_pack("[{s:s, s:{s:s}}]", "name", "tmp", "emptyDir", "sizeLimit", "10Gi");
    if (file_backed)
        json_array_append_new(volumes, json_pack("{s:s, s:{s:s, s:b}}", "name", "state", "persistentVolumeClaim",
                                                 "claimName", pvc, "readOnly", 0));
    else
        json_array_append_new(volumes, json_pack("{s:s, s:{}}", "name", "state", "emptyDir"));

    json_t *container = json_pack(
        "{s:s, s:s, s:s, s:o, s:o, s:[{s:s, s:i, s:s}], s:{s:{s:s, s:i}, s:i, s:i, s:i, s:i}, s:o, s:o, s:s,"
        " s:{s:b, s:b, s:b, s:{s:[s]}}}",
        "name", "featherman", "image", p->image, "imagePullPolicy", "IfNotPresent", "args", args, "env", pod_env(p),
        "ports", "name", "query", "containerPort", FM_WORKER_PORT, "protocol", "TCP", "readinessProbe", "httpGet", "path",
        "/readyz", "port", FM_WORKER_PORT, "periodSeconds", 1, "timeoutSeconds", 2, "failureThreshold", 3,
        "successThreshold", 1, "volumeMounts", mounts, "resources", res, "terminationMessagePolicy",
        "FallbackToLogsOnError", "securityContext", "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1,
        "runAsNonRoot", 1, "capabilities", "drop", "ALL");

    long grace = (ps->max_query_duration_ms + 999) / 1000 + 5;
    json_t *spec = json_pack("{s:s, s:b, s:b, s:I, s:{s:b, s:i, s:i, s:i, s:{s:s}}, s:[o], s:o}", "restartPolicy",
                             "Never", "automountServiceAccountToken", 0, "enableServiceLinks", 0,
                             "terminationGracePeriodSeconds", (json_int_t)grace, "securityContext", "runAsNonRoot", 1,
                             "runAsUser", 65532, "runAsGroup", 65532, "fsGroup", 65532, "seccompProfile", "type",
                             "RuntimeDefault", "containers", container, "volumes", volumes);
    json_t *ns_sel = json_object_get(tmpl, "nodeSelector"), *tol = json_object_get(tmpl, "tolerations");
    if (json_is_object(ns_sel) && json_object_size(ns_sel)) json_object_set(spec, "nodeSelector", ns_sel);
    if (json_is_array(tol) && json_array_size(tol)) json_object_set(spec, "tolerations", tol);

    /* the spec's hash: a pod whose hash differs from what the pool would build now is rolled */
    char *text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    uint32_t h = 2166136261u;
    for (const char *q = text; q && *q; q++) h = (h ^ (unsigned char)*q) * 16777619u;
    free(text);
    char hash[16];
    snprintf(hash, sizeof hash, "%08x", h);
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:o, s:{s:s}, s:o}, s:o}", "apiVersion", "v1", "kind", "Pod", "metadata",
                     "name", p->name, "namespace", p->namespace_, "labels", pool_labels(ps->name, ps->catalog_ref),
                     "annotations", FM_ANNOT_SPEC_HASH, hash, "ownerReferences", fm_k8s_owner_refs(p->pool_cr), "spec", spec);
}

json_t *fm_pool_pdb_manifest(json_t *pool_cr, const fm_pool_spec *pool) {
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:o}, s:{s:i, s:{s:{s:s, s:s}}}}",
                     "apiVersion", "policy/v1", "kind", "PodDisruptionBudget", "metadata", "name", pool->name,
                     "namespace", pool->namespace_, "labels", FM_LABEL_NAME, "featherman", FM_LABEL_MANAGED_BY,
                     FM_MANAGED_BY, FM_LABEL_POOL, pool->name, FM_LABEL_CATALOG, pool->catalog_ref, "ownerReferences",
                     fm_k8s_owner_refs(pool_cr), "spec", "minAvailable", pool->min_size, "selector", "matchLabels",
                     FM_LABEL_POOL, pool->name, FM_LABEL_COMPONENT, FM_COMPONENT_POOL);
}
