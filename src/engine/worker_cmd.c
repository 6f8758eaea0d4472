/* `featherman worker serve|job <op>` options → fm_worker_config (worker.h), and the role's entry
 * point. A value that is not what its flag wants stops the process with exit code 2 and a message
 * naming the flag. Paths are mapped to this host (fm_host_path) and made absolute here, before
 * anything uses them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/listen.h"
#include "base/log.h"
#include "engine/role_opts.h"
#include "engine/worker.h"
#include "roles.h"

static const char *const job_ops[] = {
    [FM_JOB_INIT] = "init", [FM_JOB_DDL] = "ddl",   [FM_JOB_MATERIALIZE] = "materialize",
    [FM_JOB_REPORT] = "report", [FM_JOB_DROP] = "drop", [FM_JOB_DESTROY] = "destroy"};

void fm_worker_usage(FILE *to) {
    fprintf(to, "usage: featherman worker serve [--catalog-spec FILE] [--listen ADDR:PORT] [--slots N] [--read-only]\n"
                "                               [--once] [--token-file FILE] [--state DIR] [--memory-limit SIZE] [--max-temp-size SIZE] [--threads N]\n"
                "       featherman worker job init|ddl|materialize|report|drop|destroy [--catalog-spec FILE] [--table-spec FILE]\n"
                "                               [--state DIR]\n");
}

static const struct option worker_opts[] = {
    {"catalog-spec", required_argument, 0, 'c'}, {"table-spec", required_argument, 0, 'b'},
    {"state", required_argument, 0, 's'},        {"listen", required_argument, 0, 'l'},
    {"slots", required_argument, 0, 'n'},        {"read-only", no_argument, 0, 'r'},
    {"once", no_argument, 0, 'o'},               {"token-file", required_argument, 0, 'T'},
    {"memory-limit", required_argument, 0, 'M'}, {"max-temp-size", required_argument, 0, 'D'}, {"threads", required_argument, 0, 't'},
    {"no-sandbox", no_argument, 0, 'S'},         {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

/* one option; 1 for --help. --listen is only remembered: a job does not listen. */
static int worker_opt(fm_worker_config *cfg, int c, const char *arg, char **argv, const char **listen, fm_err *err) {
    switch (c) {
    case 'c': return fm_role_opt_path("catalog-spec", arg, true, &cfg->catalog_spec, err);
    case 'b': return fm_role_opt_path("table-spec", arg, true, &cfg->table_spec, err);
    case 's': return fm_role_opt_path("state", arg, true, &cfg->state, err);
    case 'T': return fm_role_opt_path("token-file", arg, true, &cfg->token_file, err);
    case 'n': return fm_role_opt_slots(arg, &cfg->slots, err);
    case 't': return fm_role_opt_threads(arg, &cfg->threads, err);
    case 'M': return fm_role_opt_memory_limit(arg, &cfg->memory_limit, err);
    case 'D': return fm_role_opt_max_temp_size(arg, &cfg->max_temp_size, err);
    case 'l': *listen = arg; return 0;
    case 'r': cfg->read_only = true; return 0;
    case 'o': cfg->once = true; return 0;
    case 'S': cfg->sandbox = false; return 0;
    case 'h': return 1;
    default: return fm_role_opt_getopt_error(c, argv, worker_opts, err);
    }
}

/* "serve" or "job <op>"; the number of words it took */
static int worker_mode(fm_worker_config *cfg, int argc, char **argv, fm_err *err) {
    if (argc >= 2 && !strcmp(argv[1], "serve")) {
        cfg->serve = true;
        return 1;
    }
    if (argc < 2) return fm_fail(err, FM_E_INVALID, "expected \"serve\" or \"job <operation>\"");
    if (strcmp(argv[1], "job"))
        return fm_fail(err, FM_E_INVALID, "expected \"serve\" or \"job <operation>\", got \"%.200s\"", argv[1]);
    if (argc < 3)
        return fm_fail(err, FM_E_INVALID, "job: expected an operation (init, ddl, materialize, report, drop, destroy)");
    for (size_t i = 0; i < sizeof job_ops / sizeof job_ops[0]; i++)
        if (!strcmp(argv[2], job_ops[i])) {
            cfg->op = (fm_job_op)i;
            return 2;
        }
    return fm_fail(err, FM_E_INVALID, "job: unknown operation \"%.200s\" (init, ddl, materialize, report, drop, destroy)",
                   argv[2]);
}

/* what the flags left unset: the state and temp directories from the environment, the address */
static int worker_defaults(fm_worker_config *cfg, const char *listen, fm_err *err) {
    const char *env = getenv("FEATHERMAN_STATE");
    if (!cfg->state && fm_role_opt_path("state", env && *env ? env : "/tmp/featherman", true, &cfg->state, err))
        return -1;
    env = getenv("FEATHERMAN_TEMP_DIR");
    if (env && *env && fm_role_opt_path("FEATHERMAN_TEMP_DIR", env, true, &cfg->temp_dir, err)) return -1;
    /* without --listen: $POD_IP or 127.0.0.1, which cannot fail */
    if (cfg->serve && fm_listen_or_pod_ip(listen, 8080, cfg->listen_addr, sizeof cfg->listen_addr, &cfg->port))
        return fm_fail(err, FM_E_INVALID, "--listen: expected ADDR:PORT, got \"%.200s\"", listen);
    return 0;
}

int fm_worker_cmd(int argc, char **argv, fm_worker_config *cfg, fm_err *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = 1;
    cfg->sandbox = true;
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) return 1;
    int shift = worker_mode(cfg, argc, argv, err);
    if (shift < 0) return -1;
    argc -= shift;
    argv += shift;
    const char *listen = NULL;
    int c;
    optind = 0; /* GNU getopt: start over (a test parses several command lines) */
    while ((c = getopt_long(argc, argv, ":c:b:s:l:n:roT:M:D:t:Sh", worker_opts, NULL)) != -1) {
        int rc = worker_opt(cfg, c, optarg, argv, &listen, err);
        if (rc) return rc;
    }
    if (fm_role_opt_extra(argc, argv, err)) return -1;
    return worker_defaults(cfg, listen, err);
}

void fm_worker_config_free(fm_worker_config *cfg) {
    free(cfg->catalog_spec);
    free(cfg->table_spec);
    free(cfg->state);
    free(cfg->token_file);
    free(cfg->temp_dir);
    free(cfg->memory_limit);
    free(cfg->max_temp_size);
    memset(cfg, 0, sizeof *cfg);
}

int fm_role_worker(int argc, char **argv) {
    fm_worker_config cfg;
    fm_err err;
    fm_err_clear(&err);
    int rc = fm_worker_cmd(argc, argv, &cfg, &err);
    if (rc == 1) {
        fm_worker_usage(stdout);
        rc = 0;
    } else if (rc < 0) {
        fprintf(stderr, "featherman worker: %s\n", err.msg);
        fm_worker_usage(stderr);
        rc = 2;
    } else if (fm_mkdirs(cfg.state, &err)) {
        fm_error("%s", err.msg);
        rc = 1;
    } else {
        rc = cfg.serve ? fm_worker_serve(&cfg) : fm_worker_job(&cfg);
    }
    fm_worker_config_free(&cfg);
    return rc;
}
