/* Reading a pool pod's /status (contract in pool_status.h). */
#include "operator/pool_status.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timefmt.h"

int fm_worker_status_parse(const char *body, size_t len, fm_worker_status *out, fm_err *err) {
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *o = json_loadb(body, len, 0, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        return fm_fail(err, FM_E_INVALID, "the pod's /status is not a JSON object");
    }
    json_t *slots = json_object_get(o, "slots"), *busy = json_object_get(o, "busy");
    if (!json_is_integer(slots) || !json_is_integer(busy)) {
        json_decref(o);
        return fm_fail(err, FM_E_INVALID, "the pod's /status has no slots/busy");
    }
    out->slots = (int)json_integer_value(slots);
    if (out->slots < 1) out->slots = 1;
    out->busy = (int)json_integer_value(busy);
    if (out->busy < 0) out->busy = 0;
    out->queries = json_integer_value(json_object_get(o, "queriesServed"));
    long long t = fm_rfc3339_ms(json_string_value(json_object_get(o, "startedAt")));
    out->started_ms = t > 0 ? t : 0;
    t = fm_rfc3339_ms(json_string_value(json_object_get(o, "idleSince")));
    out->idle_since_ms = out->busy == 0 && t > 0 ? t : 0;
    out->draining = json_is_true(json_object_get(o, "draining"));
    json_decref(o);
    return 0;
}

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
    fm_buf *b = ud;
    if (b->len + sz * n > 64 * 1024) return 0;
    fm_buf_append(b, p, sz * n);
    return sz * n;
}

int fm_worker_status_fetch(const char *ip, int port, const char *token, long timeout_ms, fm_worker_status *out,
                           fm_err *err) {
    char url[128], auth[600];
    snprintf(url, sizeof url, "http://%s:%d/status", ip, port);
    CURL *c = curl_easy_init();
    if (!c) return fm_fail(err, FM_E_INTERNAL, "curl_easy_init failed");
    fm_buf b;
    fm_buf_init(&b);
    struct curl_slist *h = NULL;
    if (token && *token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
        memset(auth, 0, sizeof auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c);
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    int r;
    if (rc != CURLE_OK) r = fm_fail(err, FM_E_UNAVAILABLE, "GET %s: %s", url, curl_easy_strerror(rc));
    else if (http != 200) r = fm_fail(err, FM_E_UNAVAILABLE, "GET %s: HTTP %ld", url, http);
    else r = fm_worker_status_parse(b.data ? b.data : "", b.len, out, err);
    fm_buf_free(&b);
    return r;
}
