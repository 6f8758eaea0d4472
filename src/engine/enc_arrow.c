/* Arrow IPC stream: DuckDB converts schema and chunks to the Arrow C data interface (with the
 * result's arrow options, so types match what DuckDB's own Arrow export gives), and nanoarrow's
 * IPC writer frames them, writing through an output stream that appends to the caller's fm_buf.
 *
 * nanoarrow 0.9 can declare dictionary-encoded fields in the schema message but cannot write
 * dictionary batches, and refuses record batches whose arrays carry a dictionary. DuckDB turns
 * ENUM into exactly that, so this file writes the DictionaryBatch messages itself (flatcc, the
 * same generated Arrow flatbuffers nanoarrow uses) and hands nanoarrow the record batch with the
 * dictionaries detached, i.e. just the index arrays. A dictionary is sent before the first batch
 * and again (as a replacement, which the stream format allows) only when its bytes change. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/enc_internal.h"
#include "nanoarrow/nanoarrow.h"
#include "nanoarrow/nanoarrow_ipc.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#include "flatcc/flatcc_builder.h"
#include "nanoarrow/ipc/flatcc_generated.h"
#include "base/xalloc.h"
#pragma GCC diagnostic pop

#define ns(x) FLATBUFFERS_WRAP_NAMESPACE(org_apache_arrow_flatbuf, x)

#define MAX_DEPTH 64

typedef struct {
    int64_t id;
    int depth;
    int path[MAX_DEPTH]; /* child indices from the top-level struct down to the encoded field */
    const struct ArrowSchema *values; /* the dictionary's value schema */
    fm_buf last; /* nodes + body of the dictionary last sent, to skip resending */
    int sent;
} dict_info;

typedef struct {
    duckdb_arrow_options opts;
    duckdb_logical_type *types;
    struct ArrowSchema schema;
    struct ArrowIpcWriter writer;
    int have_writer;
    struct ArrowArrayView view; /* of a record batch, with the dictionaries detached */
    int have_view;
    fm_buf *target; /* where the output stream appends during one call */
    dict_info *dicts;
    size_t ndicts;
    fm_buf body, nodes, bufs;
} arrow_state;

static ArrowErrorCode stream_write(struct ArrowIpcOutputStream *s, const void *buf, int64_t n, int64_t *written,
                                   struct ArrowError *error) {
    arrow_state *st = s->private_data;
    fm_buf_append(st->target, buf, (size_t)n);
    *written = n;
    return NANOARROW_OK;
}

static void stream_release(struct ArrowIpcOutputStream *s) { s->release = NULL; }

static int duck_error(duckdb_error_data ed, const char *what, fm_err *err) {
    if (!ed) return 0;
    int rc = 0;
    if (duckdb_error_data_has_error(ed)) {
        const char *m = duckdb_error_data_message(ed);
        rc = fm_fail(err, FM_E_INTERNAL, "%s: %s", what, m ? m : "unknown error");
    }
    duckdb_destroy_error_data(&ed);
    return rc;
}

static int arrow_error(int code, const struct ArrowError *ae, const char *what, fm_err *err) {
    return fm_fail(err, FM_E_INTERNAL, "%s: %s (%d)", what, ae->message[0] ? ae->message : "error", code);
}

int fm_enc_arrow_new(fm_encoder *e, duckdb_result *result, fm_err *err) {
    arrow_state *st = fm_xcalloc(1, sizeof *st);
    e->arrow = st;
    fm_buf_init(&st->body);
    fm_buf_init(&st->nodes);
    fm_buf_init(&st->bufs);
    st->opts = duckdb_result_get_arrow_options(result);
    if (!st->opts) return fm_fail(err, FM_E_INTERNAL, "the result has no Arrow options");
    st->types = fm_xcalloc(e->ncols + 1, sizeof *st->types);
    for (idx_t i = 0; i < e->ncols; i++) st->types[i] = duckdb_column_logical_type(result, i);
    return 0;
}

/* the order nanoarrow numbers dictionaries in (ArrowIpcDictionaryEncodingsAppendSchema):
 * pre-order, a field's own dictionary before its children */
static int collect_dicts(arrow_state *st, const struct ArrowSchema *s, int *path, int depth, fm_err *err) {
    if (s->dictionary) {
        if (s->dictionary->dictionary || s->dictionary->n_children)
            return fm_fail(err, FM_E_INVALID, "Arrow output cannot encode a nested dictionary (field \"%.200s\")",
                           s->name ? s->name : "");
        st->dicts = fm_xreallocarray(st->dicts, st->ndicts + 1, sizeof *st->dicts);
        dict_info *d = &st->dicts[st->ndicts];
        memset(d, 0, sizeof *d);
        d->id = (int64_t)st->ndicts++;
        d->depth = depth;
        memcpy(d->path, path, (size_t)depth * sizeof *path);
        d->values = s->dictionary;
        fm_buf_init(&d->last);
    }
    for (int64_t i = 0; i < s->n_children; i++) {
        if (depth >= MAX_DEPTH) return fm_fail(err, FM_E_INVALID, "Arrow output: type nesting is too deep");
        path[depth] = (int)i;
        if (collect_dicts(st, s->children[i], path, depth + 1, err)) return -1;
    }
    return 0;
}

/* nanoarrow would refuse the views' dictionaries; the batch carries only the indices */
static void detach_view_dicts(struct ArrowArrayView *v) {
    if (v->dictionary) {
        ArrowArrayViewReset(v->dictionary);
        ArrowFree(v->dictionary);
        v->dictionary = NULL;
    }
    for (int64_t i = 0; i < v->n_children; i++) detach_view_dicts(v->children[i]);
}

int fm_enc_arrow_begin(fm_encoder *e, fm_buf *out, fm_err *err) {
    arrow_state *st = e->arrow;
    if (duck_error(duckdb_to_arrow_schema(st->opts, st->types, (const char **)e->names, e->ncols, &st->schema),
                   "converting the result schema to Arrow", err))
        return -1;
    if (!st->schema.release) return fm_fail(err, FM_E_INTERNAL, "DuckDB returned no Arrow schema");
    int path[MAX_DEPTH];
    if (collect_dicts(st, &st->schema, path, 0, err)) return -1;

    struct ArrowError ae = {{0}};
    int rc = ArrowArrayViewInitFromSchema(&st->view, &st->schema, &ae);
    if (rc) return arrow_error(rc, &ae, "Arrow schema", err);
    st->have_view = 1;
    detach_view_dicts(&st->view);

    struct ArrowIpcOutputStream os = {stream_write, stream_release, st};
    rc = ArrowIpcWriterInit(&st->writer, &os);
    if (rc) return arrow_error(rc, &ae, "Arrow IPC writer", err);
    st->have_writer = 1;
    st->target = out;
    rc = ArrowIpcWriterWriteSchema(&st->writer, &st->schema, &ae);
    if (rc) return arrow_error(rc, &ae, "writing the Arrow schema", err);
    return 0;
}

/* a RecordBatch's nodes and buffers for one array and its descendants, bodies 8-byte aligned */
static int encode_array(arrow_state *st, const struct ArrowArrayView *v, fm_err *err) {
    if (v->offset) return fm_fail(err, FM_E_INTERNAL, "Arrow dictionary with a non-zero offset");
    int64_t nulls = v->null_count;
    if (nulls < 0) nulls = ArrowArrayViewComputeNullCount(v);
    struct ns(FieldNode) node = {v->length, nulls};
    fm_buf_append(&st->nodes, &node, sizeof node);
    static const char zeros[8];
    for (int64_t b = 0; b < v->array->n_buffers; b++) {
        struct ArrowBufferView bv = v->buffer_views[b];
        struct ns(Buffer) buf = {(int64_t)st->body.len, bv.size_bytes};
        fm_buf_append(&st->bufs, &buf, sizeof buf);
        if (bv.size_bytes > 0) fm_buf_append(&st->body, bv.data.data, (size_t)bv.size_bytes);
        fm_buf_append(&st->body, zeros, (8 - st->body.len % 8) % 8);
    }
    for (int64_t c = 0; c < v->n_children; c++)
        if (encode_array(st, v->children[c], err)) return -1;
    return 0;
}

static int write_dictionary(arrow_state *st, dict_info *d, const struct ArrowArray *dict, fm_buf *out, fm_err *err) {
    struct ArrowError ae = {{0}};
    struct ArrowArrayView v;
    int rc = ArrowArrayViewInitFromSchema(&v, d->values, &ae);
    if (!rc) rc = ArrowArrayViewSetArray(&v, dict, &ae);
    if (rc) {
        ArrowArrayViewReset(&v);
        return arrow_error(rc, &ae, "Arrow dictionary", err);
    }
    fm_buf_reset(&st->body);
    fm_buf_reset(&st->nodes);
    fm_buf_reset(&st->bufs);
    rc = encode_array(st, &v, err);
    int64_t length = v.length;
    ArrowArrayViewReset(&v);
    if (rc) return -1;
    /* same nodes and body bytes: the same dictionary, already known to the reader */
    if (d->sent && d->last.len == st->nodes.len + st->body.len &&
        !memcmp(d->last.data, st->nodes.data, st->nodes.len) &&
        !memcmp(d->last.data + st->nodes.len, st->body.data, st->body.len))
        return 0;

    flatcc_builder_t B;
    if (flatcc_builder_init(&B)) return fm_fail(err, FM_E_INTERNAL, "flatcc builder");
    int bad = ns(Message_start_as_root(&B)) || ns(Message_version_add(&B, ns(MetadataVersion_V5))) ||
              ns(Message_header_DictionaryBatch_start(&B)) || ns(DictionaryBatch_id_add(&B, d->id)) ||
              ns(DictionaryBatch_data_start(&B)) || ns(RecordBatch_length_add(&B, length)) ||
              ns(RecordBatch_nodes_create(&B, (struct ns(FieldNode) *)st->nodes.data,
                                           st->nodes.len / sizeof(struct ns(FieldNode)))) ||
              ns(RecordBatch_buffers_create(&B, (struct ns(Buffer) *)st->bufs.data,
                                             st->bufs.len / sizeof(struct ns(Buffer)))) ||
              ns(DictionaryBatch_data_end(&B)) || ns(DictionaryBatch_isDelta_add(&B, 0)) ||
              ns(Message_header_DictionaryBatch_end(&B)) || ns(Message_bodyLength_add(&B, (int64_t)st->body.len)) ||
              !ns(Message_end_as_root(&B));
    size_t size = bad ? 0 : flatcc_builder_get_buffer_size(&B);
    if (bad || !size) {
        flatcc_builder_clear(&B);
        return fm_fail(err, FM_E_INTERNAL, "encoding an Arrow dictionary batch");
    }
    /* encapsulated message: continuation marker, padded metadata size, metadata, body */
    size_t padded = (size + 7) / 8 * 8;
    int32_t head[2] = {-1, (int32_t)padded};
    fm_buf_append(out, head, sizeof head);
    fm_buf_reserve(out, padded);
    flatcc_builder_copy_buffer(&B, out->data + out->len, size);
    memset(out->data + out->len + size, 0, padded - size);
    out->len += padded;
    out->data[out->len] = 0;
    flatcc_builder_clear(&B);
    fm_buf_append(out, st->body.data, st->body.len);

    fm_buf_reset(&d->last);
    fm_buf_append(&d->last, st->nodes.data, st->nodes.len);
    fm_buf_append(&d->last, st->body.data, st->body.len);
    d->sent = 1;
    return 0;
}

static struct ArrowArray *node_at(struct ArrowArray *a, const dict_info *d) {
    for (int i = 0; i < d->depth; i++) {
        if (d->path[i] >= a->n_children) return NULL;
        a = a->children[d->path[i]];
    }
    return a;
}

int fm_enc_arrow_chunk(fm_encoder *e, duckdb_data_chunk chunk, fm_buf *out, fm_err *err) {
    arrow_state *st = e->arrow;
    if (!st->have_writer) return fm_fail(err, FM_E_INTERNAL, "Arrow encoder used before begin");
    struct ArrowArray arr;
    memset(&arr, 0, sizeof arr);
    if (duck_error(duckdb_data_chunk_to_arrow(st->opts, chunk, &arr), "converting a result chunk to Arrow", err)) {
        if (arr.release) arr.release(&arr);
        return -1;
    }
    if (!arr.release) return fm_fail(err, FM_E_INTERNAL, "DuckDB returned no Arrow array");
    int rc = 0;
    struct ArrowArray **saved = fm_xcalloc(st->ndicts + 1, sizeof *saved);
    for (size_t i = 0; i < st->ndicts && !rc; i++) {
        struct ArrowArray *n = node_at(&arr, &st->dicts[i]);
        if (!n || !n->dictionary) {
            rc = fm_fail(err, FM_E_INTERNAL, "Arrow chunk lacks the dictionary its schema declares");
            break;
        }
        rc = write_dictionary(st, &st->dicts[i], n->dictionary, out, err);
    }
    /* detach the dictionaries for nanoarrow, restore them before DuckDB's release */
    for (size_t i = 0; i < st->ndicts && !rc; i++) {
        struct ArrowArray *n = node_at(&arr, &st->dicts[i]);
        saved[i] = n->dictionary;
        n->dictionary = NULL;
    }
    if (!rc) {
        struct ArrowError ae = {{0}};
        int arc = ArrowArrayViewSetArray(&st->view, &arr, &ae);
        st->target = out;
        if (!arc) arc = ArrowIpcWriterWriteArrayView(&st->writer, &st->view, &ae);
        if (arc) rc = arrow_error(arc, &ae, "writing an Arrow record batch", err);
    }
    for (size_t i = 0; i < st->ndicts; i++)
        if (saved[i]) node_at(&arr, &st->dicts[i])->dictionary = saved[i];
    free(saved);
    arr.release(&arr);
    return rc;
}

int fm_enc_arrow_end(fm_encoder *e, fm_buf *out, fm_err *err) {
    arrow_state *st = e->arrow;
    if (!st->have_writer) return fm_fail(err, FM_E_INTERNAL, "Arrow encoder used before begin");
    struct ArrowError ae = {{0}};
    st->target = out;
    int rc = ArrowIpcWriterWriteArrayView(&st->writer, NULL, &ae);
    if (rc) return arrow_error(rc, &ae, "writing the Arrow end-of-stream marker", err);
    return 0;
}

void fm_enc_arrow_free(fm_encoder *e) {
    arrow_state *st = e->arrow;
    if (!st) return;
    if (st->have_writer) ArrowIpcWriterReset(&st->writer);
    if (st->have_view) ArrowArrayViewReset(&st->view);
    for (size_t i = 0; i < st->ndicts; i++) fm_buf_free(&st->dicts[i].last);
    free(st->dicts);
    if (st->schema.release) st->schema.release(&st->schema);
    for (idx_t i = 0; st->types && i < e->ncols; i++) duckdb_destroy_logical_type(&st->types[i]);
    free(st->types);
    if (st->opts) duckdb_destroy_arrow_options(&st->opts);
    fm_buf_free(&st->body);
    fm_buf_free(&st->nodes);
    fm_buf_free(&st->bufs);
    free(st);
    e->arrow = NULL;
}
