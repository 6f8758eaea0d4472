/* Options shared by the DuckDB roles (role_opts.h). */
#include "engine/role_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/opts.h"
#include "base/xalloc.h"

int fm_role_opt_getopt_error(int c, char **argv, const struct option *opts, fm_err *err) {
    /* getopt_long leaves optopt = the option's val when a known option lacks its value, 0 for an
     * unknown long option (then argv[optind - 1] is it), the letter for an unknown short one */
    if (c == ':') {
        for (const struct option *o = opts; o->name; o++)
            if (o->val == optopt) return fm_fail(err, FM_E_INVALID, "--%s: expected a value", o->name);
        return fm_fail(err, FM_E_INVALID, "-%c: expected a value", optopt);
    }
    const char *arg = argv[optind - 1];
    if (optopt && !strncmp(arg, "--", 2)) /* a known long option given a value it does not take */
        for (const struct option *o = opts; o->name; o++)
            if (o->val == optopt) return fm_fail(err, FM_E_INVALID, "--%s: takes no value, got \"%.200s\"", o->name, arg);
    if (optopt) return fm_fail(err, FM_E_INVALID, "unknown option -%c", optopt);
    return fm_fail(err, FM_E_INVALID, "unknown option \"%.200s\"", arg);
}

int fm_role_opt_extra(int argc, char **argv, fm_err *err) {
    if (optind < argc) return fm_fail(err, FM_E_INVALID, "unexpected argument \"%.200s\"", argv[optind]);
    return 0;
}

void fm_role_path_clean(char *path) {
    /* components are copied down over the input: the result is never longer */
    char *w = path;
    const char *r = path;
    while (*r) {
        while (*r == '/') r++;
        const char *end = strchr(r, '/');
        size_t n = end ? (size_t)(end - r) : strlen(r);
        if (n == 0 || (n == 1 && r[0] == '.')) {
            /* nothing */
        } else if (n == 2 && r[0] == '.' && r[1] == '.') {
            while (w > path && *--w != '/') {} /* back over the last component; stays at "/" */
        } else {
            *w++ = '/';
            memmove(w, r, n);
            w += n;
        }
        r += n;
    }
    if (w == path) *w++ = '/';
    *w = 0;
}

int fm_role_opt_path(const char *flag, const char *value, bool container_path, char **out, fm_err *err) {
    char *host = container_path ? fm_host_path(value) : NULL, *abs = NULL;
    int rc = fm_opt_path_abs(flag, host ? host : value, &abs, err);
    free(host);
    if (rc) return -1;
    fm_role_path_clean(abs);
    free(*out);
    *out = abs;
    return 0;
}

int fm_role_opt_slots(const char *value, int *out, fm_err *err) {
    long v;
    if (fm_opt_int("slots", value, 1, FM_ROLE_MAX_SLOTS, &v, err)) return -1;
    *out = (int)v;
    return 0;
}

int fm_role_opt_threads(const char *value, int *out, fm_err *err) {
    long v;
    if (fm_opt_int("threads", value, 1, FM_ROLE_MAX_THREADS, &v, err)) return -1;
    *out = (int)v;
    return 0;
}

static int opt_bytes(const char *flag, const char *value, unsigned long long min, char **out, fm_err *err) {
    unsigned long long b;
    if (fm_opt_size(flag, value, min, FM_ROLE_MAX_MEMORY, &b, err)) return -1;
    char text[32];
    snprintf(text, sizeof text, "%lluB", b);
    free(*out);
    *out = fm_xstrdup(text);
    return 0;
}

int fm_role_opt_memory_limit(const char *value, char **out, fm_err *err) {
    return opt_bytes("memory-limit", value, FM_ROLE_MIN_MEMORY, out, err);
}

int fm_role_opt_max_temp_size(const char *value, char **out, fm_err *err) {
    return opt_bytes("max-temp-size", value, 1ULL << 20, out, err);
}
