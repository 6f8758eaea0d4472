#include "kube/kube_watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kube_stream.h"
#include "base/log.h"
#include "base/xalloc.h"

#define MAX_WATCH_LINE (64u << 20) /* one object; etcd itself caps values at 1.5 MiB by default */

/* --- framing --- */

void kube_lines_init(kube_lines *l, size_t max_line) {
    fm_buf_init(&l->partial);
    l->max_line = max_line ? max_line : MAX_WATCH_LINE;
}

void kube_lines_reset(kube_lines *l) { fm_buf_reset(&l->partial); }
void kube_lines_free(kube_lines *l) { fm_buf_free(&l->partial); }

static int emit(const char *line, size_t n, int (*fn)(const char *, size_t, void *), void *ud) {
    while (n && line[n - 1] == '\r') n--;
    return n ? fn(line, n, ud) : 0;
}

int kube_lines_feed(kube_lines *l, const char *data, size_t len, int (*fn)(const char *line, size_t len, void *ud),
                    void *ud) {
    while (len) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (l->partial.len + take > l->max_line) {
            fm_buf_reset(&l->partial);
            return -1;
        }
        if (!nl) {
            fm_buf_append(&l->partial, data, take);
            return 0;
        }
        int rc;
        if (l->partial.len) {
            /* the line began in an earlier chunk */
            fm_buf_append(&l->partial, data, take);
            rc = emit(l->partial.data, l->partial.len, fn, ud);
            fm_buf_reset(&l->partial);
        } else {
            rc = emit(data, take, fn, ud);
        }
        if (rc) return rc;
        data += take + 1;
        len -= take + 1;
    }
    return 0;
}

/* --- events --- */

int kube_watch_parse(const char *line, size_t len, kube_watch_type *type, json_t **obj, fm_err *err) {
    json_error_t je;
    *obj = NULL;
    json_t *ev = json_loadb(line, len, 0, &je);
    if (!ev) return fm_fail(err, FM_E_UNAVAILABLE, "watch: invalid JSON event: %s", je.text);
    const char *t = json_string_value(json_object_get(ev, "type"));
    json_t *o = json_object_get(ev, "object");
    static const struct {
        const char *name;
        kube_watch_type type;
    } names[] = {{"ADDED", KUBE_WATCH_ADDED},
                 {"MODIFIED", KUBE_WATCH_MODIFIED},
                 {"DELETED", KUBE_WATCH_DELETED},
                 {"BOOKMARK", KUBE_WATCH_BOOKMARK},
                 {"ERROR", KUBE_WATCH_ERROR}};
    int found = 0;
    for (size_t i = 0; t && i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(t, names[i].name)) {
            *type = names[i].type;
            found = 1;
        }
    if (!found || !json_is_object(o)) {
        json_decref(ev);
        return fm_fail(err, FM_E_UNAVAILABLE, "watch: event without a known type and an object");
    }
    *obj = json_incref(o);
    json_decref(ev);
    return 0;
}

static void set_rv(kube_watch_state *s, const json_t *obj) {
    const char *rv = json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
    if (rv && *rv) {
        free(s->rv);
        s->rv = fm_xstrdup(rv);
    }
}

kube_watch_next kube_watch_handle_line(kube_watch_state *s, const char *line, size_t len) {
    kube_watch_type t;
    json_t *obj;
    if (kube_watch_parse(line, len, &t, &obj, &s->err)) {
        s->next = KUBE_WATCH_RECONNECT;
        return s->next;
    }
    if (t == KUBE_WATCH_ERROR) {
        kube_status st;
        char *text = json_dumps(obj, JSON_COMPACT);
        kube_status_to_err(0, text, text ? strlen(text) : 0, "watch", &st, &s->err);
        free(text);
        s->next = st.http == 410 ? KUBE_WATCH_RELIST : KUBE_WATCH_RECONNECT;
        json_decref(obj);
        return s->next;
    }
    set_rv(s, obj);
    if (t == KUBE_WATCH_BOOKMARK)
        s->bookmarks++;
    else
        s->events++;
    if (s->h && s->h->on_event) s->h->on_event(s->h->ud, t, obj);
    json_decref(obj);
    return KUBE_WATCH_CONTINUE;
}

long kube_backoff_ms(long initial_ms, long max_ms, int attempt, double r) {
    double d = (double)initial_ms;
    for (int i = 0; i < attempt && d < (double)max_ms; i++) d *= 2;
    if (d > (double)max_ms) d = (double)max_ms;
    return (long)(d * (1.0 - 0.5 * r));
}

/* --- the thread --- */

struct kube_watch {
    kube_client *c;
    kube_watch_opts o;
    char *ns, *label, *field, *start_rv;
    kube_watch_handlers h;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    kube_watch_stats stats;
    kube_lines lines;
    kube_watch_state st;
    uint64_t rng;
};

static double rnd(kube_watch *w) {
    /* xorshift64*: jitter only, no need for a shared or secure generator */
    w->rng ^= w->rng >> 12;
    w->rng ^= w->rng << 25;
    w->rng ^= w->rng >> 27;
    return (double)((w->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static int stopping(kube_watch *w) {
    pthread_mutex_lock(&w->mu);
    int s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static double mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int should_stop_cb(void *ud) { return stopping(ud); }

/* sleeps up to ms; returns 1 when asked to stop */
static int nap(kube_watch *w, long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&w->mu);
    while (!w->stopping)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT) break;
    int s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

static void bump(kube_watch *w, long *field, long by) {
    pthread_mutex_lock(&w->mu);
    *field += by;
    pthread_mutex_unlock(&w->mu);
}

static int on_line(const char *line, size_t len, void *ud) {
    kube_watch *w = ud;
    long ev = w->st.events, bm = w->st.bookmarks;
    kube_watch_next n = kube_watch_handle_line(&w->st, line, len);
    pthread_mutex_lock(&w->mu);
    w->stats.events += w->st.events - ev;
    w->stats.bookmarks += w->st.bookmarks - bm;
    pthread_mutex_unlock(&w->mu);
    return n != KUBE_WATCH_CONTINUE;
}

static size_t on_chunk(const char *data, size_t len, void *ud) {
    kube_watch *w = ud;
    int rc = kube_lines_feed(&w->lines, data, len, on_line, w);
    if (rc == -1) {
        fm_fail(&w->st.err, FM_E_UNAVAILABLE, "watch %s: an event exceeds %zu bytes", w->o.res->resource,
                w->lines.max_line);
        w->st.next = KUBE_WATCH_RELIST;
    }
    return rc != 0;
}

static int do_list(kube_watch *w, fm_err *err) {
    kube_list_opts lo = {.label_selector = w->label, .field_selector = w->field, .limit = w->o.page_size};
    json_t *list = NULL;
    if (kube_list(w->c, w->o.res, w->ns, &lo, &list, err)) return -1;
    const char *rv = json_string_value(json_object_get(json_object_get(list, "metadata"), "resourceVersion"));
    free(w->st.rv);
    w->st.rv = rv ? fm_xstrdup(rv) : NULL;
    if (w->h.on_list) w->h.on_list(w->h.ud, json_object_get(list, "items"));
    json_decref(list);
    bump(w, &w->stats.lists, 1);
    return 0;
}

static char *watch_url(kube_watch *w, long timeout_s) {
    char *p = kube_path(w->o.res, w->ns, NULL, NULL);
    fm_buf b;
    fm_buf_init(&b);
    fm_buf_printf(&b, "%s?watch=true&allowWatchBookmarks=true&timeoutSeconds=%ld", p, timeout_s);
    free(p);
    if (w->st.rv) {
        fm_buf_puts(&b, "&resourceVersion=");
        kube_escape(&b, w->st.rv);
    }
    if (w->label) {
        fm_buf_puts(&b, "&labelSelector=");
        kube_escape(&b, w->label);
    }
    if (w->field) {
        fm_buf_puts(&b, "&fieldSelector=");
        kube_escape(&b, w->field);
    }
    return fm_buf_steal(&b);
}

static void *watch_main(void *arg) {
    kube_watch *w = arg;
    int need_list = w->start_rv == NULL;
    if (w->start_rv) w->st.rv = fm_xstrdup(w->start_rv);
    int attempt = 0;
    while (!stopping(w)) {
        fm_err err;
        fm_err_clear(&err);
        if (need_list) {
            if (do_list(w, &err)) {
                bump(w, &w->stats.failures, 1);
                long ms = kube_backoff_ms(w->o.backoff_initial_ms, w->o.backoff_max_ms, attempt++, rnd(w));
                fm_warn("watch %s: list failed, retrying in %ld ms: %s", w->o.res->resource, ms, err.msg);
                if (nap(w, ms)) break;
                continue;
            }
            need_list = 0;
        }
        long timeout_s = w->o.timeout_s ? w->o.timeout_s : 300 + (long)(rnd(w) * 300);
        char *url = watch_url(w, timeout_s);
        kube_lines_reset(&w->lines);
        w->st.next = KUBE_WATCH_CONTINUE;
        fm_err_clear(&w->st.err);
        kube_status hs;
        long before = w->st.events + w->st.bookmarks;
        bump(w, &w->stats.watches, 1);
        double started = mono_s();
        int rc = kube_stream(w->c, url, timeout_s, on_chunk, w, should_stop_cb, w, &hs, &err);
        free(url);
        if (stopping(w)) break;
        int progressed = w->st.events + w->st.bookmarks > before;
        if (w->st.next == KUBE_WATCH_RELIST || (rc < 0 && hs.http == 410)) {
            bump(w, &w->stats.gone, 1);
            fm_info("watch %s: resourceVersion expired, relisting", w->o.res->resource);
            need_list = 1;
            attempt = 0;
            continue;
        }
        if (w->st.next == KUBE_WATCH_RECONNECT || rc < 0) {
            bump(w, &w->stats.failures, 1);
            if (progressed) attempt = 0;
            long ms = kube_backoff_ms(w->o.backoff_initial_ms, w->o.backoff_max_ms, attempt++, rnd(w));
            fm_warn("watch %s: %s; reconnecting in %ld ms", w->o.res->resource,
                    w->st.next == KUBE_WATCH_RECONNECT ? w->st.err.msg : err.msg, ms);
            /* after repeated failures our version may be stale beyond recovery: start over */
            if (attempt >= 5) need_list = 1;
            if (nap(w, ms)) break;
            continue;
        }
        /* the server closed the watch at timeoutSeconds: resume from the last version at once —
         * unless it closes at once with nothing said, which would make this loop spin */
        if (!progressed && mono_s() - started < 1.0) {
            long ms = kube_backoff_ms(w->o.backoff_initial_ms, w->o.backoff_max_ms, attempt++, rnd(w));
            if (nap(w, ms)) break;
            continue;
        }
        attempt = 0;
    }
    return NULL;
}

static char *dup_or_null(const char *s) { return s && *s ? fm_xstrdup(s) : NULL; }

kube_watch *kube_watch_start(kube_client *c, const kube_watch_opts *o, const kube_watch_handlers *h, fm_err *err) {
    if (!o->res) {
        fm_fail(err, FM_E_INVALID, "watch: no resource");
        return NULL;
    }
    kube_watch *w = fm_xcalloc(1, sizeof *w);
    w->c = c;
    w->o = *o;
    if (!w->o.page_size) w->o.page_size = 500;
    if (!w->o.backoff_initial_ms) w->o.backoff_initial_ms = 800;
    if (!w->o.backoff_max_ms) w->o.backoff_max_ms = 30000;
    w->ns = dup_or_null(o->ns);
    w->label = dup_or_null(o->label_selector);
    w->field = dup_or_null(o->field_selector);
    w->start_rv = dup_or_null(o->resource_version);
    w->o.ns = w->o.label_selector = w->o.field_selector = w->o.resource_version = NULL;
    w->h = *h;
    w->st.h = &w->h;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    w->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)w;
    if (!w->rng) w->rng = 88172645463325252ULL;
    kube_lines_init(&w->lines, 0);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&w->thread, NULL, watch_main, w)) {
        fm_fail(err, FM_E_INTERNAL, "watch %s: cannot start a thread", o->res->resource);
        kube_watch_stop(w);
        return NULL;
    }
    w->started = 1;
    return w;
}

void kube_watch_stop(kube_watch *w) {
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (w->started) pthread_join(w->thread, NULL);
    kube_lines_free(&w->lines);
    free(w->st.rv);
    free(w->ns);
    free(w->label);
    free(w->field);
    free(w->start_rv);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void kube_watch_get_stats(kube_watch *w, kube_watch_stats *out) {
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}
