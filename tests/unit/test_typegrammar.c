/* The type grammar: canonical spellings must be exactly DuckDB's (checked against a live
 * in-memory DuckDB and a DuckLake catalog), everything else is refused with a message saying
 * where parsing stopped, and every widening we allow DuckLake really performs. */
#include <duckdb.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/sqlquote.h"
#include "model/typegrammar.h"
#include "unit.h"

static void ok(const char *in, const char *want, int *fm_failed) {
    fm_buf b;
    fm_buf_init(&b);
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_type_parse(in, &b, &e);
    if (rc) fprintf(stderr, "  %s: %s\n", in, e.msg);
    CHECK(rc == 0);
    CHECK_STR(b.data, want);
    fm_buf_free(&b);
}

static void bad(const char *in, const char *want_msg, int *fm_failed) {
    fm_buf b;
    fm_buf_init(&b);
    fm_err e;
    fm_err_clear(&e);
    CHECK(fm_type_parse(in, &b, &e) == -1);
    CHECK(e.code == FM_E_INVALID);
    CHECK(b.len == 0);
    if (!strstr(e.msg, want_msg)) CHECK_STR(e.msg, want_msg);
    fm_buf_free(&b);
}

static const struct {
    const char *in, *canonical;
} cases[] = {
    {"TINYINT", "TINYINT"}, {"int1", "TINYINT"}, {"smallint", "SMALLINT"}, {"INT2", "SMALLINT"},
    {"short", "SMALLINT"}, {"integer", "INTEGER"}, {"Int", "INTEGER"}, {"INT4", "INTEGER"},
    {"signed", "INTEGER"}, {"BIGINT", "BIGINT"}, {"int8", "BIGINT"}, {"LONG", "BIGINT"},
    {"HUGEINT", "HUGEINT"}, {"UTINYINT", "UTINYINT"}, {"USMALLINT", "USMALLINT"}, {"UINTEGER", "UINTEGER"},
    {"UBIGINT", "UBIGINT"}, {"UHUGEINT", "UHUGEINT"}, {"FLOAT", "FLOAT"}, {"REAL", "FLOAT"},
    {"float4", "FLOAT"}, {"DOUBLE", "DOUBLE"}, {"FLOAT8", "DOUBLE"}, {"BOOLEAN", "BOOLEAN"},
    {"bool", "BOOLEAN"}, {"VARCHAR", "VARCHAR"}, {"string", "VARCHAR"}, {"TEXT", "VARCHAR"},
    {"BLOB", "BLOB"}, {"bytea", "BLOB"}, {"DATE", "DATE"}, {"TIME", "TIME"},
    {"TIMESTAMP", "TIMESTAMP"}, {"datetime", "TIMESTAMP"}, {"TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP"},
    {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}, {"timestamp  with\ttime zone", "TIMESTAMP WITH TIME ZONE"},
    {"UUID", "UUID"}, {"INTERVAL", "INTERVAL"}, {"JSON", "JSON"},
    {"DECIMAL", "DECIMAL(18,3)"}, {"decimal(10,2)", "DECIMAL(10,2)"}, {"NUMERIC ( 10 , 2 )", "DECIMAL(10,2)"},
    {"DECIMAL(10)", "DECIMAL(10,0)"}, {"DECIMAL(38,38)", "DECIMAL(38,38)"}, {"DECIMAL(1,0)", "DECIMAL(1,0)"},
    {"INTEGER[]", "INTEGER[]"}, {"int [ ] [ ]", "INTEGER[][]"},
    {"STRUCT(a INTEGER, \"b c\" VARCHAR)", "STRUCT(a INTEGER, \"b c\" VARCHAR)"},
    {"struct(Upper int, \"select\" text, \"x\"\"y\" int, name int, _x1 int, \"1a\" int, \"caf\xc3\xa9\" int)",
     "STRUCT(Upper INTEGER, \"select\" VARCHAR, \"x\"\"y\" INTEGER, \"name\" INTEGER, _x1 INTEGER, \"1a\" INTEGER, "
     "\"caf\xc3\xa9\" INTEGER)"},
    {"MAP(VARCHAR, BIGINT)", "MAP(VARCHAR, BIGINT)"}, {"map(int[], struct(x int))", "MAP(INTEGER[], STRUCT(x INTEGER))"},
    {"STRUCT(a INT[], m MAP(INT, STRUCT(q DOUBLE)))[][]", "STRUCT(a INTEGER[], m MAP(INTEGER, STRUCT(q DOUBLE)))[][]"},
    {"STRUCT(ts TIMESTAMPTZ, d DECIMAL)", "STRUCT(ts TIMESTAMP WITH TIME ZONE, d DECIMAL(18,3))"},
    {"INT[][][][][][][][]", "INTEGER[][][][][][][][]"},
};

FM_TEST(type_canonical_forms) {
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) ok(cases[i].in, cases[i].canonical, fm_failed);
}

FM_TEST(type_refusals_say_where_and_what) {
    bad("INTEGR", "unknown type \"INTEGR\" at position 1 (expected one of TINYINT, SMALLINT", fm_failed);
    bad("INTEGER); DROP TABLE x; --", "unexpected \")\" at position 8 (expected end of type)", fm_failed);
    bad("INTEGER; DROP TABLE x", "unexpected \";\" at position 8 (expected end of type)", fm_failed);
    bad("VARCHAR -- comment", "unexpected \"-\" at position 9", fm_failed);
    bad("DECIMAL(40,2)", "DECIMAL precision 40 out of range 1..38", fm_failed);
    bad("DECIMAL(0)", "DECIMAL precision 0 out of range 1..38", fm_failed);
    bad("DECIMAL(10,11)", "DECIMAL scale 11 out of range 0..10 (the precision)", fm_failed);
    bad("DECIMAL(10,2", "unexpected end of type (expected \")\" after DECIMAL(p,s))", fm_failed);
    bad("DECIMAL(99999999999)", "DECIMAL precision 99999999999 out of range", fm_failed);
    bad("DECIMAL(a)", "unexpected \"a\" at position 9 (expected DECIMAL precision)", fm_failed);
    bad("", "type is empty", fm_failed);
    bad("   ", "type is empty", fm_failed);
    bad("INTEGER[3]", "unexpected \"3\" at position 9 (expected \"]\" (only variable-length lists", fm_failed);
    bad("STRUCT()", "unexpected \")\" at position 8 (expected a STRUCT field name)", fm_failed);
    bad("STRUCT(a)", "unexpected \")\" at position 9 (expected a type name)", fm_failed);
    bad("STRUCT(a INT, A INT)", "duplicate STRUCT field name \"A\"", fm_failed);
    bad("STRUCT(\"\" INT)", "STRUCT field name is empty", fm_failed);
    bad("STRUCT(\"a\nb\" INT)", "STRUCT field name contains a control character", fm_failed);
    bad("STRUCT(\"a INT)", "unterminated quoted name at position 8", fm_failed);
    bad("STRUCT(a INT", "unexpected end of type (expected \",\" or \")\" in STRUCT)", fm_failed);
    bad("STRUCT(a INT) x", "unexpected \"x\" at position 15 (expected end of type)", fm_failed);
    bad("MAP(INT)", "unexpected \")\" at position 8 (expected \",\" between MAP key and value types)", fm_failed);
    bad("MAP", "unexpected end of type (expected \"(\" after MAP)", fm_failed);
    bad("TIMESTAMP WITH ZONE", "unexpected \"ZONE\" at position 16 (expected TIME ZONE after WITH)", fm_failed);
    bad("VARCHAR(10)", "unexpected \"(\" at position 8 (expected end of type)", fm_failed);
    bad("UNION(a INT)", "unknown type \"UNION\"", fm_failed);
    bad("INT[][][][][][][][][]", "type nesting deeper than 8 levels", fm_failed);
    bad("STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INT)))))))))",
        "type nesting deeper than 8 levels", fm_failed);
    bad("STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INT[]))))))))",
        "type nesting deeper than 8 levels", fm_failed);
    bad("MAP(INT, STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INT))))))))[]",
        "type nesting deeper than 8 levels", fm_failed);
    bad("VARCHAR\x01", "unexpected byte 0x01 at position 8", fm_failed);
    bad("caf\xff", "not valid UTF-8", fm_failed);
    /* deep hostile nesting must not recurse unboundedly */
    char deep[4096] = "";
    for (int i = 0; i < 400; i++) strcat(deep, "STRUCT(a ");
    bad(deep, "type nesting deeper than 8 levels", fm_failed);
    ok("STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INT))))))))",
       "STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INTEGER))))))))", fm_failed);
    ok("STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INT[])))))))",
       "STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a STRUCT(a INTEGER[])))))))", fm_failed);
}

FM_TEST(type_widening_rules) {
    static const char *yes[][2] = {
        {"TINYINT", "SMALLINT"},  {"TINYINT", "INTEGER"},   {"TINYINT", "BIGINT"},   {"SMALLINT", "INTEGER"},
        {"SMALLINT", "BIGINT"},   {"INTEGER", "BIGINT"},    {"UTINYINT", "USMALLINT"}, {"UTINYINT", "UINTEGER"},
        {"UTINYINT", "UBIGINT"},  {"UTINYINT", "SMALLINT"}, {"UTINYINT", "INTEGER"}, {"UTINYINT", "BIGINT"},
        {"USMALLINT", "UINTEGER"}, {"USMALLINT", "UBIGINT"}, {"USMALLINT", "INTEGER"}, {"USMALLINT", "BIGINT"},
        {"UINTEGER", "UBIGINT"},  {"UINTEGER", "BIGINT"},   {"FLOAT", "DOUBLE"},      {"VARCHAR", "VARCHAR"},
    };
    static const char *no[][3] = {
        {"BIGINT", "INTEGER", "it would narrow the column"},
        {"VARCHAR", "INTEGER", "only integer widening and FLOAT to DOUBLE"},
        {"INTEGER", "VARCHAR", "only integer widening"},
        {"INTEGER", "UBIGINT", "a signed type cannot become unsigned"},
        {"UINTEGER", "INTEGER", "same width"},
        {"INTEGER", "HUGEINT", "stop at 64-bit"},
        {"DOUBLE", "FLOAT", "only integer widening"},
        {"INTEGER", "DOUBLE", "only integer widening"},
        {"DECIMAL(10,2)", "DECIMAL(12,2)", "only integer widening"},
        {"INTEGER[]", "BIGINT[]", "only integer widening"},
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) CHECK(fm_type_widening_ok(yes[i][0], yes[i][1], NULL));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        fm_buf why;
        fm_buf_init(&why);
        CHECK(!fm_type_widening_ok(no[i][0], no[i][1], &why));
        CHECK(why.data && strstr(why.data, no[i][2]) && strstr(why.data, no[i][0]) && strstr(why.data, no[i][1]));
        fm_buf_free(&why);
    }
}

/* ---- against a real DuckDB ---- */

static duckdb_database db;
static duckdb_connection con;

static int open_db(void) {
    duckdb_config cfg;
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    char *e = NULL;
    int rc = duckdb_open_ext(NULL, &db, cfg, &e);
    duckdb_destroy_config(&cfg);
    if (rc != DuckDBSuccess) {
        fprintf(stderr, "  open: %s\n", e ? e : "?");
        duckdb_free(e);
        return -1;
    }
    return duckdb_connect(db, &con) == DuckDBSuccess ? 0 : -1;
}

static void close_db(void) {
    duckdb_disconnect(&con);
    duckdb_close(&db);
}

static int run(const char *sql) {
    duckdb_result r;
    int rc = duckdb_query(con, sql, &r) == DuckDBSuccess ? 0 : -1;
    if (rc) fprintf(stderr, "  %s\n  -> %s\n", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

/* duckdb_columns().data_type of catalog.t's column c */
static char *column_type(const char *catalog, const char *table) {
    duckdb_prepared_statement ps;
    duckdb_result r;
    char *v = NULL;
    if (duckdb_prepare(con, "SELECT data_type FROM duckdb_columns() WHERE database_name = $1 AND table_name = $2",
                       &ps) != DuckDBSuccess)
        return NULL;
    duckdb_bind_varchar(ps, 1, catalog);
    duckdb_bind_varchar(ps, 2, table);
    if (duckdb_execute_prepared(ps, &r) == DuckDBSuccess && duckdb_row_count(&r) == 1) v = duckdb_value_varchar(&r, 0, 0);
    duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    return v;
}

static char tmpdir[64];

static int attach_lake(void) {
    strcpy(tmpdir, "/tmp/fm_tg_XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "LOAD ducklake; ATTACH 'ducklake:%s/meta.ducklake' AS lake (DATA_PATH '%s/data/')", tmpdir,
             tmpdir);
    return run(sql);
}

static void rm_tmpdir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", tmpdir);
}

FM_TEST(type_canonical_equals_duckdb_spelling) {
    CHECK(open_db() == 0);
    CHECK(attach_lake() == 0);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *catalogs[] = {"memory", "lake"};
        for (int k = 0; k < 2; k++) {
            fm_buf sql;
            fm_buf_init(&sql);
            fm_buf_printf(&sql, "CREATE TABLE %s.t%zu (c ", catalogs[k], i);
            CHECK(fm_type_parse(cases[i].in, &sql, NULL) == 0);
            fm_buf_puts(&sql, ")");
            CHECK(run(sql.data) == 0);
            char t[32];
            snprintf(t, sizeof t, "t%zu", i);
            char *dt = column_type(catalogs[k], t);
            CHECK_STR(dt, cases[i].canonical);
            duckdb_free(dt);
            fm_buf_free(&sql);
        }
    }
    close_db();
    rm_tmpdir();
}

/* every DuckDB keyword as a STRUCT field name, in lower and upper case, prints as DuckDB does */
FM_TEST(type_struct_field_quoting_matches_duckdb_keywords) {
    CHECK(open_db() == 0);
    duckdb_result r;
    CHECK(duckdb_query(con, "SELECT keyword_name FROM duckdb_keywords() ORDER BY 1", &r) == DuckDBSuccess);
    idx_t n = duckdb_row_count(&r);
    CHECK(n > 400);
    fm_buf ty;
    fm_buf_init(&ty);
    for (int upper = 0; upper < 2; upper++) {
        fm_buf_reset(&ty);
        fm_buf_puts(&ty, "STRUCT(");
        for (idx_t i = 0; i < n; i++) {
            char *kw = duckdb_value_varchar(&r, 0, i);
            if (upper)
                for (char *c = kw; *c; c++) *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
            if (i) fm_buf_puts(&ty, ", ");
            fm_sql_ident(&ty, kw, "field", NULL);
            fm_buf_puts(&ty, " INT");
            duckdb_free(kw);
        }
        fm_buf_puts(&ty, ", plain_name INT, \"Mixed_Case9\" INT)");
        fm_buf canon, sql;
        fm_buf_init(&canon);
        fm_buf_init(&sql);
        CHECK(fm_type_parse(ty.data, &canon, NULL) == 0);
        fm_buf_printf(&sql, "CREATE TABLE kw%d (c %s)", upper, canon.data);
        CHECK(run(sql.data) == 0);
        char t[16];
        snprintf(t, sizeof t, "kw%d", upper);
        char *dt = column_type("memory", t);
        CHECK(dt && strcmp(dt, canon.data) == 0);
        duckdb_free(dt);
        fm_buf_free(&canon);
        fm_buf_free(&sql);
    }
    fm_buf_free(&ty);
    duckdb_destroy_result(&r);
    close_db();
}

/* every widening we allow, DuckLake performs; INTEGER→BIGINT keeps the data */
FM_TEST(type_widening_accepted_by_ducklake) {
    static const char *types[] = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT",
                                  "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "VARCHAR"};
    const size_t nt = sizeof types / sizeof *types;
    CHECK(open_db() == 0);
    CHECK(attach_lake() == 0);
    int n = 0;
    for (size_t a = 0; a < nt; a++)
        for (size_t b = 0; b < nt; b++) {
            if (a == b || !fm_type_widening_ok(types[a], types[b], NULL)) continue;
            char sql[256], t[16];
            snprintf(t, sizeof t, "w%d", n++);
            snprintf(sql, sizeof sql, "CREATE TABLE lake.%s (c %s); INSERT INTO lake.%s VALUES (7); "
                     "ALTER TABLE lake.%s ALTER COLUMN c SET DATA TYPE %s", t, types[a], t, t, types[b]);
            CHECK(run(sql) == 0);
            char *dt = column_type("lake", t);
            CHECK_STR(dt, types[b]);
            duckdb_free(dt);
        }
    CHECK(n == 19);
    CHECK(run("SELECT 1 FROM lake.w0 WHERE c = 7") == 0);
    /* and a refused one is refused by DuckLake too */
    duckdb_result r;
    CHECK(run("CREATE TABLE lake.narrow (c BIGINT)") == 0);
    CHECK(duckdb_query(con, "ALTER TABLE lake.narrow ALTER COLUMN c SET DATA TYPE INTEGER", &r) == DuckDBError);
    duckdb_destroy_result(&r);
    char *dt = column_type("lake", "narrow");
    CHECK_STR(dt, "BIGINT");
    duckdb_free(dt);
    close_db();
    rm_tmpdir();
}
