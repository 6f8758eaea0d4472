/* The gateway's per-pool metrics (label pool="..."), rendered after the
 * process-wide request metrics of metrics.h (featherman_queries_total{format,code} there counts
 * the gateway's own answers):
 *   ducklake_pool_queue_length{pool}             gauge: queries waiting for a pod (from the router)
 *   ducklake_pool_wait_duration_seconds{pool}    histogram: time from arrival to a pod
 *   ducklake_pool_query_duration_seconds{pool}   histogram: time from forwarding to the last byte
 * Pools are created on first use and kept (a bounded number: beyond 512 they share pool="other"). */
#ifndef FM_GW_METRICS_H
#define FM_GW_METRICS_H
#include "base/buf.h"
#include "gateway/gw_route.h"

void fm_gw_metrics_wait(const char *pool, double seconds);
void fm_gw_metrics_query(const char *pool, double seconds);
void fm_gw_metrics_render(fm_buf *out, fm_router *r);
void fm_gw_metrics_reset(void); /* frees everything (end of process, tests) */
#endif
