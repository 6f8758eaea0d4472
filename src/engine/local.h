/* `featherman local`, in three parts with one concern each:
 *   local_cmd.c   options → fm_local_config, every value checked and every path absolute; the
 *                 role's entry point (fm_role_local: cmd, then run)
 *   local_plan.c  the manifest directory → fm_local_plan: every document parsed and every
 *                 reference between them checked before anything is changed
 *   local_run.c   config + plan → catalogs created or updated, engines locked down, the process
 *                 confined, the query API served until SIGTERM */
#ifndef FM_LOCAL_H
#define FM_LOCAL_H
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"
#include "engine/engine.h"
#include "model/manifest.h"
#include "model/spec.h"

typedef struct {
    char *manifests;    /* absolute */
    char *state;        /* absolute: --state, else $FEATHERMAN_STATE, else ~/.local/state/featherman */
    char *token_file;   /* absolute, or NULL: $FEATHERMAN_TOKEN, else generated into <state>/token */
    char listen_addr[64];
    int port;
    int slots;          /* query slots of a catalog no pool serves */
    int threads;        /* 0: DuckDB's default */
    char *memory_limit; /* DuckDB spelling ("…B"), or NULL: DuckDB's default */
    char *max_temp_size; /* DuckDB spelling ("…B"), or NULL: the engine's default */
    bool sandbox;
} fm_local_config;

/* 0: run with *cfg; 1: --help was asked for; -1: refused, err names the flag. *cfg is always
 * left for fm_local_config_free. */
int fm_local_cmd(int argc, char **argv, fm_local_config *cfg, fm_err *err);
void fm_local_config_free(fm_local_config *cfg);
void fm_local_usage(FILE *to);

typedef struct {
    fm_catalog_spec spec;
    const fm_pool_spec *pool; /* the pool serving it, if any */
    const char *origin;       /* the manifest file */
} fm_local_catalog;

typedef struct {
    fm_manifest_set manifests;
    fm_local_catalog *cats;
    size_t ncats;
    fm_table_spec *tables;
    size_t ntables;
    fm_pool_spec *pools;
    size_t npools;
} fm_local_plan;

/* 0, or -1 after logging every problem found (file, document, field) */
int fm_local_plan_load(const char *dir, fm_local_plan *p);
void fm_local_plan_free(fm_local_plan *p);
/* a Secret's value: from a Secret manifest, else from the environment variable named like the key.
 * NULL with err naming the catalog, the field and what is missing. */
char *fm_local_secret(const fm_local_plan *p, const char *secret, const char *key, const char *catalog,
                      const char *field, fm_err *err);

/* the process exit code */
int fm_local_run(const fm_local_config *cfg);
#endif
