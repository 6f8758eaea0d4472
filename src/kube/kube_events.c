#include "kube/kube_events.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"

#define MAX_MESSAGE 1024
#define MAX_CACHE 4096

struct kube_recorder {
    kube_client *c;
    char *component, *host;
    pthread_mutex_t mu;
    json_t *seen; /* dedup key → {"ns","name","count"} */
};

kube_recorder *kube_recorder_new(kube_client *c, const char *component, const char *host) {
    kube_recorder *r = fm_xcalloc(1, sizeof *r);
    r->c = c;
    r->component = fm_xstrdup(component && *component ? component : "featherman");
    r->host = host && *host ? fm_xstrdup(host) : NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->seen = json_object();
    return r;
}

void kube_recorder_free(kube_recorder *r) {
    if (!r) return;
    json_decref(r->seen);
    free(r->component);
    free(r->host);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static const char *md(const json_t *o, const char *f) {
    return json_string_value(json_object_get(json_object_get(o, "metadata"), f));
}

static void rfc3339(double t, char out[32]) {
    time_t s = (time_t)floor(t);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *str_or_empty(const char *s) { return s ? s : ""; }

/* length of the valid UTF-8 sequence at p (at most n bytes), 0 when invalid */
static size_t utf8_seq(const unsigned char *p, size_t n) {
    size_t len;
    if (p[0] < 0x80) return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) len = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) len = 4;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && p[0] == 0xE0 && p[1] < 0xA0) return 0; /* overlong */
    if (len == 3 && p[0] == 0xED && p[1] >= 0xA0) return 0; /* surrogate */
    if (len == 4 && p[0] == 0xF0 && p[1] < 0x90) return 0;
    if (len == 4 && p[0] == 0xF4 && p[1] >= 0x90) return 0;
    return len;
}

/* Messages often quote other systems' errors: invalid UTF-8 becomes '?' (JSON needs valid
 * text), and the cut at max bytes never splits a character. */
static char *truncate_utf8(const char *s, size_t max) {
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    fm_buf b;
    fm_buf_init(&b);
    while (i < n) {
        size_t l = utf8_seq(p + i, n - i);
        if (b.len + (l ? l : 1) > max) break;
        if (l) {
            fm_buf_append(&b, p + i, l);
            i += l;
        } else {
            fm_buf_putc(&b, '?');
            i++;
        }
    }
    return fm_buf_steal(&b);
}

char *kube_event_key(const json_t *involved, const char *type, const char *reason, const char *message) {
    fm_buf b;
    fm_buf_init(&b);
    const char *uid = md(involved, "uid");
    fm_buf_printf(&b, "%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s\x1f%s",
                  str_or_empty(json_string_value(json_object_get(involved, "kind"))), str_or_empty(md(involved, "namespace")),
                  str_or_empty(md(involved, "name")), uid ? uid : "", type, reason, message);
    return fm_buf_steal(&b);
}

json_t *kube_event_object(const json_t *involved, const char *type, const char *reason, const char *message,
                          const char *component, const char *host, double now) {
    const char *ns = md(involved, "namespace");
    const char *name = md(involved, "name");
    char ts[32];
    rfc3339(now, ts);
    char evname[320];
    /* unique enough and sortable, as client-go names them */
    snprintf(evname, sizeof evname, "%.240s.%llx", name ? name : "object", (unsigned long long)(now * 1e9));
    char *msg = truncate_utf8(message, MAX_MESSAGE);
    json_t *io = json_object();
    const char *fields[][2] = {{"apiVersion", json_string_value(json_object_get(involved, "apiVersion"))},
                               {"kind", json_string_value(json_object_get(involved, "kind"))},
                               {"name", name},
                               {"namespace", ns},
                               {"uid", md(involved, "uid")},
                               {"resourceVersion", md(involved, "resourceVersion")}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (fields[i][1]) json_object_set_new(io, fields[i][0], json_string(fields[i][1]));
    char *rsn = truncate_utf8(reason, 128);
    json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:o,s:s,s:s,s:s,s:i,s:s,s:s,s:{s:s},s:s}", "apiVersion", "v1", "kind",
                           "Event", "metadata", "name", evname, "namespace", ns && *ns ? ns : "default",
                           "involvedObject", io, "reason", rsn, "message", msg, "type", type, "count", 1,
                           "firstTimestamp", ts, "lastTimestamp", ts, "source", "component", component,
                           "reportingComponent", component);
    if (host) {
        json_object_set_new(json_object_get(ev, "source"), "host", json_string(host));
        json_object_set_new(ev, "reportingInstance", json_string(host));
    }
    free(msg);
    free(rsn);
    return ev;
}

static double wall(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int kube_eventf(kube_recorder *r, const json_t *involved, const char *type, const char *reason, const char *fmt, ...) {
    fm_buf m;
    fm_buf_init(&m);
    va_list ap;
    va_start(ap, fmt);
    fm_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    char *msg = truncate_utf8(m.data ? m.data : "", MAX_MESSAGE);
    fm_buf_free(&m);
    char *key = kube_event_key(involved, type, reason, msg);
    double now = wall();
    fm_err err;
    int rc = -1;

    pthread_mutex_lock(&r->mu);
    json_t *prev = json_incref(json_object_get(r->seen, key));
    pthread_mutex_unlock(&r->mu);
    if (prev) {
        json_int_t count = json_integer_value(json_object_get(prev, "count")) + 1;
        char ts[32];
        rfc3339(now, ts);
        json_t *patch = json_pack("{s:I,s:s}", "count", count, "lastTimestamp", ts);
        kube_status st;
        if (kube_patch_ex(r->c, &KUBE_RES_EVENTS, json_string_value(json_object_get(prev, "ns")),
                          json_string_value(json_object_get(prev, "name")), NULL, KUBE_PATCH_MERGE, patch, NULL, 0,
                          NULL, &st, &err) == 0) {
            pthread_mutex_lock(&r->mu);
            json_object_set_new(prev, "count", json_integer(count));
            pthread_mutex_unlock(&r->mu);
            rc = 0;
        } else if (st.http != 404) {
            fm_warn("event %s: %s", reason, err.msg);
        }
        /* 404: the Event expired (the server keeps them an hour): create a fresh one below */
        json_decref(patch);
        json_decref(prev);
    }
    if (rc) {
        json_t *ev = kube_event_object(involved, type, reason, msg, r->component, r->host, now);
        const char *ns = md(ev, "namespace");
        if (kube_create(r->c, &KUBE_RES_EVENTS, ns, ev, NULL, &err) == 0) {
            rc = 0;
            pthread_mutex_lock(&r->mu);
            if (json_object_size(r->seen) >= MAX_CACHE) json_object_clear(r->seen);
            json_object_set_new_nocheck(r->seen, key, json_pack("{s:s,s:s,s:i}", "ns", ns, "name", md(ev, "name"), "count", 1));
            pthread_mutex_unlock(&r->mu);
        } else {
            fm_warn("event %s: %s", reason, err.msg);
        }
        json_decref(ev);
    }
    free(key);
    free(msg);
    return rc;
}
