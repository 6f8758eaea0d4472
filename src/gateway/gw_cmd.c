/* The gateway's options (contract in gw_cmd.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/listen.h"
#include "base/opts.h"
#include "gateway/gw_cmd.h"
#include "k8s/k8s_names.h"

#define DAY_MS (24L * 3600 * 1000)

void fm_gw_usage(FILE *to) {
    fprintf(to,
            "usage: featherman gateway [--listen ADDR:PORT] [--namespace NS] [--kubeconfig FILE] [--context NAME]\n"
            "                          [--tokens-secret NAME] [--internal-token-secret NAME] [--image IMAGE]\n"
            "                          [--worker-port N] [--token-refresh-ms DURATION] [--fallback-wait-ms DURATION]\n"
            "                          [--no-fallback] [--max-body SIZE] [--drain-ms DURATION]\n"
            "  Routes POST /query to warm pool pods of the requested catalog (found through the API),\n"
            "  queues per pool, falls back to a one-off Job, streams results through.\n");
}

static void defaults(fm_gw_config *c) {
    memset(c, 0, sizeof *c);
    c->tokens_secret = FM_QUERY_TOKENS_SECRET;
    c->internal_secret = FM_INTERNAL_TOKEN_SECRET;
    c->image = getenv("FEATHERMAN_IMAGE") ? getenv("FEATHERMAN_IMAGE") : FM_DEFAULT_IMAGE;
    c->worker_port = FM_WORKER_PORT;
    c->fallback = 1;
    c->token_refresh_ms = 2000;
    c->fallback_wait_ms = 60000;
    c->drain_ms = 30000;
    c->max_body = 1 << 20;
}

/* one option with a value that needs checking; 0 or -1 with err set */
static int numeric(int ch, const char *v, fm_gw_config *c, fm_err *err) {
    long n;
    unsigned long long size;
    switch (ch) {
    case 'p':
        if (fm_opt_int("worker-port", v, 1, 65535, &n, err)) return -1;
        c->worker_port = (int)n;
        return 0;
    case 'r': return fm_opt_duration("token-refresh-ms", v, 100, 3600 * 1000L, &c->token_refresh_ms, err);
    case 'w': return fm_opt_duration("fallback-wait-ms", v, 1000, DAY_MS, &c->fallback_wait_ms, err);
    case 'd': return fm_opt_duration("drain-ms", v, 0, DAY_MS, &c->drain_ms, err);
    case 'b':
        if (fm_opt_size("max-body", v, 1, 1ULL << 30, &size, err)) return -1;
        c->max_body = (size_t)size;
        return 0;
    }
    return fm_fail(err, FM_E_INTERNAL, "unhandled option");
}

fm_gw_cmd_result fm_gw_cmd(int argc, char **argv, fm_gw_config *c, fm_err *err) {
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'},           {"namespace", required_argument, 0, 'n'},
        {"kubeconfig", required_argument, 0, 'k'},       {"context", required_argument, 0, 'x'},
        {"tokens-secret", required_argument, 0, 's'},    {"internal-token-secret", required_argument, 0, 'i'},
        {"image", required_argument, 0, 'I'},            {"worker-port", required_argument, 0, 'p'},
        {"token-refresh-ms", required_argument, 0, 'r'}, {"fallback-wait-ms", required_argument, 0, 'w'},
        {"no-fallback", no_argument, 0, 'F'},            {"max-body", required_argument, 0, 'b'},
        {"drain-ms", required_argument, 0, 'd'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    defaults(c);
    const char *listen = NULL;
    optind = 1;
    opterr = 0; /* the message is ours */
    int ch;
    while ((ch = getopt_long(argc, argv, "l:n:k:x:s:i:I:p:r:w:Fb:d:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'l': listen = optarg; break;
        case 'n': c->ns = optarg; break;
        case 'k': c->kubeconfig = optarg; break;
        case 'x': c->context = optarg; break;
        case 's': c->tokens_secret = optarg; break;
        case 'i': c->internal_secret = optarg; break;
        case 'I': c->image = optarg; break;
        case 'F': c->fallback = 0; break;
        case 'h': return FM_GW_HELP;
        case '?':
            fm_fail(err, FM_E_INVALID, "unknown option or missing value: %s", argv[optind - 1]);
            return FM_GW_USAGE;
        default:
            if (numeric(ch, optarg, c, err)) return FM_GW_USAGE;
        }
    }
    if (optind < argc) {
        fm_fail(err, FM_E_INVALID, "unexpected argument \"%.200s\"", argv[optind]);
        return FM_GW_USAGE;
    }
    if (fm_listen_or_pod_ip(listen, 8080, c->listen_addr, sizeof c->listen_addr, &c->listen_port)) {
        fm_fail(err, FM_E_INVALID, "--listen: expected ADDR:PORT, got \"%.200s\"", listen);
        return FM_GW_USAGE;
    }
    return FM_GW_RUN;
}
