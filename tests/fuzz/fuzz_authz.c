/* Differential libFuzzer target for the authorizer (authz.h over sqlparse.h). For every input:
 *   - DuckDB parses it (duckdb_extract_statements on a connection with a real DuckLake catalog
 *     "lake" attached, the scanner extensions loaded, as in the engine);
 *   - each statement is described and authorized at the read, write and admin scopes, which
 *     must be monotonic (what read admits, write and admin admit);
 *   - whatever the authorizer admits is then prepared by DuckDB, and DuckDB's own statement
 *     type (duckdb_prepared_statement_type) must equal the description's and be one the scope
 *     allows (read: SELECT, EXPLAIN, CALL, transaction control; write: + INSERT, UPDATE,
 *     DELETE, MERGE; admin: + CREATE, ALTER, DROP);
 *   - for an admitted single SELECT, DuckDB's own serializer (json_serialize_sql) is the
 *     reference for what the statement references: every function_name and table_name in its
 *     JSON must appear among the description's references (a walk that missed a clause would
 *     show here).
 * A disagreement aborts: libFuzzer reports it as a finding with the input.
 * Build and run: make fuzz-authz (clang), corpus in tests/fuzz/corpus_authz/. */
#include <duckdb.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "engine/authz.h"
#include "engine/sqlparse.h"

static duckdb_database db;
static duckdb_connection con;
static fm_authz *A;

static void must(const char *sql) {
    duckdb_result r;
    if (duckdb_query(con, sql, &r) == DuckDBError) {
        fprintf(stderr, "fuzz_authz set-up: %s: %s\n", sql, duckdb_result_error(&r));
        abort();
    }
    duckdb_destroy_result(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    static char dir[] = "/tmp/fm-fuzz-authz-XXXXXX";
    if (!mkdtemp(dir)) abort();
    duckdb_config dc;
    duckdb_create_config(&dc);
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    if (duckdb_open_ext(NULL, &db, dc, NULL) == DuckDBError || duckdb_connect(db, &con) == DuckDBError) abort();
    duckdb_destroy_config(&dc);
    A = fm_authz_new("lake");
    fm_err e;
    if (fm_authz_snapshot_functions(A, con, &e)) abort();
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH 'ducklake:%s/m.ducklake' AS lake (DATA_PATH '%s/data/')", dir, dir);
    must("LOAD ducklake");
    must("LOAD sqlite_scanner");
    must(sql);
    must("USE lake");
    must("CREATE TABLE t (x INTEGER, y VARCHAR)");
    must("CREATE SCHEMA s");
    must("CREATE TABLE s.u (a INTEGER)");
    must("CREATE VIEW v AS SELECT x FROM t");
    if (fm_authz_snapshot_catalogs(A, con, &e)) abort();
    return 0;
}

static int scope_allows(fm_scope s, duckdb_statement_type t) {
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_EXPLAIN:
    case DUCKDB_STATEMENT_TYPE_CALL:
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return 1;
    case DUCKDB_STATEMENT_TYPE_INSERT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_MERGE_INTO: return s >= FM_SCOPE_WRITE;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_ALTER:
    case DUCKDB_STATEMENT_TYPE_DROP: return s >= FM_SCOPE_ADMIN;
    default: return 0;
    }
}

static void finding(const char *what, const char *sql) {
    fprintf(stderr, "fuzz_authz FINDING: %s\n  SQL: %s\n", what, sql);
    abort();
}

static int has_ref(const fm_sqlstmt *s, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 0; i < s->nrefs; i++) {
        if (!strcasecmp(s->refs[i].name, name)) return 1;
        /* SHOW TABLES keeps its name quoted in the tree; the description unquotes it */
        if (len > 2 && name[0] == '"' && name[len - 1] == '"' && strlen(s->refs[i].name) == len - 2 &&
            !strncasecmp(s->refs[i].name, name + 1, len - 2))
            return 1;
    }
    return 0;
}

/* every "function_name" / "table_name" string in DuckDB's JSON of the statement is a reference
 * the description holds */
static void json_refs_covered(json_t *j, const fm_sqlstmt *s, const char *sql) {
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if ((!strcmp(k, "function_name") || !strcmp(k, "table_name")) && json_is_string(v) &&
                json_string_length(v) && !has_ref(s, json_string_value(v))) {
                char msg[512];
                snprintf(msg, sizeof msg, "DuckDB's serializer sees %s %s that the description lacks", k,
                         json_string_value(v));
                finding(msg, sql);
            }
            json_refs_covered(v, s, sql);
        }
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) json_refs_covered(v, s, sql);
    }
}

static void serializer_check(const char *sql, const fm_sqlstmt *s) {
    duckdb_prepared_statement p = NULL;
    if (duckdb_prepare(con, "SELECT json_serialize_sql($1::VARCHAR)", &p) == DuckDBError) abort();
    duckdb_bind_varchar(p, 1, sql);
    duckdb_result r;
    if (duckdb_execute_prepared(p, &r) == DuckDBSuccess && duckdb_row_count(&r) == 1) {
        char *txt = duckdb_value_varchar(&r, 0, 0);
        json_t *j = txt ? json_loads(txt, 0, NULL) : NULL;
        json_t *stmts = j ? json_object_get(j, "statements") : NULL;
        if (j && !json_is_true(json_object_get(j, "error")) && json_array_size(stmts) == 1)
            json_refs_covered(stmts, s, sql);
        json_decref(j);
        duckdb_free(txt);
    }
    duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 2048) return 0;
    char *sql = malloc(size + 1);
    if (!sql) return 0;
    memcpy(sql, data, size);
    sql[size] = 0;
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &st);
    for (idx_t i = 0; i < n; i++) {
        fm_sqlstmt *s = fm_sqlparse_describe(st, i);
        if (!s) finding("a statement could not be described", sql);
        int ok[4] = {0, 0, 0, 0};
        for (int sc = FM_SCOPE_READ; sc <= FM_SCOPE_ADMIN; sc++) ok[sc] = fm_authz_check(A, (fm_scope)sc, s, NULL) == 0;
        if ((ok[FM_SCOPE_READ] && !ok[FM_SCOPE_WRITE]) || (ok[FM_SCOPE_WRITE] && !ok[FM_SCOPE_ADMIN]))
            finding("scopes are not monotonic", sql);
        if (ok[FM_SCOPE_ADMIN] && s->unsupported) finding("an undescribed statement was admitted", sql);
        if (ok[FM_SCOPE_READ] && n == 1 && s->type == DUCKDB_STATEMENT_TYPE_SELECT) serializer_check(sql, s);
        if (ok[FM_SCOPE_ADMIN]) {
            duckdb_prepared_statement p = NULL;
            if (duckdb_prepare_extracted_statement(con, st, i, &p) == DuckDBSuccess) {
                duckdb_statement_type t = duckdb_prepared_statement_type(p);
                if (t != s->type) finding("DuckDB's statement type differs from the description's", sql);
                for (int sc = FM_SCOPE_READ; sc <= FM_SCOPE_ADMIN; sc++)
                    if (ok[sc] && !scope_allows((fm_scope)sc, t)) finding("a statement type outside the scope ran", sql);
            }
            duckdb_destroy_prepare(&p);
        }
        fm_sqlstmt_free(s);
    }
    duckdb_destroy_extracted(&st);
    free(sql);
    return 0;
}
