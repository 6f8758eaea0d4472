/* The authorization policy over sqlparse.h's descriptions (see authz.h for the rules and why). */
#include "engine/authz.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/xalloc.h"

/* a sorted set of lower-cased names */
typedef struct {
    char **v;
    size_t n, cap;
    int sorted;
} nameset;

struct fm_authz {
    char *lake;
    nameset functions;      /* allowed non-table functions */
    nameset catalogs;       /* attached catalogs other than the lake */
    nameset system_views;   /* views of the system catalog */
    int functions_loaded;
};

static char *lower_dup(const char *s) {
    char *d = fm_xstrdup(s);
    for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

static void set_add(nameset *s, const char *name) {
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = fm_xreallocarray(s->v, s->cap, sizeof *s->v);
    }
    s->v[s->n++] = lower_dup(name);
    s->sorted = 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void set_seal(nameset *s) {
    if (s->n) qsort(s->v, s->n, sizeof *s->v, cmp_str);
    s->sorted = 1;
}

/* names are compared case-insensitively, as DuckDB resolves them */
static int set_has(const nameset *s, const char *name) {
    if (!s->n) return 0;
    char buf[256];
    size_t len = strlen(name);
    if (len >= sizeof buf) return 0; /* no catalog or function name is this long */
    for (size_t i = 0; i <= len; i++) buf[i] = (char)tolower((unsigned char)name[i]);
    const char *key = buf;
    return bsearch(&key, s->v, s->n, sizeof *s->v, cmp_str) != NULL;
}

static void set_free(nameset *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int in_list(const char *name, const char *const *list) {
    for (size_t i = 0; list[i]; i++)
        if (!strcasecmp(name, list[i])) return 1;
    return 0;
}

/* table functions user SQL may call (authz.h says why each group) */
static const char *const TABLE_FUNCTIONS[] = {
    "range", "generate_series", "unnest", "repeat",
    "ducklake_snapshots", "ducklake_table_info", "ducklake_table_changes", "ducklake_table_insertions",
    "ducklake_table_deletions", "ducklake_current_snapshot", "ducklake_last_committed_snapshot",
    "json_each", "json_tree",
    "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_schemas", "duckdb_constraints", "duckdb_types",
    "duckdb_indexes", "duckdb_functions", "duckdb_keywords",
    NULL};

/* the lake's maintenance that keeps every row and every snapshot: admin only */
static const char *const TABLE_FUNCTIONS_ADMIN[] = {"ducklake_flush_inlined_data", NULL};

/* system views that only mirror an allowed table function */
static const char *const ALLOWED_SYSTEM_VIEWS[] = {
    "duckdb_tables", "duckdb_columns", "duckdb_views", "duckdb_schemas", "duckdb_constraints", "duckdb_types",
    "duckdb_indexes", NULL};

/* functions with side effects that are harmless: fresh random values, the caller's own ids, error() */
static const char *const SIDE_EFFECTS_ALLOWED[] = {
    "random", "uuid", "gen_random_uuid", "uuidv4", "uuidv7", "error", "current_query", "current_query_id",
    "current_connection_id", "current_transaction_id", NULL};

/* never, whatever duckdb_functions() says about them: the environment and settings, logging,
 * sleeping, sequences and seeds (state beyond the request), and SQL text that DuckDB would bind
 * out of the authorizer's sight (json_serialize_plan plans its argument, binding table functions) */
static const char *const FUNCTIONS_DENIED[] = {
    "getenv", "current_setting", "write_log", "sleep_ms", "nextval", "currval", "setseed", "getvariable",
    "json_execute_serialized_sql", "json_serialize_plan", "pg_sleep", "query", "query_table", NULL};

/* names the binder resolves specially that duckdb_functions() does not list */
static const char *const FUNCTIONS_EXTRA[] = {"unnest", "unlist", "grouping", "grouping_id", NULL};

/* schemas of the system catalog that a two-part name would reach */
static const char *const SYSTEM_SCHEMAS[] = {"information_schema", "pg_catalog", NULL};

static const char *const ALWAYS_OTHER_CATALOGS[] = {"system", "temp", "memory", NULL};

static const char METADATA_PREFIX[] = "__ducklake_metadata_";

const char *fm_scope_name(fm_scope s) {
    switch (s) {
    case FM_SCOPE_READ: return "read";
    case FM_SCOPE_WRITE: return "write";
    case FM_SCOPE_ADMIN: return "admin";
    }
    return "unknown";
}

fm_authz *fm_authz_new(const char *lake) {
    fm_authz *a = fm_xcalloc(1, sizeof *a);
    a->lake = fm_xstrdup(lake);
    set_seal(&a->functions);
    set_seal(&a->catalogs);
    set_seal(&a->system_views);
    return a;
}

void fm_authz_free(fm_authz *a) {
    if (!a) return;
    set_free(&a->functions);
    set_free(&a->catalogs);
    set_free(&a->system_views);
    free(a->lake);
    free(a);
}

/* runs a query whose first column is a name and adds each row's name to s */
static int load_names(duckdb_connection con, const char *sql, nameset *s, fm_err *err) {
    if (!con) return fm_fail(err, FM_E_INTERNAL, "cannot read DuckDB's catalog for the authorizer: no connection");
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        fm_fail(err, FM_E_INTERNAL, "cannot read DuckDB's catalog for the authorizer: %s", m ? m : "?");
        duckdb_destroy_result(&res);
        return -1;
    }
    idx_t rows = duckdb_row_count(&res);
    for (idx_t r = 0; r < rows; r++) {
        char *v = duckdb_value_varchar(&res, 0, r);
        if (v) set_add(s, v);
        duckdb_free(v);
    }
    duckdb_destroy_result(&res);
    set_seal(s);
    return 0;
}

int fm_authz_snapshot_functions(fm_authz *a, duckdb_connection con, fm_err *err) {
    set_free(&a->functions);
    if (load_names(con,
                   "SELECT DISTINCT function_name FROM duckdb_functions() "
                   "WHERE function_type IN ('scalar', 'aggregate', 'macro') AND NOT coalesce(has_side_effects, false)",
                   &a->functions, err))
        return -1;
    for (size_t i = 0; SIDE_EFFECTS_ALLOWED[i]; i++) set_add(&a->functions, SIDE_EFFECTS_ALLOWED[i]);
    for (size_t i = 0; FUNCTIONS_EXTRA[i]; i++) set_add(&a->functions, FUNCTIONS_EXTRA[i]);
    /* remove the denied ones (the set is rebuilt without them) */
    size_t k = 0;
    for (size_t i = 0; i < a->functions.n; i++) {
        if (in_list(a->functions.v[i], FUNCTIONS_DENIED)) free(a->functions.v[i]);
        else a->functions.v[k++] = a->functions.v[i];
    }
    a->functions.n = k;
    set_seal(&a->functions);
    a->functions_loaded = 1;
    return 0;
}

int fm_authz_snapshot_catalogs(fm_authz *a, duckdb_connection con, fm_err *err) {
    set_free(&a->catalogs);
    set_free(&a->system_views);
    for (size_t i = 0; ALWAYS_OTHER_CATALOGS[i]; i++) set_add(&a->catalogs, ALWAYS_OTHER_CATALOGS[i]);
    if (load_names(con, "SELECT database_name FROM duckdb_databases()", &a->catalogs, err)) return -1;
    /* the lake itself is not "other" */
    size_t k = 0;
    for (size_t i = 0; i < a->catalogs.n; i++) {
        if (!strcasecmp(a->catalogs.v[i], a->lake)) free(a->catalogs.v[i]);
        else a->catalogs.v[k++] = a->catalogs.v[i];
    }
    a->catalogs.n = k;
    set_seal(&a->catalogs);
    return load_names(con, "SELECT view_name FROM duckdb_views() WHERE database_name = 'system'", &a->system_views,
                      err);
}

/* ---- the checks ---- */

static int refuse(fm_err *err, const char *fmt, const char *a, const char *b) __attribute__((format(printf, 2, 0)));
static int refuse(fm_err *err, const char *fmt, const char *a, const char *b) {
    return fm_fail(err, FM_E_REFUSED, fmt, a, b);
}

static int other_catalog(const fm_authz *a, const char *name) {
    return set_has(&a->catalogs, name) || !strncasecmp(name, METADATA_PREFIX, sizeof METADATA_PREFIX - 1);
}

/* catalog and schema qualifiers of a table, view or target */
static int check_qualifiers(const fm_authz *a, const fm_sqlref *r, fm_err *err) {
    if (r->catalog[0]) {
        if (strcasecmp(r->catalog, a->lake))
            return refuse(err, "catalog %s is not reachable through the query API%s", r->catalog, "");
        return 0;
    }
    if (r->schema[0] && (other_catalog(a, r->schema) || in_list(r->schema, SYSTEM_SCHEMAS)))
        return refuse(err, "%s is not reachable through the query API (only catalog %s is)", r->schema, a->lake);
    return 0;
}

static int check_table(const fm_authz *a, const fm_sqlref *r, fm_err *err) {
    if (check_qualifiers(a, r, err)) return -1;
    if (!r->name[0]) return 0; /* SHOW TABLES FROM <schema> */
    if (strpbrk(r->name, "./\\:"))
        return refuse(err, "%s is not a table name: files are not readable through the query API%s", r->name, "");
    if (!r->catalog[0] && set_has(&a->system_views, r->name) && !in_list(r->name, ALLOWED_SYSTEM_VIEWS))
        return refuse(err, "%s is not allowed through the query API%s", r->name, "");
    return 0;
}

static int check_function_qualifiers(const fm_sqlref *r, fm_err *err) {
    if ((r->catalog[0] && strcasecmp(r->catalog, "system")) ||
        (r->schema[0] && strcasecmp(r->schema, "main") && strcasecmp(r->schema, "pg_catalog")))
        return refuse(err, "function %s is not allowed through the query API%s", r->name, " (qualified)");
    return 0;
}

static int check_target(const fm_authz *a, const fm_sqlstmt *s, const fm_sqlref *r, fm_err *err) {
    if (s->object == FM_SQLOBJ_SCHEMA) {
        if (r->catalog[0] && strcasecmp(r->catalog, a->lake))
            return refuse(err, "catalog %s is not reachable through the query API%s", r->catalog, "");
        if (!strcasecmp(r->name, "main"))
            return refuse(err, "the default schema %s of catalog %s cannot be created, altered or dropped", r->name,
                          a->lake);
        if (other_catalog(a, r->name) || in_list(r->name, SYSTEM_SCHEMAS))
            return refuse(err, "schema name %s is reserved%s", r->name, "");
        return 0;
    }
    if (check_qualifiers(a, r, err)) return -1;
    if (strpbrk(r->name, "./\\:")) return refuse(err, "%s is not a table name the query API writes%s", r->name, "");
    return 0;
}

/* the scope a statement type needs, 0 if it never runs through the query API */
static fm_scope needed_scope(duckdb_statement_type t) {
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT:
    case DUCKDB_STATEMENT_TYPE_CALL:
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return FM_SCOPE_READ;
    case DUCKDB_STATEMENT_TYPE_INSERT:
    case DUCKDB_STATEMENT_TYPE_UPDATE:
    case DUCKDB_STATEMENT_TYPE_DELETE:
    case DUCKDB_STATEMENT_TYPE_MERGE_INTO: return FM_SCOPE_WRITE;
    case DUCKDB_STATEMENT_TYPE_CREATE:
    case DUCKDB_STATEMENT_TYPE_ALTER:
    case DUCKDB_STATEMENT_TYPE_DROP: return FM_SCOPE_ADMIN;
    default: return (fm_scope)0;
    }
}

/* "CREATE", "DROP", "INSERT", "MERGE INTO" — DuckDB's names with '_' as ' ' and no "_STATEMENT" */
static void type_words(const char *type_name, char *out, size_t n) {
    size_t i = 0;
    for (; type_name[i] && i + 1 < n; i++) out[i] = type_name[i] == '_' ? ' ' : type_name[i];
    out[i] = 0;
    char *suffix = strstr(out, " STATEMENT");
    if (suffix) *suffix = 0;
}

static const char *inner_name(const fm_sqlstmt *s, char *buf, size_t n) {
    /* EXPLAIN's own type_name is EXPLAIN; the inner one is named by its type */
    static const struct {
        duckdb_statement_type t;
        const char *name;
    } names[] = {{DUCKDB_STATEMENT_TYPE_SELECT, "SELECT"},   {DUCKDB_STATEMENT_TYPE_INSERT, "INSERT"},
                 {DUCKDB_STATEMENT_TYPE_UPDATE, "UPDATE"},   {DUCKDB_STATEMENT_TYPE_DELETE, "DELETE"},
                 {DUCKDB_STATEMENT_TYPE_MERGE_INTO, "MERGE"}, {DUCKDB_STATEMENT_TYPE_CREATE, "CREATE"},
                 {DUCKDB_STATEMENT_TYPE_ALTER, "ALTER"},     {DUCKDB_STATEMENT_TYPE_DROP, "DROP"},
                 {DUCKDB_STATEMENT_TYPE_COPY, "COPY"},       {DUCKDB_STATEMENT_TYPE_SET, "SET"},
                 {DUCKDB_STATEMENT_TYPE_VARIABLE_SET, "SET"}, {DUCKDB_STATEMENT_TYPE_PRAGMA, "PRAGMA"},
                 {DUCKDB_STATEMENT_TYPE_ATTACH, "ATTACH"},   {DUCKDB_STATEMENT_TYPE_DETACH, "DETACH"},
                 {DUCKDB_STATEMENT_TYPE_LOAD, "LOAD/INSTALL"}, {DUCKDB_STATEMENT_TYPE_EXPORT, "EXPORT"},
                 {DUCKDB_STATEMENT_TYPE_PREPARE, "PREPARE"}, {DUCKDB_STATEMENT_TYPE_EXECUTE, "EXECUTE"},
                 {DUCKDB_STATEMENT_TYPE_CALL, "CALL"},       {DUCKDB_STATEMENT_TYPE_TRANSACTION, "transaction control"},
                 {DUCKDB_STATEMENT_TYPE_VACUUM, "VACUUM"},   {DUCKDB_STATEMENT_TYPE_ANALYZE, "ANALYZE"},
                 {DUCKDB_STATEMENT_TYPE_COPY_DATABASE, "COPY DATABASE"},
                 {DUCKDB_STATEMENT_TYPE_UPDATE_EXTENSIONS, "UPDATE EXTENSIONS"},
                 {DUCKDB_STATEMENT_TYPE_EXPLAIN, "EXPLAIN"}};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i].t == s->inner) return names[i].name;
    if (s->type == s->inner) {
        type_words(s->type_name, buf, n);
        return buf;
    }
    return "this statement";
}

static int check_statement_type(const fm_sqlstmt *s, fm_scope scope, fm_err *err) {
    char buf[64];
    const char *what = inner_name(s, buf, sizeof buf);
    fm_scope need = needed_scope(s->inner);
    if (!need) {
        if (s->inner == DUCKDB_STATEMENT_TYPE_COPY && s->copy_from)
            return refuse(err, "COPY ... FROM is not allowed through the query API%s%s", "", "");
        return refuse(err, "%s is not allowed through the query API%s", what, "");
    }
    if (s->object == FM_SQLOBJ_OTHER || s->temporary || s->alter_detail[0]) {
        char obj[64];
        type_words(s->object_name, obj, sizeof obj);
        for (char *p = obj; *p; p++) *p = (char)toupper((unsigned char)*p);
        if (s->alter_detail[0])
            return fm_fail(err, FM_E_REFUSED, "ALTER TABLE ... %s is not allowed through the query API",
                           s->alter_detail);
        return fm_fail(err, FM_E_REFUSED, "%s %s%s is not allowed through the query API", what,
                       s->temporary ? "TEMP " : "", obj);
    }
    if (scope < need)
        return fm_fail(err, FM_E_REFUSED, "%s%s needs the %s scope (this request has the %s scope)",
                       s->type == DUCKDB_STATEMENT_TYPE_EXPLAIN ? (s->analyze ? "EXPLAIN ANALYZE " : "EXPLAIN ") : "",
                       what, fm_scope_name(need), fm_scope_name(scope));
    return 0;
}

int fm_authz_check(const fm_authz *a, fm_scope scope, const fm_sqlstmt *s, fm_err *err) {
    if (!s) return fm_fail(err, FM_E_INTERNAL, "no statement to authorize");
    if (s->unsupported)
        return fm_fail(err, FM_E_REFUSED, "statement refused: the authorizer does not admit %s", s->unsupported);
    if (check_statement_type(s, scope, err)) return -1;
    for (size_t i = 0; i < s->nrefs; i++) {
        const fm_sqlref *r = &s->refs[i];
        switch (r->kind) {
        case FM_SQLREF_TABLE:
            if (check_table(a, r, err)) return -1;
            break;
        case FM_SQLREF_TARGET:
            if (check_target(a, s, r, err)) return -1;
            break;
        case FM_SQLREF_TABLE_FUNCTION:
            if (in_list(r->name, TABLE_FUNCTIONS_ADMIN) && scope < FM_SCOPE_ADMIN)
                return fm_fail(err, FM_E_REFUSED, "function %s needs the admin scope (this request has the %s scope)",
                               r->name, fm_scope_name(scope));
            if (!in_list(r->name, TABLE_FUNCTIONS) && !in_list(r->name, TABLE_FUNCTIONS_ADMIN))
                return refuse(err, "function %s is not allowed through the query API%s", r->name, "");
            if (check_function_qualifiers(r, err)) return -1;
            break;
        case FM_SQLREF_FUNCTION:
            if (!set_has(&a->functions, r->name))
                return refuse(err, "function %s is not allowed through the query API%s", r->name,
                              a->functions_loaded ? "" : " (no function allowlist loaded)");
            if (check_function_qualifiers(r, err)) return -1;
            break;
        case FM_SQLREF_SHOW:
            if (strcmp(r->name, "tables") && strcmp(r->name, "__show_tables_expanded"))
                return refuse(err, "SHOW %s is not allowed through the query API (SHOW TABLES and SHOW ALL TABLES are)%s",
                              r->name, "");
            break;
        }
    }
    return 0;
}

int fm_authz_check_extracted(const fm_authz *a, fm_scope scope, duckdb_extracted_statements stmts, idx_t i,
                             fm_err *err) {
    fm_sqlstmt *s = fm_sqlparse_describe(stmts, i);
    if (!s) return fm_fail(err, FM_E_INTERNAL, "statement %llu could not be described", (unsigned long long)i + 1);
    int rc = fm_authz_check(a, scope, s, err);
    fm_sqlstmt_free(s);
    return rc;
}
