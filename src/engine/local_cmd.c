/* `featherman local` options → fm_local_config (local.h), and the role's entry point. A value
 * that is not what its flag wants stops the start with exit code 2 and a message naming the flag:
 * a typo must not turn into a default. Paths are made absolute here, before anything uses them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/listen.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "engine/local.h"
#include "engine/role_opts.h"
#include "roles.h"

void fm_local_usage(FILE *to) {
    fprintf(to, "usage: featherman local --manifests DIR [--state DIR] [--listen ADDR:PORT] [--slots N]\n"
                "                        [--memory-limit SIZE] [--max-temp-size SIZE] [--threads N] [--token-file FILE] [--no-sandbox]\n"
                "  Token: $FEATHERMAN_TOKEN, else --token-file, else generated and written to <state>/token.\n"
                "  State (file metadata, local data, temp): --state, else $FEATHERMAN_STATE, else ~/.local/state/featherman\n");
}

static const struct option local_opts[] = {
    {"manifests", required_argument, 0, 'm'},    {"state", required_argument, 0, 's'},
    {"listen", required_argument, 0, 'l'},       {"slots", required_argument, 0, 'n'},
    {"memory-limit", required_argument, 0, 'M'}, {"max-temp-size", required_argument, 0, 'D'}, {"threads", required_argument, 0, 't'},
    {"token-file", required_argument, 0, 'T'},   {"no-sandbox", no_argument, 0, 'S'},
    {"help", no_argument, 0, 'h'},               {0, 0, 0, 0}};

/* one option; 1 for --help */
static int local_opt(fm_local_config *cfg, int c, const char *arg, char **argv, fm_err *err) {
    switch (c) {
    case 'm': return fm_role_opt_path("manifests", arg, false, &cfg->manifests, err);
    case 's': return fm_role_opt_path("state", arg, false, &cfg->state, err);
    case 'T': return fm_role_opt_path("token-file", arg, false, &cfg->token_file, err);
    case 'n': return fm_role_opt_slots(arg, &cfg->slots, err);
    case 't': return fm_role_opt_threads(arg, &cfg->threads, err);
    case 'M': return fm_role_opt_memory_limit(arg, &cfg->memory_limit, err);
    case 'D': return fm_role_opt_max_temp_size(arg, &cfg->max_temp_size, err);
    case 'S': cfg->sandbox = false; return 0;
    case 'l':
        if (fm_parse_listen(arg, cfg->listen_addr, sizeof cfg->listen_addr, &cfg->port))
            return fm_fail(err, FM_E_INVALID, "--listen: expected ADDR:PORT, got \"%.200s\"", arg);
        return 0;
    case 'h': return 1;
    default: return fm_role_opt_getopt_error(c, argv, local_opts, err);
    }
}

/* --state absent: $FEATHERMAN_STATE, else ~/.local/state/featherman — absolute like the flag */
static int default_state(fm_local_config *cfg, fm_err *err) {
    const char *env = getenv("FEATHERMAN_STATE");
    if (env && *env) return fm_role_opt_path("state", env, false, &cfg->state, err);
    const char *home = getenv("HOME");
    char *dflt = NULL;
    dflt = fm_xasprintf("%s/.local/state/featherman", home && *home ? home : ".");
    int rc = fm_role_opt_path("state", dflt, false, &cfg->state, err);
    free(dflt);
    return rc;
}

int fm_local_cmd(int argc, char **argv, fm_local_config *cfg, fm_err *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = 4;
    cfg->sandbox = true;
    snprintf(cfg->listen_addr, sizeof cfg->listen_addr, "127.0.0.1");
    cfg->port = 8080;
    int c;
    optind = 0; /* GNU getopt: start over (a test parses several command lines) */
    while ((c = getopt_long(argc, argv, ":m:s:l:n:M:D:t:T:Sh", local_opts, NULL)) != -1) {
        int rc = local_opt(cfg, c, optarg, argv, err);
        if (rc) return rc;
    }
    if (fm_role_opt_extra(argc, argv, err)) return -1;
    if (!cfg->manifests) return fm_fail(err, FM_E_INVALID, "--manifests: a directory of manifests is required");
    return cfg->state ? 0 : default_state(cfg, err);
}

void fm_local_config_free(fm_local_config *cfg) {
    free(cfg->manifests);
    free(cfg->state);
    free(cfg->token_file);
    free(cfg->memory_limit);
    free(cfg->max_temp_size);
    memset(cfg, 0, sizeof *cfg);
}

int fm_role_local(int argc, char **argv) {
    fm_local_config cfg;
    fm_err err;
    fm_err_clear(&err);
    int rc = fm_local_cmd(argc, argv, &cfg, &err);
    if (rc == 1) {
        fm_local_usage(stdout);
        rc = 0;
    } else if (rc < 0) {
        fprintf(stderr, "featherman local: %s\n", err.msg);
        fm_local_usage(stderr);
        rc = 2;
    } else {
        rc = fm_local_run(&cfg);
    }
    fm_local_config_free(&cfg);
    return rc;
}
