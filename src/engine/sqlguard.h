/* The gate user SQL passes before it runs. Two layers:
 *   - fm_sqlguard_check_text: a cheap lexical first filter over the whole request text (below);
 *     it runs first only because it is cheap — it is never the only check;
 *   - fm_sqlguard_check_statement: the authorizer (authz.h) on DuckDB's own parse of each
 *     statement, with the caller's scope capped at the engine's (read for read-only engines).
 *     A guard without an authorizer refuses every statement (fail closed).
 * The lexical filter's contract:
 * Defence in depth for user SQL, on top of DuckDB's own lock-down settings (engine.c).
 * DuckDB runs SQL with the process's privileges and some extensions ignore
 * enable_external_access (sqlite_scanner's sqlite_scan / sqlite_attach / ATTACH 'sqlite:' read
 * any file; postgres_scanner's functions open network connections). So before a user statement
 * runs, featherman refuses:
 *   1. statement types a query client never needs: ATTACH, DETACH, LOAD/INSTALL, SET/RESET and
 *      variable SET, PRAGMA, EXPORT/IMPORT, COPY DATABASE, UPDATE EXTENSIONS, PREPARE/EXECUTE,
 *      CREATE SECRET / DROP SECRET (checked by statement type where DuckDB has one, and by the
 *      leading keyword otherwise);
 *   2. any call of a denied function, found by a SQL lexer that skips string literals, comments
 *      and dollar-quoted strings, and matches identifiers (bare or double-quoted, any case, with
 *      or without a schema qualifier) followed by '(' — so macros, subqueries and CTEs cannot
 *      hide a call. The denied set is the functions the scanner extensions register (computed at
 *      start-up by the engine as the difference of duckdb_functions() before and after loading
 *      them) plus a fixed list: query, query_table, getenv, json_execute_serialized_sql (it runs
 *      a serialized plan, e.g. one calling sqlite_scan, that the lexer cannot see);
 *      read_blob/read_text outside the lake are left to allowed_directories. Unterminated
 *      strings, quoted identifiers, comments and dollar quotes are refused as FM_E_INVALID.
 * Writes are separately refused on read-only engines by DuckDB itself (READ_ONLY attach).
 * Messages name what was refused: "ATTACH is not allowed through the query API",
 * "function sqlite_scan is not allowed through the query API". */
#ifndef FM_SQLGUARD_H
#define FM_SQLGUARD_H
#include <duckdb.h>

#include "base/err.h"
#include "engine/authz.h"

typedef struct fm_sqlguard fm_sqlguard;

fm_sqlguard *fm_sqlguard_new(void);
/* add a denied function name (lower-cased internally) */
void fm_sqlguard_deny_function(fm_sqlguard *g, const char *name);
/* LOADs each extension on con and denies every function it adds (duckdb_functions() before vs after) */
int fm_sqlguard_deny_extension_functions(fm_sqlguard *g, duckdb_connection con, const char *const *extensions, size_t n,
                                         fm_err *err);
/* lexical check of the whole request text (all statements) */
int fm_sqlguard_check_text(const fm_sqlguard *g, const char *sql, fm_err *err);
/* statement-type check of one prepared statement */
int fm_sqlguard_check_type(duckdb_statement_type t, fm_err *err);
/* attaches the authorizer (not owned) and the widest scope this engine grants */
void fm_sqlguard_set_authz(fm_sqlguard *g, const fm_authz *a, fm_scope scope);
fm_scope fm_sqlguard_scope(const fm_sqlguard *g);
/* authorizes statement i of stmts (before it is prepared) for scope, capped at the guard's */
int fm_sqlguard_check_statement(const fm_sqlguard *g, fm_scope scope, duckdb_extracted_statements stmts, idx_t i,
                                fm_err *err);
/* both layers over a whole text, on con's parser, without running anything */
int fm_sqlguard_check_sql(const fm_sqlguard *g, duckdb_connection con, fm_scope scope, const char *sql, fm_err *err);
void fm_sqlguard_free(fm_sqlguard *g);
#endif
