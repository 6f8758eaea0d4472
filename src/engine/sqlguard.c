/* The query API's SQL guard (see sqlguard.h). The lexer follows DuckDB's scanner (the Postgres
 * one) where it matters for not losing sync with it:
 *   - '...' strings, '' escapes, no backslash escapes (standard_conforming_strings);
 *   - E'...' (a lone e/E right before the quote, also after a number as in 1e'...') with
 *     backslash escapes;
 *   - "..." identifiers with "" escapes, compared case-insensitively (DuckDB binds quoted
 *     names case-insensitively too);
 *   - -- line comments and NESTED block comments (DuckDB nests them: SELECT / * / * * / 1 * / 2
 *     returns 2);
 *   - $tag$...$tag$ and $$...$$ dollar quoting; $1 / $name parameters; identifiers may contain
 *     '$' after the first character (a$b is one identifier), as in DuckDB;
 *   - numbers stop before letters, so 1sqlite_scan( is seen as a call (never fewer calls than
 *     DuckDB sees).
 * Unterminated strings, quoted identifiers, comments and dollar-quoted strings are refused with
 * FM_E_INVALID: DuckDB would not run them either, and the guard never has to guess what an
 * unterminated construct hides.
 * A call is an identifier (bare or quoted, any qualifier before it) whose next token, after any
 * whitespace and comments, is '('. This over-approximates: a table or CTE named like a denied
 * function followed by a column list (INSERT INTO query (a) ...) is refused too; that is the
 * safe side. */
#include "engine/sqlguard.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

struct fm_sqlguard {
    char **names;
    size_t n, cap;
    const fm_authz *authz; /* the real check; without it no statement passes */
    fm_scope scope;
};

/* functions that run SQL text or serialized plans the guard cannot see, or read the environment */
/* past the closing quote of a '...' string whose opening quote is just before p ('' is an
 * escaped quote; with backslash, \x escapes x as in E'...'); NULL when it never closes */
static const char *skip_string(const char *p, int backslash) {
    for (;;) {
        if (!*p) return NULL;
        if (backslash && *p == '\\') {
            if (!p[1]) return NULL;
            p += 2;
        } else if (*p == '\'') {
            if (p[1] != '\'') return p + 1;
            p += 2;
        } else {
            p++;
        }
    }
}

static const char *const fixed_denied[] = {"query", "query_table", "getenv", "json_execute_serialized_sql"};

static char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static bool denied(const fm_sqlguard *g, const char *name) {
    for (size_t i = 0; i < sizeof fixed_denied / sizeof *fixed_denied; i++)
        if (!strcmp(fixed_denied[i], name)) return true;
    if (!g) return false;
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->names[i], name)) return true;
    return false;
}

fm_sqlguard *fm_sqlguard_new(void) {
    fm_sqlguard *g = fm_xcalloc(1, sizeof *g);
    return g;
}

void fm_sqlguard_deny_function(fm_sqlguard *g, const char *name) {
    if (!g || !name || !*name) return;
    size_t len = strlen(name);
    char *low = fm_xmalloc(len + 1);
    for (size_t i = 0; i <= len; i++) low[i] = lower_ascii(name[i]);
    if (denied(g, low)) {
        free(low);
        return;
    }
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 16;
        g->names = fm_xrealloc(g->names, g->cap * sizeof *g->names);
    }
    g->names[g->n++] = low;
}

void fm_sqlguard_set_authz(fm_sqlguard *g, const fm_authz *a, fm_scope scope) {
    g->authz = a;
    g->scope = scope;
}

fm_scope fm_sqlguard_scope(const fm_sqlguard *g) { return g->scope; }

int fm_sqlguard_check_statement(const fm_sqlguard *g, fm_scope scope, duckdb_extracted_statements stmts, idx_t i,
                                fm_err *err) {
    if (!g || !g->authz) return fm_fail(err, FM_E_REFUSED, "no SQL authorizer is configured: statement refused");
    /* a caller's scope never exceeds what the engine allows (read-only engines: read) */
    int capped = scope > g->scope;
    if (capped) scope = g->scope;
    int rc = fm_authz_check_extracted(g->authz, scope, stmts, i, err);
    if (rc && (capped || g->scope == FM_SCOPE_READ) && err && strstr(err->msg, " scope (this request has the ")) {
        size_t len = strlen(err->msg);
        snprintf(err->msg + len, sizeof err->msg - len, "; this server grants at most the %s scope%s",
                 fm_scope_name(g->scope), g->scope == FM_SCOPE_READ ? ": the catalog is served read-only" : "");
    }
    return rc;
}

int fm_sqlguard_check_sql(const fm_sqlguard *g, duckdb_connection con, fm_scope scope, const char *sql, fm_err *err) {
    if (fm_sqlguard_check_text(g, sql, err)) return -1;
    duckdb_extracted_statements st = NULL;
    idx_t n = duckdb_extract_statements(con, sql, &st);
    int rc = 0;
    if (n == 0) {
        const char *m = st ? duckdb_extract_statements_error(st) : NULL;
        rc = fm_fail(err, FM_E_INVALID, "%s", m ? m : "the request contains no SQL statement");
    }
    for (idx_t i = 0; !rc && i < n; i++) rc = fm_sqlguard_check_statement(g, scope, st, i, err);
    duckdb_destroy_extracted(&st);
    return rc;
}

void fm_sqlguard_free(fm_sqlguard *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n; i++) free(g->names[i]);
    free(g->names);
    free(g);
}

/* ---- extension functions ---- */

typedef struct {
    char **v;
    size_t n;
} name_list;

static void free_names(name_list *l) {
    for (size_t i = 0; i < l->n; i++) duckdb_free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int query_names(duckdb_connection con, name_list *out, fm_err *err) {
    duckdb_result r;
    if (duckdb_query(con, "SELECT DISTINCT function_name FROM duckdb_functions()", &r) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot list DuckDB functions: %s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        return -1;
    }
    idx_t rows = duckdb_row_count(&r);
    out->v = fm_xcalloc(rows ? rows : 1, sizeof *out->v);
    out->n = 0;
    for (idx_t i = 0; i < rows; i++) {
        char *s = duckdb_value_varchar(&r, 0, i);
        if (s) out->v[out->n++] = s;
    }
    duckdb_destroy_result(&r);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int extension_loaded(duckdb_connection con, const char *ext, int *loaded, fm_err *err) {
    duckdb_prepared_statement ps;
    *loaded = 0;
    if (duckdb_prepare(con, "SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name = $1", &ps) ==
        DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot list DuckDB extensions: %s", duckdb_prepare_error(ps));
        duckdb_destroy_prepare(&ps);
        return -1;
    }
    duckdb_bind_varchar(ps, 1, ext);
    duckdb_result r;
    if (duckdb_execute_prepared(ps, &r) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot list DuckDB extensions: %s", duckdb_result_error(&r));
        duckdb_destroy_result(&r);
        duckdb_destroy_prepare(&ps);
        return -1;
    }
    *loaded = duckdb_value_int64(&r, 0, 0) > 0;
    duckdb_destroy_result(&r);
    duckdb_destroy_prepare(&ps);
    return 0;
}

int fm_sqlguard_deny_extension_functions(fm_sqlguard *g, duckdb_connection con, const char *const *extensions, size_t n,
                                         fm_err *err) {
    for (size_t i = 0; i < n; i++) {
        const char *ext = extensions[i];
        /* extension names are ours (engine.c), never user input; keep them to a safe alphabet */
        for (const char *p = ext; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                return fm_fail(err, FM_E_INTERNAL, "bad extension name %s", ext);
        int loaded = 0;
        if (extension_loaded(con, ext, &loaded, err)) return -1;
        /* its functions would already be in the "before" list: fail closed rather than deny nothing */
        if (loaded)
            return fm_fail(err, FM_E_INTERNAL,
                           "extension %s was loaded before the SQL guard could record its functions", ext);
        name_list before = {0}, after = {0};
        if (query_names(con, &before, err)) return -1;
        fm_buf sql;
        fm_buf_init(&sql);
        fm_buf_printf(&sql, "LOAD %s", ext);
        duckdb_result r;
        if (duckdb_query(con, sql.data, &r) == DuckDBError) {
            fm_fail(err, FM_E_INTERNAL, "cannot load extension %s: %s", ext, duckdb_result_error(&r));
            duckdb_destroy_result(&r);
            fm_buf_free(&sql);
            free_names(&before);
            return -1;
        }
        duckdb_destroy_result(&r);
        fm_buf_free(&sql);
        if (query_names(con, &after, err)) {
            free_names(&before);
            return -1;
        }
        qsort(before.v, before.n, sizeof *before.v, cmp_str);
        size_t added = 0;
        for (size_t j = 0; j < after.n; j++) {
            if (bsearch(&after.v[j], before.v, before.n, sizeof *before.v, cmp_str)) continue;
            fm_sqlguard_deny_function(g, after.v[j]);
            added++;
        }
        free_names(&before);
        free_names(&after);
        if (added == 0)
            return fm_fail(err, FM_E_INTERNAL, "extension %s added no functions: the SQL guard cannot deny them", ext);
    }
    return 0;
}

/* ---- lexer ---- */

enum { TK_IDENT, TK_QIDENT, TK_PUNCT, TK_OTHER };

#define KW_MAX 6  /* leading tokens of a statement kept for the keyword rules */
#define KW_LEN 24 /* longest keyword we compare, plus room */

typedef struct {
    char kw[KW_MAX][KW_LEN]; /* lower-cased bare identifiers; "" for any other token */
    int nkw;
} stmt_state;

static bool is_ident_start(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}
static bool is_ident_cont(unsigned char c) { return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }
static bool is_dolq_cont(unsigned char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

static void kw_push(stmt_state *st, int kind, const char *s, size_t len) {
    if (st->nkw >= KW_MAX) return;
    char *dst = st->kw[st->nkw++];
    dst[0] = 0;
    if (kind != TK_IDENT || len >= KW_LEN) return;
    for (size_t i = 0; i < len; i++) dst[i] = lower_ascii(s[i]);
    dst[len] = 0;
}

static bool kw_is(const stmt_state *st, int i, const char *w) { return i < st->nkw && !strcmp(st->kw[i], w); }

static int refuse(fm_err *err, const char *what) {
    return fm_fail(err, FM_E_REFUSED, "%s is not allowed through the query API", what);
}

/* keyword rules on a finished statement's leading tokens */
static int check_statement(const stmt_state *st, fm_err *err) {
    int i = 0;
    while (i < st->nkw && (kw_is(st, i, "explain") || kw_is(st, i, "analyze") || kw_is(st, i, "analyse"))) i++;
    static const struct {
        const char *kw, *name;
    } single[] = {{"install", "INSTALL"},
                  {"load", "LOAD"},
                  {"attach", "ATTACH"},
                  {"detach", "DETACH"},
                  {"set", "SET"},
                  {"reset", "RESET"},
                  {"pragma", "PRAGMA"},
                  {"export", "EXPORT DATABASE"},
                  {"import", "IMPORT DATABASE"},
                  {"prepare", "PREPARE"},
                  {"execute", "EXECUTE"}};
    for (size_t k = 0; k < sizeof single / sizeof *single; k++)
        if (kw_is(st, i, single[k].kw)) return refuse(err, single[k].name);
    if (kw_is(st, i, "force") && kw_is(st, i + 1, "install")) return refuse(err, "INSTALL");
    if (kw_is(st, i, "update") && kw_is(st, i + 1, "extensions")) return refuse(err, "UPDATE EXTENSIONS");
    if (kw_is(st, i, "copy") && kw_is(st, i + 1, "from") && kw_is(st, i + 2, "database"))
        return refuse(err, "COPY FROM DATABASE");
    if (kw_is(st, i, "create") || kw_is(st, i, "drop")) {
        bool create = kw_is(st, i, "create");
        int j = i + 1;
        if (create && kw_is(st, j, "or") && kw_is(st, j + 1, "replace")) j += 2;
        if (kw_is(st, j, "persistent") || kw_is(st, j, "temporary") || kw_is(st, j, "temp")) j++;
        if (kw_is(st, j, "secret")) return refuse(err, create ? "CREATE SECRET" : "DROP SECRET");
    }
    return 0;
}

int fm_sqlguard_check_text(const fm_sqlguard *g, const char *sql, fm_err *err) {
    if (!sql) return fm_fail(err, FM_E_INVALID, "the request contains no SQL statement");
    const char *p = sql;
    stmt_state st = {.nkw = 0};
    int prev_kind = TK_OTHER;      /* previous significant token */
    const char *prev_s = NULL;     /* its text (identifiers only) */
    size_t prev_len = 0;
    fm_buf name;                   /* decoded name of prev token (quoted identifiers) */
    fm_buf_init(&name);
    int rc = 0;
#define FAIL(...)                   \
    do {                            \
        rc = fm_fail(err, __VA_ARGS__); \
        goto done;                  \
    } while (0)
    for (;;) {
        unsigned char c = (unsigned char)*p;
        if (c == 0) break;
        if (c <= ' ') { /* whitespace and control characters */
            p++;
            continue;
        }
        if (c == '-' && p[1] == '-') {
            while (*p && *p != '\n' && *p != '\r') p++; /* DuckDB ends a -- comment at either */
            continue;
        }
        if (c == '/' && p[1] == '*') {
            size_t depth = 1;
            p += 2;
            while (depth) {
                if (!*p) FAIL(FM_E_INVALID, "unterminated /* comment in the SQL text");
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    p++;
                }
            }
            continue;
        }
        if (c == '\'') { /* standard string: '' escapes only */
            if (!(p = skip_string(p + 1, 0))) FAIL(FM_E_INVALID, "unterminated quoted string in the SQL text");
            kw_push(&st, TK_OTHER, NULL, 0);
            prev_kind = TK_OTHER;
            continue;
        }
        if (c == '"') {
            fm_buf_reset(&name);
            p++;
            for (;;) {
                if (!*p) FAIL(FM_E_INVALID, "unterminated quoted identifier in the SQL text");
                if (*p == '"') {
                    if (p[1] == '"') {
                        fm_buf_putc(&name, '"');
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                fm_buf_putc(&name, lower_ascii(*p));
                p++;
            }
            kw_push(&st, TK_QIDENT, NULL, 0);
            prev_kind = TK_QIDENT;
            continue;
        }
        if (is_ident_start(c)) {
            const char *s = p;
            while (is_ident_cont((unsigned char)*p)) p++;
            size_t len = (size_t)(p - s);
            if (len == 1 && (*s == 'e' || *s == 'E') && *p == '\'') { /* E'...': backslash escapes */
                if (!(p = skip_string(p + 1, 1))) FAIL(FM_E_INVALID, "unterminated quoted string in the SQL text");
                kw_push(&st, TK_OTHER, NULL, 0);
                prev_kind = TK_OTHER;
                continue;
            }
            kw_push(&st, TK_IDENT, s, len);
            prev_kind = TK_IDENT;
            prev_s = s;
            prev_len = len;
            continue;
        }
        if (c == '$') {
            const char *s = p + 1;
            if (*s >= '0' && *s <= '9') { /* $1 */
                while (*s >= '0' && *s <= '9') s++;
                p = s;
            } else {
                const char *t = s;
                if (is_ident_start((unsigned char)*t)) {
                    t++;
                    while (is_dolq_cont((unsigned char)*t)) t++;
                }
                if (*t == '$') { /* $tag$ ... $tag$ */
                    size_t dlen = (size_t)(t + 1 - p);
                    const char *q = t + 1;
                    const char *end = NULL;
                    for (const char *x = q; (x = strchr(x, '$')) != NULL; x++)
                        if (!strncmp(x, p, dlen)) {
                            end = x;
                            break;
                        }
                    if (!end) FAIL(FM_E_INVALID, "unterminated dollar-quoted string in the SQL text");
                    p = end + dlen;
                } else { /* $name parameter (or a stray '$') */
                    p = t > s ? t : s;
                    while (is_ident_cont((unsigned char)*p)) p++;
                }
            }
            kw_push(&st, TK_OTHER, NULL, 0);
            prev_kind = TK_OTHER;
            continue;
        }
        if (c >= '0' && c <= '9') { /* numbers stop before letters: 1e'..' is 1 then E'..' as in DuckDB */
            while ((*p >= '0' && *p <= '9') || *p == '.') p++;
            kw_push(&st, TK_OTHER, NULL, 0);
            prev_kind = TK_OTHER;
            continue;
        }
        /* punctuation / operators, one character at a time */
        if (c == '(' && (prev_kind == TK_IDENT || prev_kind == TK_QIDENT)) {
            if (prev_kind == TK_IDENT) {
                fm_buf_reset(&name);
                for (size_t i = 0; i < prev_len; i++) fm_buf_putc(&name, lower_ascii(prev_s[i]));
            }
            if (denied(g, name.data ? name.data : ""))
                FAIL(FM_E_REFUSED, "function %s is not allowed through the query API", name.data);
        }
        if (c == ';') {
            if ((rc = check_statement(&st, err))) goto done;
            st.nkw = 0;
        } else {
            kw_push(&st, TK_PUNCT, NULL, 0);
        }
        prev_kind = TK_PUNCT;
        p++;
    }
    rc = check_statement(&st, err);
done:
#undef FAIL
    fm_buf_free(&name);
    return rc ? -1 : 0;
}

int fm_sqlguard_check_type(duckdb_statement_type t, fm_err *err) {
    switch (t) {
    case DUCKDB_STATEMENT_TYPE_ATTACH: return refuse(err, "ATTACH");
    case DUCKDB_STATEMENT_TYPE_DETACH: return refuse(err, "DETACH");
    case DUCKDB_STATEMENT_TYPE_LOAD: return refuse(err, "LOAD");
    case DUCKDB_STATEMENT_TYPE_SET: return refuse(err, "SET");
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return refuse(err, "SET VARIABLE");
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return refuse(err, "PRAGMA");
    case DUCKDB_STATEMENT_TYPE_EXPORT: return refuse(err, "EXPORT DATABASE");
    case DUCKDB_STATEMENT_TYPE_COPY_DATABASE: return refuse(err, "COPY FROM DATABASE");
    case DUCKDB_STATEMENT_TYPE_UPDATE_EXTENSIONS: return refuse(err, "UPDATE EXTENSIONS");
    case DUCKDB_STATEMENT_TYPE_PREPARE: return refuse(err, "PREPARE");
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return refuse(err, "EXECUTE");
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return refuse(err, "an extension statement");
    case DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN: return refuse(err, "a logical plan statement");
    case DUCKDB_STATEMENT_TYPE_RELATION: return refuse(err, "a relation statement");
    case DUCKDB_STATEMENT_TYPE_INVALID: return refuse(err, "this statement type");
    default: return 0;
    }
}
