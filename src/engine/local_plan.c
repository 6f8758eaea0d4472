/* The manifest directory of `featherman local` → fm_local_plan (local.h). DuckLakeCatalog,
 * DuckLakeTable, DuckLakePool and v1 Secret documents are read; every document is parsed and every
 * reference between them checked before the start changes anything, and every problem is logged
 * (file, document, field), not just the first: serving half a configuration would hide the
 * mistake, and fixing one error per start is slow. */
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "engine/local.h"

static const char *doc_name(json_t *doc) {
    return json_string_value(json_object_get(json_object_get(doc, "metadata"), "name"));
}

/* one document into the plan; other kinds (Secret) are looked up later */
static int plan_doc(fm_local_plan *p, const fm_manifest_doc *d, fm_err *err) {
    if (!strcmp(d->kind, "DuckLakeCatalog")) {
        if (fm_catalog_spec_parse(d->doc, &p->cats[p->ncats].spec, err)) return -1;
        p->cats[p->ncats++].origin = d->file;
    } else if (!strcmp(d->kind, "DuckLakeTable")) {
        if (fm_table_spec_parse(d->doc, &p->tables[p->ntables], err)) return -1;
        p->ntables++;
    } else if (!strcmp(d->kind, "DuckLakePool")) {
        if (fm_pool_spec_parse(d->doc, &p->pools[p->npools], err)) return -1;
        p->npools++;
    }
    return 0;
}

static fm_local_catalog *find_catalog(fm_local_plan *p, const char *name) {
    for (size_t i = 0; i < p->ncats; i++)
        if (!strcmp(p->cats[i].spec.name, name)) return &p->cats[i];
    return NULL;
}

/* the references between documents; the number of problems logged */
static int check_references(fm_local_plan *p, const char *dir) {
    int errors = 0;
    for (size_t i = 0; i < p->ncats; i++)
        if (find_catalog(p, p->cats[i].spec.name) != &p->cats[i]) {
            fm_error("%s: DuckLakeCatalog %s is defined twice", p->cats[i].origin, p->cats[i].spec.name);
            errors++;
        }
    for (size_t i = 0; i < p->ntables; i++)
        if (!find_catalog(p, p->tables[i].catalog_ref)) {
            fm_error("DuckLakeTable %s: spec.catalogRef: no DuckLakeCatalog named \"%s\" in %s", p->tables[i].name,
                     p->tables[i].catalog_ref, dir);
            errors++;
        }
    for (size_t i = 0; i < p->npools; i++) {
        const fm_pool_spec *pool = &p->pools[i];
        fm_local_catalog *c = find_catalog(p, pool->catalog_ref);
        if (!c) {
            fm_error("DuckLakePool %s: spec.catalogRef.name: no DuckLakeCatalog named \"%s\" in %s", pool->name,
                     pool->catalog_ref, dir);
            errors++;
        } else if (c->pool) {
            fm_error("DuckLakePool %s: catalog %s is already served by pool %s", pool->name, pool->catalog_ref,
                     c->pool->name);
            errors++;
        } else {
            c->pool = pool;
        }
    }
    if (!p->ncats && !errors) {
        fm_error("%s holds no DuckLakeCatalog manifest: nothing to serve", dir);
        errors++;
    }
    return errors;
}

int fm_local_plan_load(const char *dir, fm_local_plan *p) {
    memset(p, 0, sizeof *p);
    fm_err err;
    fm_err_clear(&err);
    if (fm_manifest_load_dir(dir, &p->manifests, &err)) {
        fm_error("%s", err.msg);
        return -1;
    }
    size_t n = p->manifests.n + 1;
    p->cats = fm_xcalloc(n, sizeof *p->cats);
    p->tables = fm_xcalloc(n, sizeof *p->tables);
    p->pools = fm_xcalloc(n, sizeof *p->pools);
    int errors = 0;
    for (size_t i = 0; i < p->manifests.n; i++) {
        const fm_manifest_doc *d = &p->manifests.docs[i];
        fm_err_clear(&err);
        if (plan_doc(p, d, &err)) {
            const char *name = doc_name(d->doc);
            fm_error("%s (document %d, %s %s): %s", d->file, d->index + 1, d->kind, name ? name : "?", err.msg);
            errors++;
        }
    }
    errors += check_references(p, dir);
    if (errors) fm_error("%d manifest error%s: nothing was changed", errors, errors == 1 ? "" : "s");
    return errors ? -1 : 0;
}

void fm_local_plan_free(fm_local_plan *p) {
    for (size_t i = 0; i < p->ncats; i++) fm_catalog_spec_free(&p->cats[i].spec);
    for (size_t i = 0; i < p->ntables; i++) fm_table_spec_free(&p->tables[i]);
    for (size_t i = 0; i < p->npools; i++) fm_pool_spec_free(&p->pools[i]);
    free(p->cats);
    free(p->tables);
    free(p->pools);
    fm_manifest_set_free(&p->manifests);
    memset(p, 0, sizeof *p);
}

char *fm_local_secret(const fm_local_plan *p, const char *secret, const char *key, const char *catalog,
                      const char *field, fm_err *err) {
    json_t *doc = NULL;
    for (size_t i = 0; i < p->manifests.n && !doc; i++) {
        const fm_manifest_doc *d = &p->manifests.docs[i];
        const char *name = doc_name(d->doc);
        if (!strcmp(d->kind, "Secret") && name && !strcmp(name, secret)) doc = d->doc;
    }
    if (doc) {
        char *v = fm_secret_value(doc, key);
        if (!v)
            fm_fail(err, FM_E_NOT_FOUND, "catalog %s: %s: key missing from Secret \"%s\" in Secret %s", catalog, field,
                    key, secret);
        return v;
    }
    const char *env = getenv(key);
    if (env) return fm_xstrdup(env);
    fm_fail(err, FM_E_NOT_FOUND, "catalog %s: %s: no Secret manifest named \"%s\" (and no environment variable %s)",
            catalog, field, secret, key);
    return NULL;
}
