/* kube_watch: keeps a consumer in step with one resource type (optionally one namespace and
 * label/field selectors) by list + watch, in its own thread.
 *
 * The thread lists (paginated) and hands the complete item set to on_list — the consumer
 * replaces what it had, so a relist also delivers deletions it missed — then watches from the
 * List's resourceVersion with bookmarks, delivering ADDED/MODIFIED/DELETED to on_event and
 * advancing its resourceVersion on every event and bookmark. When the server ends the watch
 * (timeoutSeconds) it re-watches from the last resourceVersion; on 410 Gone (an HTTP 410 or an
 * ERROR event with code 410: the version fell out of etcd's history) it relists; on any other
 * failure it retries after an exponential backoff with jitter, and relists if the failure
 * persisted. Handlers run on the watch thread, one at a time; objects passed to them are
 * borrowed (incref to keep). kube_watch_stop interrupts even a quiet stream within ~1 s.
 *
 * The line splitting and event interpretation are exposed as pure pieces for the unit tests. */
#ifndef FM_KUBE_WATCH_H
#define FM_KUBE_WATCH_H
#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "kube/kube_http.h"

typedef enum {
    KUBE_WATCH_ADDED,
    KUBE_WATCH_MODIFIED,
    KUBE_WATCH_DELETED,
    KUBE_WATCH_BOOKMARK,
    KUBE_WATCH_ERROR,
} kube_watch_type;

/* --- newline-delimited JSON framing over arbitrary chunks --- */
typedef struct {
    fm_buf partial;   /* the unfinished last line */
    size_t max_line;  /* a longer line is an error (a runaway or hostile stream) */
} kube_lines;
void kube_lines_init(kube_lines *l, size_t max_line);
void kube_lines_reset(kube_lines *l);
void kube_lines_free(kube_lines *l);
/* Calls fn for each complete non-empty line (without the '\n'); stops and returns fn's non-zero
 * result, or -1 when a line exceeds max_line. */
int kube_lines_feed(kube_lines *l, const char *data, size_t len, int (*fn)(const char *line, size_t len, void *ud),
                    void *ud);

/* --- one watch event --- */
/* {"type":..., "object":...} → type and a new reference to object. */
int kube_watch_parse(const char *line, size_t len, kube_watch_type *type, json_t **obj, fm_err *err);

typedef struct {
    void (*on_list)(void *ud, json_t *items); /* the array of a complete (re)list */
    void (*on_event)(void *ud, kube_watch_type type, json_t *obj); /* ADDED/MODIFIED/DELETED/BOOKMARK */
    void *ud;
} kube_watch_handlers;

/* What a stream's lines did to the watch state. */
typedef enum { KUBE_WATCH_CONTINUE = 0, KUBE_WATCH_RELIST = 1, KUBE_WATCH_RECONNECT = 2 } kube_watch_next;
typedef struct {
    char *rv;               /* resourceVersion to resume from (malloc'd) */
    kube_watch_next next;   /* set by a line that ends the stream */
    long events, bookmarks; /* counters */
    fm_err err;             /* why the stream ended, when it did by an ERROR or bad line */
    const kube_watch_handlers *h;
} kube_watch_state;
/* Interprets one line: delivers the event, advances rv; an ERROR with code 410 asks for a
 * relist, any other ERROR or an unparseable line for a reconnect. Returns s->next. */
kube_watch_next kube_watch_handle_line(kube_watch_state *s, const char *line, size_t len);

/* --- the watch thread --- */
typedef struct {
    const kube_resource *res;
    const char *ns;             /* NULL: all namespaces */
    const char *label_selector; /* NULL: none */
    const char *field_selector;
    long timeout_s;             /* per watch request; 0 → random in [300, 600) like client-go */
    long page_size;             /* list page size; 0 → 500 */
    long backoff_initial_ms;    /* 0 → 800 */
    long backoff_max_ms;        /* 0 → 30000 */
    const char *resource_version; /* resume: watch from here without listing first (relist on 410) */
} kube_watch_opts;

typedef struct kube_watch kube_watch;
kube_watch *kube_watch_start(kube_client *c, const kube_watch_opts *o, const kube_watch_handlers *h, fm_err *err);
/* stops the thread (interrupting a stream), joins it and frees w */
void kube_watch_stop(kube_watch *w);

typedef struct {
    long lists;     /* completed lists (1 after the first sync) */
    long watches;   /* watch requests opened */
    long events;    /* ADDED/MODIFIED/DELETED delivered */
    long bookmarks;
    long gone;      /* 410s seen */
    long failures;  /* failed requests */
} kube_watch_stats;
void kube_watch_get_stats(kube_watch *w, kube_watch_stats *out);

/* delay before retry number attempt (0-based): min(max, initial·2^attempt), jittered down by up
 * to half so that many clients do not reconnect in step; r in [0,1) */
long kube_backoff_ms(long initial_ms, long max_ms, int attempt, double r);
#endif
