/* kube_stream: a long-lived GET whose body is handed to a consumer as it arrives (watches).
 * Lives beside kube_http because it shares the client's handles, TLS and token; it is separate
 * because only kube_watch should need it.
 *
 * fn gets each chunk as curl delivers it (arbitrary boundaries); returning non-zero stops the
 * stream. should_stop is polled about once a second so a quiet stream can still be stopped.
 * Returns 0 when the server ended the stream, 1 when stopped on request (by fn or should_stop),
 * -1 on a transport failure or a non-200 answer (st->http and err from the server's Status). */
#ifndef FM_KUBE_STREAM_H
#define FM_KUBE_STREAM_H
#include <stddef.h>

#include "kube/kube_http.h"

int kube_stream(kube_client *c, const char *path_query, long timeout_s,
                size_t (*fn)(const char *data, size_t len, void *ud), void *ud, int (*should_stop)(void *),
                void *stop_ud, kube_status *st, fm_err *err);
#endif
