/* One-off `worker serve --once` Jobs for the gateway (contract in gw_fallback.h). */
#include "gateway/gw_fallback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway/gw_route.h"
#include "k8s/k8s_jobs.h"
#include "k8s/k8s_names.h"
#include "base/log.h"
#include "base/clock.h"

void fm_once_job_name(char *out, size_t n, const char *catalog, const char *nonce) {
    char suffix[48];
    snprintf(suffix, sizeof suffix, "-query-%s", nonce);
    size_t room = n - 1 < 63 ? n - 1 : 63;
    size_t sl = strlen(suffix), cl = strlen(catalog);
    if (cl + sl > room) cl = room > sl ? room - sl : 0;
    while (cl > 0 && (catalog[cl - 1] == '-' || catalog[cl - 1] == '.')) cl--;
    snprintf(out, n, "%.*s%s", (int)cl, catalog, suffix);
}

static json_t *field_env(const char *var, const char *path) {
    return json_pack("{s:s, s:{s:{s:s}}}", "name", var, "valueFrom", "fieldRef", "fieldPath", path);
}

static json_t *labels(const fm_once_params *p) {
    return json_pack("{s:s, s:s, s:s, s:s}", FM_LABEL_NAME, "featherman", FM_LABEL_COMPONENT, FM_COMPONENT_ONCE,
                     FM_LABEL_MANAGED_BY, FM_MANAGED_BY_GATEWAY, FM_LABEL_CATALOG, p->catalog->name);
}

json_t *fm_once_job_manifest(const fm_once_params *p) {
    const fm_catalog_spec *c = p->catalog;
    json_t *env = json_array();
    fm_k8s_catalog_env(env, p->catalog_cr);
    json_array_append_new(env, field_env("POD_IP", "status.podIP"));
    json_array_append_new(env, field_env("POD_NAME", "metadata.name"));
    json_array_append_new(env, fm_k8s_secret_env("FEATHERMAN_TOKEN", FM_INTERNAL_TOKEN_SECRET, "token"));
    fm_k8s_credentials_env(env, c, &c->store.credentials);
    int postgres = !strcmp(c->metadata_type, "postgres");
    json_t *mounts = json_pack("[{s:s, s:s}]", "name", "tmp", "mountPath", "/tmp");
    json_t *volumes = json_pack("[{s:s, s:{s:s}}]", "name", "tmp", "emptyDir", "sizeLimit", "10Gi");
    /* FEATHERMAN_STATE must be writable under the read-only root: the claim, else an emptyDir */
    json_array_append_new(mounts, json_pack("{s:s, s:s}", "name", "catalog", "mountPath", FM_JOB_STATE_DIR));
    if (!postgres) {
        char claim[300];
        snprintf(claim, sizeof claim, "%s%s", c->name, FM_CATALOG_PVC_SUFFIX);
        json_array_append_new(volumes,
                              json_pack("{s:s, s:{s:s}}", "name", "catalog", "persistentVolumeClaim", "claimName", claim));
    } else {
        json_array_append_new(volumes, json_pack("{s:s, s:{}}", "name", "catalog", "emptyDir"));
    }
    json_t *container = json_pack(
        "{s:s, s:s, s:s, s:[s, s, s, s, s], s:o, s:[{s:s, s:i, s:s}], s:{s:{s:s, s:i}, s:i, s:i, s:i}, s:o, "
        "s:{s:{s:s, s:s}, s:{s:s}}, s:s, s:{s:b, s:b, s:b, s:{s:[s]}}}",
        "name", "featherman", "image", p->image, "imagePullPolicy", "IfNotPresent", "args", "worker", "serve", "--once",
        "--slots", "1", "env", env, "ports", "name", "query", "containerPort", FM_WORKER_PORT, "protocol", "TCP",
        "readinessProbe", "httpGet", "path", "/readyz", "port", FM_WORKER_PORT, "periodSeconds", 1, "failureThreshold", 1,
        "timeoutSeconds", 1, "volumeMounts", mounts, "resources", "requests", "cpu", "100m", "memory", "256Mi",
        "limits", "memory", "2Gi", "terminationMessagePolicy", "FallbackToLogsOnError", "securityContext",
        "allowPrivilegeEscalation", 0, "readOnlyRootFilesystem", 1, "runAsNonRoot", 1, "capabilities", "drop", "ALL");
    json_t *md = json_object_get(p->catalog_cr, "metadata");
    json_t *owner = json_pack("[{s:O?, s:O?, s:O?, s:O?}]", "apiVersion", json_object_get(p->catalog_cr, "apiVersion"),
                              "kind", json_object_get(p->catalog_cr, "kind"), "name", json_object_get(md, "name"),
                              "uid", json_object_get(md, "uid"));
    json_t *pod = json_pack("{s:{s:o}, s:{s:s, s:b, s:I, s:{s:b, s:i, s:i, s:i, s:{s:s}}, s:[o], s:o}}", "metadata",
                            "labels", labels(p), "spec", "restartPolicy", "Never", "automountServiceAccountToken", 0,
                            "terminationGracePeriodSeconds", (json_int_t)30, "securityContext", "runAsNonRoot", 1,
                            "runAsUser", 65532, "runAsGroup", 65532, "fsGroup", 65532, "seccompProfile", "type",
                            "RuntimeDefault", "containers", container, "volumes", volumes);
    json_t *job = json_pack("{s:s, s:s, s:{s:s, s:s, s:o}, s:{s:i, s:I, s:I, s:o}}", "apiVersion", "batch/v1", "kind",
                            "Job", "metadata", "name", p->job_name, "namespace", p->namespace_, "labels", labels(p),
                            "spec", "backoffLimit", 0, "activeDeadlineSeconds",
                            (json_int_t)(p->active_deadline_s > 0 ? p->active_deadline_s : 300),
                            "ttlSecondsAfterFinished", (json_int_t)(p->ttl_s > 0 ? p->ttl_s : 60), "template", pod);
    if (json_object_get(md, "uid")) json_object_set_new(json_object_get(job, "metadata"), "ownerReferences", owner);
    else json_decref(owner);
    return job;
}

void fm_once_delete(kube_client *c, const char *ns, const char *job) {
    kube_delete_opts o = {.propagation_policy = "Background", .grace_period_seconds = 0};
    fm_err err;
    fm_err_clear(&err);
    kube_status st = {0};
    if (kube_delete_ex(c, &KUBE_RES_JOBS, ns, job, &o, NULL, &st, &err) && st.http != 404)
        fm_warn("cannot delete fallback Job %s/%s: %s", ns, job, err.msg);
}

/* a pod that can never become ready: failed, or a container stuck in a waiting state that means it */
static const char *pod_hopeless(json_t *pod) {
    json_t *st = json_object_get(pod, "status");
    const char *phase = json_string_value(json_object_get(st, "phase"));
    if (phase && (!strcmp(phase, "Failed") || !strcmp(phase, "Succeeded"))) return phase;
    json_t *cs = json_object_get(st, "containerStatuses"), *c;
    size_t i;
    json_array_foreach(cs, i, c) {
        const char *reason = json_string_value(json_object_get(json_object_get(json_object_get(c, "state"), "waiting"), "reason"));
        if (reason && (!strcmp(reason, "ErrImagePull") || !strcmp(reason, "ImagePullBackOff") ||
                       !strcmp(reason, "InvalidImageName") || !strcmp(reason, "RunContainerError")))
            return reason;
    }
    return NULL;
}

int fm_once_start(kube_client *c, const fm_once_params *p, long wait_ms, int (*cancelled)(void *), void *ud,
                  char *podname, size_t podn, char *ip, size_t ipn, fm_err *err) {
    json_t *job = fm_once_job_manifest(p);
    int rc = kube_create(c, &KUBE_RES_JOBS, p->namespace_, job, NULL, err);
    json_decref(job);
    if (rc) {
        fm_err inner = *err;
        return fm_fail(err, inner.code == FM_E_REFUSED ? FM_E_REFUSED : FM_E_UNAVAILABLE,
                       "cannot create the fallback Job for catalog %s: %s", p->catalog->name, inner.msg);
    }
    fm_info("catalog %s: no pool pod to serve the query, started Job %s/%s", p->catalog->name, p->namespace_,
            p->job_name);
    char sel[128];
    snprintf(sel, sizeof sel, "job-name=%s", p->job_name);
    kube_list_opts lo = {.label_selector = sel};
    int64_t until = fm_now_ms() + wait_ms;
    for (;;) {
        json_t *list = NULL;
        fm_err lerr;
        fm_err_clear(&lerr);
        if (kube_list(c, &KUBE_RES_PODS, p->namespace_, &lo, &list, &lerr) == 0) {
            json_t *items = json_object_get(list, "items"), *pod;
            size_t i;
            const char *bad = NULL;
            json_array_foreach(items, i, pod) {
                fm_pool_pod gp;
                if (fm_pool_pod_parse(pod, &gp)) continue;
                int ready = gp.ready && gp.ip && !gp.deleting;
                if (ready) {
                    snprintf(podname, podn, "%s", gp.name);
                    snprintf(ip, ipn, "%s", gp.ip);
                }
                fm_pool_pod_free(&gp);
                if (ready) {
                    json_decref(list);
                    return 0;
                }
                if (!bad) bad = pod_hopeless(pod);
            }
            if (bad) {
                fm_fail(err, FM_E_UNAVAILABLE, "the fallback Job %s for catalog %s failed to start (%s)", p->job_name,
                        p->catalog->name, bad);
                json_decref(list);
                break;
            }
        }
        json_decref(list);
        if (fm_now_ms() >= until) {
            fm_fail(err, FM_E_UNAVAILABLE, "the fallback Job %s for catalog %s did not become ready within %ld ms",
                    p->job_name, p->catalog->name, wait_ms);
            break;
        }
        if (cancelled && cancelled(ud)) {
            fm_fail(err, FM_E_UNAVAILABLE, "the client went away");
            break;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fm_once_delete(c, p->namespace_, p->job_name);
    return -1;
}
