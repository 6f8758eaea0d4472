#include "engine/query_run.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "engine/slots.h"
#include "engine/sqlparse.h"

struct fm_run {
    duckdb_connection con;
    int txn;   /* we opened a transaction around a single statement: commit it at the end */
    int multi; /* several statements: whatever transaction they left open is rolled back */
    int write; /* not a plain read: runs to its end and commits before the first byte */
    pthread_mutex_t *locked; /* the catalog's write lock, held */
    duckdb_result result;
    int has_result;
    fm_encoder *enc;
    duckdb_data_chunk pending; /* the first chunk, fetched early to surface errors */
    int exhausted;             /* DuckDB said no more chunks: fetching again is an error */
    int done;
    unsigned long long rows;
};

/* DuckDB's error → our category (and so the HTTP status) */
static fm_errcode classify(duckdb_error_type t, const char *msg) {
    switch (t) {
    case DUCKDB_ERROR_PERMISSION: return FM_E_REFUSED;
    case DUCKDB_ERROR_INTERRUPT: return FM_E_TIMEOUT;
    case DUCKDB_ERROR_OUT_OF_MEMORY: return FM_E_UNAVAILABLE;
    case DUCKDB_ERROR_IO:
    case DUCKDB_ERROR_HTTP:
    case DUCKDB_ERROR_CONNECTION: return FM_E_UNAVAILABLE;
    case DUCKDB_ERROR_INTERNAL:
    case DUCKDB_ERROR_FATAL: return FM_E_INTERNAL;
    default: break;
    }
    if (!msg) return FM_E_INVALID;
    if (!strncmp(msg, "Permission Error", 16)) return FM_E_REFUSED;
    if (!strncmp(msg, "INTERRUPT Error", 15)) return FM_E_TIMEOUT;
    if (!strncmp(msg, "IO Error", 8) || !strncmp(msg, "HTTP Error", 10) || !strncmp(msg, "Out of Memory", 13))
        return FM_E_UNAVAILABLE;
    if (!strncmp(msg, "INTERNAL Error", 14) || !strncmp(msg, "FATAL Error", 11)) return FM_E_INTERNAL;
    if ((strstr(msg, "read-only") || strstr(msg, "read only") || strstr(msg, "configuration has been locked") ||
                strstr(msg, "disabled through configuration") || strstr(msg, "disabled by configuration")))
        return FM_E_REFUSED;
    return FM_E_INVALID;
}

static int result_error(duckdb_result *res, fm_err *err) {
    const char *m = duckdb_result_error(res);
    return fm_fail(err, classify(duckdb_result_error_type(res), m), "%s", m ? m : "query failed");
}

fm_run *fm_run_start(duckdb_connection con, const fm_sqlguard *guard, const char *sql, fm_format f, fm_buf *out,
                     fm_err *err) {
    return fm_run_start_scoped(con, guard, fm_sqlguard_scope(guard), sql, f, out, err);
}

fm_run *fm_run_start_scoped(duckdb_connection con, const fm_sqlguard *guard, fm_scope scope, const char *sql,
                            fm_format f, fm_buf *out, fm_err *err) {
    return fm_run_start_ctx(con, NULL, guard, scope, sql, f, out, err);
}

/* a plain read (SELECT, or EXPLAIN of one) may stream; anything else is a write */
static int is_write(duckdb_extracted_statements stmts, idx_t i, duckdb_statement_type *type) {
    fm_sqlstmt *d = fm_sqlparse_describe(stmts, i);
    int w = !d || d->inner != DUCKDB_STATEMENT_TYPE_SELECT;
    *type = d ? d->type : DUCKDB_STATEMENT_TYPE_INVALID;
    fm_sqlstmt_free(d);
    return w;
}

static void unlock_writer(fm_run *r) {
    if (!r->locked) return;
    pthread_mutex_unlock(r->locked);
    r->locked = NULL;
}

static int rollback(fm_run *r) {
    duckdb_result rr;
    int rc = duckdb_query(r->con, "ROLLBACK", &rr) == DuckDBError ? -1 : 0;
    duckdb_destroy_result(&rr);
    return rc;
}

static int interrupted(const fm_run_ctx *ctx, fm_err *err) {
    int st = ctx && ctx->state ? atomic_load(ctx->state) : FM_SLOT_RUNNING;
    if (st == FM_SLOT_RUNNING || st == FM_SLOT_COMMITTING) return 0;
    return fm_fail(err, FM_E_TIMEOUT, "the query was %s before it committed: nothing was written",
                   st == FM_SLOT_CANCELLED ? "cancelled (the client went away)" : "cancelled at its time limit");
}

fm_run *fm_run_start_ctx(duckdb_connection con, const fm_run_ctx *ctx, const fm_sqlguard *guard, fm_scope scope,
                         const char *sql, fm_format f, fm_buf *out, fm_err *err) {
    if (fm_sqlguard_check_text(guard, sql, err)) return NULL;
    duckdb_extracted_statements stmts = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &stmts);
    if (n == 0) {
        const char *m = stmts ? duckdb_extract_statements_error(stmts) : NULL;
        fm_fail(err, FM_E_INVALID, "%s", m ? m : "the request contains no SQL statement");
        duckdb_destroy_extracted(&stmts);
        return NULL;
    }
    /* every statement on the parse tree DuckDB is about to bind, before any of them runs (a
     * refused request leaves nothing behind) and before any is bound (binding alone already calls
     * table functions: a CSV reader sniffs its file at bind time) */
    for (idx_t i = 0; i < n; i++) {
        if (fm_sqlguard_check_statement(guard, scope, stmts, i, err)) {
            duckdb_destroy_extracted(&stmts);
            return NULL;
        }
    }
    fm_run *r = fm_xcalloc(1, sizeof *r);
    r->con = con;
    r->multi = n > 1;
    duckdb_statement_type type = DUCKDB_STATEMENT_TYPE_INVALID;
    for (idx_t i = 0; i < n; i++) r->write |= is_write(stmts, i, &type);
    /* taken before the transaction begins, so a writer's snapshot is never older than the last
     * commit of another writer of this process */
    if (r->write && ctx && ctx->write_lock) {
        pthread_mutex_lock(ctx->write_lock);
        r->locked = ctx->write_lock;
        if (interrupted(ctx, err)) goto fail;
    }
    /* One statement runs in an explicit transaction: in auto-commit mode DuckDB's prepare and
     * execute would each be a transaction of their own, and each reads the DuckLake metadata
     * (about 2 ms per query against a SQLite catalog). */
    if (n == 1 && type != DUCKDB_STATEMENT_TYPE_TRANSACTION) { /* a lone BEGIN/COMMIT/ROLLBACK runs bare */
        duckdb_result tr;
        r->txn = duckdb_query(con, "BEGIN TRANSACTION", &tr) == DuckDBSuccess;
        duckdb_destroy_result(&tr);
    }
    for (idx_t i = 0; i < n; i++) {
        duckdb_prepared_statement prep = NULL;
        if (duckdb_prepare_extracted_statement(con, stmts, i, &prep) == DuckDBError) {
            const char *m = duckdb_prepare_error(prep);
            fm_fail(err, classify(DUCKDB_ERROR_INVALID, m), "%s", m ? m : "cannot prepare statement");
            duckdb_destroy_prepare(&prep);
            goto fail;
        }
        if (fm_sqlguard_check_type(duckdb_prepared_statement_type(prep), err)) {
            duckdb_destroy_prepare(&prep);
            goto fail;
        }
        if (i + 1 < n) {
            duckdb_result res;
            duckdb_state st = duckdb_execute_prepared(prep, &res);
            duckdb_destroy_prepare(&prep);
            if (st == DuckDBError) {
                result_error(&res, err);
                duckdb_destroy_result(&res);
                goto fail;
            }
            duckdb_destroy_result(&res);
            continue;
        }
        if (r->write) { /* held in memory: the commit must precede the first byte */
            duckdb_state st = duckdb_execute_prepared(prep, &r->result);
            duckdb_destroy_prepare(&prep);
            r->has_result = 1;
            if (st == DuckDBError) {
                if (!interrupted(ctx, err)) result_error(&r->result, err);
                goto fail;
            }
            continue;
        }
        duckdb_pending_result pending;
        if (duckdb_pending_prepared_streaming(prep, &pending) == DuckDBError) {
            const char *m = duckdb_pending_error(pending);
            fm_fail(err, classify(DUCKDB_ERROR_INVALID, m), "%s", m ? m : "cannot start query");
            duckdb_destroy_pending(&pending);
            duckdb_destroy_prepare(&prep);
            goto fail;
        }
        duckdb_state st = duckdb_execute_pending(pending, &r->result);
        duckdb_destroy_pending(&pending);
        duckdb_destroy_prepare(&prep);
        r->has_result = 1;
        if (st == DuckDBError) {
            result_error(&r->result, err);
            goto fail;
        }
    }
    duckdb_destroy_extracted(&stmts);
    if (r->write) {
        if (r->txn) {
            if (ctx && ctx->state && fm_slot_begin_commit(ctx->state)) {
                interrupted(ctx, err);
                goto fail_noext;
            }
            duckdb_result cr;
            r->txn = 0;
            if (duckdb_query(con, "COMMIT", &cr) == DuckDBError) { /* a conflict, the store refusing */
                result_error(&cr, err);
                duckdb_destroy_result(&cr);
                rollback(r);
                goto fail_noext;
            }
            duckdb_destroy_result(&cr);
        } else {
            /* several statements (or a lone BEGIN/COMMIT/ROLLBACK) committed one by one; what
             * they left open is rolled back now,
             * not after the response, so the write lock is not held while the client reads */
            if (ctx && ctx->state) fm_slot_begin_commit(ctx->state);
            rollback(r);
            r->multi = 0;
        }
        unlock_writer(r);
    }
    r->enc = fm_encoder_new(f, &r->result, err);
    if (!r->enc) goto fail_noext;
    r->pending = duckdb_fetch_chunk(r->result);
    if (!r->pending) {
        if (duckdb_result_error(&r->result)) {
            result_error(&r->result, err);
            goto fail_noext;
        }
        r->exhausted = 1;
    }
    if (fm_encoder_begin(r->enc, out, err)) goto fail_noext;
    return r;
fail:
    duckdb_destroy_extracted(&stmts);
fail_noext:
    fm_run_free(r);
    return NULL;
}

int fm_run_next(fm_run *r, fm_buf *out, fm_err *err) {
    if (r->done) return 0;
    duckdb_data_chunk chunk = r->pending;
    r->pending = NULL;
    if (!chunk && !r->exhausted) chunk = duckdb_fetch_chunk(r->result);
    if (!chunk) {
        if (!r->exhausted && duckdb_result_error(&r->result)) return result_error(&r->result, err);
        r->exhausted = 1;
        if (r->txn) { /* a failed commit (a write conflict, the store refusing) must reach the client */
            duckdb_result cr;
            r->txn = 0;
            if (duckdb_query(r->con, "COMMIT", &cr) == DuckDBError) {
                result_error(&cr, err);
                duckdb_destroy_result(&cr);
                return -1;
            }
            duckdb_destroy_result(&cr);
        }
        r->done = 1;
        return fm_encoder_end(r->enc, out, err) ? -1 : 0;
    }
    r->rows += duckdb_data_chunk_get_size(chunk);
    int rc = fm_encoder_chunk(r->enc, chunk, out, err);
    duckdb_destroy_data_chunk(&chunk);
    return rc ? -1 : 1;
}

unsigned long long fm_run_rows(const fm_run *r) { return r->rows; }

int fm_run_clean_read(const fm_run *r) { return r && r->done && !r->write && !r->multi && !r->txn; }

void fm_run_free(fm_run *r) {
    if (!r) return;
    if (r->pending) duckdb_destroy_data_chunk(&r->pending);
    if (r->enc) fm_encoder_free(r->enc);
    if (r->has_result) duckdb_destroy_result(&r->result);
    if (r->txn || r->multi) rollback(r); /* not finished, failed, or several statements: leave no transaction open */
    unlock_writer(r);
    free(r);
}
