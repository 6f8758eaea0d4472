/* Format names, content negotiation, and the encoder object that dispatches to one format.
 * Column names and types are copied out of the result at creation, so the encoder does not
 * depend on the result's metadata staying alive, and every type is checked before the first byte
 * (a refusal can still become a clean HTTP error rather than a cut stream). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "engine/enc_internal.h"
#include "engine/encoder.h"
#include "base/xalloc.h"


fm_encoder *fm_encoder_new(fm_format f, duckdb_result *result, fm_err *err) {
    fm_encoder *e = fm_xcalloc(1, sizeof *e);
    e->fmt = f;
    fm_buf_init(&e->scratch);
    fm_buf_init(&e->cell);
    e->ncols = duckdb_column_count(result);
    e->names = fm_xcalloc(e->ncols + 1, sizeof *e->names);
    for (idx_t i = 0; i < e->ncols; i++) {
        const char *n = duckdb_column_name(result, i);
        e->names[i] = fm_xstrdup(n ? n : "");
    }
    if (f == FM_FMT_ARROW) {
        if (fm_enc_arrow_new(e, result, err)) goto fail;
        return e;
    }
    e->types = fm_xcalloc(e->ncols + 1, sizeof *e->types);
    for (idx_t i = 0; i < e->ncols; i++) {
        duckdb_logical_type lt = duckdb_column_logical_type(result, i);
        int rc = fm_tnode_build(&e->types[i], lt, e->names[i], fm_format_name(f), err);
        duckdb_destroy_logical_type(&lt);
        if (rc) goto fail;
    }
    if (f == FM_FMT_NDJSON && fm_enc_ndjson_prepare(e, err)) goto fail;
    return e;
fail:
    fm_encoder_free(e);
    return NULL;
}

int fm_encoder_begin(fm_encoder *e, fm_buf *out, fm_err *err) {
    switch (e->fmt) {
    case FM_FMT_CSV: return fm_enc_csv_begin(e, out, err);
    case FM_FMT_NDJSON: return 0;
    case FM_FMT_ARROW: return fm_enc_arrow_begin(e, out, err);
    }
    return fm_fail(err, FM_E_INTERNAL, "unknown output format");
}

int fm_encoder_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err) {
    if ((idx_t)duckdb_data_chunk_get_column_count(chunk) != e->ncols)
        return fm_fail(err, FM_E_INTERNAL, "result chunk has %llu columns, expected %llu",
                       (unsigned long long)duckdb_data_chunk_get_column_count(chunk),
                       (unsigned long long)e->ncols);
    switch (e->fmt) {
    case FM_FMT_CSV: return fm_enc_csv_chunk(e, chunk, out, err);
    case FM_FMT_NDJSON: return fm_enc_ndjson_chunk(e, chunk, out, err);
    case FM_FMT_ARROW: return fm_enc_arrow_chunk(e, chunk, out, err);
    }
    return fm_fail(err, FM_E_INTERNAL, "unknown output format");
}

int fm_encoder_end(fm_encoder *e, fm_buf *out, fm_err *err) {
    if (e->fmt == FM_FMT_ARROW) return fm_enc_arrow_end(e, out, err);
    return 0;
}

void fm_encoder_free(fm_encoder *e) {
    if (!e) return;
    if (e->arrow) fm_enc_arrow_free(e);
    for (idx_t i = 0; i < e->ncols; i++) {
        if (e->names) free(e->names[i]);
        if (e->types) fm_tnode_free(&e->types[i]);
        if (e->keys) free(e->keys[i]);
    }
    free(e->names);
    free(e->types);
    free(e->keys);
    fm_buf_free(&e->scratch);
    fm_buf_free(&e->cell);
    free(e);
}
