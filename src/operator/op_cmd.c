/* `featherman operator`'s command part: options and environment → a validated fm_op_config, then
 * the run (operator.c). A malformed flag is refused with a message naming it (exit 2) before
 * anything talks to the API server. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/listen.h"
#include "base/opts.h"
#include "k8s/k8s_names.h"
#include "operator/operator.h"
#include "roles.h"

#define MAX_WORKERS 64

static void usage(FILE *to) {
    fprintf(to, "usage: featherman operator [--namespace NS] [--image IMAGE] [--listen ADDR:PORT] [--workers N]\n"
                "                           [--no-leader-elect] [--lease-namespace NS]\n"
                "  --workers N   worker threads per controller, 1..%d (default 2)\n"
                "  kubeconfig: $KUBECONFIG, else in-cluster (service account), else ~/.kube/config\n"
                "  environment: FEATHERMAN_WATCH_NAMESPACE, FEATHERMAN_IMAGE, POD_NAMESPACE (the Lease's)\n",
            MAX_WORKERS);
}

/* --listen must be an IPv4 ADDR:PORT: the health endpoint binds exactly that */
static int check_listen(const char *v, fm_err *err) {
    char addr[64];
    int port;
    struct in_addr in;
    if (fm_parse_listen(v, addr, sizeof addr, &port) || inet_pton(AF_INET, addr, &in) != 1)
        return fm_fail(err, FM_E_INVALID, "--listen: expected an IPv4 ADDR:PORT such as 127.0.0.1:8081, got \"%s\"", v);
    return 0;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

/* 0 with cfg filled, 1 when --help was asked (printed), -1 with err, 2 for a usage error (printed) */
static int parse(int argc, char **argv, fm_op_config *cfg, fm_err *err) {
    static const struct option opts[] = {{"namespace", required_argument, 0, 'n'},
                                         {"image", required_argument, 0, 'i'},
                                         {"listen", required_argument, 0, 'l'},
                                         {"workers", required_argument, 0, 'w'},
                                         {"no-leader-elect", no_argument, 0, 'L'},
                                         {"lease-namespace", required_argument, 0, 'N'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    *cfg = (fm_op_config){.ns = getenv("FEATHERMAN_WATCH_NAMESPACE"), .image = nonempty(getenv("FEATHERMAN_IMAGE")),
                          .lease_ns = nonempty(getenv("POD_NAMESPACE")), .workers = 2, .elect = true};
    long workers = cfg->workers;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "n:i:l:w:LN:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': cfg->ns = optarg; break;
        case 'i': cfg->image = optarg; break;
        case 'l': cfg->listen = optarg; break;
        case 'w':
            if (fm_opt_int("workers", optarg, 1, MAX_WORKERS, &workers, err)) return -1;
            break;
        case 'L': cfg->elect = false; break;
        case 'N': cfg->lease_ns = optarg; break;
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "featherman operator: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (cfg->image && !*cfg->image) return fm_fail(err, FM_E_INVALID, "--image: expected an image reference, got \"\"");
    if (cfg->lease_ns && !*cfg->lease_ns)
        return fm_fail(err, FM_E_INVALID, "--lease-namespace: expected a namespace, got \"\"");
    if (cfg->listen && check_listen(cfg->listen, err)) return -1;
    cfg->ns = nonempty(cfg->ns); /* "" = every namespace */
    if (!cfg->image) cfg->image = FM_DEFAULT_IMAGE;
    if (!cfg->lease_ns) cfg->lease_ns = cfg->ns ? cfg->ns : "default";
    cfg->workers = (int)workers;
    return 0;
}

int fm_role_operator(int argc, char **argv) {
    fm_op_config cfg;
    fm_err err;
    fm_err_clear(&err);
    int rc = parse(argc, argv, &cfg, &err);
    if (rc == 1) return 0;
    if (rc == 2) return 2;
    if (rc < 0) {
        fprintf(stderr, "featherman operator: %s\n", err.msg);
        return 2;
    }
    return fm_operator_run(&cfg);
}
