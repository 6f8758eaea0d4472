/* `featherman worker serve` (worker.h): one catalog behind the query API with a fixed number of
 * slots and no queue — 409 when all are busy, so the gateway picks another pod — optionally
 * read-only, and with --once a single query (the gateway's Job fallback). Token: $FEATHERMAN_TOKEN
 * or --token-file; in a cluster only the gateway has it. */
#include <stdlib.h>
#include <string.h>

#include "base/fsutil.h"
#include "base/log.h"
#include "base/signals.h"
#include "base/xalloc.h"
#include "engine/server.h"
#include "engine/worker.h"

static char *worker_token(const fm_worker_config *cfg, fm_err *err) {
    char *token = NULL;
    if (cfg->token_file) {
        token = fm_read_file(cfg->token_file, 4096, NULL, err);
        if (token) token[strcspn(token, "\r\n")] = 0;
    } else if (getenv("FEATHERMAN_TOKEN")) {
        token = fm_xstrdup(getenv("FEATHERMAN_TOKEN"));
    }
    if (token && !*token) {
        free(token);
        token = NULL;
    }
    if (!token && !cfg->token_file)
        fm_fail(err, FM_E_INVALID, "no token: set $FEATHERMAN_TOKEN or give --token-file (only the gateway may call a worker)");
    else if (!token && err && err->code == FM_OK)
        fm_fail(err, FM_E_INVALID, "token file %s is empty", cfg->token_file);
    return token;
}

int fm_worker_serve(const fm_worker_config *cfg) {
    fm_signals_block();
    fm_err err;
    fm_err_clear(&err);
    fm_catalog_spec cs;
    memset(&cs, 0, sizeof cs);
    fm_engine *e = NULL;
    fm_server *srv = NULL;
    int rc = 1, sandboxed = 0;
    char *token = worker_token(cfg, &err);
    if (!token || fm_worker_open_engine(cfg, &cs, false, cfg->read_only, &e, &err) ||
        fm_engine_lockdown(e, cfg->slots, NULL, 0, &err) || fm_worker_confine(e, cfg, NULL, &sandboxed, &err)) {
        fm_error("%s", err.msg);
        goto out;
    }
    fm_server_config sc = {.listen_addr = cfg->listen_addr, .port = cfg->port, .token = token, .queue_max = 0,
                           .once = cfg->once, .pod_name = getenv("POD_NAME"), .role = "worker", .sandboxed = sandboxed};
    srv = fm_server_start(&sc, &e, 1, &err);
    if (!srv) fm_error("%s", err.msg);
    else rc = fm_server_run(srv);
out:
    fm_server_free(srv);
    if (e) fm_engine_close(e);
    fm_catalog_spec_free(&cs);
    free(token);
    return rc;
}
