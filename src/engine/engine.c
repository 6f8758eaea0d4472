/* The DuckDB instance behind one catalog: offline extensions, credentials as secrets, the
 * DuckLake attach, and the lock-down that must precede any user SQL (see engine.h). */
#include "engine/engine.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "base/buf.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "model/sqlquote.h"
#include "base/xalloc.h"
#include "engine/sandbox.h"

struct fm_engine {
    duckdb_database db;
    duckdb_connection admin;
    duckdb_connection *slots;
    int nslots;
    char *catalog;
    char *data_path;
    char *metadata_location;
    char *temp_dir;
    char *metadata_schema;
    bool read_only;
    unsigned long long memory_limit;
    int net_ports[2];
    size_t nnet_ports;
    fm_sqlguard *guard;
    fm_authz *authz;
};

int fm_exec(duckdb_connection con, const char *sql, fm_err *err) {
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        fm_fail(err, FM_E_INVALID, "%s", m ? m : "query failed");
        duckdb_destroy_result(&res);
        return -1;
    }
    duckdb_destroy_result(&res);
    return 0;
}

char *fm_query_string(duckdb_connection con, const char *sql, fm_err *err) {
    duckdb_result res;
    if (duckdb_query(con, sql, &res) == DuckDBError) {
        const char *m = duckdb_result_error(&res);
        fm_fail(err, FM_E_INVALID, "%s", m ? m : "query failed");
        duckdb_destroy_result(&res);
        return NULL;
    }
    char *out = NULL;
    if (duckdb_row_count(&res) > 0 && duckdb_column_count(&res) > 0 && !duckdb_value_is_null(&res, 0, 0))
        out = duckdb_value_varchar(&res, 0, 0);
    if (out) {
        char *copy = fm_xstrdup(out);
        duckdb_free(out);
        out = copy;
    }
    duckdb_destroy_result(&res);
    return out;
}

static int set_config(duckdb_config cfg, const char *k, const char *v, fm_err *err) {
    if (duckdb_set_config(cfg, k, v) == DuckDBError)
        return fm_fail(err, FM_E_INVALID, "DuckDB option %s=%s was refused", k, v);
    return 0;
}

/* paths of the catalog's metadata and data, from the spec and the state directory */
static int resolve_paths(fm_engine *e, const fm_engine_config *cfg, fm_err *err) {
    const fm_catalog_spec *c = cfg->catalog;
    fm_buf b;
    fm_buf_init(&b);
    if (!strcmp(c->metadata_type, "postgres")) {
        e->metadata_location = fm_xstrdup("postgres");
    } else if (c->metadata_path) {
        e->metadata_location = fm_host_path(c->metadata_path);
    } else {
        fm_buf_printf(&b, "%s/%s/metadata.%s", cfg->state_dir, c->name,
                      !strcmp(c->metadata_type, "sqlite") ? "sqlite" : "ducklake");
        e->metadata_location = fm_buf_steal(&b);
    }
    if (c->has_object_store) {
        fm_buf_printf(&b, "s3://%s/%s", c->store.bucket, c->store.prefix ? c->store.prefix : "");
        if (b.data[b.len - 1] != '/') fm_buf_putc(&b, '/');
    } else {
        fm_buf_printf(&b, "%s/%s/data/", cfg->state_dir, c->name);
    }
    e->data_path = fm_buf_steal(&b);
    if (cfg->temp_root)
        fm_buf_printf(&b, "%s/%s", cfg->temp_root, c->name);
    else
        fm_buf_printf(&b, "%s/tmp/%s", cfg->state_dir, c->name);
    e->temp_dir = fm_buf_steal(&b);

    if (strcmp(c->metadata_type, "postgres")) {
        if (fm_mkdirs_for_file(e->metadata_location, err)) return -1;
    }
    if (!c->has_object_store && fm_mkdirs(e->data_path, err)) return -1;
    return fm_mkdirs(e->temp_dir, err);
}

/* the ports the sandbox lets the engine connect to */
static int resolve_ports(fm_engine *e, const fm_catalog_spec *c, fm_err *err) {
    if (c->has_object_store) {
        int p = fm_sandbox_endpoint_port(c->store.endpoint, c->store.use_ssl);
        if (p < 0) return fm_fail(err, FM_E_INVALID, "catalog %s: object store endpoint \"%.200s\" has a bad port", c->name,
                                  c->store.endpoint);
        e->net_ports[e->nnet_ports++] = p;
    }
    if (!strcmp(c->metadata_type, "postgres")) e->net_ports[e->nnet_ports++] = c->pg.port ? c->pg.port : 5432;
    return 0;
}

/* spill never takes the whole volume it shares with the metadata and the lake's local data */
static void default_max_temp(const char *dir, char *out, size_t n) {
    struct statvfs st;
    unsigned long long half = 0, free80 = 0;
    if (!statvfs(dir, &st)) {
        half = (unsigned long long)st.f_blocks * st.f_frsize / 2;
        free80 = (unsigned long long)st.f_bavail * st.f_frsize / 5 * 4;
    }
    unsigned long long v = half < free80 ? half : free80;
    if (v < (16ULL << 20)) v = 16ULL << 20; /* a volume that small or that full: a token budget */
    snprintf(out, n, "%lluB", v);
}

static int create_secrets(fm_engine *e, const fm_engine_config *cfg, fm_err *err) {
    const fm_catalog_spec *c = cfg->catalog;
    fm_buf sql;
    fm_buf_init(&sql);
    int rc = 0;
    if (c->has_object_store) {
        fm_buf_puts(&sql, "CREATE OR REPLACE SECRET fm_s3 (TYPE s3");
        if (cfg->s3_key_id && cfg->s3_secret) {
            fm_buf_puts(&sql, ", KEY_ID ");
            rc |= fm_sql_literal(&sql, cfg->s3_key_id, err);
            fm_buf_puts(&sql, ", SECRET ");
            rc |= fm_sql_literal(&sql, cfg->s3_secret, err);
        }
        fm_buf_puts(&sql, ", REGION ");
        rc |= fm_sql_literal(&sql, c->store.region ? c->store.region : "us-east-1", err);
        if (c->store.endpoint) {
            fm_buf_puts(&sql, ", ENDPOINT ");
            rc |= fm_sql_literal(&sql, c->store.endpoint, err);
        }
        fm_buf_printf(&sql, ", URL_STYLE '%s', USE_SSL %s)",
                      c->store.url_style && !strcmp(c->store.url_style, "vhost") ? "vhost" : "path",
                      c->store.use_ssl ? "true" : "false");
        /* the message of a failed CREATE SECRET could echo the statement: never pass it on */
        if (!rc && fm_exec(e->admin, sql.data, NULL))
            rc = fm_fail(err, FM_E_INVALID, "could not configure the S3 credentials for catalog %s", c->name);
    }
    if (!rc && !strcmp(c->metadata_type, "postgres")) {
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "CREATE OR REPLACE SECRET fm_pg (TYPE postgres, HOST ");
        rc |= fm_sql_literal(&sql, c->pg.host ? c->pg.host : "localhost", err);
        fm_buf_printf(&sql, ", PORT %d, DATABASE ", c->pg.port ? c->pg.port : 5432);
        rc |= fm_sql_literal(&sql, c->pg.database ? c->pg.database : "postgres", err);
        if (c->pg.user) {
            fm_buf_puts(&sql, ", USER ");
            rc |= fm_sql_literal(&sql, c->pg.user, err);
        }
        if (cfg->pg_password) {
            fm_buf_puts(&sql, ", PASSWORD ");
            rc |= fm_sql_literal(&sql, cfg->pg_password, err);
        }
        fm_buf_puts(&sql, ")");
        if (!rc && fm_exec(e->admin, sql.data, NULL))
            rc = fm_fail(err, FM_E_INVALID, "could not configure the Postgres credentials for catalog %s", c->name);
    }
    fm_buf_free(&sql);
    return rc ? -1 : 0;
}

static int attach(fm_engine *e, const fm_engine_config *cfg, fm_err *err) {
    const fm_catalog_spec *c = cfg->catalog;
    fm_buf sql, target;
    fm_buf_init(&sql);
    fm_buf_init(&target);
    int rc = 0;
    if (!strcmp(c->metadata_type, "postgres")) {
        /* connection parameters come from the fm_pg secret; only sslmode goes in the string */
        fm_buf_printf(&target, "ducklake:postgres:sslmode=%s", c->pg.sslmode ? c->pg.sslmode : "prefer");
    } else if (!strcmp(c->metadata_type, "sqlite")) {
        fm_buf_printf(&target, "ducklake:sqlite:%s", e->metadata_location);
    } else {
        fm_buf_printf(&target, "ducklake:%s", e->metadata_location);
    }
    fm_buf_puts(&sql, "ATTACH ");
    rc |= fm_sql_literal(&sql, target.data, err);
    fm_buf_puts(&sql, " AS ");
    rc |= fm_sql_ident(&sql, c->name, "catalog name", err);
    fm_buf_puts(&sql, " (DATA_PATH ");
    rc |= fm_sql_literal(&sql, e->data_path, err);
    /* a named secret is only used when the attach names it (META_SECRET reaches the metadata attach) */
    if (!strcmp(c->metadata_type, "postgres")) fm_buf_puts(&sql, ", META_SECRET 'fm_pg'");
    if (c->pg.schema && !strcmp(c->metadata_type, "postgres")) {
        e->metadata_schema = fm_xstrdup(c->pg.schema);
        fm_buf_puts(&sql, ", METADATA_SCHEMA ");
        rc |= fm_sql_literal(&sql, c->pg.schema, err);
    }
    /* SQLite metadata: in WAL mode a reader never blocks the one writer (in rollback-journal
     * mode a reader's lock makes the writer's COMMIT fail at once with "database is locked",
     * without waiting: SQLite refuses to wait where waiting could deadlock); the busy timeout
     * covers the short waits that remain (a checkpoint, another process on the same file).
     * Writers of this process are serialized by the query server. */
    if (!strcmp(c->metadata_type, "sqlite")) {
        fm_buf_puts(&sql, ", META_BUSY_TIMEOUT 10000");
        if (!cfg->read_only) fm_buf_puts(&sql, ", META_JOURNAL_MODE 'WAL'");
    }
    if (c->encryption) fm_buf_puts(&sql, ", ENCRYPTED");
    if (cfg->read_only) fm_buf_puts(&sql, ", READ_ONLY");
    if (!cfg->create) fm_buf_puts(&sql, ", CREATE_IF_NOT_EXISTS false");
    fm_buf_puts(&sql, ")");
    if (!rc) {
        fm_err e2;
        fm_err_clear(&e2);
        if (fm_exec(e->admin, sql.data, &e2)) {
            /* DuckDB's attach errors name paths and hosts, never the secrets' values */
            fm_errcode code = strstr(e2.msg, "IO Error") || strstr(e2.msg, "connect") || strstr(e2.msg, "HTTP")
                                  ? FM_E_UNAVAILABLE
                                  : FM_E_INVALID;
            rc = fm_fail(err, code, "cannot attach catalog %s (metadata %s, data %s): %s", c->name,
                         e->metadata_location, e->data_path, e2.msg);
        }
    }
    if (!rc) {
        fm_buf_reset(&sql);
        fm_buf_puts(&sql, "USE ");
        fm_sql_ident(&sql, c->name, "catalog name", NULL);
        rc = fm_exec(e->admin, sql.data, err);
    }
    fm_buf_free(&sql);
    fm_buf_free(&target);
    return rc ? -1 : 0;
}

int fm_engine_open(fm_engine **out, const fm_engine_config *cfg, fm_err *err) {
    *out = NULL;
    fm_engine *e = fm_xcalloc(1, sizeof *e);
    e->catalog = fm_xstrdup(cfg->catalog->name);
    e->read_only = cfg->read_only;
    if (cfg->memory_limit) { /* "…B", as role_opts.h writes it; another spelling counts as unknown */
        char *end;
        unsigned long long m = strtoull(cfg->memory_limit, &end, 10);
        if (!strcmp(end, "B")) e->memory_limit = m;
    }
    e->guard = fm_sqlguard_new();
    if (resolve_paths(e, cfg, err) || resolve_ports(e, cfg->catalog, err)) goto fail;

    duckdb_config dc;
    if (duckdb_create_config(&dc) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "duckdb_create_config failed");
        goto fail;
    }
    char threads[16], max_temp[32];
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    if (cfg->max_temp_size) snprintf(max_temp, sizeof max_temp, "%s", cfg->max_temp_size);
    else default_max_temp(e->temp_dir, max_temp, sizeof max_temp);
    int rc = set_config(dc, "extension_directory", FEATHERMAN_EXTENSION_DIR, err) ||
             set_config(dc, "autoinstall_known_extensions", "false", err) ||
             set_config(dc, "autoload_known_extensions", "false", err) ||
             set_config(dc, "allow_community_extensions", "false", err) ||
             set_config(dc, "allow_unsigned_extensions", "false", err) ||
             set_config(dc, "temp_directory", e->temp_dir, err) ||
             /* the credentials live in this process's memory only, never in a file */
             set_config(dc, "allow_persistent_secrets", "false", err) ||
             set_config(dc, "allow_unredacted_secrets", "false", err) ||
             (cfg->memory_limit && set_config(dc, "memory_limit", cfg->memory_limit, err)) ||
             (cfg->threads > 0 && set_config(dc, "threads", threads, err));
    if (rc) {
        duckdb_destroy_config(&dc);
        goto fail;
    }
    char *oerr = NULL;
    if (duckdb_open_ext(NULL, &e->db, dc, &oerr) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot start DuckDB: %s", oerr ? oerr : "?");
        duckdb_free(oerr);
        duckdb_destroy_config(&dc);
        goto fail;
    }
    duckdb_destroy_config(&dc);
    if (duckdb_connect(e->db, &e->admin) == DuckDBError) {
        fm_fail(err, FM_E_INTERNAL, "cannot connect to DuckDB");
        goto fail;
    }
    /* not in the open-time config: DuckDB 1.5.5 accepts max_temp_directory_size there but the
     * temporary file manager, created with the temp directory, keeps its 90%-of-free-space default */
    char *set_max_temp = fm_xasprintf("SET max_temp_directory_size = '%s'", max_temp);
    rc = fm_exec(e->admin, set_max_temp, err);
    free(set_max_temp);
    if (rc) goto fail;

    /* the authorizer's function allowlist: DuckDB's built-ins, before any extension adds more */
    e->authz = fm_authz_new(e->catalog);
    if (fm_authz_snapshot_functions(e->authz, e->admin, err)) goto fail;

    const char *mt = cfg->catalog->metadata_type;
    /* the scanner extensions ignore enable_external_access: the guard denies what they add */
    const char *scanners[1];
    size_t nscan = 0;
    if (!strcmp(mt, "sqlite")) scanners[nscan++] = "sqlite_scanner";
    if (!strcmp(mt, "postgres")) scanners[nscan++] = "postgres_scanner";
    if (fm_exec(e->admin, "LOAD ducklake", err)) goto fail;
    if (cfg->catalog->has_object_store && fm_exec(e->admin, "LOAD httpfs", err)) goto fail;
    if (fm_sqlguard_deny_extension_functions(e->guard, e->admin, scanners, nscan, err)) goto fail;
    if (create_secrets(e, cfg, err)) goto fail;
    if (attach(e, cfg, err)) goto fail;
    /* every catalog but the lake (the metadata catalog, system, temp, memory) is out of reach */
    if (fm_authz_snapshot_catalogs(e->authz, e->admin, err)) goto fail;
    fm_sqlguard_set_authz(e->guard, e->authz, cfg->read_only ? FM_SCOPE_READ : FM_SCOPE_ADMIN);
    *out = e;
    return 0;
fail:
    fm_engine_close(e);
    return -1;
}

int fm_engine_lockdown(fm_engine *e, int slots, const char *const *extra_allowed, size_t nextra, fm_err *err) {
    fm_buf sql;
    fm_buf_init(&sql);
    int rc = 0;
    fm_buf_puts(&sql, "SET allowed_directories = [");
    rc |= fm_sql_literal(&sql, e->data_path, err);
    fm_buf_puts(&sql, ", ");
    char *tmp = fm_xasprintf("%s/", e->temp_dir);
    rc |= fm_sql_literal(&sql, tmp, err);
    free(tmp);
    for (size_t i = 0; i < nextra; i++) {
        fm_buf_puts(&sql, ", ");
        rc |= fm_sql_literal(&sql, extra_allowed[i], err);
    }
    fm_buf_puts(&sql, "]");
    /* a DuckDB log would keep other clients' SQL and the object store's signed requests: off, and
     * locked with the rest of the configuration (CALL enable_logging is the authorizer's to refuse) */
    if (rc || fm_exec(e->admin, sql.data, err) || fm_exec(e->admin, "SET enable_logging = false", err) ||
        fm_exec(e->admin, "SET enable_external_access = false", err) ||
        fm_exec(e->admin, "SET lock_configuration = true", err)) {
        fm_buf_free(&sql);
        return -1;
    }
    fm_buf_reset(&sql);
    fm_buf_puts(&sql, "USE ");
    fm_sql_ident(&sql, e->catalog, "catalog name", NULL);
    e->slots = fm_xcalloc((size_t)slots, sizeof *e->slots);
    for (int i = 0; i < slots; i++) {
        if (duckdb_connect(e->db, &e->slots[i]) == DuckDBError) {
            fm_buf_free(&sql);
            return fm_fail(err, FM_E_INTERNAL, "cannot open query connection %d", i);
        }
        e->nslots = i + 1;
        if (fm_exec(e->slots[i], sql.data, err)) {
            fm_buf_free(&sql);
            return -1;
        }
    }
    fm_buf_free(&sql);
    fm_info("catalog %s locked down: %d query slots, data %s%s", e->catalog, slots, e->data_path,
            e->read_only ? ", read-only" : "");
    return 0;
}

duckdb_connection fm_engine_admin(fm_engine *e) { return e->admin; }
const char *fm_engine_catalog(const fm_engine *e) { return e->catalog; }
const char *fm_engine_data_path(const fm_engine *e) { return e->data_path; }
const char *fm_engine_metadata_location(const fm_engine *e) { return e->metadata_location; }
int fm_engine_slots(const fm_engine *e) { return e->nslots; }
duckdb_connection fm_engine_slot(fm_engine *e, int i) { return e->slots[i]; }

int fm_engine_connect(fm_engine *e, duckdb_connection *out, fm_err *err) {
    *out = NULL;
    if (duckdb_connect(e->db, out) == DuckDBError) return fm_fail(err, FM_E_INTERNAL, "cannot open a query connection");
    fm_buf sql;
    fm_buf_init(&sql);
    fm_buf_puts(&sql, "USE ");
    fm_sql_ident(&sql, e->catalog, "catalog name", NULL);
    int rc = fm_exec(*out, sql.data, err);
    fm_buf_free(&sql);
    if (rc) duckdb_disconnect(out);
    return rc;
}
const fm_sqlguard *fm_engine_guard(const fm_engine *e) { return e->guard; }
const char *fm_engine_metadata_schema(const fm_engine *e) { return e->metadata_schema; }
bool fm_engine_read_only(const fm_engine *e) { return e->read_only; }
const char *fm_engine_temp_dir(const fm_engine *e) { return e->temp_dir; }
unsigned long long fm_engine_memory_limit(const fm_engine *e) { return e->memory_limit; }
size_t fm_engine_net_ports(const fm_engine *e, const int **ports) {
    *ports = e->net_ports;
    return e->nnet_ports;
}

void fm_engine_close(fm_engine *e) {
    if (!e) return;
    for (int i = 0; i < e->nslots; i++) duckdb_disconnect(&e->slots[i]);
    free(e->slots);
    if (e->admin) duckdb_disconnect(&e->admin);
    if (e->db) duckdb_close(&e->db);
    if (e->guard) fm_sqlguard_free(e->guard);
    fm_authz_free(e->authz);
    free(e->catalog);
    free(e->data_path);
    free(e->metadata_location);
    free(e->temp_dir);
    free(e->metadata_schema);
    free(e);
}
