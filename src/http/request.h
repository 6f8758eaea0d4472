/* The body of POST /query: {"sql": "...", "catalog": "name", "format": "csv|ndjson|arrow",
 * "timeoutMs": N}. sql is required and non-empty; catalog and format are optional; timeoutMs is a
 * positive integer ≤ 24h. Unknown fields are refused, so a typo ("fromat") is not silently
 * ignored. Errors are FM_E_INVALID with a message naming the field. */
#ifndef FM_REQUEST_H
#define FM_REQUEST_H
#include <stddef.h>

#include "model/format.h"
#include "base/err.h"

typedef struct {
    char *sql;
    char *catalog;   /* NULL: the server's only catalog */
    int has_format;
    fm_format format;
    long timeout_ms; /* 0: the server's default */
} fm_query_request;

int fm_query_request_parse(const char *body, size_t len, fm_query_request *out, fm_err *err);
void fm_query_request_free(fm_query_request *r);
/* the response format: the body's "format", else the first supported type of the Accept header
 * (may be NULL), else CSV */
fm_format fm_query_request_format(const fm_query_request *r, const char *accept);

struct fm_http_req;
/* the body of a POST /query request parsed and its format resolved (the Accept header) and
 * recorded for the query metrics; on a bad body answers 400 itself and returns -1 */
int fm_query_request_read(struct fm_http_req *r, fm_query_request *out, fm_format *format);
#endif
