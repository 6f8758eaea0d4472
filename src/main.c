/* featherman: one multi-call binary, many roles (the CloudNativePG "manager" pattern), so the
 * control plane and the data plane can never run different versions. */
#include <stdio.h>
#include <string.h>

#include "roles.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} roles[] = {
    {"local", fm_role_local, "run the embedded lakehouse: manifests from a directory, query API on 127.0.0.1"},
    {"worker", fm_role_worker, "worker serve | worker job <op>: the data-plane processes"},
    {"operator", fm_role_operator, "the Kubernetes operator: catalogs, tables and pools from custom resources"},
    {"gateway", fm_role_gateway, "featherman-query: auth, routing to warm pool pods, queues, Job fallback, streaming"},
};

static void usage(FILE *to) {
    fprintf(to, "usage: featherman <role> [options]\n\nroles:\n");
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        fprintf(to, "  %-10s %s\n", roles[i].name, roles[i].help);
    fprintf(to, "\n  --version  print the version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("featherman %s\n", FEATHERMAN_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        if (!strcmp(argv[1], roles[i].name)) return roles[i].run(argc - 1, argv + 1);
    fprintf(stderr, "featherman: unknown role '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
