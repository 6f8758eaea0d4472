/* Job manifests: hygiene fields present, credentials only by reference, names fit a label. */
#include <stdlib.h>
#include <string.h>

#include "k8s/k8s_jobs.h"
#include "unit.h"

static const char *CAT =
    "{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeCatalog\","
    "\"metadata\":{\"name\":\"sales\",\"namespace\":\"ns\",\"uid\":\"u-1\",\"managedFields\":[{\"x\":1}]},"
    "\"spec\":{\"metadata\":{\"type\":\"%s\"%s},\"objectStore\":{\"bucket\":\"lake\",\"prefix\":\"p\","
    "\"endpoint\":\"minio:9000\",\"credentialsSecret\":{\"name\":\"s3creds\"}}},\"status\":{\"phase\":\"Ready\"}}";

static json_t *catalog(const char *type, const char *extra, fm_catalog_spec *cs) {
    char buf[2048];
    snprintf(buf, sizeof buf, CAT, type, extra);
    json_t *j = json_loads(buf, 0, NULL);
    fm_err err;
    memset(cs, 0, sizeof *cs);
    if (fm_catalog_spec_parse(j, cs, &err)) fprintf(stderr, "  spec: %s\n", err.msg);
    return j;
}

static json_t *path(json_t *j, const char *p) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", p);
    for (char *tok = strtok(buf, "/"); tok && j; tok = strtok(NULL, "/"))
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(tok)) : json_object_get(j, tok);
    return j;
}

FM_TEST(job_manifest_hygiene_sqlite) {
    fm_catalog_spec cs;
    json_t *cr = catalog("sqlite", "", &cs);
    fm_job_params p = {.op = "init", .name = "sales-init-1", .namespace_ = "ns", .image = "featherman:0.1.0",
                       .owner = cr, .catalog_cr = cr, .catalog = &cs, .pvc = "sales-metadata", .backoff_limit = -1};
    json_t *job = fm_job_manifest(&p);
    CHECK(job != NULL);
    CHECK_STR(json_string_value(path(job, "metadata/ownerReferences/0/uid")), "u-1");
    CHECK(json_is_true(path(job, "metadata/ownerReferences/0/controller")));
    CHECK_STR(json_string_value(json_object_get(path(job, "metadata/labels"), "featherman.dev/operation")), "init");
    CHECK(json_integer_value(path(job, "spec/backoffLimit")) == 2);
    CHECK(json_integer_value(path(job, "spec/activeDeadlineSeconds")) == 900);
    CHECK(json_integer_value(path(job, "spec/ttlSecondsAfterFinished")) == 3600);
    json_t *c = path(job, "spec/template/spec/containers/0");
    CHECK_STR(json_string_value(json_object_get(c, "terminationMessagePolicy")), "FallbackToLogsOnError");
    CHECK(json_is_true(path(c, "securityContext/readOnlyRootFilesystem")));
    CHECK(json_is_false(path(c, "securityContext/allowPrivilegeEscalation")));
    CHECK_STR(json_string_value(path(c, "securityContext/capabilities/drop/0")), "ALL");
    CHECK(json_is_true(path(job, "spec/template/spec/securityContext/runAsNonRoot")));
    CHECK(json_is_false(path(job, "spec/template/spec/automountServiceAccountToken")));
    CHECK_STR(json_string_value(path(c, "args/2")), "init");
    CHECK_STR(json_string_value(path(job, "spec/template/spec/volumes/1/persistentVolumeClaim/claimName")),
              "sales-metadata");
    /* credentials by reference only; the CR env carries spec but not status/managedFields */
    json_t *env = json_object_get(c, "env");
    int refs = 0;
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e) {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (!strncmp(n, "FEATHERMAN_S3_", 14)) {
            refs++;
            CHECK(json_object_get(e, "value") == NULL);
            CHECK_STR(json_string_value(path(e, "valueFrom/secretKeyRef/name")), "s3creds");
        }
        if (!strcmp(n, "FEATHERMAN_CATALOG_SPEC")) {
            const char *v = json_string_value(json_object_get(e, "value"));
            CHECK(strstr(v, "\"spec\"") && !strstr(v, "managedFields") && !strstr(v, "status"));
        }
    }
    CHECK(refs == 2);
    json_decref(job);
    json_decref(cr);
    fm_catalog_spec_free(&cs);
}

FM_TEST(job_manifest_postgres_has_password_ref_and_no_pvc) {
    fm_catalog_spec cs;
    json_t *cr = catalog("postgres", ",\"host\":\"pg\",\"database\":\"d\",\"user\":\"u\",\"passwordSecret\":{\"name\":\"pgpw\"}", &cs);
    json_t *tab = json_loads("{\"apiVersion\":\"v\",\"kind\":\"DuckLakeTable\",\"metadata\":{\"name\":\"orders\"},\"spec\":{}}", 0, NULL);
    fm_job_params p = {.op = "ddl", .name = "x", .namespace_ = "ns", .image = "featherman", .owner = tab,
                       .catalog_cr = cr, .table_cr = tab, .catalog = &cs, .backoff_limit = 0};
    json_t *job = fm_job_manifest(&p);
    /* no claim, but a writable state directory under the read-only root: an emptyDir */
    CHECK(json_array_size(path(job, "spec/template/spec/volumes")) == 2);
    CHECK(json_is_object(path(job, "spec/template/spec/volumes/1/emptyDir")));
    CHECK(!path(job, "spec/template/spec/volumes/1/persistentVolumeClaim"));
    CHECK_STR(json_string_value(path(job, "spec/template/spec/volumes/1/name")), "catalog");
    CHECK_STR(json_string_value(path(job, "spec/template/spec/containers/0/volumeMounts/1/mountPath")),
              "/var/lib/featherman");
    CHECK_STR(json_string_value(path(job, "spec/template/spec/containers/0/volumeMounts/1/name")), "catalog");
    CHECK_STR(json_string_value(json_object_get(path(job, "metadata/labels"), "featherman.dev/table")), "orders");
    CHECK(json_integer_value(path(job, "spec/backoffLimit")) == 0);
    char *s = json_dumps(job, 0);
    CHECK(strstr(s, "\"pgpw\"") && strstr(s, "FEATHERMAN_PG_PASSWORD") && strstr(s, "FEATHERMAN_TABLE_SPEC"));
    free(s);
    json_decref(job);
    json_decref(tab);
    json_decref(cr);
    fm_catalog_spec_free(&cs);
}

FM_TEST(job_names_fit_a_label) {
    char n[80];
    fm_job_name(n, sizeof n, "sales", "init", "gen-1");
    CHECK(strncmp(n, "sales-init-", 11) == 0 && strlen(n) == 19);
    char other[80];
    fm_job_name(other, sizeof other, "sales", "init", "gen-2");
    CHECK(strcmp(n, other) != 0);
    char longbase[100];
    memset(longbase, 'a', 99);
    longbase[99] = 0;
    longbase[40] = '-';
    fm_job_name(n, sizeof n, longbase, "materialize", "k");
    CHECK(strlen(n) <= 63);
    CHECK(strstr(n, "--") == NULL);
}
