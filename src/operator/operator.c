/* `featherman operator`'s run part (contract in operator.h): the API client, the health and
 * metrics endpoint, the workers, and leadership terms — campaign, build and sync the caches, let
 * the workers in, and on losing the Lease shut them out, drop the caches and campaign again. The
 * main thread owns the signals (base/signals.h) and looks at the leadership state between
 * waits for them; the Lease's callbacks run on the leader-election thread. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/signals.h"
#include "k8s/k8s_names.h"
#include "kube/kube_config.h"
#include "kube/leader.h"
#include "operator/op_http.h"
#include "operator/operator.h"

#define WAKE_MS 200       /* how often the main thread looks at the leadership state */
#define SYNC_MS 60000     /* a cache that has not listed by then fails the start */

/* how a term ended (TERM_SYNCED: it has not; its caches are ready) */
typedef enum { TERM_STOP, TERM_LOST, TERM_FAILED, TERM_SYNCED } term_end;

/* The informers of one term, in the order they are built and started; freed in reverse, so a
 * handler that reads another kind's cache (catalogs read tables and pools, Jobs read tables)
 * never outlives that cache. */
enum { INF_TABLES, INF_POOLS, INF_JOBS, INF_PODS, INF_CATALOGS, NINF };

static kube_informer **slot(fm_operator *op, int i) {
    kube_informer **s[NINF] = {&op->tables, &op->pools, &op->jobs, &op->pods, &op->catalogs};
    return s[i];
}

static const kube_resource *resource(int i) {
    const kube_resource *r[NINF] = {&FM_RES_TABLES, &FM_RES_POOLS, &KUBE_RES_JOBS, &KUBE_RES_PODS, &FM_RES_CATALOGS};
    return r[i];
}

static const char *selector(int i) {
    if (i == INF_JOBS) return FM_LABEL_MANAGED_BY "=" FM_MANAGED_BY;
    if (i == INF_PODS) return FM_LABEL_COMPONENT "=" FM_COMPONENT_POOL;
    return NULL;
}

static void free_informers(fm_operator *op) {
    for (int i = NINF - 1; i >= 0; i--) {
        kube_informer **s = slot(op, i);
        if (*s) kube_informer_free(*s);
        *s = NULL;
    }
}

/* every informer of the term built, with its handlers, before any starts: a handler may read
 * the other caches from the first event on */
static int build_informers(fm_operator *op, fm_err *err) {
    for (int i = 0; i < NINF; i++) {
        kube_watch_opts o = {.res = resource(i), .ns = op->ns, .label_selector = selector(i)};
        kube_informer_handlers h = fm_op_handlers(op, resource(i));
        kube_informer *inf = kube_informer_new(op->kube, &o, err);
        if (!inf) return -1;
        *slot(op, i) = inf;
        if (kube_informer_add_handlers(inf, &h, err)) return -1;
    }
    return 0;
}

/* 1 when a signal came, 0 once the leadership state is no longer `state` */
static int wait_while_leading_is(fm_operator *op, int state) {
    while (atomic_load(&op->leading) == state)
        if (fm_signals_wait(WAKE_MS)) return 1;
    return 0;
}

/* starts every informer, then waits until all have listed (or a signal, or the term ends) */
static term_end sync_informers(fm_operator *op, fm_err *err) {
    for (int i = 0; i < NINF; i++)
        if (kube_informer_start(*slot(op, i), err)) return TERM_FAILED;
    int64_t deadline = fm_now_ms() + SYNC_MS;
    for (int i = 0; i < NINF; i++) {
        while (kube_informer_wait_synced(*slot(op, i), WAKE_MS, err)) {
            if (fm_signals_wait(0)) return TERM_STOP;
            if (atomic_load(&op->leading) != FM_LEAD_LEADING) return TERM_LOST;
            if (fm_now_ms() > deadline) {
                fm_fail(err, FM_E_TIMEOUT, "%s not listed after %d s", resource(i)->resource, SYNC_MS / 1000);
                return TERM_FAILED;
            }
        }
    }
    return TERM_SYNCED;
}

/* one term's controllers: caches built and synced, then the workers let in until the term ends */
static term_end run_controllers(fm_operator *op) {
    fm_err err;
    fm_err_clear(&err);
    term_end end = TERM_FAILED;
    if (build_informers(op, &err)) {
        fm_error("operator: informer: %s", err.msg);
    } else if ((end = sync_informers(op, &err)) == TERM_FAILED) {
        fm_error("operator: informer: %s", err.msg);
    } else if (end == TERM_SYNCED) {
        fm_info("operator: caches synced (%zu catalogs, %zu tables, %zu pools): starting the controllers",
                kube_informer_len(op->catalogs), kube_informer_len(op->tables), kube_informer_len(op->pools));
        fm_op_gate_open(op);
        end = wait_while_leading_is(op, FM_LEAD_LEADING) ? TERM_STOP : TERM_LOST;
    }
    if (end == TERM_LOST)
        fm_warn("operator: lost the leader lease: stopping the controllers and campaigning again");
    fm_op_gate_close(op, true); /* the reconciles in flight finish first */
    free_informers(op);
    return end;
}

static void on_started(void *ud) { atomic_store(&((fm_operator *)ud)->leading, FM_LEAD_LEADING); }

static void on_stopped(void *ud) {
    fm_operator *op = ud;
    atomic_store(&op->leading, FM_LEAD_LOST);
    fm_op_gate_close(op, false); /* no new reconcile from now on; the main thread waits for the rest */
}

static term_end one_term(fm_operator *op, const fm_op_config *cfg) {
    atomic_store(&op->leading, FM_LEAD_CAMPAIGNING);
    kube_leader *leader = NULL;
    if (cfg->elect) {
        kube_leader_config lc = {.ns = cfg->lease_ns, .name = "featherman-operator", .identity = op->identity,
                                 .on_started = on_started, .on_stopped = on_stopped, .ud = op};
        fm_err err;
        leader = kube_leader_start(op->kube, &lc, &err);
        if (!leader) {
            fm_error("operator: leader election: %s", err.msg);
            return TERM_FAILED;
        }
        fm_info("operator %s: waiting to lead (Lease %s/featherman-operator)", op->identity, lc.ns);
        if (wait_while_leading_is(op, FM_LEAD_CAMPAIGNING)) {
            kube_leader_stop(leader);
            return TERM_STOP;
        }
    } else {
        atomic_store(&op->leading, FM_LEAD_LEADING);
    }
    fm_info("operator %s: leading; watching %s", op->identity, op->ns ? op->ns : "all namespaces");
    term_end end = run_controllers(op);
    if (leader) kube_leader_stop(leader); /* releases the Lease when still held (SIGTERM) */
    return end;
}

static int operator_init(fm_operator *op, const fm_op_config *cfg, kube_config *kc, fm_err *err) {
    memset(op, 0, sizeof *op);
    pthread_mutex_init(&op->gate_mu, NULL);
    pthread_cond_init(&op->gate_cv, NULL);
    op->ns = cfg->ns;
    op->image = cfg->image;
    if (kube_config_load(kc, err)) return -1;
    op->kube = kube_client_new(kc, err);
    if (!op->kube) return -1;
    const char *pod = getenv("POD_NAME");
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    snprintf(op->identity, sizeof op->identity, "%s-%d", pod ? pod : host, (int)getpid());
    op->rec = kube_recorder_new(op->kube, FM_FIELD_MANAGER, pod ? pod : host);
    op->q_catalog = kube_wq_new(NULL);
    op->q_table = kube_wq_new(NULL);
    op->q_pool = kube_wq_new(NULL);
    return 0;
}

static void operator_free(fm_operator *op, kube_config *kc) {
    free_informers(op);
    if (op->q_catalog) kube_wq_free(op->q_catalog);
    if (op->q_table) kube_wq_free(op->q_table);
    if (op->q_pool) kube_wq_free(op->q_pool);
    if (op->rec) kube_recorder_free(op->rec);
    if (op->kube) kube_client_free(op->kube);
    kube_config_free(kc);
    pthread_cond_destroy(&op->gate_cv);
    pthread_mutex_destroy(&op->gate_mu);
}

int fm_operator_run(const fm_op_config *cfg) {
    fm_signals_block(); /* before any thread starts, so every thread inherits the mask */
    /* a few threads, little allocation: glibc's default of one arena per thread only adds RSS */
    mallopt(M_ARENA_MAX, 2);
    fm_operator op;
    kube_config kc;
    memset(&kc, 0, sizeof kc);
    fm_err err;
    fm_err_clear(&err);
    if (operator_init(&op, cfg, &kc, &err)) {
        fm_error("operator: %s", err.msg);
        operator_free(&op, &kc);
        return 1;
    }
    fm_op_http *http = fm_op_http_start(&op, cfg->listen, &op.leading, &err);
    if (!http) fm_warn("operator: no health endpoint: %s", err.msg);
    term_end end = TERM_FAILED;
    if (fm_op_workers_start(&op, cfg->workers, &err)) {
        fm_error("operator: %s", err.msg);
    } else {
        /* a lost Lease (an API server restart longer than the renew deadline, a partition) is
         * not the end: the next term campaigns again */
        while ((end = one_term(&op, cfg)) == TERM_LOST) {
        }
        fm_info("operator: stopping");
        fm_op_workers_stop(&op);
    }
    if (http) fm_op_http_stop(http);
    operator_free(&op, &kc);
    return end == TERM_STOP ? 0 : 1;
}
