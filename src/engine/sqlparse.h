/* A flat description of one statement as DuckDB itself parsed it, for the authorizer (authz.h).
 *
 * Why C++ underneath: DuckDB's C API hands out parsed statements only as opaque handles
 * (duckdb_extract_statements) and exposes a parse tree for SELECT alone (json_serialize_sql);
 * INSERT, UPDATE, DELETE, MERGE, CREATE, ALTER, DROP, COPY, CALL and EXPLAIN have no C view of
 * their tables, functions or targets. sqlparse.cpp is a thin shim compiled against the headers
 * of the exact DuckDB release the binary links (1.5.5, release build flags) that walks the
 * tree. It describes the very statement objects duckdb_extract_statements produced — the same
 * objects duckdb_prepare_extracted_statement then binds — so the authorizer and DuckDB can never
 * disagree about what the text says (comments, whitespace, quoting, PRAGMA expansion).
 *
 * What a description holds:
 *   - the statement's type as the C API names it (what duckdb_prepared_statement_type will say),
 *     and for EXPLAIN the type of the explained statement and whether it is EXPLAIN ANALYZE;
 *   - for CREATE/ALTER/DROP: the kind of object, whether it is TEMPORARY, OR REPLACE;
 *   - for COPY: the direction;
 *   - every reference in the whole tree, in any position (subqueries, CTEs, joins, VALUES,
 *     RETURNING, ON CONFLICT, defaults, CHECK constraints, AT clauses, PIVOT, lambdas, window
 *     frames): tables and views read, table functions (FROM f(), CALL f()), other functions
 *     (scalar, aggregate, window, macro), the target of a write or of DDL, the names SHOW asks
 *     for; each with its catalog, schema and name as written (empty when not written).
 *     Function names are lower-cased (DuckDB looks functions up case-insensitively); table names
 *     are kept as written.
 *   - unsupported: set when the tree holds a construct this shim does not know how to walk
 *     (a new node type in a later DuckDB). The authorizer refuses such statements: an allowlist
 *     must fail closed.
 * Views and macros are not expanded: their bodies were authorized when they were created. */
#ifndef FM_SQLPARSE_H
#define FM_SQLPARSE_H
#include <duckdb.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    FM_SQLREF_TABLE,          /* a table or view read (FROM x, DESCRIBE x, SUMMARIZE x) */
    FM_SQLREF_TABLE_FUNCTION, /* FROM f(...), CALL f(...) */
    FM_SQLREF_FUNCTION,       /* a scalar, aggregate, window function or macro call */
    FM_SQLREF_TARGET,         /* what INSERT/UPDATE/DELETE/MERGE writes or CREATE/ALTER/DROP changes */
    FM_SQLREF_SHOW            /* SHOW <name> (SHOW TABLES, SHOW DATABASES): name is what is shown */
} fm_sqlref_kind;

typedef enum {
    FM_SQLOBJ_NONE,   /* not a CREATE/ALTER/DROP */
    FM_SQLOBJ_TABLE,
    FM_SQLOBJ_VIEW,
    FM_SQLOBJ_SCHEMA, /* the target's name is the schema's; its schema field is empty */
    FM_SQLOBJ_OTHER   /* macro, function, secret, type, sequence, index, database, ... */
} fm_sqlobj;

typedef struct {
    fm_sqlref_kind kind;
    const char *catalog; /* "" when not written */
    const char *schema;  /* "" when not written */
    const char *name;
} fm_sqlref;

typedef struct {
    duckdb_statement_type type;  /* as duckdb_prepared_statement_type reports it */
    const char *type_name;       /* DuckDB's name of the type ("COPY", "CREATE", ...) for messages */
    duckdb_statement_type inner; /* EXPLAIN: the explained statement's type; otherwise == type */
    bool analyze;                /* EXPLAIN ANALYZE: the explained statement runs */
    fm_sqlobj object;            /* CREATE/ALTER/DROP (also under EXPLAIN): what kind of object */
    const char *object_name;     /* DuckDB's name of the object kind ("MACRO", "SECRET"), "" if none */
    const char *alter_detail;    /* ALTER TABLE: a sub-command the shim does not admit; else "" */
    bool temporary;              /* CREATE TEMP/TEMPORARY */
    bool copy_from;              /* COPY ... FROM */
    const char *unsupported;     /* NULL, or the construct that could not be described */
    size_t nrefs;
    const fm_sqlref *refs;
    void *priv; /* the shim's storage */
} fm_sqlstmt;

/* Describes statement i of what duckdb_extract_statements returned. Returns NULL only when i is
 * out of range or the statement was already taken by duckdb_prepare_extracted_statement (call
 * this before preparing). Never throws; a description with unsupported set is still returned. */
fm_sqlstmt *fm_sqlparse_describe(duckdb_extracted_statements stmts, idx_t i);
void fm_sqlstmt_free(fm_sqlstmt *s);

#ifdef __cplusplus
}
#endif
#endif
