/* Shared between the encoders (encoder.c dispatches to enc_csv.c, enc_ndjson.c, enc_arrow.c;
 * enc_text.c renders single values for the two text formats). A column's logical type is
 * resolved once into an fm_tnode tree when the encoder is created, so per-value work never calls
 * back into DuckDB's logical-type API (which allocates) and unsupported types are refused before
 * any byte is sent. */
#ifndef FM_ENC_INTERNAL_H
#define FM_ENC_INTERNAL_H
#include <duckdb.h>

#include "base/buf.h"
#include "engine/encoder.h"
#include "base/err.h"

typedef struct fm_tnode {
    duckdb_type id;
    duckdb_type phys; /* DECIMAL / ENUM: the storage integer type */
    uint8_t scale;    /* DECIMAL */
    char **enum_vals; /* ENUM dictionary (malloc'd) */
    size_t *enum_lens;
    idx_t enum_n;
    idx_t array_size;     /* ARRAY */
    idx_t nchild;         /* STRUCT/UNION members; LIST/ARRAY 1; MAP 2 (key, value) */
    struct fm_tnode *child;
    char **child_names; /* STRUCT/UNION member names */
} fm_tnode;

/* the text formats need the tree; Arrow does its own conversion */
int fm_tnode_build(fm_tnode *t, duckdb_logical_type lt, const char *col, const char *fmt, fm_err *err);
void fm_tnode_free(fm_tnode *t);

/* vector value at row (caller checked validity): a JSON value, nested types included */
void fm_enc_json_value(fm_buf *out, fm_buf *scratch, const fm_tnode *t, duckdb_vector vec, idx_t row);
/* a scalar's text as the text formats print it (nested types: their JSON). Returns 1 when the
 * text is a bare JSON token (number, true/false), 0 when JSON needs it quoted as a string. */
int fm_enc_text(fm_buf *out, fm_buf *scratch, const fm_tnode *t, duckdb_vector vec, idx_t row);

static inline const char *fm_enc_str(duckdb_string_t *s, size_t *len) {
    *len = s->value.inlined.length;
    return *len <= 12 ? s->value.inlined.inlined : s->value.pointer.ptr;
}

static inline int fm_enc_is_valid(duckdb_vector vec, idx_t row) {
    uint64_t *v = duckdb_vector_get_validity(vec);
    return !v || (v[row / 64] >> (row % 64)) & 1;
}

struct fm_encoder {
    fm_format fmt;
    idx_t ncols;
    char **names;
    fm_tnode *types; /* CSV / NDJSON */
    char **keys;     /* NDJSON: the escaped "name": prefix of each column */
    fm_buf scratch; /* a leaf value's text before JSON escaping */
    fm_buf cell;    /* CSV: one field's text before quoting */
    void *arrow; /* enc_arrow.c state */
};

int fm_enc_csv_begin(fm_encoder *e, fm_buf *out, fm_err *err);
int fm_enc_csv_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err);
int fm_enc_ndjson_prepare(fm_encoder *e, fm_err *err);
int fm_enc_ndjson_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err);

int fm_enc_arrow_new(fm_encoder *e, duckdb_result *result, fm_err *err);
int fm_enc_arrow_begin(fm_encoder *e, fm_buf *out, fm_err *err);
int fm_enc_arrow_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err);
int fm_enc_arrow_end(fm_encoder *e, fm_buf *out, fm_err *err);
void fm_enc_arrow_free(fm_encoder *e);
#endif
