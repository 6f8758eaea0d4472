#include "base/buf.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fm_buf_init(fm_buf *b) { b->data = NULL, b->len = 0, b->cap = 0; }

void fm_buf_free(fm_buf *b) {
    free(b->data);
    fm_buf_init(b);
}

void fm_buf_reset(fm_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}

void fm_buf_reserve(fm_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = fm_xrealloc(b->data, cap);
    b->cap = cap;
}

void fm_buf_append(fm_buf *b, const void *p, size_t n) {
    fm_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void fm_buf_puts(fm_buf *b, const char *s) { fm_buf_append(b, s, strlen(s)); }

void fm_buf_putc(fm_buf *b, char c) {
    fm_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = 0;
}

void fm_buf_vprintf(fm_buf *b, const char *fmt, va_list ap) {
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    fm_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void fm_buf_printf(fm_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fm_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *fm_buf_steal(fm_buf *b) {
    if (!b->data) fm_buf_reserve(b, 0), b->data[0] = 0;
    char *s = b->data;
    fm_buf_init(b);
    return s;
}

void fm_buf_consume(fm_buf *b, size_t n) {
    if (n >= b->len) {
        fm_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = 0;
}
