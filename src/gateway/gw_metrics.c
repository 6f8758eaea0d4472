/* Per-pool gateway metrics (contract in gw_metrics.h). */
#include "gateway/gw_metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/histo.h"
#include "base/json_out.h"
#include "base/xalloc.h"

static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
#define NB (int)(sizeof bounds / sizeof bounds[0])
#define MAX_POOLS 512

typedef struct {
    char *name;
    char *label; /* pool="...", escaped */
    fm_histo wait, query;
} pool_m;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pool_m *pools;
static size_t npools, cap;

static pool_m *get(const char *name) {
    for (size_t i = 0; i < npools; i++)
        if (!strcmp(pools[i].name, name)) return &pools[i];
    if (npools >= MAX_POOLS) return strcmp(name, "other") ? get("other") : &pools[npools - 1];
    if (npools == cap) {
        cap = cap ? 2 * cap : 8;
        pools = fm_xreallocarray(pools, cap, sizeof *pools);
    }
    pool_m *p = &pools[npools++];
    memset(p, 0, sizeof *p);
    p->name = fm_xstrdup(name);
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, "pool=");
    fm_json_string(&b, name, strlen(name)); /* a JSON string is a valid label value */
    p->label = fm_buf_steal(&b);
    return p;
}

void fm_gw_metrics_wait(const char *pool, double s) {
    pthread_mutex_lock(&mu);
    fm_histo_observe(&get(pool)->wait, bounds, NB, s);
    pthread_mutex_unlock(&mu);
}

void fm_gw_metrics_query(const char *pool, double s) {
    pthread_mutex_lock(&mu);
    fm_histo_observe(&get(pool)->query, bounds, NB, s);
    pthread_mutex_unlock(&mu);
}

static void label(fm_buf *o, const char *name) {
    fm_buf_puts(o, "{pool=");
    fm_json_string(o, name, strlen(name)); /* a JSON string is a valid label value */
}

static void queue_line(void *ud, const char *pool, const char *catalog, int queued, int routable, int inflight) {
    fm_buf *o = ud;
    (void)catalog, (void)routable, (void)inflight;
    fm_buf_puts(o, "ducklake_pool_queue_length");
    label(o, pool);
    fm_buf_printf(o, "} %d\n", queued);
}

void fm_gw_metrics_render(fm_buf *o, fm_router *r) {
    fm_buf_puts(o, "# HELP ducklake_pool_queue_length Queries waiting for a pod of the pool.\n"
                   "# TYPE ducklake_pool_queue_length gauge\n");
    if (r) fm_router_each_pool(r, queue_line, o);
    pthread_mutex_lock(&mu);
    fm_buf_puts(o, "# HELP ducklake_pool_wait_duration_seconds Time a query waited for a pod.\n"
                   "# TYPE ducklake_pool_wait_duration_seconds histogram\n");
    for (size_t i = 0; i < npools; i++)
        fm_histo_write(&pools[i].wait, bounds, NB, o, "ducklake_pool_wait_duration_seconds", pools[i].label);
    fm_buf_puts(o, "# HELP ducklake_pool_query_duration_seconds Time from forwarding a query to its last byte.\n"
                   "# TYPE ducklake_pool_query_duration_seconds histogram\n");
    for (size_t i = 0; i < npools; i++)
        fm_histo_write(&pools[i].query, bounds, NB, o, "ducklake_pool_query_duration_seconds", pools[i].label);
    pthread_mutex_unlock(&mu);
}

void fm_gw_metrics_reset(void) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < npools; i++) free(pools[i].name), free(pools[i].label);
    free(pools);
    pools = NULL;
    npools = cap = 0;
    pthread_mutex_unlock(&mu);
}
