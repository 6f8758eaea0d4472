/* Process-wide query metrics, rendered in the Prometheus text format on GET /metrics.
 * Updates are lock-free atomics so the query hot path pays a few nanoseconds.
 *   featherman_queries_total{format,code}        requests to /query by response status
 *   featherman_query_errors_total{stage}         failures: stage="before_stream" | "mid_stream" | "cancelled"
 *   featherman_query_duration_seconds            histogram, request received → last byte
 *   featherman_queries_in_flight                 gauge
 *   featherman_rows_streamed_total, featherman_bytes_streamed_total */
#ifndef FM_METRICS_H
#define FM_METRICS_H
#include "base/buf.h"

typedef enum { FM_STAGE_BEFORE_STREAM, FM_STAGE_MID_STREAM, FM_STAGE_CANCELLED } fm_error_stage;

/* format: 0 csv, 1 ndjson, 2 arrow, -1 unknown */
void fm_metrics_request(int format, int status);
void fm_metrics_error(fm_error_stage stage);
void fm_metrics_duration(double seconds);
void fm_metrics_inflight(int delta);
void fm_metrics_streamed(unsigned long long rows, unsigned long long bytes);
void fm_metrics_render(fm_buf *out);
#endif
