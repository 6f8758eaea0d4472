/* Client token set and the gateway's Secret reader (contract in gw_tokens.h). */
#include "gateway/gw_tokens.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube_config.h"
#include "base/base64.h"
#include "base/log.h"
#include "base/clock.h"
#include "base/xalloc.h"
#include "http/http.h"

typedef fm_http_token digest; /* kept as hashes only */

struct fm_tokset {
    pthread_rwlock_t lock;
    digest *hashes;
    size_t n;
};

fm_tokset *fm_tokset_new(void) {
    fm_tokset *s = fm_xcalloc(1, sizeof *s);
    pthread_rwlock_init(&s->lock, NULL);
    return s;
}

void fm_tokset_free(fm_tokset *s) {
    if (!s) return;
    free(s->hashes);
    pthread_rwlock_destroy(&s->lock);
    free(s);
}

static size_t trimmed_len(const char *t, size_t len) {
    while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' || t[len - 1] == ' ' || t[len - 1] == '\t')) len--;
    return len;
}

static void swap_in(fm_tokset *s, digest *h, size_t n) {
    pthread_rwlock_wrlock(&s->lock);
    digest *old = s->hashes;
    s->hashes = h;
    s->n = n;
    pthread_rwlock_unlock(&s->lock);
    free(old);
}

size_t fm_tokset_set(fm_tokset *s, const char *const *tokens, size_t n) {
    digest *h = fm_xcalloc(n ? n : 1, sizeof *h);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = tokens[i] ? trimmed_len(tokens[i], strlen(tokens[i])) : 0;
        if (len) fm_http_token_set(&h[k++], tokens[i], len);
    }
    swap_in(s, h, k);
    return k;
}

int fm_tokset_load_secret(fm_tokset *s, json_t *secret, size_t *count) {
    if (!json_is_object(secret)) return -1;
    json_t *data = json_object_get(secret, "data"), *sdata = json_object_get(secret, "stringData");
    size_t cap = json_object_size(data) + json_object_size(sdata);
    digest *h = fm_xcalloc(cap ? cap : 1, sizeof *h);
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v) {
        if (!json_is_string(v)) continue;
        size_t len = 0;
        char *plain = fm_b64decode(json_string_value(v), &len);
        if (!plain) continue;
        len = trimmed_len(plain, len);
        if (len) fm_http_token_set(&h[k++], plain, len);
        OPENSSL_cleanse(plain, len);
        free(plain);
    }
    json_object_foreach(sdata, key, v) {
        if (!json_is_string(v)) continue;
        size_t len = trimmed_len(json_string_value(v), json_string_length(v));
        if (len) fm_http_token_set(&h[k++], json_string_value(v), len);
    }
    swap_in(s, h, k);
    if (count) *count = k;
    return 0;
}

int fm_tokset_check(fm_tokset *s, const char *token, size_t len) {
    pthread_rwlock_rdlock(&s->lock);
    int ok = fm_http_token_in(s->hashes, s->n, token, len);
    pthread_rwlock_unlock(&s->lock);
    return ok;
}

size_t fm_tokset_size(fm_tokset *s) {
    pthread_rwlock_rdlock(&s->lock);
    size_t n = s->n;
    pthread_rwlock_unlock(&s->lock);
    return n;
}

/* ---- the Secret reader ------------------------------------------------------------------------ */

#define INTERNAL_CACHE_MS 10000

struct fm_gw_secrets {
    kube_client *c;
    char *ns, *tokens_secret, *internal_secret;
    long refresh_ms;
    fm_tokset *set;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop, loaded, last_count, last_state; /* last_state: 0 unknown, 1 ok, 2 missing, 3 failing */
    char *internal;                            /* cached internal token */
    int64_t internal_at;
};

static void refresh_tokens(fm_gw_secrets *g) {
    json_t *sec = NULL;
    fm_err err;
    fm_err_clear(&err);
    kube_status st = {0};
    int rc = kube_get_ex(g->c, &KUBE_RES_SECRETS, g->ns, g->tokens_secret, &sec, &st, &err);
    int state;
    size_t n = 0;
    if (rc == 0) {
        fm_tokset_load_secret(g->set, sec, &n);
        state = 1;
    } else if (st.http == 404) {
        fm_tokset_set(g->set, NULL, 0);
        state = 2;
    } else {
        state = 3;
    }
    json_decref(sec);
    pthread_mutex_lock(&g->mu);
    if (state != g->last_state || (state == 1 && (int)n != g->last_count)) {
        if (state == 1) fm_info("client tokens: %zu from Secret %s/%s", n, g->ns, g->tokens_secret);
        else if (state == 2) fm_warn("client tokens: Secret %s/%s not found: every query is refused", g->ns, g->tokens_secret);
        else fm_warn("client tokens: cannot read Secret %s/%s (keeping the last set): %s", g->ns, g->tokens_secret, err.msg);
    }
    g->last_state = state;
    if (state == 1) g->last_count = (int)n;
    if (state != 3) g->loaded = 1;
    pthread_mutex_unlock(&g->mu);
}

static void *secrets_thread(void *arg) {
    fm_gw_secrets *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        pthread_mutex_unlock(&g->mu);
        refresh_tokens(g);
        pthread_mutex_lock(&g->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += g->refresh_ms / 1000;
        ts.tv_nsec += (g->refresh_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        if (!g->stop) pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

fm_gw_secrets *fm_gw_secrets_start(kube_client *c, const char *ns, const char *tokens_secret,
                                   const char *internal_secret, long refresh_ms, fm_tokset *set, fm_err *err) {
    fm_gw_secrets *g = fm_xcalloc(1, sizeof *g);
    g->c = c;
    g->ns = fm_xstrdup(ns);
    g->tokens_secret = fm_xstrdup(tokens_secret);
    g->internal_secret = fm_xstrdup(internal_secret);
    g->refresh_ms = refresh_ms > 0 ? refresh_ms : 2000;
    g->set = set;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->th, NULL, secrets_thread, g)) {
        fm_fail(err, FM_E_INTERNAL, "cannot start the Secret reader thread");
        pthread_cond_destroy(&g->cv);
        pthread_mutex_destroy(&g->mu);
        free(g->ns), free(g->tokens_secret), free(g->internal_secret), free(g);
        return NULL;
    }
    return g;
}

int fm_gw_secrets_loaded(fm_gw_secrets *g) {
    pthread_mutex_lock(&g->mu);
    int l = g->loaded;
    pthread_mutex_unlock(&g->mu);
    return l;
}

char *fm_gw_internal_token(fm_gw_secrets *g, int refresh, fm_err *err) {
    int64_t now = fm_now_ms();
    pthread_mutex_lock(&g->mu);
    if (g->internal && !refresh && now - g->internal_at < INTERNAL_CACHE_MS) {
        char *t = fm_xstrdup(g->internal);
        pthread_mutex_unlock(&g->mu);
        return t;
    }
    pthread_mutex_unlock(&g->mu);
    json_t *sec = NULL;
    if (kube_get(g->c, &KUBE_RES_SECRETS, g->ns, g->internal_secret, &sec, err)) {
        fm_err inner = *err;
        fm_fail(err, inner.code, "cannot read the internal token (Secret %s/%s): %s", g->ns, g->internal_secret,
                inner.msg);
        return NULL;
    }
    const char *b64 = json_string_value(json_object_get(json_object_get(sec, "data"), "token"));
    size_t len = 0;
    char *tok = b64 ? fm_b64decode(b64, &len) : NULL;
    json_decref(sec);
    if (tok) {
        while (len && (tok[len - 1] == '\n' || tok[len - 1] == '\r' || tok[len - 1] == ' ')) tok[--len] = 0;
    }
    if (!tok || !len || strlen(tok) != len) {
        free(tok);
        fm_fail(err, FM_E_UNAVAILABLE, "Secret %s/%s has no usable key \"token\"", g->ns, g->internal_secret);
        return NULL;
    }
    pthread_mutex_lock(&g->mu);
    if (g->internal) OPENSSL_cleanse(g->internal, strlen(g->internal));
    free(g->internal);
    g->internal = fm_xstrdup(tok);
    g->internal_at = now;
    pthread_mutex_unlock(&g->mu);
    return tok;
}

void fm_gw_secrets_stop(fm_gw_secrets *g) {
    if (!g) return;
    pthread_mutex_lock(&g->mu);
    g->stop = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->th, NULL);
    if (g->internal) OPENSSL_cleanse(g->internal, strlen(g->internal));
    free(g->internal);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g->ns), free(g->tokens_secret), free(g->internal_secret);
    free(g);
}
