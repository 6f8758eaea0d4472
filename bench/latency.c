/* bench/latency: query latency and throughput over keep-alive HTTP connections.
 *
 *   latency [-u URL] [-n N] [-w WARMUP] [-j CLIENTS] [-f csv|ndjson|arrow] [-c CATALOG] [-t TOKEN] SQL
 *
 * Runs CLIENTS threads (default 1). Each has its own libcurl easy handle (so its own TCP
 * connection, reused) and sends WARMUP untimed and then N timed POST /query requests, one after
 * the other, reads each whole response and checks it is a 200. The timed loops of all threads start
 * together (a barrier after the warm-up). Prints one line: p50/p90/p99/mean/min/max latency in
 * microseconds over all CLIENTS*N requests (nearest rank), queries/s (all requests over the wall
 * time from the barrier until the last thread finished), mean response bytes and how many
 * connections libcurl opened during the timed loops (0 = every keep-alive connection was reused
 * throughout).
 * The token is -t, else $FEATHERMAN_TOKEN. Exit status 1 on any failed request. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *data;
    size_t len, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* a JSON string literal */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* the response: counted, and its first bytes kept for an error message */
typedef struct {
    size_t bytes;
    char head[512];
} sink;

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sink *s = ud;
    size_t len = sz * n;
    if (s->bytes < sizeof s->head - 1) {
        size_t k = sizeof s->head - 1 - s->bytes;
        if (k > len) k = len;
        memcpy(s->head + s->bytes, p, k);
        s->head[s->bytes + k] = 0;
    }
    s->bytes += len;
    return len;
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double rank(const double *sorted, int n, double p) {
    int i = (int)(p * n + 0.999999) - 1; /* nearest rank */
    if (i < 0) i = 0;
    if (i >= n) i = n - 1;
    return sorted[i];
}

typedef struct {
    const char *url;
    struct curl_slist *hdrs;
    const sbuf *body;
    int n, warm, failed;
    double *lat;
    long new_conns;
    size_t bytes;
    double t_end;
} client;

static pthread_barrier_t start_line;

static void *run_client(void *arg) {
    client *cl = arg;
    CURL *h = curl_easy_init();
    sink s;
    curl_easy_setopt(h, CURLOPT_URL, cl->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, cl->hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, cl->body->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)cl->body->len);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    for (int i = 0; i < cl->warm + cl->n; i++) {
        if (i == cl->warm) pthread_barrier_wait(&start_line);
        memset(&s, 0, sizeof s);
        double a = now_us();
        CURLcode rc = curl_easy_perform(h);
        double b = now_us();
        long status = 0, conns = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &conns);
        if (rc != CURLE_OK || status != 200) {
            fprintf(stderr, "latency: request %d failed: %s, HTTP %ld: %s\n", i, curl_easy_strerror(rc), status, s.head);
            cl->failed = 1;
            if (i < cl->warm) pthread_barrier_wait(&start_line); /* the others must not wait for us */
            break;
        }
        if (i >= cl->warm) {
            cl->lat[i - cl->warm] = b - a;
            cl->new_conns += conns;
            cl->bytes += s.bytes;
        }
    }
    cl->t_end = now_us();
    curl_easy_cleanup(h);
    return NULL;
}

int main(int argc, char **argv) {
    const char *url = "http://127.0.0.1:8080/query", *fmt = NULL, *catalog = NULL, *token = getenv("FEATHERMAN_TOKEN");
    int n = 1000, warm = 100, nclients = 1, c;
    while ((c = getopt(argc, argv, "u:n:w:j:f:c:t:")) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'n': n = atoi(optarg); break;
        case 'w': warm = atoi(optarg); break;
        case 'j': nclients = atoi(optarg); break;
        case 'f': fmt = optarg; break;
        case 'c': catalog = optarg; break;
        case 't': token = optarg; break;
        default: goto usage;
        }
    }
    if (optind != argc - 1 || n < 1 || warm < 0 || nclients < 1 || nclients > 256 || !token) goto usage;

    sbuf body = {0}, auth = {0};
    sb_put(&body, "{\"sql\":", 7);
    sb_json_str(&body, argv[optind]);
    if (fmt) {
        sb_put(&body, ",\"format\":", 10);
        sb_json_str(&body, fmt);
    }
    if (catalog) {
        sb_put(&body, ",\"catalog\":", 11);
        sb_json_str(&body, catalog);
    }
    sb_put(&body, "}", 1);
    sb_put(&auth, "Authorization: Bearer ", 22);
    sb_put(&auth, token, strlen(token));

    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct curl_slist *hdrs = curl_slist_append(NULL, auth.data);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "Expect:");

    int total = n * nclients;
    double *lat = calloc((size_t)total, sizeof *lat);
    client *cls = calloc((size_t)nclients, sizeof *cls);
    pthread_t *tids = calloc((size_t)nclients, sizeof *tids);
    if (!lat || !cls || !tids) abort();
    pthread_barrier_init(&start_line, NULL, (unsigned)nclients + 1);
    for (int k = 0; k < nclients; k++) {
        cls[k] = (client){.url = url, .hdrs = hdrs, .body = &body, .n = n, .warm = warm, .lat = lat + (size_t)k * n};
        if (pthread_create(&tids[k], NULL, run_client, &cls[k])) abort();
    }
    pthread_barrier_wait(&start_line);
    double t0 = now_us(), t_end = t0, sum = 0;
    long new_conns = 0;
    size_t bytes = 0;
    int failed = 0;
    for (int k = 0; k < nclients; k++) {
        pthread_join(tids[k], NULL);
        failed |= cls[k].failed;
        new_conns += cls[k].new_conns;
        bytes += cls[k].bytes;
        if (cls[k].t_end > t_end) t_end = cls[k].t_end;
    }
    if (failed) return 1;
    double wall = t_end - t0;
    for (int i = 0; i < total; i++) sum += lat[i];
    qsort(lat, (size_t)total, sizeof *lat, cmp_double);
    printf("clients=%d n=%d p50_us=%.0f p90_us=%.0f p99_us=%.0f mean_us=%.0f min_us=%.0f max_us=%.0f qps=%.0f "
           "bytes_per_response=%zu new_connections=%ld\n",
           nclients, total, rank(lat, total, 0.50), rank(lat, total, 0.90), rank(lat, total, 0.99), sum / total, lat[0],
           lat[total - 1], total / (wall / 1e6), bytes / (size_t)total, new_conns);
    pthread_barrier_destroy(&start_line);
    free(lat);
    free(cls);
    free(tids);
    curl_slist_free_all(hdrs);
    curl_global_cleanup();
    free(body.data);
    free(auth.data);
    return 0;
usage:
    fprintf(stderr, "usage: latency [-u URL] [-n N] [-w WARMUP] [-j CLIENTS] [-f csv|ndjson|arrow] [-c CATALOG] [-t TOKEN] SQL\n"
                    "       (token: -t, else $FEATHERMAN_TOKEN)\n");
    return 2;
}
