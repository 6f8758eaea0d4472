/* Per-pool operator state and pool gauges (contract in pool_registry.h). */
#include "operator/pool_registry.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static fm_pool_entry **entries;
static size_t nentries, cap;

static void reset(fm_pool_entry *e, const char *uid) {
    char key[sizeof e->key];
    memcpy(key, e->key, sizeof key);
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, sizeof key);
    snprintf(e->uid, sizeof e->uid, "%s", uid ? uid : "");
    e->pdb_gen = -1;
}

fm_pool_entry *fm_pool_entry_get(const char *key, const char *uid) {
    pthread_mutex_lock(&mu);
    fm_pool_entry *e = NULL;
    for (size_t i = 0; i < nentries; i++)
        if (!strcmp(entries[i]->key, key)) e = entries[i];
    if (!e) {
        if (nentries == cap) {
            cap = cap ? cap * 2 : 16;
            entries = fm_xreallocarray(entries, cap, sizeof *entries);
        }
        e = fm_xcalloc(1, sizeof *e);
        snprintf(e->key, sizeof e->key, "%s", key);
        reset(e, uid);
        entries[nentries++] = e;
    } else if (uid && strcmp(e->uid, uid)) {
        reset(e, uid);
    }
    pthread_mutex_unlock(&mu);
    return e;
}

void fm_pool_forget(const char *key) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nentries; i++)
        if (!strcmp(entries[i]->key, key)) {
            free(entries[i]);
            entries[i] = entries[--nentries];
            break;
        }
    pthread_mutex_unlock(&mu);
}

void fm_pool_gauges(fm_pool_entry *e, int current, int desired, int idle, int busy, int queue) {
    pthread_mutex_lock(&mu);
    e->g_current = current, e->g_desired = desired, e->g_idle = idle, e->g_busy = busy, e->g_queue = queue;
    pthread_mutex_unlock(&mu);
}

static void label(fm_buf *b, const char *key) {
    fm_buf_puts(b, "{pool=\"");
    for (const char *p = key; *p; p++) {
        if (*p == '\\' || *p == '"') fm_buf_putc(b, '\\');
        if (*p == '\n') fm_buf_puts(b, "\\n");
        else fm_buf_putc(b, *p);
    }
    fm_buf_puts(b, "\"}");
}

void fm_pool_metrics_render(fm_buf *out) {
    static const struct {
        const char *name, *help;
        size_t off;
    } g[] = {
        {"ducklake_pool_size_current", "Pool pods that exist and are not draining.", offsetof(fm_pool_entry, g_current)},
        {"ducklake_pool_size_desired", "Pool pods the autoscaler wants.", offsetof(fm_pool_entry, g_desired)},
        {"ducklake_pool_pods_idle", "Ready pool pods with no running query.", offsetof(fm_pool_entry, g_idle)},
        {"ducklake_pool_pods_busy", "Ready pool pods running at least one query.", offsetof(fm_pool_entry, g_busy)},
        {"ducklake_pool_queue_length", "Queries waiting for a pod of the pool (as the gateway reports it).",
         offsetof(fm_pool_entry, g_queue)},
    };
    pthread_mutex_lock(&mu);
    for (size_t k = 0; k < sizeof g / sizeof *g; k++) {
        fm_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", g[k].name, g[k].help, g[k].name);
        for (size_t i = 0; i < nentries; i++) {
            fm_buf_puts(out, g[k].name);
            label(out, entries[i]->key);
            fm_buf_printf(out, " %d\n", *(const int *)((const char *)entries[i] + g[k].off));
        }
    }
    pthread_mutex_unlock(&mu);
}

void fm_pool_expect(fm_pool_entry *e, const char *name, long long now_ms) {
    if (e->nexpect == FM_POOL_EXPECT_MAX) {
        memmove(&e->expect[0], &e->expect[1], sizeof e->expect[0] * (FM_POOL_EXPECT_MAX - 1));
        e->nexpect--;
    }
    snprintf(e->expect[e->nexpect].name, sizeof e->expect[0].name, "%s", name);
    e->expect[e->nexpect].at_ms = now_ms;
    e->nexpect++;
}

void fm_pool_expect_seen(fm_pool_entry *e, const char *name) {
    for (int i = 0; i < e->nexpect; i++)
        if (!strcmp(e->expect[i].name, name)) {
            e->expect[i] = e->expect[--e->nexpect];
            return;
        }
}

int fm_pool_expect_prune(fm_pool_entry *e, long long now_ms, long max_age_ms) {
    for (int i = 0; i < e->nexpect;) {
        if (now_ms - e->expect[i].at_ms > max_age_ms) e->expect[i] = e->expect[--e->nexpect];
        else i++;
    }
    return e->nexpect;
}
