#include "kube/kube_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube_stream.h"
#include "base/log.h"
#include "base/xalloc.h"

#define POOL_MAX 8
#define MAX_RESPONSE (256u << 20) /* a List of everything in a big cluster stays well below */

const kube_resource KUBE_RES_NAMESPACES = {"", "v1", "namespaces", "Namespace", 0};
const kube_resource KUBE_RES_PODS = {"", "v1", "pods", "Pod", 1};
const kube_resource KUBE_RES_SERVICES = {"", "v1", "services", "Service", 1};
const kube_resource KUBE_RES_CONFIGMAPS = {"", "v1", "configmaps", "ConfigMap", 1};
const kube_resource KUBE_RES_SECRETS = {"", "v1", "secrets", "Secret", 1};
const kube_resource KUBE_RES_EVENTS = {"", "v1", "events", "Event", 1};
const kube_resource KUBE_RES_PVCS = {"", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", 1};
const kube_resource KUBE_RES_SERVICEACCOUNTS = {"", "v1", "serviceaccounts", "ServiceAccount", 1};
const kube_resource KUBE_RES_JOBS = {"batch", "v1", "jobs", "Job", 1};
const kube_resource KUBE_RES_DEPLOYMENTS = {"apps", "v1", "deployments", "Deployment", 1};
const kube_resource KUBE_RES_LEASES = {"coordination.k8s.io", "v1", "leases", "Lease", 1};
const kube_resource KUBE_RES_PDBS = {"policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", 1};
const kube_resource KUBE_RES_CRDS = {"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                     "CustomResourceDefinition", 0};

struct kube_client {
    kube_config cfg;
    long timeout_ms;
    pthread_mutex_t mu; /* guards pool and the token cache */
    CURL *pool[POOL_MAX];
    int npool;
    char *file_token;
    time_t file_token_read;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

kube_client *kube_client_new(kube_config *cfg, fm_err *err) {
    pthread_once(&curl_once, curl_init_once);
    if (!cfg->server) {
        fm_fail(err, FM_E_INVALID, "kube client: the config has no server");
        return NULL;
    }
    kube_client *c = fm_xcalloc(1, sizeof *c);
    c->cfg = *cfg;
    memset(cfg, 0, sizeof *cfg);
    c->timeout_ms = 30000;
    if (c->cfg.token_refresh_s <= 0) c->cfg.token_refresh_s = KUBE_TOKEN_REFRESH_S;
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void kube_client_free(kube_client *c) {
    if (!c) return;
    for (int i = 0; i < c->npool; i++) curl_easy_cleanup(c->pool[i]);
    if (c->file_token) {
        memset(c->file_token, 0, strlen(c->file_token));
        free(c->file_token);
    }
    kube_config_free(&c->cfg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void kube_client_set_timeout_ms(kube_client *c, long ms) { c->timeout_ms = ms > 0 ? ms : 30000; }
const char *kube_client_namespace(const kube_client *c) { return c->cfg.namespace_ ? c->cfg.namespace_ : "default"; }
const char *kube_client_server(const kube_client *c) { return c->cfg.server; }

char *kube_client_token(kube_client *c, fm_err *err) {
    if (!c->cfg.token_file) return c->cfg.token ? fm_xstrdup(c->cfg.token) : NULL;
    pthread_mutex_lock(&c->mu);
    time_t now = time(NULL);
    if (!c->file_token || now - c->file_token_read >= c->cfg.token_refresh_s || now < c->file_token_read) {
        fm_err e;
        fm_err_clear(&e);
        char *t = kube_config_read_token_file(&c->cfg, &e);
        if (t) {
            if (c->file_token) {
                memset(c->file_token, 0, strlen(c->file_token));
                free(c->file_token);
            }
            c->file_token = t;
            c->file_token_read = now;
        } else if (!c->file_token) {
            pthread_mutex_unlock(&c->mu);
            if (err) *err = e;
            return NULL;
        } else {
            /* rotation rewrites the file atomically; a failed read is transient, keep the last token */
            fm_warn("kube: %s (keeping the previous token)", e.msg);
        }
    }
    char *t = fm_xstrdup(c->file_token);
    pthread_mutex_unlock(&c->mu);
    return t;
}

/* --- paths --- */

void kube_escape(fm_buf *out, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char ch = *p;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            fm_buf_putc(out, (char)ch);
        } else {
            fm_buf_putc(out, '%');
            fm_buf_putc(out, hex[ch >> 4]);
            fm_buf_putc(out, hex[ch & 15]);
        }
    }
}

static void seg(fm_buf *b, const char *s) {
    fm_buf_putc(b, '/');
    kube_escape(b, s);
}

char *kube_path(const kube_resource *r, const char *ns, const char *name, const char *subresource) {
    fm_buf b;
    fm_buf_init(&b);
    if (!r->group || !*r->group) {
        fm_buf_puts(&b, "/api");
    } else {
        fm_buf_puts(&b, "/apis");
        seg(&b, r->group);
    }
    seg(&b, r->version);
    if (r->namespaced && ns && *ns) {
        fm_buf_puts(&b, "/namespaces");
        seg(&b, ns);
    }
    seg(&b, r->resource);
    if (name && *name) {
        seg(&b, name);
        if (subresource && *subresource) seg(&b, subresource);
    }
    return fm_buf_steal(&b);
}

/* --- errors --- */

int kube_status_to_err(long http, const char *body, size_t len, const char *what, kube_status *st, fm_err *err) {
    const char *msg = NULL, *reason = NULL;
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    const char *kind = json_string_value(json_object_get(j, "kind"));
    if (kind && !strcmp(kind, "Status")) {
        msg = json_string_value(json_object_get(j, "message"));
        reason = json_string_value(json_object_get(j, "reason"));
        json_int_t code = json_integer_value(json_object_get(j, "code"));
        if (code >= 100 && code < 600) http = (long)code; /* a watch ERROR event carries its code here */
    }
    if (st) {
        st->http = http;
        snprintf(st->reason, sizeof st->reason, "%s", reason ? reason : "");
    }
    fm_errcode code;
    switch (http) {
    case 400:
    case 422: code = FM_E_INVALID; break;
    case 401:
    case 403: code = FM_E_REFUSED; break;
    case 404: code = FM_E_NOT_FOUND; break;
    case 409: code = FM_E_BUSY; break;
    case 504: code = FM_E_TIMEOUT; break;
    case 408: code = FM_E_TIMEOUT; break;
    default: code = (http == 410 || http == 429 || http >= 500) ? FM_E_UNAVAILABLE : FM_E_INTERNAL; break;
    }
    const char *w = what ? what : "kubernetes API";
    if (msg && *msg)
        fm_fail(err, code, "%s: %s (HTTP %ld%s%s)", w, msg, http, reason && *reason ? " " : "", reason ? reason : "");
    else if (http == 401)
        fm_fail(err, code, "%s: unauthorized (HTTP 401): the credentials were refused", w);
    else
        fm_fail(err, code, "%s: HTTP %ld from the API server", w, http);
    json_decref(j);
    return -1;
}

/* --- curl --- */

static CURL *handle_get(kube_client *c) {
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->npool) h = c->pool[--c->npool];
    pthread_mutex_unlock(&c->mu);
    if (!h) h = curl_easy_init();
    if (!h) fm_oom(sizeof(void *)); /* curl_easy_init fails only when it cannot allocate */
    return h;
}

static void handle_put(kube_client *c, CURL *h) {
    /* reset drops per-request options but keeps the connection cache for reuse */
    curl_easy_reset(h);
    pthread_mutex_lock(&c->mu);
    if (c->npool < POOL_MAX) {
        c->pool[c->npool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_cleanup(h);
}

static int setup(kube_client *c, CURL *h, const char *method, const char *path_query, const char *content_type,
                 struct curl_slist **hdrs, fm_err *err) {
    fm_buf url;
    fm_buf_init(&url);
    fm_buf_printf(&url, "%s%s", c->cfg.server, path_query);
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    fm_buf_free(&url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "GET")) curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "featherman/" FEATHERMAN_VERSION);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->cfg.insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (c->cfg.ca_pem) {
        struct curl_blob b = {c->cfg.ca_pem, c->cfg.ca_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cfg.cert_pem && c->cfg.key_pem) {
        struct curl_blob cb = {c->cfg.cert_pem, c->cfg.cert_len, CURL_BLOB_COPY};
        struct curl_blob kb = {c->cfg.key_pem, c->cfg.key_len, CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
    }
    struct curl_slist *l = NULL;
    l = curl_slist_append(l, "Accept: application/json");
    if (content_type) {
        fm_buf ct;
        fm_buf_init(&ct);
        fm_buf_printf(&ct, "Content-Type: %s", content_type);
        l = curl_slist_append(l, ct.data);
        fm_buf_free(&ct);
    }
    fm_err te;
    fm_err_clear(&te);
    char *tok = kube_client_token(c, &te);
    if (!tok && te.code != FM_OK) {
        curl_slist_free_all(l);
        if (err) *err = te;
        return -1;
    }
    if (tok) {
        size_t tl = strlen(tok);
        fm_buf ah;
        fm_buf_init(&ah);
        fm_buf_printf(&ah, "Authorization: Bearer %s", tok);
        l = curl_slist_append(l, ah.data);
        memset(ah.data, 0, ah.len);
        fm_buf_free(&ah);
        memset(tok, 0, tl);
        free(tok);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, l);
    *hdrs = l;
    return 0;
}

static void free_hdrs(struct curl_slist *l) {
    /* the Authorization header holds the token: wipe before freeing */
    for (struct curl_slist *p = l; p; p = p->next) memset(p->data, 0, strlen(p->data));
    curl_slist_free_all(l);
}

static int curl_to_err(CURLcode cc, const char *server, fm_err *err) {
    fm_errcode code = cc == CURLE_OPERATION_TIMEDOUT ? FM_E_TIMEOUT : FM_E_UNAVAILABLE;
    return fm_fail(err, code, "kubernetes API %s: %s", server, curl_easy_strerror(cc));
}

typedef struct {
    fm_buf *b;
    int overflow;
} collect_ctx;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
    collect_ctx *x = ud;
    if (x->b->len + n > MAX_RESPONSE) {
        x->overflow = 1;
        return 0;
    }
    fm_buf_append(x->b, p, n * size);
    return n * size;
}

int kube_request(kube_client *c, const char *method, const char *path_query, const char *content_type,
                 const char *body, size_t body_len, long *http, fm_buf *resp, fm_err *err) {
    CURL *h = handle_get(c);
    struct curl_slist *hdrs = NULL;
    *http = 0;
    if (setup(c, h, method, path_query, content_type, &hdrs, err)) {
        handle_put(c, h);
        return -1;
    }
    fm_buf sink;
    fm_buf_init(&sink);
    collect_ctx cx = {resp ? resp : &sink, 0};
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &cx);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode cc = curl_easy_perform(h);
    int rc = 0;
    if (cx.overflow) {
        rc = fm_fail(err, FM_E_UNAVAILABLE, "kubernetes API: response to %s %s exceeds %u bytes", method,
                     path_query, MAX_RESPONSE);
    } else if (cc != CURLE_OK) {
        rc = curl_to_err(cc, c->cfg.server, err);
    } else {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);
    }
    free_hdrs(hdrs);
    fm_buf_free(&sink);
    handle_put(c, h);
    return rc;
}

/* --- streaming (for kube_watch) --- */

typedef struct {
    CURL *h;
    long http;
    fm_buf errbody;
    size_t (*fn)(const char *, size_t, void *);
    void *ud;
    int (*should_stop)(void *);
    void *stop_ud;
} stream_ctx;

static size_t stream_write(char *p, size_t size, size_t n, void *ud) {
    stream_ctx *s = ud;
    if (!s->http) curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->http);
    if (s->http != 200) {
        /* an error answer is one Status object; keep it for the caller's message */
        if (s->errbody.len < 65536) fm_buf_append(&s->errbody, p, size * n);
        return size * n;
    }
    if (s->fn(p, size * n, s->ud)) return 0; /* the consumer asked to stop */
    return size * n;
}

static int stream_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
    stream_ctx *s = ud;
    return s->should_stop && s->should_stop(s->stop_ud) ? 1 : 0;
}

int kube_stream(kube_client *c, const char *path_query, long timeout_s,
                size_t (*fn)(const char *data, size_t len, void *ud), void *ud, int (*should_stop)(void *),
                void *stop_ud, kube_status *st, fm_err *err) {
    CURL *h = handle_get(c);
    struct curl_slist *hdrs = NULL;
    if (st) memset(st, 0, sizeof *st);
    if (setup(c, h, "GET", path_query, NULL, &hdrs, err)) {
        handle_put(c, h);
        return -1;
    }
    stream_ctx s = {.h = h, .fn = fn, .ud = ud, .should_stop = should_stop, .stop_ud = stop_ud};
    fm_buf_init(&s.errbody);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &s);
    /* the server ends the watch after timeoutSeconds; our own limit only catches a dead peer */
    if (timeout_s > 0) curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (timeout_s + 30) * 1000L);
    CURLcode cc = curl_easy_perform(h);
    if (!s.http) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &s.http);
    int rc = 0;
    if (st) st->http = s.http;
    if (cc == CURLE_ABORTED_BY_CALLBACK || (cc == CURLE_WRITE_ERROR && s.http == 200)) {
        rc = 1; /* stopped on request */
    } else if (cc != CURLE_OK) {
        rc = curl_to_err(cc, c->cfg.server, err);
    } else if (s.http != 200) {
        rc = kube_status_to_err(s.http, s.errbody.data, s.errbody.len, "watch", st, err);
    }
    free_hdrs(hdrs);
    fm_buf_free(&s.errbody);
    handle_put(c, h);
    return rc;
}

/* --- typed calls --- */

static int call(kube_client *c, const char *method, const char *path_query, const char *content_type,
                const json_t *body, json_t **out, kube_status *st, const char *what, fm_err *err) {
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text) return fm_fail(err, FM_E_INTERNAL, "%s: cannot serialize the request body", what);
    fm_buf resp;
    fm_buf_init(&resp);
    long http = 0;
    if (out) *out = NULL;
    if (st) memset(st, 0, sizeof *st);
    int rc = kube_request(c, method, path_query, content_type, text, text ? strlen(text) : 0, &http, &resp, err);
    free(text);
    if (rc == 0 && (http < 200 || http > 299)) rc = kube_status_to_err(http, resp.data, resp.len, what, st, err);
    if (rc == 0) {
        if (st) st->http = http;
        if (out) {
            json_error_t je;
            *out = resp.len ? json_loadb(resp.data, resp.len, 0, &je) : json_object();
            if (!*out) rc = fm_fail(err, FM_E_UNAVAILABLE, "%s: the API server answered invalid JSON: %s", what, je.text);
        }
    }
    fm_buf_free(&resp);
    return rc;
}

static void what_of(char *w, size_t n, const char *verb, const kube_resource *r, const char *ns, const char *name) {
    int nsd = ns && *ns && r->namespaced;
    if (name && *name)
        snprintf(w, n, "%s %s %s%s%s", verb, r->resource, nsd ? ns : "", nsd ? "/" : "", name);
    else
        snprintf(w, n, "%s %s%s%s", verb, r->resource, nsd ? " in " : "", nsd ? ns : "");
}

static const char *meta_str(const json_t *obj, const char *field) {
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), field));
}

int kube_get_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name, json_t **out,
                kube_status *st, fm_err *err) {
    char w[512];
    what_of(w, sizeof w, "get", r, ns, name);
    char *p = kube_path(r, ns, name, NULL);
    int rc = call(c, "GET", p, NULL, NULL, out, st, w, err);
    free(p);
    return rc;
}

int kube_get(kube_client *c, const kube_resource *r, const char *ns, const char *name, json_t **out, fm_err *err) {
    return kube_get_ex(c, r, ns, name, out, NULL, err);
}

static void list_query(fm_buf *b, const kube_list_opts *o, const char *cont) {
    char sep = '?';
#define Q(k, v)                                                                                                        \
    do {                                                                                                               \
        fm_buf_printf(b, "%c%s=", sep, k);                                                                             \
        kube_escape(b, v);                                                                                             \
        sep = '&';                                                                                                     \
    } while (0)
    if (o && o->label_selector && *o->label_selector) Q("labelSelector", o->label_selector);
    if (o && o->field_selector && *o->field_selector) Q("fieldSelector", o->field_selector);
    if (o && o->limit > 0) {
        fm_buf_printf(b, "%climit=%ld", sep, o->limit);
        sep = '&';
    }
    if (cont && *cont) Q("continue", cont);
    else if (o && o->resource_version) Q("resourceVersion", o->resource_version);
#undef Q
}

int kube_list_page(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o,
                   const char *continue_token, json_t **out, char **cont, kube_status *st, fm_err *err) {
    char w[512];
    what_of(w, sizeof w, "list", r, ns, NULL);
    char *p = kube_path(r, ns, NULL, NULL);
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, p);
    free(p);
    list_query(&b, o, continue_token);
    if (cont) *cont = NULL;
    int rc = call(c, "GET", b.data, NULL, NULL, out, st, w, err);
    fm_buf_free(&b);
    if (rc == 0) {
        if (!json_is_array(json_object_get(*out, "items"))) {
            json_decref(*out);
            *out = NULL;
            return fm_fail(err, FM_E_UNAVAILABLE, "%s: the answer is not a List", w);
        }
        const char *ct = meta_str(*out, "continue");
        if (cont && ct && *ct) *cont = fm_xstrdup(ct);
    }
    return rc;
}

int kube_list_ex(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o, json_t **out,
                 kube_status *st, fm_err *err) {
    char *cont = NULL;
    *out = NULL;
    if (kube_list_page(c, r, ns, o, NULL, out, &cont, st, err)) return -1;
    json_t *items = json_object_get(*out, "items");
    while (cont) {
        json_t *page = NULL;
        char *next = NULL;
        int rc = kube_list_page(c, r, ns, o, cont, &page, &next, st, err);
        free(cont);
        cont = next;
        if (rc) {
            json_decref(*out);
            *out = NULL;
            return -1;
        }
        json_array_extend(items, json_object_get(page, "items"));
        json_decref(page);
    }
    json_t *md = json_object_get(*out, "metadata");
    if (json_is_object(md)) json_object_del(md, "continue");
    return 0;
}

int kube_list(kube_client *c, const kube_resource *r, const char *ns, const kube_list_opts *o, json_t **out,
              fm_err *err) {
    return kube_list_ex(c, r, ns, o, out, NULL, err);
}

int kube_create_ex(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out,
                   kube_status *st, fm_err *err) {
    char w[512];
    what_of(w, sizeof w, "create", r, ns, meta_str(obj, "name") ? meta_str(obj, "name") : meta_str(obj, "generateName"));
    char *p = kube_path(r, ns, NULL, NULL);
    int rc = call(c, "POST", p, "application/json", obj, out, st, w, err);
    free(p);
    return rc;
}

int kube_create(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out, fm_err *err) {
    return kube_create_ex(c, r, ns, obj, out, NULL, err);
}

int kube_update_ex(kube_client *c, const kube_resource *r, const char *ns, const char *subresource, json_t *obj,
                   json_t **out, kube_status *st, fm_err *err) {
    const char *name = meta_str(obj, "name");
    if (!name || !*name) return fm_fail(err, FM_E_INVALID, "update %s: the object has no metadata.name", r->resource);
    char w[512];
    what_of(w, sizeof w, subresource ? "update status of" : "update", r, ns, name);
    char *p = kube_path(r, ns, name, subresource);
    int rc = call(c, "PUT", p, "application/json", obj, out, st, w, err);
    free(p);
    return rc;
}

int kube_update(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out, fm_err *err) {
    return kube_update_ex(c, r, ns, NULL, obj, out, NULL, err);
}

int kube_update_status(kube_client *c, const kube_resource *r, const char *ns, json_t *obj, json_t **out,
                       fm_err *err) {
    return kube_update_ex(c, r, ns, "status", obj, out, NULL, err);
}

int kube_delete_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name,
                   const kube_delete_opts *o, json_t **out, kube_status *st, fm_err *err) {
    char w[512];
    what_of(w, sizeof w, "delete", r, ns, name);
    json_t *body = NULL;
    if (o) {
        body = json_pack("{s:s,s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
        if (o->propagation_policy) json_object_set_new(body, "propagationPolicy", json_string(o->propagation_policy));
        if (o->grace_period_seconds >= 0)
            json_object_set_new(body, "gracePeriodSeconds", json_integer(o->grace_period_seconds));
        if (o->precondition_uid || o->precondition_resource_version) {
            json_t *pre = json_object();
            if (o->precondition_uid) json_object_set_new(pre, "uid", json_string(o->precondition_uid));
            if (o->precondition_resource_version)
                json_object_set_new(pre, "resourceVersion", json_string(o->precondition_resource_version));
            json_object_set_new(body, "preconditions", pre);
        }
    }
    char *p = kube_path(r, ns, name, NULL);
    int rc = call(c, "DELETE", p, body ? "application/json" : NULL, body, out, st, w, err);
    free(p);
    json_decref(body);
    return rc;
}

int kube_delete(kube_client *c, const kube_resource *r, const char *ns, const char *name, const kube_delete_opts *o,
                json_t **out, fm_err *err) {
    return kube_delete_ex(c, r, ns, name, o, out, NULL, err);
}

int kube_patch_ex(kube_client *c, const kube_resource *r, const char *ns, const char *name, const char *subresource,
                  kube_patch_type type, const json_t *patch, const char *field_manager, int force, json_t **out,
                  kube_status *st, fm_err *err) {
    static const char *const ctypes[] = {"application/merge-patch+json", "application/json-patch+json",
                                         "application/strategic-merge-patch+json", "application/apply-patch+yaml"};
    char w[512];
    what_of(w, sizeof w, type == KUBE_PATCH_APPLY ? "apply" : "patch", r, ns, name);
    if (!name || !*name) return fm_fail(err, FM_E_INVALID, "%s: no name", w);
    if (type == KUBE_PATCH_APPLY && (!field_manager || !*field_manager))
        return fm_fail(err, FM_E_INVALID, "%s: server-side apply needs a field manager", w);
    char *p = kube_path(r, ns, name, subresource);
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_puts(&b, p);
    free(p);
    char sep = '?';
    if (field_manager && *field_manager) {
        fm_buf_printf(&b, "%cfieldManager=", sep);
        kube_escape(&b, field_manager);
        sep = '&';
    }
    if (type == KUBE_PATCH_APPLY && force) fm_buf_printf(&b, "%cforce=true", sep);
    int rc = call(c, "PATCH", b.data, ctypes[type], patch, out, st, w, err);
    fm_buf_free(&b);
    return rc;
}

int kube_patch(kube_client *c, const kube_resource *r, const char *ns, const char *name, const char *subresource,
               kube_patch_type type, const json_t *patch, const char *field_manager, int force, json_t **out,
               fm_err *err) {
    return kube_patch_ex(c, r, ns, name, subresource, type, patch, field_manager, force, out, NULL, err);
}

static int apply_sub(kube_client *c, const kube_resource *r, json_t *obj, const char *sub, const char *field_manager,
                     int force, json_t **out, fm_err *err) {
    const char *name = meta_str(obj, "name");
    const char *ns = r->namespaced ? meta_str(obj, "namespace") : NULL;
    if (r->namespaced && (!ns || !*ns))
        return fm_fail(err, FM_E_INVALID, "apply %s %s: the object has no metadata.namespace", r->resource,
                       name ? name : "");
    return kube_patch(c, r, ns, name, sub, KUBE_PATCH_APPLY, obj, field_manager, force, out, err);
}

int kube_apply(kube_client *c, const kube_resource *r, json_t *obj, const char *field_manager, int force,
               json_t **out, fm_err *err) {
    return apply_sub(c, r, obj, NULL, field_manager, force, out, err);
}

int kube_apply_status(kube_client *c, const kube_resource *r, json_t *obj, const char *field_manager, int force,
                      json_t **out, fm_err *err) {
    return apply_sub(c, r, obj, "status", field_manager, force, out, err);
}
