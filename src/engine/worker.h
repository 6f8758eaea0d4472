/* `featherman worker serve` and `featherman worker job <op>`: the data-plane processes, in parts
 * with one concern each:
 *   worker_cmd.c     options → fm_worker_config, every value checked and every path absolute
 *                    (after the container → host mapping of fsutil.h); the role's entry point
 *   worker_engine.c  what both modes share: the catalog / table spec documents, credentials from
 *                    the environment, the engine opened on the catalog, the Landlock rules
 *   worker_serve.c   serve: one catalog, a fixed number of slots, 409 when all are busy
 *   worker_job.c     job: one catalog operation (catalog_ops.h), its JSON report on stdout and in
 *                    the termination message file
 * Inputs: the catalog spec (the whole DuckLakeCatalog object, JSON or YAML) from --catalog-spec
 * FILE or $FEATHERMAN_CATALOG_SPEC, a table spec likewise (--table-spec, $FEATHERMAN_TABLE_SPEC),
 * credentials from $FEATHERMAN_S3_ACCESS_KEY_ID, $FEATHERMAN_S3_SECRET_ACCESS_KEY,
 * $FEATHERMAN_PG_PASSWORD or the same names with _FILE holding a path (Kubernetes secretKeyRef /
 * Secret volumes), local state (file metadata) from --state or $FEATHERMAN_STATE (default
 * /tmp/featherman), temp files under $FEATHERMAN_TEMP_DIR (an emptyDir in a pod) or <state>/tmp. */
#ifndef FM_WORKER_H
#define FM_WORKER_H
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/spec.h"

typedef enum { FM_JOB_INIT, FM_JOB_DDL, FM_JOB_MATERIALIZE, FM_JOB_REPORT, FM_JOB_DROP, FM_JOB_DESTROY } fm_job_op;

typedef struct {
    bool serve;         /* else a job */
    fm_job_op op;       /* job */
    char *catalog_spec; /* absolute host paths, or NULL (then the environment) */
    char *table_spec;
    char *state;        /* absolute host path */
    char *token_file;
    char *temp_dir;     /* $FEATHERMAN_TEMP_DIR, or NULL: <state>/tmp */
    char listen_addr[64]; /* serve: --listen, else $POD_IP or 127.0.0.1, port 8080 */
    int port;
    int slots;          /* serve */
    int threads;        /* 0: DuckDB's default */
    char *memory_limit; /* DuckDB spelling ("…B"), or NULL */
    char *max_temp_size; /* DuckDB spelling ("…B"), or NULL: the engine's default */
    bool read_only, once, sandbox;
} fm_worker_config;

/* 0: run with *cfg; 1: --help was asked for; -1: refused, err names the flag or the mode. *cfg is
 * always left for fm_worker_config_free. */
int fm_worker_cmd(int argc, char **argv, fm_worker_config *cfg, fm_err *err);
void fm_worker_config_free(fm_worker_config *cfg);
void fm_worker_usage(FILE *to);

/* the catalog spec parsed into *cs (freed by the caller) and an engine opened on it */
int fm_worker_open_engine(const fm_worker_config *cfg, fm_catalog_spec *cs, bool create, bool read_only,
                          fm_engine **e, fm_err *err);
/* the table spec parsed into *ts */
int fm_worker_table_spec(const fm_worker_config *cfg, fm_table_spec *ts, fm_err *err);
/* The credentials' environment variables scrubbed and the data segment capped (sandbox.h), then
 * Landlock: read-write beneath
 * the state, the metadata file's directory, the data path when local and extra (a
 * materialization destination) when absolute — for a read-only engine, read-write only beneath
 * its spill directory and read-only beneath the metadata's directory and the data path; outgoing
 * TCP only to the object store's and Postgres's ports. *sandboxed says whether it applied */
int fm_worker_confine(fm_engine *e, const fm_worker_config *cfg, const char *extra, int *sandboxed, fm_err *err);

/* the process exit codes */
int fm_worker_serve(const fm_worker_config *cfg);
int fm_worker_job(const fm_worker_config *cfg);
#endif
