/* libcurl streaming pass-through to a worker (contract in gw_proxy.h). */
#include "gateway/gw_proxy.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/xalloc.h"
#include "http/http.h"

#define POLL_MS 100

struct fm_upstream {
    CURL *easy;
    CURLM *multi;
    struct curl_slist *hdrs;
    fm_buf pending;   /* body bytes received and not yet handed out */
    size_t off;
    long status;
    int headers_done;
    int done;         /* transfer finished */
    CURLcode result;
    char content_type[128];
    char query_id[128];
    char errbuf[CURL_ERROR_SIZE];
    int client_fd;
    int64_t deadline_ms;
    unsigned long long bytes;
};

void fm_upstream_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void fm_upstream_global_cleanup(void) { curl_global_cleanup(); }

static void copy_header_value(char *dst, size_t n, const char *v, size_t len) {
    while (len && (*v == ' ' || *v == '\t')) v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' ')) len--;
    if (len >= n) len = n - 1;
    memcpy(dst, v, len);
    dst[len] = 0;
}

static size_t on_header(char *b, size_t size, size_t n, void *ud) {
    fm_upstream *u = ud;
    size_t len = size * n;
    if (len >= 5 && !strncmp(b, "HTTP/", 5)) { /* a new status line (after a 100 Continue too) */
        const char *sp = memchr(b, ' ', len);
        u->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        u->content_type[0] = u->query_id[0] = 0;
    } else if (len <= 2 && (b[0] == '\r' || b[0] == '\n')) {
        if (u->status >= 200) u->headers_done = 1;
    } else if (len > 13 && !strncasecmp(b, "Content-Type:", 13)) {
        copy_header_value(u->content_type, sizeof u->content_type, b + 13, len - 13);
    } else if (len > 22 && !strncasecmp(b, "X-Featherman-Query-Id:", 22)) {
        copy_header_value(u->query_id, sizeof u->query_id, b + 22, len - 22);
    }
    return len;
}

static size_t on_body(char *b, size_t size, size_t n, void *ud) {
    fm_upstream *u = ud;
    if (u->off && u->off == u->pending.len) {
        fm_buf_reset(&u->pending);
        u->off = 0;
    }
    fm_buf_append(&u->pending, b, size * n);
    u->bytes += size * n;
    return size * n;
}

static void say(char *msg, size_t n, const char *fmt, const char *detail) {
    if (msg && n) snprintf(msg, n, fmt, detail);
}

/* one step: perform, collect completion, wait a little. Returns FM_UP_OK to go on. */
static fm_up_result step(fm_upstream *u, char *msg, size_t msgn) {
    int running = 0;
    curl_multi_perform(u->multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left)))
        if (m->msg == CURLMSG_DONE) {
            u->done = 1;
            u->result = m->data.result;
        }
    if (u->done) {
        if (u->result == CURLE_OK) return FM_UP_OK;
        fm_up_result r = (u->result == CURLE_COULDNT_CONNECT && !u->status) ? FM_UP_CONNECT : FM_UP_FAILED;
        say(msg, msgn, "%s", u->errbuf[0] ? u->errbuf : curl_easy_strerror(u->result));
        return r;
    }
    if (u->headers_done && u->off < u->pending.len) return FM_UP_OK;
    int64_t now = fm_now_ms();
    if (u->deadline_ms && now >= u->deadline_ms) {
        say(msg, msgn, "%s", "the query's time limit was reached");
        return FM_UP_TIMEOUT;
    }
    if (fm_http_fd_hung_up(u->client_fd)) {
        say(msg, msgn, "%s", "the client went away");
        return FM_UP_CLIENT_GONE;
    }
    int wait = POLL_MS;
    if (u->deadline_ms && u->deadline_ms - now < wait) wait = (int)(u->deadline_ms - now);
    if (wait < 1) wait = 1;
    curl_multi_poll(u->multi, NULL, 0, wait, NULL);
    return FM_UP_OK;
}

fm_upstream *fm_upstream_open(const fm_upstream_req *r, fm_up_result *res, char *msg, size_t msgn) {
    fm_upstream *u = fm_xcalloc(1, sizeof *u);
    fm_buf_init(&u->pending);
    u->client_fd = r->client_fd;
    u->deadline_ms = r->deadline_ms;
    u->easy = curl_easy_init();
    u->multi = curl_multi_init();
    fm_buf auth;
    fm_buf_init(&auth);
    fm_buf_printf(&auth, "Authorization: Bearer %s", r->token);
    u->hdrs = curl_slist_append(u->hdrs, auth.data);
    memset(auth.data, 0, auth.len);
    fm_buf_free(&auth);
    u->hdrs = curl_slist_append(u->hdrs, "Content-Type: application/json");
    u->hdrs = curl_slist_append(u->hdrs, "Expect:");
    if (r->accept) {
        fm_buf a;
        fm_buf_init(&a);
        fm_buf_printf(&a, "Accept: %s", r->accept);
        u->hdrs = curl_slist_append(u->hdrs, a.data);
        fm_buf_free(&a);
    }
    curl_easy_setopt(u->easy, CURLOPT_URL, r->url);
    curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, u->hdrs);
    curl_easy_setopt(u->easy, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(u->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(u->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(u->easy, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(u->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(u->easy, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(u->easy, CURLOPT_ERRORBUFFER, u->errbuf);
    curl_easy_setopt(u->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(u->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(u->easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(u->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(u->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(u->easy, CURLOPT_HTTP_CONTENT_DECODING, 0L);
    curl_easy_setopt(u->easy, CURLOPT_HTTP_TRANSFER_DECODING, 1L);
    curl_multi_add_handle(u->multi, u->easy);
    for (;;) {
        fm_up_result s = step(u, msg, msgn);
        if (s != FM_UP_OK) {
            *res = s;
            return u;
        }
        if (u->headers_done || u->done) break;
    }
    if (!u->headers_done) {
        say(msg, msgn, "%s", "the pod closed the connection without an answer");
        *res = FM_UP_FAILED;
        return u;
    }
    *res = FM_UP_OK;
    return u;
}

long fm_upstream_status(const fm_upstream *u) { return u->status; }
const char *fm_upstream_content_type(const fm_upstream *u) { return u->content_type; }
const char *fm_upstream_query_id(const fm_upstream *u) { return u->query_id; }
unsigned long long fm_upstream_bytes(const fm_upstream *u) { return u->bytes; }

ssize_t fm_upstream_read(fm_upstream *u, char *buf, size_t max, fm_up_result *res, char *msg, size_t msgn) {
    for (;;) {
        if (u->off < u->pending.len) {
            size_t n = u->pending.len - u->off;
            if (n > max) n = max;
            memcpy(buf, u->pending.data + u->off, n);
            u->off += n;
            *res = FM_UP_OK;
            return (ssize_t)n;
        }
        if (u->done) {
            if (u->result == CURLE_OK) {
                *res = FM_UP_OK;
                return 0;
            }
            *res = FM_UP_FAILED;
            say(msg, msgn, "%s", u->errbuf[0] ? u->errbuf : curl_easy_strerror(u->result));
            return -1;
        }
        fm_up_result s = step(u, msg, msgn);
        if (s != FM_UP_OK) {
            if (u->off < u->pending.len) continue; /* hand out what arrived before the failure */
            *res = s;
            return -1;
        }
    }
}

fm_up_result fm_upstream_read_all(fm_upstream *u, fm_buf *out, size_t max, char *msg, size_t msgn) {
    char tmp[16384];
    for (;;) {
        fm_up_result r;
        ssize_t n = fm_upstream_read(u, tmp, sizeof tmp, &r, msg, msgn);
        if (n < 0) return r;
        if (n == 0) return FM_UP_OK;
        if (out->len + (size_t)n <= max) fm_buf_append(out, tmp, (size_t)n);
    }
}

void fm_upstream_close(fm_upstream *u) {
    if (!u) return;
    if (u->multi && u->easy) curl_multi_remove_handle(u->multi, u->easy);
    if (u->easy) curl_easy_cleanup(u->easy);
    if (u->multi) curl_multi_cleanup(u->multi);
    curl_slist_free_all(u->hdrs);
    fm_buf_free(&u->pending);
    free(u);
}
