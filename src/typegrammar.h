/* The column type grammar of DuckLakeTable (brief §3). A type from a spec never reaches SQL as
 * free text: it is parsed here and re-printed in canonical form, which is also the spelling
 * DuckDB reports in duckdb_columns().data_type, so spec and table can be compared.
 *   scalar:  TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT
 *            FLOAT DOUBLE BOOLEAN VARCHAR BLOB DATE TIME TIMESTAMP TIMESTAMPTZ UUID INTERVAL JSON
 *            DECIMAL(p,s) (1<=p<=38, 0<=s<=p; bare DECIMAL = DECIMAL(18,3))
 *            synonyms: INT/INT4/SIGNED→INTEGER, INT8/LONG→BIGINT, INT2/SHORT→SMALLINT, INT1→TINYINT,
 *            REAL/FLOAT4→FLOAT, FLOAT8→DOUBLE, BOOL→BOOLEAN, STRING/TEXT→VARCHAR, BYTEA→BLOB,
 *            NUMERIC→DECIMAL, DATETIME→TIMESTAMP, "TIMESTAMP WITH TIME ZONE"→TIMESTAMPTZ;
 *            case-insensitive, blanks allowed between tokens
 *   nested:  T[] (list), STRUCT(name T, ...) (field names quoted with fm_sql_ident when needed),
 *            MAP(K, V); nesting depth ≤ 8
 * Canonical form: upper case, DuckDB's spelling, e.g. "DECIMAL(10,2)", "INTEGER[]",
 * "STRUCT(a INTEGER, \"b c\" VARCHAR)", "MAP(VARCHAR, BIGINT)". */
#ifndef FM_TYPEGRAMMAR_H
#define FM_TYPEGRAMMAR_H
#include "buf.h"
#include "err.h"

int fm_type_parse(const char *text, fm_buf *canonical, fm_err *err);

/* Whether DuckLake can change a column from canonical type `from` to `to` in place (ALTER
 * COLUMN ... SET DATA TYPE): only lossless widening of integers (signed to wider signed,
 * unsigned to wider unsigned or to a wider signed) and FLOAT→DOUBLE. Returns 1 if allowed,
 * 0 if not, with `why` set to a sentence saying why not. */
int fm_type_widening_ok(const char *from, const char *to, fm_buf *why);
#endif
