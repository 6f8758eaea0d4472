/* Standard base64 (RFC 4648 alphabet) decoding, as Kubernetes stores Secret data and kubeconfig
 * "-data" fields: padding optional, whitespace ignored. Returns a malloc'd NUL-terminated buffer
 * (binary-safe: *len, if not NULL, is the decoded length), or NULL on malformed input. */
#ifndef FM_BASE64_H
#define FM_BASE64_H
#include <stddef.h>

char *fm_b64decode(const char *s, size_t *len);
#endif
