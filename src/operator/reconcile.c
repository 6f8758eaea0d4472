/* The reconciler skeleton (contract in reconcile.h). */
#include "operator/reconcile.h"

#include <stdlib.h>
#include <string.h>

#include "base/json_get.h"
#include "base/xalloc.h"
#include "k8s/k8s_status.h"

void fm_rec_event(fm_rec *r, const char *type, const char *reason, const char *msg) {
    kube_eventf(r->op->rec, r->obj, type, reason, "%s", msg);
}

long fm_rec_finish(fm_rec *r, const char *phase, long next) {
    json_object_set_new(r->status, "phase", json_string(phase));
    if (r->kind->stamp_generation) json_object_set_new(r->status, "observedGeneration", json_integer(r->gen));
    fm_op_write_status(r->op, r->kind->res, r->obj, r->status);
    return next;
}

long fm_rec_not_ready(fm_rec *r, const char *cond, const char *reason, const char *msg, const char *phase, long next) {
    int changed = 0;
    if (cond) changed |= fm_cond_set(r->conds, cond, false, reason, msg, r->gen);
    changed |= fm_cond_set(r->conds, "Ready", false, reason, msg, r->gen);
    if (changed) fm_rec_event(r, "Warning", reason, msg);
    return fm_rec_finish(r, phase, next);
}

/* steps 4 to 8 of the skeleton */
static long pass(fm_rec *r) {
    if (fm_jget(r->obj, "metadata.deletionTimestamp"))
        return r->kind->finalize ? r->kind->finalize(r) : 0;
    int pause_changed = 0;
    if (fm_reconcile_paused(r->obj, r->conds, r->gen, &pause_changed)) {
        if (pause_changed) fm_rec_event(r, "Normal", "ReconciliationPaused", "reconciliation paused by annotation");
        const char *phase = fm_jstr(r->obj, "status.phase");
        return fm_rec_finish(r, phase ? phase : "Paused", 0);
    }
    if (r->kind->finalizer && fm_op_add_finalizer(r->op, r->kind->res, r->obj)) return -1;
    if (!r->spec_ok) return fm_rec_not_ready(r, NULL, "InvalidSpec", r->spec_err.msg, "Failed", 0);
    return r->kind->reconcile(r);
}

long fm_rec_run(fm_operator *op, const fm_rec_kind *kind, const char *ns, const char *name) {
    json_t *obj = fm_op_get(kind->cache(op), ns, name);
    if (!obj) return kind->gone ? kind->gone(op, ns, name) : 0;
    fm_rec r = {.op = op, .kind = kind, .ns = ns, .name = name, .obj = obj,
                .gen = fm_jint(obj, "metadata.generation", 0)};
    r.status = fm_status_copy(obj, &r.conds);
    r.spec = fm_xcalloc(1, kind->spec_size);
    fm_err_clear(&r.spec_err);
    r.spec_ok = kind->parse(obj, r.spec, &r.spec_err) == 0;
    long next = pass(&r);
    if (r.spec_ok) kind->free_spec(r.spec);
    free(r.spec);
    json_decref(r.status);
    json_decref(obj);
    return next;
}
