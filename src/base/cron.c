/* Cron schedules (contract in cron.h). */
#include "base/cron.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int value(const char **p, const char *end, const char *const *names, int nnames, int base) {
    if (isdigit((unsigned char)**p)) {
        int v = 0;
        while (*p < end && isdigit((unsigned char)**p)) v = v * 10 + (*(*p)++ - '0');
        return v;
    }
    for (int i = 0; names && i < nnames; i++)
        if (end - *p >= 3 && !strncasecmp(*p, names[i], 3)) {
            *p += 3;
            return i + base;
        }
    return -1;
}

/* one field into a bitmask of values lo..hi */
static int field(const char *s, const char *end, int lo, int hi, const char *const *names, int nnames, int base,
                 unsigned long long *mask, bool *star) {
    *mask = 0;
    *star = false;
    const char *p = s;
    while (p < end) {
        const char *item_end = memchr(p, ',', (size_t)(end - p));
        if (!item_end) item_end = end;
        int a = lo, b = hi, step = 1;
        if (*p == '*') {
            p++;
            if (item_end - s == 1) *star = true;
        } else {
            if ((a = value(&p, item_end, names, nnames, base)) < 0) return -1;
            b = a;
            if (p < item_end && *p == '-') {
                p++;
                if ((b = value(&p, item_end, names, nnames, base)) < 0) return -1;
            }
        }
        if (p < item_end && *p == '/') {
            p++;
            step = value(&p, item_end, NULL, 0, 0);
            if (step <= 0) return -1;
            if (a == b && s[0] != '*') b = hi; /* "5/15" = 5-59/15 */
        }
        if (p != item_end || a < lo || b > hi || a > b) return -1;
        for (int v = a; v <= b; v += step) *mask |= 1ULL << v;
        p = item_end + (item_end < end);
    }
    return *mask ? 0 : -1;
}

int fm_cron_parse(const char *expr, fm_cron *out) {
    memset(out, 0, sizeof *out);
    const char *p = expr;
    unsigned long long m[5];
    bool star[5];
    static const int lo[5] = {0, 0, 1, 1, 0}, hi[5] = {59, 23, 31, 12, 7};
    int k = 0;
    while (*p && k <= 5) {
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *st = p;
        while (*p && *p != ' ' && *p != '\t') p++;
        if (k == 5) return -1;
        const char *const *names = k == 3 ? MONTHS : k == 4 ? DAYS : NULL;
        if (field(st, p, lo[k], hi[k], names, k == 3 ? 12 : 7, k == 3 ? 1 : 0, &m[k], &star[k])) return -1;
        k++;
    }
    if (k != 5) return -1;
    out->minute = m[0];
    out->hour = (unsigned)m[1];
    out->dom = (unsigned)m[2];
    out->month = (unsigned)m[3];
    out->dow = (unsigned)(m[4] | ((m[4] >> 7) & 1)); /* 7 is Sunday too */
    out->dom_star = star[2];
    out->dow_star = star[4];
    return 0;
}

bool fm_cron_match(const fm_cron *c, time_t t) {
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!(c->minute >> tm.tm_min & 1) || !(c->hour >> tm.tm_hour & 1) || !(c->month >> (tm.tm_mon + 1) & 1)) return false;
    bool dom = c->dom >> tm.tm_mday & 1, dow = c->dow >> tm.tm_wday & 1;
    if (c->dom_star || c->dow_star) return dom && dow;
    return dom || dow;
}

time_t fm_cron_prev(const fm_cron *c, time_t now, long lookback) {
    for (time_t t = now - now % 60; t > now - lookback; t -= 60)
        if (fm_cron_match(c, t)) return t;
    return 0;
}

time_t fm_cron_next(const fm_cron *c, time_t now) {
    for (time_t t = now - now % 60 + 60; t < now + 366L * 86400; t += 60)
        if (fm_cron_match(c, t)) return t;
    return 0;
}
