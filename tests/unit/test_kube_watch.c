#include <stdlib.h>
#include <string.h>

#include "kube/informer.h"
#include "kube/kube_watch.h"
#include "unit.h"

typedef struct {
    char got[16][128];
    int n;
} lines_seen;

static int collect(const char *line, size_t len, void *ud) {
    lines_seen *s = ud;
    if (s->n < 16) snprintf(s->got[s->n++], 128, "%.*s", (int)len, line);
    return 0;
}

FM_TEST(kube_watch_line_splitting) {
    kube_lines l;
    kube_lines_init(&l, 0);
    lines_seen s = {0};
    /* partial lines across chunks, CRLF, empty lines, several lines in one chunk */
    CHECK(kube_lines_feed(&l, "{\"a\"", 4, collect, &s) == 0 && s.n == 0);
    const char *chunk = ":1}\n{\"b\":2}\r\n\n{\"c";
    CHECK(kube_lines_feed(&l, chunk, strlen(chunk), collect, &s) == 0);
    CHECK(s.n == 2);
    CHECK_STR(s.got[0], "{\"a\":1}");
    CHECK_STR(s.got[1], "{\"b\":2}");
    CHECK(kube_lines_feed(&l, "\":3}", 4, collect, &s) == 0 && s.n == 2);
    CHECK(kube_lines_feed(&l, "\n", 1, collect, &s) == 0 && s.n == 3);
    CHECK_STR(s.got[2], "{\"c\":3}");
    /* byte at a time */
    const char *t = "{\"d\":4}\n";
    for (size_t i = 0; i < strlen(t); i++) kube_lines_feed(&l, t + i, 1, collect, &s);
    CHECK(s.n == 4);
    CHECK_STR(s.got[3], "{\"d\":4}");
    kube_lines_free(&l);
    /* an over-long line is refused */
    kube_lines_init(&l, 8);
    CHECK(kube_lines_feed(&l, "0123456", 7, collect, &s) == 0);
    CHECK(kube_lines_feed(&l, "789\n", 4, collect, &s) == -1);
    kube_lines_free(&l);
}

typedef struct {
    int added, modified, deleted, bookmarks;
    char last[64];
} ev_seen;

static void on_event(void *ud, kube_watch_type t, json_t *obj) {
    ev_seen *s = ud;
    if (t == KUBE_WATCH_ADDED) s->added++;
    if (t == KUBE_WATCH_MODIFIED) s->modified++;
    if (t == KUBE_WATCH_DELETED) s->deleted++;
    if (t == KUBE_WATCH_BOOKMARK) s->bookmarks++;
    const char *n = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    snprintf(s->last, sizeof s->last, "%s", n ? n : "");
}

static kube_watch_next feed(kube_watch_state *st, const char *line) {
    return kube_watch_handle_line(st, line, strlen(line));
}

FM_TEST(kube_watch_events_bookmarks_and_gone) {
    ev_seen s = {0};
    kube_watch_handlers h = {NULL, on_event, &s};
    kube_watch_state st = {0};
    st.h = &h;
    CHECK(feed(&st, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"10\"}}}") ==
          KUBE_WATCH_CONTINUE);
    CHECK_STR(st.rv, "10");
    CHECK(feed(&st, "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"11\"}}}") ==
          KUBE_WATCH_CONTINUE);
    CHECK(feed(&st, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"metadata\":{\"resourceVersion\":\"15\"}}}") ==
          KUBE_WATCH_CONTINUE);
    CHECK_STR(st.rv, "15");
    CHECK(feed(&st, "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"16\"}}}") ==
          KUBE_WATCH_CONTINUE);
    CHECK(s.added == 1 && s.modified == 1 && s.deleted == 1 && s.bookmarks == 1);
    CHECK(st.events == 3 && st.bookmarks == 1);
    CHECK_STR(st.rv, "16");
    /* ERROR 410 → relist, rv untouched */
    CHECK(feed(&st, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                    "\"message\":\"too old resource version: 16 (20)\",\"reason\":\"Expired\",\"code\":410}}") ==
          KUBE_WATCH_RELIST);
    CHECK(strstr(st.err.msg, "too old resource version") != NULL);
    CHECK_STR(st.rv, "16");
    /* another ERROR → reconnect; garbage → reconnect */
    st.next = KUBE_WATCH_CONTINUE;
    CHECK(feed(&st, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"message\":\"internal\",\"code\":500}}") ==
          KUBE_WATCH_RECONNECT);
    st.next = KUBE_WATCH_CONTINUE;
    CHECK(feed(&st, "{\"type\":\"ADDED\"") == KUBE_WATCH_RECONNECT);
    st.next = KUBE_WATCH_CONTINUE;
    CHECK(feed(&st, "{\"type\":\"WHAT\",\"object\":{}}") == KUBE_WATCH_RECONNECT);
    CHECK(s.added == 1);
    free(st.rv);
}

FM_TEST(kube_watch_backoff) {
    CHECK(kube_backoff_ms(800, 30000, 0, 0.0) == 800);
    CHECK(kube_backoff_ms(800, 30000, 1, 0.0) == 1600);
    CHECK(kube_backoff_ms(800, 30000, 3, 0.0) == 6400);
    CHECK(kube_backoff_ms(800, 30000, 10, 0.0) == 30000);
    CHECK(kube_backoff_ms(800, 30000, 1000, 0.0) == 30000);
    /* jitter takes off at most half */
    long j = kube_backoff_ms(800, 30000, 2, 0.999);
    CHECK(j > 1600 && j <= 3200);
}

static json_t *obj(const char *ns, const char *name, const char *rv) {
    return json_pack("{s:{s:s,s:s,s:s}}", "metadata", "namespace", ns, "name", name, "resourceVersion", rv);
}

typedef struct {
    int add, upd, del;
    kube_informer *inf;
    int saw_in_cache;
} inf_seen;

static void i_add(void *ud, json_t *o) {
    inf_seen *s = ud;
    s->add++;
    /* the cache already holds what a handler is told about */
    json_t *c = kube_informer_get(s->inf, json_string_value(json_object_get(json_object_get(o, "metadata"), "namespace")),
                                  json_string_value(json_object_get(json_object_get(o, "metadata"), "name")));
    if (c) s->saw_in_cache++;
    json_decref(c);
}
static void i_upd(void *ud, json_t *o, json_t *n) {
    inf_seen *s = ud;
    s->upd++;
}
static void i_del(void *ud, json_t *o) {
    inf_seen *s = ud;
    s->del++;
}

FM_TEST(kube_informer_cache) {
    fm_err e;
    kube_watch_opts wo = {.res = &KUBE_RES_SECRETS};
    CHECK(kube_informer_new(NULL, &wo, &e) == NULL && e.code == FM_E_REFUSED);
    wo.res = &KUBE_RES_CONFIGMAPS;
    kube_informer *inf = kube_informer_new(NULL, &wo, &e);
    CHECK(inf != NULL);
    inf_seen s = {0};
    s.inf = inf;
    kube_informer_handlers h = {i_add, i_upd, i_del, &s};
    CHECK(kube_informer_add_handlers(inf, &h, &e) == 0);
    CHECK(!kube_informer_synced(inf));
    CHECK(kube_informer_wait_synced(inf, 10, &e) == -1 && e.code == FM_E_TIMEOUT);

    json_t *items = json_pack("[o,o,o]", obj("a", "x", "1"), obj("a", "y", "2"), obj("b", "x", "3"));
    kube_informer_apply_list(inf, items);
    json_decref(items);
    CHECK(kube_informer_synced(inf) && kube_informer_wait_synced(inf, 10, &e) == 0);
    CHECK(s.add == 3 && s.saw_in_cache == 3 && kube_informer_len(inf) == 3);

    json_t *got = kube_informer_get(inf, "a", "y");
    CHECK(got && !strcmp(json_string_value(json_object_get(json_object_get(got, "metadata"), "resourceVersion")), "2"));
    json_t *la = kube_informer_list(inf, "a");
    CHECK(json_array_size(la) == 2);
    json_decref(la);
    la = kube_informer_list(inf, NULL);
    CHECK(json_array_size(la) == 3);
    json_decref(la);

    /* same rv again: no handler call; new rv: update; delete; unknown delete ignored */
    json_t *o = obj("a", "x", "1");
    kube_informer_apply_event(inf, KUBE_WATCH_MODIFIED, o);
    json_decref(o);
    CHECK(s.upd == 0);
    o = obj("a", "x", "5");
    kube_informer_apply_event(inf, KUBE_WATCH_MODIFIED, o);
    json_decref(o);
    CHECK(s.upd == 1);
    o = obj("b", "x", "6");
    kube_informer_apply_event(inf, KUBE_WATCH_DELETED, o);
    kube_informer_apply_event(inf, KUBE_WATCH_DELETED, o);
    json_decref(o);
    CHECK(s.del == 1 && kube_informer_len(inf) == 2);

    /* a relist delivers what the watch missed: a/y gone, a/x changed, c/z new */
    items = json_pack("[o,o]", obj("a", "x", "7"), obj("c", "z", "8"));
    kube_informer_apply_list(inf, items);
    json_decref(items);
    CHECK(s.add == 4 && s.upd == 2 && s.del == 2);
    CHECK(kube_informer_len(inf) == 2);
    json_t *gone = kube_informer_get(inf, "a", "y");
    CHECK(gone == NULL);
    /* a reference handed out earlier outlives the cache's copy */
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(got, "metadata"), "name")), "y"));
    json_decref(got);
    kube_informer_free(inf);
}
