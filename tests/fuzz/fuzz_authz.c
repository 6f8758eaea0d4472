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
 * Each input is used twice: as SQL text as it is (mutated from the corpus), and as a stream of
 * choices for a small generator that assembles statements from fragments — statement kinds,
 * wrappers (EXPLAIN [ANALYZE], a statement before it, comments ended by \r), expressions,
 * FROM items, write targets, schemas — some of which must never run (getenv, sqlite_scan, the
 * metadata catalog, COPY, TEMP, the default schema, ...). A generated statement that holds such a
 * fragment and is admitted is a finding whatever the description says: that oracle does not
 * depend on the shim's walk at all.
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


/* ---- the generator ---- */

typedef struct {
    const uint8_t *p;
    size_t n;
    int denied; /* a fragment that must never run was used */
    int depth;
    char out[4096];
    size_t len;
} gen_t;

static unsigned pick(gen_t *g, unsigned n) {
    if (!g->n) return 0;
    unsigned v = *g->p++;
    g->n--;
    return v % n;
}

static void put(gen_t *g, const char *s) {
    size_t l = strlen(s);
    if (g->len + l >= sizeof g->out) return;
    memcpy(g->out + g->len, s, l + 1);
    g->len += l;
}

typedef struct {
    const char *text;
    int denied;
} frag;

static void put_frag(gen_t *g, const frag *f, unsigned n) {
    const frag *x = &f[pick(g, n)];
    g->denied |= x->denied;
    put(g, x->text);
}

#define N(a) (sizeof(a) / sizeof *(a))

static const frag FUNCS[] = {{"upper", 0}, {"length", 0}, {"\"LOWER\"", 0}, {"system.main.upper", 0},
                             {"abs", 0}, {"getenv", 1}, {"current_setting", 1}, {"\"GETENV\"", 1},
                             {"write_log", 1}, {"json_serialize_plan", 1}, {"lake.main.upper", 1},
                             {"sleep_ms", 1}, {"nextval", 1}};
static const frag TABLES[] = {
    {"t", 0}, {"lake.main.t", 0}, {"s.u", 0}, {"v", 0}, {"range(3)", 0}, {"unnest([1, 2])", 0},
    {"ducklake_snapshots('lake')", 0}, {"duckdb_tables()", 0}, {"(SELECT 1 AS x) sub", 0},
    {"sqlite_scan('/x', 'y')", 1}, {"read_csv('/etc/passwd')", 1}, {"\"SQLITE_SCAN\"('/x', 'y')", 1},
    {"__ducklake_metadata_lake.ducklake_table", 1}, {"__ducklake_metadata_lake.main.ducklake_snapshot", 1},
    {"memory.main.x", 1}, {"system.main.duckdb_settings", 1}, {"'x.parquet'", 1}, {"duckdb_settings()", 1},
    {"duckdb_secrets()", 1}, {"ducklake_cleanup_old_files('lake', cleanup_all => true)", 1}, {"query('SELECT 1')", 1},
    {"glob('/*')", 1}, {"information_schema.tables", 1}, {"pg_settings", 1}, {"duckdb_logs", 1}};
static const frag TARGETS[] = {{"t", 0},        {"s.u", 0},     {"lake.main.t", 0}, {"main.t", 0},
                               {"temp.t", 1},   {"memory.t", 1}, {"\"a.b\"", 1},
                               {"__ducklake_metadata_lake.ducklake_snapshot", 1}, {"system.main.x", 1}};
static const frag SCHEMAS[] = {{"s", 0}, {"s2", 0}, {"lake.s3", 0}, {"main", 1}, {"lake.main", 1}, {"\"MAIN\"", 1},
                               {"memory", 1}, {"__ducklake_metadata_lake", 1}};
static const frag PREFIX[] = {{"", 0}, {"/* c /* d */ */ ", 0}, {"--\r", 0}, {"-- c\r\n", 0}, {"\t", 0},
                              {"SELECT 1; ", 0}, {"BEGIN; ", 0}};

static void gen_expr(gen_t *g);

static void gen_from(gen_t *g) {
    if (g->depth < 3 && pick(g, 6) == 0) {
        g->depth++;
        gen_from(g);
        put(g, " JOIN ");
        gen_from(g);
        put(g, " ON true");
        g->depth--;
        return;
    }
    put_frag(g, TABLES, N(TABLES));
}

static void gen_select(gen_t *g) {
    put(g, "SELECT ");
    gen_expr(g);
    put(g, " AS x FROM ");
    gen_from(g);
}

static void gen_expr(gen_t *g) {
    if (g->depth >= 3) {
        put(g, "1");
        return;
    }
    g->depth++;
    switch (pick(g, 9)) {
    case 0: put(g, "1"); break;
    case 1: put(g, "x"); break;
    case 2:
        put_frag(g, FUNCS, N(FUNCS));
        put(g, "(");
        gen_expr(g);
        put(g, ")");
        break;
    case 3:
        put(g, "(SELECT count(*) FROM ");
        gen_from(g);
        put(g, ")");
        break;
    case 4:
        put(g, "1 IN (");
        gen_select(g);
        put(g, ")");
        break;
    case 5:
        put(g, "list_transform([1], v -> ");
        gen_expr(g);
        put(g, ")");
        break;
    case 6:
        put(g, "sum(1) OVER (ORDER BY ");
        gen_expr(g);
        put(g, ")");
        break;
    case 7:
        put(g, "CASE WHEN ");
        gen_expr(g);
        put(g, " IS NULL THEN 1 END");
        break;
    default:
        put(g, "'");
        put(g, "getenv(1)"); /* inside a string: harmless, and must not count */
        put(g, "'");
    }
    g->depth--;
}

/* the statement kind generated, as the scope it needs (0: never allowed) */
static int gen_statement(gen_t *g) {
    put_frag(g, PREFIX, N(PREFIX));
    int wrap = (int)pick(g, 5);
    if (wrap == 1) put(g, "EXPLAIN ");
    if (wrap == 2) put(g, "EXPLAIN ANALYZE ");
    if (wrap == 3) put(g, "EXPLAIN (ANALYZE) ");
    switch (pick(g, 16)) {
    case 0: gen_select(g); return FM_SCOPE_READ;
    case 1:
        put(g, "WITH c AS (");
        gen_select(g);
        put(g, ") SELECT * FROM c");
        return FM_SCOPE_READ;
    case 2: put(g, "DESCRIBE "); gen_from(g); return FM_SCOPE_READ;
    case 3: put(g, "INSERT INTO "); put_frag(g, TARGETS, N(TARGETS)); put(g, " "); gen_select(g); return FM_SCOPE_WRITE;
    case 4:
        put(g, "UPDATE ");
        put_frag(g, TARGETS, N(TARGETS));
        put(g, " SET x = ");
        gen_expr(g);
        return FM_SCOPE_WRITE;
    case 5:
        put(g, "DELETE FROM ");
        put_frag(g, TARGETS, N(TARGETS));
        put(g, " WHERE ");
        gen_expr(g);
        return FM_SCOPE_WRITE;
    case 6:
        put(g, pick(g, 3) ? "CREATE TABLE " : (g->denied = 1, "CREATE TEMP TABLE "));
        put_frag(g, TARGETS, N(TARGETS));
        put(g, " AS ");
        gen_select(g);
        return FM_SCOPE_ADMIN;
    case 7:
        put(g, "CREATE OR REPLACE VIEW ");
        put_frag(g, TARGETS, N(TARGETS));
        put(g, " AS ");
        gen_select(g);
        return FM_SCOPE_ADMIN;
    case 8: put(g, "DROP TABLE IF EXISTS "); put_frag(g, TARGETS, N(TARGETS)); return FM_SCOPE_ADMIN;
    case 9: put(g, "CREATE SCHEMA IF NOT EXISTS "); put_frag(g, SCHEMAS, N(SCHEMAS)); return FM_SCOPE_ADMIN;
    case 10: put(g, "DROP SCHEMA IF EXISTS "); put_frag(g, SCHEMAS, N(SCHEMAS)); put(g, " CASCADE"); return FM_SCOPE_ADMIN;
    case 11: put(g, "COPY ("); gen_select(g); put(g, ") TO '/tmp/fm-fuzz-never.csv'"); g->denied = 1; return 0;
    case 12: put(g, "CALL "); put_frag(g, TABLES, N(TABLES)); return FM_SCOPE_READ;
    case 13: put(g, "SET VARIABLE z = "); gen_expr(g); g->denied = 1; return 0;
    case 14: put(g, "CREATE TEMP MACRO upper(a) AS a"); g->denied = 1; return 0;
    default: put(g, "SUMMARIZE "); gen_from(g); return FM_SCOPE_READ;
    }
}

/* the differential checks of one SQL text; generated: the generator's oracle (denied fragment
 * used, scope the statement kind needs) */
static void check_sql(const char *sql, int generated, int denied, int need) {
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
        if (generated && i + 1 == n) { /* the generated statement is the last; what precedes is a prefix */
            if (ok[FM_SCOPE_ADMIN] && denied) finding("a statement with a denied fragment was admitted", sql);
            for (int sc = FM_SCOPE_READ; sc <= FM_SCOPE_ADMIN; sc++)
                if (ok[sc] && (!need || sc < need)) finding("a generated statement was admitted below its scope", sql);
        }
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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 2048) return 0;
    char *sql = malloc(size + 1);
    if (!sql) return 0;
    memcpy(sql, data, size);
    sql[size] = 0;
    check_sql(sql, 0, 0, 0);
    free(sql);
    gen_t g = {.p = data, .n = size};
    int need = gen_statement(&g);
    check_sql(g.out, 1, g.denied, need);
    return 0;
}
