/* The operator's own small HTTP endpoint: /healthz (the process runs), /readyz (leading with
 * synced caches, or a standby waiting for the lease — both are healthy states), /metrics
 * (Prometheus text: reconcile totals and errors, work-queue depth, leader state). Listens on
 * --listen ADDR:PORT, default $POD_IP:8081 or 127.0.0.1:8081. */
#ifndef FM_OP_HTTP_H
#define FM_OP_HTTP_H
#include <stdatomic.h>

#include "base/err.h"

struct fm_operator;
typedef struct fm_op_http fm_op_http;

fm_op_http *fm_op_http_start(struct fm_operator *op, const char *listen, atomic_int *leading, fm_err *err);
void fm_op_http_stop(fm_op_http *h);
#endif
