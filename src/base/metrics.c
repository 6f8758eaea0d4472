#include "base/metrics.h"

#include <stdatomic.h>

#include "base/histo.h"

static const int codes[] = {200, 400, 401, 404, 405, 409, 413, 429, 500, 503, 504};
#define NCODES (int)(sizeof codes / sizeof codes[0])
static const char *formats[] = {"csv", "ndjson", "arrow", "none"};
#define bounds FM_HISTO_LATENCY
#define NB FM_HISTO_LATENCY_N

static atomic_ullong requests[4][NCODES + 1]; /* last column: any other code */
static atomic_ullong errors[3];
static fm_histo duration;
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

void fm_metrics_duration(double s) { fm_histo_observe(&duration, bounds, NB, s); }

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
    fm_histo_write(&duration, bounds, NB, o, "featherman_query_duration_seconds", "");
    fm_buf_printf(o, "# HELP featherman_queries_in_flight Queries running now.\n# TYPE featherman_queries_in_flight gauge\n"
                     "featherman_queries_in_flight %lld\n", (long long)atomic_load(&inflight));
    fm_buf_printf(o, "# HELP featherman_rows_streamed_total Result rows sent.\n# TYPE featherman_rows_streamed_total counter\n"
                     "featherman_rows_streamed_total %llu\n", atomic_load(&rows_total));
    fm_buf_printf(o, "# HELP featherman_bytes_streamed_total Result bytes sent.\n# TYPE featherman_bytes_streamed_total counter\n"
                     "featherman_bytes_streamed_total %llu\n", atomic_load(&bytes_total));
}
