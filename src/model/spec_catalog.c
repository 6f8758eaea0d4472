/* DuckLakeCatalog: the metadata backend and object store of one lake. The fields fixed at
 * creation (metadata.type, bucket, prefix, encryption) are only validated here; immutability
 * is the CRD's CEL rule and the reconciler's business. Backend-specific fields given for the
 * other backend are refused rather than ignored, so a typo'd manifest cannot silently fall back
 * to a default. */
#include <stdlib.h>
#include <string.h>

#include "model/spec.h"
#include "model/spec_util.h"
#include "model/sqlquote.h"
#include "base/xalloc.h"

#define GI 1073741824.0

static int size_field(json_t *o, const char *ppath, const char *key, char **out, fm_err *err) {
    char path[256];
    fm_sp_path(path, sizeof path, ppath, key);
    json_t *v = o ? json_object_get(o, key) : NULL;
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) { /* int-or-string, like every Kubernetes quantity */
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        *out = fm_xstrdup(buf);
    } else if (fm_sp_str(o, ppath, key, true, NULL, 64, out, err)) {
        return -1;
    }
    double q = fm_sp_quantity(*out);
    if (q < 0) return fm_fail(err, FM_E_INVALID, "%s: \"%s\" is not a quantity (e.g. 10Gi)", path, *out);
    if (q < GI) return fm_fail(err, FM_E_INVALID, "%s: \"%s\" is less than the minimum 1Gi", path, *out);
    return 0;
}

static int metadata_block(json_t *spec, fm_catalog_spec *c, fm_err *err) {
    static const char *const types[] = {"sqlite", "duckdb", "postgres", NULL};
    static const char *const known[] = {"type", "storageClass", "size", "path", "host", "port", "database", "schema",
                                        "user", "passwordSecret", "sslMode", NULL};
    static const char *const file_only[] = {"storageClass", "size", "path", NULL};
    static const char *const pg_only[] = {"host", "port", "database", "schema", "user", "passwordSecret", "sslMode", NULL};
    static const char *const sslmodes[] = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full", NULL};
    const char *P = "spec.metadata";
    json_t *m;
    if (fm_sp_obj(spec, "spec", "metadata", false, &m, err)) return -1;
    if (m && fm_sp_known(m, P, known, err)) return -1;
    if (fm_sp_enum(m, P, "type", "sqlite", types, &c->metadata_type, err)) return -1;
    bool pg = strcmp(c->metadata_type, "postgres") == 0;
    const char *const *wrong = pg ? file_only : pg_only;
    for (size_t i = 0; m && wrong[i]; i++)
        if (json_object_get(m, wrong[i]))
            return fm_fail(err, FM_E_INVALID, "%s.%s: only used when type is %s (type is %s)", P, wrong[i],
                           pg ? "sqlite or duckdb" : "postgres", c->metadata_type);

    /* the file backend's volume: spec.metadata.{storageClass,size} or the older top-level spec.{storageClass,size} */
    char *top_sc = NULL, *top_size = NULL;
    if (fm_sp_str(spec, "spec", "storageClass", false, NULL, 253, &top_sc, err) ||
        size_field(spec, "spec", "size", &top_size, err)) {
        free(top_sc), free(top_size);
        return -1;
    }
    if (pg && (top_sc || top_size)) {
        free(top_sc), free(top_size);
        return fm_fail(err, FM_E_INVALID, "spec.%s: only used when spec.metadata.type is sqlite or duckdb",
                       top_sc ? "storageClass" : "size");
    }
    if (fm_sp_str(m, P, "storageClass", false, NULL, 253, &c->storage_class, err) ||
        size_field(m, P, "size", &c->size, err)) {
        free(top_sc), free(top_size);
        return -1;
    }
    const char *clash = top_sc && c->storage_class && strcmp(top_sc, c->storage_class) ? "storageClass"
                        : top_size && c->size && strcmp(top_size, c->size)             ? "size"
                                                                                       : NULL;
    if (clash) {
        free(top_sc), free(top_size);
        return fm_fail(err, FM_E_INVALID, "spec.%s and spec.metadata.%s differ: set one of them", clash, clash);
    }
    if (!c->storage_class) c->storage_class = top_sc, top_sc = NULL;
    if (!c->size) c->size = top_size, top_size = NULL;
    free(top_sc), free(top_size);
    if (!pg && !c->size) c->size = fm_xstrdup("1Gi");
    if (fm_sp_str(m, P, "path", false, NULL, 1024, &c->metadata_path, err)) return -1;

    c->pg.port = 5432;
    if (!pg) return 0;
    long port;
    if (fm_sp_str(m, P, "host", true, NULL, 253, &c->pg.host, err)) return -1;
    if (fm_sp_int(m, P, "port", 5432, 1, 65535, &port, err)) return -1;
    c->pg.port = (int)port;
    if (fm_sp_str(m, P, "database", true, NULL, 63, &c->pg.database, err)) return -1;
    if (fm_sp_str(m, P, "schema", false, NULL, 63, &c->pg.schema, err)) return -1;
    if (c->pg.schema) {
        fm_buf scratch;
        fm_buf_init(&scratch);
        int rc = fm_sql_ident(&scratch, c->pg.schema, "spec.metadata.schema", err);
        fm_buf_free(&scratch);
        if (rc) return -1;
    }
    if (fm_sp_str(m, P, "user", false, NULL, 63, &c->pg.user, err)) return -1;
    if (fm_sp_secret_ref(m, P, "passwordSecret", false, "key", "password", NULL, NULL, &c->pg.password, err)) return -1;
    return fm_sp_enum(m, P, "sslMode", "prefer", sslmodes, &c->pg.sslmode, err);
}

static int object_store_block(json_t *spec, fm_catalog_spec *c, fm_err *err) {
    static const char *const known[] = {"endpoint", "bucket", "prefix", "region", "urlStyle", "useSSL",
                                        "credentialsSecret", "readOnlyCredentialsSecret", NULL};
    static const char *const styles[] = {"path", "vhost", NULL};
    const char *P = "spec.objectStore";
    json_t *o;
    if (fm_sp_obj(spec, "spec", "objectStore", false, &o, err)) return -1;
    c->store.use_ssl = true;
    if (!o) return 0;
    c->has_object_store = true;
    if (fm_sp_known(o, P, known, err)) return -1;
    if (fm_sp_str(o, P, "endpoint", false, NULL, 253, &c->store.endpoint, err)) return -1;
    if (c->store.endpoint) {
        const char *e = c->store.endpoint;
        if (strstr(e, "://"))
            return fm_fail(err, FM_E_INVALID, "%s.endpoint: must be host[:port] without a scheme (use useSSL)", P);
        for (const char *p = e; *p; p++)
            if (!(*p == '.' || *p == '-' || *p == ':' || *p == '_' || (*p >= '0' && *p <= '9') ||
                  (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '[' || *p == ']'))
                return fm_fail(err, FM_E_INVALID, "%s.endpoint: must be host[:port] (letters, digits, '.', '-', ':')",
                               P);
    }
    if (fm_sp_str(o, P, "bucket", true, NULL, 63, &c->store.bucket, err)) return -1;
    if (!fm_sp_bucket_name(c->store.bucket))
        return fm_fail(err, FM_E_INVALID,
                       "%s.bucket: \"%s\" is not a valid bucket name (3-63 lower-case letters, digits, '.' and '-', "
                       "starting and ending with a letter or digit)",
                       P, c->store.bucket);
    char *prefix;
    if (fm_sp_str(o, P, "prefix", false, "", 1024, &prefix, err)) return -1;
    c->store.prefix = fm_sp_prefix(prefix, "spec.objectStore.prefix", err);
    free(prefix);
    if (!c->store.prefix) return -1;
    if (fm_sp_str(o, P, "region", false, "us-east-1", 64, &c->store.region, err)) return -1;
    if (fm_sp_enum(o, P, "urlStyle", "path", styles, &c->store.url_style, err)) return -1;
    if (fm_sp_bool(o, P, "useSSL", true, &c->store.use_ssl, err)) return -1;
    if (fm_sp_secret_ref(o, P, "credentialsSecret", true, "accessKeyField", "AWS_ACCESS_KEY_ID", "secretKeyField",
                         "AWS_SECRET_ACCESS_KEY", &c->store.credentials, err))
        return -1;
    return fm_sp_secret_ref(o, P, "readOnlyCredentialsSecret", false, "accessKeyField", "AWS_ACCESS_KEY_ID",
                            "secretKeyField", "AWS_SECRET_ACCESS_KEY", &c->store.read_only_credentials, err);
}

static int catalog_body(json_t *spec, fm_catalog_spec *c, fm_err *err) {
    static const char *const known[] = {"metadata", "objectStore", "encryption", "backupPolicy", "dataInliningRowLimit",
                                        "deletionPolicy", "storageClass", "size", NULL};
    static const char *const policies[] = {"retain", "delete", NULL};
    if (fm_sp_known(spec, "spec", known, err)) return -1;
    if (metadata_block(spec, c, err) || object_store_block(spec, c, err)) return -1;
    json_t *enc, *bp;
    if (fm_sp_obj(spec, "spec", "encryption", false, &enc, err)) return -1;
    static const char *const enc_known[] = {"enabled", NULL};
    if (enc && fm_sp_known(enc, "spec.encryption", enc_known, err)) return -1;
    if (fm_sp_bool(enc, "spec.encryption", "enabled", false, &c->encryption, err)) return -1;

    c->backup.retention_days = 7;
    if (fm_sp_obj(spec, "spec", "backupPolicy", false, &bp, err)) return -1;
    static const char *const bp_known[] = {"schedule", "retentionDays", "suspend", NULL};
    if (bp && fm_sp_known(bp, "spec.backupPolicy", bp_known, err)) return -1;
    if (fm_sp_str(bp, "spec.backupPolicy", "schedule", false, NULL, 128, &c->backup.schedule, err)) return -1;
    char why[160];
    if (c->backup.schedule && !fm_sp_cron(c->backup.schedule, why, sizeof why))
        return fm_fail(err, FM_E_INVALID, "spec.backupPolicy.schedule: \"%s\" %s", c->backup.schedule, why);
    long days;
    if (fm_sp_int(bp, "spec.backupPolicy", "retentionDays", 7, 1, 36500, &days, err)) return -1;
    c->backup.retention_days = (int)days;
    if (fm_sp_bool(bp, "spec.backupPolicy", "suspend", false, &c->backup.suspend, err)) return -1;

    if (fm_sp_int(spec, "spec", "dataInliningRowLimit", -1, 0, 1000000000L, &c->data_inlining_row_limit, err))
        return -1;
    return fm_sp_enum(spec, "spec", "deletionPolicy", "retain", policies, &c->deletion_policy, err);
}

int fm_catalog_spec_parse(json_t *doc, fm_catalog_spec *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    out->data_inlining_row_limit = -1;
    json_t *spec;
    if (fm_sp_header(doc, "DuckLakeCatalog", &out->name, &out->namespace_, &out->paused, &spec, err) ||
        catalog_body(spec, out, err)) {
        fm_catalog_spec_free(out);
        return -1;
    }
    return 0;
}

static void free_ref(fm_secret_ref *r) { free(r->name), free(r->key_a), free(r->key_b); }

void fm_catalog_spec_free(fm_catalog_spec *c) {
    if (!c) return;
    free(c->name), free(c->namespace_), free(c->metadata_type), free(c->metadata_path), free(c->storage_class);
    free(c->size), free(c->pg.host), free(c->pg.database), free(c->pg.schema), free(c->pg.user), free(c->pg.sslmode);
    free_ref(&c->pg.password);
    free(c->store.endpoint), free(c->store.bucket), free(c->store.prefix), free(c->store.region);
    free(c->store.url_style);
    free_ref(&c->store.credentials), free_ref(&c->store.read_only_credentials);
    free(c->backup.schedule), free(c->deletion_policy);
    memset(c, 0, sizeof *c);
}
