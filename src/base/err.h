/* fm_err: how every module reports a failure to its caller — a category that maps to an HTTP
 * status / exit code, and a message a user can act on. Messages never contain secrets: callers
 * must not format credentials into them. */
#ifndef FM_ERR_H
#define FM_ERR_H
#include <stdarg.h>

typedef enum {
    FM_OK = 0,
    FM_E_INVALID,     /* bad input: spec, request, SQL (400) */
    FM_E_NOT_FOUND,   /* unknown catalog/table/file (404) */
    FM_E_REFUSED,     /* a change or statement that is not allowed (400/422) */
    FM_E_UNAVAILABLE, /* a dependency is down: S3, Postgres (503) */
    FM_E_TIMEOUT,     /* 504 */
    FM_E_BUSY,        /* no free slot (409/429) */
    FM_E_INTERNAL,    /* a bug or an unexpected engine failure (500) */
} fm_errcode;

typedef struct {
    fm_errcode code;
    char msg[1024];
} fm_err;

/* sets err (if non-NULL) and returns -1, so callers can `return fm_fail(err, ...)` */
int fm_fail(fm_err *err, fm_errcode code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fm_err_clear(fm_err *err);
const char *fm_errcode_name(fm_errcode code); /* "invalid", "not_found", ... for JSON error bodies */
#endif
