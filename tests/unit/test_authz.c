/* The authorizer's policy on statements parsed by DuckDB and described by the C++ shim, without
 * the lexical filter in front (so what is refused here is refused by the authorizer alone). The
 * database is a real DuckDB with a real DuckLake catalog "lake" attached (its metadata catalog
 * __ducklake_metadata_lake beside it) and the scanner extensions loaded, as in the engine. */
#include <duckdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/authz.h"
#include "engine/sqlguard.h"
#include "engine/sqlparse.h"
#include "unit.h"

typedef struct {
    duckdb_database db;
    duckdb_connection con;
    fm_authz *a;
    char dir[64];
} lake_t;

static int exec(duckdb_connection con, const char *sql) {
    duckdb_result r;
    int rc = duckdb_query(con, sql, &r) == DuckDBError ? -1 : 0;
    if (rc) fprintf(stderr, "  %s: %s\n", sql, duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

static int lake_open(lake_t *l) {
    memset(l, 0, sizeof *l);
    snprintf(l->dir, sizeof l->dir, "/tmp/fm-authz-unit-XXXXXX");
    if (!mkdtemp(l->dir)) return -1;
    duckdb_config dc;
    if (duckdb_create_config(&dc) == DuckDBError) return -1;
    duckdb_set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(dc, "autoinstall_known_extensions", "false");
    duckdb_set_config(dc, "autoload_known_extensions", "false");
    int rc = duckdb_open_ext(NULL, &l->db, dc, NULL) == DuckDBError ? -1 : 0;
    duckdb_destroy_config(&dc);
    if (rc || duckdb_connect(l->db, &l->con) == DuckDBError) return -1;
    fm_err e;
    fm_err_clear(&e);
    l->a = fm_authz_new("lake");
    if (fm_authz_snapshot_functions(l->a, l->con, &e)) return -1;
    char sql[512];
    snprintf(sql, sizeof sql, "ATTACH 'ducklake:%s/m.ducklake' AS lake (DATA_PATH '%s/data/')", l->dir, l->dir);
    if (exec(l->con, "LOAD ducklake") || exec(l->con, "LOAD sqlite_scanner") || exec(l->con, "LOAD postgres_scanner") ||
        exec(l->con, sql) || exec(l->con, "USE lake") || exec(l->con, "CREATE TABLE t (x INTEGER)") ||
        exec(l->con, "INSERT INTO t VALUES (1), (2), (3)") || exec(l->con, "CREATE SCHEMA s"))
        return -1;
    return fm_authz_snapshot_catalogs(l->a, l->con, &e);
}

static void lake_close(lake_t *l) {
    fm_authz_free(l->a);
    duckdb_disconnect(&l->con);
    duckdb_close(&l->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", l->dir);
    if (system(cmd)) fprintf(stderr, "  could not remove %s\n", l->dir);
}

/* 0 allowed, -1 refused (err set), -2 DuckDB could not parse it */
static int authorize(lake_t *l, fm_scope scope, const char *sql, fm_err *e) {
    fm_err_clear(e);
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(l->con, sql, &st);
    int rc = n ? 0 : -2;
    for (idx_t i = 0; !rc && i < n; i++) rc = fm_authz_check_extracted(l->a, scope, st, i, e);
    duckdb_destroy_extracted(&st);
    return rc;
}

static void allowed(lake_t *l, fm_scope scope, const char *sql, int *fm_failed) {
    fm_err e;
    int rc = authorize(l, scope, sql, &e);
    if (rc) {
        fprintf(stderr, "  refused (%d) at %s: [%s]: %s\n", rc, fm_scope_name(scope), sql, e.msg);
        *fm_failed = 1;
    }
}

static void refused(lake_t *l, fm_scope scope, const char *sql, const char *msg, int *fm_failed) {
    fm_err e;
    int rc = authorize(l, scope, sql, &e);
    if (rc != -1 || e.code != FM_E_REFUSED || (msg && !strstr(e.msg, msg))) {
        fprintf(stderr, "  not refused as expected (%d) at %s: [%s]: got [%s], want [%s]\n", rc,
                fm_scope_name(scope), sql, rc == -1 ? e.msg : "", msg ? msg : "");
        *fm_failed = 1;
    }
}

FM_TEST(authz_statement_types_by_scope) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    const char *reads[] = {"SELECT 1", "SELECT * FROM t", "FROM t", "SELECT * FROM lake.main.t", "DESCRIBE t",
                           "SHOW TABLES", "SHOW ALL TABLES", "SUMMARIZE t", "SUMMARIZE SELECT 1", "EXPLAIN SELECT 1",
                           "EXPLAIN ANALYZE SELECT * FROM t", "BEGIN", "COMMIT", "ROLLBACK", "SHOW TABLES FROM s",
                           "VALUES (1), (2)", "SELECT * FROM t AT (VERSION => 1)"};
    const char *writes[] = {"INSERT INTO t VALUES (4)", "INSERT INTO t SELECT * FROM range(3)",
                            "UPDATE t SET x = x + 1 WHERE x > (SELECT min(x) FROM t)", "DELETE FROM t WHERE x = 1",
                            "INSERT INTO lake.main.t VALUES (1) RETURNING x * 2", "EXPLAIN ANALYZE DELETE FROM t",
                            "WITH a AS (SELECT 1 AS x) INSERT INTO t SELECT x FROM a",
                            "MERGE INTO t USING (SELECT 1 AS x) src ON t.x = src.x WHEN MATCHED THEN DELETE"};
    const char *admins[] = {"CREATE TABLE u (a INTEGER)", "CREATE TABLE s.u AS SELECT * FROM t",
                            "CREATE OR REPLACE VIEW v AS SELECT x FROM t", "CREATE SCHEMA s2", "DROP TABLE t",
                            "DROP VIEW v", "DROP SCHEMA s CASCADE", "ALTER TABLE t ADD COLUMN y INTEGER",
                            "ALTER TABLE t RENAME TO t2", "ALTER TABLE t RENAME COLUMN x TO z",
                            "ALTER TABLE t ALTER COLUMN x TYPE BIGINT", "ALTER VIEW v RENAME TO v2",
                            "CREATE TABLE u (a INTEGER DEFAULT 1, b VARCHAR NOT NULL)",
                            "ALTER TABLE t ADD COLUMN y INTEGER DEFAULT 7", "COMMENT ON TABLE t IS 'x'",
                            "EXPLAIN CREATE TABLE u (a INT)", "DROP SCHEMA IF EXISTS lake.s"};
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        allowed(&l, FM_SCOPE_READ, reads[i], fm_failed);
        allowed(&l, FM_SCOPE_ADMIN, reads[i], fm_failed);
    }
    for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
        refused(&l, FM_SCOPE_READ, writes[i], "needs the write scope (this request has the read scope)", fm_failed);
        allowed(&l, FM_SCOPE_WRITE, writes[i], fm_failed);
        allowed(&l, FM_SCOPE_ADMIN, writes[i], fm_failed);
    }
    for (size_t i = 0; i < sizeof admins / sizeof *admins; i++) {
        refused(&l, FM_SCOPE_READ, admins[i], "needs the admin scope", fm_failed);
        refused(&l, FM_SCOPE_WRITE, admins[i], "needs the admin scope", fm_failed);
        allowed(&l, FM_SCOPE_ADMIN, admins[i], fm_failed);
    }
    refused(&l, FM_SCOPE_WRITE, "DROP TABLE t", "DROP needs the admin scope", fm_failed);
    refused(&l, FM_SCOPE_WRITE, "CALL ducklake_flush_inlined_data('lake')",
            "function ducklake_flush_inlined_data needs the admin scope", fm_failed);
    allowed(&l, FM_SCOPE_ADMIN, "CALL ducklake_flush_inlined_data('lake')", fm_failed);
    refused(&l, FM_SCOPE_READ, "EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "EXPLAIN ANALYZE INSERT needs the write",
            fm_failed);
    lake_close(&l);
}

FM_TEST(authz_never_through_the_query_api) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    static const struct {
        const char *sql, *msg;
    } never[] = {
        {"COPY t TO '/tmp/x.csv'", "COPY is not allowed through the query API"},
        {"COPY (SELECT 'x') TO '/state/lake/metadata.sqlite' (FORMAT csv, USE_TMP_FILE false)", "COPY is not allowed"},
        {"COPY (SELECT 1 AS a) TO '/d' (FORMAT parquet, PARTITION_BY (a), OVERWRITE)", "COPY is not allowed"},
        {"COPY t FROM '/etc/passwd'", "COPY ... FROM is not allowed"},
        {"EXPORT DATABASE '/tmp/e'", "EXPORT is not allowed"},
        {"COPY FROM DATABASE lake TO memory", "COPY DATABASE is not allowed"},
        {"ATTACH '/tmp/o.db' AS o", "ATTACH is not allowed"},
        {"DETACH lake", "DETACH is not allowed"},
        {"LOAD httpfs", "LOAD/INSTALL is not allowed"},
        {"INSTALL spatial", "LOAD/INSTALL is not allowed"},
        {"SET memory_limit = '1GB'", "SET is not allowed"},
        {"RESET threads", "SET is not allowed"},
        {"SET VARIABLE v = 1", "SET is not allowed"},
        {"USE memory", "SET is not allowed"},
        {"PREPARE p AS SELECT 1", "PREPARE is not allowed"},
        {"EXECUTE p", "EXECUTE is not allowed"},
        {"PRAGMA enable_profiling", "PRAGMA is not allowed"},
        {"CHECKPOINT", "function checkpoint is not allowed"},
        {"VACUUM", "VACUUM is not allowed"},
        {"ANALYZE", "is not allowed"}, /* DuckDB parses ANALYZE as a VACUUM statement */
        {"UPDATE EXTENSIONS", "UPDATE EXTENSIONS is not allowed"},
        {"CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')", "CREATE SECRET is not allowed"},
        {"CREATE OR REPLACE SECRET fm_s3 (TYPE s3, ENDPOINT 'evil')", "CREATE SECRET is not allowed"},
        {"DROP SECRET fm_s3", "DROP SECRET is not allowed"},
        {"CREATE MACRO m(x) AS x", "CREATE MACRO FUNCTION is not allowed"},
        {"CREATE TEMP MACRO upper(x) AS 'p'", "is not allowed"},
        {"CREATE MACRO tm() AS TABLE SELECT 1", "is not allowed"},
        {"CREATE FUNCTION f(x) AS x", "is not allowed"},
        {"CREATE TYPE mood AS ENUM ('a')", "CREATE TYPE is not allowed"},
        {"CREATE SEQUENCE q", "CREATE SEQUENCE is not allowed"},
        {"CREATE INDEX i ON t (x)", "CREATE INDEX is not allowed"},
        {"CREATE TEMP VIEW users AS SELECT 1", "CREATE TEMP VIEW is not allowed"},
        {"CREATE TEMPORARY TABLE x AS SELECT 1", "CREATE TEMP TABLE is not allowed"},
        {"CREATE VIEW temp.v AS SELECT 1", "temp is not reachable"},
        {"CREATE VIEW temp.main.v AS SELECT 1", "catalog temp is not reachable"},
        {"EXPLAIN ANALYZE SET threads = 1", "SET is not allowed"},
        {"EXPLAIN (ANALYZE) SET threads = 1", "SET is not allowed"},
        {"EXPLAIN COPY t TO '/x'", "COPY is not allowed"},
        {"EXPLAIN ANALYZE CREATE TEMP VIEW v AS SELECT 1", "CREATE TEMP VIEW is not allowed"},
        {"ALTER TABLE t ADD PRIMARY KEY (x)", "ALTER TABLE ... ADD CONSTRAINT is not allowed"},
        {"PIVOT t ON x USING sum(x)", "CREATE TEMP TYPE is not allowed"}, /* DuckDB runs it as CREATE TEMP TYPE */
        {"CALL enable_logging('QueryLog')", "function enable_logging is not allowed"},
        {"CALL ducklake_cleanup_old_files('lake', cleanup_all => true)", "function ducklake_cleanup_old_files"},
        {"CALL ducklake_expire_snapshots('lake', older_than => now())", "function ducklake_expire_snapshots"},
        {"SELECT * FROM ducklake_merge_adjacent_files('lake')", "function ducklake_merge_adjacent_files"},
        {"CALL ducklake_set_option('lake', 'x', 1)", "function ducklake_set_option"},
        {"DROP SCHEMA main CASCADE", "default schema main of catalog lake cannot be"},
        {"DROP SCHEMA lake.main CASCADE", "default schema main"},
        {"DROP SCHEMA \"MAIN\"", "default schema MAIN"},
        {"CREATE SCHEMA IF NOT EXISTS main", "default schema main"},
        {"CREATE SCHEMA memory", "schema name memory is reserved"},
        {"DROP SCHEMA memory.s", "catalog memory is not reachable"},
        {"INSERT INTO \"a.b\" VALUES (1)", "a.b is not a table name the query API writes"},
        /* a construct the shim does not describe is refused, never waved through */
        {"CREATE TABLE u (a INT REFERENCES t (x))", "the authorizer does not admit FOREIGN KEY"},
    };
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) refused(&l, FM_SCOPE_ADMIN, never[i].sql, never[i].msg, fm_failed);
    lake_close(&l);
}

FM_TEST(authz_functions_and_catalogs) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    static const struct {
        const char *sql, *msg;
    } bad[] = {
        {"SELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan is not allowed through the query API"},
        {"--\rSELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"-- a\r\nSELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"/* a /* b */ c */ SELECT * FROM \"SQLITE_SCAN\"('/x', 'y')", "function sqlite_scan"},
        {"SELECT * FROM system.main.sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"SELECT (SELECT count(*) FROM sqlite_scan('/x', 'y'))", "function sqlite_scan"},
        {"WITH c AS (SELECT * FROM sqlite_scan('/x', 'y')) SELECT * FROM c", "function sqlite_scan"},
        {"WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c, sqlite_scan('/x','y')) SELECT * FROM c",
         "function sqlite_scan"},
        {"SELECT * FROM t WHERE x IN (SELECT 1 FROM sqlite_scan('/x', 'y'))", "function sqlite_scan"},
        {"SELECT * FROM t JOIN sqlite_scan('/x', 'y') s ON true", "function sqlite_scan"},
        {"SELECT * FROM t, LATERAL (SELECT * FROM sqlite_scan('/x', 'y'))", "function sqlite_scan"},
        {"SELECT 1 UNION ALL SELECT count(*) FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"INSERT INTO t SELECT 1 FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"CREATE TABLE u AS SELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"CREATE VIEW u AS SELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"SELECT * FROM postgres_query('p', 'SELECT 1')", "function postgres_query"},
        {"SELECT * FROM postgres_scan('host=evil', 'public', 't')", "function postgres_scan"},
        {"CALL postgres_execute('p', 'DROP TABLE x')", "function postgres_execute"},
        {"SELECT * FROM read_csv('/etc/passwd')", "function read_csv"},
        {"SELECT * FROM read_parquet('s3://b/p/../other/x.parquet')", "function read_parquet"},
        {"SELECT * FROM read_text('/etc/hostname')", "function read_text"},
        {"SELECT * FROM read_blob('/x')", "function read_blob"},
        {"SELECT * FROM glob('/*')", "function glob"},
        {"SELECT * FROM '/etc/passwd.csv'", "/etc/passwd.csv is not a table name"},
        {"SELECT * FROM 'x.parquet'", "x.parquet is not a table name"},
        {"SELECT * FROM \"s3://b/x\"", "is not a table name"},
        {"SELECT * FROM query('SELECT 1')", "function query is not allowed"},
        {"SELECT * FROM query_table('t')", "function query_table"},
        {"SELECT getenv('HOME')", "function getenv"},
        {"SELECT current_setting('allowed_directories')", "function current_setting"},
        {"SELECT write_log('x')", "function write_log"},
        {"SELECT sleep_ms(1)", "function sleep_ms"},
        {"SELECT nextval('q')", "function nextval"},
        {"SELECT setseed(0.5)", "function setseed"},
        {"SELECT pg_sleep(1)", "function pg_sleep"},
        {"SELECT json_serialize_plan('SELECT * FROM read_csv(''/etc/passwd'')')", "function json_serialize_plan"},
        {"SELECT * FROM t WHERE x = getvariable('v')", "function getvariable"},
        {"SELECT list_transform([1], x -> getenv('A'))", "function getenv"},
        {"SELECT sum(x) FILTER (WHERE getenv('a') = 'b') FROM t", "function getenv"},
        {"SELECT row_number() OVER (ORDER BY getenv('a')) FROM t", "function getenv"},
        {"SELECT * FROM t ORDER BY getenv('a')", "function getenv"},
        {"SELECT * FROM t LIMIT (SELECT count(*) FROM sqlite_scan('/x', 'y'))", "function sqlite_scan"},
        {"SELECT * FROM t AT (VERSION => (SELECT count(*) FROM sqlite_scan('/x','y')))", "function sqlite_scan"},
        {"INSERT INTO t VALUES (1) RETURNING getenv('a')", "function getenv"},
        {"UPDATE t SET x = length(getenv('a'))", "function getenv"},
        {"DELETE FROM t USING sqlite_scan('/x', 'y') s WHERE true", "function sqlite_scan"},
        {"CREATE TABLE u (a VARCHAR DEFAULT getenv('A'))", "function getenv"},
        {"CREATE TABLE u (a INTEGER, CHECK (getenv('A') IS NULL))", "function getenv"},
        {"ALTER TABLE t ADD COLUMN y VARCHAR DEFAULT getenv('A')", "function getenv"},
        {"ALTER TABLE t ALTER x SET DEFAULT getenv('A')", "function getenv"},
        {"DESCRIBE SELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"SUMMARIZE SELECT * FROM sqlite_scan('/x', 'y')", "function sqlite_scan"},
        {"PIVOT t ON x IN (1, 2) USING sum(length(getenv('a')))", "function getenv"},
        {"SELECT * FROM duckdb_secrets()", "function duckdb_secrets"},
        {"SELECT * FROM duckdb_settings()", "function duckdb_settings"},
        {"SELECT * FROM duckdb_databases()", "function duckdb_databases"},
        {"SELECT * FROM duckdb_logs()", "function duckdb_logs"},
        {"SELECT * FROM duckdb_variables()", "function duckdb_variables"},
        {"SELECT * FROM which_secret('s3://b', 's3')", "function which_secret"},
        {"SELECT * FROM pragma_table_info('t')", "function pragma_table_info"},
        {"PRAGMA table_info('t')", "function pragma_table_info"},
        {"SELECT * FROM json_execute_serialized_sql('{}')", "function json_execute_serialized_sql"},
        {"SELECT * FROM duckdb_logs", "duckdb_logs is not allowed"},
        {"SELECT * FROM pg_settings", "pg_settings is not allowed"},
        {"SELECT * FROM duckdb_databases", "duckdb_databases is not allowed"},
        {"SHOW VARIABLES", "SHOW variables is not allowed"},
        {"SHOW DATABASES", "SHOW databases is not allowed"},
        {"SELECT * FROM __ducklake_metadata_lake.ducklake_table", "__ducklake_metadata_lake is not reachable"},
        {"SELECT * FROM __ducklake_metadata_lake.main.ducklake_table", "catalog __ducklake_metadata_lake"},
        {"SELECT * FROM \"__DUCKLAKE_METADATA_LAKE\".ducklake_table", "is not reachable"},
        {"UPDATE __ducklake_metadata_lake.ducklake_snapshot SET schema_version = 9", "is not reachable"},
        {"DELETE FROM __ducklake_metadata_lake.main.ducklake_data_file", "is not reachable"},
        {"INSERT INTO __ducklake_metadata_lake.ducklake_tag VALUES (1)", "is not reachable"},
        {"DROP TABLE __ducklake_metadata_lake.ducklake_snapshot", "is not reachable"},
        {"DESCRIBE __ducklake_metadata_lake.ducklake_table", "is not reachable"},
        {"SHOW TABLES FROM __ducklake_metadata_lake", "is not reachable"},
        {"SELECT * FROM __ducklake_metadata_other.x", "is not reachable"},
        {"SELECT * FROM system.main.duckdb_settings", "catalog system"},
        {"SELECT * FROM temp.main.x", "catalog temp"},
        {"SELECT * FROM memory.x", "memory is not reachable"},
        {"CREATE TABLE memory.main.x AS SELECT 1", "catalog memory"},
        {"SELECT * FROM information_schema.tables", "information_schema is not reachable"},
        {"SELECT * FROM pg_catalog.pg_settings", "pg_catalog is not reachable"},
        {"MERGE INTO __ducklake_metadata_lake.ducklake_tag USING t ON true WHEN MATCHED THEN DELETE", "not reachable"},
        {"SELECT lake.main.upper('a')", "function upper is not allowed"},
        {"DESCRIBE '/etc/passwd.csv'", "is not a table name"},
        {"SUMMARIZE '/etc/passwd.csv'", "is not a table name"},
        {"DESCRIBE FROM read_csv('x')", "function read_csv"},
        {"SELECT sum(x) OVER w FROM t WINDOW w AS (ORDER BY getenv('a'))", "function getenv"},
        {"SELECT 1 FROM t GROUP BY CUBE (getenv('a'))", "function getenv"},
        {"INSERT INTO t VALUES (1) ON CONFLICT (x) DO UPDATE SET x = length(getenv('b'))", "function getenv"},
        {"MERGE INTO t USING s.u ON true WHEN MATCHED THEN UPDATE SET x = length(getenv('a'))", "function getenv"},
        {"SELECT COLUMNS(c -> getenv(c) IS NULL) FROM t", "function getenv"},
        {"SELECT [getenv(v) FOR v IN ['a']]", "function getenv"},
        {"SELECT x FROM t UNION BY NAME FROM read_csv('x')", "function read_csv"},
        {"SELECT * FROM t ASOF JOIN read_csv('y') r ON t.x >= r.x", "function read_csv"},
        {"SELECT * FROM t POSITIONAL JOIN read_csv('y')", "function read_csv"},
        {"SELECT * FROM (VALUES (getenv('a')))", "function getenv"},
        {"CREATE TABLE g (a INT GENERATED ALWAYS AS (length(getenv('a'))))", "function getenv"},
        {"CREATE TABLE g (a INT) PARTITIONED BY (getenv('x'))", "function getenv"},
        {"ALTER TABLE t SET PARTITIONED BY (getenv('x'))", "function getenv"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) refused(&l, FM_SCOPE_ADMIN, bad[i].sql, bad[i].msg, fm_failed);

    const char *good[] = {
        "SELECT upper('a'), lower('B'), length('x'), abs(-1), round(1.5), now(), current_date, random(), uuid()",
        "SELECT list_transform([1, 2], x -> x + 1), list_filter([1], x -> x > 0), [1, 2][1], {'a': 1}.a",
        "SELECT x, sum(x) OVER (ORDER BY x), row_number() OVER (), lag(x) OVER () FROM t",
        "SELECT count(*), count(DISTINCT x), string_agg(x::VARCHAR, ',' ORDER BY x), min(x) FILTER (WHERE x > 1) FROM t",
        "SELECT x, grouping(x) FROM t GROUP BY ROLLUP (x)",
        "SELECT unnest([1, 2]), generate_series(1, 3)",
        "SELECT * FROM range(3), generate_series(1, 2), unnest([1])",
        "SELECT * FROM ducklake_snapshots('lake')",
        "SELECT * FROM ducklake_table_info('lake')",
        "SELECT * FROM ducklake_table_changes('lake', 'main', 't', 0, 1)",
        "SELECT * FROM duckdb_tables() WHERE database_name = 'lake'",
        "SELECT * FROM duckdb_columns", "SELECT * FROM duckdb_functions() LIMIT 1",
        "SELECT json_extract('{\"a\": 1}', '$.a'), '{\"a\":1}'::JSON->>'a'",
        "SELECT * FROM json_each('{\"a\": 1}')",
        "SELECT CASE WHEN x > 1 THEN 'a' ELSE 'b' END, x BETWEEN 1 AND 2, x IS DISTINCT FROM 2, coalesce(x, 0) FROM t",
        "SELECT COLUMNS('x') FROM t", "SELECT * EXCLUDE (x) FROM t", "SELECT * REPLACE (x + 1 AS x) FROM t",
        "SELECT strftime(now(), '%Y'), date_trunc('day', now()), extract(year FROM now()), INTERVAL 1 DAY",
        "SELECT regexp_replace('abc', 'b', 'x'), md5('a'), sha256('a'), 'a' LIKE 'a%', 'a' ~~ 'a', 'ab' || 'c'",
        "SELECT error('boom')", "SELECT typeof(1), version()",
        "SELECT * FROM (SELECT x FROM t) sub JOIN t USING (x) WHERE EXISTS (SELECT 1 FROM t t2 WHERE t2.x = sub.x)",
        "PIVOT t ON x IN (1, 2) USING sum(x)", "UNPIVOT (SELECT 1 AS a, 2 AS b) ON a, b INTO NAME k VALUE v",
        "SELECT * FROM t QUALIFY row_number() OVER (ORDER BY x) = 1",
        "SELECT * FROM t ORDER BY x LIMIT 1 OFFSET 1", "SELECT DISTINCT ON (x) x FROM t",
        "SELECT * FROM t USING SAMPLE 50%", "SELECT x FROM t UNION SELECT 2 EXCEPT SELECT 3 INTERSECT SELECT 1",
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 3) SELECT * FROM c",
        "SELECT * FROM t AS a(y)", "SELECT $$dollar$$, E'\\n', 'it''s'", "SELECT * FROM s.nothing_yet",
        "INSERT INTO t BY NAME SELECT 1 AS x", "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING",
        "INSERT OR REPLACE INTO t VALUES (1)", "UPDATE t SET x = 1 FROM (SELECT 1 AS y) o WHERE t.x = o.y",
        "CREATE TABLE u (a INTEGER, b DECIMAL(10, 2), c VARCHAR[], d STRUCT(e INTEGER), f MAP(VARCHAR, INTEGER))",
        "CREATE TABLE u AS WITH c AS (SELECT 1 AS a) SELECT * FROM c",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) allowed(&l, FM_SCOPE_ADMIN, good[i], fm_failed);
    lake_close(&l);
}

/* the shim's flat description of one statement, checked reference by reference */
FM_TEST(sqlparse_describes_references) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(
        l.con,
        "EXPLAIN ANALYZE WITH c AS (SELECT upper(b) AS u FROM lake.s.src) "
        "INSERT INTO s.dst SELECT u FROM c, range(2) RETURNING lower(u)",
        &st);
    CHECK(n == 1);
    fm_sqlstmt *s = fm_sqlparse_describe(st, 0);
    CHECK(s != NULL);
    if (s) {
        CHECK(s->type == DUCKDB_STATEMENT_TYPE_EXPLAIN && s->inner == DUCKDB_STATEMENT_TYPE_INSERT && s->analyze);
        CHECK(s->unsupported == NULL && s->object == FM_SQLOBJ_NONE);
        static const struct {
            fm_sqlref_kind k;
            const char *cat, *sch, *name;
        } want[] = {{FM_SQLREF_FUNCTION, "", "", "upper"},      {FM_SQLREF_TABLE, "lake", "s", "src"},
                    {FM_SQLREF_TARGET, "", "s", "dst"},         {FM_SQLREF_TABLE, "", "", "c"},
                    {FM_SQLREF_TABLE_FUNCTION, "", "", "range"}, {FM_SQLREF_FUNCTION, "", "", "lower"}};
        size_t found = 0;
        for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
            for (size_t j = 0; j < s->nrefs; j++) {
                const fm_sqlref *r = &s->refs[j];
                if (r->kind == want[i].k && !strcmp(r->catalog, want[i].cat) && !strcmp(r->schema, want[i].sch) &&
                    !strcmp(r->name, want[i].name)) {
                    found++;
                    break;
                }
            }
        }
        CHECK(found == sizeof want / sizeof *want);
        CHECK(s->nrefs == sizeof want / sizeof *want);
        fm_sqlstmt_free(s);
    }
    /* out of range, and a statement already taken by prepare, give NULL */
    CHECK(fm_sqlparse_describe(st, 1) == NULL);
    duckdb_prepared_statement p = NULL;
    duckdb_prepare_extracted_statement(l.con, st, 0, &p);
    duckdb_destroy_prepare(&p);
    CHECK(fm_sqlparse_describe(st, 0) == NULL);
    fm_err e;
    fm_err_clear(&e);
    CHECK(fm_authz_check_extracted(l.a, FM_SCOPE_ADMIN, st, 0, &e) == -1 && e.code == FM_E_INTERNAL);
    duckdb_destroy_extracted(&st);

    n = duckdb_extract_statements(l.con, "CREATE TEMP TABLE x (a INT); DROP SCHEMA s; COPY t FROM 'f'", &st);
    CHECK(n == 3);
    fm_sqlstmt *a = fm_sqlparse_describe(st, 0), *b = fm_sqlparse_describe(st, 1), *c = fm_sqlparse_describe(st, 2);
    CHECK(a && a->type == DUCKDB_STATEMENT_TYPE_CREATE && a->object == FM_SQLOBJ_TABLE && a->temporary);
    CHECK(b && b->type == DUCKDB_STATEMENT_TYPE_DROP && b->object == FM_SQLOBJ_SCHEMA && b->nrefs == 1 &&
          b->refs[0].kind == FM_SQLREF_TARGET && !strcmp(b->refs[0].name, "s"));
    CHECK(c && c->type == DUCKDB_STATEMENT_TYPE_COPY && c->copy_from);
    fm_sqlstmt_free(a);
    fm_sqlstmt_free(b);
    fm_sqlstmt_free(c);
    duckdb_destroy_extracted(&st);
    lake_close(&l);
}

/* what the authorizer admits is what DuckDB then runs: allowed statements really prepare and
 * execute, with the statement type the description said */
FM_TEST(authz_admitted_statements_run) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    const char *ok[] = {"SELECT count(*) FROM t", "DESCRIBE t", "SHOW TABLES", "SUMMARIZE t",
                        "SELECT * FROM ducklake_snapshots('lake')", "INSERT INTO t VALUES (10)",
                        "EXPLAIN ANALYZE SELECT 1", "CREATE VIEW v AS SELECT x FROM t", "DROP VIEW v"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        duckdb_extracted_statements st = NULL;
        idx_t n = duckdb_extract_statements(l.con, ok[i], &st);
        CHECK(n == 1);
        fm_sqlstmt *s = fm_sqlparse_describe(st, 0);
        fm_err e;
        fm_err_clear(&e);
        CHECK(s && fm_authz_check(l.a, FM_SCOPE_ADMIN, s, &e) == 0);
        duckdb_prepared_statement p = NULL;
        CHECK(duckdb_prepare_extracted_statement(l.con, st, 0, &p) == DuckDBSuccess);
        CHECK(s && duckdb_prepared_statement_type(p) == s->type);
        duckdb_result r;
        if (duckdb_execute_prepared(p, &r) == DuckDBError) {
            fprintf(stderr, "  %s: %s\n", ok[i], duckdb_result_error(&r));
            *fm_failed = 1;
        }
        duckdb_destroy_result(&r);
        duckdb_destroy_prepare(&p);
        fm_sqlstmt_free(s);
        duckdb_destroy_extracted(&st);
    }
    lake_close(&l);
}

FM_TEST(authz_fails_closed) {
    lake_t l;
    CHECK(lake_open(&l) == 0);
    fm_err e;
    fm_err_clear(&e);
    /* no statement */
    CHECK(fm_authz_check(l.a, FM_SCOPE_ADMIN, NULL, &e) == -1 && e.code == FM_E_INTERNAL);
    /* an authorizer without its function allowlist admits no function call */
    fm_authz *bare = fm_authz_new("lake");
    duckdb_extracted_statements st = NULL;
    CHECK(duckdb_extract_statements(l.con, "SELECT upper('a')", &st) == 1);
    fm_err_clear(&e);
    CHECK(fm_authz_check_extracted(bare, FM_SCOPE_ADMIN, st, 0, &e) == -1 && strstr(e.msg, "no function allowlist"));
    /* a guard without an authorizer refuses everything */
    fm_sqlguard *g = fm_sqlguard_new();
    fm_err_clear(&e);
    CHECK(fm_sqlguard_check_statement(g, FM_SCOPE_ADMIN, st, 0, &e) == -1 && strstr(e.msg, "no SQL authorizer"));
    /* a guard caps the caller's scope at its own */
    fm_sqlguard_set_authz(g, l.a, FM_SCOPE_READ);
    CHECK(fm_sqlguard_scope(g) == FM_SCOPE_READ);
    fm_err_clear(&e);
    CHECK(fm_sqlguard_check_sql(g, l.con, FM_SCOPE_ADMIN, "DELETE FROM t", &e) == -1 &&
          strstr(e.msg, "needs the write scope") && strstr(e.msg, "served read-only"));
    CHECK(fm_sqlguard_check_sql(g, l.con, FM_SCOPE_ADMIN, "SELECT upper('a')", NULL) == 0);
    fm_err_clear(&e);
    CHECK(fm_sqlguard_check_sql(g, l.con, FM_SCOPE_READ, "SELEC 1", &e) == -1 && e.code == FM_E_INVALID);
    fm_sqlguard_free(g);
    duckdb_destroy_extracted(&st);
    /* start-up reads that fail are reported */
    fm_err_clear(&e);
    CHECK(fm_authz_snapshot_functions(bare, NULL, &e) == -1 && strstr(e.msg, "authorizer"));
    fm_err_clear(&e);
    CHECK(fm_authz_snapshot_catalogs(bare, NULL, &e) == -1 && strstr(e.msg, "authorizer"));
    fm_authz_free(bare);
    /* the lexical first filter ends a -- comment where DuckDB does, at \r as at \n */
    fm_sqlguard *lex = fm_sqlguard_new();
    fm_sqlguard_deny_function(lex, "sqlite_scan");
    fm_err_clear(&e);
    CHECK(fm_sqlguard_check_text(lex, "--\rSELECT * FROM sqlite_scan('/x', 'y')", &e) == -1 &&
          strstr(e.msg, "sqlite_scan"));
    CHECK(fm_sqlguard_check_text(lex, "-- sqlite_scan(\nSELECT 1", NULL) == 0);
    fm_sqlguard_free(lex);
    CHECK(!strcmp(fm_scope_name(FM_SCOPE_WRITE), "write") && !strcmp(fm_scope_name((fm_scope)9), "unknown"));
    lake_close(&l);
}
