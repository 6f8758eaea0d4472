/* RFC 3339 UTC timestamps (contract in timefmt.h). */
#include "base/timefmt.h"

#include <string.h>
#include <time.h>

long long fm_rfc3339_ms(const char *s) {
    if (!s) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p) return -1;
    long long ms = 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3) ms = ms * 10 + (*p - '0');
            digits++, p++;
        }
        if (!digits) return -1;
        for (; digits < 3; digits++) ms *= 10;
    }
    if (strcmp(p, "Z")) return -1;
    time_t t = timegm(&tm);
    return (long long)t * 1000 + ms;
}
