/* The one policy for running out of memory, for every role: allocation failure ends the process
 * with a message on stderr and abort(). A server that cannot allocate a few bytes has no useful
 * recovery, and an unchecked NULL would turn into a crash somewhere far from the cause, or a
 * silently truncated answer. Code in src/ allocates through these (or through fm_buf, which
 * follows the same policy); scripts/check-alloc.sh refuses a bare malloc/calloc/realloc/strdup/
 * strndup/asprintf. Memory owned by a library (jansson, libcurl, DuckDB) is that library's business. */
#ifndef FM_XALLOC_H
#define FM_XALLOC_H
#include <stddef.h>

void *fm_xmalloc(size_t n);
void *fm_xcalloc(size_t count, size_t size);
void *fm_xrealloc(void *p, size_t n);
/* realloc of an array of count elements of size bytes, refusing a multiplication that overflows */
void *fm_xreallocarray(void *p, size_t count, size_t size);
char *fm_xstrdup(const char *s);
char *fm_xstrndup(const char *s, size_t n);
/* a malloc'd formatted string */
char *fm_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* the message and abort(); for a library allocation that returned NULL */
_Noreturn void fm_oom(size_t n);
#endif
