/* One user query on one connection, from text to encoded bytes. fm_run_start checks the text
 * with the SQL guard's lexical filter, then authorizes each statement on DuckDB's parse of it
 * (authz.h) just before preparing and executing it (all but the last run to completion), starts the last one with DuckDB's
 * streaming API (pending result) and fetches its first chunk — so every error a query can have
 * before its first row (syntax, binding, permissions, a failing first chunk) is reported before
 * any byte is sent. fm_run_next then appends the next encoded piece: 1 = more to come,
 * 0 = finished (end-of-stream written), -1 = failed mid-stream (err set).
 * A single read statement runs in one explicit transaction committed before the end of the
 * stream; fm_run_free rolls back anything left open — also what a multi-statement request left.
 * Writes tell the truth: a request with any statement that is not a plain read runs to its end
 * and COMMITs inside fm_run_start, its result held in memory, so the client gets either an
 * error before the first byte (nothing committed) or 200 with the whole body (committed) —
 * never a 200 whose stream breaks over a write that may or may not have landed. With a context,
 * such a request holds the catalog's write lock from before its transaction begins until it
 * ends (one writer per catalog in the process: a SQLite or DuckDB-file metadata store takes one
 * writer at a time, and DuckLake's commit retries are no help when two connections of one
 * process fight over one file lock), and its COMMIT happens only after fm_slot_begin_commit
 * (slots.h) took it out of the watchdog's reach. */
#ifndef FM_QUERY_RUN_H
#define FM_QUERY_RUN_H
#include <duckdb.h>
#include <pthread.h>
#include <stdatomic.h>

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
/* where a run on a query slot coordinates with the server: both may be NULL */
typedef struct {
    atomic_int *state;           /* the slot's FM_SLOT_* state (slots.h) */
    pthread_mutex_t *write_lock; /* the catalog's writer lock */
} fm_run_ctx;
fm_run *fm_run_start_ctx(duckdb_connection con, const fm_run_ctx *ctx, const fm_sqlguard *guard, fm_scope scope,
                         const char *sql, fm_format f, fm_buf *out, fm_err *err);
int fm_run_next(fm_run *r, fm_buf *out, fm_err *err);
unsigned long long fm_run_rows(const fm_run *r);
/* one plain read statement run to its end and committed: it left nothing on its connection */
int fm_run_clean_read(const fm_run *r);
void fm_run_free(fm_run *r);
#endif
