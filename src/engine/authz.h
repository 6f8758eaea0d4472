/* Authorization of user SQL on DuckDB's own parse, by allowlist.
 *
 * Every statement of a request is described by sqlparse.h from the very parse tree DuckDB will
 * bind, and runs only if everything in it is allowed for the caller's scope:
 *
 *   statement types   read:  SELECT (also DESCRIBE, SHOW TABLES, SUMMARIZE, which DuckDB parses
 *                            as SELECT), CALL of an allowed table function, transaction control
 *                            (BEGIN/COMMIT/ROLLBACK: DuckDB itself splits some statements into
 *                            such sequences);
 *                     write: + INSERT, UPDATE, DELETE, MERGE INTO lake tables;
 *                     admin: + CREATE / ALTER / DROP of lake tables, views and schemas, never of
 *                            the catalog's default schema "main" (the server cannot start
 *                            without it), never TEMP.
 *                     EXPLAIN and EXPLAIN ANALYZE need what the explained statement needs.
 *                     Everything else — COPY, EXPORT, ATTACH, DETACH, LOAD, INSTALL, SET/RESET
 *                     (incl. SET VARIABLE), PREPARE, EXECUTE, PRAGMA, VACUUM, ANALYZE,
 *                     CREATE SECRET / MACRO / FUNCTION / TYPE / SEQUENCE / INDEX, CREATE TEMP,
 *                     COPY DATABASE, UPDATE EXTENSIONS — never runs through the query API.
 *                     CREATE TYPE is refused too: DuckLake keeps no user types, so it could only
 *                     create a connection- or memory-local object that outlives the request.
 *   table functions   an explicit allowlist: range, generate_series, unnest, repeat; the lake's
 *                     read functions (ducklake_snapshots, ducklake_table_info,
 *                     ducklake_table_changes/insertions/deletions, ducklake_current_snapshot,
 *                     ducklake_last_committed_snapshot); JSON's json_each/json_tree; and the
 *                     duckdb_* introspection that shows names and types only (tables, columns,
 *                     views, schemas, constraints, types, indexes, functions, keywords). These
 *                     list the names of every attached catalog's objects, the metadata
 *                     catalog's included, never their contents. Not allowed, for what they
 *                     leak or reach: duckdb_settings/databases/secrets/extensions/
 *                     temporary_files (paths, endpoints, key ids), duckdb_logs/variables/
 *                     prepared_statements (other clients' SQL and state), every file reader,
 *                     glob, scanner (sqlite_*, postgres_*), query/query_table, pragma_*, the
 *                     lake's maintenance (ducklake_cleanup_old_files, expire_snapshots,
 *                     merge_adjacent_files, add_data_files, set_option, ...), enable_logging,
 *                     checkpoint. ducklake_flush_inlined_data (moves inlined rows into
 *                     Parquet files, keeps every row and snapshot) needs the admin scope.
 *   other functions   an allowlist computed at start-up (fm_authz_snapshot_functions): every
 *                     scalar, aggregate, window function and macro DuckDB has built in, before
 *                     any extension is loaded, that duckdb_functions() marks free of side
 *                     effects; plus random/uuid-style generators and error(); minus getenv,
 *                     current_setting (settings hold paths and endpoints), write_log, sleep_ms,
 *                     pg_sleep, nextval/currval/setseed (state that outlives a request),
 *                     json_serialize_plan (binds the SQL text it is given, out of sight).
 *                     An allowlist, not a denylist: every function an extension adds (the
 *                     scanners, httpfs, ducklake, anything loaded later) is refused without
 *                     anyone having to list it, where a denylist would fail open on each. The
 *                     list is computed from the running DuckDB rather than written out so the
 *                     hundreds of pure built-ins (string, math, date, list, JSON) keep working;
 *                     the price is that a DuckDB upgrade admits its new side-effect-free
 *                     built-ins unreviewed — the deny list above is what to revisit then.
 *   catalogs          tables, views and write targets must be the lake's: a catalog
 *                     qualifier other than the lake's name, a schema qualifier naming another
 *                     catalog (system, temp, memory, __ducklake_metadata_<lake>, whatever
 *                     fm_authz_snapshot_catalogs saw attached), information_schema, pg_catalog,
 *                     and the system views (duckdb_settings, pg_settings, duckdb_logs, ...)
 *                     except those mirroring an allowed function are refused. A table name
 *                     containing '.', '/', '\' or ':' is refused: when no such table exists
 *                     DuckDB reads it as a file (replacement scan).
 *   SHOW              SHOW TABLES and SHOW ALL TABLES only (SHOW DATABASES, SHOW VARIABLES list
 *                     other catalogs and connection state; SHOW <name> is DESCRIBE <name>).
 *   PIVOT             only with an explicit IN list: without one DuckDB runs it as a
 *                     CREATE TEMP TYPE of the pivot values first, a connection-local object.
 *
 * Errors are FM_E_REFUSED with a message naming what was refused and, where a wider scope
 * would allow it, the scope needed: "COPY is not allowed through the query API",
 * "function sqlite_scan is not allowed through the query API", "DROP needs the admin scope". */
#ifndef FM_AUTHZ_H
#define FM_AUTHZ_H
#include <duckdb.h>

#include "base/err.h"
#include "engine/sqlparse.h"

typedef enum { FM_SCOPE_READ = 1, FM_SCOPE_WRITE = 2, FM_SCOPE_ADMIN = 3 } fm_scope;

const char *fm_scope_name(fm_scope s);

typedef struct fm_authz fm_authz;

/* lake: the catalog's attach name, the only catalog user SQL may reach */
fm_authz *fm_authz_new(const char *lake);
/* The allowlist of non-table functions: those known on con right now (call it on a fresh
 * database before any extension is loaded) without side effects, with the adjustments above. */
int fm_authz_snapshot_functions(fm_authz *a, duckdb_connection con, fm_err *err);
/* The catalogs other than the lake and the system views, as attached on con right now (call
 * it after the lake is attached). */
int fm_authz_snapshot_catalogs(fm_authz *a, duckdb_connection con, fm_err *err);
/* 0 if the statement may run with scope; -1 with FM_E_REFUSED otherwise */
int fm_authz_check(const fm_authz *a, fm_scope scope, const fm_sqlstmt *s, fm_err *err);
/* describes statement i of stmts (before it is prepared) and checks it */
int fm_authz_check_extracted(const fm_authz *a, fm_scope scope, duckdb_extracted_statements stmts, idx_t i,
                             fm_err *err);
void fm_authz_free(fm_authz *a);
#endif
