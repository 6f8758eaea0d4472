/* Per-endpoint request metrics of one HTTP server (contract in http_metrics.h). */
#include "http/http_metrics.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_out.h"
#include "base/xalloc.h"

static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NB (int)(sizeof bounds / sizeof bounds[0])
#define MIN_CODE 100
#define NCODES 500 /* 100..599; anything else is counted as code="other" in the last slot */

typedef struct {
    const char *name;
    atomic_ullong codes[NCODES + 1];
    atomic_ullong buckets[NB + 1];
    atomic_ullong count, sum_us;
} endpoint;

struct fm_http_metrics {
    size_t n; /* endpoints, "other" included */
    endpoint *ep;
};

fm_http_metrics *fm_http_metrics_new(const char *const *names, size_t n) {
    fm_http_metrics *m = fm_xcalloc(1, sizeof *m);
    m->n = n + 1;
    m->ep = fm_xcalloc(m->n, sizeof *m->ep);
    for (size_t i = 0; i < n; i++) m->ep[i].name = names[i];
    m->ep[n].name = "other";
    return m;
}

void fm_http_metrics_observe(fm_http_metrics *m, size_t i, int status, double s) {
    if (i >= m->n) i = m->n - 1;
    endpoint *e = &m->ep[i];
    int c = status >= MIN_CODE && status < MIN_CODE + NCODES ? status - MIN_CODE : NCODES;
    atomic_fetch_add_explicit(&e->codes[c], 1, memory_order_relaxed);
    int b = NB;
    for (int k = 0; k < NB; k++)
        if (s <= bounds[k]) {
            b = k;
            break;
        }
    atomic_fetch_add_explicit(&e->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&e->sum_us, (unsigned long long)(s * 1e6), memory_order_relaxed);
}

static void label(fm_buf *o, const char *metric, const endpoint *e) {
    fm_buf_printf(o, "%s{endpoint=", metric);
    fm_json_string(o, e->name, strlen(e->name)); /* a JSON string is a valid label value */
}

void fm_http_metrics_write(const fm_http_metrics *m, fm_buf *o) {
    fm_buf_puts(o, "# HELP featherman_http_requests_total HTTP requests by endpoint and response status.\n"
                   "# TYPE featherman_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++)
        for (int c = 0; c <= NCODES; c++) {
            unsigned long long v = atomic_load_explicit(&m->ep[i].codes[c], memory_order_relaxed);
            if (!v) continue;
            label(o, "featherman_http_requests_total", &m->ep[i]);
            if (c < NCODES) fm_buf_printf(o, ",code=\"%d\"} %llu\n", c + MIN_CODE, v);
            else fm_buf_printf(o, ",code=\"other\"} %llu\n", v);
        }
    fm_buf_puts(o, "# HELP featherman_http_request_duration_seconds Time from a request's first byte to its end.\n"
                   "# TYPE featherman_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const endpoint *e = &m->ep[i];
        unsigned long long count = atomic_load_explicit(&e->count, memory_order_relaxed);
        if (!count) continue;
        unsigned long long cum = 0;
        for (int k = 0; k <= NB; k++) {
            cum += atomic_load_explicit(&e->buckets[k], memory_order_relaxed);
            label(o, "featherman_http_request_duration_seconds_bucket", e);
            if (k < NB) fm_buf_printf(o, ",le=\"%g\"} %llu\n", bounds[k], cum);
            else fm_buf_printf(o, ",le=\"+Inf\"} %llu\n", cum);
        }
        label(o, "featherman_http_request_duration_seconds_sum", e);
        fm_buf_printf(o, "} %.6f\n", (double)atomic_load_explicit(&e->sum_us, memory_order_relaxed) / 1e6);
        label(o, "featherman_http_request_duration_seconds_count", e);
        fm_buf_printf(o, "} %llu\n", cum); /* equal to the +Inf bucket even while requests end */
    }
}

void fm_http_metrics_free(fm_http_metrics *m) {
    if (!m) return;
    free(m->ep);
    free(m);
}
