/* The API helpers every reconciler uses (contract in operator.h): the cached object, status and
 * finalizer writes, Secret values read on demand. */
#include <string.h>

#include "base/base64.h"
#include "base/json_get.h"
#include "base/log.h"
#include "k8s/k8s_names.h"
#include "k8s/k8s_status.h"
#include "operator/operator.h"

const kube_resource FM_RES_CATALOGS = {FM_GROUP, FM_VERSION, "ducklakecatalogs", "DuckLakeCatalog", 1};
const kube_resource FM_RES_TABLES = {FM_GROUP, FM_VERSION, "ducklaketables", "DuckLakeTable", 1};
const kube_resource FM_RES_POOLS = {FM_GROUP, FM_VERSION, "ducklakepools", "DuckLakePool", 1};

json_t *fm_op_get(kube_informer *inf, const char *ns, const char *name) {
    return inf ? kube_informer_get(inf, ns, name) : NULL;
}

int fm_op_write_status(fm_operator *op, const kube_resource *res, json_t *obj, json_t *status) {
    if (json_equal(json_object_get(obj, "status"), status)) return 0;
    json_t *patch = json_pack("{s:O}", "status", status);
    fm_err err;
    json_t *out = NULL;
    int rc = kube_patch(op->kube, res, fm_jstr(obj, "metadata.namespace"), fm_jstr(obj, "metadata.name"), "status",
                        KUBE_PATCH_MERGE, patch, FM_FIELD_MANAGER, 0, &out, &err);
    if (rc) fm_warn("status of %s %s: %s", res->kind, fm_jstr(obj, "metadata.name"), err.msg);
    json_decref(out);
    json_decref(patch);
    return rc;
}

static int patch_finalizers(fm_operator *op, const kube_resource *res, json_t *obj, json_t *finalizers) {
    json_t *patch = json_pack("[{s:s, s:s, s:O?}, {s:s, s:s, s:O}]", "op", "test", "path", "/metadata/resourceVersion",
                              "value", fm_jget(obj, "metadata.resourceVersion"), "op", "add", "path",
                              "/metadata/finalizers", "value", finalizers);
    fm_err err;
    json_t *out = NULL;
    int rc = kube_patch(op->kube, res, fm_jstr(obj, "metadata.namespace"), fm_jstr(obj, "metadata.name"), NULL,
                        KUBE_PATCH_JSON, patch, FM_FIELD_MANAGER, 0, &out, &err);
    if (rc) fm_warn("finalizers of %s %s: %s", res->kind, fm_jstr(obj, "metadata.name"), err.msg);
    json_decref(out);
    json_decref(patch);
    return rc;
}

int fm_op_add_finalizer(fm_operator *op, const kube_resource *res, json_t *obj) {
    if (fm_has_finalizer(obj, FM_FINALIZER)) return 0;
    json_t *f = json_deep_copy(fm_jget(obj, "metadata.finalizers"));
    if (!f) f = json_array();
    json_array_append_new(f, json_string(FM_FINALIZER));
    int rc = patch_finalizers(op, res, obj, f);
    json_decref(f);
    return rc;
}

int fm_op_remove_finalizer(fm_operator *op, const kube_resource *res, json_t *obj) {
    if (!fm_has_finalizer(obj, FM_FINALIZER)) return 0;
    json_t *f = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(fm_jget(obj, "metadata.finalizers"), i, v) {
        if (strcmp(json_string_value(v), FM_FINALIZER)) json_array_append(f, v);
    }
    int rc = patch_finalizers(op, res, obj, f);
    json_decref(f);
    return rc;
}

char *fm_op_secret_value(fm_operator *op, const char *ns, const char *name, const char *key, fm_err *err) {
    json_t *s = NULL;
    kube_status st = {0};
    if (kube_get_ex(op->kube, &KUBE_RES_SECRETS, ns, name, &s, &st, err)) {
        if (st.http == 404) fm_fail(err, FM_E_NOT_FOUND, "Secret %s not found in namespace %s", name, ns);
        return NULL;
    }
    /* keys may contain dots, so no dotted path here */
    const char *b64 = json_string_value(json_object_get(json_object_get(s, "data"), key));
    char *val = NULL;
    if (!b64) {
        fm_fail(err, FM_E_NOT_FOUND, "Secret %s has no key %s", name, key);
    } else {
        size_t n = 0;
        val = fm_b64decode(b64, &n);
        if (!val) fm_fail(err, FM_E_INVALID, "Secret %s key %s is not valid base64", name, key);
    }
    json_decref(s);
    return val;
}

const char *fm_op_table_catalog(const json_t *table) {
    const char *ref = json_string_value(fm_jget(table, "spec.catalogRef"));
    return ref ? ref : fm_jstr(table, "spec.catalogRef.name");
}
