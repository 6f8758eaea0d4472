/* The HTTP layer on its own, over real sockets on 127.0.0.1 with libcurl as the client: routing
 * errors as JSON bodies, the route prologue (Bearer, body limit → 413, both announced and
 * chunked), the standard headers on answers and errors, streaming (whole and broken), the
 * request's on_done actions, per-endpoint metrics, a second bind of a port in use, and quiesce
 * + drain (an in-flight request completes, a new connection is refused). */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "http/http.h"
#include "unit.h"

#define TOKEN "s3cret-token"

/* ---- a client ---------------------------------------------------------------------------------- */

typedef struct {
    CURLcode rc;
    long status;
    fm_buf body;
    char pod[128], qid[128], www[128], type[128];
} resp;

static void header_value(char *dst, size_t n, const char *v, size_t len) {
    while (len && (*v == ' ')) v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ')) len--;
    if (len >= n) len = n - 1;
    memcpy(dst, v, len);
    dst[len] = 0;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud) {
    resp *r = ud;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off;
    } want[] = {{"X-Featherman-Pod:", offsetof(resp, pod)},
                {"X-Featherman-Query-Id:", offsetof(resp, qid)},
                {"WWW-Authenticate:", offsetof(resp, www)},
                {"Content-Type:", offsetof(resp, type)}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t k = strlen(want[i].name);
        if (len > k && !strncasecmp(b, want[i].name, k)) header_value((char *)r + want[i].off, 128, b + k, len - k);
    }
    return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud) {
    fm_buf_append(&((resp *)ud)->body, b, size * n);
    return size * n;
}

typedef struct {
    const char *data;
    size_t len, off;
} upload;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
    upload *u = ud;
    size_t k = u->len - u->off < size * n ? u->len - u->off : size * n;
    if (k > 7) k = 7; /* several chunks */
    memcpy(buf, u->data + u->off, k);
    u->off += k;
    return k;
}

/* method GET or POST; auth NULL: no Authorization header; chunked: the body without Content-Length */
static void call(int port, const char *method, const char *path, const char *auth, const char *body, int chunked, resp *r) {
    memset(r, 0, sizeof *r);
    fm_buf_init(&r->body);
    CURL *c = curl_easy_init();
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Expect:");
    char a[256];
    if (auth) {
        snprintf(a, sizeof a, "Authorization: %s", auth);
        h = curl_slist_append(h, a);
    }
    upload up = {body, body ? strlen(body) : 0, 0};
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        if (chunked) {
            h = curl_slist_append(h, "Transfer-Encoding: chunked");
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &up);
        } else {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
        }
    } else if (strcmp(method, "GET")) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}

static void resp_free(resp *r) { fm_buf_free(&r->body); }

static int has(const resp *r, const char *needle) { return r->body.data && strstr(r->body.data, needle) != NULL; }

/* ---- a server under test ----------------------------------------------------------------------- */

typedef struct {
    atomic_int done_calls, done_completed;
    /* the blocking endpoint of the drain test */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, released;
    int chunks;
} state;

static void count_done(void *ud, fm_http_req *r, int completed) {
    state *s = ud;
    (void)r;
    atomic_fetch_add(&s->done_calls, 1);
    if (completed) atomic_fetch_add(&s->done_completed, 1);
}

static void on_hello(fm_http_req *r, void *ud) {
    fm_http_req_on_done(r, count_done, ud);
    char *scratch = fm_http_req_alloc(r, 4096); /* freed with the request (ASan sees a leak otherwise) */
    snprintf(scratch, 4096, "hello %s\n", fm_http_req_method(r));
    fm_http_respond(r, 200, "text/plain", scratch, strlen(scratch));
}

static void on_echo(fm_http_req *r, void *ud) {
    (void)ud;
    size_t n;
    const char *b = fm_http_req_body(r, &n);
    fm_http_respond(r, 200, "application/octet-stream", b, n);
}

static void on_mute(fm_http_req *r, void *ud) { (void)r, (void)ud; }

static void on_relabel(fm_http_req *r, void *ud) {
    (void)ud;
    fm_http_req_set_pod(r, "other-pod");
    fm_http_req_set_query_id(r, "upstream-7");
    fm_http_error(r, 502, "upstream_failed", "the pod said \"no\"");
}

static ssize_t read_chunks(void *ud, char *buf, size_t max) {
    state *s = ud;
    if (s->chunks == 3) return 0;
    int n = snprintf(buf, max, "chunk %d\n", s->chunks++);
    return n;
}

static ssize_t read_broken(void *ud, char *buf, size_t max) {
    state *s = ud;
    if (s->chunks == 2) return -1;
    int n = snprintf(buf, max, "part %d\n", s->chunks++);
    return n;
}

static void on_stream(fm_http_req *r, void *ud) {
    state *s = ud;
    s->chunks = 0;
    fm_http_req_on_done(r, count_done, ud);
    fm_http_stream(r, 200, "text/plain", read_chunks, s);
}

static void on_broken(fm_http_req *r, void *ud) {
    state *s = ud;
    s->chunks = 0;
    fm_http_req_on_done(r, count_done, ud);
    fm_http_stream(r, 200, "text/plain", read_broken, s);
}

static void on_slow(fm_http_req *r, void *ud) {
    state *s = ud;
    pthread_mutex_lock(&s->mu);
    s->entered = 1;
    pthread_cond_broadcast(&s->cv);
    while (!s->released) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    fm_http_respond(r, 200, "text/plain", "late\n", 5);
}

static int auth(void *ud, const char *token, size_t len) {
    static fm_http_token want;
    static int set;
    (void)ud;
    if (!set) fm_http_token_set(&want, TOKEN, strlen(TOKEN)), set = 1;
    return fm_http_token_equal(&want, token, len);
}

static const fm_http_route ROUTES[] = {
    {"GET", "/hello", 0, on_hello},
    {"POST", "/echo", FM_HTTP_AUTH | FM_HTTP_BODY | FM_HTTP_NOT_DRAINING, on_echo},
    {"GET", "/mute", 0, on_mute},
    {"GET", "/relabel", 0, on_relabel},
    {"GET", "/stream", 0, on_stream},
    {"GET", "/broken", 0, on_broken},
    {"GET", "/slow", 0, on_slow},
};

static fm_http *start(state *s, int port, fm_err *err) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fm_http_config c = {.name = "test", .addr = "127.0.0.1", .port = port, .routes = ROUTES,
                        .nroutes = sizeof ROUTES / sizeof ROUTES[0], .ud = s, .auth = auth, .max_body = 64,
                        .pod = "test-pod", .id_prefix = "t"};
    fm_err_clear(err);
    return fm_http_start(&c, err);
}

static void state_destroy(state *s) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

static int open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static int connect_errno(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
    int e = rc ? errno : 0;
    close(fd);
    return e;
}

/* ---- tests ------------------------------------------------------------------------------------- */

FM_TEST(http_bearer_and_tokens) {
    CHECK_STR(fm_http_bearer("Bearer abc"), "abc");
    CHECK_STR(fm_http_bearer("bearer   abc"), "abc");
    CHECK(fm_http_bearer("Basic abc") == NULL);
    CHECK(fm_http_bearer("Bearer ") == NULL);
    CHECK(fm_http_bearer("Bearer") == NULL);
    CHECK(fm_http_bearer(NULL) == NULL);
    fm_http_token set[2];
    fm_http_token_set(&set[0], "one", 3);
    fm_http_token_set(&set[1], "two", 3);
    CHECK(fm_http_token_equal(&set[0], "one", 3));
    CHECK(!fm_http_token_equal(&set[0], "on", 2));
    CHECK(!fm_http_token_equal(&set[0], "one!", 4));
    CHECK(fm_http_token_in(set, 2, "two", 3));
    CHECK(!fm_http_token_in(set, 2, "three", 5));
    CHECK(!fm_http_token_in(set, 0, "one", 3));
}

FM_TEST(http_routes_errors_and_headers) {
    state s;
    fm_err err;
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    CHECK(port > 0);
    resp r;
    call(port, "GET", "/hello", NULL, NULL, 0, &r);
    CHECK(r.status == 200 && has(&r, "hello GET"));
    CHECK_STR(r.pod, "test-pod");
    CHECK(!strncmp(r.qid, "t-", 2));
    resp_free(&r);
    call(port, "HEAD", "/hello", NULL, NULL, 0, &r); /* HEAD is served where GET is */
    CHECK(r.status == 200);
    resp_free(&r);
    /* unknown path, wrong method: JSON error bodies with the standard headers */
    call(port, "GET", "/nope", NULL, NULL, 0, &r);
    CHECK(r.status == 404 && has(&r, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such endpoint (GET /hello, POST /echo"));
    CHECK_STR(r.type, "application/json");
    CHECK_STR(r.pod, "test-pod");
    CHECK(r.qid[0] != 0);
    resp_free(&r);
    call(port, "POST", "/hello", NULL, "x", 0, &r);
    CHECK(r.status == 405 && has(&r, "\"code\":\"method_not_allowed\"") && has(&r, "use GET /hello"));
    CHECK_STR(r.pod, "test-pod");
    resp_free(&r);
    /* a handler that forgets to answer still gets one */
    call(port, "GET", "/mute", NULL, NULL, 0, &r);
    CHECK(r.status == 500 && has(&r, "\"code\":\"internal\""));
    resp_free(&r);
    /* a handler may name another pod and query id (the gateway passing a pod's answer through) */
    call(port, "GET", "/relabel", NULL, NULL, 0, &r);
    CHECK(r.status == 502 && has(&r, "{\"error\":{\"code\":\"upstream_failed\",\"message\":\"the pod said \\\"no\\\"\"}}"));
    CHECK_STR(r.pod, "other-pod");
    CHECK_STR(r.qid, "upstream-7");
    resp_free(&r);
    fm_http_stop(h);
    state_destroy(&s);
}

FM_TEST(http_bearer_required) {
    state s;
    fm_err err;
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    const char *bad[] = {NULL, "Bearer wrong", "Basic czNjcmV0LXRva2Vu", "Bearer ", "Bearer " TOKEN "x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        resp r;
        call(port, "POST", "/echo", bad[i], "{}", 0, &r);
        CHECK(r.status == 401 && has(&r, "\"code\":\"unauthorized\"") && has(&r, "bearer token is required"));
        CHECK_STR(r.www, "Bearer realm=\"featherman\"");
        CHECK_STR(r.pod, "test-pod");
        CHECK(r.qid[0] != 0);
        resp_free(&r);
    }
    resp r;
    call(port, "POST", "/echo", "Bearer " TOKEN, "{\"a\":1}", 0, &r);
    CHECK(r.status == 200 && r.body.len == 7 && !memcmp(r.body.data, "{\"a\":1}", 7));
    resp_free(&r);
    fm_http_stop(h);
    state_destroy(&s);
}

FM_TEST(http_body_limit_413) {
    state s;
    fm_err err;
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    resp r;
    /* announced by Content-Length: refused before the body is read */
    call(port, "POST", "/echo", "Bearer " TOKEN, big, 0, &r);
    CHECK(r.status == 413 && has(&r, "\"code\":\"too_large\"") && has(&r, "larger than 64 bytes"));
    CHECK_STR(r.pod, "test-pod");
    resp_free(&r);
    /* chunked, no length: counted while it arrives */
    call(port, "POST", "/echo", "Bearer " TOKEN, big, 1, &r);
    CHECK(r.status == 413 && has(&r, "larger than 64 bytes"));
    resp_free(&r);
    /* at the limit is fine, chunked or not */
    big[64] = 0;
    call(port, "POST", "/echo", "Bearer " TOKEN, big, 1, &r);
    CHECK(r.status == 200 && r.body.len == 64);
    resp_free(&r);
    call(port, "POST", "/echo", "Bearer " TOKEN, big, 0, &r);
    CHECK(r.status == 200 && r.body.len == 64);
    resp_free(&r);
    fm_http_stop(h);
    state_destroy(&s);
}

FM_TEST(http_streams_and_on_done) {
    state s;
    fm_err err;
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    resp r;
    call(port, "GET", "/stream", NULL, NULL, 0, &r);
    CHECK(r.rc == CURLE_OK && r.status == 200);
    CHECK_STR(r.body.data, "chunk 0\nchunk 1\nchunk 2\n");
    CHECK_STR(r.pod, "test-pod");
    resp_free(&r);
    /* a broken stream ends without its terminating chunk: the client sees an error, not an end */
    call(port, "GET", "/broken", NULL, NULL, 0, &r);
    CHECK(r.status == 200 && r.rc != CURLE_OK);
    CHECK(has(&r, "part 0\n"));
    resp_free(&r);
    call(port, "GET", "/hello", NULL, NULL, 0, &r);
    resp_free(&r);
    fm_http_stop(h); /* every request has ended by now: its on_done ran exactly once */
    CHECK(atomic_load(&s.done_calls) == 3);
    CHECK(atomic_load(&s.done_completed) == 2); /* the broken stream did not complete */
    state_destroy(&s);
}

FM_TEST(http_metrics_by_endpoint_and_code) {
    state s;
    fm_err err;
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    resp r;
    for (int i = 0; i < 2; i++) {
        call(port, "POST", "/echo", NULL, "{}", 0, &r);
        resp_free(&r);
    }
    call(port, "GET", "/hello", NULL, NULL, 0, &r);
    resp_free(&r);
    call(port, "GET", "/random/path", NULL, NULL, 0, &r);
    resp_free(&r);
    /* a request's end (where it is counted) may trail its answer by a moment */
    CHECK(fm_http_drain(h, 10000, 1, NULL, NULL) == 0);
    fm_buf m;
    fm_buf_init(&m);
    fm_http_metrics_render(h, &m);
    CHECK(strstr(m.data, "featherman_http_requests_total{endpoint=\"/echo\",code=\"401\"} 2\n") != NULL);
    CHECK(strstr(m.data, "featherman_http_requests_total{endpoint=\"/hello\",code=\"200\"} 1\n") != NULL);
    CHECK(strstr(m.data, "featherman_http_requests_total{endpoint=\"other\",code=\"404\"} 1\n") != NULL);
    CHECK(strstr(m.data, "featherman_http_request_duration_seconds_count{endpoint=\"/echo\"} 2\n") != NULL);
    CHECK(strstr(m.data, "featherman_http_request_duration_seconds_bucket{endpoint=\"/hello\",le=\"+Inf\"} 1\n") != NULL);
    fm_buf_free(&m);
    fm_http_stop(h);
    state_destroy(&s);
}

FM_TEST(http_second_bind_fails) {
    state s, s2;
    fm_err err;
    int fds = open_fds();
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    int port = fm_http_port(h);
    fm_http *h2 = start(&s2, port, &err);
    CHECK(h2 == NULL);
    CHECK(strstr(err.msg, "address already in use") != NULL);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d", port);
    CHECK(strstr(err.msg, want) != NULL);
    fm_http_stop(h2);
    /* the first server still answers */
    resp r;
    call(port, "GET", "/hello", NULL, NULL, 0, &r);
    CHECK(r.status == 200);
    resp_free(&r);
    /* a bad address is refused with its name */
    fm_http_config c = {.name = "test", .addr = "localhost", .port = 0, .routes = ROUTES, .nroutes = 1};
    CHECK(fm_http_start(&c, &err) == NULL && strstr(err.msg, "localhost is not an IPv4 address") != NULL);
    fm_http_stop(h);
    CHECK(open_fds() == fds); /* the listening socket was closed */
    CHECK(connect_errno(port) == ECONNREFUSED);
    state_destroy(&s);
    state_destroy(&s2);
}

typedef struct {
    int port;
    resp r;
} bg_call;

static void *slow_client(void *ud) {
    bg_call *b = ud;
    call(b->port, "GET", "/slow", NULL, NULL, 0, &b->r);
    return NULL;
}

FM_TEST(http_quiesce_and_drain) {
    state s;
    fm_err err;
    int fds = open_fds();
    fm_http *h = start(&s, 0, &err);
    CHECK(h != NULL);
    if (!h) return;
    bg_call b = {.port = fm_http_port(h)};
    pthread_t th;
    pthread_create(&th, NULL, slow_client, &b);
    pthread_mutex_lock(&s.mu);
    while (!s.entered) pthread_cond_wait(&s.cv, &s.mu); /* the request is in the handler */
    pthread_mutex_unlock(&s.mu);
    CHECK(fm_http_inflight(h) == 1);
    fm_http_quiesce(h);
    CHECK(fm_http_draining(h));
    CHECK(connect_errno(b.port) == ECONNREFUSED); /* no new connection */
    /* a deadline that passes while the request still runs: drain says so */
    CHECK(fm_http_drain(h, 0, 1, NULL, NULL) == 1);
    pthread_mutex_lock(&s.mu);
    s.released = 1;
    pthread_cond_broadcast(&s.cv);
    pthread_mutex_unlock(&s.mu);
    CHECK(fm_http_drain(h, 30000, 5, NULL, NULL) == 0); /* the in-flight request completed */
    pthread_join(th, NULL);
    CHECK(b.r.status == 200 && has(&b.r, "late"));
    resp_free(&b.r);
    fm_http_stop(h);
    CHECK(open_fds() == fds); /* the quiesced listening socket was closed too */
    state_destroy(&s);
}
