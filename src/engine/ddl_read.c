/* Reading a DuckLake table as it is now (contract in ddl.h): its columns from duckdb_columns(),
 * its partitioning from DuckLake's own metadata tables, which the ducklake extension exposes as
 * the hidden catalog "__ducklake_metadata_<catalog>" (there is no table function for it); a
 * Postgres catalog may keep that metadata in a METADATA_SCHEMA of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "engine/ddl_read.h"
#include "model/sqlquote.h"
#include "base/xalloc.h"

static int run(duckdb_connection con, const char *sql, duckdb_result *res, fm_err *err) {
    if (duckdb_query(con, sql, res) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "%s", duckdb_result_error(res));
        duckdb_destroy_result(res);
        return -1;
    }
    return 0;
}

int fm_ddl_read_columns(duckdb_connection con, const char *catalog, const char *table, fm_current_column **cols,
                        size_t *n, fm_err *err) {
    *cols = NULL;
    *n = 0;
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE database_name = ");
    int bad = fm_sql_literal(&sql, catalog, err);
    fm_buf_puts(&sql, " AND schema_name = 'main' AND table_name = ");
    bad = bad || fm_sql_literal(&sql, table, err);
    fm_buf_puts(&sql, " ORDER BY column_index");
    duckdb_result res;
    if (bad || run(con, sql.data, &res, err)) {
        fm_buf_free(&sql);
        return -1;
    }
    fm_buf_free(&sql);
    idx_t rows = duckdb_row_count(&res);
    if (rows == 0) {
        duckdb_destroy_result(&res);
        return fm_fail(err, FM_E_NOT_FOUND, "table %s does not exist in catalog %s", table, catalog);
    }
    fm_current_column *c = fm_xcalloc(rows, sizeof *c);
    for (idx_t i = 0; i < rows; i++) {
        char *name = duckdb_value_varchar(&res, 0, i), *type = duckdb_value_varchar(&res, 1, i);
        c[i].name = fm_xstrdup(name);
        c[i].type = fm_xstrdup(type);
        c[i].nullable = duckdb_value_boolean(&res, 2, i);
        duckdb_free(name);
        duckdb_free(type);
    }
    duckdb_destroy_result(&res);
    *cols = c;
    *n = rows;
    return 0;
}

void fm_ddl_free_columns(fm_current_column *cols, size_t n) {
    for (size_t i = 0; cols && i < n; i++) {
        free((char *)cols[i].name);
        free((char *)cols[i].type);
    }
    free(cols);
}

/* appends "__ducklake_metadata_<catalog>".["<schema>".] — the ducklake extension attaches the
 * metadata store under that hidden name (not listed in duckdb_databases()) */
static int metadata_prefix(const char *catalog, const char *schema, fm_buf *out, fm_err *err) {
    fm_buf meta;
    fm_buf_init(&meta);
    fm_buf_printf(&meta, "__ducklake_metadata_%s", catalog);
    int rc = fm_sql_ident(out, meta.data, "catalog name", err);
    fm_buf_putc(out, '.');
    if (!rc && schema) {
        rc = fm_sql_ident(out, schema, "metadata schema", err);
        fm_buf_putc(out, '.');
    }
    fm_buf_free(&meta);
    return rc ? -1 : 0;
}

char *fm_ddl_read_partition(duckdb_connection con, const char *catalog, const char *metadata_schema, const char *table,
                            fm_err *err) {
    fm_buf m, sql, out;
    fm_buf_init(&m);
    fm_buf_init(&sql);
    fm_buf_init(&out);
    char *ret = NULL;
    if (metadata_prefix(catalog, metadata_schema, &m, err)) goto done;
    const char *p = m.data;
    fm_buf_printf(&sql,
                  "SELECT pc.transform, c.column_name FROM %sducklake_partition_info pi "
                  "JOIN %sducklake_table t ON t.table_id = pi.table_id AND t.end_snapshot IS NULL "
                  "JOIN %sducklake_schema s ON s.schema_id = t.schema_id AND s.end_snapshot IS NULL "
                  "JOIN %sducklake_partition_column pc ON pc.partition_id = pi.partition_id AND pc.table_id = pi.table_id "
                  "JOIN %sducklake_column c ON c.column_id = pc.column_id AND c.table_id = pi.table_id "
                  "AND c.end_snapshot IS NULL "
                  "WHERE pi.end_snapshot IS NULL AND s.schema_name = 'main' AND t.table_name = ",
                  p, p, p, p, p);
    if (fm_sql_literal(&sql, table, err)) goto done;
    fm_buf_puts(&sql, " ORDER BY pc.partition_key_index");
    duckdb_result res;
    if (run(con, sql.data, &res, err)) goto done;
    idx_t rows = duckdb_row_count(&res);
    int bad = 0;
    fm_buf_putc(&out, '(');
    for (idx_t i = 0; i < rows && !bad; i++) {
        char *tr = duckdb_value_varchar(&res, 0, i), *col = duckdb_value_varchar(&res, 1, i);
        int buckets;
        if (i) fm_buf_puts(&out, ", ");
        if (strcmp(tr, "identity") == 0) {
            bad = fm_sql_ident(&out, col, "column name", err);
        } else if (sscanf(tr, "bucket(%d)", &buckets) == 1) {
            fm_buf_printf(&out, "bucket(%d, ", buckets);
            bad = fm_sql_ident(&out, col, "column name", err);
            fm_buf_putc(&out, ')');
        } else if (!strcmp(tr, "year") || !strcmp(tr, "month") || !strcmp(tr, "day") || !strcmp(tr, "hour")) {
            fm_buf_printf(&out, "%s(", tr);
            bad = fm_sql_ident(&out, col, "column name", err);
            fm_buf_putc(&out, ')');
        } else {
            bad = fm_fail(err, FM_E_INVALID, "table %s has a partition transform featherman does not know: %s", table, tr);
        }
        duckdb_free(tr);
        duckdb_free(col);
    }
    duckdb_destroy_result(&res);
    fm_buf_putc(&out, ')');
    if (!bad && rows) ret = fm_buf_steal(&out);
    else if (!bad && err) fm_err_clear(err);
done:
    fm_buf_free(&m);
    fm_buf_free(&sql);
    fm_buf_free(&out);
    return ret;
}
