/* The request metrics the HTTP layer keeps for one server: requests by endpoint and status code,
 * and a duration histogram per endpoint (first byte of the request → its completion). Updates are
 * relaxed atomics (no lock on the request path). Endpoints are the server's routes, plus "other"
 * for paths that matched none, so a scan of random URLs cannot grow the label set. */
#ifndef FM_HTTP_METRICS_H
#define FM_HTTP_METRICS_H
#include <stddef.h>

#include "base/buf.h"

typedef struct fm_http_metrics fm_http_metrics;

/* names[i] labels endpoint i (n of them); index n is "other" */
fm_http_metrics *fm_http_metrics_new(const char *const *names, size_t n);
void fm_http_metrics_observe(fm_http_metrics *m, size_t endpoint, int status, double seconds);
void fm_http_metrics_write(const fm_http_metrics *m, fm_buf *out);
void fm_http_metrics_free(fm_http_metrics *m);
#endif
