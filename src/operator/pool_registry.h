/* The operator's in-memory state per DuckLakePool (key "ns/name"): the autoscaler's history
 * (fm_scale_history, kept between reconciles), the Pods it created that the informer has not
 * shown yet (so a quick requeue does not create them twice), the generation whose
 * PodDisruptionBudget was applied, and the gauges for /metrics (names dashboards already use):
 *   ducklake_pool_size_current, ducklake_pool_size_desired, ducklake_pool_pods_idle,
 *   ducklake_pool_pods_busy, ducklake_pool_queue_length   {pool="ns/name"}
 * One mutex guards the table and the gauges. An entry's scaling fields are used only by the
 * reconcile of its own key (the work queue never runs one key twice at once), so the pointer
 * from fm_pool_entry stays valid until fm_pool_forget of that key. */
#ifndef FM_POOL_REGISTRY_H
#define FM_POOL_REGISTRY_H
#include "base/buf.h"
#include "operator/pool_scale.h"

#define FM_POOL_EXPECT_MAX 64

typedef struct {
    char key[512];
    char uid[64];
    fm_scale_history hist;
    struct {
        char name[64];
        long long at_ms;
    } expect[FM_POOL_EXPECT_MAX];
    int nexpect;
    long long pdb_gen; /* generation whose PDB was applied, -1 none */
    /* gauges (under the registry's mutex: written with fm_pool_gauges) */
    int g_current, g_desired, g_idle, g_busy, g_queue;
} fm_pool_entry;

/* the entry of key (created when missing); a different uid (the pool was recreated) resets it */
fm_pool_entry *fm_pool_entry_get(const char *key, const char *uid);
void fm_pool_forget(const char *key);
void fm_pool_gauges(fm_pool_entry *e, int current, int desired, int idle, int busy, int queue);
/* Prometheus text for every known pool */
void fm_pool_metrics_render(fm_buf *out);

/* expected (created, not yet seen) pods */
void fm_pool_expect(fm_pool_entry *e, const char *name, long long now_ms);
/* drops name (seen by the informer) */
void fm_pool_expect_seen(fm_pool_entry *e, const char *name);
/* drops entries older than max_age_ms; returns how many are left */
int fm_pool_expect_prune(fm_pool_entry *e, long long now_ms, long max_age_ms);
#endif
