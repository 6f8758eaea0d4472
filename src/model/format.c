/* Wire-format names and content negotiation (format.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/format.h"

int fm_format_parse(const char *name, fm_format *out) {
    if (!name) return -1;
    if (!strcmp(name, "csv")) *out = FM_FMT_CSV;
    else if (!strcmp(name, "ndjson") || !strcmp(name, "json")) *out = FM_FMT_NDJSON;
    else if (!strcmp(name, "arrow")) *out = FM_FMT_ARROW;
    else return -1;
    return 0;
}

static int media_type(const char *s, size_t n, fm_format *out) {
    static const struct {
        const char *name;
        fm_format f;
    } known[] = {
        {"text/csv", FM_FMT_CSV},
        {"application/x-ndjson", FM_FMT_NDJSON},
        {"application/ndjson", FM_FMT_NDJSON},
        {"application/jsonl", FM_FMT_NDJSON},
        {"application/json", FM_FMT_NDJSON},
        {"application/vnd.apache.arrow.stream", FM_FMT_ARROW},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == n && !strncasecmp(s, known[i].name, n)) {
            *out = known[i].f;
            return 0;
        }
    return -1;
}

/* "q=0" means the client refuses that type, so it must not be chosen */
static int refused(const char *params, size_t n) {
    for (size_t i = 0; i < n; i++) {
        while (i < n && (params[i] == ';' || params[i] == ' ' || params[i] == '\t')) i++;
        if (i + 2 <= n && (params[i] == 'q' || params[i] == 'Q') && params[i + 1] == '=') {
            size_t j = i + 2;
            int nonzero = 0;
            for (; j < n && params[j] != ';'; j++)
                if (params[j] >= '1' && params[j] <= '9') nonzero = 1;
            return !nonzero;
        }
        while (i < n && params[i] != ';') i++;
    }
    return 0;
}

int fm_format_from_accept(const char *accept, fm_format *out) {
    if (!accept) return -1;
    const char *p = accept;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *semi = memchr(p, ';', len);
        size_t tlen = semi ? (size_t)(semi - p) : len;
        const char *t = p;
        while (tlen && isspace((unsigned char)*t)) t++, tlen--;
        while (tlen && isspace((unsigned char)t[tlen - 1])) tlen--;
        fm_format f;
        if (!media_type(t, tlen, &f) && !(semi && refused(semi, len - (size_t)(semi - p)))) {
            *out = f;
            return 0;
        }
        if (!end) break;
        p = end + 1;
    }
    return -1;
}

const char *fm_format_content_type(fm_format f) {
    switch (f) {
    case FM_FMT_CSV: return "text/csv; charset=utf-8";
    case FM_FMT_NDJSON: return "application/x-ndjson";
    case FM_FMT_ARROW: return "application/vnd.apache.arrow.stream";
    }
    return "application/octet-stream";
}

const char *fm_format_name(fm_format f) {
    switch (f) {
    case FM_FMT_CSV: return "csv";
    case FM_FMT_NDJSON: return "ndjson";
    case FM_FMT_ARROW: return "arrow";
    }
    return "unknown";
}
