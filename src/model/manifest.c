/* Manifests for `featherman local` (manifest.h): files of YAML documents (base/yaml.h) or JSON,
 * each document checked for a kind featherman reads. Every error names the file and line. */
#include "model/manifest.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/yaml.h"
#include "base/xalloc.h"

#define MAX_FILE (16 * 1024 * 1024)

static const char *const kinds[] = {"DuckLakeCatalog", "DuckLakeTable", "DuckLakePool", "Secret", NULL};

static int add_doc(fm_manifest_set *out, const char *path, int index, int line, json_t *doc, fm_err *err) {
    char where[64] = "";
    if (line > 0) snprintf(where, sizeof where, " (line %d)", line);
    if (!json_is_object(doc))
        return fm_fail(err, FM_E_INVALID, "%s: document %d%s: must be a mapping with apiVersion, kind, metadata", path,
                       index + 1, where);
    json_t *k = json_object_get(doc, "kind");
    if (!json_is_string(k))
        return fm_fail(err, FM_E_INVALID, "%s: document %d%s: kind is missing", path, index + 1, where);
    const char *kind = json_string_value(k);
    size_t i;
    for (i = 0; kinds[i]; i++)
        if (!strcmp(kinds[i], kind)) break;
    if (!kinds[i])
        return fm_fail(err, FM_E_INVALID,
                       "%s: document %d%s: unknown kind \"%.80s\" (expected DuckLakeCatalog, DuckLakeTable, "
                       "DuckLakePool or Secret)",
                       path, index + 1, where, kind);
    if (i == 3) {
        json_t *av = json_object_get(doc, "apiVersion");
        if (!json_is_string(av) || strcmp(json_string_value(av), "v1"))
            return fm_fail(err, FM_E_INVALID, "%s: document %d%s: a Secret must have apiVersion v1", path, index + 1,
                           where);
    }
    fm_manifest_doc *d = fm_xreallocarray(out->docs, out->n + 1, sizeof *d);
    out->docs = d;
    d = &out->docs[out->n++];
    d->file = fm_xstrdup(path);
    d->index = index;
    d->kind = fm_xstrdup(kind);
    d->doc = json_incref(doc);
    return 0;
}

static char *read_file(const char *path, size_t *len, fm_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return fm_fail(err, FM_E_NOT_FOUND, "%s: %s", path, strerror(errno)), NULL;
    fm_buf b;
    fm_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        fm_buf_append(&b, chunk, n);
        if (b.len > MAX_FILE) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || b.len > MAX_FILE) {
        fm_buf_free(&b);
        return fm_fail(err, FM_E_INVALID, "%s: %s", path, bad ? "read error" : "larger than 16 MiB"), NULL;
    }
    *len = b.len;
    return fm_buf_steal(&b);
}

static bool has_ext(const char *name, const char *ext) {
    size_t n = strlen(name), e = strlen(ext);
    return n > e && !strcmp(name + n - e, ext);
}

int fm_manifest_load_file(const char *path, fm_manifest_set *out, fm_err *err) {
    size_t len;
    char *text = read_file(path, &len, err);
    if (!text) return -1;
    json_t *docs;
    fm_buf lines;
    fm_buf_init(&lines);
    if (has_ext(path, ".json")) {
        json_error_t je;
        json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
        if (!d) {
            free(text);
            return fm_fail(err, FM_E_INVALID, "%s:%d: %s", path, je.line, je.text);
        }
        docs = json_is_array(d) ? d : json_pack("[o]", d);
    } else {
        docs = fm_yaml_parse_docs(text, len, path, err, &lines);
    }
    free(text);
    if (!docs) {
        fm_buf_free(&lines);
        return -1;
    }
    size_t i;
    json_t *doc;
    int rc = 0;
    json_array_foreach(docs, i, doc) {
        if (json_is_null(doc)) continue; /* empty document */
        int line = (i + 1) * sizeof(int) <= lines.len ? ((int *)(void *)lines.data)[i] : 0;
        if ((rc = add_doc(out, path, (int)i, line, doc, err))) break;
    }
    fm_buf_free(&lines);
    json_decref(docs);
    return rc;
}

static int manifest_file(const struct dirent *e) {
    return e->d_name[0] != '.' && (has_ext(e->d_name, ".yaml") || has_ext(e->d_name, ".yml") || has_ext(e->d_name, ".json"));
}

int fm_manifest_load_dir(const char *dir, fm_manifest_set *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    struct dirent **list;
    int n = scandir(dir, &list, manifest_file, alphasort);
    if (n < 0) return fm_fail(err, FM_E_NOT_FOUND, "%s: %s", dir, strerror(errno));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
            rc = fm_manifest_load_file(path, out, err);
        }
        free(list[i]);
    }
    free(list);
    if (rc) fm_manifest_set_free(out);
    return rc;
}

void fm_manifest_set_free(fm_manifest_set *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->docs[i].file);
        free(s->docs[i].kind);
        json_decref(s->docs[i].doc);
    }
    free(s->docs);
    s->docs = NULL;
    s->n = 0;
}

char *fm_secret_value(json_t *secret_doc, const char *key) {
    json_t *v = json_object_get(json_object_get(secret_doc, "stringData"), key);
    if (json_is_string(v)) return fm_xstrdup(json_string_value(v));
    v = json_object_get(json_object_get(secret_doc, "data"), key);
    if (json_is_string(v)) return fm_b64decode(json_string_value(v), NULL);
    return NULL;
}
