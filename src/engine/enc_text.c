/* Values as the two text formats print them, read straight from DuckDB's vectors. Exactness
 * matters more than speed here: HUGEINT and DECIMAL are printed from their integers (never via a
 * double), doubles in the shortest form that reads back to the same bits, and dates, times and
 * intervals the way DuckDB's own VARCHAR cast prints them (the unit tests compare against it), so
 * a value reads the same in every client. Nested values become JSON. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/enc_internal.h"
#include "base/json_out.h"
#include "base/xalloc.h"

typedef unsigned __int128 fm_u128;

static char *dup_duck(char *s) {
    char *r = fm_xstrdup(s ? s : "");
    if (s) duckdb_free(s);
    return r;
}

static const char *type_name(duckdb_type id) {
    switch (id) {
    case DUCKDB_TYPE_BIGNUM: return "BIGNUM";
    case DUCKDB_TYPE_ANY: return "ANY";
    case DUCKDB_TYPE_STRING_LITERAL: return "STRING_LITERAL";
    case DUCKDB_TYPE_INTEGER_LITERAL: return "INTEGER_LITERAL";
    default: return "INVALID";
    }
}

int fm_tnode_build(fm_tnode *t, duckdb_logical_type lt, const char *col, const char *fmt, fm_err *err) {
    memset(t, 0, sizeof *t);
    t->id = duckdb_get_type_id(lt);
    switch (t->id) {
    case DUCKDB_TYPE_BOOLEAN:
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
    case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT:
    case DUCKDB_TYPE_UHUGEINT:
    case DUCKDB_TYPE_FLOAT:
    case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT:
    case DUCKDB_TYPE_DATE:
    case DUCKDB_TYPE_TIME:
    case DUCKDB_TYPE_TIME_NS:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_INTERVAL:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_SQLNULL: return 0;
    case DUCKDB_TYPE_DECIMAL:
        t->scale = duckdb_decimal_scale(lt);
        t->phys = duckdb_decimal_internal_type(lt);
        return 0;
    case DUCKDB_TYPE_ENUM:
        t->phys = duckdb_enum_internal_type(lt);
        t->enum_n = duckdb_enum_dictionary_size(lt);
        t->enum_vals = fm_xcalloc(t->enum_n + 1, sizeof *t->enum_vals);
        t->enum_lens = fm_xcalloc(t->enum_n + 1, sizeof *t->enum_lens);
        for (idx_t i = 0; i < t->enum_n; i++) {
            t->enum_vals[i] = dup_duck(duckdb_enum_dictionary_value(lt, i));
            t->enum_lens[i] = strlen(t->enum_vals[i]);
        }
        return 0;
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_ARRAY:
    case DUCKDB_TYPE_MAP: {
        t->nchild = t->id == DUCKDB_TYPE_MAP ? 2 : 1;
        t->child = fm_xcalloc(t->nchild, sizeof *t->child);
        duckdb_logical_type c[2];
        if (t->id == DUCKDB_TYPE_MAP) {
            c[0] = duckdb_map_type_key_type(lt);
            c[1] = duckdb_map_type_value_type(lt);
        } else if (t->id == DUCKDB_TYPE_LIST) {
            c[0] = duckdb_list_type_child_type(lt);
        } else {
            c[0] = duckdb_array_type_child_type(lt);
            t->array_size = duckdb_array_type_array_size(lt);
        }
        int rc = 0;
        for (idx_t i = 0; i < t->nchild; i++) {
            if (!rc) rc = fm_tnode_build(&t->child[i], c[i], col, fmt, err);
            duckdb_destroy_logical_type(&c[i]);
        }
        return rc;
    }
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_UNION: {
        int is_struct = t->id == DUCKDB_TYPE_STRUCT;
        t->nchild = is_struct ? duckdb_struct_type_child_count(lt) : duckdb_union_type_member_count(lt);
        t->child = fm_xcalloc(t->nchild + 1, sizeof *t->child);
        t->child_names = fm_xcalloc(t->nchild + 1, sizeof *t->child_names);
        for (idx_t i = 0; i < t->nchild; i++) {
            t->child_names[i] = dup_duck(is_struct ? duckdb_struct_type_child_name(lt, i)
                                                   : duckdb_union_type_member_name(lt, i));
            duckdb_logical_type c =
                is_struct ? duckdb_struct_type_child_type(lt, i) : duckdb_union_type_member_type(lt, i);
            int rc = fm_tnode_build(&t->child[i], c, col, fmt, err);
            duckdb_destroy_logical_type(&c);
            if (rc) return rc;
        }
        return 0;
    }
    default:
        return fm_fail(err, FM_E_INVALID, "column \"%.200s\" has type %s, which the %s format cannot encode", col,
                       type_name(t->id), fmt);
    }
}

void fm_tnode_free(fm_tnode *t) {
    if (!t) return;
    for (idx_t i = 0; i < t->enum_n && t->enum_vals; i++) free(t->enum_vals[i]);
    free(t->enum_vals);
    free(t->enum_lens);
    for (idx_t i = 0; i < t->nchild && t->child; i++) {
        fm_tnode_free(&t->child[i]);
        if (t->child_names) free(t->child_names[i]);
    }
    free(t->child);
    free(t->child_names);
    memset(t, 0, sizeof *t);
}

/* ---- numbers ---- */

static void put_u128(fm_buf *b, fm_u128 v) {
    char tmp[48];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    fm_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

static void put_i128(fm_buf *b, fm_u128 bits) {
    if (bits >> 127) { /* negative: two's complement magnitude, correct for the minimum too */
        fm_buf_putc(b, '-');
        put_u128(b, ~bits + 1);
    } else {
        put_u128(b, bits);
    }
}

static fm_u128 hugeint_bits(const duckdb_hugeint *h) { return ((fm_u128)(uint64_t)h->upper << 64) | h->lower; }

/* an integer with `scale` digits after the point: exact, unlike duckdb_decimal_to_double */
static void put_decimal(fm_buf *b, fm_u128 bits, unsigned scale) {
    fm_u128 mag = bits;
    if (bits >> 127) {
        fm_buf_putc(b, '-');
        mag = ~bits + 1;
    }
    char tmp[64];
    int i = sizeof tmp, digits = 0;
    do {
        tmp[--i] = (char)('0' + (int)(mag % 10));
        mag /= 10;
        digits++;
    } while (mag || digits <= (int)scale);
    size_t n = sizeof tmp - (size_t)i;
    fm_buf_append(b, tmp + i, n - scale);
    if (scale) {
        fm_buf_putc(b, '.');
        fm_buf_append(b, tmp + i + (n - scale), scale);
    }
}

/* returns 1 for a JSON number, 0 for the NaN/Infinity words */
static int put_double(fm_buf *b, double d, int is_float) {
    if (isnan(d)) return fm_buf_puts(b, "NaN"), 0;
    if (isinf(d)) return fm_buf_puts(b, d > 0 ? "Infinity" : "-Infinity"), 0;
    char tmp[40];
    for (int prec = is_float ? 6 : 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (is_float ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d) break;
    }
    fm_buf_puts(b, tmp);
    return 1;
}

/* ---- dates and times, as DuckDB prints them ---- */

static int64_t floordiv(int64_t a, int64_t b, int64_t *rem) {
    int64_t q = a / b, r = a % b;
    if (r < 0) r += b, q--;
    *rem = r;
    return q;
}

/* v zero-padded to at least `width` digits (dates and times are most of a timestamp column's
 * cost when they go through printf) */
static void put_padded(fm_buf *b, uint64_t v, int width) {
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v || (int)sizeof tmp - i < width);
    fm_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

static void put_hms(fm_buf *b, uint64_t secs) {
    put_padded(b, secs / 3600, 2);
    fm_buf_putc(b, ':');
    put_padded(b, secs / 60 % 60, 2);
    fm_buf_putc(b, ':');
    put_padded(b, secs % 60, 2);
}

static void put_date(fm_buf *b, int32_t days, int *bc) {
    duckdb_date_struct d = duckdb_from_date((duckdb_date){days});
    int32_t y = d.year;
    *bc = y <= 0;
    if (*bc) y = 1 - y;
    put_padded(b, (uint64_t)y, 4);
    fm_buf_putc(b, '-');
    put_padded(b, (uint64_t)d.month, 2);
    fm_buf_putc(b, '-');
    put_padded(b, (uint64_t)d.day, 2);
}

/* fraction digits with trailing zeros dropped, as DuckDB does */
static void put_frac(fm_buf *b, int64_t frac, int width) {
    if (!frac) return;
    char tmp[16];
    for (int k = width - 1; k >= 0; k--, frac /= 10) tmp[k] = (char)('0' + frac % 10);
    int n = width;
    while (n > 0 && tmp[n - 1] == '0') n--;
    fm_buf_putc(b, '.');
    fm_buf_append(b, tmp, (size_t)n);
}

/* time of day from a sub-second count (units per second = 10^width) */
static void put_tod(fm_buf *b, int64_t t, int width) {
    int64_t per_sec = width == 9 ? 1000000000 : 1000000;
    int64_t frac = t % per_sec, secs = t / per_sec;
    put_hms(b, (uint64_t)secs);
    put_frac(b, frac, width);
}

static void put_timestamp(fm_buf *b, int64_t v, int64_t per_sec, int tz) {
    if (v == INT64_MAX) return fm_buf_puts(b, "infinity");
    if (v == -INT64_MAX) return fm_buf_puts(b, "-infinity");
    int64_t rem;
    int64_t days = floordiv(v, per_sec * 86400, &rem);
    int bc;
    put_date(b, (int32_t)days, &bc);
    fm_buf_putc(b, ' ');
    if (per_sec == 1) put_tod(b, rem * 1000000, 6);
    else if (per_sec == 1000) put_tod(b, rem * 1000, 6);
    else put_tod(b, rem, per_sec == 1000000 ? 6 : 9);
    if (bc) fm_buf_puts(b, " (BC)");
    if (tz) fm_buf_puts(b, "+00");
}

static void interval_part(fm_buf *b, int64_t v, const char *unit) {
    if (!v) return;
    if (b->len) fm_buf_putc(b, ' ');
    fm_buf_printf(b, "%" PRId64 " %s%s", v, unit, v == 1 || v == -1 ? "" : "s");
}

/* DuckDB's Interval::ToString; written to its own buffer first because it decides on separators
 * from what it has written so far */
static void put_interval(fm_buf *out, fm_buf *tmp, const duckdb_interval *iv) {
    fm_buf_reset(tmp);
    int32_t years = iv->months / 12, months = iv->months % 12;
    interval_part(tmp, years, "year");
    interval_part(tmp, months, "month");
    interval_part(tmp, iv->days, "day");
    if (iv->micros) {
        if (tmp->len) fm_buf_putc(tmp, ' ');
        uint64_t m = (uint64_t)iv->micros;
        if (iv->micros < 0) {
            fm_buf_putc(tmp, '-');
            m = ~m + 1;
        }
        uint64_t secs = m / 1000000;
        put_hms(tmp, secs);
        put_frac(tmp, (int64_t)(m % 1000000), 6);
    } else if (!tmp->len) {
        fm_buf_puts(tmp, "00:00:00");
    }
    fm_buf_append(out, tmp->data, tmp->len);
}

static void put_time_tz(fm_buf *b, uint64_t bits) {
    duckdb_time_tz_struct s = duckdb_from_time_tz((duckdb_time_tz){bits});
    int64_t micros = ((int64_t)s.time.hour * 3600 + s.time.min * 60 + s.time.sec) * 1000000 + s.time.micros;
    put_tod(b, micros, 6);
    int32_t off = s.offset;
    fm_buf_putc(b, off < 0 ? '-' : '+');
    if (off < 0) off = -off;
    fm_buf_printf(b, "%02d", (int)(off / 3600));
    if (off % 3600) {
        fm_buf_printf(b, ":%02d", (int)(off / 60 % 60));
        if (off % 60) fm_buf_printf(b, ":%02d", (int)(off % 60));
    }
}

static void put_uuid(fm_buf *b, const duckdb_hugeint *h) {
    /* DuckDB flips the top bit so that UUIDs sort as unsigned */
    uint64_t hi = (uint64_t)h->upper ^ (UINT64_C(1) << 63), lo = h->lower;
    fm_buf_printf(b, "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
                  (hi >> 16) & 0xffff, hi & 0xffff, lo >> 48, lo & UINT64_C(0xffffffffffff));
}

static void put_base64(fm_buf *b, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fm_buf_reserve(b, (n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63], i + 1 < n ? tab[v >> 6 & 63] : '=',
                     i + 2 < n ? tab[v & 63] : '='};
        fm_buf_append(b, q, 4);
    }
}

static void put_bits(fm_buf *b, const unsigned char *p, size_t n) {
    if (n < 1) return;
    unsigned pad = p[0];
    for (size_t i = 1; i < n; i++)
        for (int bit = 7; bit >= 0; bit--) {
            if (i == 1 && (unsigned)(7 - bit) < pad) continue;
            fm_buf_putc(b, (p[i] >> bit) & 1 ? '1' : '0');
        }
}

static uint64_t enum_index(const fm_tnode *t, const void *data, idx_t row) {
    switch (t->phys) {
    case DUCKDB_TYPE_UTINYINT: return ((const uint8_t *)data)[row];
    case DUCKDB_TYPE_USMALLINT: return ((const uint16_t *)data)[row];
    default: return ((const uint32_t *)data)[row];
    }
}

/* a string-valued scalar without copying: VARCHAR and ENUM */
static const char *direct_string(const fm_tnode *t, duckdb_vector vec, idx_t row, size_t *len) {
    void *data = duckdb_vector_get_data(vec);
    if (t->id == DUCKDB_TYPE_VARCHAR) return fm_enc_str((duckdb_string_t *)data + row, len);
    if (t->id == DUCKDB_TYPE_ENUM) {
        uint64_t i = enum_index(t, data, row);
        if (i >= t->enum_n) return *len = 0, "";
        *len = t->enum_lens[i];
        return t->enum_vals[i];
    }
    return NULL;
}

static int is_nested(duckdb_type id) {
    return id == DUCKDB_TYPE_LIST || id == DUCKDB_TYPE_ARRAY || id == DUCKDB_TYPE_MAP || id == DUCKDB_TYPE_STRUCT ||
           id == DUCKDB_TYPE_UNION;
}

/* scalars only; see fm_enc_text for the return value */

/* integers without printf: they are most of a typical CSV/NDJSON stream, and vsnprintf was half
 * of its CPU time */
static void put_u64(fm_buf *b, uint64_t v) {
    char tmp[24];
    int i = (int)sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    fm_buf_append(b, tmp + i, sizeof tmp - (size_t)i);
}

static void put_i64(fm_buf *b, int64_t v) {
    if (v < 0) {
        fm_buf_putc(b, '-');
        put_u64(b, (uint64_t)0 - (uint64_t)v);
    } else {
        put_u64(b, (uint64_t)v);
    }
}

static int scalar(fm_buf *b, fm_buf *tmp, const fm_tnode *t, duckdb_vector vec, idx_t row) {
    void *data = duckdb_vector_get_data(vec);
    switch (t->id) {
    case DUCKDB_TYPE_BOOLEAN: fm_buf_puts(b, ((bool *)data)[row] ? "true" : "false"); return 1;
    case DUCKDB_TYPE_TINYINT: put_i64(b, ((int8_t *)data)[row]); return 1;
    case DUCKDB_TYPE_SMALLINT: put_i64(b, ((int16_t *)data)[row]); return 1;
    case DUCKDB_TYPE_INTEGER: put_i64(b, ((int32_t *)data)[row]); return 1;
    case DUCKDB_TYPE_BIGINT: put_i64(b, ((int64_t *)data)[row]); return 1;
    case DUCKDB_TYPE_UTINYINT: put_u64(b, ((uint8_t *)data)[row]); return 1;
    case DUCKDB_TYPE_USMALLINT: put_u64(b, ((uint16_t *)data)[row]); return 1;
    case DUCKDB_TYPE_UINTEGER: put_u64(b, ((uint32_t *)data)[row]); return 1;
    case DUCKDB_TYPE_UBIGINT: put_u64(b, ((uint64_t *)data)[row]); return 1;
    case DUCKDB_TYPE_HUGEINT: put_i128(b, hugeint_bits((duckdb_hugeint *)data + row)); return 1;
    case DUCKDB_TYPE_UHUGEINT: {
        duckdb_uhugeint *u = (duckdb_uhugeint *)data + row;
        put_u128(b, ((fm_u128)u->upper << 64) | u->lower);
        return 1;
    }
    case DUCKDB_TYPE_FLOAT: return put_double(b, ((float *)data)[row], 1);
    case DUCKDB_TYPE_DOUBLE: return put_double(b, ((double *)data)[row], 0);
    case DUCKDB_TYPE_DECIMAL: {
        fm_u128 bits;
        switch (t->phys) {
        case DUCKDB_TYPE_SMALLINT: bits = (fm_u128)(__int128)((int16_t *)data)[row]; break;
        case DUCKDB_TYPE_INTEGER: bits = (fm_u128)(__int128)((int32_t *)data)[row]; break;
        case DUCKDB_TYPE_BIGINT: bits = (fm_u128)(__int128)((int64_t *)data)[row]; break;
        default: bits = hugeint_bits((duckdb_hugeint *)data + row); break;
        }
        put_decimal(b, bits, t->scale);
        return 1;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM: {
        size_t n;
        const char *s = direct_string(t, vec, row, &n);
        fm_buf_append(b, s, n);
        return 0;
    }
    case DUCKDB_TYPE_BLOB:
    case DUCKDB_TYPE_BIT: {
        size_t n;
        const char *s = fm_enc_str((duckdb_string_t *)data + row, &n);
        if (t->id == DUCKDB_TYPE_BLOB) put_base64(b, (const unsigned char *)s, n);
        else put_bits(b, (const unsigned char *)s, n);
        return 0;
    }
    case DUCKDB_TYPE_DATE: {
        int32_t d = ((int32_t *)data)[row];
        if (d == INT32_MAX) fm_buf_puts(b, "infinity");
        else if (d == -INT32_MAX) fm_buf_puts(b, "-infinity");
        else {
            int bc;
            put_date(b, d, &bc);
            if (bc) fm_buf_puts(b, " (BC)");
        }
        return 0;
    }
    case DUCKDB_TYPE_TIME: put_tod(b, ((int64_t *)data)[row], 6); return 0;
    case DUCKDB_TYPE_TIME_NS: put_tod(b, ((int64_t *)data)[row], 9); return 0;
    case DUCKDB_TYPE_TIME_TZ: put_time_tz(b, ((uint64_t *)data)[row]); return 0;
    case DUCKDB_TYPE_TIMESTAMP: put_timestamp(b, ((int64_t *)data)[row], 1000000, 0); return 0;
    case DUCKDB_TYPE_TIMESTAMP_TZ: put_timestamp(b, ((int64_t *)data)[row], 1000000, 1); return 0;
    case DUCKDB_TYPE_TIMESTAMP_S: put_timestamp(b, ((int64_t *)data)[row], 1, 0); return 0;
    case DUCKDB_TYPE_TIMESTAMP_MS: put_timestamp(b, ((int64_t *)data)[row], 1000, 0); return 0;
    case DUCKDB_TYPE_TIMESTAMP_NS: put_timestamp(b, ((int64_t *)data)[row], 1000000000, 0); return 0;
    case DUCKDB_TYPE_INTERVAL: put_interval(b, tmp, (duckdb_interval *)data + row); return 0;
    case DUCKDB_TYPE_UUID: put_uuid(b, (duckdb_hugeint *)data + row); return 0;
    default: return 0; /* SQLNULL: every value is NULL, never reached */
    }
}

static void json_elem(fm_buf *out, fm_buf *scratch, const fm_tnode *t, duckdb_vector vec, idx_t row) {
    if (t->id == DUCKDB_TYPE_SQLNULL || !fm_enc_is_valid(vec, row)) fm_buf_puts(out, "null");
    else fm_enc_json_value(out, scratch, t, vec, row);
}

void fm_enc_json_value(fm_buf *out, fm_buf *scratch, const fm_tnode *t, duckdb_vector vec, idx_t row) {
    switch (t->id) {
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_MAP:
    case DUCKDB_TYPE_ARRAY: {
        idx_t off, len;
        duckdb_vector child;
        if (t->id == DUCKDB_TYPE_ARRAY) {
            off = row * t->array_size;
            len = t->array_size;
            child = duckdb_array_vector_get_child(vec);
        } else {
            duckdb_list_entry *le = (duckdb_list_entry *)duckdb_vector_get_data(vec) + row;
            off = le->offset;
            len = le->length;
            child = duckdb_list_vector_get_child(vec);
        }
        fm_buf_putc(out, '[');
        for (idx_t i = 0; i < len; i++) {
            if (i) fm_buf_putc(out, ',');
            if (t->id != DUCKDB_TYPE_MAP) {
                json_elem(out, scratch, &t->child[0], child, off + i);
                continue;
            }
            fm_buf_puts(out, "{\"key\":");
            json_elem(out, scratch, &t->child[0], duckdb_struct_vector_get_child(child, 0), off + i);
            fm_buf_puts(out, ",\"value\":");
            json_elem(out, scratch, &t->child[1], duckdb_struct_vector_get_child(child, 1), off + i);
            fm_buf_putc(out, '}');
        }
        fm_buf_putc(out, ']');
        return;
    }
    case DUCKDB_TYPE_STRUCT:
        fm_buf_putc(out, '{');
        for (idx_t i = 0; i < t->nchild; i++) {
            if (i) fm_buf_putc(out, ',');
            fm_json_string(out, t->child_names[i], strlen(t->child_names[i]));
            fm_buf_putc(out, ':');
            json_elem(out, scratch, &t->child[i], duckdb_struct_vector_get_child(vec, i), row);
        }
        fm_buf_putc(out, '}');
        return;
    case DUCKDB_TYPE_UNION: {
        /* physically a struct: the member tag, then one child per member */
        uint8_t tag = ((uint8_t *)duckdb_vector_get_data(duckdb_struct_vector_get_child(vec, 0)))[row];
        if (tag >= t->nchild) fm_buf_puts(out, "null");
        else json_elem(out, scratch, &t->child[tag], duckdb_struct_vector_get_child(vec, (idx_t)tag + 1), row);
        return;
    }
    case DUCKDB_TYPE_VARCHAR:
    case DUCKDB_TYPE_ENUM: {
        size_t n;
        const char *s = direct_string(t, vec, row, &n);
        fm_json_string(out, s, n);
        return;
    }
    default: {
        size_t at = out->len;
        if (!scalar(out, scratch, t, vec, row)) {
            /* move the text out of `out` into scratch and back, escaped */
            fm_buf_reset(scratch);
            fm_buf_append(scratch, out->data + at, out->len - at);
            out->len = at;
            out->data[at] = 0;
            fm_json_string(out, scratch->data, scratch->len);
        }
        return;
    }
    }
}

int fm_enc_text(fm_buf *out, fm_buf *scratch, const fm_tnode *t, duckdb_vector vec, idx_t row) {
    if (is_nested(t->id)) {
        fm_enc_json_value(out, scratch, t, vec, row);
        return 0;
    }
    return scalar(out, scratch, t, vec, row);
}
