/* CSV (RFC 4180) rows from DuckDB chunks. A field is quoted only when it must be (it contains
 * , " CR or LF, or starts or ends with a space that a reader might trim), so a NULL (empty,
 * unquoted) stays distinguishable from the empty string (""). Lines end in CRLF as the RFC says.
 * Values without a CSV notion keep one documented text form: BLOB as base64, nested values
 * (LIST, STRUCT, MAP, ...) as their JSON, the same text the NDJSON format uses. */
#include <string.h>

#include "engine/enc_internal.h"

static void put_field(fm_buf *out, const char *s, size_t n) {
    int quote = n && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') quote = 1;
    if (!quote && n) return fm_buf_append(out, s, n);
    if (!n) return fm_buf_puts(out, "\"\"");
    fm_buf_reserve(out, n + 2);
    fm_buf_putc(out, '"');
    const char *p = s, *end = s + n;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
            fm_buf_append(out, p, (size_t)(end - p));
            break;
        }
        fm_buf_append(out, p, (size_t)(q - p + 1));
        fm_buf_putc(out, '"');
        p = q + 1;
    }
    fm_buf_putc(out, '"');
}

int fm_enc_csv_begin(fm_encoder *e, fm_buf *out, fm_err *err) {
    for (idx_t c = 0; c < e->ncols; c++) {
        if (c) fm_buf_putc(out, ',');
        put_field(out, e->names[c], strlen(e->names[c]));
    }
    fm_buf_puts(out, "\r\n");
    return 0;
}

int fm_enc_csv_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err) {
    idx_t rows = duckdb_data_chunk_get_size(chunk);
    duckdb_vector vecs[e->ncols ? e->ncols : 1];
    for (idx_t c = 0; c < e->ncols; c++) vecs[c] = duckdb_data_chunk_get_vector(chunk, c);
    for (idx_t r = 0; r < rows; r++) {
        for (idx_t c = 0; c < e->ncols; c++) {
            if (c) fm_buf_putc(out, ',');
            const fm_tnode *t = &e->types[c];
            if (t->id == DUCKDB_TYPE_SQLNULL || !fm_enc_is_valid(vecs[c], r)) continue;
            if (t->id == DUCKDB_TYPE_VARCHAR) {
                size_t n;
                const char *s = fm_enc_str((duckdb_string_t *)duckdb_vector_get_data(vecs[c]) + r, &n);
                put_field(out, s, n);
                continue;
            }
            fm_buf_reset(&e->cell);
            fm_enc_text(&e->cell, &e->scratch, t, vecs[c], r);
            put_field(out, e->cell.data, e->cell.len);
        }
        fm_buf_puts(out, "\r\n");
    }
    return 0;
}
