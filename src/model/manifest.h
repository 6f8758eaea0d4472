/* Reading manifests for `featherman local`: every *.yaml / *.yml / *.json file of a directory
 * (sorted by name, not recursive), each possibly holding several YAML documents separated by
 * `---`, converted to JSON (jansson) with YAML 1.2 core scalar typing (unquoted true/false, null,
 * integers and floats become JSON scalars; quoted scalars stay strings). Documents that are empty
 * are skipped. A syntax error names the file and line. Kinds other than DuckLakeCatalog,
 * DuckLakeTable, DuckLakePool and v1 Secret are refused with a message naming file and kind. */
#ifndef FM_MANIFEST_H
#define FM_MANIFEST_H
#include <jansson.h>
#include <stddef.h>

#include "base/err.h"

typedef struct {
    char *file;   /* path of the file it came from */
    int index;    /* 0-based document index within the file */
    char *kind;   /* "DuckLakeCatalog" | "DuckLakeTable" | "DuckLakePool" | "Secret" */
    json_t *doc;  /* the whole document (owned reference) */
} fm_manifest_doc;

typedef struct {
    fm_manifest_doc *docs;
    size_t n;
} fm_manifest_set;

int fm_manifest_load_dir(const char *dir, fm_manifest_set *out, fm_err *err);
int fm_manifest_load_file(const char *path, fm_manifest_set *out, fm_err *err); /* appends */
void fm_manifest_set_free(fm_manifest_set *s);

/* A v1 Secret document's value for key (data is base64, stringData plain; stringData wins),
 * malloc'd, or NULL when the key is absent. */
char *fm_secret_value(json_t *secret_doc, const char *key);
#endif
