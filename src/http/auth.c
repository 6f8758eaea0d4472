/* Bearer tokens: extraction from the Authorization header and comparison against a token kept
 * only as its hash (contract in http.h). */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

const char *fm_http_bearer(const char *h) {
    if (!h || strncasecmp(h, "Bearer ", 7)) return NULL;
    const char *t = h + 7;
    while (*t == ' ') t++;
    return *t ? t : NULL;
}

void fm_http_token_set(fm_http_token *t, const char *token, size_t len) {
    SHA256((const unsigned char *)token, len, t->sha256);
}

int fm_http_token_in(const fm_http_token *set, size_t n, const char *token, size_t len) {
    /* hashing first makes each comparison independent of both lengths and contents */
    unsigned char got[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)token, len, got);
    int ok = 0;
    for (size_t i = 0; i < n; i++) ok |= CRYPTO_memcmp(got, set[i].sha256, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    return ok;
}

int fm_http_token_equal(const fm_http_token *t, const char *token, size_t len) { return fm_http_token_in(t, 1, token, len); }
