/* A catalog whose stored DuckLake data path differs from this start's (lake_open.h). */
#include "engine/lake_open.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "model/sqlquote.h"

/* DuckLake: DATA_PATH parameter "<given>" does not match existing data path in the catalog "<stored>". */
#define GIVEN "DATA_PATH parameter \""
#define STORED "\" does not match existing data path in the catalog \""

int fm_lake_parse_mismatch(const char *msg, char **given, char **stored) {
    const char *g = msg ? strstr(msg, GIVEN) : NULL;
    const char *mid = g ? strstr(g, STORED) : NULL;
    const char *s = mid ? mid + strlen(STORED) : NULL;
    const char *end = s ? strstr(s, "\".") : NULL;
    if (!end) return -1;
    g += strlen(GIVEN);
    *given = fm_xstrndup(g, (size_t)(mid - g));
    *stored = fm_xstrndup(s, (size_t)(end - s));
    return 0;
}

/* the metadata file, when it is a file (engine.h: spec.metadata.path or <state>/<catalog>/metadata.*) */
static char *metadata_file(const fm_engine_config *cfg) {
    const fm_catalog_spec *c = cfg->catalog;
    if (!strcmp(c->metadata_type, "postgres")) return NULL;
    if (c->metadata_path) return fm_host_path(c->metadata_path);
    return fm_xasprintf("%s/%s/metadata.%s", cfg->state_dir, c->name,
                        !strcmp(c->metadata_type, "sqlite") ? "sqlite" : "ducklake");
}

/* stored ends in "<catalog>/data/" at a component boundary: laid out by featherman */
static int featherman_layout(const char *stored, const char *catalog) {
    size_t n = strlen(stored), k = strlen(catalog) + strlen("/data/");
    if (n < k) return 0;
    const char *tail = stored + n - k;
    return !strncmp(tail, catalog, strlen(catalog)) && !strcmp(tail + strlen(catalog), "/data/") &&
           (tail == stored || tail[-1] == '/');
}

static int same_dir(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && S_ISDIR(sa.st_mode) && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* the one repair: nothing else in the metadata store is touched */
static int rewrite_stored(const fm_engine_config *cfg, const char *file, const char *stored, const char *want,
                          fm_err *err) {
    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    duckdb_config dc = NULL;
    int sqlite = !strcmp(cfg->catalog->metadata_type, "sqlite");
    int rc = -1;
    if (duckdb_create_config(&dc) == DuckDBError || duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR) ||
        duckdb_set_config(dc, "autoinstall_known_extensions", "false") ||
        duckdb_open_ext(NULL, &db, dc, NULL) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot start DuckDB to update the stored data path");
        goto out;
    }
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "ATTACH ");
    fm_sql_literal(&sql, file, NULL);
    fm_buf_puts(&sql, sqlite ? " AS fm_meta (TYPE sqlite)" : " AS fm_meta");
    if (!(sqlite && fm_exec(con, "LOAD sqlite", err)) && !fm_exec(con, sql.data, err)) {
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "UPDATE fm_meta.ducklake_metadata SET value = ");
        fm_sql_literal(&sql, want, NULL);
        fm_buf_puts(&sql, " WHERE key = 'data_path' AND value = ");
        fm_sql_literal(&sql, stored, NULL);
        duckdb_result res;
        if (duckdb_query(con, sql.data, &res) == DuckDBError) {
            fm_fail(err, FM_E_INTERNAL, "cannot update the stored data path in %s: %s", file, duckdb_result_error(&res));
        } else if (duckdb_rows_changed(&res) != 1) {
            fm_fail(err, FM_E_INTERNAL, "%s: the stored data path changed while it was being updated", file);
        } else {
            rc = 0;
        }
        duckdb_destroy_result(&res);
    }
    fm_buf_free(&sql);
out:
    if (con) duckdb_disconnect(&con);
    if (db) duckdb_close(&db);
    if (dc) duckdb_destroy_config(&dc);
    return rc;
}

/* why the stored path cannot be repaired here, and what to do */
static int explain(const char *stored, const char *want, fm_err *err) {
    if (strstr(stored, "://") || strstr(want, "://"))
        return fm_fail(err, FM_E_INVALID,
                       "the catalog was created with its data at \"%s\", and its spec now gives \"%s\": "
                       "spec.objectStore (bucket, prefix) must name where the catalog's data is",
                       stored, want);
    if (stored[0] != '/')
        return fm_fail(err, FM_E_INVALID,
                       "the catalog's metadata stores the relative data path \"%s\" (written by an older featherman; "
                       "DuckLake reads it against the current directory), and this start uses \"%s\". With "
                       "featherman stopped, set the stored path to the absolute path of that data directory in the "
                       "metadata store (UPDATE ducklake_metadata SET value = '/…/data/' WHERE key = 'data_path'), "
                       "then start again",
                       stored, want);
    return fm_fail(err, FM_E_INVALID,
                   "the catalog was created with its data at \"%s\", and this start would use \"%s\": start with "
                   "the --state it was created with (if the data directory was moved, set the stored path in the "
                   "metadata store: UPDATE ducklake_metadata SET value = '%s' WHERE key = 'data_path')",
                   stored, want, want);
}

/* 1: repaired; 0: not repairable (err explains); -1: the repair failed */
static int repair(const fm_engine_config *cfg, const char *want, const char *stored, fm_err *err) {
    const fm_catalog_spec *c = cfg->catalog;
    char *file = metadata_file(cfg);
    int ok = 0;
    /* a read-only start changes nothing, not even this */
    if (file && !c->has_object_store && !cfg->read_only) {
        if (stored[0] == '/') ok = same_dir(stored, want);
        else ok = !c->metadata_path && !strstr(stored, "://") && featherman_layout(stored, c->name);
    }
    int rc = 0;
    if (!ok) {
        explain(stored, want, err);
    } else if (rewrite_stored(cfg, file, stored, want, err)) {
        rc = -1;
    } else {
        fm_warn("catalog %s: the data path stored in its metadata was \"%s\"%s; it is now \"%s\"", c->name, stored,
                stored[0] == '/' ? " (the same directory)" : " (relative, from an older featherman)", want);
        rc = 1;
    }
    free(file);
    return rc;
}

int fm_lake_open(fm_engine **out, const fm_engine_config *cfg, fm_err *err) {
    fm_err first;
    fm_err_clear(&first);
    if (!fm_engine_open(out, cfg, &first)) return 0;
    char *given = NULL, *stored = NULL;
    if (fm_lake_parse_mismatch(first.msg, &given, &stored)) {
        if (err) *err = first;
        return -1;
    }
    int rc = repair(cfg, given, stored, err);
    free(given);
    free(stored);
    if (rc == 1) return fm_engine_open(out, cfg, err);
    return -1;
}
