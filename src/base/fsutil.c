#include "base/fsutil.h"
#include "base/xalloc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fm_mkdirs(const char *path, fm_err *err) {
    char *p = fm_xstrdup(path);
    if (!p) return fm_fail(err, FM_E_INTERNAL, "out of memory");
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/') p[--n] = 0;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == 0) {
            char c = *s;
            *s = 0;
            if (mkdir(p, 0750) && errno != EEXIST) {
                fm_fail(err, FM_E_INVALID, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c) break;
        }
    }
    free(p);
    return 0;
}

int fm_mkdirs_for_file(const char *file, fm_err *err) {
    char *p = fm_xstrdup(file);
    if (!p) return fm_fail(err, FM_E_INTERNAL, "out of memory");
    char *slash = strrchr(p, '/');
    int rc = 0;
    if (slash && slash != p) {
        *slash = 0;
        rc = fm_mkdirs(p, err);
    }
    free(p);
    return rc;
}

char *fm_read_file(const char *path, size_t max, size_t *len, fm_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fm_fail(err, errno == ENOENT ? FM_E_NOT_FOUND : FM_E_INVALID, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = fm_xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            buf = fm_xrealloc(buf, cap);
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n > max) {
            fclose(f);
            free(buf);
            fm_fail(err, FM_E_INVALID, "%s is larger than %zu bytes", path, max);
            return NULL;
        }
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

char *fm_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return fm_xstrdup(".");
    if (slash == path) return fm_xstrdup("/");
    return fm_xstrndup(path, (size_t)(slash - path));
}

char *fm_host_path(const char *path) {
    if (!path) return NULL;
    const char *root = getenv("FEATHERMAN_ROOT");
    if (!root || !*root || path[0] != '/') return fm_xstrdup(path);
    char *out = NULL;
    out = fm_xasprintf("%s%s", root, path);
    return out;
}
