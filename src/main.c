/* featherman: one multi-call binary, many roles (the CloudNativePG "manager" pattern), so the
 * control plane and the data plane can never run different versions. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roles.h"

/* The DuckDB roles are in libfeatherman-engine.so next to this binary (or $FEATHERMAN_ENGINE_LIB):
 * loaded only when one of them runs, so the control-plane roles stay small. */
static int engine_role(const char *symbol, int argc, char **argv) {
    char path[PATH_MAX];
    const char *env = getenv("FEATHERMAN_ENGINE_LIB");
    if (env && *env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 32);
        if (n <= 0) {
            fprintf(stderr, "featherman: cannot find its own executable\n");
            return 1;
        }
        path[n] = 0;
        char *slash = strrchr(path, '/');
        snprintf(slash ? slash + 1 : path, sizeof path - (size_t)(slash ? slash + 1 - path : 0), "%s",
                 "libfeatherman-engine.so");
    }
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "featherman: cannot load the engine (%s): %s\n", path, dlerror());
        return 1;
    }
    int (*run)(int, char **) = (int (*)(int, char **))dlsym(h, symbol);
    if (!run) {
        fprintf(stderr, "featherman: %s has no %s\n", path, symbol);
        return 1;
    }
    return run(argc, argv); /* not dlclose'd: DuckDB's threads and atexit handlers live in it */
}

static int role_local(int argc, char **argv) { return engine_role("fm_role_local", argc, argv); }
static int role_worker(int argc, char **argv) { return engine_role("fm_role_worker", argc, argv); }

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} roles[] = {
    {"local", role_local, "run the embedded lakehouse: manifests from a directory, query API on 127.0.0.1"},
    {"worker", role_worker, "worker serve | worker job <op>: the data-plane processes"},
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
