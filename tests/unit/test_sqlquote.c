/* Quoting is the only barrier between names from specs and SQL text: besides the exact
 * output, a real DuckDB must create exactly the hostile name and nothing else. */
#include <duckdb.h>
#include <stdlib.h>

#include "model/sqlquote.h"
#include "unit.h"

static void ident(const char *in, const char *want, int *fm_failed) {
    fm_buf b;
    fm_buf_init(&b);
    fm_err e;
    fm_err_clear(&e);
    int rc = fm_sql_ident(&b, in, "column name", &e);
    if (want) {
        CHECK(rc == 0);
        CHECK_STR(b.data, want);
    } else {
        CHECK(rc == -1);
        CHECK(e.code == FM_E_INVALID);
        CHECK(b.len == 0);
        CHECK(strstr(e.msg, "column name") != NULL);
    }
    fm_buf_free(&b);
}

FM_TEST(sql_ident_quotes) {
    ident("id", "\"id\"", fm_failed);
    ident("Mixed Case", "\"Mixed Case\"", fm_failed);
    ident("a\"b", "\"a\"\"b\"", fm_failed);
    ident("\"", "\"\"\"\"", fm_failed);
    ident("a;b", "\"a;b\"", fm_failed);
    ident("\"; DROP TABLE x; --", "\"\"\"; DROP TABLE x; --\"", fm_failed);
    ident("it's", "\"it's\"", fm_failed);
    ident("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x86", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\xa6\x86\"", fm_failed);
    ident("select", "\"select\"", fm_failed);
}

FM_TEST(sql_ident_refusals) {
    ident("", NULL, fm_failed);
    ident(NULL, NULL, fm_failed);
    ident("a\nb", NULL, fm_failed);
    ident("a\tb", NULL, fm_failed);
    ident("\x1b[31m", NULL, fm_failed);
    ident("del\x7f", NULL, fm_failed);
    ident("bad\xff", NULL, fm_failed);
    ident("\xc0\xaf", NULL, fm_failed);     /* overlong '/' */
    ident("\xed\xa0\x80", NULL, fm_failed); /* surrogate */
    ident("\xe2\x82", NULL, fm_failed);     /* truncated */
    char longname[300];
    memset(longname, 'x', sizeof longname);
    longname[255] = 0;
    fm_buf b;
    fm_buf_init(&b);
    CHECK(fm_sql_ident(&b, longname, "x", NULL) == 0);
    CHECK(b.len == 257);
    fm_buf_free(&b);
    longname[255] = 'x';
    longname[256] = 0;
    ident(longname, NULL, fm_failed);
}

FM_TEST(sql_literal_quotes) {
    fm_buf b;
    fm_buf_init(&b);
    fm_err e;
    CHECK(fm_sql_literal(&b, "it's", &e) == 0);
    CHECK_STR(b.data, "'it''s'");
    fm_buf_reset(&b);
    CHECK(fm_sql_literal(&b, "", &e) == 0);
    CHECK_STR(b.data, "''");
    fm_buf_reset(&b);
    CHECK(fm_sql_literal(&b, "'; DROP TABLE x; --", &e) == 0);
    CHECK_STR(b.data, "'''; DROP TABLE x; --'");
    fm_buf_reset(&b);
    CHECK(fm_sql_literal(&b, "back\\slash\nnew", &e) == 0);
    CHECK_STR(b.data, "'back\\slash\nnew'");
    fm_buf_reset(&b);
    CHECK(fm_sql_literal(&b, "bad\xff", &e) == -1);
    CHECK(b.len == 0);
    fm_buf_free(&b);
}

FM_TEST(utf8_valid) {
    CHECK(fm_utf8_valid("", 0));
    CHECK(fm_utf8_valid("\xf4\x8f\xbf\xbf", 4));
    CHECK(!fm_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    CHECK(!fm_utf8_valid("\xe0\x80\x80", 3));     /* overlong */
    CHECK(!fm_utf8_valid("\x80", 1));
}

static int count_rows(duckdb_connection c, const char *sql) {
    duckdb_result r;
    if (duckdb_query(c, sql, &r) == DuckDBError) {
        duckdb_destroy_result(&r);
        return -1;
    }
    int n = (int)duckdb_value_int64(&r, 0, 0);
    duckdb_destroy_result(&r);
    return n;
}

/* CREATE TABLE with each hostile name, quoted, must create a table of exactly that name and
 * no other; the sentinel table must survive, and the literal must read back byte for byte. */
FM_TEST(sql_quote_hostile_names_in_duckdb) {
    static const char *names[] = {"\"; DROP TABLE sentinel; --", "x\"); DROP TABLE sentinel; CREATE TABLE y(\"",
                                  "a;b", "it's", "caf\xc3\xa9 \xf0\x9f\xa6\x86", "\"", "select", " spaced "};
    duckdb_database db;
    duckdb_connection c;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess);
    CHECK(duckdb_connect(db, &c) == DuckDBSuccess);
    CHECK(count_rows(c, "CREATE TABLE sentinel(i INTEGER)") == 0);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        fm_buf sql;
        fm_buf_init(&sql);
        fm_buf_puts(&sql, "CREATE TABLE ");
        CHECK(fm_sql_ident(&sql, names[i], "table name", NULL) == 0);
        fm_buf_puts(&sql, " (");
        CHECK(fm_sql_ident(&sql, names[i], "column name", NULL) == 0);
        fm_buf_puts(&sql, " VARCHAR); INSERT INTO ");
        CHECK(fm_sql_ident(&sql, names[i], "table name", NULL) == 0);
        fm_buf_puts(&sql, " VALUES (");
        CHECK(fm_sql_literal(&sql, names[i], NULL) == 0);
        fm_buf_puts(&sql, ")");
        duckdb_result r;
        CHECK(duckdb_query(c, sql.data, &r) == DuckDBSuccess);
        duckdb_destroy_result(&r);
        fm_buf_free(&sql);

        duckdb_prepared_statement ps;
        CHECK(duckdb_prepare(c, "SELECT count(*) FILTER (WHERE table_name = $1), count(*) FROM duckdb_tables()",
                             &ps) == DuckDBSuccess);
        duckdb_bind_varchar(ps, 1, names[i]);
        CHECK(duckdb_execute_prepared(ps, &r) == DuckDBSuccess);
        CHECK(duckdb_value_int64(&r, 0, 0) == 1);
        CHECK(duckdb_value_int64(&r, 1, 0) == (int64_t)i + 2); /* sentinel + one per name so far */
        duckdb_destroy_result(&r);
        duckdb_destroy_prepare(&ps);

        fm_buf q;
        fm_buf_init(&q);
        fm_buf_puts(&q, "SELECT ");
        fm_sql_ident(&q, names[i], "column name", NULL);
        fm_buf_puts(&q, " FROM ");
        fm_sql_ident(&q, names[i], "table name", NULL);
        CHECK(duckdb_query(c, q.data, &r) == DuckDBSuccess);
        char *v = duckdb_value_varchar(&r, 0, 0);
        CHECK_STR(v, names[i]);
        duckdb_free(v);
        duckdb_destroy_result(&r);
        fm_buf_free(&q);
    }
    CHECK(count_rows(c, "SELECT count(*) FROM sentinel") == 0);
    CHECK(count_rows(c, "SELECT count(*) FROM duckdb_tables() WHERE table_name IN ('sentinel')") == 1);
    duckdb_disconnect(&c);
    duckdb_close(&db);
}
