/* What `worker serve` and `worker job` share (worker.h): the spec documents, credentials from the
 * environment, the engine on the catalog, and the Landlock rules. */
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "base/yaml.h"
#include "engine/lake_open.h"
#include "engine/sandbox.h"
#include "engine/worker.h"

/* a secret from $NAME or the file named by $NAME_FILE */
static char *env_secret(const char *name) {
    const char *v = getenv(name);
    if (v && *v) return fm_xstrdup(v);
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
        text = fm_xstrdup(getenv(env));
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

int fm_worker_table_spec(const fm_worker_config *cfg, fm_table_spec *ts, fm_err *err) {
    json_t *doc = load_doc(cfg->table_spec, "FEATHERMAN_TABLE_SPEC", "table-spec", err);
    int rc = doc ? fm_table_spec_parse(doc, ts, err) : -1;
    json_decref(doc);
    return rc;
}

int fm_worker_open_engine(const fm_worker_config *cfg, fm_catalog_spec *cs, bool create, bool read_only,
                          fm_engine **e, fm_err *err) {
    json_t *doc = load_doc(cfg->catalog_spec, "FEATHERMAN_CATALOG_SPEC", "catalog-spec", err);
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
                               .state_dir = cfg->state, .temp_root = cfg->temp_dir, .read_only = read_only,
                               .create = create, .memory_limit = cfg->memory_limit,
                               .max_temp_size = cfg->max_temp_size, .threads = cfg->threads};
        rc = fm_lake_open(e, &ec, err);
    }
    free(key);
    free(secret);
    free(pgpw);
    return rc;
}

/* every variable a credential may arrive in; after start-up none of them is left */
static const char *const credential_env[] = {
    "FEATHERMAN_TOKEN", "FEATHERMAN_S3_ACCESS_KEY_ID", "FEATHERMAN_S3_SECRET_ACCESS_KEY", "FEATHERMAN_PG_PASSWORD",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD", NULL};

static void scrub_credentials(void) {
    for (const char *const *n = credential_env; *n; n++) fm_sandbox_scrub_env(*n);
}

int fm_worker_confine(fm_engine *e, const fm_worker_config *cfg, const char *extra, int *sandboxed, fm_err *err) {
    *sandboxed = 0;
    scrub_credentials();
    unsigned long long lim;
    if (fm_sandbox_limit_data(fm_sandbox_data_headroom(fm_engine_memory_limit(e)), &lim, err)) return -1;
    if (!cfg->sandbox || getenv("FEATHERMAN_NO_SANDBOX")) return 0;
    const char *rw[4], *ro_own[2];
    size_t nrw = 0, nro_own = 0;
    bool ro_lake = fm_engine_read_only(e);
    /* a read-only engine writes only where it spills: the metadata's directory and the data are
     * read-only to it, and so is the rest of the state directory */
    if (!ro_lake) rw[nrw++] = cfg->state;
    rw[nrw++] = fm_engine_temp_dir(e);
    const char *meta = fm_engine_metadata_location(e);
    /* the directory, not the file: SQLite and DuckDB create their journal / WAL beside it */
    char *meta_dir = meta[0] == '/' ? fm_dirname(meta) : NULL;
    const char *data = fm_engine_data_path(e);
    if (ro_lake) {
        if (meta_dir) ro_own[nro_own++] = meta_dir;
        if (data[0] == '/') ro_own[nro_own++] = data;
    } else {
        if (meta_dir) rw[nrw++] = meta_dir;
        if (data[0] == '/') rw[nrw++] = data;
    }
    if (extra && extra[0] == '/' && nrw < 4) rw[nrw++] = extra;
    const char **dro;
    size_t ndro;
    fm_sandbox_default_ro(&dro, &ndro);
    const char **ro = fm_xcalloc(ndro + nro_own, sizeof *ro);
    memcpy(ro, dro, ndro * sizeof *ro);
    for (size_t i = 0; i < nro_own; i++) ro[ndro + i] = ro_own[i];
    fm_sandbox_rules rules = {.rw = rw, .nrw = nrw, .ro = ro, .nro = ndro + nro_own, .restrict_net = true};
    rules.nports = fm_engine_net_ports(e, &rules.ports);
    int abi = 0;
    int rc = fm_sandbox_apply(&rules, sandboxed, &abi, err);
    free(ro);
    free(meta_dir);
    if (rc) return -1;
    if (!*sandboxed) fm_warn("this kernel has no Landlock: the process is not confined beyond DuckDB's own settings");
    return 0;
}
