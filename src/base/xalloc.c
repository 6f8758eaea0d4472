/* Checked allocation (xalloc.h). */
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void fm_oom(size_t n) {
    /* no stdio buffering, no allocation: the message must get out when nothing else can */
    char msg[96];
    int k = snprintf(msg, sizeof msg, "featherman: out of memory (allocating %zu bytes)\n", n);
    if (k > 0) {
        ssize_t w = write(2, msg, (size_t)k);
        (void)w;
    }
    abort();
}

void *fm_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) fm_oom(n);
    return p;
}

void *fm_xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) fm_oom(count * size);
    return p;
}

void *fm_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) fm_oom(n);
    return q;
}

void *fm_xreallocarray(void *p, size_t count, size_t size) {
    if (size && count > (size_t)-1 / size) fm_oom((size_t)-1);
    return fm_xrealloc(p, count * size);
}

char *fm_xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) fm_oom(strlen(s) + 1);
    return p;
}

char *fm_xstrndup(const char *s, size_t n) {
    char *p = strndup(s, n);
    if (!p) fm_oom(n + 1);
    return p;
}

char *fm_xasprintf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *out = NULL;
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    if (n < 0) fm_oom(strlen(fmt));
    return out;
}
