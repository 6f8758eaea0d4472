/* The operator's health and metrics endpoint (contract in op_http.h). */
#include "operator/op_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/listen.h"
#include "operator/operator.h"
#include "operator/pool_registry.h"

struct fm_op_http {
    struct MHD_Daemon *mhd;
    struct fm_operator *op;
    atomic_int *leading;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **state) {
    (void)version, (void)data, (void)size, (void)state;
    struct fm_op_http *h = cls;
    if (strcmp(method, "GET")) return reply(c, 405, "text/plain", "method not allowed\n");
    if (!strcmp(url, "/healthz")) return reply(c, 200, "text/plain", "ok\n");
    if (!strcmp(url, "/readyz")) return reply(c, atomic_load(h->leading) == 2 ? 503 : 200, "text/plain", "ok\n");
    if (!strcmp(url, "/metrics")) {
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
        enum MHD_Result rc = reply(c, 200, "text/plain; version=0.0.4", b.data);
        fm_buf_free(&b);
        return rc;
    }
    return reply(c, 404, "text/plain", "not found\n");
}

fm_op_http *fm_op_http_start(struct fm_operator *op, const char *listen, atomic_int *leading, fm_err *err) {
    char addr[64];
    int port;
    if (fm_listen_or_pod_ip(listen, 8081, addr, sizeof addr, &port)) {
        fm_fail(err, FM_E_INVALID, "--listen wants ADDR:PORT");
        return NULL;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
        fm_fail(err, FM_E_INVALID, "--listen: %s is not an IPv4 address", addr);
        return NULL;
    }
    struct fm_op_http *h = calloc(1, sizeof *h);
    h->op = op;
    h->leading = leading;
    h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!h->mhd) {
        fm_fail(err, FM_E_UNAVAILABLE, "cannot listen on %s:%d", addr, port);
        free(h);
        return NULL;
    }
    return h;
}

void fm_op_http_stop(fm_op_http *h) {
    if (!h) return;
    MHD_stop_daemon(h->mhd);
    free(h);
}
