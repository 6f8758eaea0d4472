/* `featherman worker job <op>` (worker.h): one catalog operation of catalog_ops.h — init | ddl |
 * materialize | report | drop | destroy — in a Kubernetes Job. Its JSON report goes to stdout and
 * to the termination message file ($FEATHERMAN_TERMINATION_LOG, default /dev/termination-log when
 * writable), exit 0; on failure {"error":{"code","message"}} goes there instead, exit 1: the
 * operator reads the outcome from the Pod's status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsutil.h"
#include "engine/catalog_ops.h"
#include "engine/worker.h"

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

/* materialize: the destination made (when local), the engine locked down to one connection that
 * may write there, the process confined, then the spec's SQL run */
static int materialize(fm_engine *e, const fm_worker_config *cfg, const fm_table_spec *ts, json_t **r, fm_err *err) {
    if (!ts->materialize.enabled)
        return fm_fail(err, FM_E_INVALID, "spec.materializeTo.enabled is false: nothing to materialize");
    char *dest = fm_catalog_materialize_dest(ts, cfg->state);
    const char *allowed[1] = {dest};
    int sandboxed = 0;
    int rc = (dest[0] == '/' && fm_mkdirs(dest, err)) || fm_engine_lockdown(e, 1, allowed, 1, err) ||
             fm_worker_confine(e, cfg, dest, &sandboxed, err) ||
             fm_catalog_materialize(e, fm_engine_slot(e, 0), ts, dest, r, err);
    free(dest);
    return rc ? -1 : 0;
}

static void run_op(fm_engine *e, const fm_worker_config *cfg, const fm_catalog_spec *cs, const fm_table_spec *ts,
                   json_t **r, fm_err *err) {
    switch (cfg->op) {
    case FM_JOB_INIT: fm_catalog_init(e, cs, r, err); break;
    case FM_JOB_DDL: fm_catalog_apply_table(e, ts, r, err); break;
    case FM_JOB_REPORT: fm_catalog_table_report(e, ts->table, r, err); break;
    case FM_JOB_DROP: fm_catalog_drop_table(e, ts->table, r, err); break;
    case FM_JOB_DESTROY: fm_catalog_destroy(e, r, err); break;
    case FM_JOB_MATERIALIZE: materialize(e, cfg, ts, r, err); break;
    }
}

int fm_worker_job(const fm_worker_config *cfg) {
    fm_err err;
    fm_err_clear(&err);
    fm_catalog_spec cs;
    memset(&cs, 0, sizeof cs);
    fm_table_spec ts;
    memset(&ts, 0, sizeof ts);
    fm_engine *e = NULL;
    json_t *r = NULL;
    FILE *term = open_termination_log();
    bool needs_table = cfg->op != FM_JOB_INIT && cfg->op != FM_JOB_DESTROY;
    bool have_table = needs_table && !fm_worker_table_spec(cfg, &ts, &err);
    if ((!needs_table || have_table) && !fm_worker_open_engine(cfg, &cs, cfg->op == FM_JOB_INIT, false, &e, &err))
        run_op(e, cfg, &cs, &ts, &r, &err);
    report(r, &err, term);
    if (e) fm_engine_close(e);
    fm_catalog_spec_free(&cs);
    if (have_table) fm_table_spec_free(&ts);
    return r ? 0 : 1;
}
