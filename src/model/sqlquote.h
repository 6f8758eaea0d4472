/* The only two ways a name or a value from a CR, a manifest or a request reaches SQL text.
 * Nothing else in featherman may paste user-supplied text into a statement.
 *  - fm_sql_ident: appends a double-quoted identifier ("" doubles an embedded quote). Refuses
 *    the empty string, invalid UTF-8, control characters (< 0x20, 0x7f) and names longer than
 *    FM_SQL_IDENT_MAX bytes, with a message naming `what` (e.g. "column name").
 *  - fm_sql_literal: appends a single-quoted string literal ('' doubles an embedded quote).
 *    Refuses invalid UTF-8 (NUL cannot occur in a C string). */
#ifndef FM_SQLQUOTE_H
#define FM_SQLQUOTE_H
#include "base/buf.h"
#include "base/err.h"

#define FM_SQL_IDENT_MAX 255

int fm_sql_ident(fm_buf *out, const char *name, const char *what, fm_err *err);
int fm_sql_literal(fm_buf *out, const char *value, fm_err *err);
/* true when s is valid UTF-8 (shared by the quoting and validation code) */
int fm_utf8_valid(const char *s, size_t n);
#endif
