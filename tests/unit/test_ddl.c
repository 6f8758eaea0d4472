/* DDL against a real DuckLake: the statements fm_ddl_create/fm_ddl_plan print must run, and the
 * table read back (fm_ddl_read_*) must match the spec — so create → read → plan is empty. */
#include <duckdb.h>
#include <stdlib.h>
#include <unistd.h>

#include "model/ddl.h"
#include "engine/ddl_read.h"
#include "unit.h"

typedef struct {
    duckdb_database db;
    duckdb_connection con;
    char dir[64];
} lake;

static int lake_open(lake *l) {
    snprintf(l->dir, sizeof l->dir, "/tmp/fm-ddl-XXXXXX");
    if (!mkdtemp(l->dir)) return -1;
    duckdb_config cfg;
    duckdb_create_config(&cfg);
    duckdb_set_config(cfg, "extension_directory", FEATHERMAN_EXTENSION_DIR);
    duckdb_set_config(cfg, "autoinstall_known_extensions", "false");
    duckdb_set_config(cfg, "autoload_known_extensions", "false");
    char *e = NULL;
    int rc = duckdb_open_ext(NULL, &l->db, cfg, &e);
    duckdb_destroy_config(&cfg);
    if (rc == DuckDBError) {
        fprintf(stderr, "open: %s\n", e);
        duckdb_free(e);
        return -1;
    }
    duckdb_connect(l->db, &l->con);
    char sql[256];
    snprintf(sql, sizeof sql, "LOAD ducklake; ATTACH 'ducklake:%s/m.ducklake' AS lk (DATA_PATH '%s/data')", l->dir,
             l->dir);
    duckdb_result r;
    rc = duckdb_query(l->con, sql, &r);
    if (rc == DuckDBError) fprintf(stderr, "attach: %s\n", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc == DuckDBError ? -1 : 0;
}

static void lake_close(lake *l) {
    duckdb_disconnect(&l->con);
    duckdb_close(&l->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", l->dir);
    if (system(cmd)) {
    }
}

static int exec(lake *l, const char *sql) {
    duckdb_result r;
    int rc = duckdb_query(l->con, sql, &r);
    if (rc == DuckDBError) fprintf(stderr, "  exec: %s\n  in: %s\n", duckdb_result_error(&r), sql);
    duckdb_destroy_result(&r);
    return rc == DuckDBError ? -1 : 0;
}

static int spec(fm_table_spec *t, const char *spec_json) {
    char doc[4096];
    snprintf(doc, sizeof doc,
             "{\"apiVersion\":\"ducklake.featherman.dev/v1alpha1\",\"kind\":\"DuckLakeTable\","
             "\"metadata\":{\"name\":\"t\"},\"spec\":%s}",
             spec_json);
    json_error_t je;
    json_t *j = json_loads(doc, 0, &je);
    if (!j) {
        fprintf(stderr, "  bad json: %s\n", je.text);
        return -1;
    }
    fm_err err;
    fm_err_clear(&err);
    int rc = fm_table_spec_parse(j, t, &err);
    if (rc) fprintf(stderr, "  spec: %s\n", err.msg);
    json_decref(j);
    return rc;
}

/* plan t against table "t" as it is; returns the statements (caller frees) or NULL on refusal */
static char *plan(lake *l, const fm_table_spec *t, fm_err *err) {
    fm_current_column *cols;
    size_t n;
    if (fm_ddl_read_columns(l->con, "lk", "t", &cols, &n, err)) return NULL;
    char *part = fm_ddl_read_partition(l->con, "lk", NULL, "t", NULL);
    fm_buf sql;
    fm_buf_init(&sql);
    int rc = fm_ddl_plan(&sql, "\"lk\".main.\"t\"", t, cols, n, part, err);
    free(part);
    fm_ddl_free_columns(cols, n);
    if (rc) {
        fm_buf_free(&sql);
        return NULL;
    }
    if (!sql.data) return strdup("");
    return fm_buf_steal(&sql);
}

#define COLS1                                                                                              \
    "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\",\"nullable\":false," \
    "\"comment\":\"it's the id\"},{\"name\":\"ts\",\"type\":\"timestamptz\"},{\"name\":\"amount\","              \
    "\"type\":\"decimal(10,2)\"},{\"name\":\"tags\",\"type\":\"varchar[]\"},{\"name\":\"n\",\"type\":\"int\"}," \
    "{\"name\":\"select\",\"type\":\"STRUCT(a INT, \\\"b c\\\" VARCHAR)\"}]," \
    "\"format\":{\"partitioning\":[\"year(ts)\",\"bucket(4, id)\"]}}"

FM_TEST(ddl_create_read_back_roundtrip) {
    lake l;
    CHECK(lake_open(&l) == 0);
    fm_table_spec t;
    CHECK(spec(&t, COLS1) == 0);
    fm_buf sql;
    fm_buf_init(&sql);
    fm_err err;
    fm_err_clear(&err);
    CHECK(fm_ddl_create(&sql, "\"lk\".main.\"t\"", &t, &err) == 0);
    CHECK(strstr(sql.data, "\"id\" BIGINT NOT NULL") != NULL);
    CHECK(strstr(sql.data, "SET PARTITIONED BY (year(\"ts\"), bucket(4, \"id\"))") != NULL);
    CHECK(strstr(sql.data, "IS 'it''s the id'") != NULL);
    CHECK(exec(&l, sql.data) == 0);
    fm_buf_free(&sql);

    fm_current_column *cols;
    size_t n;
    CHECK(fm_ddl_read_columns(l.con, "lk", "t", &cols, &n, &err) == 0);
    CHECK(n == 6);
    if (n == 6) {
        CHECK_STR(cols[1].type, "TIMESTAMP WITH TIME ZONE");
        CHECK_STR(cols[2].type, "DECIMAL(10,2)");
        CHECK_STR(cols[5].name, "select");
        CHECK_STR(cols[5].type, "STRUCT(a INTEGER, \"b c\" VARCHAR)");
        CHECK(!cols[0].nullable && cols[1].nullable);
    }
    fm_ddl_free_columns(cols, n);
    char *part = fm_ddl_read_partition(l.con, "lk", NULL, "t", &err);
    CHECK_STR(part, "(year(\"ts\"), bucket(4, \"id\"))");
    free(part);
    char *p = plan(&l, &t, &err);
    CHECK_STR(p, "");
    free(p);
    fm_table_spec_free(&t);
    lake_close(&l);
}

FM_TEST(ddl_plan_changes_apply) {
    lake l;
    CHECK(lake_open(&l) == 0);
    CHECK(exec(&l, "CREATE TABLE lk.main.t (id INTEGER NOT NULL, old_name VARCHAR, gone DOUBLE, f FLOAT);"
                   "ALTER TABLE lk.main.t SET PARTITIONED BY (old_name)") == 0);
    fm_table_spec t;
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\"},"
                   "{\"name\":\"new name\",\"type\":\"VARCHAR\",\"renamedFrom\":\"old_name\"},"
                   "{\"name\":\"f\",\"type\":\"DOUBLE\"},{\"name\":\"added\",\"type\":\"DATE\"}],"
                   "\"format\":{\"partitioning\":[\"month(added)\"]}}") == 0);
    fm_err err;
    fm_err_clear(&err);
    char *p = plan(&l, &t, &err);
    CHECK(p != NULL);
    if (p) {
        CHECK(strstr(p, "RENAME COLUMN \"old_name\" TO \"new name\"") != NULL);
        CHECK(strstr(p, "ADD COLUMN \"added\" DATE") != NULL);
        CHECK(strstr(p, "ALTER COLUMN \"id\" SET DATA TYPE BIGINT") != NULL);
        CHECK(strstr(p, "ALTER COLUMN \"id\" DROP NOT NULL") != NULL);
        CHECK(strstr(p, "ALTER COLUMN \"f\" SET DATA TYPE DOUBLE") != NULL);
        CHECK(strstr(p, "SET PARTITIONED BY (month(\"added\"))") != NULL);
        CHECK(strstr(p, "DROP COLUMN \"gone\"") != NULL);
        CHECK(exec(&l, p) == 0);
    }
    free(p);
    p = plan(&l, &t, &err); /* applied: nothing left to do */
    CHECK_STR(p, "");
    free(p);
    fm_table_spec_free(&t);

    /* dropping partitioning */
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\"},"
                   "{\"name\":\"new name\",\"type\":\"VARCHAR\"},{\"name\":\"f\",\"type\":\"DOUBLE\"},"
                   "{\"name\":\"added\",\"type\":\"DATE\"}]}") == 0);
    p = plan(&l, &t, &err);
    CHECK(p && strstr(p, "RESET PARTITIONED BY") != NULL);
    if (p) CHECK(exec(&l, p) == 0);
    free(p);
    char *part = fm_ddl_read_partition(l.con, "lk", NULL, "t", &err);
    CHECK(part == NULL);
    fm_table_spec_free(&t);
    lake_close(&l);
}

FM_TEST(ddl_plan_refusals_append_nothing) {
    lake l;
    CHECK(lake_open(&l) == 0);
    CHECK(exec(&l, "CREATE TABLE lk.main.t (id BIGINT, s VARCHAR)") == 0);
    fm_table_spec t;
    fm_err err;
    /* narrowing */
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"INT\"},"
                   "{\"name\":\"s\",\"type\":\"VARCHAR\"},{\"name\":\"x\",\"type\":\"INT\"}]}") == 0);
    fm_err_clear(&err);
    char *p = plan(&l, &t, &err);
    CHECK(p == NULL);
    CHECK(err.code == FM_E_REFUSED);
    CHECK(strstr(err.msg, "id") != NULL && strstr(err.msg, "BIGINT") != NULL && strstr(err.msg, "INTEGER") != NULL);
    free(p);
    fm_table_spec_free(&t);
    /* incompatible type */
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\"},"
                   "{\"name\":\"s\",\"type\":\"DATE\"}]}") == 0);
    fm_err_clear(&err);
    p = plan(&l, &t, &err);
    CHECK(p == NULL && err.code == FM_E_REFUSED && strstr(err.msg, "s") != NULL);
    free(p);
    fm_table_spec_free(&t);
    /* a new NOT NULL column on an existing table */
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"id\",\"type\":\"BIGINT\"},"
                   "{\"name\":\"s\",\"type\":\"VARCHAR\"},{\"name\":\"z\",\"type\":\"INT\",\"nullable\":false}]}") == 0);
    fm_err_clear(&err);
    p = plan(&l, &t, &err);
    CHECK(p == NULL && err.code == FM_E_REFUSED && strstr(err.msg, "nullable") != NULL);
    free(p);
    fm_table_spec_free(&t);
    /* a missing table is NOT_FOUND */
    fm_current_column *cols;
    size_t n;
    fm_err_clear(&err);
    CHECK(fm_ddl_read_columns(l.con, "lk", "nope", &cols, &n, &err) == -1 && err.code == FM_E_NOT_FOUND && n == 0);
    lake_close(&l);
}

FM_TEST(ddl_hostile_names_stay_names) {
    lake l;
    CHECK(lake_open(&l) == 0);
    fm_table_spec t;
    CHECK(spec(&t, "{\"catalogRef\":\"c\",\"name\":\"t\",\"columns\":[{\"name\":\"a\\\"); DROP TABLE x; --\","
                   "\"type\":\"INT\",\"comment\":\"'); DROP TABLE x; --\"}],"
                   "\"format\":{\"partitioning\":[\"a\\\"); DROP TABLE x; --\"]}}") == 0);
    fm_buf sql;
    fm_buf_init(&sql);
    fm_err err;
    fm_err_clear(&err);
    CHECK(fm_ddl_create(&sql, "\"lk\".main.\"t\"", &t, &err) == 0);
    CHECK(exec(&l, sql.data) == 0);
    fm_buf_free(&sql);
    fm_current_column *cols;
    size_t n;
    CHECK(fm_ddl_read_columns(l.con, "lk", "t", &cols, &n, &err) == 0 && n == 1);
    if (n == 1) CHECK_STR(cols[0].name, "a\"); DROP TABLE x; --");
    fm_ddl_free_columns(cols, n);
    char *p = plan(&l, &t, &err);
    CHECK_STR(p, "");
    free(p);
    fm_table_spec_free(&t);
    lake_close(&l);
}
