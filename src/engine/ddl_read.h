#ifndef FM_DDL_READ_H
#define FM_DDL_READ_H
#include <duckdb.h>

#include "base/err.h"
#include "model/ddl.h"

/* Reading a table as it is (ddl_read.c). fm_ddl_read_columns fills a malloc'd array of the
 * table's columns in order (canonical types, as DuckDB prints them); *n = 0 and FM_E_NOT_FOUND
 * when the table does not exist. fm_ddl_read_partition returns the malloc'd partition clause
 * in fm_ddl_partition_clause's form, or NULL when unpartitioned (or on error, with err set);
 * metadata_schema is the catalog's METADATA_SCHEMA (Postgres) or NULL for the default. */
int fm_ddl_read_columns(duckdb_connection con, const char *catalog, const char *table, fm_current_column **cols,
                        size_t *n, fm_err *err);
void fm_ddl_free_columns(fm_current_column *cols, size_t n);
char *fm_ddl_read_partition(duckdb_connection con, const char *catalog, const char *metadata_schema, const char *table,
                            fm_err *err);
#endif
