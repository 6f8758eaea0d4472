/* fm_buf: a growable byte buffer, always NUL-terminated after its data so it can be used as a
 * C string. Allocation failure aborts the process, as everywhere (base/xalloc.h). */
#ifndef FM_BUF_H
#define FM_BUF_H
#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} fm_buf;

void fm_buf_init(fm_buf *b);
void fm_buf_free(fm_buf *b);
void fm_buf_reset(fm_buf *b);                 /* len = 0, keeps the allocation */
void fm_buf_reserve(fm_buf *b, size_t extra); /* room for extra more bytes (+ NUL) */
void fm_buf_append(fm_buf *b, const void *p, size_t n);
void fm_buf_puts(fm_buf *b, const char *s);
void fm_buf_putc(fm_buf *b, char c);
void fm_buf_printf(fm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fm_buf_vprintf(fm_buf *b, const char *fmt, va_list ap);
char *fm_buf_steal(fm_buf *b); /* returns the malloc'd string, leaves b empty */
/* drop the first n bytes (consumed by a writer) */
void fm_buf_consume(fm_buf *b, size_t n);
#endif
