/* `featherman worker serve` and `featherman worker job <op>`: the data-plane processes.
 * Both read the catalog spec (the whole DuckLakeCatalog object, JSON or YAML) from
 * --catalog-spec FILE or $FEATHERMAN_CATALOG_SPEC, credentials from the environment
 * ($FEATHERMAN_S3_ACCESS_KEY_ID, $FEATHERMAN_S3_SECRET_ACCESS_KEY, $FEATHERMAN_PG_PASSWORD, or the
 * same names with _FILE holding a path — Kubernetes secretKeyRef / Secret volumes), local state
 * (file metadata) from --state or $FEATHERMAN_STATE, temp files under $FEATHERMAN_TEMP_DIR
 * (an emptyDir in a pod) or <state>/tmp.
 *   serve  one catalog, a fixed number of slots, 409 when they are all busy (the gateway picks
 *          another pod), optionally read-only, --once to serve a single query (Job fallback).
 *          Token: $FEATHERMAN_TOKEN or --token-file (in a cluster only the gateway has it).
 *   job    init | ddl | materialize | report | drop | destroy (catalog_ops.h): one operation, its JSON report on stdout and in the
 *          termination message file ($FEATHERMAN_TERMINATION_LOG, default /dev/termination-log
 *          when writable), exit 0; on failure {"error":{"code","message"}} there and exit 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/catalog_ops.h"
#include "engine/engine.h"
#include "base/fsutil.h"
#include "base/listen.h"
#include "base/log.h"
#include "base/yaml.h"
#include "model/manifest.h"
#include "roles.h"
#include "engine/sandbox.h"
#include "base/signals.h"
#include "engine/server.h"
#include "model/spec.h"

typedef struct {
    const char *catalog_spec, *table_spec, *state, *listen, *token_file, *memory_limit, *temp_dir;
    int slots, threads, read_only, once, sandbox;
} worker_opts;

static void usage(FILE *to) {
    fprintf(to, "usage: featherman worker serve [--catalog-spec FILE] [--listen ADDR:PORT] [--slots N] [--read-only]\n"
                "                               [--once] [--token-file FILE] [--state DIR] [--memory-limit SIZE] [--threads N]\n"
                "       featherman worker job init|ddl|materialize|report|drop|destroy [--catalog-spec FILE] [--table-spec FILE]\n"
                "                               [--state DIR]\n");
}

/* a secret from $NAME or the file named by $NAME_FILE */
static char *env_secret(const char *name) {
    const char *v = getenv(name);
    if (v && *v) return strdup(v);
    char fname[128];
    snprintf(fname, sizeof fname, "%s_FILE", name);
    char *f = fm_host_path(getenv(fname));
    if (!f) return NULL;
    char *s = fm_read_file(f, 64 * 1024, NULL, NULL);
    free(f);
    if (s) s[strcspn(s, "\r\n")] = 0;
    return s;
}

/* the first document of a JSON/YAML file or of an environment variable's text */
static json_t *load_doc(const char *file, const char *env, const char *what, fm_err *err) {
    char *text = NULL;
    size_t len = 0;
    const char *origin = file;
    if (file) {
        text = fm_read_file(file, 1 << 20, &len, err);
        if (!text) return NULL;
    } else if (getenv(env)) {
        text = strdup(getenv(env));
        len = strlen(text);
        origin = env;
    } else {
        fm_fail(err, FM_E_INVALID, "no %s: give --%s FILE or set $%s", what, what, env);
        return NULL;
    }
    json_t *docs = fm_yaml_to_json(text, len, origin, err);
    free(text);
    if (!docs) return NULL;
    json_t *doc = json_array_size(docs) ? json_incref(json_array_get(docs, 0)) : NULL;
    json_decref(docs);
    if (!doc) fm_fail(err, FM_E_INVALID, "%s is empty", origin);
    return doc;
}

static int open_engine(const worker_opts *o, fm_catalog_spec *cs, bool create, bool read_only, fm_engine **e, fm_err *err) {
    json_t *doc = load_doc(o->catalog_spec, "FEATHERMAN_CATALOG_SPEC", "catalog-spec", err);
    if (!doc) return -1;
    int rc = fm_catalog_spec_parse(doc, cs, err);
    json_decref(doc);
    if (rc) return -1;
    char *key = env_secret("FEATHERMAN_S3_ACCESS_KEY_ID"), *secret = env_secret("FEATHERMAN_S3_SECRET_ACCESS_KEY"),
         *pgpw = env_secret("FEATHERMAN_PG_PASSWORD");
    if (cs->has_object_store && cs->store.credentials.name && (!key || !secret)) {
        rc = fm_fail(err, FM_E_NOT_FOUND,
                     "S3 credentials missing: set FEATHERMAN_S3_ACCESS_KEY_ID and FEATHERMAN_S3_SECRET_ACCESS_KEY "
                     "(from Secret %s)", cs->store.credentials.name);
    } else {
        fm_engine_config ec = {.catalog = cs, .s3_key_id = key, .s3_secret = secret, .pg_password = pgpw,
                               .state_dir = o->state, .temp_root = o->temp_dir, .read_only = read_only, .create = create,
                               .memory_limit = o->memory_limit, .threads = o->threads};
        rc = fm_engine_open(e, &ec, err);
    }
    free(key);
    free(secret);
    free(pgpw);
    return rc;
}

static int confine(fm_engine *e, const worker_opts *o, const char *extra, int *sandboxed, fm_err *err) {
    *sandboxed = 0;
    if (!o->sandbox || getenv("FEATHERMAN_NO_SANDBOX")) return 0;
    const char *rw[4];
    size_t nrw = 0;
    rw[nrw++] = o->state;
    const char *meta = fm_engine_metadata_location(e);
    /* the directory, not the file: SQLite and DuckDB create their journal / WAL beside it */
    char *meta_dir = meta[0] == '/' ? fm_dirname(meta) : NULL;
    if (meta_dir) rw[nrw++] = meta_dir;
    const char *data = fm_engine_data_path(e);
    if (data[0] == '/') rw[nrw++] = data;
    if (extra && extra[0] == '/') rw[nrw++] = extra;
    fm_sandbox_rules rules = {.rw = rw, .nrw = nrw};
    fm_sandbox_default_ro(&rules.ro, &rules.nro);
    int abi = 0;
    int rc = fm_sandbox_apply(&rules, sandboxed, &abi, err);
    free(meta_dir);
    if (rc) return -1;
    if (!*sandboxed) fm_warn("this kernel has no Landlock: the process is not confined beyond DuckDB's own settings");
    return 0;
}

static int serve(const worker_opts *o) {
    fm_signals_block();
    fm_err err;
    fm_err_clear(&err);
    fm_catalog_spec cs;
    memset(&cs, 0, sizeof cs);
    fm_engine *e = NULL;
    fm_server *srv = NULL;
    char *token = NULL;
    int rc = 1, sandboxed = 0;
    char addr[64];
    int port;
    if (fm_listen_or_pod_ip(o->listen, 8080, addr, sizeof addr, &port)) {
        fprintf(stderr, "featherman worker serve: --listen wants ADDR:PORT\n");
        return 2;
    }
    if (o->token_file) {
        token = fm_read_file(o->token_file, 4096, NULL, &err);
        if (token) token[strcspn(token, "\r\n")] = 0;
    } else if (getenv("FEATHERMAN_TOKEN")) {
        token = strdup(getenv("FEATHERMAN_TOKEN"));
    } else {
        fm_fail(&err, FM_E_INVALID, "no token: set $FEATHERMAN_TOKEN or give --token-file (only the gateway may call a worker)");
    }
    if (!token || !*token) goto fail;
    if (open_engine(o, &cs, false, o->read_only, &e, &err)) goto fail;
    if (fm_engine_lockdown(e, o->slots, NULL, 0, &err)) goto fail;
    if (confine(e, o, NULL, &sandboxed, &err)) goto fail;
    fm_server_config sc = {.listen_addr = addr, .port = port, .token = token, .queue_max = 0, .once = o->once,
                           .pod_name = getenv("POD_NAME"), .role = "worker", .sandboxed = sandboxed};
    srv = fm_server_start(&sc, &e, 1, &err);
    if (!srv) goto fail;
    rc = fm_server_run(srv);
    goto out;
fail:
    fm_error("%s", err.msg);
out:
    fm_server_free(srv);
    if (e) fm_engine_close(e);
    fm_catalog_spec_free(&cs);
    free(token);
    return rc;
}

/* The termination-message file, opened before the sandbox is applied (a confined process could
 * no longer open it): $FEATHERMAN_TERMINATION_LOG, else /dev/termination-log when writable. */
static FILE *open_termination_log(void) {
    char *path = fm_host_path(getenv("FEATHERMAN_TERMINATION_LOG"));
    if (!path) {
        char *dflt = fm_host_path("/dev/termination-log");
        if (access(dflt, W_OK) == 0) path = dflt;
        else free(dflt);
    }
    FILE *f = path ? fopen(path, "w") : NULL;
    free(path);
    return f;
}

static void report(json_t *r, const fm_err *err, FILE *term) {
    if (!r) {
        r = json_object();
        json_t *e = json_object();
        json_object_set_new(e, "code", json_string(fm_errcode_name(err->code)));
        json_object_set_new(e, "message", json_string(err->msg));
        json_object_set_new(r, "error", e);
    }
    char *text = json_dumps(r, JSON_COMPACT);
    printf("%s\n", text);
    fflush(stdout);
    if (term) {
        /* Kubernetes keeps at most 4 KiB of a termination message */
        fprintf(term, "%.4000s", text);
        fclose(term);
    }
    free(text);
    json_decref(r);
}

static int job(const worker_opts *o, const char *op) {
    fm_err err;
    fm_err_clear(&err);
    fm_catalog_spec cs;
    memset(&cs, 0, sizeof cs);
    fm_table_spec ts;
    memset(&ts, 0, sizeof ts);
    int have_table = 0;
    fm_engine *e = NULL;
    json_t *r = NULL;
    char *dest = NULL;
    FILE *term = open_termination_log();
    int is_init = !strcmp(op, "init"), is_ddl = !strcmp(op, "ddl"), is_mat = !strcmp(op, "materialize");
    int is_report = !strcmp(op, "report"), is_drop = !strcmp(op, "drop"), is_destroy = !strcmp(op, "destroy");
    if (!is_init && !is_ddl && !is_mat && !is_report && !is_drop && !is_destroy) {
        fprintf(stderr, "featherman worker job: unknown operation \"%s\" (init, ddl, materialize, report, drop, "
                        "destroy)\n", op);
        if (term) fclose(term);
        return 2;
    }
    if (!is_init && !is_destroy) {
        json_t *doc = load_doc(o->table_spec, "FEATHERMAN_TABLE_SPEC", "table-spec", &err);
        if (!doc || fm_table_spec_parse(doc, &ts, &err)) {
            json_decref(doc);
            goto done;
        }
        json_decref(doc);
        have_table = 1;
    }
    if (open_engine(o, &cs, is_init, false, &e, &err)) goto done;
    if (is_init) {
        fm_catalog_init(e, &cs, &r, &err);
    } else if (is_ddl) {
        fm_catalog_apply_table(e, &ts, &r, &err);
    } else if (is_report) {
        fm_catalog_table_report(e, ts.table, &r, &err);
    } else if (is_drop) {
        fm_catalog_drop_table(e, ts.table, &r, &err);
    } else if (is_destroy) {
        fm_catalog_destroy(e, &r, &err);
    } else {
        if (!ts.materialize.enabled) {
            fm_fail(&err, FM_E_INVALID, "spec.materializeTo.enabled is false: nothing to materialize");
            goto done;
        }
        dest = fm_catalog_materialize_dest(&ts, o->state);
        const char *allowed[1] = {dest};
        int sandboxed = 0;
        if (dest[0] == '/' && fm_mkdirs(dest, &err)) goto done;
        if (fm_engine_lockdown(e, 1, allowed, 1, &err) || confine(e, o, dest, &sandboxed, &err)) goto done;
        fm_catalog_materialize(e, fm_engine_slot(e, 0), &ts, dest, &r, &err);
    }
done:
    report(r, &err, term);
    if (e) fm_engine_close(e);
    fm_catalog_spec_free(&cs);
    if (have_table) fm_table_spec_free(&ts);
    free(dest);
    return r ? 0 : 1;
}

int fm_role_worker(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *mode = argv[1];
    const char *op = NULL;
    int shift = 1;
    if (!strcmp(mode, "job")) {
        if (argc < 3) {
            usage(stderr);
            return 2;
        }
        op = argv[2];
        shift = 2;
    } else if (strcmp(mode, "serve")) {
        usage(stderr);
        return 2;
    }
    worker_opts o = {.state = getenv("FEATHERMAN_STATE"), .slots = 1, .sandbox = 1};
    if (!o.state) o.state = "/tmp/featherman";
    static const struct option opts[] = {
        {"catalog-spec", required_argument, 0, 'c'}, {"table-spec", required_argument, 0, 'b'},
        {"state", required_argument, 0, 's'},        {"listen", required_argument, 0, 'l'},
        {"slots", required_argument, 0, 'n'},        {"read-only", no_argument, 0, 'r'},
        {"once", no_argument, 0, 'o'},               {"token-file", required_argument, 0, 'T'},
        {"memory-limit", required_argument, 0, 'M'}, {"threads", required_argument, 0, 't'},
        {"no-sandbox", no_argument, 0, 'S'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc - shift, argv + shift, "c:b:s:l:n:roT:M:t:Sh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': o.catalog_spec = optarg; break;
        case 'b': o.table_spec = optarg; break;
        case 's': o.state = optarg; break;
        case 'l': o.listen = optarg; break;
        case 'n': o.slots = atoi(optarg); break;
        case 'r': o.read_only = 1; break;
        case 'o': o.once = 1; break;
        case 'T': o.token_file = optarg; break;
        case 'M': o.memory_limit = optarg; break;
        case 't': o.threads = atoi(optarg); break;
        case 'S': o.sandbox = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (o.slots < 1) o.slots = 1;
    /* container paths → host paths (FEATHERMAN_ROOT, see fsutil.h); freed at exit */
    char *owned[6] = {fm_host_path(o.catalog_spec), fm_host_path(o.table_spec), fm_host_path(o.state),
                      fm_host_path(o.token_file), fm_host_path(getenv("FEATHERMAN_TEMP_DIR")), NULL};
    o.catalog_spec = owned[0];
    o.table_spec = owned[1];
    o.state = owned[2];
    o.token_file = owned[3];
    o.temp_dir = owned[4];
    fm_err err;
    int rc;
    if (fm_mkdirs(o.state, &err)) {
        fm_error("%s", err.msg);
        rc = 1;
    } else {
        rc = op ? job(&o, op) : serve(&o);
    }
    for (int i = 0; i < 5; i++) free(owned[i]);
    return rc;
}
