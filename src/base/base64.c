/* Base64 decoding (base64.h). */
#include "base/base64.h"

#include "base/buf.h"

static int b64val(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

char *fm_b64decode(const char *s, size_t *len) {
    fm_buf b;
    fm_buf_init(&b);
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        int v = b64val((unsigned char)*p);
        if (v < 0 || pad) goto bad;
        acc = ((acc << 6) | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            fm_buf_putc(&b, (char)((acc >> bits) & 0xff));
        }
    }
    if (bits >= 6 || pad > 2) goto bad;
    if (len) *len = b.len;
    return fm_buf_steal(&b);
bad:
    fm_buf_free(&b);
    return NULL;
}
