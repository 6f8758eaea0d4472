/* Identifier and literal quoting: the single choke point between user-supplied text and SQL.
 * Always quoting (never "quote only when needed") means no keyword list can go stale and no
 * name can ever be read as SQL; refusing control characters and invalid UTF-8 keeps names
 * printable in logs, Kubernetes conditions and error bodies. Messages never echo a refused
 * name's bytes: they may be invalid UTF-8 or carry terminal escapes. */
#include "model/sqlquote.h"

#include <string.h>

int fm_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0) len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0) len = 4, cp = c & 0x07, min = 0x10000;
        else return 0;
        if (n - i < len) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += len;
    }
    return 1;
}

static void quote_into(fm_buf *out, const char *s, char q) {
    fm_buf_putc(out, q);
    for (const char *p = s; *p; p++) {
        if (*p == q) fm_buf_putc(out, q);
        fm_buf_putc(out, *p);
    }
    fm_buf_putc(out, q);
}

int fm_sql_ident(fm_buf *out, const char *name, const char *what, fm_err *err) {
    if (!what) what = "name";
    if (!name || !*name) return fm_fail(err, FM_E_INVALID, "%s is empty", what);
    size_t n = strlen(name);
    if (n > FM_SQL_IDENT_MAX)
        return fm_fail(err, FM_E_INVALID, "%s is %zu bytes long (at most %d)", what, n, FM_SQL_IDENT_MAX);
    if (!fm_utf8_valid(name, n)) return fm_fail(err, FM_E_INVALID, "%s is not valid UTF-8", what);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return fm_fail(err, FM_E_INVALID, "%s contains a control character (byte 0x%02x at offset %zu)", what,
                           c, i);
    }
    quote_into(out, name, '"');
    return 0;
}

int fm_sql_literal(fm_buf *out, const char *value, fm_err *err) {
    if (!value) return fm_fail(err, FM_E_INVALID, "string value is missing");
    if (!fm_utf8_valid(value, strlen(value))) return fm_fail(err, FM_E_INVALID, "string value is not valid UTF-8");
    quote_into(out, value, '\'');
    return 0;
}
