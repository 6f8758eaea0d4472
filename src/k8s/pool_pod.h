/* A pool pod as the API shows it, the one view of it that the operator (scaling, draining) and
 * the gateway (routing) both read: its name, IP, pool and catalog labels, query slots (from its
 * `--slots N` argument, default 1), readiness (phase Running and condition Ready), and whether it
 * is draining (annotation FM_ANNOT_DRAINING=true) or being deleted. */
#ifndef FM_POOL_POD_H
#define FM_POOL_POD_H
#include <jansson.h>
#include <stdbool.h>

typedef struct {
    char *name, *ip, *pool, *catalog;
    int slots;
    bool ready, draining, deleting;
} fm_pool_pod;

/* a Pod object → fm_pool_pod (strings malloc'd); -1 when it has no name */
int fm_pool_pod_parse(json_t *pod, fm_pool_pod *out);
void fm_pool_pod_free(fm_pool_pod *p);
/* Ready with an IP, not draining, not being deleted */
bool fm_pool_pod_routable(const fm_pool_pod *p);
#endif
