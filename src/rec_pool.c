/* DuckLakePool reconciler: not yet written (issue 6); pools are left alone. */
#include "operator.h"

long fm_reconcile_pool(fm_operator *op, const char *ns, const char *name) {
    (void)op, (void)ns, (void)name;
    return 0;
}
