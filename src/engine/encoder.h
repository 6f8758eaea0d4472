/* Result encoders: turn a streaming DuckDB result, chunk by chunk, into the bytes of one wire
 * format, appended to an fm_buf that the HTTP layer drains. An encoder never buffers more than
 * the chunk it is given.
 *   CSV    text/csv; RFC 4180: header row of column names, CRLF line ends, fields quoted when they
 *          contain , " CR LF or leading/trailing space, "" doubling; NULL is an empty unquoted
 *          field, the empty string is "" (so the two differ).
 *   NDJSON application/x-ndjson: one JSON object per row {"col": value, ...}, '\n' after each;
 *          integers as JSON numbers (HUGEINT/UHUGEINT/DECIMAL too, exact digits), DOUBLE/FLOAT as
 *          shortest round-trip numbers (NaN/Inf as strings "NaN", "Infinity", "-Infinity"),
 *          BOOLEAN, NULL as null, strings escaped (fm_json_string), BLOB as base64 string,
 *          DATE "YYYY-MM-DD", TIME "HH:MM:SS[.ffffff]", TIMESTAMP "YYYY-MM-DD HH:MM:SS[.ffffff]",
 *          TIMESTAMPTZ the same in UTC with "+00", UUID canonical text, INTERVAL as DuckDB prints
 *          it, ENUM its string, lists as arrays, structs as objects, maps as arrays of {"key","value"}.
 *          Duplicate column names are kept as DuckDB gives them.
 *   ARROW  application/vnd.apache.arrow.stream: Arrow IPC stream format via nanoarrow's IPC
 *          writer: the schema message first, then one record batch per chunk, then the
 *          end-of-stream marker. Types come from DuckDB's own Arrow conversion
 *          (duckdb_to_arrow_schema / duckdb_data_chunk_to_arrow with the connection's arrow
 *          options), so ENUM becomes a dictionary array and DECIMAL a decimal128.
 * Any failure returns -1 with err set; the caller then aborts the HTTP stream (never a silently
 * short result). */
#ifndef FM_ENCODER_H
#define FM_ENCODER_H
#include <duckdb.h>

#include "base/buf.h"
#include "base/err.h"
#include "model/format.h"

typedef struct fm_encoder fm_encoder;

/* result: a (streaming) result whose columns describe the output; it is only read for column
 * names and types (and, for Arrow, its arrow options), not consumed. */
fm_encoder *fm_encoder_new(fm_format f, duckdb_result *result, fm_err *err);
int fm_encoder_begin(fm_encoder *e, fm_buf *out, fm_err *err); /* CSV header / Arrow schema */
int fm_encoder_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err);
int fm_encoder_end(fm_encoder *e, fm_buf *out, fm_err *err); /* Arrow end-of-stream */
void fm_encoder_free(fm_encoder *e);
#endif
