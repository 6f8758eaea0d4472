/* The operator's health and metrics endpoint on the HTTP layer (contract in op_http.h). */
#include "operator/op_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/listen.h"
#include "base/xalloc.h"
#include "http/http.h"
#include "operator/operator.h"
#include "operator/pool_registry.h"

struct fm_op_http {
    fm_http *http;
    struct fm_operator *op;
    atomic_int *leading;
};

/* a standby waiting for the lease is as healthy as the leader; only a lost lease is not ready */
static void on_readyz(fm_http_req *r, void *ud) {
    struct fm_op_http *h = ud;
    fm_http_respond(r, atomic_load(h->leading) == 2 ? 503 : 200, "text/plain", "ok\n", 3);
}

static void on_metrics(fm_http_req *r, void *ud) {
    struct fm_op_http *h = ud;
    struct fm_operator *op = h->op;
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_printf(&b, "# TYPE featherman_operator_reconciles_total counter\nfeatherman_operator_reconciles_total %ld\n",
                  atomic_load(&op->reconciles));
    fm_buf_printf(&b,
                  "# TYPE featherman_operator_reconcile_errors_total counter\n"
                  "featherman_operator_reconcile_errors_total %ld\n",
                  atomic_load(&op->reconcile_errors));
    fm_buf_printf(&b, "# TYPE featherman_operator_leader gauge\nfeatherman_operator_leader %d\n",
                  atomic_load(h->leading) == 1);
    fm_buf_puts(&b, "# TYPE featherman_operator_workqueue_depth gauge\n");
    const char *names[3] = {"catalog", "table", "pool"};
    kube_wq *qs[3] = {op->q_catalog, op->q_table, op->q_pool};
    for (int i = 0; i < 3; i++)
        if (qs[i])
            fm_buf_printf(&b, "featherman_operator_workqueue_depth{queue=\"%s\"} %zu\n", names[i],
                          kube_wq_len(qs[i]) + kube_wq_delayed(qs[i]));
    /* controller-runtime's names, so existing dashboards work */
    fm_buf_puts(&b, "# TYPE controller_runtime_reconcile_total counter\n"
                    "# TYPE controller_runtime_reconcile_errors_total counter\n"
                    "# TYPE controller_runtime_reconcile_time_seconds histogram\n"
                    "# TYPE workqueue_adds_total counter\n# TYPE workqueue_retries_total counter\n"
                    "# TYPE workqueue_depth gauge\n");
    for (int i = 0; i < 3; i++) {
        const char *n = FM_CTRL_NAMES[i];
        long total = atomic_load(&op->ctrl[i].total), errs = atomic_load(&op->ctrl[i].errors);
        fm_buf_printf(&b, "controller_runtime_reconcile_total{controller=\"%s\",result=\"success\"} %ld\n", n,
                      total - errs - atomic_load(&op->ctrl[i].requeues));
        fm_buf_printf(&b, "controller_runtime_reconcile_total{controller=\"%s\",result=\"requeue_after\"} %ld\n", n,
                      atomic_load(&op->ctrl[i].requeues));
        fm_buf_printf(&b, "controller_runtime_reconcile_total{controller=\"%s\",result=\"error\"} %ld\n", n, errs);
        fm_buf_printf(&b, "controller_runtime_reconcile_errors_total{controller=\"%s\"} %ld\n", n, errs);
        for (int k = 0; k < 8; k++)
            fm_buf_printf(&b, "controller_runtime_reconcile_time_seconds_bucket{controller=\"%s\",le=\"%g\"} %ld\n", n,
                          FM_RECONCILE_BUCKETS[k], atomic_load(&op->ctrl[i].duration_bucket[k]));
        fm_buf_printf(&b, "controller_runtime_reconcile_time_seconds_bucket{controller=\"%s\",le=\"+Inf\"} %ld\n", n,
                      atomic_load(&op->ctrl[i].duration_count));
        fm_buf_printf(&b, "controller_runtime_reconcile_time_seconds_sum{controller=\"%s\"} %.6f\n", n,
                      atomic_load(&op->ctrl[i].duration_sum));
        fm_buf_printf(&b, "controller_runtime_reconcile_time_seconds_count{controller=\"%s\"} %ld\n", n,
                      atomic_load(&op->ctrl[i].duration_count));
        fm_buf_printf(&b, "workqueue_adds_total{name=\"%s\"} %ld\n", n, atomic_load(&op->ctrl[i].adds));
        fm_buf_printf(&b, "workqueue_retries_total{name=\"%s\"} %ld\n", n, atomic_load(&op->ctrl[i].retries));
        if (qs[i])
            fm_buf_printf(&b, "workqueue_depth{name=\"%s\"} %zu\n", n, kube_wq_len(qs[i]) + kube_wq_delayed(qs[i]));
    }
    fm_pool_metrics_render(&b);
    fm_http_metrics_render(h->http, &b);
    fm_http_respond(r, 200, "text/plain; version=0.0.4", b.data, b.len);
    fm_buf_free(&b);
}

static const fm_http_route ROUTES[] = {
    {"GET", "/healthz", 0, fm_http_healthz},
    {"GET", "/readyz", 0, on_readyz},
    {"GET", "/metrics", 0, on_metrics},
};

fm_op_http *fm_op_http_start(struct fm_operator *op, const char *listen, atomic_int *leading, fm_err *err) {
    char addr[64];
    int port;
    if (fm_listen_or_pod_ip(listen, 8081, addr, sizeof addr, &port)) {
        fm_fail(err, FM_E_INVALID, "--listen wants ADDR:PORT");
        return NULL;
    }
    struct fm_op_http *h = fm_xcalloc(1, sizeof *h);
    h->op = op;
    h->leading = leading;
    fm_http_config hc = {.name = "operator", .addr = addr, .port = port, .routes = ROUTES,
                         .nroutes = sizeof ROUTES / sizeof ROUTES[0], .ud = h, .id_prefix = "op", .single_thread = 1,
                         .conn_limit = 64, .conn_timeout_s = 30};
    h->http = fm_http_start(&hc, err);
    if (!h->http) {
        free(h);
        return NULL;
    }
    return h;
}

void fm_op_http_stop(fm_op_http *h) {
    if (!h) return;
    fm_http_stop(h->http);
    free(h);
}
