/* Path helpers, including the FEATHERMAN_ROOT remapping the test cluster's pod runner relies on. */
#include <stdlib.h>

#include "base/fsutil.h"
#include "unit.h"

FM_TEST(host_path_prefixes_absolute_paths_only_when_root_is_set) {
    unsetenv("FEATHERMAN_ROOT");
    char *p = fm_host_path("/var/lib/featherman");
    CHECK_STR(p, "/var/lib/featherman");
    free(p);
    setenv("FEATHERMAN_ROOT", "/tmp/pods/ns_p/root", 1);
    p = fm_host_path("/var/lib/featherman");
    CHECK_STR(p, "/tmp/pods/ns_p/root/var/lib/featherman");
    free(p);
    p = fm_host_path("relative/x");
    CHECK_STR(p, "relative/x");
    free(p);
    CHECK(fm_host_path(NULL) == NULL);
    unsetenv("FEATHERMAN_ROOT");
}

FM_TEST(dirname_cases) {
    char *d = fm_dirname("/a/b/c.sqlite");
    CHECK_STR(d, "/a/b");
    free(d);
    d = fm_dirname("/c");
    CHECK_STR(d, "/");
    free(d);
    d = fm_dirname("c");
    CHECK_STR(d, ".");
    free(d);
}
