/* informer: a local, read-only copy of one resource type (optionally narrowed by namespace
 * and label/field selectors), kept current by a kube_watch, so reconcilers read the world from
 * memory instead of asking the API server on every pass.
 *
 * Objects are keyed "namespace/name" ("name" when cluster-scoped) and held as jansson
 * objects that are never modified once cached: get/list hand out new references (jansson's
 * reference counts are atomic), so a reader may keep an object after the cache moved on, but
 * must json_deep_copy it before changing it. Handlers run on the watch thread after the cache
 * has been updated, so a handler that reads the cache sees the change; a relist diffs the new
 * set against the cache and delivers the adds, updates (resourceVersion changed) and deletes
 * it implies. synced turns true after the first complete list.
 *
 * Secrets are refused: the operator reads them on demand so their contents do not sit in
 * memory (and it needs no list/watch permission on them). */
#ifndef FM_KUBE_INFORMER_H
#define FM_KUBE_INFORMER_H
#include <jansson.h>

#include "base/err.h"
#include "kube/kube_watch.h"

typedef struct {
    void (*on_add)(void *ud, json_t *obj);
    void (*on_update)(void *ud, json_t *old_obj, json_t *new_obj);
    void (*on_delete)(void *ud, json_t *obj); /* the last state known */
    void *ud;
} kube_informer_handlers;

typedef struct kube_informer kube_informer;

/* o->res (and the strings) are copied; o->resource_version is ignored (an informer lists). */
kube_informer *kube_informer_new(kube_client *c, const kube_watch_opts *o, fm_err *err);
/* before kube_informer_start only; at most 8 */
int kube_informer_add_handlers(kube_informer *inf, const kube_informer_handlers *h, fm_err *err);
int kube_informer_start(kube_informer *inf, fm_err *err);
int kube_informer_synced(kube_informer *inf);
/* 0 once synced, -1 (FM_E_TIMEOUT) after timeout_ms */
int kube_informer_wait_synced(kube_informer *inf, long timeout_ms, fm_err *err);
/* new reference, or NULL when not cached; ns NULL for cluster-scoped objects */
json_t *kube_informer_get(kube_informer *inf, const char *ns, const char *name);
/* new array of every cached object (of namespace ns when non-NULL), in key order */
json_t *kube_informer_list(kube_informer *inf, const char *ns);
size_t kube_informer_len(kube_informer *inf);
/* the watch underneath (for its stats); NULL before start */
kube_watch *kube_informer_watch(kube_informer *inf);
/* stops the watch and frees everything */
void kube_informer_free(kube_informer *inf);

/* What the watch delivers, exposed so tests can drive a cache without a server. */
void kube_informer_apply_list(kube_informer *inf, json_t *items);
void kube_informer_apply_event(kube_informer *inf, kube_watch_type type, json_t *obj);

/* "namespace/name" or "name" (malloc'd), NULL when the object has no name */
char *kube_object_key(const json_t *obj);
#endif
