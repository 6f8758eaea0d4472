/* Checked option values (opts.h). */
#include "base/opts.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/xalloc.h"

static int bad(const char *flag, const char *value, const char *want, fm_err *err) {
    return fm_fail(err, FM_E_INVALID, "--%s: %s, got \"%.200s\"", flag, want, value ? value : "");
}

/* strictly decimal digits (an optional leading '-'), no blanks: strtoll alone accepts " 12", "+1" */
static int digits(const char *s, size_t n) {
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
    if (i == n) return 0;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int parse_ll(const char *s, size_t n, long long *out) {
    if (!digits(s, n) || n > 20) return -1;
    char tmp[24];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (errno) return -1;
    *out = v;
    return 0;
}

int fm_opt_int(const char *flag, const char *value, long min, long max, long *out, fm_err *err) {
    long long v;
    char want[96];
    snprintf(want, sizeof want, "expected an integer from %ld to %ld", min, max);
    if (!value || parse_ll(value, strlen(value), &v) || v < min || v > max) return bad(flag, value, want, err);
    *out = (long)v;
    return 0;
}

int fm_opt_duration(const char *flag, const char *value, long min_ms, long max_ms, long *out, fm_err *err) {
    static const struct {
        const char *unit;
        long long ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1}};
    char want[128];
    snprintf(want, sizeof want, "expected a duration such as 500ms, 30s, 5m or 1h, from %ldms to %ldms", min_ms,
             max_ms);
    if (!value) return bad(flag, value, want, err);
    size_t n = strlen(value), k = n;
    while (k > 0 && isalpha((unsigned char)value[k - 1])) k--;
    const char *unit = value + k;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(unit, units[i].unit)) continue;
        long long v;
        if (parse_ll(value, k, &v) || v < 0 || v > LLONG_MAX / units[i].ms) break;
        v *= units[i].ms;
        if (v < min_ms || v > max_ms) break;
        *out = (long)v;
        return 0;
    }
    return bad(flag, value, want, err);
}

int fm_opt_size(const char *flag, const char *value, unsigned long long min, unsigned long long max,
                unsigned long long *out, fm_err *err) {
    static const struct {
        const char *unit;
        unsigned long long mul;
    } units[] = {{"", 1},          {"B", 1},           {"K", 1ULL << 10},    {"KiB", 1ULL << 10},
                 {"M", 1ULL << 20}, {"MiB", 1ULL << 20}, {"G", 1ULL << 30},    {"GiB", 1ULL << 30},
                 {"T", 1ULL << 40}, {"TiB", 1ULL << 40}, {"KB", 1000ULL},      {"MB", 1000000ULL},
                 {"GB", 1000000000ULL}, {"TB", 1000000000000ULL}};
    char want[128];
    snprintf(want, sizeof want, "expected a size such as 1048576, 512KiB, 64MiB or 2GiB, from %llu to %llu bytes", min,
             max);
    if (!value) return bad(flag, value, want, err);
    size_t n = strlen(value), k = n;
    while (k > 0 && isalpha((unsigned char)value[k - 1])) k--;
    const char *unit = value + k;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(unit, units[i].unit)) continue;
        long long v;
        if (parse_ll(value, k, &v) || v < 0 || (unsigned long long)v > ULLONG_MAX / units[i].mul) break;
        unsigned long long b = (unsigned long long)v * units[i].mul;
        if (b < min || b > max) break;
        *out = b;
        return 0;
    }
    return bad(flag, value, want, err);
}

int fm_opt_path_abs(const char *flag, const char *value, char **out, fm_err *err) {
    if (!value || !*value) return bad(flag, value, "expected a path", err);
    if (value[0] == '/') {
        *out = fm_xstrdup(value);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) return fm_fail(err, FM_E_INTERNAL, "--%s: cannot read the current directory: %s", flag, strerror(errno));
        fm_buf b;
        fm_buf_init(&b);
        const char *v = value;
        while (v[0] == '.' && v[1] == '/') v += 2; /* "./x" → "x": the stored path stays tidy */
        if (!strcmp(v, ".")) v = "";
        fm_buf_printf(&b, "%s%s%s", cwd, *v && strcmp(cwd, "/") ? "/" : "", v);
        free(cwd);
        *out = fm_buf_steal(&b);
    }
    if (!*out) abort();
    return 0;
}
