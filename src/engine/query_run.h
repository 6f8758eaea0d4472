/* One user query on one connection, from text to encoded bytes. fm_run_start checks the text
 * with the SQL guard's lexical filter, then authorizes each statement on DuckDB's parse of it
 * (authz.h) just before preparing and executing it (all but the last run to completion), starts the last one with DuckDB's
 * streaming API (pending result) and fetches its first chunk — so every error a query can have
 * before its first row (syntax, binding, permissions, a failing first chunk) is reported before
 * any byte is sent. fm_run_next then appends the next encoded piece: 1 = more to come,
 * 0 = finished (end-of-stream written), -1 = failed mid-stream (err set).
 * A single statement runs in one explicit transaction committed before the end of the stream
 * (so a failing commit is a visible error); fm_run_free rolls back anything left open — also
 * what a multi-statement request left — so no transaction outlives its request on a slot. */
#ifndef FM_QUERY_RUN_H
#define FM_QUERY_RUN_H
#include <duckdb.h>

#include "base/buf.h"
#include "engine/encoder.h"
#include "base/err.h"
#include "engine/sqlguard.h"

typedef struct fm_run fm_run;

fm_run *fm_run_start(duckdb_connection con, const fm_sqlguard *guard, const char *sql, fm_format f, fm_buf *out,
                     fm_err *err);
/* as fm_run_start, for a caller with the given scope (capped at the engine's); fm_run_start uses
 * the engine's own scope (admin, or read on a read-only engine) */
fm_run *fm_run_start_scoped(duckdb_connection con, const fm_sqlguard *guard, fm_scope scope, const char *sql,
                            fm_format f, fm_buf *out, fm_err *err);
int fm_run_next(fm_run *r, fm_buf *out, fm_err *err);
unsigned long long fm_run_rows(const fm_run *r);
void fm_run_free(fm_run *r);
#endif
