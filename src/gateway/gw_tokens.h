/* The gateway's secrets.
 *
 * fm_tokset: the set of client tokens, as SHA-256 hashes only (the plain values are wiped as soon
 * as they are hashed). Loaded from a Secret: every key's value (data, base64; or stringData) is one
 * valid token, surrounding whitespace/newlines trimmed (fm_http_token_trim), empty values ignored. fm_tokset_check hashes
 * the presented token and compares it with every hash with CRYPTO_memcmp, without stopping early,
 * so the time taken depends on neither the token nor which key matched. Thread-safe (rwlock).
 *
 * fm_gw_secrets: keeps a tokset current by reading the tokens Secret every refresh_ms (a GET of
 * one named Secret, so RBAC can limit the gateway to resourceNames; a Secret that is gone or has
 * no values refuses everyone; a failed read keeps the last good set for grace_ms only: after that
 * fm_gw_secrets_current is 0 and the set is emptied until a read succeeds), and hands out the internal
 * token (Secret FM_INTERNAL_TOKEN_SECRET, key "token") read on demand and cached for 10 s
 * (fm_gw_internal_token with refresh=1 re-reads at once: a worker answered 401). */
#ifndef FM_GW_TOKENS_H
#define FM_GW_TOKENS_H
#include <jansson.h>
#include <stddef.h>

#include "base/err.h"
#include "kube/kube_http.h"

typedef struct fm_tokset fm_tokset;
fm_tokset *fm_tokset_new(void);
void fm_tokset_free(fm_tokset *s);
/* replaces the set; returns the number of tokens */
size_t fm_tokset_set(fm_tokset *s, const char *const *tokens, size_t n);
/* replaces the set with the Secret's values; -1 (set unchanged) when secret is not an object */
int fm_tokset_load_secret(fm_tokset *s, json_t *secret, size_t *count);
/* 1 when token (len bytes) is one of the set */
int fm_tokset_check(fm_tokset *s, const char *token, size_t len);
size_t fm_tokset_size(fm_tokset *s);

typedef struct fm_gw_secrets fm_gw_secrets;
fm_gw_secrets *fm_gw_secrets_start(kube_client *c, const char *ns, const char *tokens_secret,
                                   const char *internal_secret, long refresh_ms, long grace_ms, fm_tokset *set,
                                   fm_err *err);
/* 1 while the tokens Secret was read (or found missing) within the last grace_ms */
int fm_gw_secrets_current(fm_gw_secrets *g);
/* 1 once the tokens Secret was read (or found missing) at least once */
int fm_gw_secrets_loaded(fm_gw_secrets *g);
/* the internal token, malloc'd (caller frees and must never log it); NULL with err when unavailable */
char *fm_gw_internal_token(fm_gw_secrets *g, int refresh, fm_err *err);
void fm_gw_secrets_stop(fm_gw_secrets *g);
#endif
