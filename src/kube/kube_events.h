/* kube_events: recording core/v1 Events about objects ("kubectl describe" shows them), the way
 * client-go's recorder does: an Event repeated for the same object, type, reason and message
 * is not created again but has its count and lastTimestamp bumped, so a reconcile loop that
 * fails the same way every few seconds leaves one Event, not thousands.
 *
 * Recording is best-effort by design: a failure is logged and returned, never worth failing a
 * reconcile over. Messages are truncated to 1024 bytes (on a UTF-8 boundary) and must not contain
 * secrets. Thread-safe. */
#ifndef FM_KUBE_EVENTS_H
#define FM_KUBE_EVENTS_H
#include <jansson.h>

#include "kube/kube_http.h"

typedef struct kube_recorder kube_recorder;

/* component: "featherman-operator"; host: the reporting instance (pod name), may be NULL */
kube_recorder *kube_recorder_new(kube_client *c, const char *component, const char *host);
void kube_recorder_free(kube_recorder *r);

/* involved: the object (apiVersion, kind, metadata.name/namespace/uid); type "Normal" or
 * "Warning"; reason UpperCamelCase. 0 when recorded. */
int kube_eventf(kube_recorder *r, const json_t *involved, const char *type, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The Event to create (pure; for tests): name "<object>.<hex ns timestamp>", count 1. */
json_t *kube_event_object(const json_t *involved, const char *type, const char *reason, const char *message,
                          const char *component, const char *host, double now);
/* The dedup key of an event: object identity + type + reason + message (malloc'd). */
char *kube_event_key(const json_t *involved, const char *type, const char *reason, const char *message);
#endif
