/* `featherman local`: the embedded default. Reads DuckLakeCatalog / DuckLakeTable / DuckLakePool
 * (and v1 Secret) manifests from a directory, creates or updates every catalog and table
 * idempotently, locks the engines down, confines the process (sandbox.h) and serves the query
 * API on 127.0.0.1:8080 until SIGTERM. Any invalid manifest stops the start with messages that
 * name the file and the field: serving half a configuration would hide the mistake. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "engine/catalog_ops.h"
#include "engine/engine.h"
#include "base/fsutil.h"
#include "base/listen.h"
#include "base/log.h"
#include "model/manifest.h"
#include "roles.h"
#include "engine/sandbox.h"
#include "base/signals.h"
#include "engine/server.h"
#include "model/spec.h"

typedef struct {
    fm_catalog_spec spec;
    const fm_pool_spec *pool; /* the pool serving it, if any */
    fm_engine *engine;
    const char *origin;
} local_catalog;

static void usage(FILE *to) {
    fprintf(to, "usage: featherman local --manifests DIR [--state DIR] [--listen ADDR:PORT] [--slots N]\n"
                "                        [--memory-limit SIZE] [--threads N] [--token-file FILE] [--no-sandbox]\n"
                "  Token: $FEATHERMAN_TOKEN, else --token-file, else generated and written to <state>/token.\n"
                "  State (file metadata, local data, temp): --state, else $FEATHERMAN_STATE, else ~/.local/state/featherman\n");
}

/* Secret named `name` among the manifests */
static json_t *find_secret(const fm_manifest_set *m, const char *name) {
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->docs[i].kind, "Secret")) continue;
        const char *n = json_string_value(json_object_get(json_object_get(m->docs[i].doc, "metadata"), "name"));
        if (n && !strcmp(n, name)) return m->docs[i].doc;
    }
    return NULL;
}

/* a secret value: from a Secret manifest, else from the environment variable of the key's name */
static char *secret_value(const fm_manifest_set *m, const char *secret, const char *key, fm_err *err, const char *cat,
                          const char *field) {
    if (!secret) return NULL;
    json_t *doc = find_secret(m, secret);
    char *v = NULL;
    if (doc) v = fm_secret_value(doc, key);
    else if (getenv(key)) v = strdup(getenv(key));
    if (!v)
        fm_fail(err, FM_E_NOT_FOUND, "catalog %s: %s: %s \"%s\"%s%s", cat, field,
                doc ? "key missing from Secret" : "no Secret manifest named", doc ? key : secret,
                doc ? " in Secret " : " (and no environment variable ", doc ? secret : key);
    if (!v && !doc && err) strncat(err->msg, ")", sizeof err->msg - strlen(err->msg) - 1);
    return v;
}

static char *make_token(const char *state, fm_err *err) {
    const char *env = getenv("FEATHERMAN_TOKEN");
    if (env && *env) return strdup(env);
    unsigned char raw[24];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fm_fail(err, FM_E_INTERNAL, "cannot generate a token");
        return NULL;
    }
    char *tok = malloc(sizeof raw * 2 + 1);
    for (size_t i = 0; i < sizeof raw; i++) sprintf(tok + 2 * i, "%02x", raw[i]);
    char *path = NULL;
    if (asprintf(&path, "%s/token", state) < 0) path = NULL;
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fchmod(fileno(f), 0600);
        fprintf(f, "%s\n", tok);
        fclose(f);
    }
    /* printed once, on stdout, for the person who started it; never logged */
    printf("featherman local: generated query token (also in %s): %s\n", path ? path : "?", tok);
    fflush(stdout);
    free(path);
    return tok;
}

static char *token_from_file(const char *file, fm_err *err) {
    char *t = fm_read_file(file, 4096, NULL, err);
    if (!t) return NULL;
    t[strcspn(t, "\r\n")] = 0;
    if (!*t) {
        free(t);
        fm_fail(err, FM_E_INVALID, "token file %s is empty", file);
        return NULL;
    }
    return t;
}

int fm_role_local(int argc, char **argv) {
    static const struct option opts[] = {{"manifests", required_argument, 0, 'm'}, {"state", required_argument, 0, 's'},
                                         {"listen", required_argument, 0, 'l'},    {"slots", required_argument, 0, 'n'},
                                         {"memory-limit", required_argument, 0, 'M'}, {"threads", required_argument, 0, 't'},
                                         {"token-file", required_argument, 0, 'T'}, {"no-sandbox", no_argument, 0, 'S'},
                                         {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    const char *manifests = NULL, *state = getenv("FEATHERMAN_STATE"), *listen = "127.0.0.1:8080",
               *memory_limit = NULL, *token_file = NULL;
    int slots = 4, threads = 0, sandbox = 1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:s:l:n:M:t:T:Sh", opts, NULL)) != -1) {
        switch (c) {
        case 'm': manifests = optarg; break;
        case 's': state = optarg; break;
        case 'l': listen = optarg; break;
        case 'n': slots = atoi(optarg); break;
        case 'M': memory_limit = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'T': token_file = optarg; break;
        case 'S': sandbox = 0; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!manifests || slots < 1) {
        usage(stderr);
        return 2;
    }
    char addr[64];
    int port;
    if (fm_parse_listen(listen, addr, sizeof addr, &port)) {
        fprintf(stderr, "featherman local: --listen wants ADDR:PORT, got \"%s\"\n", listen);
        return 2;
    }
    char *state_buf = NULL;
    if (!state) {
        const char *home = getenv("HOME");
        if (asprintf(&state_buf, "%s/.local/state/featherman", home ? home : ".") < 0) return 1;
        state = state_buf;
    }
    fm_signals_block();
    fm_err err;
    fm_err_clear(&err);
    int rc = 1;
    fm_manifest_set m = {0};
    local_catalog *cats = NULL;
    size_t ncats = 0;
    fm_table_spec *tables = NULL;
    size_t ntables = 0;
    fm_pool_spec *pools = NULL;
    size_t npools = 0;
    fm_engine **engines = NULL;
    fm_server *srv = NULL;
    char *token = NULL;
    int errors = 0;

    if (fm_mkdirs(state, &err) || fm_manifest_load_dir(manifests, &m, &err)) {
        fm_error("%s", err.msg);
        goto out;
    }
    cats = calloc(m.n + 1, sizeof *cats);
    tables = calloc(m.n + 1, sizeof *tables);
    pools = calloc(m.n + 1, sizeof *pools);
    for (size_t i = 0; i < m.n; i++) {
        fm_manifest_doc *d = &m.docs[i];
        fm_err_clear(&err);
        int prc = 0;
        if (!strcmp(d->kind, "DuckLakeCatalog")) {
            prc = fm_catalog_spec_parse(d->doc, &cats[ncats].spec, &err);
            if (!prc) cats[ncats].origin = d->file, ncats++;
        } else if (!strcmp(d->kind, "DuckLakeTable")) {
            prc = fm_table_spec_parse(d->doc, &tables[ntables], &err);
            if (!prc) ntables++;
        } else if (!strcmp(d->kind, "DuckLakePool")) {
            prc = fm_pool_spec_parse(d->doc, &pools[npools], &err);
            if (!prc) npools++;
        }
        if (prc) {
            const char *name = json_string_value(json_object_get(json_object_get(d->doc, "metadata"), "name"));
            fm_error("%s (document %d, %s %s): %s", d->file, d->index + 1, d->kind, name ? name : "?", err.msg);
            errors++;
        }
    }
    /* references between manifests */
    for (size_t i = 0; i < ncats; i++)
        for (size_t j = 0; j < i; j++)
            if (!strcmp(cats[i].spec.name, cats[j].spec.name)) {
                fm_error("%s: DuckLakeCatalog %s is defined twice", cats[i].origin, cats[i].spec.name);
                errors++;
            }
    for (size_t i = 0; i < ntables; i++) {
        int found = 0;
        for (size_t j = 0; j < ncats; j++) found |= !strcmp(cats[j].spec.name, tables[i].catalog_ref);
        if (!found) {
            fm_error("DuckLakeTable %s: spec.catalogRef: no DuckLakeCatalog named \"%s\" in %s", tables[i].name,
                     tables[i].catalog_ref, manifests);
            errors++;
        }
    }
    for (size_t i = 0; i < npools; i++) {
        int found = 0;
        for (size_t j = 0; j < ncats; j++)
            if (!strcmp(cats[j].spec.name, pools[i].catalog_ref)) {
                found = 1;
                if (cats[j].pool) {
                    fm_error("DuckLakePool %s: catalog %s is already served by pool %s", pools[i].name,
                             pools[i].catalog_ref, cats[j].pool->name);
                    errors++;
                }
                cats[j].pool = &pools[i];
            }
        if (!found) {
            fm_error("DuckLakePool %s: spec.catalogRef.name: no DuckLakeCatalog named \"%s\" in %s", pools[i].name,
                     pools[i].catalog_ref, manifests);
            errors++;
        }
    }
    if (!ncats && !errors) {
        fm_error("%s holds no DuckLakeCatalog manifest: nothing to serve", manifests);
        errors++;
    }
    if (errors) {
        fm_error("%d manifest error%s: nothing was changed", errors, errors == 1 ? "" : "s");
        goto out;
    }

    engines = calloc(ncats, sizeof *engines);
    for (size_t i = 0; i < ncats; i++) {
        fm_catalog_spec *cs = &cats[i].spec;
        fm_err_clear(&err);
        char *key = NULL, *secret = NULL, *pgpw = NULL;
        if (cs->has_object_store && cs->store.credentials.name) {
            key = secret_value(&m, cs->store.credentials.name, cs->store.credentials.key_a, &err, cs->name,
                               "spec.objectStore.credentialsSecret");
            if (key) secret = secret_value(&m, cs->store.credentials.name, cs->store.credentials.key_b, &err, cs->name,
                                           "spec.objectStore.credentialsSecret");
            if (!key || !secret) goto cat_fail;
        }
        if (!strcmp(cs->metadata_type, "postgres") && cs->pg.password.name) {
            pgpw = secret_value(&m, cs->pg.password.name, cs->pg.password.key_a, &err, cs->name,
                                "spec.metadata.passwordSecret");
            if (!pgpw) goto cat_fail;
        }
        int read_only = cats[i].pool && cats[i].pool->read_only;
        fm_engine_config ec = {.catalog = cs, .s3_key_id = key, .s3_secret = secret, .pg_password = pgpw,
                               .state_dir = state, .read_only = false, .create = true,
                               .memory_limit = memory_limit, .threads = threads};
        json_t *report = NULL;
        int orc = fm_engine_open(&engines[i], &ec, &err);
        if (!orc) orc = fm_catalog_init(engines[i], cs, &report, &err);
        if (!orc) {
            fm_info("catalog %s ready: DuckLake %s, snapshot %lld, data %s", cs->name,
                    json_string_value(json_object_get(report, "formatVersion")),
                    (long long)json_integer_value(json_object_get(report, "snapshotId")), fm_engine_data_path(engines[i]));
            json_decref(report);
            for (size_t t = 0; t < ntables && !orc; t++) {
                if (strcmp(tables[t].catalog_ref, cs->name)) continue;
                if (tables[t].paused) {
                    fm_info("table %s: reconciliation paused by annotation", tables[t].name);
                    continue;
                }
                report = NULL;
                orc = fm_catalog_apply_table(engines[i], &tables[t], &report, &err);
                if (orc) {
                    char m2[sizeof err.msg];
                    snprintf(m2, sizeof m2, "%s", err.msg);
                    fm_fail(&err, err.code, "DuckLakeTable %s: %s", tables[t].name, m2);
                }
                json_decref(report);
            }
        }
        if (!orc && read_only) {
            /* a read-only pool: reopen READ_ONLY so DuckDB itself refuses writes */
            fm_engine_close(engines[i]);
            ec.read_only = true;
            ec.create = false;
            orc = fm_engine_open(&engines[i], &ec, &err);
        }
        free(key);
        free(secret);
        free(pgpw);
        if (orc) goto cat_fail;
        int nslots = cats[i].pool ? cats[i].pool->max_size : slots;
        if (fm_engine_lockdown(engines[i], nslots, NULL, 0, &err)) goto cat_fail;
        continue;
    cat_fail:
        fm_error("catalog %s (%s): %s", cs->name, cats[i].origin, err.msg);
        goto out;
    }

    token = token_file ? token_from_file(token_file, &err) : make_token(state, &err);
    if (!token) {
        fm_error("%s", err.msg);
        goto out;
    }
    long max_query_ms = 0, queue_wait = 0;
    int queue_max = 0;
    for (size_t i = 0; i < ncats; i++)
        if (cats[i].pool) {
            if (cats[i].pool->max_query_duration_ms > max_query_ms) max_query_ms = cats[i].pool->max_query_duration_ms;
            if (cats[i].pool->queue_max_length > queue_max) queue_max = cats[i].pool->queue_max_length;
            if (cats[i].pool->queue_max_wait_ms > queue_wait) queue_wait = cats[i].pool->queue_max_wait_ms;
        }
    int sandboxed = 0;
    if (sandbox && !getenv("FEATHERMAN_NO_SANDBOX")) {
        const char **rw = calloc(ncats * 3 + 2, sizeof *rw);
        size_t nrw = 0;
        char **owned = calloc(2 * ncats + 2, sizeof *owned);
        for (size_t i = 0; i < ncats; i++) {
            char *dir = NULL;
            if (asprintf(&dir, "%s/%s", state, cats[i].spec.name) >= 0) rw[nrw++] = owned[i] = dir;
            const char *meta = fm_engine_metadata_location(engines[i]);
            /* the directory, not the file: SQLite and DuckDB create their journal / WAL beside it */
            if (meta[0] == '/') rw[nrw++] = owned[ncats + i] = fm_dirname(meta);
        }
        rw[nrw++] = state;
        fm_sandbox_rules rules = {.rw = rw, .nrw = nrw};
        fm_sandbox_default_ro(&rules.ro, &rules.nro);
        int abi = 0;
        if (fm_sandbox_apply(&rules, &sandboxed, &abi, &err)) {
            fm_error("sandbox: %s", err.msg);
            goto out;
        }
        if (sandboxed) fm_info("process confined with Landlock (ABI %d)", abi);
        else fm_warn("this kernel has no Landlock: the process is not confined beyond DuckDB's own settings");
        for (size_t i = 0; i < 2 * ncats; i++) free(owned[i]);
        free(owned);
        free(rw);
    }
    fm_server_config sc = {.listen_addr = addr, .port = port, .token = token, .queue_max = queue_max ? queue_max : 100,
                           .queue_wait_ms = queue_wait ? queue_wait : 30000,
                           .default_timeout_ms = max_query_ms ? max_query_ms : 60000, .role = "local",
                           .sandboxed = sandboxed};
    srv = fm_server_start(&sc, engines, ncats, &err);
    if (!srv) {
        fm_error("%s", err.msg);
        goto out;
    }
    rc = fm_server_run(srv);
out:
    fm_server_free(srv);
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    for (size_t i = 0; i < ncats; i++) {
        if (engines && engines[i]) fm_engine_close(engines[i]);
        fm_catalog_spec_free(&cats[i].spec);
    }
    for (size_t i = 0; i < ntables; i++) fm_table_spec_free(&tables[i]);
    for (size_t i = 0; i < npools; i++) fm_pool_spec_free(&pools[i]);
    free(engines);
    free(cats);
    free(tables);
    free(pools);
    fm_manifest_set_free(&m);
    free(state_buf);
    return rc;
}
