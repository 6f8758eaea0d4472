/* The operator's own small HTTP endpoint: /healthz (the process runs), /readyz (leading with
 * synced caches, or a standby waiting for the lease — both are healthy states), /metrics
 * (Prometheus text: reconcile totals and errors, work-queue depth, leader state). Listens on
 * --listen ADDR:PORT, default $POD_IP:8081 or 127.0.0.1:8081, on one thread of the HTTP layer
 * (http/http.h: JSON error bodies for unknown paths and methods, the standard headers, request
 * metrics appended to /metrics). Starting fails when the address is already in use. */
#ifndef FM_OP_HTTP_H
#define FM_OP_HTTP_H
#include <stdatomic.h>

#include "base/err.h"

struct fm_operator;
typedef struct fm_op_http fm_op_http;

fm_op_http *fm_op_http_start(struct fm_operator *op, const char *listen, atomic_int *leading, fm_err *err);
void fm_op_http_stop(fm_op_http *h);
#endif
