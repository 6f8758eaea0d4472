/* The watch thread and the informer over real HTTP, against a scripted local server
 * (libmicrohttpd): relist on an ERROR 410 event and on an HTTP 410, resume from bookmarks,
 * retry after a refused list, clean stop. A real API server rarely answers 410 on demand (its
 * watch cache serves old versions), so this is where those paths are exercised end to end. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/informer.h"
#include "unit.h"

typedef struct {
    pthread_mutex_t mu;
    int lists, watches;
    char watch_rv[8][32]; /* resourceVersion of each watch request */
    int script;           /* which scenario */
} mock;

static const char *LIST1 = "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"10\"},\"items\":["
                           "{\"metadata\":{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":\"5\"}}]}";
static const char *LIST2 = "{\"kind\":\"ConfigMapList\",\"metadata\":{\"resourceVersion\":\"20\"},\"items\":["
                           "{\"metadata\":{\"name\":\"b\",\"namespace\":\"n\",\"resourceVersion\":\"19\"}}]}";
static const char *WATCH1 =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"namespace\":\"n\",\"resourceVersion\":\"11\"}}}\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"13\"}}}\n";
static const char *GONE_EVENT =
    "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"too old resource "
    "version: 13 (20)\",\"reason\":\"Expired\",\"code\":410}}\n";
static const char *GONE_STATUS = "{\"kind\":\"Status\",\"message\":\"gone\",\"reason\":\"Gone\",\"code\":410}";

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    mock *m = cls;
    const char *watch = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "watch");
    const char *rv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "resourceVersion");
    const char *bm = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
    pthread_mutex_lock(&m->mu);
    int n;
    if (watch) {
        n = m->watches++;
        if (n < 8) snprintf(m->watch_rv[n], sizeof m->watch_rv[n], "%s%s", rv ? rv : "", bm ? "" : "!nobm");
    } else {
        n = m->lists++;
    }
    int script = m->script;
    pthread_mutex_unlock(&m->mu);
    if (strcmp(url, "/api/v1/namespaces/n/configmaps")) return reply(c, 404, "{\"kind\":\"Status\",\"code\":404}");
    if (!watch) {
        if (script == 2 && n == 0) return reply(c, 403, "{\"kind\":\"Status\",\"message\":\"forbidden\",\"code\":403}");
        return reply(c, 200, n == 0 || script == 2 ? LIST1 : LIST2);
    }
    if (n == 0) {
        char body[2048];
        if (script == 1) return reply(c, 410, GONE_STATUS);
        snprintf(body, sizeof body, "%s%s", WATCH1, script == 0 ? GONE_EVENT : "");
        return reply(c, 200, body);
    }
    /* later watches: nothing new; the client re-watches after a short pause */
    return reply(c, 200, "");
}

typedef struct {
    pthread_mutex_t mu;
    char log[512];
} seen;

static void note(seen *s, const char *what, json_t *o) {
    pthread_mutex_lock(&s->mu);
    const char *n = json_string_value(json_object_get(json_object_get(o, "metadata"), "name"));
    size_t l = strlen(s->log);
    snprintf(s->log + l, sizeof s->log - l, "%s%s ", what, n ? n : "?");
    pthread_mutex_unlock(&s->mu);
}
static void on_add(void *ud, json_t *o) { note(ud, "+", o); }
static void on_upd(void *ud, json_t *o, json_t *n) { note(ud, "~", n); }
static void on_del(void *ud, json_t *o) { note(ud, "-", o); }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static kube_client *mock_client(struct MHD_Daemon **d, mock *m) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, m,
                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!*d) return NULL;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(*d, MHD_DAEMON_INFO_BIND_PORT);
    kube_config cfg;
    memset(&cfg, 0, sizeof cfg);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)di->port);
    cfg.server = strdup(url);
    fm_err e;
    return kube_client_new(&cfg, &e);
}

static int run_scenario(int script, seen *s, mock *m, kube_watch_stats *st, int *fm_failed) {
    struct MHD_Daemon *d;
    kube_client *c = mock_client(&d, m);
    CHECK(c != NULL);
    if (!c) return -1;
    m->script = script;
    fm_err e;
    kube_watch_opts o = {.res = &KUBE_RES_CONFIGMAPS, .ns = "n", .timeout_s = 30, .backoff_initial_ms = 20};
    kube_informer *inf = kube_informer_new(c, &o, &e);
    kube_informer_handlers h = {on_add, on_upd, on_del, s};
    kube_informer_add_handlers(inf, &h, &e);
    CHECK(kube_informer_start(inf, &e) == 0);
    CHECK(kube_informer_wait_synced(inf, 5000, &e) == 0);
    for (int i = 0; i < 100; i++) {
        pthread_mutex_lock(&m->mu);
        int w = m->watches;
        pthread_mutex_unlock(&m->mu);
        if (w >= 3) break;
        sleep_ms(20);
    }
    kube_watch_get_stats(kube_informer_watch(inf), st);
    json_t *b = kube_informer_get(inf, "n", script == 2 ? "a" : "b");
    CHECK(b != NULL);
    json_decref(b);
    kube_informer_free(inf); /* stops the watch thread */
    kube_client_free(c);
    MHD_stop_daemon(d);
    return 0;
}

FM_TEST(kube_watch_mock_relist_on_gone_event) {
    mock m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_watch_stats st;
    if (run_scenario(0, &s, &m, &st, fm_failed)) return;
    /* list a; watch from 10: +x, bookmark 13, ERROR 410 → relist: b replaces a and x */
    CHECK(!strncmp(s.log, "+a +x ", 6));
    CHECK(strstr(s.log, "-a ") && strstr(s.log, "-x ") && strstr(s.log, "+b "));
    CHECK(st.lists == 2 && st.gone == 1 && st.bookmarks == 1 && st.events == 1);
    CHECK_STR(m.watch_rv[0], "10");
    CHECK_STR(m.watch_rv[1], "20"); /* from the relist, not from the expired bookmark */
}

FM_TEST(kube_watch_mock_relist_on_http_gone) {
    mock m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_watch_stats st;
    if (run_scenario(1, &s, &m, &st, fm_failed)) return;
    CHECK(st.lists == 2 && st.gone == 1);
    CHECK(!strncmp(s.log, "+a ", 3) && strstr(s.log, "-a ") && strstr(s.log, "+b "));
    CHECK_STR(m.watch_rv[1], "20");
}

FM_TEST(kube_watch_mock_retry_refused_list_and_resume_bookmark) {
    mock m = {.mu = PTHREAD_MUTEX_INITIALIZER};
    seen s = {.mu = PTHREAD_MUTEX_INITIALIZER};
    kube_watch_stats st;
    if (run_scenario(2, &s, &m, &st, fm_failed)) return;
    CHECK(st.failures >= 1 && st.lists == 1 && st.gone == 0);
    CHECK_STR(m.watch_rv[0], "10");
    /* the stream ended after the bookmark: resume from 13, not from the list's 10 */
    CHECK_STR(m.watch_rv[1], "13");
    CHECK(!strncmp(s.log, "+a +x", 5));
}
