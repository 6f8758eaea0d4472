#include "kube/informer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/xalloc.h"

#define MAX_HANDLERS 8

struct kube_informer {
    kube_client *c;
    kube_resource res;
    kube_watch_opts o;
    char *ns, *label, *field;
    kube_informer_handlers h[MAX_HANDLERS];
    int nh;
    kube_watch *w;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when synced */
    json_t *cache;     /* key → object; jansson's hash table, guarded by mu */
    int synced;
};

char *kube_object_key(const json_t *obj) {
    json_t *md = json_object_get(obj, "metadata");
    const char *name = json_string_value(json_object_get(md, "name"));
    const char *ns = json_string_value(json_object_get(md, "namespace"));
    if (!name || !*name) return NULL;
    fm_buf b;
    fm_buf_init(&b);
    if (ns && *ns) fm_buf_printf(&b, "%s/", ns);
    fm_buf_puts(&b, name);
    return fm_buf_steal(&b);
}

static const char *rv_of(const json_t *obj) {
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static int same_rv(const json_t *a, const json_t *b) {
    const char *ra = rv_of(a), *rb = rv_of(b);
    return ra && rb && !strcmp(ra, rb);
}

static char *dup_or_null(const char *s) { return s && *s ? fm_xstrdup(s) : NULL; }

kube_informer *kube_informer_new(kube_client *c, const kube_watch_opts *o, fm_err *err) {
    if (!o->res) {
        fm_fail(err, FM_E_INVALID, "informer: no resource");
        return NULL;
    }
    if ((!o->res->group || !*o->res->group) && !strcmp(o->res->resource, "secrets")) {
        fm_fail(err, FM_E_REFUSED, "informer: Secrets are not cached; read them on demand");
        return NULL;
    }
    kube_informer *inf = fm_xcalloc(1, sizeof *inf);
    inf->c = c;
    inf->res = *o->res;
    inf->o = *o;
    inf->o.res = &inf->res;
    inf->ns = dup_or_null(o->ns);
    inf->label = dup_or_null(o->label_selector);
    inf->field = dup_or_null(o->field_selector);
    inf->o.ns = inf->ns;
    inf->o.label_selector = inf->label;
    inf->o.field_selector = inf->field;
    inf->o.resource_version = NULL;
    inf->cache = json_object();
    pthread_mutex_init(&inf->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&inf->cv, &ca);
    pthread_condattr_destroy(&ca);
    return inf;
}

int kube_informer_add_handlers(kube_informer *inf, const kube_informer_handlers *h, fm_err *err) {
    if (inf->w) return fm_fail(err, FM_E_INVALID, "informer %s: handlers must be added before start", inf->res.resource);
    if (inf->nh == MAX_HANDLERS) return fm_fail(err, FM_E_INVALID, "informer %s: too many handlers", inf->res.resource);
    inf->h[inf->nh++] = *h;
    return 0;
}

/* --- cache updates (watch thread) --- */

typedef struct {
    kube_watch_type type;
    json_t *old_obj, *new_obj;
} change;

static void deliver(kube_informer *inf, const change *ch, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < inf->nh; k++) {
            const kube_informer_handlers *h = &inf->h[k];
            if (ch[i].type == KUBE_WATCH_ADDED && h->on_add) h->on_add(h->ud, ch[i].new_obj);
            if (ch[i].type == KUBE_WATCH_MODIFIED && h->on_update) h->on_update(h->ud, ch[i].old_obj, ch[i].new_obj);
            if (ch[i].type == KUBE_WATCH_DELETED && h->on_delete) h->on_delete(h->ud, ch[i].old_obj);
        }
    for (size_t i = 0; i < n; i++) {
        json_decref(ch[i].old_obj);
        json_decref(ch[i].new_obj);
    }
}

void kube_informer_apply_list(kube_informer *inf, json_t *items) {
    json_t *fresh = json_object();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        char *key = kube_object_key(it);
        if (!key) continue;
        json_object_set_nocheck(fresh, key, it);
        free(key);
    }
    size_t cap = json_object_size(fresh) + 16, n = 0;
    change *ch = fm_xmalloc(cap * sizeof *ch);
    pthread_mutex_lock(&inf->mu);
    const char *key;
    json_t *obj;
    json_object_foreach(fresh, key, obj) {
        json_t *old = json_object_get(inf->cache, key);
        if (old && same_rv(old, obj)) continue;
        ch[n++] = (change){old ? KUBE_WATCH_MODIFIED : KUBE_WATCH_ADDED, json_incref(old), json_incref(obj)};
    }
    json_object_foreach(inf->cache, key, obj) {
        if (json_object_get(fresh, key)) continue;
        if (n == cap) {
            cap *= 2;
            ch = fm_xrealloc(ch, cap * sizeof *ch);
        }
        ch[n++] = (change){KUBE_WATCH_DELETED, json_incref(obj), NULL};
    }
    json_t *gone = inf->cache;
    inf->cache = fresh;
    int was_synced = inf->synced;
    inf->synced = 1;
    if (!was_synced) pthread_cond_broadcast(&inf->cv);
    pthread_mutex_unlock(&inf->mu);
    json_decref(gone);
    deliver(inf, ch, n);
    free(ch);
}

void kube_informer_apply_event(kube_informer *inf, kube_watch_type type, json_t *obj) {
    if (type != KUBE_WATCH_ADDED && type != KUBE_WATCH_MODIFIED && type != KUBE_WATCH_DELETED) return;
    char *key = kube_object_key(obj);
    if (!key) return;
    change ch = {type, NULL, NULL};
    int changed = 0;
    pthread_mutex_lock(&inf->mu);
    json_t *old = json_object_get(inf->cache, key);
    if (type == KUBE_WATCH_DELETED) {
        if (old) {
            ch.old_obj = json_incref(obj);
            json_object_del(inf->cache, key);
            changed = 1;
        }
    } else if (!old || !same_rv(old, obj)) {
        /* a watch resumed after a relist can repeat an event the list already delivered */
        ch.type = old ? KUBE_WATCH_MODIFIED : KUBE_WATCH_ADDED;
        ch.old_obj = json_incref(old);
        ch.new_obj = json_incref(obj);
        json_object_set_nocheck(inf->cache, key, obj);
        changed = 1;
    }
    pthread_mutex_unlock(&inf->mu);
    free(key);
    if (changed) deliver(inf, &ch, 1);
}

/* What no reconciler reads and most of an object's size: the server-side-apply bookkeeping and
 * kubectl's copy of the last applied object (controller-runtime strips managedFields too). The
 * objects come fresh from the watch's parser, so trimming them in place is safe. */
static void trim(json_t *obj) {
    json_t *md = json_object_get(obj, "metadata");
    json_object_del(md, "managedFields");
    json_object_del(json_object_get(md, "annotations"), "kubectl.kubernetes.io/last-applied-configuration");
}

static void on_list(void *ud, json_t *items) {
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) trim(it);
    kube_informer_apply_list(ud, items);
}

static void on_event(void *ud, kube_watch_type t, json_t *obj) {
    trim(obj);
    kube_informer_apply_event(ud, t, obj);
}

int kube_informer_start(kube_informer *inf, fm_err *err) {
    if (inf->w) return 0;
    kube_watch_handlers h = {on_list, on_event, inf};
    inf->w = kube_watch_start(inf->c, &inf->o, &h, err);
    return inf->w ? 0 : -1;
}

kube_watch *kube_informer_watch(kube_informer *inf) { return inf->w; }

int kube_informer_synced(kube_informer *inf) {
    pthread_mutex_lock(&inf->mu);
    int s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s;
}

int kube_informer_wait_synced(kube_informer *inf, long timeout_ms, fm_err *err) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&inf->mu);
    while (!inf->synced)
        if (pthread_cond_timedwait(&inf->cv, &inf->mu, &ts) == ETIMEDOUT) break;
    int s = inf->synced;
    pthread_mutex_unlock(&inf->mu);
    return s ? 0 : fm_fail(err, FM_E_TIMEOUT, "informer %s: not synced after %ld ms", inf->res.resource, timeout_ms);
}

json_t *kube_informer_get(kube_informer *inf, const char *ns, const char *name) {
    fm_buf k;
    fm_buf_init(&k);
    if (ns && *ns) fm_buf_printf(&k, "%s/", ns);
    fm_buf_puts(&k, name);
    pthread_mutex_lock(&inf->mu);
    json_t *o = json_incref(json_object_get(inf->cache, k.data));
    pthread_mutex_unlock(&inf->mu);
    fm_buf_free(&k);
    return o;
}

static int cmp_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

json_t *kube_informer_list(kube_informer *inf, const char *ns) {
    json_t *arr = json_array();
    size_t nslen = ns ? strlen(ns) : 0;
    pthread_mutex_lock(&inf->mu);
    size_t n = json_object_size(inf->cache), m = 0;
    const char **keys = fm_xmalloc((n ? n : 1) * sizeof *keys);
    const char *key;
    json_t *obj;
    json_object_foreach(inf->cache, key, obj) {
        if (ns && (strncmp(key, ns, nslen) || key[nslen] != '/')) continue;
        keys[m++] = key;
    }
    qsort(keys, m, sizeof *keys, cmp_key);
    for (size_t i = 0; i < m; i++) json_array_append(arr, json_object_get(inf->cache, keys[i]));
    pthread_mutex_unlock(&inf->mu);
    free(keys);
    return arr;
}

size_t kube_informer_len(kube_informer *inf) {
    pthread_mutex_lock(&inf->mu);
    size_t n = json_object_size(inf->cache);
    pthread_mutex_unlock(&inf->mu);
    return n;
}

void kube_informer_free(kube_informer *inf) {
    if (!inf) return;
    kube_watch_stop(inf->w);
    json_decref(inf->cache);
    free(inf->ns);
    free(inf->label);
    free(inf->field);
    pthread_cond_destroy(&inf->cv);
    pthread_mutex_destroy(&inf->mu);
    free(inf);
}
