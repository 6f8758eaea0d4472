/* Pool pods: the manifest the operator creates (labels the gateway reads, probe, security
 * context, grace period, DuckDB memory/threads from limits, credentials by reference), the PDB,
 * names, the worker /status parser, and the per-pool registry's gauges. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "gateway/gw_route.h"
#include "k8s/pool_pods.h"
#include "operator/pool_registry.h"
#include "operator/pool_status.h"
#include "unit.h"

static const char *CAT =
    "{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\","
    "\"metadata\":{\"name\":\"sales\",\"namespace\":\"ns\",\"uid\":\"c-1\"},"
    "\"spec\":{\"metadata\":{\"type\":\"%s\"%s},\"objectStore\":{\"bucket\":\"lake\",\"prefix\":\"p\","
    "\"endpoint\":\"minio:9000\",\"credentialsSecret\":{\"name\":\"s3creds\"}%s}}}";

static const char *POOL =
    "{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakePool\","
    "\"metadata\":{\"name\":\"sales-pool\",\"namespace\":\"ns\",\"uid\":\"p-1\"},"
    "\"spec\":{\"catalogRef\":{\"name\":\"sales\",\"readOnly\":%s},\"minSize\":2,\"maxQueryDuration\":\"90s\"%s}}";

static json_t *path(json_t *j, const char *p) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *tok = strtok(buf, "/"); tok && j; tok = strtok(NULL, "/"))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok)) : json_object_get(j, tok);
    return j;
}

static json_t *env_named(json_t *pod, const char *name) {
    json_t *env = path(pod, "spec/containers/0/env"), *e;
    size_t i;
    json_array_foreach(env, i, e) if (!strcmp(json_string_value(json_object_get(e, "name")), name)) return e;
    return NULL;
}

static bool has_arg(json_t *pod, const char *a, const char *next) {
    json_t *args = path(pod, "spec/containers/0/args");
    for (size_t i = 0; i < json_array_size(args); i++)
        if (!strcmp(json_string_value(json_array_get(args, i)), a))
            return !next || (i + 1 < json_array_size(args) && !strcmp(json_string_value(json_array_get(args, i + 1)), next));
    return false;
}

typedef struct {
    json_t *cat, *pool;
    fm_catalog_spec cs;
    fm_pool_spec ps;
} fixture;

static void setup(fixture *f, const char *type, const char *meta_extra, const char *store_extra, const char *ro,
                  const char *pool_extra) {
    char buf[4096];
    fm_err err;
    snprintf(buf, sizeof buf, CAT, type, meta_extra, store_extra);
    f->cat = json_loads(buf, 0, NULL);
    if (fm_catalog_spec_parse(f->cat, &f->cs, &err)) fprintf(stderr, "  catalog: %s\n", err.msg);
    snprintf(buf, sizeof buf, POOL, ro, pool_extra);
    f->pool = json_loads(buf, 0, NULL);
    if (fm_pool_spec_parse(f->pool, &f->ps, &err)) fprintf(stderr, "  pool: %s\n", err.msg);
}

static void teardown(fixture *f) {
    fm_catalog_spec_free(&f->cs);
    fm_pool_spec_free(&f->ps);
    json_decref(f->cat);
    json_decref(f->pool);
}

static json_t *manifest(fixture *f) {
    fm_pool_pod_params p = {.name = "sales-pool-abcde", .namespace_ = "ns", .image = "featherman:1", .pool_cr = f->pool,
                            .catalog_cr = f->cat, .pool = &f->ps, .catalog = &f->cs, .slots = 1};
    return fm_pool_pod_manifest(&p);
}

FM_TEST(pool_pod_manifest_conventions) {
    fixture f;
    setup(&f, "sqlite", "", "", "false",
          ",\"template\":{\"resources\":{\"limits\":{\"memory\":\"2Gi\",\"cpu\":\"1500m\"}},"
          "\"nodeSelector\":{\"disk\":\"ssd\"},\"tolerations\":[{\"key\":\"k\",\"operator\":\"Exists\"}],"
          "\"env\":[{\"name\":\"TZ\",\"value\":\"UTC\"},{\"name\":\"FEATHERMAN_TOKEN\",\"value\":\"evil\"}]}");
    json_t *pod = manifest(&f);
    CHECK(pod != NULL);
    CHECK_STR(json_string_value(path(pod, "metadata/name")), "sales-pool-abcde");
    json_t *l = path(pod, "metadata/labels");
    CHECK_STR(json_string_value(json_object_get(l, "app.kubernetes.io/component")), "pool-worker");
    CHECK_STR(json_string_value(json_object_get(l, "featherman.dev/pool")), "sales-pool");
    CHECK_STR(json_string_value(json_object_get(l, "featherman.dev/catalog")), "sales");
    CHECK_STR(json_string_value(json_object_get(l, "app.kubernetes.io/managed-by")), "featherman-operator");
    CHECK_STR(json_string_value(path(pod, "metadata/ownerReferences/0/uid")), "p-1");
    CHECK_STR(json_string_value(path(pod, "metadata/ownerReferences/0/kind")), "DuckLakePool");
    CHECK(json_is_true(path(pod, "metadata/ownerReferences/0/controller")));
    /* what the gateway reads: slots from args, port, readiness */
    CHECK(has_arg(pod, "serve", NULL) && has_arg(pod, "--slots", "1"));
    CHECK(!has_arg(pod, "--read-only", NULL));
    /* listens on the Pod's address from the downward API, where probes and the gateway connect */
    CHECK(has_arg(pod, "--listen", "$(POD_IP):8080"));
    CHECK_STR(json_string_value(path(env_named(pod, "POD_IP"), "valueFrom/fieldRef/fieldPath")), "status.podIP");
    fm_pool_pod gp;
    CHECK(fm_pool_pod_parse(pod, &gp) == 0 && gp.slots == 1 && !strcmp(gp.pool, "sales-pool"));
    fm_pool_pod_free(&gp);
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/ports/0/name")), "query");
    CHECK(json_integer_value(path(pod, "spec/containers/0/ports/0/containerPort")) == 8080);
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/readinessProbe/httpGet/path")), "/readyz");
    /* 80% of 2Gi and ceil(1.5) cores */
    CHECK(has_arg(pod, "--memory-limit", "1638MiB"));
    CHECK(has_arg(pod, "--threads", "2"));
    /* grace ≥ maxQueryDuration (90 s) */
    CHECK(json_integer_value(path(pod, "spec/terminationGracePeriodSeconds")) >= 90);
    CHECK_STR(json_string_value(path(pod, "spec/restartPolicy")), "Never");
    CHECK(json_is_false(path(pod, "spec/automountServiceAccountToken")));
    /* restricted security context */
    CHECK(json_is_true(path(pod, "spec/securityContext/runAsNonRoot")));
    CHECK_STR(json_string_value(path(pod, "spec/securityContext/seccompProfile/type")), "RuntimeDefault");
    CHECK(json_is_false(path(pod, "spec/containers/0/securityContext/allowPrivilegeEscalation")));
    CHECK(json_is_true(path(pod, "spec/containers/0/securityContext/readOnlyRootFilesystem")));
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/securityContext/capabilities/drop/0")), "ALL");
    /* template parts */
    CHECK_STR(json_string_value(path(pod, "spec/nodeSelector/disk")), "ssd");
    CHECK_STR(json_string_value(path(pod, "spec/tolerations/0/key")), "k");
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/resources/limits/memory")), "2Gi");
    CHECK_STR(json_string_value(json_object_get(env_named(pod, "TZ"), "value")), "UTC");
    /* secrets by reference only; the template cannot override the token */
    json_t *tok = env_named(pod, "FEATHERMAN_TOKEN");
    CHECK(tok && !json_object_get(tok, "value"));
    CHECK_STR(json_string_value(path(tok, "valueFrom/secretKeyRef/name")), "featherman-internal-token");
    CHECK_STR(json_string_value(path(tok, "valueFrom/secretKeyRef/key")), "token");
    CHECK_STR(json_string_value(path(env_named(pod, "FEATHERMAN_S3_ACCESS_KEY_ID"), "valueFrom/secretKeyRef/name")),
              "s3creds");
    char *dump = json_dumps(pod, 0);
    CHECK(strstr(dump, "evil") == NULL);
    free(dump);
    /* the catalog CR, reduced; the PVC of a file-backed catalog at the state directory */
    const char *spec = json_string_value(json_object_get(env_named(pod, "FEATHERMAN_CATALOG_SPEC"), "value"));
    CHECK(spec && strstr(spec, "\"sales\"") && !strstr(spec, "c-1"));
    CHECK_STR(json_string_value(json_object_get(env_named(pod, "FEATHERMAN_STATE"), "value")), "/var/lib/featherman");
    CHECK_STR(json_string_value(path(pod, "spec/volumes/1/persistentVolumeClaim/claimName")), "sales-metadata");
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/volumeMounts/1/mountPath")), "/var/lib/featherman");
    CHECK(json_object_get(path(pod, "spec/volumes/0"), "emptyDir") != NULL);
    json_decref(pod);
    teardown(&f);
}

FM_TEST(pool_pod_read_only_and_postgres) {
    fixture f;
    setup(&f, "postgres",
          ",\"host\":\"pg\",\"database\":\"d\",\"user\":\"u\",\"passwordSecret\":{\"name\":\"pgpw\"}",
          ",\"readOnlyCredentialsSecret\":{\"name\":\"s3ro\"}", "true", "");
    json_t *pod = manifest(&f);
    CHECK(has_arg(pod, "--read-only", NULL));
    CHECK_STR(json_string_value(path(env_named(pod, "FEATHERMAN_S3_ACCESS_KEY_ID"), "valueFrom/secretKeyRef/name")),
              "s3ro");
    CHECK_STR(json_string_value(path(env_named(pod, "FEATHERMAN_PG_PASSWORD"), "valueFrom/secretKeyRef/name")), "pgpw");
    CHECK(json_object_get(path(pod, "spec/volumes/1"), "emptyDir") != NULL); /* no PVC for postgres */
    CHECK(!has_arg(pod, "--memory-limit", NULL) && !has_arg(pod, "--threads", NULL));
    CHECK_STR(json_string_value(path(pod, "spec/containers/0/resources/requests/cpu")), "100m");
    json_t *pdb = fm_pool_pdb_manifest(f.pool, &f.ps);
    CHECK(json_integer_value(path(pdb, "spec/minAvailable")) == 2);
    CHECK_STR(json_string_value(json_object_get(path(pdb, "spec/selector/matchLabels"), "featherman.dev/pool")),
              "sales-pool");
    CHECK_STR(json_string_value(path(pdb, "metadata/ownerReferences/0/uid")), "p-1");
    json_decref(pdb);
    json_decref(pod);
    teardown(&f);
}

FM_TEST(pool_quantities_and_names) {
    json_t *r = json_loads("{\"limits\":{\"memory\":\"1G\",\"cpu\":\"250m\"}}", 0, NULL);
    char m[32];
    CHECK(fm_pool_memory_limit(r, m, sizeof m) == 0);
    CHECK_STR(m, "762MiB");
    CHECK(fm_pool_threads(r) == 1);
    json_decref(r);
    r = json_loads("{\"limits\":{\"cpu\":4}}", 0, NULL);
    CHECK(fm_pool_memory_limit(r, m, sizeof m) == -1);
    CHECK(fm_pool_threads(r) == 4);
    json_decref(r);
    CHECK(fm_pool_cpu_quantity("2.5") == 2.5 && fm_pool_cpu_quantity("x") < 0);
    char n[64], n2[64];
    fm_pool_pod_name(n, sizeof n, "pool");
    fm_pool_pod_name(n2, sizeof n2, "pool");
    CHECK(strlen(n) == 10 && !strncmp(n, "pool-", 5) && strcmp(n, n2));
    char longname[100];
    memset(longname, 'a', 99);
    longname[99] = 0;
    fm_pool_pod_name(n, sizeof n, longname);
    CHECK(strlen(n) == 63);
}

FM_TEST(worker_status_parse) {
    const char *body = "{\"role\":\"worker\",\"pod\":\"p\",\"version\":\"0.1.0\",\"startedAt\":\"2026-01-02T03:04:05.678Z\","
                       "\"slots\":2,\"busy\":0,\"queued\":0,\"queriesServed\":17,\"idleSince\":\"2026-01-02T03:05:00.000Z\","
                       "\"draining\":false,\"sandboxed\":true,\"catalogs\":[]}";
    fm_worker_status s;
    fm_err err;
    CHECK(fm_worker_status_parse(body, strlen(body), &s, &err) == 0);
    CHECK(s.slots == 2 && s.busy == 0 && s.queries == 17 && !s.draining);
    CHECK(s.started_ms == 1767323045678LL);
    CHECK(s.idle_since_ms == 1767323100000LL);
    const char *busy = "{\"startedAt\":\"2026-01-02T03:04:05Z\",\"slots\":1,\"busy\":1,\"queriesServed\":3,"
                       "\"idleSince\":null,\"draining\":true}";
    CHECK(fm_worker_status_parse(busy, strlen(busy), &s, &err) == 0);
    CHECK(s.busy == 1 && s.idle_since_ms == 0 && s.draining && s.started_ms == 1767323045000LL);
    CHECK(fm_worker_status_parse("[]", 2, &s, &err) == -1);
    CHECK(fm_worker_status_parse("{\"slots\":1}", 11, &s, &err) == -1);
}

FM_TEST(pool_registry_gauges_and_expectations) {
    fm_pool_entry *e = fm_pool_entry_get("ns/p\"x", "u1");
    CHECK(e && e->pdb_gen == -1);
    fm_pool_gauges(e, 3, 4, 1, 2, 5);
    fm_buf b;
    fm_buf_init(&b);
    fm_pool_metrics_render(&b);
    CHECK(strstr(b.data, "ducklake_pool_size_current{pool=\"ns/p\\\"x\"} 3\n") != NULL);
    CHECK(strstr(b.data, "ducklake_pool_size_desired{pool=\"ns/p\\\"x\"} 4\n") != NULL);
    CHECK(strstr(b.data, "ducklake_pool_queue_length{pool=\"ns/p\\\"x\"} 5\n") != NULL);
    fm_buf_free(&b);
    fm_pool_expect(e, "a", 1000);
    fm_pool_expect(e, "b", 5000);
    fm_pool_expect_seen(e, "a");
    CHECK(e->nexpect == 1);
    CHECK(fm_pool_expect_prune(e, 70000, 60000) == 0);
    e->pdb_gen = 3;
    CHECK(fm_pool_entry_get("ns/p\"x", "u1") == e && e->pdb_gen == 3);
    e = fm_pool_entry_get("ns/p\"x", "u2"); /* recreated pool: fresh state */
    CHECK(e->pdb_gen == -1 && e->g_current == 0);
    fm_pool_forget("ns/p\"x");
    fm_buf_init(&b);
    fm_pool_metrics_render(&b);
    CHECK(strstr(b.data, "p\\\"x") == NULL);
    fm_buf_free(&b);
}
