/* `featherman gateway`'s command line → a validated configuration. Every numeric flag goes
 * through the checked parsers of base/opts.h, so a malformed value is refused with a message
 * naming the flag instead of being read as 0. Durations take 500ms / 30s / 5m / 1h or a bare
 * number of milliseconds (the flags' names end in -ms), sizes take 1048576 / 512KiB / 1MiB.
 * String values point into argv or the environment. */
#ifndef FM_GW_CMD_H
#define FM_GW_CMD_H
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

typedef struct {
    char listen_addr[64];
    int listen_port;
    const char *kubeconfig, *context, *ns, *tokens_secret, *internal_secret, *image;
    int worker_port;
    int fallback; /* 1: a catalog without a ready pool pod is served by a one-off Job */
    long token_refresh_ms, fallback_wait_ms, drain_ms;
    size_t max_body;
} fm_gw_config;

typedef enum { FM_GW_RUN = 0, FM_GW_HELP = 1, FM_GW_USAGE = 2 } fm_gw_cmd_result;

/* FM_GW_RUN with *cfg filled; FM_GW_HELP (--help); FM_GW_USAGE with err naming what was wrong */
fm_gw_cmd_result fm_gw_cmd(int argc, char **argv, fm_gw_config *cfg, fm_err *err);
void fm_gw_usage(FILE *to);
#endif
