/* The one reconciler skeleton every custom resource kind runs through (DuckLakeCatalog,
 * DuckLakeTable, DuckLakePool), so that the order of the first steps is the same everywhere:
 *   1. the object from the cache (gone: the kind's `gone`, e.g. dropping in-memory state);
 *   2. a working copy of its status and conditions;
 *   3. its spec parsed (an invalid spec is not yet an error: deletion must still work);
 *   4. being deleted → the kind's `finalize` — before the pause check, so a paused object can
 *      always be deleted (its cleanup runs, then its finalizer goes);
 *   5. paused (annotation featherman.dev/reconcile: paused) → ReconciliationPaused=True, an Event
 *      the first time, the phase kept, nothing else changed;
 *   6. the finalizer added (kinds that clean up on deletion);
 *   7. an invalid spec → Ready=False InvalidSpec, phase Failed, not retried until it changes;
 *   8. the kind's `reconcile` with the parsed spec.
 * Status is written once per pass through fm_rec_finish (only when it changed). */
#ifndef FM_RECONCILE_H
#define FM_RECONCILE_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "operator/operator.h"

typedef struct fm_rec_kind fm_rec_kind;

/* one pass over one object */
typedef struct {
    fm_operator *op;
    const fm_rec_kind *kind;
    const char *ns, *name;
    json_t *obj;    /* the cached object (a reference held for the pass) */
    json_t *status; /* the working copy fm_rec_finish writes */
    json_t *conds;  /* status.conditions, borrowed from status */
    long long gen;  /* metadata.generation */
    void *spec;     /* the parsed spec (kind->spec_size bytes) */
    bool spec_ok;   /* parsed; else spec_err says why */
    fm_err spec_err;
} fm_rec;

struct fm_rec_kind {
    const kube_resource *res;
    kube_informer *(*cache)(fm_operator *op); /* the informer of this kind */
    bool finalizer;                           /* holds FM_FINALIZER until finalize removed it */
    bool stamp_generation;                    /* every status write carries observedGeneration */
    size_t spec_size;
    int (*parse)(json_t *obj, void *spec, fm_err *err); /* 0, or -1 with err and nothing to free */
    void (*free_spec)(void *spec);
    long (*gone)(fm_operator *op, const char *ns, const char *name); /* NULL: nothing to do */
    long (*finalize)(fm_rec *r); /* deletionTimestamp set; spec_ok may be false. NULL: nothing */
    long (*reconcile)(fm_rec *r); /* spec_ok, not deleting, not paused */
};

/* runs the skeleton for ns/name and returns the delay for the work queue (operator.h) */
long fm_rec_run(fm_operator *op, const fm_rec_kind *kind, const char *ns, const char *name);

/* an Event on the object */
void fm_rec_event(fm_rec *r, const char *type, const char *reason, const char *msg);
/* status.phase = phase, the status written when it changed; returns next */
long fm_rec_finish(fm_rec *r, const char *phase, long next);
/* condition cond (when non-NULL) and Ready set False with reason and msg, a Warning Event when
 * either changed, then fm_rec_finish */
long fm_rec_not_ready(fm_rec *r, const char *cond, const char *reason, const char *msg, const char *phase, long next);
#endif
