#include "base/metrics.h"

#include <stdatomic.h>

static const int codes[] = {200, 400, 401, 404, 405, 409, 413, 429, 500, 503, 504};
#define NCODES (int)(sizeof codes / sizeof codes[0])
static const char *formats[] = {"csv", "ndjson", "arrow", "none"};
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define NB (int)(sizeof bounds / sizeof bounds[0])

static atomic_ullong requests[4][NCODES + 1]; /* last column: any other code */
static atomic_ullong errors[3];
static atomic_ullong buckets[NB + 1];
static atomic_ullong dur_count;
static atomic_ullong dur_sum_us;
static atomic_llong inflight;
static atomic_ullong rows_total, bytes_total;

void fm_metrics_request(int format, int status) {
    int f = format < 0 || format > 2 ? 3 : format;
    int c = NCODES;
    for (int i = 0; i < NCODES; i++)
        if (codes[i] == status) c = i;
    atomic_fetch_add_explicit(&requests[f][c], 1, memory_order_relaxed);
}

void fm_metrics_error(fm_error_stage stage) { atomic_fetch_add_explicit(&errors[stage], 1, memory_order_relaxed); }

void fm_metrics_duration(double s) {
    int b = NB;
    for (int i = 0; i < NB; i++)
        if (s <= bounds[i]) {
            b = i;
            break;
        }
    atomic_fetch_add_explicit(&buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dur_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&dur_sum_us, (unsigned long long)(s * 1e6), memory_order_relaxed);
}

void fm_metrics_inflight(int delta) { atomic_fetch_add_explicit(&inflight, delta, memory_order_relaxed); }

void fm_metrics_streamed(unsigned long long rows, unsigned long long bytes) {
    atomic_fetch_add_explicit(&rows_total, rows, memory_order_relaxed);
    atomic_fetch_add_explicit(&bytes_total, bytes, memory_order_relaxed);
}

void fm_metrics_render(fm_buf *o) {
    fm_buf_puts(o, "# HELP featherman_queries_total Query requests by response status.\n"
                   "# TYPE featherman_queries_total counter\n");
    for (int f = 0; f < 4; f++)
        for (int c = 0; c <= NCODES; c++) {
            unsigned long long v = atomic_load(&requests[f][c]);
            if (!v) continue;
            if (c < NCODES)
                fm_buf_printf(o, "featherman_queries_total{format=\"%s\",code=\"%d\"} %llu\n", formats[f], codes[c], v);
            else
                fm_buf_printf(o, "featherman_queries_total{format=\"%s\",code=\"other\"} %llu\n", formats[f], v);
        }
    static const char *stages[] = {"before_stream", "mid_stream", "cancelled"};
    fm_buf_puts(o, "# HELP featherman_query_errors_total Failed queries by the stage they failed in.\n"
                   "# TYPE featherman_query_errors_total counter\n");
    for (int i = 0; i < 3; i++)
        fm_buf_printf(o, "featherman_query_errors_total{stage=\"%s\"} %llu\n", stages[i], atomic_load(&errors[i]));
    fm_buf_puts(o, "# HELP featherman_query_duration_seconds Time from request to last byte.\n"
                   "# TYPE featherman_query_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (int i = 0; i < NB; i++) {
        cum += atomic_load(&buckets[i]);
        fm_buf_printf(o, "featherman_query_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i], cum);
    }
    cum += atomic_load(&buckets[NB]);
    fm_buf_printf(o, "featherman_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    fm_buf_printf(o, "featherman_query_duration_seconds_sum %.6f\n", atomic_load(&dur_sum_us) / 1e6);
    fm_buf_printf(o, "featherman_query_duration_seconds_count %llu\n", atomic_load(&dur_count));
    fm_buf_printf(o, "# HELP featherman_queries_in_flight Queries running now.\n# TYPE featherman_queries_in_flight gauge\n"
                     "featherman_queries_in_flight %lld\n", (long long)atomic_load(&inflight));
    fm_buf_printf(o, "# HELP featherman_rows_streamed_total Result rows sent.\n# TYPE featherman_rows_streamed_total counter\n"
                     "featherman_rows_streamed_total %llu\n", atomic_load(&rows_total));
    fm_buf_printf(o, "# HELP featherman_bytes_streamed_total Result bytes sent.\n# TYPE featherman_bytes_streamed_total counter\n"
                     "featherman_bytes_streamed_total %llu\n", atomic_load(&bytes_total));
}
