/* The SQL guard against hostile text: denied calls however spelled or hidden (case, quoting,
 * qualifiers, comments before the paren, CTEs, subqueries, macro bodies, later statements),
 * no false positives for names inside strings/comments/dollar quotes, refused statement
 * keywords and types, unterminated constructs refused as invalid. The denied set comes from a
 * real DuckDB loading the scanner extensions from the build's extension directory, and the
 * refused texts are checked to really work in that DuckDB (so the guard is what stops them). */
#include <duckdb.h>
#include <stdlib.h>

#include "engine/sqlguard.h"
#include "unit.h"

static int open_db(duckdb_database *db, duckdb_connection *con) {
    duckdb_config dc;
    if (duckdb_create_config(&dc) == DuckDBError) return -1;
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    char *oerr = NULL;
    int rc = duckdb_open_ext(NULL, db, dc, &oerr) == DuckDBError ? -1 : 0;
    if (rc) fprintf(stderr, "  duckdb_open_ext: %s\n", oerr ? oerr : "?");
    duckdb_free(oerr);
    duckdb_destroy_config(&dc);
    if (rc) return -1;
    return duckdb_connect(*db, con) == DuckDBError ? -1 : 0;
}

static fm_sqlguard *scanner_guard(duckdb_database *db, duckdb_connection *con, int *fm_failed) {
    CHECK(open_db(db, con) == 0);
    fm_sqlguard *g = fm_sqlguard_new();
    static const char *const exts[] = {"sqlite_scanner", "postgres_scanner"};
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_sqlguard_deny_extension_functions(g, *con, exts, 2, &e);
    if (rc) fprintf(stderr, "  deny_extension_functions: %s\n", e.msg);
    CHECK(rc == 0);
    return g;
}

static void refused(const fm_sqlguard *g, const char *sql, const char *msg, int *fm_failed) {
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_sqlguard_check_text(g, sql, &e);
    if (rc != -1 || e.code != FM_E_REFUSED || strcmp(e.msg, msg)) {
        fprintf(stderr, "  text: %.200s\n  rc=%d code=%d msg=[%s] want [%s]\n", sql, rc, e.code, e.msg, msg);
        *fm_failed = 1;
    }
}

static void allowed(const fm_sqlguard *g, const char *sql, int *fm_failed) {
    fm_err e;
    fm_err_clear(&e);
    if (fm_sqlguard_check_text(g, sql, &e) != 0) {
        fprintf(stderr, "  wrongly refused: %.200s\n  -> %s\n", sql, e.msg);
        *fm_failed = 1;
    }
}

static void invalid(const fm_sqlguard *g, const char *sql, int *fm_failed) {
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_sqlguard_check_text(g, sql, &e);
    if (rc != -1 || e.code != FM_E_INVALID) {
        fprintf(stderr, "  not invalid: %.200s (rc=%d code=%d %s)\n", sql, rc, e.code, e.msg);
        *fm_failed = 1;
    }
}

#define SQLITE_DENIED "function sqlite_scan is not allowed through the query API"

FM_TEST(sqlguard_extension_functions_denied) {
    duckdb_database db;
    duckdb_connection con;
    fm_sqlguard *g = scanner_guard(&db, &con, fm_failed);
    refused(g, "SELECT * FROM sqlite_scan('/etc/x.db', 't')", SQLITE_DENIED, fm_failed);
    refused(g, "select * from sqlite_attach('x')", "function sqlite_attach is not allowed through the query API",
            fm_failed);
    refused(g, "SELECT * FROM sqlite_query('x', 'select 1')",
            "function sqlite_query is not allowed through the query API", fm_failed);
    refused(g, "SELECT * FROM postgres_scan('host=x', 'public', 't')",
            "function postgres_scan is not allowed through the query API", fm_failed);
    refused(g, "SELECT * FROM postgres_query('host=x', 'select 1')",
            "function postgres_query is not allowed through the query API", fm_failed);
    refused(g, "CALL postgres_execute('host=x', 'drop table t')",
            "function postgres_execute is not allowed through the query API", fm_failed);
    /* the fixed list */
    refused(g, "SELECT * FROM query('SELECT 1')", "function query is not allowed through the query API", fm_failed);
    refused(g, "FROM query_table('t')", "function query_table is not allowed through the query API", fm_failed);
    refused(g, "SELECT getenv('HOME')", "function getenv is not allowed through the query API", fm_failed);
    refused(g, "SELECT * FROM json_execute_serialized_sql('{}')",
            "function json_execute_serialized_sql is not allowed through the query API", fm_failed);
    /* the scanner functions really run in this DuckDB: the guard is what stops them */
    duckdb_result r;
    CHECK(duckdb_query(con, "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'sqlite_scan'", &r) ==
          DuckDBSuccess);
    CHECK(duckdb_value_int64(&r, 0, 0) >= 1);
    duckdb_destroy_result(&r);
    fm_sqlguard_free(g);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

FM_TEST(sqlguard_hostile_spellings) {
    duckdb_database db;
    duckdb_connection con;
    fm_sqlguard *g = scanner_guard(&db, &con, fm_failed);
    static const char *const hostile[] = {
        "SELECT * FROM SQLITE_SCAN('x','t')",
        "SELECT * FROM SqLiTe_ScAn('x','t')",
        "SELECT * FROM \"SQLITE_SCAN\"('x','t')",
        "SELECT * FROM \"sqlite_scan\"('x','t')",
        "SELECT * FROM main.sqlite_scan('x','t')",
        "SELECT * FROM system.main.sqlite_scan('x','t')",
        "SELECT * FROM \"main\".\"sqlite_scan\"('x','t')",
        "SELECT * FROM main . sqlite_scan ('x','t')",
        "SELECT * FROM sqlite_scan/* c */('x','t')",
        "SELECT * FROM sqlite_scan /* a /* nested */ comment */ ('x','t')",
        "SELECT * FROM sqlite_scan -- line\n ('x','t')",
        "SELECT * FROM sqlite_scan\n\t\r ('x','t')",
        "WITH c AS (SELECT * FROM sqlite_scan('x','t')) SELECT * FROM c",
        "SELECT * FROM (SELECT * FROM (SELECT * FROM sqlite_scan('x','t')))",
        "SELECT (SELECT count(*) FROM sqlite_scan('x','t'))",
        "CREATE MACRO m() AS TABLE SELECT * FROM sqlite_scan('x','t')",
        "CREATE MACRO m(p) AS TABLE FROM sqlite_scan(p,'t')",
        "CREATE VIEW v AS SELECT * FROM sqlite_scan('x','t')",
        "SELECT 1; SELECT 2; SELECT * FROM sqlite_scan('x','t')",
        "SELECT 'it''s' AS a, * FROM sqlite_scan('x','t')",
        "SELECT E'\\'' AS a, * FROM sqlite_scan('x','t')",
        "SELECT 1e'\\'', * FROM sqlite_scan('x','t')",
        "SELECT $$ $x$ $$, * FROM sqlite_scan('x','t')",
        "SELECT $a$ $b$ $a$, * FROM sqlite_scan('x','t')",
        "SELECT \"a\"\"b\" FROM sqlite_scan('x','t')",
        "SELECT 1sqlite_scan('x','t')",
        "SELECT * FROM sqlite_scan\x01('x','t')",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++) refused(g, hostile[i], SQLITE_DENIED, fm_failed);
    fm_sqlguard_free(g);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

FM_TEST(sqlguard_no_false_positives) {
    duckdb_database db;
    duckdb_connection con;
    fm_sqlguard *g = scanner_guard(&db, &con, fm_failed);
    static const char *const fine[] = {
        "SELECT 'sqlite_scan(''x'')'",
        "SELECT 'x'; -- sqlite_scan('x')",
        "SELECT 1 /* sqlite_scan('x') */",
        "SELECT 1 /* /* sqlite_scan('x') */ still comment sqlite_scan( */",
        "SELECT $$sqlite_scan('x')$$",
        "SELECT $tag$ sqlite_scan('x') $notag$ sqlite_scan( $tag$",
        "SELECT E'\\' sqlite_scan(''x'')'",
        "SELECT \"sqlite_scan\" FROM (SELECT 1 AS sqlite_scan)",
        "SELECT sqlite_scan FROM t",
        "SELECT sqlite_scanx(1)",
        "SELECT my_sqlite_scan(1)",
        "SELECT \"sqlite_scan \"(1)",
        "SELECT a$b FROM t",
        "SELECT $1, $name FROM t",
        "SELECT count(*), sum(x), list_transform([1], x -> x + 1) FROM range(10) t(x)",
        "UPDATE t SET a = 1 WHERE b = 'ATTACH'",
        "INSERT INTO t VALUES (1) ON CONFLICT DO UPDATE SET a = 2",
        "SELECT 'LOAD x'; SELECT 2",
        "CREATE TABLE s AS SELECT 1 AS secret",
        "CREATE MACRO add1(x) AS x + 1",
        "COPY t TO 'x.csv'",
        "SELECT * FROM read_parquet('data/*.parquet')",
        "",
        "   ",
        ";;",
        "-- only a comment",
        "SELECT 'caf\xc3\xa9'",
    };
    for (size_t i = 0; i < sizeof fine / sizeof *fine; i++) allowed(g, fine[i], fm_failed);
    fm_sqlguard_free(g);
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

FM_TEST(sqlguard_statement_keywords) {
    fm_sqlguard *g = fm_sqlguard_new();
    refused(g, "ATTACH '/tmp/x.db' AS x", "ATTACH is not allowed through the query API", fm_failed);
    refused(g, "attach 'sqlite:/etc/x.db'", "ATTACH is not allowed through the query API", fm_failed);
    refused(g, "  /* c */ Attach 'x'", "ATTACH is not allowed through the query API", fm_failed);
    refused(g, "SELECT 1; ATTACH 'x'", "ATTACH is not allowed through the query API", fm_failed);
    refused(g, "SELECT 1;\n-- c\nATTACH 'x'", "ATTACH is not allowed through the query API", fm_failed);
    refused(g, "DETACH x", "DETACH is not allowed through the query API", fm_failed);
    refused(g, "INSTALL sqlite", "INSTALL is not allowed through the query API", fm_failed);
    refused(g, "FORCE INSTALL sqlite", "INSTALL is not allowed through the query API", fm_failed);
    refused(g, "LOAD sqlite_scanner", "LOAD is not allowed through the query API", fm_failed);
    refused(g, "SET enable_external_access = true", "SET is not allowed through the query API", fm_failed);
    refused(g, "SET VARIABLE x = 1", "SET is not allowed through the query API", fm_failed);
    refused(g, "RESET allowed_directories", "RESET is not allowed through the query API", fm_failed);
    refused(g, "PRAGMA enable_profiling", "PRAGMA is not allowed through the query API", fm_failed);
    refused(g, "EXPORT DATABASE '/tmp/x'", "EXPORT DATABASE is not allowed through the query API", fm_failed);
    refused(g, "IMPORT DATABASE '/tmp/x'", "IMPORT DATABASE is not allowed through the query API", fm_failed);
    refused(g, "COPY FROM DATABASE a TO b", "COPY FROM DATABASE is not allowed through the query API", fm_failed);
    refused(g, "CREATE SECRET s (TYPE s3)", "CREATE SECRET is not allowed through the query API", fm_failed);
    refused(g, "create or replace persistent secret s (TYPE s3)",
            "CREATE SECRET is not allowed through the query API", fm_failed);
    refused(g, "CREATE TEMPORARY SECRET s (TYPE s3)", "CREATE SECRET is not allowed through the query API",
            fm_failed);
    refused(g, "DROP SECRET s", "DROP SECRET is not allowed through the query API", fm_failed);
    refused(g, "DROP PERSISTENT SECRET s", "DROP SECRET is not allowed through the query API", fm_failed);
    refused(g, "UPDATE EXTENSIONS", "UPDATE EXTENSIONS is not allowed through the query API", fm_failed);
    refused(g, "PREPARE p AS SELECT 1", "PREPARE is not allowed through the query API", fm_failed);
    refused(g, "EXECUTE p", "EXECUTE is not allowed through the query API", fm_failed);
    refused(g, "EXPLAIN ANALYZE SET x = 1", "SET is not allowed through the query API", fm_failed);
    allowed(g, "\"ATTACH\"", fm_failed); /* a quoted identifier is not the keyword */
    allowed(g, "COPY t FROM 'x.csv'", fm_failed);
    allowed(g, "DROP TABLE secret", fm_failed);
    allowed(g, "CALL ducklake_expire_snapshots('lake', older_than => now())", fm_failed);
    /* without a guard object the fixed rules still apply */
    refused(NULL, "ATTACH 'x'", "ATTACH is not allowed through the query API", fm_failed);
    refused(NULL, "SELECT * FROM query('x')", "function query is not allowed through the query API", fm_failed);
    fm_sqlguard_free(g);
}

FM_TEST(sqlguard_unterminated_is_invalid) {
    fm_sqlguard *g = fm_sqlguard_new();
    fm_sqlguard_deny_function(g, "SQLITE_SCAN");
    invalid(g, "SELECT 'abc", fm_failed);
    invalid(g, "SELECT 'abc''", fm_failed);
    invalid(g, "SELECT E'abc\\'", fm_failed);
    invalid(g, "SELECT E'abc\\", fm_failed);
    invalid(g, "SELECT \"abc", fm_failed);
    invalid(g, "SELECT 1 /* abc", fm_failed);
    invalid(g, "SELECT 1 /* /* */ sqlite_scan('x')", fm_failed); /* nested: still in the comment */
    invalid(g, "SELECT $$abc", fm_failed);
    invalid(g, "SELECT $a$abc$b$", fm_failed);
    allowed(g, "SELECT 1 -- unterminated line comment is fine", fm_failed);
    /* a deny_function name is lower-cased */
    refused(g, "SELECT * FROM sqlite_scan('x')", SQLITE_DENIED, fm_failed);
    fm_sqlguard_free(g);
}

FM_TEST(sqlguard_statement_types) {
    static const duckdb_statement_type bad[] = {
        DUCKDB_STATEMENT_TYPE_ATTACH,  DUCKDB_STATEMENT_TYPE_DETACH,        DUCKDB_STATEMENT_TYPE_LOAD,
        DUCKDB_STATEMENT_TYPE_SET,     DUCKDB_STATEMENT_TYPE_VARIABLE_SET,  DUCKDB_STATEMENT_TYPE_PRAGMA,
        DUCKDB_STATEMENT_TYPE_EXPORT,  DUCKDB_STATEMENT_TYPE_COPY_DATABASE, DUCKDB_STATEMENT_TYPE_UPDATE_EXTENSIONS,
        DUCKDB_STATEMENT_TYPE_PREPARE, DUCKDB_STATEMENT_TYPE_EXECUTE,       DUCKDB_STATEMENT_TYPE_INVALID,
        DUCKDB_STATEMENT_TYPE_EXTENSION};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        fm_err e;
        fm_err_clear(&e);
        CHECK(fm_sqlguard_check_type(bad[i], &e) == -1);
        CHECK(e.code == FM_E_REFUSED);
        CHECK(strstr(e.msg, "is not allowed through the query API") != NULL);
    }
    fm_err e;
    fm_err_clear(&e);
    CHECK(fm_sqlguard_check_type(DUCKDB_STATEMENT_TYPE_ATTACH, &e) == -1);
    CHECK_STR(e.msg, "ATTACH is not allowed through the query API");
    static const duckdb_statement_type good[] = {
        DUCKDB_STATEMENT_TYPE_SELECT, DUCKDB_STATEMENT_TYPE_INSERT, DUCKDB_STATEMENT_TYPE_UPDATE,
        DUCKDB_STATEMENT_TYPE_DELETE, DUCKDB_STATEMENT_TYPE_CREATE, DUCKDB_STATEMENT_TYPE_EXPLAIN,
        DUCKDB_STATEMENT_TYPE_CALL,   DUCKDB_STATEMENT_TYPE_COPY,   DUCKDB_STATEMENT_TYPE_MERGE_INTO};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(fm_sqlguard_check_type(good[i], NULL) == 0);

    /* the statement types DuckDB really assigns to the refused statements (PRAGMA version is
     * prepared as a SELECT: the keyword check of the text is what refuses PRAGMA) */
    duckdb_database db;
    duckdb_connection con;
    CHECK(open_db(&db, &con) == 0);
    static const struct {
        const char *sql;
        const char *msg;
    } real[] = {{"ATTACH ':memory:' AS m2", "ATTACH is not allowed through the query API"},
                {"DETACH m2", "DETACH is not allowed through the query API"},
                {"LOAD sqlite_scanner", "LOAD is not allowed through the query API"},
                {"INSTALL sqlite_scanner", "LOAD is not allowed through the query API"},
                {"SET threads = 1", "SET is not allowed through the query API"},
                {"RESET threads", "SET is not allowed through the query API"},
                {"SET VARIABLE v = 1", "SET is not allowed through the query API"},
                {"EXPORT DATABASE '/tmp/fm_never'", "EXPORT DATABASE is not allowed through the query API"},
                {"PREPARE p AS SELECT 1", "PREPARE is not allowed through the query API"},
                {"UPDATE EXTENSIONS", "UPDATE EXTENSIONS is not allowed through the query API"}};
    for (size_t i = 0; i < sizeof real / sizeof *real; i++) {
        duckdb_extracted_statements st = NULL;
        CHECK(duckdb_extract_statements(con, real[i].sql, &st) == 1);
        duckdb_prepared_statement ps = NULL;
        if (duckdb_prepare_extracted_statement(con, st, 0, &ps) == DuckDBSuccess) {
            fm_err_clear(&e);
            CHECK(fm_sqlguard_check_type(duckdb_prepared_statement_type(ps), &e) == -1);
            if (strcmp(e.msg, real[i].msg)) fprintf(stderr, "  %s -> [%s]\n", real[i].sql, e.msg);
            CHECK_STR(e.msg, real[i].msg);
        } else {
            fprintf(stderr, "  cannot prepare %s: %s\n", real[i].sql, duckdb_prepare_error(ps));
            *fm_failed = 1;
        }
        duckdb_destroy_prepare(&ps);
        duckdb_destroy_extracted(&st);
    }
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

FM_TEST(sqlguard_long_input) {
    fm_sqlguard *g = fm_sqlguard_new();
    fm_sqlguard_deny_function(g, "sqlite_scan");
    size_t n = 4u << 20;
    char *s = malloc(n + 64);
    CHECK(s != NULL);
    if (!s) return;
    /* 4 MiB of nested comment openers and closers, then a call */
    size_t k = 0;
    while (k + 4 < n / 2) {
        memcpy(s + k, "/*/*", 4);
        k += 4;
    }
    size_t opens = k / 2;
    for (size_t i = 0; i < opens; i++) {
        memcpy(s + k, "*/", 2);
        k += 2;
    }
    strcpy(s + k, " SELECT * FROM sqlite_scan('x')");
    refused(g, s, SQLITE_DENIED, fm_failed);
    /* 4 MiB of parentheses and identifiers */
    k = 0;
    while (k + 16 < n) {
        memcpy(s + k, "f((((a)))) , ", 13);
        k += 13;
    }
    strcpy(s + k, "sqlite_scan(1)");
    refused(g, s, SQLITE_DENIED, fm_failed);
    s[k] = 0;
    allowed(g, s, fm_failed);
    free(s);
    fm_sqlguard_free(g);
}

/* random texts built from SQL fragments: the lexer must never crash or read out of bounds
 * (run under ASan), and a text with a call appended after a fully-terminated prefix must be
 * refused unless the prefix was invalid */
FM_TEST(sqlguard_random_fragments) {
    static const char *const frags[] = {"'", "''", "\"", "\"\"", "E'", "e", "\\", "$", "$$", "$a$", "$1", "--",
                                        "\n", "/*", "*/", "(", ")", ";", ".", " ", "sqlite_scan", "SELECT",
                                        "ATTACH", "x", "1", "\xc3\xa9", "\x80", "/", "*", "-"};
    fm_sqlguard *g = fm_sqlguard_new();
    fm_sqlguard_deny_function(g, "sqlite_scan");
    unsigned seed = 12345;
    char buf[512];
    for (int it = 0; it < 200000; it++) {
        size_t k = 0;
        int nf = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 24;
        for (int f = 0; f < nf; f++) {
            seed = seed * 1103515245u + 12345u;
            const char *fr = frags[(seed >> 16) % (sizeof frags / sizeof *frags)];
            size_t l = strlen(fr);
            if (k + l >= sizeof buf - 64) break;
            memcpy(buf + k, fr, l);
            k += l;
        }
        buf[k] = 0;
        fm_err e;
        fm_err_clear(&e);
        int rc = fm_sqlguard_check_text(g, buf, &e);
        if (rc == 0) {
            /* the prefix lexes cleanly and ends outside any string/comment, unless it ends in a
             * line comment: close that, then a new statement with the call must be refused */
            strcpy(buf + k, "\n;SELECT sqlite_scan(1)");
            fm_err_clear(&e);
            if (fm_sqlguard_check_text(g, buf, &e) != -1) {
                fprintf(stderr, "  missed call after [%.*s]\n", (int)k, buf);
                *fm_failed = 1;
                break;
            }
        }
    }
    fm_sqlguard_free(g);
}
