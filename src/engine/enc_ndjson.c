/* NDJSON: one JSON object per row, keys in column order (duplicates kept, as DuckDB names them),
 * '\n' after every row including the last. The escaped "name": prefixes are built once, since
 * they repeat on every row. */
#include <stdlib.h>
#include <string.h>

#include "engine/enc_internal.h"
#include "base/json_out.h"
#include "base/xalloc.h"

int fm_enc_ndjson_prepare(fm_encoder *e, fm_err *err) {
    e->keys = fm_xcalloc(e->ncols + 1, sizeof *e->keys);
    for (idx_t c = 0; c < e->ncols; c++) {
        fm_buf k;
        fm_buf_init(&k);
        fm_buf_putc(&k, c ? ',' : '{');
        fm_json_string(&k, e->names[c], strlen(e->names[c]));
        fm_buf_putc(&k, ':');
        e->keys[c] = fm_buf_steal(&k);
    }
    return 0;
}

int fm_enc_ndjson_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err) {
    idx_t rows = duckdb_data_chunk_get_size(chunk);
    duckdb_vector vecs[e->ncols ? e->ncols : 1];
    for (idx_t c = 0; c < e->ncols; c++) vecs[c] = duckdb_data_chunk_get_vector(chunk, c);
    for (idx_t r = 0; r < rows; r++) {
        if (!e->ncols) fm_buf_putc(out, '{');
        for (idx_t c = 0; c < e->ncols; c++) {
            fm_buf_puts(out, e->keys[c]);
            const fm_tnode *t = &e->types[c];
            if (t->id == DUCKDB_TYPE_SQLNULL || !fm_enc_is_valid(vecs[c], r)) fm_buf_puts(out, "null");
            else fm_enc_json_value(out, &e->scratch, t, vecs[c], r);
        }
        fm_buf_puts(out, "}\n");
    }
    return 0;
}
