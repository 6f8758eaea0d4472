/* The column type grammar of DuckLakeTable columns. A type from a spec never reaches SQL as
 * free text: it is parsed here and re-printed in canonical form, which is also the spelling
 * DuckDB reports in duckdb_columns().data_type, so spec and table can be compared.
 *   scalar:  TINYINT SMALLINT INTEGER BIGINT HUGEINT UTINYINT USMALLINT UINTEGER UBIGINT UHUGEINT
 *            FLOAT DOUBLE BOOLEAN VARCHAR BLOB DATE TIME TIMESTAMP TIMESTAMPTZ UUID INTERVAL JSON
 *            DECIMAL(p,s) (1<=p<=38, 0<=s<=p; bare DECIMAL = DECIMAL(18,3))
 *            synonyms: INT/INT4/SIGNED→INTEGER, INT8/LONG→BIGINT, INT2/SHORT→SMALLINT, INT1→TINYINT,
 *            REAL/FLOAT4→FLOAT, FLOAT8→DOUBLE, BOOL→BOOLEAN, STRING/TEXT→VARCHAR, BYTEA→BLOB,
 *            NUMERIC→DECIMAL, DATETIME→TIMESTAMP, "TIMESTAMP WITHOUT TIME ZONE"→TIMESTAMP,
 *            TIMESTAMPTZ and "TIMESTAMP WITH TIME ZONE" → "TIMESTAMP WITH TIME ZONE" (DuckDB's
 *            data_type spelling of TIMESTAMPTZ); DECIMAL(p) = DECIMAL(p,0);
 *            case-insensitive, blanks allowed between tokens
 *   nested:  T[] (list; fixed-size T[n] is refused), STRUCT(name T, ...) (names bare or "quoted",
 *            unique case-insensitively), MAP(K, V); at most 8 nested constructors (STRUCT, MAP, [])
 * Canonical form: upper case, DuckDB's spelling, e.g. "DECIMAL(10,2)", "INTEGER[]",
 * "STRUCT(a INTEGER, \"b c\" VARCHAR)", "MAP(VARCHAR, BIGINT)". STRUCT field names are printed
 * as DuckDB prints them: bare when [A-Za-z_][A-Za-z0-9_]* and not a DuckDB keyword of any
 * category (case-insensitively; "name", "type", "year" are keywords), otherwise double-quoted
 * with "" doubling, e.g. STRUCT(Upper INTEGER, "select" VARCHAR, "name" INTEGER).
 * fm_type_parse appends to `canonical` only on success. */
#ifndef FM_TYPEGRAMMAR_H
#define FM_TYPEGRAMMAR_H
#include "base/buf.h"
#include "base/err.h"

int fm_type_parse(const char *text, fm_buf *canonical, fm_err *err);

/* Whether DuckLake can change a column from canonical type `from` to `to` in place (ALTER
 * COLUMN ... SET DATA TYPE): only lossless widening of integers up to 64 bits (signed to wider
 * signed, unsigned to wider unsigned or to a wider signed) and FLOAT→DOUBLE — the DuckLake
 * specification's promotions. (DuckLake 1.5.5 itself also accepts →HUGEINT and integer→FLOAT/
 * DOUBLE; we refuse those: lossy or outside the spec.) Equal types return 1. Returns 1 if
 * allowed, 0 if not, appending to `why` (may be NULL) "FROM cannot change to TO in place: ...". */
int fm_type_widening_ok(const char *from, const char *to, fm_buf *why);
#endif
