/* `featherman local`, once its options and manifests are checked (local.h): every catalog created
 * or updated idempotently with its tables, each engine locked down (a pool's catalog read-only if
 * the pool says so), the process confined (sandbox.h) and the query API served until SIGTERM. A
 * catalog that cannot be opened (unreachable store, corrupt metadata, a refused spec) is logged
 * with its name, manifest file and cause, and answers 503 with them while the other catalogs
 * serve; when none can be opened the start fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/xalloc.h"
#include "engine/catalog_ops.h"
#include "engine/lake_open.h"
#include "engine/local.h"
#include "engine/role_opts.h"
#include "engine/sandbox.h"
#include "engine/server.h"

typedef struct {
    const fm_local_config *cfg;
    fm_local_plan plan;
    fm_engine **engines; /* one per plan.cats[i]; NULL for one that could not be opened */
    fm_engine **open;    /* the opened ones, in order */
    size_t nopen;
    const char **failed_names;
    char **failed_causes;
    size_t nfailed;
    char *token;
    int sandboxed;
    char default_memory[32]; /* each engine's memory_limit when --memory-limit is not given */
} local_run;

/* the catalog's credentials from Secret manifests or the environment; all NULL when it has none */
typedef struct {
    char *s3_key, *s3_secret, *pg_password;
} local_creds;

static int load_creds(const fm_local_plan *p, const fm_catalog_spec *cs, local_creds *cr, fm_err *err) {
    memset(cr, 0, sizeof *cr);
    if (cs->has_object_store && cs->store.credentials.name) {
        const char *field = "spec.objectStore.credentialsSecret";
        cr->s3_key = fm_local_secret(p, cs->store.credentials.name, cs->store.credentials.key_a, cs->name, field, err);
        if (!cr->s3_key) return -1;
        cr->s3_secret = fm_local_secret(p, cs->store.credentials.name, cs->store.credentials.key_b, cs->name, field, err);
        if (!cr->s3_secret) return -1;
    }
    if (!strcmp(cs->metadata_type, "postgres") && cs->pg.password.name) {
        cr->pg_password = fm_local_secret(p, cs->pg.password.name, cs->pg.password.key_a, cs->name,
                                          "spec.metadata.passwordSecret", err);
        if (!cr->pg_password) return -1;
    }
    return 0;
}

static void free_creds(local_creds *cr) {
    free(cr->s3_key);
    free(cr->s3_secret);
    free(cr->pg_password);
}

/* the catalog's DuckLakeTables created or altered to match their specs */
static int apply_tables(fm_engine *e, const fm_local_plan *p, const char *catalog, fm_err *err) {
    for (size_t t = 0; t < p->ntables; t++) {
        const fm_table_spec *ts = &p->tables[t];
        if (strcmp(ts->catalog_ref, catalog)) continue;
        if (ts->paused) {
            fm_info("table %s: reconciliation paused by annotation", ts->name);
            continue;
        }
        json_t *report = NULL;
        int rc = fm_catalog_apply_table(e, ts, &report, err);
        json_decref(report);
        if (rc) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            return fm_fail(err, err->code, "DuckLakeTable %s: %s", ts->name, m);
        }
    }
    return 0;
}

/* open, init and apply tables read-write; reopened READ_ONLY for a read-only pool, so that DuckDB
 * itself refuses writes; then locked down */
static int open_catalog(local_run *r, size_t i, fm_err *err) {
    const fm_local_catalog *lc = &r->plan.cats[i];
    local_creds cr;
    int rc = load_creds(&r->plan, &lc->spec, &cr, err);
    fm_engine_config ec = {.catalog = &lc->spec, .s3_key_id = cr.s3_key, .s3_secret = cr.s3_secret,
                           .pg_password = cr.pg_password, .state_dir = r->cfg->state, .create = true,
                           .memory_limit = r->cfg->memory_limit ? r->cfg->memory_limit : r->default_memory,
                           .max_temp_size = r->cfg->max_temp_size,
                           .threads = r->cfg->threads};
    json_t *report = NULL;
    if (!rc) rc = fm_lake_open(&r->engines[i], &ec, err);
    if (!rc) rc = fm_catalog_init(r->engines[i], &lc->spec, &report, err);
    if (!rc) {
        fm_info("catalog %s ready: DuckLake %s, snapshot %lld, data %s", lc->spec.name,
                json_string_value(json_object_get(report, "formatVersion")),
                (long long)json_integer_value(json_object_get(report, "snapshotId")),
                fm_engine_data_path(r->engines[i]));
        rc = apply_tables(r->engines[i], &r->plan, lc->spec.name, err);
    }
    json_decref(report);
    if (!rc && lc->pool && lc->pool->read_only) {
        fm_engine_close(r->engines[i]);
        ec.read_only = true;
        ec.create = false;
        rc = fm_engine_open(&r->engines[i], &ec, err);
    }
    free_creds(&cr);
    if (!rc) rc = fm_engine_lockdown(r->engines[i], lc->pool ? lc->pool->max_size : r->cfg->slots, NULL, 0, err);
    return rc;
}

/* $FEATHERMAN_TOKEN, else a new random one written to <state>/token (0600) and printed once */
static char *make_token(const char *state, fm_err *err) {
    const char *env = getenv("FEATHERMAN_TOKEN");
    if (env && *env) return fm_xstrdup(env);
    unsigned char raw[24];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        fm_fail(err, FM_E_INTERNAL, "cannot generate a token");
        return NULL;
    }
    char *tok = fm_xmalloc(sizeof raw * 2 + 1);
    for (size_t i = 0; i < sizeof raw; i++) sprintf(tok + 2 * i, "%02x", raw[i]);
    char *path = NULL;
    path = fm_xasprintf("%s/token", state);
    FILE *f = fopen(path, "w");
    if (f) {
        fchmod(fileno(f), 0600);
        fprintf(f, "%s\n", tok);
        fclose(f);
    }
    /* printed once, on stdout, for the person who started it; never logged */
    printf("featherman local: generated query token (also in %s): %s\n", path, tok);
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

/* the credentials' environment variables, once every catalog has read them: the standard names
 * and each catalog's Secret keys (fm_local_secret falls back to $KEY) */
static void scrub_credentials(const local_run *r) {
    static const char *const fixed[] = {"FEATHERMAN_TOKEN", "FEATHERMAN_S3_ACCESS_KEY_ID",
                                        "FEATHERMAN_S3_SECRET_ACCESS_KEY", "FEATHERMAN_PG_PASSWORD",
                                        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                                        "PGPASSWORD"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) fm_sandbox_scrub_env(fixed[i]);
    for (size_t i = 0; i < r->plan.ncats; i++) {
        const fm_catalog_spec *cs = &r->plan.cats[i].spec;
        const char *keys[] = {cs->has_object_store ? cs->store.credentials.key_a : NULL,
                              cs->has_object_store ? cs->store.credentials.key_b : NULL,
                              !strcmp(cs->metadata_type, "postgres") ? cs->pg.password.key_a : NULL};
        for (size_t k = 0; k < 3; k++)
            if (keys[k] && *keys[k]) fm_sandbox_scrub_env(keys[k]);
    }
}

/* Landlock: each catalog's directory and the directory of its metadata file (SQLite and DuckDB
 * create their journal / WAL beside it) read-write, or read-only for a read-only catalog; each
 * engine's spill directory read-write. The rest of the state directory (the token file) is out of
 * reach. Outgoing TCP only to the catalogs' object-store and Postgres ports. */
static int confine(local_run *r, fm_err *err) {
    scrub_credentials(r);
    unsigned long long memory = 0, lim = 0;
    for (size_t i = 0; i < r->plan.ncats; i++)
        if (r->engines[i]) memory += fm_engine_memory_limit(r->engines[i]);
    if (fm_sandbox_limit_data(fm_sandbox_data_headroom(memory), &lim, err)) return -1;
    if (!r->cfg->sandbox || getenv("FEATHERMAN_NO_SANDBOX")) return 0;
    size_t n = r->plan.ncats;
    const char **rw = fm_xcalloc(3 * n + 1, sizeof *rw);
    const char **dro;
    size_t ndro;
    fm_sandbox_default_ro(&dro, &ndro);
    const char **ro = fm_xcalloc(ndro + 2 * n + 1, sizeof *ro);
    memcpy(ro, dro, ndro * sizeof *ro);
    size_t nro = ndro;
    char **owned = fm_xcalloc(2 * n + 1, sizeof *owned);
    int *ports = fm_xcalloc(2 * n + 1, sizeof *ports);
    size_t nrw = 0, nowned = 0, nports = 0;
    for (size_t i = 0; i < n; i++) {
        fm_engine *e = r->engines[i];
        if (!e) continue; /* could not be opened: nothing of it is served */
        bool ro_lake = fm_engine_read_only(e);
        owned[nowned] = fm_xasprintf("%s/%s", r->cfg->state, r->plan.cats[i].spec.name);
        if (ro_lake) ro[nro++] = owned[nowned++];
        else rw[nrw++] = owned[nowned++];
        const char *meta = fm_engine_metadata_location(e);
        if (meta[0] == '/') {
            owned[nowned] = fm_dirname(meta);
            if (ro_lake) ro[nro++] = owned[nowned++];
            else rw[nrw++] = owned[nowned++];
        }
        rw[nrw++] = fm_engine_temp_dir(e);
        const int *p;
        size_t np = fm_engine_net_ports(e, &p);
        for (size_t k = 0; k < np; k++) ports[nports++] = p[k];
    }
    fm_sandbox_rules rules = {.rw = rw, .nrw = nrw, .ro = ro, .nro = nro, .ports = ports, .nports = nports,
                              .restrict_net = true};
    int abi = 0, rc = fm_sandbox_apply(&rules, &r->sandboxed, &abi, err);
    if (rc) fm_fail(err, err->code, "sandbox: %.900s", err->msg);
    else if (r->sandboxed) fm_info("process confined with Landlock (ABI %d)", abi);
    else fm_warn("this kernel has no Landlock: the process is not confined beyond DuckDB's own settings");
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    free(owned);
    free(rw);
    free(ro);
    free(ports);
    return rc;
}

/* the server's limits: the largest any pool asks for, else the defaults */
static fm_server_config server_config(const local_run *r) {
    fm_server_config sc = {.listen_addr = r->cfg->listen_addr, .port = r->cfg->port, .token = r->token,
                           .queue_max = 0, .queue_wait_ms = 0, .default_timeout_ms = 0, .role = "local",
                           .sandboxed = r->sandboxed};
    for (size_t i = 0; i < r->plan.ncats; i++) {
        const fm_pool_spec *p = r->plan.cats[i].pool;
        if (!p) continue;
        if (p->max_query_duration_ms > sc.default_timeout_ms) sc.default_timeout_ms = p->max_query_duration_ms;
        if (p->queue_max_length > sc.queue_max) sc.queue_max = p->queue_max_length;
        if (p->queue_max_wait_ms > sc.queue_wait_ms) sc.queue_wait_ms = p->queue_max_wait_ms;
    }
    if (!sc.queue_max) sc.queue_max = 100;
    if (!sc.queue_wait_ms) sc.queue_wait_ms = 30000;
    if (!sc.default_timeout_ms) sc.default_timeout_ms = 60000;
    return sc;
}

/* everything up to a running server; 0 or -1 with err */
static int start(local_run *r, fm_err *err) {
    if (fm_mkdirs(r->cfg->state, err)) return -1;
    /* without --memory-limit the catalogs share 80% of the machine's memory (DuckDB's own default
     * gives that to each of them) */
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    unsigned long long share = pages > 0 && psize > 0 && r->plan.ncats
                                   ? (unsigned long long)pages * (unsigned long long)psize / 5 * 4 / r->plan.ncats
                                   : 0;
    if (share < FM_ROLE_MIN_MEMORY) share = FM_ROLE_MIN_MEMORY;
    snprintf(r->default_memory, sizeof r->default_memory, "%lluB", share);
    size_t n = r->plan.ncats;
    r->engines = fm_xcalloc(n + 1, sizeof *r->engines);
    r->open = fm_xcalloc(n + 1, sizeof *r->open);
    r->failed_names = fm_xcalloc(n + 1, sizeof *r->failed_names);
    r->failed_causes = fm_xcalloc(n + 1, sizeof *r->failed_causes);
    fm_err first;
    fm_err_clear(&first);
    for (size_t i = 0; i < n; i++) {
        fm_err_clear(err);
        if (!open_catalog(r, i, err)) {
            r->open[r->nopen++] = r->engines[i];
            continue;
        }
        fm_engine_close(r->engines[i]);
        r->engines[i] = NULL;
        char m[sizeof err->msg];
        snprintf(m, sizeof m, "%s", err->msg);
        fm_fail(err, err->code, "catalog %s (%s): %s", r->plan.cats[i].spec.name, r->plan.cats[i].origin, m);
        if (!r->nfailed) first = *err;
        r->failed_names[r->nfailed] = r->plan.cats[i].spec.name;
        r->failed_causes[r->nfailed++] = fm_xstrdup(err->msg);
    }
    if (!r->nopen) {
        *err = first;
        return -1;
    }
    for (size_t i = 0; i < r->nfailed; i++) fm_error("%s; the other catalogs are served", r->failed_causes[i]);
    r->token = r->cfg->token_file ? token_from_file(r->cfg->token_file, err) : make_token(r->cfg->state, err);
    if (!r->token) return -1;
    return confine(r, err);
}

int fm_local_run(const fm_local_config *cfg) {
    fm_signals_block();
    local_run r = {.cfg = cfg};
    fm_err err;
    fm_err_clear(&err);
    fm_server *srv = NULL;
    int rc = 1;
    if (fm_local_plan_load(cfg->manifests, &r.plan)) goto out;
    if (start(&r, &err)) {
        fm_error("%s", err.msg);
        goto out;
    }
    fm_server_config sc = server_config(&r);
    sc.failed_catalogs = r.failed_names;
    sc.failed_causes = (const char *const *)r.failed_causes;
    sc.nfailed = r.nfailed;
    srv = fm_server_start(&sc, r.open, r.nopen, &err);
    if (!srv) fm_error("%s", err.msg);
    else rc = fm_server_run(srv);
out:
    fm_server_free(srv);
    if (r.token) {
        memset(r.token, 0, strlen(r.token));
        free(r.token);
    }
    for (size_t i = 0; r.engines && i < r.plan.ncats; i++)
        if (r.engines[i]) fm_engine_close(r.engines[i]);
    free(r.engines);
    free(r.open);
    for (size_t i = 0; i < r.nfailed; i++) free(r.failed_causes[i]);
    free(r.failed_causes);
    free(r.failed_names);
    fm_local_plan_free(&r.plan);
    return rc;
}
