/* The POST /query body parser (contract in request.h). */
#include "http/request.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "http/http.h"

#define MAX_TIMEOUT_MS (24L * 3600 * 1000)

int fm_query_request_parse(const char *body, size_t len, fm_query_request *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) return fm_fail(err, FM_E_INVALID, "request body is not valid JSON: %s (at line %d, column %d)", je.text, je.line, je.column);
    int rc = -1;
    if (!json_is_object(doc)) {
        fm_fail(err, FM_E_INVALID, "request body must be a JSON object");
        goto out;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (!strcmp(key, "sql")) {
            if (!json_is_string(v) || json_string_length(v) == 0) {
                fm_fail(err, FM_E_INVALID, "\"sql\" must be a non-empty string");
                goto out;
            }
            if (strlen(json_string_value(v)) != json_string_length(v)) {
                fm_fail(err, FM_E_INVALID, "\"sql\" must not contain NUL characters");
                goto out;
            }
            out->sql = fm_xstrdup(json_string_value(v));
        } else if (!strcmp(key, "catalog")) {
            if (json_is_null(v)) continue;
            if (!json_is_string(v) || json_string_length(v) == 0) {
                fm_fail(err, FM_E_INVALID, "\"catalog\" must be a non-empty string");
                goto out;
            }
            out->catalog = fm_xstrdup(json_string_value(v));
        } else if (!strcmp(key, "format")) {
            if (json_is_null(v)) continue;
            if (!json_is_string(v) || fm_format_parse(json_string_value(v), &out->format)) {
                fm_fail(err, FM_E_INVALID, "\"format\" must be one of \"csv\", \"ndjson\", \"arrow\"");
                goto out;
            }
            out->has_format = 1;
        } else if (!strcmp(key, "timeoutMs")) {
            if (json_is_null(v)) continue;
            if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > MAX_TIMEOUT_MS) {
                fm_fail(err, FM_E_INVALID, "\"timeoutMs\" must be a positive integer of at most %ld", MAX_TIMEOUT_MS);
                goto out;
            }
            out->timeout_ms = (long)json_integer_value(v);
        } else {
            fm_fail(err, FM_E_INVALID, "unknown field \"%.64s\" (expected sql, catalog, format, timeoutMs)", key);
            goto out;
        }
    }
    if (!out->sql) {
        fm_fail(err, FM_E_INVALID, "\"sql\" is required");
        goto out;
    }
    rc = 0;
out:
    json_decref(doc);
    if (rc) fm_query_request_free(out);
    return rc;
}

void fm_query_request_free(fm_query_request *r) {
    free(r->sql);
    free(r->catalog);
    memset(r, 0, sizeof *r);
}

fm_format fm_query_request_format(const fm_query_request *r, const char *accept) {
    fm_format f = FM_FMT_CSV;
    if (r->has_format) f = r->format;
    else if (accept) fm_format_from_accept(accept, &f);
    return f;
}

int fm_query_request_read(fm_http_req *r, fm_query_request *out, fm_format *format) {
    size_t len;
    const char *body = fm_http_req_body(r, &len);
    fm_err err;
    fm_err_clear(&err);
    if (fm_query_request_parse(body, len, out, &err)) {
        fm_http_error(r, 400, "invalid", err.msg);
        return -1;
    }
    *format = fm_query_request_format(out, fm_http_req_header(r, "Accept"));
    fm_http_req_set_format(r, (int)*format);
    return 0;
}
