/* Encoders against a real in-memory DuckDB, run the way query_run.c runs them (a streaming
 * pending result, chunk by chunk). Exact output strings for CSV and NDJSON; temporal and exact
 * numeric text is also cross-checked against DuckDB's own VARCHAR cast. The Arrow stream is read
 * back with nanoarrow's IPC reader here, and by pyarrow in tests/integration/test_arrow_ipc.py
 * (which sets FM_ARROW_DUMP so that arrow_dump writes the bytes to a file). */
#include <stdlib.h>
#include <string.h>

#include "engine/encoder.h"
#include "engine/query_run.h"
#include "engine/sqlguard.h"
#include "nanoarrow/nanoarrow.h"
#include "nanoarrow/nanoarrow_ipc.h"
#include "unit.h"

typedef struct {
    duckdb_database db;
    duckdb_connection con;
} db_t;

static int db_open(db_t *d) {
    if (duckdb_open(NULL, &d->db) == DuckDBError) return -1;
    if (duckdb_connect(d->db, &d->con) == DuckDBError) return -1;
    duckdb_result r;
    /* the TIMESTAMPTZ contract is UTC; the cross-checks cast with this zone */
    if (duckdb_query(d->con, "SET TimeZone='UTC'", &r) == DuckDBError) fprintf(stderr, "  (no ICU: %s)\n", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return 0;
}

static void db_close(db_t *d) {
    duckdb_disconnect(&d->con);
    duckdb_close(&d->db);
}

static int exec(db_t *d, const char *sql) {
    duckdb_result r;
    int rc = duckdb_query(d->con, sql, &r) == DuckDBError ? -1 : 0;
    if (rc) fprintf(stderr, "  SQL failed: %s\n", duckdb_result_error(&r));
    duckdb_destroy_result(&r);
    return rc;
}

/* runs sql through an encoder the way query_run.c does; returns the bytes (malloc'd, NUL-ended)
 * or NULL with err set. *chunks counts the chunks passed to the encoder. */
static char *encode(db_t *d, fm_format f, const char *sql, size_t *len, int *chunks, fm_err *err) {
    fm_err_clear(err);
    duckdb_prepared_statement prep;
    if (duckdb_prepare(d->con, sql, &prep) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "prepare: %s", duckdb_prepare_error(prep));
        duckdb_destroy_prepare(&prep);
        return NULL;
    }
    duckdb_pending_result pending;
    duckdb_result res;
    if (duckdb_pending_prepared_streaming(prep, &pending) == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "pending: %s", duckdb_pending_error(pending));
        duckdb_destroy_pending(&pending);
        duckdb_destroy_prepare(&prep);
        return NULL;
    }
    duckdb_state st = duckdb_execute_pending(pending, &res);
    duckdb_destroy_pending(&pending);
    duckdb_destroy_prepare(&prep);
    if (st == DuckDBError) {
        fm_fail(err, FM_E_INVALID, "execute: %s", duckdb_result_error(&res));
        duckdb_destroy_result(&res);
        return NULL;
    }
    fm_buf out;
    fm_buf_init(&out);
    int n = 0, failed = 0;
    fm_encoder *e = fm_encoder_new(f, &res, err);
    if (!e || fm_encoder_begin(e, &out, err)) failed = 1;
    while (!failed) {
        duckdb_data_chunk c = duckdb_fetch_chunk(res);
        if (!c) break;
        n++;
        if (fm_encoder_chunk(e, c, &out, err)) failed = 1;
        duckdb_destroy_data_chunk(&c);
    }
    if (!failed && fm_encoder_end(e, &out, err)) failed = 1;
    fm_encoder_free(e);
    duckdb_destroy_result(&res);
    if (chunks) *chunks = n;
    if (len) *len = out.len;
    if (failed) {
        fm_buf_free(&out);
        return NULL;
    }
    if (!out.data) fm_buf_puts(&out, "");
    return fm_buf_steal(&out);
}

static char *text(db_t *d, fm_format f, const char *sql) {
    fm_err e;
    char *s = encode(d, f, sql, NULL, NULL, &e);
    if (!s) fprintf(stderr, "  encode failed: %s\n", e.msg);
    return s;
}

#define CHECK_ENC(d, f, sql, want)                                                                           \
    do {                                                                                                     \
        char *got_ = text(d, f, sql);                                                                        \
        CHECK_STR(got_, want);                                                                               \
        free(got_);                                                                                          \
    } while (0)

FM_TEST(format_names) {
    fm_format f = FM_FMT_ARROW;
    CHECK(fm_format_parse("csv", &f) == 0 && f == FM_FMT_CSV);
    CHECK(fm_format_parse("ndjson", &f) == 0 && f == FM_FMT_NDJSON);
    CHECK(fm_format_parse("json", &f) == 0 && f == FM_FMT_NDJSON);
    CHECK(fm_format_parse("arrow", &f) == 0 && f == FM_FMT_ARROW);
    CHECK(fm_format_parse("CSV", &f) == -1);
    CHECK(fm_format_parse("xml", &f) == -1);
    CHECK(fm_format_parse("", &f) == -1);
    CHECK(fm_format_parse(NULL, &f) == -1);
    CHECK_STR(fm_format_name(FM_FMT_CSV), "csv");
    CHECK_STR(fm_format_name(FM_FMT_NDJSON), "ndjson");
    CHECK_STR(fm_format_name(FM_FMT_ARROW), "arrow");
    CHECK(!strncmp(fm_format_content_type(FM_FMT_CSV), "text/csv", 8));
    CHECK_STR(fm_format_content_type(FM_FMT_NDJSON), "application/x-ndjson");
    CHECK_STR(fm_format_content_type(FM_FMT_ARROW), "application/vnd.apache.arrow.stream");
}

FM_TEST(format_accept) {
    fm_format f = FM_FMT_CSV;
    CHECK(fm_format_from_accept("application/x-ndjson", &f) == 0 && f == FM_FMT_NDJSON);
    CHECK(fm_format_from_accept("application/vnd.apache.arrow.stream", &f) == 0 && f == FM_FMT_ARROW);
    CHECK(fm_format_from_accept("text/csv", &f) == 0 && f == FM_FMT_CSV);
    CHECK(fm_format_from_accept("text/html, application/xml;q=0.9, Application/X-NDJSON;q=0.8, text/csv", &f) == 0 &&
          f == FM_FMT_NDJSON);
    CHECK(fm_format_from_accept("  text/csv ; charset=utf-8 ,application/x-ndjson", &f) == 0 && f == FM_FMT_CSV);
    CHECK(fm_format_from_accept("text/csv;q=0, application/vnd.apache.arrow.stream", &f) == 0 && f == FM_FMT_ARROW);
    f = FM_FMT_ARROW;
    CHECK(fm_format_from_accept("text/html, */*", &f) == -1 && f == FM_FMT_ARROW); /* untouched on failure */
    CHECK(fm_format_from_accept("", &f) == -1);
    CHECK(fm_format_from_accept("text/csvx", &f) == -1);
    CHECK(fm_format_from_accept(NULL, &f) == -1);
}

FM_TEST(csv_quoting) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK_ENC(&d, FM_FMT_CSV,
              "SELECT * FROM (VALUES (1, 'plain'), (2, 'a,b'), (3, 'say \"hi\"'), (4, 'line' || chr(10) || 'break'),"
              " (5, 'cr' || chr(13)), (6, ' lead'), (7, 'trail '), (8, ''), (9, NULL), (10, 'héllo ✓ 日本'),"
              " (11, 'bell' || chr(7) || 'tab' || chr(9)), (12, 'mid space'), (13, '\"')) t(\"id\", \"the, text\")"
              " ORDER BY 1",
              "id,\"the, text\"\r\n"
              "1,plain\r\n"
              "2,\"a,b\"\r\n"
              "3,\"say \"\"hi\"\"\"\r\n"
              "4,\"line\nbreak\"\r\n"
              "5,\"cr\r\"\r\n"
              "6,\" lead\"\r\n"
              "7,\"trail \"\r\n"
              "8,\"\"\r\n"
              "9,\r\n"
              "10,héllo ✓ 日本\r\n"
              "11,bell\atab\t\r\n"
              "12,mid space\r\n"
              "13,\"\"\"\"\r\n");
    /* header quoting and NULLs in every column */
    CHECK_ENC(&d, FM_FMT_CSV, "SELECT NULL::INT AS \"a\"\"b\", NULL::VARCHAR AS \" c\", NULL::DATE AS d",
              "\"a\"\"b\",\" c\",d\r\n,,\r\n");
    db_close(&d);
}

static const char *SCALARS =
    "SELECT (-128)::TINYINT AS ti, (-32768)::SMALLINT AS si, (-2147483648)::INTEGER AS i, (-9223372036854775807 - 1)::BIGINT AS bi,"
    " 255::UTINYINT AS uti, 65535::USMALLINT AS usi, 4294967295::UINTEGER AS ui, 18446744073709551615::UBIGINT AS ubi,"
    " '-170141183460469231731687303715884105728'::HUGEINT AS hmin, '170141183460469231731687303715884105727'::HUGEINT AS hmax,"
    " '340282366920938463463374607431768211455'::UHUGEINT AS uhmax,"
    " true AS t, false AS f, 0.1::DOUBLE AS d1, 1e300::DOUBLE * 10 AS d2, -2.5e-8::DOUBLE AS d3, 3::DOUBLE AS d4,"
    " 'NaN'::DOUBLE AS dnan, 'inf'::DOUBLE AS dinf, '-inf'::DOUBLE AS dninf, 0.1::FLOAT AS f1, 'NaN'::FLOAT AS fnan,"
    " 1.5::DECIMAL(4,1) AS dec4, -0.5::DECIMAL(4,1) AS dec4n, -123456789012345.678::DECIMAL(18,3) AS dec18,"
    " '-1234567890123456789012345678.0123456789'::DECIMAL(38,10) AS dec38, 0::DECIMAL(38,10) AS dec0,"
    " '\\x00\\xFFab'::BLOB AS b, ''::BLOB AS be, DATE '2024-02-29' AS dt, TIME '01:02:03.5' AS tm, TIME '23:59:59' AS tm2,"
    " TIMESTAMP '2024-01-02 03:04:05.123456' AS ts, TIMESTAMP '1969-12-31 23:59:59.999999' AS tsneg,"
    " TIMESTAMPTZ '2024-01-02 03:04:05.5+02' AS tstz,"
    " '00000000-0000-0000-0000-000000000000'::UUID AS u0, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::UUID AS u1,"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u2,"
    " INTERVAL '1 year 2 months 3 days 04:05:06.789' AS iv, INTERVAL '-1 day' AS ivn, INTERVAL '0 seconds' AS iv0,"
    " 'x\"y\\z' || chr(10) || chr(1) AS s";

FM_TEST(ndjson_scalars) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK_ENC(&d, FM_FMT_NDJSON, SCALARS,
              "{\"ti\":-128,\"si\":-32768,\"i\":-2147483648,\"bi\":-9223372036854775808,"
              "\"uti\":255,\"usi\":65535,\"ui\":4294967295,\"ubi\":18446744073709551615,"
              "\"hmin\":-170141183460469231731687303715884105728,\"hmax\":170141183460469231731687303715884105727,"
              "\"uhmax\":340282366920938463463374607431768211455,"
              "\"t\":true,\"f\":false,\"d1\":0.1,\"d2\":1e+301,\"d3\":-2.5e-08,\"d4\":3,"
              "\"dnan\":\"NaN\",\"dinf\":\"Infinity\",\"dninf\":\"-Infinity\",\"f1\":0.1,\"fnan\":\"NaN\","
              "\"dec4\":1.5,\"dec4n\":-0.5,\"dec18\":-123456789012345.678,"
              "\"dec38\":-1234567890123456789012345678.0123456789,\"dec0\":0.0000000000,"
              "\"b\":\"AP9hYg==\",\"be\":\"\",\"dt\":\"2024-02-29\",\"tm\":\"01:02:03.5\",\"tm2\":\"23:59:59\","
              "\"ts\":\"2024-01-02 03:04:05.123456\",\"tsneg\":\"1969-12-31 23:59:59.999999\","
              "\"tstz\":\"2024-01-02 01:04:05.5+00\","
              "\"u0\":\"00000000-0000-0000-0000-000000000000\",\"u1\":\"ffffffff-ffff-ffff-ffff-ffffffffffff\","
              "\"u2\":\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\","
              "\"iv\":\"1 year 2 months 3 days 04:05:06.789\",\"ivn\":\"-1 day\",\"iv0\":\"00:00:00\","
              "\"s\":\"x\\\"y\\\\z\\n\\u0001\"}\n");
    db_close(&d);
}

FM_TEST(csv_scalars) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK_ENC(&d, FM_FMT_CSV,
              "SELECT 1.5::DECIMAL(4,1) AS a, 'NaN'::DOUBLE AS b, '-inf'::FLOAT AS c, '\\x00\\xFFab'::BLOB AS d,"
              " true AS e, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS f, INTERVAL '1 month' AS g,"
              " '170141183460469231731687303715884105727'::HUGEINT AS h, [1, 2] AS l,"
              " {'x': 'a,b', 'y': NULL} AS st, 1e21::DOUBLE AS big",
              "a,b,c,d,e,f,g,h,l,st,big\r\n"
              "1.5,NaN,-Infinity,AP9hYg==,true,2024-01-02 03:04:05+00,1 month,"
              "170141183460469231731687303715884105727,\"[1,2]\",\"{\"\"x\"\":\"\"a,b\"\",\"\"y\"\":null}\",1e+21\r\n");
    db_close(&d);
}

FM_TEST(ndjson_nested) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK(exec(&d, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy \"yay\"')") == 0);
    CHECK_ENC(&d, FM_FMT_NDJSON,
              "SELECT [1, NULL, 3] AS l, []::INT[] AS le, NULL::INT[] AS ln, [['a'], [], NULL] AS ll,"
              " {'a': 1, 'b': {'c': 'x', 'd': [true, NULL]}, 'e': NULL} AS st,"
              " MAP {'k1': 1, 'k2': NULL} AS m, MAP {}::MAP(VARCHAR, INT) AS me,"
              " [{'k': 1::DECIMAL(4,1)}, NULL] AS ls, 'happy \"yay\"'::mood AS en, NULL::mood AS enn,"
              " ['ok', 'sad']::mood[] AS enl, [1, 2, 3]::INT[3] AS arr, [DATE '2024-01-01'] AS ld",
              "{\"l\":[1,null,3],\"le\":[],\"ln\":null,\"ll\":[[\"a\"],[],null],"
              "\"st\":{\"a\":1,\"b\":{\"c\":\"x\",\"d\":[true,null]},\"e\":null},"
              "\"m\":[{\"key\":\"k1\",\"value\":1},{\"key\":\"k2\",\"value\":null}],\"me\":[],"
              "\"ls\":[{\"k\":1.0},null],\"en\":\"happy \\\"yay\\\"\",\"enn\":null,"
              "\"enl\":[\"ok\",\"sad\"],\"arr\":[1,2,3],\"ld\":[\"2024-01-01\"]}\n");
    /* duplicate names are kept; a NULL in every position */
    CHECK_ENC(&d, FM_FMT_NDJSON, "SELECT 1 AS x, 2 AS x, NULL AS n",
              "{\"x\":1,\"x\":2,\"n\":null}\n");
    db_close(&d);
}

/* the text forms equal DuckDB's own VARCHAR cast, for many values of each temporal type */
FM_TEST(text_matches_duckdb_cast) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK(exec(&d,
               "CREATE TABLE v AS SELECT"
               " DATE '1970-01-01' + (i * 7919 - 400000)::INT AS dt,"
               " make_time(0, 0, 0) + INTERVAL (i * 1234567891 % 86400000000) MICROSECONDS AS tm,"
               " TIMESTAMP '1970-01-01' + INTERVAL (i * 98765432109876 - 30000000000000000) MICROSECONDS AS ts,"
               " to_timestamp((i * 777777777 - 2000000000000)::DOUBLE / 1000)::TIMESTAMPTZ AS tstz,"
               " to_months(i % 50 - 25) + to_days(i % 9 - 4) + to_microseconds(i * 123456789 - 40000000000) AS iv,"
               " ((i * 12345 - 600000) / 7)::DECIMAL(9,3) AS dec,"
               " (((i - 50)::HUGEINT * 1234567890123456789012345678901)::VARCHAR || '.' || lpad((i * 37)::VARCHAR, 5, '0'))::DECIMAL(38,5) AS dec38,"
               " (i - 50)::HUGEINT * 1701411834604692317316873037158841057 AS h,"
               " gen_random_uuid() AS u"
               " FROM range(100) r(i)") == 0);
    CHECK(exec(&d, "INSERT INTO v VALUES ('infinity', '24:00:00', 'infinity', '-infinity', INTERVAL '0 days',"
                   " 0, 0, 0, NULL), ('0044-03-15 (BC)', '00:00:00', '-infinity', '2000-01-01', INTERVAL '-1 month -1 microsecond',"
                   " -0.001, -0.00001, -1, NULL)") == 0);
    const char *cols[] = {"dt", "tm", "ts", "tstz", "iv", "dec", "dec38", "h", "u"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        char a[200], b[200];
        snprintf(a, sizeof a, "SELECT %s AS c FROM v ORDER BY rowid", cols[i]);
        snprintf(b, sizeof b, "SELECT %s::VARCHAR AS c FROM v ORDER BY rowid", cols[i]);
        char *x = text(&d, FM_FMT_CSV, a), *y = text(&d, FM_FMT_CSV, b);
        CHECK(x && y);
        if (x && y && strcmp(x, y)) {
            fprintf(stderr, "  column %s differs from DuckDB's cast\n", cols[i]);
            for (char *p = x, *q = y; *p && *q;) {
                char *pe = strchr(p, '\n'), *qe = strchr(q, '\n');
                if (!pe || !qe) break;
                if (pe - p != qe - q || strncmp(p, q, (size_t)(pe - p))) {
                    fprintf(stderr, "    ours [%.*s] duckdb [%.*s]\n", (int)(pe - p), p, (int)(qe - q), q);
                    break;
                }
                p = pe + 1, q = qe + 1;
            }
            *fm_failed = 1;
        }
        free(x);
        free(y);
    }
    db_close(&d);
}

FM_TEST(multi_chunk_and_empty) {
    db_t d;
    CHECK(db_open(&d) == 0);
    fm_err e;
    size_t len;
    int chunks = 0;
    char *s = encode(&d, FM_FMT_CSV, "SELECT i, 'r' || i AS s FROM range(5000) t(i) ORDER BY i", &len, &chunks, &e);
    CHECK(s != NULL);
    CHECK(chunks >= 3);
    if (s) {
        size_t lines = 0;
        for (char *p = s; *p; p++) lines += *p == '\n';
        CHECK(lines == 5001);
        CHECK(!strncmp(s, "i,s\r\n0,r0\r\n1,r1\r\n", 17));
        CHECK(len > 20 && !strcmp(s + len - 14, "\r\n4999,r4999\r\n"));
        CHECK(strstr(s, "\r\n2047,r2047\r\n2048,r2048\r\n2049,r2049\r\n") != NULL);
    }
    free(s);
    s = encode(&d, FM_FMT_NDJSON, "SELECT i FROM range(4100) t(i)", &len, &chunks, &e);
    CHECK(s && chunks >= 3);
    if (s) {
        size_t lines = 0;
        for (char *p = s; *p; p++) lines += *p == '\n';
        CHECK(lines == 4100);
        CHECK(strstr(s, "{\"i\":2048}\n{\"i\":2049}\n") != NULL);
        CHECK(len > 12 && !strcmp(s + len - 11, "{\"i\":4099}\n"));
    }
    free(s);
    CHECK_ENC(&d, FM_FMT_CSV, "SELECT 1 AS a, 'x' AS b WHERE false", "a,b\r\n");
    CHECK_ENC(&d, FM_FMT_NDJSON, "SELECT 1 AS a WHERE false", "");
    db_close(&d);
}

FM_TEST(encoder_refuses_unsupported_type) {
    db_t d;
    CHECK(db_open(&d) == 0);
    fm_err e;
    char *s = encode(&d, FM_FMT_NDJSON, "SELECT 12345678901234567890123456789012345678901234567890::BIGNUM AS big", NULL,
                     NULL, &e);
    CHECK(s == NULL && e.code == FM_E_INVALID && strstr(e.msg, "\"big\"") && strstr(e.msg, "ndjson"));
    free(s);
    db_close(&d);
}

/* ---- Arrow ---- */

typedef struct {
    const char *data;
    size_t len, pos;
} mem_in;

static ArrowErrorCode mem_read(struct ArrowIpcInputStream *s, uint8_t *buf, int64_t n, int64_t *got,
                               struct ArrowError *error) {
    mem_in *m = s->private_data;
    size_t k = m->len - m->pos < (size_t)n ? m->len - m->pos : (size_t)n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    *got = (int64_t)k;
    return NANOARROW_OK;
}

static void mem_release(struct ArrowIpcInputStream *s) { s->release = NULL; }

/* reads an IPC stream back with nanoarrow: the schema's format string per column, the rows */
static int read_back(const char *data, size_t len, char formats[][16], int ncol, int64_t *rows, int *batches) {
    mem_in m = {data, len, 0};
    struct ArrowIpcInputStream in = {mem_read, mem_release, &m};
    struct ArrowArrayStream st;
    if (ArrowIpcArrayStreamReaderInit(&st, &in, NULL)) return -1;
    struct ArrowSchema sc;
    int rc = -1;
    if (st.get_schema(&st, &sc)) goto out;
    for (int i = 0; i < ncol && i < sc.n_children; i++) snprintf(formats[i], 16, "%s", sc.children[i]->format);
    sc.release(&sc);
    *rows = 0;
    *batches = 0;
    for (;;) {
        struct ArrowArray a;
        if (st.get_next(&st, &a)) {
            fprintf(stderr, "  read_back: %s\n", st.get_last_error(&st));
            goto out;
        }
        if (!a.release) break;
        *rows += a.length;
        (*batches)++;
        a.release(&a);
    }
    rc = 0;
out:
    st.release(&st);
    return rc;
}

FM_TEST(arrow_roundtrip_nanoarrow) {
    db_t d;
    CHECK(db_open(&d) == 0);
    fm_err e;
    size_t len;
    int chunks;
    char *s = encode(&d, FM_FMT_ARROW,
                     "SELECT i::INT AS i, (i / 8)::DECIMAL(18,3) AS dec, 'row ' || i AS s, [i, NULL] AS l,"
                     " {'a': i, 'b': NULL::VARCHAR} AS st, CASE WHEN i % 3 = 0 THEN NULL ELSE i * 0.5 END AS d,"
                     " DATE '2024-01-01' + i::INT AS dt FROM range(5000) t(i)",
                     &len, &chunks, &e);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  %s\n", e.msg);
    if (s) {
        /* the stream starts with an encapsulated message and ends with the EOS marker */
        CHECK(len > 16 && !memcmp(s, "\xff\xff\xff\xff", 4));
        CHECK(!memcmp(s + len - 8, "\xff\xff\xff\xff\0\0\0\0", 8));
        char f[7][16] = {{0}};
        int64_t rows = 0;
        int batches = 0;
        CHECK(read_back(s, len, f, 7, &rows, &batches) == 0);
        CHECK(rows == 5000);
        CHECK(batches == chunks && batches >= 3);
        CHECK_STR(f[0], "i");
        CHECK_STR(f[1], "d:18,3");
        CHECK_STR(f[2], "u");
        CHECK_STR(f[3], "+l");
        CHECK_STR(f[4], "+s");
        CHECK_STR(f[6], "tdD");
    }
    free(s);
    /* empty result: schema and end-of-stream only */
    s = encode(&d, FM_FMT_ARROW, "SELECT 1 AS a WHERE false", &len, &chunks, &e);
    CHECK(s != NULL);
    if (s) {
        char f[1][16] = {{0}};
        int64_t rows = -1;
        int batches = -1;
        CHECK(read_back(s, len, f, 1, &rows, &batches) == 0 && rows == 0 && batches == 0);
        CHECK_STR(f[0], "i");
    }
    free(s);
    db_close(&d);
}

/* the rich query tests/integration/test_arrow_ipc.py checks with pyarrow */
static const char *ARROW_RICH =
    "SELECT (i % 100)::TINYINT AS ti, i::SMALLINT AS si, i::INTEGER AS i, i::BIGINT * 1000000000000 AS bi,"
    " i::UBIGINT + 18446744073709540000 AS ubi, i::HUGEINT * 1000000000000000000000 AS hi,"
    " CASE WHEN i = 0 THEN 'NaN'::DOUBLE WHEN i = 1 THEN 'inf'::DOUBLE ELSE i / 4 END AS d, (i / 2)::FLOAT AS f,"
    " ((i - 1000) / 10)::DECIMAL(4,1) AS dec4, ((i - 1000) * 1000.125)::DECIMAL(18,3) AS dec18,"
    " ((i::HUGEINT - 1000) * 12345678901234567890123)::DECIMAL(38,10) AS dec38,"
    " i % 2 = 0 AS b, CASE WHEN i % 5 = 0 THEN NULL ELSE 'v' || i || ',\"' || chr(10) || '✓' END AS s,"
    " ('\\x00\\xFF' || i::VARCHAR)::BLOB AS bl, DATE '2024-01-01' + i::INT AS dt, TIME '01:02:03.5' AS tm,"
    " TIMESTAMP '2024-01-02 03:04:05.123456' + INTERVAL (i) SECOND AS ts, TIMESTAMPTZ '2024-01-02 03:04:05+00' AS tstz,"
    " 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u, INTERVAL '1 month 2 days 3 seconds' AS iv,"
    " [i, NULL, i + 1] AS l, {'a': i, 'b': {'c': 'x' || i}} AS st, MAP {'k': i} AS m,"
    " (['sad', 'ok', 'happy'])[i % 3 + 1]::mood AS en, NULL::INT AS n,"
    " [(['sad', 'ok', 'happy'])[i % 3 + 1]::mood, NULL] AS enl"
    " FROM range(3000) t(i) ORDER BY i";

FM_TEST(arrow_dump) {
    db_t d;
    CHECK(db_open(&d) == 0);
    CHECK(exec(&d, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')") == 0);
    fm_err e;
    size_t len;
    int chunks;
    char *s = encode(&d, FM_FMT_ARROW, ARROW_RICH, &len, &chunks, &e);
    CHECK(s != NULL);
    if (!s) fprintf(stderr, "  %s\n", e.msg);
    CHECK(chunks >= 2);
    const char *path = getenv("FM_ARROW_DUMP");
    if (s && path && *path) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            CHECK(fwrite(s, 1, len, f) == len);
            fclose(f);
        }
    }
    free(s);
    db_close(&d);
}

/* the server's path: fm_run_start fetches the first chunk early, fm_run_next the rest. An empty
 * result must end cleanly (a streaming result errors if fetched again after its end). */
static char *run_query(db_t *d, fm_format f, const char *sql, int *pieces, fm_err *err) {
    fm_sqlguard *g = fm_sqlguard_new();
    /* the in-memory database stands in for the lake */
    fm_authz *a = fm_authz_new("memory");
    if (fm_authz_snapshot_functions(a, d->con, err) || fm_authz_snapshot_catalogs(a, d->con, err)) abort();
    fm_sqlguard_set_authz(g, a, FM_SCOPE_ADMIN);
    fm_buf out;
    fm_buf_init(&out);
    fm_err_clear(err);
    fm_run *r = fm_run_start(d->con, g, sql, f, &out, err);
    int rc = r ? 1 : -1;
    *pieces = 0;
    while (rc == 1) {
        rc = fm_run_next(r, &out, err);
        (*pieces)++;
    }
    fm_run_free(r);
    fm_sqlguard_free(g);
    fm_authz_free(a);
    if (rc) {
        fm_buf_free(&out);
        return NULL;
    }
    if (!out.data) fm_buf_puts(&out, "");
    return fm_buf_steal(&out);
}

FM_TEST(query_run_streams_through_encoders) {
    db_t d;
    CHECK(db_open(&d) == 0);
    fm_err e;
    int pieces;
    char *s = run_query(&d, FM_FMT_CSV, "SELECT 1 AS a, 'x' AS b WHERE false", &pieces, &e);
    CHECK_STR(s, "a,b\r\n");
    if (!s) fprintf(stderr, "  %s\n", e.msg);
    free(s);
    s = run_query(&d, FM_FMT_NDJSON, "SELECT 1 AS a WHERE false", &pieces, &e);
    CHECK_STR(s, "");
    free(s);
    s = run_query(&d, FM_FMT_ARROW, "SELECT 1 AS a WHERE false", &pieces, &e);
    CHECK(s != NULL);
    free(s);
    s = run_query(&d, FM_FMT_NDJSON, "CREATE TABLE t AS SELECT range AS i FROM range(5000); SELECT i FROM t ORDER BY i",
                  &pieces, &e);
    CHECK(s != NULL && pieces >= 4);
    if (s) {
        CHECK(!strncmp(s, "{\"i\":0}\n{\"i\":1}\n", 16));
        CHECK(strstr(s, "{\"i\":4999}\n") != NULL);
    }
    free(s);
    /* a failure mid-stream is reported, not a silently short result */
    s = run_query(&d, FM_FMT_CSV, "SELECT CASE WHEN i < 4000 THEN i ELSE error('boom') END AS x FROM range(5000) t(i)",
                  &pieces, &e);
    CHECK(s == NULL && strstr(e.msg, "boom"));
    free(s);
    db_close(&d);
}
