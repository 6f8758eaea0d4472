/* kube_http: requests to the Kubernetes API server over libcurl.
 *
 * A kube_client owns its config and a pool of CURL handles (a handle is used by one thread at a
 * time and returned to the pool, so connections are reused across requests and threads; a
 * watch holds its own handle for the life of the stream). TLS material is given to curl from
 * memory (CAINFO/SSLCERT/SSLKEY blobs); the bearer token is read through kube_client_token,
 * which re-reads a token file every token_refresh_s.
 *
 * Every call returns 0 on success and -1 with err set on failure. An API server error
 * (a Status object) becomes an fm_err carrying the server's message:
 *   400 → FM_E_INVALID, 401/403 → FM_E_REFUSED, 404 → FM_E_NOT_FOUND,
 *   409 (Conflict, AlreadyExists) → FM_E_BUSY, 410 Gone → FM_E_UNAVAILABLE (watches relist on it
 *   themselves), 422 → FM_E_INVALID, 429/5xx → FM_E_UNAVAILABLE, 504 / curl timeouts →
 *   FM_E_TIMEOUT, connection failures → FM_E_UNAVAILABLE.
 * Callers that must tell cases apart (409 vs 404, AlreadyExists vs Conflict) pass a kube_status
 * to the *_ex functions or use kube_request directly.
 *
 * JSON in and out is jansson; objects returned are new references owned by the caller. */
#ifndef FM_KUBE_HTTP_H
#define FM_KUBE_HTTP_H
#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "kube/kube_config.h"

typedef struct kube_client kube_client;

/* A resource type: group "" is the core API (/api/v1). */
typedef struct {
    const char *group;
    const char *version;
    const char *resource; /* plural, lower case: "pods", "leases", "ducklakecatalogs" */
    const char *kind;
    int namespaced;
} kube_resource;

extern const kube_resource KUBE_RES_NAMESPACES, KUBE_RES_PODS, KUBE_RES_SERVICES, KUBE_RES_CONFIGMAPS,
    KUBE_RES_SECRETS, KUBE_RES_EVENTS, KUBE_RES_PVCS, KUBE_RES_SERVICEACCOUNTS, KUBE_RES_JOBS,
    KUBE_RES_DEPLOYMENTS, KUBE_RES_LEASES, KUBE_RES_PDBS, KUBE_RES_CRDS;

/* What the server said, for callers that need more than the fm_err category. */
typedef struct {
    long http;         /* HTTP status, 0 when no response arrived */
    char reason[48];   /* Status.reason: "Conflict", "AlreadyExists", "NotFound", "Expired", "Gone"... */
} kube_status;

/* --- client --- */
/* Takes ownership of *cfg's contents (cfg is zeroed). */
kube_client *kube_client_new(kube_config *cfg, fm_err *err);
void kube_client_free(kube_client *c);
/* per-request timeout for non-watch requests; default 30 s */
void kube_client_set_timeout_ms(kube_client *c, long ms);
const char *kube_client_namespace(const kube_client *c);
const char *kube_client_server(const kube_client *c);
/* the bearer token to send now (malloc'd) or NULL when none is configured (err is then clear) */
char *kube_client_token(kube_client *c, fm_err *err);

/* --- paths --- */
/* "/api/v1/namespaces/ns/pods/name/status" or "/apis/group/version/...": each segment
 * percent-escaped. ns NULL for cluster-scoped resources (or to address all namespaces when
 * listing), name / subresource NULL when absent. malloc'd. */
char *kube_path(const kube_resource *r, const char *ns, const char *name, const char *subresource);
/* percent-escapes s for a path segment or a query value (everything but RFC 3986 unreserved) */
void kube_escape(fm_buf *out, const char *s);

/* --- errors --- */
/* Maps a non-2xx response (body: a Status object, or anything else) to err; always -1. */
int kube_status_to_err(long http, const char *body, size_t len, const char *what, kube_status *st, fm_err *err);

/* --- raw request --- */
/* method, path (from kube_path) with an optional query string ("?a=b"), an optional body with
 * its content type. The response body lands in resp (may be NULL); *http gets the status.
 * Returns 0 when a response arrived (whatever its status), -1 on a transport failure. */
int kube_request(kube_client *c, const char *method, const char *path_query, const char *content_type,
                 const char *body, size_t body_len, long *http, fm_buf *resp, fm_err *err);

/* --- typed calls --- */
typedef struct {
    const char *label_selector;
    const char *field_selector;
    long limit;                  /* page size; 0 = server default (no pagination) */
    const char *resource_version; /* "0" = any cached version; NULL = most recent */
} kube_list_opts;

int kube_get(kube_client *c, const kube_resource *r, const char *ns, const char *name, json_t **out, fm_err *err);
int kube_get_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name, json_t **out,
                kube_status *st, fm_err *err);
/* One page: *cont gets the continue token (malloc'd, NULL on the last page). */
int kube_list_page(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o,
                   const char *continue_token, json_t **out, char **cont, kube_status *st, fm_err *err);
/* All pages: the first page's List with every page's items appended; metadata.resourceVersion
 * is the first page's (the snapshot a watch must start from). */
int kube_list(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o, json_t **out,
              fm_err *err);
int kube_list_ex(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o, json_t **out,
                 kube_status *st, fm_err *err);
int kube_create(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out, fm_err *err);
int kube_create_ex(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out,
                   kube_status *st, fm_err *err);
/* PUT: obj's metadata.resourceVersion makes it a compare-and-swap (409 when stale). */
int kube_update(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out, fm_err *err);
int kube_update_status(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out,
                       fm_err *err);
int kube_update_ex(kube_client *c, const kube_resource *r, const char *ns, const char *subresource, json_t *obj,
                   json_t **out, kube_status *st, fm_err *err);

typedef struct {
    const char *propagation_policy;   /* "Foreground" | "Background" | "Orphan" | NULL */
    long grace_period_seconds;        /* < 0: unset */
    const char *precondition_uid;
    const char *precondition_resource_version;
} kube_delete_opts;
/* out (may be NULL) gets the object (while finalizers run) or the Status */
int kube_delete(kube_client *c, const kube_resource *r, const char *ns, const char *name, const kube_delete_opts *o,
                json_t **out, fm_err *err);
int kube_delete_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name,
                   const kube_delete_opts *o, json_t **out, kube_status *st, fm_err *err);

typedef enum { KUBE_PATCH_MERGE, KUBE_PATCH_JSON, KUBE_PATCH_STRATEGIC, KUBE_PATCH_APPLY } kube_patch_type;
/* subresource NULL or "status"/"scale"; field_manager required for APPLY (and recorded for the
 * others when given); force only for APPLY (take ownership of conflicting fields). */
int kube_patch(kube_client *c, const kube_resource *r, const char *ns, const char *name, const char *subresource,
               kube_patch_type type, const json_t *patch, const char *field_manager, int force, json_t **out,
               fm_err *err);
int kube_patch_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name, const char *subresource,
                  kube_patch_type type, const json_t *patch, const char *field_manager, int force, json_t **out,
                  kube_status *st, fm_err *err);
/* server-side apply of a whole object (name/namespace from obj.metadata) */
int kube_apply(kube_client *c, const kube_resource *r, json_t *obj, const char *field_manager, int force,
               json_t **out, fm_err *err);
int kube_apply_status(kube_client *c, const kube_resource *r, json_t *obj, const char *field_manager, int force,
                      json_t **out, fm_err *err);
#endif
