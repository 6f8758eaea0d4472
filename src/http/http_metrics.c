/* Per-endpoint request metrics of one HTTP server (contract in http_metrics.h). */
#include "http/http_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/histo.h"
#include "base/json_out.h"
#include "base/xalloc.h"

#define bounds FM_HISTO_LATENCY
#define NB FM_HISTO_LATENCY_N
#define MIN_CODE 100
#define NCODES 500 /* 100..599; anything else is counted as code="other" in the last slot */

typedef struct {
    const char *name;
    char *label; /* endpoint="...", escaped */
    atomic_ullong codes[NCODES + 1];
    fm_histo duration;
} endpoint;

struct fm_http_metrics {
    size_t n; /* endpoints, "other" included */
    endpoint *ep;
};

fm_http_metrics *fm_http_metrics_new(const char *const *names, size_t n) {
    fm_http_metrics *m = fm_xcalloc(1, sizeof *m);
    m->n = n + 1;
    m->ep = fm_xcalloc(m->n, sizeof *m->ep);
    for (size_t i = 0; i <= n; i++) {
        endpoint *e = &m->ep[i];
        e->name = i < n ? names[i] : "other";
        fm_buf b;
        fm_buf_init(&b);
        fm_buf_puts(&b, "endpoint=");
        fm_json_string(&b, e->name, strlen(e->name)); /* a JSON string is a valid label value */
        e->label = fm_buf_steal(&b);
    }
    return m;
}

void fm_http_metrics_observe(fm_http_metrics *m, size_t i, int status, double s) {
    if (i >= m->n) i = m->n - 1;
    endpoint *e = &m->ep[i];
    int c = status >= MIN_CODE && status < MIN_CODE + NCODES ? status - MIN_CODE : NCODES;
    atomic_fetch_add_explicit(&e->codes[c], 1, memory_order_relaxed);
    fm_histo_observe(&e->duration, bounds, NB, s);
}

void fm_http_metrics_write(const fm_http_metrics *m, fm_buf *o) {
    fm_buf_puts(o, "# HELP featherman_http_requests_total HTTP requests by endpoint and response status.\n"
                   "# TYPE featherman_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++)
        for (int c = 0; c <= NCODES; c++) {
            unsigned long long v = atomic_load_explicit(&m->ep[i].codes[c], memory_order_relaxed);
            if (!v) continue;
            fm_buf_printf(o, "featherman_http_requests_total{%s,code=", m->ep[i].label);
            if (c < NCODES) fm_buf_printf(o, "\"%d\"} %llu\n", c + MIN_CODE, v);
            else fm_buf_printf(o, "\"other\"} %llu\n", v);
        }
    fm_buf_puts(o, "# HELP featherman_http_request_duration_seconds Time from a request's first byte to its end.\n"
                   "# TYPE featherman_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++)
        if (fm_histo_count(&m->ep[i].duration))
            fm_histo_write(&m->ep[i].duration, bounds, NB, o, "featherman_http_request_duration_seconds",
                           m->ep[i].label);
}

void fm_http_metrics_free(fm_http_metrics *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n; i++) free(m->ep[i].label);
    free(m->ep);
    free(m);
}
