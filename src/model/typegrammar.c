/* The column type grammar (typegrammar.h). Types from specs are parsed, never pasted: the
 * printer emits only spellings produced here, so no spec text reaches SQL. The canonical form
 * is DuckDB 1.5.5's own rendering (duckdb_columns().data_type), so comparing a spec with a live
 * table is a string comparison; STRUCT field names follow DuckDB's KeywordHelper rule: bare when
 * [A-Za-z_][A-Za-z0-9_]* and not a keyword of any category, else double-quoted.
 * The keyword list below is duckdb_keywords() of 1.5.5; a unit test checks it against DuckDB. */
#include "model/typegrammar.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/sqlquote.h"

#define MAX_DEPTH 8

static const char *const keywords[] = {
    "abort", "absolute", "access", "action", "add", "admin", "after", "aggregate", "all", "also",
    "alter", "always", "analyse", "analyze", "and", "anti", "any", "array", "as", "asc", "asof",
    "assertion", "assignment", "asymmetric", "at", "attach", "attribute", "authorization",
    "backward", "before", "begin", "between", "bigint", "binary", "bit", "boolean", "both", "by",
    "cache", "call", "called", "cascade", "cascaded", "case", "cast", "catalog", "centuries",
    "century", "chain", "char", "character", "characteristics", "check", "checkpoint", "class",
    "close", "cluster", "coalesce", "collate", "collation", "column", "columns", "comment",
    "comments", "commit", "committed", "compression", "concurrently", "configuration", "conflict",
    "connection", "constraint", "constraints", "content", "continue", "conversion", "copy", "cost",
    "create", "cross", "csv", "cube", "current", "cursor", "cycle", "data", "database", "day",
    "days", "deallocate", "dec", "decade", "decades", "decimal", "declare", "default", "defaults",
    "deferrable", "deferred", "definer", "delete", "delimiter", "delimiters", "depends", "desc",
    "describe", "detach", "dictionary", "disable", "discard", "distinct", "do", "document",
    "domain", "double", "drop", "each", "else", "enable", "encoding", "encrypted", "end", "enum",
    "error", "escape", "event", "except", "exclude", "excluding", "exclusive", "execute", "exists",
    "explain", "export", "export_state", "extension", "extensions", "external", "extract", "false",
    "family", "fetch", "filter", "first", "float", "following", "for", "force", "foreign",
    "forward", "freeze", "from", "full", "function", "functions", "generated", "glob", "global",
    "grant", "granted", "group", "grouping", "grouping_id", "groups", "handler", "having", "header",
    "hold", "hour", "hours", "identity", "if", "ignore", "ilike", "immediate", "immutable",
    "implicit", "import", "in", "include", "including", "increment", "index", "indexes", "inherit",
    "inherits", "initially", "inline", "inner", "inout", "input", "insensitive", "insert",
    "install", "instead", "int", "integer", "intersect", "interval", "into", "invoker", "is",
    "isnull", "isolation", "join", "json", "key", "label", "lambda", "language", "large", "last",
    "lateral", "leading", "leakproof", "left", "level", "like", "limit", "listen", "load", "local",
    "location", "lock", "locked", "logged", "macro", "map", "mapping", "match", "matched",
    "materialized", "maxvalue", "merge", "method", "microsecond", "microseconds", "millennia",
    "millennium", "millisecond", "milliseconds", "minute", "minutes", "minvalue", "mode", "month",
    "months", "move", "name", "names", "national", "natural", "nchar", "new", "next", "no", "none",
    "not", "nothing", "notify", "notnull", "nowait", "null", "nullif", "nulls", "numeric", "object",
    "of", "off", "offset", "oids", "old", "on", "only", "operator", "option", "options", "or",
    "order", "ordinality", "others", "out", "outer", "over", "overlaps", "overlay", "overriding",
    "owned", "owner", "parallel", "parser", "partial", "partition", "partitioned", "passing",
    "password", "percent", "persistent", "pivot", "pivot_longer", "pivot_wider", "placing", "plans",
    "policy", "position", "positional", "pragma", "preceding", "precision", "prepare", "prepared",
    "preserve", "primary", "prior", "privileges", "procedural", "procedure", "program",
    "publication", "qualify", "quarter", "quarters", "quote", "range", "read", "real", "reassign",
    "recheck", "recursive", "ref", "references", "referencing", "refresh", "reindex", "relative",
    "release", "rename", "repeatable", "replace", "replica", "reset", "respect", "restart",
    "restrict", "returning", "returns", "revoke", "right", "role", "rollback", "rollup", "row",
    "rows", "rule", "sample", "savepoint", "schema", "schemas", "scope", "scroll", "search",
    "second", "seconds", "secret", "security", "select", "semi", "sequence", "sequences",
    "serializable", "server", "session", "set", "setof", "sets", "share", "show", "similar",
    "simple", "skip", "smallint", "snapshot", "some", "sorted", "source", "sql", "stable",
    "standalone", "start", "statement", "statistics", "stdin", "stdout", "storage", "stored",
    "strict", "strip", "struct", "subscription", "substring", "summarize", "symmetric", "sysid",
    "system", "table", "tables", "tablesample", "tablespace", "target", "temp", "template",
    "temporary", "text", "then", "ties", "time", "timestamp", "to", "trailing", "transaction",
    "transform", "treat", "trigger", "trim", "true", "truncate", "trusted", "try_cast", "type",
    "types", "unbounded", "uncommitted", "unencrypted", "union", "unique", "unknown", "unlisten",
    "unlogged", "unpack", "unpivot", "until", "update", "use", "user", "using", "vacuum", "valid",
    "validate", "validator", "value", "values", "varchar", "variable", "variadic", "varying",
    "verbose", "version", "view", "views", "virtual", "volatile", "week", "weeks", "when", "where",
    "whitespace", "window", "with", "within", "without", "work", "wrapper", "write", "xml",
    "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces",
    "xmlparse", "xmlpi", "xmlroot", "xmlserialize", "xmltable", "year", "years", "yes", "zone",
};

static int cmp_kw(const void *a, const void *b) { return strcmp((const char *)a, *(const char *const *)b); }

static int is_keyword(const char *s) {
    char low[64];
    size_t n = strlen(s);
    if (n >= sizeof low) return 0;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)s[i]);
    return bsearch(low, keywords, sizeof keywords / sizeof *keywords, sizeof *keywords, cmp_kw) != NULL;
}

/* DuckDB's KeywordHelper::WriteOptionallyQuoted(name, '"', allow_caps=true) */
static void field_name(fm_buf *out, const char *name) {
    int plain = name[0] != 0;
    for (size_t i = 0; name[i]; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9')))
            plain = 0;
    }
    if (plain && !is_keyword(name)) {
        fm_buf_puts(out, name);
        return;
    }
    fm_sql_ident(out, name, "STRUCT field name", NULL); /* validated by the caller */
}

static const struct {
    const char *name, *canonical;
} scalars[] = {
    {"TINYINT", "TINYINT"}, {"INT1", "TINYINT"}, {"SMALLINT", "SMALLINT"}, {"INT2", "SMALLINT"},
    {"SHORT", "SMALLINT"}, {"INTEGER", "INTEGER"}, {"INT", "INTEGER"}, {"INT4", "INTEGER"},
    {"SIGNED", "INTEGER"}, {"BIGINT", "BIGINT"}, {"INT8", "BIGINT"}, {"LONG", "BIGINT"},
    {"HUGEINT", "HUGEINT"}, {"UTINYINT", "UTINYINT"}, {"USMALLINT", "USMALLINT"}, {"UINTEGER", "UINTEGER"},
    {"UBIGINT", "UBIGINT"}, {"UHUGEINT", "UHUGEINT"}, {"FLOAT", "FLOAT"}, {"REAL", "FLOAT"},
    {"FLOAT4", "FLOAT"}, {"DOUBLE", "DOUBLE"}, {"FLOAT8", "DOUBLE"}, {"BOOLEAN", "BOOLEAN"},
    {"BOOL", "BOOLEAN"}, {"VARCHAR", "VARCHAR"}, {"STRING", "VARCHAR"}, {"TEXT", "VARCHAR"},
    {"BLOB", "BLOB"}, {"BYTEA", "BLOB"}, {"DATE", "DATE"}, {"TIME", "TIME"},
    {"DATETIME", "TIMESTAMP"}, {"TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"}, {"UUID", "UUID"},
    {"INTERVAL", "INTERVAL"}, {"JSON", "JSON"},
};

#define EXPECTED_TYPES                                                                                    \
    "TINYINT, SMALLINT, INTEGER, BIGINT, HUGEINT, UTINYINT, USMALLINT, UINTEGER, UBIGINT, UHUGEINT, "    \
    "FLOAT, DOUBLE, DECIMAL(p,s), BOOLEAN, VARCHAR, BLOB, DATE, TIME, TIMESTAMP, TIMESTAMPTZ, UUID, "   \
    "INTERVAL, JSON, STRUCT(name type, ...), MAP(key, value), or type[]"

typedef enum { T_END, T_WORD, T_QUOTED, T_NUM, T_PUNCT, T_BAD } tok_kind;

typedef struct {
    tok_kind kind;
    size_t start, len;
} tok;

typedef struct {
    const char *s;
    size_t pos;
    fm_err *err;
} parser;

static tok peek(parser *p) {
    const char *s = p->s;
    size_t i = p->pos;
    while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') i++;
    tok t = {T_END, i, 0};
    char c = s[i];
    if (!c) return t;
    if (isalpha((unsigned char)c) || c == '_') {
        size_t j = i;
        while (isalnum((unsigned char)s[j]) || s[j] == '_') j++;
        t.kind = T_WORD, t.len = j - i;
    } else if (isdigit((unsigned char)c)) {
        size_t j = i;
        while (isdigit((unsigned char)s[j])) j++;
        t.kind = T_NUM, t.len = j - i;
    } else if (c == '"') {
        size_t j = i + 1;
        for (;;) {
            if (!s[j]) {
                t.kind = T_BAD, t.len = j - i; /* unterminated */
                return t;
            }
            if (s[j] == '"') {
                if (s[j + 1] == '"') {
                    j += 2;
                    continue;
                }
                break;
            }
            j++;
        }
        t.kind = T_QUOTED, t.len = j + 1 - i;
    } else if (c == '(' || c == ')' || c == ',' || c == '[' || c == ']') {
        t.kind = T_PUNCT, t.len = 1;
    } else {
        t.kind = T_BAD, t.len = 1;
    }
    return t;
}

static tok next(parser *p) {
    tok t = peek(p);
    p->pos = t.start + t.len;
    return t;
}

static int is_punct(tok t, const parser *p, char c) { return t.kind == T_PUNCT && p->s[t.start] == c; }

static int word_is(tok t, const parser *p, const char *w) {
    return t.kind == T_WORD && strlen(w) == t.len && strncasecmp(p->s + t.start, w, t.len) == 0;
}

/* "unexpected X at position N (expected Y)"; positions are 1-based byte offsets */
static int unexpected(parser *p, tok t, const char *expected) {
    if (t.kind == T_END) return fm_fail(p->err, FM_E_INVALID, "unexpected end of type (expected %s)", expected);
    if (t.kind == T_BAD && p->s[t.start] == '"')
        return fm_fail(p->err, FM_E_INVALID, "unterminated quoted name at position %zu (expected %s)", t.start + 1,
                       expected);
    unsigned char c = (unsigned char)p->s[t.start];
    if (t.kind == T_BAD && (c < 0x20 || c >= 0x7f))
        return fm_fail(p->err, FM_E_INVALID, "unexpected byte 0x%02x at position %zu (expected %s)", c, t.start + 1,
                       expected);
    int n = t.len > 40 ? 40 : (int)t.len;
    return fm_fail(p->err, FM_E_INVALID, "unexpected \"%.*s%s\" at position %zu (expected %s)", n, p->s + t.start,
                   t.len > 40 ? "..." : "", t.start + 1, expected);
}

static int expect_punct(parser *p, char c, const char *expected) {
    tok t = next(p);
    if (!is_punct(t, p, c)) return unexpected(p, t, expected);
    return 0;
}

static int number(parser *p, const char *what, long *out) {
    tok t = next(p);
    if (t.kind != T_NUM) return unexpected(p, t, what);
    if (t.len > 6) return fm_fail(p->err, FM_E_INVALID, "%s %.*s out of range", what, (int)t.len, p->s + t.start);
    *out = strtol(p->s + t.start, NULL, 10);
    return 0;
}

static int parse_type(parser *p, fm_buf *out, int level, int *depth);

static int parse_decimal(parser *p, fm_buf *out) {
    long prec = 18, scale = 3;
    if (is_punct(peek(p), p, '(')) {
        next(p);
        if (number(p, "DECIMAL precision", &prec)) return -1;
        scale = 0;
        if (is_punct(peek(p), p, ',')) {
            next(p);
            if (number(p, "DECIMAL scale", &scale)) return -1;
        }
        if (expect_punct(p, ')', "\")\" after DECIMAL(p,s)")) return -1;
        if (prec < 1 || prec > 38)
            return fm_fail(p->err, FM_E_INVALID, "DECIMAL precision %ld out of range 1..38", prec);
        if (scale > prec)
            return fm_fail(p->err, FM_E_INVALID, "DECIMAL scale %ld out of range 0..%ld (the precision)", scale, prec);
    }
    fm_buf_printf(out, "DECIMAL(%ld,%ld)", prec, scale);
    return 0;
}

/* a STRUCT field name: a bare word or a "quoted" name; returns it unquoted in *name */
static int field_token(parser *p, fm_buf *name) {
    tok t = next(p);
    if (t.kind == T_WORD) {
        fm_buf_append(name, p->s + t.start, t.len);
    } else if (t.kind == T_QUOTED) {
        for (size_t i = t.start + 1; i < t.start + t.len - 1; i++) {
            fm_buf_putc(name, p->s[i]);
            if (p->s[i] == '"') i++;
        }
    } else {
        return unexpected(p, t, "a STRUCT field name");
    }
    fm_buf scratch;
    fm_buf_init(&scratch);
    int rc = fm_sql_ident(&scratch, name->data, "STRUCT field name", p->err);
    fm_buf_free(&scratch);
    if (rc) {
        char msg[sizeof p->err->msg];
        memcpy(msg, p->err->msg, sizeof msg);
        return fm_fail(p->err, FM_E_INVALID, "%s (at position %zu)", msg, t.start + 1);
    }
    return 0;
}

static int parse_struct(parser *p, fm_buf *out, int level, int *depth) {
    if (expect_punct(p, '(', "\"(\" after STRUCT")) return -1;
    fm_buf names; /* NUL-separated field names seen so far */
    fm_buf_init(&names);
    fm_buf_puts(out, "STRUCT(");
    int rc = 0;
    for (int first = 1;; first = 0) {
        fm_buf name;
        fm_buf_init(&name);
        rc = field_token(p, &name);
        for (size_t off = 0; !rc && off < names.len; off += strlen(names.data + off) + 1)
            if (strcasecmp(names.data + off, name.data) == 0)
                rc = fm_fail(p->err, FM_E_INVALID, "duplicate STRUCT field name \"%s\"", name.data);
        if (!rc) {
            fm_buf_append(&names, name.data, name.len + 1);
            if (!first) fm_buf_puts(out, ", ");
            field_name(out, name.data);
            fm_buf_putc(out, ' ');
            int d = 0;
            rc = parse_type(p, out, level + 1, &d);
            if (d + 1 > *depth) *depth = d + 1;
        }
        fm_buf_free(&name);
        if (rc) break;
        tok t = next(p);
        if (is_punct(t, p, ')')) break;
        if (!is_punct(t, p, ',')) {
            rc = unexpected(p, t, "\",\" or \")\" in STRUCT");
            break;
        }
    }
    fm_buf_free(&names);
    if (!rc) fm_buf_putc(out, ')');
    return rc;
}

static int parse_map(parser *p, fm_buf *out, int level, int *depth) {
    int dk = 0, dv = 0;
    if (expect_punct(p, '(', "\"(\" after MAP")) return -1;
    fm_buf_puts(out, "MAP(");
    if (parse_type(p, out, level + 1, &dk)) return -1;
    if (expect_punct(p, ',', "\",\" between MAP key and value types")) return -1;
    fm_buf_puts(out, ", ");
    if (parse_type(p, out, level + 1, &dv)) return -1;
    if (expect_punct(p, ')', "\")\" after MAP value type")) return -1;
    fm_buf_putc(out, ')');
    *depth = 1 + (dk > dv ? dk : dv);
    return 0;
}

/* parses one type inside `level` enclosing STRUCT/MAP constructors; *depth receives its own
 * depth (constructors STRUCT, MAP and [] nested in it; a scalar has depth 0) */
static int parse_type(parser *p, fm_buf *out, int level, int *depth) {
    if (level > MAX_DEPTH) return fm_fail(p->err, FM_E_INVALID, "type nesting deeper than %d levels", MAX_DEPTH);
    tok t = next(p);
    *depth = 0;
    if (t.kind != T_WORD) return unexpected(p, t, "a type name");
    if (word_is(t, p, "DECIMAL") || word_is(t, p, "NUMERIC")) {
        if (parse_decimal(p, out)) return -1;
    } else if (word_is(t, p, "STRUCT")) {
        if (parse_struct(p, out, level, depth)) return -1;
    } else if (word_is(t, p, "MAP")) {
        if (parse_map(p, out, level, depth)) return -1;
    } else if (word_is(t, p, "TIMESTAMP")) {
        tok w = peek(p);
        int with = word_is(w, p, "WITH"), without = word_is(w, p, "WITHOUT");
        if (with || without) {
            next(p);
            tok z = next(p);
            if (!word_is(z, p, "TIME")) return unexpected(p, z, "TIME ZONE after WITH");
            z = next(p);
            if (!word_is(z, p, "ZONE")) return unexpected(p, z, "ZONE after WITH TIME");
        }
        fm_buf_puts(out, with ? "TIMESTAMP WITH TIME ZONE" : "TIMESTAMP");
    } else {
        size_t i;
        for (i = 0; i < sizeof scalars / sizeof *scalars; i++)
            if (word_is(t, p, scalars[i].name)) break;
        if (i == sizeof scalars / sizeof *scalars) {
            int n = t.len > 40 ? 40 : (int)t.len;
            return fm_fail(p->err, FM_E_INVALID, "unknown type \"%.*s\" at position %zu (expected one of %s)", n,
                           p->s + t.start, t.start + 1, EXPECTED_TYPES);
        }
        fm_buf_puts(out, scalars[i].canonical);
    }
    while (is_punct(peek(p), p, '[')) {
        next(p);
        if (expect_punct(p, ']', "\"]\" (only variable-length lists T[] are supported)")) return -1;
        fm_buf_puts(out, "[]");
        ++*depth;
    }
    if (level + *depth > MAX_DEPTH)
        return fm_fail(p->err, FM_E_INVALID, "type nesting deeper than %d levels", MAX_DEPTH);
    return 0;
}

int fm_type_parse(const char *text, fm_buf *canonical, fm_err *err) {
    if (!text) return fm_fail(err, FM_E_INVALID, "type is missing");
    parser p = {text, 0, err};
    if (peek(&p).kind == T_END) return fm_fail(err, FM_E_INVALID, "type is empty");
    if (!fm_utf8_valid(text, strlen(text))) return fm_fail(err, FM_E_INVALID, "type is not valid UTF-8");
    fm_buf out;
    fm_buf_init(&out);
    int depth = 0;
    int rc = parse_type(&p, &out, 0, &depth);
    if (!rc) {
        tok t = peek(&p);
        if (t.kind != T_END) rc = unexpected(&p, t, "end of type");
    }
    if (!rc) fm_buf_append(canonical, out.data, out.len);
    fm_buf_free(&out);
    return rc;
}

/* ---- in-place widening (DuckLake's type promotions, limited to its specification's list) ---- */

static const struct {
    const char *name;
    int is_signed, bits;
} ints[] = {
    {"TINYINT", 1, 8},    {"SMALLINT", 1, 16},   {"INTEGER", 1, 32},   {"BIGINT", 1, 64},  {"HUGEINT", 1, 128},
    {"UTINYINT", 0, 8},   {"USMALLINT", 0, 16},  {"UINTEGER", 0, 32},  {"UBIGINT", 0, 64}, {"UHUGEINT", 0, 128},
};

static int int_index(const char *t) {
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        if (strcmp(ints[i].name, t) == 0) return (int)i;
    return -1;
}

int fm_type_widening_ok(const char *from, const char *to, fm_buf *why) {
    if (strcmp(from, to) == 0) return 1;
    if (strcmp(from, "FLOAT") == 0 && strcmp(to, "DOUBLE") == 0) return 1;
    int a = int_index(from), b = int_index(to);
    const char *reason = NULL;
    if (a < 0 || b < 0) {
        reason = "only integer widening and FLOAT to DOUBLE can be done in place";
    } else if (ints[a].bits == 128 || ints[b].bits == 128) {
        reason = "DuckLake's type promotions stop at 64-bit integers";
    } else if (ints[b].bits <= ints[a].bits) {
        reason = ints[b].bits < ints[a].bits ? "it would narrow the column" : "both types have the same width";
    } else if (ints[a].is_signed && !ints[b].is_signed) {
        reason = "a signed type cannot become unsigned";
    } else {
        return 1;
    }
    if (why) fm_buf_printf(why, "%s cannot change to %s in place: %s", from, to, reason);
    return 0;
}
