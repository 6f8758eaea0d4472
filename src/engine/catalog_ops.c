/* Catalog operations shared by `worker job` and `local` (see catalog_ops.h). */
#include "engine/catalog_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "engine/ddl_read.h"
#include "base/log.h"
#include "model/sqlquote.h"

/* "catalog"."table" in the catalog's default schema */
static int qualified(fm_buf *b, const char *catalog, const char *table, fm_err *err) {
    if (fm_sql_ident(b, catalog, "catalog name", err)) return -1;
    fm_buf_puts(b, ".main.");
    return fm_sql_ident(b, table, "table name", err);
}

/* runs a query whose first row's columns are integers; fills vals (missing → 0) */
static int query_ints(duckdb_connection con, const char *sql, long long *vals, int n, fm_err *err) {
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "%s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    for (int i = 0; i < n; i++)
        vals[i] = duckdb_row_count(&res) > 0 && (idx_t)i < duckdb_column_count(&res) ? duckdb_value_int64(&res, (idx_t)i, 0) : 0;
    duckdb_destroy_result(&res);
    return 0;
}

static long long snapshot_id(fm_engine *e, fm_err *err) {
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "SELECT id FROM ducklake_current_snapshot(");
    fm_sql_literal(&sql, fm_engine_catalog(e), err);
    fm_buf_puts(&sql, ")");
    long long v = -1;
    if (query_ints(fm_engine_admin(e), sql.data, &v, 1, err)) v = -1;
    fm_buf_free(&sql);
    return v;
}

/* one LIST of the data prefix: attaching does not touch the object store, so without this a dead
 * endpoint or wrong credentials would only show at the first write */
static int probe_store(fm_engine *e, fm_err *err) {
    const char *data = fm_engine_data_path(e);
    if (strncmp(data, "s3://", 5) != 0) return 0;
    fm_buf sql, glob;
    fm_buf_init(&sql);
    fm_buf_init(&glob);
    fm_buf_printf(&glob, "%s*", data);
    fm_buf_puts(&sql, "SELECT count(*) FROM glob(");
    int rc = fm_sql_literal(&sql, glob.data, err);
    fm_buf_puts(&sql, ")");
    fm_err qe;
    fm_err_clear(&qe);
    if (!rc && fm_exec(fm_engine_admin(e), sql.data, &qe))
        rc = fm_fail(err, FM_E_UNAVAILABLE, "objectStore: cannot list %s: %s", data, qe.msg);
    fm_buf_free(&sql);
    fm_buf_free(&glob);
    return rc;
}

int fm_catalog_init(fm_engine *e, const fm_catalog_spec *c, json_t **report, fm_err *err) {
    duckdb_connection con = fm_engine_admin(e);
    fm_buf sql;
    fm_buf_init(&sql);
    int rc = 0;
    if (probe_store(e, err)) return -1;
    if (c->data_inlining_row_limit >= 0) {
        fm_buf_puts(&sql, "CALL ");
        fm_sql_ident(&sql, c->name, "catalog name", NULL);
        fm_buf_printf(&sql, ".set_option('data_inlining_row_limit', %ld)", c->data_inlining_row_limit);
        rc = fm_exec(con, sql.data, err);
    }
    fm_buf_free(&sql);
    if (rc) return -1;

    json_t *r = json_object();
    json_object_set_new(r, "catalog", json_string(c->name));
    json_object_set_new(r, "engineVersion", json_string(duckdb_library_version()));
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "SELECT value FROM ducklake_options(");
    fm_sql_literal(&sql, c->name, NULL);
    fm_buf_puts(&sql, ") WHERE option_name = 'version'");
    char *ver = fm_query_string(con, sql.data, NULL);
    json_object_set_new(r, "formatVersion", ver ? json_string(ver) : json_null());
    free(ver);
    long long snap = snapshot_id(e, NULL);
    json_object_set_new(r, "snapshotId", json_integer(snap));
    json_object_set_new(r, "dataPath", json_string(fm_engine_data_path(e)));
    json_object_set_new(r, "metadata", json_string(fm_engine_metadata_location(e)));
    fm_buf_reset(&sql);
    fm_buf_puts(&sql, "SELECT table_name FROM duckdb_tables() WHERE database_name = ");
    fm_sql_literal(&sql, c->name, NULL);
    fm_buf_puts(&sql, " ORDER BY table_name");
    json_t *tables = json_array();
    duckdb_result res;
    if (duckdb_query(con, sql.data, &res) == DuckDBSuccess) {
        for (idx_t i = 0; i < duckdb_row_count(&res); i++) {
            char *t = duckdb_value_varchar(&res, 0, i);
            json_array_append_new(tables, json_string(t));
            duckdb_free(t);
        }
    }
    duckdb_destroy_result(&res);
    json_object_set_new(r, "tableCount", json_integer((json_int_t)json_array_size(tables)));
    json_object_set_new(r, "tables", tables);
    fm_buf_free(&sql);
    *report = r;
    return 0;
}

int fm_catalog_table_report(fm_engine *e, const char *table, json_t **report, fm_err *err) {
    duckdb_connection con = fm_engine_admin(e);
    const char *cat = fm_engine_catalog(e);
    fm_current_column *cols = NULL;
    size_t ncols = 0;
    if (fm_ddl_read_columns(con, cat, table, &cols, &ncols, err)) return -1;
    json_t *r = json_object();
    json_object_set_new(r, "table", json_string(table));
    json_t *jc = json_array();
    for (size_t i = 0; i < ncols; i++) {
        json_t *c = json_object();
        json_object_set_new(c, "name", json_string(cols[i].name));
        json_object_set_new(c, "type", json_string(cols[i].type));
        json_object_set_new(c, "nullable", json_boolean(cols[i].nullable));
        json_array_append_new(jc, c);
    }
    fm_ddl_free_columns(cols, ncols);
    json_object_set_new(r, "columns", jc);
    char *part = fm_ddl_read_partition(con, cat, fm_engine_metadata_schema(e), table, NULL);
    json_object_set_new(r, "partitioning", part ? json_string(part) : json_null());
    free(part);
    json_object_set_new(r, "snapshotId", json_integer(snapshot_id(e, NULL)));

    fm_buf sql;
    fm_buf_init(&sql);
    long long v[2] = {0, 0};
    fm_buf_puts(&sql, "SELECT count(*) FROM ");
    if (!qualified(&sql, cat, table, err) && !query_ints(con, sql.data, v, 1, err))
        json_object_set_new(r, "rowCount", json_integer(v[0]));
    fm_buf_reset(&sql);
    fm_buf_puts(&sql, "SELECT count(*), coalesce(sum(data_file_size_bytes), 0) FROM ducklake_list_files(");
    fm_sql_literal(&sql, cat, NULL);
    fm_buf_puts(&sql, ", ");
    fm_sql_literal(&sql, table, NULL);
    fm_buf_puts(&sql, ")");
    if (!query_ints(con, sql.data, v, 2, NULL)) {
        json_object_set_new(r, "fileCount", json_integer(v[0]));
        json_object_set_new(r, "bytes", json_integer(v[1]));
    }
    fm_buf_free(&sql);
    *report = r;
    return 0;
}

int fm_catalog_apply_table(fm_engine *e, const fm_table_spec *t, json_t **report, fm_err *err) {
    duckdb_connection con = fm_engine_admin(e);
    const char *cat = fm_engine_catalog(e);
    fm_buf q, sql;
    fm_buf_init(&q);
    fm_buf_init(&sql);
    int rc = -1;
    const char *action = "unchanged";
    if (qualified(&q, cat, t->table, err)) goto out;

    fm_current_column *cols = NULL;
    size_t ncols = 0;
    fm_err probe;
    fm_err_clear(&probe);
    int exists = fm_ddl_read_columns(con, cat, t->table, &cols, &ncols, &probe) == 0 && ncols > 0;
    if (!exists) {
        fm_ddl_free_columns(cols, ncols);
        if (fm_ddl_create(&sql, q.data, t, err)) goto out;
        action = "created";
    } else {
        char *part = fm_ddl_read_partition(con, cat, fm_engine_metadata_schema(e), t->table, NULL);
        int prc = fm_ddl_plan(&sql, q.data, t, cols, ncols, part, err);
        free(part);
        fm_ddl_free_columns(cols, ncols);
        if (prc) goto out;
        if (sql.len) action = "altered";
    }
    if (sql.len) {
        /* one transaction: a failing statement leaves the table as it was */
        if (fm_exec(con, "BEGIN", err)) goto out;
        if (fm_exec(con, sql.data, err)) {
            fm_err ignored;
            fm_exec(con, "ROLLBACK", &ignored);
            goto out;
        }
        if (fm_exec(con, "COMMIT", err)) goto out;
    }
    if (t->compression) {
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "CALL ");
        fm_sql_ident(&sql, cat, "catalog name", NULL);
        fm_buf_puts(&sql, ".set_option('parquet_compression', ");
        char lower[32];
        size_t i = 0;
        for (; t->compression[i] && i < sizeof lower - 1; i++) lower[i] = (char)(t->compression[i] | 0x20);
        lower[i] = 0;
        fm_sql_literal(&sql, lower, NULL);
        fm_buf_puts(&sql, ", table_name => ");
        fm_sql_literal(&sql, t->table, NULL);
        fm_buf_puts(&sql, ")");
        if (fm_exec(con, sql.data, err)) goto out;
    }
    if (fm_catalog_table_report(e, t->table, report, err)) goto out;
    json_object_set_new(*report, "action", json_string(action));
    fm_info("table %s.%s %s", cat, t->table, action);
    rc = 0;
out:
    fm_buf_free(&q);
    fm_buf_free(&sql);
    return rc;
}

char *fm_catalog_materialize_dest(const fm_table_spec *t, const char *state_dir) {
    fm_buf b;
    fm_buf_init(&b);
    const char *prefix = t->materialize.dest_prefix ? t->materialize.dest_prefix : "";
    while (*prefix == '/') prefix++;
    if (t->materialize.dest_bucket) fm_buf_printf(&b, "s3://%s/%s", t->materialize.dest_bucket, prefix);
    else fm_buf_printf(&b, "%s/exports/%s/%s", state_dir, t->name, prefix);
    if (b.data[b.len - 1] != '/') fm_buf_putc(&b, '/');
    return fm_buf_steal(&b);
}

int fm_catalog_materialize(fm_engine *e, duckdb_connection con, const fm_table_spec *t, const char *dest_uri, json_t **report,
                      fm_err *err) {
    if (!t->materialize.sql) return fm_fail(err, FM_E_INVALID, "spec.materializeTo.sql is required");
    /* the user's SQL is embedded in our COPY: it must be exactly one SELECT */
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(con, t->materialize.sql, &st);
    int ok = 0;
    if (n == 1) {
        duckdb_prepared_statement p = NULL;
        if (duckdb_prepare_extracted_statement(con, st, 0, &p) == DuckDBSuccess)
            ok = duckdb_prepared_statement_type(p) == DUCKDB_STATEMENT_TYPE_SELECT;
        else
            fm_fail(err, FM_E_INVALID, "materializeTo.sql: %s", duckdb_prepare_error(p));
        duckdb_destroy_prepare(&p);
        if (!ok && err && !err->msg[0]) fm_fail(err, FM_E_INVALID, "materializeTo.sql must be a single SELECT statement");
    } else {
        const char *m = n == 0 && st ? duckdb_extract_statements_error(st) : NULL;
        fm_fail(err, FM_E_INVALID, "materializeTo.sql must be a single SELECT statement%s%s", m ? ": " : "", m ? m : "");
    }
    duckdb_destroy_extracted(&st);
    if (!ok) return -1;
    if (fm_sqlguard_check_sql(fm_engine_guard(e), con, FM_SCOPE_READ, t->materialize.sql, err)) return -1;

    fm_buf file, sql;
    fm_buf_init(&file);
    fm_buf_init(&sql);
    fm_buf_printf(&file, "%s%s", dest_uri, t->table);
    int append = t->materialize.mode && !strcmp(t->materialize.mode, "append");
    if (append) {
        char stamp[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof stamp, "-%Y%m%dT%H%M%SZ", &tm);
        fm_buf_puts(&file, stamp);
    }
    fm_buf_puts(&file, ".parquet");
    fm_buf_puts(&sql, "COPY (\n");
    fm_buf_puts(&sql, t->materialize.sql);
    fm_buf_puts(&sql, "\n) TO ");
    fm_sql_literal(&sql, file.data, NULL);
    fm_buf_puts(&sql, " (FORMAT parquet, COMPRESSION ");
    fm_sql_literal(&sql, t->materialize.compression ? t->materialize.compression : "zstd", NULL);
    fm_buf_puts(&sql, ")");
    long long rows = 0;
    int rc = query_ints(con, sql.data, &rows, 1, err);
    if (rc == 0) {
        json_t *r = json_object();
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_object_set_new(r, "time", json_string(when));
        json_object_set_new(r, "rows", json_integer(rows));
        json_object_set_new(r, "files", json_integer(1));
        json_object_set_new(r, "location", json_string(file.data));
        *report = r;
    } else if (err) {
        char copy[sizeof err->msg];
        snprintf(copy, sizeof copy, "%s", err->msg);
        fm_fail(err, err->code, "materializeTo.sql failed: %s", copy);
    }
    fm_buf_free(&file);
    fm_buf_free(&sql);
    return rc;
}

/* rows of a CALL, counted (the cleanup functions return one row per file removed) */
static long long call_count(duckdb_connection con, const char *sql, fm_err *err) {
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "%s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return -1;
    }
    long long n = (long long)duckdb_row_count(&res);
    duckdb_destroy_result(&res);
    return n;
}

/* expire every old snapshot and delete the files no snapshot references any more */
static long long purge_files(fm_engine *e, fm_err *err) {
    const char *cat = fm_engine_catalog(e);
    duckdb_connection con = fm_engine_admin(e);
    fm_buf sql;
    fm_buf_init(&sql);
    long long removed = 0, n;
    const char *calls[] = {"ducklake_expire_snapshots(%s, older_than => now())",
                           "ducklake_cleanup_old_files(%s, cleanup_all => true)",
                           "ducklake_delete_orphaned_files(%s, cleanup_all => true)"};
    for (int i = 0; i < 3 && removed >= 0; i++) {
        fm_buf lit;
        fm_buf_init(&lit);
        fm_sql_literal(&lit, cat, NULL);
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "CALL ");
        fm_buf_printf(&sql, calls[i], lit.data);
        fm_buf_free(&lit);
        n = call_count(con, sql.data, err);
        if (n < 0) removed = -1;
        else if (i > 0) removed += n;
    }
    fm_buf_free(&sql);
    return removed;
}

int fm_catalog_drop_table(fm_engine *e, const char *table, json_t **report, fm_err *err) {
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "DROP TABLE IF EXISTS ");
    int rc = qualified(&sql, fm_engine_catalog(e), table, err);
    if (!rc) rc = fm_exec(fm_engine_admin(e), sql.data, err);
    fm_buf_free(&sql);
    if (rc) return -1;
    *report = json_pack("{s:s, s:s, s:I}", "table", table, "action", "dropped", "snapshotId",
                        (json_int_t)snapshot_id(e, NULL));
    fm_info("table %s.%s dropped (its files go with the catalog's next cleanup)", fm_engine_catalog(e), table);
    return 0;
}

int fm_catalog_destroy(fm_engine *e, json_t **report, fm_err *err) {
    const char *cat = fm_engine_catalog(e);
    duckdb_connection con = fm_engine_admin(e);
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "SELECT table_name FROM duckdb_tables() WHERE database_name = ");
    fm_sql_literal(&sql, cat, NULL);
    duckdb_result res;
    if (duckdb_query(con, sql.data, &res) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "%s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        fm_buf_free(&sql);
        return -1;
    }
    json_t *dropped = json_array();
    int rc = 0;
    for (idx_t i = 0; i < duckdb_row_count(&res) && !rc; i++) {
        char *t = duckdb_value_varchar(&res, 0, i);
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "DROP TABLE ");
        rc = qualified(&sql, cat, t, err) || fm_exec(con, sql.data, err);
        if (!rc) json_array_append_new(dropped, json_string(t));
        duckdb_free(t);
    }
    duckdb_destroy_result(&res);
    fm_buf_free(&sql);
    long long removed = rc ? -1 : purge_files(e, err);
    if (rc || removed < 0) {
        json_decref(dropped);
        return -1;
    }
    *report = json_pack("{s:s, s:s, s:o, s:I, s:s}", "catalog", cat, "action", "destroyed", "tablesDropped", dropped,
                        "filesRemoved", (json_int_t)removed, "dataPath", fm_engine_data_path(e));
    fm_info("catalog %s destroyed: %zu tables dropped, %lld files removed", cat, json_array_size(dropped), removed);
    return 0;
}
